//! The push outbox (behaviour.md section 12) through [`AdminClient`]: the events OpenMidas
//! sends to the game server's push URL, where each one's delivery is, and sending one
//! again. These routes exist in both modes (emulator and ledger).
//!
//! ```no_run
//! # async fn demo() -> Result<(), openmidas_client::Error> {
//! use openmidas_client::openmidas::{AdminClient, PushQuery, PushStatus};
//! let admin = AdminClient::new("http://127.0.0.1:8080", "ADMIN_TOKEN")?;
//! let query = PushQuery {
//!     appid: Some("wxAPPID".into()),
//!     status: Some(PushStatus::Pending),
//!     ..PushQuery::default()
//! };
//! let waiting = admin.pushes(&query).await?;
//! for push in &waiting {
//!     println!("{} {} of {}: {} attempts, last reply {:?}", push.id, push.event, push.order_id, push.attempts, push.last_reply);
//! }
//! if let Some(first) = waiting.first() {
//!     let after = admin.redeliver_push(first.id).await?;
//!     println!("now {} after {} attempts", after.status.as_str(), after.attempts);
//! }
//! # Ok(()) }
//! ```

use openmidas_protocol::common;
use openmidas_protocol::errcode::Described;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AdminClient;
use crate::error::{ApiError, Error, Result};
use crate::http::{api_error, Tables};
use crate::midas::MidasEnv;

/// Where an event's delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushStatus {
    /// Not acknowledged yet: the next attempt is at `next_attempt_ms`.
    Pending,
    /// Acknowledged by the game server.
    Delivered,
    /// Given up after the last retry (a manual redelivery may still deliver it).
    Failed,
    /// A status this client does not know (a newer server's); only ever read.
    #[serde(other)]
    Other,
}

impl PushStatus {
    /// The statuses a query may filter by.
    pub const ALL: [PushStatus; 3] = [PushStatus::Pending, PushStatus::Delivered, PushStatus::Failed];

    /// The wire name (`"pending"`, `"delivered"`, `"failed"`).
    pub fn as_str(self) -> &'static str {
        match self {
            PushStatus::Pending => "pending",
            PushStatus::Delivered => "delivered",
            PushStatus::Failed => "failed",
            PushStatus::Other => "other",
        }
    }

    /// A status a query may filter by, by its wire name.
    pub fn parse(name: &str) -> Option<PushStatus> {
        PushStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One event of the outbox, as `GET /admin/pushes` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushItem {
    /// The event's id: increasing, the order of the list and its `after_id`.
    pub id: i64,
    pub appid: String,
    pub env: MidasEnv,
    /// The event's name on the wire (`minigame_game_pay_goods_deliver_notify`,
    /// `xpay_goods_deliver_notify`, `xpay_refund_notify`, ...).
    pub event: String,
    /// The purchase (or refund) it is about: its out_trade_no / order_id.
    pub order_id: String,
    pub status: PushStatus,
    /// Deliveries started so far, manual redeliveries included (one cut short by a crash
    /// counts too).
    pub attempts: u32,
    /// A node is delivering it now (or died doing so, until its 30 s lease ends).
    #[serde(default)]
    pub delivering: bool,
    /// When the schedule tries it next, on the server's clock (ms since the UNIX epoch);
    /// meaningful while `pending`.
    pub next_attempt_ms: i64,
    /// The game server's last reply (`(empty)` for an empty body), or why the last
    /// delivery failed; empty before the first.
    pub last_reply: String,
    /// When the change that caused it was made, on the server's clock.
    pub created_ms: i64,
}

/// Which events `GET /admin/pushes` lists, lowest id first; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushQuery {
    pub appid: Option<String>,
    pub status: Option<PushStatus>,
    /// Only events after this id (the last one seen).
    pub after_id: Option<i64>,
    /// At most this many (1 to 1000) [default: 100].
    pub limit: Option<u32>,
}

/// `{errcode, errmsg, items}`.
#[derive(Deserialize)]
struct Items {
    items: Vec<PushItem>,
}

/// `{errcode, errmsg, push}`.
#[derive(Deserialize)]
struct OnePush {
    push: PushItem,
}

fn read<T: serde::de::DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::Decode(e.to_string()))
}

impl AdminClient {
    /// `GET /admin/pushes`: the push events that match `query`, lowest id first. A bad
    /// filter (a `limit` out of range) answers 40097.
    pub async fn pushes(&self, query: &PushQuery) -> Result<Vec<PushItem>> {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(appid) = &query.appid {
            pairs.push(("appid", appid.clone()));
        }
        if let Some(status) = query.status {
            pairs.push(("status", status.as_str().to_string()));
        }
        if let Some(after_id) = query.after_id {
            pairs.push(("after_id", after_id.to_string()));
        }
        if let Some(limit) = query.limit {
            pairs.push(("limit", limit.to_string()));
        }
        let request = self.http.client.get(self.http.url("/admin/pushes")).query(&pairs);
        let items: Items = read(self.push_call(request).await?)?;
        Ok(items.items)
    }

    /// `POST /admin/pushes/{id}/redeliver`: sends the event again now, whatever its status,
    /// and answers it after that delivery (`attempts` one more). A redelivery the game
    /// server does not acknowledge moves no schedule: only `attempts` and `last_reply`
    /// change. An unknown id answers 40097.
    pub async fn redeliver_push(&self, id: i64) -> Result<PushItem> {
        let url = self.http.url(&format!("/admin/pushes/{id}/redeliver"));
        let one: OnePush = read(self.push_call(self.http.client.post(url)).await?)?;
        Ok(one.push)
    }

    /// Sends an admin request; a 401 names the admin token (40001 is also an access
    /// token's code).
    async fn push_call(&self, request: reqwest::RequestBuilder) -> Result<Value> {
        let request = request.bearer_auth(self.admin_token.expose());
        let (status, answer) = self.http.send_with_status(request).await?;
        match api_error(&answer, Tables::Platform)? {
            None => Ok(answer),
            Some(error) if status == 401 => Err(Error::Api(ApiError {
                code: Some(Described::of(common::Code::AdminUnauthorized)),
                ..error
            })),
            Some(error) => Err(Error::Api(error)),
        }
    }
}
