//! Retries that cannot double-charge: a fault-injecting proxy in front of a real OpenMidas
//! loses answers, answers -1 or drops connections; the account must move exactly once and
//! the client must report success.

mod support;

use std::time::Duration;

use openmidas_client::codes::Common;
use openmidas_client::openmidas::{AdminClient, Recharge};
use openmidas_client::{Client, Error, MidasEnv, PayRequest, Player, RetryPolicy, SessionKey};
use openmidas_testkit::{TestApp, TestServer, ADMIN_TOKEN};
use support::{Fault, FaultProxy};

const PAY: &str = "/cgi-bin/midas/pay";
const PRESENT: &str = "/cgi-bin/midas/present";
const CANCELPAY: &str = "/cgi-bin/midas/cancelpay";
const TOKEN: &str = "/cgi-bin/token";

struct Setup {
    server: TestServer,
    app: TestApp,
    proxy: FaultProxy,
    client: Client,
    /// A client that talks to the server directly, to read balances.
    direct: Client,
    session_key: SessionKey,
    player: Player,
}

async fn setup(initial_coins: i64) -> Setup {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let proxy = FaultProxy::start(&server.base_url).await;
    let client = support::builder(&server, &app, &proxy.base_url).build().unwrap();
    let direct = support::client(&server, &app);
    let admin = AdminClient::new(&server.base_url, ADMIN_TOKEN).unwrap();
    let code = admin.login_code(&app.appid, Some("player")).await.unwrap();
    let session_key = direct.code_to_session(&code.code).await.unwrap().session_key;
    if initial_coins > 0 {
        admin
            .recharge(&Recharge {
                appid: app.appid.clone(),
                openid: "player".into(),
                env: MidasEnv::Official,
                buy_quantity: initial_coins,
                zone_id: None,
                out_trade_no: None,
            })
            .await
            .unwrap();
    }
    // Warm the token cache so faults hit the payment call.
    client.access_token().await.unwrap();
    Setup {
        server,
        app,
        proxy,
        client,
        direct,
        session_key,
        player: Player::new("player"),
    }
}

impl Setup {
    async fn balance(&self) -> openmidas_client::Balance {
        self.direct
            .get_balance(MidasEnv::Official, &self.player, Some(&self.session_key))
            .await
            .unwrap()
    }

    async fn pay(&self, bill_no: &str, amt: i64) -> Result<openmidas_client::PayResult, Error> {
        self.client
            .pay(
                MidasEnv::Official,
                &self.player,
                &PayRequest::new(bill_no, amt),
                Some(&self.session_key),
            )
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_after_an_injected_system_error_is_applied_once() {
    let s = setup(100).await;
    s.proxy.inject(PAY, Fault::ErrorBeforeForward);
    let paid = s.pay("order-1", 30).await.unwrap();
    assert_eq!((paid.balance, paid.replayed), (70, false));
    assert_eq!((s.proxy.received(PAY), s.proxy.forwarded(PAY)), (2, 1));
    let b = s.balance().await;
    assert_eq!((b.balance, b.cost_sum), (70, 30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_whose_answer_was_replaced_by_system_error_is_not_charged_twice() {
    let s = setup(100).await;
    s.proxy.inject(PAY, Fault::ErrorAfterForward);
    let paid = s.pay("order-1", 30).await.unwrap();
    // The first attempt was applied; the retry got 90012 with the original result.
    assert_eq!((paid.balance, paid.used_gen_amt, paid.replayed), (70, 0, true));
    assert_eq!(s.proxy.forwarded(PAY), 2);
    let b = s.balance().await;
    assert_eq!((b.balance, b.cost_sum), (70, 30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_after_a_dropped_connection_is_charged_exactly_once() {
    let s = setup(100).await;
    s.proxy.inject(PAY, Fault::DropAfterForward);
    s.proxy.inject(PAY, Fault::DropAfterForward);
    let paid = s.pay("order-1", 40).await.unwrap();
    assert_eq!((paid.balance, paid.replayed), (60, true));
    assert_eq!((s.proxy.received(PAY), s.proxy.forwarded(PAY)), (3, 3));
    let b = s.balance().await;
    assert_eq!((b.balance, b.cost_sum), (60, 40));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_after_a_connection_dropped_before_forwarding_and_a_502() {
    let s = setup(100).await;
    s.proxy.inject(PAY, Fault::DropBeforeForward);
    s.proxy.inject(PAY, Fault::BadGatewayBeforeForward);
    let paid = s.pay("order-1", 10).await.unwrap();
    assert_eq!((paid.balance, paid.replayed), (90, false));
    assert_eq!((s.proxy.received(PAY), s.proxy.forwarded(PAY)), (3, 1));
    assert_eq!(s.balance().await.balance, 90);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_after_a_timeout_is_charged_exactly_once() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let proxy = FaultProxy::start(&server.base_url).await;
    let client = support::builder(&server, &app, &proxy.base_url)
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    server.recharge(&app, "player", "official", 100).await;
    client.access_token().await.unwrap();
    proxy.inject(PAY, Fault::StallAfterForward);
    let paid = client
        .pay(
            MidasEnv::Official,
            &Player::new("player"),
            &PayRequest::new("slow-1", 25),
            None,
        )
        .await
        .unwrap();
    assert_eq!((paid.balance, paid.replayed), (75, true));
    let b = support::client(&server, &app)
        .get_balance(MidasEnv::Official, &Player::new("player"), None)
        .await
        .unwrap();
    assert_eq!((b.balance, b.cost_sum), (75, 25));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn present_after_a_dropped_connection_is_given_exactly_once() {
    let s = setup(0).await;
    s.proxy.inject(PRESENT, Fault::DropAfterForward);
    let given = s
        .client
        .present(MidasEnv::Official, &s.player, "gift-1", 15, Some(&s.session_key))
        .await
        .unwrap();
    assert_eq!((given.balance, given.replayed), (15, true));
    let b = s.balance().await;
    assert_eq!((b.balance, b.gen_balance, b.present_sum), (15, 15, 15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_after_a_dropped_connection_restores_the_coins_once() {
    let s = setup(100).await;
    s.pay("order-1", 60).await.unwrap();
    s.proxy.inject(CANCELPAY, Fault::DropAfterForward);
    let cancelled = s
        .client
        .cancel_pay(MidasEnv::Official, &s.player, "order-1", None, Some(&s.session_key))
        .await
        .unwrap();
    assert_eq!(
        (cancelled.bill_no.as_str(), cancelled.already_cancelled),
        ("order-1", true)
    );
    assert_eq!(s.proxy.forwarded(CANCELPAY), 2);
    let b = s.balance().await;
    assert_eq!((b.balance, b.cost_sum), (100, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_system_errors_give_up_with_a_retryable_error_and_no_charge() {
    let s = setup(100).await;
    for _ in 0..4 {
        s.proxy.inject(PAY, Fault::ErrorBeforeForward);
    }
    let e = s.pay("order-1", 10).await.unwrap_err();
    assert!(e.is(Common::SystemError), "{e:?}");
    assert!(e.retryable());
    assert_eq!((s.proxy.received(PAY), s.proxy.forwarded(PAY)), (4, 0));
    assert_eq!(s.balance().await.balance, 100);
    // The caller retries later with the same bill_no: applied once.
    assert_eq!(s.pay("order-1", 10).await.unwrap().balance, 90);
    assert_eq!(s.balance().await.balance, 90);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_retries_a_lost_answer_is_reported_and_a_later_retry_is_safe() {
    let s = setup(100).await;
    let once = support::builder(&s.server, &s.app, &s.proxy.base_url)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    s.proxy.inject(PAY, Fault::DropAfterForward);
    let e = once
        .pay(MidasEnv::Official, &s.player, &PayRequest::new("order-1", 10), None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    assert!(e.retryable());
    // The request URL carries the access_token: the error must not.
    let token = once.access_token().await.unwrap();
    let shown = format!("{e} {e:?} {:?}", std::error::Error::source(&e));
    assert!(
        !shown.contains(token.expose()) && !shown.contains("access_token="),
        "{shown}"
    );
    let paid = once
        .pay(MidasEnv::Official, &s.player, &PayRequest::new("order-1", 10), None)
        .await
        .unwrap();
    assert!(paid.replayed);
    assert_eq!(s.balance().await.balance, 90);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_fetch_is_retried_after_a_system_error() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let proxy = FaultProxy::start(&server.base_url).await;
    let client = support::builder(&server, &app, &proxy.base_url).build().unwrap();
    proxy.inject(TOKEN, Fault::ErrorBeforeForward);
    proxy.inject(TOKEN, Fault::DropBeforeForward);
    client.access_token().await.unwrap();
    assert_eq!((proxy.received(TOKEN), proxy.forwarded(TOKEN)), (3, 1));
    assert_eq!(client.tokens().fetch_count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_with_an_expired_token_share_one_refresh() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    // The client's clock stands still, so only the service's 42001 reveals the expiry.
    let frozen = std::sync::Arc::new(openmidas_ledger::ManualClock::new(openmidas_testkit::START_MS));
    let client = support::builder(&server, &app, &server.base_url)
        .clock(std::sync::Arc::new(move || openmidas_ledger::Clock::now_ms(&*frozen)))
        .build()
        .unwrap();
    client.access_token().await.unwrap();
    server.clock.advance_secs(7201);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            c.get_balance(MidasEnv::Official, &Player::new(format!("p{i}")), None)
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(client.tokens().fetch_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_errors_never_show_secrets() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    // Nothing listens there: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let client = support::builder(&server, &app, &url)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let e = client.fetch_token().await.unwrap_err();
    let e2 = client.code_to_session("some-login-code").await.unwrap_err();
    for shown in [format!("{e} {e:?}"), format!("{e2} {e2:?}")] {
        assert!(
            !shown.contains(&app.secret) && !shown.contains("some-login-code"),
            "{shown}"
        );
    }
}
