//! Apps, access tokens, login codes and sessions (behaviour.md sections 1, 2 and 6).

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

/// What `/cgi-bin/stable_token` does, given the app's current stable token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StableDecision {
    /// Answer the current token again.
    Reuse,
    /// Issue a new token; retire the current one at this instant, if any.
    Issue { retire_current_at_ms: Option<i64> },
}

/// The stable-token rules: the same token while more than 300 s of it remain; then a new
/// one, the old one living out its lifetime (the overlap); `force_refresh` rotates at once
/// and retires the old one, unless the last issue was under 30 s ago.
pub fn stable_decision(current: Option<&TokenRecord>, force_refresh: bool, now_ms: i64) -> StableDecision {
    let Some(current) = current.filter(|t| t.status(now_ms) == TokenStatus::Valid) else {
        return StableDecision::Issue {
            retire_current_at_ms: None,
        };
    };
    if force_refresh {
        if now_ms - current.issued_at_ms < STABLE_FORCE_REFRESH_MIN_INTERVAL_MS {
            return StableDecision::Reuse;
        }
        return StableDecision::Issue {
            retire_current_at_ms: Some(now_ms),
        };
    }
    if now_ms < current.expires_at_ms - TOKEN_OVERLAP_MS {
        StableDecision::Reuse
    } else {
        StableDecision::Issue {
            retire_current_at_ms: None,
        }
    }
}
