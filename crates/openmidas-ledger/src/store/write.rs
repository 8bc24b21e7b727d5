//! Every write a store applies, and for the writes other than ledger commands, what each
//! one reads and writes ([`Write::plan`]): the token, login-code and session rules of
//! [`crate::auth`] turned into row operations. Stores carry out [`RowRead`]s and
//! [`RowWrite`]s in their SQL and nothing else, so no store can apply a rule differently.

use crate::auth::{
    self, App, CodeRefusal, LoginCode, Session, StablePlan, StoredCode, TokenIssue, TokenKind, TokenRecord,
};
use crate::bill::{self, Bill, BillAnswer};
use crate::clock::{ClockChange, ClockState};
use crate::command::{Command, Outcome};
use crate::push::{Push, PushAttempt};
use crate::state::{ResetScope, StateDoc};

/// Tokens that expired this long ago are deleted when the app's next token is issued:
/// they can only answer 40001 now, as an unknown token does.
pub const TOKEN_RETENTION_MS: i64 = 86_400_000;
/// At most this many such tokens are deleted per issue, so that an issue's transaction
/// stays short however many tokens wait (each issue adds one token and may delete this
/// many: the backlog drains).
pub const TOKEN_PRUNE_BATCH: u32 = 64;
/// Login codes that expired this long ago are deleted when the next code is made.
pub const LOGIN_CODE_RETENTION_MS: i64 = 86_400_000;

/// A state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Creates or replaces an app.
    UpsertApp { app: App, now_ms: i64 },
    /// `/cgi-bin/token` issues `token`, unless the app was issued `daily_limit` basic
    /// tokens in the last 24 h.
    IssueBasicToken {
        appid: String,
        token: String,
        daily_limit: u32,
        now_ms: i64,
    },
    /// `/cgi-bin/stable_token`, with `candidate` should a new token be due (and the app
    /// was issued fewer than `daily_limit` stable tokens in the last 24 h).
    StableToken {
        appid: String,
        candidate: String,
        force_refresh: bool,
        daily_limit: u32,
        now_ms: i64,
    },
    /// The simulated `wx.login` made a code.
    InsertLoginCode(LoginCode),
    /// `/sns/jscode2session` exchanges a code; `session_key` becomes the player's session.
    RedeemLoginCode {
        appid: String,
        code: String,
        session_key: String,
        now_ms: i64,
    },
    /// A ledger command (applied in batches: [`crate::batch::Batch`]).
    Ledger(Command),
    /// Moves the emulator's clock (behaviour.md section 13.1), read and written in one
    /// transaction so that changes from several nodes add up.
    Clock { change: ClockChange, real_ms: i64 },
    /// Empties the state of one app or all (behaviour.md section 13.4).
    Reset(ResetScope),
    /// Replaces the whole state with a document that passed [`StateDoc::check`].
    ReplaceState(Box<StateDoc>),
    /// xpay `download_bill` for `bill`'s range ([`bill::bill_plan`]); `token` is the link's
    /// token should a new link be due.
    RequestBill { bill: Bill, token: String, now_ms: i64 },
    /// A delivery worker takes up to `limit` due events (pending, `next_attempt_ms` and any
    /// lease past) and leases them for [`crate::push::PUSH_LEASE_MS`]: no other node sends them meanwhile
    /// (behaviour.md section 12).
    ClaimPushes { now_ms: i64, limit: u32 },
    /// Records a delivery of an event ([`Push::after_attempt`]).
    RecordPushAttempt(PushAttempt),
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Done,
    Token(TokenRecord),
    /// A token was due but the app reached its daily quota (45009).
    TokenQuotaReached,
    Redeemed(Result<Session, CodeRefusal>),
    Outcome(Outcome),
    Clock(ClockState),
    Bill(BillAnswer),
    /// The events claimed, leased.
    Pushes(Vec<Push>),
    /// The event after the attempt (`None`: no such event, e.g. reset meanwhile).
    Push(Option<Push>),
}

/// The one row a write reads before deciding, in its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowRead<'a> {
    Nothing,
    /// The app's newest token of `kind` that nothing replaced yet, and how many tokens of
    /// `kind` it was issued after `issued_after_ms`, counted up to `count_up_to` (a bounded
    /// read, whatever the app issued). Where the database locks rows, the app's row is
    /// locked first, so token issues of one app run one at a time across nodes.
    CurrentToken {
        appid: &'a str,
        kind: TokenKind,
        issued_after_ms: i64,
        count_up_to: u32,
    },
    /// A login code, locked where the database locks rows.
    LoginCode {
        code: &'a str,
    },
    /// The emulator's clock, locked where the database locks rows.
    Clock,
    /// The bill of an (app, env, range), locked where the database locks rows.
    Bill {
        appid: &'a str,
        env: crate::account::Env,
        begin_ds: i64,
        end_ds: i64,
    },
    /// Up to `limit` events due at `now_ms`, oldest due first, locked where the database
    /// locks rows (skipping rows another transaction holds).
    DuePushes {
        now_ms: i64,
        limit: u32,
    },
    /// One event, locked where the database locks rows.
    Push {
        id: i64,
    },
}

/// What a [`RowRead`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowValue {
    Nothing,
    /// The current token, and the count of [`RowRead::CurrentToken`].
    Token {
        current: Option<TokenRecord>,
        issued: u32,
    },
    Code(Option<StoredCode>),
    Clock(ClockState),
    Bill(Option<Bill>),
    Pushes(Vec<Push>),
    Push(Option<Push>),
}

/// One row operation, carried out in order, in the write's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowWrite<'a> {
    UpsertApp {
        app: &'a App,
        now_ms: i64,
    },
    /// Every not-yet-retired token of this kind stops being the latest at `at_ms`.
    RetireTokens {
        appid: &'a str,
        kind: TokenKind,
        at_ms: i64,
    },
    /// Deletes up to `limit` of the app's tokens that expired before this instant, those
    /// that expired first first.
    PruneTokens {
        appid: &'a str,
        expired_before_ms: i64,
        limit: u32,
    },
    InsertToken(TokenRecord),
    /// Deletes login codes that expired before this instant.
    PruneLoginCodes {
        expired_before_ms: i64,
    },
    InsertLoginCode(&'a LoginCode),
    MarkCodeUsed {
        code: &'a str,
        at_ms: i64,
    },
    /// The player's session becomes this one (the newest session_key wins).
    UpsertSession(Session),
    SetClock(ClockState),
    /// Deletes the rows of the scope (the journal included: emulator mode only).
    Reset(&'a ResetScope),
    /// Deletes every row, then inserts the document's.
    ReplaceState(&'a StateDoc),
    /// Inserts or replaces the bill of its (app, env, range).
    UpsertBill(Bill),
    /// Writes an event's delivery state (status, counts, schedule, lease, reply).
    UpdatePush(Push),
}

/// A write that is not a ledger command reached [`Write::plan`]: a store bug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a ledger command cannot be planned row by row; it runs in a batch")]
pub struct NotPlannable;

impl Write {
    /// What the write reads first.
    pub fn row_read(&self) -> RowRead<'_> {
        match self {
            Write::IssueBasicToken {
                appid,
                daily_limit,
                now_ms,
                ..
            } => RowRead::CurrentToken {
                appid,
                kind: TokenKind::Basic,
                issued_after_ms: now_ms - auth::TOKEN_QUOTA_WINDOW_MS,
                count_up_to: *daily_limit,
            },
            Write::StableToken {
                appid,
                daily_limit,
                now_ms,
                ..
            } => RowRead::CurrentToken {
                appid,
                kind: TokenKind::Stable,
                issued_after_ms: now_ms - auth::TOKEN_QUOTA_WINDOW_MS,
                count_up_to: *daily_limit,
            },
            Write::RedeemLoginCode { code, .. } => RowRead::LoginCode { code },
            Write::Clock { .. } => RowRead::Clock,
            Write::RequestBill { bill, .. } => RowRead::Bill {
                appid: &bill.appid,
                env: bill.env,
                begin_ds: bill.begin_ds,
                end_ds: bill.end_ds,
            },
            Write::ClaimPushes { now_ms, limit } => RowRead::DuePushes {
                now_ms: *now_ms,
                limit: (*limit).min(crate::push::MAX_PUSH_CLAIM),
            },
            Write::RecordPushAttempt(attempt) => RowRead::Push { id: attempt.id },
            Write::UpsertApp { .. }
            | Write::InsertLoginCode(_)
            | Write::Ledger(_)
            | Write::Reset(_)
            | Write::ReplaceState(_) => RowRead::Nothing,
        }
    }

    /// Given what [`Write::row_read`] found, the row writes to carry out, in order, and the
    /// answer once they are committed.
    pub fn plan(&self, read: RowValue) -> Result<(Vec<RowWrite<'_>>, Written), NotPlannable> {
        Ok(match self {
            Write::UpsertApp { app, now_ms } => (vec![RowWrite::UpsertApp { app, now_ms: *now_ms }], Written::Done),
            Write::IssueBasicToken {
                appid,
                token,
                daily_limit,
                now_ms,
            } => {
                let (_, issued) = current_token(read);
                if issued >= *daily_limit {
                    (Vec::new(), Written::TokenQuotaReached)
                } else {
                    token_rows(appid, TokenIssue::basic(appid, token.clone(), *now_ms))
                }
            }
            Write::StableToken {
                appid,
                candidate,
                force_refresh,
                daily_limit,
                now_ms,
            } => {
                let (current, issued) = current_token(read);
                match auth::stable_plan(appid, current, candidate.clone(), *force_refresh, *now_ms) {
                    StablePlan::Reuse(current) => (Vec::new(), Written::Token(current)),
                    // Answering the current token again issues nothing: only new tokens count.
                    StablePlan::Issue(_) if issued >= *daily_limit => (Vec::new(), Written::TokenQuotaReached),
                    StablePlan::Issue(issue) => token_rows(appid, issue),
                }
            }
            Write::InsertLoginCode(code) => (
                vec![
                    RowWrite::PruneLoginCodes {
                        expired_before_ms: code.created_at_ms - LOGIN_CODE_RETENTION_MS,
                    },
                    RowWrite::InsertLoginCode(code),
                ],
                Written::Done,
            ),
            Write::RedeemLoginCode {
                appid,
                code,
                session_key,
                now_ms,
            } => {
                let stored = match read {
                    RowValue::Code(stored) => stored,
                    _ => None,
                };
                match (auth::redeem_decision(stored.as_ref(), appid, *now_ms), stored) {
                    (Ok(()), Some(stored)) => {
                        let session = Session {
                            appid: appid.clone(),
                            openid: stored.openid,
                            session_key: session_key.clone(),
                            created_at_ms: *now_ms,
                        };
                        (
                            vec![
                                RowWrite::MarkCodeUsed { code, at_ms: *now_ms },
                                RowWrite::UpsertSession(session.clone()),
                            ],
                            Written::Redeemed(Ok(session)),
                        )
                    }
                    (Err(refusal), _) => (Vec::new(), Written::Redeemed(Err(refusal))),
                    // redeem_decision refuses an unknown code; never exchange one anyway.
                    (Ok(()), None) => (Vec::new(), Written::Redeemed(Err(CodeRefusal::Invalid))),
                }
            }
            Write::Clock { change, real_ms } => {
                let current = match read {
                    RowValue::Clock(current) => current,
                    _ => ClockState::default(),
                };
                let next = current.apply(change, *real_ms);
                (vec![RowWrite::SetClock(next)], Written::Clock(next))
            }
            Write::Reset(scope) => (vec![RowWrite::Reset(scope)], Written::Done),
            Write::RequestBill { bill, token, now_ms } => {
                let existing = match read {
                    RowValue::Bill(existing) => existing,
                    _ => None,
                };
                let (stored, answer) = bill::bill_plan(existing.as_ref(), bill.clone(), token.clone(), *now_ms);
                (
                    stored.map(RowWrite::UpsertBill).into_iter().collect(),
                    Written::Bill(answer),
                )
            }
            Write::ClaimPushes { now_ms, .. } => {
                let due = match read {
                    RowValue::Pushes(due) => due,
                    _ => Vec::new(),
                };
                let leased: Vec<Push> = due.into_iter().map(|push| push.claimed(*now_ms)).collect();
                (
                    leased.iter().cloned().map(RowWrite::UpdatePush).collect(),
                    Written::Pushes(leased),
                )
            }
            Write::RecordPushAttempt(attempt) => match read {
                RowValue::Push(Some(push)) if push.takes(attempt) => {
                    let next = push.after_attempt(attempt);
                    (vec![RowWrite::UpdatePush(next.clone())], Written::Push(Some(next)))
                }
                // Another claim owns it now (this one's lease ran out): keep its state.
                RowValue::Push(Some(push)) => (Vec::new(), Written::Push(Some(push))),
                _ => (Vec::new(), Written::Push(None)),
            },
            Write::ReplaceState(doc) => (vec![RowWrite::ReplaceState(doc)], Written::Done),
            Write::Ledger(_) => return Err(NotPlannable),
        })
    }

    /// Whether the write replaces or removes rows wholesale: caches in front of a store
    /// forget everything they hold once it is applied.
    pub fn replaces_state(&self) -> bool {
        matches!(self, Write::Reset(_) | Write::ReplaceState(_))
    }
}

/// What a [`RowRead::CurrentToken`] found: the current token and the count.
fn current_token(read: RowValue) -> (Option<TokenRecord>, u32) {
    match read {
        RowValue::Token { current, issued } => (current, issued),
        _ => (None, 0),
    }
}

/// Carries out a [`TokenIssue`]: retire, prune, insert, in that order.
fn token_rows(appid: &str, issue: TokenIssue) -> (Vec<RowWrite<'_>>, Written) {
    let record = issue.record;
    let mut writes = Vec::with_capacity(3);
    if let Some(at_ms) = issue.retire_others_at_ms {
        writes.push(RowWrite::RetireTokens {
            appid,
            kind: record.kind,
            at_ms,
        });
    }
    writes.push(RowWrite::PruneTokens {
        appid,
        expired_before_ms: record.issued_at_ms - TOKEN_RETENTION_MS,
        limit: TOKEN_PRUNE_BATCH,
    });
    writes.push(RowWrite::InsertToken(record.clone()));
    (writes, Written::Token(record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_basic_token_retires_prunes_and_inserts() {
        let write = Write::IssueBasicToken {
            appid: "a".into(),
            token: "t".into(),
            daily_limit: 5,
            now_ms: 1000,
        };
        assert_eq!(
            write.row_read(),
            RowRead::CurrentToken {
                appid: "a",
                kind: TokenKind::Basic,
                issued_after_ms: 1000 - auth::TOKEN_QUOTA_WINDOW_MS,
                count_up_to: 5,
            }
        );
        let (rows, written) = write
            .plan(RowValue::Token {
                current: None,
                issued: 4,
            })
            .unwrap();
        let Written::Token(record) = written else {
            panic!("{written:?}")
        };
        assert_eq!(
            rows,
            vec![
                RowWrite::RetireTokens {
                    appid: "a",
                    kind: TokenKind::Basic,
                    at_ms: 1000 + auth::TOKEN_OVERLAP_MS
                },
                RowWrite::PruneTokens {
                    appid: "a",
                    expired_before_ms: 1000 - TOKEN_RETENTION_MS,
                    limit: TOKEN_PRUNE_BATCH
                },
                RowWrite::InsertToken(record),
            ]
        );
    }

    #[test]
    fn a_stable_token_is_reused_without_writes() {
        let first = Write::StableToken {
            appid: "a".into(),
            candidate: "t1".into(),
            force_refresh: false,
            daily_limit: 1,
            now_ms: 1000,
        };
        let (_, Written::Token(current)) = first
            .plan(RowValue::Token {
                current: None,
                issued: 0,
            })
            .unwrap()
        else {
            panic!()
        };
        let again = Write::StableToken {
            appid: "a".into(),
            candidate: "t2".into(),
            force_refresh: false,
            daily_limit: 1,
            now_ms: 2000,
        };
        // The quota is used up, but answering the current token again issues nothing.
        let (rows, written) = again
            .plan(RowValue::Token {
                current: Some(current.clone()),
                issued: 1,
            })
            .unwrap();
        assert!(rows.is_empty());
        assert_eq!(written, Written::Token(current));
    }

    #[test]
    fn a_token_past_the_daily_quota_is_refused_without_writes() {
        let basic = Write::IssueBasicToken {
            appid: "a".into(),
            token: "t".into(),
            daily_limit: 3,
            now_ms: 1000,
        };
        let (rows, written) = basic
            .plan(RowValue::Token {
                current: None,
                issued: 3,
            })
            .unwrap();
        assert!(rows.is_empty());
        assert_eq!(written, Written::TokenQuotaReached);
        let stable = Write::StableToken {
            appid: "a".into(),
            candidate: "t".into(),
            force_refresh: true,
            daily_limit: 3,
            now_ms: 1000,
        };
        let (rows, written) = stable
            .plan(RowValue::Token {
                current: None,
                issued: 3,
            })
            .unwrap();
        assert!(rows.is_empty());
        assert_eq!(written, Written::TokenQuotaReached);
    }

    #[test]
    fn a_code_is_exchanged_once() {
        let redeem = Write::RedeemLoginCode {
            appid: "a".into(),
            code: "c".into(),
            session_key: "k".into(),
            now_ms: 10,
        };
        let stored = StoredCode {
            appid: "a".into(),
            openid: "o".into(),
            expires_at_ms: 100,
            used_at_ms: None,
        };
        let (rows, written) = redeem.plan(RowValue::Code(Some(stored.clone()))).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(matches!(written, Written::Redeemed(Ok(ref s)) if s.openid == "o"));
        let used = StoredCode {
            used_at_ms: Some(5),
            ..stored
        };
        let (rows, written) = redeem.plan(RowValue::Code(Some(used))).unwrap();
        assert!(rows.is_empty());
        assert_eq!(written, Written::Redeemed(Err(CodeRefusal::Used)));
        assert_eq!(
            redeem.plan(RowValue::Code(None)).unwrap().1,
            Written::Redeemed(Err(CodeRefusal::Invalid))
        );
    }
}
