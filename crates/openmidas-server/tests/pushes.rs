//! Pushes through the real HTTP surface (behaviour.md section 12): a real receiver in the
//! test plays the game server. URL checks; every event, plaintext and safe mode, JSON and
//! XML, checked independently (SHA-1 signatures and AES decryption computed here, not with
//! OpenMidas's code) and with the SDK's receiver; the ack rules; retries on the server's
//! clock until the last; redelivery; faults on deliveries; a receiver that hangs while the
//! API keeps answering; two PostgreSQL nodes delivering each event once per attempt.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aes::cipher::{BlockDecryptMut, KeyIvInit};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode as AxumStatus;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use openmidas_client::push::PushReceiver;
use openmidas_protocol::sign;
use openmidas_testkit::{TestApp, TestServer};
use parking_lot::Mutex;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

const TOKEN: &str = "PushToken123";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

/// What the receiver answers to a POST.
#[derive(Clone)]
enum Reply {
    Ok(u16, &'static str),
    /// Never answers (the delivery times out).
    Hang,
}

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Received {
    query: BTreeMap<String, String>,
    content_type: String,
    body: String,
}

#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    reply: Arc<Mutex<Reply>>,
    /// Answer the URL check with something else than echostr.
    wrong_echo: Arc<Mutex<bool>>,
    url: String,
}

fn query_map(query: Option<&str>) -> BTreeMap<String, String> {
    form_urlencoded(query.unwrap_or_default())
}

fn form_urlencoded(text: &str) -> BTreeMap<String, String> {
    url_pairs(text).into_iter().collect()
}

fn url_pairs(text: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{text}"))
        .map(|u| u.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default()
}

async fn check(State(r): State<Receiver>, RawQuery(query): RawQuery) -> String {
    let query = query_map(query.as_deref());
    if *r.wrong_echo.lock() {
        return "not the echostr".into();
    }
    query.get("echostr").cloned().unwrap_or_default()
}

async fn deliver(
    State(r): State<Receiver>,
    RawQuery(query): RawQuery,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    r.got.lock().push(Received {
        query: query_map(query.as_deref()),
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let reply = r.reply.lock().clone();
    match reply {
        Reply::Ok(status, body) => (AxumStatus::from_u16(status).unwrap_or(AxumStatus::OK), body).into_response(),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "success".into_response()
        }
    }
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/push", listener.local_addr().unwrap());
        let receiver = Receiver {
            got: Arc::default(),
            reply: Arc::new(Mutex::new(Reply::Ok(200, "success"))),
            wrong_echo: Arc::default(),
            url,
        };
        let app = Router::new()
            .route("/push", get(check).post(deliver))
            .with_state(receiver.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        receiver
    }

    fn answer(&self, reply: Reply) {
        *self.reply.lock() = reply;
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().clone()
    }

    /// Waits (on the machine's clock) until `n` deliveries arrived.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..400 {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} deliveries, got {:?}", self.got());
    }
}

/// An app with push settings, a token and a logged-in player `p`.
struct Game {
    server: TestServer,
    app: TestApp,
    session: String,
    receiver: Receiver,
}

impl Game {
    async fn new(server: TestServer, push: Value) -> Game {
        let receiver = Receiver::start().await;
        let app = server.create_app().await;
        let mut settings = json!({"url": receiver.url, "token": TOKEN});
        if let (Some(target), Some(extra)) = (settings.as_object_mut(), push.as_object()) {
            target.extend(extra.clone());
        }
        let (status, answer) = server
            .admin("/admin/apps", json!({"appid": app.appid, "push": settings}))
            .await;
        assert_eq!((status, &answer["errcode"]), (StatusCode::OK, &json!(0)), "{answer}");
        let session = server.login(&app, "p").await;
        Game {
            server,
            app,
            session,
            receiver,
        }
    }

    /// `wx.requestVirtualPayment` (xpay): goods or coins.
    async fn xpay_buy(&self, mode: &str, out_trade_no: &str, pay: &str) -> Value {
        let data = if mode == "short_series_coin" {
            json!({"offerId": self.app.offer_id, "buyQuantity": 5, "env": 0, "currencyType": "CNY",
                   "outTradeNo": out_trade_no, "attach": "coins"})
        } else {
            json!({"offerId": self.app.offer_id, "buyQuantity": 2, "env": 0, "currencyType": "CNY",
                   "productId": "sword", "goodsPrice": 300, "activitySellingPrice": 250,
                   "outTradeNo": out_trade_no, "attach": "goods"})
        }
        .to_string();
        let signed = sign::v2::sign(
            openmidas_protocol::client::virtual_payment::PAY_SIG_URI,
            &data,
            &self.app.app_key,
            Some(&self.session),
        );
        let (status, answer) = self
            .server
            .admin(
                "/admin/client/virtual_payment",
                json!({"appid": self.app.appid, "openid": "p", "mode": mode, "sign_data": data,
                       "pay_sig": signed.pay_sig, "signature": signed.signature, "pay": pay}),
            )
            .await;
        assert_eq!((status, &answer["errcode"]), (StatusCode::OK, &json!(0)), "{answer}");
        answer
    }

    /// `wx.requestMidasPaymentGameItem` (2.0): an item.
    async fn game_item(&self, out_trade_no: &str) {
        let data = format!(
            r#"{{"mode":"goods","offerId":"{}","buyQuantity":1,"env":0,"currencyType":"CNY","platform":"android","zoneId":"1","productId":"shield","goodsPrice":500,"outTradeNo":"{out_trade_no}","attach":"a"}}"#,
            self.app.offer_id
        );
        let signed = sign::v2::sign(
            openmidas_protocol::client::game_item::PAY_SIG_URI,
            &data,
            &self.app.app_key,
            Some(&self.session),
        );
        let (status, answer) = self
            .server
            .admin(
                "/admin/client/game_item",
                json!({"appid": self.app.appid, "openid": "p", "sign_data": data, "pay_sig": signed.pay_sig,
                       "signature": signed.signature}),
            )
            .await;
        assert_eq!((status, &answer["errcode"]), (StatusCode::OK, &json!(0)), "{answer}");
    }

    /// xpay `refund_order` of a paid purchase.
    async fn refund(&self, order_id: &str, refund_order_id: &str, left_fee: i64, refund_fee: i64) {
        let body = json!({"openid": "p", "env": 0, "order_id": order_id, "refund_order_id": refund_order_id,
                          "left_fee": left_fee, "refund_fee": refund_fee, "refund_reason": "0", "req_from": "1"})
        .to_string();
        let token = self.server.token(&self.app).await;
        let (status, answer) = self
            .server
            .xpay(
                &self.app,
                openmidas_protocol::xpay::Op::RefundOrder,
                &token,
                &body,
                &self.session,
            )
            .await;
        assert_eq!((status, &answer["errcode"]), (StatusCode::OK, &json!(0)), "{answer}");
    }

    async fn pushes(&self) -> Vec<Value> {
        let (status, answer) = self
            .server
            .get_admin(&format!("/admin/pushes?appid={}", self.app.appid))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer["items"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until the first event's `n`th delivery is recorded (its next one is then
    /// scheduled from that delivery's time, so the clock may move).
    async fn wait_attempts(&self, n: usize) {
        for _ in 0..400 {
            if self.pushes().await.first().is_some_and(|p| recorded(p, n)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("expected {n} attempts: {:?}", self.pushes().await);
    }

    /// Waits until every event is `status`.
    async fn wait_all(&self, status: &str, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            let pushes = self.pushes().await;
            if pushes.len() == n && pushes.iter().all(|p| p["status"] == status) {
                return pushes;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} events {status}: {:?}", self.pushes().await);
    }

    fn sdk(&self) -> PushReceiver {
        PushReceiver::new(TOKEN, self.app.appid.as_str())
            .app_keys(self.app.app_key.as_str(), self.app.sandbox_app_key.as_str())
    }
}

/// Whether an event's `n`th delivery is over and recorded (no node holds it).
fn recorded(push: &Value, n: usize) -> bool {
    push["attempts"] == n && push["delivering"] == false
}

fn sha1_hex(parts: &[&str]) -> String {
    let mut sorted: Vec<&str> = parts.to_vec();
    sorted.sort_unstable();
    hex::encode(Sha1::digest(sorted.concat().as_bytes()))
}

/// WeChat's safe-mode decryption, written here from its description, independent of
/// OpenMidas's: AES-256-CBC, key = base64(EncodingAESKey + "="), IV = key[..16], PKCS#7 to
/// 32-byte blocks; plaintext = 16 random bytes, u32 BE length, message, appid.
fn decrypt_independently(encrypt: &str, appid: &str) -> String {
    // The key's last character carries 4 unused bits, which WeChat's SDKs ignore.
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    let key = lenient.decode(format!("{AES_KEY}=")).expect("key");
    let mut data = base64::engine::general_purpose::STANDARD
        .decode(encrypt)
        .expect("base64");
    let decryptor = cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, &key[..16]).expect("key and iv");
    let plain = decryptor
        .decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut data)
        .expect("whole blocks");
    let pad = *plain.last().expect("not empty") as usize;
    assert!((1..=32).contains(&pad), "PKCS#7 to 32-byte blocks: {pad}");
    let plain = &plain[..plain.len() - pad];
    let len = u32::from_be_bytes(plain[16..20].try_into().unwrap()) as usize;
    let message = &plain[20..20 + len];
    assert_eq!(&plain[20 + len..], appid.as_bytes(), "the appid ends the plaintext");
    String::from_utf8(message.to_vec()).expect("utf-8")
}

/// The message with what changes per run (times, ids, signatures) replaced by its shape.
fn redact(message: &Value) -> Value {
    let mut out = message.clone();
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, value) in map.iter_mut() {
                    match k.as_str() {
                        "CreateTime" | "PaidTime" | "RefundStartTimestamp" | "RefundSuccTimestamp" => {
                            *value = json!("[time]")
                        }
                        "MchOrderNo"
                        | "TransactionId"
                        | "WxRefundId"
                        | "WxOrderId"
                        | "WxpayRefundTransactionId"
                        | "PayEventSig"
                        | "ToUserName" => *value = json!("[id]"),
                        // wx.requestMidasPayment's number, made up by the recharge.
                        "OutTradeNo" if value.as_str().is_some_and(|t| t.starts_with('_')) => {
                            *value = json!("[generated]")
                        }
                        "Payload" => {
                            let mut payload: Value = serde_json::from_str(value.as_str().unwrap()).unwrap();
                            walk(&mut payload);
                            *value = payload;
                        }
                        _ => walk(value),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut out);
    out
}

fn out_trade_no(message: &Value) -> String {
    if let Some(payload) = message["MiniGame"]["Payload"].as_str() {
        let payload: Value = serde_json::from_str(payload).unwrap();
        return payload["OutTradeNo"].as_str().unwrap_or_default().to_string();
    }
    message["OutTradeNo"]
        .as_str()
        .or(message["MchRefundId"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Makes one purchase of every kind that pushes, and an xpay refund.
async fn every_event(g: &Game) {
    g.server.recharge(&g.app, "p", "official", 10).await; // 2.0 coins (wx.requestMidasPayment)
    g.game_item("item-0001").await; // 2.0 item
    g.xpay_buy("short_series_coin", "coins-0001", "auto").await; // xpay coins
    g.xpay_buy("short_series_goods", "goods-0001", "auto").await; // xpay goods
    g.refund("goods-0001", "refund-0001", 500, 100).await; // xpay refund
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_in_plaintext_json_is_signed_and_delivered() {
    let g = Game::new(TestServer::start().await, json!({})).await;
    every_event(&g).await;
    let got = g.receiver.wait_for(5).await;
    let sdk = g.sdk();
    let mut messages = BTreeMap::new();
    for r in &got {
        // signature = sha1(sort(token, timestamp, nonce)), computed here.
        let (ts, nonce) = (&r.query["timestamp"], &r.query["nonce"]);
        assert_eq!(r.query["signature"], sha1_hex(&[TOKEN, ts, nonce]));
        assert_eq!(
            r.query.len(),
            3,
            "plaintext: signature, timestamp, nonce only: {:?}",
            r.query
        );
        assert_eq!(r.content_type, "application/json");
        let message: Value = serde_json::from_str(&r.body).unwrap();
        // PayEventSig of mini-game events: HMAC-SHA256(AppKey, event & Payload).
        if let Some(payload) = message["MiniGame"]["Payload"].as_str() {
            let event = message["Event"].as_str().unwrap();
            assert_eq!(
                message["MiniGame"]["PayEventSig"],
                sign::v2::pay_sig(&g.app.app_key, event, payload.as_bytes())
            );
        }
        // The SDK's receiver takes it too.
        let query = serde_urlencoded(&r.query);
        let push = sdk
            .receive(&query, r.body.as_bytes())
            .expect("the SDK verifies and parses it");
        assert_eq!(push.kind.as_str(), message["Event"].as_str().unwrap());
        messages.insert(message["Event"].as_str().unwrap().to_string(), redact(&message));
    }
    assert_eq!(messages.len(), 5, "{messages:?}");
    insta::assert_json_snapshot!("every_event_plaintext_json", messages);
    // Acknowledged: every event delivered once; the goods marked delivered.
    let pushes = g.wait_all("delivered", 5).await;
    assert!(
        pushes
            .iter()
            .all(|p| p["attempts"] == 1 && p["last_reply"] == "success"),
        "{pushes:?}"
    );
    let token = g.server.token(&g.app).await;
    let body = json!({"openid": "p", "env": 0, "order_id": "goods-0001"}).to_string();
    let (_, order) = g
        .server
        .xpay(
            &g.app,
            openmidas_protocol::xpay::Op::QueryOrder,
            &token,
            &body,
            &g.session,
        )
        .await;
    assert_eq!(order["order"]["status"], 4, "delivered on the ack: {order}");
    // The 2.0 item too: deliver_state 2.
    let mut fields = g.app.v2_fields("p");
    fields.insert("out_trade_no".into(), json!("item-0001"));
    fields.insert("biz_id".into(), json!(2));
    let body = Value::Object(fields).to_string();
    let (_, info) = g
        .server
        .v2(
            &g.app,
            openmidas_protocol::v2::Op::QueryOrderInfo,
            &token,
            &body,
            &g.session,
        )
        .await;
    assert_eq!(
        (&info["pay_state"], &info["deliver_state"]),
        (&json!(2), &json!(2)),
        "{info}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_xml_for_xpay_events_json_for_mini_game_events() {
    let g = Game::new(TestServer::start().await, json!({"format": "xml"})).await;
    every_event(&g).await;
    let got = g.receiver.wait_for(5).await;
    let sdk = g.sdk();
    let mut xml = 0;
    for r in &got {
        let push = sdk
            .receive(&serde_urlencoded(&r.query), r.body.as_bytes())
            .expect("the SDK verifies and parses it");
        if push.kind.is_mini_game() {
            assert_eq!(r.content_type, "application/json", "{}", r.body);
            assert!(r.body.starts_with('{'), "{}", r.body);
        } else {
            xml += 1;
            assert_eq!(r.content_type, "text/xml");
            assert!(r.body.starts_with("<xml>"), "{}", r.body);
            assert!(r.body.contains("<MsgType><![CDATA[event]]></MsgType>"), "{}", r.body);
            assert!(r.body.contains("<RetryTimes>0</RetryTimes>"), "{}", r.body);
        }
    }
    assert_eq!(xml, 3);
    g.wait_all("delivered", 5).await;
}

fn serde_urlencoded(query: &BTreeMap<String, String>) -> String {
    let mut url = reqwest::Url::parse("http://x/").unwrap();
    for (k, v) in query {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.query().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safe_mode_in_xml_and_json_decrypts_to_the_plaintext() {
    for format in ["xml", "json"] {
        let g = Game::new(
            TestServer::start().await,
            json!({"mode": "safe", "encoding_aes_key": AES_KEY, "format": format}),
        )
        .await;
        every_event(&g).await;
        let got = g.receiver.wait_for(5).await;
        let sdk = g.sdk().encoding_aes_key(AES_KEY).expect("key");
        let mut events = Vec::new();
        for r in &got {
            let q = &r.query;
            assert_eq!(q["encrypt_type"], "aes");
            assert_eq!(
                q["openid"], "oUrsf0TSXNtiZjP7JL9UUFiGJzmQ",
                "openid is the FromUserName"
            );
            let encrypt = if r.body.starts_with('<') {
                assert_eq!(r.content_type, "text/xml");
                let start = r.body.find("<Encrypt><![CDATA[").expect("Encrypt") + "<Encrypt><![CDATA[".len();
                let end = r.body[start..].find("]]>").unwrap() + start;
                r.body[start..end].to_string()
            } else {
                let outer: Value = serde_json::from_str(&r.body).unwrap();
                assert!(outer["ToUserName"].as_str().unwrap().starts_with("gh_"), "{outer}");
                outer["Encrypt"].as_str().unwrap().to_string()
            };
            assert_eq!(q["signature"], sha1_hex(&[TOKEN, &q["timestamp"], &q["nonce"]]));
            assert_eq!(
                q["msg_signature"],
                sha1_hex(&[TOKEN, &q["timestamp"], &q["nonce"], &encrypt])
            );
            let plain = decrypt_independently(&encrypt, &g.app.appid);
            // Mini-game events are JSON whatever the format; xpay events take the format.
            let event = if plain.starts_with('<') {
                assert_eq!(format, "xml");
                let start = plain.find("<Event><![CDATA[").unwrap() + "<Event><![CDATA[".len();
                plain[start..start + plain[start..].find("]]>").unwrap()].to_string()
            } else {
                let message: Value = serde_json::from_str(&plain).unwrap();
                message["Event"].as_str().unwrap().to_string()
            };
            assert!(
                format == "json" || event.starts_with("minigame_") || plain.starts_with('<'),
                "{plain}"
            );
            let push = sdk
                .receive(&serde_urlencoded(q), r.body.as_bytes())
                .expect("the SDK decrypts and parses it");
            assert_eq!(push.kind.as_str(), event);
            events.push(event);
        }
        events.sort();
        assert_eq!(
            events,
            [
                "minigame_coin_deliver_completed",
                "minigame_game_pay_goods_deliver_notify",
                "xpay_coin_pay_notify",
                "xpay_goods_deliver_notify",
                "xpay_refund_notify"
            ]
        );
        g.wait_all("delivered", 5).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ack_rules() {
    let g = Game::new(TestServer::start().await, json!({})).await;
    let cases: [(Reply, bool); 9] = [
        (Reply::Ok(200, ""), true),
        (Reply::Ok(200, "success"), true),
        (Reply::Ok(200, r#"{"ErrCode":0,"ErrMsg":"success"}"#), true),
        (
            Reply::Ok(
                200,
                "<xml><ErrCode>0</ErrCode><ErrMsg><![CDATA[success]]></ErrMsg></xml>",
            ),
            true,
        ),
        (Reply::Ok(200, "<xml><Errcode>0</ErrCode></xml>"), true),
        (Reply::Ok(200, r#"{"errcode":0,"errmsg":"ok"}"#), false),
        (Reply::Ok(200, r#"{"ErrCode":99999,"ErrMsg":"internal error"}"#), false),
        (Reply::Ok(500, "success"), false),
        (Reply::Ok(200, "ok"), false),
    ];
    for (i, (reply, acked)) in cases.iter().enumerate() {
        g.receiver.answer(reply.clone());
        g.xpay_buy("short_series_goods", &format!("ack-case-{i:04}"), "auto")
            .await;
        let pushes = loop {
            let pushes = g.pushes().await;
            if pushes.len() == i + 1 && recorded(&pushes[i], 1) {
                break pushes;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        };
        let status = if *acked { "delivered" } else { "pending" };
        assert_eq!(pushes[i]["status"], status, "case {i}: {}", pushes[i]);
    }
    // ack = "lenient" also takes errcode 0.
    let (status, answer) = g
        .server
        .admin(
            "/admin/apps",
            json!({"appid": g.app.appid, "push": {"url": g.receiver.url, "token": TOKEN, "ack": "lenient"}}),
        )
        .await;
    assert_eq!((status, &answer["errcode"]), (StatusCode::OK, &json!(0)), "{answer}");
    g.receiver.answer(Reply::Ok(200, r#"{"errcode":0,"errmsg":"ok"}"#));
    // Past the app cache's lifetime, so the worker reads the new setting.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    g.xpay_buy("short_series_goods", "ack-lenient-1", "auto").await;
    loop {
        let pushes = g.pushes().await;
        if let Some(last) = pushes.iter().find(|p| p["order_id"] == "ack-lenient-1") {
            if recorded(last, 1) {
                assert_eq!(last["status"], "delivered", "{last}");
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_follow_the_schedule_on_the_servers_clock_and_stop_after_the_last() {
    let g = Game::new(TestServer::start().await, json!({})).await;
    g.receiver.answer(Reply::Ok(500, "down"));
    g.xpay_buy("short_series_goods", "retry-0001", "auto").await;
    g.wait_attempts(1).await;
    // 15 retries: 15 s, 15 s, 30 s, 3 min, 10 min, 20 min, 30 min x3, 60 min, 3 h x3, 6 h x2.
    let waits_secs = [
        15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
    ];
    for (retry, wait) in waits_secs.iter().enumerate() {
        // A second early: nothing is sent.
        g.server.clock.advance_secs(wait - 1);
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert_eq!(g.receiver.got().len(), retry + 1, "retry {} came early", retry + 1);
        g.server.clock.advance_secs(1);
        let got = g.receiver.wait_for(retry + 2).await;
        let last: Value = serde_json::from_str(&got[retry + 1].body).unwrap();
        assert_eq!(last["RetryTimes"], retry + 1);
        g.wait_attempts(retry + 2).await;
    }
    let pushes = g.wait_all("failed", 1).await;
    assert_eq!(pushes[0]["attempts"], 16);
    assert_eq!(pushes[0]["last_reply"], "HTTP 500");
    // Nothing more, however long.
    g.server.clock.advance_secs(7 * 86_400);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(g.receiver.got().len(), 16);
    // Every delivery carried the same content (RetryTimes aside).
    let contents: Vec<Value> = g
        .receiver
        .got()
        .iter()
        .map(|r| {
            let mut m: Value = serde_json::from_str(&r.body).unwrap();
            m.as_object_mut().unwrap().remove("RetryTimes");
            m
        })
        .collect();
    assert!(contents.windows(2).all(|w| w[0] == w[1]), "{contents:?}");

    // A manual redelivery sends it once more, now acknowledged.
    g.receiver.answer(Reply::Ok(200, "success"));
    let id = pushes[0]["id"].as_i64().unwrap();
    let (status, answer) = g
        .server
        .admin(&format!("/admin/pushes/{id}/redeliver"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (&answer["push"]["status"], &answer["push"]["attempts"]),
        (&json!("delivered"), &json!(17))
    );
    let last: Value = serde_json::from_str(&g.receiver.got()[16].body).unwrap();
    assert_eq!(last["RetryTimes"], 16);
    let (status, answer) = g.server.admin("/admin/pushes/999999/redeliver", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!("redeliver_unknown", answer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mini_game_coin_events_retry_13_times() {
    let g = Game::new(TestServer::start().await, json!({})).await;
    g.receiver.answer(Reply::Ok(200, "nope"));
    g.server.recharge(&g.app, "p", "official", 10).await;
    g.wait_attempts(1).await;
    for n in 2..=14 {
        g.server.clock.advance_secs(6 * 3600);
        g.wait_attempts(n).await;
    }
    let pushes = g.wait_all("failed", 1).await;
    assert_eq!(pushes[0]["attempts"], 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_checks_and_settings() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let app = server.create_app().await;
    let set = |push: Value| {
        let server = &server;
        let appid = app.appid.clone();
        async move { server.admin("/admin/apps", json!({"appid": appid, "push": push})).await }
    };
    let (status, answer) = set(json!({"url": receiver.url, "token": TOKEN, "format": "xml"})).await;
    assert_eq!(status, StatusCode::OK);
    // The summary shows where and how, never the token.
    assert_eq!(
        answer["app"]["push"],
        json!({"url": receiver.url, "mode": "plain", "format": "xml", "ack": "strict"})
    );
    assert!(!answer.to_string().contains(TOKEN));
    let mut refusals = BTreeMap::new();
    *receiver.wrong_echo.lock() = true;
    refusals.insert(
        "wrong_echo",
        set(json!({"url": receiver.url, "token": "Other1"})).await.1,
    );
    *receiver.wrong_echo.lock() = false;
    refusals.insert(
        "unreachable",
        set(json!({"url": "http://127.0.0.1:9/push", "token": TOKEN})).await.1,
    );
    refusals.insert(
        "no_scheme",
        set(json!({"url": "127.0.0.1/push", "token": TOKEN})).await.1,
    );
    refusals.insert("short_token", set(json!({"url": receiver.url, "token": "ab"})).await.1);
    refusals.insert(
        "safe_without_key",
        set(json!({"url": receiver.url, "token": TOKEN, "mode": "safe"}))
            .await
            .1,
    );
    refusals.insert(
        "short_key",
        set(json!({"url": receiver.url, "token": TOKEN, "mode": "safe", "encoding_aes_key": "abc"}))
            .await
            .1,
    );
    refusals.insert(
        "unknown_setting",
        set(json!({"url": receiver.url, "token": TOKEN, "retries": 3})).await.1,
    );
    refusals.insert(
        "bad_format",
        set(json!({"url": receiver.url, "token": TOKEN, "format": "yaml"}))
            .await
            .1,
    );
    refusals.insert("not_an_object", set(json!("http://x")).await.1);
    for answer in refusals.values() {
        assert!(!answer.to_string().contains(TOKEN), "{answer}");
    }
    insta::assert_json_snapshot!("push_setting_refusals", refusals);
    // Nothing changed by the refusals.
    let (_, apps) = server.get_admin("/admin/apps").await;
    let listed = apps["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["appid"] == app.appid.as_str())
        .cloned()
        .unwrap();
    assert_eq!(listed["push"]["format"], "xml");
    // null clears them.
    let (_, answer) = set(Value::Null).await;
    assert_eq!(answer["app"]["push"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_fail_or_time_out_deliveries() {
    let g = Game::new(TestServer::start().await, json!({})).await;
    let (status, answer) = g
        .server
        .admin(
            "/admin/faults",
            json!({"match": {"dialect": "push"}, "errcode": -1, "times": 2}),
        )
        .await;
    assert_eq!((status, &answer["errcode"]), (StatusCode::OK, &json!(0)), "{answer}");
    // A rule without dialect "push" never fires on deliveries.
    g.server
        .admin("/admin/faults", json!({"match": {"path": "/push"}, "errcode": -1}))
        .await;
    g.xpay_buy("short_series_goods", "fault-0001", "auto").await;
    let first = loop {
        let pushes = g.pushes().await;
        if pushes.first().is_some_and(|p| recorded(p, 1)) {
            break pushes[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    assert_eq!(first["status"], "pending");
    assert!(
        first["last_reply"]
            .as_str()
            .unwrap()
            .starts_with("not sent: fault rule"),
        "{first}"
    );
    assert!(g.receiver.got().is_empty(), "a failed delivery is not sent");
    g.server.clock.advance_secs(15);
    tokio::time::sleep(Duration::from_millis(500)).await;
    g.server.clock.advance_secs(15);
    let pushes = g.wait_all("delivered", 1).await;
    assert_eq!(pushes[0]["attempts"], 3);
    assert_eq!(g.receiver.got().len(), 1);

    // A delay past 3 s is a timeout.
    g.server.delete_admin("/admin/faults").await;
    g.server
        .admin(
            "/admin/faults",
            json!({"match": {"dialect": "push"}, "delay_ms": 3500, "times": 1}),
        )
        .await;
    g.xpay_buy("short_series_goods", "fault-0002", "auto").await;
    let second = loop {
        let pushes = g.pushes().await;
        if let Some(p) = pushes.iter().find(|p| p["order_id"] == "fault-0002" && recorded(p, 1)) {
            break p.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(second["status"], "pending");
    assert!(
        second["last_reply"]
            .as_str()
            .unwrap()
            .starts_with("no answer within 3 s"),
        "{second}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_hangs_does_not_hold_up_the_api() {
    let g = Game::new(TestServer::start().await, json!({})).await;
    g.receiver.answer(Reply::Hang);
    for i in 0..40 {
        g.xpay_buy("short_series_goods", &format!("hang-{i:04}"), "auto").await;
    }
    // Deliveries are in flight (each waits for its 3 s timeout) ...
    g.receiver.wait_for(20).await;
    // ... while the API answers: many requests, one after another, all answered.
    let token = g.server.token(&g.app).await;
    let body = json!({"openid": "p", "env": 0, "user_ip": "127.0.0.1"}).to_string();
    for _ in 0..100 {
        let (status, answer) = g
            .server
            .xpay(
                &g.app,
                openmidas_protocol::xpay::Op::QueryUserBalance,
                &token,
                &body,
                &g.session,
            )
            .await;
        assert_eq!((status, &answer["errcode"]), (StatusCode::OK, &json!(0)), "{answer}");
    }
    // In the test's own terms: every delivery is still waiting for its receiver (none has
    // timed out and been recorded: no reply kept), so the 100 reads were answered without waiting for any.
    let pushes = g.pushes().await;
    assert!(
        pushes.iter().all(|p| p["status"] == "pending" && p["last_reply"] == ""),
        "{pushes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_nodes_deliver_each_event_once_per_attempt() {
    let first = TestServer::start_postgres(false).await;
    let Some(second) = first.another_node().await else {
        return;
    };
    let g = Game::new(first, json!({})).await;
    for i in 0..30 {
        g.xpay_buy("short_series_goods", &format!("node-{i:04}"), "auto").await;
    }
    let got = g.receiver.wait_for(30).await;
    g.wait_all("delivered", 30).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut per_order: BTreeMap<String, usize> = BTreeMap::new();
    for r in g.receiver.got() {
        let message: Value = serde_json::from_str(&r.body).unwrap();
        *per_order.entry(out_trade_no(&message)).or_default() += 1;
    }
    assert_eq!(per_order.len(), 30);
    assert!(per_order.values().all(|n| *n == 1), "{per_order:?}");
    assert!(got.len() >= 30);
    drop(second);
}
