//! `openmidas healthcheck`: GET /healthz of a server on this machine; exit 0 when it
//! answers 200, 1 otherwise. For container health checks: the image (distroless) has no
//! curl or wget, and this needs nothing but the binary (std only: no runtime, no resolver
//! for the default address).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;

#[derive(Args, Debug)]
pub struct HealthcheckArgs {
    /// host:port of the server [default: OPENMIDAS_LISTEN's port on the loopback
    /// (0.0.0.0 and [::] become 127.0.0.1 and [::1]), else 127.0.0.1:8080].
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3)]
    timeout_secs: u64,
}

pub fn run(args: HealthcheckArgs) -> anyhow::Result<()> {
    let target = args
        .addr
        .unwrap_or_else(|| local_target(std::env::var("OPENMIDAS_LISTEN").ok().as_deref()));
    let timeout = Duration::from_secs(args.timeout_secs.max(1));
    let addr = target
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {target}"))?
        .next()
        .with_context(|| format!("no address for {target}"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n").as_bytes())
        .with_context(|| format!("cannot send to {addr}"))?;
    // Only the status line matters.
    let mut head = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let n = stream
            .read(&mut chunk)
            .with_context(|| format!("no answer from {addr}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let status_line = head.lines().next().unwrap_or("");
    match status_line.split(' ').nth(1) {
        Some("200") => Ok(()),
        _ => bail!("GET /healthz on {addr} answered {status_line:?}"),
    }
}

/// Where a server listening on `listen` is reached from this machine.
fn local_target(listen: Option<&str>) -> String {
    match listen.map(|l| (l, l.parse::<SocketAddr>())) {
        None | Some(("", _)) => "127.0.0.1:8080".to_string(),
        Some((_, Ok(SocketAddr::V4(a)))) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        Some((_, Ok(SocketAddr::V6(a)))) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        Some((_, Ok(a))) => a.to_string(),
        // A host name (localhost:8080): resolved as given.
        Some((l, Err(_))) => l.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::local_target;

    #[test]
    fn local_targets() {
        assert_eq!(local_target(None), "127.0.0.1:8080");
        assert_eq!(local_target(Some("")), "127.0.0.1:8080");
        assert_eq!(local_target(Some("0.0.0.0:9000")), "127.0.0.1:9000");
        assert_eq!(local_target(Some("[::]:9000")), "[::1]:9000");
        assert_eq!(local_target(Some("127.0.0.2:8080")), "127.0.0.2:8080");
        assert_eq!(local_target(Some("localhost:8080")), "localhost:8080");
    }
}
