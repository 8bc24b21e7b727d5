//! The player's side (behaviour.md section 11): what the real WeChat client checks before a
//! purchase, and the fail codes it answers, for the simulated purchases of the admin API.
//! Each client API has its own code table (the same number means different things in
//! different client APIs).

pub mod game_item;
pub mod midas_payment;
pub mod virtual_payment;

use crate::limits::MAX_AMOUNT;

/// Longest `out_trade_no` / `outTradeNo`, in characters.
pub const MAX_OUT_TRADE_NO_CHARS: usize = 32;
/// Largest unit price, in fen.
pub const MAX_PRICE_FEN: i64 = MAX_AMOUNT;

/// Whether a purchase number is 1..=32 characters of `0-9 A-Z a-z _ - | *`, not starting with
/// `_` (that prefix is the platform's, for purchases it numbers itself).
pub fn is_valid_out_trade_no(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_OUT_TRADE_NO_CHARS
        && !text.starts_with('_')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*'))
}
