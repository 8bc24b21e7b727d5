//! Secrets (AppSecret, AppKey, session_key, access_token): never in `Debug` or logs.

use std::fmt;

/// A secret string. `Debug` and `Display` print `***`; [`Secret::expose`] gives the text to
/// the code that signs or sends it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret text. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Secret {
        Secret(text)
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Secret {
        Secret(text.to_string())
    }
}

/// A player's `session_key` (from `jscode2session`): the key of `mp_sig`. Passed per call.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey(Secret);

impl SessionKey {
    pub fn new(text: impl Into<String>) -> SessionKey {
        SessionKey(Secret::new(text))
    }

    /// The base64 text, used as-is as the HMAC key. Never log it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(***)")
    }
}

impl From<String> for SessionKey {
    fn from(text: String) -> SessionKey {
        SessionKey::new(text)
    }
}

impl From<&str> for SessionKey {
    fn from(text: &str) -> SessionKey {
        SessionKey::new(text)
    }
}

/// An `access_token`. It goes in the query string only; `Debug` shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Secret);

impl AccessToken {
    pub fn new(text: impl Into<String>) -> AccessToken {
        AccessToken(Secret::new(text))
    }

    /// The token text. Never log it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(s.expose(), "hunter2");
        assert!(!format!("{:?}", SessionKey::new("V7Q38/i2KXaqrQyl2Yx9Hg==")).contains("V7Q38"));
        assert!(!format!("{:?}", AccessToken::new("tok-123")).contains("tok-123"));
    }
}
