//! `GET /metrics` (behaviour.md section 14): the `prometheus` crate's default registry in
//! its text format. The server's own metrics are defined here; the stores register theirs
//! (`openmidas_store_*`) on the same registry, and the crate's process collector adds the
//! `process_*` metrics on Linux.
//!
//! Labels are bounded and hold nothing secret: a dialect name, a route's literal path (as
//! registered: `/xpay/bills/{token}`, never a token; `other` for a path no route has), a
//! decimal errcode, an event name, a delivery outcome. No appid, openid or token.

use std::sync::LazyLock;
use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use openmidas_protocol::common::Code;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, TextEncoder};

use crate::controls::dialect::Dialect;
use crate::error::ApiError;

/// Latency buckets, in seconds: from half a millisecond to the 10 s no answer should take.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The path label of a request no route matched (a 404): one label for every such path.
pub const OTHER_PATH: &str = "other";

/// The errcode label of an answer without one (a fault's dropped connection).
pub const NO_ERRCODE: &str = "none";

struct ServerMetrics {
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    push_deliveries: IntCounterVec,
    push_in_flight: IntGauge,
}

static METRICS: LazyLock<ServerMetrics> = LazyLock::new(|| {
    let metrics = ServerMetrics {
        requests: IntCounterVec::new(
            Opts::new(
                "openmidas_requests_total",
                "Requests answered on the WeChat and simulated-player routes, by dialect, route path and errcode.",
            ),
            &["dialect", "path", "errcode"],
        )
        .expect("valid metric"),
        request_seconds: HistogramVec::new(
            HistogramOpts::new(
                "openmidas_request_duration_seconds",
                "Time to answer a request on the WeChat and simulated-player routes, by dialect and route path.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["dialect", "path"],
        )
        .expect("valid metric"),
        push_deliveries: IntCounterVec::new(
            Opts::new(
                "openmidas_push_deliveries_total",
                "Push deliveries to game servers, by event (its name on the wire) and outcome (acknowledged, refused, failed, fault).",
            ),
            &["event", "outcome"],
        )
        .expect("valid metric"),
        push_in_flight: IntGauge::new(
            "openmidas_push_in_flight",
            "Push deliveries the worker is making now.",
        )
        .expect("valid metric"),
    };
    let registry = prometheus::default_registry();
    let collectors: [Box<dyn prometheus::core::Collector>; 4] = [
        Box::new(metrics.requests.clone()),
        Box::new(metrics.request_seconds.clone()),
        Box::new(metrics.push_deliveries.clone()),
        Box::new(metrics.push_in_flight.clone()),
    ];
    for collector in collectors {
        if let Err(e) = registry.register(collector) {
            tracing::warn!(error = %e, "a metric could not be registered; /metrics goes without it");
        }
    }
    metrics
});

/// A dialect's label, as `controls::dialect` names it.
fn dialect_label(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::V1 => "v1",
        Dialect::V2 => "v2",
        Dialect::Xpay => "xpay",
        Dialect::Auth => "auth",
        Dialect::Client => "client",
        Dialect::Push => "push",
    }
}

/// The route a request matched (its literal path as registered), if any.
#[derive(Clone)]
pub(crate) struct Route(Option<MatchedPath>);

impl Route {
    pub(crate) fn of(extensions: &axum::http::Extensions) -> Route {
        Route(extensions.get::<MatchedPath>().cloned())
    }

    fn label(&self) -> &str {
        self.0.as_ref().map_or(OTHER_PATH, MatchedPath::as_str)
    }
}

/// Counts one answered request: its errcode (`None`: the answer had none) and how long it
/// took.
pub(crate) fn request(dialect: Dialect, route: &Route, errcode: Option<i64>, elapsed: Duration) {
    let dialect = dialect_label(dialect);
    let path = route.label();
    let code;
    let errcode = match errcode {
        Some(0) => "0",
        Some(n) => {
            code = n.to_string();
            code.as_str()
        }
        None => NO_ERRCODE,
    };
    let metrics = &*METRICS;
    metrics.requests.with_label_values(&[dialect, path, errcode]).inc();
    metrics
        .request_seconds
        .with_label_values(&[dialect, path])
        .observe(elapsed.as_secs_f64());
}

/// How a push delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushOutcome {
    /// The receiver acknowledged the event.
    Acknowledged,
    /// The receiver answered, but not with an acknowledgement.
    Refused,
    /// No answer: the connection failed or timed out, or the event could not be sent (the
    /// app is gone or has no push URL, the event could not be rendered or recorded).
    Failed,
    /// An emulator fault rule failed or delayed it.
    Fault,
}

impl PushOutcome {
    fn label(self) -> &'static str {
        match self {
            PushOutcome::Acknowledged => "acknowledged",
            PushOutcome::Refused => "refused",
            PushOutcome::Failed => "failed",
            PushOutcome::Fault => "fault",
        }
    }
}

/// Counts one push delivery of `event` (its name on the wire, as `GET /admin/pushes` shows
/// it: `xpay_goods_deliver_notify`, ...).
pub(crate) fn push_delivery(event: &str, outcome: PushOutcome) {
    METRICS
        .push_deliveries
        .with_label_values(&[event, outcome.label()])
        .inc();
}

/// One delivery in flight: counted in `openmidas_push_in_flight` until dropped.
pub(crate) struct InFlight(());

impl InFlight {
    pub(crate) fn start() -> InFlight {
        METRICS.push_in_flight.inc();
        InFlight(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        METRICS.push_in_flight.dec();
    }
}

/// `GET /metrics`: every registered metric, in Prometheus text format 0.0.4. No admin token:
/// nothing in it is secret.
pub async fn get() -> Response {
    LazyLock::force(&METRICS);
    let encoder = TextEncoder::new();
    let mut body = Vec::new();
    match encoder.encode(&prometheus::gather(), &mut body) {
        Ok(()) => ([(CONTENT_TYPE, encoder.format_type().to_string())], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics could not be encoded");
            ApiError::new(Code::SystemError).into_response()
        }
    }
}
