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

/// The TOML file. Every key is optional. `Debug` hides the admin token and the database
/// URL's password.
#[derive(Default, Deserialize)]
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
    /// The admin API, the dashboard and /metrics only here (behaviour.md section 14.4).
    pub admin_listen: Option<String>,
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
    /// How many access tokens of each kind the app may be issued in 24 h; the next answers
    /// 45009 (default 2000, WeChat's quota).
    pub token_daily_limit: Option<u32>,
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

impl std::fmt::Debug for FileConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileConfig")
            .field("listen", &self.listen)
            .field("database", &shown_database(&self.database))
            .field("admin_token", &hidden(&self.admin_token))
            .field("durability", &self.durability)
            .field("max_connections", &self.max_connections)
            .field("log_format", &self.log_format)
            .field("drain_timeout_secs", &self.drain_timeout_secs)
            .field("header_read_timeout_secs", &self.header_read_timeout_secs)
            .field("demo_app", &self.demo_app)
            .field("mode", &self.mode)
            .field("request_log_entries", &self.request_log_entries)
            .field("request_log_mib", &self.request_log_mib)
            .field("admin_listen", &self.admin_listen)
            .field("tls", &self.tls)
            .field("tls_listen", &self.tls_listen)
            .field("tls_dir", &self.tls_dir)
            .field("tls_hosts", &self.tls_hosts)
            .field("apps", &self.apps)
            .finish()
    }
}

/// How `Debug` shows an optional secret: `Some("***")` or `None`.
pub(crate) fn hidden(value: &Option<String>) -> Option<&'static str> {
    value.as_ref().map(|_| "***")
}

/// How `Debug` shows a database URL: without its password.
pub(crate) fn shown_database(value: &Option<String>) -> Option<String> {
    value.as_deref().map(openmidas_store_postgres::redact_url)
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
            token_daily_limit: self
                .token_daily_limit
                .unwrap_or(openmidas_ledger::auth::DEFAULT_TOKEN_DAILY_LIMIT),
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
        toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "invalid config {}: {}",
                path.display(),
                toml_error(&text, &e, CONFIG_KEYS)
            )
        })
    }
}

/// Every key of the config file (`FileConfig`, `[[apps]]`, `[apps.push]`): the names a
/// parse error may show.
const CONFIG_KEYS: &[&str] = &[
    "listen",
    "database",
    "admin_token",
    "durability",
    "max_connections",
    "log_format",
    "drain_timeout_secs",
    "header_read_timeout_secs",
    "demo_app",
    "mode",
    "request_log_entries",
    "request_log_mib",
    "admin_listen",
    "tls",
    "tls_listen",
    "tls_dir",
    "tls_hosts",
    "apps",
    "appid",
    "secret",
    "offer_id",
    "app_key",
    "sandbox_app_key",
    "require_mp_sig",
    "ts_window_secs",
    "duplicate_bill_no",
    "cancel_window_secs",
    "signature_hex",
    "bill_no_charset",
    "coin_price_fen",
    "session_ttl_secs",
    "refund_delay_secs",
    "token_daily_limit",
    "push",
    "url",
    "token",
    "encoding_aes_key",
    "format",
    "ack",
];

/// A TOML parse error told without the text of any value: the file holds AppSecrets,
/// AppKeys and admin tokens, and toml's own message quotes the offending line. Gives the
/// line and column, the key when it is one of `keys`, and toml's message with every quoted
/// value replaced by `***` (key names from `keys` and punctuation stay).
pub(crate) fn toml_error(text: &str, error: &toml::de::Error, keys: &[&str]) -> String {
    let mut out = String::new();
    let mut value = None;
    if let Some(span) = error.span() {
        let start = span.start.min(text.len());
        let before = &text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = text[line_start..start].chars().count() + 1;
        out.push_str(&format!("line {line}, column {column}"));
        let line_text = text[line_start..].lines().next().unwrap_or("");
        if let Some((key, _)) = line_text.split_once('=') {
            let key = key.trim();
            let known = !key.is_empty()
                && key
                    .split('.')
                    .all(|part| keys.contains(&part.trim().trim_matches(|c| c == '"' || c == '\'')));
            if known {
                out.push_str(&format!(", key `{key}`"));
            }
        }
        value = text
            .get(span)
            .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string());
    }
    let message = error
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let unknown_field = message.starts_with("unknown field");
    let mut redacted = String::new();
    let mut rest = message.as_str();
    let mut first = true;
    // Quoted spans: `...` and "...".
    while let Some(open) = rest.find(['`', '"']) {
        let quote = rest[open..].chars().next().unwrap_or('`');
        let Some(len) = rest[open + 1..].find(quote) else { break };
        let inner = &rest[open + 1..open + 1 + len];
        redacted.push_str(&rest[..open]);
        let safe = keys.contains(&inner)
            || !inner.chars().any(char::is_alphanumeric)
            || (unknown_field && first && is_key_like(inner));
        if safe {
            redacted.push(quote);
            redacted.push_str(inner);
            redacted.push(quote);
        } else {
            redacted.push_str("***");
        }
        first = false;
        rest = &rest[open + 2 + len..];
    }
    redacted.push_str(rest);
    // Belt and braces: the value's own text never appears, quoted or not.
    let value = value.filter(|v| !unknown_field && v.chars().count() >= 3 && !keys.contains(&v.as_str()));
    if let Some(value) = value {
        redacted = redacted.replace(&value, "***");
    }
    if out.is_empty() {
        redacted
    } else {
        format!("{out}: {redacted}")
    }
}

/// A plausible key name: short, letters, digits, `_` and `-`.
fn is_key_like(text: &str) -> bool {
    !text.is_empty() && text.len() <= 40 && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
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

/// Where the data lives, from `--database`. `Debug` hides a PostgreSQL password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            DatabaseUrl::Postgres(url) => f
                .debug_tuple("Postgres")
                .field(&openmidas_store_postgres::redact_url(url))
                .finish(),
        }
    }
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

    /// `Debug` of every settings struct that holds a secret shows `***` in its place, and a
    /// PostgreSQL URL without its password.
    #[test]
    fn debug_hides_secrets() {
        use clap::Parser;
        const SECRETS: &[&str] = &[
            "AdminTok3n",
            "Pw0rdSecret",
            "AppSecr3t",
            "AppK3y",
            "SandK3y",
            "SessK3y",
            "AccT0ken",
        ];
        fn check(debug: String, visible: &[&str]) {
            for secret in SECRETS {
                assert!(!debug.contains(secret), "{secret} in {debug}");
            }
            for shown in visible {
                assert!(debug.contains(shown), "{shown} not in {debug}");
            }
        }
        #[derive(Parser)]
        struct Serve {
            #[command(flatten)]
            args: crate::serve::ServeArgs,
        }
        let serve = Serve::parse_from([
            "x",
            "--admin-token",
            "AdminTok3n",
            "--database",
            "postgres://u:Pw0rdSecret@db/x",
            "--listen",
            "127.0.0.1:1",
        ]);
        check(
            format!("{:?}", serve.args),
            &["***", "postgres://u:***@db/x", "127.0.0.1:1"],
        );

        #[derive(Parser)]
        struct Client {
            #[command(flatten)]
            settings: crate::cli::Settings,
            #[command(flatten)]
            account: crate::cli::AccountArgs,
        }
        let client = Client::parse_from([
            "x",
            "--url",
            "http://h",
            "--appid",
            "wx1",
            "--secret",
            "AppSecr3t",
            "--app-key",
            "AppK3y",
            "--sandbox-app-key",
            "SandK3y",
            "--admin-token",
            "AdminTok3n",
            "--openid",
            "p1",
            "--session-key",
            "SessK3y",
        ]);
        check(format!("{:?}", client.settings), &["http://h", "wx1", "***"]);
        check(format!("{:?}", client.account), &["p1", "***"]);

        #[derive(Parser)]
        struct Admin {
            #[command(flatten)]
            settings: crate::cli::AdminSettings,
        }
        let admin = Admin::parse_from(["x", "--url", "http://h", "--admin-token", "AdminTok3n"]);
        check(format!("{:?}", admin.settings), &["http://h", "***"]);

        #[derive(Parser)]
        struct Sign {
            #[command(flatten)]
            args: crate::sign::SignArgs,
        }
        let sign = Sign::parse_from([
            "x",
            "--app-key",
            "AppK3y",
            "--uri",
            "/cgi-bin/midas/pay",
            "--session-key",
            "SessK3y",
            "--access-token",
            "AccT0ken",
        ]);
        check(format!("{:?}", sign.args), &["/cgi-bin/midas/pay", "***"]);

        let file: FileConfig = toml::from_str(
            "admin_token = \"AdminTok3n\"\ndatabase = \"postgres://u:Pw0rdSecret@db/x\"\n\
             [[apps]]\nappid = \"wx1\"\nsecret = \"AppSecr3t\"\noffer_id = \"1\"\n\
             app_key = \"AppK3y\"\nsandbox_app_key = \"SandK3y\"\n",
        )
        .unwrap();
        check(format!("{file:?}"), &["***", "postgres://u:***@db/x", "wx1"]);
        let url = DatabaseUrl::parse("postgres://u:Pw0rdSecret@db/x").unwrap();
        check(format!("{url:?}"), &["postgres://u:***@db/x"]);
    }

    /// A malformed line's value never reaches the error; its line, column and key do.
    #[test]
    fn toml_errors_never_quote_values() {
        let secret = "S3cretVa1ue0123456789abcdef";
        let cases = [
            format!("listen = \"x\"\nadmin_token = \"{secret}\n"),
            format!("listen = \"x\"\nadmin_token = {secret}\n"),
            format!("listen = \"x\"\nadmin_token = \"{secret}\" junk\n"),
            "listen = \"x\"\nadmin_token = 918273645546372819\n".to_string(),
            format!("listen = \"x\"\n[[apps]]\nappid = \"wx1\"\nsecret = [\"{secret}\"]\n"),
            format!("listen = \"x\"\nadmin_token = '''{secret}\n"),
        ];
        for text in &cases {
            let error = toml::from_str::<FileConfig>(text).map(|_| ()).expect_err(text);
            let told = toml_error(text, &error, CONFIG_KEYS);
            assert!(!told.contains(secret), "{told}");
            assert!(!told.contains("918273645546372819"), "{told}");
            assert!(told.starts_with("line "), "{told}");
            assert!(!error.to_string().is_empty());
        }
        let text = format!("listen = \"x\"\nadmin_token = {secret}\n");
        let error = toml::from_str::<FileConfig>(&text).map(|_| ()).expect_err("bad");
        let told = toml_error(&text, &error, CONFIG_KEYS);
        assert!(told.starts_with("line 2, column 15, key `admin_token`"), "{told}");
        // An unknown key is named: key names are not secrets.
        let error = toml::from_str::<FileConfig>("bogus = 1").map(|_| ()).expect_err("bad");
        let told = toml_error("bogus = 1", &error, CONFIG_KEYS);
        assert!(told.contains("`bogus`"), "{told}");
    }

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

    #[test]
    fn an_app_sets_its_daily_token_quota() {
        let app = |extra: &str| {
            let c: FileConfig = toml::from_str(&format!(
                "[[apps]]\nappid=\"a\"\nsecret=\"s\"\noffer_id=\"o\"\napp_key=\"k\"\nsandbox_app_key=\"sk\"\n{extra}"
            ))
            .unwrap();
            c.apps[0].to_app()
        };
        assert_eq!(app("").unwrap().token_daily_limit, 2000);
        assert_eq!(app("token_daily_limit = 5\n").unwrap().token_daily_limit, 5);
        assert!(app("token_daily_limit = 0\n").is_err());
    }
}
