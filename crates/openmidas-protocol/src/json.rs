//! The JSON body reader every dialect shares.
//!
//! [`RawObject`] parses a request body into its keys and each value's raw text, in the
//! order sent, borrowing from the body: v1 signs values "as their JSON text", 2.0 and xpay
//! sign the raw bytes, and both need the text exactly as sent. The primitives below
//! ([`kind`], [`string_text`], [`integer`]) read values; each dialect turns their results
//! into its own field rules and errmsgs.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Largest accepted request body, in bytes (a larger one is answered 413).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a body is not a JSON object we can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than [`MAX_BODY_BYTES`].
    TooLarge,
    /// Not JSON at all (serde_json's message, with line and column).
    InvalidJson(String),
    /// Valid JSON, but not an object.
    NotAnObject,
    /// The same key twice: which one would be signed is ambiguous, so neither is.
    DuplicateKey(String),
}

impl BodyError {
    /// A description that names the problem.
    pub fn errmsg(&self) -> String {
        match self {
            BodyError::TooLarge => format!("request body exceeds {MAX_BODY_BYTES} bytes"),
            BodyError::InvalidJson(detail) => format!("request body is not valid JSON: {detail}"),
            BodyError::NotAnObject => "request body must be a JSON object".to_string(),
            BodyError::DuplicateKey(key) => format!("[{key}] {key} appears more than once"),
        }
    }
}

/// A JSON object with every value's text kept exactly as sent, in the order sent.
#[derive(Debug)]
pub struct RawObject<'a> {
    /// Keys borrow from the body unless they contain escapes.
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> RawObject<'a> {
    /// Parses a body that must be a JSON object with unique keys, of at most
    /// [`MAX_BODY_BYTES`].
    pub fn parse(body: &'a [u8]) -> Result<RawObject<'a>, BodyError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        RawObject::parse_any_size(body)
    }

    /// [`RawObject::parse`] without the size limit: for signing what a caller built (tests
    /// sign bodies over the limit on purpose), never for reading requests.
    pub fn parse_any_size(body: &'a [u8]) -> Result<RawObject<'a>, BodyError> {
        match serde_json::from_slice::<RawObject<'a>>(body) {
            Ok(object) => Ok(object),
            Err(e) => {
                let text = e.to_string();
                if let Some(key) = text.strip_prefix(DUPLICATE_PREFIX) {
                    let key = key.split('\u{0}').next().unwrap_or_default().to_string();
                    return Err(BodyError::DuplicateKey(key));
                }
                if e.classify() == serde_json::error::Category::Data {
                    Err(BodyError::NotAnObject)
                } else {
                    Err(BodyError::InvalidJson(text))
                }
            }
        }
    }

    /// The raw value of `key`, if sent.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// Every `(key, raw value)`, in the order sent.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &'a RawValue)> {
        self.fields.iter().map(|(k, v)| (k.as_ref(), *v))
    }

    /// Every `(key, raw value)` with the key as parsed (borrowed from the body when it can be).
    pub fn entries(&self) -> impl Iterator<Item = &(Cow<'a, str>, &'a RawValue)> {
        self.fields.iter()
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

// A marker that lets `parse` tell a duplicate key from other data errors.
const DUPLICATE_PREFIX: &str = "openmidas-duplicate-key:";

impl<'de: 'a, 'a> Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = RawObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::new();
                // A request has about ten keys: a scan is cheapest. A 64 KiB body can hold
                // thousands, where a scan per key would be quadratic: past a few, a set.
                let mut seen: Option<std::collections::HashSet<Cow<'de, str>>> = None;
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    let repeated = match &mut seen {
                        Some(seen) => !seen.insert(key.clone()),
                        None if fields.len() < 32 => fields.iter().any(|(k, _)| *k == key),
                        None => {
                            let mut set: std::collections::HashSet<Cow<'de, str>> =
                                fields.iter().map(|(k, _)| k.clone()).collect();
                            let repeated = !set.insert(key.clone());
                            seen = Some(set);
                            repeated
                        }
                    };
                    if repeated {
                        return Err(de::Error::custom(format!("{DUPLICATE_PREFIX}{key}\u{0}")));
                    }
                    let value: &'de RawValue = map.next_value()?;
                    fields.push((key, value));
                }
                Ok(RawObject { fields })
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// An object key, borrowed from the body unless it has escapes (a request has about ten
/// keys; not allocating them matters on the hot path).
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The JSON type of a value, with numbers told apart the way field rules need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    String,
    /// A number without fraction or exponent that fits an `i64`.
    Integer(i64),
    /// A number without fraction or exponent beyond the `i64` range.
    BigInteger,
    /// A number with a fraction or an exponent.
    Fraction,
    Bool,
    Null,
    Object,
    Array,
}

/// What kind of value `raw` is.
pub fn kind(raw: &RawValue) -> JsonKind {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => JsonKind::String,
        Some(b'{') => JsonKind::Object,
        Some(b'[') => JsonKind::Array,
        Some(b't' | b'f') => JsonKind::Bool,
        Some(b'n') => JsonKind::Null,
        _ if text.contains(['.', 'e', 'E']) => JsonKind::Fraction,
        _ => text.parse::<i64>().map_or(JsonKind::BigInteger, JsonKind::Integer),
    }
}

/// The text a value contributes to a v1 signature: strings unescaped, everything else
/// (numbers as written, `true`, `null`, nested JSON) as its JSON text.
pub fn signing_text(raw: &RawValue) -> Cow<'_, str> {
    string_text(raw).unwrap_or(Cow::Borrowed(raw.get()))
}

/// The text of a JSON string value, unescaped (borrowed when it has no escapes); `None`
/// for any other JSON type.
pub fn string_text(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    // The parser validated the token: without escapes, the content is between the quotes.
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text).ok().map(Cow::Owned)
}

/// The integer value of a number without fraction or exponent that fits an `i64`; else the
/// kind it is instead.
pub fn integer(raw: &RawValue) -> Result<i64, JsonKind> {
    match kind(raw) {
        JsonKind::Integer(value) => Ok(value),
        other => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(body: &str) -> String {
        RawObject::parse(body.as_bytes()).unwrap_err().errmsg()
    }

    #[test]
    fn body_errors() {
        assert_eq!(parse_err("[1]"), "request body must be a JSON object");
        assert_eq!(parse_err("\"x\""), "request body must be a JSON object");
        assert!(parse_err("{").starts_with("request body is not valid JSON"));
        assert!(parse_err("").starts_with("request body is not valid JSON"));
        assert_eq!(parse_err(r#"{"ts":1,"ts":2}"#), "[ts] ts appears more than once");
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(RawObject::parse(&big).unwrap_err(), BodyError::TooLarge);
    }

    #[test]
    fn signing_text_keeps_numbers_as_written_and_unescapes_strings() {
        let object = RawObject::parse(br#"{"a":1.50,"b":"x\"y\u0041","c":true,"d":[1, 2]}"#).unwrap();
        let texts: Vec<_> = object
            .iter()
            .map(|(k, v)| (k.to_string(), signing_text(v).into_owned()))
            .collect();
        assert_eq!(
            texts,
            vec![
                ("a".into(), "1.50".into()),
                ("b".into(), "x\"yA".into()),
                ("c".into(), "true".into()),
                ("d".into(), "[1, 2]".into())
            ]
        );
    }

    #[test]
    fn a_key_repeated_among_thousands_is_found() {
        let mut body = String::from("{");
        for i in 0..5000 {
            body.push_str(&format!("\"k{i}\":{i},"));
        }
        body.push_str("\"k4321\":1}");
        assert_eq!(parse_err(&body), "[k4321] k4321 appears more than once");
        let unique = body.replace("\"k4321\":1}", "\"last\":1}");
        assert_eq!(RawObject::parse(unique.as_bytes()).unwrap().len(), 5001);
        let early = "{\"a\":1,\"b\":2,\"a\":3}";
        assert_eq!(parse_err(early), "[a] a appears more than once");
    }

    #[test]
    fn kinds() {
        let object =
            RawObject::parse(br#"{"a":1,"b":-7,"c":1e3,"d":2.5,"e":99999999999999999999,"f":"s","g":null}"#).unwrap();
        let kinds: Vec<JsonKind> = object.iter().map(|(_, v)| kind(v)).collect();
        assert_eq!(
            kinds,
            vec![
                JsonKind::Integer(1),
                JsonKind::Integer(-7),
                JsonKind::Fraction,
                JsonKind::Fraction,
                JsonKind::BigInteger,
                JsonKind::String,
                JsonKind::Null
            ]
        );
    }

    proptest::proptest! {
        /// Keys and string values read back exactly as sent, whether or not they needed
        /// escapes (the borrowed fast path and the unescaping path agree).
        #[test]
        fn strings_and_keys_read_back_exactly(key in "\\PC{1,12}", value in "(\\PC|[\\x00-\\x1f\\\\\"]){0,40}") {
            let body = serde_json::json!({ &key: &value }).to_string();
            let object = RawObject::parse(body.as_bytes()).unwrap();
            let (read_key, raw) = object.iter().next().unwrap();
            proptest::prop_assert_eq!(read_key, key.as_str());
            proptest::prop_assert_eq!(signing_text(raw), value.as_str());
            proptest::prop_assert_eq!(string_text(raw).unwrap(), value.as_str());
        }
    }
}
