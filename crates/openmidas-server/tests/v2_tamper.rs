//! Property test of 2.0's checks (behaviour.md section 9.1), through real HTTP: take a
//! correctly signed pay, change one byte of its body or of its query string, send it, and
//! the answer is the first check of 9.1 that the changed request fails, never success; the
//! account never moves.

use openmidas_protocol::json::RawObject;
use openmidas_protocol::sign::v2::Signed;
use openmidas_protocol::v2::{self, BillNoRule, Op};
use openmidas_testkit::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;

/// The errcode the first failing check of 9.1 answers for a changed body.
fn expected_for_body(body: &[u8], offer_id: &str) -> i64 {
    let Ok(object) = RawObject::parse(body) else {
        return 90018; // 3. not a JSON object
    };
    match v2::parse(Op::Pay, &object, BillNoRule::V2) {
        Err(_) => 90018,                                      // 4. a field
        Ok(request) if request.offer_id != offer_id => 90018, // 5. the offer
        Ok(_) => 90011,                                       // 6. pay_sig covers every byte
    }
}

/// The errcode the first failing check answers for a changed query (the query's values are
/// URL-safe, and the changed byte is a letter or digit, so no percent-decoding is involved).
fn expected_for_query(query: &str, token: &str, signed: &Signed) -> i64 {
    let value = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
    };
    match value("access_token") {
        None => return 41001,
        Some(t) if t != token => return 40001,
        Some(_) => {}
    }
    let (Some(signature), Some(sig_method), Some(pay_sig)) =
        (value("signature"), value("sig_method"), value("pay_sig"))
    else {
        return 90018;
    };
    if sig_method != "hmac_sha256" {
        return 90018;
    }
    if pay_sig != signed.pay_sig {
        return 90011;
    }
    if Some(signature) != signed.signature.as_deref() {
        return 90010;
    }
    0
}

#[derive(Debug, Clone)]
enum Change {
    /// Byte `at` (an index into the body) becomes `to`.
    Body { at: prop::sample::Index, to: u8 },
    /// Byte `at` of the query becomes the letter or digit `to` (unless it already is).
    Query { at: prop::sample::Index, to: char },
}

fn changes() -> impl Strategy<Value = Change> {
    prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, to)| Change::Body { at, to }),
        (
            any::<prop::sample::Index>(),
            proptest::char::ranges(vec!['0'..='9', 'a'..='z', 'A'..='Z'].into())
        )
            .prop_map(|(at, to)| Change::Query { at, to }),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_changed_byte_fails_its_check() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let token = server.token(&app).await;
    let session = server.login(&app, "p").await;
    server.recharge(&app, "p", "official", 1000).await;
    let body = serde_json::Value::Object(with(
        app.v2_fields("p"),
        json!({"bill_no": "tampered", "amount": 7, "payitem": "sword", "user_ip": "10.1.2.3"}),
    ))
    .to_string();
    let signed = openmidas_protocol::sign::v2::sign(Op::Pay.uri(), &body, &app.app_key, Some(&session));
    let query = signed.query(&token);

    let cases = std::env::var("OPENMIDAS_TAMPER_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::block_in_place(|| {
        runner.run(&changes(), |change| {
            handle.block_on(async {
                let (sent_query, sent_body, expected) = match change {
                    Change::Body { at, to } => {
                        let mut bytes = body.clone().into_bytes();
                        let i = at.index(bytes.len());
                        prop_assume!(bytes[i] != to);
                        bytes[i] = to;
                        let expected = expected_for_body(&bytes, &app.offer_id);
                        (query.clone(), bytes, expected)
                    }
                    Change::Query { at, to } => {
                        let mut chars: Vec<char> = query.chars().collect();
                        let i = at.index(chars.len());
                        prop_assume!(chars[i] != to && chars[i] != '&' && chars[i] != '=');
                        chars[i] = to;
                        let changed: String = chars.into_iter().collect();
                        let expected = expected_for_query(&changed, &token, &signed);
                        (changed, body.clone().into_bytes(), expected)
                    }
                };
                let (_, answer) = server
                    .post_raw(&format!("{}?{sent_query}", Op::Pay.uri()), sent_body.clone())
                    .await;
                prop_assert_eq!(
                    answer["errcode"].as_i64(),
                    Some(expected),
                    "query {} body {:?}: {}",
                    sent_query,
                    String::from_utf8_lossy(&sent_body),
                    answer
                );
                prop_assert_ne!(expected, 0, "a changed request must fail");
                Ok::<(), TestCaseError>(())
            })
        })
    });
    if let Err(e) = result {
        panic!("a changed request was not refused by the right check: {e}");
    }
    // Nothing was ever applied.
    let body = app.signed(GETBALANCE, &token, app.fields("p"), None);
    let (_, balance) = server.midas(GETBALANCE, &token, &body).await;
    assert_eq!(
        (balance["balance"].clone(), balance["cost_sum"].clone()),
        (json!(1000), json!(0))
    );
}
