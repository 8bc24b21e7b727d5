//! Midas v1 requests: endpoints, body parsing and field validation (behaviour.md section 3,
//! checks 2 and 3). Signature checks live in the server, which knows the keys.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Largest accepted request body, in bytes (a larger one is answered 413 with 90018).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest `amt` / `present_counts`.
pub const MAX_AMOUNT: i64 = 1_000_000_000;
/// Longest `openid`, `zone_id`, `pf` (and `appid`, `offer_id`), in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Longest `bill_no`, in characters.
pub const MAX_BILL_NO_CHARS: usize = 63;
/// Longest `user_ip`, in bytes.
pub const MAX_USER_IP_BYTES: usize = 64;
/// Longest `pay_item` / `app_remark`, in bytes.
pub const MAX_REMARK_BYTES: usize = 1024;

/// The four v1 operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    GetBalance,
    Pay,
    CancelPay,
    Present,
}

impl Op {
    pub const ALL: [Op; 4] = [Op::GetBalance, Op::Pay, Op::CancelPay, Op::Present];

    /// The last path segment (`getbalance`, `pay`, ...).
    pub const fn path_name(self) -> &'static str {
        match self {
            Op::GetBalance => "getbalance",
            Op::Pay => "pay",
            Op::CancelPay => "cancelpay",
            Op::Present => "present",
        }
    }
}

/// One v1 endpoint: an operation in the official or the sandbox environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub op: Op,
    pub sandbox: bool,
}

impl Endpoint {
    /// The path, which is also the `org_loc` both signatures cover.
    pub const fn uri(self) -> &'static str {
        match (self.sandbox, self.op) {
            (false, Op::GetBalance) => "/cgi-bin/midas/getbalance",
            (false, Op::Pay) => "/cgi-bin/midas/pay",
            (false, Op::CancelPay) => "/cgi-bin/midas/cancelpay",
            (false, Op::Present) => "/cgi-bin/midas/present",
            (true, Op::GetBalance) => "/cgi-bin/midas/sandbox/getbalance",
            (true, Op::Pay) => "/cgi-bin/midas/sandbox/pay",
            (true, Op::CancelPay) => "/cgi-bin/midas/sandbox/cancelpay",
            (true, Op::Present) => "/cgi-bin/midas/sandbox/present",
        }
    }

    /// Every endpoint, official first.
    pub fn all() -> impl Iterator<Item = Endpoint> {
        [false, true]
            .into_iter()
            .flat_map(|sandbox| Op::ALL.into_iter().map(move |op| Endpoint { op, sandbox }))
    }
}

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
    /// The errmsg of the 90018 answer.
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
    /// Parses a body that must be a JSON object with unique keys.
    pub fn parse(body: &'a [u8]) -> Result<RawObject<'a>, BodyError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
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
    fn entries(&self) -> impl Iterator<Item = &(Cow<'a, str>, &'a RawValue)> {
        self.fields.iter()
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
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    if fields.iter().any(|(k, _)| *k == key) {
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

/// The text a value contributes to a signature: strings unescaped, everything else
/// (numbers as written, `true`, `null`, nested JSON) as its JSON text.
pub fn signing_text(raw: &RawValue) -> Cow<'_, str> {
    string_text(raw).unwrap_or(Cow::Borrowed(raw.get()))
}

/// The text of a JSON string value, unescaped (borrowed when it has no escapes); `None`
/// for any other JSON type.
fn string_text(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    // The parser validated the token: without escapes, the content is between the quotes.
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text).ok().map(Cow::Owned)
}

/// A JSON type name, for errmsgs.
fn json_kind(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't') | Some(b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// A field that fails check 3, and why. Its errmsg names the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub problem: String,
}

impl FieldError {
    fn new(field: &'static str, problem: impl Into<String>) -> Self {
        FieldError {
            field,
            problem: problem.into(),
        }
    }

    /// The errmsg of the 90018 answer, e.g. `[amt] amt must be an integer, got a string`.
    pub fn errmsg(&self) -> String {
        format!("[{}] {} {}", self.field, self.field, self.problem)
    }
}

/// A v1 request whose fields passed check 3 (signatures not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Request<'a> {
    pub endpoint: Endpoint,
    pub appid: Cow<'a, str>,
    pub offer_id: Cow<'a, str>,
    pub openid: Cow<'a, str>,
    pub zone_id: Cow<'a, str>,
    pub pf: Cow<'a, str>,
    pub ts: i64,
    pub user_ip: Option<Cow<'a, str>>,
    /// `amt` of a pay, `present_counts` of a present.
    pub amount: Option<i64>,
    pub bill_no: Option<Cow<'a, str>>,
    pub pay_item: Option<Cow<'a, str>>,
    pub app_remark: Option<Cow<'a, str>>,
    pub sig: Cow<'a, str>,
    pub mp_sig: Option<Cow<'a, str>>,
    /// Every body field but `sig` and `mp_sig`, as `(key, signing text)`: exactly what `sig`
    /// covers.
    pub signed_params: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl V1Request<'_> {
    /// The signed parameters as borrowed pairs, for [`crate::sign::v1`].
    pub fn signed_pairs(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.signed_params.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }
}

fn required<'a>(body: &RawObject<'a>, field: &'static str) -> Result<&'a RawValue, FieldError> {
    body.get(field).ok_or_else(|| FieldError::new(field, "is required"))
}

fn string_value<'a>(raw: &'a RawValue, field: &'static str) -> Result<Cow<'a, str>, FieldError> {
    if !raw.get().starts_with('"') {
        return Err(FieldError::new(
            field,
            format!("must be a string, got {}", json_kind(raw)),
        ));
    }
    string_text(raw).ok_or_else(|| FieldError::new(field, "must be a valid string"))
}

fn id_value<'a>(raw: &'a RawValue, field: &'static str) -> Result<Cow<'a, str>, FieldError> {
    let value = string_value(raw, field)?;
    if value.is_empty() || value.len() > MAX_ID_BYTES {
        return Err(FieldError::new(
            field,
            format!("must be a non-empty string of at most {MAX_ID_BYTES} bytes"),
        ));
    }
    Ok(value)
}

fn bounded_text<'a>(raw: &'a RawValue, field: &'static str, max_bytes: usize) -> Result<Cow<'a, str>, FieldError> {
    let value = string_value(raw, field)?;
    if value.len() > max_bytes {
        return Err(FieldError::new(field, format!("must be at most {max_bytes} bytes")));
    }
    Ok(value)
}

fn integer_value(raw: &RawValue, field: &'static str) -> Result<i64, FieldError> {
    let text = raw.get();
    let is_number = matches!(text.as_bytes().first(), Some(b'-' | b'0'..=b'9'));
    if !is_number {
        return Err(FieldError::new(
            field,
            format!("must be an integer, got {}", json_kind(raw)),
        ));
    }
    if text.contains(['.', 'e', 'E']) {
        return Err(FieldError::new(field, "must be an integer, got a fraction or exponent"));
    }
    text.parse::<i64>()
        .map_err(|_| FieldError::new(field, "is out of the 64-bit integer range"))
}

fn amount_value(raw: &RawValue, field: &'static str) -> Result<i64, FieldError> {
    let range_error = || FieldError::new(field, format!("must be an integer in 1..={MAX_AMOUNT}"));
    let value = integer_value(raw, field).map_err(|e| {
        if e.problem.starts_with("is out of") {
            range_error()
        } else {
            e
        }
    })?;
    if !(1..=MAX_AMOUNT).contains(&value) {
        return Err(range_error());
    }
    Ok(value)
}

/// Whether `bill_no` is 1..=63 characters of `0-9 A-Z a-z _ - | * @`.
pub fn is_valid_bill_no(bill_no: &str) -> bool {
    !bill_no.is_empty()
        && bill_no.len() <= MAX_BILL_NO_CHARS
        && bill_no
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*' | b'@'))
}

fn bill_no_value(raw: &RawValue) -> Result<Cow<'_, str>, FieldError> {
    let value = string_value(raw, "bill_no")?;
    if !is_valid_bill_no(&value) {
        return Err(FieldError::new(
            "bill_no",
            format!("must be 1 to {MAX_BILL_NO_CHARS} characters of 0-9 A-Z a-z _ - | * @"),
        ));
    }
    Ok(value)
}

/// Check 3 of behaviour.md section 3: every required field present, of the right JSON type
/// and in range; optional fields, when sent, too. Fields are checked in a fixed order, so
/// the first problem reported is deterministic.
pub fn validate<'a>(endpoint: Endpoint, body: &RawObject<'a>) -> Result<V1Request<'a>, FieldError> {
    let appid = id_value(required(body, "appid")?, "appid")?;
    let offer_id = id_value(required(body, "offer_id")?, "offer_id")?;
    let openid = id_value(required(body, "openid")?, "openid")?;
    let zone_id = id_value(required(body, "zone_id")?, "zone_id")?;
    let pf = id_value(required(body, "pf")?, "pf")?;
    let ts = integer_value(required(body, "ts")?, "ts")?;

    let amount = match endpoint.op {
        Op::Pay => Some(amount_value(required(body, "amt")?, "amt")?),
        Op::Present => Some(amount_value(required(body, "present_counts")?, "present_counts")?),
        Op::GetBalance | Op::CancelPay => None,
    };
    let bill_no = match endpoint.op {
        Op::Pay | Op::Present | Op::CancelPay => Some(bill_no_value(required(body, "bill_no")?)?),
        Op::GetBalance => None,
    };
    let sig = string_value(required(body, "sig")?, "sig")?;

    let optional = |field: &'static str, max: usize| -> Result<Option<Cow<'a, str>>, FieldError> {
        body.get(field).map(|raw| bounded_text(raw, field, max)).transpose()
    };
    let user_ip = optional("user_ip", MAX_USER_IP_BYTES)?;
    let (pay_item, app_remark) = match endpoint.op {
        Op::Pay => (
            optional("pay_item", MAX_REMARK_BYTES)?,
            optional("app_remark", MAX_REMARK_BYTES)?,
        ),
        Op::CancelPay => (optional("pay_item", MAX_REMARK_BYTES)?, None),
        _ => (None, None),
    };
    let mp_sig = body.get("mp_sig").map(|raw| string_value(raw, "mp_sig")).transpose()?;

    let signed_params = body
        .entries()
        .filter(|(key, _)| key != "sig" && key != "mp_sig")
        .map(|(key, raw)| (key.clone(), signing_text(raw)))
        .collect();

    Ok(V1Request {
        endpoint,
        appid,
        offer_id,
        openid,
        zone_id,
        pf,
        ts,
        user_ip,
        amount,
        bill_no,
        pay_item,
        app_remark,
        sig,
        mp_sig,
        signed_params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GETBALANCE: Endpoint = Endpoint {
        op: Op::GetBalance,
        sandbox: false,
    };
    const PAY: Endpoint = Endpoint {
        op: Op::Pay,
        sandbox: false,
    };

    fn base() -> serde_json::Value {
        serde_json::json!({"appid":"wx1","offer_id":"o1","openid":"u1","zone_id":"1","pf":"android","ts":1,"sig":"00"})
    }

    fn check(endpoint: Endpoint, body: &str) -> Result<V1Request<'_>, String> {
        let object = RawObject::parse(body.as_bytes()).map_err(|e| e.errmsg())?;
        validate(endpoint, &object).map_err(|e| e.errmsg())
    }

    #[test]
    fn body_errors() {
        assert_eq!(
            check(GETBALANCE, "[1]").unwrap_err(),
            "request body must be a JSON object"
        );
        assert_eq!(
            check(GETBALANCE, "\"x\"").unwrap_err(),
            "request body must be a JSON object"
        );
        assert!(check(GETBALANCE, "{")
            .unwrap_err()
            .starts_with("request body is not valid JSON"));
        assert!(check(GETBALANCE, "")
            .unwrap_err()
            .starts_with("request body is not valid JSON"));
        assert_eq!(
            check(GETBALANCE, r#"{"ts":1,"ts":2}"#).unwrap_err(),
            "[ts] ts appears more than once"
        );
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
    fn field_checks_name_the_field() {
        let mut body = base();
        body["amt"] = serde_json::json!(10);
        body["bill_no"] = serde_json::json!("b-1");
        assert!(check(PAY, &body.to_string()).is_ok());

        let cases: Vec<(&str, serde_json::Value, &str)> = vec![
            (
                "amt",
                serde_json::json!("10"),
                "[amt] amt must be an integer, got a string",
            ),
            (
                "amt",
                serde_json::json!(0),
                "[amt] amt must be an integer in 1..=1000000000",
            ),
            (
                "amt",
                serde_json::json!(1_000_000_001),
                "[amt] amt must be an integer in 1..=1000000000",
            ),
            (
                "amt",
                serde_json::json!(1.5),
                "[amt] amt must be an integer, got a fraction or exponent",
            ),
            (
                "bill_no",
                serde_json::json!("a b"),
                "[bill_no] bill_no must be 1 to 63 characters of 0-9 A-Z a-z _ - | * @",
            ),
            (
                "bill_no",
                serde_json::json!("x".repeat(64)),
                "[bill_no] bill_no must be 1 to 63 characters of 0-9 A-Z a-z _ - | * @",
            ),
            (
                "openid",
                serde_json::json!(""),
                "[openid] openid must be a non-empty string of at most 128 bytes",
            ),
            ("ts", serde_json::json!(null), "[ts] ts must be an integer, got null"),
            (
                "pay_item",
                serde_json::json!(5),
                "[pay_item] pay_item must be a string, got a number",
            ),
        ];
        for (field, value, expected) in cases {
            let mut b = body.clone();
            b[field] = value;
            assert_eq!(check(PAY, &b.to_string()).unwrap_err(), expected, "field {field}");
        }
        let mut b = body.clone();
        b.as_object_mut().unwrap().remove("bill_no");
        assert_eq!(check(PAY, &b.to_string()).unwrap_err(), "[bill_no] bill_no is required");
    }

    #[test]
    fn bill_no_charset() {
        assert!(is_valid_bill_no("Az09_-|*@"));
        assert!(is_valid_bill_no(&"x".repeat(63)));
        assert!(!is_valid_bill_no(""));
        assert!(!is_valid_bill_no("é"));
        assert!(!is_valid_bill_no("a.b"));
    }

    #[test]
    fn signed_params_exclude_sig_and_mp_sig() {
        let mut body = base();
        body["mp_sig"] = serde_json::json!("ff");
        body["user_ip"] = serde_json::json!("1.2.3.4");
        let text = body.to_string();
        let req = check(GETBALANCE, &text).unwrap();
        let keys: Vec<_> = req.signed_params.iter().map(|(k, _)| k.as_ref()).collect();
        assert!(!keys.contains(&"sig") && !keys.contains(&"mp_sig"));
        assert!(keys.contains(&"user_ip"));
        assert_eq!(req.mp_sig.as_deref(), Some("ff"));
    }

    proptest::proptest! {
        /// Keys and string values read back exactly as sent, whether or not they needed
        /// escapes (the borrowed fast path and the unescaping path agree).
        #[test]
        fn strings_and_keys_read_back_exactly(key in "\\PC{1,12}", value in "(\\PC|[\\x00-\\x1f\\\\\"]){0,40}") {
            proptest::prop_assume!(key != "sig" && key != "mp_sig");
            let body = serde_json::json!({ &key: &value }).to_string();
            let object = RawObject::parse(body.as_bytes()).unwrap();
            let (read_key, raw) = object.iter().next().unwrap();
            proptest::prop_assert_eq!(read_key, key.as_str());
            proptest::prop_assert_eq!(signing_text(raw), value.as_str());
            proptest::prop_assert_eq!(string_value(raw, "x").unwrap(), value.as_str());
        }
    }
}
