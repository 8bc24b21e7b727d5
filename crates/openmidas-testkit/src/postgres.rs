//! PostgreSQL for tests: one throwaway cluster per test process, one fresh database per
//! test.
//!
//! - With `OPENMIDAS_TEST_DATABASE_URL` set (`postgres://user:pass@host:port/db`, a role
//!   allowed to `CREATE DATABASE`), each test gets a new database on that server, named
//!   `openmidas_test_<pid>_<n>_<random>`; they are left there (drop them with
//!   `psql -c "DROP DATABASE ..."` when you like).
//! - Otherwise the first test that asks starts a private cluster from the installed
//!   binaries (`OPENMIDAS_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`, else
//!   `pg_config --bindir`, else `PATH`): `initdb` into a temporary directory, `pg_ctl start`
//!   on a free port of 127.0.0.1 with its socket in that directory. As root, the binaries
//!   run as the `postgres` user (PostgreSQL refuses to run as root).
//!
//!   The throwaway cluster runs with **`fsync=off`** and `full_page_writes=off` to keep the
//!   tests fast: a crash of the *machine* could lose its data, which a test cluster does not
//!   mind. `synchronous_commit` stays on, so COMMIT still means what it means in
//!   production as far as the server process is concerned. Never use these settings for a
//!   real database.
//!
//!   The cluster is stopped (`pg_ctl stop -m immediate`) and its directory removed when the
//!   test process exits (an `atexit` hook), and, should the process be killed, by a
//!   watchdog process that waits for the test process to disappear.
//!
//! If PostgreSQL cannot be started, the tests that need it fail with the reason: they
//! never skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// A fresh, empty database. Its URL works for `openmidas serve --database` too.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub url: String,
    pub name: String,
    /// Whether the database defaults to `default_transaction_isolation = serializable`.
    pub serializable: bool,
}

/// The cluster the tests of this process use.
struct Cluster {
    /// Connection string of a database to run `CREATE DATABASE` from.
    admin_url: String,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT_DATABASE: AtomicU64 = AtomicU64::new(1);

/// What the exit hook needs to stop a local cluster.
struct LocalCluster {
    dir: PathBuf,
    pg_ctl: PathBuf,
    as_postgres: bool,
}

static LOCAL: OnceLock<LocalCluster> = OnceLock::new();

fn cluster() -> &'static Cluster {
    let result = CLUSTER.get_or_init(|| match std::env::var("OPENMIDAS_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Ok(Cluster {
            admin_url: url.trim().to_string(),
        }),
        _ => start_local().map_err(|e| {
            format!(
                "cannot start a throwaway PostgreSQL for the tests: {e}\n\
                 Install PostgreSQL (Debian: apt-get install postgresql-15), point OPENMIDAS_PG_BIN at \
                 its bin directory, or set OPENMIDAS_TEST_DATABASE_URL to a server where this role may \
                 CREATE DATABASE."
            )
        }),
    });
    match result {
        Ok(cluster) => cluster,
        Err(e) => panic!("{e}"),
    }
}

/// A new empty database for one test; `serializable` makes SERIALIZABLE its default
/// isolation (`ALTER DATABASE ... SET default_transaction_isolation`).
pub async fn fresh_database(serializable: bool) -> TestDatabase {
    let cluster = tokio::task::spawn_blocking(cluster)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let n = NEXT_DATABASE.fetch_add(1, Ordering::Relaxed);
    let name = format!(
        "openmidas_test_{}_{n}_{:08x}",
        std::process::id(),
        rand::random::<u32>()
    );
    let (client, connection) = tokio_postgres::connect(&cluster.admin_url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL to create a database: {e}"));
    let connection = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    if serializable {
        client
            .batch_execute(&format!(
                "ALTER DATABASE {name} SET default_transaction_isolation TO 'serializable'"
            ))
            .await
            .unwrap_or_else(|e| panic!("ALTER DATABASE {name}: {e}"));
    }
    drop(client);
    let _ = connection.await;
    TestDatabase {
        url: with_database(&cluster.admin_url, &name),
        name,
        serializable,
    }
}

/// The same connection string with another database name (URL or key=value form).
pub fn with_database(url: &str, database: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let (before_query, query) = match rest.find('?') {
            Some(q) => (&rest[..q], &rest[q..]),
            None => (rest, ""),
        };
        let authority = match before_query.find('/') {
            Some(slash) => &before_query[..slash],
            None => before_query,
        };
        format!("{}{authority}/{database}{query}", &url[..scheme_end + 3])
    } else {
        let kept: Vec<&str> = url.split_whitespace().filter(|kv| !kv.starts_with("dbname=")).collect();
        format!("{} dbname={database}", kept.join(" "))
    }
}

fn find_bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("OPENMIDAS_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        if Path::new(dir).join("initdb").exists() {
            return Ok(PathBuf::from(dir));
        }
    }
    Err("no PostgreSQL binaries (initdb, pg_ctl) found".into())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A command for a PostgreSQL binary, run as `postgres` when we are root.
fn pg_command(program: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.arg("-u").arg("postgres").arg("--").arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn start_local() -> Result<Cluster, String> {
    let bin = find_bin_dir()?;
    let as_postgres = is_root();
    // As root the server runs as `postgres`, which must be able to reach the directory:
    // /tmp is world-traversable, a root-owned TMPDIR may not be.
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix("openmidas-pg-");
        b
    };
    let dir = if as_postgres {
        builder.tempdir_in("/tmp")
    } else {
        builder.tempdir()
    }
    .map_err(|e| format!("temp dir: {e}"))?
    .keep();
    let data = dir.join("data");
    let socket = dir.join("sock");
    std::fs::create_dir(&socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    if as_postgres {
        let mut chown = Command::new("chown");
        chown.arg("-R").arg("postgres:postgres").arg(&dir);
        run(
            chown,
            "chown of the test cluster directory to postgres (is there a postgres user?)",
        )?;
    }
    let pg_ctl = bin.join("pg_ctl");
    // From here on the directory (and, once started, the server) is cleaned up at exit.
    let _ = LOCAL.set(LocalCluster {
        dir: dir.clone(),
        pg_ctl: pg_ctl.clone(),
        as_postgres,
    });
    // SAFETY: registering a plain extern "C" function with no captured state.
    unsafe {
        libc::atexit(stop_local_at_exit);
    }
    spawn_watchdog(&dir, &data, &pg_ctl, as_postgres);

    let mut initdb = pg_command(&bin.join("initdb"), as_postgres);
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
    run(initdb, "initdb")?;

    let log = dir.join("postgres.log");
    let mut last_error = String::new();
    for _ in 0..5 {
        let port = free_port()?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
             -c synchronous_commit=on -c max_connections=500 -c shared_buffers=64MB",
            socket.display()
        );
        let mut start = pg_command(&pg_ctl, as_postgres);
        start
            .arg("start")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o"])
            .arg(options)
            // pg_ctl's children must not hold the test's stdout/stderr open.
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match run(start, "pg_ctl start") {
            Ok(()) => {
                return Ok(Cluster {
                    admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                })
            }
            Err(e) => {
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: String = tail
                    .lines()
                    .rev()
                    .take(15)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n");
                last_error = format!("{e}\nserver log:\n{tail}");
                // A port taken in between: try another.
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    Err(last_error)
}

/// A detached process that stops the cluster once this process is gone, however it died.
fn spawn_watchdog(dir: &Path, data: &Path, pg_ctl: &Path, as_postgres: bool) {
    use std::os::unix::process::CommandExt;
    let stop = if as_postgres {
        format!(
            "runuser -u postgres -- '{}' stop -m immediate -D '{}'",
            pg_ctl.display(),
            data.display()
        )
    } else {
        format!("'{}' stop -m immediate -D '{}'", pg_ctl.display(), data.display())
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         if [ -f '{data}/postmaster.pid' ]; then {stop} >/dev/null 2>&1; fi; rm -rf '{dir}'",
        pid = std::process::id(),
        data = data.display(),
        dir = dir.display(),
    );
    let spawned = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: a Ctrl-C or a kill of the test's group leaves it running.
        .process_group(0)
        .spawn();
    if let Err(e) = spawned {
        eprintln!("openmidas-testkit: cannot start the PostgreSQL watchdog: {e}");
    }
}

extern "C" fn stop_local_at_exit() {
    let Some(local) = LOCAL.get() else { return };
    let data = local.dir.join("data");
    if data.join("postmaster.pid").exists() {
        let mut stop = pg_command(&local.pg_ctl, local.as_postgres);
        stop.arg("stop")
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "-t", "30"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = stop.status();
    }
    let _ = std::fs::remove_dir_all(&local.dir);
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_replacement() {
        assert_eq!(
            with_database("postgres://u:p@h:5/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:5/x?sslmode=disable"
        );
        assert_eq!(with_database("postgresql://h", "x"), "postgresql://h/x");
        assert_eq!(with_database("host=h user=u dbname=a", "x"), "host=h user=u dbname=x");
    }
}
