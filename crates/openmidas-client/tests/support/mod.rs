//! Shared test helpers: a client wired to a TestServer, and a fault-injecting HTTP proxy.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openmidas_client::{Client, ClientBuilder, RetryPolicy, TokenEndpoint};
use openmidas_ledger::Clock as _;
use openmidas_testkit::{TestApp, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Fast retries, so fault tests take milliseconds (no timing is asserted).
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(10),
    }
}

/// A builder for `app` against `base_url`, on the server's manual clock.
pub fn builder(server: &TestServer, app: &TestApp, base_url: &str) -> ClientBuilder {
    let clock = server.clock.clone();
    Client::builder(&app.appid, app.secret.as_str(), &app.offer_id, app.app_key.as_str())
        .base_url(base_url)
        .sandbox_app_key(app.sandbox_app_key.as_str())
        .clock(Arc::new(move || clock.now_ms()))
        .retry(fast_retry())
        .token_endpoint(TokenEndpoint::Classic)
}

pub fn client(server: &TestServer, app: &TestApp) -> Client {
    builder(server, app, &server.base_url).build().expect("client")
}

/// What the proxy does with the next request to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub enum Fault {
    /// Answer `{"errcode":-1}` without forwarding (nothing happened upstream).
    ErrorBeforeForward,
    /// Forward (the server applies it), then answer `{"errcode":-1}` instead of its answer.
    ErrorAfterForward,
    /// Forward (the server applies it), then close the connection without an answer.
    DropAfterForward,
    /// Close the connection without forwarding.
    DropBeforeForward,
    /// Answer 502 with an HTML body, without forwarding.
    BadGatewayBeforeForward,
    /// Forward, then never answer (the client's timeout fires).
    StallAfterForward,
}

/// A request the proxy received, as sent by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The query string (without `?`; empty when none).
    pub query: String,
    pub body: Vec<u8>,
}

impl Seen {
    /// The value of a query parameter (no percent-decoding: the client's are URL-safe).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
    }
}

#[derive(Default)]
struct ProxyState {
    faults: Vec<(String, Fault)>,
    received: HashMap<String, usize>,
    forwarded: HashMap<String, usize>,
    seen: HashMap<String, Vec<Seen>>,
}

/// An HTTP/1.1 proxy in front of a TestServer that injects one-shot faults per path.
pub struct FaultProxy {
    pub base_url: String,
    state: Arc<Mutex<ProxyState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let upstream = upstream.to_string();
        let http = reqwest::Client::new();
        let task_state = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let state = task_state.clone();
                let upstream = upstream.clone();
                let http = http.clone();
                tokio::spawn(async move { connection(socket, state, upstream, http).await });
            }
        });
        FaultProxy {
            base_url: format!("http://{addr}"),
            state,
            task,
        }
    }

    /// The next request to `path` (no query) meets `fault`. Faults queue in order.
    pub fn inject(&self, path: &str, fault: Fault) {
        self.state.lock().unwrap().faults.push((path.to_string(), fault));
    }

    /// Requests to `path` the proxy received.
    pub fn received(&self, path: &str) -> usize {
        self.state.lock().unwrap().received.get(path).copied().unwrap_or(0)
    }

    /// Every request to `path` the proxy received, in order.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.state.lock().unwrap().seen.get(path).cloned().unwrap_or_default()
    }

    /// Requests to `path` the proxy passed to the server.
    pub fn forwarded(&self, path: &str) -> usize {
        self.state.lock().unwrap().forwarded.get(path).copied().unwrap_or(0)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn respond(socket: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body).await?;
    socket.flush().await
}

async fn connection(mut socket: TcpStream, state: Arc<Mutex<ProxyState>>, upstream: String, http: reqwest::Client) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let head_end = loop {
            if let Some(pos) = find(&buf, b"\r\n\r\n") {
                break pos + 4;
            }
            match socket.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next().unwrap_or_default().split(' ');
        let method = request_line.next().unwrap_or_default().to_string();
        let target = request_line.next().unwrap_or_default().to_string();
        let mut content_length = 0usize;
        let mut headers = Vec::new();
        for line in lines {
            if let Some((name, value)) = line.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_string());
                if name == "content-length" {
                    content_length = value.parse().unwrap_or(0);
                }
                if name == "authorization" || name == "content-type" {
                    headers.push((name, value));
                }
            }
        }
        while buf.len() < head_end + content_length {
            match socket.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
        let body = buf[head_end..head_end + content_length].to_vec();
        buf.drain(..head_end + content_length);
        let path = target.split('?').next().unwrap_or_default().to_string();

        let fault = {
            let mut s = state.lock().unwrap();
            *s.received.entry(path.clone()).or_default() += 1;
            let query = target.split_once('?').map(|(_, q)| q.to_string()).unwrap_or_default();
            s.seen.entry(path.clone()).or_default().push(Seen {
                query,
                body: body.clone(),
            });
            let index = s.faults.iter().position(|(p, _)| *p == path);
            index.map(|i| s.faults.remove(i).1)
        };
        const SYSTEM_ERROR: &[u8] = br#"{"errcode":-1,"errmsg":"system error hint: [injected]"}"#;
        match fault {
            Some(Fault::ErrorBeforeForward) => {
                if respond(&mut socket, 200, "application/json", SYSTEM_ERROR)
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            Some(Fault::BadGatewayBeforeForward) => {
                if respond(&mut socket, 502, "text/html", b"<html>502 Bad Gateway</html>")
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            Some(Fault::DropBeforeForward) => return,
            _ => {}
        }

        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut request = http.request(method, format!("{upstream}{target}")).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let Ok(response) = request.send().await else { return };
        let status = response.status().as_u16();
        let Ok(answer) = response.bytes().await else { return };
        *state.lock().unwrap().forwarded.entry(path.clone()).or_default() += 1;

        match fault {
            Some(Fault::DropAfterForward) => return,
            Some(Fault::StallAfterForward) => {
                // Hold the connection until the client gives up and closes it.
                let mut sink = [0u8; 64];
                while let Ok(n) = socket.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
                return;
            }
            Some(Fault::ErrorAfterForward) => {
                if respond(&mut socket, 200, "application/json", SYSTEM_ERROR)
                    .await
                    .is_err()
                {
                    return;
                }
            }
            _ => {
                if respond(&mut socket, status, "application/json", &answer).await.is_err() {
                    return;
                }
            }
        }
    }
}
