//! The emulator's clock (behaviour.md section 13.1): `GET/POST /admin/clock`, and the
//! [`EmulatorClock`] every handler reads.
//!
//! The clock is stored (an offset from the machine's clock, or a frozen time), so it
//! survives restarts and every node on one database follows it: a node rereads it every
//! [`REFRESH_INTERVAL`], and the node that changes it follows the change at once.

use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use openmidas_ledger::clock::{MAX_ADVANCE_SECS, MAX_CLOCK_MS};
use openmidas_ledger::{Clock, ClockChange, ClockState, Store, StoreExt};
use openmidas_protocol::common::Code;
use parking_lot::RwLock;
use serde::Serialize;

use super::{emulator, Emulator};
use crate::admin::{json_object, Fields};
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// How often a node rereads the stored clock: a change made on another node shows here
/// within this (behaviour.md promises 1 s).
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(500);

/// The machine's clock moved (or stopped) as the stored [`ClockState`] says.
pub struct EmulatorClock {
    /// The machine's clock (a manual one in tests).
    base: Arc<dyn Clock>,
    /// The stored clock, and how many changes this node made to it: a reread that began
    /// before a change made here must not undo it.
    state: RwLock<(ClockState, u64)>,
}

impl EmulatorClock {
    pub fn new(base: Arc<dyn Clock>, state: ClockState) -> EmulatorClock {
        EmulatorClock {
            base,
            state: RwLock::new((state, 0)),
        }
    }

    pub fn state(&self) -> ClockState {
        self.state.read().0
    }

    /// The clock as this node just changed (and stored) it.
    pub fn set_state(&self, state: ClockState) {
        let mut guard = self.state.write();
        *guard = (state, guard.1 + 1);
    }

    /// The clock as reread from the store, unless this node changed it since `changes`.
    fn refresh(&self, state: ClockState, changes: u64) {
        let mut guard = self.state.write();
        if guard.1 == changes {
            guard.0 = state;
        }
    }

    pub fn base_ms(&self) -> i64 {
        self.base.now_ms()
    }

    /// Rereads the stored clock every [`REFRESH_INTERVAL`] until the clock or the store is
    /// dropped (it holds neither alive: a stopped server's store must be able to close).
    pub fn follow(clock: &Arc<EmulatorClock>, store: &Arc<dyn Store>) -> tokio::task::JoinHandle<()> {
        let clock: Weak<EmulatorClock> = Arc::downgrade(clock);
        let store: Weak<dyn Store> = Arc::downgrade(store);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFRESH_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let (Some(clock), Some(store)) = (clock.upgrade(), store.upgrade()) else {
                    return;
                };
                let changes = clock.state.read().1;
                match store.clock().await {
                    Ok(state) => clock.refresh(state, changes),
                    Err(e) => tracing::warn!(error = %e, "cannot reread the emulator clock; keeping the last one"),
                }
            }
        })
    }
}

impl Clock for EmulatorClock {
    fn now_ms(&self) -> i64 {
        self.state().now_ms(self.base.now_ms())
    }
}

/// `{errcode, errmsg, now_ms, offset_ms, frozen}`.
#[derive(Serialize)]
pub struct ClockAnswer {
    errcode: i64,
    errmsg: &'static str,
    now_ms: i64,
    offset_ms: i64,
    frozen: bool,
}

fn answer(clock: &EmulatorClock) -> ClockAnswer {
    let state = clock.state();
    let real_ms = clock.base_ms();
    ClockAnswer {
        errcode: 0,
        errmsg: "ok",
        now_ms: state.now_ms(real_ms),
        offset_ms: state.offset_from(real_ms),
        frozen: state.frozen_at_ms.is_some(),
    }
}

pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<ClockAnswer>> {
    let emulator = emulator(&state, &headers)?;
    Ok(Json(answer(&emulator.clock)))
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> ApiResult<Json<ClockAnswer>> {
    let emulator = emulator(&state, &headers)?;
    let map = json_object(body).await?;
    let fields = Fields {
        map: &map,
        invalid: Code::InvalidArgs,
    };
    let change = ClockChange {
        reset: match fields.boolean("reset")? {
            None | Some(false) => false,
            Some(true) => true,
        },
        set_ms: fields.integer("set_ms", 0, MAX_CLOCK_MS)?,
        advance_secs: fields.integer("advance_secs", -MAX_ADVANCE_SECS, MAX_ADVANCE_SECS)?,
        freeze: fields.boolean("freeze")?,
    };
    if let Some(unknown) = map
        .keys()
        .find(|k| !["reset", "set_ms", "advance_secs", "freeze"].contains(&k.as_str()))
    {
        return Err(fields.problem(unknown, "is not a clock action (reset, set_ms, advance_secs, freeze)"));
    }
    if change == ClockChange::default() {
        return Err(ApiError::msg(
            Code::InvalidArgs,
            "invalid args: give one or more of reset, set_ms, advance_secs, freeze",
        ));
    }
    apply(&state, emulator, change).await?;
    Ok(Json(answer(&emulator.clock)))
}

/// Moves the stored clock and follows it at once (the dashboard's clock page too).
pub(crate) async fn apply(state: &AppState, emulator: &Emulator, change: ClockChange) -> ApiResult<()> {
    let stored = state.store.move_clock(change, emulator.clock.base_ms()).await?;
    emulator.clock.set_state(stored);
    tracing::info!(?stored, "emulator clock changed");
    Ok(())
}
