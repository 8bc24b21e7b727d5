//! The push channel (behaviour.md section 12): the official vectors of
//! wechat-reference-vp2-xpay.md section 3 (tests/data/signatures.json, and the two the file
//! does not carry, quoted here), the ack rules, the rendered messages, and properties of
//! the AES.

use openmidas_protocol::push::{
    self, ack, decrypt, encrypt, encrypted_reply, msg_signature, parse_content, parse_message, parse_safe_body,
    pay_event_sig, pay_event_sig_matches, push_query, render, safe_body, url_check_query, url_signature, Ack,
    AckPolicy, AesKey, Envelope, EventContent, EventKind, MiniGameCoinDeliver, MiniGameCoinInfo, MiniGameGoodsDeliver,
    MiniGameGoodsInfo, MiniGamePayInfo, PushError, PushFormat, PushMode, XpayCoinInfo, XpayCoinPay, XpayGoodsDeliver,
    XpayGoodsInfo, XpayPayInfo, XpayRefund,
};
use proptest::prelude::*;
use serde_json::Value;

fn vector(name: &str) -> Value {
    let root: Value = serde_json::from_str(include_str!("data/signatures.json")).expect("vectors parse");
    root["vectors"]
        .as_array()
        .and_then(|all| all.iter().find(|v| v["name"] == name).cloned())
        .unwrap_or_else(|| panic!("vector {name}"))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("vector field {key}"))
}

fn random16(text: &str) -> [u8; 16] {
    text.as_bytes().try_into().expect("16 characters")
}

const ALL_A: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

#[test]
fn url_verification_vector() {
    let v = vector("push-url-verification");
    let (token, timestamp, nonce) = (s(&v, "token"), s(&v, "timestamp"), s(&v, "nonce"));
    assert_eq!(url_signature(token, timestamp, nonce), s(&v, "signature"));
    let query = url_check_query(token, timestamp, nonce, s(&v, "echostr"));
    let names: Vec<_> = query.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["signature", "timestamp", "nonce", "echostr"]);
    assert_eq!(query[0].1, s(&v, "signature"));
    assert_eq!(query[3].1, s(&v, "echostr"));
    assert!(push::echo_matches(s(&v, "echostr"), b"4375120948345356249"));
    assert!(push::echo_matches(s(&v, "echostr"), b"4375120948345356249\n"));
    assert!(!push::echo_matches(s(&v, "echostr"), b"437512094834535624"));
    assert!(!push::echo_matches(s(&v, "echostr"), b""));
}

#[test]
fn plaintext_signature_vector() {
    // wechat-reference-vp2-xpay.md section 3.3, plaintext (not in signatures.json).
    assert_eq!(
        url_signature("AAAAA", "1714037059", "486452656"),
        "899cf89e464efb63f54ddac96b0a0a235f53aa78"
    );
    let query = push_query("AAAAA", "1714037059", "486452656", None);
    assert_eq!(
        query,
        vec![
            ("signature", "899cf89e464efb63f54ddac96b0a0a235f53aa78".to_string()),
            ("timestamp", "1714037059".to_string()),
            ("nonce", "486452656".to_string()),
        ]
    );
}

#[test]
fn safe_mode_vector() {
    let v = vector("push-safe-mode");
    let (token, timestamp, nonce, encrypted) = (s(&v, "token"), s(&v, "timestamp"), s(&v, "nonce"), s(&v, "encrypt"));
    assert_eq!(url_signature(token, timestamp, nonce), s(&v, "signature"));
    assert_eq!(
        msg_signature(token, timestamp, nonce, encrypted),
        s(&v, "msg_signature")
    );

    let key = AesKey::from_encoding_aes_key(s(&v, "encoding_aes_key")).unwrap();
    let (msg, appid) = decrypt(&key, encrypted).unwrap();
    assert_eq!(String::from_utf8(msg).unwrap(), s(&v, "message"));
    assert_eq!(appid, s(&v, "appid"));

    // With the documented random bytes, encryption reproduces the vector exactly.
    let again = encrypt(
        &key,
        random16(s(&v, "random")),
        s(&v, "message").as_bytes(),
        s(&v, "appid"),
    );
    assert_eq!(again, encrypted);

    let query = push_query(
        token,
        timestamp,
        nonce,
        Some(("o9AgO5Kd5ggOC-bXrbNODIiE3bGY", encrypted)),
    );
    let names: Vec<_> = query.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "signature",
            "timestamp",
            "nonce",
            "openid",
            "encrypt_type",
            "msg_signature"
        ]
    );
    assert_eq!(query[0].1, s(&v, "signature"));
    assert_eq!(query[4].1, "aes");
    assert_eq!(query[5].1, s(&v, "msg_signature"));

    // The body, both formats, and read back.
    let json = safe_body(PushFormat::Json, "gh_97417a04a28d", encrypted);
    assert_eq!(
        json,
        format!(r#"{{"ToUserName":"gh_97417a04a28d","Encrypt":"{encrypted}"}}"#)
    );
    let xml = safe_body(PushFormat::Xml, "gh_97417a04a28d", encrypted);
    assert_eq!(
        xml,
        format!(
            "<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
    );
    for (body, format) in [(json, PushFormat::Json), (xml, PushFormat::Xml)] {
        let read = parse_safe_body(body.as_bytes()).unwrap();
        assert_eq!(read.format, format);
        assert_eq!(read.to_user_name, "gh_97417a04a28d");
        assert_eq!(read.encrypt, encrypted);
    }

    // The decrypted message's common fields read back; its event is not one OpenMidas sends.
    let (msg, _) = decrypt(&key, encrypted).unwrap();
    let message = parse_message(&msg).unwrap();
    assert_eq!(message.event, "debug_demo");
    assert_eq!(message.create_time, 1714112445);
    assert_eq!(EventKind::parse(&message.event), None);
}

#[test]
fn encrypted_reply_vector() {
    // wechat-reference-vp2-xpay.md section 3.3, the encrypted reply (not in signatures.json):
    // the key, token and appid of the safe-mode vector.
    let key = AesKey::from_encoding_aes_key(ALL_A).unwrap();
    let reply = encrypted_reply(
        &key,
        "wxba5fad812f8e6fb9",
        random16("707722b803182950"),
        br#"{"demo_resp":"good luck"}"#,
        1713424427,
        "415670741",
        "AAAAA",
        PushFormat::Json,
    );
    assert_eq!(
        reply,
        r#"{"Encrypt":"ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==","MsgSignature":"1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1","TimeStamp":1713424427,"Nonce":"415670741"}"#
    );
    let xml = encrypted_reply(
        &key,
        "wxba5fad812f8e6fb9",
        random16("707722b803182950"),
        br#"{"demo_resp":"good luck"}"#,
        1713424427,
        "415670741",
        "AAAAA",
        PushFormat::Xml,
    );
    assert_eq!(
        xml,
        "<xml><Encrypt><![CDATA[ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==]]></Encrypt><MsgSignature><![CDATA[1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1]]></MsgSignature><TimeStamp>1713424427</TimeStamp><Nonce><![CDATA[415670741]]></Nonce></xml>"
    );
}

#[test]
fn pay_event_sig_vector() {
    let v = vector("minigame-pay-event-sig");
    let sig = pay_event_sig(s(&v, "app_key"), s(&v, "event"), s(&v, "payload"));
    assert_eq!(sig, s(&v, "pay_event_sig"));
    assert!(pay_event_sig_matches(
        s(&v, "app_key"),
        s(&v, "event"),
        s(&v, "payload"),
        &sig
    ));
    assert!(!pay_event_sig_matches(
        s(&v, "app_key"),
        s(&v, "event"),
        s(&v, "payload"),
        &sig.to_uppercase()
    ));
    assert!(!pay_event_sig_matches("54321", s(&v, "event"), s(&v, "payload"), &sig));
    // The derived vector of wechat-reference-vp2-xpay.md section 6 is the same construction.
    assert_eq!(sig.len(), 64);
}

#[test]
fn aes_keys() {
    assert!(AesKey::from_encoding_aes_key(ALL_A).is_ok());
    // Random alphanumerics: the last character's spare bits are ignored, as WeChat's SDKs do.
    assert!(AesKey::from_encoding_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").is_ok());
    for bad in [
        "",
        &ALL_A[..42],
        &format!("{ALL_A}A"),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!",
        &"é".repeat(43),
    ] {
        assert!(
            matches!(AesKey::from_encoding_aes_key(bad), Err(PushError::InvalidAesKey(_))),
            "{bad:?}"
        );
    }
    assert_eq!(
        format!("{:?}", AesKey::from_encoding_aes_key(ALL_A).unwrap()),
        "AesKey(..)"
    );
}

#[test]
fn decrypt_errors() {
    let key = AesKey::from_encoding_aes_key(ALL_A).unwrap();
    assert_eq!(decrypt(&key, "not base64!"), Err(PushError::Base64));
    assert_eq!(decrypt(&key, ""), Err(PushError::CipherLength));
    assert_eq!(decrypt(&key, "AAAA"), Err(PushError::CipherLength));
    assert_eq!(decrypt(&key, &"A".repeat(70_000)), Err(PushError::TooLarge));
    // A wrong key decrypts to garbage: bad padding or a bad length, never a panic.
    let other = AesKey::from_encoding_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").unwrap();
    let encrypted = encrypt(&key, [7; 16], b"hello", "wx1");
    assert!(decrypt(&other, &encrypted).is_err() || decrypt(&other, &encrypted).unwrap().1 != "wx1");
}

#[test]
fn settings_and_events() {
    for mode in [PushMode::Plain, PushMode::Safe] {
        assert_eq!(PushMode::parse(mode.as_str()), Some(mode));
    }
    for format in [PushFormat::Json, PushFormat::Xml] {
        assert_eq!(PushFormat::parse(format.as_str()), Some(format));
    }
    for policy in [AckPolicy::Strict, AckPolicy::Lenient] {
        assert_eq!(AckPolicy::parse(policy.as_str()), Some(policy));
    }
    assert_eq!(PushMode::parse("compatible"), None);
    assert_eq!(PushFormat::parse("JSON"), None);
    for kind in EventKind::ALL {
        assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
    }
    assert_eq!(EventKind::MiniGameCoinDeliverCompleted.retry_intervals_secs().len(), 13);
    assert_eq!(EventKind::MiniGameGoodsDeliverNotify.retry_intervals_secs().len(), 15);
    assert_eq!(
        EventKind::XpayRefundNotify.retry_intervals_secs().iter().sum::<u64>(),
        86_640
    );
    assert_eq!(
        EventKind::MiniGameCoinDeliverCompleted
            .retry_intervals_secs()
            .iter()
            .sum::<u64>(),
        43_440
    );
    assert!(EventKind::MiniGameGoodsDeliverNotify.is_mini_game());
    assert!(!EventKind::XpayGoodsDeliverNotify.is_mini_game());
}

#[test]
fn ack_rules() {
    let key = AesKey::from_encoding_aes_key(ALL_A).unwrap();
    let appid = "wxba5fad812f8e6fb9";
    let sealed = |msg: &str, appid: &str| {
        push::encrypted_reply(&key, appid, [1; 16], msg.as_bytes(), 1, "n", "AAAAA", PushFormat::Json)
    };
    let sealed_xml =
        |msg: &str| push::encrypted_reply(&key, appid, [1; 16], msg.as_bytes(), 1, "n", "AAAAA", PushFormat::Xml);
    let long = format!("{{\"x\":\"{}\"}}", "y".repeat(500));
    // (status, body, strict, lenient): None = accepted, Some(reason) = refused with it.
    let table: Vec<(u16, String, Option<&str>, Option<&str>)> = vec![
        (200, String::new(), None, None),
        (200, " \n".into(), None, None),
        (200, "success".into(), None, None),
        (200, " success\n".into(), None, None),
        (200, r#"{"ErrCode":0,"ErrMsg":"success"}"#.into(), None, None),
        (200, r#"{"ErrCode":0}"#.into(), None, None),
        (200, r#"{"ErrCode":0,"ErrMsg":"Success"}"#.into(), None, None),
        (
            200,
            "<xml><ErrCode>0</ErrCode><ErrMsg><![CDATA[success]]></ErrMsg></xml>".into(),
            None,
            None,
        ),
        (
            200,
            "<xml><Errcode>0</ErrCode><ErrMsg><![CDATA[success]]></ErrMsg></xml>".into(),
            None,
            None,
        ),
        (500, "success".into(), Some("HTTP 500"), Some("HTTP 500")),
        (204, String::new(), Some("HTTP 204"), Some("HTTP 204")),
        (
            200,
            r#"{"ErrCode":99999,"ErrMsg":"internal error"}"#.into(),
            Some("ErrCode 99999"),
            Some("ErrCode 99999"),
        ),
        (
            200,
            "<xml><ErrCode>1</ErrCode></xml>".into(),
            Some("ErrCode 1"),
            Some("ErrCode 1"),
        ),
        (
            200,
            r#"{"errcode":0,"errmsg":"ok"}"#.into(),
            Some(r#"body is not empty, success or ErrCode 0: {"errcode":0,"errmsg":"ok"}"#),
            None,
        ),
        (
            200,
            "<xml><errcode>0</errcode></xml>".into(),
            Some("body is not empty, success or ErrCode 0: <xml><errcode>0</errcode></xml>"),
            None,
        ),
        (
            200,
            r#"{"errcode":40001}"#.into(),
            Some("body is not empty, success or ErrCode 0: {\"errcode\":40001}"),
            Some("errcode 40001"),
        ),
        (
            200,
            r#"{"ErrCode":"0"}"#.into(),
            Some(r#"ErrCode is not a number: ("0")"#),
            Some(r#"ErrCode is not a number: ("0")"#),
        ),
        (
            200,
            "SUCCESS".into(),
            Some("body is not empty, success or ErrCode 0: SUCCESS"),
            Some("body is not empty, success or ErrCode 0: SUCCESS"),
        ),
        (
            200,
            "ok".into(),
            Some("body is not empty, success or ErrCode 0: ok"),
            Some("body is not empty, success or ErrCode 0: ok"),
        ),
        (
            200,
            "{not json".into(),
            Some("body is not empty, success or ErrCode 0: {not json"),
            Some("body is not empty, success or ErrCode 0: {not json"),
        ),
        // Encrypted replies are judged by what they hold.
        (200, sealed(r#"{"ErrCode":0,"ErrMsg":"success"}"#, appid), None, None),
        (200, sealed("success", appid), None, None),
        (200, sealed_xml("<xml><ErrCode>0</ErrCode></xml>"), None, None),
        (
            200,
            sealed(r#"{"ErrCode":7}"#, appid),
            Some("ErrCode 7"),
            Some("ErrCode 7"),
        ),
        (
            200,
            sealed(r#"{"errcode":0}"#, appid),
            Some(r#"body is not empty, success or ErrCode 0: {"errcode":0}"#),
            None,
        ),
        (
            200,
            sealed(r#"{"ErrCode":0}"#, "wxother"),
            Some("encrypted reply is for appid wxother"),
            Some("encrypted reply is for appid wxother"),
        ),
        (
            200,
            r#"{"Encrypt":"AAAA"}"#.into(),
            Some("encrypted reply does not decrypt: Encrypt is not a whole number of AES blocks"),
            Some("encrypted reply does not decrypt: Encrypt is not a whole number of AES blocks"),
        ),
    ];
    for (status, body, strict, lenient) in &table {
        for (policy, expected) in [(AckPolicy::Strict, strict), (AckPolicy::Lenient, lenient)] {
            let got = ack(*status, body.as_bytes(), policy, Some(&key), appid);
            let want = match expected {
                None => Ack::Accepted,
                Some(reason) => Ack::Refused(reason.to_string()),
            };
            assert_eq!(got, want, "{status} {body:?} {policy:?}");
        }
    }
    // No key: an encrypted reply cannot be judged.
    assert_eq!(
        ack(200, sealed("success", appid).as_bytes(), AckPolicy::Strict, None, appid),
        Ack::Refused("encrypted reply, but the channel has no EncodingAESKey".into())
    );
    // Long replies are quoted to 200 characters.
    let Ack::Refused(reason) = ack(200, long.as_bytes(), AckPolicy::Strict, None, appid) else {
        panic!("refused");
    };
    assert_eq!(
        reason,
        format!("body is not empty, success or ErrCode 0: {}...", &long[..200])
    );
    assert!(ack(200, &vec![b' '; 70_000], AckPolicy::Strict, None, appid) != Ack::Accepted);
}

fn envelope() -> Envelope {
    Envelope {
        to_user_name: "gh_97417a04a28d".into(),
        from_user_name: "oUrsf0TSXNtiZjP7JL9UUFiGJzmQ".into(),
        create_time: 1714112445,
        retry_times: 2,
    }
}

/// One of each event, with every field set.
fn samples() -> Vec<EventContent> {
    let pay_info = XpayPayInfo {
        mch_order_no: "mch-1".into(),
        transaction_id: "4200001".into(),
        paid_time: 1714112400,
    };
    vec![
        EventContent::XpayGoodsDeliverNotify(XpayGoodsDeliver {
            open_id: "o-player".into(),
            env: 0,
            out_trade_no: "order-1".into(),
            wechat_pay_info: Some(pay_info.clone()),
            goods_info: XpayGoodsInfo {
                product_id: "sword".into(),
                quantity: 2,
                orig_price: 600,
                actual_price: 500,
                attach: "a<b>&]]>c".into(),
            },
            team_info: None,
        }),
        EventContent::XpayCoinPayNotify(XpayCoinPay {
            open_id: "o-player".into(),
            env: 1,
            out_trade_no: "order-2".into(),
            wechat_pay_info: Some(pay_info),
            coin_info: XpayCoinInfo {
                quantity: 60,
                orig_price: 600,
                actual_price: 600,
                attach: String::new(),
            },
        }),
        EventContent::XpayRefundNotify(XpayRefund {
            open_id: "o-player".into(),
            env: 0,
            wx_refund_id: "wxr-1".into(),
            mch_refund_id: "refund-1".into(),
            wx_order_id: "wxo-1".into(),
            mch_order_id: "order-1".into(),
            refund_fee: 500,
            ret_code: 0,
            ret_msg: "success".into(),
            refund_start_timestamp: 1714112500,
            refund_succ_timestamp: 1714112501,
            wxpay_refund_transaction_id: "5000001".into(),
            team_info: None,
        }),
        EventContent::MiniGameCoinDeliverCompleted(MiniGameCoinDeliver {
            open_id: "o-player".into(),
            env: 0,
            out_trade_no: "order-3".into(),
            wechat_pay_info: MiniGamePayInfo {
                mch_order_no: "mch-3".into(),
                transaction_id: "4200003".into(),
            },
            coin_info: MiniGameCoinInfo {
                zone_id: "1".into(),
                actual_price: 600,
                total_price: 600,
                buy_quantity: 60,
                orig_price: 600,
            },
        }),
        EventContent::MiniGameGoodsDeliverNotify(MiniGameGoodsDeliver {
            open_id: "o-player".into(),
            env: 1,
            out_trade_no: "order-4".into(),
            wechat_pay_info: MiniGamePayInfo {
                mch_order_no: "mch-4".into(),
                transaction_id: "4200004".into(),
            },
            goods_info: MiniGameGoodsInfo {
                product_id: "shield".into(),
                quantity: 1,
                zone_id: "1".into(),
                orig_price: 300,
                actual_price: 300,
                attach: "x".into(),
                order_source: 1,
            },
        }),
    ]
}

#[test]
fn rendered_messages() {
    let mut snapshot = String::new();
    for content in samples() {
        for format in [PushFormat::Json, PushFormat::Xml] {
            let body = render(&content, &envelope(), format, "app-key");
            assert_eq!(body, render(&content, &envelope(), format, "app-key"), "deterministic");
            snapshot.push_str(&format!("{} {}:\n{body}\n\n", content.kind().as_str(), format.as_str()));

            // Read back: the common fields, then the content.
            let message = parse_message(body.as_bytes()).unwrap();
            assert_eq!(message.event, content.kind().as_str());
            assert_eq!(message.create_time, 1714112445);
            assert_eq!(message.to_user_name, "gh_97417a04a28d");
            let kind = EventKind::parse(&message.event).unwrap();
            let parsed = if kind.is_mini_game() {
                assert_eq!(message.format, PushFormat::Json, "mini-game events are always JSON");
                assert_eq!(message.retry_times, None);
                let signed = message.mini_game.expect("MiniGame");
                assert!(!signed.is_mock);
                assert!(pay_event_sig_matches(
                    "app-key",
                    kind.as_str(),
                    &signed.payload,
                    &signed.pay_event_sig
                ));
                parse_content(kind, signed.payload.as_bytes(), message.format).unwrap()
            } else {
                assert_eq!(message.format, format);
                assert_eq!(message.retry_times, Some(2));
                parse_content(kind, body.as_bytes(), message.format).unwrap()
            };
            assert_eq!(parsed, content);
        }
    }
    insta::assert_snapshot!(snapshot);
}

#[test]
fn real_team_info_parses() {
    // A goods event as WeChat sends it, with TeamInfo and without WeChatPayInfo.
    let body = r#"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[xpay_goods_deliver_notify]]></Event><OpenId><![CDATA[o2]]></OpenId><Env>0</Env><OutTradeNo><![CDATA[t]]></OutTradeNo><GoodsInfo><ProductId><![CDATA[p]]></ProductId><Quantity>1</Quantity><OrigPrice>10</OrigPrice><ActualPrice>10</ActualPrice><Attach><![CDATA[]]></Attach></GoodsInfo><TeamInfo><ActivityId><![CDATA[act]]></ActivityId><TeamId><![CDATA[team]]></TeamId><TeamType>1</TeamType><TeamAction>0</TeamAction></TeamInfo><RetryTimes>0</RetryTimes></xml>"#;
    let message = parse_message(body.as_bytes()).unwrap();
    let EventContent::XpayGoodsDeliverNotify(goods) =
        parse_content(EventKind::XpayGoodsDeliverNotify, body.as_bytes(), message.format).unwrap()
    else {
        panic!("goods");
    };
    assert_eq!(goods.wechat_pay_info, None);
    let team = goods.team_info.unwrap();
    assert_eq!(team.team_id.as_deref(), Some("team"));
    assert_eq!(team.team_type, Some(1));
}

#[test]
fn malformed_messages_are_errors() {
    for body in [
        "",
        "hello",
        "{",
        "<xml>",
        "{\"Event\":1}",
        "<xml><CreateTime>x</CreateTime><Event>e</Event></xml>",
    ] {
        assert!(
            matches!(parse_message(body.as_bytes()), Err(PushError::Malformed(_))),
            "{body:?}"
        );
    }
    assert_eq!(
        parse_message(&vec![b' '; 70_000]).unwrap_err(),
        PushError::Malformed("neither JSON nor XML".into())
    );
    let mut big = b"{\"Event\":\"".to_vec();
    big.resize(70_000, b'x');
    assert_eq!(parse_message(&big).unwrap_err(), PushError::TooLarge);
}

proptest! {
    #[test]
    fn encrypt_then_decrypt(msg in proptest::collection::vec(any::<u8>(), 0..600), random in any::<[u8; 16]>(), appid in "[a-z0-9]{0,20}") {
        let key = AesKey::from_encoding_aes_key(ALL_A).unwrap();
        let encrypted = encrypt(&key, random, &msg, &appid);
        let (back, back_appid) = decrypt(&key, &encrypted).unwrap();
        prop_assert_eq!(back, msg);
        prop_assert_eq!(back_appid, appid);
    }

    #[test]
    fn decrypt_never_panics(text in ".{0,200}", bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let key = AesKey::from_encoding_aes_key(ALL_A).unwrap();
        let _ = decrypt(&key, &text);
        use base64::Engine;
        let _ = decrypt(&key, &base64::engine::general_purpose::STANDARD.encode(&bytes));
        let _ = parse_message(&bytes);
        let _ = parse_safe_body(&bytes);
        let _ = ack(200, &bytes, AckPolicy::Lenient, Some(&key), "wx");
    }
}
