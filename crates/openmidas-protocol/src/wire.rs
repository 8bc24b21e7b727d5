//! Answers on the wire. Field order here is the order on the wire.
//!
//! The server builds these from ledger outcomes; the client SDK reads them back.

use serde::{Deserialize, Serialize};

use crate::ErrCode;

/// `{"errcode","errmsg"}`: every failure, and the head of every v1 success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub errcode: i64,
    pub errmsg: String,
}

impl ErrorBody {
    pub fn new(code: ErrCode, errmsg: impl Into<String>) -> Self {
        ErrorBody {
            errcode: code.code(),
            errmsg: errmsg.into(),
        }
    }
}

/// `/cgi-bin/token` and `/cgi-bin/stable_token` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenOk {
    pub access_token: String,
    pub expires_in: i64,
}

/// `/sns/jscode2session` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jscode2SessionOk {
    pub openid: String,
    pub session_key: String,
}

/// `midas getbalance` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// `midas pay` success, and the fields a same-parameter 90012 carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayOk {
    pub errcode: i64,
    pub errmsg: String,
    pub bill_no: String,
    pub balance: i64,
    pub used_gen_amt: i64,
}

/// `midas cancelpay` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelPayOk {
    pub errcode: i64,
    pub errmsg: String,
    pub bill_no: String,
}

/// `midas present` success, and the fields a same-parameter 90012 carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentOk {
    pub errcode: i64,
    pub errmsg: String,
    pub bill_no: String,
    pub balance: i64,
}

/// `/admin/login` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminLoginOk {
    pub errcode: i64,
    pub errmsg: String,
    pub code: String,
    pub openid: String,
}

/// `/admin/recharge` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminRechargeOk {
    pub errcode: i64,
    pub errmsg: String,
    pub out_trade_no: String,
    pub balance: i64,
}
