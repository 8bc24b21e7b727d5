//! Limits every dialect shares (each dialect adds its own in its module).

/// Largest coin amount of one order (`amt`, `amount`, `present_counts`, `buy_quantity`).
pub const MAX_AMOUNT: i64 = 1_000_000_000;
/// Longest `openid`, `zone_id`, `pf`, `appid` and `offer_id`, in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Longest `bill_no`, in characters (ASCII, so also bytes).
pub const MAX_BILL_NO_CHARS: usize = 63;
/// Longest `user_ip`, in bytes.
pub const MAX_USER_IP_BYTES: usize = 64;
/// Longest free-text field (`pay_item`, `app_remark`, `payitem`, `remark`), in bytes.
pub const MAX_REMARK_BYTES: usize = 1024;
