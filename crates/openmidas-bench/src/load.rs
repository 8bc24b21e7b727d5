//! The load loop: fixed concurrency over keep-alive HTTP/1.1 connections (closed loop), or
//! a fixed total rate (open loop, latency from each request's scheduled start).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where to send requests, and the admin token to provision with.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub admin_token: String,
}

impl Target {
    pub fn parse(url: &str, admin_token: String) -> anyhow::Result<Target> {
        let host = url.trim_start_matches("http://").trim_end_matches('/');
        let addr = host
            .parse()
            .with_context(|| format!("--url must be http://IP:PORT, not {url}"))?;
        Ok(Target { addr, admin_token })
    }
}

/// One request, ready to send.
#[derive(Clone)]
pub struct Prepared {
    pub method: &'static str,
    pub path: Bytes,
    pub body: Bytes,
}

pub struct LoadSpec {
    pub warmup: Duration,
    pub duration: Duration,
    /// Open loop at this total rate; `None`: closed loop, as fast as answers come.
    pub rate_per_sec: Option<f64>,
    /// The server's pid, to measure the CPU time it spends per request.
    pub server_pid: Option<u32>,
}

#[derive(Debug, Default)]
pub struct LoadResult {
    pub requests: u64,
    pub errors: u64,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// A connection ran out of pre-signed requests before the end.
    pub exhausted: bool,
    pub error_sample: Option<String>,
    /// Server CPU time (user + system) per measured request, in microseconds.
    pub server_cpu_us_per_request: Option<f64>,
}

/// A process's CPU time so far (user + system), in microseconds.
pub fn process_cpu_us(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / per_sec * 1e6)
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    prepared: &Prepared,
    auth: Option<&str>,
) -> anyhow::Result<(u16, Bytes)> {
    sender.ready().await?;
    let mut builder = Request::builder()
        .method(prepared.method)
        .uri(Uri::from_maybe_shared(prepared.path.clone())?)
        .header(HOST, "127.0.0.1")
        .header(CONTENT_TYPE, "application/json");
    if let Some(auth) = auth {
        builder = builder.header(hyper::header::AUTHORIZATION, auth);
    }
    let response = sender
        .send_request(builder.body(Full::new(prepared.body.clone()))?)
        .await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// One request on a fresh connection (provisioning).
pub async fn one_request(
    addr: SocketAddr,
    method: &'static str,
    path: &str,
    auth: Option<&str>,
    body: Bytes,
) -> anyhow::Result<(u16, Bytes)> {
    let mut sender = connect(addr).await?;
    let prepared = Prepared {
        method,
        path: Bytes::from(path.to_string()),
        body,
    };
    send(&mut sender, &prepared, auth).await
}

/// POSTs every body to an admin path over `connections` keep-alive connections; fails on
/// the first answer that is not errcode 0.
pub async fn admin_many(
    addr: SocketAddr,
    auth: &str,
    path: &str,
    bodies: Vec<Bytes>,
    connections: usize,
) -> anyhow::Result<()> {
    let path = Bytes::from(path.to_string());
    let lane_count = connections.max(1);
    let mut lanes: Vec<Vec<Bytes>> = vec![Vec::new(); lane_count];
    for (i, body) in bodies.into_iter().enumerate() {
        lanes[i % lane_count].push(body);
    }
    let mut tasks = Vec::new();
    for lane in lanes {
        let (auth, path) = (auth.to_string(), path.clone());
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr).await?;
            for body in lane {
                let prepared = Prepared {
                    method: "POST",
                    path: path.clone(),
                    body,
                };
                let (status, answer) = send(&mut sender, &prepared, Some(&auth)).await?;
                if !is_success(status, &answer) {
                    anyhow::bail!(
                        "provisioning failed: HTTP {status}: {}",
                        String::from_utf8_lossy(&answer)
                    );
                }
            }
            Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Whether an answer is a success: HTTP 200 and, for Midas calls, errcode 0.
fn is_success(status: u16, body: &[u8]) -> bool {
    status == 200 && (body.starts_with(b"{\"errcode\":0,") || body.starts_with(b"{\"status\":\"ok\"}"))
}

/// Waits until `at` more precisely than tokio's 1 ms timer: sleeps until about 1 ms before,
/// then yields until the instant passes. Sending up to 1 ms late would add up to 1 ms to
/// every open-loop latency (measured from the scheduled instant).
async fn wait_until(at: Instant) {
    let coarse = at.checked_sub(Duration::from_millis(1)).unwrap_or(at);
    if Instant::now() < coarse {
        tokio::time::sleep_until(coarse.into()).await;
    }
    while Instant::now() < at {
        tokio::task::yield_now().await;
    }
}

struct ConnectionResult {
    histogram: Histogram<u64>,
    requests: u64,
    errors: u64,
    error_sample: Option<String>,
}

pub async fn run_load(
    target: &Target,
    requests: Vec<Vec<Prepared>>,
    spec: &LoadSpec,
    cycle: bool,
) -> anyhow::Result<LoadResult> {
    let exhausted = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::with_capacity(requests.len());
    for _ in 0..requests.len() {
        senders.push(connect(target.addr).await?);
    }
    let start = Instant::now();
    let measure_from = start + spec.warmup;
    let end = measure_from + spec.duration;
    let interval = spec
        .rate_per_sec
        .map(|rate| Duration::from_secs_f64(requests.len() as f64 / rate));
    let cpu_sampler = spec.server_pid.map(|pid| {
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_from.into()).await;
            let before = process_cpu_us(pid);
            tokio::time::sleep_until(end.into()).await;
            Some(process_cpu_us(pid)? - before?)
        })
    });

    let mut tasks = Vec::new();
    for (c, (mut sender, list)) in senders.into_iter().zip(requests).enumerate() {
        let exhausted = exhausted.clone();
        tasks.push(tokio::spawn(async move {
            let mut result = ConnectionResult {
                histogram: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
                requests: 0,
                errors: 0,
                error_sample: None,
            };
            // Spread the open-loop schedules of the connections over one interval.
            let offset = interval.map(|i| i.mul_f64(c as f64 / 64.0).min(i)).unwrap_or_default();
            let mut index = 0usize;
            let mut sent = 0u32;
            loop {
                let scheduled = match interval {
                    Some(i) => {
                        let at = start + offset + i * sent;
                        wait_until(at).await;
                        at
                    }
                    None => Instant::now(),
                };
                if scheduled >= end {
                    break;
                }
                if index >= list.len() {
                    if !cycle {
                        exhausted.store(true, Ordering::Relaxed);
                        break;
                    }
                    index = 0;
                }
                let prepared = &list[index];
                index += 1;
                sent += 1;
                let outcome = send(&mut sender, prepared, None).await;
                let done = Instant::now();
                if scheduled < measure_from || done > end {
                    continue;
                }
                result.requests += 1;
                let latency_us = done.duration_since(scheduled).as_micros() as u64;
                let _ = result.histogram.record(latency_us.max(1));
                let ok = match &outcome {
                    Ok((status, body)) => is_success(*status, body),
                    Err(_) => false,
                };
                if !ok {
                    let broken = outcome.is_err();
                    result.errors += 1;
                    if result.error_sample.is_none() {
                        result.error_sample = Some(match outcome {
                            Ok((status, body)) => format!("HTTP {status}: {}", String::from_utf8_lossy(&body)),
                            Err(e) => format!("{e:#}"),
                        });
                    }
                    if broken {
                        break; // the connection is gone
                    }
                }
            }
            result
        }));
    }

    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut total = LoadResult::default();
    for task in tasks {
        let r = task.await?;
        histogram.add(&r.histogram)?;
        total.requests += r.requests;
        total.errors += r.errors;
        if total.error_sample.is_none() {
            total.error_sample = r.error_sample;
        }
    }
    if let Some(sampler) = cpu_sampler {
        if let Ok(Some(cpu_us)) = sampler.await {
            total.server_cpu_us_per_request = (total.requests > 0).then(|| cpu_us / total.requests as f64);
        }
    }
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    total.requests_per_sec = total.requests as f64 / spec.duration.as_secs_f64();
    total.p50_ms = ms(0.50);
    total.p90_ms = ms(0.90);
    total.p99_ms = ms(0.99);
    total.max_ms = histogram.max() as f64 / 1000.0;
    total.exhausted = exhausted.load(Ordering::Relaxed);
    Ok(total)
}
