//! [`Client`]: the v1 payment calls, tokens and login, with safe retries.

use std::sync::Arc;
use std::time::Duration;

use openmidas_protocol::common::Code;
use openmidas_protocol::limits::MAX_AMOUNT;
use openmidas_protocol::v1::{self, is_valid_bill_no, Endpoint, Op};
use openmidas_protocol::Dialect;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::http::{api_error, decode, Http, Tables};
use crate::midas::{sign_v1_body, Balance, CancelResult, MidasEnv, PayRequest, PayResult, Player, PresentResult};
use crate::retry::RetryPolicy;
use crate::secret::{AccessToken, Secret, SessionKey};
use crate::token::{self, IssuedToken, TokenEndpoint, TokenProvider};

/// The real service.
pub const WECHAT_BASE_URL: &str = "https://api.weixin.qq.com";

/// Settings of a [`Client`]. Only `appid`, `secret`, `offer_id` and `app_key` are required.
pub struct ClientBuilder {
    base_url: String,
    appid: String,
    secret: Secret,
    offer_id: String,
    app_key: Secret,
    sandbox_app_key: Option<Secret>,
    token_endpoint: TokenEndpoint,
    refresh_margin: Duration,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    timeout: Duration,
    accept_repeated_bill_no: bool,
    http: Option<reqwest::Client>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("appid", &self.appid)
            .field("offer_id", &self.offer_id)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The service's base URL (default `https://api.weixin.qq.com`), e.g. a local OpenMidas
    /// `http://127.0.0.1:8080`.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// The sandbox AppKey, needed for [`MidasEnv::Sandbox`] calls.
    pub fn sandbox_app_key(mut self, key: impl Into<Secret>) -> Self {
        self.sandbox_app_key = Some(key.into());
        self
    }

    /// Which endpoint issues tokens (default [`TokenEndpoint::Stable`]).
    pub fn token_endpoint(mut self, endpoint: TokenEndpoint) -> Self {
        self.token_endpoint = endpoint;
        self
    }

    /// Refresh the token this long before it expires (default 5 minutes).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// The clock of the token cache (default the system clock) and of `ts`.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Retries after -1, timeouts, dropped connections and 5xx (default 4 attempts).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Timeout of one HTTP exchange (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether a 90012 (`bill_no repeated`) that carries the original result counts as
    /// success of a pay / present (default true: it was applied exactly once); likewise an
    /// xpay 268490004 (`重复操作`) answering the retry of a currency_pay, present_currency,
    /// cancel_currency_pay or refund_order whose earlier attempt's answer was lost.
    pub fn accept_repeated_bill_no(mut self, accept: bool) -> Self {
        self.accept_repeated_bill_no = accept;
        self
    }

    /// Use this HTTP client (its own timeouts and TLS settings apply).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    pub fn build(self) -> Result<Client> {
        for (name, empty) in [
            ("appid", self.appid.is_empty()),
            ("offer_id", self.offer_id.is_empty()),
            ("secret", self.secret.is_empty()),
            ("app_key", self.app_key.is_empty()),
        ] {
            if empty {
                return Err(Error::Config(format!("{name} is empty")));
            }
        }
        let client = match self.http {
            Some(client) => client,
            None => reqwest::Client::builder()
                .timeout(self.timeout)
                .connect_timeout(self.timeout.min(Duration::from_secs(5)))
                .build()
                .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?,
        };
        let http = Http {
            client,
            base_url: self.base_url.trim_end_matches('/').to_string(),
        };
        let tokens = TokenProvider::new(
            http.clone(),
            self.appid.clone(),
            self.secret.clone(),
            self.token_endpoint,
            self.clock.clone(),
            self.refresh_margin,
            self.retry.clone(),
        );
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                appid: self.appid,
                secret: self.secret,
                offer_id: self.offer_id,
                app_key: self.app_key,
                sandbox_app_key: self.sandbox_app_key,
                clock: self.clock,
                retry: self.retry,
                accept_repeated_bill_no: self.accept_repeated_bill_no,
                tokens,
            }),
        })
    }
}

struct Inner {
    http: Http,
    appid: String,
    secret: Secret,
    offer_id: String,
    app_key: Secret,
    sandbox_app_key: Option<Secret>,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    accept_repeated_bill_no: bool,
    tokens: TokenProvider,
}

/// A game server's client of the Midas v1 API for one app. Cheap to clone; share it.
///
/// Player state is never stored in the client: the session_key is passed per call.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.http.base_url)
            .field("appid", &self.inner.appid)
            .field("offer_id", &self.inner.offer_id)
            .field("sandbox", &self.inner.sandbox_app_key.is_some())
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// `jscode2session`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub openid: String,
    pub session_key: SessionKey,
    pub unionid: Option<String>,
}

#[derive(Deserialize)]
struct SessionAnswer {
    openid: String,
    session_key: String,
    #[serde(default)]
    unionid: Option<String>,
}

/// A payment answer the retry loop did not absorb.
pub(crate) struct Answer {
    pub value: Value,
    /// An earlier attempt may have been applied (its answer was -1 or lost).
    pub after_uncertain_attempt: bool,
}

impl Client {
    /// Settings for an app. See [`ClientBuilder`] for the rest.
    pub fn builder(
        appid: impl Into<String>,
        secret: impl Into<Secret>,
        offer_id: impl Into<String>,
        app_key: impl Into<Secret>,
    ) -> ClientBuilder {
        ClientBuilder {
            base_url: WECHAT_BASE_URL.to_string(),
            appid: appid.into(),
            secret: secret.into(),
            offer_id: offer_id.into(),
            app_key: app_key.into(),
            sandbox_app_key: None,
            token_endpoint: TokenEndpoint::default(),
            refresh_margin: Duration::from_secs(300),
            clock: Arc::new(SystemClock),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(10),
            accept_repeated_bill_no: true,
            http: None,
        }
    }

    pub fn appid(&self) -> &str {
        &self.inner.appid
    }

    pub fn offer_id(&self) -> &str {
        &self.inner.offer_id
    }

    pub fn base_url(&self) -> &str {
        &self.inner.http.base_url
    }

    /// The access-token cache every payment call uses.
    pub fn tokens(&self) -> &TokenProvider {
        &self.inner.tokens
    }

    /// A cached access token (see [`TokenProvider::get`]).
    pub async fn access_token(&self) -> Result<AccessToken> {
        self.inner.tokens.get().await
    }

    /// `GET /cgi-bin/token`, uncached: a new token (retires the previous one after 5 min).
    pub async fn fetch_token(&self) -> Result<IssuedToken> {
        let i = &self.inner;
        token::fetch(&i.http, &i.appid, &i.secret, TokenEndpoint::Classic, false).await
    }

    /// `POST /cgi-bin/stable_token`, uncached.
    pub async fn fetch_stable_token(&self, force_refresh: bool) -> Result<IssuedToken> {
        let i = &self.inner;
        token::fetch(&i.http, &i.appid, &i.secret, TokenEndpoint::Stable, force_refresh).await
    }

    /// `GET /sns/jscode2session`: exchanges a login code (single use) for the player's
    /// openid and session_key.
    pub async fn code_to_session(&self, js_code: &str) -> Result<Session> {
        let i = &self.inner;
        let request = i.http.client.get(i.http.url("/sns/jscode2session")).query(&[
            ("appid", i.appid.as_str()),
            ("secret", i.secret.expose()),
            ("js_code", js_code),
            ("grant_type", "authorization_code"),
        ]);
        let answer: SessionAnswer = decode(i.http.send(request).await?, Tables::Platform)?;
        Ok(Session {
            openid: answer.openid,
            session_key: SessionKey::new(answer.session_key),
            unionid: answer.unionid,
        })
    }

    /// `getbalance`.
    pub async fn get_balance(
        &self,
        env: MidasEnv,
        player: &Player,
        session_key: Option<&SessionKey>,
    ) -> Result<Balance> {
        let fields = self.common_fields(player);
        let answer = self.v1(env.endpoint(Op::GetBalance), fields, session_key).await?;
        decode(answer.value, Dialect::V1)
    }

    /// `pay`: deducts `amt` coins, gift coins first. Retried with the same bill_no after
    /// -1, timeouts and dropped connections; a 90012 carrying the original result counts as
    /// success (see [`ClientBuilder::accept_repeated_bill_no`]).
    pub async fn pay(
        &self,
        env: MidasEnv,
        player: &Player,
        request: &PayRequest,
        session_key: Option<&SessionKey>,
    ) -> Result<PayResult> {
        check_bill_no(&request.bill_no)?;
        check_amount("amt", request.amt)?;
        let mut fields = self.common_fields(player);
        fields.insert("amt".into(), request.amt.into());
        fields.insert("bill_no".into(), request.bill_no.clone().into());
        if let Some(item) = request.pay_item.as_ref().filter(|s| !s.is_empty()) {
            fields.insert("pay_item".into(), item.clone().into());
        }
        if let Some(remark) = request.app_remark.as_ref().filter(|s| !s.is_empty()) {
            fields.insert("app_remark".into(), remark.clone().into());
        }
        let answer = self.v1(env.endpoint(Op::Pay), fields, session_key).await?;
        let replayed = self.accept_repeat(&answer.value, Dialect::V1, &["bill_no", "balance"])?;
        let mut result: PayResult = decode_fields(answer.value)?;
        result.replayed = replayed;
        if result.bill_no.is_empty() {
            result.bill_no = request.bill_no.clone();
        }
        Ok(result)
    }

    /// `present`: gives `present_counts` gift coins. Retried like [`Client::pay`].
    pub async fn present(
        &self,
        env: MidasEnv,
        player: &Player,
        bill_no: &str,
        present_counts: i64,
        session_key: Option<&SessionKey>,
    ) -> Result<PresentResult> {
        check_bill_no(bill_no)?;
        check_amount("present_counts", present_counts)?;
        let mut fields = self.common_fields(player);
        fields.insert("bill_no".into(), bill_no.into());
        fields.insert("present_counts".into(), present_counts.into());
        let answer = self.v1(env.endpoint(Op::Present), fields, session_key).await?;
        let replayed = self.accept_repeat(&answer.value, Dialect::V1, &["bill_no", "balance"])?;
        let mut result: PresentResult = decode_fields(answer.value)?;
        result.replayed = replayed;
        if result.bill_no.is_empty() {
            result.bill_no = bill_no.to_string();
        }
        Ok(result)
    }

    /// `cancelpay`: reverses the pay `bill_no` (within 48 h). Retried like [`Client::pay`];
    /// a 90015 (already cancelled) after an attempt whose answer was lost counts as success.
    pub async fn cancel_pay(
        &self,
        env: MidasEnv,
        player: &Player,
        bill_no: &str,
        pay_item: Option<&str>,
        session_key: Option<&SessionKey>,
    ) -> Result<CancelResult> {
        check_bill_no(bill_no)?;
        let mut fields = self.common_fields(player);
        fields.insert("bill_no".into(), bill_no.into());
        if let Some(item) = pay_item.filter(|s| !s.is_empty()) {
            fields.insert("pay_item".into(), item.into());
        }
        let answer = self.v1(env.endpoint(Op::CancelPay), fields, session_key).await?;
        if let Some(e) = api_error(&answer.value, Dialect::V1)? {
            if e.is(v1::Code::OrderAlreadyCancelled) && answer.after_uncertain_attempt {
                tracing::info!(bill_no, "cancelpay: 90015 after a lost answer, the cancel was applied");
                return Ok(CancelResult {
                    bill_no: bill_no.to_string(),
                    already_cancelled: true,
                });
            }
            return Err(Error::Api(e));
        }
        let mut result: CancelResult = decode_fields(answer.value)?;
        result.already_cancelled = false;
        if result.bill_no.is_empty() {
            result.bill_no = bill_no.to_string();
        }
        Ok(result)
    }

    fn common_fields(&self, player: &Player) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("appid".into(), self.inner.appid.clone().into());
        fields.insert("offer_id".into(), self.inner.offer_id.clone().into());
        fields.insert("openid".into(), player.openid.clone().into());
        fields.insert("zone_id".into(), player.zone_id.clone().into());
        fields.insert("pf".into(), player.pf.clone().into());
        fields.insert("ts".into(), (self.inner.clock.now_ms().div_euclid(1000)).into());
        if let Some(ip) = player.user_ip.as_ref().filter(|s| !s.is_empty()) {
            fields.insert("user_ip".into(), ip.clone().into());
        }
        fields
    }

    /// Whether a repeated order number that reports the original operation counts as its
    /// success ([`ClientBuilder::accept_repeated_bill_no`]).
    pub(crate) fn accepts_repeats(&self) -> bool {
        self.inner.accept_repeated_bill_no
    }

    /// For a pay / present / refund answer: Ok(false) on errcode 0, Ok(true) on a 90012
    /// (v1 and 2.0 alike) that carries the original result (when accepted), else the error.
    pub(crate) fn accept_repeat(&self, value: &Value, dialect: Dialect, result_fields: &[&str]) -> Result<bool> {
        let Some(e) = api_error(value, dialect)? else {
            return Ok(false);
        };
        let carries_result = result_fields
            .iter()
            .all(|f| value.get(*f).is_some_and(|v| !v.is_null()));
        if e.is(v1::Code::BillNoRepeated) && carries_result && self.inner.accept_repeated_bill_no {
            tracing::info!("90012 with the original result: the bill_no was applied exactly once");
            return Ok(true);
        }
        Err(Error::Api(e))
    }

    fn app_key(&self, endpoint: Endpoint) -> Result<&Secret> {
        if endpoint.sandbox {
            self.inner
                .sandbox_app_key
                .as_ref()
                .ok_or_else(|| Error::Config("no sandbox AppKey configured".into()))
        } else {
            Ok(&self.inner.app_key)
        }
    }

    /// The AppKey of an environment.
    pub(crate) fn key_for(&self, env: MidasEnv) -> Result<&Secret> {
        self.app_key(env.endpoint(Op::GetBalance))
    }

    pub(crate) fn http(&self) -> &Http {
        &self.inner.http
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// One v1 call: every attempt signs the same body bytes with the current token.
    async fn v1(
        &self,
        endpoint: Endpoint,
        fields: Map<String, Value>,
        session_key: Option<&SessionKey>,
    ) -> Result<Answer> {
        let app_key = self.app_key(endpoint)?;
        // Serialized once: every attempt sends these bytes plus the signatures.
        let unsigned = serde_json::to_vec(&fields).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        let bill_no = fields.get("bill_no").and_then(Value::as_str).unwrap_or("");
        let uri = endpoint.uri();
        let http = &self.inner.http;
        self.call(Dialect::V1, uri, bill_no, &[], |token: &AccessToken| {
            let body = sign_v1_body(
                endpoint,
                &unsigned,
                app_key.expose(),
                token.expose(),
                session_key.map(SessionKey::expose),
            )?;
            Ok(http
                .client
                .post(http.url(uri))
                .query(&[("access_token", token.expose())])
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body))
        })
        .await
    }

    /// One payment call: build (and sign) the request for the current token, send it, and
    /// repeat it when that is safe.
    ///
    /// - 40001 / 42001: refresh the token, build again (v1's mp_sig covers it), send again,
    ///   once.
    /// - -1, transport errors, 5xx, and any other errcode the dialect's table calls
    ///   retryable: send the same body again after a backoff, up to the retry policy's
    ///   attempts. A state change is keyed by its order number, so it applies once.
    /// - `answers`: retryable errcodes that are this operation's definite answer rather than
    ///   an unknown outcome (xpay's 268490011 "bill being generated", 268490014 "refund in
    ///   progress"): handed back at once for the operation to interpret, never re-sent here.
    ///
    /// Answers the JSON of the last answer, whatever its errcode (the caller interprets
    /// 90012 / 90015 / 268490004), or the error that ended the retries.
    pub(crate) async fn call(
        &self,
        dialect: Dialect,
        uri: &str,
        order_no: &str,
        answers: &[i64],
        build: impl Fn(&AccessToken) -> Result<reqwest::RequestBuilder>,
    ) -> Result<Answer> {
        let mut token = self.inner.tokens.get().await?;
        let mut token_refreshed = false;
        let mut uncertain = false;
        let mut last_uncertain: Option<Error> = None;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let outcome = self.inner.http.send(build(&token)?).await;
            let failure = match outcome {
                Ok(value) => match api_error(&value, dialect)? {
                    None => {
                        return Ok(Answer {
                            value,
                            after_uncertain_attempt: uncertain,
                        })
                    }
                    Some(e) if (e.is(Code::InvalidCredential) || e.is(Code::AccessTokenExpired)) => {
                        if token_refreshed {
                            return Err(Error::Api(e));
                        }
                        tracing::info!(
                            uri,
                            order_no,
                            errcode = e.errcode,
                            "access_token refused; refreshing and re-signing"
                        );
                        token = match self
                            .inner
                            .tokens
                            .refresh_rejected(&token, e.is(Code::InvalidCredential))
                            .await
                        {
                            Ok(token) => token,
                            // An earlier attempt may have been applied: its unknown outcome
                            // is the answer, not "never sent".
                            Err(token_error) if uncertain => {
                                tracing::warn!(uri, order_no, error = %token_error, "cannot refresh the access_token after an attempt with an unknown outcome");
                                return Err(last_uncertain.take().unwrap_or(token_error));
                            }
                            Err(token_error) => return Err(token_error),
                        };
                        token_refreshed = true;
                        // The refused attempt changed nothing: it does not count.
                        attempt -= 1;
                        continue;
                    }
                    Some(e) if e.retryable() && !answers.contains(&e.errcode) => Error::Api(e),
                    Some(_) => {
                        return Ok(Answer {
                            value,
                            after_uncertain_attempt: uncertain,
                        })
                    }
                },
                Err(e) if e.retryable() => e,
                Err(e) => return Err(e),
            };
            // The outcome of this attempt is unknown (-1, no answer, 5xx).
            uncertain = true;
            if attempt >= self.inner.retry.max_attempts {
                tracing::warn!(uri, order_no, attempt, error = %failure, "giving up; retry later with the same order number");
                return Err(failure);
            }
            let delay = self.inner.retry.delay(attempt);
            tracing::warn!(uri, order_no, attempt, error = %failure, ?delay, "retrying with the same body");
            last_uncertain = Some(failure);
            tokio::time::sleep(delay).await;
        }
    }
}

pub(crate) fn check_bill_no(bill_no: &str) -> Result<()> {
    if is_valid_bill_no(bill_no) {
        Ok(())
    } else {
        Err(Error::InvalidRequest(format!(
            "bill_no {bill_no:?} must be 1 to 63 characters of 0-9 A-Z a-z _ - | * @"
        )))
    }
}

pub(crate) fn check_amount(field: &str, amount: i64) -> Result<()> {
    if (1..=MAX_AMOUNT).contains(&amount) {
        Ok(())
    } else {
        Err(Error::InvalidRequest(format!(
            "{field} must be in 1..={MAX_AMOUNT}, got {amount}"
        )))
    }
}

/// Decodes result fields regardless of errcode (a 90012 carrying the original result).
pub(crate) fn decode_fields<T: serde::de::DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::Decode(e.to_string()))
}
