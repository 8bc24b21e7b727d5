//! Client subcommands: talk to the real WeChat API or to an OpenMidas server through the
//! `openmidas-client` SDK. Each subcommand lives in its own file.
//!
//! Settings come from flags, then environment variables (`OPENMIDAS_URL`,
//! `OPENMIDAS_APPID`, `OPENMIDAS_SECRET`, `OPENMIDAS_OFFER_ID`, `OPENMIDAS_APP_KEY`,
//! `OPENMIDAS_SANDBOX_APP_KEY`, `OPENMIDAS_ADMIN_TOKEN`), then a profile file (TOML with
//! named profiles). Nothing is cached on disk: tokens are fetched per invocation.
//!
//! The emulator commands ([`EmulatorCommand`]: `clock`, `faults`, `requests`, `reset`,
//! `state`) drive an OpenMidas in emulator mode through its controls; they take only the
//! server's settings ([`AdminSettings`]).

pub mod balance;
pub mod bill;
pub mod buy;
pub mod cancel;
pub mod clock;
pub mod deliver;
pub mod faults;
pub mod login;
pub mod order;
pub mod pay;
pub mod present;
pub mod purchase;
pub mod pushes;
pub mod recharge;
pub mod refund;
pub mod refund_order;
pub mod requests;
pub mod reset;
pub mod state;
mod time;
pub mod token;
pub mod ui;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand};
use openmidas_client::openmidas::AdminClient;
use openmidas_client::{v2, xpay, Client, MidasEnv, Player, Secret, SessionKey, TokenEndpoint};
use openmidas_protocol::{Dialect, Lang};
use serde::Deserialize;

/// Connection and app settings shared by every client subcommand. `Debug` hides the
/// AppSecret, the AppKeys and the admin token.
#[derive(Args)]
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
    /// The admin token of an OpenMidas server (login, recharge, buy, purchase).
    #[arg(long, env = "OPENMIDAS_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Base URL of the server's admin routes when they listen apart (`serve
    /// --admin-listen`) [default: --url].
    #[arg(long, env = "OPENMIDAS_ADMIN_URL")]
    admin_url: Option<String>,
    /// Profile file [default: $XDG_CONFIG_HOME/openmidas/profile.toml, else
    /// ~/.config/openmidas/profile.toml, when it exists].
    #[arg(long, env = "OPENMIDAS_PROFILE", value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Which profile of the file [default: the file's `default` key, else "default"].
    #[arg(long, env = "OPENMIDAS_PROFILE_NAME", value_name = "NAME")]
    profile_name: Option<String>,
}

/// The settings of the emulator commands: the server and its admin token, nothing of an
/// app. Their `--appid` is a filter or a fault rule's match, so it must never be filled
/// from `OPENMIDAS_APPID`. Global: given before or after a subcommand (`faults add`).
/// `Debug` hides the admin token.
#[derive(Args)]
pub struct AdminSettings {
    /// Base URL of the OpenMidas server, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "OPENMIDAS_URL", global = true)]
    url: Option<String>,
    /// Base URL of the admin routes when they listen apart (`serve --admin-listen`); used
    /// instead of --url.
    #[arg(long, env = "OPENMIDAS_ADMIN_URL", global = true)]
    admin_url: Option<String>,
    /// The server's admin token.
    #[arg(long, env = "OPENMIDAS_ADMIN_TOKEN", hide_env_values = true, global = true)]
    admin_token: Option<String>,
    /// Profile file (its url and admin_token are used) [default: as for the other commands].
    #[arg(long, env = "OPENMIDAS_PROFILE", value_name = "FILE", global = true)]
    profile: Option<PathBuf>,
    /// Which profile of the file.
    #[arg(long, env = "OPENMIDAS_PROFILE_NAME", value_name = "NAME", global = true)]
    profile_name: Option<String>,
}

/// How every command prints: the global `--json` and `--lang`, set once by `main`.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// One JSON object on stdout instead of text.
    pub json: bool,
    /// The language of errcode explanations.
    pub lang: Lang,
}

static OUTPUT: std::sync::OnceLock<Output> = std::sync::OnceLock::new();

/// Sets how commands print (once, from the global flags).
pub fn set_output(output: Output) {
    let _ = OUTPUT.set(output);
}

/// How commands print: text in English unless the flags or the locale said otherwise.
pub fn output() -> Output {
    OUTPUT.get().copied().unwrap_or(Output {
        json: false,
        lang: Lang::En,
    })
}

/// The language of `--lang`, else of the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`).
pub fn choose_lang(flag: Option<&str>) -> anyhow::Result<Lang> {
    if let Some(text) = flag.filter(|t| !t.is_empty()) {
        return Lang::parse(text).with_context(|| format!("--lang must be en or zh-CN, not {text:?}"));
    }
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
    Ok(locale.map_or(Lang::En, |l| Lang::from_locale(&l)))
}

/// An HTTP client that also trusts the certificates of `SSL_CERT_FILE` (OpenMidas's local
/// CA, `openmidas ca`), when it is set; `None` keeps the SDK's default client.
fn http_client_trusting_env() -> anyhow::Result<Option<reqwest::Client>> {
    let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let pem =
        std::fs::read(&path).with_context(|| format!("cannot read SSL_CERT_FILE {}", Path::new(&path).display()))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem)
        .with_context(|| format!("SSL_CERT_FILE {} holds no PEM certificate", Path::new(&path).display()))?;
    let mut builder = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .connect_timeout(std::time::Duration::from_secs(5));
    for certificate in certificates {
        builder = builder.add_root_certificate(certificate);
    }
    Ok(Some(builder.build().context("cannot build the HTTP client")?))
}

/// Says on stderr that a call goes to the real WeChat service because no URL was given, so
/// that nobody calls production by accident.
fn note_real_service() {
    eprintln!(
        "openmidas: no --url or OPENMIDAS_URL: calling the real WeChat service at {} \
         (for a local OpenMidas: export OPENMIDAS_URL=http://127.0.0.1:8080)",
        openmidas_client::WECHAT_BASE_URL
    );
}

impl AdminSettings {
    /// Flags, then environment, then the profile's `url` and `admin_token`.
    pub fn resolve(&self) -> anyhow::Result<Resolved> {
        let profile = chosen_profile(self.profile.as_ref(), self.profile_name.as_deref())?;
        let pick = |flag: &Option<String>, file: Option<String>| flag.clone().filter(|v| !v.is_empty()).or(file);
        Ok(Resolved {
            url_given: true,
            url: pick(&self.url, profile.url).unwrap_or_else(|| openmidas_client::WECHAT_BASE_URL.to_string()),
            admin_url: self.admin_url.clone().filter(|v| !v.is_empty()),
            appid: None,
            secret: None,
            offer_id: None,
            app_key: None,
            sandbox_app_key: None,
            admin_token: pick(&self.admin_token, profile.admin_token),
            json: output().json,
        })
    }
}

/// The commands that drive an OpenMidas in emulator mode (behaviour.md section 13).
#[derive(Subcommand, Debug)]
pub enum EmulatorCommand {
    /// OpenMidas emulator: show the server's clock, or move, freeze, resume or reset it.
    Clock(clock::ClockArgs),
    /// OpenMidas emulator: list, add or delete fault rules (errors, delays, dropped connections).
    Faults(faults::FaultsArgs),
    /// OpenMidas emulator: the request log with signature diagnoses (`--follow` to watch); one request in full by id.
    Requests(requests::RequestsArgs),
    /// OpenMidas emulator: empty the state (accounts, orders, journal, tokens, sessions, request log) of one app or all.
    Reset(reset::ResetArgs),
    /// OpenMidas emulator: export or import the whole state as a JSON document.
    State(state::StateArgs),
}

impl EmulatorCommand {
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            EmulatorCommand::Clock(args) => clock::run(args),
            EmulatorCommand::Faults(args) => faults::run(args),
            EmulatorCommand::Requests(args) => requests::run(args),
            EmulatorCommand::Reset(args) => reset::run(args),
            EmulatorCommand::State(args) => state::run(args),
        }
    }
}

/// Rows under a header, each column as wide as its widest cell (two spaces between; the
/// last column is not padded).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  "));
            }
        }
        out.trim_end().to_string()
    };
    let mut lines = vec![line(header.to_vec())];
    lines.extend(rows.iter().map(|row| line(row.iter().map(String::as_str).collect())));
    lines.join("\n")
}

/// The account a call addresses, and the player's session: what every dialect takes.
/// `Debug` hides the session_key.
#[derive(Args)]
pub struct AccountArgs {
    /// The player's openid.
    #[arg(long)]
    openid: String,
    /// Game zone.
    #[arg(long, default_value = "1")]
    zone_id: String,
    /// The player's IP, sent and signed when given.
    #[arg(long)]
    user_ip: Option<String>,
    /// The player's session_key (from `openmidas login`): v1 adds mp_sig with it; 2.0
    /// signs every call with it (signature), so 2.0 needs it; xpay signs its balance, pay
    /// and refund with it.
    #[arg(long, env = "OPENMIDAS_SESSION_KEY", hide_env_values = true)]
    session_key: Option<String>,
    /// Use the sandbox (v1: its paths and AppKey; 2.0 and xpay: env 1 and the sandbox
    /// AppKey).
    #[arg(long)]
    sandbox: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::config::hidden;
        f.debug_struct("Settings")
            .field("url", &self.url)
            .field("admin_url", &self.admin_url)
            .field("appid", &self.appid)
            .field("secret", &hidden(&self.secret))
            .field("offer_id", &self.offer_id)
            .field("app_key", &hidden(&self.app_key))
            .field("sandbox_app_key", &hidden(&self.sandbox_app_key))
            .field("admin_token", &hidden(&self.admin_token))
            .field("profile", &self.profile)
            .field("profile_name", &self.profile_name)
            .finish()
    }
}

impl std::fmt::Debug for AdminSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSettings")
            .field("url", &self.url)
            .field("admin_url", &self.admin_url)
            .field("admin_token", &crate::config::hidden(&self.admin_token))
            .field("profile", &self.profile)
            .field("profile_name", &self.profile_name)
            .finish()
    }
}

impl std::fmt::Debug for AccountArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountArgs")
            .field("openid", &self.openid)
            .field("zone_id", &self.zone_id)
            .field("user_ip", &self.user_ip)
            .field("session_key", &crate::config::hidden(&self.session_key))
            .field("sandbox", &self.sandbox)
            .finish()
    }
}

impl AccountArgs {
    pub fn session_key(&self) -> Option<SessionKey> {
        self.session_key
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(SessionKey::new)
    }

    pub fn env(&self) -> MidasEnv {
        env_of(self.sandbox)
    }

    /// The 2.0 account and the session_key every 2.0 call is signed with. `command` names
    /// the call in the error when the session_key is missing.
    pub fn v2(&self, command: &str) -> anyhow::Result<(v2::Player, SessionKey)> {
        let session_key = self.session_key().ok_or_else(|| {
            anyhow::anyhow!(
                "{command} (2.0) needs the player's session_key: 2.0 signs every call with it. Give \
                 --session-key or set OPENMIDAS_SESSION_KEY (`openmidas login --openid ID` prints it)"
            )
        })?;
        let player = v2::Player::new(&self.openid).zone(&self.zone_id).env(self.env());
        let player = match &self.user_ip {
            Some(ip) => player.user_ip(ip),
            None => player,
        };
        Ok((player, session_key))
    }
}

impl AccountArgs {
    /// The xpay player: zone "1" only (xpay's account is the app's zone-"1" one,
    /// behaviour.md section 8), so another `--zone-id` is refused.
    pub fn xpay(&self) -> anyhow::Result<xpay::Player> {
        if self.zone_id != "1" {
            bail!(
                "--zone-id {} does not apply: an xpay player is the app's zone-\"1\" account",
                self.zone_id
            );
        }
        let player = xpay::Player::new(&self.openid).env(self.env());
        Ok(match &self.user_ip {
            Some(ip) => player.user_ip(ip),
            None => player,
        })
    }

    /// The session_key an xpay call that shows or moves one player's coins is signed with.
    pub fn xpay_session_key(&self, command: &str) -> anyhow::Result<SessionKey> {
        self.session_key().ok_or_else(|| {
            anyhow::anyhow!(
                "{command} (xpay) needs the player's session_key: xpay signs it with it. Give \
                 --session-key or set OPENMIDAS_SESSION_KEY (`openmidas login --openid ID` prints it)"
            )
        })
    }

    /// Refuses `--user-ip` for an xpay operation that takes none.
    pub fn refuse_xpay_user_ip(&self, operation: &str) -> anyhow::Result<()> {
        if self.user_ip.is_some() {
            bail!("--user-ip does not apply: xpay {operation} takes no user_ip");
        }
        Ok(())
    }
}

/// The player account a call addresses, and its session; `--pf` is v1's only.
#[derive(Args, Debug)]
pub struct PlayerArgs {
    #[command(flatten)]
    account: AccountArgs,
    /// Platform (v1 only) [default: android].
    #[arg(long)]
    pf: Option<String>,
}

impl PlayerArgs {
    /// The v1 account.
    pub fn player(&self) -> Player {
        let account = &self.account;
        let pf = self.pf.as_deref().unwrap_or("android");
        let player = Player::new(&account.openid).zone(&account.zone_id).pf(pf);
        match &account.user_ip {
            Some(ip) => player.user_ip(ip),
            None => player,
        }
    }

    pub fn session_key(&self) -> Option<SessionKey> {
        self.account.session_key()
    }

    pub fn env(&self) -> MidasEnv {
        self.account.env()
    }

    /// The 2.0 account and session_key; refuses v1's `--pf`.
    pub fn v2(&self, command: &str) -> anyhow::Result<(v2::Player, SessionKey)> {
        refuse_v1_flag("--pf", self.pf.is_some(), None, Dialect::V2)?;
        self.account.v2(command)
    }

    /// The xpay account; refuses v1's `--pf`.
    pub fn xpay(&self) -> anyhow::Result<&AccountArgs> {
        refuse_v1_flag("--pf", self.pf.is_some(), None, Dialect::Xpay)?;
        Ok(&self.account)
    }
}

/// The environment of a `--sandbox` flag.
pub fn env_of(sandbox: bool) -> MidasEnv {
    if sandbox {
        MidasEnv::Sandbox
    } else {
        MidasEnv::Official
    }
}

/// Which API a call speaks.
#[derive(Args, Debug)]
pub struct DialectArgs {
    /// Which API: v1 (Midas, /cgi-bin/midas/*), v2 (virtual payment 2.0, /wxa/game/*) or
    /// xpay (/xpay/*).
    #[arg(long, default_value = "v1", value_parser = dialect_parser(&Dialect::ALL))]
    pub dialect: Dialect,
}

/// One of `dialects` (listed in `--help` and in clap's error for anything else).
pub fn dialect_parser(dialects: &[Dialect]) -> impl TypedValueParser<Value = Dialect> {
    let names: Vec<&'static str> = dialects.iter().map(|d| d.as_str()).collect();
    let listed = names.join(", ");
    PossibleValuesParser::new(names).try_map(move |name: String| {
        Dialect::parse(&name).ok_or_else(|| format!("{name:?} is not a dialect: use {listed}"))
    })
}

/// How the CLI's messages name a dialect.
pub fn dialect_label(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::V1 => "v1",
        Dialect::V2 => "2.0",
        Dialect::Xpay => "xpay",
    }
}

/// Refuses a v1-only flag given with `--dialect v2` or `xpay` (naming the flag to use
/// instead).
pub fn refuse_v1_flag(flag: &str, given: bool, instead: Option<&str>, dialect: Dialect) -> anyhow::Result<()> {
    if !given {
        return Ok(());
    }
    let name = dialect.as_str();
    match instead {
        Some(instead) => bail!("{flag} is a v1 flag; with --dialect {name} use {instead}"),
        None => bail!(
            "{flag} is a v1 flag: {} has no such field (drop it, or use --dialect v1)",
            dialect_label(dialect)
        ),
    }
}

/// Refuses a 2.0 / xpay flag given with `--dialect v1` (naming the v1 flag to use instead).
pub fn refuse_v2_flag(flag: &str, given: bool, v1_flag: &str) -> anyhow::Result<()> {
    if given {
        bail!("{flag} is a 2.0 and xpay flag: add --dialect v2 or xpay, or use {v1_flag} for v1");
    }
    Ok(())
}

/// Refuses a flag of the other dialects given with `--dialect xpay`.
pub fn refuse_for_xpay(flag: &str, given: bool, why: &str) -> anyhow::Result<()> {
    if given {
        bail!("{flag} does not apply with --dialect xpay: {why}");
    }
    Ok(())
}

/// Which purchase an xpay order command names: `--order-id` or `--wx-order-id`, exactly one.
#[derive(Args, Debug)]
pub struct XpayOrderArgs {
    /// The purchase's order_id (its outTradeNo), or a refund's refund_order_id.
    #[arg(long)]
    order_id: Option<String>,
    /// WeChat's number of the purchase (or of a refund).
    #[arg(long)]
    wx_order_id: Option<String>,
}

impl XpayOrderArgs {
    /// Whether either was given.
    pub fn given(&self) -> bool {
        self.order_id.is_some() || self.wx_order_id.is_some()
    }

    pub fn order_ref(&self) -> anyhow::Result<xpay::OrderRef<'_>> {
        match (&self.order_id, &self.wx_order_id) {
            (Some(order_id), None) => Ok(xpay::OrderRef::OrderId(order_id.as_str().into())),
            (None, Some(wx_order_id)) => Ok(xpay::OrderRef::WxOrderId(wx_order_id.as_str().into())),
            _ => bail!("name the order with exactly one of --order-id and --wx-order-id"),
        }
    }

    /// How a message names the order (`order_id X`, `wx_order_id W`).
    pub fn describe(&self) -> String {
        match (&self.order_id, &self.wx_order_id) {
            (Some(order_id), _) => format!("order_id {order_id}"),
            (None, Some(wx_order_id)) => format!("wx_order_id {wx_order_id}"),
            (None, None) => String::new(),
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

/// Every key of the profile file: the names a parse error may show.
const PROFILE_KEYS: &[&str] = &[
    "default",
    "profiles",
    "url",
    "appid",
    "secret",
    "offer_id",
    "app_key",
    "sandbox_app_key",
    "admin_token",
];

fn load_profile(path: &Path, name: Option<&str>, explicit_file: bool) -> anyhow::Result<Profile> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit_file && name.is_none() => {
            return Ok(Profile::default())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read the profile file {}", path.display())),
    };
    let mut file: ProfileFile = toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "profile file {} is not valid: {}",
            path.display(),
            crate::config::toml_error(&text, &e, PROFILE_KEYS)
        )
    })?;
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

/// The profile of `--profile` / `--profile-name`, or of the default file when it exists.
fn chosen_profile(file: Option<&PathBuf>, name: Option<&str>) -> anyhow::Result<Profile> {
    let (path, explicit) = match file {
        Some(path) => (Some(path.clone()), true),
        None => (default_profile_path(), false),
    };
    match path {
        Some(path) => load_profile(&path, name, explicit),
        None if name.is_some() => bail!("--profile-name needs a profile file (--profile FILE)"),
        None => Ok(Profile::default()),
    }
}

/// Settings after flags, environment and profile are merged.
pub struct Resolved {
    url: String,
    /// Where the admin routes are, when apart from `url` (`serve --admin-listen`).
    admin_url: Option<String>,
    /// Whether the URL came from a flag, the environment or the profile (else it is the
    /// real service's).
    url_given: bool,
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
        let profile = chosen_profile(self.profile.as_ref(), self.profile_name.as_deref())?;
        let pick = |flag: &Option<String>, file: Option<String>| flag.clone().filter(|v| !v.is_empty()).or(file);
        Ok(Resolved {
            url_given: self.url.as_ref().is_some_and(|u| !u.is_empty()) || profile.url.is_some(),
            url: pick(&self.url, profile.url).unwrap_or_else(|| openmidas_client::WECHAT_BASE_URL.to_string()),
            admin_url: self.admin_url.clone().filter(|v| !v.is_empty()),
            appid: pick(&self.appid, profile.appid),
            secret: pick(&self.secret, profile.secret),
            offer_id: pick(&self.offer_id, profile.offer_id),
            app_key: pick(&self.app_key, profile.app_key),
            sandbox_app_key: pick(&self.sandbox_app_key, profile.sandbox_app_key),
            admin_token: pick(&self.admin_token, profile.admin_token),
            json: output().json,
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
        self.build_client(payments, payments)
    }

    /// A client for xpay calls: appid, secret and the AppKey; xpay bodies name no offer, so
    /// the offer_id is not needed.
    pub fn xpay_client(&self) -> anyhow::Result<Client> {
        self.build_client(false, true)
    }

    fn build_client(&self, needs_offer_id: bool, needs_app_key: bool) -> anyhow::Result<Client> {
        let appid = self.appid()?;
        let secret = self
            .secret
            .as_deref()
            .ok_or_else(|| missing("the AppSecret", "secret", "OPENMIDAS_SECRET"))?;
        // Calls that do not use them (token, login; xpay for the offer_id) get a placeholder.
        let offer_id = match self.offer_id.as_deref() {
            Some(offer_id) => offer_id,
            None if needs_offer_id => return Err(missing("the offer_id", "offer-id", "OPENMIDAS_OFFER_ID")),
            None => "-",
        };
        let app_key = match self.app_key.as_deref() {
            Some(app_key) => app_key,
            None if needs_app_key => return Err(missing("the AppKey", "app-key", "OPENMIDAS_APP_KEY")),
            None => "-",
        };
        if !self.url_given {
            note_real_service();
        }
        let mut builder = Client::builder(appid, secret, offer_id, app_key)
            .base_url(&self.url)
            .token_endpoint(TokenEndpoint::Stable)
            .clock(Arc::new(openmidas_client::SystemClock));
        if let Some(key) = &self.sandbox_app_key {
            builder = builder.sandbox_app_key(key.as_str());
        }
        if let Some(http) = http_client_trusting_env()? {
            builder = builder.http_client(http);
        }
        Ok(builder.build()?)
    }

    /// The offer_id (payment calls, and the signData of an item purchase).
    pub fn offer_id(&self) -> anyhow::Result<&str> {
        self.offer_id
            .as_deref()
            .ok_or_else(|| missing("the offer_id", "offer-id", "OPENMIDAS_OFFER_ID"))
    }

    /// The AppKey of an environment (what signs a purchase's paySig).
    pub fn app_key_for(&self, env: MidasEnv) -> anyhow::Result<Secret> {
        let key = match env {
            MidasEnv::Official => self
                .app_key
                .as_deref()
                .ok_or_else(|| missing("the AppKey", "app-key", "OPENMIDAS_APP_KEY"))?,
            MidasEnv::Sandbox => self
                .sandbox_app_key
                .as_deref()
                .ok_or_else(|| missing("the sandbox AppKey", "sandbox-app-key", "OPENMIDAS_SANDBOX_APP_KEY"))?,
        };
        Ok(Secret::new(key))
    }

    /// A client of an OpenMidas server's admin routes.
    pub fn admin(&self) -> anyhow::Result<AdminClient> {
        let token = self
            .admin_token
            .as_deref()
            .ok_or_else(|| missing("the admin token", "admin-token", "OPENMIDAS_ADMIN_TOKEN"))?;
        let url = self.admin_url.as_deref().unwrap_or(&self.url);
        if url == openmidas_client::WECHAT_BASE_URL {
            bail!("this command needs an OpenMidas server: set --url or OPENMIDAS_URL (the real service has no /admin routes)");
        }
        Ok(match http_client_trusting_env()? {
            Some(http) => AdminClient::with_http(url, token, http),
            None => AdminClient::new(url, token)?,
        })
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
        let hint = match bill_no {
            Some(_) if matches!(error, openmidas_client::Error::Token(_)) => {
                "\nnothing was sent: the call needs an access_token first".to_string()
            }
            Some(bill_no) if error.retryable() => format!(
                "\nthe outcome is unknown: run the same command again with --bill-no {bill_no}; it is never applied twice"
            ),
            _ => String::new(),
        };
        self.report(what, error, hint)
    }

    /// [`Resolved::failure`] of an xpay state change numbered by `flag` `number`. Run again
    /// after an unknown outcome, it is not applied twice, and xpay then answers 268490004
    /// (section 10.2): the hint says so, since that answer carries nothing else.
    pub fn xpay_failure(
        &self,
        what: &str,
        error: openmidas_client::Error,
        numbered: Option<(&str, &str)>,
    ) -> anyhow::Error {
        let hint = match numbered {
            Some(_) if matches!(error, openmidas_client::Error::Token(_)) => {
                "\nnothing was sent: the call needs an access_token first".to_string()
            }
            Some((flag, number)) if error.is(openmidas_client::codes::Xpay::RefundInProgress) => format!(
                "\nthe refund {flag} {number} was started before and is in progress: \
                 `openmidas order --dialect xpay --openid OPENID --order-id {number}` shows when it is done"
            ),
            Some((flag, number)) if error.retryable() => format!(
                "\nthe outcome is unknown: run the same command again with {flag} {number}; it is never applied \
                 twice (errcode 268490004 then means an earlier run applied it)"
            ),
            _ => String::new(),
        };
        self.report(what, error, hint)
    }

    fn report(&self, what: &str, error: openmidas_client::Error, hint: String) -> anyhow::Error {
        let lang = output().lang;
        if self.json {
            let value = match error.api() {
                Some(api) => serde_json::json!({
                    "errcode": api.errcode, "errmsg": api.errmsg, "meaning": api.meaning_in(lang),
                    "retryable": api.retryable(),
                }),
                None => serde_json::json!({"error": error.to_string(), "retryable": error.retryable()}),
            };
            println!("{value}");
        }
        match (lang, error.api()) {
            // The errcode's explanation in the chosen language; the rest stays as it is.
            (Lang::ZhCn, Some(api)) => anyhow::anyhow!(
                "{what} failed: {error}\n说明：errcode {} 表示{}{hint}",
                api.errcode,
                api.meaning_in(lang)
            ),
            _ => anyhow::anyhow!("{what} failed: {error}{hint}"),
        }
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
    let filter = crate::logging::without_driver_parameters(filter);
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
