//! xpay, the mini-program virtual payment (`/xpay/*`): its operations, typed requests
//! ([`request`]), answers ([`answer`]) and errcodes ([`Code`]). behaviour.md section 10.
//!
//! xpay has no `offer_id`, `zone_id` or `ts` in its bodies: the account is the app's offer,
//! zone `"1"` (behaviour.md section 8), and the environment is the body's `env`.

pub mod answer;
mod codes;
pub mod request;

pub use answer::{OrderStatus, OrderType};
pub use codes::{Code, NOT_FOUND_ERRMSG, NOT_PAID_ERRMSG};
pub use request::{
    is_valid_order_id, is_valid_refund_order_id, parse, signature_errmsg, Call, Date, DateRange, FieldError, OrderRef,
    Query, QueryError, Request, Rule, SignatureParam,
};

/// The eight xpay operations OpenMidas serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    QueryUserBalance,
    CurrencyPay,
    CancelCurrencyPay,
    PresentCurrency,
    QueryOrder,
    RefundOrder,
    NotifyProvideGoods,
    DownloadBill,
}

impl Op {
    pub const ALL: [Op; 8] = [
        Op::QueryUserBalance,
        Op::CurrencyPay,
        Op::CancelCurrencyPay,
        Op::PresentCurrency,
        Op::QueryOrder,
        Op::RefundOrder,
        Op::NotifyProvideGoods,
        Op::DownloadBill,
    ];

    /// Its place in [`Op::ALL`] (and, once the route table has xpay's rows, among them).
    pub const fn index(self) -> usize {
        match self {
            Op::QueryUserBalance => 0,
            Op::CurrencyPay => 1,
            Op::CancelCurrencyPay => 2,
            Op::PresentCurrency => 3,
            Op::QueryOrder => 4,
            Op::RefundOrder => 5,
            Op::NotifyProvideGoods => 6,
            Op::DownloadBill => 7,
        }
    }

    /// The last path segment (`query_user_balance`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Op::QueryUserBalance => "query_user_balance",
            Op::CurrencyPay => "currency_pay",
            Op::CancelCurrencyPay => "cancel_currency_pay",
            Op::PresentCurrency => "present_currency",
            Op::QueryOrder => "query_order",
            Op::RefundOrder => "refund_order",
            Op::NotifyProvideGoods => "notify_provide_goods",
            Op::DownloadBill => "download_bill",
        }
    }

    /// The path (`/xpay/<name>`), which `pay_sig` covers.
    pub const fn uri(self) -> &'static str {
        match self {
            Op::QueryUserBalance => "/xpay/query_user_balance",
            Op::CurrencyPay => "/xpay/currency_pay",
            Op::CancelCurrencyPay => "/xpay/cancel_currency_pay",
            Op::PresentCurrency => "/xpay/present_currency",
            Op::QueryOrder => "/xpay/query_order",
            Op::RefundOrder => "/xpay/refund_order",
            Op::NotifyProvideGoods => "/xpay/notify_provide_goods",
            Op::DownloadBill => "/xpay/download_bill",
        }
    }

    /// The operation of a path, if it is one of xpay's.
    pub fn from_uri(uri: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.uri() == uri)
    }

    /// Whether the query carries the player's `signature` besides `pay_sig` (behaviour.md
    /// section 10.1 step 2): the three operations that move or show one player's coins.
    pub const fn needs_signature(self) -> bool {
        matches!(self, Op::QueryUserBalance | Op::CurrencyPay | Op::CancelCurrencyPay)
    }

    /// Whether the body names a player (`openid`). notify_provide_goods and download_bill
    /// work on the app's orders, not on an account; every other operation does, and
    /// [`Request::openid`] is `Some` exactly for those.
    pub const fn takes_openid(self) -> bool {
        !matches!(self, Op::NotifyProvideGoods | Op::DownloadBill)
    }

    /// Whether the body may carry `user_ip` (behaviour.md section 10.2 lists it on these
    /// three); elsewhere one sent is ignored.
    pub const fn takes_user_ip(self) -> bool {
        matches!(self, Op::QueryUserBalance | Op::CurrencyPay | Op::CancelCurrencyPay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_names_and_indexes_agree() {
        for (i, op) in Op::ALL.into_iter().enumerate() {
            assert_eq!(op.index(), i);
            assert_eq!(op.uri(), format!("/xpay/{}", op.name()));
            assert_eq!(Op::from_uri(op.uri()), Some(op));
        }
        assert_eq!(Op::from_uri("/wxa/game/pay"), None);
        let signed: Vec<Op> = Op::ALL.into_iter().filter(|op| op.needs_signature()).collect();
        assert_eq!(signed, [Op::QueryUserBalance, Op::CurrencyPay, Op::CancelCurrencyPay]);
        // Every operation that needs the player's signature names the player.
        assert!(Op::ALL.iter().all(|op| !op.needs_signature() || op.takes_openid()));
    }
}
