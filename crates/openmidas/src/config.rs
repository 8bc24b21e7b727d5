//! Settings of `openmidas serve`: flags (and their environment variables) override the
//! TOML file, which overrides the defaults.

use std::path::Path;

use anyhow::{bail, Context};
use openmidas_ledger::{App, DuplicateBillPolicy};
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
    /// Create the demo app when the database has no app (default true).
    pub demo_app: Option<bool>,
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
        for (name, value) in [
            ("appid", &self.appid),
            ("secret", &self.secret),
            ("offer_id", &self.offer_id),
            ("app_key", &self.app_key),
            ("sandbox_app_key", &self.sandbox_app_key),
        ] {
            if value.is_empty() || value.len() > 128 {
                bail!("app {}: {name} must be 1 to 128 bytes", self.appid);
            }
        }
        Ok(App {
            appid: self.appid.clone(),
            secret: self.secret.clone(),
            offer_id: self.offer_id.clone(),
            app_key: self.app_key.clone(),
            sandbox_app_key: self.sandbox_app_key.clone(),
            require_mp_sig: self.require_mp_sig,
            ts_window_secs: self.ts_window_secs,
            duplicate_bill_no,
        })
    }
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()))
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
