//! `GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::Json;
use openmidas_ledger::App;
use openmidas_protocol::common::Code;
use openmidas_protocol::wire::AccessTokenOk;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};
use crate::pipeline::{query_pairs, query_param};
use crate::{secrets, AppState};
use openmidas_ledger::StoreExt;

/// Finds the app and checks its secret in constant time: 40013 unknown, 40125 wrong.
pub(crate) async fn authenticate_app(state: &AppState, appid: &str, secret: &str) -> ApiResult<Arc<App>> {
    let app = state.store.app(appid).await?.ok_or(Code::InvalidAppid)?;
    if !secret_matches(&app.secret, secret) {
        return Err(Code::InvalidAppSecret.into());
    }
    Ok(app)
}

/// Whether `presented` is the AppSecret `secret`: their SHA-256 digests compared in
/// constant time, as the admin token is (`AdminToken::matches`). Comparing the texts
/// themselves would return at once on a length mismatch and tell a guesser the secret's
/// length; two digests always have 32 bytes.
pub(crate) fn secret_matches(secret: &str, presented: &str) -> bool {
    secret_digest(secret).ct_eq(&secret_digest(presented)).into()
}

fn secret_digest(text: &str) -> [u8; 32] {
    #[cfg(test)]
    tests::DIGESTS.with(|taken| taken.set(taken.get() + 1));
    Sha256::digest(text.as_bytes()).into()
}

/// The checks both token endpoints share, in order: grant_type (40002), appid (41002),
/// secret (41004), then the app (40013, 40125).
pub(crate) async fn check_client_credential(
    state: &AppState,
    grant_type: Option<&str>,
    appid: Option<&str>,
    secret: Option<&str>,
) -> ApiResult<Arc<App>> {
    if grant_type != Some("client_credential") {
        return Err(ApiError::msg(
            Code::InvalidGrantType,
            "invalid grant_type: must be client_credential",
        ));
    }
    let appid = appid.ok_or(Code::AppidMissing)?;
    let secret = secret.ok_or(Code::AppSecretMissing)?;
    authenticate_app(state, appid, secret).await
}

pub async fn get(State(state): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Json<AccessTokenOk>> {
    let pairs = query_pairs(query.as_deref());
    let app = check_client_credential(
        &state,
        query_param(&pairs, "grant_type"),
        query_param(&pairs, "appid"),
        query_param(&pairs, "secret"),
    )
    .await?;
    let now_ms = state.clock.now_ms();
    let record = state
        .store
        .issue_basic_token(&app.appid, secrets::access_token(), app.token_daily_limit, now_ms)
        .await?
        .map_err(|_| Code::ApiDailyQuotaReached)?;
    tracing::info!(appid = %app.appid, token = %openmidas_ledger::auth::redact_token(&record.token), "issued access_token");
    Ok(Json(AccessTokenOk {
        expires_in: record.expires_in_secs(now_ms),
        access_token: record.token,
    }))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use openmidas_ledger::SystemClock;
    use openmidas_store_sqlite::{SqliteConfig, SqliteStore};

    use super::*;
    use crate::AdminToken;

    thread_local! {
        /// How many secrets this thread has digested: what tells the digest path from a
        /// comparison of the texts.
        pub(super) static DIGESTS: Cell<usize> = const { Cell::new(0) };
    }

    /// `f`'s result and the number of secrets it digested.
    fn digested<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let before = DIGESTS.with(Cell::get);
        let result = f();
        (result, DIGESTS.with(Cell::get) - before)
    }

    #[test]
    fn secrets_of_every_length_are_compared_as_digests() {
        let secret = "0123456789abcdef0123456789abcdef";
        let cases = [
            (secret, true),
            ("0123456789abcdef0123456789abcdeF", false),
            ("x123456789abcdef0123456789abcdef", false),
            ("0123456789abcdef0123456789abcde", false),
            ("0123456789abcdef0123456789abcdef0", false),
            ("0", false),
            ("", false),
        ];
        for (presented, expected) in cases {
            let (matches, digests) = digested(|| secret_matches(secret, presented));
            assert_eq!(matches, expected, "{presented:?}");
            assert_eq!(digests, 2, "{presented:?} must be digested, not compared as text");
        }
        assert!(secret_matches("", ""));
    }

    /// The endpoints' check goes through [`secret_matches`]: a secret of another length is
    /// refused as 40125 after both it and the app's secret were digested.
    #[tokio::test]
    async fn authenticate_app_compares_digests() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(SqliteConfig::new(dir.path().join("openmidas.db"))).unwrap();
        let store: Arc<dyn openmidas_ledger::Store> = Arc::new(store);
        let secret = "0123456789abcdef0123456789abcdef";
        store
            .upsert_app(App::new("wx0000000000000001", secret, "offer", "key", "sandbox"), 0)
            .await
            .unwrap();
        let state = AppState::ledger(
            store,
            Arc::new(SystemClock),
            AdminToken::new("admin token for the test"),
        );

        for (presented, expected) in [(secret, None), ("short", Some(40125)), (&secret[..31], Some(40125))] {
            let before = DIGESTS.with(Cell::get);
            let answer = authenticate_app(&state, "wx0000000000000001", presented).await;
            // A current-thread runtime: the check ran on this thread.
            assert_eq!(DIGESTS.with(Cell::get) - before, 2, "{presented:?}");
            let answer = answer.map(|app| app.appid.clone()).map_err(|error| error.code);
            match expected {
                None => assert_eq!(answer, Ok("wx0000000000000001".to_owned()), "{presented:?}"),
                Some(code) => assert_eq!(answer, Err(code), "{presented:?}"),
            }
        }
    }
}
