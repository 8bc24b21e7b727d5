//! xpay answers (behaviour.md section 10.2). Field order here is the order on the wire;
//! every answer carries exactly these fields (strict clients reject others), and optional
//! ones are left out, never `null`.

use serde::{Deserialize, Serialize};

/// `query_user_balance` success (names per behaviour.md section 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = xpay::QueryUserBalanceOk))]
pub struct QueryUserBalanceOk {
    pub errcode: i64,
    pub errmsg: String,
    pub balance: i64,
    /// Gift coins still in the balance.
    pub present_balance: i64,
    /// All coins ever recharged.
    pub sum_save: i64,
    pub sum_present: i64,
    /// All coins ever gained (recharged and presented).
    pub sum_balance: i64,
    pub sum_cost: i64,
    /// Whether the player was never recharged. A JSON bool, as 2.0's `first_save` (the
    /// reference types it bool but describes it 0/1: UNCONFIRMED).
    pub first_save_flag: bool,
}

/// `currency_pay` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = xpay::CurrencyPayOk))]
pub struct CurrencyPayOk {
    pub errcode: i64,
    pub errmsg: String,
    pub order_id: String,
    pub balance: i64,
    /// Gift coins the pay took.
    pub used_present_amount: i64,
}

/// `cancel_currency_pay` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = xpay::CancelCurrencyPayOk))]
pub struct CancelCurrencyPayOk {
    pub errcode: i64,
    pub errmsg: String,
    /// The refund's own number.
    pub order_id: String,
}

/// `present_currency` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = xpay::PresentCurrencyOk))]
pub struct PresentCurrencyOk {
    pub errcode: i64,
    pub errmsg: String,
    /// The balance after the present.
    pub balance: i64,
    pub order_id: String,
    /// Gift coins in the balance after the present.
    pub present_balance: i64,
}

/// `query_order` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = xpay::QueryOrderOk))]
pub struct QueryOrderOk {
    pub errcode: i64,
    pub errmsg: String,
    pub order: Order,
}

/// query_order's `order`: a purchase (`order_type` 0) or one of its refunds (1), in the
/// reference's field order (wechat-reference-vp2-xpay.md section 2.3, without the fields
/// WeChat itself does not return or that OpenMidas has no value for). Times in UNIX seconds,
/// money in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = xpay::Order))]
pub struct Order {
    pub order_id: String,
    pub create_time: i64,
    pub update_time: i64,
    /// 1 created, 2 paid, 3 delivering, 4 delivered, 5 refunded, 6 closed, 7 refund failed
    /// ([`OrderStatus::code`]); a number, so real answers with statuses OpenMidas never gives
    /// (0, 8-10) still read.
    pub status: i64,
    /// 0 (短剧, the only one documented).
    pub biz_type: i64,
    pub order_fee: i64,
    pub paid_fee: i64,
    /// 0 a purchase, 1 a refund ([`OrderType::code`]).
    pub order_type: i64,
    /// Fen refunded (refund orders, and purchases with refunds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub refund_fee: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub paid_time: Option<i64>,
    /// When the goods were delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub provide_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub biz_meta: Option<String>,
    /// 1 official, 2 sandbox ([`env_type`]); not the request's 0/1.
    pub env_type: i64,
    /// The Midas token of the purchase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub token: Option<String>,
    /// Fen still refundable; on every paid purchase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub left_fee: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub wx_order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub channel_order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub wxpay_order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub sett_time: Option<i64>,
    /// 0/3 not started, 1 settling, 2 settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub sett_state: Option<i64>,
}

/// `refund_order` success: the refund's numbers and the purchase's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = xpay::RefundOrderOk))]
pub struct RefundOrderOk {
    pub errcode: i64,
    pub errmsg: String,
    pub refund_order_id: String,
    pub refund_wx_order_id: String,
    pub pay_order_id: String,
    pub pay_wx_order_id: String,
}

/// `notify_provide_goods` success: nothing besides errcode and errmsg.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = xpay::NotifyProvideGoodsOk))]
pub struct NotifyProvideGoodsOk {
    pub errcode: i64,
    pub errmsg: String,
}

/// `download_bill` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = xpay::DownloadBillOk))]
pub struct DownloadBillOk {
    pub errcode: i64,
    pub errmsg: String,
    /// Where the bill's CSV is, for 30 minutes.
    pub url: String,
}

/// Where a purchase or refund stands (query_order's `status`, behaviour.md section 10.2).
/// The real service has more (0 init, 8-10), none of which OpenMidas gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// 1: made, not paid.
    Created,
    /// 2: paid, goods not delivered yet.
    Paid,
    /// 3: delivering.
    Delivering,
    /// 4: delivered (coins: credited).
    Delivered,
    /// 5: refunded in full.
    Refunded,
    /// 6: closed unpaid.
    Closed,
    /// 7: a refund failed.
    RefundFailed,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 7] = [
        OrderStatus::Created,
        OrderStatus::Paid,
        OrderStatus::Delivering,
        OrderStatus::Delivered,
        OrderStatus::Refunded,
        OrderStatus::Closed,
        OrderStatus::RefundFailed,
    ];

    /// The number on the wire.
    pub const fn code(self) -> i64 {
        match self {
            OrderStatus::Created => 1,
            OrderStatus::Paid => 2,
            OrderStatus::Delivering => 3,
            OrderStatus::Delivered => 4,
            OrderStatus::Refunded => 5,
            OrderStatus::Closed => 6,
            OrderStatus::RefundFailed => 7,
        }
    }

    pub fn from_code(code: i64) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// query_order's `order_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderType {
    /// 0: a purchase through `wx.requestVirtualPayment`.
    Purchase,
    /// 1: a refund of one.
    Refund,
}

impl OrderType {
    /// The number on the wire.
    pub const fn code(self) -> i64 {
        match self {
            OrderType::Purchase => 0,
            OrderType::Refund => 1,
        }
    }
}

/// query_order's `env_type`: 1 official, 2 sandbox (the request's `env` is 0/1).
pub const fn env_type(sandbox: bool) -> i64 {
    if sandbox {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The keys of an answer's JSON, in the order written (`RawObject` keeps it).
    fn keys(value: &impl Serialize) -> Vec<String> {
        let text = serde_json::to_string(value).expect("answers serialize");
        let object = crate::json::RawObject::parse(text.as_bytes()).expect("an object");
        object.iter().map(|(key, _)| key.to_string()).collect()
    }

    fn order() -> Order {
        Order {
            order_id: "buy-0001".into(),
            create_time: 1,
            update_time: 2,
            status: OrderStatus::Created.code(),
            biz_type: 0,
            order_fee: 100,
            paid_fee: 0,
            order_type: OrderType::Purchase.code(),
            refund_fee: None,
            paid_time: None,
            provide_time: None,
            biz_meta: None,
            env_type: env_type(false),
            token: None,
            left_fee: None,
            wx_order_id: None,
            channel_order_id: None,
            wxpay_order_id: None,
            sett_time: None,
            sett_state: None,
        }
    }

    #[test]
    fn answers_have_exactly_the_documented_fields_in_order() {
        let ok = || ("ok".to_string(), 0);
        let (errmsg, errcode) = ok();
        let head = ["errcode", "errmsg"];
        let expect = |rest: &[&str]| -> Vec<String> { head.iter().chain(rest).map(|k| k.to_string()).collect() };
        assert_eq!(
            keys(&QueryUserBalanceOk {
                errcode,
                errmsg: errmsg.clone(),
                balance: 1,
                present_balance: 0,
                sum_save: 1,
                sum_present: 0,
                sum_balance: 1,
                sum_cost: 0,
                first_save_flag: false,
            }),
            expect(&[
                "balance",
                "present_balance",
                "sum_save",
                "sum_present",
                "sum_balance",
                "sum_cost",
                "first_save_flag"
            ])
        );
        assert_eq!(
            keys(&CurrencyPayOk {
                errcode,
                errmsg: errmsg.clone(),
                order_id: "o".into(),
                balance: 0,
                used_present_amount: 0
            }),
            expect(&["order_id", "balance", "used_present_amount"])
        );
        assert_eq!(
            keys(&CancelCurrencyPayOk {
                errcode,
                errmsg: errmsg.clone(),
                order_id: "o".into()
            }),
            expect(&["order_id"])
        );
        assert_eq!(
            keys(&PresentCurrencyOk {
                errcode,
                errmsg: errmsg.clone(),
                balance: 0,
                order_id: "o".into(),
                present_balance: 0
            }),
            expect(&["balance", "order_id", "present_balance"])
        );
        assert_eq!(
            keys(&QueryOrderOk {
                errcode,
                errmsg: errmsg.clone(),
                order: order()
            }),
            expect(&["order"])
        );
        assert_eq!(
            keys(&RefundOrderOk {
                errcode,
                errmsg: errmsg.clone(),
                refund_order_id: "r".into(),
                refund_wx_order_id: "rw".into(),
                pay_order_id: "p".into(),
                pay_wx_order_id: "pw".into()
            }),
            expect(&[
                "refund_order_id",
                "refund_wx_order_id",
                "pay_order_id",
                "pay_wx_order_id"
            ])
        );
        assert_eq!(
            keys(&NotifyProvideGoodsOk {
                errcode,
                errmsg: errmsg.clone()
            }),
            expect(&[])
        );
        assert_eq!(
            keys(&DownloadBillOk {
                errcode,
                errmsg,
                url: "u".into()
            }),
            expect(&["url"])
        );
    }

    #[test]
    fn first_save_flag_is_a_json_bool() {
        let answer = QueryUserBalanceOk {
            errcode: 0,
            errmsg: "ok".into(),
            balance: 0,
            present_balance: 0,
            sum_save: 0,
            sum_present: 0,
            sum_balance: 0,
            sum_cost: 0,
            first_save_flag: true,
        };
        assert_eq!(
            serde_json::to_value(&answer).expect("serializes")["first_save_flag"],
            json!(true)
        );
    }

    #[test]
    fn an_order_leaves_out_what_does_not_apply() {
        let created = order();
        assert_eq!(
            serde_json::to_value(&created).expect("serializes"),
            json!({"order_id":"buy-0001","create_time":1,"update_time":2,"status":1,"biz_type":0,
                   "order_fee":100,"paid_fee":0,"order_type":0,"env_type":1})
        );
        let paid = Order {
            status: OrderStatus::Paid.code(),
            paid_fee: 100,
            refund_fee: Some(0),
            paid_time: Some(3),
            provide_time: Some(4),
            biz_meta: Some("m".into()),
            token: Some("t".into()),
            left_fee: Some(100),
            wx_order_id: Some("w".into()),
            channel_order_id: Some("c".into()),
            wxpay_order_id: Some("x".into()),
            sett_time: Some(5),
            sett_state: Some(0),
            ..created
        };
        assert_eq!(
            keys(&paid),
            [
                "order_id",
                "create_time",
                "update_time",
                "status",
                "biz_type",
                "order_fee",
                "paid_fee",
                "order_type",
                "refund_fee",
                "paid_time",
                "provide_time",
                "biz_meta",
                "env_type",
                "token",
                "left_fee",
                "wx_order_id",
                "channel_order_id",
                "wxpay_order_id",
                "sett_time",
                "sett_state"
            ]
        );
        // And reads back, with absent fields as None (a client of OpenMidas or of WeChat).
        let text = serde_json::to_string(&QueryOrderOk {
            errcode: 0,
            errmsg: "ok".into(),
            order: order(),
        })
        .expect("serializes");
        assert!(!text.contains("null"));
        let back: QueryOrderOk = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back.order, order());
    }

    #[test]
    fn status_numbers() {
        let codes: Vec<i64> = OrderStatus::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6, 7]);
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::from_code(status.code()), Some(status));
        }
        assert_eq!(OrderStatus::from_code(0), None);
        assert_eq!(OrderStatus::from_code(8), None);
        assert_eq!((OrderType::Purchase.code(), OrderType::Refund.code()), (0, 1));
        assert_eq!((env_type(false), env_type(true)), (1, 2));
    }
}
