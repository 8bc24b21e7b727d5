//! Pushes: the outbox with attempts, last reply and whether a node is delivering now; a
//! redeliver button per event (through `POST /admin/pushes/{id}/redeliver`'s logic).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::html;
use openmidas_ledger::push::{PushFilter, PushStatus};

use super::auth::Session;
use super::layout::{self, enc, time_el, Chrome, Form, Nav};
use super::{UiError, UiResult};
use crate::admin::pushes::redeliver_one;
use crate::pipeline::{query_pairs, query_param};
use crate::push::content::event_name;
use crate::AppState;

const PAGE: u32 = 100;

/// `GET /ui/pushes?appid=&status=&after_id=`.
pub async fn page(State(state): State<AppState>, session: Session, RawQuery(query): RawQuery) -> UiResult {
    let pairs = query_pairs(query.as_deref());
    let appid = query_param(&pairs, "appid").map(str::to_string);
    let status = query_param(&pairs, "status").and_then(PushStatus::parse);
    let after_id = query_param(&pairs, "after_id")
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(0);
    let filter = PushFilter {
        appid: appid.clone(),
        status,
        after_id,
        limit: PAGE + 1,
    };
    let mut pushes = state.store.pushes(&filter).await?;
    let more = pushes.len() > PAGE as usize;
    pushes.truncate(PAGE as usize);
    let now_ms = state.clock.now_ms();
    let filters = format!(
        "appid={}&status={}",
        enc(appid.as_deref().unwrap_or_default()),
        status.map_or("", |s| s.as_str())
    );
    let next = match (more, pushes.last()) {
        (true, Some(last)) => Some(format!("/ui/pushes?{filters}&after_id={}", last.id)),
        _ => None,
    };
    let notice = query_param(&pairs, "redelivered").map(|id| format!("Push {id} was sent again."));
    let chrome = Chrome {
        session: &session,
        emulator: state.emulator.is_some(),
    };
    let body = html! {
        (layout::notice(notice.as_deref()))
        form.filters method="get" action="/ui/pushes" {
            div.field {
                label for="appid" { "appid" }
                input #appid type="text" name="appid" value=(appid.as_deref().unwrap_or_default());
            }
            div.field {
                label for="status" { "status" }
                select #status name="status" {
                    option value="" selected[status.is_none()] { "any" }
                    @for s in [PushStatus::Pending, PushStatus::Delivered, PushStatus::Failed] {
                        option value=(s.as_str()) selected[status == Some(s)] { (s.as_str()) }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        @if pushes.is_empty() {
            p { "No push." }
        } @else {
            table #pushes {
                caption.visually-hidden { "Pushes, oldest first" }
                thead { tr {
                    th scope="col" { "id" }
                    th scope="col" { "appid" }
                    th scope="col" { "env" }
                    th scope="col" { "event" }
                    th scope="col" { "order" }
                    th scope="col" { "status" }
                    th scope="col" { "attempts" }
                    th scope="col" { "delivering" }
                    th scope="col" { "next attempt" }
                    th scope="col" { "last reply" }
                    th scope="col" { "created" }
                    th scope="col" { "action" }
                } }
                tbody {
                    @for p in &pushes {
                        tr data-push=(p.id) {
                            th scope="row" { (p.id) }
                            td { (p.appid) }
                            td { (p.env.as_str()) }
                            td { code { (event_name(p)) } }
                            td { (p.number) }
                            td.status { (p.status.as_str()) }
                            td.num.attempts { (p.attempts) }
                            td { (if p.lease_until_ms > now_ms { "yes" } else { "no" }) }
                            td { @if p.status == PushStatus::Pending { (time_el(p.next_attempt_ms)) } @else { "—" } }
                            td.reply { code { (p.last_reply) } }
                            td { (time_el(p.created_ms)) }
                            td {
                                form method="post" action=(format!("/ui/pushes/{}/redeliver", p.id)) {
                                    (layout::csrf(&session))
                                    input type="hidden" name="appid" value=(appid.as_deref().unwrap_or_default());
                                    input type="hidden" name="status" value=(status.map_or("", |s| s.as_str()));
                                    button type="submit" aria-label=(format!("Redeliver push {}", p.id)) { "Redeliver" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p { a rel="next" href=(next) { "Next " (PAGE) " pushes" } }
        }
    };
    Ok(layout::page(&chrome, "Pushes", Nav::Pushes, body))
}

/// `POST /ui/pushes/{id}/redeliver`: sends it now, then back to the list.
pub async fn redeliver(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> UiResult {
    let form = Form::parse(&body);
    if !session.csrf_ok(form.get("csrf")) {
        return Err(UiError::new(StatusCode::FORBIDDEN, "missing or wrong CSRF token"));
    }
    let push = redeliver_one(&state, &id).await?;
    Ok(Redirect::to(&format!(
        "/ui/pushes?appid={}&status={}&redelivered={}",
        enc(form.get("appid").unwrap_or_default()),
        enc(form.get("status").unwrap_or_default()),
        push.id
    ))
    .into_response())
}
