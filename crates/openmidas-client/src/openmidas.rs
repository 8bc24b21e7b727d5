//! OpenMidas-only administration: the simulated client side (`wx.login` codes,
//! `wx.requestMidasPayment` recharges, `wx.requestMidasPaymentGameItem` item purchases,
//! xpay's `wx.requestVirtualPayment` purchases, paying or closing a purchase later) and, on a server in emulator mode, the emulator
//! controls (clock, fault rules, request log, reset, state: [`AdminClient::clock`] and the
//! methods after it), and the push outbox ([`AdminClient::pushes`],
//! [`AdminClient::redeliver_push`]), behind
//! `Authorization: Bearer <admin token>`. These routes do not exist on the real service.

mod controls;
mod pushes;

pub use controls::{
    ClockChange, ClockState, FaultListed, FaultMatch, FaultRule, FaultWhen, FiredFault, RequestEntry, RequestFilter,
    ResetScope, RouteFamily, SignatureDiagnosis,
};
pub use pushes::{PushItem, PushQuery, PushStatus};

use std::time::Duration;

use openmidas_protocol::client::{game_item, virtual_payment};
use openmidas_protocol::sign;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::http::{decode, Http, Tables};
use crate::midas::MidasEnv;
use crate::secret::{Secret, SessionKey};

/// A client of an OpenMidas server's `/admin` routes.
#[derive(Clone)]
pub struct AdminClient {
    http: Http,
    admin_token: Secret,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("base_url", &self.http.base_url)
            .finish_non_exhaustive()
    }
}

/// `POST /admin/login`: a login code for `openid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginCode {
    /// Single use, 5 minutes; exchange it with [`crate::Client::code_to_session`].
    pub code: String,
    pub openid: String,
}

/// `POST /admin/recharge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recharge {
    pub appid: String,
    pub openid: String,
    pub env: MidasEnv,
    pub buy_quantity: i64,
    /// Default `"1"`.
    pub zone_id: Option<String>,
    /// The recharge's idempotency key; the server numbers one when absent.
    pub out_trade_no: Option<String>,
}

/// The answer of a recharge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recharged {
    pub out_trade_no: String,
    /// Balance after the recharge.
    pub balance: i64,
}

/// An item purchase through `wx.requestMidasPaymentGameItem` (`POST /admin/client/game_item`),
/// made as the player's phone makes it: the client's signData, `paySig` with the AppKey of
/// its env and `signature` with the player's session_key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemPurchase {
    pub appid: String,
    /// The app's offer_id (signData's `offerId`).
    pub offer_id: String,
    pub openid: String,
    pub env: MidasEnv,
    /// Default `"1"`.
    pub zone_id: Option<String>,
    /// signData's `platform`, sent only when set.
    pub platform: Option<String>,
    pub product_id: String,
    /// `buyQuantity`.
    pub quantity: i64,
    /// `goodsPrice`: the unit price in fen.
    pub price_fen: i64,
    /// `outTradeNo`: 1 to 32 characters of `0-9 A-Z a-z _ - | *`, not starting with `_`.
    pub out_trade_no: String,
    /// Sent only when set.
    pub attach: Option<String>,
    /// Leave the purchase unpaid (`"pay": "manual"`) until [`AdminClient::pay_purchase`].
    pub pay_later: bool,
}

/// signData, in the client's documented field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignData<'a> {
    mode: &'static str,
    offer_id: &'a str,
    buy_quantity: i64,
    env: i64,
    currency_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<&'a str>,
    zone_id: &'a str,
    product_id: &'a str,
    goods_price: i64,
    out_trade_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    attach: Option<&'a str>,
}

impl ItemPurchase {
    /// The signData text the phone signs and sends (a JSON object, compact).
    pub fn sign_data(&self) -> Result<String> {
        let data = SignData {
            mode: "goods",
            offer_id: &self.offer_id,
            buy_quantity: self.quantity,
            env: i64::from(self.env.is_sandbox()),
            currency_type: "CNY",
            platform: self.platform.as_deref(),
            zone_id: self.zone_id.as_deref().unwrap_or("1"),
            product_id: &self.product_id,
            goods_price: self.price_fen,
            out_trade_no: &self.out_trade_no,
            attach: self.attach.as_deref(),
        };
        serde_json::to_string(&data).map_err(|e| Error::InvalidRequest(format!("cannot serialize signData: {e}")))
    }
}

/// The answer of an item purchase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemPurchased {
    pub out_trade_no: String,
    /// `paid`, or `created` when bought with [`ItemPurchase::pay_later`].
    pub status: String,
}

/// What an xpay purchase buys (`wx.requestVirtualPayment`'s `mode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VirtualProduct {
    /// `short_series_coin`: `quantity` coins at the app's `coin_price_fen`, credited once paid.
    Coins,
    /// `short_series_goods`: `quantity` of one item, waiting for delivery once paid
    /// (`notify_provide_goods` delivers it).
    Goods {
        product_id: String,
        /// `goodsPrice`: the unit price in fen.
        price_fen: i64,
        /// `activitySellingPrice`: a discounted unit price in fen (40% to 100% of
        /// `price_fen`), charged instead; sent only when set.
        activity_price_fen: Option<i64>,
    },
}

/// A purchase through xpay's `wx.requestVirtualPayment` (`POST /admin/client/virtual_payment`,
/// behaviour.md section 11.3), made as the player's phone makes it: signData, `paySig` over
/// `requestVirtualPayment&` + signData with the AppKey of its env, and `signature` over
/// signData with the player's session_key. The account is the app's zone-`"1"` one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualPurchase {
    pub appid: String,
    /// The app's offer_id (signData's `offerId`).
    pub offer_id: String,
    pub openid: String,
    pub env: MidasEnv,
    pub product: VirtualProduct,
    /// `buyQuantity`.
    pub quantity: i64,
    /// `outTradeNo`, xpay's `order_id` of the purchase: 8 to 32 characters of
    /// `0-9 A-Z a-z _ - | * @`, not starting with `_`.
    pub out_trade_no: String,
    /// `attach` (the client requires it; may be empty).
    pub attach: String,
    /// Leave the purchase unpaid (`"pay": "manual"`) until [`AdminClient::pay_purchase`].
    pub pay_later: bool,
}

/// xpay's signData, in the client's documented field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VirtualSignData<'a> {
    offer_id: &'a str,
    buy_quantity: i64,
    env: i64,
    currency_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    product_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    goods_price: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    activity_selling_price: Option<i64>,
    out_trade_no: &'a str,
    attach: &'a str,
}

impl VirtualPurchase {
    /// `short_series_coin` or `short_series_goods`.
    pub fn mode(&self) -> virtual_payment::Mode {
        match self.product {
            VirtualProduct::Coins => virtual_payment::Mode::Coin,
            VirtualProduct::Goods { .. } => virtual_payment::Mode::Goods,
        }
    }

    /// The signData text the phone signs and sends (a JSON object, compact).
    pub fn sign_data(&self) -> Result<String> {
        let (product_id, goods_price, activity_selling_price) = match &self.product {
            VirtualProduct::Coins => (None, None, None),
            VirtualProduct::Goods {
                product_id,
                price_fen,
                activity_price_fen,
            } => (Some(product_id.as_str()), Some(*price_fen), *activity_price_fen),
        };
        let data = VirtualSignData {
            offer_id: &self.offer_id,
            buy_quantity: self.quantity,
            env: i64::from(self.env.is_sandbox()),
            currency_type: "CNY",
            product_id,
            goods_price,
            activity_selling_price,
            out_trade_no: &self.out_trade_no,
            attach: &self.attach,
        };
        serde_json::to_string(&data).map_err(|e| Error::InvalidRequest(format!("cannot serialize signData: {e}")))
    }
}

/// The answer of an xpay purchase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualPurchased {
    pub out_trade_no: String,
    /// The platform's id of the purchase, which xpay's `query_order` also finds it by.
    pub wx_order_id: String,
    /// `delivered` (coins, credited), `paid` (goods waiting for delivery) or `created`
    /// (bought with [`VirtualPurchase::pay_later`]).
    pub status: String,
    /// The player's balance after it (changed only by coins, once paid).
    pub balance: i64,
}

/// The answer of paying or closing a purchase later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettledPurchase {
    pub out_trade_no: String,
    /// After paying: `delivered` (coins) or `paid` (an item); after closing: `closed`.
    pub status: String,
    /// The balance after paying (absent after closing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<i64>,
}

/// A one-time login link of the dashboard.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UiLoginLink {
    /// The path, `/ui/login?once=<nonce>`.
    pub path: String,
    /// The whole link, on the client's base URL.
    #[serde(default)]
    pub url: String,
    /// Seconds it stays valid.
    pub expires_in: u64,
}

impl AdminClient {
    /// A client of the server at `base_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base_url: impl Into<String>, admin_token: impl Into<Secret>) -> Result<AdminClient> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(AdminClient::with_http(base_url, admin_token, client))
    }

    /// The same, on a given HTTP client.
    pub fn with_http(
        base_url: impl Into<String>,
        admin_token: impl Into<Secret>,
        client: reqwest::Client,
    ) -> AdminClient {
        let base_url: String = base_url.into();
        AdminClient {
            http: Http {
                client,
                base_url: base_url.trim_end_matches('/').to_string(),
            },
            admin_token: admin_token.into(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let request = self
            .http
            .client
            .post(self.http.url(path))
            .bearer_auth(self.admin_token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        self.http.send(request).await
    }

    /// A one-time login link of the server's dashboard (`POST /admin/ui/login-links`):
    /// opened within 60 s, once, it logs a browser in without the admin token.
    pub async fn ui_login_link(&self) -> Result<UiLoginLink> {
        let mut link: UiLoginLink = decode(self.post("/admin/ui/login-links", json!({})).await?, Tables::Platform)?;
        link.url = self.http.url(&link.path);
        Ok(link)
    }

    /// The dashboard's address.
    pub fn ui_url(&self) -> String {
        self.http.url("/ui")
    }

    /// The simulated `wx.login`: a fresh login code for `openid` (a new openid when None).
    pub async fn login_code(&self, appid: &str, openid: Option<&str>) -> Result<LoginCode> {
        let mut body = json!({ "appid": appid });
        if let Some(openid) = openid {
            body["openid"] = openid.into();
        }
        decode(self.post("/admin/login", body).await?, Tables::Platform)
    }

    /// The simulated `wx.requestMidasPayment` success: adds `buy_quantity` coins.
    pub async fn recharge(&self, recharge: &Recharge) -> Result<Recharged> {
        let mut body = json!({
            "appid": recharge.appid, "openid": recharge.openid,
            "env": recharge.env.as_str(), "buy_quantity": recharge.buy_quantity,
        });
        if let Some(zone_id) = &recharge.zone_id {
            body["zone_id"] = zone_id.clone().into();
        }
        if let Some(out_trade_no) = &recharge.out_trade_no {
            body["out_trade_no"] = out_trade_no.clone().into();
        }
        decode(self.post("/admin/recharge", body).await?, Tables::MidasPayment)
    }

    /// The simulated `wx.requestMidasPaymentGameItem`: signs signData as the phone does
    /// (`paySig` with `app_key`, the AppKey of the purchase's env; `signature` with the
    /// player's session_key) and records the item purchase, paid unless
    /// [`ItemPurchase::pay_later`]. Its fail codes (-15001, -15003, -15011, -15012) are read
    /// from the item purchase's own table.
    pub async fn buy_item(
        &self,
        purchase: &ItemPurchase,
        app_key: &Secret,
        session_key: &SessionKey,
    ) -> Result<ItemPurchased> {
        let sign_data = purchase.sign_data()?;
        let signed = sign::v2::sign(
            game_item::PAY_SIG_URI,
            &sign_data,
            app_key.expose(),
            Some(session_key.expose()),
        );
        let mut body = json!({
            "appid": purchase.appid, "openid": purchase.openid, "sign_data": sign_data,
            "pay_sig": signed.pay_sig, "signature": signed.signature.unwrap_or_default(),
        });
        if purchase.pay_later {
            body["pay"] = "manual".into();
        }
        decode(self.post("/admin/client/game_item", body).await?, Tables::GameItem)
    }

    /// The simulated `wx.requestVirtualPayment` (xpay): signs signData as the phone does
    /// (`paySig` over `requestVirtualPayment&` + signData with `app_key`, the AppKey of the
    /// purchase's env; `signature` with the player's session_key) and records the purchase,
    /// paid unless [`VirtualPurchase::pay_later`]. Its fail codes (-15001, -15002, -15005,
    /// -15006, -15007, ...) are read from the client API's own table
    /// (`openmidas_protocol::client::virtual_payment::Code`).
    pub async fn virtual_payment(
        &self,
        purchase: &VirtualPurchase,
        app_key: &Secret,
        session_key: &SessionKey,
    ) -> Result<VirtualPurchased> {
        let sign_data = purchase.sign_data()?;
        let signed = sign::v2::sign(
            virtual_payment::PAY_SIG_URI,
            &sign_data,
            app_key.expose(),
            Some(session_key.expose()),
        );
        let mut body = json!({
            "appid": purchase.appid, "openid": purchase.openid, "mode": purchase.mode().as_str(),
            "sign_data": sign_data, "pay_sig": signed.pay_sig,
            "signature": signed.signature.unwrap_or_default(),
        });
        if purchase.pay_later {
            body["pay"] = "manual".into();
        }
        decode(
            self.post("/admin/client/virtual_payment", body).await?,
            Tables::VirtualPayment,
        )
    }

    /// The player pays a purchase made to be paid later (`POST /admin/client/purchases/pay`):
    /// a coin purchase credits its coins.
    pub async fn pay_purchase(&self, appid: &str, env: MidasEnv, out_trade_no: &str) -> Result<SettledPurchase> {
        self.settle("/admin/client/purchases/pay", appid, env, out_trade_no)
            .await
    }

    /// The player walks away from a purchase made to be paid later
    /// (`POST /admin/client/purchases/close`): it is closed, never credited.
    pub async fn close_purchase(&self, appid: &str, env: MidasEnv, out_trade_no: &str) -> Result<SettledPurchase> {
        self.settle("/admin/client/purchases/close", appid, env, out_trade_no)
            .await
    }

    async fn settle(&self, path: &str, appid: &str, env: MidasEnv, out_trade_no: &str) -> Result<SettledPurchase> {
        let body = json!({"appid": appid, "env": env.as_str(), "out_trade_no": out_trade_no});
        decode(self.post(path, body).await?, Tables::Platform)
    }
}
