//! An unauthenticated client cannot make the server hold a large read buffer with a
//! request head it never finishes: a head longer than
//! [`openmidas_server::MAX_REQUEST_HEAD_BYTES`] is refused (431, no body) and the
//! connection closed at once, through a raw TCP socket. A head well within the bound is
//! still answered.

use std::time::Duration;

use openmidas_testkit::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Everything the server sends until it closes the connection (a reset counts as closed),
/// or `None` if it is still open after `wait`.
async fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let mut answer = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(wait, read).await.ok().map(|()| answer)
}

fn addr(server: &TestServer) -> String {
    server.base_url.trim_start_matches("http://").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_over_long_head_is_refused_and_closed() {
    let server = TestServer::start().await;
    let mut stream = TcpStream::connect(addr(&server)).await.expect("connect");
    let mut head = b"GET /wxa/game/getbalance HTTP/1.1\r\nHost: x\r\nX-Filler: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 4 * openmidas_server::MAX_REQUEST_HEAD_BYTES));
    // No end of the header: the server must not wait for one. It may close the
    // connection before everything is written.
    let _ = stream.write_all(&head).await;
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("the server keeps the connection open, holding the unfinished head");
    let text = String::from_utf8_lossy(&answer);
    if !answer.is_empty() {
        assert!(text.starts_with("HTTP/1.1 431 "), "answer: {text}");
        let body = text.split_once("\r\n\r\n").map(|(_, body)| body).unwrap_or("");
        assert!(body.is_empty(), "a body: {text}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_head_within_the_bound_is_answered() {
    let server = TestServer::start().await;
    let mut stream = TcpStream::connect(addr(&server)).await.expect("connect");
    let filler = "a".repeat(openmidas_server::MAX_REQUEST_HEAD_BYTES / 2);
    let head = format!("GET /admin/apps HTTP/1.1\r\nHost: x\r\nX-Filler: {filler}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("write");
    let answer = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("an answer and a close");
    let text = String::from_utf8_lossy(&answer);
    let status: u16 = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
    assert!(status != 431 && status < 500, "answer: {text}");
    server.stop().await;
}
