//! Known-answer vectors (tests/data/signatures.json, copied from the published worked
//! examples and SDK tests) and property tests of the signing functions.

use openmidas_protocol::client::game_item;
use openmidas_protocol::json::{signing_text, RawObject};
use openmidas_protocol::sign::{self, hex_matches};
use openmidas_protocol::v1::{self, Endpoint, Op};
use proptest::prelude::*;
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let text = include_str!("data/signatures.json");
    let root: Value = serde_json::from_str(text).expect("vectors parse");
    root["vectors"].as_array().expect("vectors array").clone()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("vector field {key}"))
}

#[test]
fn every_vector_passes() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 18, "all vectors are present");
    for v in &vectors {
        let name = s(v, "name");
        match s(v, "scheme") {
            "midas-v1" => {
                // Go through the same parser the server uses, so "numbers as written" is
                // exercised on the real path.
                let body = serde_json::to_vec(&v["body"]).unwrap();
                let object = RawObject::parse(&body).unwrap();
                let params: Vec<(String, String)> = object
                    .iter()
                    .map(|(k, raw)| (k.to_string(), signing_text(raw).into_owned()))
                    .collect();
                let pairs = || params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                let uri = s(v, "uri");
                let app_key = s(v, "app_key");
                assert_eq!(
                    sign::v1::sig_string(pairs(), uri, app_key),
                    s(v, "sig_string"),
                    "{name}"
                );
                let sig = sign::v1::sig(pairs(), uri, app_key);
                assert_eq!(sig, s(v, "sig"), "{name}");
                let token = s(v, "access_token");
                let session_key = s(v, "session_key");
                assert_eq!(
                    sign::v1::mp_sig_string(pairs(), token, &sig, uri, session_key),
                    s(v, "mp_sig_string"),
                    "{name}"
                );
                assert_eq!(
                    sign::v1::mp_sig(pairs(), token, &sig, uri, session_key),
                    s(v, "mp_sig"),
                    "{name}"
                );
                // The one signer gives the same signatures and sends the body's bytes.
                let text = String::from_utf8(body).unwrap();
                let signed = sign::v1::sign_json(&text, uri, app_key, Some((token, session_key))).unwrap();
                assert_eq!(signed.sig, s(v, "sig"), "{name}");
                assert_eq!(signed.mp.map(|m| m.1).as_deref(), Some(s(v, "mp_sig")), "{name}");
                assert!(signed.body.starts_with(text.trim_end_matches('}')), "{name}");
            }
            "pay-v2" | "xpay" => {
                let body = s(v, "raw_body").as_bytes();
                assert_eq!(
                    sign::v2::pay_sig(s(v, "app_key"), s(v, "uri"), body),
                    s(v, "pay_sig"),
                    "{name}"
                );
                let signed = sign::v2::sign(
                    s(v, "uri"),
                    s(v, "raw_body"),
                    s(v, "app_key"),
                    Some(s(v, "session_key")),
                );
                assert_eq!(signed.pay_sig, s(v, "pay_sig"), "{name}");
                assert_eq!(signed.pay_sig_message, format!("{}&{}", s(v, "uri"), s(v, "raw_body")));
                assert_eq!(
                    sign::v2::signature(s(v, "session_key"), body),
                    s(v, "signature"),
                    "{name}"
                );
            }
            "client-purchase" => {
                // pay_sig over `<client API>&signData`, signature over signData.
                let sign_data = s(v, "sign_data");
                let signed = sign::v2::sign(s(v, "uri"), sign_data, s(v, "app_key"), Some(s(v, "session_key")));
                assert_eq!(signed.pay_sig, s(v, "pay_sig"), "{name}");
                assert_eq!(signed.signature.as_deref(), Some(s(v, "signature")), "{name}");
                if s(v, "uri") == game_item::PAY_SIG_URI {
                    let data = game_item::parse_sign_data(sign_data);
                    assert!(data.is_ok(), "{name}: {data:?}");
                }
            }
            "push-minigame" => {
                // PayEventSig = HMAC-SHA256(AppKey, event & payload): pay_sig's construction.
                assert_eq!(
                    sign::v2::pay_sig(s(v, "app_key"), s(v, "event"), s(v, "payload").as_bytes()),
                    s(v, "pay_event_sig"),
                    "{name}"
                );
            }
            "push-plain" | "push-safe" => {
                // The query signature; tests/push.rs checks the rest (behaviour.md section 12).
                let signature =
                    openmidas_protocol::push::url_signature(s(v, "token"), s(v, "timestamp"), s(v, "nonce"));
                assert_eq!(signature, s(v, "signature"), "{name}");
            }
            "session" => {
                let body = s(v, "raw_body").as_bytes();
                assert_eq!(
                    sign::v2::signature(s(v, "session_key"), body),
                    s(v, "signature"),
                    "{name}"
                );
            }
            other => panic!("unknown scheme {other}"),
        }
    }
}

#[test]
fn vector_sigs_verify_through_validate() {
    for v in vectors().iter().filter(|v| v["scheme"] == "midas-v1") {
        let uri = s(v, "uri");
        let endpoint = Endpoint::all().find(|e| e.uri() == uri).expect("known uri");
        let mut body = v["body"].clone();
        body["sig"] = v["sig"].clone();
        body["mp_sig"] = v["mp_sig"].clone();
        let bytes = serde_json::to_vec(&body).unwrap();
        let req = v1::parse(endpoint, &RawObject::parse(&bytes).unwrap()).unwrap();
        let digest = sign::v1::sig_digest(req.signed_pairs(), uri, s(v, "app_key"));
        assert!(hex_matches(&digest, &req.sig));
        assert!(hex_matches(&digest, &req.sig.to_uppercase()));
        let mp = sign::v1::mp_sig_digest(
            req.signed_pairs(),
            s(v, "access_token"),
            &req.sig,
            uri,
            s(v, "session_key"),
        );
        assert!(hex_matches(&mp, req.mp_sig.as_deref().unwrap()));
        assert_eq!(endpoint.op == Op::GetBalance, req.call == v1::Call::GetBalance);
    }
}

fn params_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map("[a-z_]{1,12}", "[ -~]{0,40}", 1..12)
        .prop_map(|m| m.into_iter().filter(|(k, _)| k != "sig" && k != "mp_sig").collect())
}

proptest! {
    /// Signing then verifying round-trips for arbitrary parameter sets, whatever their order.
    #[test]
    fn sign_verify_round_trip(params in params_strategy(), key in "[A-Za-z0-9]{1,40}", session in "[A-Za-z0-9+/=]{1,30}", token in "[A-Za-z0-9_-]{1,60}") {
        let pairs = || params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let reversed = || params.iter().rev().map(|(k, v)| (k.as_str(), v.as_str()));
        let uri = "/cgi-bin/midas/pay";
        let sig = sign::v1::sig(pairs(), uri, &key);
        prop_assert!(hex_matches(&sign::v1::sig_digest(reversed(), uri, &key), &sig));
        let mp = sign::v1::mp_sig(pairs(), &token, &sig, uri, &session);
        prop_assert!(hex_matches(&sign::v1::mp_sig_digest(reversed(), &token, &sig, uri, &session), &mp));
    }

    /// Any single changed byte of a value, the key, the uri or the signature fails.
    #[test]
    fn any_changed_byte_fails(params in params_strategy(), key in "[A-Za-z0-9]{1,40}", pick in any::<prop::sample::Index>(), flip in 1u8..=127) {
        let pairs = || params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let uri = "/cgi-bin/midas/pay";
        let sig = sign::v1::sig(pairs(), uri, &key);

        // A changed value byte.
        let i = pick.index(params.len());
        let mut changed = params.clone();
        let mut bytes = changed[i].1.clone().into_bytes();
        if bytes.is_empty() { bytes.push(b'x'); } else { let j = pick.index(bytes.len()); bytes[j] ^= flip; }
        if let Ok(value) = String::from_utf8(bytes) {
            if value != params[i].1 {
                changed[i].1 = value;
                let digest = sign::v1::sig_digest(changed.iter().map(|(k, v)| (k.as_str(), v.as_str())), uri, &key);
                prop_assert!(!hex_matches(&digest, &sig));
            }
        }

        // A changed key byte.
        let mut key_bytes = key.clone().into_bytes();
        let j = pick.index(key_bytes.len());
        key_bytes[j] ^= flip;
        if let Ok(other_key) = String::from_utf8(key_bytes) {
            prop_assert!(!hex_matches(&sign::v1::sig_digest(pairs(), uri, &other_key), &sig));
        }

        // The sandbox uri.
        prop_assert!(!hex_matches(&sign::v1::sig_digest(pairs(), "/cgi-bin/midas/sandbox/pay", &key), &sig));

        // A changed hex digit of the signature (other than a case change).
        let mut sig_bytes = sig.clone().into_bytes();
        let j = pick.index(64);
        sig_bytes[j] = if sig_bytes[j] == b'0' { b'1' } else { b'0' };
        let digest = sign::v1::sig_digest(pairs(), uri, &key);
        prop_assert!(!hex_matches(&digest, &String::from_utf8(sig_bytes).unwrap()));
    }

    /// 2.0/xpay: any changed body byte fails.
    #[test]
    fn v2_changed_body_byte_fails(body in prop::collection::vec(any::<u8>(), 1..200), pick in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let sig = sign::v2::pay_sig("12345", "/xpay/currency_pay", &body);
        let mut changed = body.clone();
        let j = pick.index(changed.len());
        changed[j] ^= flip;
        prop_assert!(!hex_matches(&sign::v2::pay_sig_digest("12345", "/xpay/currency_pay", &changed), &sig));
        prop_assert!(hex_matches(&sign::v2::pay_sig_digest("12345", "/xpay/currency_pay", &body), &sig));
    }
}
