//! One HTTP exchange: send, read the JSON answer, classify failures. No retries here.

use openmidas_protocol::errcode::{describe, Described};
use openmidas_protocol::{common, Dialect};
use serde_json::Value;

use crate::error::{ApiError, Error, Result};

/// The base URL and the connection pool.
#[derive(Clone)]
pub(crate) struct Http {
    pub client: reqwest::Client,
    pub base_url: String,
}

impl Http {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url.trim_end_matches('/'), path)
    }

    /// Sends and answers the JSON object of the answer, whatever its errcode. HTTP errors
    /// without a JSON errcode body become [`Error::Http`].
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value> {
        Ok(self.send_with_status(request).await?.1)
    }

    /// The same, with the HTTP status of the answer (the emulator controls tell an unknown
    /// id and a server without controls by their 404).
    pub async fn send_with_status(&self, request: reqwest::RequestBuilder) -> Result<(u16, Value)> {
        // The URL carries the access_token (or the AppSecret): never keep it in an error;
        // name only the service called.
        let (client, request) = request.build_split();
        let request = request.map_err(|e| Error::InvalidRequest(e.without_url().to_string()))?;
        let service = crate::error::service_of(request.url());
        let transport = |e: reqwest::Error| Error::Transport {
            service: service.clone(),
            source: e.without_url(),
        };
        let response = client.execute(request).await.map_err(transport)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(transport)?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(value @ Value::Object(_)) if status.is_success() || value.get("errcode").is_some() => {
                Ok((status.as_u16(), value))
            }
            _ if !status.is_success() => Err(Error::Http {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned(),
            }),
            _ => Err(Error::Decode(format!(
                "answer is not a JSON object: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(512)])
            ))),
        }
    }
}

/// The errcode of an answer: 0 when absent (token and jscode2session successes may omit it).
pub(crate) fn errcode(value: &Value) -> Result<i64> {
    match value.get("errcode") {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v
            .as_i64()
            .ok_or_else(|| Error::Decode(format!("errcode is not an integer: {v}"))),
    }
}

/// Which errcode tables an answer is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tables {
    /// A payment call of this dialect: its codes, then the platform's.
    Dialect(Dialect),
    /// A token or session call: the platform's codes.
    Platform,
    /// A simulated `wx.requestMidasPayment` of OpenMidas: its fail codes, then the
    /// platform's.
    MidasPayment,
    /// A simulated `wx.requestMidasPaymentGameItem`: its fail codes, then the platform's.
    GameItem,
    /// A simulated `wx.requestVirtualPayment` (xpay): its fail codes, then the platform's.
    VirtualPayment,
}

impl Tables {
    fn describe(self, code: i64) -> Option<Described> {
        let platform = || common::Code::from_code(code).map(Described::of);
        match self {
            Tables::Dialect(dialect) => describe(dialect, code),
            Tables::Platform => platform(),
            Tables::MidasPayment => openmidas_protocol::client::midas_payment::Code::from_code(code)
                .map(Described::of)
                .or_else(platform),
            Tables::GameItem => openmidas_protocol::client::game_item::Code::from_code(code)
                .map(Described::of)
                .or_else(platform),
            Tables::VirtualPayment => openmidas_protocol::client::virtual_payment::Code::from_code(code)
                .map(Described::of)
                .or_else(platform),
        }
    }
}

impl From<Dialect> for Tables {
    fn from(dialect: Dialect) -> Tables {
        Tables::Dialect(dialect)
    }
}

/// The answer as an [`ApiError`] when its errcode is not 0, read with `tables`.
pub(crate) fn api_error(value: &Value, tables: impl Into<Tables>) -> Result<Option<ApiError>> {
    let code = errcode(value)?;
    if code == 0 {
        return Ok(None);
    }
    let errmsg = value.get("errmsg").and_then(Value::as_str).unwrap_or_default();
    Ok(Some(ApiError {
        errcode: code,
        errmsg: errmsg.to_string(),
        code: tables.into().describe(code),
    }))
}

/// Errors out on a non-zero errcode, else decodes the answer.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(value: Value, tables: impl Into<Tables>) -> Result<T> {
    if let Some(e) = api_error(&value, tables)? {
        return Err(Error::Api(e));
    }
    serde_json::from_value(value).map_err(|e| Error::Decode(e.to_string()))
}
