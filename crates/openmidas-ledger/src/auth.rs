//! Apps, access tokens, login codes and sessions (behaviour.md sections 1, 2 and 6): the
//! rules every store applies (which token to issue, which to retire, whether a code may be
//! exchanged), as pure functions. [`crate::store::Write::plan`] turns them into row writes.

use std::fmt;

/// How long an access token lives.
pub const ACCESS_TOKEN_TTL_MS: i64 = 7200 * 1000;
/// How long a replaced token keeps working, and how early a stable token is rotated.
pub const TOKEN_OVERLAP_MS: i64 = 300 * 1000;
/// A `force_refresh` within this long of the last issue returns the same stable token.
pub const STABLE_FORCE_REFRESH_MIN_INTERVAL_MS: i64 = 30 * 1000;
/// How long a login code can be exchanged.
pub const LOGIN_CODE_TTL_MS: i64 = 300 * 1000;

/// What a repeated `bill_no` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicateBillPolicy {
    /// 90012, carrying the original result when the parameters match (the default).
    #[default]
    Reject,
    /// errcode 0 with the original result (compatibility option `duplicate_bill_no = "replay"`).
    Replay,
}

impl DuplicateBillPolicy {
    pub const fn as_str(self) -> &'static str {
        match self {
            DuplicateBillPolicy::Reject => "reject",
            DuplicateBillPolicy::Replay => "replay",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "reject" => Some(DuplicateBillPolicy::Reject),
            "replay" => Some(DuplicateBillPolicy::Replay),
            _ => None,
        }
    }
}

/// Which hex digits 2.0 signatures may use (app option `signature_hex`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureHex {
    /// Lowercase only, as the real service (the default).
    #[default]
    Lower,
    /// Either case.
    Any,
}

impl SignatureHex {
    pub const fn as_str(self) -> &'static str {
        match self {
            SignatureHex::Lower => "lower",
            SignatureHex::Any => "any",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "lower" => Some(SignatureHex::Lower),
            "any" => Some(SignatureHex::Any),
            _ => None,
        }
    }
}

/// Which characters a 2.0 `bill_no` may use (app option `bill_no_charset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BillNoCharset {
    /// 2.0's rule: `0-9 A-Z a-z _ -`, not starting with `_` (the default).
    #[default]
    V2,
    /// v1's rule: `0-9 A-Z a-z _ - | * @`.
    V1,
}

impl BillNoCharset {
    pub const fn as_str(self) -> &'static str {
        match self {
            BillNoCharset::V2 => "v2",
            BillNoCharset::V1 => "v1",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "v2" => Some(BillNoCharset::V2),
            "v1" => Some(BillNoCharset::V1),
            _ => None,
        }
    }
}

/// The longest of the app options that are durations (`ts_window_secs`,
/// `cancel_window_secs`, `session_ttl_secs`): a year.
pub const MAX_OPTION_SECS: u32 = 366 * 86_400;
/// The highest `coin_price_fen`: 10,000 yuan a coin.
pub const MAX_COIN_PRICE_FEN: u32 = 1_000_000;
/// The longest appid and offer_id, in bytes.
pub const MAX_APP_ID_BYTES: usize = 128;
/// The longest secret or key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;

/// How long after a pay it may be refunded or cancelled, by default (48 h).
pub const DEFAULT_CANCEL_WINDOW_SECS: u32 = 48 * 3600;
/// What a coin costs the player, by default, in fen.
pub const DEFAULT_COIN_PRICE_FEN: u32 = 10;
/// How many access tokens of each kind an app may be issued in 24 h, by default: WeChat's
/// documented quota of `/cgi-bin/token`.
pub const DEFAULT_TOKEN_DAILY_LIMIT: u32 = 2000;
/// The highest `token_daily_limit`.
pub const MAX_TOKEN_DAILY_LIMIT: u32 = 1_000_000;
/// The window of the daily token quota: the last 24 h on the server's clock.
pub const TOKEN_QUOTA_WINDOW_MS: i64 = 86_400_000;

/// A configured app. Its `Debug` hides the secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct App {
    pub appid: String,
    /// AppSecret, for `/cgi-bin/token` and `/sns/jscode2session`.
    pub secret: String,
    pub offer_id: String,
    /// The official Midas AppKey.
    pub app_key: String,
    pub sandbox_app_key: String,
    /// Answer 90009 when `mp_sig` is absent.
    pub require_mp_sig: bool,
    /// When set, a `ts` further than this from now answers 90018.
    pub ts_window_secs: Option<u32>,
    pub duplicate_bill_no: DuplicateBillPolicy,
    /// How long after a pay it may be refunded or cancelled (behaviour.md section 8).
    pub cancel_window_secs: u32,
    pub signature_hex: SignatureHex,
    pub bill_no_charset: BillNoCharset,
    /// What a coin costs, in fen: the price of coin purchases.
    pub coin_price_fen: u32,
    /// When set, a session older than this no longer signs (the player logs in again).
    pub session_ttl_secs: Option<u32>,
    /// How long an xpay `refund_order` stays in progress before it completes (behaviour.md
    /// section 10.2), on the server's clock.
    pub refund_delay_secs: u32,
    /// How many access tokens of each kind (`/cgi-bin/token`, `/cgi-bin/stable_token`) the
    /// app may be issued in the last 24 h; the next issue answers 45009 (behaviour.md
    /// section 1).
    pub token_daily_limit: u32,
    /// Where and how events are pushed (behaviour.md section 12); `None`: no pushes.
    pub push: Option<crate::push::PushSettings>,
}

impl App {
    /// An app with these credentials and every option at its default.
    pub fn new(appid: &str, secret: &str, offer_id: &str, app_key: &str, sandbox_app_key: &str) -> App {
        App {
            appid: appid.to_string(),
            secret: secret.to_string(),
            offer_id: offer_id.to_string(),
            app_key: app_key.to_string(),
            sandbox_app_key: sandbox_app_key.to_string(),
            require_mp_sig: false,
            ts_window_secs: None,
            duplicate_bill_no: DuplicateBillPolicy::default(),
            cancel_window_secs: DEFAULT_CANCEL_WINDOW_SECS,
            signature_hex: SignatureHex::default(),
            bill_no_charset: BillNoCharset::default(),
            coin_price_fen: DEFAULT_COIN_PRICE_FEN,
            session_ttl_secs: None,
            refund_delay_secs: 0,
            token_daily_limit: DEFAULT_TOKEN_DAILY_LIMIT,
            push: None,
        }
    }

    /// The AppKey of an environment.
    pub fn key_for(&self, env: crate::account::Env) -> &str {
        match env {
            crate::account::Env::Official => &self.app_key,
            crate::account::Env::Sandbox => &self.sandbox_app_key,
        }
    }

    pub fn cancel_window_ms(&self) -> i64 {
        i64::from(self.cancel_window_secs) * 1000
    }

    /// Whether every field is within its range (the admin API and the config file accept the
    /// same apps). The problem names the field.
    pub fn validate(&self) -> Result<(), String> {
        for (name, value, max) in [
            ("appid", &self.appid, MAX_APP_ID_BYTES),
            ("offer_id", &self.offer_id, MAX_APP_ID_BYTES),
            ("secret", &self.secret, MAX_KEY_BYTES),
            ("app_key", &self.app_key, MAX_KEY_BYTES),
            ("sandbox_app_key", &self.sandbox_app_key, MAX_KEY_BYTES),
        ] {
            if value.is_empty() || value.len() > max {
                return Err(format!("{name} must be 1 to {max} bytes"));
            }
        }
        // An appid travels in queries, paths of the dashboard and log lines: WeChat's are
        // letters and digits; `_` and `-` are allowed for test apps.
        if !self
            .appid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format!("appid {:?} may only hold letters, digits, _ and -", self.appid));
        }
        let durations = [
            ("ts_window_secs", self.ts_window_secs, 1),
            ("session_ttl_secs", self.session_ttl_secs, 1),
            ("cancel_window_secs", Some(self.cancel_window_secs), 0),
            ("refund_delay_secs", Some(self.refund_delay_secs), 0),
        ];
        for (name, value, min) in durations {
            if value.is_some_and(|v| v < min || v > MAX_OPTION_SECS) {
                return Err(format!("{name} must be {min} to {MAX_OPTION_SECS}"));
            }
        }
        if self.token_daily_limit == 0 || self.token_daily_limit > MAX_TOKEN_DAILY_LIMIT {
            return Err(format!("token_daily_limit must be 1 to {MAX_TOKEN_DAILY_LIMIT}"));
        }
        if self.coin_price_fen == 0 || self.coin_price_fen > MAX_COIN_PRICE_FEN {
            return Err(format!("coin_price_fen must be 1 to {MAX_COIN_PRICE_FEN}"));
        }
        if let Some(push) = &self.push {
            push.check()?;
        }
        Ok(())
    }
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("appid", &self.appid)
            .field("offer_id", &self.offer_id)
            .field("secret", &"<redacted>")
            .field("app_key", &"<redacted>")
            .field("sandbox_app_key", &"<redacted>")
            .field("require_mp_sig", &self.require_mp_sig)
            .field("ts_window_secs", &self.ts_window_secs)
            .field("duplicate_bill_no", &self.duplicate_bill_no)
            .field("cancel_window_secs", &self.cancel_window_secs)
            .field("signature_hex", &self.signature_hex)
            .field("bill_no_charset", &self.bill_no_charset)
            .field("coin_price_fen", &self.coin_price_fen)
            .field("session_ttl_secs", &self.session_ttl_secs)
            .field("refund_delay_secs", &self.refund_delay_secs)
            .field("token_daily_limit", &self.token_daily_limit)
            .field("push", &self.push)
            .finish()
    }
}

/// Which endpoint issued a token: the two families never affect each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `/cgi-bin/token`.
    Basic,
    /// `/cgi-bin/stable_token`.
    Stable,
}

impl TokenKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenKind::Basic => "basic",
            TokenKind::Stable => "stable",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "basic" => Some(TokenKind::Basic),
            "stable" => Some(TokenKind::Stable),
            _ => None,
        }
    }
}

/// An issued access token.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub token: String,
    pub appid: String,
    pub kind: TokenKind,
    pub issued_at_ms: i64,
    pub expires_at_ms: i64,
    /// From this instant the token is no longer the latest (a newer one replaced it).
    pub retired_at_ms: Option<i64>,
}

impl fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRecord")
            .field("token", &redact_token(&self.token))
            .field("appid", &self.appid)
            .field("kind", &self.kind)
            .field("issued_at_ms", &self.issued_at_ms)
            .field("expires_at_ms", &self.expires_at_ms)
            .field("retired_at_ms", &self.retired_at_ms)
            .finish()
    }
}

/// The first characters of a token, safe for logs.
pub fn redact_token(token: &str) -> String {
    let prefix: String = token.chars().take(6).collect();
    format!("{prefix}...")
}

/// A token's standing at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Valid,
    /// Replaced by a newer token and past the overlap: 40001.
    Retired,
    /// Past its lifetime: 42001.
    Expired,
}

impl TokenRecord {
    pub fn status(&self, now_ms: i64) -> TokenStatus {
        if self.retired_at_ms.is_some_and(|at| now_ms >= at) {
            TokenStatus::Retired
        } else if now_ms >= self.expires_at_ms {
            TokenStatus::Expired
        } else {
            TokenStatus::Valid
        }
    }

    /// `expires_in` as answered: whole seconds left, at least 0.
    pub fn expires_in_secs(&self, now_ms: i64) -> i64 {
        ((self.expires_at_ms - now_ms) / 1000).max(0)
    }
}

/// A login code minted by `/admin/login` (the simulated `wx.login`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCode {
    pub code: String,
    pub appid: String,
    pub openid: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

/// Why a login code was not exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Unknown, another app's, or expired: 40029.
    Invalid,
    /// Exchanged before: 40163.
    Used,
}

/// A login code as a store reads it back, for [`redeem_decision`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    pub appid: String,
    pub openid: String,
    pub expires_at_ms: i64,
    pub used_at_ms: Option<i64>,
}

/// Whether `appid` may exchange this code at `now_ms`: unknown, another app's or expired
/// codes are invalid (40029), an exchanged one is used (40163). Every store applies this in
/// the transaction that then marks the code used.
pub fn redeem_decision(stored: Option<&StoredCode>, appid: &str, now_ms: i64) -> Result<(), CodeRefusal> {
    match stored {
        None => Err(CodeRefusal::Invalid),
        Some(code) if code.appid != appid => Err(CodeRefusal::Invalid),
        Some(code) if code.used_at_ms.is_some() => Err(CodeRefusal::Used),
        Some(code) if now_ms >= code.expires_at_ms => Err(CodeRefusal::Invalid),
        Some(_) => Ok(()),
    }
}

/// A player's current session. The newest session_key of `(appid, openid)` is the valid one.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub appid: String,
    pub openid: String,
    pub session_key: String,
    pub created_at_ms: i64,
}

impl Session {
    /// Whether the session still signs at `now_ms`: always, unless the app gives sessions a
    /// lifetime (`session_ttl_secs`).
    pub fn is_live(&self, ttl_secs: Option<u32>, now_ms: i64) -> bool {
        ttl_secs.is_none_or(|ttl| now_ms - self.created_at_ms <= i64::from(ttl) * 1000)
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("appid", &self.appid)
            .field("openid", &self.openid)
            .field("session_key", &"<redacted>")
            .field("created_at_ms", &self.created_at_ms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stable(issued_at_ms: i64) -> TokenRecord {
        fresh_token("a", "old".into(), TokenKind::Stable, issued_at_ms)
    }

    fn issued(plan: StablePlan) -> TokenIssue {
        match plan {
            StablePlan::Issue(issue) => issue,
            StablePlan::Reuse(t) => panic!("reused {t:?}"),
        }
    }

    #[test]
    fn stable_token_plans() {
        let now = 1_000_000;
        // No current token: issue, nothing to retire.
        let first = issued(stable_plan("a", None, "new".into(), false, now));
        assert_eq!(first.retire_others_at_ms, None);
        assert_eq!(first.record, fresh_token("a", "new".into(), TokenKind::Stable, now));
        // Plenty of life left: the same token.
        let current = stable(now - 100_000);
        assert_eq!(
            stable_plan("a", Some(current.clone()), "new".into(), false, now),
            StablePlan::Reuse(current.clone())
        );
        // Within the last 300 s: a new one; the old one lives out its lifetime.
        let late = current.expires_at_ms - TOKEN_OVERLAP_MS;
        let rotated = issued(stable_plan("a", Some(current.clone()), "new".into(), false, late));
        assert_eq!(rotated.retire_others_at_ms, Some(current.expires_at_ms));
        assert_eq!(rotated.record.issued_at_ms, late);
        // force_refresh: at once, retiring the old one now; but not twice within 30 s.
        let forced = issued(stable_plan("a", Some(current.clone()), "new".into(), true, now));
        assert_eq!(forced.retire_others_at_ms, Some(now));
        let fresh = stable(now - STABLE_FORCE_REFRESH_MIN_INTERVAL_MS + 1);
        assert_eq!(
            stable_plan("a", Some(fresh.clone()), "new".into(), true, now),
            StablePlan::Reuse(fresh)
        );
        // An expired current token: a new one.
        let expired = stable(now - ACCESS_TOKEN_TTL_MS);
        let replaced = issued(stable_plan("a", Some(expired.clone()), "new".into(), false, now));
        assert_eq!(replaced.retire_others_at_ms, Some(expired.expires_at_ms));
    }

    #[test]
    fn basic_token_plan() {
        let issue = TokenIssue::basic("a", "t".into(), 5);
        assert_eq!(issue.retire_others_at_ms, Some(5 + TOKEN_OVERLAP_MS));
        assert_eq!(issue.record.expires_at_ms, 5 + ACCESS_TOKEN_TTL_MS);
        assert_eq!(issue.record.kind, TokenKind::Basic);
    }

    #[test]
    fn token_status_over_time() {
        let t = TokenRecord {
            token: "abcdefghij".into(),
            appid: "a".into(),
            kind: TokenKind::Basic,
            issued_at_ms: 0,
            expires_at_ms: ACCESS_TOKEN_TTL_MS,
            retired_at_ms: None,
        };
        assert_eq!(t.status(0), TokenStatus::Valid);
        assert_eq!(t.status(ACCESS_TOKEN_TTL_MS - 1), TokenStatus::Valid);
        assert_eq!(t.status(ACCESS_TOKEN_TTL_MS), TokenStatus::Expired);
        let retired = TokenRecord {
            retired_at_ms: Some(1000),
            ..t.clone()
        };
        assert_eq!(retired.status(999), TokenStatus::Valid);
        assert_eq!(retired.status(1000), TokenStatus::Retired);
        assert!(!format!("{t:?}").contains("abcdefghij"));
    }

    #[test]
    fn app_ranges() {
        let app = App::new("wx", "s", "o", "k", "sk");
        assert_eq!(app.validate(), Ok(()));
        let bad = [
            App {
                ts_window_secs: Some(0),
                ..app.clone()
            },
            App {
                session_ttl_secs: Some(MAX_OPTION_SECS + 1),
                ..app.clone()
            },
            App {
                cancel_window_secs: MAX_OPTION_SECS + 1,
                ..app.clone()
            },
            App {
                coin_price_fen: 0,
                ..app.clone()
            },
            App {
                app_key: "k".repeat(MAX_KEY_BYTES + 1),
                ..app.clone()
            },
            App {
                offer_id: String::new(),
                ..app.clone()
            },
            App {
                appid: "bad appid!".into(),
                ..app.clone()
            },
            App {
                appid: "wx/../x".into(),
                ..app.clone()
            },
        ];
        for app in bad {
            assert!(app.validate().is_err(), "{app:?}");
        }
        assert_eq!(
            App {
                appid: "bad appid!".into(),
                ..app.clone()
            }
            .validate(),
            Err("appid \"bad appid!\" may only hold letters, digits, _ and -".into())
        );
        assert_eq!(
            App {
                cancel_window_secs: 0,
                appid: "wx_test-app01".into(),
                ..app
            }
            .validate(),
            Ok(())
        );
    }

    #[test]
    fn login_code_rules() {
        let code = StoredCode {
            appid: "a".into(),
            openid: "o".into(),
            expires_at_ms: 100,
            used_at_ms: None,
        };
        assert_eq!(redeem_decision(None, "a", 0), Err(CodeRefusal::Invalid));
        assert_eq!(redeem_decision(Some(&code), "b", 0), Err(CodeRefusal::Invalid));
        assert_eq!(redeem_decision(Some(&code), "a", 99), Ok(()));
        assert_eq!(redeem_decision(Some(&code), "a", 100), Err(CodeRefusal::Invalid));
        let used = StoredCode {
            used_at_ms: Some(5),
            ..code
        };
        assert_eq!(redeem_decision(Some(&used), "a", 200), Err(CodeRefusal::Used));
    }
}

/// How a store issues a token, decided here so every store does exactly the same, in one
/// transaction and in this order: retire the app's unretired tokens of this kind at
/// `retire_others_at_ms` (if set), delete the app's tokens that expired over a day ago
/// (they can only answer 40001, as unknown ones do), insert `record`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIssue {
    pub retire_others_at_ms: Option<i64>,
    pub record: TokenRecord,
}

impl TokenIssue {
    /// `/cgi-bin/token`: the new token is the latest at once; the previous ones stay valid
    /// for the overlap.
    pub fn basic(appid: &str, token: String, now_ms: i64) -> TokenIssue {
        TokenIssue {
            retire_others_at_ms: Some(now_ms + TOKEN_OVERLAP_MS),
            record: fresh_token(appid, token, TokenKind::Basic, now_ms),
        }
    }
}

fn fresh_token(appid: &str, token: String, kind: TokenKind, now_ms: i64) -> TokenRecord {
    TokenRecord {
        token,
        appid: appid.to_string(),
        kind,
        issued_at_ms: now_ms,
        expires_at_ms: now_ms + ACCESS_TOKEN_TTL_MS,
        retired_at_ms: None,
    }
}

/// The app was issued its `token_daily_limit` of tokens of this kind in the last 24 h:
/// the issue answers 45009 and issues nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("reach max api daily quota limit")]
pub struct TokenQuotaReached;

/// What `/cgi-bin/stable_token` does, given the app's current stable token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StablePlan {
    /// Answer the current token again.
    Reuse(TokenRecord),
    /// Issue `candidate` as the new current token.
    Issue(TokenIssue),
}

/// The stable-token rules: the same token while more than 300 s of it remain; then a new
/// one, the old one living out its lifetime (the overlap); `force_refresh` rotates at once
/// and retires the old one, unless the last issue was under 30 s ago.
pub fn stable_plan(
    appid: &str,
    current: Option<TokenRecord>,
    candidate: String,
    force_refresh: bool,
    now_ms: i64,
) -> StablePlan {
    let valid = current.as_ref().filter(|t| t.status(now_ms) == TokenStatus::Valid);
    let reuse = match valid {
        Some(t) if force_refresh => now_ms - t.issued_at_ms < STABLE_FORCE_REFRESH_MIN_INTERVAL_MS,
        Some(t) => now_ms < t.expires_at_ms - TOKEN_OVERLAP_MS,
        None => false,
    };
    let retire_others_at_ms = match valid {
        Some(_) if force_refresh => Some(now_ms),
        // The old token lives out its lifetime but is no longer the current one.
        _ => current.as_ref().map(|t| t.expires_at_ms),
    };
    match current {
        Some(current) if reuse => StablePlan::Reuse(current),
        _ => StablePlan::Issue(TokenIssue {
            retire_others_at_ms,
            record: fresh_token(appid, candidate, TokenKind::Stable, now_ms),
        }),
    }
}
