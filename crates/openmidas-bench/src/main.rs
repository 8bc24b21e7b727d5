//! `openmidas-bench`: measures OpenMidas with signed Midas calls.
//!
//! It starts `openmidas serve` on a fresh database (or targets `--url`), provisions an app
//! and `--accounts` funded accounts through the admin API, signs every request before the
//! clock starts (each pay with a fresh bill_no), then runs each workload at fixed
//! concurrency over keep-alive HTTP/1.1 connections for a fixed time, and reports
//! requests/s, latency percentiles and errors. The `ceiling` workload (`GET /healthz`, a
//! fixed JSON answer through the same binary, router and middleware) is the HTTP ceiling
//! every other figure is divided by, measured in the same run.
//!
//! With `--half-rate`, each workload is measured again open-loop at half its maximum rate
//! (latency counted from each request's scheduled start, so queueing is not hidden).

mod load;
mod server;
mod workload;

use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;

use crate::load::{run_load, LoadResult, LoadSpec};
use crate::workload::{Provisioned, Workload};

#[derive(Parser, Debug)]
#[command(name = "openmidas-bench", about = "Load benchmark of OpenMidas")]
pub struct Args {
    /// Target a running server instead of spawning one (needs --admin-token).
    #[arg(long)]
    url: Option<String>,
    /// Admin token of the target server (spawned servers get a generated one).
    #[arg(long, env = "OPENMIDAS_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// The openmidas binary to spawn [default: next to this one].
    #[arg(long)]
    server_bin: Option<std::path::PathBuf>,
    /// Database of the spawned server: "sqlite" (a fresh file) or a postgres:// URL.
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// Extra arguments for `openmidas serve`.
    #[arg(long, allow_hyphen_values = true)]
    server_arg: Vec<String>,
    /// CPUs for the spawned server (taskset list), e.g. "0".
    #[arg(long, default_value = "0")]
    server_cpus: String,
    /// CPU this generator pins itself to, e.g. 1.
    #[arg(long, default_value_t = 1)]
    client_cpu: usize,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measured seconds per workload.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Unmeasured seconds before each workload.
    #[arg(long, default_value_t = 2)]
    warmup_secs: u64,
    /// Funded accounts.
    #[arg(long, default_value_t = 1000)]
    accounts: usize,
    /// Workloads, in order: ceiling, getbalance, pay, present, mixed.
    #[arg(long, value_delimiter = ',', default_value = "ceiling,getbalance,pay,mixed")]
    workloads: Vec<Workload>,
    /// Pre-signed requests per second of run (per workload), the budget of unique bill_nos.
    #[arg(long, default_value_t = 80_000)]
    presign_rate: u64,
    /// Also measure every workload open-loop at half its maximum rate.
    #[arg(long)]
    half_rate: bool,
    /// After the workloads, restart the spawned server on its database and report how long
    /// it takes to answer /healthz.
    #[arg(long)]
    measure_startup: bool,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.connections == 0 || args.duration_secs == 0 {
        bail!("--connections and --duration-secs must be at least 1");
    }
    server::pin_self(args.client_cpu);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let (target, mut server) = match &args.url {
        Some(url) => {
            let token = args.admin_token.clone().context("--url needs --admin-token")?;
            (load::Target::parse(url, token)?, None)
        }
        None => {
            let spawned = server::Spawned::start(&args).await?;
            (spawned.target.clone(), Some(spawned))
        }
    };
    eprintln!(
        "target http://{} ({} connections, {} s per workload)",
        target.addr, args.connections, args.duration_secs
    );
    let provisioned = Provisioned::setup(&target, args.accounts).await?;

    let mut results: Vec<(String, LoadResult)> = Vec::new();
    for &workload in &args.workloads {
        let budget = (args.presign_rate * (args.duration_secs + args.warmup_secs)) as usize;
        let requests = provisioned.presign(workload, args.connections, budget);
        let spec = LoadSpec {
            warmup: Duration::from_secs(args.warmup_secs),
            duration: Duration::from_secs(args.duration_secs),
            rate_per_sec: None,
            server_pid: server.as_ref().and_then(|s| s.pid()),
        };
        let cycle = Provisioned::reusable(workload);
        let result = run_load(&target, requests, &spec, cycle).await?;
        print_row(&workload.to_string(), &result);
        let max_rate = result.requests_per_sec;
        results.push((workload.to_string(), result));
        if args.half_rate && max_rate > 0.0 {
            let requests = provisioned.presign(workload, args.connections, budget);
            let spec = LoadSpec {
                rate_per_sec: Some(max_rate / 2.0),
                ..spec
            };
            let result = run_load(&target, requests, &spec, cycle).await?;
            let name = format!("{workload}@half");
            print_row(&name, &result);
            results.push((name, result));
        }
    }

    let peak_rss_kib = server.as_ref().and_then(|s| s.peak_rss_kib());
    let startup_ms = match (&mut server, args.measure_startup) {
        (Some(server), true) => Some(server.restart_timed().await?.as_secs_f64() * 1000.0),
        _ => None,
    };

    let ceiling = results
        .iter()
        .find(|(n, _)| n == "ceiling")
        .map(|(_, r)| r.requests_per_sec);
    println!();
    println!("| workload | req/s | x ceiling | p50 ms | p90 ms | p99 ms | max ms | errors | server CPU µs/req |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, r) in &results {
        let ratio = ceiling
            .filter(|c| *c > 0.0)
            .map(|c| format!("{:.2}", r.requests_per_sec / c))
            .unwrap_or_default();
        let cpu = r
            .server_cpu_us_per_request
            .map(|c| format!("{c:.1}"))
            .unwrap_or_default();
        println!(
            "| {name} | {:.0} | {ratio} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {cpu} |",
            r.requests_per_sec, r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms, r.errors
        );
    }
    println!();
    if let Some(kib) = peak_rss_kib {
        println!(
            "server peak resident memory: {:.1} MiB ({} accounts)",
            kib as f64 / 1024.0,
            args.accounts
        );
    }
    if let Some(ms) = startup_ms {
        println!("restart on the existing database to first /healthz answer: {ms:.1} ms");
    }
    if let Some(path) = &args.json {
        let rows: Vec<serde_json::Value> = results
            .iter()
            .map(|(name, r)| {
                serde_json::json!({
                    "workload": name, "requests_per_sec": r.requests_per_sec, "requests": r.requests,
                    "errors": r.errors, "p50_ms": r.p50_ms, "p90_ms": r.p90_ms, "p99_ms": r.p99_ms,
                    "max_ms": r.max_ms, "exhausted": r.exhausted,
                    "server_cpu_us_per_request": r.server_cpu_us_per_request,
                })
            })
            .collect();
        let report = serde_json::json!({
            "connections": args.connections, "duration_secs": args.duration_secs, "accounts": args.accounts,
            "database": args.database, "server_peak_rss_kib": peak_rss_kib, "startup_ms": startup_ms, "results": rows,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}

fn print_row(name: &str, r: &LoadResult) {
    eprintln!(
        "{name:>16}: {:>9.0} req/s  p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  max {:.3} ms  errors {}{}",
        r.requests_per_sec,
        r.p50_ms,
        r.p90_ms,
        r.p99_ms,
        r.max_ms,
        r.errors,
        if r.exhausted {
            "  (ran out of pre-signed requests: raise --presign-rate)"
        } else {
            ""
        }
    );
    if let Some(sample) = &r.error_sample {
        eprintln!("{:>16}  first error: {sample}", "");
    }
}
