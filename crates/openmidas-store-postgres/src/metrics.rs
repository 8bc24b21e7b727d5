//! The writers' metrics (behaviour.md section 14), on the `prometheus` crate's default
//! registry, which the server's `GET /metrics` shows. The SQLite store defines the same
//! families with `store="sqlite"`: names, help texts and label names must stay the same in
//! both crates, so that one process may register both. The numbers add up every writer's.

use std::sync::LazyLock;

use prometheus::{Histogram, HistogramOpts, IntGauge, Opts};

/// This store's `store` label.
const STORE: &str = "postgres";

pub(crate) struct Metrics {
    /// Writes per group commit.
    pub batch_size: Histogram,
    /// Writes queued for the writer, not yet taken into a batch.
    pub queue_depth: IntGauge,
    /// From a batch's first `BEGIN` to its last `COMMIT`.
    pub commit_seconds: Histogram,
}

pub(crate) static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let metrics = Metrics {
        batch_size: Histogram::with_opts(
            HistogramOpts::new(
                "openmidas_store_write_batch_size",
                "Writes applied together in one group commit.",
            )
            .const_label("store", STORE)
            .buckets(prometheus::exponential_buckets(1.0, 2.0, 12).expect("valid buckets")),
        )
        .expect("valid metric"),
        queue_depth: IntGauge::with_opts(
            Opts::new(
                "openmidas_store_write_queue_depth",
                "Writes waiting for a writer, not yet in a batch.",
            )
            .const_label("store", STORE),
        )
        .expect("valid metric"),
        commit_seconds: Histogram::with_opts(
            HistogramOpts::new(
                "openmidas_store_commit_duration_seconds",
                "Time from a group commit's first BEGIN to its last COMMIT (retries and a one-by-one re-run included).",
            )
            .const_label("store", STORE)
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )
        .expect("valid metric"),
    };
    let collectors: [Box<dyn prometheus::core::Collector>; 3] = [
        Box::new(metrics.batch_size.clone()),
        Box::new(metrics.queue_depth.clone()),
        Box::new(metrics.commit_seconds.clone()),
    ];
    for collector in collectors {
        if let Err(e) = prometheus::register(collector) {
            tracing::warn!(error = %e, "a store metric could not be registered; /metrics goes without it");
        }
    }
    metrics
});
