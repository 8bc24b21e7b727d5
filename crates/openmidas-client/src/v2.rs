//! Virtual payment 2.0 (`/wxa/game/*`): typed calls of the same [`Client`], reached through
//! [`Client::v2`].
//!
//! Every body is serialized once and signed over exactly those bytes: `pay_sig` with the
//! AppKey of the player's env, `signature` with the player's session_key (2.0 requires
//! both on every call). The retry rules are v1's: after -1, a timeout or a dropped
//! connection the same body is sent again (same `bill_no`, never applied twice), a 90012
//! carrying the original result is success (`replayed: true`), and a 40001 / 42001 refreshes
//! the token once.

use openmidas_protocol::sign;
use openmidas_protocol::v1::is_valid_bill_no as is_valid_v1_bill_no;
use openmidas_protocol::v2::{BillNoRule, Op};
use openmidas_protocol::Dialect;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::{check_amount, decode_fields, Answer, Client};
use crate::error::{Error, Result};
use crate::http::decode;
use crate::midas::MidasEnv;
use crate::secret::{AccessToken, SessionKey};

/// The account a 2.0 call addresses: `openid` in a zone of an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Player {
    pub openid: String,
    /// Default `"1"`.
    pub zone_id: String,
    /// Default official (`env` 0).
    pub env: MidasEnv,
    /// Sent (and signed) only when set.
    pub user_ip: Option<String>,
}

impl Player {
    /// `openid` in zone `"1"`, official.
    pub fn new(openid: impl Into<String>) -> Player {
        Player {
            openid: openid.into(),
            zone_id: "1".into(),
            env: MidasEnv::Official,
            user_ip: None,
        }
    }

    pub fn zone(mut self, zone_id: impl Into<String>) -> Player {
        self.zone_id = zone_id.into();
        self
    }

    pub fn env(mut self, env: MidasEnv) -> Player {
        self.env = env;
        self
    }

    pub fn user_ip(mut self, user_ip: impl Into<String>) -> Player {
        self.user_ip = Some(user_ip.into());
        self
    }
}

/// A deduction. `bill_no` is the idempotency key: choose it once per purchase, store it,
/// and reuse it for every retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayRequest {
    pub bill_no: String,
    pub amount: i64,
    pub payitem: Option<String>,
    pub remark: Option<String>,
}

impl PayRequest {
    pub fn new(bill_no: impl Into<String>, amount: i64) -> PayRequest {
        PayRequest {
            bill_no: bill_no.into(),
            amount,
            payitem: None,
            remark: None,
        }
    }
}

/// `getbalance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub balance: i64,
    /// Gift coins still in the balance.
    pub present_balance: i64,
    /// All coins ever recharged.
    pub sum_save: i64,
    pub sum_present: i64,
    /// All coins ever gained.
    pub sum_balance: i64,
    pub sum_cost: i64,
    /// Whether the player was never recharged.
    pub first_save: bool,
}

/// `pay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayResult {
    pub bill_no: String,
    pub balance: i64,
    /// Gift coins the pay took.
    pub used_present_amount: i64,
    /// The bill_no had been applied before: the service answered 90012 with the original
    /// result.
    #[serde(default)]
    pub replayed: bool,
}

/// `cancelpay`: a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundResult {
    /// The refund's own number.
    pub bill_no: String,
    pub balance: i64,
    /// Gift coins the refund gave back.
    pub used_present_amount: i64,
    /// See [`PayResult::replayed`].
    #[serde(default)]
    pub replayed: bool,
}

/// `present`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentResult {
    pub bill_no: String,
    pub balance: i64,
    /// See [`PayResult::replayed`].
    #[serde(default)]
    pub replayed: bool,
}

/// What `queryorderinfo` looks up: a coin purchase or an item purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BizId {
    /// `biz_id` 1: coins (`wx.requestMidasPayment`).
    Coins,
    /// `biz_id` 2: an item (`wx.requestMidasPaymentGameItem`).
    Item,
}

impl BizId {
    fn number(self) -> i64 {
        match self {
            BizId::Coins => 1,
            BizId::Item => 2,
        }
    }
}

/// `queryorderinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderInfo {
    pub product_id: String,
    /// 1 unpaid, 2 paid.
    pub pay_state: i64,
    /// 1 not delivered, 2 delivered.
    pub deliver_state: i64,
    /// UNIX seconds; 0 while unpaid.
    pub pay_finish_time: i64,
    pub out_trade_no: String,
    pub mch_order_no: String,
    pub transaction_id: String,
}

/// The 2.0 calls of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct V2<'c> {
    client: &'c Client,
}

impl Client {
    /// Virtual payment 2.0 calls with this client's app, keys, token cache and retries.
    pub fn v2(&self) -> V2<'_> {
        V2 { client: self }
    }
}

fn check_bill_no(field: &str, bill_no: &str) -> Result<()> {
    if BillNoRule::V2.accepts(bill_no) {
        Ok(())
    } else {
        Err(Error::InvalidRequest(format!(
            "{field} {bill_no:?} must be 1 to 63 characters of 0-9 A-Z a-z _ - and not start with _"
        )))
    }
}

impl V2<'_> {
    /// `getbalance` (coin_type 0: the game's coins in the player's zone).
    pub async fn get_balance(&self, player: &Player, session_key: &SessionKey) -> Result<Balance> {
        let answer = self.call(Op::GetBalance, player, Map::new(), session_key, "").await?;
        decode(answer.value, Dialect::V2)
    }

    /// `pay`: deducts `amount` coins, gift coins first. Retried with the same bill_no; a
    /// 90012 carrying the original result is success (`replayed`).
    pub async fn pay(&self, player: &Player, request: &PayRequest, session_key: &SessionKey) -> Result<PayResult> {
        check_bill_no("bill_no", &request.bill_no)?;
        check_amount("amount", request.amount)?;
        let mut fields = Map::new();
        fields.insert("amount".into(), request.amount.into());
        fields.insert("bill_no".into(), request.bill_no.clone().into());
        if let Some(item) = request.payitem.as_ref().filter(|s| !s.is_empty()) {
            fields.insert("payitem".into(), item.clone().into());
        }
        if let Some(remark) = request.remark.as_ref().filter(|s| !s.is_empty()) {
            fields.insert("remark".into(), remark.clone().into());
        }
        let answer = self
            .call(Op::Pay, player, fields, session_key, &request.bill_no)
            .await?;
        let replayed = self.accept_repeat(&answer, &["bill_no", "balance", "used_present_amount"])?;
        let mut result: PayResult = decode_fields(answer.value)?;
        result.replayed = replayed;
        Ok(result)
    }

    /// `cancelpay`: refunds `amount` coins of the pay `pay_bill_no`, as the refund numbered
    /// `bill_no` (cash back first, then gift). Retried like [`V2::pay`].
    pub async fn refund(
        &self,
        player: &Player,
        bill_no: &str,
        pay_bill_no: &str,
        amount: i64,
        session_key: &SessionKey,
    ) -> Result<RefundResult> {
        check_bill_no("bill_no", bill_no)?;
        // The pay may have been made through v1, so its number follows v1's rule.
        if !is_valid_v1_bill_no(pay_bill_no) {
            return Err(Error::InvalidRequest(format!(
                "pay_bill_no {pay_bill_no:?} must be 1 to 63 characters of 0-9 A-Z a-z _ - | * @"
            )));
        }
        check_amount("amount", amount)?;
        let mut fields = Map::new();
        fields.insert("bill_no".into(), bill_no.into());
        fields.insert("pay_bill_no".into(), pay_bill_no.into());
        fields.insert("amount".into(), amount.into());
        let answer = self.call(Op::CancelPay, player, fields, session_key, bill_no).await?;
        let replayed = self.accept_repeat(&answer, &["bill_no", "balance", "used_present_amount"])?;
        let mut result: RefundResult = decode_fields(answer.value)?;
        result.replayed = replayed;
        Ok(result)
    }

    /// `present`: gives `amount` gift coins. Retried like [`V2::pay`].
    pub async fn present(
        &self,
        player: &Player,
        bill_no: &str,
        amount: i64,
        session_key: &SessionKey,
    ) -> Result<PresentResult> {
        check_bill_no("bill_no", bill_no)?;
        check_amount("amount", amount)?;
        let mut fields = Map::new();
        fields.insert("amount".into(), amount.into());
        fields.insert("bill_no".into(), bill_no.into());
        let answer = self.call(Op::Present, player, fields, session_key, bill_no).await?;
        let replayed = self.accept_repeat(&answer, &["bill_no", "balance"])?;
        let mut result: PresentResult = decode_fields(answer.value)?;
        result.replayed = replayed;
        Ok(result)
    }

    /// `queryorderinfo`: a purchase of the player (`out_trade_no` of its client purchase).
    pub async fn query_order_info(
        &self,
        player: &Player,
        out_trade_no: &str,
        biz_id: BizId,
        session_key: &SessionKey,
    ) -> Result<OrderInfo> {
        let mut fields = Map::new();
        fields.insert("out_trade_no".into(), out_trade_no.into());
        fields.insert("biz_id".into(), biz_id.number().into());
        let answer = self
            .call(Op::QueryOrderInfo, player, fields, session_key, out_trade_no)
            .await?;
        decode(answer.value, Dialect::V2)
    }

    fn accept_repeat(&self, answer: &Answer, result_fields: &[&str]) -> Result<bool> {
        self.client.accept_repeat(&answer.value, Dialect::V2, result_fields)
    }

    /// The common fields, then the operation's; serialized once, signed, sent, retried.
    async fn call(
        &self,
        op: Op,
        player: &Player,
        extra: Map<String, Value>,
        session_key: &SessionKey,
        order_no: &str,
    ) -> Result<Answer> {
        let client = self.client;
        let mut fields = Map::new();
        fields.insert("openid".into(), player.openid.clone().into());
        fields.insert("offer_id".into(), client.offer_id().into());
        fields.insert("ts".into(), client.now_ms().div_euclid(1000).into());
        fields.insert("zone_id".into(), player.zone_id.clone().into());
        fields.insert("env".into(), i64::from(player.env.is_sandbox()).into());
        if let Some(ip) = player.user_ip.as_ref().filter(|s| !s.is_empty()) {
            if op != Op::QueryOrderInfo {
                fields.insert("user_ip".into(), ip.clone().into());
            }
        }
        fields.extend(extra);
        let body = Value::Object(fields).to_string();
        let signed = sign::v2::sign(
            op.uri(),
            &body,
            client.key_for(player.env)?.expose(),
            Some(session_key.expose()),
        );
        let http = client.http();
        let url = http.url(op.uri());
        client
            .call(Dialect::V2, op.uri(), order_no, &[], |token: &AccessToken| {
                Ok(http
                    .client
                    .post(format!("{url}?{}", signed.query(token.expose())))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone()))
            })
            .await
    }
}
