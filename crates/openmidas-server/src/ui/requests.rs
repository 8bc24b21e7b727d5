//! The request log (emulator mode): the newest entries, filtered by appid, openid or
//! errcode, refreshed every 2 s by `ui.js` (it fetches `/ui/requests/rows`); one entry's
//! page lays its signature diagnosis out side by side: what the client sent, what the
//! server signed. Entries are masked when they are written (behaviour.md section 13.3).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::auth::Session;
use super::layout::{self, enc, time_el, Chrome, Nav};
use super::{UiError, UiResult};
use crate::controls::faults::When;
use crate::controls::log::{Entry, Filter};
use crate::pipeline::{query_pairs, query_param};
use crate::AppState;

/// Entries a list shows.
const SHOWN: usize = 100;

fn dialect_name(entry: &Entry) -> String {
    serde_json::to_value(entry.dialect)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The filter of a query, and the query text that repeats it.
fn filter_of(query: Option<&str>) -> (Filter, String) {
    let pairs = query_pairs(query);
    let text = |name: &str| query_param(&pairs, name).map(str::trim).filter(|t| !t.is_empty());
    let filter = Filter {
        appid: text("appid").map(str::to_string),
        openid: text("openid").map(str::to_string),
        errcode: text("errcode").and_then(|t| t.parse::<i64>().ok()),
    };
    let again = format!(
        "appid={}&openid={}&errcode={}",
        enc(filter.appid.as_deref().unwrap_or_default()),
        enc(filter.openid.as_deref().unwrap_or_default()),
        filter.errcode.map(|c| c.to_string()).unwrap_or_default()
    );
    (filter, again)
}

fn newest(state: &AppState, filter: &Filter) -> Vec<Arc<Entry>> {
    let mut entries = state
        .emulator
        .as_ref()
        .map(|e| e.log.last(filter, SHOWN))
        .unwrap_or_default();
    entries.reverse();
    entries
}

fn rows_markup(entries: &[Arc<Entry>]) -> Markup {
    html! {
        @for e in entries {
            tr.failed[e.errcode.is_some_and(|c| c != 0)] {
                th scope="row" { a href=(format!("/ui/requests/{}", enc(&e.id))) { code { (e.id) } } }
                td { (time_el(e.time_ms)) }
                td { (dialect_name(e)) }
                td { (e.method) " " (e.path) }
                td { (e.appid.as_deref().unwrap_or("—")) }
                td { (e.openid.as_deref().unwrap_or("—")) }
                td.num { (e.status.map(|s| s.to_string()).unwrap_or_else(|| "dropped".into())) }
                td.num { (e.errcode.map(|c| c.to_string()).unwrap_or_else(|| "—".into())) }
                td {
                    @if let Some(d) = &e.diagnosis { "bad " (d.signature) }
                    @if let Some(f) = &e.fault { @if e.diagnosis.is_some() { "; " } "fault #" (f.id) }
                }
                td.num { (e.latency_us) " µs" }
            }
        }
        @if entries.is_empty() {
            tr { td colspan="10" { "No request yet." } }
        }
    }
}

/// `GET /ui/requests?appid=&openid=&errcode=`: the newest 100, newest first.
pub async fn list(State(state): State<AppState>, session: Session, RawQuery(query): RawQuery) -> UiResult {
    let (filter, again) = filter_of(query.as_deref());
    let entries = newest(&state, &filter);
    let chrome = Chrome {
        session: &session,
        emulator: true,
    };
    let body = html! {
        form.filters method="get" action="/ui/requests" {
            div.field {
                label for="appid" { "appid" }
                input #appid type="text" name="appid" value=(filter.appid.as_deref().unwrap_or_default());
            }
            div.field {
                label for="openid" { "openid" }
                input #openid type="text" name="openid" value=(filter.openid.as_deref().unwrap_or_default());
            }
            div.field {
                label for="errcode" { "errcode" }
                input #errcode type="text" inputmode="numeric" name="errcode" value=(filter.errcode.map(|c| c.to_string()).unwrap_or_default());
            }
            button type="submit" { "Filter" }
        }
        div.field.check {
            input #live type="checkbox" checked;
            label for="live" { "Refresh every 2 s" }
        }
        table #requests {
            caption.visually-hidden { "Requests, newest first" }
            thead { tr {
                th scope="col" { "request id" }
                th scope="col" { "time" }
                th scope="col" { "dialect" }
                th scope="col" { "request" }
                th scope="col" { "appid" }
                th scope="col" { "openid" }
                th scope="col" { "HTTP" }
                th scope="col" { "errcode" }
                th scope="col" { "why" }
                th scope="col" { "latency" }
            } }
            tbody #request-rows data-live=(format!("/ui/requests/rows?{again}")) aria-live="polite" {
                (rows_markup(&entries))
            }
        }
    };
    Ok(layout::page(&chrome, "Request log", Nav::Requests, body))
}

/// `GET /ui/requests/rows?...`: the table's rows alone (the live refresh).
pub async fn rows(State(state): State<AppState>, _session: Session, RawQuery(query): RawQuery) -> Response {
    let (filter, _) = filter_of(query.as_deref());
    let entries = newest(&state, &filter);
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        rows_markup(&entries).into_string(),
    )
        .into_response()
}

/// `GET /ui/requests/{id}`: one request.
pub async fn one(State(state): State<AppState>, session: Session, Path(id): Path<String>) -> UiResult {
    let entry = state
        .emulator
        .as_ref()
        .and_then(|e| e.log.get(&id))
        .ok_or_else(|| UiError::not_found(format!("There is no request {id} in this node's log.")))?;
    let e = entry.as_ref();
    let chrome = Chrome {
        session: &session,
        emulator: true,
    };
    let body = html! {
        p.links { a href="/ui/requests" { "All requests" } }
        dl.key {
            dt { "time" } dd { (time_el(e.time_ms)) }
            dt { "dialect" } dd { (dialect_name(e)) }
            dt { "request" } dd { code { (e.method) " " (e.path) } }
            dt { "appid" } dd { (e.appid.as_deref().unwrap_or("—")) }
            dt { "openid" } dd { (e.openid.as_deref().unwrap_or("—")) }
            dt { "HTTP status" } dd { (e.status.map(|s| s.to_string()).unwrap_or_else(|| "none: the connection was dropped".into())) }
            dt { "errcode" } dd #errcode { (e.errcode.map(|c| c.to_string()).unwrap_or_else(|| "—".into())) }
            dt { "latency" } dd { (e.latency_us) " µs" }
        }
        @if let Some(d) = &e.diagnosis {
            section #diagnosis aria-labelledby="diagnosis-heading" {
                h2 #diagnosis-heading { "Why " code { (d.signature) } " failed" }
                @if let Some(cause) = &d.likely_cause {
                    p.cause role="alert" { strong { "Likely cause: " } (cause) }
                }
                p.hint { (d.hint) }
                div.side-by-side {
                    section aria-labelledby="sent-heading" {
                        h3 #sent-heading { "What the client sent" }
                        dl {
                            dt { "query" } dd { pre { (e.query) } }
                            dt { "body" } dd { pre { (e.body) } }
                            dt { "signature received" } dd { pre.received { (d.received) } }
                        }
                    }
                    section aria-labelledby="signed-heading" {
                        h3 #signed-heading { "What the server signed" }
                        dl {
                            dt { "algorithm and key" } dd { pre { (d.algorithm) " with " (d.key) } }
                            dt { "message signed" } dd { pre.signed { (d.signed) } }
                            dt { "signature expected" } dd { pre.expected { (d.expected) } }
                        }
                    }
                }
            }
        }
        @if let Some(f) = &e.fault {
            section #fault aria-labelledby="fault-heading" {
                h2 #fault-heading { "Fault rule #" (f.id) " fired" }
                dl.key {
                    dt { "when" } dd { (match f.when { When::Before => "before (nothing changed)", When::After => "after (the change was applied)" }) }
                    dt { "errcode" } dd { (f.errcode.map(|c| c.to_string()).unwrap_or_else(|| "—".into())) }
                    dt { "delay" } dd { (f.delay_ms) " ms" }
                    dt { "dropped the connection" } dd { (if f.drop_connection { "yes" } else { "no" }) }
                    @if let Some(kept) = &f.replaced_answer {
                        dt { "answer kept from the client" } dd { pre { (kept) } }
                    }
                }
                p { a href="/ui/faults" { "Fault rules" } }
            }
        }
        @if e.diagnosis.is_none() {
            h2 { "Request" }
            h3 { "query" } pre { (e.query) }
            h3 { "body" } pre { (e.body) }
        }
        h2 { "Answer" }
        pre #answer { (e.answer) }
    };
    Ok(layout::page(&chrome, &format!("Request {}", e.id), Nav::Requests, body))
}
