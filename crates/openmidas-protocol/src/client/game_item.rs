//! `wx.requestMidasPaymentGameItem`: an item purchase of 2.0, simulated by
//! `POST /admin/client/game_item`. The client takes `signData` as a JSON *string*, a
//! `paySig` over `requestMidasPaymentGameItem&` + signData with the AppKey of its env, and a
//! `signature` over signData with the player's session_key.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::{is_valid_out_trade_no, MAX_PRICE_FEN};
use crate::json::{self, JsonKind, RawObject};
use crate::limits::{MAX_AMOUNT, MAX_ID_BYTES, MAX_REMARK_BYTES};

/// What `paySig` signs before `&` and signData.
pub const PAY_SIG_URI: &str = "requestMidasPaymentGameItem";

crate::errcodes! {
    /// A fail code of `wx.requestMidasPaymentGameItem`.
    pub enum Code {
        ParamError = -15001, 200, "requestMidasPaymentGameItem:fail PARAM ERROR", retryable: false,
            "a field of signData is missing or invalid, or offerId is not the app's",
            zh: "参数错误：signData 的某个字段缺失或不合法，或 offerId 不属于该应用";
        DuplicateOrder = -15003, 200, "requestMidasPaymentGameItem:fail DUPLICATE ORDER", retryable: false,
            "outTradeNo was used before",
            zh: "订单号重复：outTradeNo 已使用过";
        DataTypeError = -15011, 200, "requestMidasPaymentGameItem:fail DATA TYPE ERROR", retryable: false,
            "signData is not a string holding a JSON object",
            zh: "数据类型错误：signData 不是内容为 JSON 对象的字符串";
        SignatureInvalid = -15012, 200, "requestMidasPaymentGameItem:fail SIGNATURE INVALID", retryable: false,
            "paySig or signature does not match (or the player has no session)",
            zh: "签名错误：paySig 或 signature 不匹配（或玩家没有登录态）";
    }
}

/// The signData of an item purchase, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignData<'a> {
    pub offer_id: Cow<'a, str>,
    pub buy_quantity: i64,
    /// `env` 1.
    pub sandbox: bool,
    /// Empty when not sent.
    pub platform: Cow<'a, str>,
    /// `"1"` when not sent.
    pub zone_id: Cow<'a, str>,
    pub product_id: Cow<'a, str>,
    /// Unit price, in fen.
    pub goods_price: i64,
    pub out_trade_no: Cow<'a, str>,
    pub attach: Cow<'a, str>,
}

/// Why signData was refused: the code and the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignDataError {
    pub code: Code,
    pub detail: String,
}

impl SignDataError {
    fn field(field: &str, problem: &str) -> SignDataError {
        SignDataError {
            code: Code::ParamError,
            detail: format!("{field} {problem}"),
        }
    }

    /// `requestMidasPaymentGameItem:fail PARAM ERROR: <detail>`; the other codes in the
    /// client's own words.
    pub fn errmsg(&self) -> String {
        match self.code {
            Code::ParamError => format!("{}: {}", self.code.errmsg(), self.detail),
            other => other.errmsg().to_string(),
        }
    }
}

fn string<'a>(body: &RawObject<'a>, field: &str, max: usize) -> Result<Cow<'a, str>, SignDataError> {
    let raw = body
        .get(field)
        .ok_or_else(|| SignDataError::field(field, "is required"))?;
    match json::string_text(raw) {
        Some(text) if !text.is_empty() && text.len() <= max => Ok(text),
        Some(_) => Err(SignDataError::field(field, &format!("must be 1 to {max} bytes"))),
        None => Err(SignDataError::field(field, "must be a string")),
    }
}

fn integer(raw: Option<&RawValue>, field: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, SignDataError> {
    let raw = raw.ok_or_else(|| SignDataError::field(field, "is required"))?;
    match json::kind(raw) {
        JsonKind::Integer(v) if range.contains(&v) => Ok(v),
        _ => Err(SignDataError::field(
            field,
            &format!("must be an integer in {}..={}", range.start(), range.end()),
        )),
    }
}

/// Reads signData (the text of the JSON string the client was given).
pub fn parse_sign_data(sign_data: &str) -> Result<SignData<'_>, SignDataError> {
    let body = RawObject::parse(sign_data.as_bytes()).map_err(|e| SignDataError {
        code: Code::DataTypeError,
        detail: e.errmsg(),
    })?;
    // `mode`, `platform` and `zoneId` are in the client's documented signData; the
    // signature examples leave them out, so they are optional here.
    if body.get("mode").is_some() && string(&body, "mode", 16)? != "goods" {
        return Err(SignDataError::field("mode", "must be \"goods\""));
    }
    let offer_id = string(&body, "offerId", MAX_ID_BYTES)?;
    let buy_quantity = integer(body.get("buyQuantity"), "buyQuantity", 1..=MAX_AMOUNT)?;
    let sandbox = match body.get("env") {
        None => false,
        raw => integer(raw, "env", 0..=1)? == 1,
    };
    let currency = string(&body, "currencyType", 8)?;
    if currency != "CNY" {
        return Err(SignDataError::field("currencyType", "must be \"CNY\""));
    }
    let platform = match body.get("platform") {
        None => Cow::Borrowed(""),
        Some(_) => string(&body, "platform", MAX_ID_BYTES)?,
    };
    let zone_id = match body.get("zoneId") {
        None => Cow::Borrowed("1"),
        Some(_) => string(&body, "zoneId", MAX_ID_BYTES)?,
    };
    let product_id = string(&body, "productId", MAX_ID_BYTES)?;
    let goods_price = integer(body.get("goodsPrice"), "goodsPrice", 1..=MAX_PRICE_FEN)?;
    let out_trade_no = string(&body, "outTradeNo", super::MAX_OUT_TRADE_NO_CHARS)?;
    if !is_valid_out_trade_no(&out_trade_no) {
        return Err(SignDataError::field(
            "outTradeNo",
            "must be 1 to 32 characters of 0-9 A-Z a-z _ - | * and not start with _",
        ));
    }
    let attach = match body.get("attach") {
        None => Cow::Borrowed(""),
        Some(raw) => match json::string_text(raw) {
            Some(text) if text.len() <= MAX_REMARK_BYTES => text,
            _ => return Err(SignDataError::field("attach", "must be a string of at most 1024 bytes")),
        },
    };
    Ok(SignData {
        offer_id,
        buy_quantity,
        sandbox,
        platform,
        zone_id,
        product_id,
        goods_price,
        out_trade_no,
        attach,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"mode":"goods","offerId":"123","buyQuantity":1,"env":0,"currencyType":"CNY","platform":"android","zoneId":"1","productId":"testproductId","goodsPrice":10,"outTradeNo":"xxxxxx","attach":"testdata"}"#;

    #[test]
    fn the_documented_sign_data_reads() {
        let data = parse_sign_data(DOC).unwrap();
        assert_eq!(data.offer_id, "123");
        assert_eq!((data.buy_quantity, data.goods_price, data.sandbox), (1, 10, false));
        assert_eq!(data.out_trade_no, "xxxxxx");
    }

    #[test]
    fn refusals_name_the_field() {
        let e = parse_sign_data("[1]").unwrap_err();
        assert_eq!(e.code, Code::DataTypeError);
        let e = parse_sign_data(&DOC.replace("\"CNY\"", "\"USD\"")).unwrap_err();
        assert_eq!(
            e.errmsg(),
            "requestMidasPaymentGameItem:fail PARAM ERROR: currencyType must be \"CNY\""
        );
        let e = parse_sign_data(&DOC.replace("\"offerId\":\"123\"", "\"offerId\":123")).unwrap_err();
        assert_eq!(e.detail, "offerId must be a string");
        let e = parse_sign_data(&DOC.replace("xxxxxx", "_x")).unwrap_err();
        assert!(e.detail.starts_with("outTradeNo"));
    }
}
