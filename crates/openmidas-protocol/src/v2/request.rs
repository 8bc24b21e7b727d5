//! 2.0 requests: the query parameters (check 2), the field rules and the typed call
//! (check 4) of behaviour.md section 9, with the real service's errmsg shapes.

use std::borrow::Cow;
use std::fmt::Write;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::value::RawValue;

use super::Op;
use crate::json::{self, JsonKind, RawObject};
use crate::limits::{MAX_AMOUNT, MAX_BILL_NO_CHARS, MAX_ID_BYTES, MAX_REMARK_BYTES, MAX_USER_IP_BYTES};

/// The only `sig_method` there is.
pub const SIG_METHOD: &str = "hmac_sha256";
/// Longest `out_trade_no`, in bytes.
pub const MAX_OUT_TRADE_NO_BYTES: usize = 64;
/// How much of the body a signature errmsg echoes.
pub const ECHO_BYTES: usize = 1024;

/// The signature parameters of the query string (check 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query<'a> {
    pub signature: &'a str,
    pub pay_sig: &'a str,
}

/// A query parameter that is missing, empty or wrong: `[<param>] <param> is invalid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryError(pub &'static str);

impl QueryError {
    pub fn errmsg(&self) -> String {
        format!("[{0}] {0} is invalid", self.0)
    }
}

impl<'a> Query<'a> {
    /// Check 2: `signature`, `sig_method` (= `hmac_sha256`) and `pay_sig`, in that order.
    pub fn check(
        signature: Option<&'a str>,
        sig_method: Option<&'a str>,
        pay_sig: Option<&'a str>,
    ) -> Result<Query<'a>, QueryError> {
        let present = |value: Option<&'a str>, name| value.filter(|v| !v.is_empty()).ok_or(QueryError(name));
        let signature = present(signature, "signature")?;
        if sig_method != Some(SIG_METHOD) {
            return Err(QueryError("sig_method"));
        }
        let pay_sig = present(pay_sig, "pay_sig")?;
        Ok(Query { signature, pay_sig })
    }
}

/// A field that fails check 4, rendered the way the real service does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldError {
    /// Missing, or out of range: `[field] field is invalid`.
    Invalid(&'static str),
    /// A value of the wrong JSON type, in the real parser's words:
    /// `field "bill_no" doesn't expect an uint32 value "10013324"`.
    WrongType {
        field: &'static str,
        kind: &'static str,
        value: String,
    },
}

impl FieldError {
    pub fn errmsg(&self) -> String {
        match self {
            FieldError::Invalid(field) => format!("[{field}] {field} is invalid"),
            FieldError::WrongType { field, kind, value } => {
                format!("field \"{field}\" doesn't expect {kind} value \"{value}\"")
            }
        }
    }

    fn wrong_type(field: &'static str, raw: &RawValue) -> FieldError {
        let kind = match json::kind(raw) {
            JsonKind::String => "a string",
            JsonKind::Integer(v) if (0..=i64::from(u32::MAX)).contains(&v) => "an uint32",
            JsonKind::Integer(v) if v >= 0 => "an uint64",
            JsonKind::Integer(v) if v >= i64::from(i32::MIN) => "an int32",
            JsonKind::Integer(_) => "an int64",
            JsonKind::BigInteger => "an uint64",
            JsonKind::Fraction => "a double",
            JsonKind::Bool => "a bool",
            JsonKind::Null => "a null",
            JsonKind::Object => "an object",
            JsonKind::Array => "an array",
        };
        // A string shows its text, anything else its JSON; long values are cut.
        let text = json::string_text(raw).unwrap_or(Cow::Borrowed(raw.get()));
        let mut value: String = text.chars().take(64).collect();
        if value.len() < text.len() {
            value.push_str("...");
        }
        FieldError::WrongType { field, kind, value }
    }
}

/// Which `bill_no` charset an app accepts (app option `bill_no_charset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BillNoRule {
    /// 2.0's: 1-63 of `0-9 A-Z a-z _ -`, not starting with `_`.
    #[default]
    V2,
    /// v1's: 1-63 of `0-9 A-Z a-z _ - | * @`.
    V1,
}

impl BillNoRule {
    pub fn accepts(self, bill_no: &str) -> bool {
        match self {
            BillNoRule::V1 => crate::v1::is_valid_bill_no(bill_no),
            BillNoRule::V2 => {
                !bill_no.is_empty()
                    && bill_no.len() <= MAX_BILL_NO_CHARS
                    && !bill_no.starts_with('_')
                    && bill_no
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
            }
        }
    }
}

/// getbalance's `coin_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoinType {
    /// 0: the game's coins in `zone_id`.
    Game,
    /// 1: the top-up center's balance, which is zone "1".
    TopUpCenter,
}

/// queryorderinfo's `biz_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BizId {
    /// 1: a coin purchase (`wx.requestMidasPayment`).
    Coins,
    /// 2: an item purchase (`wx.requestMidasPaymentGameItem`).
    Item,
}

/// What one operation adds to the common fields. Nothing it needs is optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call<'a> {
    GetBalance {
        coin_type: CoinType,
    },
    Pay {
        amount: i64,
        bill_no: Cow<'a, str>,
        payitem: Option<Cow<'a, str>>,
        remark: Option<Cow<'a, str>>,
    },
    /// A refund of `amount` of the pay `pay_bill_no`, numbered `bill_no`.
    CancelPay {
        bill_no: Cow<'a, str>,
        pay_bill_no: Cow<'a, str>,
        amount: i64,
    },
    Present {
        amount: i64,
        bill_no: Cow<'a, str>,
    },
    QueryOrderInfo {
        out_trade_no: Cow<'a, str>,
        biz_id: BizId,
    },
}

/// A 2.0 request whose fields passed check 4 (the app, offer and signatures not yet
/// checked). Strings borrow from the body unless they had escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub openid: Cow<'a, str>,
    pub offer_id: Cow<'a, str>,
    pub zone_id: Cow<'a, str>,
    pub ts: i64,
    /// `env` 1.
    pub sandbox: bool,
    pub user_ip: Option<Cow<'a, str>>,
    pub call: Call<'a>,
}

fn required<'a>(body: &RawObject<'a>, field: &'static str) -> Result<&'a RawValue, FieldError> {
    body.get(field).ok_or(FieldError::Invalid(field))
}

fn string<'a>(raw: &'a RawValue, field: &'static str) -> Result<Cow<'a, str>, FieldError> {
    match json::kind(raw) {
        JsonKind::String => json::string_text(raw).ok_or(FieldError::Invalid(field)),
        _ => Err(FieldError::wrong_type(field, raw)),
    }
}

/// A string of 1..=max bytes.
fn text<'a>(raw: &'a RawValue, field: &'static str, max: usize) -> Result<Cow<'a, str>, FieldError> {
    let value = string(raw, field)?;
    if value.is_empty() || value.len() > max {
        return Err(FieldError::Invalid(field));
    }
    Ok(value)
}

/// An integer in `range`.
fn integer(raw: &RawValue, field: &'static str, range: std::ops::RangeInclusive<i64>) -> Result<i64, FieldError> {
    match json::kind(raw) {
        JsonKind::Integer(v) if range.contains(&v) => Ok(v),
        JsonKind::Integer(_) | JsonKind::BigInteger => Err(FieldError::Invalid(field)),
        _ => Err(FieldError::wrong_type(field, raw)),
    }
}

fn optional<'a>(body: &RawObject<'a>, field: &'static str, max: usize) -> Result<Option<Cow<'a, str>>, FieldError> {
    body.get(field)
        .map(|raw| {
            let value = string(raw, field)?;
            if value.len() > max {
                return Err(FieldError::Invalid(field));
            }
            Ok(value)
        })
        .transpose()
}

fn bill_no<'a>(body: &RawObject<'a>, field: &'static str, rule: BillNoRule) -> Result<Cow<'a, str>, FieldError> {
    let value = string(required(body, field)?, field)?;
    if !rule.accepts(&value) {
        return Err(FieldError::Invalid(field));
    }
    Ok(value)
}

fn amount(body: &RawObject<'_>) -> Result<i64, FieldError> {
    integer(required(body, "amount")?, "amount", 1..=MAX_AMOUNT)
}

/// Check 4 of behaviour.md section 9.1: the common fields, then the operation's, each
/// present, of the right JSON type and in range, in a fixed order.
pub fn parse<'a>(op: Op, body: &RawObject<'a>, rule: BillNoRule) -> Result<Request<'a>, FieldError> {
    let openid = text(required(body, "openid")?, "openid", MAX_ID_BYTES)?;
    let offer_id = text(required(body, "offer_id")?, "offer_id", MAX_ID_BYTES)?;
    let ts = integer(required(body, "ts")?, "ts", i64::MIN..=i64::MAX)?;
    let zone_id = text(required(body, "zone_id")?, "zone_id", MAX_ID_BYTES)?;
    let sandbox = integer(required(body, "env")?, "env", 0..=1)? == 1;
    // queryorderinfo takes no user_ip and ignores one sent.
    let user_ip = match op {
        Op::QueryOrderInfo => None,
        _ => optional(body, "user_ip", MAX_USER_IP_BYTES)?,
    };
    let call = match op {
        Op::GetBalance => {
            let coin_type = match body.get("coin_type") {
                None => CoinType::Game,
                Some(raw) => match integer(raw, "coin_type", 0..=1)? {
                    0 => CoinType::Game,
                    _ => CoinType::TopUpCenter,
                },
            };
            if coin_type == CoinType::TopUpCenter && zone_id != "1" {
                return Err(FieldError::Invalid("zone_id"));
            }
            Call::GetBalance { coin_type }
        }
        Op::Pay => Call::Pay {
            amount: amount(body)?,
            bill_no: bill_no(body, "bill_no", rule)?,
            payitem: optional(body, "payitem", MAX_REMARK_BYTES)?,
            remark: optional(body, "remark", MAX_REMARK_BYTES)?,
        },
        Op::CancelPay => Call::CancelPay {
            bill_no: bill_no(body, "bill_no", rule)?,
            // The pay was numbered under whichever rule applied then: any v1 number.
            pay_bill_no: bill_no(body, "pay_bill_no", BillNoRule::V1)?,
            amount: amount(body)?,
        },
        Op::Present => Call::Present {
            amount: amount(body)?,
            bill_no: bill_no(body, "bill_no", rule)?,
        },
        Op::QueryOrderInfo => Call::QueryOrderInfo {
            out_trade_no: text(required(body, "out_trade_no")?, "out_trade_no", MAX_OUT_TRADE_NO_BYTES)?,
            biz_id: match integer(required(body, "biz_id")?, "biz_id", 1..=2)? {
                1 => BizId::Coins,
                _ => BizId::Item,
            },
        },
    };
    Ok(Request {
        openid,
        offer_id,
        zone_id,
        ts,
        sandbox,
        user_ip,
        call,
    })
}

/// The errmsg of a signature mismatch, as the real service writes it (it is how users
/// debug): `[pay_sig] pay_sig is invalid raw post_body(remove wrapped []): [<body>],
/// base64_encoded_post_body: <base64>`. `<body>` is the body's first 1024 bytes (cut back to
/// a character boundary, followed by `...` when cut) and `<base64>` encodes exactly those
/// bytes.
pub fn signature_errmsg(param: &str, body: &[u8]) -> String {
    let mut end = body.len().min(ECHO_BYTES);
    let text = loop {
        match std::str::from_utf8(&body[..end]) {
            Ok(text) => break text,
            // A valid body cut inside a character: back off to its start.
            Err(e) if e.error_len().is_none() => end = e.valid_up_to(),
            // Not UTF-8 at all (cannot happen after the JSON check): echo nothing.
            Err(_) => {
                end = 0;
                break "";
            }
        }
    };
    let mut out = format!("[{param}] {param} is invalid raw post_body(remove wrapped []): [{text}");
    if end < body.len() {
        out.push_str("...");
    }
    let _ = write!(out, "], base64_encoded_post_body: {}", STANDARD.encode(&body[..end]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(op: Op, body: &str) -> Result<Request<'_>, String> {
        let object = RawObject::parse(body.as_bytes()).map_err(|e| e.errmsg())?;
        parse(op, &object, BillNoRule::V2).map_err(|e| e.errmsg())
    }

    const BASE: &str = r#""openid":"o1","offer_id":"1450","ts":1700000000,"zone_id":"1","env":0"#;

    #[test]
    fn a_pay_reads_into_its_call() {
        let body = format!(r#"{{{BASE},"amount":10,"bill_no":"b-1","payitem":"sword"}}"#);
        let request = check(Op::Pay, &body).unwrap();
        assert!(!request.sandbox);
        assert_eq!(
            request.call,
            Call::Pay {
                amount: 10,
                bill_no: "b-1".into(),
                payitem: Some("sword".into()),
                remark: None
            }
        );
    }

    #[test]
    fn field_errors_have_the_real_shapes() {
        let cases = [
            (Op::Pay, r#""amount":10"#, "[bill_no] bill_no is invalid"),
            (
                Op::Pay,
                r#""amount":10,"bill_no":10013324"#,
                "field \"bill_no\" doesn't expect an uint32 value \"10013324\"",
            ),
            (
                Op::Pay,
                r#""amount":"10","bill_no":"b""#,
                "field \"amount\" doesn't expect a string value \"10\"",
            ),
            (Op::Pay, r#""amount":0,"bill_no":"b""#, "[amount] amount is invalid"),
            (
                Op::Pay,
                r#""amount":1000000001,"bill_no":"b""#,
                "[amount] amount is invalid",
            ),
            (Op::Pay, r#""amount":1,"bill_no":"_b""#, "[bill_no] bill_no is invalid"),
            (Op::Pay, r#""amount":1,"bill_no":"a|b""#, "[bill_no] bill_no is invalid"),
            (
                Op::Pay,
                r#""amount":1.5,"bill_no":"b""#,
                "field \"amount\" doesn't expect a double value \"1.5\"",
            ),
            (Op::GetBalance, r#""coin_type":2"#, "[coin_type] coin_type is invalid"),
            (
                Op::CancelPay,
                r#""bill_no":"r","pay_bill_no":"p""#,
                "[amount] amount is invalid",
            ),
            (
                Op::QueryOrderInfo,
                r#""out_trade_no":"t","biz_id":3"#,
                "[biz_id] biz_id is invalid",
            ),
        ];
        for (op, extra, expected) in cases {
            let body = format!("{{{BASE},{extra}}}");
            assert_eq!(check(op, &body).unwrap_err(), expected, "{body}");
        }
        let no_env = r#"{"openid":"o1","offer_id":"1450","ts":1,"zone_id":"1"}"#;
        assert_eq!(check(Op::GetBalance, no_env).unwrap_err(), "[env] env is invalid");
        let env2 = r#"{"openid":"o1","offer_id":"1450","ts":1,"zone_id":"1","env":2}"#;
        assert_eq!(check(Op::GetBalance, env2).unwrap_err(), "[env] env is invalid");
        let zone2 = r#"{"openid":"o1","offer_id":"1450","ts":1,"zone_id":"2","env":0,"coin_type":1}"#;
        assert_eq!(
            check(Op::GetBalance, zone2).unwrap_err(),
            "[zone_id] zone_id is invalid"
        );
        let long = format!(r#"{{{BASE},"amount":1,"bill_no":{}}}"#, "1".repeat(100));
        assert_eq!(
            check(Op::Pay, &long).unwrap_err(),
            format!(
                "field \"bill_no\" doesn't expect an uint64 value \"{}...\"",
                "1".repeat(64)
            )
        );
    }

    #[test]
    fn queryorderinfo_ignores_user_ip() {
        let body = format!(r#"{{{BASE},"user_ip":5,"out_trade_no":"t-1","biz_id":2}}"#);
        let request = check(Op::QueryOrderInfo, &body).unwrap();
        assert_eq!(request.user_ip, None);
        assert!(matches!(
            request.call,
            Call::QueryOrderInfo {
                biz_id: BizId::Item,
                ..
            }
        ));
        let body = format!(r#"{{{BASE},"user_ip":5}}"#);
        assert_eq!(
            check(Op::GetBalance, &body).unwrap_err(),
            "field \"user_ip\" doesn't expect an uint32 value \"5\""
        );
    }

    #[test]
    fn bill_no_rules() {
        assert!(BillNoRule::V2.accepts("Az09_-"));
        assert!(!BillNoRule::V2.accepts("_a"));
        assert!(!BillNoRule::V2.accepts("a*b"));
        assert!(BillNoRule::V1.accepts("a*b|c@"));
        assert!(!BillNoRule::V2.accepts(&"x".repeat(64)));
    }

    #[test]
    fn query_checks_in_order() {
        assert_eq!(Query::check(None, None, None), Err(QueryError("signature")));
        assert_eq!(Query::check(Some("s"), None, None), Err(QueryError("sig_method")));
        assert_eq!(
            Query::check(Some("s"), Some("md5"), Some("p")),
            Err(QueryError("sig_method"))
        );
        assert_eq!(
            Query::check(Some("s"), Some(SIG_METHOD), Some("")),
            Err(QueryError("pay_sig"))
        );
        assert_eq!(QueryError("pay_sig").errmsg(), "[pay_sig] pay_sig is invalid");
        assert!(Query::check(Some("s"), Some(SIG_METHOD), Some("p")).is_ok());
    }

    #[test]
    fn signature_errmsg_echoes_the_body() {
        let short = br#"{"a":1}"#;
        assert_eq!(
            signature_errmsg("pay_sig", short),
            "[pay_sig] pay_sig is invalid raw post_body(remove wrapped []): [{\"a\":1}], base64_encoded_post_body: eyJhIjoxfQ=="
        );
        // Cut at 1024 bytes, backing off to a character boundary.
        let long = format!("{{\"a\":\"{}\"}}", "é".repeat(600));
        let msg = signature_errmsg("signature", long.as_bytes());
        let echoed = msg
            .split_once(": [")
            .and_then(|(_, rest)| rest.split_once("...], base64_encoded_post_body: "))
            .expect("shape");
        assert!(echoed.0.len() <= ECHO_BYTES && echoed.0.len() >= ECHO_BYTES - 1);
        assert_eq!(STANDARD.decode(echoed.1).unwrap(), echoed.0.as_bytes());
    }
}
