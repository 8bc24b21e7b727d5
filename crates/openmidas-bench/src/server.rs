//! The server under test: spawned (pinned to its CPUs) or given by URL.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::load::Target;
use crate::Args;

/// A spawned `openmidas serve`, killed on drop.
pub struct Spawned {
    pub target: Target,
    child: tokio::process::Child,
    command: std::process::Command,
    _dir: Option<TempDir>,
}

/// A directory removed on drop.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn parse_cpus(list: &str) -> anyhow::Result<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in list.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.trim().parse::<usize>()?..=b.trim().parse::<usize>()?),
            None => cpus.push(part.trim().parse()?),
        }
    }
    Ok(cpus)
}

fn set_affinity(cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET only write inside it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Pins this process to one CPU, when the machine has it.
pub fn pin_self(cpu: usize) {
    let available = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if cpu < available {
        if let Err(e) = set_affinity(&[cpu]) {
            eprintln!("warning: cannot pin the generator to CPU {cpu}: {e}");
        }
    }
}

impl Spawned {
    pub async fn start(args: &Args) -> anyhow::Result<Spawned> {
        let bin = match &args.server_bin {
            Some(path) => path.clone(),
            None => std::env::current_exe()?.with_file_name("openmidas"),
        };
        if !bin.exists() {
            bail!(
                "no server binary at {} (build it: cargo build --release -p openmidas)",
                bin.display()
            );
        }
        let admin_token = format!("bench-{}", std::process::id());
        let (database, dir) = if args.database == "sqlite" {
            let dir = std::env::temp_dir().join(format!("openmidas-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            (dir.join("bench.db").display().to_string(), Some(TempDir(dir)))
        } else {
            (args.database.clone(), None)
        };
        let cpus = parse_cpus(&args.server_cpus)?;
        let available = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let cpus: Vec<usize> = cpus.into_iter().filter(|c| *c < available).collect();

        let mut command = std::process::Command::new(&bin);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &database])
            .args(&args.server_arg)
            .env("OPENMIDAS_ADMIN_TOKEN", &admin_token)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let cpus_for_respawn = cpus.clone();
        if !cpus.is_empty() {
            // SAFETY: set_affinity only calls sched_setaffinity, which is async-signal-safe.
            unsafe {
                command.pre_exec(move || set_affinity(&cpus));
            }
        }
        let mut respawnable = std::process::Command::new(&bin);
        respawnable
            .args(command.get_args())
            .envs(command.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
        respawnable
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if !cpus_for_respawn.is_empty() {
            // SAFETY: as above.
            unsafe {
                respawnable.pre_exec(move || set_affinity(&cpus_for_respawn));
            }
        }
        let (child, addr) = launch(command).await?;
        Ok(Spawned {
            target: Target { addr, admin_token },
            child,
            command: respawnable,
            _dir: dir,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Peak resident memory of the server so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// Stops the server with SIGTERM, starts it again on the same database, and answers how
    /// long it took from the spawn to the first answered `GET /healthz`.
    pub async fn restart_timed(&mut self) -> anyhow::Result<std::time::Duration> {
        if let Some(pid) = self.child.id() {
            // SAFETY: plain kill(2) on our own child.
            unsafe {
                libc::kill(pid as i32, libc::SIGTERM);
            }
        }
        let status = self.child.wait().await?;
        if !status.success() {
            bail!("server exited with {status} on SIGTERM");
        }
        let command = std::mem::replace(&mut self.command, std::process::Command::new("true"));
        let mut again = std::process::Command::new(command.get_program());
        again
            .args(command.get_args())
            .envs(command.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
        again
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let started = std::time::Instant::now();
        let (child, addr) = launch(command).await?;
        loop {
            if let Ok((200, _)) = crate::load::one_request(addr, "GET", "/healthz", None, bytes::Bytes::new()).await {
                break;
            }
            if started.elapsed() > std::time::Duration::from_secs(30) {
                bail!("no /healthz answer within 30 s of restart");
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let elapsed = started.elapsed();
        self.child = child;
        self.command = again;
        self.target.addr = addr;
        Ok(elapsed)
    }
}

/// Spawns the server and waits for its "listening on" line.
async fn launch(command: std::process::Command) -> anyhow::Result<(tokio::process::Child, SocketAddr)> {
    let mut child = tokio::process::Command::from(command)
        .kill_on_drop(true)
        .spawn()
        .context("spawn server")?;
    let stdout = child.stdout.take().context("server stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .context("server did not start within 30 s")??
            .context("server exited before listening")?;
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().parse::<SocketAddr>()?;
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, addr))
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
