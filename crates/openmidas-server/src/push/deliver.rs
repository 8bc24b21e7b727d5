//! One delivery of one event (behaviour.md section 12): render, sign (and in safe mode
//! encrypt), POST with a 3 s timeout, judge the reply, record the attempt. An
//! acknowledged item delivery marks the purchase delivered first, so a crash in between
//! only sends the event again (deliveries are at least once; marking is idempotent).

use openmidas_ledger::push::{Push, PushAttempt, PushSettings};
use openmidas_ledger::{AccountKey, App, Command, Op, StoreError, StoreExt};
use openmidas_protocol::push::{ack, Ack};
use openmidas_protocol::push::{encrypt, push_query, safe_body, AesKey};
use openmidas_protocol::push::{render, Envelope};
use openmidas_protocol::push::{AckPolicy, PushFormat};
use rand::Rng;

use super::content::{self, ContentError};
use super::{to_user_name, FROM_USER_NAME, MAX_REPLY_BYTES};
use crate::controls::dialect::Dialect;
use crate::controls::faults::{Firing, Subject, When};
use crate::metrics::{self, PushOutcome};
use crate::AppState;

/// What one delivery sends, ready to POST.
struct Message {
    url: String,
    query: Vec<(&'static str, String)>,
    content_type: &'static str,
    body: String,
    key: Option<AesKey>,
}

/// Sends `push` now and records the attempt (`scheduled`: made by the schedule, not a
/// manual redelivery). Answers the event after it; a store failure leaves the event as it
/// was (its lease runs out and it is sent again).
pub async fn deliver(
    state: &AppState,
    http: &reqwest::Client,
    push: &Push,
    scheduled: bool,
) -> Result<Option<Push>, StoreError> {
    let tried = attempt(state, http, push, scheduled).await;
    metrics::push_delivery(
        super::content::event_name(push),
        match &tried {
            Ok(Ok(_)) => PushOutcome::Acknowledged,
            Ok(Err((outcome, _))) => *outcome,
            Err(_) => PushOutcome::Failed,
        },
    );
    let (acked, reply) = match tried? {
        Ok(reply) => (true, reply),
        Err((_, reason)) => (false, reason),
    };
    tracing::debug!(push = push.id, appid = %push.appid, kind = %push.kind, acked, reply = %reply, "push delivery");
    state
        .store
        .record_push_attempt(PushAttempt {
            id: push.id,
            at_ms: state.clock.now_ms(),
            acked,
            reply,
            scheduled,
            lease_until_ms: push.lease_until_ms,
        })
        .await
}

/// `Ok(reply)` when acknowledged, `Err((how it ended, why not))` otherwise.
async fn attempt(
    state: &AppState,
    http: &reqwest::Client,
    push: &Push,
    scheduled: bool,
) -> Result<Result<String, (PushOutcome, String)>, StoreError> {
    use PushOutcome::{Failed, Fault, Refused};
    let Some(app) = state.store.app(&push.appid).await? else {
        return Ok(Err((Failed, "the app no longer exists".into())));
    };
    let Some(settings) = app.push.clone() else {
        return Ok(Err((Failed, "the app has no push URL".into())));
    };
    let rendered = match content::render(state.store.as_ref(), &app, push).await {
        Ok(rendered) => rendered,
        Err(ContentError::Store(e)) => return Err(e),
        Err(e) => return Ok(Err((Failed, e.to_string()))),
    };
    let message = match message(state, &app, &settings, push, scheduled, &rendered.content) {
        Ok(message) => message,
        Err(why) => return Ok(Err((Failed, why))),
    };
    // Emulator fault rules naming dialect "push" fail or delay deliveries (section 13.2).
    let fault = fault(state, push, &message.url, &rendered.openid);
    if let Some(firing) = &fault {
        if firing.delay_ms > 0 {
            let delay = std::time::Duration::from_millis(firing.delay_ms);
            tokio::time::sleep(delay.min(super::TIMEOUT)).await;
            if delay >= super::TIMEOUT {
                return Ok(Err((
                    Fault,
                    format!(
                        "no answer within {} s (fault rule {})",
                        super::TIMEOUT.as_secs(),
                        firing.rule
                    ),
                )));
            }
        }
        if firing.answers() && firing.when == When::Before {
            return Ok(Err((Fault, format!("not sent: fault rule {}", firing.rule))));
        }
    }
    let reply = match send(http, &message).await {
        Ok(reply) => reply,
        Err(why) => return Ok(Err((Failed, why))),
    };
    if let Some(firing) = fault.filter(|f| f.answers() && f.when == When::After) {
        // Sent and answered, but taken as failed: the receiver sees the event again.
        return Ok(Err((Fault, format!("sent, then failed by fault rule {}", firing.rule))));
    }
    let policy = match settings.ack {
        openmidas_ledger::push::PushAck::Strict => AckPolicy::Strict,
        openmidas_ledger::push::PushAck::Lenient => AckPolicy::Lenient,
    };
    match ack(reply.0, &reply.1, policy, message.key.as_ref(), &app.appid) {
        Ack::Accepted => {
            if push.delivers_on_ack() {
                mark_delivered(state, &app, push, &rendered.openid, &rendered.zone_id).await?;
            }
            Ok(Ok(quote(&reply.1)))
        }
        Ack::Refused(why) => Ok(Err((Refused, why))),
    }
}

/// The fault rule that fires on this delivery, if any.
fn fault(state: &AppState, push: &Push, url: &str, openid: &str) -> Option<Firing> {
    let emulator = state.emulator.as_ref()?;
    if emulator.faults.is_empty() {
        return None;
    }
    let path = reqwest::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_default();
    emulator.faults.draw(&Subject {
        dialect: Dialect::Push,
        path: &path,
        appid: Some(&push.appid),
        openid: Some(openid),
    })
}

/// The request of one delivery: a fresh timestamp (the server's clock) and nonce, the same
/// content every time.
fn message(
    state: &AppState,
    app: &App,
    settings: &PushSettings,
    push: &Push,
    scheduled: bool,
    content: &openmidas_protocol::push::EventContent,
) -> Result<Message, String> {
    let format = match settings.format {
        openmidas_ledger::push::PushFormat::Json => PushFormat::Json,
        openmidas_ledger::push::PushFormat::Xml => PushFormat::Xml,
    };
    // Mini-game events are JSON whatever the setting.
    let format = if content.kind().is_mini_game() {
        PushFormat::Json
    } else {
        format
    };
    let envelope = Envelope {
        to_user_name: to_user_name(&app.appid),
        from_user_name: FROM_USER_NAME.to_string(),
        create_time: push.created_ms.div_euclid(1000),
        retry_times: push.retry_times(scheduled),
    };
    let plain = render(content, &envelope, format, app.key_for(push.env));
    let timestamp = state.clock.now_ms().div_euclid(1000).to_string();
    let nonce = rand::rng().random_range(100_000_000u32..1_000_000_000).to_string();
    let content_type = match format {
        PushFormat::Json => "application/json",
        PushFormat::Xml => "text/xml",
    };
    let (query, body, key) = match &settings.encoding_aes_key {
        Some(encoding_aes_key) => {
            let key = AesKey::from_encoding_aes_key(encoding_aes_key).map_err(|e| format!("encoding_aes_key: {e}"))?;
            let random16: [u8; 16] = rand::rng().random();
            let encrypted = encrypt(&key, random16, plain.as_bytes(), &app.appid);
            let body = safe_body(format, &envelope.to_user_name, &encrypted);
            let query = push_query(&settings.token, &timestamp, &nonce, Some((FROM_USER_NAME, &encrypted)));
            (query, body, Some(key))
        }
        None => (push_query(&settings.token, &timestamp, &nonce, None), plain, None),
    };
    Ok(Message {
        url: settings.url.clone(),
        query,
        content_type,
        body,
        key,
    })
}

/// POSTs the message; answers the status and up to [`MAX_REPLY_BYTES`] of the body, or why
/// no answer came.
async fn send(http: &reqwest::Client, message: &Message) -> Result<(u16, Vec<u8>), String> {
    let response = http
        .post(&message.url)
        .query(&message.query)
        .header(reqwest::header::CONTENT_TYPE, message.content_type)
        .body(message.body.clone())
        .send()
        .await
        .map_err(|e| transport_error(&e))?;
    let status = response.status().as_u16();
    let mut response = response;
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_REPLY_BYTES {
                    body.truncate(MAX_REPLY_BYTES + 1);
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return Err(transport_error(&e)),
        }
    }
    Ok((status, body))
}

fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("no answer within {} s", super::TIMEOUT.as_secs())
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "the connection failed".to_string()
    }
}

/// The reply as kept with the event: its text, cut short.
fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "(empty)".to_string()
    } else {
        text.chars().take(200).collect()
    }
}

/// An acknowledged item delivery: the purchase is delivered (2.0 `deliver_state` 2, xpay
/// status 4). Already delivered, or refunded meanwhile: nothing changes.
async fn mark_delivered(
    state: &AppState,
    app: &App,
    push: &Push,
    openid: &str,
    zone_id: &str,
) -> Result<(), StoreError> {
    let account = AccountKey {
        env: push.env,
        appid: app.appid.clone(),
        offer_id: app.offer_id.clone(),
        zone_id: zone_id.to_string(),
        openid: openid.to_string(),
    };
    let op = Op::DeliverPurchase {
        number: push.number.clone(),
    };
    state
        .store
        .execute(Command::new(account, state.clock.now_ms(), op))
        .await
        .map(drop)
}
