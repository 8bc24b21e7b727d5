//! The push channel: how OpenMidas (and WeChat) call the game server (behaviour.md
//! section 12; the wire is wechat-reference-vp2-xpay.md section 3).
//!
//! Everything both ends need, with no I/O, no clock and no randomness (callers pass the
//! time, nonces and random bytes in):
//! - the settings of an app's push channel ([`PushMode`], [`PushFormat`], [`AckPolicy`]);
//! - the events ([`EventKind`]) with their retry schedules, and their typed content
//!   ([`EventContent`]) with the exact wire field names;
//! - [`render`]: the plaintext message body of an event (JSON or XML; mini-game events are
//!   always JSON with a signed `MiniGame.Payload`), and [`parse_message`] /
//!   [`parse_content`] to read one back;
//! - the signatures ([`url_signature`], [`msg_signature`], [`pay_event_sig`]) and the query
//!   strings of a push and of the URL check;
//! - safe mode's AES (WeChat's WXBizMsgCrypt: [`AesKey`], [`encrypt`], [`decrypt`]), its
//!   body ([`safe_body`]) and the encrypted reply ([`encrypted_reply`]);
//! - [`ack`]: whether the game server's answer acknowledges the push.
//!
//! The sender (the server's push worker) and the receiver (`openmidas_client::push`) both
//! build on these functions, so they cannot disagree.

pub mod ack;
pub mod crypto;
pub mod event;
mod xml;

pub use ack::{ack, Ack};
pub use crypto::{
    decrypt, echo_matches, encrypt, encrypted_reply, msg_signature, parse_safe_body, push_query, safe_body,
    url_check_query, url_signature, AesKey, SafeBody,
};
pub use event::{
    parse_content, parse_message, pay_event_sig, pay_event_sig_matches, render, Envelope, EventContent, Message,
    MiniGameCoinDeliver, MiniGameCoinInfo, MiniGameGoodsDeliver, MiniGameGoodsInfo, MiniGamePayInfo, MiniGameSigned,
    TeamInfo, XpayCoinInfo, XpayCoinPay, XpayGoodsDeliver, XpayGoodsInfo, XpayPayInfo, XpayRefund,
};

/// Largest push body, encrypted text or reply this module reads, in bytes (the limit of
/// every request body, behaviour.md section 12).
pub const MAX_PUSH_BYTES: usize = crate::json::MAX_BODY_BYTES;

/// How pushes are sent: plaintext, or safe mode (AES, `msg_signature`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushMode {
    Plain,
    Safe,
}

impl PushMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "plain" => Some(Self::Plain),
            "safe" => Some(Self::Safe),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Safe => "safe",
        }
    }
}

/// The data format of xpay events (mini-game events are always JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushFormat {
    Json,
    Xml,
}

impl PushFormat {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "json" => Some(Self::Json),
            "xml" => Some(Self::Xml),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Xml => "xml",
        }
    }

    /// The format of a body by its first non-space byte (`{` JSON, `<` XML).
    pub fn detect(body: &[u8]) -> Option<Self> {
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Some(Self::Json),
            Some(b'<') => Some(Self::Xml),
            _ => None,
        }
    }
}

/// Which replies acknowledge a push: `strict` is the documented set; `lenient` also takes
/// `errcode` 0 in any case (behaviour.md section 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckPolicy {
    Strict,
    Lenient,
}

impl AckPolicy {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "strict" => Some(Self::Strict),
            "lenient" => Some(Self::Lenient),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Lenient => "lenient",
        }
    }
}

/// The retry intervals after a failed first delivery of item deliveries and every xpay
/// event (behaviour.md section 12): 15 retries.
const RETRIES_15: [u64; 15] = [
    15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
];

/// The events OpenMidas pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `minigame_coin_deliver_completed`: 2.0 coins were delivered.
    MiniGameCoinDeliverCompleted,
    /// `minigame_game_pay_goods_deliver_notify`: a 2.0 item purchase to deliver.
    MiniGameGoodsDeliverNotify,
    /// `xpay_coin_pay_notify`: an xpay coin top-up was paid.
    XpayCoinPayNotify,
    /// `xpay_goods_deliver_notify`: an xpay item purchase to deliver.
    XpayGoodsDeliverNotify,
    /// `xpay_refund_notify`: an xpay refund finished.
    XpayRefundNotify,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        Self::MiniGameCoinDeliverCompleted,
        Self::MiniGameGoodsDeliverNotify,
        Self::XpayCoinPayNotify,
        Self::XpayGoodsDeliverNotify,
        Self::XpayRefundNotify,
    ];

    /// The `Event` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MiniGameCoinDeliverCompleted => "minigame_coin_deliver_completed",
            Self::MiniGameGoodsDeliverNotify => "minigame_game_pay_goods_deliver_notify",
            Self::XpayCoinPayNotify => "xpay_coin_pay_notify",
            Self::XpayGoodsDeliverNotify => "xpay_goods_deliver_notify",
            Self::XpayRefundNotify => "xpay_refund_notify",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Mini-game events are always JSON with a signed `MiniGame.Payload`.
    pub fn is_mini_game(self) -> bool {
        matches!(
            self,
            Self::MiniGameCoinDeliverCompleted | Self::MiniGameGoodsDeliverNotify
        )
    }

    /// The waits, in seconds, before each retry after a failed first delivery
    /// (behaviour.md section 12): 15 for item deliveries and every xpay event, the first 13
    /// of them for the other mini-game events.
    pub fn retry_intervals_secs(self) -> &'static [u64] {
        match self {
            Self::MiniGameCoinDeliverCompleted => &RETRIES_15[..13],
            _ => &RETRIES_15,
        }
    }
}

/// Why a push, a key, an encrypted text or a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// Not 43 characters of base64 decoding to 32 bytes.
    #[error("EncodingAESKey must be 43 base64 characters (32 bytes): {0}")]
    InvalidAesKey(String),
    #[error("larger than {MAX_PUSH_BYTES} bytes")]
    TooLarge,
    #[error("Encrypt is not base64")]
    Base64,
    /// The ciphertext is empty or not whole AES blocks.
    #[error("Encrypt is not a whole number of AES blocks")]
    CipherLength,
    /// The PKCS#7 padding byte is not in 1..=32.
    #[error("bad padding")]
    Padding,
    /// The decrypted length field does not fit the decrypted text.
    #[error("bad message length")]
    Length,
    /// The appid after the message is not UTF-8.
    #[error("the appid is not UTF-8")]
    Appid,
    /// Not the JSON or XML expected.
    #[error("malformed: {0}")]
    Malformed(String),
}
