//! Canonical signing and verification.
//!
//! Two schemes:
//! - **Midas v1** (`/cgi-bin/midas/*`): `sig = hex(HMAC-SHA256(app_key, sig_string))` where
//!   `sig_string` is the sorted `k=v` body parameters followed by
//!   `&org_loc=<path>&method=POST&secret=<app_key>`; `mp_sig` is the same construction over
//!   those parameters plus `access_token` and `sig`, ending in `&session_key=<session_key>`
//!   and keyed with the session_key text (not base64-decoded).
//! - **2.0 / xpay** (`/wxa/game/*`, `/xpay/*`): `pay_sig = hex(HMAC-SHA256(app_key, uri + "&" + body))`
//!   and `signature = hex(HMAC-SHA256(session_key, body))`, over the exact body bytes sent.
//!   The client purchases sign the same way, with the client API's name as `uri` and
//!   signData as the body (see [`crate::client`]).
//!
//! Hex output is lowercase. v1 verification accepts either case; 2.0 wants lowercase unless
//! the app allows any ([`HexCase`]). Comparisons are constant-time.
//!
//! This module is the one signer: the server verifies with it, and the client SDK, the test
//! kit, the bench and `openmidas sign` sign with it ([`v1::sign_json`], [`v2::sign`]).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// An HMAC-SHA256 digest.
pub type Digest = [u8; 32];

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Digest {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Lowercase hex of a digest, as every Midas signature is written.
pub fn to_hex(digest: &Digest) -> String {
    hex::encode(digest)
}

/// Which hex digits a signature may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HexCase {
    /// Lowercase only, as the real 2.0 and xpay services demand.
    #[default]
    Lower,
    /// Either case (v1, and the 2.0 app option `signature_hex = "any"`).
    Any,
}

/// Whether `provided` is the hex of `expected`, in either case, compared in constant time.
///
/// Only the comparison of the digest bytes is constant-time; a malformed `provided`
/// (wrong length, not hex) is rejected early, which reveals nothing about `expected`.
pub fn hex_matches(expected: &Digest, provided: &str) -> bool {
    hex_matches_case(expected, provided, HexCase::Any)
}

/// [`hex_matches`], with the digits `case` allows.
pub fn hex_matches_case(expected: &Digest, provided: &str, case: HexCase) -> bool {
    // Which case the digits are in says nothing about the expected digest.
    if case == HexCase::Lower && provided.bytes().any(|b| b.is_ascii_uppercase()) {
        return false;
    }
    let Some(decoded) = decode_digest_hex(provided.as_bytes()) else {
        return false;
    };
    expected.ct_eq(&decoded).into()
}

/// Decodes 64 hex digits (either case) into 32 bytes; `None` if the input is anything else.
/// A table lookup per digit: this runs on every signed request, and the `hex` crate's
/// general decoder was a visible share of a getbalance's CPU.
fn decode_digest_hex(text: &[u8]) -> Option<Digest> {
    const INVALID: u8 = 0xff;
    const TABLE: [u8; 256] = {
        let mut table = [INVALID; 256];
        let mut i = 0;
        while i < 10 {
            table[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            table[b'a' as usize + i] = 10 + i as u8;
            table[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        table
    };
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut invalid = 0u8;
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let (high, low) = (TABLE[pair[0] as usize], TABLE[pair[1] as usize]);
        // Any invalid digit sets the top bit (0xff), checked once at the end.
        invalid |= high | low;
        *byte = (high << 4) | (low & 0x0f);
    }
    (invalid & 0x80 == 0).then_some(out)
}

/// The sorted `k=v&k=v` part shared by `sig` and `mp_sig`.
fn sorted_pairs<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = params.into_iter().collect();
    // Sort by key bytes; keys are unique (the body parser rejects duplicates), so the
    // value never decides the order.
    pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then(a.1.cmp(b.1)));
    let mut out = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Midas v1 `sig`: the canonical string and the signature.
pub mod v1 {
    use super::*;

    /// The string `sig` signs: the body parameters (without `sig` and `mp_sig`), sorted by key
    /// bytes, then `&org_loc=<uri>&method=POST&secret=<app_key>`.
    pub fn sig_string<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>, uri: &str, app_key: &str) -> String {
        let mut s = sorted_pairs(params);
        s.push_str("&org_loc=");
        s.push_str(uri);
        s.push_str("&method=POST&secret=");
        s.push_str(app_key);
        s
    }

    /// The digest of `sig` (see [`sig_string`]).
    pub fn sig_digest<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>, uri: &str, app_key: &str) -> Digest {
        hmac_sha256(app_key.as_bytes(), sig_string(params, uri, app_key).as_bytes())
    }

    /// `sig` as lowercase hex.
    pub fn sig<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>, uri: &str, app_key: &str) -> String {
        to_hex(&sig_digest(params, uri, app_key))
    }

    /// The string `mp_sig` signs: the same parameters plus `access_token` and `sig`, sorted,
    /// then `&org_loc=<uri>&method=POST&session_key=<session_key>`.
    pub fn mp_sig_string<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
        access_token: &'a str,
        sig: &'a str,
        uri: &str,
        session_key: &str,
    ) -> String {
        let all = params.into_iter().chain([("access_token", access_token), ("sig", sig)]);
        let mut s = sorted_pairs(all);
        s.push_str("&org_loc=");
        s.push_str(uri);
        s.push_str("&method=POST&session_key=");
        s.push_str(session_key);
        s
    }

    /// The digest of `mp_sig` (see [`mp_sig_string`]).
    pub fn mp_sig_digest<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
        access_token: &'a str,
        sig: &'a str,
        uri: &str,
        session_key: &str,
    ) -> Digest {
        let s = mp_sig_string(params, access_token, sig, uri, session_key);
        hmac_sha256(session_key.as_bytes(), s.as_bytes())
    }

    /// Both v1 signatures of a body, with the strings they sign (for `--explain`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Signed {
        /// The body with `sig` (and `mp_sig`) appended: the bytes to send.
        pub body: String,
        pub sig_string: String,
        pub sig: String,
        /// `(mp_sig_string, mp_sig)` when a session was given.
        pub mp: Option<(String, String)>,
    }

    /// Signs a JSON object body as a v1 client does: `sig` over every key sent (values as
    /// their JSON text) with the AppKey, and `mp_sig` too when `session` (access token,
    /// session_key) is given. Any `sig` / `mp_sig` already in the body is ignored and
    /// replaced; the other bytes are kept exactly, and the signatures appended.
    pub fn sign_json(
        body: &str,
        uri: &str,
        app_key: &str,
        session: Option<(&str, &str)>,
    ) -> Result<Signed, crate::json::BodyError> {
        let object = crate::json::RawObject::parse_any_size(body.as_bytes())?;
        let params: Vec<(&str, std::borrow::Cow<'_, str>)> = object
            .iter()
            .filter(|(k, _)| *k != "sig" && *k != "mp_sig")
            .map(|(k, raw)| (k, crate::json::signing_text(raw)))
            .collect();
        let pairs = || params.iter().map(|(k, v)| (*k, v.as_ref()));
        let sig_string = sig_string(pairs(), uri, app_key);
        let sig = to_hex(&hmac_sha256(app_key.as_bytes(), sig_string.as_bytes()));
        let mp = session.map(|(access_token, session_key)| {
            let text = mp_sig_string(pairs(), access_token, &sig, uri, session_key);
            let mp_sig = to_hex(&hmac_sha256(session_key.as_bytes(), text.as_bytes()));
            (text, mp_sig)
        });
        // Rebuild from the kept fields so a sig sent before is dropped, not duplicated.
        let kept: Vec<(&str, &str)> = object
            .iter()
            .filter(|(k, _)| *k != "sig" && *k != "mp_sig")
            .map(|(k, raw)| (k, raw.get()))
            .collect();
        let mut out = if kept.len() == object.len() {
            body.trim_end().strip_suffix('}').unwrap_or(body).to_string()
        } else {
            let mut text = String::from("{");
            for (i, (k, raw)) in kept.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(&serde_json::Value::String((*k).to_string()).to_string());
                text.push(':');
                text.push_str(raw);
            }
            text
        };
        let mut first = kept.is_empty();
        let mut append = |key: &str, value: &str| {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&format!("\"{key}\":\"{value}\""));
        };
        append("sig", &sig);
        if let Some((_, mp_sig)) = &mp {
            append("mp_sig", mp_sig);
        }
        out.push('}');
        Ok(Signed {
            body: out,
            sig_string,
            sig,
            mp,
        })
    }

    /// `mp_sig` as lowercase hex.
    pub fn mp_sig<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
        access_token: &'a str,
        sig: &'a str,
        uri: &str,
        session_key: &str,
    ) -> String {
        to_hex(&mp_sig_digest(params, access_token, sig, uri, session_key))
    }
}

/// Virtual payment 2.0 (`/wxa/game/*`) and xpay (`/xpay/*`) signatures.
pub mod v2 {
    use super::*;

    /// `pay_sig = hex(HMAC-SHA256(app_key, uri + "&" + raw_body))`.
    pub fn pay_sig_digest(app_key: &str, uri: &str, raw_body: &[u8]) -> Digest {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(app_key.as_bytes()).expect("HMAC takes keys of any length");
        mac.update(uri.as_bytes());
        mac.update(b"&");
        mac.update(raw_body);
        mac.finalize().into_bytes().into()
    }

    /// `pay_sig` as lowercase hex.
    pub fn pay_sig(app_key: &str, uri: &str, raw_body: &[u8]) -> String {
        to_hex(&pay_sig_digest(app_key, uri, raw_body))
    }

    /// `signature = hex(HMAC-SHA256(session_key, raw_body))` (the user login-state signature).
    pub fn signature_digest(session_key: &str, raw_body: &[u8]) -> Digest {
        hmac_sha256(session_key.as_bytes(), raw_body)
    }

    /// `signature` as lowercase hex.
    pub fn signature(session_key: &str, raw_body: &[u8]) -> String {
        to_hex(&signature_digest(session_key, raw_body))
    }

    /// Both 2.0 signatures of a body, and what they sign (for `--explain`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Signed {
        /// What `pay_sig` signs: `uri & body`.
        pub pay_sig_message: String,
        pub pay_sig: String,
        /// `signature`, when a session_key was given.
        pub signature: Option<String>,
    }

    impl Signed {
        /// The query string of the request: `access_token`, then `signature`, `sig_method`
        /// and `pay_sig` (percent-encoding is not needed: all are URL-safe).
        pub fn query(&self, access_token: &str) -> String {
            let mut query = format!("access_token={access_token}");
            if let Some(signature) = &self.signature {
                query.push_str("&signature=");
                query.push_str(signature);
            }
            query.push_str("&sig_method=hmac_sha256&pay_sig=");
            query.push_str(&self.pay_sig);
            query
        }
    }

    /// Signs a 2.0 body (the exact bytes to send) for `uri` with the AppKey of the body's
    /// env, and with the player's session_key when given.
    pub fn sign(uri: &str, body: &str, app_key: &str, session_key: Option<&str>) -> Signed {
        Signed {
            pay_sig_message: format!("{uri}&{body}"),
            pay_sig: pay_sig(app_key, uri, body.as_bytes()),
            signature: session_key.map(|key| signature(key, body.as_bytes())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_only_refuses_any_uppercase_digit() {
        let d = hmac_sha256(b"k", b"m");
        let lower = to_hex(&d);
        assert!(hex_matches_case(&d, &lower, HexCase::Lower));
        assert!(!hex_matches_case(&d, &lower.to_uppercase(), HexCase::Lower));
        assert!(hex_matches_case(&d, &lower.to_uppercase(), HexCase::Any));
    }

    #[test]
    fn v1_sign_json_appends_and_replaces() {
        let a = v1::sign_json(r#"{"b":1,"a":"x"}"#, "/u", "k", None).unwrap();
        assert!(a.body.starts_with(r#"{"b":1,"a":"x","sig":""#), "{}", a.body);
        assert_eq!(a.sig_string, "a=x&b=1&org_loc=/u&method=POST&secret=k");
        // Re-signing a signed body gives the same bytes: the old sig is not signed.
        let again = v1::sign_json(&a.body, "/u", "k", None).unwrap();
        assert_eq!(again.sig, a.sig);
        assert_eq!(again.body.matches("\"sig\"").count(), 1);
        let empty = v1::sign_json("{ }", "/u", "k", Some(("t", "s"))).unwrap();
        assert!(empty.body.starts_with(r#"{ "sig":""#) && empty.body.contains(r#","mp_sig":""#));
        serde_json::from_str::<serde_json::Value>(&empty.body).unwrap();
    }

    #[test]
    fn hex_matches_accepts_both_cases_and_rejects_garbage() {
        let d = hmac_sha256(b"k", b"m");
        let lower = to_hex(&d);
        assert!(hex_matches(&d, &lower));
        assert!(hex_matches(&d, &lower.to_uppercase()));
        assert!(!hex_matches(&d, &lower[..63]));
        assert!(!hex_matches(&d, ""));
        assert!(!hex_matches(&d, &format!("{}zz", &lower[..62])));
        let other = hmac_sha256(b"k", b"n");
        assert!(!hex_matches(&d, &to_hex(&other)));
    }

    proptest::proptest! {
        /// The table decoder agrees with the `hex` crate on any 64 bytes, hex or not.
        #[test]
        fn digest_hex_decoder_agrees_with_the_hex_crate(
            text in proptest::collection::vec(proptest::prop_oneof![
                proptest::sample::select(b"0123456789abcdefABCDEF".to_vec()),
                proptest::prelude::any::<u8>(),
            ], 64)
        ) {
            let mut expected = [0u8; 32];
            let expected = hex::decode_to_slice(&text, &mut expected).ok().map(|_| expected);
            proptest::prop_assert_eq!(decode_digest_hex(&text), expected);
        }
    }
}
