//! Time, in milliseconds since the UNIX epoch. The server reads it once per request and
//! hands it to the store, so stores never look at a clock themselves.

use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock that only moves when told to: expiry and the 48 h cancel window are tested
/// with it instead of sleeps.
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    pub fn new(start_ms: i64) -> Self {
        ManualClock {
            now_ms: AtomicI64::new(start_ms),
        }
    }

    pub fn advance_ms(&self, delta_ms: i64) {
        self.now_ms.fetch_add(delta_ms, Ordering::SeqCst);
    }

    pub fn advance_secs(&self, delta_secs: i64) {
        self.advance_ms(delta_secs * 1000);
    }

    pub fn set_ms(&self, now_ms: i64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

/// The latest time the emulator clock may show: 9999-12-31T23:59:59.999Z.
pub const MAX_CLOCK_MS: i64 = 253_402_300_799_999;
/// The furthest one `advance_secs` moves the emulator clock: 100 years either way.
pub const MAX_ADVANCE_SECS: i64 = 3_153_600_000;

/// The emulator's clock as stored (behaviour.md section 13.1): the machine's time moved by
/// `offset_ms`, or standing still at `frozen_at_ms`. Stored as an offset rather than a time
/// so that a running clock runs without anyone writing it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClockState {
    pub offset_ms: i64,
    pub frozen_at_ms: Option<i64>,
}

/// One `POST /admin/clock`: its parts apply in this order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClockChange {
    pub reset: bool,
    pub set_ms: Option<i64>,
    pub advance_secs: Option<i64>,
    pub freeze: Option<bool>,
}

impl ClockState {
    /// What the clock shows when the machine's clock shows `real_ms`.
    pub fn now_ms(&self, real_ms: i64) -> i64 {
        match self.frozen_at_ms {
            Some(at_ms) => at_ms,
            None => real_ms.saturating_add(self.offset_ms).clamp(0, MAX_CLOCK_MS),
        }
    }

    /// The clock after `change`, made when the machine's clock shows `real_ms`. Times stay
    /// within `0..=MAX_CLOCK_MS`.
    pub fn apply(self, change: &ClockChange, real_ms: i64) -> ClockState {
        let mut state = if change.reset { ClockState::default() } else { self };
        // Moves the clock to `to_ms`, frozen or running as it is.
        let move_to = |state: ClockState, to_ms: i64| {
            let to_ms = to_ms.clamp(0, MAX_CLOCK_MS);
            ClockState {
                offset_ms: to_ms - real_ms,
                frozen_at_ms: state.frozen_at_ms.map(|_| to_ms),
            }
        };
        if let Some(set_ms) = change.set_ms {
            state = move_to(state, set_ms);
        }
        if let Some(secs) = change.advance_secs {
            let secs = secs.clamp(-MAX_ADVANCE_SECS, MAX_ADVANCE_SECS);
            state = move_to(state, state.now_ms(real_ms).saturating_add(secs * 1000));
        }
        match change.freeze {
            Some(true) if state.frozen_at_ms.is_none() => {
                state.frozen_at_ms = Some(state.now_ms(real_ms));
            }
            Some(false) => {
                if let Some(at_ms) = state.frozen_at_ms.take() {
                    state.offset_ms = at_ms - real_ms;
                }
            }
            _ => {}
        }
        state
    }

    /// How far the clock is from the machine's, as `GET /admin/clock` shows it.
    pub fn offset_from(&self, real_ms: i64) -> i64 {
        self.now_ms(real_ms) - real_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: i64 = 1_000_000;

    #[test]
    fn advance_set_freeze_and_reset() {
        let running = ClockState::default().apply(
            &ClockChange {
                advance_secs: Some(10),
                ..Default::default()
            },
            REAL,
        );
        assert_eq!(running.now_ms(REAL), REAL + 10_000);
        assert_eq!(running.now_ms(REAL + 5), REAL + 10_005, "a running clock runs");

        let frozen = running.apply(
            &ClockChange {
                freeze: Some(true),
                ..Default::default()
            },
            REAL + 5,
        );
        assert_eq!(frozen.now_ms(REAL + 99_999), REAL + 10_005, "a frozen clock stands");
        let moved = frozen.apply(
            &ClockChange {
                advance_secs: Some(1),
                ..Default::default()
            },
            REAL + 7,
        );
        assert_eq!(moved.frozen_at_ms, Some(REAL + 11_005), "advance moves a frozen clock");
        let resumed = moved.apply(
            &ClockChange {
                freeze: Some(false),
                ..Default::default()
            },
            REAL + 100,
        );
        assert_eq!(
            resumed.now_ms(REAL + 100),
            REAL + 11_005,
            "resumes from where it stands"
        );
        assert_eq!(resumed.now_ms(REAL + 101), REAL + 11_006);

        let all = resumed.apply(
            &ClockChange {
                reset: true,
                set_ms: Some(5),
                advance_secs: Some(1),
                freeze: Some(true),
            },
            REAL,
        );
        assert_eq!(
            all,
            ClockState {
                offset_ms: 1005 - REAL,
                frozen_at_ms: Some(1005)
            },
            "in order"
        );
        let back = all.apply(
            &ClockChange {
                reset: true,
                ..Default::default()
            },
            REAL,
        );
        assert_eq!(back, ClockState::default());
    }

    #[test]
    fn times_stay_in_range() {
        let far = ClockState::default().apply(
            &ClockChange {
                set_ms: Some(MAX_CLOCK_MS),
                advance_secs: Some(MAX_ADVANCE_SECS),
                ..Default::default()
            },
            REAL,
        );
        assert_eq!(far.now_ms(REAL), MAX_CLOCK_MS);
        assert_eq!(far.now_ms(REAL + 1000), MAX_CLOCK_MS);
        let early = ClockState::default().apply(
            &ClockChange {
                advance_secs: Some(-MAX_ADVANCE_SECS),
                ..Default::default()
            },
            REAL,
        );
        assert_eq!(early.now_ms(REAL), 0);
    }
}
