//! `openmidas serve`: open the store, make sure there is an app to play with, print how to
//! use it, serve until SIGTERM / Ctrl-C, drain, exit 0.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use openmidas_ledger::{App, Clock, Store, StoreExt, SystemClock};
use openmidas_server::controls::EmulatorOptions;
use openmidas_server::listener::{LimitedListener, DEFAULT_MAX_CONNECTIONS};
use openmidas_server::{secrets, AdminToken, AppState};
use openmidas_store_postgres::{Durability as PgDurability, PgConfig, PostgresStore};
use openmidas_store_sqlite::{Durability, SqliteConfig, SqliteStore};

use crate::config::{DatabaseUrl, FileConfig, DEFAULT_DATABASE, DEFAULT_LISTEN};

/// The appid of the app created on first run.
pub const DEMO_APPID: &str = "wxopenmidasdemo";

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "OPENMIDAS_LISTEN")]
    listen: Option<String>,
    /// SQLite file (or sqlite://PATH), or postgres://... [default: openmidas.db in the working directory].
    #[arg(long, env = "OPENMIDAS_DATABASE_URL")]
    database: Option<String>,
    /// Bearer token of the /admin routes [default: generated and printed at start].
    #[arg(long, env = "OPENMIDAS_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// TOML config file; flags and environment variables override it.
    #[arg(long, env = "OPENMIDAS_CONFIG")]
    config: Option<PathBuf>,
    /// full: fsync every group commit (default); relaxed: survive process crashes only.
    #[arg(long, value_enum, env = "OPENMIDAS_DURABILITY")]
    durability: Option<DurabilityArg>,
    /// Most open connections [default: 4096].
    #[arg(long, env = "OPENMIDAS_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// After SIGTERM, how long in-flight requests may take before stalled connections are
    /// dropped and the process exits [default: 10].
    #[arg(long, env = "OPENMIDAS_DRAIN_TIMEOUT_SECS", value_name = "SECS")]
    drain_timeout_secs: Option<u64>,
    /// How long a client may take to send request headers, and how long a keep-alive
    /// connection may sit idle, before it is closed [default: 30].
    #[arg(long, env = "OPENMIDAS_HEADER_READ_TIMEOUT_SECS", value_name = "SECS")]
    header_read_timeout_secs: Option<u64>,
    /// Log format [default: text].
    #[arg(long, value_enum, env = "OPENMIDAS_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    /// emulator: clock, faults, request log, reset (for tests and CI); ledger: none of
    /// them, for production [default: emulator].
    #[arg(long, value_enum, env = "OPENMIDAS_MODE")]
    mode: Option<Mode>,
}

/// What the server is for (behaviour.md section 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    Emulator,
    Ledger,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DurabilityArg {
    Full,
    Relaxed,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal: log files and collectors get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let log_format = match (args.log_format, file.log_format.as_deref()) {
        (Some(format), _) => format,
        (None, None | Some("text")) => LogFormat::Text,
        (None, Some("json")) => LogFormat::Json,
        (None, Some(other)) => bail!("log_format must be \"text\" or \"json\", not {other:?}"),
    };
    init_logging(log_format);
    let listen = args
        .listen
        .clone()
        .or(file.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let database = args
        .database
        .clone()
        .or(file.database.clone())
        .unwrap_or_else(|| DEFAULT_DATABASE.to_string());
    let durability = match (args.durability, file.durability.as_deref()) {
        (Some(DurabilityArg::Full), _) | (None, None | Some("full")) => Durability::Full,
        (Some(DurabilityArg::Relaxed), _) | (None, Some("relaxed")) => Durability::Relaxed,
        (None, Some(other)) => bail!("durability must be \"full\" or \"relaxed\", not {other:?}"),
    };
    let max_connections = args
        .max_connections
        .or(file.max_connections)
        .unwrap_or(DEFAULT_MAX_CONNECTIONS);
    if max_connections == 0 {
        bail!("max_connections must be at least 1");
    }
    let configured_admin_token = args
        .admin_token
        .clone()
        .or(file.admin_token.clone())
        .filter(|t| !t.is_empty());
    let mode = match (args.mode, file.mode.as_deref()) {
        (Some(mode), _) => mode,
        (None, None | Some("emulator")) => Mode::Emulator,
        (None, Some("ledger")) => Mode::Ledger,
        (None, Some(other)) => bail!("mode must be \"emulator\" or \"ledger\", not {other:?}"),
    };
    let emulator_options = {
        let defaults = EmulatorOptions::default();
        let entries = file.request_log_entries.unwrap_or(defaults.log_entries);
        let mib = file.request_log_mib.unwrap_or(defaults.log_bytes >> 20);
        if entries == 0 || mib == 0 {
            bail!("request_log_entries and request_log_mib must be at least 1");
        }
        EmulatorOptions {
            log_entries: entries,
            log_bytes: mib.saturating_mul(1 << 20),
        }
    };
    let database_url = DatabaseUrl::parse(&database)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start tokio")?;
    // Listen first: a server that cannot bind leaves no database behind.
    let listener = runtime
        .block_on(LimitedListener::bind(&listen, max_connections))
        .with_context(|| format!("cannot listen on {listen}"))?;
    let (admin_token, token_origin) = match configured_admin_token {
        Some(token) => (token, TokenOrigin::Configured),
        None => match &database_url {
            DatabaseUrl::Sqlite(path) => kept_admin_token(path)?,
            DatabaseUrl::Postgres(_) => (secrets::alphanumeric(32), TokenOrigin::ThisRun),
        },
    };
    let store: Arc<dyn Store> = match database_url {
        DatabaseUrl::Sqlite(path) => {
            let config = SqliteConfig {
                durability,
                ..SqliteConfig::new(&path)
            };
            tracing::info!(path = %path.display(), ?durability, "opening SQLite store");
            Arc::new(SqliteStore::open(config)?)
        }
        DatabaseUrl::Postgres(url) => {
            let config = PgConfig {
                durability: match durability {
                    Durability::Full => PgDurability::Full,
                    Durability::Relaxed => PgDurability::Relaxed,
                },
                ..PgConfig::new(url)
            };
            tracing::info!(?durability, "opening PostgreSQL store");
            Arc::new(runtime.block_on(PostgresStore::open(config))?)
        }
    };

    let defaults = openmidas_server::ServeOptions::default();
    let serve_options = openmidas_server::ServeOptions {
        drain_timeout: args
            .drain_timeout_secs
            .or(file.drain_timeout_secs)
            .map(std::time::Duration::from_secs)
            .unwrap_or(defaults.drain_timeout),
        header_read_timeout: match args.header_read_timeout_secs.or(file.header_read_timeout_secs) {
            Some(0) => bail!("--header-read-timeout-secs must be at least 1"),
            Some(secs) => std::time::Duration::from_secs(secs),
            None => defaults.header_read_timeout,
        },
    };
    runtime.block_on(async move {
        let machine_clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let state = match mode {
            Mode::Emulator => {
                AppState::emulator(
                    store.clone(),
                    machine_clock,
                    AdminToken::new(&admin_token),
                    emulator_options,
                )
                .await?
            }
            Mode::Ledger => AppState::ledger(store.clone(), machine_clock, AdminToken::new(&admin_token)),
        };
        // Apps are stamped with the server's time (the emulator's clock in emulator mode).
        let now_ms = state.clock.now_ms();
        for app in &file.apps {
            let app = app.to_app()?;
            // Checked as WeChat checks a push URL; the receiver may not be up yet, so a
            // failed check is reported and deliveries retry (behaviour.md section 12).
            if let Some(push) = &app.push {
                let http = openmidas_server::push::http_client();
                if let Err(why) = openmidas_server::push::verify::check(&http, push, now_ms).await {
                    tracing::warn!(appid = %app.appid, url = %push.url, "push URL check failed: {why}");
                }
            }
            tracing::info!(appid = %app.appid, "app from config");
            store.upsert_app(app, now_ms).await?;
        }
        if mode == Mode::Emulator && file.demo_app.unwrap_or(true) && store.apps().await?.is_empty() {
            store.upsert_app(demo_app(), now_ms).await?;
            tracing::info!(appid = DEMO_APPID, "created the demo app");
        }

        let addr = listener.local_addr()?;
        let development = token_origin != TokenOrigin::Configured;
        let demo = if development {
            store.app(DEMO_APPID).await?
        } else {
            None
        };
        print_banner(addr, mode, &admin_token, token_origin, demo.as_deref())?;
        tracing::info!(%addr, max_connections, ?mode, "listening");

        openmidas_server::serve_with(listener, state, shutdown_signal(), serve_options).await?;
        tracing::info!("stopped cleanly");
        Ok(())
    })
}

fn demo_app() -> App {
    App::new(
        DEMO_APPID,
        &secrets::alphanumeric(32),
        "1450000001",
        &secrets::alphanumeric(32),
        &secrets::alphanumeric(32),
    )
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal: draining in-flight requests");
}

/// Where the admin token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenOrigin {
    /// A flag, the environment or the config file: never printed.
    Configured,
    /// Generated on a first run and kept beside the SQLite database.
    Kept,
    /// Generated for this run only (PostgreSQL has no file beside it).
    ThisRun,
}

/// The admin token kept in `<database>.admin-token` (owner-only), made on the first run: the
/// token a CLI exported stays valid across restarts.
fn kept_admin_token(database: &Path) -> anyhow::Result<(String, TokenOrigin)> {
    let mut path = database.as_os_str().to_owned();
    path.push(".admin-token");
    let path = PathBuf::from(path);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok((text.trim().to_string(), TokenOrigin::Kept)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read the admin token file {}", path.display())),
    }
    let token = secrets::alphanumeric(32);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write the admin token file {}", path.display()))?;
    file.write_all(format!("{token}\n").as_bytes())?;
    file.sync_all()?;
    Ok((token, TokenOrigin::Kept))
}

/// What a newcomer sees on stdout. Secrets are printed only when the admin token was
/// generated (a development run); with a configured admin token nothing secret is printed.
/// Logs (stderr) never carry them.
fn print_banner(
    addr: std::net::SocketAddr,
    mode: Mode,
    admin_token: &str,
    origin: TokenOrigin,
    demo: Option<&App>,
) -> anyhow::Result<()> {
    let mut out = String::new();
    out.push_str(&format!(
        "OpenMidas {} listening on http://{addr}\n",
        env!("CARGO_PKG_VERSION")
    ));
    out.push_str(match mode {
        Mode::Emulator => {
            "mode: emulator (clock, faults, request log and reset under /admin; run production with --mode ledger)\n"
        }
        Mode::Ledger => "mode: ledger (no emulator controls)\n",
    });
    match origin {
        TokenOrigin::Configured => out.push_str("admin token: configured (not printed)\n"),
        TokenOrigin::Kept => out.push_str(&format!(
            "admin token (generated on the first run, kept beside the database; set OPENMIDAS_ADMIN_TOKEN to choose it): {admin_token}\n"
        )),
        TokenOrigin::ThisRun => out.push_str(&format!(
            "admin token (generated for this run; set OPENMIDAS_ADMIN_TOKEN to fix it, the same on every node): {admin_token}\n"
        )),
    }
    if origin != TokenOrigin::Configured {
        out.push_str("\n# for the openmidas CLI:\n");
        out.push_str(&format!("export OPENMIDAS_URL=http://{addr}\n"));
        out.push_str(&format!("export OPENMIDAS_ADMIN_TOKEN={admin_token}\n"));
        if let Some(app) = demo {
            out.push_str(&format!(
                "export OPENMIDAS_APPID={} OPENMIDAS_SECRET={} OPENMIDAS_OFFER_ID={} OPENMIDAS_APP_KEY={} OPENMIDAS_SANDBOX_APP_KEY={}\n",
                app.appid, app.secret, app.offer_id, app.app_key, app.sandbox_app_key
            ));
        }
    }
    if let (TokenOrigin::Kept | TokenOrigin::ThisRun, Some(app)) = (origin, demo) {
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "openmidas".into());
        out.push_str(&format!(
            "\ndemo app: appid={} secret={} offer_id={} app_key={} sandbox_app_key={}\n",
            app.appid, app.secret, app.offer_id, app.app_key, app.sandbox_app_key
        ));
        out.push_str(&walkthrough(&format!("http://{addr}"), admin_token, app, &exe));
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// A copy-paste shell session (bash, curl) that gets a token, logs a player in, recharges,
/// signs a getbalance request and reads the balance.
pub fn walkthrough(base_url: &str, admin_token: &str, app: &App, exe: &str) -> String {
    format!(
        r#"
# ---- walkthrough: paste into bash (needs curl) --------------------------------------
OM={base_url}
ADMIN={admin_token}
APPID={appid} SECRET={secret} OFFER_ID={offer_id} APP_KEY={app_key}
OPENMIDAS='{exe}'
# 1. The game server gets an access_token.
TOKEN=$(curl -s "$OM/cgi-bin/token?grant_type=client_credential&appid=$APPID&secret=$SECRET" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
# 2. A player logs in (the simulated wx.login); the game server exchanges the code.
CODE=$(curl -s -H "Authorization: Bearer $ADMIN" -d '{{"appid":"'$APPID'","openid":"player-1"}}' "$OM/admin/login" | sed -n 's/.*"code":"\([^"]*\)".*/\1/p')
curl -s "$OM/sns/jscode2session?appid=$APPID&secret=$SECRET&js_code=$CODE&grant_type=authorization_code"; echo
# 3. The player buys 100 coins (the simulated wx.requestMidasPayment).
curl -s -H "Authorization: Bearer $ADMIN" -d '{{"appid":"'$APPID'","openid":"player-1","env":"official","buy_quantity":100}}' "$OM/admin/recharge"; echo
# 4. The game server signs a getbalance request and reads the balance.
BODY=$("$OPENMIDAS" sign --app-key "$APP_KEY" --uri /cgi-bin/midas/getbalance --body '{{"appid":"'$APPID'","offer_id":"'$OFFER_ID'","openid":"player-1","pf":"android","ts":'$(date +%s)',"zone_id":"1"}}')
curl -s -d "$BODY" "$OM/cgi-bin/midas/getbalance?access_token=$TOKEN"; echo
# ---- end of walkthrough ---------------------------------------------------------------
"#,
        appid = app.appid,
        secret = app.secret,
        offer_id = app.offer_id,
        app_key = app.app_key,
    )
}
