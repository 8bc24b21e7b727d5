//! v1 requests: field rules and the typed call (behaviour.md section 3, check 3). Signature
//! checks live in the server, which knows the keys.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::Endpoint;
use super::Op;
use crate::json::{self, JsonKind, RawObject};
use crate::limits::{MAX_AMOUNT, MAX_BILL_NO_CHARS, MAX_ID_BYTES, MAX_REMARK_BYTES, MAX_USER_IP_BYTES};

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

/// What one operation adds to the common fields. Nothing it needs is optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call<'a> {
    GetBalance,
    Pay {
        bill_no: Cow<'a, str>,
        amt: i64,
        pay_item: Option<Cow<'a, str>>,
        app_remark: Option<Cow<'a, str>>,
    },
    /// Reverses the pay with this `bill_no`.
    CancelPay {
        bill_no: Cow<'a, str>,
        pay_item: Option<Cow<'a, str>>,
    },
    Present {
        bill_no: Cow<'a, str>,
        present_counts: i64,
    },
}

/// A v1 request whose fields passed check 3 (signatures not yet checked). Strings borrow
/// from the body unless they had escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub endpoint: Endpoint,
    pub appid: Cow<'a, str>,
    pub offer_id: Cow<'a, str>,
    pub openid: Cow<'a, str>,
    pub zone_id: Cow<'a, str>,
    pub pf: Cow<'a, str>,
    pub ts: i64,
    pub user_ip: Option<Cow<'a, str>>,
    pub call: Call<'a>,
    pub sig: Cow<'a, str>,
    pub mp_sig: Option<Cow<'a, str>>,
    /// Every body field but `sig` and `mp_sig`, as `(key, signing text)`: exactly what `sig`
    /// covers.
    pub signed_params: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl Request<'_> {
    /// The signed parameters as borrowed pairs, for [`crate::sign::v1`].
    pub fn signed_pairs(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.signed_params.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }
}

/// A JSON type name, for errmsgs.
fn kind_name(kind: JsonKind) -> &'static str {
    match kind {
        JsonKind::String => "a string",
        JsonKind::Object => "an object",
        JsonKind::Array => "an array",
        JsonKind::Bool => "a boolean",
        JsonKind::Null => "null",
        JsonKind::Integer(_) | JsonKind::BigInteger | JsonKind::Fraction => "a number",
    }
}

fn required<'a>(body: &RawObject<'a>, field: &'static str) -> Result<&'a RawValue, FieldError> {
    body.get(field).ok_or_else(|| FieldError::new(field, "is required"))
}

fn string_value<'a>(raw: &'a RawValue, field: &'static str) -> Result<Cow<'a, str>, FieldError> {
    match json::kind(raw) {
        JsonKind::String => json::string_text(raw).ok_or_else(|| FieldError::new(field, "must be a valid string")),
        other => Err(FieldError::new(
            field,
            format!("must be a string, got {}", kind_name(other)),
        )),
    }
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
    json::integer(raw).map_err(|kind| match kind {
        JsonKind::Fraction => FieldError::new(field, "must be an integer, got a fraction or exponent"),
        JsonKind::BigInteger => FieldError::new(field, "is out of the 64-bit integer range"),
        other => FieldError::new(field, format!("must be an integer, got {}", kind_name(other))),
    })
}

fn amount_value(raw: &RawValue, field: &'static str) -> Result<i64, FieldError> {
    let range_error = || FieldError::new(field, format!("must be an integer in 1..={MAX_AMOUNT}"));
    let value = match json::integer(raw) {
        Err(JsonKind::BigInteger) => return Err(range_error()),
        _ => integer_value(raw, field)?,
    };
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
pub fn parse<'a>(endpoint: Endpoint, body: &RawObject<'a>) -> Result<Request<'a>, FieldError> {
    let appid = id_value(required(body, "appid")?, "appid")?;
    let offer_id = id_value(required(body, "offer_id")?, "offer_id")?;
    let openid = id_value(required(body, "openid")?, "openid")?;
    let zone_id = id_value(required(body, "zone_id")?, "zone_id")?;
    let pf = id_value(required(body, "pf")?, "pf")?;
    let ts = integer_value(required(body, "ts")?, "ts")?;

    let sig = || string_value(required(body, "sig")?, "sig");
    let optional = |field: &'static str, max: usize| -> Result<Option<Cow<'a, str>>, FieldError> {
        body.get(field).map(|raw| bounded_text(raw, field, max)).transpose()
    };
    let user_ip = || optional("user_ip", MAX_USER_IP_BYTES);
    // Each operation's fields, then sig and user_ip, then its optional fields: a fixed
    // order, so the first problem reported is deterministic.
    let (call, sig, user_ip) = match endpoint.op {
        Op::GetBalance => (Call::GetBalance, sig()?, user_ip()?),
        Op::Pay => {
            let amt = amount_value(required(body, "amt")?, "amt")?;
            let bill_no = bill_no_value(required(body, "bill_no")?)?;
            let (sig, user_ip) = (sig()?, user_ip()?);
            let call = Call::Pay {
                bill_no,
                amt,
                pay_item: optional("pay_item", MAX_REMARK_BYTES)?,
                app_remark: optional("app_remark", MAX_REMARK_BYTES)?,
            };
            (call, sig, user_ip)
        }
        Op::CancelPay => {
            let bill_no = bill_no_value(required(body, "bill_no")?)?;
            let (sig, user_ip) = (sig()?, user_ip()?);
            let call = Call::CancelPay {
                bill_no,
                pay_item: optional("pay_item", MAX_REMARK_BYTES)?,
            };
            (call, sig, user_ip)
        }
        Op::Present => {
            let present_counts = amount_value(required(body, "present_counts")?, "present_counts")?;
            let bill_no = bill_no_value(required(body, "bill_no")?)?;
            (
                Call::Present {
                    bill_no,
                    present_counts,
                },
                sig()?,
                user_ip()?,
            )
        }
    };
    let mp_sig = body.get("mp_sig").map(|raw| string_value(raw, "mp_sig")).transpose()?;

    let signed_params = body
        .entries()
        .filter(|(key, _)| key != "sig" && key != "mp_sig")
        .map(|(key, raw)| (key.clone(), json::signing_text(raw)))
        .collect();

    Ok(Request {
        endpoint,
        appid,
        offer_id,
        openid,
        zone_id,
        pf,
        ts,
        user_ip,
        call,
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

    fn check(endpoint: Endpoint, body: &str) -> Result<Request<'_>, String> {
        let object = RawObject::parse(body.as_bytes()).map_err(|e| e.errmsg())?;
        parse(endpoint, &object).map_err(|e| e.errmsg())
    }

    #[test]
    fn field_checks_name_the_field() {
        let mut body = base();
        body["amt"] = serde_json::json!(10);
        body["bill_no"] = serde_json::json!("b-1");
        let text = body.to_string();
        let request = check(PAY, &text).unwrap();
        assert!(matches!(request.call, Call::Pay { amt: 10, ref bill_no, .. } if bill_no == "b-1"));

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
        let huge = text.replace("\"amt\":10", "\"amt\":99999999999999999999999");
        assert_eq!(
            check(PAY, &huge).unwrap_err(),
            "[amt] amt must be an integer in 1..=1000000000"
        );
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
}
