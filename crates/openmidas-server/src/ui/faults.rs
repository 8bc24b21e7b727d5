//! Fault rules (emulator mode): the list, a form that adds one (through the rule parser of
//! `POST /admin/faults`), a remove button per rule.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::html;
use serde_json::{Map, Value};

use super::auth::Session;
use super::layout::{self, Chrome, Form, Nav};
use super::{UiError, UiResult};
use crate::controls::faults::{parse_rule, When, MAX_RULES};
use crate::controls::Emulator;
use crate::pipeline::{query_pairs, query_param};
use crate::AppState;

fn the_emulator(state: &AppState) -> Result<&Emulator, UiError> {
    state
        .emulator
        .as_deref()
        .ok_or_else(|| UiError::not_found("no emulator controls in ledger mode"))
}

/// `GET /ui/faults`.
pub async fn page(State(state): State<AppState>, session: Session, RawQuery(query): RawQuery) -> UiResult {
    let pairs = query_pairs(query.as_deref());
    let notice = match (query_param(&pairs, "added"), query_param(&pairs, "removed")) {
        (Some(id), _) => Some(format!("Fault rule {id} added.")),
        (_, Some(id)) => Some(format!("Fault rule {id} removed.")),
        _ => None,
    };
    render(
        &state,
        &session,
        StatusCode::OK,
        notice.as_deref(),
        None,
        &Form::parse(b""),
    )
}

fn render(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    notice: Option<&str>,
    problem: Option<&str>,
    sent: &Form,
) -> UiResult {
    let emulator = the_emulator(state)?;
    let rules = emulator.faults.list(0, MAX_RULES);
    let value = |name: &str| sent.get(name).unwrap_or_default().to_string();
    let chrome = Chrome {
        session,
        emulator: true,
    };
    let text = |label: &str, name: &str, hint: &str| {
        html! {
            div.field {
                label for=(name) { (label) }
                input id=(name) name=(name) type="text" value=(value(name)) aria-describedby=(format!("{name}-hint"));
                small id=(format!("{name}-hint")) { (hint) }
            }
        }
    };
    let body = html! {
        (layout::notice(notice))
        (layout::problem(problem))
        @if rules.is_empty() {
            p { "No fault rule." }
        } @else {
            table #faults {
                caption.visually-hidden { "Fault rules" }
                thead { tr {
                    th scope="col" { "id" }
                    th scope="col" { "match" }
                    th scope="col" { "answer" }
                    th scope="col" { "when" }
                    th scope="col" { "delay" }
                    th scope="col" { "times" }
                    th scope="col" { "probability" }
                    th scope="col" { "fired" }
                    th scope="col" { "action" }
                } }
                tbody {
                    @for r in &rules {
                        tr data-rule=(r.id) {
                            th scope="row" { (r.id) }
                            td { code { (serde_json::to_string(&r.matches).unwrap_or_default()) } }
                            td {
                                @if r.drop_connection { "drop the connection" }
                                @else if let Some(code) = r.errcode { "errcode " (code) @if let Some(m) = &r.errmsg { " “" (m) "”" } }
                                @else { "answer normally" }
                            }
                            td { (match r.when { When::Before => "before", When::After => "after" }) }
                            td.num { (r.delay_ms) " ms" }
                            td.num { (r.times.map(|t| t.to_string()).unwrap_or_else(|| "unlimited".into())) }
                            td.num { (r.probability) " (seed " (r.seed) ")" }
                            td.num.fired { (r.fired) }
                            td {
                                form method="post" action=(format!("/ui/faults/{}/delete", r.id)) {
                                    (layout::csrf(session))
                                    button type="submit" aria-label=(format!("Remove fault rule {}", r.id)) { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Add a rule" }
        form.fault method="post" action="/ui/faults" {
            (layout::csrf(session))
            fieldset {
                legend { "Which requests (empty: any)" }
                div.field {
                    label for="dialect" { "dialect" }
                    select #dialect name="dialect" {
                        @for d in ["", "v1", "v2", "xpay", "auth", "client", "push"] {
                            option value=(d) selected[value("dialect") == d] { (if d.is_empty() { "any" } else { d }) }
                        }
                    }
                }
                (text("path", "path", "Exact path, e.g. /wxa/game/pay."))
                (text("appid", "appid", ""))
                (text("openid", "openid", ""))
            }
            fieldset {
                legend { "What happens" }
                (text("errcode", "errcode", "A nonzero errcode to answer."))
                (text("errmsg", "errmsg", "Empty: the dialect's errmsg of that code."))
                div.field {
                    label for="when" { "when" }
                    select #when name="when" {
                        option value="before" selected[value("when") != "after"] { "before (nothing changes)" }
                        option value="after" selected[value("when") == "after"] { "after (the change is applied)" }
                    }
                }
                (text("delay_ms", "delay_ms", "0 to 60000."))
                div.field.check {
                    input #drop_connection type="checkbox" name="drop_connection" value="true" checked[sent.get("drop_connection").is_some()];
                    label for="drop_connection" { "drop the connection (excludes errcode)" }
                }
                (text("times", "times", "Empty: unlimited."))
                (text("probability", "probability", "0 to 1; empty: 1."))
                (text("seed", "seed", "Empty: 0."))
            }
            button type="submit" { "Add rule" }
        }
    };
    Ok(layout::page_with_status(&chrome, status, "Faults", Nav::Faults, body))
}

/// A number field as JSON: the number, or the text (the parser names the problem).
fn number(text: &str) -> Value {
    if let Ok(n) = text.parse::<i64>() {
        return Value::from(n);
    }
    if let Ok(n) = text.parse::<u64>() {
        return Value::from(n);
    }
    match text.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
        Some(n) => Value::Number(n),
        None => Value::String(text.to_string()),
    }
}

/// `POST /ui/faults`: the form as `POST /admin/faults`'s body.
pub async fn add(State(state): State<AppState>, session: Session, body: Bytes) -> UiResult {
    let form = Form::parse(&body);
    if !session.csrf_ok(form.get("csrf")) {
        return Err(UiError::new(StatusCode::FORBIDDEN, "missing or wrong CSRF token"));
    }
    let emulator = the_emulator(&state)?;
    let mut matches = Map::new();
    for name in ["dialect", "path", "appid", "openid"] {
        if let Some(v) = form.get(name) {
            matches.insert(name.into(), v.into());
        }
    }
    let mut map = Map::new();
    if !matches.is_empty() {
        map.insert("match".into(), Value::Object(matches));
    }
    for name in ["errcode", "delay_ms", "times", "probability", "seed"] {
        if let Some(v) = form.get(name) {
            map.insert(name.into(), number(v));
        }
    }
    for name in ["errmsg", "when"] {
        if let Some(v) = form.get(name) {
            map.insert(name.into(), v.into());
        }
    }
    if form.get("drop_connection").is_some() {
        map.insert("drop_connection".into(), Value::Bool(true));
    }
    let added = parse_rule(&map).and_then(|rule| emulator.faults.add(rule));
    match added {
        Ok(id) => {
            tracing::info!(id, "fault rule added from the dashboard");
            Ok(Redirect::to(&format!("/ui/faults?added={id}")).into_response())
        }
        Err(e) => render(
            &state,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(&format!("Not added: {} (errcode {})", e.errmsg, e.code)),
            &form,
        ),
    }
}

/// `POST /ui/faults/{id}/delete`.
pub async fn remove(State(state): State<AppState>, session: Session, Path(id): Path<String>, body: Bytes) -> UiResult {
    let form = Form::parse(&body);
    if !session.csrf_ok(form.get("csrf")) {
        return Err(UiError::new(StatusCode::FORBIDDEN, "missing or wrong CSRF token"));
    }
    let emulator = the_emulator(&state)?;
    match id.parse::<u64>() {
        Ok(n) if emulator.faults.remove(n) => Ok(Redirect::to(&format!("/ui/faults?removed={n}")).into_response()),
        _ => Err(UiError::not_found(format!("There is no fault rule {id}."))),
    }
}
