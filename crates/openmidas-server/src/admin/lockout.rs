//! Guessing the admin token is slowed down per client address (behaviour.md section 14.5):
//! after [`MAX_FAILURES`] failed admin authentications (a 401 from an admin route or from
//! the dashboard's login) within [`WINDOW`], that address gets 429 (errcode 45011) on every
//! admin route and on the login until the window ends, whatever token it sends. Bounded: at
//! most [`MAX_ADDRESSES`] addresses are tracked at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Failed authentications an address may make within a window.
pub const MAX_FAILURES: u32 = 30;
/// The window, counted from an address's first failure.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Most addresses tracked; past it, new addresses are not tracked until windows end.
pub const MAX_ADDRESSES: usize = 10_000;

#[derive(Debug, Default)]
pub struct Lockout {
    windows: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl Lockout {
    /// How long `ip` stays locked out, if it is.
    pub fn locked_for(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let windows = self.windows.lock();
        let window = windows.get(&ip)?;
        let ends = window.started + WINDOW;
        (window.failures >= MAX_FAILURES && now < ends).then(|| ends - now)
    }

    /// Records a failed authentication from `ip`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut windows = self.windows.lock();
        if windows.len() >= MAX_ADDRESSES && !windows.contains_key(&ip) {
            windows.retain(|_, w| now < w.started + WINDOW);
            if windows.len() >= MAX_ADDRESSES {
                tracing::warn!(ip = %ip, "too many addresses with failed admin logins: not tracking a new one");
                return;
            }
        }
        let window = windows.entry(ip).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now >= window.started + WINDOW {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
        if window.failures == MAX_FAILURES {
            tracing::warn!(ip = %ip, window_secs = WINDOW.as_secs(), "failed admin authentications: address locked out");
        }
        debug_assert!(windows.len() <= MAX_ADDRESSES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_locked_after_the_limit_until_its_window_ends() {
        let lockout = Lockout::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let start = Instant::now();
        for i in 0..MAX_FAILURES {
            assert_eq!(lockout.locked_for(ip, start), None, "after {i} failures");
            lockout.failed(ip, start);
        }
        let wait = lockout.locked_for(ip, start + Duration::from_secs(10)).expect("locked");
        assert_eq!(wait, WINDOW - Duration::from_secs(10));
        assert_eq!(
            lockout.locked_for(other, start),
            None,
            "another address is not affected"
        );
        assert_eq!(lockout.locked_for(ip, start + WINDOW), None, "the window ended");
        // A new window starts from zero.
        lockout.failed(ip, start + WINDOW);
        assert_eq!(lockout.locked_for(ip, start + WINDOW), None);
    }

    #[test]
    fn the_number_of_tracked_addresses_is_bounded() {
        let lockout = Lockout::default();
        let now = Instant::now();
        for i in 0..(MAX_ADDRESSES as u32 + 50) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            lockout.failed(ip, now);
        }
        assert_eq!(lockout.windows.lock().len(), MAX_ADDRESSES);
        // Once their windows end, room is made again.
        let later = now + WINDOW;
        lockout.failed("203.0.113.1".parse().unwrap(), later);
        assert_eq!(lockout.windows.lock().len(), 1);
    }
}
