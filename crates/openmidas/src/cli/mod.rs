//! Client subcommands: talk to the real WeChat API or to an OpenMidas server through the
//! `openmidas-client` SDK. Each subcommand lives in its own file.
//!
//! Settings come from flags, then environment variables (`OPENMIDAS_URL`,
//! `OPENMIDAS_APPID`, `OPENMIDAS_SECRET`, `OPENMIDAS_OFFER_ID`, `OPENMIDAS_APP_KEY`,
//! `OPENMIDAS_SANDBOX_APP_KEY`, `OPENMIDAS_ADMIN_TOKEN`), then a profile file (TOML with
//! named profiles). Nothing is cached on disk: tokens are fetched per invocation.

pub mod balance;
pub mod cancel;
pub mod login;
pub mod pay;
pub mod present;
pub mod recharge;
pub mod token;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use openmidas_client::openmidas::AdminClient;
use openmidas_client::{Client, MidasEnv, Player, SessionKey, TokenEndpoint};
use serde::Deserialize;

/// Connection and app settings shared by every client subcommand.
#[derive(Args, Debug)]
pub struct Settings {
    /// Base URL of the service [default: https://api.weixin.qq.com]; a local OpenMidas is
    /// e.g. http://127.0.0.1:8080.
    #[arg(long, env = "OPENMIDAS_URL")]
    url: Option<String>,
    /// The mini game's appid.
    #[arg(long, env = "OPENMIDAS_APPID")]
    appid: Option<String>,
    /// The AppSecret (prefer the environment or a profile: flags show in `ps`).
    #[arg(long, env = "OPENMIDAS_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// The Midas offer_id.
    #[arg(long, env = "OPENMIDAS_OFFER_ID")]
    offer_id: Option<String>,
    /// The official Midas AppKey.
    #[arg(long, env = "OPENMIDAS_APP_KEY", hide_env_values = true)]
    app_key: Option<String>,
    /// The sandbox Midas AppKey (for --sandbox).
    #[arg(long, env = "OPENMIDAS_SANDBOX_APP_KEY", hide_env_values = true)]
    sandbox_app_key: Option<String>,
    /// The admin token of an OpenMidas server (login, recharge).
    #[arg(long, env = "OPENMIDAS_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Profile file [default: $XDG_CONFIG_HOME/openmidas/profile.toml, else
    /// ~/.config/openmidas/profile.toml, when it exists].
    #[arg(long, env = "OPENMIDAS_PROFILE", value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Which profile of the file [default: the file's `default` key, else "default"].
    #[arg(long, env = "OPENMIDAS_PROFILE_NAME", value_name = "NAME")]
    profile_name: Option<String>,
    /// Print JSON (one object on stdout) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The player account a v1 call addresses, and its session.
#[derive(Args, Debug)]
pub struct PlayerArgs {
    /// The player's openid.
    #[arg(long)]
    openid: String,
    /// Game zone.
    #[arg(long, default_value = "1")]
    zone_id: String,
    /// Platform.
    #[arg(long, default_value = "android")]
    pf: String,
    /// The player's IP, sent and signed when given.
    #[arg(long)]
    user_ip: Option<String>,
    /// The player's session_key (from `openmidas login`): adds mp_sig.
    #[arg(long, env = "OPENMIDAS_SESSION_KEY", hide_env_values = true)]
    session_key: Option<String>,
    /// Use the Midas sandbox (sandbox paths and AppKey).
    #[arg(long)]
    sandbox: bool,
}

impl PlayerArgs {
    pub fn player(&self) -> Player {
        let player = Player::new(&self.openid).zone(&self.zone_id).pf(&self.pf);
        match &self.user_ip {
            Some(ip) => player.user_ip(ip),
            None => player,
        }
    }

    pub fn session_key(&self) -> Option<SessionKey> {
        self.session_key
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(SessionKey::new)
    }

    pub fn env(&self) -> MidasEnv {
        if self.sandbox {
            MidasEnv::Sandbox
        } else {
            MidasEnv::Official
        }
    }
}

/// One profile of the file. Every key is optional.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    url: Option<String>,
    appid: Option<String>,
    secret: Option<String>,
    offer_id: Option<String>,
    app_key: Option<String>,
    sandbox_app_key: Option<String>,
    admin_token: Option<String>,
}

/// The profile file: `default = "NAME"` and `[profiles.NAME]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    default: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

fn default_profile_path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".config"),
    };
    Some(base.join("openmidas").join("profile.toml"))
}

fn load_profile(path: &Path, name: Option<&str>, explicit_file: bool) -> anyhow::Result<Profile> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit_file && name.is_none() => {
            return Ok(Profile::default())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read the profile file {}", path.display())),
    };
    let mut file: ProfileFile =
        toml::from_str(&text).with_context(|| format!("profile file {} is not valid", path.display()))?;
    let wanted = name.map(str::to_string).or(file.default.clone());
    match wanted {
        Some(wanted) => match file.profiles.remove(&wanted) {
            Some(profile) => Ok(profile),
            None => bail!(
                "profile {wanted:?} is not in {} (it has: {})",
                path.display(),
                file.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        },
        None => Ok(file.profiles.remove("default").unwrap_or_default()),
    }
}

/// Settings after flags, environment and profile are merged.
pub struct Resolved {
    url: String,
    appid: Option<String>,
    secret: Option<String>,
    offer_id: Option<String>,
    app_key: Option<String>,
    sandbox_app_key: Option<String>,
    admin_token: Option<String>,
    pub json: bool,
}

fn missing(what: &str, flag: &str, env: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{what} is not set: give --{flag}, set {env}, or put {key} in the profile",
        key = flag.replace('-', "_")
    )
}

impl Settings {
    pub fn resolve(&self) -> anyhow::Result<Resolved> {
        let (path, explicit) = match &self.profile {
            Some(path) => (Some(path.clone()), true),
            None => (default_profile_path(), false),
        };
        let profile = match path {
            Some(path) => load_profile(&path, self.profile_name.as_deref(), explicit)?,
            None if self.profile_name.is_some() => bail!("--profile-name needs a profile file (--profile FILE)"),
            None => Profile::default(),
        };
        let pick = |flag: &Option<String>, file: Option<String>| flag.clone().filter(|v| !v.is_empty()).or(file);
        Ok(Resolved {
            url: pick(&self.url, profile.url).unwrap_or_else(|| openmidas_client::WECHAT_BASE_URL.to_string()),
            appid: pick(&self.appid, profile.appid),
            secret: pick(&self.secret, profile.secret),
            offer_id: pick(&self.offer_id, profile.offer_id),
            app_key: pick(&self.app_key, profile.app_key),
            sandbox_app_key: pick(&self.sandbox_app_key, profile.sandbox_app_key),
            admin_token: pick(&self.admin_token, profile.admin_token),
            json: self.json,
        })
    }
}

impl Resolved {
    pub fn appid(&self) -> anyhow::Result<&str> {
        self.appid
            .as_deref()
            .ok_or_else(|| missing("the appid", "appid", "OPENMIDAS_APPID"))
    }

    /// A client of the v1 API. Needs appid and secret; offer_id and app_key only for
    /// payment calls (`payments`).
    pub fn client(&self, payments: bool) -> anyhow::Result<Client> {
        let appid = self.appid()?;
        let secret = self
            .secret
            .as_deref()
            .ok_or_else(|| missing("the AppSecret", "secret", "OPENMIDAS_SECRET"))?;
        let (offer_id, app_key) = if payments {
            (
                self.offer_id
                    .as_deref()
                    .ok_or_else(|| missing("the offer_id", "offer-id", "OPENMIDAS_OFFER_ID"))?,
                self.app_key
                    .as_deref()
                    .ok_or_else(|| missing("the AppKey", "app-key", "OPENMIDAS_APP_KEY"))?,
            )
        } else {
            // Not used by token and login calls.
            (
                self.offer_id.as_deref().unwrap_or("-"),
                self.app_key.as_deref().unwrap_or("-"),
            )
        };
        let mut builder = Client::builder(appid, secret, offer_id, app_key)
            .base_url(&self.url)
            .token_endpoint(TokenEndpoint::Stable)
            .clock(Arc::new(openmidas_client::SystemClock));
        if let Some(key) = &self.sandbox_app_key {
            builder = builder.sandbox_app_key(key.as_str());
        }
        Ok(builder.build()?)
    }

    /// A client of an OpenMidas server's admin routes.
    pub fn admin(&self) -> anyhow::Result<AdminClient> {
        let token = self
            .admin_token
            .as_deref()
            .ok_or_else(|| missing("the admin token", "admin-token", "OPENMIDAS_ADMIN_TOKEN"))?;
        if self.url == openmidas_client::WECHAT_BASE_URL {
            bail!("this command needs an OpenMidas server: set --url or OPENMIDAS_URL (the real service has no /admin routes)");
        }
        Ok(AdminClient::new(&self.url, token)?)
    }

    /// Prints `value` as JSON, or `text` for humans.
    pub fn print(&self, value: &impl serde::Serialize, text: impl FnOnce() -> String) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string(value)?);
        } else {
            println!("{}", text());
        }
        Ok(())
    }

    /// Reports a failed call: a JSON object on stdout with --json, and an error naming the
    /// errcode and what it means (stderr, exit status 1).
    pub fn failure(&self, what: &str, error: openmidas_client::Error, bill_no: Option<&str>) -> anyhow::Error {
        let unknown_outcome = bill_no.is_some() && error.retryable();
        let hint = match bill_no {
            Some(bill_no) if unknown_outcome => format!(
                "\nthe outcome is unknown: run the same command again with --bill-no {bill_no}; it is never applied twice"
            ),
            _ => String::new(),
        };
        if self.json {
            let value = match error.api() {
                Some(api) => serde_json::json!({
                    "errcode": api.errcode, "errmsg": api.errmsg, "meaning": api.meaning(),
                    "retryable": api.retryable(),
                }),
                None => serde_json::json!({"error": error.to_string(), "retryable": error.retryable()}),
            };
            println!("{value}");
        }
        anyhow::anyhow!("{what} failed: {error}{hint}")
    }
}

/// Runs a future on a small runtime of its own.
pub fn block_on<T>(future: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    init_logging();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start tokio")?
        .block_on(future)
}

/// Warnings (retries) on stderr; `RUST_LOG` for more. Logs never carry secrets.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
