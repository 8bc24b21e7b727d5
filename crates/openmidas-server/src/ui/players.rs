//! An app's players: accounts by openid prefix, per env, 50 at a time after a cursor
//! ([`openmidas_ledger::Store::accounts`]: keyset paging over an index).

use axum::extract::{Path, RawQuery, State};
use maud::html;
use openmidas_ledger::{AccountCursor, AccountFilter, Env};

use super::auth::Session;
use super::layout::{self, enc, Chrome, Nav};
use super::{UiError, UiResult};
use crate::pipeline::{query_pairs, query_param};
use crate::AppState;

/// Accounts in one page.
pub const PAGE: u32 = 50;

/// The link of an account's page.
pub fn account_href(env: Env, appid: &str, offer_id: &str, zone_id: &str, openid: &str) -> String {
    format!(
        "/ui/account?env={}&appid={}&offer_id={}&zone_id={}&openid={}",
        env.as_str(),
        enc(appid),
        enc(offer_id),
        enc(zone_id),
        enc(openid)
    )
}

/// The env of a query (`official` when absent).
pub fn env_of(text: Option<&str>) -> Result<Env, UiError> {
    match text {
        None => Ok(Env::Official),
        Some(text) => Env::parse(text).ok_or_else(|| UiError::not_found("env must be official or sandbox")),
    }
}

/// `GET /ui/apps/{appid}/players?env=&q=&after_openid=&after_offer_id=&after_zone_id=`.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Path(appid): Path<String>,
    RawQuery(query): RawQuery,
) -> UiResult {
    let app = state
        .store
        .app(&appid)
        .await?
        .ok_or_else(|| UiError::not_found(format!("There is no app {appid}.")))?;
    let pairs = query_pairs(query.as_deref());
    let env = env_of(query_param(&pairs, "env"))?;
    let prefix = query_param(&pairs, "q").unwrap_or_default().trim().to_string();
    let after = match (
        query_param(&pairs, "after_openid"),
        query_param(&pairs, "after_offer_id"),
        query_param(&pairs, "after_zone_id"),
    ) {
        (Some(openid), Some(offer_id), Some(zone_id)) => Some(AccountCursor {
            openid: openid.to_string(),
            offer_id: offer_id.to_string(),
            zone_id: zone_id.to_string(),
        }),
        _ => None,
    };
    let filter = AccountFilter {
        appid: appid.clone(),
        env,
        openid_prefix: prefix.clone(),
        after: after.clone(),
        limit: PAGE + 1,
    };
    let mut accounts = state.store.accounts(&filter).await?;
    let more = accounts.len() > PAGE as usize;
    accounts.truncate(PAGE as usize);
    let next = match (more, accounts.last()) {
        (true, Some((key, _))) => Some(format!(
            "/ui/apps/{}/players?env={}&q={}&after_openid={}&after_offer_id={}&after_zone_id={}",
            enc(&appid),
            env.as_str(),
            enc(&prefix),
            enc(&key.openid),
            enc(&key.offer_id),
            enc(&key.zone_id)
        )),
        _ => None,
    };
    let chrome = Chrome {
        session: &session,
        emulator: state.emulator.is_some(),
    };
    let body = html! {
        p.links {
            a href=(format!("/ui/apps/{}", enc(&appid))) { "App " (appid) }
            " · offer_id " (app.offer_id)
            " · "
            a href=(format!("/ui/apps/{}/purchases?env={}", enc(&appid), env.as_str())) { "Purchases" }
        }
        form.filters method="get" action=(format!("/ui/apps/{}/players", enc(&appid))) {
            div.field {
                label for="env" { "Environment" }
                select #env name="env" {
                    @for e in [Env::Official, Env::Sandbox] {
                        option value=(e.as_str()) selected[e == env] { (e.as_str()) }
                    }
                }
            }
            div.field {
                label for="players-q" { "openid starts with" }
                input #players-q type="search" name="q" value=(prefix);
            }
            button type="submit" { "Search" }
        }
        @if accounts.is_empty() {
            p { "No player" @if after.is_some() { " after this one" } "." }
        } @else {
            table {
                caption { "Players of " (appid) " (" (env.as_str()) ")" @if after.is_some() { ", continued" } }
                thead { tr {
                    th scope="col" { "openid" }
                    th scope="col" { "zone_id" }
                    th scope="col" { "offer_id" }
                    th scope="col" { abbr title="v1, 2.0 and xpay: balance" { "balance" } }
                    th scope="col" { abbr title="v1: gen_balance; 2.0 and xpay: present_balance" { "gift (gen_balance / present_balance)" } }
                    th scope="col" { abbr title="v1: save_amt; 2.0 and xpay: sum_save" { "recharged (save_amt / sum_save)" } }
                    th scope="col" { abbr title="v1: cost_sum; 2.0 and xpay: sum_cost" { "spent (cost_sum / sum_cost)" } }
                } }
                tbody {
                    @for (key, account) in &accounts {
                        tr {
                            th scope="row" { a href=(account_href(key.env, &key.appid, &key.offer_id, &key.zone_id, &key.openid)) { (key.openid) } }
                            td { (key.zone_id) }
                            td { (key.offer_id) }
                            td.num { (account.balance()) }
                            td.num { (account.gen_balance()) }
                            td.num { (account.save_amt) }
                            td.num { (account.cost_sum) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p { a rel="next" href=(next) { "Next " (PAGE) " players" } }
        }
    };
    Ok(layout::page(&chrome, &format!("Players of {appid}"), Nav::Apps, body))
}
