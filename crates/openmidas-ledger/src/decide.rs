//! [`decide`]: the one place that turns a command and the rows it read into the rows it
//! writes, or a refusal. Pure; every store runs it inside its transaction, so no backend
//! can disagree with another about money (behaviour.md sections 4 and 8).

use crate::account::{Account, Coins, InvariantViolation, RuleError};
use crate::command::{Command, Goods, JournalEntry, MovementKind, Op, Original, Outcome, PurchaseRefund, Refusal};
use crate::order::{Order, OrderKind, OrderStatus, Purchase};

/// What a command changes, all in its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    /// The account's new state, if it changed.
    pub account: Option<Account>,
    /// New states of orders, each by its index in [`Command::reads`] (inserted if it was
    /// not read, else updated).
    pub orders: Vec<(usize, Order)>,
    /// The balance movement, if coins moved.
    pub journal: Option<JournalEntry>,
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

/// Decides `command` from the orders it reads (`orders[i]` is the order at
/// `command.reads()[i]`, `None` when there is none) and the account (default if never
/// seen). Every changed account and order is checked against its invariants; a violation is
/// a bug, returned as an error so the store rolls the command back.
pub fn decide(command: &Command, orders: &[Option<&Order>], account: &Account) -> Result<Decision, InvariantViolation> {
    if orders.len() != command.read_count() {
        return Err(InvariantViolation(format!(
            "decide() got {} orders for {} reads",
            orders.len(),
            command.read_count()
        )));
    }
    let decision = match &command.op {
        Op::Present { number, amount } => present(command, number, *amount, orders[0], account),
        Op::Pay { number, amount } => pay(command, number, *amount, orders[0], account),
        Op::Refund {
            number,
            pay_number,
            amount,
            window_ms,
        } => refund(
            command, number, pay_number, *amount, *window_ms, orders[0], orders[1], account,
        ),
        Op::CancelPay { pay_number, window_ms } => cancel_pay(command, pay_number, *window_ms, orders[0], account),
        Op::Purchase(order) => purchase(command, order, orders[0], account),
        Op::PayPurchase { number, .. } => pay_purchase(command, number, orders[0], account),
        Op::ClosePurchase { number } => close_purchase(command, number, orders[0]),
        Op::RefundPurchase(refund) => refund_purchase(command, refund, orders[0], orders[1]),
        Op::DeliverPurchase { number } => deliver_purchase(command, number, orders[0]),
    };
    if let Decision::Apply(effect) = &decision {
        if let Some(next) = &effect.account {
            next.check_invariants()?;
        }
        for (_, order) in &effect.orders {
            order.check_invariants()?;
        }
    }
    Ok(decision)
}

fn refused(refusal: Refusal) -> Decision {
    Decision::Refuse(refusal)
}

fn rule_refusal(e: RuleError) -> Refusal {
    match e {
        RuleError::InsufficientBalance { .. } => Refusal::InsufficientBalance,
        RuleError::Overflow => Refusal::Overflow,
    }
}

/// A new currency order of the command's account.
fn currency_order(command: &Command, kind: OrderKind, amount: i64, gift: i64, next: &Account) -> Order {
    Order {
        kind,
        status: OrderStatus::Done,
        zone_id: command.account.zone_id.clone(),
        openid: command.account.openid.clone(),
        amount,
        gift,
        refunded: Coins::default(),
        pay_number: None,
        balance_after: next.balance(),
        created_at_ms: command.now_ms,
        updated_at_ms: command.now_ms,
        purchase: None,
    }
}

fn movement(
    command: &Command,
    kind: MovementKind,
    number: &str,
    amount: i64,
    before: &Account,
    after: &Account,
) -> JournalEntry {
    JournalEntry {
        key: command.account.clone(),
        kind,
        order_no: number.to_string(),
        amount,
        cash_delta: after.cash - before.cash,
        gift_delta: after.gift - before.gift,
        balance_after: after.balance(),
        at_ms: command.now_ms,
    }
}

/// A repeated currency number: the original result rides along only for the same
/// operation on the same account with the same amount (`ts`, signatures, remarks may differ
/// on a retry and do not count).
fn repeated(command: &Command, existing: &Order, kind: OrderKind, amount: i64, number: &str) -> Decision {
    let same = existing.kind == kind && existing.is_of(&command.account) && existing.amount == amount;
    let original = same.then(|| {
        let number = number.to_string();
        let balance = existing.balance_after;
        match kind {
            OrderKind::Pay => Original::Paid {
                number,
                balance,
                gift: existing.gift,
            },
            OrderKind::Refund => Original::Refunded {
                number,
                balance,
                gift: existing.gift,
            },
            _ => Original::Presented { number, balance },
        }
    });
    refused(Refusal::Repeated { original })
}

fn present(command: &Command, number: &str, amount: i64, existing: Option<&Order>, account: &Account) -> Decision {
    if let Some(existing) = existing {
        return repeated(command, existing, OrderKind::Present, amount, number);
    }
    let next = match account.present(amount) {
        Ok(next) => next,
        Err(e) => return refused(rule_refusal(e)),
    };
    Decision::Apply(Effect {
        orders: vec![(0, currency_order(command, OrderKind::Present, amount, 0, &next))],
        journal: Some(movement(command, MovementKind::Present, number, amount, account, &next)),
        outcome: Outcome::Presented {
            number: number.to_string(),
            balance: next.balance(),
            gift: next.gift,
        },
        account: Some(next),
    })
}

fn pay(command: &Command, number: &str, amount: i64, existing: Option<&Order>, account: &Account) -> Decision {
    if let Some(existing) = existing {
        return repeated(command, existing, OrderKind::Pay, amount, number);
    }
    let (next, taken) = match account.pay(amount) {
        Ok(done) => done,
        Err(e) => return refused(rule_refusal(e)),
    };
    Decision::Apply(Effect {
        orders: vec![(0, currency_order(command, OrderKind::Pay, amount, taken.gift, &next))],
        journal: Some(movement(command, MovementKind::Pay, number, amount, account, &next)),
        outcome: Outcome::Paid {
            number: number.to_string(),
            balance: next.balance(),
            gift: taken.gift,
        },
        account: Some(next),
    })
}

/// The pay `pay_number` of this account, if it is one.
fn pay_of<'a>(command: &Command, order: Option<&'a Order>) -> Option<&'a Order> {
    order.filter(|o| o.kind == OrderKind::Pay && o.is_of(&command.account))
}

fn past_window(command: &Command, pay: &Order, window_ms: i64) -> bool {
    command.now_ms - pay.created_at_ms > window_ms
}

/// The pay after giving back `coins` of it.
fn refunded_pay(command: &Command, pay: &Order, coins: Coins) -> Order {
    let refunded = Coins {
        cash: pay.refunded.cash + coins.cash,
        gift: pay.refunded.gift + coins.gift,
    };
    Order {
        refunded,
        status: if refunded.total() == pay.amount {
            OrderStatus::Refunded
        } else {
            OrderStatus::Done
        },
        updated_at_ms: command.now_ms.max(pay.created_at_ms),
        ..pay.clone()
    }
}

#[allow(clippy::too_many_arguments)]
fn refund(
    command: &Command,
    number: &str,
    pay_number: &str,
    amount: i64,
    window_ms: i64,
    existing: Option<&Order>,
    pay: Option<&Order>,
    account: &Account,
) -> Decision {
    if let Some(existing) = existing {
        if existing.kind == OrderKind::Refund && existing.pay_number.as_deref() != Some(pay_number) {
            return refused(Refusal::Repeated { original: None });
        }
        return repeated(command, existing, OrderKind::Refund, amount, number);
    }
    let Some(pay) = pay_of(command, pay) else {
        return refused(Refusal::PayNotFound);
    };
    if past_window(command, pay, window_ms) {
        return refused(Refusal::WindowClosed);
    }
    let Some(coins) = pay.refund_split(amount) else {
        return refused(Refusal::RefundTooLarge);
    };
    let next = match account.refund(coins) {
        Ok(next) => next,
        Err(e) => return refused(rule_refusal(e)),
    };
    let refund = Order {
        pay_number: Some(pay_number.to_string()),
        ..currency_order(command, OrderKind::Refund, amount, coins.gift, &next)
    };
    Decision::Apply(Effect {
        orders: vec![(0, refund), (1, refunded_pay(command, pay, coins))],
        journal: Some(movement(command, MovementKind::Refund, number, amount, account, &next)),
        outcome: Outcome::Refunded {
            number: number.to_string(),
            balance: next.balance(),
            gift: coins.gift,
        },
        account: Some(next),
    })
}

fn cancel_pay(command: &Command, pay_number: &str, window_ms: i64, pay: Option<&Order>, account: &Account) -> Decision {
    let Some(pay) = pay_of(command, pay) else {
        return refused(Refusal::PayNotFound);
    };
    if pay.left_to_refund() == 0 {
        return refused(Refusal::NothingLeft);
    }
    if past_window(command, pay, window_ms) {
        return refused(Refusal::WindowClosed);
    }
    let rest = Coins {
        cash: pay.amount - pay.gift - pay.refunded.cash,
        gift: pay.gift - pay.refunded.gift,
    };
    let next = match account.refund(rest) {
        Ok(next) => next,
        Err(e) => return refused(rule_refusal(e)),
    };
    Decision::Apply(Effect {
        orders: vec![(0, refunded_pay(command, pay, rest))],
        journal: Some(movement(
            command,
            MovementKind::CancelPay,
            pay_number,
            rest.total(),
            account,
            &next,
        )),
        outcome: Outcome::Cancelled {
            pay_number: pay_number.to_string(),
            balance: next.balance(),
        },
        account: Some(next),
    })
}

/// The purchase after the player paid it at `now_ms`; coins are credited (delivered) at once.
fn paid(order: Order, now_ms: i64) -> Order {
    let delivered = order.kind == OrderKind::CoinPurchase;
    let purchase = order.purchase.map(|p| Purchase {
        paid_at_ms: Some(now_ms),
        delivered_at_ms: delivered.then_some(now_ms),
        ..p
    });
    Order {
        status: if delivered {
            OrderStatus::Delivered
        } else {
            OrderStatus::Paid
        },
        updated_at_ms: now_ms.max(order.created_at_ms),
        purchase,
        ..order
    }
}

/// What paying `order` does to the account: coins credited for a coin purchase.
fn credit(
    command: &Command,
    number: &str,
    order: &Order,
    account: &Account,
) -> Result<(Account, Option<JournalEntry>), Refusal> {
    if order.kind != OrderKind::CoinPurchase {
        return Ok((*account, None));
    }
    let next = account.recharge(order.amount).map_err(rule_refusal)?;
    let journal = movement(command, MovementKind::Recharge, number, order.amount, account, &next);
    Ok((next, Some(journal)))
}

fn purchase(
    command: &Command,
    new: &crate::command::PurchaseOrder,
    existing: Option<&Order>,
    account: &Account,
) -> Decision {
    if existing.is_some() {
        return refused(Refusal::RepeatedPurchase);
    }
    let (kind, product_id, quantity) = match &new.goods {
        Goods::Coins { quantity } => (OrderKind::CoinPurchase, String::new(), *quantity),
        Goods::Item { product_id, quantity } => (OrderKind::ItemPurchase, product_id.clone(), *quantity),
    };
    let created = Order {
        kind,
        status: OrderStatus::Created,
        zone_id: command.account.zone_id.clone(),
        openid: command.account.openid.clone(),
        amount: quantity,
        gift: 0,
        refunded: Coins::default(),
        pay_number: None,
        balance_after: account.balance(),
        created_at_ms: command.now_ms,
        updated_at_ms: command.now_ms,
        purchase: Some(Purchase {
            product_id,
            fee_fen: new.fee_fen,
            orig_fee_fen: new.orig_fee_fen,
            channel: new.channel,
            wx_order_id: new.wx_order_id.clone(),
            attach: new.attach.clone(),
            paid_at_ms: None,
            delivered_at_ms: None,
            refunded_fee: 0,
            completes_at_ms: None,
        }),
    };
    if !new.paid {
        return Decision::Apply(Effect {
            account: None,
            outcome: Outcome::Purchased {
                number: new.number.clone(),
                balance: account.balance(),
                status: created.status,
            },
            orders: vec![(0, created)],
            journal: None,
        });
    }
    let (next, journal) = match credit(command, &new.number, &created, account) {
        Ok(done) => done,
        Err(refusal) => return refused(refusal),
    };
    let order = Order {
        balance_after: next.balance(),
        ..paid(created, command.now_ms)
    };
    Decision::Apply(Effect {
        account: journal.is_some().then_some(next),
        outcome: Outcome::Purchased {
            number: new.number.clone(),
            balance: next.balance(),
            status: order.status,
        },
        orders: vec![(0, order)],
        journal,
    })
}

/// The purchase `number` of this account, waiting to be paid.
fn pending<'a>(command: &Command, order: Option<&'a Order>) -> Result<&'a Order, Refusal> {
    let order = order
        .filter(|o| o.kind.book() == crate::order::Book::Purchase && o.is_of(&command.account))
        .ok_or(Refusal::PurchaseNotFound)?;
    match order.status {
        OrderStatus::Created => Ok(order),
        status => Err(Refusal::PurchaseNotPending { status }),
    }
}

fn pay_purchase(command: &Command, number: &str, order: Option<&Order>, account: &Account) -> Decision {
    let order = match pending(command, order) {
        Ok(order) => order,
        Err(refusal) => return refused(refusal),
    };
    let (next, journal) = match credit(command, number, order, account) {
        Ok(done) => done,
        Err(refusal) => return refused(refusal),
    };
    let order = Order {
        balance_after: next.balance(),
        ..paid(order.clone(), command.now_ms)
    };
    Decision::Apply(Effect {
        account: journal.is_some().then_some(next),
        outcome: Outcome::PurchasePaid {
            number: number.to_string(),
            balance: next.balance(),
            status: order.status,
        },
        orders: vec![(0, order)],
        journal,
    })
}

fn close_purchase(command: &Command, number: &str, order: Option<&Order>) -> Decision {
    let order = match pending(command, order) {
        Ok(order) => order,
        Err(refusal) => return refused(refusal),
    };
    let closed = Order {
        status: OrderStatus::Closed,
        updated_at_ms: command.now_ms.max(order.created_at_ms),
        ..order.clone()
    };
    Decision::Apply(Effect {
        account: None,
        orders: vec![(0, closed)],
        journal: None,
        outcome: Outcome::PurchaseClosed {
            number: number.to_string(),
        },
    })
}

/// The purchase `number` of this account, whatever its status.
fn purchase_of<'a>(command: &Command, order: Option<&'a Order>) -> Result<&'a Order, Refusal> {
    order
        .filter(|o| matches!(o.kind, OrderKind::CoinPurchase | OrderKind::ItemPurchase) && o.is_of(&command.account))
        .ok_or(Refusal::PurchaseNotFound)
}

/// xpay `refund_order` (behaviour.md section 10.2): a refund with the same number answers
/// by its state (in progress, or done: repeated) before `left_fee` is looked at; then the
/// purchase must be paid and `left_fee` must be what is left. Money only: no coins move.
fn refund_purchase(
    command: &Command,
    refund: &PurchaseRefund,
    existing: Option<&Order>,
    purchase: Option<&Order>,
) -> Decision {
    if let Some(existing) = existing {
        let same = existing.kind == OrderKind::PurchaseRefund
            && existing.pay_number.as_deref() == Some(refund.purchase_number.as_str());
        let in_progress = existing
            .purchase
            .as_ref()
            .is_some_and(|p| p.refund_in_progress(command.now_ms));
        return refused(if same && in_progress {
            Refusal::RefundInProgress
        } else {
            Refusal::RefundRepeated
        });
    }
    let purchase = match purchase_of(command, purchase) {
        Ok(order) => order,
        Err(refusal) => return refused(refusal),
    };
    let Some(details) = purchase.purchase.as_ref() else {
        return refused(Refusal::PurchaseNotFound);
    };
    // A purchase refunded in full has nothing left: its left_fee is 0, which no refund
    // asking for at least 1 fen can match.
    if !matches!(
        purchase.status,
        OrderStatus::Paid | OrderStatus::Delivered | OrderStatus::Refunded
    ) {
        return refused(Refusal::PurchaseNotPaid {
            status: purchase.status,
        });
    }
    let left_fee = details.left_fee();
    if refund.left_fee != left_fee {
        return refused(Refusal::LeftFeeMismatch { left_fee });
    }
    if refund.refund_fee < 1 || refund.refund_fee > left_fee {
        return refused(Refusal::RefundTooLarge);
    }
    let now_ms = command.now_ms;
    let refunded_fee = details.refunded_fee + refund.refund_fee;
    let updated = Order {
        status: if refunded_fee == details.fee_fen {
            OrderStatus::Refunded
        } else {
            purchase.status
        },
        updated_at_ms: now_ms.max(purchase.created_at_ms),
        purchase: Some(Purchase {
            refunded_fee,
            ..details.clone()
        }),
        ..purchase.clone()
    };
    let completes_at_ms = now_ms.saturating_add(refund.delay_ms.max(0));
    let refund_order = Order {
        kind: OrderKind::PurchaseRefund,
        status: OrderStatus::Done,
        zone_id: command.account.zone_id.clone(),
        openid: command.account.openid.clone(),
        amount: refund.refund_fee,
        gift: 0,
        refunded: Coins::default(),
        pay_number: Some(refund.purchase_number.clone()),
        balance_after: purchase.balance_after,
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
        purchase: Some(Purchase {
            product_id: details.product_id.clone(),
            fee_fen: refund.refund_fee,
            orig_fee_fen: refund.refund_fee,
            channel: details.channel,
            wx_order_id: refund.wx_order_id.clone(),
            attach: refund.biz_meta.clone(),
            paid_at_ms: None,
            delivered_at_ms: None,
            refunded_fee: 0,
            completes_at_ms: Some(completes_at_ms),
        }),
    };
    Decision::Apply(Effect {
        account: None,
        orders: vec![(0, refund_order), (1, updated)],
        journal: None,
        outcome: Outcome::PurchaseRefundStarted {
            number: refund.number.clone(),
            wx_order_id: refund.wx_order_id.clone(),
            purchase_number: refund.purchase_number.clone(),
            purchase_wx_order_id: details.wx_order_id.clone(),
            completes_at_ms,
        },
    })
}

/// xpay `notify_provide_goods`: a paid item purchase is delivered. Delivering one already
/// delivered changes nothing and succeeds (the call may be repeated).
fn deliver_purchase(command: &Command, number: &str, order: Option<&Order>) -> Decision {
    let order = match purchase_of(command, order) {
        Ok(order) => order,
        Err(refusal) => return refused(refusal),
    };
    let delivered_already = order.purchase.as_ref().is_some_and(|p| p.delivered_at_ms.is_some());
    match order.status {
        OrderStatus::Paid => {}
        _ if delivered_already => {
            return Decision::Apply(Effect {
                account: None,
                orders: Vec::new(),
                journal: None,
                outcome: Outcome::PurchaseDelivered {
                    number: number.to_string(),
                },
            })
        }
        status => return refused(Refusal::PurchaseNotPaid { status }),
    }
    let now_ms = command.now_ms.max(order.created_at_ms);
    let delivered = Order {
        status: OrderStatus::Delivered,
        updated_at_ms: now_ms,
        purchase: order.purchase.clone().map(|p| Purchase {
            delivered_at_ms: Some(now_ms),
            ..p
        }),
        ..order.clone()
    };
    Decision::Apply(Effect {
        account: None,
        orders: vec![(0, delivered)],
        journal: None,
        outcome: Outcome::PurchaseDelivered {
            number: number.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{AccountKey, Env};
    use crate::command::PurchaseOrder;

    const WINDOW: i64 = 48 * 3600 * 1000;

    fn key(openid: &str) -> AccountKey {
        AccountKey {
            env: Env::Official,
            appid: "wx".into(),
            offer_id: "o".into(),
            zone_id: "1".into(),
            openid: openid.into(),
        }
    }

    fn command(openid: &str, now_ms: i64, op: Op) -> Command {
        Command {
            account: key(openid),
            now_ms,
            op,
        }
    }

    fn apply(d: Decision) -> Effect {
        match d {
            Decision::Apply(e) => e,
            Decision::Refuse(r) => panic!("refused: {r:?}"),
        }
    }

    fn refusal(d: Decision) -> Refusal {
        match d {
            Decision::Refuse(r) => r,
            Decision::Apply(e) => panic!("applied: {e:?}"),
        }
    }

    fn pay_cmd(openid: &str, number: &str, amount: i64, now_ms: i64) -> Command {
        command(
            openid,
            now_ms,
            Op::Pay {
                number: number.into(),
                amount,
            },
        )
    }

    fn refund_cmd(number: &str, pay_number: &str, amount: i64, now_ms: i64) -> Command {
        command(
            "u",
            now_ms,
            Op::Refund {
                number: number.into(),
                pay_number: pay_number.into(),
                amount,
                window_ms: WINDOW,
            },
        )
    }

    fn cancel_cmd(openid: &str, pay_number: &str, now_ms: i64) -> Command {
        command(
            openid,
            now_ms,
            Op::CancelPay {
                pay_number: pay_number.into(),
                window_ms: WINDOW,
            },
        )
    }

    #[test]
    fn pay_then_repeat_then_cancel() {
        let acc = Account::default().recharge(100).unwrap().present(10).unwrap();
        let pay = pay_cmd("u", "b1", 30, 1000);
        let e = apply(decide(&pay, &[None], &acc).unwrap());
        assert_eq!(
            e.outcome,
            Outcome::Paid {
                number: "b1".into(),
                balance: 80,
                gift: 10
            }
        );
        let journal = e.journal.clone().unwrap();
        assert_eq!((journal.cash_delta, journal.gift_delta), (-20, -10));
        let order = e.orders[0].1.clone();
        let after = e.account.unwrap();

        assert_eq!(
            refusal(decide(&pay, &[Some(&order)], &after).unwrap()),
            Refusal::Repeated {
                original: Some(Original::Paid {
                    number: "b1".into(),
                    balance: 80,
                    gift: 10
                })
            }
        );
        let other = pay_cmd("u", "b1", 31, 1000);
        assert_eq!(
            refusal(decide(&other, &[Some(&order)], &after).unwrap()),
            Refusal::Repeated { original: None }
        );

        let c = apply(decide(&cancel_cmd("u", "b1", 2000), &[Some(&order)], &after).unwrap());
        assert_eq!(c.account, Some(acc));
        let cancelled = c.orders[0].1.clone();
        assert_eq!(cancelled.status, OrderStatus::Refunded);
        assert_eq!(
            refusal(decide(&cancel_cmd("u", "b1", 3000), &[Some(&cancelled)], &acc).unwrap()),
            Refusal::NothingLeft
        );
        let late = cancel_cmd("u", "b1", 1000 + WINDOW + 1);
        assert_eq!(
            refusal(decide(&late, &[Some(&order)], &after).unwrap()),
            Refusal::WindowClosed
        );
        let edge = cancel_cmd("u", "b1", 1000 + WINDOW);
        assert!(matches!(
            decide(&edge, &[Some(&order)], &after).unwrap(),
            Decision::Apply(_)
        ));
        assert_eq!(
            refusal(decide(&cancel_cmd("v", "b1", 2000), &[Some(&order)], &after).unwrap()),
            Refusal::PayNotFound
        );
        assert_eq!(
            refusal(decide(&cancel_cmd("u", "b1", 2000), &[None], &after).unwrap()),
            Refusal::PayNotFound
        );
    }

    #[test]
    fn partial_refunds_then_v1_cancel_returns_the_rest() {
        // 100 cash + 10 gift; a pay of 30 takes 10 gift and 20 cash.
        let acc = Account::default().recharge(100).unwrap().present(10).unwrap();
        let e = apply(decide(&pay_cmd("u", "p", 30, 0), &[None], &acc).unwrap());
        let (pay, after_pay) = (e.orders[0].1.clone(), e.account.unwrap());

        // A refund of 25: all 20 cash first, then 5 gift.
        let r1 = apply(decide(&refund_cmd("r1", "p", 25, 10), &[None, Some(&pay)], &after_pay).unwrap());
        assert_eq!(
            r1.outcome,
            Outcome::Refunded {
                number: "r1".into(),
                balance: 105,
                gift: 5
            }
        );
        let pay = r1.orders[1].1.clone();
        assert_eq!(pay.refunded, Coins { cash: 20, gift: 5 });
        assert_eq!(r1.orders[0].1.pay_number.as_deref(), Some("p"));
        let after = r1.account.unwrap();
        assert_eq!((after.cash, after.gift, after.cost_sum), (100, 5, 5));

        // The same refund again: the original result; other parameters: none.
        let refund_order = r1.orders[0].1.clone();
        assert_eq!(
            refusal(
                decide(
                    &refund_cmd("r1", "p", 25, 20),
                    &[Some(&refund_order), Some(&pay)],
                    &after
                )
                .unwrap()
            ),
            Refusal::Repeated {
                original: Some(Original::Refunded {
                    number: "r1".into(),
                    balance: 105,
                    gift: 5
                })
            }
        );
        assert_eq!(
            refusal(
                decide(
                    &refund_cmd("r1", "p", 24, 20),
                    &[Some(&refund_order), Some(&pay)],
                    &after
                )
                .unwrap()
            ),
            Refusal::Repeated { original: None }
        );
        // More than is left (5).
        assert_eq!(
            refusal(decide(&refund_cmd("r2", "p", 6, 20), &[None, Some(&pay)], &after).unwrap()),
            Refusal::RefundTooLarge
        );
        // A v1 cancelpay gives back the remaining 5 gift and closes the pay.
        let c = apply(decide(&cancel_cmd("u", "p", 30), &[Some(&pay)], &after).unwrap());
        assert_eq!(c.account, Some(acc));
        let closed = c.orders[0].1.clone();
        assert_eq!(closed.status, OrderStatus::Refunded);
        assert_eq!(c.journal.unwrap().amount, 5);
        // Afterwards: 90015 for v1, "too large" for a refund.
        assert_eq!(
            refusal(decide(&cancel_cmd("u", "p", 40), &[Some(&closed)], &acc).unwrap()),
            Refusal::NothingLeft
        );
        assert_eq!(
            refusal(decide(&refund_cmd("r3", "p", 1, 40), &[None, Some(&closed)], &acc).unwrap()),
            Refusal::RefundTooLarge
        );
        // Past the window, a refund is refused before its amount is looked at.
        assert_eq!(
            refusal(decide(&refund_cmd("r4", "p", 1000, WINDOW + 1), &[None, Some(&pay)], &after).unwrap()),
            Refusal::WindowClosed
        );
        // A refund that names itself, or a present, as the pay.
        assert_eq!(
            refusal(decide(&refund_cmd("p", "p", 1, 40), &[Some(&pay), Some(&pay)], &after).unwrap()),
            Refusal::Repeated { original: None }
        );
        let present = apply(
            decide(
                &command(
                    "u",
                    0,
                    Op::Present {
                        number: "g".into(),
                        amount: 5,
                    },
                ),
                &[None],
                &acc,
            )
            .unwrap(),
        )
        .orders[0]
            .1
            .clone();
        assert_eq!(
            refusal(decide(&refund_cmd("r5", "g", 1, 40), &[None, Some(&present)], &after).unwrap()),
            Refusal::PayNotFound
        );
    }

    #[test]
    fn a_refund_number_repeated_for_another_pay_carries_no_original() {
        let acc = Account::default().recharge(100).unwrap();
        let p1 = apply(decide(&pay_cmd("u", "p1", 30, 0), &[None], &acc).unwrap());
        let pay1 = p1.orders[0].1.clone();
        let after = p1.account.unwrap();
        let r = apply(decide(&refund_cmd("r", "p1", 5, 1), &[None, Some(&pay1)], &after).unwrap());
        let refund = r.orders[0].1.clone();
        let pay2 = apply(decide(&pay_cmd("u", "p2", 30, 0), &[None], &after).unwrap()).orders[0]
            .1
            .clone();
        // Same number and amount, another pay: a repeat without the original result.
        assert_eq!(
            refusal(decide(&refund_cmd("r", "p2", 5, 2), &[Some(&refund), Some(&pay2)], &after).unwrap()),
            Refusal::Repeated { original: None }
        );
    }

    #[test]
    fn purchases_credit_coins_when_paid() {
        let buy = |paid: bool, goods: Goods| {
            command(
                "u",
                5,
                Op::Purchase(PurchaseOrder {
                    number: "t1".into(),
                    goods,
                    fee_fen: 100,
                    orig_fee_fen: 100,
                    channel: crate::order::PurchaseChannel::MiniGame,
                    wx_order_id: "wx1".into(),
                    attach: String::new(),
                    paid,
                    push: false,
                }),
            )
        };
        let coins = apply(decide(&buy(true, Goods::Coins { quantity: 10 }), &[None], &Account::default()).unwrap());
        assert_eq!(coins.account.unwrap().balance(), 10);
        assert_eq!(coins.orders[0].1.status, OrderStatus::Delivered);
        assert_eq!(coins.journal.unwrap().kind, MovementKind::Recharge);

        let item = Goods::Item {
            product_id: "sword".into(),
            quantity: 2,
        };
        let bought = apply(decide(&buy(true, item.clone()), &[None], &Account::default()).unwrap());
        assert_eq!((bought.account, bought.journal), (None, None));
        assert_eq!(bought.orders[0].1.status, OrderStatus::Paid);

        let unpaid = apply(decide(&buy(false, Goods::Coins { quantity: 10 }), &[None], &Account::default()).unwrap());
        let order = unpaid.orders[0].1.clone();
        assert_eq!((order.status, unpaid.account), (OrderStatus::Created, None));
        assert_eq!(
            refusal(
                decide(
                    &buy(true, Goods::Coins { quantity: 10 }),
                    &[Some(&order)],
                    &Account::default()
                )
                .unwrap()
            ),
            Refusal::RepeatedPurchase
        );
        let pay = command(
            "u",
            9,
            Op::PayPurchase {
                number: "t1".into(),
                push: false,
            },
        );
        let done = apply(decide(&pay, &[Some(&order)], &Account::default()).unwrap());
        assert_eq!(done.account.unwrap().balance(), 10);
        let delivered = done.orders[0].1.clone();
        assert_eq!(delivered.purchase.as_ref().unwrap().paid_at_ms, Some(9));
        assert_eq!(
            refusal(decide(&pay, &[Some(&delivered)], &Account::default()).unwrap()),
            Refusal::PurchaseNotPending {
                status: OrderStatus::Delivered
            }
        );
        let close = command("u", 9, Op::ClosePurchase { number: "t1".into() });
        assert_eq!(
            apply(decide(&close, &[Some(&order)], &Account::default()).unwrap()).orders[0]
                .1
                .status,
            OrderStatus::Closed
        );
        let stranger = command(
            "v",
            9,
            Op::PayPurchase {
                number: "t1".into(),
                push: false,
            },
        );
        assert_eq!(
            refusal(decide(&stranger, &[Some(&order)], &Account::default()).unwrap()),
            Refusal::PurchaseNotFound
        );
    }

    #[test]
    fn purchase_refunds_give_money_back_once_and_complete_later() {
        let item = apply(
            decide(
                &command(
                    "u",
                    5,
                    Op::Purchase(PurchaseOrder {
                        number: "t1".into(),
                        goods: Goods::Item {
                            product_id: "sword".into(),
                            quantity: 1,
                        },
                        fee_fen: 100,
                        orig_fee_fen: 100,
                        channel: crate::order::PurchaseChannel::MiniGame,
                        wx_order_id: "wx1".into(),
                        attach: String::new(),
                        paid: true,
                        push: false,
                    }),
                ),
                &[None],
                &Account::default(),
            )
            .unwrap(),
        )
        .orders[0]
            .1
            .clone();
        let refund = |number: &str, left_fee: i64, refund_fee: i64, now_ms: i64| {
            command(
                "u",
                now_ms,
                Op::RefundPurchase(PurchaseRefund {
                    number: number.into(),
                    purchase_number: "t1".into(),
                    left_fee,
                    refund_fee,
                    wx_order_id: format!("wx-{number}"),
                    biz_meta: "meta".into(),
                    delay_ms: 1000,
                    push: false,
                }),
            )
        };
        // left_fee must be what is left.
        assert_eq!(
            refusal(decide(&refund("r1", 90, 30, 10), &[None, Some(&item)], &Account::default()).unwrap()),
            Refusal::LeftFeeMismatch { left_fee: 100 }
        );
        let first = apply(decide(&refund("r1", 100, 30, 10), &[None, Some(&item)], &Account::default()).unwrap());
        assert_eq!(
            (first.account, first.journal),
            (None, None),
            "money only: no coins move"
        );
        let (r1, item) = (first.orders[0].1.clone(), first.orders[1].1.clone());
        assert_eq!(item.purchase.as_ref().unwrap().left_fee(), 70);
        assert_eq!(item.status, OrderStatus::Paid);
        assert!(r1.purchase.as_ref().unwrap().refund_in_progress(10));
        assert!(!r1.purchase.as_ref().unwrap().refund_in_progress(1010));
        // The same number: in progress, then repeated (before left_fee is looked at).
        for (now_ms, expected) in [(500, Refusal::RefundInProgress), (1010, Refusal::RefundRepeated)] {
            let again = refund("r1", 1, 1, now_ms);
            assert_eq!(
                refusal(decide(&again, &[Some(&r1), Some(&item)], &Account::default()).unwrap()),
                expected
            );
        }
        // The rest: the purchase is refunded in full.
        let rest = apply(decide(&refund("r2", 70, 70, 20), &[None, Some(&item)], &Account::default()).unwrap());
        assert_eq!(rest.orders[1].1.status, OrderStatus::Refunded);
        let refunded = rest.orders[1].1.clone();
        assert_eq!(
            refusal(decide(&refund("r3", 1, 1, 30), &[None, Some(&refunded)], &Account::default()).unwrap()),
            Refusal::LeftFeeMismatch { left_fee: 0 }
        );
        // Delivery: a paid item is delivered once; repeating it changes nothing.
        let deliver = command("u", 40, Op::DeliverPurchase { number: "t1".into() });
        let delivered = apply(decide(&deliver, &[Some(&item)], &Account::default()).unwrap());
        assert_eq!(delivered.orders[0].1.status, OrderStatus::Delivered);
        let again = apply(decide(&deliver, &[Some(&delivered.orders[0].1)], &Account::default()).unwrap());
        assert!(again.orders.is_empty());
        let stranger = command("v", 40, Op::DeliverPurchase { number: "t1".into() });
        assert_eq!(
            refusal(decide(&stranger, &[Some(&item)], &Account::default()).unwrap()),
            Refusal::PurchaseNotFound
        );
    }

    #[test]
    fn a_wrong_number_of_reads_is_a_bug_not_a_panic() {
        assert!(decide(&pay_cmd("u", "b", 1, 0), &[], &Account::default()).is_err());
    }
}
