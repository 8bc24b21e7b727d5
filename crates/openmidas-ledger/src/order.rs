//! Orders of both books (behaviour.md section 8): their keys, kinds, status, and the
//! refund rule.
//!
//! Within `(env, appid, offer_id)` there are two books, each number used once: the
//! **currency book** (pays, presents and refunds: v1/2.0 `bill_no`) and the **purchase
//! book** (client purchases: `out_trade_no`). A refund is an order of its own that names
//! the pay it gives coins back from.

use std::fmt;

use crate::account::{AccountKey, Coins, Env, InvariantViolation};

/// The two order books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Book {
    /// Pays, presents, refunds.
    Currency,
    /// Client purchases.
    Purchase,
}

impl Book {
    /// The stored name. The books keep the names v1 gave them (`bill_no`, `out_trade_no`),
    /// so databases of every version agree.
    pub const fn as_str(self) -> &'static str {
        match self {
            Book::Currency => "bill",
            Book::Purchase => "trade",
        }
    }

    /// The book of a stored name.
    pub fn parse(text: &str) -> Option<Book> {
        [Book::Currency, Book::Purchase]
            .into_iter()
            .find(|b| b.as_str() == text)
    }
}

/// What identifies an order: `(env, appid, offer_id, book, number)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderKey {
    pub env: Env,
    pub appid: String,
    pub offer_id: String,
    pub book: Book,
    pub number: String,
}

impl OrderKey {
    /// A currency-book number of the account's app and env.
    pub fn currency(account: &AccountKey, number: &str) -> OrderKey {
        OrderKey::new(account, Book::Currency, number)
    }

    /// A purchase-book number of the account's app and env.
    pub fn purchase(account: &AccountKey, number: &str) -> OrderKey {
        OrderKey::new(account, Book::Purchase, number)
    }

    fn new(account: &AccountKey, book: Book, number: &str) -> OrderKey {
        OrderKey {
            env: account.env,
            appid: account.appid.clone(),
            offer_id: account.offer_id.clone(),
            book,
            number: number.to_string(),
        }
    }
}

/// What an order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderKind {
    Pay,
    Present,
    /// Gives coins of a pay back.
    Refund,
    /// A purchase of coins (`wx.requestMidasPayment`, the admin recharge).
    CoinPurchase,
    /// A purchase of an item (`wx.requestMidasPaymentGameItem`, `wx.requestVirtualPayment`).
    ItemPurchase,
    /// Gives money (fen, never coins) of a purchase back: xpay `refund_order`.
    PurchaseRefund,
}

impl OrderKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderKind::Pay => "pay",
            OrderKind::Present => "present",
            OrderKind::Refund => "refund",
            // v1 called coin purchases recharges; stored rows keep the name.
            OrderKind::CoinPurchase => "recharge",
            OrderKind::ItemPurchase => "item",
            OrderKind::PurchaseRefund => "purchase_refund",
        }
    }

    pub fn parse(text: &str) -> Option<OrderKind> {
        [
            OrderKind::Pay,
            OrderKind::Present,
            OrderKind::Refund,
            OrderKind::CoinPurchase,
            OrderKind::ItemPurchase,
            OrderKind::PurchaseRefund,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }

    pub const fn book(self) -> Book {
        match self {
            OrderKind::Pay | OrderKind::Present | OrderKind::Refund => Book::Currency,
            OrderKind::CoinPurchase | OrderKind::ItemPurchase | OrderKind::PurchaseRefund => Book::Purchase,
        }
    }
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// A purchase the player has not paid yet.
    Created,
    /// A purchase paid, its goods not delivered yet.
    Paid,
    /// A purchase paid and delivered (coins: credited).
    Delivered,
    /// A currency order that took effect (a pay with coins left to refund, a present, a
    /// refund).
    Done,
    /// A pay whose coins were all given back (by refunds or a v1 cancelpay).
    Refunded,
    /// A purchase closed unpaid.
    Closed,
}

impl OrderStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Created => "created",
            OrderStatus::Paid => "paid",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Done => "done",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<OrderStatus> {
        [
            OrderStatus::Created,
            OrderStatus::Paid,
            OrderStatus::Delivered,
            OrderStatus::Done,
            OrderStatus::Refunded,
            OrderStatus::Closed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which client API a purchase came through: it decides which pushes tell the game
/// server of it (behaviour.md section 12).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PurchaseChannel {
    /// Mini-game virtual payment 2.0 (`wx.requestMidasPayment`,
    /// `wx.requestMidasPaymentGameItem`); also every purchase made before channels were kept.
    #[default]
    MiniGame,
    /// xpay (`wx.requestVirtualPayment`).
    Xpay,
}

impl PurchaseChannel {
    pub const fn as_str(self) -> &'static str {
        match self {
            PurchaseChannel::MiniGame => "mini_game",
            PurchaseChannel::Xpay => "xpay",
        }
    }

    pub fn parse(text: &str) -> Option<PurchaseChannel> {
        [PurchaseChannel::MiniGame, PurchaseChannel::Xpay]
            .into_iter()
            .find(|c| c.as_str() == text)
    }
}

/// What a purchase bought, and what the platform recorded of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// The item's product id; empty for coins.
    pub product_id: String,
    /// What the player pays in all, in fen.
    pub fee_fen: i64,
    /// The price before any discount, in fen (`OrigPrice`); `fee_fen` when none.
    pub orig_fee_fen: i64,
    pub channel: PurchaseChannel,
    /// The platform's id of the purchase (unique); the other ids on the wire derive from it.
    pub wx_order_id: String,
    /// The developer's data, echoed in pushes.
    pub attach: String,
    pub paid_at_ms: Option<i64>,
    pub delivered_at_ms: Option<i64>,
    /// A purchase: the fen its refunds gave back so far. A purchase refund: 0.
    pub refunded_fee: i64,
    /// A purchase refund: when it completes (its start plus the app's `refund_delay_secs`);
    /// before then it is in progress. `None` on purchases.
    pub completes_at_ms: Option<i64>,
}

impl Purchase {
    /// The fen a paid purchase's refunds may still give back (xpay `left_fee`).
    pub fn left_fee(&self) -> i64 {
        self.fee_fen - self.refunded_fee
    }

    /// Whether a purchase refund is still in progress at `now_ms`.
    pub fn refund_in_progress(&self, now_ms: i64) -> bool {
        self.completes_at_ms.is_some_and(|at| now_ms < at)
    }

    /// The WeChat Pay transaction id of the purchase: `4200` and 24 digits derived from
    /// [`Purchase::wx_order_id`] (the same on every read; two purchases' ids collide only if
    /// their random wx_order_ids agree in about 80 bits).
    pub fn transaction_id(&self) -> String {
        let digits: String = self
            .wx_order_id
            .bytes()
            .filter(u8::is_ascii_alphanumeric)
            .map(|b| char::from(b'0' + b % 10))
            .chain(std::iter::repeat('0'))
            .take(24)
            .collect();
        format!("4200{digits}")
    }

    /// The merchant's order number of the purchase, derived from [`Purchase::wx_order_id`].
    pub fn mch_order_no(&self) -> String {
        format!("mch{}", self.wx_order_id)
    }
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub kind: OrderKind,
    pub status: OrderStatus,
    pub zone_id: String,
    pub openid: String,
    /// Coins of a pay, present or refund; coins bought by a coin purchase; items of an
    /// item purchase.
    pub amount: i64,
    /// Gift coins a pay took, or a refund gave back (0 otherwise).
    pub gift: i64,
    /// What the refunds of a pay gave back so far (0 otherwise).
    pub refunded: Coins,
    /// The number of the pay a refund gives coins back from.
    pub pay_number: Option<String>,
    /// The account's balance right after the order took effect: the original result a
    /// repeat carries.
    pub balance_after: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Purchases only.
    pub purchase: Option<Purchase>,
}

impl Order {
    /// Whether the order belongs to this account (its number's book is the app's and env's;
    /// this checks the player and zone).
    pub fn is_of(&self, account: &AccountKey) -> bool {
        self.openid == account.openid && self.zone_id == account.zone_id
    }

    /// Coins of a pay that refunds may still give back.
    pub fn left_to_refund(&self) -> i64 {
        self.amount - self.refunded.total()
    }

    /// How a refund of `amount` of this pay splits: cash first, up to the cash the pay took
    /// and no refund has given back yet, then gift (behaviour.md section 8). `None` when
    /// `amount` is more than is left.
    pub fn refund_split(&self, amount: i64) -> Option<Coins> {
        if amount < 1 || amount > self.left_to_refund() {
            return None;
        }
        let cash_left = self.amount - self.gift - self.refunded.cash;
        let cash = amount.min(cash_left);
        let gift = amount - cash;
        (gift <= self.gift - self.refunded.gift).then_some(Coins { cash, gift })
    }

    /// Reads the cancel time of release 0.1 (the `cancelled_at_ms` column). A pay that a 0.1
    /// node cancelled after this database was migrated carries only that time, no refunded
    /// coins: it gave back everything, and reads as refunded.
    pub fn with_legacy_cancel(mut self, cancelled_at_ms: Option<i64>) -> Order {
        if let (OrderKind::Pay, Some(at_ms), true) = (self.kind, cancelled_at_ms, self.refunded == Coins::default()) {
            self.refunded = Coins {
                cash: self.amount - self.gift,
                gift: self.gift,
            };
            self.status = OrderStatus::Refunded;
            self.updated_at_ms = at_ms.max(self.created_at_ms);
        }
        self
    }

    /// The cancel time release 0.1 reads: set once a pay gave anything back, so a 0.1 node
    /// still running beside this one (a rolling upgrade) refuses to cancel it again.
    pub fn legacy_cancelled_at_ms(&self) -> Option<i64> {
        (self.kind == OrderKind::Pay && self.refunded != Coins::default()).then_some(self.updated_at_ms)
    }

    /// The order's own consistency; [`crate::decide`] checks it after every change.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        let broken = |what: &str| Err(InvariantViolation(format!("{} order: {what}", self.kind.as_str())));
        if self.amount < 1 || self.gift < 0 || self.gift > self.amount {
            return broken("amount or gift out of range");
        }
        if self.updated_at_ms < self.created_at_ms {
            return broken("updated before created");
        }
        let refunded = self.refunded;
        match self.kind {
            OrderKind::Pay => {
                if refunded.cash < 0
                    || refunded.gift < 0
                    || refunded.cash > self.amount - self.gift
                    || refunded.gift > self.gift
                {
                    return broken("refunded more than it took");
                }
                let expected = if refunded.total() == self.amount {
                    OrderStatus::Refunded
                } else {
                    OrderStatus::Done
                };
                if self.status != expected {
                    return broken("status disagrees with what was refunded");
                }
            }
            _ if refunded != Coins::default() => return broken("refunded coins on an order that is not a pay"),
            OrderKind::Present | OrderKind::Refund if self.status != OrderStatus::Done => {
                return broken("a present or refund is always done");
            }
            _ => {}
        }
        let refund = matches!(self.kind, OrderKind::Refund | OrderKind::PurchaseRefund);
        if refund != self.pay_number.is_some() {
            return broken("only a refund names a pay");
        }
        if self.kind != OrderKind::Pay && self.kind != OrderKind::Refund && self.gift != 0 {
            return broken("gift on an order that moves none");
        }
        let is_purchase = self.kind.book() == Book::Purchase;
        match (&self.purchase, is_purchase) {
            (None, false) => Ok(()),
            (Some(p), true) if self.kind == OrderKind::PurchaseRefund => {
                if self.status != OrderStatus::Done
                    || p.completes_at_ms.is_none()
                    || p.refunded_fee != 0
                    || p.fee_fen != self.amount
                {
                    return broken("a purchase refund is done, completes at a time, and gives back its amount");
                }
                Ok(())
            }
            (Some(p), true) => {
                // A purchase refunded in full is `Refunded`; it was paid (and perhaps delivered).
                let paid = matches!(
                    self.status,
                    OrderStatus::Paid | OrderStatus::Delivered | OrderStatus::Refunded
                );
                if !matches!(
                    self.status,
                    OrderStatus::Created
                        | OrderStatus::Paid
                        | OrderStatus::Delivered
                        | OrderStatus::Closed
                        | OrderStatus::Refunded
                ) {
                    return broken("a purchase status that purchases do not have");
                }
                if p.paid_at_ms.is_some() != paid
                    || (p.delivered_at_ms.is_some() && !paid)
                    || (self.status == OrderStatus::Delivered && p.delivered_at_ms.is_none())
                    || p.fee_fen < 0
                {
                    return broken("payment and delivery times disagree with the status");
                }
                if self.kind == OrderKind::CoinPurchase && self.status == OrderStatus::Paid {
                    return broken("coins are delivered when paid");
                }
                if p.refunded_fee < 0 || p.refunded_fee > p.fee_fen || (p.refunded_fee > 0 && !paid) {
                    return broken("refunded more than was paid, or refunded unpaid");
                }
                if (self.status == OrderStatus::Refunded) != (paid && p.fee_fen > 0 && p.refunded_fee == p.fee_fen) {
                    return broken("a purchase is refunded exactly when all its fee was given back");
                }
                if p.completes_at_ms.is_some() {
                    return broken("only a purchase refund completes later");
                }
                Ok(())
            }
            _ => broken("purchase details on the wrong book"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pay(amount: i64, gift: i64) -> Order {
        Order {
            kind: OrderKind::Pay,
            status: OrderStatus::Done,
            zone_id: "1".into(),
            openid: "u".into(),
            amount,
            gift,
            refunded: Coins::default(),
            pay_number: None,
            balance_after: 0,
            created_at_ms: 0,
            updated_at_ms: 0,
            purchase: None,
        }
    }

    #[test]
    fn refunds_give_back_cash_first_then_gift() {
        // A pay of 10 that took 4 gift and 6 cash.
        let mut order = pay(10, 4);
        assert_eq!(order.refund_split(5), Some(Coins { cash: 5, gift: 0 }));
        order.refunded = Coins { cash: 5, gift: 0 };
        assert_eq!(order.refund_split(3), Some(Coins { cash: 1, gift: 2 }));
        order.refunded = Coins { cash: 6, gift: 2 };
        assert_eq!(order.left_to_refund(), 2);
        assert_eq!(order.refund_split(3), None);
        assert_eq!(order.refund_split(2), Some(Coins { cash: 0, gift: 2 }));
        assert_eq!(order.refund_split(0), None);
        order.check_invariants().unwrap();
        order.refunded = Coins { cash: 6, gift: 4 };
        assert!(order.check_invariants().is_err(), "fully refunded but still done");
        order.status = OrderStatus::Refunded;
        order.check_invariants().unwrap();
    }

    #[test]
    fn release_0_1_cancels_read_as_full_refunds_and_refunds_mark_the_pay_for_it() {
        let paid = pay(10, 4);
        assert_eq!(paid.legacy_cancelled_at_ms(), None);
        let cancelled = paid.clone().with_legacy_cancel(Some(7));
        assert_eq!(cancelled.refunded, Coins { cash: 6, gift: 4 });
        assert_eq!((cancelled.status, cancelled.updated_at_ms), (OrderStatus::Refunded, 7));
        cancelled.check_invariants().unwrap();
        // Refunds recorded by this release win over the marker they left.
        let partly = Order {
            refunded: Coins { cash: 3, gift: 0 },
            updated_at_ms: 5,
            ..paid.clone()
        };
        assert_eq!(partly.legacy_cancelled_at_ms(), Some(5));
        assert_eq!(partly.clone().with_legacy_cancel(Some(5)), partly);
        assert_eq!(paid.clone().with_legacy_cancel(None), paid);
    }

    #[test]
    fn names_round_trip() {
        for kind in [
            OrderKind::Pay,
            OrderKind::Present,
            OrderKind::Refund,
            OrderKind::CoinPurchase,
            OrderKind::ItemPurchase,
        ] {
            assert_eq!(OrderKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(OrderStatus::parse("refunded"), Some(OrderStatus::Refunded));
    }

    proptest::proptest! {
        /// Any sequence of refunds gives back exactly the pay, cash first, never more than
        /// each pot took.
        #[test]
        fn refunds_never_give_back_more_than_was_taken(
            amount in 1i64..1000, gift_share in 0.0f64..=1.0, parts in proptest::collection::vec(1i64..400, 0..20)
        ) {
            let gift = ((amount as f64) * gift_share) as i64;
            let mut order = pay(amount, gift.min(amount));
            for part in parts {
                match order.refund_split(part) {
                    Some(coins) => {
                        let cash_left_before = order.amount - order.gift - order.refunded.cash;
                        proptest::prop_assert!(coins.gift == 0 || coins.cash == cash_left_before);
                        order.refunded.cash += coins.cash;
                        order.refunded.gift += coins.gift;
                    }
                    None => proptest::prop_assert!(part > order.left_to_refund()),
                }
                order.status = if order.left_to_refund() == 0 { OrderStatus::Refunded } else { OrderStatus::Done };
                proptest::prop_assert!(order.check_invariants().is_ok());
            }
        }
    }
}
