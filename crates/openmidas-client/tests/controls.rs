//! The emulator controls through `AdminClient` against a real OpenMidas over HTTP: the
//! clock, fault rules (one firing seen in the request log), the request log with a
//! signature diagnosis, reset, state export and import, and a server in ledger mode.

mod support;

use std::sync::Arc;

use openmidas_client::codes::Common;
use openmidas_client::openmidas::{
    AdminClient, ClockChange, FaultRule, FaultWhen, Recharge, RequestFilter, ResetScope, RouteFamily,
};
use openmidas_client::{Client, Error, MidasEnv, PayRequest, Player};
use openmidas_ledger::Clock;
use openmidas_testkit::{Backend, Mode, TestApp, TestServer, ADMIN_TOKEN, START_MS};
use serde_json::json;

fn admin(server: &TestServer) -> AdminClient {
    AdminClient::new(&server.base_url, ADMIN_TOKEN).expect("admin client")
}

async fn recharge(server: &TestServer, app: &TestApp, openid: &str, n: i64) -> i64 {
    admin(server)
        .recharge(&Recharge {
            appid: app.appid.clone(),
            openid: openid.into(),
            env: MidasEnv::Official,
            buy_quantity: n,
            zone_id: None,
            out_trade_no: None,
        })
        .await
        .expect("recharge")
        .balance
}

const DAY_MS: i64 = 24 * 3600 * 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_moves_freezes_and_resets() {
    let server = TestServer::start().await;
    let admin = admin(&server);

    let start = admin.clock().await.unwrap();
    assert_eq!((start.now_ms, start.offset_ms, start.frozen), (START_MS, 0, false));

    let later = admin.move_clock(ClockChange::advance(48 * 3600)).await.unwrap();
    assert_eq!(
        (later.now_ms, later.offset_ms, later.frozen),
        (START_MS + 2 * DAY_MS, 2 * DAY_MS, false)
    );
    // A running clock runs with the machine's.
    server.clock.advance_ms(1500);
    assert_eq!(admin.clock().await.unwrap().now_ms, START_MS + 2 * DAY_MS + 1500);

    let frozen = admin.move_clock(ClockChange::freeze()).await.unwrap();
    assert!(frozen.frozen);
    server.clock.advance_ms(10_000);
    assert_eq!(
        admin.clock().await.unwrap().now_ms,
        frozen.now_ms,
        "a frozen clock stands still"
    );
    // Setting a frozen clock moves it and leaves it frozen.
    let set = admin.move_clock(ClockChange::set(START_MS + 7 * DAY_MS)).await.unwrap();
    assert_eq!((set.now_ms, set.frozen), (START_MS + 7 * DAY_MS, true));
    let back = admin.move_clock(ClockChange::advance(-3600)).await.unwrap();
    assert_eq!(back.now_ms, START_MS + 7 * DAY_MS - 3_600_000);

    let resumed = admin.move_clock(ClockChange::resume()).await.unwrap();
    assert!(!resumed.frozen);
    server.clock.advance_ms(250);
    assert_eq!(admin.clock().await.unwrap().now_ms, back.now_ms + 250);

    // The parts of one change apply in order: reset, set, advance, freeze.
    let combined = admin
        .move_clock(ClockChange {
            reset: true,
            advance_secs: Some(60),
            freeze: Some(true),
            ..ClockChange::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (combined.now_ms, combined.frozen),
        (server.clock.now_ms() + 60_000, true)
    );

    let reset = admin.move_clock(ClockChange::reset()).await.unwrap();
    assert_eq!(
        (reset.now_ms, reset.offset_ms, reset.frozen),
        (server.clock.now_ms(), 0, false)
    );

    // Nothing to do, or out of range: 40097 naming the problem.
    let e = admin.move_clock(ClockChange::default()).await.unwrap_err();
    assert!(e.is(Common::InvalidArgs), "{e:?}");
    let e = admin.move_clock(ClockChange::set(-1)).await.unwrap_err();
    assert!(e.is(Common::InvalidArgs) && e.to_string().contains("set_ms"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_after_a_pay_is_survived_and_shows_in_the_request_log() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let admin = admin(&server);
    let client = support::client(&server, &app);
    let player = Player::new("player-1");
    recharge(&server, &app, "player-1", 100).await;

    // "Debited, then -1", once: the client retries with the same bill_no and gets the
    // original result (90012), so the player is charged once.
    let rule = FaultRule::error(-1)
        .dialect(RouteFamily::V1)
        .path("/cgi-bin/midas/pay")
        .appid(&app.appid)
        .openid("player-1")
        .after()
        .times(1);
    let id = admin.add_fault(&rule).await.unwrap();
    let paid = client
        .pay(MidasEnv::Official, &player, &PayRequest::new("order-1", 30), None)
        .await
        .unwrap();
    assert_eq!((paid.balance, paid.replayed), (70, true));

    let listed = admin.faults(None, None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id, &listed[0].rule), (id, &rule));
    assert_eq!((listed[0].fired, listed[0].remaining), (1, Some(0)));

    let logged = admin
        .requests(&RequestFilter {
            openid: Some("player-1".into()),
            ..RequestFilter::default()
        })
        .await
        .unwrap();
    let paths: Vec<(&str, Option<i64>)> = logged.iter().map(|e| (e.path.as_str(), e.errcode)).collect();
    assert_eq!(
        paths,
        [
            ("/admin/recharge", Some(0)),
            ("/cgi-bin/midas/pay", Some(-1)),
            ("/cgi-bin/midas/pay", Some(90012))
        ],
        "{logged:#?}"
    );
    assert_eq!(logged[0].dialect, RouteFamily::Client);
    let pays = &logged[1..];
    let faulted = &pays[0];
    assert_eq!(
        (faulted.dialect, faulted.appid.as_deref(), faulted.status),
        (RouteFamily::V1, Some(app.appid.as_str()), Some(200))
    );
    assert!(
        faulted.answer.contains(&format!("system error rid: {}", faulted.id)),
        "{}",
        faulted.answer
    );
    let fault = faulted.fault.as_ref().expect("the rule fired");
    assert_eq!(
        (fault.id, fault.when, fault.errcode, fault.drop_connection),
        (id, FaultWhen::After, Some(-1), false)
    );
    let kept = fault
        .replaced_answer
        .as_deref()
        .expect("what the fault kept from the client");
    assert!(kept.contains("\"balance\":70"), "{kept}");
    assert!(pays[1].fault.is_none() && pays[1].diagnosis.is_none());
    // No secret in the log: the access token is cut, the AppKey never appears.
    assert!(faulted.query.contains("access_token=") && faulted.query.contains("..."));
    assert!(!format!("{pays:?}").contains(&app.app_key));

    // One entry in full, by id; filters by errcode; paging after an id.
    assert_eq!(&admin.request(&faulted.id).await.unwrap(), faulted);
    let failed = admin
        .requests(&RequestFilter {
            errcode: Some(-1),
            ..RequestFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.iter().map(|e| &e.id).collect::<Vec<_>>(), [&faulted.id]);
    let after = admin
        .requests(&RequestFilter {
            openid: Some("player-1".into()),
            after_id: Some(logged[0].id.clone()),
            limit: Some(1),
            ..RequestFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(after, pays[..1]);

    // Unknown ids: 404, told apart from bad input.
    let e = admin.request("00000000-00000000-00000000").await.unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e:?}");
    assert_eq!(e.errcode(), Some(40097));
    assert!(e.to_string().contains("no request"), "{e}");
    let e = admin
        .requests(&RequestFilter {
            after_id: Some("not-an-id-of-this-node".into()),
            ..RequestFilter::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e:?}");
    let e = admin
        .requests(&RequestFilter {
            limit: Some(0),
            ..RequestFilter::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Api(_)) && e.is(Common::InvalidArgs), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_rules_are_listed_paged_and_deleted() {
    let server = TestServer::start().await;
    let admin = admin(&server);
    let hang_up = FaultRule::hang_up().dialect(RouteFamily::V2).after();
    let slow = FaultRule::delay(50).path("/wxa/game/getbalance");
    let flaky = FaultRule::error(90011)
        .errmsg("pay_sig error")
        .probability(0.5, 7)
        .times(3);
    let mut ids = Vec::new();
    for rule in [&hang_up, &slow, &flaky] {
        ids.push(admin.add_fault(rule).await.unwrap());
    }
    let all = admin.faults(None, None).await.unwrap();
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), ids);
    assert_eq!(
        all.iter().map(|r| &r.rule).collect::<Vec<_>>(),
        [&hang_up, &slow, &flaky]
    );
    assert_eq!(
        all.iter().map(|r| (r.fired, r.remaining)).collect::<Vec<_>>(),
        [(0, None), (0, None), (0, Some(3))]
    );
    let page = admin.faults(Some(ids[0]), Some(1)).await.unwrap();
    assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[1]]);

    admin.delete_fault(ids[1]).await.unwrap();
    let e = admin.delete_fault(ids[1]).await.unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e:?}");
    assert!(e.to_string().contains("no fault rule"), "{e}");
    assert_eq!(
        admin
            .faults(None, Some(1000))
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        [ids[0], ids[2]]
    );

    // The server's checks reach the caller as 40097 naming the field.
    let both = FaultRule {
        drop_connection: true,
        ..FaultRule::error(-1)
    };
    let e = admin.add_fault(&both).await.unwrap_err();
    assert!(
        e.is(Common::InvalidArgs) && e.to_string().contains("drop_connection"),
        "{e}"
    );
    let e = admin.add_fault(&FaultRule::default()).await.unwrap_err();
    assert!(e.is(Common::InvalidArgs), "{e:?}");

    admin.delete_faults().await.unwrap();
    assert!(admin.faults(None, None).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_signature_is_diagnosed_in_the_log() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let admin = admin(&server);
    // The game server signs official calls with the sandbox AppKey.
    let clock = server.clock.clone();
    let confused = Client::builder(
        &app.appid,
        app.secret.as_str(),
        &app.offer_id,
        app.sandbox_app_key.as_str(),
    )
    .base_url(&server.base_url)
    .clock(Arc::new(move || clock.now_ms()))
    .retry(support::fast_retry())
    .build()
    .unwrap();
    let e = confused
        .get_balance(MidasEnv::Official, &Player::new("player-2"), None)
        .await
        .unwrap_err();
    let rid = e
        .api()
        .expect("an errcode")
        .errmsg
        .rsplit(" rid: ")
        .next()
        .unwrap()
        .to_string();

    let entry = admin.request(&rid).await.unwrap();
    assert_eq!(entry.path, "/cgi-bin/midas/getbalance");
    let diagnosis = entry.diagnosis.expect("a diagnosis");
    assert_eq!(
        (
            diagnosis.signature.as_str(),
            diagnosis.algorithm.as_str(),
            diagnosis.key.as_str()
        ),
        ("sig", "hmac_sha256", "<AppKey official>")
    );
    assert!(
        diagnosis.signed.contains("org_loc=/cgi-bin/midas/getbalance"),
        "{}",
        diagnosis.signed
    );
    assert_ne!(diagnosis.expected, diagnosis.received);
    assert!(!format!("{diagnosis:?}").contains(&app.sandbox_app_key));
    let cause = diagnosis.likely_cause.expect("the usual mistake is found");
    assert!(cause.contains("sandbox AppKey"), "{cause}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_and_state_round_trip() {
    let server = TestServer::start().await;
    let kept = server.create_app().await;
    let other = server.create_app().await;
    let admin = admin(&server);
    recharge(&server, &kept, "p", 40).await;
    recharge(&server, &other, "p", 50).await;

    let document = admin.export_state().await.unwrap();
    assert_eq!(document["version"], 4);
    assert_eq!(document["apps"].as_array().map(Vec::len), Some(2));

    // One app's state goes; the app and the other app's state stay.
    admin.reset(&ResetScope::app(&other.appid)).await.unwrap();
    let client = support::client(&server, &other);
    let balance = client
        .get_balance(MidasEnv::Official, &Player::new("p"), None)
        .await
        .unwrap();
    assert_eq!(balance.balance, 0);
    let kept_client = support::client(&server, &kept);
    let balance = kept_client
        .get_balance(MidasEnv::Official, &Player::new("p"), None)
        .await
        .unwrap();
    assert_eq!(balance.balance, 40);
    let e = admin.reset(&ResetScope::app("wxnosuchapp")).await.unwrap_err();
    assert!(e.is(Common::InvalidAppid), "{e:?}");

    // Everything, apps too: then the exported document brings it all back.
    admin.reset(&ResetScope::all().drop_apps()).await.unwrap();
    let empty = admin.export_state().await.unwrap();
    assert_eq!(empty["apps"], json!([]));
    assert!(admin.requests(&RequestFilter::default()).await.unwrap().is_empty());
    admin.import_state(&document).await.unwrap();
    assert_eq!(admin.export_state().await.unwrap(), document);

    // An invalid document changes nothing and names its problem.
    let mut broken = document.clone();
    broken["accounts"][0]["cash"] = json!(-1);
    let e = admin.import_state(&broken).await.unwrap_err();
    assert!(
        e.is(Common::InvalidArgs) && e.to_string().contains("accounts[0]"),
        "{e}"
    );
    assert_eq!(admin.export_state().await.unwrap(), document);

    let balance = support::client(&server, &other)
        .get_balance(MidasEnv::Official, &Player::new("p"), None)
        .await
        .unwrap();
    assert_eq!(balance.balance, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_admin_token_is_named() {
    let server = TestServer::start().await;
    let wrong = AdminClient::new(&server.base_url, "not-the-admin-token").unwrap();
    let e = wrong.clock().await.unwrap_err();
    assert_eq!(e.errcode(), Some(40001), "{e:?}");
    assert!(e.to_string().contains("admin token"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_mode_server_has_no_controls() {
    let server = TestServer::start_backend_mode(Backend::Sqlite, Mode::Ledger).await;
    let url = &server.base_url;
    let admin = AdminClient::new(url, ADMIN_TOKEN).unwrap();
    let e = admin.clock().await.unwrap_err();
    assert!(matches!(e, Error::LedgerMode), "{e:?}");
    assert!(e.to_string().contains("ledger mode"), "{e}");
    assert!(!e.retryable());
    for e in [
        admin.move_clock(ClockChange::reset()).await.unwrap_err(),
        admin.add_fault(&FaultRule::error(-1)).await.map(|_| ()).unwrap_err(),
        admin.faults(None, None).await.map(|_| ()).unwrap_err(),
        admin.delete_fault(1).await.unwrap_err(),
        admin.delete_faults().await.unwrap_err(),
        admin.requests(&RequestFilter::default()).await.map(|_| ()).unwrap_err(),
        admin.request("x").await.map(|_| ()).unwrap_err(),
        admin.reset(&ResetScope::all()).await.unwrap_err(),
        admin.export_state().await.map(|_| ()).unwrap_err(),
        admin.import_state(&json!({"version": 1})).await.unwrap_err(),
    ] {
        assert!(matches!(e, Error::LedgerMode), "{e:?}");
    }
    // The admin token is not even looked at.
    let wrong = AdminClient::new(url, "not-the-admin-token").unwrap();
    assert!(matches!(wrong.clock().await.unwrap_err(), Error::LedgerMode));
}
