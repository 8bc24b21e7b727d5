//! The OpenMidas HTTP server. Thin by design: a request runs its dialect's pipeline of
//! shared steps (token, query, body, fields, app, signatures, ts), its operation's file turns
//! the typed call into a ledger command for the [`Store`], and the dialect renders the
//! outcome. Only this crate knows HTTP.
//!
//! - [`router`]: every route; payment routes come from the protocol's route table.
//! - [`pipeline`]: the steps every dialect shares.
//! - [`v1`], [`v2`], [`xpay`]: one module per dialect (its check order and renderer), one file per
//!   operation (mini-redis style).
//! - [`auth`]: tokens and sessions; [`client`]: the simulated player; [`admin`]: the rest.
//! - [`error::ApiError`]: every failure answer, built from an errcode table.
//! - [`listener`]: the TCP listener with a bound on open connections; [`tls`]: HTTPS from a
//!   local certificate authority.
//! - [`cache`]: a short-TTL cache of token and app lookups in front of the store.
//! - [`controls`]: the emulator controls (clock, faults, request log, state); [`observe`]:
//!   what runs around every WeChat request (request id, faults, logging).
//! - [`serve`]: runs the router until a shutdown signal, then drains and closes the store.

pub mod admin;
pub mod auth;
pub mod cache;
pub mod client;
pub mod controls;
pub mod error;
pub mod health;
pub mod listener;
pub mod metrics;
pub mod observe;
pub mod openapi;
mod pipeline;
pub mod push;
pub mod router;
pub mod secrets;
mod state;
pub mod tls;
pub mod ui;
mod v1;
mod v2;
mod xpay;

pub use state::{AdminToken, AppState};

use std::future::Future;
use std::time::Duration;

use axum::serve::Listener;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use openmidas_ledger::Store;
use tower::ServiceExt;

/// How long [`serve`] waits for in-flight requests after the shutdown signal.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers, and how long a keep-alive
/// connection may sit idle: past it the connection is closed (slow-loris protection).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The most a client may send as a request head (request line and headers). hyper's
/// default read buffer is ~400 KiB, which an unauthenticated client could make the server
/// hold per connection with a header it never finishes. The largest legal head (a signed
/// query string and the usual headers) is a few KiB; bodies (at most 64 KiB) are read
/// separately and are not bound by this. A longer head is answered 431 with no body and
/// the connection is closed.
pub const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;

/// Timeouts of [`serve_with`].
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// After the shutdown signal, connections still open this long are abandoned.
    pub drain_timeout: Duration,
    /// See [`DEFAULT_HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        }
    }
}

/// Serves `state` on `listener` until `shutdown` resolves; then stops accepting, lets
/// in-flight requests finish (for at most [`DEFAULT_DRAIN_TIMEOUT`]), and shuts the store
/// down (its queued writes complete).
pub async fn serve(
    listener: listener::LimitedListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, shutdown, ServeOptions::default()).await
}

/// A fault's dropped connection (behaviour.md section 13.2): an error from the service
/// makes hyper close the connection without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by a fault rule")]
struct DroppedByFault;

impl From<std::convert::Infallible> for DroppedByFault {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

fn drop_if_faulted(
    result: Result<axum::response::Response, std::convert::Infallible>,
) -> Result<axum::response::Response, DroppedByFault> {
    match result {
        Ok(response) if response.extensions().get::<observe::DropConnection>().is_some() => Err(DroppedByFault),
        Ok(response) => Ok(response),
        Err(never) => match never {},
    }
}

/// The client's address, in every request's extensions (the admin lockout counts failures
/// per address).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// Where [`serve_endpoints`] accepts connections: a listener, plain or HTTPS, and which
/// routes it serves.
pub struct Endpoint {
    pub listener: listener::LimitedListener,
    /// `Some` makes the listener speak HTTPS (behaviour.md section 15).
    pub tls: Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>,
    pub surface: router::Surface,
}

impl Endpoint {
    /// Every route, plain HTTP.
    pub fn plain(listener: listener::LimitedListener) -> Self {
        Endpoint {
            listener,
            tls: None,
            surface: router::Surface::All,
        }
    }
}

/// Serves until `shutdown`, then drains for at most `options.drain_timeout`: connections
/// still open then are abandoned; what their requests already handed to the store still
/// completes (as when a client disconnects), and nothing unanswered was promised. Finally
/// the store shuts down (its queued writes commit).
pub async fn serve_with(
    listener: listener::LimitedListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> std::io::Result<()> {
    serve_endpoints(vec![Endpoint::plain(listener)], state, shutdown, options).await
}

/// [`serve_with`] on several listeners at once (plain HTTP and HTTPS side by side).
pub async fn serve_endpoints(
    endpoints: Vec<Endpoint>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> std::io::Result<()> {
    assert!(!endpoints.is_empty(), "serve needs at least one listener");
    let store = state.store.clone();
    // Token and app lookups go through a short-lived cache (see `cache`); money never does.
    let cached: std::sync::Arc<dyn Store> =
        std::sync::Arc::new(cache::CachingStore::new(store.clone(), cache::DEFAULT_TTL));
    let state = AppState { store: cached, ..state };
    // Pushes go out from their own task (behaviour.md section 12).
    let pushes = push::worker::spawn(state.clone());
    let router = router::router(state);

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(MAX_REQUEST_HEAD_BYTES)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    {
        // The accept loops run until the shutdown signal; dropping them closes the listeners.
        let accepting = futures_util::future::join_all(
            endpoints
                .into_iter()
                .map(|endpoint| accept_loop(endpoint, router.clone(), http.clone(), &graceful)),
        );
        tokio::select! {
            _ = accepting => {}
            () = shutdown => {}
        }
    }
    // Stop delivering (an event in flight is sent again by the next start: its lease runs
    // out), then let in-flight requests finish.
    pushes.abort();
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(options.drain_timeout) => {
            tracing::warn!(drain_timeout = ?options.drain_timeout, "drain timeout: abandoning connections still open");
        }
    }
    store.shutdown().await;
    Ok(())
}

/// Accepts on one endpoint until dropped; each connection (after its TLS handshake, on an
/// HTTPS endpoint) is served on a task of its own.
async fn accept_loop(
    mut endpoint: Endpoint,
    router: axum::Router,
    http: hyper::server::conn::http1::Builder,
    graceful: &GracefulShutdown,
) {
    let tls = endpoint.tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (stream, peer) = endpoint.listener.accept().await;
        let surface = endpoint.surface;
        let service = TowerToHyperService::new(
            ServiceExt::<axum::extract::Request<hyper::body::Incoming>>::map_result(router.clone(), drop_if_faulted)
                .map_request(move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                    // Which routes this listener serves (`router::guard_surface`).
                    request.extensions_mut().insert(surface);
                    request.extensions_mut().insert(PeerAddr(peer));
                    request
                }),
        );
        let http = http.clone();
        let graceful = graceful.watcher();
        match &tls {
            None => {
                let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            Some(acceptor) => {
                let handshake = acceptor.accept(stream);
                tokio::spawn(async move {
                    let stream = match tokio::time::timeout(tls::HANDSHAKE_TIMEOUT, handshake).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake timed out");
                            return;
                        }
                    };
                    let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
        }
    }
}
