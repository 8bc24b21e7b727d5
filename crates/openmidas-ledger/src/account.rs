//! An account and the rules of behaviour.md sections 4 and 8, as pure functions.
//!
//! [`crate::decide`] loads an [`Account`], calls one rule, checks the result with
//! [`Account::check_invariants`]; the store writes it back in the same transaction. Keeping
//! the arithmetic here means SQLite and PostgreSQL cannot disagree about money. Every
//! dialect works on these same accounts.

use std::fmt;

/// The two environments. They never share balances, orders or keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Env {
    Official,
    Sandbox,
}

impl Env {
    pub const fn as_str(self) -> &'static str {
        match self {
            Env::Official => "official",
            Env::Sandbox => "sandbox",
        }
    }

    pub fn parse(text: &str) -> Option<Env> {
        match text {
            "official" => Some(Env::Official),
            "sandbox" => Some(Env::Sandbox),
            _ => None,
        }
    }
}

impl fmt::Display for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `(env, appid, offer_id, zone_id, openid)`: what identifies an account, whichever dialect
/// names it (behaviour.md section 8).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountKey {
    pub env: Env,
    pub appid: String,
    pub offer_id: String,
    pub zone_id: String,
    pub openid: String,
}

/// An account's state. A never-seen account is `Account::default()`: all zero, never
/// recharged (`first_save` 1, or `true` in 2.0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Account {
    /// Coins bought with money, still in the balance.
    pub cash: i64,
    /// Presented (gift) coins still in the balance.
    pub gift: i64,
    /// All coins ever recharged.
    pub save_amt: i64,
    /// All coins ever gained: recharges plus presents.
    pub save_sum: i64,
    /// All coins spent, less what refunds and cancels gave back.
    pub cost_sum: i64,
    /// All coins ever presented.
    pub present_sum: i64,
    /// Whether the account was ever recharged (`first_save` 2 rather than 1).
    pub recharged: bool,
}

/// A rule refused the movement; the account is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("balance {balance} is less than {amount}")]
    InsufficientBalance { balance: i64, amount: i64 },
    #[error("the movement would overflow a 64-bit counter")]
    Overflow,
}

/// A broken invariant: a bug, never a user error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ledger invariant broken: {0}")]
pub struct InvariantViolation(pub String);

/// Coins split by pot: what a pay took, or what a refund gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Coins {
    /// Bought coins.
    pub cash: i64,
    /// Gift coins (`used_gen_amt`, `used_present_amount`).
    pub gift: i64,
}

impl Coins {
    pub fn total(self) -> i64 {
        self.cash + self.gift
    }
}

impl Account {
    /// `balance`: cash + gift.
    pub fn balance(&self) -> i64 {
        self.cash + self.gift
    }

    /// `gen_balance`: the gift coins still in the balance.
    pub fn gen_balance(&self) -> i64 {
        self.gift
    }

    /// `first_save`: 1 while never recharged, else 2.
    pub fn first_save(&self) -> i64 {
        if self.recharged {
            2
        } else {
            1
        }
    }

    /// balance = save_sum - cost_sum, gift <= present_sum, nothing negative.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        let fields = [
            ("cash", self.cash),
            ("gift", self.gift),
            ("save_amt", self.save_amt),
            ("save_sum", self.save_sum),
            ("cost_sum", self.cost_sum),
            ("present_sum", self.present_sum),
        ];
        if let Some((name, value)) = fields.iter().find(|(_, v)| *v < 0) {
            return Err(InvariantViolation(format!("{name} is negative ({value})")));
        }
        if self.balance() != self.save_sum - self.cost_sum {
            return Err(InvariantViolation(format!(
                "balance {} != save_sum {} - cost_sum {}",
                self.balance(),
                self.save_sum,
                self.cost_sum
            )));
        }
        if self.gift > self.present_sum {
            return Err(InvariantViolation(format!(
                "gift {} > present_sum {}",
                self.gift, self.present_sum
            )));
        }
        if self.save_amt + self.present_sum != self.save_sum {
            return Err(InvariantViolation(format!(
                "save_amt {} + present_sum {} != save_sum {}",
                self.save_amt, self.present_sum, self.save_sum
            )));
        }
        Ok(())
    }

    /// Recharge `n` (a successful `wx.requestMidasPayment`).
    pub fn recharge(&self, n: i64) -> Result<Account, RuleError> {
        debug_assert!(n > 0);
        Ok(Account {
            cash: add(self.cash, n)?,
            save_amt: add(self.save_amt, n)?,
            save_sum: add(self.save_sum, n)?,
            recharged: true,
            ..*self
        })
    }

    /// Present `k` gift coins.
    pub fn present(&self, k: i64) -> Result<Account, RuleError> {
        debug_assert!(k > 0);
        Ok(Account {
            gift: add(self.gift, k)?,
            present_sum: add(self.present_sum, k)?,
            save_sum: add(self.save_sum, k)?,
            ..*self
        })
    }

    /// Pay `a`: gift coins first, then cash.
    pub fn pay(&self, a: i64) -> Result<(Account, Coins), RuleError> {
        debug_assert!(a > 0);
        if self.balance() < a {
            return Err(RuleError::InsufficientBalance {
                balance: self.balance(),
                amount: a,
            });
        }
        let gift = self.gift.min(a);
        let cash = a - gift;
        let next = Account {
            gift: self.gift - gift,
            cash: self.cash - cash,
            cost_sum: add(self.cost_sum, a)?,
            ..*self
        };
        Ok((next, Coins { cash, gift }))
    }

    /// Give back `coins` of a pay (a refund, or a v1 cancelpay): each pot gets back its
    /// part, and `cost_sum` goes down by the total. Which part is which is the order's rule
    /// ([`crate::order::Order::refund_split`]).
    pub fn refund(&self, coins: Coins) -> Result<Account, RuleError> {
        Ok(Account {
            gift: add(self.gift, coins.gift)?,
            cash: add(self.cash, coins.cash)?,
            cost_sum: self.cost_sum - coins.total(),
            ..*self
        })
    }
}

fn add(a: i64, b: i64) -> Result<i64, RuleError> {
    a.checked_add(b).ok_or(RuleError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gift_is_spent_first_and_restored_on_cancel() {
        let a = Account::default().recharge(10).unwrap().present(3).unwrap();
        assert_eq!((a.balance(), a.gen_balance(), a.first_save()), (13, 3, 2));
        let (b, split) = a.pay(5).unwrap();
        assert_eq!(split, Coins { gift: 3, cash: 2 });
        assert_eq!((b.balance(), b.gift, b.cost_sum), (8, 0, 5));
        let c = b.refund(split).unwrap();
        assert_eq!(c, a);
        assert_eq!(b.pay(9), Err(RuleError::InsufficientBalance { balance: 8, amount: 9 }));
        assert_eq!(Account::default().first_save(), 1);
    }

    #[derive(Debug, Clone)]
    enum Move {
        Recharge(i64),
        Present(i64),
        Pay(i64),
        CancelLast,
    }

    fn moves() -> impl Strategy<Value = Vec<Move>> {
        prop::collection::vec(
            prop_oneof![
                (1i64..1000).prop_map(Move::Recharge),
                (1i64..1000).prop_map(Move::Present),
                (1i64..1500).prop_map(Move::Pay),
                Just(Move::CancelLast),
            ],
            0..60,
        )
    }

    proptest! {
        #[test]
        fn invariants_hold_after_every_rule(moves in moves()) {
            let mut account = Account::default();
            let mut pays: Vec<Coins> = Vec::new();
            for m in moves {
                let before = account;
                match m {
                    Move::Recharge(n) => account = account.recharge(n).unwrap(),
                    Move::Present(k) => account = account.present(k).unwrap(),
                    Move::Pay(a) => match account.pay(a) {
                        Ok((next, split)) => {
                            prop_assert_eq!(split.gift, before.gift.min(a));
                            account = next;
                            pays.push(split);
                        }
                        Err(RuleError::InsufficientBalance { .. }) => prop_assert!(before.balance() < a),
                        Err(e) => prop_assert!(false, "{e}"),
                    },
                    Move::CancelLast => if let Some(split) = pays.pop() {
                        account = account.refund(split).unwrap();
                    },
                }
                prop_assert!(account.check_invariants().is_ok(), "{:?}", account.check_invariants());
            }
        }
    }
}
