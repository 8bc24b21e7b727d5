//! `openmidas serve`: open the store, make sure there is an app to play with, print how to
//! use it, serve until SIGTERM / Ctrl-C, drain, exit 0.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use openmidas_ledger::{App, Clock, Store, StoreExt, SystemClock};
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
    #[arg(long, value_enum)]
    durability: Option<DurabilityArg>,
    /// Most open connections [default: 4096].
    #[arg(long)]
    max_connections: Option<usize>,
    /// After SIGTERM, how long in-flight requests may take before stalled connections are
    /// dropped and the process exits [default: 10].
    #[arg(long, env = "OPENMIDAS_DRAIN_TIMEOUT_SECS", value_name = "SECS")]
    drain_timeout_secs: Option<u64>,
    /// How long a client may take to send request headers, and how long a keep-alive
    /// connection may sit idle, before it is closed [default: 30].
    #[arg(long, env = "OPENMIDAS_HEADER_READ_TIMEOUT_SECS", value_name = "SECS")]
    header_read_timeout_secs: Option<u64>,
    /// Log format.
    #[arg(long, value_enum, env = "OPENMIDAS_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
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
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
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

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start tokio")?;
    let store: Arc<dyn Store> = match DatabaseUrl::parse(&database)? {
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
            .map(std::time::Duration::from_secs)
            .unwrap_or(defaults.drain_timeout),
        header_read_timeout: match args.header_read_timeout_secs {
            Some(0) => bail!("--header-read-timeout-secs must be at least 1"),
            Some(secs) => std::time::Duration::from_secs(secs),
            None => defaults.header_read_timeout,
        },
    };
    runtime.block_on(async move {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        for app in &file.apps {
            store.upsert_app(app.to_app()?, clock.now_ms()).await?;
            tracing::info!(appid = %app.appid, "app from config");
        }
        if file.demo_app.unwrap_or(true) && store.apps().await?.is_empty() {
            store.upsert_app(demo_app(), clock.now_ms()).await?;
            tracing::info!(appid = DEMO_APPID, "created the demo app");
        }
        let (admin_token, generated) = match configured_admin_token {
            Some(token) => (token, false),
            None => (secrets::alphanumeric(32), true),
        };

        let listener = LimitedListener::bind(&listen, max_connections)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let demo = if generated { store.app(DEMO_APPID).await? } else { None };
        print_banner(addr, generated.then_some(admin_token.as_str()), demo.as_deref())?;
        tracing::info!(%addr, max_connections, "listening");

        let state = AppState {
            store,
            clock,
            admin_token: AdminToken::new(&admin_token),
        };
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

/// What a newcomer sees on stdout. Secrets are printed only when the admin token was
/// generated (a development run); with a configured admin token nothing secret is printed.
/// Logs (stderr) never carry them.
fn print_banner(
    addr: std::net::SocketAddr,
    generated_admin_token: Option<&str>,
    demo: Option<&App>,
) -> anyhow::Result<()> {
    let mut out = String::new();
    out.push_str(&format!(
        "OpenMidas {} listening on http://{addr}\n",
        env!("CARGO_PKG_VERSION")
    ));
    match generated_admin_token {
        Some(token) => out.push_str(&format!(
            "admin token (generated for this run; set OPENMIDAS_ADMIN_TOKEN to fix it): {token}\n"
        )),
        None => out.push_str("admin token: configured (not printed)\n"),
    }
    if let (Some(token), Some(app)) = (generated_admin_token, demo) {
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "openmidas".into());
        out.push_str(&format!(
            "\ndemo app: appid={} secret={} offer_id={} app_key={} sandbox_app_key={}\n",
            app.appid, app.secret, app.offer_id, app.app_key, app.sandbox_app_key
        ));
        out.push_str(&walkthrough(&format!("http://{addr}"), token, app, &exe));
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
