//! 2.0 answers. Field order here is the order on the wire; every answer carries exactly
//! these fields (strict clients reject others).

use serde::{Deserialize, Serialize};

/// `getbalance` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = v2::GetBalanceOk))]
pub struct GetBalanceOk {
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
    /// Whether the player was never recharged.
    pub first_save: bool,
}

/// `pay` success, and a same-parameter 90012 (which carries the original result).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = v2::PayOk))]
pub struct PayOk {
    pub errcode: i64,
    pub errmsg: String,
    pub bill_no: String,
    pub balance: i64,
    /// Gift coins the pay took.
    pub used_present_amount: i64,
}

/// `cancelpay` (a refund) success, and a same-parameter 90012.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = v2::CancelPayOk))]
pub struct CancelPayOk {
    pub errcode: i64,
    pub errmsg: String,
    /// The refund's own number.
    pub bill_no: String,
    pub balance: i64,
    /// Gift coins this refund gave back.
    pub used_present_amount: i64,
}

/// `present` success, and a same-parameter 90012.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = v2::PresentOk))]
pub struct PresentOk {
    pub errcode: i64,
    pub errmsg: String,
    pub bill_no: String,
    pub balance: i64,
}

/// `queryorderinfo` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = v2::QueryOrderInfoOk))]
pub struct QueryOrderInfoOk {
    pub errcode: i64,
    pub errmsg: String,
    pub product_id: String,
    /// 1 unpaid, 2 paid.
    pub pay_state: i64,
    /// 1 not delivered, 2 delivered.
    pub deliver_state: i64,
    /// UNIX seconds; 0 while unpaid.
    pub pay_finish_time: i64,
    pub out_trade_no: String,
    pub mch_order_no: String,
    pub transaction_id: String,
}
