//! Receiving pushes: the game server's side of the push channel (behaviour.md section 12),
//! for events from OpenMidas or from WeChat itself.
//!
//! [`PushReceiver`] checks a push the way WeChat's own SDKs do and hands back a typed
//! [`Push`]: the query's `signature`; in safe mode the `msg_signature`, the decryption and
//! the appid inside; for mini-game events the `PayEventSig` with the AppKey of the
//! payload's env. It does no I/O: give it the raw query string and body from any HTTP
//! framework, and answer with [`Push::reply_success`] once the event is handled.
//!
//! In plain mode the `signature` covers only the token, timestamp and nonce, not the body:
//! anyone who has seen one push can replay its query with another body. Use safe mode
//! (or rely on mini-game events' `PayEventSig`) where that matters.
//!
//! Events OpenMidas does not send (WeChat's `debug_demo` test message, complaints,
//! subscriptions, ...) are verified like any other and then answered with
//! [`ReceiveError::UnknownEvent`] naming the event; a handler may simply acknowledge them.

use std::borrow::Cow;

use openmidas_protocol::push::{
    self, decrypt, parse_content, parse_message, parse_safe_body, AesKey, EventContent, EventKind, PushError,
    PushFormat,
};
use subtle::ConstantTimeEq;

use crate::secret::Secret;

/// Why a push was refused. Answer it with [`Push::reply_failure`] (or an HTTP error):
/// the sender will retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiveError {
    /// The query's `signature` is not sha1(sort(token, timestamp, nonce)).
    #[error("bad signature")]
    BadSignature,
    /// Safe mode: `msg_signature` is missing or does not cover the `Encrypt` text.
    #[error("bad msg_signature")]
    BadMsgSignature,
    /// Safe mode: the message was encrypted for another app.
    #[error("encrypted for appid {got}, not this app")]
    WrongAppid { got: String },
    /// Safe mode: `Encrypt` does not decrypt with this EncodingAESKey.
    #[error("cannot decrypt: {0}")]
    Decrypt(PushError),
    /// A safe-mode receiver got a plaintext push (no `encrypt_type=aes`).
    #[error("safe mode is set but the push is not encrypted")]
    NotEncrypted,
    /// An encrypted push, but no EncodingAESKey was given.
    #[error("the push is encrypted but no EncodingAESKey is set")]
    NoAesKey,
    /// A mini-game event's `PayEventSig` is not HMAC-SHA256(AppKey, event & Payload).
    #[error("bad PayEventSig")]
    BadPayEventSig,
    /// A mini-game event of an env whose AppKey was not given ([`PushReceiver::app_keys`]).
    #[error("no AppKey for env {env}")]
    NoAppKey { env: u32 },
    /// A verified message whose `Event` is not one of [`EventKind`].
    #[error("unknown event {0}")]
    UnknownEvent(String),
    /// A missing query parameter, or a body that is not the expected JSON or XML.
    #[error("malformed push: {0}")]
    Malformed(String),
    /// [`PushReceiver::encoding_aes_key`] was given a bad key.
    #[error("{0}")]
    InvalidAesKey(PushError),
}

/// A verified push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub kind: EventKind,
    /// `CreateTime`, Unix seconds.
    pub create_time: i64,
    /// xpay events: 0 on the first delivery, +1 on each later one.
    pub retry_times: Option<u32>,
    pub content: EventContent,
    /// A mini-game test push ("模拟推送"): check its format, deliver nothing.
    pub is_mock: bool,
}

impl Push {
    /// The documented acknowledgement: `{"ErrCode":0,"ErrMsg":"success"}`.
    pub fn reply_success() -> &'static str {
        r#"{"ErrCode":0,"ErrMsg":"success"}"#
    }

    /// A refusal the sender will retry: `{"ErrCode":99999,"ErrMsg":<errmsg>}`.
    pub fn reply_failure(errmsg: &str) -> String {
        Self::reply_failure_code(99999, errmsg)
    }

    /// A refusal with a chosen non-zero `ErrCode`.
    pub fn reply_failure_code(errcode: i64, errmsg: &str) -> String {
        let mut object = serde_json::Map::new();
        object.insert("ErrCode".into(), errcode.into());
        object.insert("ErrMsg".into(), errmsg.into());
        serde_json::Value::Object(object).to_string()
    }
}

/// Verifies and reads pushes for one app.
#[derive(Debug, Clone)]
pub struct PushReceiver {
    token: Secret,
    appid: String,
    aes_key: Option<AesKey>,
    official_app_key: Option<Secret>,
    sandbox_app_key: Option<Secret>,
}

impl PushReceiver {
    /// A receiver in plain mode, with the push channel's Token and the app's appid.
    pub fn new(token: impl Into<String>, appid: impl Into<String>) -> PushReceiver {
        PushReceiver {
            token: Secret::new(token),
            appid: appid.into(),
            aes_key: None,
            official_app_key: None,
            sandbox_app_key: None,
        }
    }

    /// Safe mode: every push must be encrypted with this 43-character EncodingAESKey.
    pub fn encoding_aes_key(mut self, encoding_aes_key: &str) -> Result<PushReceiver, ReceiveError> {
        self.aes_key = Some(AesKey::from_encoding_aes_key(encoding_aes_key).map_err(ReceiveError::InvalidAesKey)?);
        Ok(self)
    }

    /// The AppKeys that sign mini-game events (`PayEventSig`), of env 0 and env 1. An empty
    /// key leaves that env's events refused ([`ReceiveError::NoAppKey`]).
    pub fn app_keys(mut self, official_app_key: impl Into<String>, sandbox_app_key: impl Into<String>) -> PushReceiver {
        let key = |text: String| (!text.is_empty()).then(|| Secret::new(text));
        self.official_app_key = key(official_app_key.into());
        self.sandbox_app_key = key(sandbox_app_key.into());
        self
    }

    /// The URL check (GET `?signature&timestamp&nonce&echostr`): the `echostr` to answer
    /// with, as the whole body, once the signature is right.
    pub fn verify_url(&self, query: &str) -> Result<String, ReceiveError> {
        let query = Query::parse(query)?;
        self.check_signature(&query)?;
        Ok(query.required("echostr")?.to_string())
    }

    /// Verifies and reads a push (POST): `query` is the raw query string (with or without
    /// its `?`), `body` the raw body.
    pub fn receive(&self, query: &str, body: &[u8]) -> Result<Push, ReceiveError> {
        let query = Query::parse(query)?;
        let (timestamp, nonce) = self.check_signature(&query)?;
        if body.len() > push::MAX_PUSH_BYTES {
            return Err(ReceiveError::Malformed(format!(
                "body larger than {} bytes",
                push::MAX_PUSH_BYTES
            )));
        }
        let encrypted = query.get("encrypt_type") == Some("aes");
        let plaintext: Cow<[u8]> = match (&self.aes_key, encrypted) {
            (Some(key), true) => {
                let safe = parse_safe_body(body).map_err(malformed)?;
                let provided = query.get("msg_signature").ok_or(ReceiveError::BadMsgSignature)?;
                let expected = push::msg_signature(self.token.expose(), timestamp, nonce, &safe.encrypt);
                if !same(&expected, provided) {
                    return Err(ReceiveError::BadMsgSignature);
                }
                let (msg, appid) = decrypt(key, &safe.encrypt).map_err(ReceiveError::Decrypt)?;
                if appid != self.appid {
                    return Err(ReceiveError::WrongAppid { got: appid });
                }
                Cow::Owned(msg)
            }
            (Some(_), false) => return Err(ReceiveError::NotEncrypted),
            (None, true) => return Err(ReceiveError::NoAesKey),
            (None, false) => Cow::Borrowed(body),
        };
        let message = parse_message(&plaintext).map_err(malformed)?;
        let kind = EventKind::parse(&message.event).ok_or_else(|| ReceiveError::UnknownEvent(message.event.clone()))?;
        if !kind.is_mini_game() {
            let content = parse_content(kind, &plaintext, message.format).map_err(malformed)?;
            return Ok(Push {
                kind,
                create_time: message.create_time,
                retry_times: message.retry_times,
                content,
                is_mock: false,
            });
        }
        // Mini-game events: the Payload is read for its Env (which AppKey signs it), and
        // trusted only once PayEventSig matches.
        let signed = message
            .mini_game
            .ok_or_else(|| ReceiveError::Malformed("no MiniGame object".into()))?;
        let content = parse_content(kind, signed.payload.as_bytes(), PushFormat::Json).map_err(malformed)?;
        let env = content.env();
        let app_key = match env {
            0 => self.official_app_key.as_ref(),
            1 => self.sandbox_app_key.as_ref(),
            _ => None,
        }
        .ok_or(ReceiveError::NoAppKey { env })?;
        if !push::pay_event_sig_matches(app_key.expose(), kind.as_str(), &signed.payload, &signed.pay_event_sig) {
            return Err(ReceiveError::BadPayEventSig);
        }
        Ok(Push {
            kind,
            create_time: message.create_time,
            retry_times: message.retry_times,
            content,
            is_mock: signed.is_mock,
        })
    }

    /// Checks `signature`; gives back the timestamp and nonce.
    fn check_signature<'q>(&self, query: &'q Query) -> Result<(&'q str, &'q str), ReceiveError> {
        let timestamp = query.required("timestamp")?;
        let nonce = query.required("nonce")?;
        let provided = query.get("signature").ok_or(ReceiveError::BadSignature)?;
        if !same(&push::url_signature(self.token.expose(), timestamp, nonce), provided) {
            return Err(ReceiveError::BadSignature);
        }
        Ok((timestamp, nonce))
    }
}

fn malformed(error: PushError) -> ReceiveError {
    ReceiveError::Malformed(error.to_string())
}

/// Constant-time equality of a computed signature and a provided one (the length, public,
/// may end it early).
fn same(expected: &str, provided: &str) -> bool {
    expected.as_bytes().ct_eq(provided.as_bytes()).into()
}

/// A query string's parameters, percent-decoded. A repeated parameter is refused, so that
/// no two readers can disagree on which one counts.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: &str) -> Result<Query, ReceiveError> {
        let query = query.strip_prefix('?').unwrap_or(query);
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in query.split('&').filter(|part| !part.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let (name, value) = (percent_decode(name)?, percent_decode(value)?);
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(ReceiveError::Malformed(format!("query parameter {name} is repeated")));
            }
            pairs.push((name, value));
        }
        Ok(Query(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, ReceiveError> {
        self.get(name)
            .ok_or_else(|| ReceiveError::Malformed(format!("missing query parameter {name}")))
    }
}

fn percent_decode(text: &str) -> Result<String, ReceiveError> {
    let bad = || ReceiveError::Malformed("bad percent-encoding in the query".into());
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return Err(bad());
                }
                let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
                out.push(digit(hex[0]) << 4 | digit(hex[1]));
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad())
}
