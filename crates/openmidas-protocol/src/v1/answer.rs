//! v1 answers. Field order here is the order on the wire; every answer carries exactly
//! these fields.

use serde::{Deserialize, Serialize};

/// `getbalance` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = v1::GetBalanceOk))]
pub struct GetBalanceOk {
    pub errcode: i64,
    pub errmsg: String,
    pub balance: i64,
    pub gen_balance: i64,
    /// 1 while the account was never recharged, else 2.
    pub first_save: i64,
    pub save_amt: i64,
    pub save_sum: i64,
    pub cost_sum: i64,
    pub present_sum: i64,
}

/// `pay` success, and a same-parameter 90012 (which carries the original result).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = v1::PayOk))]
pub struct PayOk {
    pub errcode: i64,
    pub errmsg: String,
    pub bill_no: String,
    pub balance: i64,
    pub used_gen_amt: i64,
}

/// `cancelpay` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = v1::CancelPayOk))]
pub struct CancelPayOk {
    pub errcode: i64,
    pub errmsg: String,
    pub bill_no: String,
}

/// `present` success, and a same-parameter 90012.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = v1::PresentOk))]
pub struct PresentOk {
    pub errcode: i64,
    pub errmsg: String,
    pub bill_no: String,
    pub balance: i64,
}
