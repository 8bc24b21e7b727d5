//! The emulator's clock (behaviour.md section 13.1): where it stands, and forms that advance
//! it, freeze or resume it, or reset it (through `POST /admin/clock`'s logic).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::html;
use openmidas_ledger::clock::MAX_ADVANCE_SECS;
use openmidas_ledger::ClockChange;

use super::auth::Session;
use super::layout::{self, time_el, Chrome, Form, Nav};
use super::{UiError, UiResult};
use crate::controls::clock::apply;
use crate::pipeline::{query_pairs, query_param};
use crate::AppState;

/// `GET /ui/clock`.
pub async fn page(State(state): State<AppState>, session: Session, RawQuery(query): RawQuery) -> UiResult {
    let pairs = query_pairs(query.as_deref());
    let notice = query_param(&pairs, "changed").map(|_| "The clock moved.");
    let problem = query_param(&pairs, "problem");
    let emulator = state
        .emulator
        .as_ref()
        .ok_or_else(|| UiError::not_found("no clock control in ledger mode"))?;
    let clock = emulator.clock.state();
    let real_ms = emulator.clock.base_ms();
    let now_ms = clock.now_ms(real_ms);
    let frozen = clock.frozen_at_ms.is_some();
    let chrome = Chrome {
        session: &session,
        emulator: true,
    };
    let body = html! {
        (layout::notice(notice))
        (layout::problem(problem))
        dl.key #clock {
            dt { "server time" } dd #now { (time_el(now_ms)) " (" (now_ms) " ms)" }
            dt { "offset from the machine's clock" } dd #offset { (clock.offset_from(real_ms)) " ms" }
            dt { "state" } dd #frozen { (if frozen { "frozen" } else { "running" }) }
        }
        form.clock method="post" action="/ui/clock" {
            (layout::csrf(&session))
            input type="hidden" name="action" value="advance";
            div.field {
                label for="advance_secs" { "Advance by (seconds; negative goes back)" }
                input #advance_secs type="number" name="advance_secs" value="3600" min=(-MAX_ADVANCE_SECS) max=(MAX_ADVANCE_SECS) required;
            }
            button type="submit" { "Advance" }
        }
        form.clock method="post" action="/ui/clock" {
            (layout::csrf(&session))
            @if frozen {
                input type="hidden" name="action" value="resume";
                button type="submit" { "Resume" }
            } @else {
                input type="hidden" name="action" value="freeze";
                button type="submit" { "Freeze" }
            }
        }
        form.clock method="post" action="/ui/clock" {
            (layout::csrf(&session))
            input type="hidden" name="action" value="reset";
            button type="submit" { "Reset to real time" }
        }
    };
    Ok(layout::page(&chrome, "Clock", Nav::Clock, body))
}

/// `POST /ui/clock` `action=advance&advance_secs=N | freeze | resume | reset`.
pub async fn change(State(state): State<AppState>, session: Session, body: Bytes) -> UiResult {
    let form = Form::parse(&body);
    if !session.csrf_ok(form.get("csrf")) {
        return Err(UiError::new(StatusCode::FORBIDDEN, "missing or wrong CSRF token"));
    }
    let emulator = state
        .emulator
        .as_ref()
        .ok_or_else(|| UiError::not_found("no clock control in ledger mode"))?;
    let change = match form.get("action") {
        Some("advance") => match form.get("advance_secs").and_then(|t| t.parse::<i64>().ok()) {
            Some(secs) if (-MAX_ADVANCE_SECS..=MAX_ADVANCE_SECS).contains(&secs) => ClockChange {
                advance_secs: Some(secs),
                ..ClockChange::default()
            },
            _ => {
                return Ok(Redirect::to(&format!(
                    "/ui/clock?problem={}",
                    layout::enc(&format!(
                        "advance_secs must be an integer from -{MAX_ADVANCE_SECS} to {MAX_ADVANCE_SECS}"
                    ))
                ))
                .into_response())
            }
        },
        Some("freeze") => ClockChange {
            freeze: Some(true),
            ..ClockChange::default()
        },
        Some("resume") => ClockChange {
            freeze: Some(false),
            ..ClockChange::default()
        },
        Some("reset") => ClockChange {
            reset: true,
            ..ClockChange::default()
        },
        _ => return Err(UiError::new(StatusCode::BAD_REQUEST, "unknown clock action")),
    };
    apply(&state, emulator, change).await?;
    Ok(Redirect::to("/ui/clock?changed=1").into_response())
}
