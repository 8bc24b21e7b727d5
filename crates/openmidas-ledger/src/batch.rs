//! A batch of commands in one transaction: what to read, [`decide`] for each command in
//! turn, and what to write. Both stores run exactly this around their own I/O, so a batch
//! answers what the commands would have answered one after another, on every backend.
//!
//! 1. [`Batch::new`] collects the distinct order keys and account keys of the commands,
//!    sorted: the store reads them (locking them, where the database has locks) in that
//!    order, the same on every node, so two nodes never wait on each other in a cycle.
//! 2. [`Batch::decide`] runs [`decide`] for each command in queue order over slots holding
//!    each row as read and as changed so far, so each command sees what the ones before it
//!    did.
//! 3. [`Writes`] says what changed, in key order: rows to insert (not read), rows to update
//!    (read and changed), and the journal in command order.

use crate::account::{Account, AccountKey, InvariantViolation};
use crate::command::{Command, JournalEntry, Outcome};
use crate::decide::{decide, Decision};
use crate::order::{Order, OrderKey};
use crate::push::{self, NewPush};

/// The commands of one transaction and the rows they read.
pub struct Batch<'c> {
    commands: Vec<&'c Command>,
    /// Distinct order keys, sorted.
    orders: Vec<OrderKey>,
    /// Distinct account keys, sorted.
    accounts: Vec<&'c AccountKey>,
    /// Per command: the orders it reads ([`Command::reads`]).
    reads: Vec<Vec<OrderKey>>,
    /// Per command: the slot of each of its reads, and of its account.
    slots: Vec<(Vec<usize>, usize)>,
}

/// A row as read and as the batch left it so far.
#[derive(Debug, Clone)]
struct Slot<T> {
    stored: Option<T>,
    current: Option<T>,
    /// When a command of the batch last changed it (`None`: unchanged, not written). An
    /// account row records it as its `updated_at_ms`.
    changed_at_ms: Option<i64>,
}

impl<T> Slot<T> {
    fn new(stored: Option<T>) -> Slot<T>
    where
        T: Clone,
    {
        Slot {
            current: stored.clone(),
            stored,
            changed_at_ms: None,
        }
    }
}

/// An account row to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountWrite<'b> {
    pub key: &'b AccountKey,
    pub account: Account,
    pub updated_at_ms: i64,
}

/// An order row to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderWrite<'b> {
    pub key: &'b OrderKey,
    pub order: Order,
}

/// What a batch writes, each list in key order (the journal in command order).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Writes<'b> {
    /// Accounts that did not exist.
    pub account_inserts: Vec<AccountWrite<'b>>,
    /// Accounts that existed (read, and locked where the database locks).
    pub account_updates: Vec<AccountWrite<'b>>,
    pub order_inserts: Vec<OrderWrite<'b>>,
    pub order_updates: Vec<OrderWrite<'b>>,
    pub journal: Vec<JournalEntry>,
    /// The events the changes caused, in command order (behaviour.md section 12).
    pub pushes: Vec<NewPush>,
}

impl Writes<'_> {
    /// Every account the batch changed, with its state after the batch.
    pub fn changed_accounts(&self) -> impl Iterator<Item = (&AccountKey, &Account)> {
        self.account_inserts
            .iter()
            .chain(&self.account_updates)
            .map(|w| (w.key, &w.account))
    }
}

/// The outcome of every command, in command order, and the writes.
pub struct Decided<'b> {
    pub outcomes: Vec<Outcome>,
    pub writes: Writes<'b>,
}

impl<'c> Batch<'c> {
    pub fn new(commands: Vec<&'c Command>) -> Batch<'c> {
        let reads: Vec<Vec<OrderKey>> = commands.iter().map(|c| c.reads()).collect();
        let mut orders: Vec<OrderKey> = reads.iter().flatten().cloned().collect();
        orders.sort_unstable();
        orders.dedup();
        let mut accounts: Vec<&'c AccountKey> = commands.iter().map(|c| &c.account).collect();
        accounts.sort_unstable();
        accounts.dedup();
        // Every key was just collected, so each lookup finds its index.
        let slots = reads
            .iter()
            .zip(&commands)
            .map(|(keys, command)| {
                let order_slots = keys
                    .iter()
                    .map(|k| orders.binary_search(k).unwrap_or_default())
                    .collect();
                let account_slot = accounts.binary_search(&&command.account).unwrap_or_default();
                (order_slots, account_slot)
            })
            .collect();
        Batch {
            commands,
            orders,
            accounts,
            reads,
            slots,
        }
    }

    /// The orders to read, in locking order.
    pub fn order_keys(&self) -> &[OrderKey] {
        &self.orders
    }

    /// The accounts to read, in locking order.
    pub fn account_keys(&self) -> &[&'c AccountKey] {
        &self.accounts
    }

    pub fn len(&self) -> usize {
        self.commands.len()
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Decides every command in order over what the store read: `orders[i]` is the row of
    /// `order_keys()[i]`, `accounts[i]` of `account_keys()[i]` (`None`: no row).
    pub fn decide(
        &self,
        orders: Vec<Option<Order>>,
        accounts: Vec<Option<Account>>,
    ) -> Result<Decided<'_>, InvariantViolation> {
        if orders.len() != self.orders.len() || accounts.len() != self.accounts.len() {
            return Err(InvariantViolation("the store read a different number of rows".into()));
        }
        let mut order_slots: Vec<Slot<Order>> = orders.into_iter().map(Slot::new).collect();
        let mut account_slots: Vec<Slot<Account>> = accounts.into_iter().map(Slot::new).collect();
        let mut outcomes = Vec::with_capacity(self.commands.len());
        let mut journal = Vec::new();
        let mut pushes = Vec::new();
        for ((command, (order_indices, account_index)), reads) in self.commands.iter().zip(&self.slots).zip(&self.reads)
        {
            // Checked against the keys again: a wrong slot would apply money to the wrong row.
            let orders_match = order_indices.len() == reads.len()
                && order_indices
                    .iter()
                    .zip(reads)
                    .all(|(&i, key)| self.orders.get(i) == Some(key));
            if !orders_match || self.accounts.get(*account_index) != Some(&&command.account) {
                return Err(InvariantViolation("a slot of the batch is not its key's".into()));
            }
            let read: Vec<Option<&Order>> = order_indices.iter().map(|&i| order_slots[i].current.as_ref()).collect();
            let account = account_slots[*account_index].current.unwrap_or_default();
            match decide(command, &read, &account)? {
                Decision::Refuse(refusal) => outcomes.push(Outcome::Refused(refusal)),
                Decision::Apply(effect) => {
                    pushes.extend(push::caused(command, &effect.orders));
                    if let Some(next) = effect.account {
                        let slot = &mut account_slots[*account_index];
                        slot.current = Some(next);
                        slot.changed_at_ms = Some(command.now_ms);
                    }
                    for (read_index, order) in effect.orders {
                        let slot_index = *order_indices
                            .get(read_index)
                            .ok_or_else(|| InvariantViolation("decide() wrote an order it did not read".into()))?;
                        let slot = &mut order_slots[slot_index];
                        slot.current = Some(order);
                        slot.changed_at_ms = Some(command.now_ms);
                    }
                    journal.extend(effect.journal);
                    outcomes.push(effect.outcome);
                }
            }
        }

        let mut writes = Writes {
            journal,
            pushes,
            ..Writes::default()
        };
        for (key, slot) in self.accounts.iter().zip(account_slots) {
            if let (Some(updated_at_ms), Some(account)) = (slot.changed_at_ms, slot.current) {
                let write = AccountWrite {
                    key,
                    account,
                    updated_at_ms,
                };
                match slot.stored {
                    Some(_) => writes.account_updates.push(write),
                    None => writes.account_inserts.push(write),
                }
            }
        }
        for (key, slot) in self.orders.iter().zip(order_slots) {
            if let (Some(_), Some(order)) = (slot.changed_at_ms, slot.current) {
                let write = OrderWrite { key, order };
                match slot.stored {
                    Some(_) => writes.order_updates.push(write),
                    None => writes.order_inserts.push(write),
                }
            }
        }
        Ok(Decided { outcomes, writes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Env;
    use crate::command::{Op, Original, Refusal};
    use crate::order::OrderStatus;

    const NOW: i64 = 1_767_225_600_000;

    fn key(openid: &str) -> AccountKey {
        AccountKey {
            env: Env::Official,
            appid: "wx".into(),
            offer_id: "o".into(),
            zone_id: "1".into(),
            openid: openid.into(),
        }
    }

    fn pay(openid: &str, number: &str, amount: i64) -> Command {
        Command {
            account: key(openid),
            now_ms: NOW,
            op: Op::Pay {
                number: number.into(),
                amount,
            },
        }
    }

    fn cancel(openid: &str, number: &str) -> Command {
        Command {
            account: key(openid),
            now_ms: NOW + 5,
            op: Op::CancelPay {
                pay_number: number.into(),
                window_ms: 48 * 3_600_000,
            },
        }
    }

    fn funded(cash: i64) -> Account {
        Account::default().recharge(cash).expect("recharge")
    }

    /// Decides `commands` as one batch over what the "database" holds.
    fn run<'c>(
        batch: &'c Batch<'c>,
        stored_accounts: &[(&str, Account)],
        stored_orders: &[(&str, Order)],
    ) -> Decided<'c> {
        let orders = batch
            .order_keys()
            .iter()
            .map(|k| {
                stored_orders
                    .iter()
                    .find(|(no, _)| *no == k.number)
                    .map(|(_, o)| o.clone())
            })
            .collect();
        let accounts = batch
            .account_keys()
            .iter()
            .map(|k| stored_accounts.iter().find(|(id, _)| *id == k.openid).map(|(_, a)| *a))
            .collect();
        batch.decide(orders, accounts).expect("decide")
    }

    /// The same commands, one after another, each seeing what the previous ones wrote.
    fn sequential(commands: &[Command], start: Account) -> Vec<Outcome> {
        let mut account = start;
        let mut orders: Vec<(OrderKey, Order)> = Vec::new();
        let mut out = Vec::new();
        for c in commands {
            let keys = c.reads();
            let read: Vec<Option<Order>> = keys
                .iter()
                .map(|k| orders.iter().find(|(n, _)| n == k).map(|(_, o)| o.clone()))
                .collect();
            let refs: Vec<Option<&Order>> = read.iter().map(Option::as_ref).collect();
            match decide(c, &refs, &account).expect("decide") {
                Decision::Refuse(r) => out.push(Outcome::Refused(r)),
                Decision::Apply(e) => {
                    account = e.account.unwrap_or(account);
                    for (i, order) in e.orders {
                        orders.retain(|(k, _)| *k != keys[i]);
                        orders.push((keys[i].clone(), order));
                    }
                    out.push(e.outcome);
                }
            }
        }
        out
    }

    #[test]
    fn one_account_twice_in_a_batch_carries_its_balance() {
        let commands = [pay("u", "b1", 60), pay("u", "b2", 60), pay("u", "b3", 40)];
        let batch = Batch::new(commands.iter().collect());
        let decided = run(&batch, &[("u", funded(100))], &[]);
        assert_eq!(decided.outcomes, sequential(&commands, funded(100)));
        assert!(matches!(decided.outcomes[0], Outcome::Paid { balance: 40, .. }));
        assert_eq!(decided.outcomes[1], Outcome::Refused(Refusal::InsufficientBalance));
        assert!(matches!(decided.outcomes[2], Outcome::Paid { balance: 0, .. }));
        let w = &decided.writes;
        assert_eq!(w.journal.len(), 2);
        assert_eq!(w.account_updates.len(), 1);
        assert!(w.account_inserts.is_empty());
        assert_eq!(w.account_updates[0].account.balance(), 0);
        // b2 was refused: no order for it.
        let inserted: Vec<&str> = w.order_inserts.iter().map(|o| o.key.number.as_str()).collect();
        assert_eq!(inserted, vec!["b1", "b3"]);
    }

    #[test]
    fn a_number_repeated_in_a_batch_is_a_repeat() {
        let commands = [
            pay("u", "b", 10),
            pay("u", "b", 10),
            pay("v", "b", 10),
            pay("u", "b", 11),
        ];
        let batch = Batch::new(commands.iter().collect());
        let decided = run(&batch, &[("u", funded(100)), ("v", funded(100))], &[]);
        assert_eq!(decided.outcomes, sequential(&commands, funded(100)));
        assert_eq!(
            decided.outcomes[1],
            Outcome::Refused(Refusal::Repeated {
                original: Some(Original::Paid {
                    number: "b".into(),
                    balance: 90,
                    gift: 0
                })
            })
        );
        assert_eq!(
            decided.outcomes[2],
            Outcome::Refused(Refusal::Repeated { original: None })
        );
        assert_eq!(decided.writes.journal.len(), 1);
        assert_eq!(decided.writes.order_inserts.len(), 1);
        // v was never charged, so its row is not written.
        assert!(decided.writes.changed_accounts().all(|(k, _)| k.openid == "u"));
    }

    #[test]
    fn a_pay_cancelled_in_its_own_batch_is_inserted_refunded() {
        let commands = [pay("u", "b", 30), cancel("u", "b"), cancel("u", "b")];
        let batch = Batch::new(commands.iter().collect());
        let decided = run(&batch, &[], &[]);
        assert_eq!(decided.outcomes[0], Outcome::Refused(Refusal::InsufficientBalance));
        assert_eq!(decided.outcomes[1], Outcome::Refused(Refusal::PayNotFound));
        assert_eq!(decided.writes, Writes::default());

        let batch = Batch::new(commands.iter().collect());
        let decided = run(&batch, &[("u", funded(50))], &[]);
        assert_eq!(decided.outcomes, sequential(&commands, funded(50)));
        assert!(matches!(decided.outcomes[1], Outcome::Cancelled { .. }));
        assert_eq!(decided.outcomes[2], Outcome::Refused(Refusal::NothingLeft));
        let w = &decided.writes;
        assert_eq!(w.journal.len(), 2);
        assert!(w.order_updates.is_empty());
        assert_eq!(w.order_inserts[0].order.status, OrderStatus::Refunded);
        assert_eq!(w.account_updates[0].account, funded(50));
        assert_eq!(w.account_updates[0].updated_at_ms, NOW + 5);
    }

    #[test]
    fn a_stored_pay_cancelled_is_an_update() {
        let paid = Order {
            kind: crate::order::OrderKind::Pay,
            status: OrderStatus::Done,
            zone_id: "1".into(),
            openid: "u".into(),
            amount: 20,
            gift: 0,
            refunded: Default::default(),
            pay_number: None,
            balance_after: 80,
            created_at_ms: NOW,
            updated_at_ms: NOW,
            purchase: None,
        };
        let commands = [cancel("u", "old"), cancel("u", "old")];
        let (after, _) = funded(100).pay(20).expect("pay");
        let batch = Batch::new(commands.iter().collect());
        let decided = run(&batch, &[("u", after)], &[("old", paid)]);
        assert!(matches!(decided.outcomes[0], Outcome::Cancelled { .. }));
        assert_eq!(decided.outcomes[1], Outcome::Refused(Refusal::NothingLeft));
        assert_eq!(decided.writes.journal.len(), 1);
        assert_eq!(decided.writes.order_updates.len(), 1);
        assert_eq!(decided.writes.account_updates[0].account.balance(), 100);
    }

    /// Any mix of commands decided as one batch answers exactly what they answer one after
    /// another, and the batch writes each changed row once, in its final state.
    mod as_if_one_by_one {
        use super::*;
        use crate::command::{Goods, PurchaseOrder};
        use proptest::prelude::*;

        fn command() -> impl Strategy<Value = Command> {
            let openid = prop_oneof![Just("u"), Just("v")];
            let number = (0..5usize).prop_map(|n| format!("n{n}"));
            prop_oneof![
                (openid.clone(), number.clone(), 1i64..60).prop_map(|(o, n, a)| Command::pay(key(o), &n, a, NOW)),
                (openid.clone(), number.clone(), 1i64..30).prop_map(|(o, n, a)| Command::present(key(o), &n, a, NOW)),
                (openid.clone(), number.clone(), number.clone(), 1i64..30).prop_map(|(o, n, p, a)| Command {
                    account: key(o),
                    now_ms: NOW + 1,
                    op: Op::Refund {
                        number: n,
                        pay_number: p,
                        amount: a,
                        window_ms: 1000
                    },
                }),
                (openid.clone(), number.clone()).prop_map(|(o, n)| cancel(o, &n)),
                (openid, number, 1i64..50, any::<bool>()).prop_map(|(o, n, q, paid)| Command {
                    account: key(o),
                    now_ms: NOW,
                    op: Op::Purchase(PurchaseOrder {
                        number: n,
                        goods: Goods::Coins { quantity: q },
                        fee_fen: q,
                        orig_fee_fen: q,
                        channel: crate::order::PurchaseChannel::MiniGame,
                        wx_order_id: "wx".into(),
                        attach: String::new(),
                        paid,
                        push: false,
                    }),
                }),
            ]
        }

        proptest! {
            #[test]
            fn a_batch_answers_and_writes_as_its_commands_one_by_one(
                commands in prop::collection::vec(command(), 1..24),
                funded in any::<bool>(),
            ) {
                let start = if funded { funded_account() } else { Account::default() };
                let stored: Vec<(&str, Account)> = vec![("u", start), ("v", start)];
                let batch = Batch::new(commands.iter().collect());
                let decided = run(&batch, &stored, &[]);
                prop_assert_eq!(&decided.outcomes, &sequential_from(&commands, start));
                for write in decided.writes.changed_accounts() {
                    prop_assert!(write.1.check_invariants().is_ok());
                }
                let keys: Vec<&OrderKey> = decided.writes.order_inserts.iter().map(|w| w.key).collect();
                let mut unique = keys.clone();
                unique.dedup();
                prop_assert_eq!(keys.len(), unique.len(), "an order is written once");
                for write in &decided.writes.order_inserts {
                    prop_assert!(write.order.check_invariants().is_ok());
                }
            }
        }

        fn funded_account() -> Account {
            Account::default()
                .recharge(100)
                .expect("recharge")
                .present(20)
                .expect("present")
        }

        /// [`sequential`], starting both accounts from `start`.
        fn sequential_from(commands: &[Command], start: Account) -> Vec<Outcome> {
            let mut accounts: Vec<(String, Account)> = vec![("u".into(), start), ("v".into(), start)];
            let mut orders: Vec<(OrderKey, Order)> = Vec::new();
            let mut out = Vec::new();
            for c in commands {
                let keys = c.reads();
                let read: Vec<Option<Order>> = keys
                    .iter()
                    .map(|k| orders.iter().find(|(n, _)| n == k).map(|(_, o)| o.clone()))
                    .collect();
                let refs: Vec<Option<&Order>> = read.iter().map(Option::as_ref).collect();
                let slot = accounts
                    .iter()
                    .position(|(o, _)| *o == c.account.openid)
                    .expect("account");
                match decide(c, &refs, &accounts[slot].1).expect("decide") {
                    Decision::Refuse(r) => out.push(Outcome::Refused(r)),
                    Decision::Apply(e) => {
                        if let Some(next) = e.account {
                            accounts[slot].1 = next;
                        }
                        for (i, order) in e.orders {
                            orders.retain(|(k, _)| *k != keys[i]);
                            orders.push((keys[i].clone(), order));
                        }
                        out.push(e.outcome);
                    }
                }
            }
            out
        }
    }

    #[test]
    fn reads_and_read_count_agree() {
        let refund = Command {
            account: key("u"),
            now_ms: NOW,
            op: Op::Refund {
                number: "r".into(),
                pay_number: "p".into(),
                amount: 1,
                window_ms: 1,
            },
        };
        for c in [pay("u", "b", 1), cancel("u", "b"), refund] {
            assert_eq!(c.read_count(), c.reads().len(), "{c:?}");
        }
    }

    #[test]
    fn a_refund_reads_two_orders_and_writes_both() {
        let refund = Command {
            account: key("u"),
            now_ms: NOW + 1,
            op: Op::Refund {
                number: "r".into(),
                pay_number: "b".into(),
                amount: 5,
                window_ms: 1000,
            },
        };
        let commands = [pay("u", "b", 30), refund];
        let batch = Batch::new(commands.iter().collect());
        assert_eq!(batch.order_keys().len(), 2);
        let decided = run(&batch, &[("u", funded(50))], &[]);
        assert_eq!(decided.outcomes, sequential(&commands, funded(50)));
        let numbers: Vec<&str> = decided
            .writes
            .order_inserts
            .iter()
            .map(|o| o.key.number.as_str())
            .collect();
        assert_eq!(numbers, vec!["b", "r"]);
        assert_eq!(decided.writes.order_inserts[0].order.refunded.total(), 5);
    }
}
