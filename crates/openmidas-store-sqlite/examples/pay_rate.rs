//! The SQLite store's own pay rate, without HTTP: how many durable pays per second the
//! store alone completes when `concurrency` callers keep it busy. This is the ceiling of
//! `pay` through the server, whatever the HTTP layer costs; BENCHMARKS.md compares it with
//! the HTTP ceiling.
//!
//! ```sh
//! cargo run --release -p openmidas-store-sqlite --example pay_rate -- [durable|relaxed] [accounts] [seconds] [concurrency]
//! ```
//! Run it pinned to one core (`taskset -c 0 ...`) to compare with the server's figures.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openmidas_ledger::{AccountKey, Command, Env, Outcome, Store, StoreExt};
use openmidas_store_sqlite::{Durability, SqliteConfig, SqliteStore};

fn key(n: u64) -> AccountKey {
    AccountKey {
        env: Env::Official,
        appid: "wxpayrate00000001".into(),
        offer_id: "1450000001".into(),
        zone_id: "1".into(),
        openid: format!("player-{n:08}"),
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let durability = match args.first().map(String::as_str) {
        None | Some("durable") => Durability::Full,
        Some("relaxed") => Durability::Relaxed,
        Some(other) => anyhow::bail!("durability is durable or relaxed, not {other}"),
    };
    let number = |i: usize, default: u64| -> anyhow::Result<u64> {
        Ok(args.get(i).map(|a| a.parse()).transpose()?.unwrap_or(default))
    };
    let accounts = number(1, 10_000)?.max(1);
    let seconds = number(2, 10)?;
    let concurrency = number(3, 64)?.max(1);

    // One thread for the callers: like the server pinned to one core, the store's writer and
    // checkpointer threads share the machine with it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(SqliteConfig {
        durability,
        ..SqliteConfig::new(dir.path().join("pay-rate.db"))
    })?);
    runtime.block_on(async {
        // In waves smaller than the store's write queue.
        let all: Vec<u64> = (0..accounts).collect();
        for wave in all.chunks(1024) {
            let fund = wave.iter().map(|&n| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .execute(Command::recharge(key(n), &format!("fund-{n}"), 1_000_000_000, "wx", 1))
                        .await
                })
            });
            for task in fund.collect::<Vec<_>>() {
                task.await??;
            }
        }
        let cpu_before = process_cpu_us();

        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let callers = (0..concurrency).map(|caller| {
            let (store, done, stop) = (store.clone(), done.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let command = Command::pay(
                        key((caller * 7919 + n * 104_729) % accounts),
                        &format!("b{caller}-{n}"),
                        1,
                        2,
                    );
                    match store.execute(command).await? {
                        Outcome::Paid { .. } => {}
                        other => anyhow::bail!("pay not applied: {other:?}"),
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
                Ok(())
            })
        });
        let callers: Vec<_> = callers.collect();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let elapsed = start.elapsed().as_secs_f64();
        let pays = done.load(Ordering::Relaxed);
        for caller in callers {
            caller.await??;
        }
        let cpu_us = process_cpu_us() - cpu_before;
        println!(
            "{:?} SQLite store, {accounts} accounts, {concurrency} callers: {pays} pays in {elapsed:.1} s = {:.0} pays/s, {:.1} µs CPU per pay",
            durability,
            pays as f64 / elapsed,
            cpu_us as f64 / pays.max(1) as f64
        );
        store.shutdown().await;
        anyhow::Ok(())
    })
}

/// User + system CPU time of this process so far, in microseconds.
fn process_cpu_us() -> u64 {
    // SAFETY: getrusage fills the struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(usage.ru_utime) + us(usage.ru_stime)
}
