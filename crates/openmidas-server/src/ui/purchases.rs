//! An app's purchases in one env and their status ([`openmidas_ledger::Store::purchases`]:
//! by creation time over index `orders_by_time`, 100 at a time).

use axum::extract::{Path, RawQuery, State};
use maud::html;
use openmidas_ledger::Env;

use super::auth::Session;
use super::layout::{self, enc, time_el, Chrome, Nav};
use super::players::{account_href, env_of};
use super::{UiError, UiResult};
use crate::pipeline::{query_pairs, query_param};
use crate::AppState;

const PAGE: usize = 100;

/// `GET /ui/apps/{appid}/purchases?env=&from_ms=&skip=`: purchases created from `from_ms`
/// on, oldest first; `skip` leaves out those of `from_ms` the previous page showed.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Path(appid): Path<String>,
    RawQuery(query): RawQuery,
) -> UiResult {
    if state.store.app(&appid).await?.is_none() {
        return Err(UiError::not_found(format!("There is no app {appid}.")));
    }
    let pairs = query_pairs(query.as_deref());
    let env = env_of(query_param(&pairs, "env"))?;
    let from_ms = query_param(&pairs, "from_ms")
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(0);
    let skip = query_param(&pairs, "skip")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0)
        .min(10_000);
    let mut purchases = state
        .store
        .purchases(&appid, env, from_ms, i64::MAX, (PAGE + 1 + skip) as u32)
        .await?;
    let purchases: Vec<_> = purchases.drain(..).skip(skip).collect();
    let more = purchases.len() > PAGE;
    let purchases = &purchases[..purchases.len().min(PAGE)];
    let next = match (more, purchases.last()) {
        (true, Some((_, last))) => {
            let at = last.created_at_ms;
            let same = purchases.iter().filter(|(_, o)| o.created_at_ms == at).count();
            let skip = if at == from_ms { skip + same } else { same };
            Some(format!(
                "/ui/apps/{}/purchases?env={}&from_ms={at}&skip={skip}",
                enc(&appid),
                env.as_str()
            ))
        }
        _ => None,
    };
    let chrome = Chrome {
        session: &session,
        emulator: state.emulator.is_some(),
    };
    let body = html! {
        p.links {
            a href=(format!("/ui/apps/{}", enc(&appid))) { "App " (appid) }
            " · "
            a href=(format!("/ui/apps/{}/players?env={}", enc(&appid), env.as_str())) { "Players" }
        }
        form.filters method="get" action=(format!("/ui/apps/{}/purchases", enc(&appid))) {
            div.field {
                label for="env" { "Environment" }
                select #env name="env" {
                    @for e in [Env::Official, Env::Sandbox] {
                        option value=(e.as_str()) selected[e == env] { (e.as_str()) }
                    }
                }
            }
            button type="submit" { "Show" }
        }
        @if purchases.is_empty() {
            p { "No purchase." }
        } @else {
            table {
                caption.visually-hidden { "Purchases, oldest first" }
                thead { tr {
                    th scope="col" { "out_trade_no" }
                    th scope="col" { "kind" }
                    th scope="col" { "status" }
                    th scope="col" { "player" }
                    th scope="col" { "quantity" }
                    th scope="col" { "product" }
                    th scope="col" { "fee (fen)" }
                    th scope="col" { "refunded (fen)" }
                    th scope="col" { "wx_order_id" }
                    th scope="col" { "created" }
                } }
                tbody {
                    @for (k, o) in purchases {
                        tr {
                            th scope="row" { (k.number) }
                            td { (o.kind.as_str()) }
                            td { (o.status.as_str()) }
                            td { a href=(account_href(env, &appid, &k.offer_id, &o.zone_id, &o.openid)) { (o.openid) } }
                            td.num { (o.amount) }
                            td { (o.purchase.as_ref().map_or("", |p| p.product_id.as_str())) }
                            td.num { (o.purchase.as_ref().map_or(0, |p| p.fee_fen)) }
                            td.num { (o.purchase.as_ref().map_or(0, |p| p.refunded_fee)) }
                            td { code { (o.purchase.as_ref().map_or("", |p| p.wx_order_id.as_str())) } }
                            td { (time_el(o.created_at_ms)) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p { a rel="next" href=(next) { "Next " (PAGE) " purchases" } }
        }
    };
    Ok(layout::page(&chrome, &format!("Purchases of {appid}"), Nav::Apps, body))
}
