//! The emulator controls (behaviour.md section 13): what a game team's tests drive through
//! HTTP. None of it exists in ledger mode: [`AppState::emulator`] is `None` there, and every
//! route here then answers 404 as an unknown path does, before looking at the admin token.
//!
//! - [`clock`]: the stored clock every rule reads (`/admin/clock`).
//! - [`faults`]: rules that refuse, delay, fail after applying, or drop (`/admin/faults`).
//! - [`log`]: the request log with signature diagnoses (`/admin/requests`).
//! - [`state`]: reset, export and import (`/admin/reset`, `/admin/state`).
//!
//! The per-request side (request id, faults firing, log entries) is [`crate::observe`].

pub mod clock;
pub mod dialect;
pub mod faults;
pub mod log;
pub mod page;
pub mod state;

use std::sync::Arc;

use axum::http::HeaderMap;
use openmidas_ledger::{Clock, Store, StoreError};
use openmidas_protocol::common::Code;

use crate::admin::require_admin;
use crate::cache::TtlMap;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

pub use clock::EmulatorClock;

/// Bounds of the emulator's memory.
#[derive(Debug, Clone, Copy)]
pub struct EmulatorOptions {
    /// Most request log entries kept.
    pub log_entries: usize,
    /// Most bytes of request log entries kept (their texts).
    pub log_bytes: usize,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            log_entries: log::DEFAULT_MAX_ENTRIES,
            log_bytes: log::DEFAULT_MAX_BYTES,
        }
    }
}

/// Everything emulator mode adds, shared by every request of a node.
pub struct Emulator {
    pub clock: Arc<EmulatorClock>,
    pub faults: faults::Faults,
    pub log: log::RequestLog,
    /// Players' session keys, `"<appid>\n<openid>"` to the newest, for masking the request
    /// log: read from the store at most once a second per player, updated at once by the
    /// jscode2session answers this node serves.
    pub(crate) session_keys: TtlMap<String, Option<Arc<str>>>,
    follower: tokio::task::JoinHandle<()>,
}

impl Emulator {
    /// Reads the stored clock and starts following it (`base` is the machine's clock).
    pub async fn start(
        store: &Arc<dyn Store>,
        base: Arc<dyn Clock>,
        options: EmulatorOptions,
    ) -> Result<Arc<Emulator>, StoreError> {
        let clock = Arc::new(EmulatorClock::new(base, store.clock().await?));
        let follower = EmulatorClock::follow(&clock, store);
        Ok(Arc::new(Emulator {
            clock,
            faults: faults::Faults::default(),
            log: log::RequestLog::new(options.log_entries, options.log_bytes),
            session_keys: TtlMap::new(crate::cache::DEFAULT_TTL),
            follower,
        }))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

/// The emulator of a control request: 404 in ledger mode (whatever the token), then 401
/// without the admin token.
pub(crate) fn emulator<'s>(state: &'s AppState, headers: &HeaderMap) -> ApiResult<&'s Arc<Emulator>> {
    let emulator = state.emulator.as_ref().ok_or_else(|| ApiError::new(Code::InvalidUrl))?;
    require_admin(state, headers)?;
    Ok(emulator)
}
