//! xpay `download_bill` (behaviour.md section 10.2): the first call for a range starts
//! generating (268490011), later calls answer a link that lives [`BILL_LINK_MS`] on the
//! server's clock. What a bill holds is read from the purchase book when it is downloaded.

use crate::account::Env;

/// How long a bill link works.
pub const BILL_LINK_MS: i64 = 30 * 60 * 1000;

/// A bill asked for: one per (app, env, range).
#[derive(Clone, PartialEq, Eq)]
pub struct Bill {
    pub appid: String,
    pub env: Env,
    /// The range, `yyyymmdd` days in China time (UTC+8), both ends included.
    pub begin_ds: i64,
    pub end_ds: i64,
    pub requested_at_ms: i64,
    /// The link's token and when it stops working, once a link was handed out.
    pub token: Option<String>,
    pub expires_at_ms: Option<i64>,
}

impl std::fmt::Debug for Bill {
    // The token is a bearer credential for the bill.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bill")
            .field("appid", &self.appid)
            .field("env", &self.env)
            .field("begin_ds", &self.begin_ds)
            .field("end_ds", &self.end_ds)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

impl Bill {
    /// Whether `token` is this bill's live link at `now_ms`.
    pub fn link_is_live(&self, now_ms: i64) -> bool {
        self.token.is_some() && self.expires_at_ms.is_some_and(|at| now_ms < at)
    }
}

/// What `download_bill` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillAnswer {
    /// The first call for the range: 268490011.
    Generating,
    /// A link (`/xpay/bills/<token>`), live until `expires_at_ms`.
    Ready { token: String, expires_at_ms: i64 },
}

/// What a bill request does, given the bill of its range if one was asked for before: the
/// bill to store (if it changes) and the answer.
pub fn bill_plan(
    existing: Option<&Bill>,
    asked: Bill,
    token_candidate: String,
    now_ms: i64,
) -> (Option<Bill>, BillAnswer) {
    match existing {
        None => (Some(asked), BillAnswer::Generating),
        Some(bill) if bill.link_is_live(now_ms) => {
            let answer = BillAnswer::Ready {
                token: bill.token.clone().unwrap_or_default(),
                expires_at_ms: bill.expires_at_ms.unwrap_or(now_ms),
            };
            (None, answer)
        }
        Some(bill) => {
            let expires_at_ms = now_ms.saturating_add(BILL_LINK_MS);
            let linked = Bill {
                token: Some(token_candidate.clone()),
                expires_at_ms: Some(expires_at_ms),
                ..bill.clone()
            };
            (
                Some(linked),
                BillAnswer::Ready {
                    token: token_candidate,
                    expires_at_ms,
                },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generating_then_a_link_that_expires() {
        let asked = |now| Bill {
            appid: "wx".into(),
            env: Env::Official,
            begin_ds: 20260101,
            end_ds: 20260131,
            requested_at_ms: now,
            token: None,
            expires_at_ms: None,
        };
        let (stored, answer) = bill_plan(None, asked(1), "t1".into(), 1);
        assert_eq!(answer, BillAnswer::Generating);
        let stored = stored.unwrap();
        let (linked, answer) = bill_plan(Some(&stored), asked(2), "t2".into(), 2);
        assert_eq!(
            answer,
            BillAnswer::Ready {
                token: "t2".into(),
                expires_at_ms: 2 + BILL_LINK_MS
            }
        );
        let linked = linked.unwrap();
        let (unchanged, answer) = bill_plan(Some(&linked), asked(3), "t3".into(), 3);
        assert_eq!(
            (unchanged, answer),
            (
                None,
                BillAnswer::Ready {
                    token: "t2".into(),
                    expires_at_ms: 2 + BILL_LINK_MS
                }
            )
        );
        let later = 2 + BILL_LINK_MS;
        let (renewed, answer) = bill_plan(Some(&linked), asked(later), "t4".into(), later);
        assert!(renewed.is_some());
        assert_eq!(
            answer,
            BillAnswer::Ready {
                token: "t4".into(),
                expires_at_ms: later + BILL_LINK_MS
            }
        );
    }
}
