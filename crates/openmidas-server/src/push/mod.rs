//! Pushes: OpenMidas calls the game server the way WeChat does (behaviour.md section 12).
//!
//! - The ledger writes each event in the transaction of the change that causes it (an
//!   outbox: [`openmidas_ledger::push`]); nothing here can lose or invent one.
//! - [`worker`] claims due events (leased for 30 s, so one node at a time sends each) and
//!   delivers them with bounded concurrency, on its own task: the API never waits for it.
//! - [`deliver`] sends one event (also `POST /admin/pushes/{id}/redeliver`): renders it from
//!   the orders it is about ([`content`]), signs and, in safe mode, encrypts it, POSTs it with
//!   a 3 s timeout, judges the reply and records the attempt.
//! - [`verify`] checks a push URL as WeChat does (GET with `echostr`) before settings change.

pub mod content;
pub mod deliver;
pub mod verify;
pub mod worker;

use std::time::Duration;

use sha2::{Digest, Sha256};

/// How long a delivery (or a URL check) may take, as WeChat allows.
pub const TIMEOUT: Duration = Duration::from_secs(3);
/// The most of a reply read: more is not an acknowledgement anyway.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;
/// The `FromUserName` of every event: WeChat's fixed system account (as in its samples).
pub const FROM_USER_NAME: &str = "oUrsf0TSXNtiZjP7JL9UUFiGJzmQ";

/// The app's original id (`ToUserName`, `gh_` and 12 hex digits): OpenMidas has no real
/// one, so it is derived from the appid, the same on every delivery and every node.
pub fn to_user_name(appid: &str) -> String {
    let digest = Sha256::digest(appid.as_bytes());
    format!("gh_{}", hex::encode(&digest[..6]))
}

/// One HTTP client for every delivery: pooled connections, no redirects (WeChat follows
/// none), the delivery timeout.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(4)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}
