//! Ledger commands, what they read, and what they answer.
//!
//! A [`Command`] is one state change of one account, stamped with the server's clock. It
//! names every order it reads ([`Command::reads`]): the store reads exactly those, and the
//! account, in the transaction that then writes what [`crate::decide`] concluded. Commands
//! are in the ledger's words; each dialect translates its calls into them (a 2.0
//! `cancelpay` is a [`Op::Refund`], a v1 `cancelpay` a [`Op::CancelPay`]).

use crate::account::AccountKey;
use crate::order::{OrderKey, OrderStatus};

/// One state change of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub account: AccountKey,
    /// The server's clock when the request arrived (stores never read a clock).
    pub now_ms: i64,
    pub op: Op,
}

/// What a command does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Give `amount` gift coins.
    Present { number: String, amount: i64 },
    /// Take `amount` coins, gift first.
    Pay { number: String, amount: i64 },
    /// Give back `amount` coins of the pay `pay_number`, as an order of its own (2.0
    /// `cancelpay`), within `window_ms` of the pay.
    Refund {
        number: String,
        pay_number: String,
        amount: i64,
        window_ms: i64,
    },
    /// Give back whatever is left of the pay `pay_number` and close it (v1 `cancelpay`),
    /// within `window_ms` of the pay.
    CancelPay { pay_number: String, window_ms: i64 },
    /// A client purchase: recorded in the purchase book; coins are credited once it is paid.
    Purchase(PurchaseOrder),
    /// The player pays a purchase left unpaid; `push`: its app takes pushes.
    PayPurchase { number: String, push: bool },
    /// The player walks away from an unpaid purchase.
    ClosePurchase { number: String },
    /// Money back from a paid purchase (xpay `refund_order`), as an order of its own.
    RefundPurchase(PurchaseRefund),
    /// A paid item purchase's goods were delivered (xpay `notify_provide_goods`).
    DeliverPurchase { number: String },
}

/// A money refund of a purchase (behaviour.md section 10.2, `refund_order`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseRefund {
    /// `refund_order_id`: the refund's own number in the purchase book.
    pub number: String,
    /// The purchase it gives money back from.
    pub purchase_number: String,
    /// What the caller believes is left to refund; must be what is left.
    pub left_fee: i64,
    pub refund_fee: i64,
    /// The platform's id for the refund (unique).
    pub wx_order_id: String,
    pub biz_meta: String,
    /// How long until the refund completes (the app's `refund_delay_secs`).
    pub delay_ms: i64,
    /// The app takes pushes: the refund's completion is pushed (behaviour.md section 12).
    pub push: bool,
}

/// A new client purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseOrder {
    /// `out_trade_no`.
    pub number: String,
    pub goods: Goods,
    /// What the player pays in all, in fen.
    pub fee_fen: i64,
    /// The price before any discount, in fen.
    pub orig_fee_fen: i64,
    pub channel: crate::order::PurchaseChannel,
    /// The platform's id for it (unique).
    pub wx_order_id: String,
    pub attach: String,
    /// Paid at once (`false`: the player pays later, or never).
    pub paid: bool,
    /// The app takes pushes: paying it is pushed (behaviour.md section 12).
    pub push: bool,
}

/// What a purchase buys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Goods {
    Coins { quantity: i64 },
    Item { product_id: String, quantity: i64 },
}

/// Order numbers a command reads; at most two.
pub type Reads = Vec<OrderKey>;

impl Command {
    pub fn new(account: AccountKey, now_ms: i64, op: Op) -> Command {
        Command { account, now_ms, op }
    }

    pub fn pay(account: AccountKey, number: &str, amount: i64, now_ms: i64) -> Command {
        let number = number.to_string();
        Command::new(account, now_ms, Op::Pay { number, amount })
    }

    pub fn present(account: AccountKey, number: &str, amount: i64, now_ms: i64) -> Command {
        let number = number.to_string();
        Command::new(account, now_ms, Op::Present { number, amount })
    }

    /// A coin purchase, paid and credited at once, free of charge (`fee_fen` 0): for tests
    /// and tools that need funded accounts. The admin recharge prices its purchases.
    pub fn recharge(account: AccountKey, number: &str, quantity: i64, wx_order_id: &str, now_ms: i64) -> Command {
        let order = PurchaseOrder {
            number: number.to_string(),
            goods: Goods::Coins { quantity },
            fee_fen: 0,
            orig_fee_fen: 0,
            channel: crate::order::PurchaseChannel::MiniGame,
            wx_order_id: wx_order_id.to_string(),
            attach: String::new(),
            paid: true,
            push: false,
        };
        Command::new(account, now_ms, Op::Purchase(order))
    }

    /// How many orders [`Command::reads`] names.
    pub fn read_count(&self) -> usize {
        match &self.op {
            Op::Refund { .. } | Op::RefundPurchase(_) => 2,
            _ => 1,
        }
    }

    /// Every order the command reads, in the order [`crate::decide`] expects them.
    pub fn reads(&self) -> Reads {
        let account = &self.account;
        match &self.op {
            Op::Present { number, .. } | Op::Pay { number, .. } => vec![OrderKey::currency(account, number)],
            Op::Refund { number, pay_number, .. } => vec![
                OrderKey::currency(account, number),
                OrderKey::currency(account, pay_number),
            ],
            Op::CancelPay { pay_number, .. } => vec![OrderKey::currency(account, pay_number)],
            Op::Purchase(order) => vec![OrderKey::purchase(account, &order.number)],
            Op::PayPurchase { number, .. } | Op::ClosePurchase { number } | Op::DeliverPurchase { number } => {
                vec![OrderKey::purchase(account, number)]
            }
            Op::RefundPurchase(refund) => vec![
                OrderKey::purchase(account, &refund.number),
                OrderKey::purchase(account, &refund.purchase_number),
            ],
        }
    }
}

/// What kind of movement a journal entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovementKind {
    /// Coins bought (a paid coin purchase).
    Recharge,
    Present,
    Pay,
    /// Coins of a pay given back by a refund order.
    Refund,
    /// Coins of a pay given back by a v1 cancelpay.
    CancelPay,
}

impl MovementKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            MovementKind::Recharge => "recharge",
            MovementKind::Present => "present",
            MovementKind::Pay => "pay",
            MovementKind::Refund => "refund",
            MovementKind::CancelPay => "cancelpay",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            MovementKind::Recharge,
            MovementKind::Present,
            MovementKind::Pay,
            MovementKind::Refund,
            MovementKind::CancelPay,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// One immutable line of the journal: every balance movement, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub key: AccountKey,
    pub kind: MovementKind,
    /// The order that moved the coins (a v1 cancelpay: the pay).
    pub order_no: String,
    pub amount: i64,
    pub cash_delta: i64,
    pub gift_delta: i64,
    pub balance_after: i64,
    pub at_ms: i64,
}

/// The original result a repeated currency number carries, when the repeat is the same
/// operation on the same account with the same amounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Original {
    Paid { number: String, balance: i64, gift: i64 },
    Presented { number: String, balance: i64 },
    Refunded { number: String, balance: i64, gift: i64 },
}

/// Why a command changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The balance is lower than the pay.
    InsufficientBalance,
    /// A counter would pass 2^63.
    Overflow,
    /// The currency number was used before (v1 and 2.0: 90012).
    Repeated { original: Option<Original> },
    /// The purchase number was used before.
    RepeatedPurchase,
    /// No pay with this number for this account (90000).
    PayNotFound,
    /// A v1 cancelpay of a pay with nothing left to give back (90015).
    NothingLeft,
    /// The pay is older than the cancel window (90014).
    WindowClosed,
    /// A refund of more than is left of the pay (2.0: 90018 `[amount]`).
    RefundTooLarge,
    /// No purchase with this number for this account.
    PurchaseNotFound,
    /// Paying or closing a purchase that is not waiting to be paid.
    PurchaseNotPending { status: OrderStatus },
    /// Refunding or delivering a purchase that is not paid (or, delivering, not an item
    /// waiting for delivery).
    PurchaseNotPaid { status: OrderStatus },
    /// A purchase refund with this number is still in progress (xpay 268490014).
    RefundInProgress,
    /// The number was used before: a refund that completed, or another order (xpay
    /// 268490004).
    RefundRepeated,
    /// `left_fee` is not what is left of the purchase (xpay 268490016).
    LeftFeeMismatch { left_fee: i64 },
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Presented {
        number: String,
        balance: i64,
        /// Gift coins in the balance after the present (xpay's `present_balance`).
        gift: i64,
    },
    Paid {
        number: String,
        balance: i64,
        /// Gift coins the pay took.
        gift: i64,
    },
    Refunded {
        number: String,
        balance: i64,
        /// Gift coins the refund gave back.
        gift: i64,
    },
    Cancelled {
        pay_number: String,
        balance: i64,
    },
    /// A purchase recorded (`status` created, paid or delivered).
    Purchased {
        number: String,
        balance: i64,
        status: OrderStatus,
    },
    PurchasePaid {
        number: String,
        balance: i64,
        status: OrderStatus,
    },
    PurchaseClosed {
        number: String,
    },
    /// A purchase refund started (it completes at `completes_at_ms`).
    PurchaseRefundStarted {
        number: String,
        wx_order_id: String,
        purchase_number: String,
        purchase_wx_order_id: String,
        completes_at_ms: i64,
    },
    PurchaseDelivered {
        number: String,
    },
    Refused(Refusal),
}
