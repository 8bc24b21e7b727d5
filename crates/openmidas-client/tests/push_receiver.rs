//! `PushReceiver` (behaviour.md section 12): pushes built with the protocol's own sender
//! functions round-trip in every mode and format, the official safe-mode vector is
//! verified and decrypted, and tampering with any part is refused.

use openmidas_client::push::{Push, PushReceiver, ReceiveError};
use openmidas_protocol::push::{
    encrypt, push_query, render, safe_body, url_check_query, AesKey, Envelope, EventContent, EventKind,
    MiniGameGoodsDeliver, MiniGameGoodsInfo, MiniGamePayInfo, PushError, PushFormat, XpayGoodsDeliver, XpayGoodsInfo,
    XpayPayInfo,
};

const TOKEN: &str = "push-token";
const APPID: &str = "wx0123456789abcdef";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const OFFICIAL_KEY: &str = "official-app-key";
const SANDBOX_KEY: &str = "sandbox-app-key";
const TIMESTAMP: &str = "1714112445";
const NONCE: &str = "415670741";

fn query_string(pairs: &[(&'static str, String)]) -> String {
    // Every value here is URL-safe but base64's `+` and `/`, which are percent-encoded.
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={}", value.replace('+', "%2B").replace('/', "%2F")))
        .collect::<Vec<_>>()
        .join("&")
}

fn envelope(retry_times: u32) -> Envelope {
    Envelope {
        to_user_name: "gh_97417a04a28d".into(),
        from_user_name: "oUrsf0TSXNtiZjP7JL9UUFiGJzmQ".into(),
        create_time: 1714112445,
        retry_times,
    }
}

fn goods() -> EventContent {
    EventContent::XpayGoodsDeliverNotify(XpayGoodsDeliver {
        open_id: "o-player".into(),
        env: 0,
        out_trade_no: "order-1".into(),
        wechat_pay_info: Some(XpayPayInfo {
            mch_order_no: "mch-1".into(),
            transaction_id: "4200001".into(),
            paid_time: 1714112400,
        }),
        goods_info: XpayGoodsInfo {
            product_id: "sword".into(),
            quantity: 2,
            orig_price: 600,
            actual_price: 500,
            attach: "a&b=c ]]> <x>".into(),
        },
        team_info: None,
    })
}

fn mini_game(env: u32) -> EventContent {
    EventContent::MiniGameGoodsDeliverNotify(MiniGameGoodsDeliver {
        open_id: "o-player".into(),
        env,
        out_trade_no: "order-2".into(),
        wechat_pay_info: MiniGamePayInfo {
            mch_order_no: "mch-2".into(),
            transaction_id: "4200002".into(),
        },
        goods_info: MiniGameGoodsInfo {
            product_id: "shield".into(),
            quantity: 1,
            zone_id: "1".into(),
            orig_price: 300,
            actual_price: 300,
            attach: String::new(),
            order_source: 1,
        },
    })
}

fn plain() -> PushReceiver {
    PushReceiver::new(TOKEN, APPID).app_keys(OFFICIAL_KEY, SANDBOX_KEY)
}

fn safe() -> PushReceiver {
    plain().encoding_aes_key(AES_KEY).unwrap()
}

fn app_key(content: &EventContent) -> &'static str {
    if content.env() == 0 {
        OFFICIAL_KEY
    } else {
        SANDBOX_KEY
    }
}

/// A plaintext push as the sender makes it: (query, body).
fn plain_push(content: &EventContent, format: PushFormat) -> (String, String) {
    let body = render(content, &envelope(3), format, app_key(content));
    (query_string(&push_query(TOKEN, TIMESTAMP, NONCE, None)), body)
}

/// A safe-mode push as the sender makes it, encrypted for `appid`.
fn safe_push(content: &EventContent, format: PushFormat, appid: &str) -> (String, String) {
    let key = AesKey::from_encoding_aes_key(AES_KEY).unwrap();
    let message = render(content, &envelope(0), format, app_key(content));
    let encrypted = encrypt(&key, [9; 16], message.as_bytes(), appid);
    let body = safe_body(format, "gh_97417a04a28d", &encrypted);
    let query = push_query(
        TOKEN,
        TIMESTAMP,
        NONCE,
        Some(("oUrsf0TSXNtiZjP7JL9UUFiGJzmQ", &encrypted)),
    );
    (query_string(&query), body)
}

#[test]
fn plain_round_trips() {
    for format in [PushFormat::Json, PushFormat::Xml] {
        let (query, body) = plain_push(&goods(), format);
        let push = plain().receive(&query, body.as_bytes()).unwrap();
        assert_eq!(push.kind, EventKind::XpayGoodsDeliverNotify, "{format:?}");
        assert_eq!(push.content, goods(), "{format:?}");
        assert_eq!(push.create_time, 1714112445);
        assert_eq!(push.retry_times, Some(3));
        assert!(!push.is_mock);
        // The query may come with its `?`.
        assert!(plain().receive(&format!("?{query}"), body.as_bytes()).is_ok());
    }
}

#[test]
fn safe_round_trips() {
    for format in [PushFormat::Json, PushFormat::Xml] {
        let (query, body) = safe_push(&goods(), format, APPID);
        let push = safe().receive(&query, body.as_bytes()).unwrap();
        assert_eq!(push.content, goods(), "{format:?}");
        assert_eq!(push.retry_times, Some(0));
    }
    let (query, body) = safe_push(&mini_game(1), PushFormat::Json, APPID);
    assert_eq!(safe().receive(&query, body.as_bytes()).unwrap().content, mini_game(1));
}

#[test]
fn mini_game_round_trips_in_both_envs() {
    for env in [0, 1] {
        // Mini-game events are JSON whatever the channel's format.
        let (query, body) = plain_push(&mini_game(env), PushFormat::Xml);
        let push = plain().receive(&query, body.as_bytes()).unwrap();
        assert_eq!(push.kind, EventKind::MiniGameGoodsDeliverNotify);
        assert_eq!(push.content, mini_game(env));
        assert_eq!(push.retry_times, None);
        assert!(!push.is_mock);
    }
    // Signed with the other env's key, or no key for its env.
    let (query, body) = plain_push(&mini_game(0), PushFormat::Json);
    let swapped = PushReceiver::new(TOKEN, APPID).app_keys(SANDBOX_KEY, OFFICIAL_KEY);
    assert_eq!(
        swapped.receive(&query, body.as_bytes()),
        Err(ReceiveError::BadPayEventSig)
    );
    let official_only = PushReceiver::new(TOKEN, APPID).app_keys(OFFICIAL_KEY, "");
    assert!(official_only.receive(&query, body.as_bytes()).is_ok());
    let (query1, body1) = plain_push(&mini_game(1), PushFormat::Json);
    assert_eq!(
        official_only.receive(&query1, body1.as_bytes()),
        Err(ReceiveError::NoAppKey { env: 1 })
    );
    assert_eq!(
        PushReceiver::new(TOKEN, APPID).receive(&query, body.as_bytes()),
        Err(ReceiveError::NoAppKey { env: 0 })
    );
}

#[test]
fn official_safe_mode_vector() {
    // wechat-reference-vp2-xpay.md section 3.3: its event, `debug_demo`, is verified,
    // decrypted and read, then reported as an unknown event (the handler may acknowledge it).
    let encrypted = "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=";
    let query = "signature=6c5c811b55cc85e0e1b54100749188c20beb3f5d&timestamp=1714112445&nonce=415670741&openid=o9AgO5Kd5ggOC-bXrbNODIiE3bGY&encrypt_type=aes&msg_signature=046e02f8204d34f8ba5fa3b1db94908f3df2e9b3";
    let receiver = PushReceiver::new("AAAAA", "wxba5fad812f8e6fb9")
        .encoding_aes_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .unwrap();
    for format in [PushFormat::Json, PushFormat::Xml] {
        let body = safe_body(format, "gh_97417a04a28d", encrypted);
        assert_eq!(
            receiver.receive(query, body.as_bytes()),
            Err(ReceiveError::UnknownEvent("debug_demo".into())),
            "{format:?}"
        );
    }
    // Another app's receiver refuses it for its appid.
    let other = PushReceiver::new("AAAAA", "wxother")
        .encoding_aes_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .unwrap();
    let body = safe_body(PushFormat::Json, "gh_97417a04a28d", encrypted);
    assert_eq!(
        other.receive(query, body.as_bytes()),
        Err(ReceiveError::WrongAppid {
            got: "wxba5fad812f8e6fb9".into()
        })
    );
}

#[test]
fn url_check() {
    // wechat-reference-vp2-xpay.md section 3.2.
    let receiver = PushReceiver::new("AAAAA", "wx");
    let query = "signature=f464b24fc39322e44b38aa78f5edd27bd1441696&timestamp=1714036504&nonce=1514711492&echostr=4375120948345356249";
    assert_eq!(receiver.verify_url(query).unwrap(), "4375120948345356249");
    assert_eq!(
        receiver.verify_url(&query.replace("f464", "f465")),
        Err(ReceiveError::BadSignature)
    );
    assert!(matches!(
        receiver.verify_url("signature=f464b24fc39322e44b38aa78f5edd27bd1441696&timestamp=1714036504&nonce=1514711492"),
        Err(ReceiveError::Malformed(_))
    ));
    let built = query_string(&url_check_query(TOKEN, TIMESTAMP, NONCE, "hello world"));
    assert_eq!(
        PushReceiver::new(TOKEN, APPID)
            .verify_url(&built.replace(' ', "+"))
            .unwrap(),
        "hello world"
    );
}

#[test]
fn tampering_is_refused() {
    // The query's signature.
    let (query, body) = plain_push(&goods(), PushFormat::Json);
    let bad = query.replacen("signature=", "signature=0", 1);
    assert_eq!(plain().receive(&bad, body.as_bytes()), Err(ReceiveError::BadSignature));
    let wrong_token = PushReceiver::new("other-token", APPID);
    assert_eq!(
        wrong_token.receive(&query, body.as_bytes()),
        Err(ReceiveError::BadSignature)
    );
    let later = query.replace(TIMESTAMP, "1714112446");
    assert_eq!(
        plain().receive(&later, body.as_bytes()),
        Err(ReceiveError::BadSignature)
    );
    let upper = {
        let signature = openmidas_protocol::push::url_signature(TOKEN, TIMESTAMP, NONCE);
        query.replace(&signature, &signature.to_uppercase())
    };
    assert_eq!(
        plain().receive(&upper, body.as_bytes()),
        Err(ReceiveError::BadSignature)
    );

    // Safe mode: the Encrypt text, msg_signature, another app's appid, plaintext.
    let (query, body) = safe_push(&goods(), PushFormat::Json, APPID);
    let mut value: serde_json::Value = serde_json::from_str(&body).unwrap();
    let encrypted = value["Encrypt"].as_str().unwrap().to_string();
    let flipped = format!(
        "{}{}",
        if encrypted.starts_with('A') { "B" } else { "A" },
        &encrypted[1..]
    );
    value["Encrypt"] = flipped.into();
    assert_eq!(
        safe().receive(&query, value.to_string().as_bytes()),
        Err(ReceiveError::BadMsgSignature)
    );
    let no_msg_signature: String = query
        .split('&')
        .filter(|p| !p.starts_with("msg_signature="))
        .collect::<Vec<_>>()
        .join("&");
    assert_eq!(
        safe().receive(&no_msg_signature, body.as_bytes()),
        Err(ReceiveError::BadMsgSignature)
    );
    let (query_other, body_other) = safe_push(&goods(), PushFormat::Xml, "wxsomeoneelse");
    assert_eq!(
        safe().receive(&query_other, body_other.as_bytes()),
        Err(ReceiveError::WrongAppid {
            got: "wxsomeoneelse".into()
        })
    );
    let (plain_query, plain_body) = plain_push(&goods(), PushFormat::Json);
    assert_eq!(
        safe().receive(&plain_query, plain_body.as_bytes()),
        Err(ReceiveError::NotEncrypted)
    );
    assert_eq!(plain().receive(&query, body.as_bytes()), Err(ReceiveError::NoAesKey));
    // A receiver with another EncodingAESKey: the signature holds, the text does not decrypt.
    let other_key = plain()
        .encoding_aes_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .unwrap();
    assert!(matches!(
        other_key.receive(&query, body.as_bytes()),
        Err(ReceiveError::Decrypt(_) | ReceiveError::WrongAppid { .. })
    ));

    // A mini-game Payload changed after signing.
    let (query, body) = plain_push(&mini_game(0), PushFormat::Json);
    let changed = body.replace(r#"\"Quantity\":1"#, r#"\"Quantity\":100"#);
    assert_ne!(changed, body);
    assert_eq!(
        plain().receive(&query, changed.as_bytes()),
        Err(ReceiveError::BadPayEventSig)
    );

    // Bodies that are not a push.
    for junk in [
        "",
        "hello",
        "{",
        "<xml><Event>x",
        "{\"Event\":\"xpay_goods_deliver_notify\"}",
    ] {
        assert!(
            matches!(
                plain().receive(&plain_query, junk.as_bytes()),
                Err(ReceiveError::Malformed(_))
            ),
            "{junk:?}"
        );
    }
    assert!(matches!(
        plain().receive(&plain_query, &vec![b'{'; 70_000]),
        Err(ReceiveError::Malformed(_))
    ));
    assert!(matches!(
        plain().receive(&format!("{plain_query}&nonce=1"), plain_body.as_bytes()),
        Err(ReceiveError::Malformed(_))
    ));
    assert!(matches!(
        plain().receive("timestamp=%zz", b""),
        Err(ReceiveError::Malformed(_))
    ));
}

#[test]
fn settings_and_replies() {
    assert!(matches!(
        PushReceiver::new(TOKEN, APPID).encoding_aes_key("short"),
        Err(ReceiveError::InvalidAesKey(PushError::InvalidAesKey(_)))
    ));
    assert_eq!(Push::reply_success(), r#"{"ErrCode":0,"ErrMsg":"success"}"#);
    assert_eq!(
        Push::reply_failure("no \"stock\""),
        r#"{"ErrCode":99999,"ErrMsg":"no \"stock\""}"#
    );
    assert_eq!(Push::reply_failure_code(1, "busy"), r#"{"ErrCode":1,"ErrMsg":"busy"}"#);
    // The success reply is what the sender accepts, the failure one is not.
    use openmidas_protocol::push::{ack, Ack, AckPolicy};
    assert_eq!(
        ack(200, Push::reply_success().as_bytes(), AckPolicy::Strict, None, APPID),
        Ack::Accepted
    );
    assert!(!ack(200, Push::reply_failure("x").as_bytes(), AckPolicy::Strict, None, APPID).is_accepted());
    // No secret in Debug output.
    let debug = format!("{:?}", safe());
    assert!(
        !debug.contains(TOKEN) && !debug.contains(OFFICIAL_KEY) && !debug.contains(AES_KEY),
        "{debug}"
    );
}
