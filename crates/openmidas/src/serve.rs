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
use openmidas_server::router::Surface;
use openmidas_server::tls::LocalCa;
use openmidas_server::{secrets, AdminToken, AppState, Endpoint};
use openmidas_store_postgres::{Durability as PgDurability, PgConfig, PostgresStore};
use openmidas_store_sqlite::{Durability, SqliteConfig, SqliteStore};

use crate::config::{DatabaseUrl, FileConfig, DEFAULT_DATABASE, DEFAULT_LISTEN};

/// The appid of the app created on first run.
pub const DEMO_APPID: &str = "wxopenmidasdemo";

/// `Debug` hides the admin token and the database URL's password.
#[derive(Args)]
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
    /// Serve the admin API, the dashboard and /metrics on this address only (e.g.
    /// 127.0.0.1:9090), off the public listeners (behaviour.md section 14.4).
    #[arg(long, env = "OPENMIDAS_ADMIN_LISTEN", value_name = "ADDR")]
    admin_listen: Option<String>,
    #[command(flatten)]
    tls: TlsArgs,
}

impl std::fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeArgs")
            .field("listen", &self.listen)
            .field("database", &crate::config::shown_database(&self.database))
            .field("admin_token", &crate::config::hidden(&self.admin_token))
            .field("config", &self.config)
            .field("durability", &self.durability)
            .field("max_connections", &self.max_connections)
            .field("drain_timeout_secs", &self.drain_timeout_secs)
            .field("header_read_timeout_secs", &self.header_read_timeout_secs)
            .field("log_format", &self.log_format)
            .field("mode", &self.mode)
            .field("admin_listen", &self.admin_listen)
            .field("tls", &self.tls)
            .finish()
    }
}

/// HTTPS settings (behaviour.md section 15).
#[derive(Args, Debug)]
pub struct TlsArgs {
    /// The --listen address speaks HTTPS, with a certificate from the local CA.
    #[arg(long, env = "OPENMIDAS_TLS")]
    tls: bool,
    /// Also listen for HTTPS on this address (beside the plain --listen), e.g. 0.0.0.0:443
    /// for clients that hard-code https://api.weixin.qq.com (with a hosts entry).
    #[arg(long, env = "OPENMIDAS_TLS_LISTEN", value_name = "ADDR")]
    tls_listen: Option<String>,
    /// Directory of the local certificate authority [default: openmidas-tls beside the
    /// SQLite database; required with PostgreSQL].
    #[arg(long, env = "OPENMIDAS_TLS_DIR", value_name = "DIR")]
    pub tls_dir: Option<String>,
    /// A name the server certificate carries besides api.weixin.qq.com, localhost and
    /// 127.0.0.1 (repeat, or comma-separate in the environment).
    #[arg(
        long = "tls-host",
        env = "OPENMIDAS_TLS_HOSTS",
        value_name = "NAME",
        value_delimiter = ','
    )]
    tls_hosts: Vec<String>,
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
    let filter = crate::logging::without_driver_parameters(filter);
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
    let tls_on_listen = args.tls.tls || file.tls.unwrap_or(false);
    let tls_listen = args.tls.tls_listen.clone().or(file.tls_listen.clone());
    let tls_config = if tls_on_listen || tls_listen.is_some() {
        let dir = crate::config::tls_dir(args.tls.tls_dir.as_deref().or(file.tls_dir.as_deref()), &database_url)?;
        let hosts = if args.tls.tls_hosts.is_empty() {
            file.tls_hosts.clone().unwrap_or_default()
        } else {
            args.tls.tls_hosts.clone()
        };
        let ca = LocalCa::open_or_create(&dir)?;
        let ca_path = std::path::absolute(ca.cert_path())?;
        if ca.created() {
            tracing::info!(ca = %ca_path.display(), "created a local certificate authority");
        }
        let config = ca.server_config(&hosts)?;
        Some((ca_path, config))
    } else {
        None
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start tokio")?;
    // Listen first: a server that cannot bind leaves no database behind.
    let listener = runtime
        .block_on(LimitedListener::bind(&listen, max_connections))
        .with_context(|| format!("cannot listen on {listen}"))?;
    // With an admin listener, the others serve only the WeChat side.
    let admin_listen = args.admin_listen.clone().or(file.admin_listen.clone());
    let public = if admin_listen.is_some() {
        Surface::Public
    } else {
        Surface::All
    };
    let mut endpoints = vec![Endpoint {
        listener,
        tls: if tls_on_listen {
            tls_config.as_ref().map(|(_, config)| config.clone())
        } else {
            None
        },
        surface: public,
    }];
    if let Some(addr) = &tls_listen {
        let listener = runtime
            .block_on(endpoints[0].listener.bind_sharing(addr))
            .with_context(|| format!("cannot listen on {addr} (--tls-listen)"))?;
        endpoints.push(Endpoint {
            listener,
            tls: tls_config.as_ref().map(|(_, config)| config.clone()),
            surface: public,
        });
    }
    if let Some(addr) = &admin_listen {
        let listener = runtime
            .block_on(endpoints[0].listener.bind_sharing(addr))
            .with_context(|| format!("cannot listen on {addr} (--admin-listen)"))?;
        endpoints.push(Endpoint {
            listener,
            tls: None,
            surface: Surface::Admin,
        });
    }
    let (admin_token, token_origin) = match configured_admin_token {
        Some(token) => (token, TokenOrigin::Configured),
        None => match &database_url {
            DatabaseUrl::Sqlite(path) => kept_admin_token(path)?,
            DatabaseUrl::Postgres(_) => (secrets::alphanumeric(32), TokenOrigin::ThisRun),
        },
    };
    let store: Arc<dyn Store> = match database_url {
        DatabaseUrl::Sqlite(path) => {
            if !path.exists() {
                ignore_in_git(&path);
            }
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

        let mut listening = Vec::new();
        for endpoint in &endpoints {
            listening.push(Listening {
                addr: endpoint.listener.local_addr()?,
                https: endpoint.tls.is_some(),
                admin: endpoint.surface == Surface::Admin,
            });
        }
        let ca_path = tls_config.as_ref().map(|(path, _)| path.as_path());
        let development = token_origin != TokenOrigin::Configured;
        let demo = if development {
            store.app(DEMO_APPID).await?
        } else {
            None
        };
        print_banner(&listening, ca_path, mode, &admin_token, token_origin, demo.as_deref())?;
        for listening in &listening {
            tracing::info!(addr = %listening.addr, https = listening.https, max_connections, ?mode, "listening");
        }

        openmidas_server::serve_endpoints(endpoints, state, shutdown_signal(), serve_options).await?;
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

/// On a first run, makes the database's directory ignore what OpenMidas keeps there (the
/// database and its WAL, lock and admin-token files, the local CA) in git: a project
/// directory must not commit them. Adds only the lines missing from an existing
/// `.gitignore`; a failure is only logged (a read-only directory fails later, and clearly).
fn ignore_in_git(database: &Path) {
    let Some(name) = database.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    let dir = match database.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let wanted = [
        name.to_string(),
        format!("{name}-wal"),
        format!("{name}-shm"),
        format!("{name}.lock"),
        format!("{name}.admin-token"),
        format!("{}/", openmidas_server::tls::DEFAULT_DIR_NAME),
    ];
    let path = dir.join(".gitignore");
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let present: Vec<&str> = existing.lines().map(str::trim).collect();
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|line| !present.contains(&line.as_str()) && !present.contains(&format!("/{line}").as_str()))
        .collect();
    if missing.is_empty() {
        return;
    }
    let mut text = String::new();
    if !existing.is_empty() && !existing.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# OpenMidas: the database and its files, the local CA (never commit them)\n");
    for line in missing {
        text.push_str(line);
        text.push('\n');
    }
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(text.as_bytes()));
    match appended {
        Ok(()) => tracing::info!(path = %path.display(), "the database's files are now in .gitignore"),
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot update .gitignore"),
    }
}

/// What a newcomer sees on stdout. Secrets are printed only when the admin token was
/// generated (a development run); with a configured admin token nothing secret is printed.
/// Logs (stderr) never carry them.
/// A listener's address, for the banner.
struct Listening {
    addr: std::net::SocketAddr,
    https: bool,
    /// The `--admin-listen` listener (admin API, dashboard, metrics).
    admin: bool,
}

impl Listening {
    fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }
}

fn print_banner(
    listening: &[Listening],
    ca_path: Option<&Path>,
    mode: Mode,
    admin_token: &str,
    origin: TokenOrigin,
    demo: Option<&App>,
) -> anyhow::Result<()> {
    let mut out = String::new();
    for listening in listening {
        if listening.admin {
            out.push_str(&format!(
                "admin API, dashboard and metrics only on {} (not on the addresses above)\n",
                listening.url()
            ));
        } else {
            out.push_str(&format!(
                "OpenMidas {} listening on {}\n",
                env!("CARGO_PKG_VERSION"),
                listening.url()
            ));
        }
    }
    let admin_url = listening
        .iter()
        .find(|l| l.admin)
        .map(|l| l.url())
        .unwrap_or_else(|| listening[0].url());
    if let Some(ca) = ca_path {
        out.push_str(&format!(
            "HTTPS certificate for api.weixin.qq.com, localhost and 127.0.0.1 from the local CA {} (`openmidas ca` says how to trust it)\n",
            ca.display()
        ));
    }
    let main = &listening[0];
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
        out.push_str(&format!("export OPENMIDAS_URL={}\n", main.url()));
        if admin_url != main.url() {
            out.push_str(&format!("export OPENMIDAS_ADMIN_URL={admin_url}\n"));
        }
        if let (true, Some(ca)) = (main.https, ca_path) {
            out.push_str(&format!(
                "export SSL_CERT_FILE={ca} CURL_CA_BUNDLE={ca}\n",
                ca = ca.display()
            ));
        }
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
        out.push_str(&walkthrough(&main.url(), &admin_url, admin_token, app, &exe));
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// A copy-paste shell session (bash, curl) that gets a token, logs a player in, recharges,
/// signs a getbalance request and reads the balance.
pub fn walkthrough(base_url: &str, admin_url: &str, admin_token: &str, app: &App, exe: &str) -> String {
    format!(
        r#"
# ---- walkthrough: paste into bash (needs curl) --------------------------------------
OM={base_url}
OMA={admin_url}
ADMIN={admin_token}
APPID={appid} SECRET={secret} OFFER_ID={offer_id} APP_KEY={app_key}
OPENMIDAS='{exe}'
# 1. The game server gets an access_token.
TOKEN=$(curl -s "$OM/cgi-bin/token?grant_type=client_credential&appid=$APPID&secret=$SECRET" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
# 2. A player logs in (the simulated wx.login); the game server exchanges the code.
CODE=$(curl -s -H "Authorization: Bearer $ADMIN" -d '{{"appid":"'$APPID'","openid":"player-1"}}' "$OMA/admin/login" | sed -n 's/.*"code":"\([^"]*\)".*/\1/p')
curl -s "$OM/sns/jscode2session?appid=$APPID&secret=$SECRET&js_code=$CODE&grant_type=authorization_code"; echo
# 3. The player buys 100 coins (the simulated wx.requestMidasPayment).
curl -s -H "Authorization: Bearer $ADMIN" -d '{{"appid":"'$APPID'","openid":"player-1","env":"official","buy_quantity":100}}' "$OMA/admin/recharge"; echo
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
