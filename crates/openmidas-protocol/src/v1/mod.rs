//! Midas v1 (`/cgi-bin/midas/*` and the `/sandbox/` twins): its operations and endpoints,
//! typed requests ([`request`]), answers ([`answer`]) and errcodes ([`Code`]).
//! behaviour.md section 3.

pub mod answer;
mod codes;
pub mod request;

pub use codes::Code;
pub use request::{is_valid_bill_no, parse, Call, FieldError, Request};

/// The four v1 operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    GetBalance,
    Pay,
    CancelPay,
    Present,
}

impl Op {
    pub const ALL: [Op; 4] = [Op::GetBalance, Op::Pay, Op::CancelPay, Op::Present];

    /// The last path segment (`getbalance`, `pay`, ...).
    pub const fn path_name(self) -> &'static str {
        match self {
            Op::GetBalance => "getbalance",
            Op::Pay => "pay",
            Op::CancelPay => "cancelpay",
            Op::Present => "present",
        }
    }

    /// Its place in [`Op::ALL`] (and among the routes of an environment).
    pub(crate) const fn index(self) -> usize {
        match self {
            Op::GetBalance => 0,
            Op::Pay => 1,
            Op::CancelPay => 2,
            Op::Present => 3,
        }
    }
}

/// One v1 endpoint: an operation in the official or the sandbox environment. Its path is
/// in the route table ([`Endpoint::uri`], in [`crate::route`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub op: Op,
    pub sandbox: bool,
}

impl Endpoint {
    /// Every endpoint, official first.
    pub fn all() -> impl Iterator<Item = Endpoint> {
        [false, true]
            .into_iter()
            .flat_map(|sandbox| Op::ALL.into_iter().map(move |op| Endpoint { op, sandbox }))
    }
}
