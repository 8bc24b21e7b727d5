//! The delivery worker (behaviour.md section 12): claims due events in small batches,
//! leased to this node, and delivers them with at most [`MAX_IN_FLIGHT`] at once. It runs on
//! its own task: the API path never waits for a delivery, and a slow receiver only holds
//! its own deliveries' slots.

use std::sync::Arc;
use std::time::Duration;

use openmidas_ledger::StoreExt;
use tokio::sync::Semaphore;

use super::deliver::deliver;
use crate::{metrics, AppState};

/// Deliveries in flight on one node at most (a bounded queue: nothing more is claimed).
pub const MAX_IN_FLIGHT: usize = 32;
/// How often the worker looks for due events, on the machine's clock.
const POLL: Duration = Duration::from_millis(200);

/// Starts the worker; it runs until the runtime stops.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(state))
}

async fn run(state: AppState) {
    let http = super::http_client();
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        let free = slots.available_permits();
        if free > 0 {
            let limit = u32::try_from(free).unwrap_or(u32::MAX);
            match state.store.claim_pushes(state.clock.now_ms(), limit).await {
                Ok(pushes) => {
                    for push in pushes {
                        let Ok(slot) = slots.clone().acquire_owned().await else {
                            return;
                        };
                        let state = state.clone();
                        let http = http.clone();
                        let in_flight = metrics::InFlight::start();
                        tokio::spawn(async move {
                            if let Err(e) = deliver(&state, &http, &push, true).await {
                                // The lease runs out and the event is claimed again.
                                tracing::warn!(push = push.id, error = %e, "could not record a push delivery");
                            }
                            drop(in_flight);
                            drop(slot);
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not claim due pushes"),
            }
        }
        tokio::time::sleep(POLL).await;
    }
}
