//! A typed async client for the WeChat mini-game virtual-currency APIs (Midas v1, virtual
//! payment 2.0 and xpay), and for OpenMidas, their wire-compatible emulator and ledger.
//!
//! - [`Client`]: Midas v1 `getbalance`, `pay`, `cancelpay`, `present` (official and
//!   sandbox), `/cgi-bin/token`, `/cgi-bin/stable_token`, `/sns/jscode2session`.
//! - [`Client::v2`]: 2.0 `getbalance`, `pay`, `cancelpay` (refunds), `present`,
//!   `queryorderinfo` ([`v2`]).
//! - [`Client::xpay`]: xpay `query_user_balance`, `currency_pay`, `cancel_currency_pay`,
//!   `present_currency`, `query_order`, `refund_order`, `notify_provide_goods`,
//!   `download_bill` and the bill's CSV ([`xpay`]).
//! - Signing: each body is serialized once; `sig` (and `mp_sig` when a session_key is
//!   given) cover exactly the bytes sent. `access_token` goes in the query string only.
//! - Tokens: cached by a [`TokenProvider`], refreshed 5 minutes before expiry, one fetch
//!   at a time; a 40001 / 42001 answer refreshes the token, re-signs and retries once.
//! - Retries that cannot double-charge: after -1, a timeout or a dropped connection, a pay /
//!   present / cancelpay is sent again with the same bill_no and body. A 90012 carrying the
//!   original result is success (`replayed: true`); a 90015 after a lost cancel answer too;
//!   in xpay, a 268490004 answering such a retry.
//! - Errors: [`Error::Api`] wraps every errcode ([`ApiError`]: the number, errmsg, meaning
//!   and `retryable()`, read in the call's dialect; match it against [`codes`]).
//! - Secrets (AppSecret, AppKey, session_key, access_token) never appear in `Debug` output
//!   or logs.
//! - [`openmidas::AdminClient`]: OpenMidas-only calls: login codes, the simulated
//!   player's purchases (coins, items, xpay's `wx.requestVirtualPayment`, paid later or
//!   never), and the emulator controls
//!   (the server's clock, fault rules, the request log with signature diagnoses, reset,
//!   state export and import).
//!
//! ```no_run
//! # async fn demo() -> Result<(), openmidas_client::Error> {
//! use openmidas_client::{Client, MidasEnv, PayRequest, Player};
//! let client = Client::builder("wxAPPID", "APPSECRET", "OFFER_ID", "APPKEY")
//!     .base_url("http://127.0.0.1:8080")
//!     .build()?;
//! let session = client.code_to_session("LOGIN_CODE").await?;
//! let player = Player::new(&session.openid);
//! let paid = client
//!     .pay(MidasEnv::Official, &player, &PayRequest::new("order-1", 10), Some(&session.session_key))
//!     .await?;
//! println!("balance after pay: {}", paid.balance);
//! # Ok(()) }
//! ```

mod client;
mod clock;
mod error;
mod http;
mod midas;
pub mod openmidas;
pub mod push;
mod retry;
mod secret;
mod token;
pub mod v2;
pub mod xpay;

pub use client::{Client, ClientBuilder, Session, WECHAT_BASE_URL};
pub use clock::{Clock, SystemClock};
pub use error::{ApiError, Error, Result};
pub use midas::{sign_v1_body, Balance, CancelResult, MidasEnv, PayRequest, PayResult, Player, PresentResult};
pub use push::{Push, PushReceiver, ReceiveError};
/// The errcode tables, to match an [`ApiError`] with [`ApiError::is`]. A number can mean
/// different things in different dialects (90010), so each dialect has its own table; the
/// platform's codes (tokens, sessions, -1) are in [`codes::Common`].
pub mod codes {
    pub use openmidas_protocol::common::Code as Common;
    pub use openmidas_protocol::v1::Code as V1;
    pub use openmidas_protocol::v2::Code as V2;
    pub use openmidas_protocol::xpay::Code as Xpay;
}
pub use retry::RetryPolicy;
pub use secret::{AccessToken, Secret, SessionKey};
pub use token::{IssuedToken, TokenEndpoint, TokenProvider};
