//! The events' content and message bodies (behaviour.md section 12;
//! wechat-reference-vp2-xpay.md sections 3.4 and 3.5). Field names and types are the
//! wire's; struct field order is the order on the wire.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::xml;
use super::{EventKind, PushError, PushFormat, MAX_PUSH_BYTES};
use crate::sign;

/// xpay's `WeChatPayInfo` (absent for channels other than WeChat Pay).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct XpayPayInfo {
    pub mch_order_no: String,
    pub transaction_id: String,
    /// Unix seconds.
    pub paid_time: i64,
}

/// xpay's `GoodsInfo`. Prices are the order's totals in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct XpayGoodsInfo {
    pub product_id: String,
    pub quantity: i64,
    pub orig_price: i64,
    pub actual_price: i64,
    #[serde(default)]
    pub attach: String,
}

/// xpay's `TeamInfo` (group buying). OpenMidas has none and never sends it; it is here so
/// that receivers can read WeChat's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TeamInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// 1 = pay-all (refunded on success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_type: Option<i64>,
    /// 0 create, 1 join.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_action: Option<i64>,
}

/// `xpay_goods_deliver_notify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct XpayGoodsDeliver {
    pub open_id: String,
    /// 0 official, 1 sandbox.
    pub env: u32,
    pub out_trade_no: String,
    #[serde(rename = "WeChatPayInfo", default, skip_serializing_if = "Option::is_none")]
    pub wechat_pay_info: Option<XpayPayInfo>,
    pub goods_info: XpayGoodsInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_info: Option<TeamInfo>,
}

/// xpay's `CoinInfo`. Prices are the order's totals in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct XpayCoinInfo {
    pub quantity: i64,
    pub orig_price: i64,
    pub actual_price: i64,
    #[serde(default)]
    pub attach: String,
}

/// `xpay_coin_pay_notify`: a coin top-up was paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct XpayCoinPay {
    pub open_id: String,
    pub env: u32,
    pub out_trade_no: String,
    #[serde(rename = "WeChatPayInfo", default, skip_serializing_if = "Option::is_none")]
    pub wechat_pay_info: Option<XpayPayInfo>,
    pub coin_info: XpayCoinInfo,
}

/// `xpay_refund_notify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct XpayRefund {
    pub open_id: String,
    pub env: u32,
    pub wx_refund_id: String,
    pub mch_refund_id: String,
    pub wx_order_id: String,
    pub mch_order_id: String,
    /// Fen.
    pub refund_fee: i64,
    /// 0 = success.
    pub ret_code: i64,
    #[serde(default)]
    pub ret_msg: String,
    pub refund_start_timestamp: i64,
    pub refund_succ_timestamp: i64,
    #[serde(default)]
    pub wxpay_refund_transaction_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_info: Option<TeamInfo>,
}

/// The mini-game events' `WeChatPayInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MiniGamePayInfo {
    pub mch_order_no: String,
    pub transaction_id: String,
}

/// `minigame_coin_deliver_completed`'s `CoinInfo`. `TotalPrice` is `ActualPrice` again
/// (the reference's table and example disagree; both are sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MiniGameCoinInfo {
    pub zone_id: String,
    pub actual_price: i64,
    pub total_price: i64,
    pub buy_quantity: i64,
    pub orig_price: i64,
}

/// The Payload of `minigame_coin_deliver_completed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MiniGameCoinDeliver {
    pub open_id: String,
    pub env: u32,
    pub out_trade_no: String,
    #[serde(rename = "WeChatPayInfo")]
    pub wechat_pay_info: MiniGamePayInfo,
    pub coin_info: MiniGameCoinInfo,
}

/// `minigame_game_pay_goods_deliver_notify`'s `GoodsInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MiniGameGoodsInfo {
    pub product_id: String,
    pub quantity: i64,
    pub zone_id: String,
    pub orig_price: i64,
    pub actual_price: i64,
    #[serde(default)]
    pub attach: String,
    /// 1 in-game (what OpenMidas sends), 2 mall, 3 mall test.
    pub order_source: u32,
}

/// The Payload of `minigame_game_pay_goods_deliver_notify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MiniGameGoodsDeliver {
    pub open_id: String,
    pub env: u32,
    pub out_trade_no: String,
    #[serde(rename = "WeChatPayInfo")]
    pub wechat_pay_info: MiniGamePayInfo,
    pub goods_info: MiniGameGoodsInfo,
}

/// The content of an event, one variant per [`EventKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventContent {
    MiniGameCoinDeliverCompleted(MiniGameCoinDeliver),
    MiniGameGoodsDeliverNotify(MiniGameGoodsDeliver),
    XpayCoinPayNotify(XpayCoinPay),
    XpayGoodsDeliverNotify(XpayGoodsDeliver),
    XpayRefundNotify(XpayRefund),
}

impl EventContent {
    pub fn kind(&self) -> EventKind {
        match self {
            Self::MiniGameCoinDeliverCompleted(_) => EventKind::MiniGameCoinDeliverCompleted,
            Self::MiniGameGoodsDeliverNotify(_) => EventKind::MiniGameGoodsDeliverNotify,
            Self::XpayCoinPayNotify(_) => EventKind::XpayCoinPayNotify,
            Self::XpayGoodsDeliverNotify(_) => EventKind::XpayGoodsDeliverNotify,
            Self::XpayRefundNotify(_) => EventKind::XpayRefundNotify,
        }
    }

    /// The `Env` of the content (0 official, 1 sandbox): which AppKey signs a mini-game
    /// event.
    pub fn env(&self) -> u32 {
        match self {
            Self::MiniGameCoinDeliverCompleted(c) => c.env,
            Self::MiniGameGoodsDeliverNotify(c) => c.env,
            Self::XpayCoinPayNotify(c) => c.env,
            Self::XpayGoodsDeliverNotify(c) => c.env,
            Self::XpayRefundNotify(c) => c.env,
        }
    }

    /// The player's `OpenId`.
    pub fn open_id(&self) -> &str {
        match self {
            Self::MiniGameCoinDeliverCompleted(c) => &c.open_id,
            Self::MiniGameGoodsDeliverNotify(c) => &c.open_id,
            Self::XpayCoinPayNotify(c) => &c.open_id,
            Self::XpayGoodsDeliverNotify(c) => &c.open_id,
            Self::XpayRefundNotify(c) => &c.open_id,
        }
    }

    /// The content's fields as a JSON object, in wire order.
    fn to_object(&self) -> Map<String, Value> {
        let value = match self {
            Self::MiniGameCoinDeliverCompleted(c) => serde_json::to_value(c),
            Self::MiniGameGoodsDeliverNotify(c) => serde_json::to_value(c),
            Self::XpayCoinPayNotify(c) => serde_json::to_value(c),
            Self::XpayGoodsDeliverNotify(c) => serde_json::to_value(c),
            Self::XpayRefundNotify(c) => serde_json::to_value(c),
        };
        match value {
            Ok(Value::Object(object)) => object,
            // Plain structs of strings and numbers always serialise to an object.
            _ => unreachable!("event content serialises to a JSON object"),
        }
    }
}

/// What every message carries besides the content: `ToUserName` (the app's original id),
/// `FromUserName` (the platform's fixed openid), `CreateTime` (Unix seconds, on the
/// virtual clock) and `RetryTimes` (0 on the first delivery, xpay events only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub to_user_name: String,
    pub from_user_name: String,
    pub create_time: i64,
    pub retry_times: u32,
}

/// `PayEventSig = hex(HMAC-SHA256(app_key, event + "&" + payload))`: the construction of
/// 2.0's `pay_sig` with the event in place of the URI.
pub fn pay_event_sig(app_key: &str, event: &str, payload: &str) -> String {
    sign::v2::pay_sig(app_key, event, payload.as_bytes())
}

/// Whether `provided` is the lowercase hex [`pay_event_sig`], compared in constant time.
pub fn pay_event_sig_matches(app_key: &str, event: &str, payload: &str, provided: &str) -> bool {
    let digest = sign::v2::pay_sig_digest(app_key, event, payload.as_bytes());
    sign::hex_matches_case(&digest, provided, sign::HexCase::Lower)
}

/// The plaintext message body of an event (before any safe-mode encryption).
///
/// xpay events: `ToUserName, FromUserName, CreateTime, MsgType, Event`, the content's
/// fields, `RetryTimes`, as JSON or as an `<xml>` document (strings in CDATA, numbers bare,
/// nested objects as nested elements). Mini-game events are JSON whatever `format`:
/// `ToUserName, FromUserName, CreateTime, MsgType, Event, MiniGame{Payload, PayEventSig,
/// IsMock:false}`, Payload being the content as a JSON string signed with `app_key` (the
/// AppKey of the content's env). The same inputs give the same bytes.
pub fn render(content: &EventContent, envelope: &Envelope, format: PushFormat, app_key: &str) -> String {
    let kind = content.kind();
    let mut message = Map::new();
    message.insert("ToUserName".into(), envelope.to_user_name.clone().into());
    message.insert("FromUserName".into(), envelope.from_user_name.clone().into());
    message.insert("CreateTime".into(), envelope.create_time.into());
    message.insert("MsgType".into(), "event".into());
    message.insert("Event".into(), kind.as_str().into());
    if kind.is_mini_game() {
        let payload = Value::Object(content.to_object()).to_string();
        let signature = pay_event_sig(app_key, kind.as_str(), &payload);
        let mut mini_game = Map::new();
        mini_game.insert("Payload".into(), payload.into());
        mini_game.insert("PayEventSig".into(), signature.into());
        mini_game.insert("IsMock".into(), false.into());
        message.insert("MiniGame".into(), Value::Object(mini_game));
        return Value::Object(message).to_string();
    }
    message.extend(content.to_object());
    message.insert("RetryTimes".into(), envelope.retry_times.into());
    match format {
        PushFormat::Json => Value::Object(message).to_string(),
        PushFormat::Xml => xml::document(&message),
    }
}

/// A mini-game event's `MiniGame` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MiniGameSigned {
    /// The content, as a JSON string.
    pub payload: String,
    pub pay_event_sig: String,
    #[serde(default)]
    pub is_mock: bool,
}

/// The common fields of a plaintext message, read back (any event, known or not).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Message {
    #[serde(default)]
    pub to_user_name: String,
    #[serde(default)]
    pub from_user_name: String,
    #[serde(default)]
    pub create_time: i64,
    #[serde(default)]
    pub msg_type: String,
    pub event: String,
    /// xpay events only.
    #[serde(default)]
    pub retry_times: Option<u32>,
    /// Mini-game events only; its Payload is not checked here (see
    /// [`pay_event_sig_matches`]).
    #[serde(default)]
    pub mini_game: Option<MiniGameSigned>,
    /// Which format the message was in.
    #[serde(skip, default = "json_format")]
    pub format: PushFormat,
}

fn json_format() -> PushFormat {
    PushFormat::Json
}

fn read<T: DeserializeOwned>(body: &[u8], format: PushFormat) -> Result<T, PushError> {
    if body.len() > MAX_PUSH_BYTES {
        return Err(PushError::TooLarge);
    }
    match format {
        PushFormat::Json => serde_json::from_slice(body).map_err(|e| PushError::Malformed(e.to_string())),
        PushFormat::Xml => {
            let text = std::str::from_utf8(body).map_err(|_| PushError::Malformed("not UTF-8".into()))?;
            quick_xml::de::from_str(text).map_err(|e| PushError::Malformed(e.to_string()))
        }
    }
}

/// Reads the common fields of a plaintext message (JSON or XML, by its first non-space
/// byte). The content is read next with [`parse_content`].
pub fn parse_message(body: &[u8]) -> Result<Message, PushError> {
    let format = PushFormat::detect(body).ok_or_else(|| PushError::Malformed("neither JSON nor XML".into()))?;
    let mut message: Message = read(body, format)?;
    message.format = format;
    Ok(message)
}

/// Reads an event's content: for xpay events from the whole message (`body`, in `format`),
/// for mini-game events from the Payload (always JSON; `format` is ignored).
pub fn parse_content(kind: EventKind, body: &[u8], format: PushFormat) -> Result<EventContent, PushError> {
    let format = if kind.is_mini_game() { PushFormat::Json } else { format };
    Ok(match kind {
        EventKind::MiniGameCoinDeliverCompleted => EventContent::MiniGameCoinDeliverCompleted(read(body, format)?),
        EventKind::MiniGameGoodsDeliverNotify => EventContent::MiniGameGoodsDeliverNotify(read(body, format)?),
        EventKind::XpayCoinPayNotify => EventContent::XpayCoinPayNotify(read(body, format)?),
        EventKind::XpayGoodsDeliverNotify => EventContent::XpayGoodsDeliverNotify(read(body, format)?),
        EventKind::XpayRefundNotify => EventContent::XpayRefundNotify(read(body, format)?),
    })
}
