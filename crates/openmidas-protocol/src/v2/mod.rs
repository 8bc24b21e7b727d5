//! Virtual payment 2.0 (`/wxa/game/*`): its operations, typed requests ([`request`]),
//! answers ([`answer`]) and errcodes ([`Code`]). behaviour.md section 9.

pub mod answer;
mod codes;
pub mod request;

pub use codes::Code;
pub use request::{
    parse, signature_errmsg, BillNoRule, BizId, Call, CoinType, FieldError, Query, QueryError, Request, SIG_METHOD,
};

/// The five 2.0 operations. Their paths are in the route table ([`Op::uri`], in
/// [`crate::route`]).
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

    /// Its place in [`Op::ALL`] (and among 2.0's routes).
    pub(crate) const fn index(self) -> usize {
        match self {
            Op::GetBalance => 0,
            Op::Pay => 1,
            Op::CancelPay => 2,
            Op::Present => 3,
            Op::QueryOrderInfo => 4,
        }
    }

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
}
