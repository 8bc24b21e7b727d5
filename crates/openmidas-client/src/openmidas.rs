//! OpenMidas-only administration: the simulated client side (`wx.login` codes,
//! `wx.requestMidasPayment` recharges) behind `Authorization: Bearer <admin token>`.
//! These routes do not exist on the real service.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::http::{decode, Http, Tables};
use crate::midas::MidasEnv;
use crate::secret::Secret;

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
}
