//! The access-token provider: cached, refreshed before expiry, one refresh at a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::http::{decode, Http, Tables};
use crate::retry::RetryPolicy;
use crate::secret::{AccessToken, Secret};

/// Which endpoint issues tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenEndpoint {
    /// `POST /cgi-bin/stable_token` (default): the same token until shortly before expiry,
    /// so several game-server processes do not retire each other's tokens.
    #[default]
    Stable,
    /// `GET /cgi-bin/token`: every fetch retires the previous token after 5 minutes.
    Classic,
}

/// A token as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub access_token: AccessToken,
    /// Seconds the token lives from issue.
    pub expires_in: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: i64,
}

/// Fetches one token from `/cgi-bin/token` or `/cgi-bin/stable_token`, without caching.
pub(crate) async fn fetch(
    http: &Http,
    appid: &str,
    secret: &Secret,
    endpoint: TokenEndpoint,
    force_refresh: bool,
) -> Result<IssuedToken> {
    let request = match endpoint {
        TokenEndpoint::Classic => http.client.get(http.url("/cgi-bin/token")).query(&[
            ("grant_type", "client_credential"),
            ("appid", appid),
            ("secret", secret.expose()),
        ]),
        TokenEndpoint::Stable => {
            let body = json!({
                "grant_type": "client_credential", "appid": appid,
                "secret": secret.expose(), "force_refresh": force_refresh,
            });
            http.client
                .post(http.url("/cgi-bin/stable_token"))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string())
        }
    };
    let answer: TokenAnswer = decode(http.send(request).await?, Tables::Platform)?;
    if answer.access_token.is_empty() {
        return Err(Error::Decode("empty access_token".into()));
    }
    Ok(IssuedToken {
        access_token: AccessToken::new(answer.access_token),
        expires_in: answer.expires_in,
    })
}

struct Cached {
    token: AccessToken,
    /// Use it until this instant (expiry minus the margin).
    refresh_at_ms: i64,
}

/// A cached access token for one app.
///
/// - [`TokenProvider::get`] answers the cached token while it is more than the margin
///   (default 5 minutes) away from expiry, else fetches a new one.
/// - Only one fetch runs at a time: concurrent callers wait for it and share its token.
/// - [`TokenProvider::refresh_rejected`] replaces a token the service refused (40001 /
///   42001), unless another caller already did.
pub struct TokenProvider {
    http: Http,
    appid: String,
    secret: Secret,
    endpoint: TokenEndpoint,
    clock: Arc<dyn Clock>,
    margin: Duration,
    retry: RetryPolicy,
    cached: tokio::sync::Mutex<Option<Cached>>,
    fetches: AtomicU64,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("base_url", &self.http.base_url)
            .field("appid", &self.appid)
            .field("endpoint", &self.endpoint)
            .field("margin", &self.margin)
            .field("fetches", &self.fetch_count())
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    pub(crate) fn new(
        http: Http,
        appid: String,
        secret: Secret,
        endpoint: TokenEndpoint,
        clock: Arc<dyn Clock>,
        margin: Duration,
        retry: RetryPolicy,
    ) -> TokenProvider {
        TokenProvider {
            http,
            appid,
            secret,
            endpoint,
            clock,
            margin,
            retry,
            cached: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many tokens this provider fetched so far.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }

    /// A token that is valid for at least the margin, fetched only when needed.
    pub async fn get(&self) -> Result<AccessToken> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            if self.clock.now_ms() < c.refresh_at_ms {
                return Ok(c.token.clone());
            }
        }
        let fresh = self.fetch_cached(false).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Replaces `rejected` (refused with 40001 / 42001) and answers the new token. If the
    /// cache already holds another token, someone refreshed meanwhile: that one is answered.
    /// `force_refresh` (for 40001) asks `stable_token` to rotate even a token it thinks valid.
    pub async fn refresh_rejected(&self, rejected: &AccessToken, force_refresh: bool) -> Result<AccessToken> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            if c.token != *rejected && self.clock.now_ms() < c.refresh_at_ms {
                return Ok(c.token.clone());
            }
        }
        tracing::info!(appid = %self.appid, "access_token refused by the service: fetching a new one");
        let fresh = self.fetch_cached(force_refresh).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forgets the cached token: the next [`TokenProvider::get`] fetches.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn fetch_cached(&self, force_refresh: bool) -> Result<Cached> {
        let started_ms = self.clock.now_ms();
        let mut attempt = 0;
        let issued = loop {
            attempt += 1;
            self.fetches.fetch_add(1, Ordering::SeqCst);
            match fetch(&self.http, &self.appid, &self.secret, self.endpoint, force_refresh).await {
                Ok(issued) => break issued,
                Err(e) if e.retryable() && attempt < self.retry.max_attempts => {
                    tracing::warn!(appid = %self.appid, attempt, error = %e, "token fetch failed; retrying");
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                }
                // The call that needed the token was never sent.
                Err(e) => return Err(Error::Token(Box::new(e))),
            }
        };
        // Refresh `margin` before expiry, but never sooner than half-way through the
        // token's life (a stable token may be issued with only 300 s left).
        let life_ms = issued.expires_in.max(0).saturating_mul(1000);
        let margin_ms = i64::try_from(self.margin.as_millis())
            .unwrap_or(i64::MAX)
            .min(life_ms / 2);
        tracing::debug!(appid = %self.appid, expires_in = issued.expires_in, "fetched access_token");
        Ok(Cached {
            token: issued.access_token,
            refresh_at_ms: started_ms.saturating_add(life_ms - margin_ms),
        })
    }
}
