//! Whether the game server's answer acknowledges a push (behaviour.md section 12;
//! wechat-reference-vp2-xpay.md sections 3.3 and 3.4).

use serde_json::Value;

use super::crypto::{decrypt, AesKey};
use super::xml;
use super::{AckPolicy, PushFormat, MAX_PUSH_BYTES};

/// The judgement of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    Accepted,
    /// Why not (kept as the event's `last_reply`).
    Refused(String),
}

impl Ack {
    pub fn is_accepted(&self) -> bool {
        matches!(self, Ack::Accepted)
    }
}

/// The longest piece of a reply quoted in a refusal, in characters.
const QUOTE_CHARS: usize = 200;

/// Judges a reply: accepted iff the status is 200 and the body (trimmed) is empty,
/// `success`, or carries `ErrCode` 0 in JSON or XML (the documented XML sample's
/// `<Errcode>0</ErrCode>` too). A reply with an `Encrypt` field is decrypted with `key`
/// (its appid must be `appid`) and judged the same way. [`AckPolicy::Lenient`] also takes
/// `errcode` 0 in any case of the name.
pub fn ack(status: u16, body: &[u8], policy: AckPolicy, key: Option<&AesKey>, appid: &str) -> Ack {
    if status != 200 {
        return Ack::Refused(format!("HTTP {status}"));
    }
    if body.len() > MAX_PUSH_BYTES {
        return Ack::Refused(format!("body is larger than {MAX_PUSH_BYTES} bytes"));
    }
    judge(body, policy, key, appid, true)
}

fn judge(body: &[u8], policy: AckPolicy, key: Option<&AesKey>, appid: &str, may_decrypt: bool) -> Ack {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() || text == "success" {
        return Ack::Accepted;
    }
    // (name as found, its value's text) of the fields that can decide.
    let (encrypt, code) = match PushFormat::detect(text.as_bytes()) {
        Some(PushFormat::Json) => match serde_json::from_str::<serde_json::Map<String, Value>>(text) {
            Ok(object) => {
                let encrypt = object.get("Encrypt").and_then(Value::as_str).map(str::to_string);
                let code = object
                    .iter()
                    .find(|(name, _)| is_errcode_name(name, policy, false))
                    .map(|(name, value)| (name.clone(), json_code_text(value)));
                (encrypt, code)
            }
            Err(_) => (None, None),
        },
        Some(PushFormat::Xml) => match xml::flat_children(text) {
            Ok(children) => {
                let encrypt = children.iter().find(|(n, _)| n == "Encrypt").map(|(_, v)| v.clone());
                let code = children
                    .into_iter()
                    .find(|(name, _)| is_errcode_name(name, policy, true));
                (encrypt, code)
            }
            Err(_) => (None, None),
        },
        None => (None, None),
    };
    if let (Some(encrypt), true) = (encrypt, may_decrypt) {
        let Some(key) = key else {
            return Ack::Refused("encrypted reply, but the channel has no EncodingAESKey".into());
        };
        return match decrypt(key, &encrypt) {
            Err(e) => Ack::Refused(format!("encrypted reply does not decrypt: {e}")),
            Ok((_, got)) if got != appid => Ack::Refused(format!("encrypted reply is for appid {}", quote(&got))),
            Ok((msg, _)) => judge(&msg, policy, Some(key), appid, false),
        };
    }
    match code {
        Some((name, value)) => match value.trim().parse::<i64>() {
            Ok(0) => Ack::Accepted,
            Ok(n) => Ack::Refused(format!("{name} {n}")),
            Err(_) => Ack::Refused(format!("{name} is not a number: {}", quote(&value))),
        },
        None => Ack::Refused(format!("body is not empty, success or ErrCode 0: {}", quote(text))),
    }
}

/// `ErrCode` (and, in XML, the documented sample's `Errcode`); lenient: any case.
fn is_errcode_name(name: &str, policy: AckPolicy, xml: bool) -> bool {
    match policy {
        AckPolicy::Lenient => name.eq_ignore_ascii_case("errcode"),
        AckPolicy::Strict => name == "ErrCode" || (xml && name == "Errcode"),
    }
}

/// A JSON code's text: numbers as written; anything else marked so it does not parse.
fn json_code_text(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        other => format!("({other})"),
    }
}

fn quote(text: &str) -> String {
    if text.chars().count() <= QUOTE_CHARS {
        text.to_string()
    } else {
        let cut: String = text.chars().take(QUOTE_CHARS).collect();
        format!("{cut}...")
    }
}
