//! Every client call against a real OpenMidas over HTTP, and the token cache on the
//! server's manual clock.

mod support;

use std::sync::Arc;

use openmidas_client::codes::{Common, V1};
use openmidas_client::openmidas::{AdminClient, Recharge};
use openmidas_client::{Client, Error, MidasEnv, PayRequest, Player, SessionKey, TokenEndpoint};
use openmidas_ledger::{Clock as _, ManualClock};
use openmidas_testkit::{TestApp, TestServer, ADMIN_TOKEN, START_MS};

fn admin(server: &TestServer) -> AdminClient {
    AdminClient::new(&server.base_url, ADMIN_TOKEN).expect("admin client")
}

async fn login(server: &TestServer, client: &Client, openid: &str) -> SessionKey {
    let code = admin(server)
        .login_code(client.appid(), Some(openid))
        .await
        .expect("login code");
    assert_eq!(code.openid, openid);
    let session = client.code_to_session(&code.code).await.expect("jscode2session");
    assert_eq!(session.openid, openid);
    session.session_key
}

async fn recharge(server: &TestServer, app: &TestApp, openid: &str, env: MidasEnv, n: i64) -> i64 {
    admin(server)
        .recharge(&Recharge {
            appid: app.appid.clone(),
            openid: openid.into(),
            env,
            buy_quantity: n,
            zone_id: None,
            out_trade_no: None,
        })
        .await
        .expect("recharge")
        .balance
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_from_both_endpoints_and_their_errors() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::client(&server, &app);

    let classic = client.fetch_token().await.unwrap();
    assert_eq!(classic.expires_in, 7200);
    let stable = client.fetch_stable_token(false).await.unwrap();
    assert!(stable.expires_in > 300);
    assert_ne!(classic.access_token, stable.access_token);
    assert_eq!(
        client.fetch_stable_token(false).await.unwrap().access_token,
        stable.access_token
    );
    // force_refresh rotates, at most once per 30 s.
    assert_eq!(
        client.fetch_stable_token(true).await.unwrap().access_token,
        stable.access_token
    );
    server.clock.advance_secs(31);
    let forced = client.fetch_stable_token(true).await.unwrap();
    assert_ne!(forced.access_token, stable.access_token);

    let wrong_secret = Client::builder(&app.appid, "not-the-secret", &app.offer_id, app.app_key.as_str())
        .base_url(&server.base_url)
        .build()
        .unwrap();
    let e = wrong_secret.fetch_token().await.unwrap_err();
    assert!(e.is(Common::InvalidAppSecret), "{e:?}");
    assert!(!e.retryable());
    let e = wrong_secret.fetch_stable_token(false).await.unwrap_err();
    assert!(e.is(Common::InvalidAppSecret), "{e:?}");

    let unknown = Client::builder("wxnosuchapp", "s", "o", "k")
        .base_url(&server.base_url)
        .build()
        .unwrap();
    let e = unknown.access_token().await.unwrap_err();
    assert_eq!(e.errcode(), Some(40013), "{e:?}");
    assert!(e.api().unwrap().is(Common::InvalidAppid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_code_exchange_is_single_use() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::client(&server, &app);
    let code = admin(&server).login_code(&app.appid, None).await.unwrap();
    assert!(!code.openid.is_empty());
    let session = client.code_to_session(&code.code).await.unwrap();
    assert_eq!(session.openid, code.openid);
    assert!(!session.session_key.expose().is_empty());
    let again = client.code_to_session(&code.code).await.unwrap_err();
    assert!(again.is(Common::CodeBeenUsed), "{again:?}");
    let bad = client.code_to_session("nosuchcode").await.unwrap_err();
    assert!(bad.is(Common::InvalidCode), "{bad:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_pay_present_cancel_with_mp_sig_in_both_environments() {
    let server = TestServer::start().await;
    let app = server
        .create_app_with(1, serde_json::json!({"require_mp_sig": true}))
        .await;
    let client = support::client(&server, &app);
    let sk = login(&server, &client, "player-1").await;
    let player = Player::new("player-1");

    for env in [MidasEnv::Official, MidasEnv::Sandbox] {
        let fresh = client.get_balance(env, &player, Some(&sk)).await.unwrap();
        assert_eq!((fresh.balance, fresh.first_save), (0, 1));
        assert_eq!(recharge(&server, &app, "player-1", env, 100).await, 100);

        let presented = client.present(env, &player, "gift-1", 30, Some(&sk)).await.unwrap();
        assert_eq!(
            (presented.bill_no.as_str(), presented.balance, presented.replayed),
            ("gift-1", 130, false)
        );

        let mut request = PayRequest::new("order-1", 50);
        request.pay_item = Some("sword".into());
        request.app_remark = Some("level 3".into());
        let paid = client.pay(env, &player, &request, Some(&sk)).await.unwrap();
        assert_eq!((paid.balance, paid.used_gen_amt, paid.replayed), (80, 30, false));

        let b = client.get_balance(env, &player, Some(&sk)).await.unwrap();
        assert_eq!(
            (
                b.balance,
                b.gen_balance,
                b.first_save,
                b.save_amt,
                b.save_sum,
                b.cost_sum,
                b.present_sum
            ),
            (80, 0, 2, 100, 130, 50, 30)
        );

        let cancelled = client
            .cancel_pay(env, &player, "order-1", Some("sword"), Some(&sk))
            .await
            .unwrap();
        assert_eq!(
            (cancelled.bill_no.as_str(), cancelled.already_cancelled),
            ("order-1", false)
        );
        let b = client.get_balance(env, &player, Some(&sk)).await.unwrap();
        assert_eq!((b.balance, b.gen_balance, b.cost_sum), (130, 30, 0));

        // A second cancel, not after a lost answer, is an error.
        let e = client
            .cancel_pay(env, &player, "order-1", None, Some(&sk))
            .await
            .unwrap_err();
        assert!(e.is(V1::OrderAlreadyCancelled), "{e:?}");
        let e = client
            .cancel_pay(env, &player, "no-such-order", None, Some(&sk))
            .await
            .unwrap_err();
        assert!(e.is(V1::OrderNotFound), "{e:?}");
        let e = client
            .pay(env, &player, &PayRequest::new("too-much", 1000), Some(&sk))
            .await
            .unwrap_err();
        assert!(e.is(V1::InsufficientBalance), "{e:?}");
        assert_eq!(e.api().unwrap().meaning(), "balance is lower than amt");
    }

    // mp_sig is required by this app: without a session_key the call is refused.
    let e = client.get_balance(MidasEnv::Official, &player, None).await.unwrap_err();
    assert!(e.is(V1::MpSigError), "{e:?}");
    // A stale session_key (a newer login replaced it) no longer signs.
    let _newer = login(&server, &client, "player-1").await;
    let e = client
        .get_balance(MidasEnv::Official, &player, Some(&sk))
        .await
        .unwrap_err();
    assert!(e.is(V1::MpSigError), "{e:?}");
    // A player who never logged in has no session: 90010.
    let e = client
        .get_balance(MidasEnv::Official, &Player::new("stranger"), Some(&sk))
        .await
        .unwrap_err();
    assert!(e.is(V1::SessionNotFound), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_bill_no_with_the_same_parameters_is_success_unless_disabled() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::client(&server, &app);
    let player = Player::new("p");
    recharge(&server, &app, "p", MidasEnv::Official, 100).await;

    let first = client
        .pay(MidasEnv::Official, &player, &PayRequest::new("b1", 10), None)
        .await
        .unwrap();
    assert!(!first.replayed);
    let again = client
        .pay(MidasEnv::Official, &player, &PayRequest::new("b1", 10), None)
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!((again.balance, again.bill_no.as_str()), (first.balance, "b1"));
    // Different parameters under the same bill_no: a real conflict.
    let e = client
        .pay(MidasEnv::Official, &player, &PayRequest::new("b1", 11), None)
        .await
        .unwrap_err();
    assert!(e.is(V1::BillNoRepeated), "{e:?}");

    let strict = support::builder(&server, &app, &server.base_url)
        .accept_repeated_bill_no(false)
        .build()
        .unwrap();
    let e = strict
        .pay(MidasEnv::Official, &player, &PayRequest::new("b1", 10), None)
        .await
        .unwrap_err();
    assert!(e.is(V1::BillNoRepeated), "{e:?}");

    client
        .present(MidasEnv::Official, &player, "g1", 5, None)
        .await
        .unwrap();
    assert!(
        client
            .present(MidasEnv::Official, &player, "g1", 5, None)
            .await
            .unwrap()
            .replayed
    );

    let b = client.get_balance(MidasEnv::Official, &player, None).await.unwrap();
    assert_eq!((b.balance, b.cost_sum, b.present_sum), (95, 10, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_checks_and_missing_settings() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::client(&server, &app);
    let player = Player::new("p");
    let e = client
        .pay(MidasEnv::Official, &player, &PayRequest::new("bad bill", 1), None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidRequest(_)), "{e:?}");
    let e = client
        .present(MidasEnv::Official, &player, "ok", 0, None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidRequest(_)), "{e:?}");

    let no_sandbox = Client::builder(&app.appid, app.secret.as_str(), &app.offer_id, app.app_key.as_str())
        .base_url(&server.base_url)
        .build()
        .unwrap();
    let e = no_sandbox
        .get_balance(MidasEnv::Sandbox, &player, None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
    // The sandbox key signs only sandbox requests: the official key there is a sig error.
    let crossed = Client::builder(&app.appid, app.secret.as_str(), &app.offer_id, app.app_key.as_str())
        .base_url(&server.base_url)
        .sandbox_app_key(app.app_key.as_str())
        .build()
        .unwrap();
    let e = crossed.get_balance(MidasEnv::Sandbox, &player, None).await.unwrap_err();
    assert!(e.is(V1::SigError), "{e:?}");

    let e = Client::builder("", "s", "o", "k").build().unwrap_err();
    assert!(matches!(e, Error::Config(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_debug_output() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::client(&server, &app);
    let token = client.access_token().await.unwrap();
    let code = admin(&server).login_code(&app.appid, Some("p")).await.unwrap();
    let session = client.code_to_session(&code.code).await.unwrap();
    let text = format!(
        "{client:?} {:?} {token:?} {session:?} {:?} {:?}",
        client.tokens(),
        admin(&server),
        support::builder(&server, &app, &server.base_url)
    );
    for secret in [
        app.secret.as_str(),
        app.app_key.as_str(),
        app.sandbox_app_key.as_str(),
        token.expose(),
        session.session_key.expose(),
        ADMIN_TOKEN,
    ] {
        assert!(!text.contains(secret), "{secret} leaked in {text}");
    }
    assert!(text.contains(&app.appid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_cached_and_refreshed_five_minutes_before_expiry() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::client(&server, &app);
    let tokens = client.tokens();

    let t1 = client.access_token().await.unwrap();
    client
        .get_balance(MidasEnv::Official, &Player::new("p"), None)
        .await
        .unwrap();
    assert_eq!(tokens.fetch_count(), 1);

    server.clock.advance_secs(7200 - 300 - 1);
    assert_eq!(client.access_token().await.unwrap(), t1);
    assert_eq!(tokens.fetch_count(), 1);

    server.clock.advance_secs(1);
    let t2 = client.access_token().await.unwrap();
    assert_ne!(t2, t1);
    assert_eq!(tokens.fetch_count(), 2);
    client
        .get_balance(MidasEnv::Official, &Player::new("p"), None)
        .await
        .unwrap();
    assert_eq!(tokens.fetch_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stable_token_provider_follows_the_rotation() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::builder(&server, &app, &server.base_url)
        .token_endpoint(TokenEndpoint::Stable)
        .build()
        .unwrap();
    let t1 = client.access_token().await.unwrap();
    server.clock.advance_secs(7200 - 250);
    // 250 s left, within the margin: the cache asks again; the service rotates.
    let t2 = client.access_token().await.unwrap();
    assert_eq!(client.tokens().fetch_count(), 2);
    assert_ne!(t1, t2);
    assert_eq!(client.access_token().await.unwrap(), t2);
    assert_eq!(client.tokens().fetch_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_share_one_refresh() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::client(&server, &app);

    for round in 1..=2u64 {
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let c = client.clone();
            tasks.push(tokio::spawn(async move { c.access_token().await.unwrap() }));
        }
        let mut tokens = Vec::new();
        for t in tasks {
            tokens.push(t.await.unwrap());
        }
        assert!(tokens.iter().all(|t| *t == tokens[0]));
        assert_eq!(client.tokens().fetch_count(), round, "round {round}");
        server.clock.advance_secs(7200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_42001_is_refreshed_re_signed_and_retried_once() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    // The client's clock stands still: it believes its token is fresh.
    let frozen = Arc::new(ManualClock::new(START_MS));
    let client = support::builder(&server, &app, &server.base_url)
        .clock(Arc::new(move || frozen.now_ms()))
        .build()
        .unwrap();
    let sk = login(&server, &client, "p").await;
    recharge(&server, &app, "p", MidasEnv::Official, 50).await;
    client.access_token().await.unwrap();

    server.clock.advance_secs(7201);
    // mp_sig covers the token, so the retry must be re-signed to pass.
    let paid = client
        .pay(
            MidasEnv::Official,
            &Player::new("p"),
            &PayRequest::new("after-expiry", 20),
            Some(&sk),
        )
        .await
        .unwrap();
    assert_eq!((paid.balance, paid.replayed), (30, false));
    assert_eq!(client.tokens().fetch_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retired_token_40001_is_refreshed_and_retried_once() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let frozen = Arc::new(ManualClock::new(START_MS));
    let client = support::builder(&server, &app, &server.base_url)
        .clock(Arc::new(move || frozen.now_ms()))
        .build()
        .unwrap();
    let sk = login(&server, &client, "p").await;
    client.access_token().await.unwrap();
    // Another process fetches a token: ours is retired after the 300 s overlap.
    server.token(&app).await;
    server.clock.advance_secs(301);

    let b = client
        .get_balance(MidasEnv::Official, &Player::new("p"), Some(&sk))
        .await
        .unwrap();
    assert_eq!(b.balance, 0);
    assert_eq!(client.tokens().fetch_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_url_with_trailing_slash_works() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::builder(&server, &app, &format!("{}/", server.base_url))
        .build()
        .unwrap();
    assert_eq!(client.base_url(), server.base_url);
    client
        .get_balance(
            MidasEnv::Official,
            &Player::new("p").zone("2").pf("ios").user_ip("1.2.3.4"),
            None,
        )
        .await
        .unwrap();
}
