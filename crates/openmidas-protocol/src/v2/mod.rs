//! Virtual payment 2.0 (`/wxa/game/*`): its operations, typed requests ([`request`]),
//! answers ([`answer`]) and errcodes ([`Code`]). behaviour.md section 9.

pub mod answer;
mod codes;
pub mod request;

pub use codes::Code;
pub use request::{
    parse, signature_errmsg, BillNoRule, BizId, Call, CoinType, FieldError, Query, QueryError, Request, SIG_METHOD,
};

/// The five 2.0 operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    GetBalance,
    Pay,
    CancelPay,
    Present,
    QueryOrderInfo,
}

impl Op {
    pub const ALL: [Op; 5] = [Op::GetBalance, Op::Pay, Op::CancelPay, Op::Present, Op::QueryOrderInfo];

    /// The last path segment.
    pub const fn path_name(self) -> &'static str {
        match self {
            Op::GetBalance => "getbalance",
            Op::Pay => "pay",
            Op::CancelPay => "cancelpay",
            Op::Present => "present",
            Op::QueryOrderInfo => "queryorderinfo",
        }
    }

    /// The path (`/wxa/game/<name>`), which `pay_sig` covers.
    pub fn uri(self) -> &'static str {
        crate::route::ROUTES
            .iter()
            .find(|r| r.operation == crate::route::Operation::V2(self))
            .map_or("", |r| r.path)
    }
}
