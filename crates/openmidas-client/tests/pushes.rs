//! The push outbox through `AdminClient` (behaviour.md section 12) against a real OpenMidas
//! over HTTP: an app whose push URL is a small receiver started here, an item purchase
//! whose event the server's worker delivers, `pushes()` with its filters, a scheduled retry
//! after a refused delivery (on the server's manual clock), and `redeliver_push()`.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openmidas_client::codes::Common;
use openmidas_client::openmidas::{AdminClient, ItemPurchase, PushItem, PushQuery, PushStatus};
use openmidas_client::{MidasEnv, Secret, SessionKey};
use openmidas_testkit::{TestApp, TestServer, ADMIN_TOKEN, START_MS};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PUSH_TOKEN: &str = "pushtoken123";
const OPENID: &str = "o-push-player";

/// A game server's push URL: answers the URL check with its `echostr`, refuses the first
/// `refuse` events (`fail`) and acknowledges the rest (`success`).
struct Receiver {
    url: String,
    /// Events received (POSTs).
    events: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(refuse: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let addr = listener.local_addr().expect("receiver addr");
        let events = Arc::new(AtomicUsize::new(0));
        let counter = events.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move { serve(socket, counter, refuse).await });
            }
        });
        Receiver {
            url: format!("http://{addr}/push"),
            events,
            task,
        }
    }

    fn events(&self) -> usize {
        self.events.load(Ordering::SeqCst)
    }
}

/// One request per connection (`connection: close`).
async fn serve(mut socket: TcpStream, events: Arc<AtomicUsize>, refuse: usize) {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        match socket.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let content_length: usize = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + content_length {
        match socket.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
    let mut request_line = head.lines().next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default();
    let target = request_line.next().unwrap_or_default();
    let body = if method == "GET" {
        // The URL check: echostr is digits, sent as they are.
        let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("echostr="))
            .unwrap_or_default()
            .to_string()
    } else {
        let n = events.fetch_add(1, Ordering::SeqCst);
        if n < refuse { "fail" } else { "success" }.to_string()
    };
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(answer.as_bytes()).await;
    let _ = socket.shutdown().await;
}

fn admin(server: &TestServer) -> AdminClient {
    AdminClient::new(&server.base_url, ADMIN_TOKEN).expect("admin client")
}

async fn app_pushing_to(server: &TestServer, n: u64, receiver: &Receiver) -> TestApp {
    server
        .create_app_with(n, json!({"push": {"url": receiver.url, "token": PUSH_TOKEN}}))
        .await
}

/// A paid item purchase of `OPENID`, as the phone makes it.
async fn buy(server: &TestServer, app: &TestApp, out_trade_no: &str) {
    let session_key = server.login(app, OPENID).await;
    let purchase = ItemPurchase {
        appid: app.appid.clone(),
        offer_id: app.offer_id.clone(),
        openid: OPENID.into(),
        env: MidasEnv::Official,
        zone_id: None,
        platform: None,
        product_id: "sword".into(),
        quantity: 2,
        price_fen: 300,
        out_trade_no: out_trade_no.into(),
        attach: None,
        pay_later: false,
    };
    let bought = admin(server)
        .buy_item(
            &purchase,
            &Secret::new(app.app_key.as_str()),
            &SessionKey::new(session_key),
        )
        .await
        .expect("buy_item");
    assert_eq!(bought.status, "paid");
}

/// The app's only event, once `done` holds for it (the worker polls every 200 ms).
async fn wait_for(admin: &AdminClient, appid: &str, done: impl Fn(&PushItem) -> bool) -> PushItem {
    let query = PushQuery {
        appid: Some(appid.into()),
        ..PushQuery::default()
    };
    for _ in 0..200 {
        let items = admin.pushes(&query).await.expect("pushes");
        assert!(items.len() <= 1, "{items:?}");
        if let Some(item) = items.into_iter().next().filter(|i| done(i)) {
            return item;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the event did not get there: {:?}", admin.pushes(&query).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_purchase_is_pushed_listed_and_redelivered() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(0).await;
    let app = app_pushing_to(&server, 1, &receiver).await;
    let other = server.create_app_with(2, json!({})).await;
    let admin = admin(&server);

    buy(&server, &app, "item-1").await;
    let delivered = wait_for(&admin, &app.appid, |p| p.status == PushStatus::Delivered).await;
    assert_eq!(
        delivered,
        PushItem {
            id: delivered.id,
            appid: app.appid.clone(),
            env: MidasEnv::Official,
            event: "minigame_game_pay_goods_deliver_notify".into(),
            order_id: "item-1".into(),
            status: PushStatus::Delivered,
            attempts: 1,
            delivering: false,
            next_attempt_ms: delivered.next_attempt_ms,
            last_reply: "success".into(),
            created_ms: START_MS,
        }
    );
    assert_eq!(receiver.events(), 1);

    // Sent again now: one more attempt, still delivered.
    let again = admin.redeliver_push(delivered.id).await.expect("redeliver");
    assert_eq!(
        (again.id, again.status, again.attempts),
        (delivered.id, PushStatus::Delivered, 2)
    );
    assert_eq!(again.last_reply, "success");
    assert_eq!(receiver.events(), 2);
    let listed = admin.pushes(&PushQuery::default()).await.unwrap();
    assert_eq!(listed, vec![again.clone()], "the list shows the redelivery");

    // The filters.
    let count = |query: PushQuery| {
        let admin = admin.clone();
        async move { admin.pushes(&query).await.expect("pushes").len() }
    };
    let by_status = |status| PushQuery {
        status: Some(status),
        ..PushQuery::default()
    };
    assert_eq!(count(by_status(PushStatus::Delivered)).await, 1);
    assert_eq!(count(by_status(PushStatus::Pending)).await, 0);
    assert_eq!(count(by_status(PushStatus::Failed)).await, 0);
    let of_other = PushQuery {
        appid: Some(other.appid.clone()),
        ..PushQuery::default()
    };
    assert_eq!(count(of_other).await, 0, "an app without a push URL has no events");
    let after = PushQuery {
        after_id: Some(delivered.id),
        ..PushQuery::default()
    };
    assert_eq!(count(after).await, 0);
    let before = PushQuery {
        after_id: Some(delivered.id - 1),
        limit: Some(1),
        ..PushQuery::default()
    };
    assert_eq!(count(before).await, 1);

    // Refusals: a limit out of range, an unknown id, a wrong admin token.
    let e = admin
        .pushes(&PushQuery {
            limit: Some(1001),
            ..PushQuery::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.errcode(), Some(40097), "{e:?}");
    let e = admin.redeliver_push(delivered.id + 1000).await.unwrap_err();
    assert_eq!(e.errcode(), Some(40097), "{e:?}");
    assert!(e.to_string().contains("no push"), "{e}");
    let wrong = AdminClient::new(&server.base_url, "not-the-admin-token").unwrap();
    let e = wrong.pushes(&PushQuery::default()).await.unwrap_err();
    assert!(e.is(Common::AdminUnauthorized), "{e:?}");
    assert!(e.to_string().contains("admin token"), "{e}");
    let e = wrong.redeliver_push(delivered.id).await.unwrap_err();
    assert!(e.is(Common::AdminUnauthorized), "{e:?}");
    assert_eq!(receiver.events(), 2, "nothing was sent for a refused call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_event_is_retried_on_schedule_and_redelivered_on_demand() {
    let server = TestServer::start().await;
    // The first delivery is refused.
    let receiver = Receiver::start(1).await;
    let app = app_pushing_to(&server, 1, &receiver).await;
    let admin = admin(&server);

    buy(&server, &app, "item-2").await;
    let refused = wait_for(&admin, &app.appid, |p| p.attempts == 1 && !p.delivering).await;
    assert_eq!(refused.status, PushStatus::Pending);
    assert_eq!(refused.created_ms, START_MS);
    assert_eq!(refused.next_attempt_ms, START_MS + 15_000, "the first retry waits 15 s");
    assert!(refused.last_reply.contains("fail"), "{refused:?}");
    let pending = admin
        .pushes(&PushQuery {
            status: Some(PushStatus::Pending),
            ..PushQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(pending, vec![refused.clone()]);

    // The schedule follows the server's clock: nothing until 15 s have passed on it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        admin.pushes(&PushQuery::default()).await.unwrap(),
        vec![refused.clone()]
    );
    server.clock.advance_ms(15_000);
    let retried = wait_for(&admin, &app.appid, |p| p.status == PushStatus::Delivered).await;
    assert_eq!((retried.attempts, retried.last_reply.as_str()), (2, "success"));
    assert_eq!(receiver.events(), 2);

    // A redelivery on demand counts as an attempt too.
    let again = admin.redeliver_push(retried.id).await.unwrap();
    assert_eq!((again.status, again.attempts), (PushStatus::Delivered, 3));
    assert_eq!(receiver.events(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_read_and_write_their_wire_names() {
    for status in PushStatus::ALL {
        assert_eq!(PushStatus::parse(status.as_str()), Some(status));
        assert_eq!(json!(status), json!(status.as_str()));
    }
    assert_eq!(PushStatus::parse("other"), None);
    // A newer server's status is read, not refused.
    let status: PushStatus = serde_json::from_value(json!("parked")).unwrap();
    assert_eq!(status, PushStatus::Other);
}
