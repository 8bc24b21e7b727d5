//! The one table of payment routes: every path of every dialect, the operation it runs, and
//! where its environment comes from (behaviour.md section 8). The server registers its
//! routes from [`ROUTES`]; the client, the test kit and the docs read paths from it.

use crate::{v1, v2, xpay};

/// A family of WeChat payment APIs. All of them work on the same accounts and order books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dialect {
    /// Midas v1, `/cgi-bin/midas/...` (sig / mp_sig).
    V1,
    /// Virtual payment 2.0, `/wxa/game/...` (pay_sig / signature over the raw body).
    V2,
    /// xpay, `/xpay/...` (pay_sig / signature over the raw body, xpay's own codes).
    Xpay,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 3] = [Dialect::V1, Dialect::V2, Dialect::Xpay];

    /// `v1`, `v2` or `xpay`: the name used in options, logs and the CLI.
    pub const fn as_str(self) -> &'static str {
        match self {
            Dialect::V1 => "v1",
            Dialect::V2 => "v2",
            Dialect::Xpay => "xpay",
        }
    }

    pub fn parse(text: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

/// Where a request's environment (official or sandbox) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvSource {
    /// Fixed by the path (v1: `/sandbox/` paths are the sandbox).
    Path { sandbox: bool },
    /// The body's `env` field (2.0 and xpay: 0 official, 1 sandbox).
    Body,
}

/// The operation a route runs, in its dialect's terms (a v1 endpoint carries its
/// environment: it is the path's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    V1(v1::Endpoint),
    V2(v2::Op),
    Xpay(xpay::Op),
}

/// One payment route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The path, which v1's `org_loc` and 2.0's `pay_sig` also cover.
    pub path: &'static str,
    pub operation: Operation,
}

impl Route {
    pub const fn dialect(&self) -> Dialect {
        match self.operation {
            Operation::V1(_) => Dialect::V1,
            Operation::V2(_) => Dialect::V2,
            Operation::Xpay(_) => Dialect::Xpay,
        }
    }

    /// Where the request's environment comes from.
    pub const fn env(&self) -> EnvSource {
        match self.operation {
            Operation::V1(endpoint) => EnvSource::Path {
                sandbox: endpoint.sandbox,
            },
            Operation::V2(_) | Operation::Xpay(_) => EnvSource::Body,
        }
    }

    /// The route of a path, if it is a payment route.
    pub fn find(path: &str) -> Option<&'static Route> {
        ROUTES.iter().find(|r| r.path == path)
    }
}

impl v1::Endpoint {
    /// Its row of the route table.
    pub const fn route(self) -> &'static Route {
        &ROUTES[(self.sandbox as usize) * v1::Op::ALL.len() + self.op.index()]
    }

    /// The path, which is also the `org_loc` both signatures cover.
    pub const fn uri(self) -> &'static str {
        self.route().path
    }
}

impl v2::Op {
    /// Its row of the route table.
    pub const fn route(self) -> &'static Route {
        &ROUTES[V2_FIRST + self.index()]
    }

    /// The path (`/wxa/game/<name>`), which `pay_sig` covers.
    pub const fn uri(self) -> &'static str {
        self.route().path
    }
}

impl xpay::Op {
    /// Its row of the route table.
    pub const fn route(self) -> &'static Route {
        &ROUTES[XPAY_FIRST + self.index()]
    }
}

const fn xpay_route(path: &'static str, op: xpay::Op) -> Route {
    Route {
        path,
        operation: Operation::Xpay(op),
    }
}

const fn v1_route(path: &'static str, op: v1::Op, sandbox: bool) -> Route {
    Route {
        path,
        operation: Operation::V1(v1::Endpoint { op, sandbox }),
    }
}

const fn v2_route(path: &'static str, op: v2::Op) -> Route {
    Route {
        path,
        operation: Operation::V2(op),
    }
}

/// Where 2.0's routes start in [`ROUTES`].
const V2_FIRST: usize = 8;
/// Where xpay's routes start in [`ROUTES`].
const XPAY_FIRST: usize = V2_FIRST + v2::Op::ALL.len();

/// Every payment route. The first eight are v1's, official then sandbox, each in
/// [`v1::Op::ALL`] order ([`v1::Endpoint::route`] indexes them); then 2.0's in
/// [`v2::Op::ALL`] order ([`v2::Op::route`]); then xpay's in [`xpay::Op::ALL`] order.
pub const ROUTES: &[Route] = &[
    v1_route("/cgi-bin/midas/getbalance", v1::Op::GetBalance, false),
    v1_route("/cgi-bin/midas/pay", v1::Op::Pay, false),
    v1_route("/cgi-bin/midas/cancelpay", v1::Op::CancelPay, false),
    v1_route("/cgi-bin/midas/present", v1::Op::Present, false),
    v1_route("/cgi-bin/midas/sandbox/getbalance", v1::Op::GetBalance, true),
    v1_route("/cgi-bin/midas/sandbox/pay", v1::Op::Pay, true),
    v1_route("/cgi-bin/midas/sandbox/cancelpay", v1::Op::CancelPay, true),
    v1_route("/cgi-bin/midas/sandbox/present", v1::Op::Present, true),
    v2_route("/wxa/game/getbalance", v2::Op::GetBalance),
    v2_route("/wxa/game/pay", v2::Op::Pay),
    v2_route("/wxa/game/cancelpay", v2::Op::CancelPay),
    v2_route("/wxa/game/present", v2::Op::Present),
    v2_route("/wxa/game/queryorderinfo", v2::Op::QueryOrderInfo),
    xpay_route("/xpay/query_user_balance", xpay::Op::QueryUserBalance),
    xpay_route("/xpay/currency_pay", xpay::Op::CurrencyPay),
    xpay_route("/xpay/cancel_currency_pay", xpay::Op::CancelCurrencyPay),
    xpay_route("/xpay/present_currency", xpay::Op::PresentCurrency),
    xpay_route("/xpay/query_order", xpay::Op::QueryOrder),
    xpay_route("/xpay/refund_order", xpay::Op::RefundOrder),
    xpay_route("/xpay/notify_provide_goods", xpay::Op::NotifyProvideGoods),
    xpay_route("/xpay/download_bill", xpay::Op::DownloadBill),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn paths_are_unique_and_every_operation_has_a_route() {
        let paths: HashSet<&str> = ROUTES.iter().map(|r| r.path).collect();
        assert_eq!(paths.len(), ROUTES.len());
        for endpoint in v1::Endpoint::all() {
            let route = endpoint.route();
            assert_eq!(route.operation, Operation::V1(endpoint));
            assert_eq!(
                route.env(),
                EnvSource::Path {
                    sandbox: endpoint.sandbox
                }
            );
            assert_eq!(Route::find(endpoint.uri()), Some(route));
        }
        for op in v2::Op::ALL {
            assert_eq!(op.route().operation, Operation::V2(op), "{op:?}");
            assert_eq!(op.route().env(), EnvSource::Body);
        }
        for op in xpay::Op::ALL {
            assert_eq!(op.route().operation, Operation::Xpay(op), "{op:?}");
            assert_eq!(op.route().path, op.uri(), "{op:?}");
            assert_eq!(op.route().env(), EnvSource::Body);
        }
        assert_eq!(ROUTES.len(), XPAY_FIRST + xpay::Op::ALL.len());
        assert!(ROUTES.iter().all(|r| r.path.ends_with(match r.operation {
            Operation::V1(endpoint) => endpoint.op.path_name(),
            Operation::V2(op) => op.path_name(),
            Operation::Xpay(op) => op.name(),
        })));
    }
}
