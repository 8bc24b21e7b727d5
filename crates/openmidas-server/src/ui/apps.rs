//! Apps: the list, search, and the create/edit form, which posts through
//! `POST /admin/apps`'s own logic ([`crate::admin::apps::save`]). Secrets are masked; an
//! empty secret field on edit keeps the current value.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use openmidas_ledger::App;
use serde_json::{Map, Value};

use super::auth::Session;
use super::layout::{self, enc, mask, Chrome, Form, Nav};
use super::{emulator, UiError, UiResult};
use crate::pipeline::{query_pairs, query_param};
use crate::AppState;

/// `GET /ui`: the apps.
pub async fn home(state: State<AppState>, session: Session, query: RawQuery) -> UiResult {
    list(state, session, query).await
}

/// `GET /ui/apps`.
pub async fn list(state: State<AppState>, session: Session, RawQuery(query): RawQuery) -> UiResult {
    let pairs = query_pairs(query.as_deref());
    let apps = state.store.apps().await?;
    let chrome = Chrome {
        session: &session,
        emulator: emulator(&state),
    };
    let body = html! {
        (layout::notice(query_param(&pairs, "saved").map(|_| "The app was saved.")))
        p { a.button href="/ui/apps/new" { "New app" } }
        (apps_table(&apps, chrome.emulator))
    };
    Ok(layout::page(&chrome, "Apps", Nav::Apps, body))
}

fn apps_table(apps: &[App], emulator: bool) -> Markup {
    html! {
        @if apps.is_empty() {
            p { "No app yet." }
        } @else {
            table {
                caption.visually-hidden { "Apps" }
                thead { tr {
                    th scope="col" { "appid" }
                    th scope="col" { "offer_id" }
                    th scope="col" { "AppSecret" }
                    th scope="col" { "AppKey (official / sandbox)" }
                    th scope="col" { "push" }
                    th scope="col" { "see" }
                } }
                tbody {
                    @for app in apps {
                        tr {
                            th scope="row" { a href=(format!("/ui/apps/{}", enc(&app.appid))) { (app.appid) } }
                            td { (app.offer_id) }
                            td.secret { (mask(&app.secret)) }
                            td.secret { (mask(&app.app_key)) " / " (mask(&app.sandbox_app_key)) }
                            td { @if let Some(push) = &app.push { (push.url) } @else { "—" } }
                            td.links {
                                a href=(format!("/ui/apps/{}/players", enc(&app.appid))) { "players" }
                                " · "
                                a href=(format!("/ui/apps/{}/purchases", enc(&app.appid))) { "purchases" }
                                " · "
                                a href=(format!("/ui/pushes?appid={}", enc(&app.appid))) { "pushes" }
                                @if emulator {
                                    " · "
                                    a href=(format!("/ui/requests?appid={}", enc(&app.appid))) { "requests" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /ui/search?q=`: apps whose appid contains the text, and the players of every app
/// whose openid starts with it.
pub async fn search(State(state): State<AppState>, session: Session, RawQuery(query): RawQuery) -> UiResult {
    let pairs = query_pairs(query.as_deref());
    let q = query_param(&pairs, "q").unwrap_or_default().trim().to_string();
    let apps = state.store.apps().await?;
    if let Some(app) = apps.iter().find(|a| a.appid == q) {
        return Ok(Redirect::to(&format!("/ui/apps/{}", enc(&app.appid))).into_response());
    }
    let matching: Vec<App> = apps.iter().filter(|a| a.appid.contains(&q)).cloned().collect();
    let chrome = Chrome {
        session: &session,
        emulator: state.emulator.is_some(),
    };
    let body = html! {
        h2 { "Apps whose appid contains “" (q) "”" }
        (apps_table(&matching, chrome.emulator))
        @if !q.is_empty() {
            h2 { "Players whose openid starts with “" (q) "”" }
            ul {
                @for app in &apps {
                    @for env in ["official", "sandbox"] {
                        li { a href=(format!("/ui/apps/{}/players?env={env}&q={}", enc(&app.appid), enc(&q))) {
                            "in " (app.appid) " (" (env) ")"
                        } }
                    }
                }
            }
        }
    };
    Ok(layout::page(&chrome, "Search", Nav::Apps, body))
}

/// `GET /ui/apps/new`.
pub async fn new(State(state): State<AppState>, session: Session) -> UiResult {
    let chrome = Chrome {
        session: &session,
        emulator: state.emulator.is_some(),
    };
    Ok(form_page(&chrome, StatusCode::OK, None, &Form::parse(b""), None, None))
}

/// `GET /ui/apps/{appid}`.
pub async fn edit(
    State(state): State<AppState>,
    session: Session,
    Path(appid): Path<String>,
    RawQuery(query): RawQuery,
) -> UiResult {
    let saved = query_param(&query_pairs(query.as_deref()), "saved").is_some();
    let app = state
        .store
        .app(&appid)
        .await?
        .ok_or_else(|| UiError::not_found(format!("There is no app {appid}.")))?;
    let chrome = Chrome {
        session: &session,
        emulator: state.emulator.is_some(),
    };
    let notice = saved.then_some("The app was saved.");
    Ok(form_page(
        &chrome,
        StatusCode::OK,
        Some(&app),
        &Form::parse(b""),
        None,
        notice,
    ))
}

/// A text field: its label, name, the current value, and a hint.
fn field(label: &str, name: &str, value: &str, hint: &str) -> Markup {
    html! {
        div.field {
            label for=(name) { (label) }
            input id=(name) name=(name) type="text" value=(value) aria-describedby=(format!("{name}-hint"));
            small id=(format!("{name}-hint")) { (hint) }
        }
    }
}

/// A secret field: never filled; its hint shows the masked current value.
fn secret_field(label: &str, name: &str, current: Option<&str>) -> Markup {
    let hint = match current {
        Some(current) => format!("Now {}. Leave empty to keep it.", mask(current)),
        None => "Required.".to_string(),
    };
    html! {
        div.field {
            label for=(name) { (label) }
            input id=(name) name=(name) type="password" autocomplete="off" value="" aria-describedby=(format!("{name}-hint"));
            small id=(format!("{name}-hint")) { (hint) }
        }
    }
}

fn select(label: &str, name: &str, options: &[&str], current: &str) -> Markup {
    html! {
        div.field {
            label for=(name) { (label) }
            select id=(name) name=(name) {
                @for option in options {
                    option value=(option) selected[*option == current] { (option) }
                }
            }
        }
    }
}

/// The form, filled with the app (or, after a failed save, with what was sent).
fn form_page(
    chrome: &Chrome<'_>,
    status: StatusCode,
    app: Option<&App>,
    sent: &Form,
    problem: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let value = |name: &str, current: String| -> String { sent.get(name).map(str::to_string).unwrap_or(current) };
    let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    let push = app.and_then(|a| a.push.as_ref());
    let title = match app {
        Some(app) => format!("App {}", app.appid),
        None => "New app".to_string(),
    };
    let body = html! {
        (layout::notice(notice))
        (layout::problem(problem))
        @if let Some(app) = app {
            p.links {
                a href=(format!("/ui/apps/{}/players", enc(&app.appid))) { "Players" }
                " · "
                a href=(format!("/ui/apps/{}/purchases", enc(&app.appid))) { "Purchases" }
                " · "
                a href=(format!("/ui/pushes?appid={}", enc(&app.appid))) { "Pushes" }
                @if chrome.emulator {
                    " · "
                    a href=(format!("/ui/requests?appid={}", enc(&app.appid))) { "Request log" }
                }
            }
        }
        form.app method="post" action="/ui/apps" {
            (layout::csrf(chrome.session))
            fieldset {
                legend { "Credentials" }
                @if let Some(app) = app {
                    input type="hidden" name="appid" value=(app.appid);
                    p { "appid: " strong { (app.appid) } }
                } @else {
                    (field("appid", "appid", &value("appid", String::new()), "1 to 128 bytes."))
                }
                (field("offer_id", "offer_id", &value("offer_id", app.map(|a| a.offer_id.clone()).unwrap_or_default()), "1 to 128 bytes."))
                (secret_field("AppSecret", "secret", app.map(|a| a.secret.as_str())))
                (secret_field("AppKey (official)", "app_key", app.map(|a| a.app_key.as_str())))
                (secret_field("AppKey (sandbox)", "sandbox_app_key", app.map(|a| a.sandbox_app_key.as_str())))
            }
            fieldset {
                legend { "Options" }
                div.field.check {
                    input #require_mp_sig type="checkbox" name="require_mp_sig" value="true" checked[app.is_some_and(|a| a.require_mp_sig)];
                    label for="require_mp_sig" { "require_mp_sig (v1 needs mp_sig)" }
                }
                (field("ts_window_secs", "ts_window_secs", &value("ts_window_secs", opt(app.and_then(|a| a.ts_window_secs))), "Seconds; empty: no window."))
                (select("duplicate_bill_no", "duplicate_bill_no", &["reject", "replay"], app.map_or("reject", |a| a.duplicate_bill_no.as_str())))
                (field("cancel_window_secs", "cancel_window_secs", &value("cancel_window_secs", app.map(|a| a.cancel_window_secs.to_string()).unwrap_or_default()), "Seconds; empty: 172800 (48 h)."))
                (select("signature_hex", "signature_hex", &["lower", "any"], app.map_or("lower", |a| a.signature_hex.as_str())))
                (select("bill_no_charset", "bill_no_charset", &["v2", "v1"], app.map_or("v2", |a| a.bill_no_charset.as_str())))
                (field("coin_price_fen", "coin_price_fen", &value("coin_price_fen", app.map(|a| a.coin_price_fen.to_string()).unwrap_or_default()), "Fen per coin; empty: 10."))
                (field("session_ttl_secs", "session_ttl_secs", &value("session_ttl_secs", opt(app.and_then(|a| a.session_ttl_secs))), "Seconds; empty: sessions never expire."))
                (field("refund_delay_secs", "refund_delay_secs", &value("refund_delay_secs", app.map(|a| a.refund_delay_secs.to_string()).unwrap_or_default()), "Seconds an xpay refund stays in progress; empty: 0."))
            }
            fieldset {
                legend { "Pushes" }
                (field("Push URL", "push_url", &value("push_url", push.map(|p| p.url.clone()).unwrap_or_default()), "Empty: no pushes. A new URL must pass WeChat's URL check (echostr)."))
                (secret_field("Push token", "push_token", push.map(|p| p.token.as_str())))
                (secret_field("EncodingAESKey (safe mode)", "push_encoding_aes_key", push.and_then(|p| p.encoding_aes_key.as_deref())))
                (select("Push mode", "push_mode", &["plain", "safe"], push.map_or("plain", |p| p.mode.as_str())))
                (select("Push format", "push_format", &["json", "xml"], push.map_or("json", |p| p.format.as_str())))
                (select("Push ack", "push_ack", &["strict", "lenient"], push.map_or("strict", |p| p.ack.as_str())))
            }
            button type="submit" { "Save" }
        }
    };
    layout::page_with_status(chrome, status, &title, Nav::Apps, body)
}

/// A number field as JSON: a number, or the text itself (so the admin logic names the
/// problem).
fn number(text: &str) -> Value {
    text.parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(text.to_string()))
}

/// `POST /ui/apps`: the form, as the JSON body `POST /admin/apps` takes.
pub async fn save(State(state): State<AppState>, session: Session, body: Bytes) -> UiResult {
    let form = Form::parse(&body);
    if !session.csrf_ok(form.get("csrf")) {
        return Err(UiError::new(StatusCode::FORBIDDEN, "missing or wrong CSRF token"));
    }
    let appid = form.get("appid").unwrap_or_default().to_string();
    let existing = match appid.is_empty() {
        true => None,
        false => state.store.app(&appid).await?,
    };
    let mut map = Map::new();
    for name in ["appid", "offer_id", "secret", "app_key", "sandbox_app_key"] {
        if let Some(v) = form.get(name) {
            map.insert(name.into(), Value::String(v.to_string()));
        }
    }
    map.insert(
        "require_mp_sig".into(),
        Value::Bool(form.get("require_mp_sig").is_some()),
    );
    for name in ["ts_window_secs", "session_ttl_secs"] {
        map.insert(name.into(), form.get(name).map_or(Value::Null, number));
    }
    for name in ["cancel_window_secs", "coin_price_fen", "refund_delay_secs"] {
        if let Some(v) = form.get(name) {
            map.insert(name.into(), number(v));
        }
    }
    for name in ["duplicate_bill_no", "signature_hex", "bill_no_charset"] {
        if let Some(v) = form.get(name) {
            map.insert(name.into(), Value::String(v.to_string()));
        }
    }
    let old_push = existing.as_ref().and_then(|a| a.push.clone());
    let push = match form.get("push_url") {
        None => Value::Null,
        Some(url) => {
            let mut push = Map::new();
            push.insert("url".into(), url.into());
            // Empty secrets keep the current ones.
            let token = form
                .get("push_token")
                .map(str::to_string)
                .or_else(|| old_push.as_ref().map(|p| p.token.clone()));
            if let Some(token) = token {
                push.insert("token".into(), token.into());
            }
            let mode = form.get("push_mode").unwrap_or("plain");
            if mode == "safe" {
                let key = form
                    .get("push_encoding_aes_key")
                    .map(str::to_string)
                    .or_else(|| old_push.as_ref().and_then(|p| p.encoding_aes_key.clone()));
                if let Some(key) = key {
                    push.insert("encoding_aes_key".into(), key.into());
                }
            }
            push.insert("mode".into(), mode.into());
            for name in ["format", "ack"] {
                if let Some(v) = form.get(&format!("push_{name}")) {
                    push.insert(name.into(), v.into());
                }
            }
            Value::Object(push)
        }
    };
    map.insert("push".into(), push);
    match crate::admin::apps::save(&state, &map).await {
        Ok(_) => Ok(Redirect::to(&format!("/ui/apps/{}?saved=1", enc(&appid))).into_response()),
        Err(e) => {
            let chrome = Chrome {
                session: &session,
                emulator: state.emulator.is_some(),
            };
            Ok(form_page(
                &chrome,
                StatusCode::UNPROCESSABLE_ENTITY,
                existing.as_deref(),
                &form,
                Some(&format!("Not saved: {} (errcode {})", e.errmsg, e.code)),
                None,
            ))
        }
    }
}
