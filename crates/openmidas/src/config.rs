//! Settings of `openmidas serve`: flags (and their environment variables) override the
//! TOML file, which overrides the defaults.

use openmidas_ledger::push::{PushAck, PushFormat, PushMode, PushSettings};
use std::path::Path;

use anyhow::{bail, Context};
use openmidas_ledger::auth::{DEFAULT_CANCEL_WINDOW_SECS, DEFAULT_COIN_PRICE_FEN};
use openmidas_ledger::{App, BillNoCharset, DuplicateBillPolicy, SignatureHex};
use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE: &str = "openmidas.db";

/// The TOML file. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub database: Option<String>,
    pub admin_token: Option<String>,
    /// "full" (default) or "relaxed".
    pub durability: Option<String>,
    pub max_connections: Option<usize>,
    /// "text" (default) or "json".
    pub log_format: Option<String>,
    /// After SIGTERM, how long in-flight requests may take (default 10).
    pub drain_timeout_secs: Option<u64>,
    /// How long request headers (and an idle keep-alive connection) may take (default 30).
    pub header_read_timeout_secs: Option<u64>,
    /// Create the demo app when the database has no app (default true; never in ledger mode).
    pub demo_app: Option<bool>,
    /// "emulator" (default) or "ledger".
    pub mode: Option<String>,
    /// Bounds of the emulator's request log (default 10,000 entries, 64 MiB).
    pub request_log_entries: Option<usize>,
    pub request_log_mib: Option<usize>,
    /// The `listen` address speaks HTTPS (behaviour.md section 15).
    pub tls: Option<bool>,
    /// An HTTPS listener beside the plain one.
    pub tls_listen: Option<String>,
    /// Where the local CA lives (default: `openmidas-tls` beside a SQLite database).
    pub tls_dir: Option<String>,
    /// Names the server certificate carries besides api.weixin.qq.com, localhost, 127.0.0.1.
    pub tls_hosts: Option<Vec<String>>,
    #[serde(default)]
    pub apps: Vec<AppConfig>,
}

/// An app declared in the TOML file, created or updated at start.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    pub appid: String,
    pub secret: String,
    pub offer_id: String,
    pub app_key: String,
    pub sandbox_app_key: String,
    #[serde(default)]
    pub require_mp_sig: bool,
    pub ts_window_secs: Option<u32>,
    pub duplicate_bill_no: Option<String>,
    /// How long after a pay it may be refunded or cancelled (default 172800, 48 h).
    pub cancel_window_secs: Option<u32>,
    /// "lower" (default) or "any": which hex digits 2.0 signatures may use.
    pub signature_hex: Option<String>,
    /// "v2" (default) or "v1": which characters a 2.0 bill_no may use.
    pub bill_no_charset: Option<String>,
    /// What a coin costs, in fen (default 10).
    pub coin_price_fen: Option<u32>,
    /// When set, a session older than this no longer signs (default: sessions never expire).
    pub session_ttl_secs: Option<u32>,
    /// How long an xpay refund_order stays in progress (default 0).
    pub refund_delay_secs: Option<u32>,
    /// Where and how events are pushed (`[apps.push]`, behaviour.md section 12).
    pub push: Option<PushConfig>,
}

/// `[apps.push]`: the app's push URL and how events reach it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    pub url: String,
    pub token: String,
    pub encoding_aes_key: Option<String>,
    /// "plain" (default) or "safe".
    pub mode: Option<String>,
    /// "json" (default) or "xml": the body of xpay events.
    pub format: Option<String>,
    /// "strict" (default) or "lenient": which replies acknowledge an event.
    pub ack: Option<String>,
}

impl PushConfig {
    fn to_settings(&self, appid: &str) -> anyhow::Result<PushSettings> {
        fn named<T: Default>(text: Option<&str>, parse: fn(&str) -> Option<T>, what: String) -> anyhow::Result<T> {
            match text {
                None => Ok(T::default()),
                Some(text) => parse(text).with_context(|| what),
            }
        }
        Ok(PushSettings {
            url: self.url.clone(),
            token: self.token.clone(),
            encoding_aes_key: self.encoding_aes_key.clone(),
            mode: named(
                self.mode.as_deref(),
                PushMode::parse,
                format!("app {appid}: push.mode must be \"plain\" or \"safe\""),
            )?,
            format: named(
                self.format.as_deref(),
                PushFormat::parse,
                format!("app {appid}: push.format must be \"json\" or \"xml\""),
            )?,
            ack: named(
                self.ack.as_deref(),
                PushAck::parse,
                format!("app {appid}: push.ack must be \"strict\" or \"lenient\""),
            )?,
        })
    }
}

impl std::fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppConfig")
            .field("appid", &self.appid)
            .finish_non_exhaustive()
    }
}

impl AppConfig {
    pub fn to_app(&self) -> anyhow::Result<App> {
        let duplicate_bill_no = match self.duplicate_bill_no.as_deref() {
            None => DuplicateBillPolicy::default(),
            Some(text) => DuplicateBillPolicy::parse(text)
                .with_context(|| format!("app {}: duplicate_bill_no must be \"reject\" or \"replay\"", self.appid))?,
        };
        let signature_hex = match self.signature_hex.as_deref() {
            None => SignatureHex::default(),
            Some(text) => SignatureHex::parse(text)
                .with_context(|| format!("app {}: signature_hex must be \"lower\" or \"any\"", self.appid))?,
        };
        let bill_no_charset = match self.bill_no_charset.as_deref() {
            None => BillNoCharset::default(),
            Some(text) => BillNoCharset::parse(text)
                .with_context(|| format!("app {}: bill_no_charset must be \"v2\" or \"v1\"", self.appid))?,
        };
        let app = App {
            require_mp_sig: self.require_mp_sig,
            ts_window_secs: self.ts_window_secs,
            duplicate_bill_no,
            signature_hex,
            bill_no_charset,
            session_ttl_secs: self.session_ttl_secs,
            cancel_window_secs: self.cancel_window_secs.unwrap_or(DEFAULT_CANCEL_WINDOW_SECS),
            coin_price_fen: self.coin_price_fen.unwrap_or(DEFAULT_COIN_PRICE_FEN),
            refund_delay_secs: self.refund_delay_secs.unwrap_or(0),
            push: self.push.as_ref().map(|p| p.to_settings(&self.appid)).transpose()?,
            ..App::new(
                &self.appid,
                &self.secret,
                &self.offer_id,
                &self.app_key,
                &self.sandbox_app_key,
            )
        };
        app.validate()
            .map_err(|problem| anyhow::anyhow!("app {}: {problem}", self.appid))?;
        Ok(app)
    }
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()))
    }
}

/// The directory of the local CA: the one given, else `openmidas-tls` beside a SQLite
/// database. PostgreSQL nodes have no file of their own to sit beside, so they must say.
pub fn tls_dir(given: Option<&str>, database: &DatabaseUrl) -> anyhow::Result<std::path::PathBuf> {
    match (given, database) {
        (Some(dir), _) if !dir.is_empty() => Ok(dir.into()),
        (_, DatabaseUrl::Sqlite(path)) => Ok(openmidas_server::tls::LocalCa::dir_beside(path)),
        (_, DatabaseUrl::Postgres(_)) => bail!(
            "with PostgreSQL, say where the local certificate authority lives: --tls-dir DIR \
             (OPENMIDAS_TLS_DIR, or tls_dir in the config file); give every node the same directory \
             so clients trust one CA"
        ),
    }
}

/// Where the data lives, from `--database`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// `postgres://...` / `postgresql://...`, `sqlite://PATH` / `sqlite:PATH`, or a plain path.
    pub fn parse(text: &str) -> anyhow::Result<DatabaseUrl> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(text.to_string()));
        }
        let path = text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
            .unwrap_or(text);
        if path.is_empty() {
            bail!("--database is empty");
        }
        Ok(DatabaseUrl::Sqlite(path.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(DatabaseUrl::parse("x.db").unwrap(), DatabaseUrl::Sqlite("x.db".into()));
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db").unwrap(),
            DatabaseUrl::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:x.db").unwrap(),
            DatabaseUrl::Sqlite("x.db".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(DatabaseUrl::parse("").is_err());
    }

    #[test]
    fn the_tls_directory_sits_beside_a_sqlite_database() {
        let sqlite = DatabaseUrl::parse("data/x.db").unwrap();
        assert_eq!(
            tls_dir(None, &sqlite).unwrap(),
            std::path::PathBuf::from("data/openmidas-tls")
        );
        let here = DatabaseUrl::parse("x.db").unwrap();
        assert_eq!(
            tls_dir(None, &here).unwrap(),
            std::path::PathBuf::from("./openmidas-tls")
        );
        assert_eq!(tls_dir(Some("/ca"), &here).unwrap(), std::path::PathBuf::from("/ca"));
        let postgres = DatabaseUrl::parse("postgres://u@h/db").unwrap();
        let error = tls_dir(None, &postgres).unwrap_err().to_string();
        assert!(error.contains("--tls-dir"), "{error}");
        assert_eq!(
            tls_dir(Some("/ca"), &postgres).unwrap(),
            std::path::PathBuf::from("/ca")
        );
    }

    #[test]
    fn file_config_rejects_unknown_keys() {
        assert!(toml::from_str::<FileConfig>("listen = \"x\"\nbogus = 1").is_err());
        let c: FileConfig = toml::from_str(
            "listen = \"127.0.0.1:1\"\n[[apps]]\nappid=\"a\"\nsecret=\"s\"\noffer_id=\"o\"\napp_key=\"k\"\nsandbox_app_key=\"sk\"\n",
        )
        .unwrap();
        assert_eq!(c.apps.len(), 1);
        assert_eq!(c.apps[0].to_app().unwrap().offer_id, "o");
    }
}
