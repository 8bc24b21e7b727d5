//! Random credentials: access tokens, session keys, login codes, openids.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// An access token: 64 characters of `A-Z a-z 0-9 - _`.
pub fn access_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<48>())
}

/// A session_key: 16 random bytes in base64, like WeChat's.
pub fn session_key() -> String {
    STANDARD.encode(random_bytes::<16>())
}

/// A login code: 32 characters.
pub fn login_code() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<24>())
}

/// An openid: `o` and 27 characters, like WeChat's.
pub fn openid() -> String {
    let mut id = String::from("o");
    id.push_str(&URL_SAFE_NO_PAD.encode(random_bytes::<20>())[..27]);
    id
}

/// An out_trade_no filled in for a recharge that gave none: starts with `_`, as the
/// platform's do, so it can never collide with a caller's.
pub fn out_trade_no() -> String {
    let text: String = URL_SAFE_NO_PAD
        .encode(random_bytes::<24>())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(24)
        .collect();
    format!("_{text}")
}

/// A random alphanumeric string (demo credentials).
pub fn alphanumeric(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        out.extend(
            URL_SAFE_NO_PAD
                .encode(random_bytes::<32>())
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(len - out.len()),
        );
    }
    out
}

/// The platform's id of a purchase: 32 lowercase hex digits (the other ids on the wire
/// derive from it).
pub fn wx_order_id() -> String {
    let bytes = random_bytes::<16>();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
