//! xpay requests: the query parameters (check 2), the field rules and the typed call
//! (check 4) of behaviour.md section 10, with errmsgs in xpay's words.
//!
//! xpay's errmsgs are Chinese and name the field first, as the one real field errmsg known
//! does (`order_id需要在8-32个字符`, behaviour.md section 10.1 step 4). Every text a field
//! rule answers is in [`Rule::text`], [`FieldError::errmsg`] and [`QueryError::errmsg`];
//! except that one, they are OpenMidas's choice in the same style (UNCONFIRMED against the
//! real service). A value of the wrong JSON type answers the platform parser's English
//! shape, as 2.0 does (`field "amount" doesn't expect a string value "10"`): the gateway
//! parser is shared by WeChat's JSON APIs (assumed for xpay, UNCONFIRMED).

use std::borrow::Cow;
use std::fmt::Write;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::value::RawValue;

use super::{Code, Op};
use crate::json::{self, JsonKind, RawObject};
use crate::limits::{MAX_AMOUNT, MAX_ID_BYTES, MAX_REMARK_BYTES, MAX_USER_IP_BYTES};

/// Shortest `order_id`, `pay_order_id` and `refund_order_id`, in characters.
pub const MIN_ORDER_ID_CHARS: usize = 8;
/// Longest `order_id`, `pay_order_id` and `refund_order_id`, in characters.
pub const MAX_ORDER_ID_CHARS: usize = 32;
/// Longest `wx_order_id`, in bytes (OpenMidas invents them, much shorter).
pub const MAX_WX_ORDER_ID_BYTES: usize = MAX_ID_BYTES;
/// Longest `biz_meta`, in bytes.
pub const MAX_BIZ_META_BYTES: usize = 1024;
/// Most days a bill covers, both ends included (behaviour.md section 10.2).
pub const MAX_BILL_DAYS: i64 = 31;
/// How much of the body a signature errmsg echoes (as 2.0).
pub const ECHO_BYTES: usize = crate::v2::request::ECHO_BYTES;
/// China time, which `begin_ds` and `end_ds` are in: UTC+8, no daylight saving.
pub const CHINA_UTC_OFFSET_SECS: i64 = 8 * 3600;

/// Whether `text` is an xpay order number (`order_id`, `pay_order_id`, and the client's
/// `outTradeNo`): 8-32 characters of `0-9 A-Z a-z _ - | * @`, not starting with `_`
/// (behaviour.md section 10.2; that prefix is the platform's own).
pub fn is_valid_order_id(text: &str) -> bool {
    (MIN_ORDER_ID_CHARS..=MAX_ORDER_ID_CHARS).contains(&text.len())
        && !text.starts_with('_')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*' | b'@'))
}

/// Whether `text` is a `refund_order_id`: 8-32 characters of `A-Z a-z 0-9 _ -` (the
/// reference's rule for refund_order; a leading `_` is not forbidden there).
pub fn is_valid_refund_order_id(text: &str) -> bool {
    (MIN_ORDER_ID_CHARS..=MAX_ORDER_ID_CHARS).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// One of xpay's two signatures, as a query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureParam {
    /// `pay_sig`: the AppKey of the body's env over `path & body`.
    PaySig,
    /// `signature`: the player's session_key over the body (the "user-state" signature).
    Signature,
}

impl SignatureParam {
    /// Its name in the query string.
    pub const fn name(self) -> &'static str {
        match self {
            SignatureParam::PaySig => "pay_sig",
            SignatureParam::Signature => "signature",
        }
    }

    /// What a 268490003 says failed (behaviour.md section 10.1 step 5).
    /// - `signature`: `用户态签名(signature)校验失败`, the real service's text.
    /// - `pay_sig`: `支付签名(pay_sig)校验失败`, OpenMidas's analogue. UNCONFIRMED: the only
    ///   real trace is "支付签名校验失败" (a rejected uppercase pay_sig), without the
    ///   parameter name.
    pub const fn mismatch_text(self) -> &'static str {
        match self {
            SignatureParam::PaySig => "支付签名(pay_sig)校验失败",
            SignatureParam::Signature => "用户态签名(signature)校验失败",
        }
    }
}

/// The signature parameters of the query string (check 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query<'a> {
    pub pay_sig: &'a str,
    /// `Some` exactly when the operation [needs it](Op::needs_signature); a `signature` sent
    /// to any other operation is ignored, not verified.
    pub signature: Option<&'a str>,
}

/// A signature parameter that is missing or empty: 268490002 `<param>不能为空`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryError(pub SignatureParam);

impl QueryError {
    pub const fn code(&self) -> Code {
        Code::InvalidParameter
    }

    /// `pay_sig不能为空` / `signature不能为空` (OpenMidas's text, UNCONFIRMED).
    pub fn errmsg(&self) -> String {
        format!("{}不能为空", self.0.name())
    }
}

impl<'a> Query<'a> {
    /// Check 2 of behaviour.md section 10.1: `pay_sig` on every path, then `signature` where
    /// the operation needs it. xpay has no `sig_method`: one sent is ignored. Which missing
    /// parameter the real service names first when both are missing is UNCONFIRMED;
    /// OpenMidas names `pay_sig`, the one every path needs.
    pub fn check(pay_sig: Option<&'a str>, signature: Option<&'a str>, op: Op) -> Result<Query<'a>, QueryError> {
        let present = |value: Option<&'a str>, param| value.filter(|v| !v.is_empty()).ok_or(QueryError(param));
        let pay_sig = present(pay_sig, SignatureParam::PaySig)?;
        let signature = if op.needs_signature() {
            Some(present(signature, SignatureParam::Signature)?)
        } else {
            None
        };
        Ok(Query { pay_sig, signature })
    }
}

/// The rule a field's value broke. Its errmsg is the field's name followed by
/// [`Rule::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `env只能是0或1`.
    Env,
    /// `amount需要在1-1000000000之间`.
    Amount,
    /// `order_id需要在8-32个字符`: the real service's text (also for `pay_order_id` and
    /// `refund_order_id`).
    OrderIdLength,
    /// `order_id只能包含数字、大小写字母和_-|*@，且不能以_开头` (also `pay_order_id`).
    OrderIdCharset,
    /// `refund_order_id只能包含数字、大小写字母和_-`.
    RefundOrderIdCharset,
    /// `<field>不能超过<n>字节`.
    MaxBytes(usize),
    /// `order_id和wx_order_id必须且只能传一个`: both or neither sent (named as `order_id`).
    OneOrderId,
    /// `left_fee不能小于0`.
    LeftFee,
    /// `refund_fee需要大于0且不超过left_fee`.
    RefundFee,
    /// `refund_reason只能是"0"-"5"`.
    RefundReason,
    /// `req_from只能是"1"-"3"`.
    ReqFrom,
    /// `begin_ds不是有效的日期(yyyymmdd)` (or `end_ds`).
    Date,
    /// `begin_ds不能晚于end_ds`.
    DateOrder,
    /// `begin_ds到end_ds不能超过31天`.
    DateSpan,
}

impl Rule {
    /// What follows the field's name in the errmsg.
    pub fn text(self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Rule::Env => "只能是0或1",
            Rule::Amount => "需要在1-1000000000之间",
            Rule::OrderIdLength => "需要在8-32个字符",
            Rule::OrderIdCharset => "只能包含数字、大小写字母和_-|*@，且不能以_开头",
            Rule::RefundOrderIdCharset => "只能包含数字、大小写字母和_-",
            Rule::MaxBytes(max) => return Cow::Owned(format!("不能超过{max}字节")),
            Rule::OneOrderId => "和wx_order_id必须且只能传一个",
            Rule::LeftFee => "不能小于0",
            Rule::RefundFee => "需要大于0且不超过left_fee",
            Rule::RefundReason => "只能是\"0\"-\"5\"",
            Rule::ReqFrom => "只能是\"1\"-\"3\"",
            Rule::Date => "不是有效的日期(yyyymmdd)",
            Rule::DateOrder => "不能晚于end_ds",
            Rule::DateSpan => "到end_ds不能超过31天",
        })
    }
}

/// A field that fails check 4 of behaviour.md section 10.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldError {
    /// `openid` missing, empty or over 128 bytes: 268490001 `openid错误` (the table's text).
    /// A missing openid is a blank one: the real service reads absent strings as empty.
    Openid,
    /// A required field not sent: 268490002 `<field>不能为空`.
    Missing(&'static str),
    /// A value of the right type that breaks its rule: 268490002 `<field><rule>`.
    Invalid { field: &'static str, rule: Rule },
    /// A value of the wrong JSON type, in the platform parser's words (as 2.0):
    /// `field "amount" doesn't expect a string value "10"`.
    WrongType {
        field: &'static str,
        kind: &'static str,
        value: String,
    },
}

impl FieldError {
    /// 268490001 for [`FieldError::Openid`], 268490002 for everything else.
    pub const fn code(&self) -> Code {
        match self {
            FieldError::Openid => Code::OpenidInvalid,
            _ => Code::InvalidParameter,
        }
    }

    /// The field it is about.
    pub const fn field(&self) -> &'static str {
        match self {
            FieldError::Openid => "openid",
            FieldError::Missing(field) | FieldError::Invalid { field, .. } | FieldError::WrongType { field, .. } => {
                field
            }
        }
    }

    pub fn errmsg(&self) -> String {
        match self {
            FieldError::Openid => Code::OpenidInvalid.errmsg().to_string(),
            FieldError::Missing(field) => format!("{field}不能为空"),
            FieldError::Invalid { field, rule } => format!("{field}{}", rule.text()),
            FieldError::WrongType { field, kind, value } => wrong_type_text(field, kind, value),
        }
    }

    fn wrong_type(field: &'static str, raw: &RawValue) -> FieldError {
        let (kind, value) = wrong_type_parts(raw);
        FieldError::WrongType { field, kind, value }
    }
}

/// The platform parser's sentence for a value of the wrong JSON type.
pub(crate) fn wrong_type_text(field: &str, kind: &str, value: &str) -> String {
    format!("field \"{field}\" doesn't expect {kind} value \"{value}\"")
}

/// How the platform parser names a value it did not expect: its kind (`an uint32`,
/// `a string`, ...) and its text (a string's content, anything else's JSON, cut at 64
/// characters). The same rendering as 2.0's (`v2::FieldError`), shared with the xpay client
/// (`client::virtual_payment`).
pub(crate) fn wrong_type_parts(raw: &RawValue) -> (&'static str, String) {
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
    let text = json::string_text(raw).unwrap_or(Cow::Borrowed(raw.get()));
    let mut value: String = text.chars().take(64).collect();
    if value.len() < text.len() {
        value.push_str("...");
    }
    (kind, value)
}

/// Which purchase an operation is about: `order_id` (the developer's `outTradeNo`) or
/// `wx_order_id` (WeChat's number for it), exactly one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRef<'a> {
    OrderId(Cow<'a, str>),
    WxOrderId(Cow<'a, str>),
}

/// A calendar day, as download_bill's `begin_ds` / `end_ds` (`yyyymmdd`, China time). The
/// field order makes the derived ordering chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    /// 1..=12.
    pub month: u8,
    /// 1..=31, and a day the month has.
    pub day: u8,
}

impl Date {
    /// The day `yyyymmdd` names, if it is a real date of the years 1000-9999.
    pub fn from_yyyymmdd(value: i64) -> Option<Date> {
        let year = u16::try_from(value / 10_000)
            .ok()
            .filter(|y| (1000..=9999).contains(y))?;
        let month = u8::try_from(value / 100 % 100).ok().filter(|m| (1..=12).contains(m))?;
        let day = u8::try_from(value % 100).ok()?;
        (1..=days_in_month(year, month))
            .contains(&day)
            .then_some(Date { year, month, day })
    }

    /// Back to `yyyymmdd`.
    pub const fn yyyymmdd(self) -> i64 {
        self.year as i64 * 10_000 + self.month as i64 * 100 + self.day as i64
    }

    /// Days from 1970-01-01 (negative before it), in the proleptic Gregorian calendar.
    pub const fn days_since_epoch(self) -> i64 {
        // Howard Hinnant's days_from_civil: years start in March, so the leap day is last.
        let (year, month, day) = (self.year as i64, self.month as i64, self.day as i64);
        let year = if month <= 2 { year - 1 } else { year };
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month_from_march = (month + 9) % 12;
        let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        // Leap years: every 4th, except centuries not divisible by 400 (`is_multiple_of`
        // is newer than the workspace's rust-version).
        2 if matches!((year % 4, year % 100, year % 400), (0, 1.., _) | (_, _, 0)) => 29,
        2 => 28,
        _ => 31,
    }
}

/// download_bill's days: `first` to `last`, both included, at most [`MAX_BILL_DAYS`], in
/// China time (behaviour.md section 10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateRange {
    pub first: Date,
    /// Not before `first`.
    pub last: Date,
}

impl DateRange {
    /// How many days it covers (1..=31).
    pub const fn days(self) -> i64 {
        self.last.days_since_epoch() - self.first.days_since_epoch() + 1
    }

    /// UNIX milliseconds of `first`'s midnight in China time: the range's start, included.
    pub const fn start_unix_ms(self) -> i64 {
        (self.first.days_since_epoch() * 86_400 - CHINA_UTC_OFFSET_SECS) * 1000
    }

    /// UNIX milliseconds of the midnight after `last` in China time: the range's end,
    /// excluded.
    pub const fn end_unix_ms(self) -> i64 {
        ((self.last.days_since_epoch() + 1) * 86_400 - CHINA_UTC_OFFSET_SECS) * 1000
    }

    /// Whether an instant (UNIX milliseconds) falls on one of its days.
    pub const fn contains_unix_ms(self, unix_ms: i64) -> bool {
        self.start_unix_ms() <= unix_ms && unix_ms < self.end_unix_ms()
    }
}

/// What one operation adds to the common fields (behaviour.md section 10.2). Nothing it
/// needs is optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call<'a> {
    QueryUserBalance,
    CurrencyPay {
        amount: i64,
        order_id: Cow<'a, str>,
        /// Free text (by convention the JSON of the items bought), at most 1024 bytes.
        payitem: Option<Cow<'a, str>>,
        remark: Option<Cow<'a, str>>,
    },
    /// A refund of `amount` coins of the currency_pay `pay_order_id`, numbered `order_id`.
    CancelCurrencyPay {
        pay_order_id: Cow<'a, str>,
        order_id: Cow<'a, str>,
        amount: i64,
    },
    PresentCurrency {
        order_id: Cow<'a, str>,
        amount: i64,
    },
    QueryOrder {
        order: OrderRef<'a>,
    },
    /// A money refund of `refund_fee` fen of a purchase, numbered `refund_order_id` (in the
    /// purchase book).
    RefundOrder {
        order: OrderRef<'a>,
        refund_order_id: Cow<'a, str>,
        /// What the caller believes is still refundable; the server compares it with the
        /// purchase (268490016 when it differs).
        left_fee: i64,
        /// 1..=left_fee.
        refund_fee: i64,
        /// `"0"`..=`"5"` sent, as a number (the reason's code; OpenMidas only records it).
        refund_reason: u8,
        /// `"1"`..=`"3"` sent, as a number (who asked; OpenMidas only records it).
        req_from: u8,
        biz_meta: Option<Cow<'a, str>>,
    },
    NotifyProvideGoods {
        order: OrderRef<'a>,
    },
    DownloadBill {
        range: DateRange,
    },
}

/// An xpay request whose fields passed check 4 (the app and the signatures not yet
/// checked). Strings borrow from the body unless they had escapes. Fields the operation
/// does not take (and unknown ones, such as the SDKs' `device_type`) are ignored, as 2.0
/// ignores them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// `env` 1.
    pub sandbox: bool,
    /// `Some` exactly when the operation [takes one](Op::takes_openid): 1-128 bytes.
    pub openid: Option<Cow<'a, str>>,
    /// Where the operation [takes one](Op::takes_user_ip) and it was sent; at most 64 bytes.
    pub user_ip: Option<Cow<'a, str>>,
    pub call: Call<'a>,
}

fn required<'a>(body: &RawObject<'a>, field: &'static str) -> Result<&'a RawValue, FieldError> {
    body.get(field).ok_or(FieldError::Missing(field))
}

fn string<'a>(raw: &'a RawValue, field: &'static str) -> Result<Cow<'a, str>, FieldError> {
    match json::kind(raw) {
        // A string token always unescapes: the body parser validated it.
        JsonKind::String => json::string_text(raw).ok_or(FieldError::Missing(field)),
        _ => Err(FieldError::wrong_type(field, raw)),
    }
}

/// An integer in `range`; `rule` says what a number outside it breaks.
fn integer(
    raw: &RawValue,
    field: &'static str,
    range: std::ops::RangeInclusive<i64>,
    rule: Rule,
) -> Result<i64, FieldError> {
    match json::kind(raw) {
        JsonKind::Integer(v) if range.contains(&v) => Ok(v),
        JsonKind::Integer(_) | JsonKind::BigInteger => Err(FieldError::Invalid { field, rule }),
        _ => Err(FieldError::wrong_type(field, raw)),
    }
}

/// An optional string of at most `max` bytes (empty allowed).
fn optional<'a>(body: &RawObject<'a>, field: &'static str, max: usize) -> Result<Option<Cow<'a, str>>, FieldError> {
    body.get(field)
        .map(|raw| {
            let value = string(raw, field)?;
            if value.len() > max {
                return Err(FieldError::Invalid {
                    field,
                    rule: Rule::MaxBytes(max),
                });
            }
            Ok(value)
        })
        .transpose()
}

/// An order number's length, then its characters (so the real text answers a number of the
/// wrong length whatever it holds).
fn check_order_number(
    value: &str,
    field: &'static str,
    charset: Rule,
    accepts: fn(&str) -> bool,
) -> Result<(), FieldError> {
    if !(MIN_ORDER_ID_CHARS..=MAX_ORDER_ID_CHARS).contains(&value.chars().count()) {
        return Err(FieldError::Invalid {
            field,
            rule: Rule::OrderIdLength,
        });
    }
    if !accepts(value) {
        return Err(FieldError::Invalid { field, rule: charset });
    }
    Ok(())
}

fn order_id<'a>(body: &RawObject<'a>, field: &'static str) -> Result<Cow<'a, str>, FieldError> {
    let value = string(required(body, field)?, field)?;
    check_order_number(&value, field, Rule::OrderIdCharset, is_valid_order_id)?;
    Ok(value)
}

fn amount(body: &RawObject<'_>) -> Result<i64, FieldError> {
    integer(required(body, "amount")?, "amount", 1..=MAX_AMOUNT, Rule::Amount)
}

fn openid<'a>(body: &RawObject<'a>) -> Result<Cow<'a, str>, FieldError> {
    let raw = body.get("openid").ok_or(FieldError::Openid)?;
    let value = string(raw, "openid")?;
    if value.is_empty() || value.len() > MAX_ID_BYTES {
        return Err(FieldError::Openid);
    }
    Ok(value)
}

/// Exactly one of `order_id` and `wx_order_id`. An empty string counts as not sent: SDKs
/// that serialize both fields send the unused one as `""`.
fn order_ref<'a>(body: &RawObject<'a>) -> Result<OrderRef<'a>, FieldError> {
    let sent = |field: &'static str| -> Result<Option<Cow<'a, str>>, FieldError> {
        match body.get(field) {
            None => Ok(None),
            Some(raw) => Ok(Some(string(raw, field)?).filter(|v| !v.is_empty())),
        }
    };
    match (sent("order_id")?, sent("wx_order_id")?) {
        (Some(order_id), None) => {
            check_order_number(&order_id, "order_id", Rule::OrderIdCharset, is_valid_order_id)?;
            Ok(OrderRef::OrderId(order_id))
        }
        (None, Some(wx_order_id)) if wx_order_id.len() > MAX_WX_ORDER_ID_BYTES => Err(FieldError::Invalid {
            field: "wx_order_id",
            rule: Rule::MaxBytes(MAX_WX_ORDER_ID_BYTES),
        }),
        (None, Some(wx_order_id)) => Ok(OrderRef::WxOrderId(wx_order_id)),
        _ => Err(FieldError::Invalid {
            field: "order_id",
            rule: Rule::OneOrderId,
        }),
    }
}

/// A string holding one decimal digit in `range` (refund_reason, req_from).
fn digit_string(
    body: &RawObject<'_>,
    field: &'static str,
    range: std::ops::RangeInclusive<u8>,
    rule: Rule,
) -> Result<u8, FieldError> {
    let value = string(required(body, field)?, field)?;
    match value.as_bytes() {
        [digit @ b'0'..=b'9'] if range.contains(&(digit - b'0')) => Ok(digit - b'0'),
        _ => Err(FieldError::Invalid { field, rule }),
    }
}

/// A `yyyymmdd` date: documented as a number; clients disagree (some send `"20260101"`), so
/// a string of 8 digits is taken too.
fn date(body: &RawObject<'_>, field: &'static str) -> Result<Date, FieldError> {
    let raw = required(body, field)?;
    let value = match json::kind(raw) {
        JsonKind::String => {
            let text = string(raw, field)?;
            if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(FieldError::Invalid {
                    field,
                    rule: Rule::Date,
                });
            }
            text.parse().map_err(|_| FieldError::Invalid {
                field,
                rule: Rule::Date,
            })?
        }
        _ => integer(raw, field, i64::MIN..=i64::MAX, Rule::Date)?,
    };
    Date::from_yyyymmdd(value).ok_or(FieldError::Invalid {
        field,
        rule: Rule::Date,
    })
}

fn date_range(body: &RawObject<'_>) -> Result<DateRange, FieldError> {
    let first = date(body, "begin_ds")?;
    let last = date(body, "end_ds")?;
    let range = DateRange { first, last };
    if first > last {
        return Err(FieldError::Invalid {
            field: "begin_ds",
            rule: Rule::DateOrder,
        });
    }
    if range.days() > MAX_BILL_DAYS {
        return Err(FieldError::Invalid {
            field: "begin_ds",
            rule: Rule::DateSpan,
        });
    }
    Ok(range)
}

fn refund_order<'a>(body: &RawObject<'a>) -> Result<Call<'a>, FieldError> {
    let order = order_ref(body)?;
    let refund_order_id = string(required(body, "refund_order_id")?, "refund_order_id")?;
    check_order_number(
        &refund_order_id,
        "refund_order_id",
        Rule::RefundOrderIdCharset,
        is_valid_refund_order_id,
    )?;
    let left_fee = integer(required(body, "left_fee")?, "left_fee", 0..=i64::MAX, Rule::LeftFee)?;
    let refund_fee = integer(
        required(body, "refund_fee")?,
        "refund_fee",
        1..=left_fee,
        Rule::RefundFee,
    )?;
    let biz_meta = optional(body, "biz_meta", MAX_BIZ_META_BYTES)?;
    let refund_reason = digit_string(body, "refund_reason", 0..=5, Rule::RefundReason)?;
    let req_from = digit_string(body, "req_from", 1..=3, Rule::ReqFrom)?;
    Ok(Call::RefundOrder {
        order,
        refund_order_id,
        left_fee,
        refund_fee,
        refund_reason,
        req_from,
        biz_meta,
    })
}

/// Check 4 of behaviour.md section 10.1: `openid` (where the operation takes one), `env`,
/// `user_ip` (where taken), then the operation's fields in the documented order; each
/// present, of the right JSON type and in range. The first failure answers.
pub fn parse<'a>(op: Op, body: &RawObject<'a>) -> Result<Request<'a>, FieldError> {
    let openid = if op.takes_openid() { Some(openid(body)?) } else { None };
    // download_bill's documented body has no `env` (a merchant-level call: env only picks
    // the signing key), so there it defaults to 0; every other operation requires it.
    let sandbox = match (op, body.get("env")) {
        (Op::DownloadBill, None) => false,
        _ => integer(required(body, "env")?, "env", 0..=1, Rule::Env)? == 1,
    };
    let user_ip = if op.takes_user_ip() {
        optional(body, "user_ip", MAX_USER_IP_BYTES)?
    } else {
        None
    };
    let call = match op {
        Op::QueryUserBalance => Call::QueryUserBalance,
        Op::CurrencyPay => Call::CurrencyPay {
            amount: amount(body)?,
            order_id: order_id(body, "order_id")?,
            payitem: optional(body, "payitem", MAX_REMARK_BYTES)?,
            remark: optional(body, "remark", MAX_REMARK_BYTES)?,
        },
        Op::CancelCurrencyPay => Call::CancelCurrencyPay {
            pay_order_id: order_id(body, "pay_order_id")?,
            order_id: order_id(body, "order_id")?,
            amount: amount(body)?,
        },
        Op::PresentCurrency => Call::PresentCurrency {
            order_id: order_id(body, "order_id")?,
            amount: amount(body)?,
        },
        Op::QueryOrder => Call::QueryOrder {
            order: order_ref(body)?,
        },
        Op::RefundOrder => refund_order(body)?,
        Op::NotifyProvideGoods => Call::NotifyProvideGoods {
            order: order_ref(body)?,
        },
        Op::DownloadBill => Call::DownloadBill {
            range: date_range(body)?,
        },
    };
    Ok(Request {
        sandbox,
        openid,
        user_ip,
        call,
    })
}

/// The errmsg of a 268490003 (behaviour.md section 10.1 step 5): which signature failed
/// ([`SignatureParam::mismatch_text`]), then the body echo of 2.0 (section 9.1 step 6):
/// `用户态签名(signature)校验失败 raw post_body(remove wrapped []): [<body>],
/// base64_encoded_post_body: <base64>`. `<body>` is the body's first 1024 bytes (cut back
/// to a character boundary, followed by `...` when cut) and `<base64>` encodes exactly those
/// bytes.
pub fn signature_errmsg(which: SignatureParam, body: &[u8]) -> String {
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
    let mut out = format!("{} raw post_body(remove wrapped []): [{text}", which.mismatch_text());
    if end < body.len() {
        out.push_str("...");
    }
    let _ = write!(out, "], base64_encoded_post_body: {}", STANDARD.encode(&body[..end]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(op: Op, body: &str) -> Result<Request<'_>, FieldError> {
        let object = RawObject::parse(body.as_bytes()).expect("test bodies are JSON objects");
        parse(op, &object)
    }

    fn errmsg(op: Op, body: &str) -> String {
        check(op, body).expect_err(body).errmsg()
    }

    /// The known-answer vectors of signatures.json (scheme `xpay`), copied as data.
    struct XpayVector {
        raw_body: &'static str,
        pay_sig: &'static str,
        signature: &'static str,
    }

    const APP_KEY: &str = "12345";
    const SESSION_KEY: &str = "9hAb/NEYUlkaMBEsmFgzig==";
    const XPAY_VECTORS: [XpayVector; 2] = [
        // xpay-query_user_balance-spaced: the official virtual payment page's example.
        XpayVector {
            raw_body: r#"{"openid": "xxx", "user_ip": "127.0.0.1", "env": 0}"#,
            pay_sig: "c37809f27c6d7fd1837ad2500a04512b66b34fd793a39a385fade56dca89a4b5",
            signature: "089d9e8dc5d308977360c4b79ec600a93d736802802a807d634192328032f6c7",
        },
        // xpay-query_user_balance-compact: a public .NET SDK's known-answer test.
        XpayVector {
            raw_body: r#"{"openid":"xxx","env":0,"user_ip":"127.0.0.1"}"#,
            pay_sig: "fb4703e6b7da545a7f43428f02f2a9fa42e895704c6319d01a0aa859cf63253c",
            signature: "e690cc22b6378ca9d70fe61727fabf65f0273d436813447816951989867a134c",
        },
    ];

    #[test]
    fn the_vectors_sign_and_parse() {
        for vector in &XPAY_VECTORS {
            let body = vector.raw_body.as_bytes();
            let uri = Op::QueryUserBalance.uri();
            assert_eq!(crate::sign::v2::pay_sig(APP_KEY, uri, body), vector.pay_sig);
            assert_eq!(crate::sign::v2::signature(SESSION_KEY, body), vector.signature);
            let signed = crate::sign::v2::sign(uri, vector.raw_body, APP_KEY, Some(SESSION_KEY));
            assert_eq!(signed.pay_sig, vector.pay_sig);
            assert_eq!(signed.signature.as_deref(), Some(vector.signature));
            assert!(crate::sign::hex_matches_case(
                &crate::sign::v2::pay_sig_digest(APP_KEY, uri, body),
                vector.pay_sig,
                crate::sign::HexCase::Lower
            ));
            let request = check(Op::QueryUserBalance, vector.raw_body).expect("the vector's body is valid");
            assert_eq!(
                request,
                Request {
                    sandbox: false,
                    openid: Some("xxx".into()),
                    user_ip: Some("127.0.0.1".into()),
                    call: Call::QueryUserBalance,
                }
            );
        }
    }

    #[test]
    fn query_needs_pay_sig_everywhere_and_signature_on_three() {
        for op in Op::ALL {
            assert_eq!(
                Query::check(None, Some("s"), op),
                Err(QueryError(SignatureParam::PaySig))
            );
            assert_eq!(
                Query::check(Some(""), Some("s"), op),
                Err(QueryError(SignatureParam::PaySig))
            );
            let without_signature = Query::check(Some("p"), None, op);
            let with_both = Query::check(Some("p"), Some("s"), op).expect("both sent");
            assert_eq!(with_both.pay_sig, "p");
            if op.needs_signature() {
                assert_eq!(without_signature, Err(QueryError(SignatureParam::Signature)), "{op:?}");
                assert_eq!(
                    Query::check(Some("p"), Some(""), op),
                    Err(QueryError(SignatureParam::Signature))
                );
                assert_eq!(with_both.signature, Some("s"));
            } else {
                assert_eq!(without_signature.map(|q| q.signature), Ok(None), "{op:?}");
                // Sent anyway: ignored, so never verified.
                assert_eq!(with_both.signature, None);
            }
        }
        // Both missing: pay_sig is named first.
        assert_eq!(
            Query::check(None, None, Op::CurrencyPay),
            Err(QueryError(SignatureParam::PaySig))
        );
        assert_eq!(QueryError(SignatureParam::PaySig).errmsg(), "pay_sig不能为空");
        assert_eq!(QueryError(SignatureParam::Signature).errmsg(), "signature不能为空");
        assert_eq!(QueryError(SignatureParam::PaySig).code(), Code::InvalidParameter);
    }

    #[test]
    fn every_operation_reads_into_its_call() {
        let cases: [(Op, &str, Call<'static>); 8] = [
            (
                Op::QueryUserBalance,
                r#"{"openid":"o1","env":1,"user_ip":"1.2.3.4","device_type":1}"#,
                Call::QueryUserBalance,
            ),
            (
                Op::CurrencyPay,
                r#"{"openid":"o1","env":1,"amount":10,"order_id":"pay-0001|*@","payitem":"[]","remark":""}"#,
                Call::CurrencyPay {
                    amount: 10,
                    order_id: "pay-0001|*@".into(),
                    payitem: Some("[]".into()),
                    remark: Some("".into()),
                },
            ),
            (
                Op::CancelCurrencyPay,
                r#"{"openid":"o1","env":1,"pay_order_id":"pay-0001","order_id":"refund-01","amount":3}"#,
                Call::CancelCurrencyPay {
                    pay_order_id: "pay-0001".into(),
                    order_id: "refund-01".into(),
                    amount: 3,
                },
            ),
            (
                Op::PresentCurrency,
                r#"{"openid":"o1","env":1,"order_id":"gift-0001","amount":1000000000}"#,
                Call::PresentCurrency {
                    order_id: "gift-0001".into(),
                    amount: 1_000_000_000,
                },
            ),
            (
                Op::QueryOrder,
                r#"{"openid":"o1","env":1,"wx_order_id":"wx123"}"#,
                Call::QueryOrder {
                    order: OrderRef::WxOrderId("wx123".into()),
                },
            ),
            (
                Op::RefundOrder,
                r#"{"openid":"o1","env":1,"order_id":"buy-0001","refund_order_id":"_rf-0001","left_fee":100,"refund_fee":100,"refund_reason":"5","req_from":"3","biz_meta":"m"}"#,
                Call::RefundOrder {
                    order: OrderRef::OrderId("buy-0001".into()),
                    refund_order_id: "_rf-0001".into(),
                    left_fee: 100,
                    refund_fee: 100,
                    refund_reason: 5,
                    req_from: 3,
                    biz_meta: Some("m".into()),
                },
            ),
            (
                Op::NotifyProvideGoods,
                r#"{"env":1,"order_id":"buy-0001","wx_order_id":""}"#,
                Call::NotifyProvideGoods {
                    order: OrderRef::OrderId("buy-0001".into()),
                },
            ),
            (
                Op::DownloadBill,
                r#"{"env":1,"begin_ds":20260101,"end_ds":20260131}"#,
                Call::DownloadBill {
                    range: DateRange {
                        first: Date {
                            year: 2026,
                            month: 1,
                            day: 1,
                        },
                        last: Date {
                            year: 2026,
                            month: 1,
                            day: 31,
                        },
                    },
                },
            ),
        ];
        for (op, body, call) in cases {
            let request = check(op, body).unwrap_or_else(|e| panic!("{op:?}: {}", e.errmsg()));
            assert!(request.sandbox);
            assert_eq!(request.call, call, "{op:?}");
            assert_eq!(request.openid.is_some(), op.takes_openid(), "{op:?}");
        }
    }

    #[test]
    fn openid_problems_answer_268490001_and_its_type_268490002() {
        for body in [
            r#"{"env":0}"#,
            r#"{"openid":"","env":0}"#,
            &format!(r#"{{"openid":"{}","env":0}}"#, "o".repeat(129)),
        ] {
            let e = check(Op::QueryUserBalance, body).expect_err(body);
            assert_eq!(e, FieldError::Openid);
            assert_eq!((e.code(), e.errmsg().as_str()), (Code::OpenidInvalid, "openid错误"));
        }
        let at_limit = format!(r#"{{"openid":"{}","env":0}}"#, "o".repeat(128));
        assert!(check(Op::QueryUserBalance, &at_limit).is_ok());
        let e = check(Op::QueryUserBalance, r#"{"openid":123,"env":0}"#).expect_err("a number");
        assert_eq!(e.code(), Code::InvalidParameter);
        assert_eq!(e.errmsg(), "field \"openid\" doesn't expect an uint32 value \"123\"");
        // openid is checked before env.
        assert_eq!(check(Op::QueryUserBalance, r#"{"env":7}"#), Err(FieldError::Openid));
    }

    #[test]
    fn field_errors_name_the_field() {
        const PAY: &str = r#""openid":"o1","env":0"#;
        let cases: &[(Op, &str, &str)] = &[
            (Op::QueryUserBalance, r#""openid":"o1""#, "env不能为空"),
            (Op::QueryUserBalance, r#""openid":"o1","env":2"#, "env只能是0或1"),
            (Op::QueryUserBalance, r#""openid":"o1","env":-1"#, "env只能是0或1"),
            (
                Op::QueryUserBalance,
                r#""openid":"o1","env":"0""#,
                "field \"env\" doesn't expect a string value \"0\"",
            ),
            (
                Op::QueryUserBalance,
                r#""openid":"o1","env":1.0"#,
                "field \"env\" doesn't expect a double value \"1.0\"",
            ),
            (
                Op::QueryUserBalance,
                r#""openid":"o1","env":0,"user_ip":5"#,
                "field \"user_ip\" doesn't expect an uint32 value \"5\"",
            ),
            (Op::CurrencyPay, PAY, "amount不能为空"),
            (
                Op::CurrencyPay,
                r#""openid":"o1","env":0,"amount":0"#,
                "amount需要在1-1000000000之间",
            ),
            (
                Op::CurrencyPay,
                r#""openid":"o1","env":0,"amount":1000000001"#,
                "amount需要在1-1000000000之间",
            ),
            (
                Op::CurrencyPay,
                r#""openid":"o1","env":0,"amount":99999999999999999999"#,
                "amount需要在1-1000000000之间",
            ),
            (
                Op::CurrencyPay,
                r#""openid":"o1","env":0,"amount":"10""#,
                "field \"amount\" doesn't expect a string value \"10\"",
            ),
            (
                Op::CurrencyPay,
                r#""openid":"o1","env":0,"amount":-5"#,
                "amount需要在1-1000000000之间",
            ),
            (
                Op::CurrencyPay,
                r#""openid":"o1","env":0,"amount":1"#,
                "order_id不能为空",
            ),
            (
                Op::CurrencyPay,
                r#""openid":"o1","env":0,"amount":1,"order_id":"1234567""#,
                "order_id需要在8-32个字符",
            ),
            (
                Op::CurrencyPay,
                r#""openid":"o1","env":0,"amount":1,"order_id":"""#,
                "order_id需要在8-32个字符",
            ),
            (
                Op::CurrencyPay,
                r#""openid":"o1","env":0,"amount":1,"order_id":"123456789012345678901234567890123""#,
                "order_id需要在8-32个字符",
            ),
            (
                Op::CurrencyPay,
                r#""openid":"o1","env":0,"amount":1,"order_id":"_2345678""#,
                "order_id只能包含数字、大小写字母和_-|*@，且不能以_开头",
            ),
            (
                Op::CurrencyPay,
                r#""openid":"o1","env":0,"amount":1,"order_id":"1234 678""#,
                "order_id只能包含数字、大小写字母和_-|*@，且不能以_开头",
            ),
            (
                Op::CurrencyPay,
                r#""openid":"o1","env":0,"amount":1,"order_id":"订单订单订单订单""#,
                "order_id只能包含数字、大小写字母和_-|*@，且不能以_开头",
            ),
            (
                Op::CurrencyPay,
                r#""openid":"o1","env":0,"amount":1,"order_id":12345678"#,
                "field \"order_id\" doesn't expect an uint32 value \"12345678\"",
            ),
            (
                Op::CurrencyPay,
                r#""openid":"o1","env":0,"amount":1,"order_id":"12345678","payitem":[1]"#,
                "field \"payitem\" doesn't expect an array value \"[1]\"",
            ),
            (
                Op::CurrencyPay,
                r#""openid":"o1","env":0,"amount":1,"order_id":"12345678","remark":null"#,
                "field \"remark\" doesn't expect a null value \"null\"",
            ),
            (
                Op::CancelCurrencyPay,
                r#""openid":"o1","env":0,"order_id":"12345678","amount":1"#,
                "pay_order_id不能为空",
            ),
            (
                Op::CancelCurrencyPay,
                r#""openid":"o1","env":0,"pay_order_id":"short","order_id":"12345678","amount":1"#,
                "pay_order_id需要在8-32个字符",
            ),
            (
                Op::CancelCurrencyPay,
                r#""openid":"o1","env":0,"pay_order_id":"12345678","order_id":"12345678""#,
                "amount不能为空",
            ),
            (
                Op::PresentCurrency,
                r#""openid":"o1","env":0,"order_id":"12345678","amount":0"#,
                "amount需要在1-1000000000之间",
            ),
        ];
        for (op, fields, expected) in cases {
            let body = format!("{{{fields}}}");
            let e = check(*op, &body).expect_err(&body);
            assert_eq!(e.errmsg(), *expected, "{body}");
            assert_eq!(e.code(), Code::InvalidParameter, "{body}");
        }
        let long = |field: &str, bytes: usize| {
            format!(
                r#"{{"openid":"o1","env":0,"amount":1,"order_id":"12345678","{field}":"{}"}}"#,
                "x".repeat(bytes)
            )
        };
        for field in ["payitem", "remark"] {
            assert!(check(Op::CurrencyPay, &long(field, 1024)).is_ok());
            assert_eq!(
                errmsg(Op::CurrencyPay, &long(field, 1025)),
                format!("{field}不能超过1024字节")
            );
        }
        let ip = format!(r#"{{"openid":"o1","env":0,"user_ip":"{}"}}"#, "1".repeat(65));
        assert_eq!(errmsg(Op::QueryUserBalance, &ip), "user_ip不能超过64字节");
    }

    #[test]
    fn fields_an_operation_does_not_take_are_ignored() {
        // user_ip is not present_currency's: even a wrong one passes, and is not returned.
        let body = r#"{"openid":"o1","env":0,"user_ip":5,"order_id":"12345678","amount":1,"extra":{"a":1}}"#;
        assert_eq!(check(Op::PresentCurrency, body).map(|r| r.user_ip), Ok(None));
        // notify_provide_goods names no player: an openid sent is ignored.
        let body = r#"{"openid":7,"env":0,"wx_order_id":"wx1"}"#;
        assert_eq!(check(Op::NotifyProvideGoods, body).map(|r| r.openid), Ok(None));
        // device_type, which SDKs send on every request, whatever its type.
        let body = r#"{"openid":"o1","env":0,"device_type":"ios"}"#;
        assert!(check(Op::QueryUserBalance, body).is_ok());
    }

    #[test]
    fn exactly_one_of_order_id_and_wx_order_id() {
        let one_of = "order_id和wx_order_id必须且只能传一个";
        for op in [Op::QueryOrder, Op::RefundOrder, Op::NotifyProvideGoods] {
            for ids in [
                r#","order_id":"12345678","wx_order_id":"wx1""#,
                "",
                r#","order_id":"","wx_order_id":"""#,
            ] {
                let body = format!(r#"{{"openid":"o1","env":0{ids}}}"#);
                assert_eq!(errmsg(op, &body), one_of, "{op:?} {body}");
            }
            let body = r#"{"openid":"o1","env":0,"order_id":"short"}"#;
            assert_eq!(errmsg(op, body), "order_id需要在8-32个字符");
            let body = r#"{"openid":"o1","env":0,"wx_order_id":1}"#;
            assert_eq!(
                errmsg(op, body),
                "field \"wx_order_id\" doesn't expect an uint32 value \"1\""
            );
            let body = format!(r#"{{"openid":"o1","env":0,"wx_order_id":"{}"}}"#, "w".repeat(129));
            assert_eq!(errmsg(op, &body), "wx_order_id不能超过128字节");
        }
        let body = r#"{"openid":"o1","env":0,"order_id":"","wx_order_id":"wx1"}"#;
        assert_eq!(
            check(Op::QueryOrder, body).map(|r| r.call),
            Ok(Call::QueryOrder {
                order: OrderRef::WxOrderId("wx1".into())
            })
        );
    }

    #[test]
    fn refund_order_rules() {
        let refund = |fields: &str| {
            format!(r#"{{"openid":"o1","env":0,"order_id":"buy-0001","refund_order_id":"rf-00001",{fields}}}"#)
        };
        let ok = r#""left_fee":10,"refund_fee":4,"refund_reason":"0","req_from":"1""#;
        assert!(matches!(
            check(Op::RefundOrder, &refund(ok)).map(|r| r.call),
            Ok(Call::RefundOrder {
                left_fee: 10,
                refund_fee: 4,
                refund_reason: 0,
                req_from: 1,
                biz_meta: None,
                ..
            })
        ));
        let cases = [
            (
                r#""refund_fee":4,"refund_reason":"0","req_from":"1""#,
                "left_fee不能为空",
            ),
            (
                r#""left_fee":-1,"refund_fee":4,"refund_reason":"0","req_from":"1""#,
                "left_fee不能小于0",
            ),
            (
                r#""left_fee":10,"refund_fee":11,"refund_reason":"0","req_from":"1""#,
                "refund_fee需要大于0且不超过left_fee",
            ),
            (
                r#""left_fee":10,"refund_fee":0,"refund_reason":"0","req_from":"1""#,
                "refund_fee需要大于0且不超过left_fee",
            ),
            (
                r#""left_fee":0,"refund_fee":1,"refund_reason":"0","req_from":"1""#,
                "refund_fee需要大于0且不超过left_fee",
            ),
            (
                r#""left_fee":10,"refund_fee":4,"refund_reason":"6","req_from":"1""#,
                r#"refund_reason只能是"0"-"5""#,
            ),
            (
                r#""left_fee":10,"refund_fee":4,"refund_reason":"01","req_from":"1""#,
                r#"refund_reason只能是"0"-"5""#,
            ),
            (
                r#""left_fee":10,"refund_fee":4,"refund_reason":1,"req_from":"1""#,
                "field \"refund_reason\" doesn't expect an uint32 value \"1\"",
            ),
            (
                r#""left_fee":10,"refund_fee":4,"refund_reason":"0","req_from":"0""#,
                r#"req_from只能是"1"-"3""#,
            ),
            (
                r#""left_fee":10,"refund_fee":4,"refund_reason":"0","req_from":"4""#,
                r#"req_from只能是"1"-"3""#,
            ),
            (
                r#""left_fee":10,"refund_fee":4,"refund_reason":"0""#,
                "req_from不能为空",
            ),
        ];
        for (fields, expected) in cases {
            assert_eq!(errmsg(Op::RefundOrder, &refund(fields)), expected, "{fields}");
        }
        let meta = |bytes: usize| refund(&format!(r#"{ok},"biz_meta":"{}""#, "m".repeat(bytes)));
        assert!(check(Op::RefundOrder, &meta(1024)).is_ok());
        assert_eq!(errmsg(Op::RefundOrder, &meta(1025)), "biz_meta不能超过1024字节");
        let numbered = |number: &str| {
            format!(r#"{{"openid":"o1","env":0,"wx_order_id":"wx1","refund_order_id":"{number}",{ok}}}"#)
        };
        assert_eq!(
            errmsg(Op::RefundOrder, &numbered("rf-1")),
            "refund_order_id需要在8-32个字符"
        );
        assert_eq!(
            errmsg(Op::RefundOrder, &numbered("rf-0001|")),
            "refund_order_id只能包含数字、大小写字母和_-"
        );
    }

    #[test]
    fn bill_dates() {
        let bill = |begin: &str, end: &str| format!(r#"{{"env":0,"begin_ds":{begin},"end_ds":{end}}}"#);
        let range = |begin: &str, end: &str| match check(Op::DownloadBill, &bill(begin, end)).map(|r| r.call) {
            Ok(Call::DownloadBill { range }) => Ok(range),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.errmsg()),
        };
        // 31 days, both ends included: the most a bill covers.
        assert_eq!(range("20260101", "20260131").map(DateRange::days), Ok(31));
        assert_eq!(
            range("20260101", "20260201"),
            Err("begin_ds到end_ds不能超过31天".into())
        );
        assert_eq!(range("20260215", "20260317").map(DateRange::days), Ok(31));
        assert_eq!(range("20280215", "20280316").map(DateRange::days), Ok(31));
        assert_eq!(range("20261231", "20270130").map(DateRange::days), Ok(31));
        assert_eq!(range("20260101", "20260101").map(DateRange::days), Ok(1));
        assert_eq!(range("20260102", "20260101"), Err("begin_ds不能晚于end_ds".into()));
        assert_eq!(
            range("20260230", "20260301"),
            Err("begin_ds不是有效的日期(yyyymmdd)".into())
        );
        assert_eq!(
            range("20260101", "20260229"),
            Err("end_ds不是有效的日期(yyyymmdd)".into())
        );
        assert!(range("20280229", "20280229").is_ok(), "2028 is a leap year");
        assert_eq!(
            range("21000229", "21000229"),
            Err("begin_ds不是有效的日期(yyyymmdd)".into())
        );
        assert!(range("20000229", "20000229").is_ok(), "2000 is a leap year");
        for bad in [
            "20261301",
            "20260001",
            "20260100",
            "20260132",
            "2026011",
            "0",
            "-20260101",
        ] {
            assert_eq!(
                range(bad, "20260101"),
                Err("begin_ds不是有效的日期(yyyymmdd)".into()),
                "{bad}"
            );
        }
        // A string of 8 digits is a date too (some clients send one); anything else in a
        // string is not.
        assert_eq!(range("\"20260101\"", "20260101").map(DateRange::days), Ok(1));
        assert_eq!(
            range("\"2026-01-01\"", "20260101"),
            Err("begin_ds不是有效的日期(yyyymmdd)".into())
        );
        assert_eq!(
            range("true", "20260101"),
            Err("field \"begin_ds\" doesn't expect a bool value \"true\"".into())
        );
        assert_eq!(
            check(Op::DownloadBill, r#"{"env":0,"begin_ds":20260101}"#).map_err(|e| e.errmsg()),
            Err("end_ds不能为空".into())
        );
    }

    #[test]
    fn dates_count_days_from_the_epoch_in_china_time() {
        let day = |n| Date::from_yyyymmdd(n).expect("a real date");
        assert_eq!(day(19700101).days_since_epoch(), 0);
        assert_eq!(day(19691231).days_since_epoch(), -1);
        assert_eq!(day(20000301).days_since_epoch(), 11_017);
        assert_eq!(day(20260101).days_since_epoch(), 20_454);
        assert_eq!(day(20260101).yyyymmdd(), 20260101);
        assert!(day(20251231) < day(20260101));
        let range = DateRange {
            first: day(20260101),
            last: day(20260102),
        };
        // 2026-01-01 00:00 in China is 2025-12-31 16:00 UTC.
        assert_eq!(range.start_unix_ms(), 1_767_196_800_000);
        assert_eq!(range.end_unix_ms() - range.start_unix_ms(), 2 * 86_400_000);
        assert!(range.contains_unix_ms(range.start_unix_ms()));
        assert!(!range.contains_unix_ms(range.end_unix_ms()));
        assert!(!range.contains_unix_ms(range.start_unix_ms() - 1));
    }

    proptest::proptest! {
        /// days_since_epoch steps by one from any day to the next, across months, years and
        /// leap days, and yyyymmdd reads back every day it writes.
        #[test]
        fn consecutive_days_are_one_apart(year in 1000u16..=9998, month in 1u8..=12, day_seed in 0u8..31) {
            let date = Date { year, month, day: 1 + day_seed % days_in_month(year, month) };
            let next = next_day(date);
            proptest::prop_assert_eq!(next.days_since_epoch(), date.days_since_epoch() + 1);
            proptest::prop_assert_eq!(Date::from_yyyymmdd(date.yyyymmdd()), Some(date));
            proptest::prop_assert_eq!(Date::from_yyyymmdd(next.yyyymmdd()), Some(next));
        }
    }

    fn next_day(date: Date) -> Date {
        if date.day < days_in_month(date.year, date.month) {
            Date {
                day: date.day + 1,
                ..date
            }
        } else if date.month < 12 {
            Date {
                month: date.month + 1,
                day: 1,
                ..date
            }
        } else {
            Date {
                year: date.year + 1,
                month: 1,
                day: 1,
            }
        }
    }

    #[test]
    fn order_number_rules() {
        assert!(is_valid_order_id("Az09_-|*@"));
        assert!(is_valid_order_id(&"9".repeat(32)));
        assert!(!is_valid_order_id(&"9".repeat(33)));
        assert!(!is_valid_order_id("1234567"));
        assert!(!is_valid_order_id("_2345678"));
        assert!(!is_valid_order_id("1234567."));
        assert!(is_valid_refund_order_id("_efund-0"));
        assert!(!is_valid_refund_order_id("refund|0"));
    }

    #[test]
    fn signature_errmsg_says_which_and_echoes_the_body_as_2_0() {
        let short = br#"{"a":1}"#;
        assert_eq!(
            signature_errmsg(SignatureParam::Signature, short),
            "用户态签名(signature)校验失败 raw post_body(remove wrapped []): [{\"a\":1}], base64_encoded_post_body: eyJhIjoxfQ=="
        );
        assert!(signature_errmsg(SignatureParam::PaySig, short).starts_with("支付签名(pay_sig)校验失败 raw post_body"));
        // The echo is 2.0's, byte for byte, short or cut at 1024 bytes inside a character.
        let long = format!("{{\"a\":\"{}\"}}", "é".repeat(600));
        for body in [&short[..], long.as_bytes()] {
            let ours = signature_errmsg(SignatureParam::PaySig, body);
            let theirs = crate::v2::signature_errmsg("pay_sig", body);
            assert_eq!(
                ours.strip_prefix("支付签名(pay_sig)校验失败"),
                theirs.strip_prefix("[pay_sig] pay_sig is invalid")
            );
        }
        let echoed = signature_errmsg(SignatureParam::Signature, long.as_bytes());
        assert!(echoed.contains("...], base64_encoded_post_body: "));
    }

    #[test]
    fn download_bill_takes_no_env_and_dates_as_digit_strings() {
        // As third-party clients send it: no env, dates as strings.
        let request = check(Op::DownloadBill, r#"{"begin_ds":"20260101","end_ds":"20260131"}"#).expect("valid");
        assert!(!request.sandbox);
        let Call::DownloadBill { range } = request.call else {
            panic!("not a download_bill call")
        };
        assert_eq!((range.first.day, range.last.day), (1, 31));
        // env, when given, still picks the sandbox and is checked.
        let request = check(Op::DownloadBill, r#"{"env":1,"begin_ds":20260101,"end_ds":20260101}"#).expect("valid");
        assert!(request.sandbox);
        assert!(check(Op::DownloadBill, r#"{"env":3,"begin_ds":20260101,"end_ds":20260101}"#).is_err());
        for bad in [r#""2026011""#, r#""2026-0101""#, r#""20261301""#, r#""""#] {
            let body = format!(r#"{{"begin_ds":{bad},"end_ds":20260101}}"#);
            assert_eq!(
                check(Op::DownloadBill, &body).map(|_| ()),
                Err(FieldError::Invalid {
                    field: "begin_ds",
                    rule: Rule::Date
                }),
                "{bad}"
            );
        }
        // Every other operation still requires env.
        assert_eq!(
            check(Op::QueryOrder, r#"{"openid":"o1","order_id":"buy-0001"}"#).map(|_| ()),
            Err(FieldError::Missing("env"))
        );
    }
}
