//! `openmidas ca`: the local certificate authority behind `serve --tls` (behaviour.md
//! section 15). Finds the database as `serve` does, makes the CA if there is none, and prints
//! where its certificate is and how each ecosystem trusts it. Never prints a private key.

use std::path::PathBuf;

use clap::Args;
use openmidas_server::tls::{LocalCa, CA_KEY_FILE};

use crate::config::{DatabaseUrl, FileConfig, DEFAULT_DATABASE};

#[derive(Args, Debug)]
pub struct CaArgs {
    /// SQLite file (or sqlite://PATH), or postgres://... [default: openmidas.db in the working directory].
    #[arg(long, env = "OPENMIDAS_DATABASE_URL")]
    database: Option<String>,
    /// TOML config file of `serve`; flags and environment variables override it.
    #[arg(long, env = "OPENMIDAS_CONFIG")]
    config: Option<PathBuf>,
    /// Directory of the local certificate authority [default: openmidas-tls beside the
    /// SQLite database; required with PostgreSQL].
    #[arg(long, env = "OPENMIDAS_TLS_DIR", value_name = "DIR")]
    tls_dir: Option<String>,
    /// Print only the CA certificate's path (for scripts).
    #[arg(long)]
    path: bool,
}

pub fn run(args: CaArgs, json: bool) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let database = args
        .database
        .clone()
        .or(file.database.clone())
        .unwrap_or_else(|| DEFAULT_DATABASE.to_string());
    let database_url = DatabaseUrl::parse(&database)?;
    let dir = crate::config::tls_dir(args.tls_dir.as_deref().or(file.tls_dir.as_deref()), &database_url)?;
    let ca = LocalCa::open_or_create(&dir)?;
    let cert = std::path::absolute(ca.cert_path())?;
    if json {
        let answer = serde_json::json!({
            "ca_certificate": cert.display().to_string(),
            "created": ca.created(),
        });
        println!("{answer}");
    } else if args.path {
        println!("{}", cert.display());
    } else {
        print!("{}", instructions(&cert, ca.created()));
    }
    Ok(())
}

/// The trust step per ecosystem, and the hosts entry for clients that hard-code WeChat's host.
pub fn instructions(cert: &std::path::Path, created: bool) -> String {
    let cert = cert.display();
    let made = if created { "created now" } else { "already there" };
    format!(
        "\
CA certificate: {cert} ({made})
Its private key ({CA_KEY_FILE}, beside it) stays on this machine: never share or commit it.

Trust it, one line per ecosystem (each replaces that tool's list of trusted CAs in the
shell where it is set, except NODE_EXTRA_CA_CERTS and the system store, which add to it):
  curl:
      export CURL_CA_BUNDLE={cert}
  Go, Ruby, PHP, OpenSSL, the openmidas CLI (which adds it to the public CAs):
      export SSL_CERT_FILE={cert}
  Python requests (wechatpy and most Python SDKs):
      export REQUESTS_CA_BUNDLE={cert}
  Node.js:
      export NODE_EXTRA_CA_CERTS={cert}
  Java (WxJava): import into a truststore, then start the JVM with it:
      keytool -importcert -noprompt -alias openmidas -file {cert} -keystore openmidas.jks -storepass changeit
      java -Djavax.net.ssl.trustStore=openmidas.jks -Djavax.net.ssl.trustStorePassword=changeit ...
  .NET and everything else, through the system store (Debian, Ubuntu):
      sudo cp {cert} /usr/local/share/ca-certificates/openmidas.crt && sudo update-ca-certificates

Clients that hard-code https://api.weixin.qq.com: point the name here and serve HTTPS on 443:
      echo '127.0.0.1 api.weixin.qq.com' | sudo tee -a /etc/hosts
      sudo openmidas serve --tls-listen 127.0.0.1:443
  (or let a normal user bind port 443: sudo setcap cap_net_bind_service=+ep \"$(command -v openmidas)\")
"
    )
}
