//! State changes, their outcomes, and [`decide`]: the one place that turns a command plus
//! the rows it reads into the rows it writes. Stores only do the I/O around it.

use crate::account::{Account, AccountKey, InvariantViolation, PaySplit, RuleError, CANCEL_WINDOW_MS};

/// A state change of the ledger. `now_ms` is stamped by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerCommand {
    /// The effect of a successful `wx.requestMidasPayment` (`/admin/recharge`).
    Recharge {
        key: AccountKey,
        amount: i64,
        out_trade_no: String,
        now_ms: i64,
    },
    Present {
        key: AccountKey,
        bill_no: String,
        amount: i64,
        now_ms: i64,
    },
    Pay {
        key: AccountKey,
        bill_no: String,
        amount: i64,
        now_ms: i64,
    },
    CancelPay {
        key: AccountKey,
        bill_no: String,
        now_ms: i64,
    },
}

impl LedgerCommand {
    pub fn key(&self) -> &AccountKey {
        match self {
            LedgerCommand::Recharge { key, .. }
            | LedgerCommand::Present { key, .. }
            | LedgerCommand::Pay { key, .. }
            | LedgerCommand::CancelPay { key, .. } => key,
        }
    }

    /// The order this command is about: its namespace and number.
    pub fn order_ref(&self) -> (OrderNamespace, &str) {
        match self {
            LedgerCommand::Recharge { out_trade_no, .. } => (OrderNamespace::Trade, out_trade_no),
            LedgerCommand::Present { bill_no, .. }
            | LedgerCommand::Pay { bill_no, .. }
            | LedgerCommand::CancelPay { bill_no, .. } => (OrderNamespace::Bill, bill_no),
        }
    }

    fn now_ms(&self) -> i64 {
        match self {
            LedgerCommand::Recharge { now_ms, .. }
            | LedgerCommand::Present { now_ms, .. }
            | LedgerCommand::Pay { now_ms, .. }
            | LedgerCommand::CancelPay { now_ms, .. } => *now_ms,
        }
    }
}

/// Order numbers are unique per `(env, appid, offer_id, namespace)`: `bill_no` of pays and
/// presents, and `out_trade_no` of recharges, never collide with each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderNamespace {
    Bill,
    Trade,
}

impl OrderNamespace {
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderNamespace::Bill => "bill",
            OrderNamespace::Trade => "trade",
        }
    }
}

/// What kind of movement an order or journal entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovementKind {
    Recharge,
    Present,
    Pay,
    CancelPay,
}

impl MovementKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            MovementKind::Recharge => "recharge",
            MovementKind::Present => "present",
            MovementKind::Pay => "pay",
            MovementKind::CancelPay => "cancelpay",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "recharge" => Some(MovementKind::Recharge),
            "present" => Some(MovementKind::Present),
            "pay" => Some(MovementKind::Pay),
            "cancelpay" => Some(MovementKind::CancelPay),
            _ => None,
        }
    }
}

/// A stored order (a recharge, present or pay), keyed by its namespace and number within
/// `(env, appid, offer_id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    pub kind: MovementKind,
    pub zone_id: String,
    pub openid: String,
    pub amount: i64,
    /// Gift coins a pay took (0 otherwise).
    pub used_gift: i64,
    /// The balance right after the order was applied: the original result.
    pub balance_after: i64,
    pub created_at_ms: i64,
    pub cancelled_at_ms: Option<i64>,
}

/// One immutable line of the journal: every balance movement, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub key: AccountKey,
    pub kind: MovementKind,
    pub order_no: String,
    pub amount: i64,
    pub cash_delta: i64,
    pub gift_delta: i64,
    pub balance_after: i64,
    pub at_ms: i64,
}

/// The original result a repeated `bill_no` can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginalResult {
    Paid {
        bill_no: String,
        balance: i64,
        used_gift: i64,
    },
    Presented {
        bill_no: String,
        balance: i64,
    },
}

/// Why a command changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 90013.
    InsufficientBalance,
    /// A counter would pass 2^63: 90018.
    Overflow,
    /// 90012; `original` is set when the parameters equal the original's.
    DuplicateBillNo { original: Option<OriginalResult> },
    /// -15003 (recharge).
    DuplicateTradeNo,
    /// 90000: no pay with this bill_no for this account.
    OrderNotFound,
    /// 90015.
    AlreadyCancelled,
    /// 90014: older than 48 h.
    CancelWindowClosed,
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Recharged {
        out_trade_no: String,
        balance: i64,
    },
    Presented {
        bill_no: String,
        balance: i64,
    },
    Paid {
        bill_no: String,
        balance: i64,
        used_gift: i64,
    },
    Cancelled {
        bill_no: String,
    },
    Refused(Refusal),
}

/// How the order row changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderWrite {
    Insert(OrderRecord),
    MarkCancelled { cancelled_at_ms: i64 },
}

/// The rows to write, all in the command's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    pub account: Account,
    pub order: OrderWrite,
    pub journal: JournalEntry,
    pub outcome: Outcome,
}

/// What [`decide`] concludes. Short-lived (one per command), so its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing changes; answer with this refusal.
    Refuse(Refusal),
    Apply(Effect),
}

/// Decides a command from what the store read in the same transaction: the existing order
/// with the command's number (if any) and the account (default if never seen).
pub fn decide(
    command: &LedgerCommand,
    existing: Option<&OrderRecord>,
    account: &Account,
) -> Result<Decision, InvariantViolation> {
    let key = command.key();
    let now_ms = command.now_ms();
    let rule = |r: Result<Account, RuleError>| r.map_err(refusal_of);

    let (next, order, kind, order_no, amount, outcome) = match command {
        LedgerCommand::Recharge {
            amount, out_trade_no, ..
        } => {
            if existing.is_some() {
                return Ok(Decision::Refuse(Refusal::DuplicateTradeNo));
            }
            let next = match rule(account.recharge(*amount)) {
                Ok(next) => next,
                Err(refusal) => return Ok(Decision::Refuse(refusal)),
            };
            let outcome = Outcome::Recharged {
                out_trade_no: out_trade_no.clone(),
                balance: next.balance(),
            };
            let order = new_order(MovementKind::Recharge, key, *amount, 0, &next, now_ms);
            (next, order, MovementKind::Recharge, out_trade_no, *amount, outcome)
        }
        LedgerCommand::Present { bill_no, amount, .. } => {
            if let Some(original) = existing {
                return Ok(Decision::Refuse(duplicate(
                    MovementKind::Present,
                    key,
                    *amount,
                    bill_no,
                    original,
                )));
            }
            let next = match rule(account.present(*amount)) {
                Ok(next) => next,
                Err(refusal) => return Ok(Decision::Refuse(refusal)),
            };
            let outcome = Outcome::Presented {
                bill_no: bill_no.clone(),
                balance: next.balance(),
            };
            let order = new_order(MovementKind::Present, key, *amount, 0, &next, now_ms);
            (next, order, MovementKind::Present, bill_no, *amount, outcome)
        }
        LedgerCommand::Pay { bill_no, amount, .. } => {
            if let Some(original) = existing {
                return Ok(Decision::Refuse(duplicate(
                    MovementKind::Pay,
                    key,
                    *amount,
                    bill_no,
                    original,
                )));
            }
            let (next, split) = match account.pay(*amount).map_err(refusal_of) {
                Ok(done) => done,
                Err(refusal) => return Ok(Decision::Refuse(refusal)),
            };
            let outcome = Outcome::Paid {
                bill_no: bill_no.clone(),
                balance: next.balance(),
                used_gift: split.gift,
            };
            let order = new_order(MovementKind::Pay, key, *amount, split.gift, &next, now_ms);
            (next, order, MovementKind::Pay, bill_no, *amount, outcome)
        }
        LedgerCommand::CancelPay { bill_no, .. } => {
            let pay = match existing {
                Some(o) if o.kind == MovementKind::Pay && o.openid == key.openid && o.zone_id == key.zone_id => o,
                _ => return Ok(Decision::Refuse(Refusal::OrderNotFound)),
            };
            if pay.cancelled_at_ms.is_some() {
                return Ok(Decision::Refuse(Refusal::AlreadyCancelled));
            }
            if now_ms - pay.created_at_ms > CANCEL_WINDOW_MS {
                return Ok(Decision::Refuse(Refusal::CancelWindowClosed));
            }
            let split = PaySplit {
                gift: pay.used_gift,
                cash: pay.amount - pay.used_gift,
            };
            let next = match rule(account.cancel_pay(split)) {
                Ok(next) => next,
                Err(refusal) => return Ok(Decision::Refuse(refusal)),
            };
            let outcome = Outcome::Cancelled {
                bill_no: bill_no.clone(),
            };
            let order = OrderWrite::MarkCancelled {
                cancelled_at_ms: now_ms,
            };
            (next, order, MovementKind::CancelPay, bill_no, pay.amount, outcome)
        }
    };

    next.check_invariants()?;
    let journal = JournalEntry {
        key: key.clone(),
        kind,
        order_no: order_no.clone(),
        amount,
        cash_delta: next.cash - account.cash,
        gift_delta: next.gift - account.gift,
        balance_after: next.balance(),
        at_ms: now_ms,
    };
    Ok(Decision::Apply(Effect {
        account: next,
        order,
        journal,
        outcome,
    }))
}

fn refusal_of(e: RuleError) -> Refusal {
    match e {
        RuleError::InsufficientBalance { .. } => Refusal::InsufficientBalance,
        RuleError::Overflow => Refusal::Overflow,
    }
}

fn new_order(
    kind: MovementKind,
    key: &AccountKey,
    amount: i64,
    used_gift: i64,
    next: &Account,
    now_ms: i64,
) -> OrderWrite {
    OrderWrite::Insert(OrderRecord {
        kind,
        zone_id: key.zone_id.clone(),
        openid: key.openid.clone(),
        amount,
        used_gift,
        balance_after: next.balance(),
        created_at_ms: now_ms,
        cancelled_at_ms: None,
    })
}

/// A repeated bill_no: it carries the original result only when the request is the same
/// operation, on the same account, for the same amount (`ts`, `sig`, `pf` and remarks may
/// differ on a retry and do not count).
fn duplicate(kind: MovementKind, key: &AccountKey, amount: i64, bill_no: &str, original: &OrderRecord) -> Refusal {
    let same = original.kind == kind
        && original.openid == key.openid
        && original.zone_id == key.zone_id
        && original.amount == amount;
    let original = same.then(|| match kind {
        MovementKind::Pay => OriginalResult::Paid {
            bill_no: bill_no.to_string(),
            balance: original.balance_after,
            used_gift: original.used_gift,
        },
        _ => OriginalResult::Presented {
            bill_no: bill_no.to_string(),
            balance: original.balance_after,
        },
    });
    Refusal::DuplicateBillNo { original }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Env;

    fn key(openid: &str) -> AccountKey {
        AccountKey {
            env: Env::Official,
            appid: "wx".into(),
            offer_id: "o".into(),
            zone_id: "1".into(),
            openid: openid.into(),
        }
    }

    fn apply(d: Decision) -> Effect {
        match d {
            Decision::Apply(e) => e,
            Decision::Refuse(r) => panic!("refused: {r:?}"),
        }
    }

    fn inserted(e: &Effect) -> OrderRecord {
        match &e.order {
            OrderWrite::Insert(o) => o.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pay_then_duplicate_then_cancel() {
        let acc = Account::default().recharge(100).unwrap().present(10).unwrap();
        let pay = LedgerCommand::Pay {
            key: key("u"),
            bill_no: "b1".into(),
            amount: 30,
            now_ms: 1000,
        };
        let e = apply(decide(&pay, None, &acc).unwrap());
        assert_eq!(
            e.outcome,
            Outcome::Paid {
                bill_no: "b1".into(),
                balance: 80,
                used_gift: 10
            }
        );
        assert_eq!((e.journal.cash_delta, e.journal.gift_delta), (-20, -10));
        let order = inserted(&e);

        let same = decide(&pay, Some(&order), &e.account).unwrap();
        assert_eq!(
            same,
            Decision::Refuse(Refusal::DuplicateBillNo {
                original: Some(OriginalResult::Paid {
                    bill_no: "b1".into(),
                    balance: 80,
                    used_gift: 10
                })
            })
        );
        let other = LedgerCommand::Pay {
            key: key("u"),
            bill_no: "b1".into(),
            amount: 31,
            now_ms: 1000,
        };
        assert_eq!(
            decide(&other, Some(&order), &e.account).unwrap(),
            Decision::Refuse(Refusal::DuplicateBillNo { original: None })
        );

        let cancel = LedgerCommand::CancelPay {
            key: key("u"),
            bill_no: "b1".into(),
            now_ms: 2000,
        };
        let c = apply(decide(&cancel, Some(&order), &e.account).unwrap());
        assert_eq!(c.account, acc);
        let cancelled = OrderRecord {
            cancelled_at_ms: Some(2000),
            ..order.clone()
        };
        assert_eq!(
            decide(&cancel, Some(&cancelled), &c.account).unwrap(),
            Decision::Refuse(Refusal::AlreadyCancelled)
        );
        let late = LedgerCommand::CancelPay {
            key: key("u"),
            bill_no: "b1".into(),
            now_ms: 1000 + CANCEL_WINDOW_MS + 1,
        };
        assert_eq!(
            decide(&late, Some(&order), &e.account).unwrap(),
            Decision::Refuse(Refusal::CancelWindowClosed)
        );
        let edge = LedgerCommand::CancelPay {
            key: key("u"),
            bill_no: "b1".into(),
            now_ms: 1000 + CANCEL_WINDOW_MS,
        };
        assert!(matches!(
            decide(&edge, Some(&order), &e.account).unwrap(),
            Decision::Apply(_)
        ));
        let stranger = LedgerCommand::CancelPay {
            key: key("v"),
            bill_no: "b1".into(),
            now_ms: 2000,
        };
        assert_eq!(
            decide(&stranger, Some(&order), &e.account).unwrap(),
            Decision::Refuse(Refusal::OrderNotFound)
        );
        assert_eq!(
            decide(&cancel, None, &e.account).unwrap(),
            Decision::Refuse(Refusal::OrderNotFound)
        );
    }

    #[test]
    fn insufficient_balance_and_cancel_of_present() {
        let acc = Account::default().present(5).unwrap();
        let pay = LedgerCommand::Pay {
            key: key("u"),
            bill_no: "b".into(),
            amount: 6,
            now_ms: 0,
        };
        assert_eq!(
            decide(&pay, None, &acc).unwrap(),
            Decision::Refuse(Refusal::InsufficientBalance)
        );
        let present = LedgerCommand::Present {
            key: key("u"),
            bill_no: "p".into(),
            amount: 5,
            now_ms: 0,
        };
        let e = apply(decide(&present, None, &Account::default()).unwrap());
        let cancel = LedgerCommand::CancelPay {
            key: key("u"),
            bill_no: "p".into(),
            now_ms: 0,
        };
        assert_eq!(
            decide(&cancel, Some(&inserted(&e)), &acc).unwrap(),
            Decision::Refuse(Refusal::OrderNotFound)
        );
    }
}
