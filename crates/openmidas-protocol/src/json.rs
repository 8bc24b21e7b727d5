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
        serde_json::from_slice::<RawObject<'a>>(body).map_err(body_error)
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

/// What serde_json's error on reading a [`RawObject`] means for the caller.
fn body_error(e: serde_json::Error) -> BodyError {
    let text = e.to_string();
    if let Some(key) = text.strip_prefix(DUPLICATE_PREFIX) {
        let key = key.split('\u{0}').next().unwrap_or_default().to_string();
        return BodyError::DuplicateKey(key);
    }
    if e.classify() == serde_json::error::Category::Data {
        BodyError::NotAnObject
    } else {
        BodyError::InvalidJson(text)
    }
}

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

    /// The duplicate check as it was before it was made linear: each key compared with
    /// every earlier one (their decoded text, so `"a"` and `"\u0061"` are the same key).
    /// The reference the linear check is held to.
    struct QuadraticObject<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

    impl<'de: 'a, 'a> Deserialize<'de> for QuadraticObject<'a> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct ObjectVisitor;
            impl<'de> Visitor<'de> for ObjectVisitor {
                type Value = QuadraticObject<'de>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                    let mut fields: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::new();
                    while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                        if fields.iter().any(|(k, _)| *k == key) {
                            return Err(de::Error::custom(format!("{DUPLICATE_PREFIX}{key}\u{0}")));
                        }
                        let value: &'de RawValue = map.next_value()?;
                        fields.push((key, value));
                    }
                    Ok(QuadraticObject(fields))
                }
            }
            deserializer.deserialize_map(ObjectVisitor)
        }
    }

    /// Keys and raw values as read, or the error (errmsg and all): what both checks must
    /// agree on.
    type Read = Result<Vec<(String, String)>, BodyError>;

    fn read_linear(body: &[u8]) -> Read {
        RawObject::parse_any_size(body).map(|object| {
            object
                .iter()
                .map(|(k, v)| (k.to_string(), v.get().to_string()))
                .collect()
        })
    }

    fn read_quadratic(body: &[u8]) -> Read {
        serde_json::from_slice::<QuadraticObject>(body)
            .map(|object| {
                object
                    .0
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.get().to_string()))
                    .collect()
            })
            .map_err(body_error)
    }

    /// A key as JSON text: with every character as `\uXXXX` (surrogate pairs past the BMP)
    /// when `escaped`, else as serde_json writes it.
    fn key_json(key: &str, escaped: bool) -> String {
        if !escaped {
            return serde_json::to_string(key).unwrap();
        }
        let mut text = String::from("\"");
        for unit in key.encode_utf16() {
            text.push_str(&format!("\\u{unit:04x}"));
        }
        text.push('"');
        text
    }

    fn body_of(keys: &[(String, bool)]) -> String {
        let fields: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, (key, escaped))| format!("{}:{}", key_json(key, *escaped), i % 10))
            .collect();
        format!("{{{}}}", fields.join(","))
    }

    /// 7,000 distinct keys, as many as fit in a 64 KiB body: every one is read, in order.
    /// The same body with its last key repeating the first (spelled with escapes) names
    /// that key, as the quadratic check did.
    #[test]
    fn seven_thousand_distinct_keys() {
        const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let name = |mut i: usize| {
            let mut name = Vec::new();
            loop {
                name.push(DIGITS[i % 36]);
                i /= 36;
                if i == 0 {
                    break;
                }
            }
            String::from_utf8(name).unwrap()
        };
        let mut keys: Vec<(String, bool)> = (0..7000).map(|i| (name(i), false)).collect();
        let body = body_of(&keys);
        assert!(body.len() <= MAX_BODY_BYTES, "{} bytes", body.len());

        let object = RawObject::parse(body.as_bytes()).unwrap();
        assert_eq!(object.len(), 7000);
        for (i, ((read, raw), (key, _))) in object.iter().zip(&keys).enumerate() {
            assert_eq!(read, key);
            assert_eq!(integer(raw), Ok(i as i64 % 10));
        }
        assert_eq!(object.get(&name(6029)).map(|raw| raw.get()), Some("9"));
        assert_eq!(read_linear(body.as_bytes()), read_quadratic(body.as_bytes()));

        keys[6999] = (name(0), true);
        let repeated = body_of(&keys);
        assert!(repeated.ends_with(r#","\u0030":9}"#));
        assert_eq!(
            RawObject::parse(repeated.as_bytes()).unwrap_err(),
            BodyError::DuplicateKey("0".into())
        );
        assert_eq!(parse_err(&repeated), "[0] 0 appears more than once");
        assert_eq!(read_linear(repeated.as_bytes()), read_quadratic(repeated.as_bytes()));
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

        /// The linear duplicate check agrees with the quadratic one on every body: a few
        /// short keys (so repeats are frequent, before and after the check switches to a
        /// set), with NUL and characters past ASCII and the BMP, each spelled plainly or
        /// with escapes at random.
        #[test]
        fn duplicate_check_agrees_with_the_quadratic_one(
            keys in proptest::collection::vec(("[ab\u{0}\u{e9}\u{1f600}]{0,3}", proptest::bool::ANY), 0..90)
        ) {
            let body = body_of(&keys);
            proptest::prop_assert_eq!(read_linear(body.as_bytes()), read_quadratic(body.as_bytes()));
        }

        /// The same for many distinct keys with at most one repeat, anywhere.
        #[test]
        fn one_repeat_among_many_keys_agrees_with_the_quadratic_one(
            count in 0usize..200,
            repeat in proptest::option::of((0usize..200, 0usize..201, proptest::bool::ANY)),
        ) {
            let mut keys: Vec<(String, bool)> = (0..count).map(|i| (format!("k{i}"), i % 3 == 0)).collect();
            if let Some((of, at, escaped)) = repeat {
                if count > 0 {
                    let key = keys[of % count].0.clone();
                    keys.insert(at % (count + 1), (key, escaped));
                }
            }
            let body = body_of(&keys);
            let linear = read_linear(body.as_bytes());
            proptest::prop_assert_eq!(&linear, &read_quadratic(body.as_bytes()));
            proptest::prop_assert_eq!(linear.is_err(), repeat.is_some() && count > 0);
        }
    }
}
