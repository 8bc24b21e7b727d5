//! `wx.requestVirtualPayment`: an xpay purchase of coins or goods, simulated by
//! `POST /admin/client/virtual_payment` (behaviour.md section 11;
//! wechat-reference-vp2-xpay.md section 4.1). The client takes `mode`, `signData` as a JSON
//! *string*, a `paySig` over `requestVirtualPayment&` + signData with the AppKey of its env,
//! and a `signature` over signData with the player's session_key.
//!
//! The real client reads signData in two steps, and so does [`parse_sign_data`]: a parser
//! that types every known field (a value of the wrong JSON type answers -15016 in the
//! parser's words, `fail field "offerId" doesn't expect an uint32 value "123"`), then the
//! rules (-15001 naming the field, -15004 for the currency). Unknown fields (`mode`,
//! `platform`, `zoneId`, copied from the mini-game item purchase) are ignored; whether the
//! real client refuses `platform` is UNCONFIRMED.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::MAX_PRICE_FEN;
use crate::json::{self, BodyError, JsonKind, RawObject};
use crate::limits::{MAX_AMOUNT, MAX_ID_BYTES, MAX_REMARK_BYTES};
use crate::xpay::is_valid_order_id;
use crate::xpay::request::{wrong_type_parts, wrong_type_text};

/// What `paySig` signs before `&` and signData.
pub const PAY_SIG_URI: &str = "requestVirtualPayment";

crate::errcodes! {
    /// A fail code of `wx.requestVirtualPayment`. The texts follow the client's
    /// `requestVirtualPayment:fail UPPER_CASE` style; only -15005 and -15006 were seen from
    /// the real client, the others are OpenMidas's (UNCONFIRMED).
    pub enum Code {
        SignDataNotString = 1001, 200, "requestVirtualPayment:fail signData参数类型必须是string", retryable: false,
            "signData was passed as something other than a string (an object, say)",
            zh: "signData 参数类型必须是 string：传入的不是字符串（例如传了对象）";
        ParamError = -15001, 200, "requestVirtualPayment:fail PARAM_ERROR", retryable: false,
            "mode or a field of signData is missing or breaks its rule, or offerId is not the app's (the errmsg names it)",
            zh: "参数错误：mode 或 signData 的某个字段缺失或不符合规则，或 offerId 不属于该应用（errmsg 中会指明）";
        DuplicateOutTradeNo = -15002, 200, "requestVirtualPayment:fail DUPLICATE_OUT_TRADE_NO", retryable: false,
            "outTradeNo was used before: every purchase needs a new one",
            zh: "订单号重复：outTradeNo 已使用过，每次购买都须使用新的订单号";
        CurrencyTypeInvalid = -15004, 200, "requestVirtualPayment:fail CURRENCY_TYPE_INVALID", retryable: false,
            "currencyType is not \"CNY\"",
            zh: "币种类型错误：currencyType 不是 \"CNY\"";
        SignatureInvalid = -15005, 200, "requestVirtualPayment:fail SIGNATURE_INVALID", retryable: false,
            "signature does not match the player's newest session_key over signData",
            zh: "用户态签名错误：signature 与用玩家最新的 session_key 对 signData 计算的签名不一致";
        PaySigInvalid = -15006, 200, "requestVirtualPayment:fail PAY_SIG_INVALID", retryable: false,
            "paySig does not match the AppKey of signData's env over requestVirtualPayment&signData",
            zh: "支付签名错误：paySig 与用 signData 中 env 对应的 AppKey 对 requestVirtualPayment&signData 计算的签名不一致";
        SessionExpired = -15007, 200, "requestVirtualPayment:fail SESSION_KEY_EXPIRED", retryable: false,
            "the player has no session_key: log in (jscode2session) first",
            zh: "session_key 已过期：玩家没有 session_key，请先登录（jscode2session）";
        SignDataFormat = -15016, 200, "requestVirtualPayment:fail SIGN_DATA_FORMAT_ERROR", retryable: false,
            "signData is not a JSON object, or a field of it has the wrong JSON type (the errmsg is the parser's)",
            zh: "signData 格式错误：signData 不是 JSON 对象，或其中某个字段的 JSON 类型错误（errmsg 为解析器给出的信息）";
    }
}

/// `wx.requestVirtualPayment`'s `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `short_series_coin`: a coin top-up (credited at once).
    Coin,
    /// `short_series_goods`: an item bought directly (delivered through the push).
    Goods,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::Coin, Mode::Goods];

    /// The name the client takes.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Coin => "short_series_coin",
            Mode::Goods => "short_series_goods",
        }
    }

    /// The mode of its name; anything else is -15001 (which code the real client gives a
    /// bad mode is UNCONFIRMED).
    pub fn parse(text: &str) -> Result<Mode, ClientError> {
        Mode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == text)
            .ok_or_else(|| ClientError::param("mode", "must be short_series_coin or short_series_goods"))
    }
}

/// What the purchase buys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Product<'a> {
    /// `buyQuantity` coins, priced by the app (its `coin_price_fen`).
    Coins,
    /// `buyQuantity` of one item.
    Goods {
        product_id: Cow<'a, str>,
        /// Unit price, in fen.
        goods_price: i64,
        /// A discounted unit price, in fen: 40%..=100% of `goods_price`.
        activity_selling_price: Option<i64>,
    },
}

/// The signData of a `wx.requestVirtualPayment`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignData<'a> {
    pub offer_id: Cow<'a, str>,
    /// 1..=1_000_000_000.
    pub buy_quantity: i64,
    /// `env` 1 (0 when not sent).
    pub sandbox: bool,
    /// Which of [`Mode`]'s products, with what that mode needs.
    pub product: Product<'a>,
    /// 8-32 of `0-9 A-Z a-z _ - | * @`, not starting with `_` (as xpay's `order_id`).
    pub out_trade_no: Cow<'a, str>,
    /// Echoed in the delivery push; may be empty, at most 1024 bytes.
    pub attach: Cow<'a, str>,
}

impl SignData<'_> {
    pub const fn mode(&self) -> Mode {
        match self.product {
            Product::Coins => Mode::Coin,
            Product::Goods { .. } => Mode::Goods,
        }
    }

    /// The unit price before any discount, in fen (the push's `OrigPrice` per unit):
    /// `goodsPrice`, or the app's coin price for coins.
    pub const fn original_unit_price(&self, coin_price_fen: i64) -> i64 {
        match self.product {
            Product::Coins => coin_price_fen,
            Product::Goods { goods_price, .. } => goods_price,
        }
    }

    /// The unit price charged, in fen: `activitySellingPrice` when sent, else as
    /// [`SignData::original_unit_price`] (behaviour.md section 11).
    pub const fn unit_price(&self, coin_price_fen: i64) -> i64 {
        match self.product {
            Product::Goods {
                activity_selling_price: Some(price),
                ..
            } => price,
            _ => self.original_unit_price(coin_price_fen),
        }
    }

    /// The order fee, in fen: the unit price charged times `buyQuantity`. `None` only if a
    /// coin price beyond any sane bound overflows it (signData's own prices cannot: both
    /// factors are at most 10^9).
    pub const fn order_fee(&self, coin_price_fen: i64) -> Option<i64> {
        self.unit_price(coin_price_fen).checked_mul(self.buy_quantity)
    }
}

/// Why a `wx.requestVirtualPayment` was refused: the code and, where the client says more,
/// what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    pub code: Code,
    /// For -15001 the field and its rule; for -15016 the parser's sentence; else empty.
    pub detail: String,
}

impl ClientError {
    /// A code in the client's own words, nothing more.
    pub fn new(code: Code) -> ClientError {
        ClientError {
            code,
            detail: String::new(),
        }
    }

    /// -15001 naming the field.
    pub fn param(field: &str, problem: &str) -> ClientError {
        ClientError {
            code: Code::ParamError,
            detail: format!("{field} {problem}"),
        }
    }

    fn format(detail: String) -> ClientError {
        ClientError {
            code: Code::SignDataFormat,
            detail,
        }
    }

    fn wrong_type(field: &str, raw: &RawValue) -> ClientError {
        let (kind, value) = wrong_type_parts(raw);
        ClientError::format(wrong_type_text(field, kind, &value))
    }

    /// The errMsg:
    /// - -15001: `requestVirtualPayment:fail PARAM_ERROR: <field> <rule>`;
    /// - -15016: `requestVirtualPayment:fail <the parser's sentence>`, as the real client
    ///   shows it (`...:fail field "offerId" doesn't expect an uint32 value "123"`);
    /// - any other: the code's text (followed by `: <detail>` if one was given).
    pub fn errmsg(&self) -> String {
        match (self.code, self.detail.is_empty()) {
            (_, true) => self.code.errmsg().to_string(),
            (Code::SignDataFormat, false) => format!("requestVirtualPayment:fail {}", self.detail),
            (code, false) => format!("{}: {}", code.errmsg(), self.detail),
        }
    }
}

/// The JSON type each known signData field must have: the parser's step.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    String,
    Integer,
}

const FIELDS: [(&str, Expect); 9] = [
    ("offerId", Expect::String),
    ("buyQuantity", Expect::Integer),
    ("env", Expect::Integer),
    ("currencyType", Expect::String),
    ("productId", Expect::String),
    ("goodsPrice", Expect::Integer),
    ("activitySellingPrice", Expect::Integer),
    ("outTradeNo", Expect::String),
    ("attach", Expect::String),
];

/// The parser's step: every known field sent has its JSON type.
fn check_types(body: &RawObject<'_>) -> Result<(), ClientError> {
    for (field, expect) in FIELDS {
        let Some(raw) = body.get(field) else { continue };
        let fits = match (expect, json::kind(raw)) {
            (Expect::String, JsonKind::String) => true,
            // An integer of any size parses; its range is a rule (-15001).
            (Expect::Integer, JsonKind::Integer(_) | JsonKind::BigInteger) => true,
            _ => false,
        };
        if !fits {
            return Err(ClientError::wrong_type(field, raw));
        }
    }
    Ok(())
}

fn string<'a>(body: &RawObject<'a>, field: &str, max: usize) -> Result<Cow<'a, str>, ClientError> {
    let raw = body
        .get(field)
        .ok_or_else(|| ClientError::param(field, "is required"))?;
    match json::string_text(raw) {
        Some(text) if !text.is_empty() && text.len() <= max => Ok(text),
        _ => Err(ClientError::param(field, &format!("must be 1 to {max} bytes"))),
    }
}

fn integer(body: &RawObject<'_>, field: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, ClientError> {
    let raw = body
        .get(field)
        .ok_or_else(|| ClientError::param(field, "is required"))?;
    match json::kind(raw) {
        JsonKind::Integer(v) if range.contains(&v) => Ok(v),
        _ => Err(ClientError::param(
            field,
            &format!("must be an integer in {}..={}", range.start(), range.end()),
        )),
    }
}

fn sign_data_format(e: BodyError) -> ClientError {
    ClientError::format(match e {
        BodyError::TooLarge => format!("signData exceeds {} bytes", json::MAX_BODY_BYTES),
        BodyError::InvalidJson(detail) => format!("signData is not valid JSON: {detail}"),
        BodyError::NotAnObject => "signData must be a JSON object".to_string(),
        BodyError::DuplicateKey(key) => format!("signData has {key} more than once"),
    })
}

/// Reads signData (the text of the JSON string the client was given) for `mode`, as the
/// client checks it (wechat-reference-vp2-xpay.md section 4.1): the JSON types first
/// (-15016), then in order offerId, buyQuantity, env, currencyType (-15004 unless `"CNY"`),
/// for goods productId, goodsPrice and activitySellingPrice, then outTradeNo and attach
/// (-15001 naming the field). Whether offerId is the app's is the caller's check.
pub fn parse_sign_data(sign_data: &str, mode: Mode) -> Result<SignData<'_>, ClientError> {
    let body = RawObject::parse(sign_data.as_bytes()).map_err(sign_data_format)?;
    check_types(&body)?;
    let offer_id = string(&body, "offerId", MAX_ID_BYTES)?;
    let buy_quantity = integer(&body, "buyQuantity", 1..=MAX_AMOUNT)?;
    let sandbox = match body.get("env") {
        None => false,
        Some(_) => integer(&body, "env", 0..=1)? == 1,
    };
    match body.get("currencyType").and_then(json::string_text) {
        Some(currency) if currency == "CNY" => {}
        Some(_) => return Err(ClientError::new(Code::CurrencyTypeInvalid)),
        None => return Err(ClientError::param("currencyType", "is required")),
    }
    let product = match mode {
        // Coins are priced by the app: item fields sent along are ignored.
        Mode::Coin => Product::Coins,
        Mode::Goods => {
            let product_id = string(&body, "productId", MAX_ID_BYTES)?;
            let goods_price = integer(&body, "goodsPrice", 1..=MAX_PRICE_FEN)?;
            let activity_selling_price = match body.get("activitySellingPrice") {
                None => None,
                // 40% of goodsPrice at least, rounded up (so 10 * price >= 4 * goodsPrice).
                Some(_) => Some(
                    integer(&body, "activitySellingPrice", 1..=goods_price)
                        .ok()
                        .filter(|price| price * 10 >= goods_price * 4)
                        .ok_or_else(|| {
                            ClientError::param("activitySellingPrice", "must be 40% to 100% of goodsPrice")
                        })?,
                ),
            };
            Product::Goods {
                product_id,
                goods_price,
                activity_selling_price,
            }
        }
    };
    // The types were checked: a field that reads as no string was not sent.
    let out_trade_no = match body.get("outTradeNo").and_then(json::string_text) {
        Some(text) if is_valid_order_id(&text) => text,
        Some(_) => {
            return Err(ClientError::param(
                "outTradeNo",
                "must be 8-32 characters of 0-9 A-Z a-z _ - | * @ and not start with _",
            ))
        }
        None => return Err(ClientError::param("outTradeNo", "is required")),
    };
    let attach = match body.get("attach").and_then(json::string_text) {
        Some(text) if text.len() <= MAX_REMARK_BYTES => text,
        Some(_) => return Err(ClientError::param("attach", "must be at most 1024 bytes")),
        None => return Err(ClientError::param("attach", "is required")),
    };
    Ok(SignData {
        offer_id,
        buy_quantity,
        sandbox,
        product,
        out_trade_no,
        attach,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The known-answer vector `client-requestVirtualPayment` of signatures.json, as data:
    /// the documented signData example, AppKey `12345`, the session_key below.
    const VECTOR_SIGN_DATA: &str = r#"{"offerId":"123","buyQuantity":1,"env":0,"currencyType":"CNY","productId":"testproductId","goodsPrice":10,"outTradeNo":"xxxxxx","attach":"testdata"}"#;
    const VECTOR_APP_KEY: &str = "12345";
    const VECTOR_SESSION_KEY: &str = "9hAb/NEYUlkaMBEsmFgzig==";
    const VECTOR_PAY_SIG: &str = "0ce2a9fcab3532e9f78dd3beb841806c0c08a24ec26b04c366584ac06d852bb0";
    const VECTOR_SIGNATURE: &str = "8e08bc05e10243e2e943385292e2063be327f8285c0db753a5c3e5db5745cb69";

    /// The documented example with an outTradeNo of the documented length.
    fn goods() -> String {
        VECTOR_SIGN_DATA.replace("\"xxxxxx\"", "\"order-0001\"")
    }

    fn refusal(text: &str, mode: Mode) -> (Code, String) {
        let e = parse_sign_data(text, mode).expect_err(text);
        (e.code, e.errmsg())
    }

    #[test]
    fn the_vector_signs() {
        let signed = crate::sign::v2::sign(PAY_SIG_URI, VECTOR_SIGN_DATA, VECTOR_APP_KEY, Some(VECTOR_SESSION_KEY));
        assert_eq!(signed.pay_sig, VECTOR_PAY_SIG);
        assert_eq!(signed.signature.as_deref(), Some(VECTOR_SIGNATURE));
        assert_eq!(
            signed.pay_sig_message,
            format!("requestVirtualPayment&{VECTOR_SIGN_DATA}")
        );
        assert_eq!(
            crate::sign::v2::pay_sig(VECTOR_APP_KEY, PAY_SIG_URI, VECTOR_SIGN_DATA.as_bytes()),
            VECTOR_PAY_SIG
        );
        // The documented example's outTradeNo ("xxxxxx", 6 characters) breaks the documented
        // 8-32 rule: the vector signs, but the client refuses it.
        assert_eq!(
            refusal(VECTOR_SIGN_DATA, Mode::Goods),
            (
                Code::ParamError,
                "requestVirtualPayment:fail PARAM_ERROR: outTradeNo must be 8-32 characters of 0-9 A-Z a-z _ - | * @ and not start with _".into()
            )
        );
    }

    #[test]
    fn goods_and_coins_read() {
        let text = goods();
        let data = parse_sign_data(&text, Mode::Goods).expect("valid goods signData");
        assert_eq!(
            data,
            SignData {
                offer_id: "123".into(),
                buy_quantity: 1,
                sandbox: false,
                product: Product::Goods {
                    product_id: "testproductId".into(),
                    goods_price: 10,
                    activity_selling_price: None,
                },
                out_trade_no: "order-0001".into(),
                attach: "testdata".into(),
            }
        );
        assert_eq!(
            (data.mode(), data.unit_price(7), data.order_fee(7)),
            (Mode::Goods, 10, Some(10))
        );
        let coins = r#"{"offerId":"123","buyQuantity":60,"currencyType":"CNY","outTradeNo":"coin-0001","attach":""}"#;
        let data = parse_sign_data(coins, Mode::Coin).expect("valid coin signData");
        assert_eq!(data.product, Product::Coins);
        assert!(!data.sandbox, "env defaults to 0");
        assert_eq!((data.mode(), data.order_fee(10)), (Mode::Coin, Some(600)));
        // Goods fields in a coin purchase are ignored, as are unknown fields.
        let extra = goods().replace("{", r#"{"platform":"android","zoneId":"1","mode":"goods","#);
        assert_eq!(
            parse_sign_data(&extra, Mode::Coin).map(|d| d.product),
            Ok(Product::Coins)
        );
        let sandbox = goods().replace("\"env\":0", "\"env\":1");
        assert!(parse_sign_data(&sandbox, Mode::Goods).is_ok_and(|d| d.sandbox));
    }

    #[test]
    fn activity_selling_price_is_charged_within_40_to_100_percent() {
        let priced = |price: &str| {
            goods().replace(
                "\"goodsPrice\":10",
                &format!("\"goodsPrice\":10,\"activitySellingPrice\":{price}"),
            )
        };
        for (price, charged) in [("4", 4), ("10", 10), ("7", 7)] {
            let text = priced(price);
            let data = parse_sign_data(&text, Mode::Goods).expect(price);
            assert_eq!((data.unit_price(0), data.original_unit_price(0)), (charged, 10));
        }
        for price in ["3", "11", "0", "-1"] {
            assert_eq!(
                refusal(&priced(price), Mode::Goods),
                (
                    Code::ParamError,
                    "requestVirtualPayment:fail PARAM_ERROR: activitySellingPrice must be 40% to 100% of goodsPrice"
                        .into()
                ),
                "{price}"
            );
        }
    }

    #[test]
    fn refusals() {
        let base = goods();
        let param = |detail: &str| {
            (
                Code::ParamError,
                format!("requestVirtualPayment:fail PARAM_ERROR: {detail}"),
            )
        };
        let cases: Vec<(String, Mode, (Code, String))> = vec![
            (
                base.replace("\"offerId\":\"123\"", "\"offerId\":123"),
                Mode::Goods,
                (
                    Code::SignDataFormat,
                    "requestVirtualPayment:fail field \"offerId\" doesn't expect an uint32 value \"123\"".into(),
                ),
            ),
            (
                base.replace("\"buyQuantity\":1", "\"buyQuantity\":\"1\""),
                Mode::Goods,
                (
                    Code::SignDataFormat,
                    "requestVirtualPayment:fail field \"buyQuantity\" doesn't expect a string value \"1\"".into(),
                ),
            ),
            (
                base.replace("\"goodsPrice\":10", "\"goodsPrice\":1.5"),
                Mode::Coin,
                (
                    Code::SignDataFormat,
                    "requestVirtualPayment:fail field \"goodsPrice\" doesn't expect a double value \"1.5\"".into(),
                ),
            ),
            (
                "[1]".into(),
                Mode::Goods,
                (
                    Code::SignDataFormat,
                    "requestVirtualPayment:fail signData must be a JSON object".into(),
                ),
            ),
            (
                base.replace("\"offerId\":\"123\",", ""),
                Mode::Goods,
                param("offerId is required"),
            ),
            (
                base.replace("\"offerId\":\"123\"", "\"offerId\":\"\""),
                Mode::Goods,
                param("offerId must be 1 to 128 bytes"),
            ),
            (
                base.replace("\"buyQuantity\":1", "\"buyQuantity\":0"),
                Mode::Goods,
                param("buyQuantity must be an integer in 1..=1000000000"),
            ),
            (
                base.replace("\"env\":0", "\"env\":2"),
                Mode::Goods,
                param("env must be an integer in 0..=1"),
            ),
            (
                base.replace("\"CNY\"", "\"USD\""),
                Mode::Goods,
                (
                    Code::CurrencyTypeInvalid,
                    "requestVirtualPayment:fail CURRENCY_TYPE_INVALID".into(),
                ),
            ),
            (
                base.replace("\"currencyType\":\"CNY\",", ""),
                Mode::Goods,
                param("currencyType is required"),
            ),
            (
                base.replace("\"productId\":\"testproductId\",", ""),
                Mode::Goods,
                param("productId is required"),
            ),
            (
                base.replace("\"goodsPrice\":10", "\"goodsPrice\":0"),
                Mode::Goods,
                param("goodsPrice must be an integer in 1..=1000000000"),
            ),
            (
                base.replace("order-0001", "_order-0001"),
                Mode::Goods,
                param("outTradeNo must be 8-32 characters of 0-9 A-Z a-z _ - | * @ and not start with _"),
            ),
            (
                base.replace("order-0001", &"1".repeat(33)),
                Mode::Goods,
                param("outTradeNo must be 8-32 characters of 0-9 A-Z a-z _ - | * @ and not start with _"),
            ),
            (
                base.replace(",\"attach\":\"testdata\"", ""),
                Mode::Goods,
                param("attach is required"),
            ),
            (
                base.replace("\"outTradeNo\":\"order-0001\",", ""),
                Mode::Goods,
                param("outTradeNo is required"),
            ),
            (
                base.replace("testdata", &"a".repeat(1025)),
                Mode::Goods,
                param("attach must be at most 1024 bytes"),
            ),
        ];
        for (text, mode, expected) in cases {
            assert_eq!(refusal(&text, mode), expected, "{text}");
        }
        // The item fields are not needed for coins, only typed.
        let coins = base
            .replace("\"productId\":\"testproductId\",", "")
            .replace("\"goodsPrice\":10,", "");
        assert!(parse_sign_data(&coins, Mode::Coin).is_ok());
        let e = parse_sign_data("{", Mode::Coin).expect_err("not JSON");
        assert_eq!(e.code, Code::SignDataFormat);
        assert!(e
            .errmsg()
            .starts_with("requestVirtualPayment:fail signData is not valid JSON"));
    }

    #[test]
    fn modes_and_codes() {
        assert_eq!(Mode::parse("short_series_coin"), Ok(Mode::Coin));
        assert_eq!(Mode::parse("short_series_goods"), Ok(Mode::Goods));
        assert_eq!(
            Mode::parse("goods").map_err(|e| e.errmsg()),
            Err("requestVirtualPayment:fail PARAM_ERROR: mode must be short_series_coin or short_series_goods".into())
        );
        assert_eq!(
            ClientError::new(Code::SignatureInvalid).errmsg(),
            "requestVirtualPayment:fail SIGNATURE_INVALID"
        );
        assert_eq!(
            ClientError::new(Code::PaySigInvalid).errmsg(),
            "requestVirtualPayment:fail PAY_SIG_INVALID"
        );
        let codes: Vec<i64> = Code::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes, [1001, -15001, -15002, -15004, -15005, -15006, -15007, -15016]);
    }
}
