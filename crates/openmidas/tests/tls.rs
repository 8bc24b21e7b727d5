//! HTTPS (behaviour.md section 15), through the real binary: `serve --tls-listen` beside the
//! plain listener and `serve --tls`; a client that hard-codes `https://api.weixin.qq.com`
//! reaches OpenMidas once the local CA is trusted and the name resolves here (a hosts entry,
//! stood in for by the clients' own resolve overrides); strict X.509 verification by Python,
//! Node and Java when they are installed; `openmidas ca`; no private key ever printed or logged.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{test_app, Api, Launch, Process};
use openmidas_client::{Client, MidasEnv, Player};

const ADMIN: &str = "tls-test-admin-token";

fn launch(dir: &Path) -> Launch<'_> {
    Launch {
        dir,
        database: None,
        admin_token: Some(ADMIN),
        env: vec![],
        log_name: "stderr.log",
    }
}

/// The `https://127.0.0.1:PORT` the banner names.
fn https_url(process: &Process) -> String {
    let out = process.wait_for_stdout("listening on https://");
    let line = out
        .lines()
        .find(|l| l.contains("listening on https://"))
        .expect("an https line");
    line.split(" listening on ").nth(1).expect("url").trim().to_string()
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port")
}

/// A client that trusts only the local CA and resolves WeChat's host to the TLS listener,
/// as a hosts entry would.
fn client_for_wechat_host(ca: &Path, port: u16) -> reqwest::Client {
    let pem = std::fs::read(ca).expect("CA certificate");
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM"))
        .resolve("api.weixin.qq.com", std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client")
}

fn assert_no_private_key(text: &str, what: &str) {
    assert!(!text.contains("PRIVATE KEY"), "{what} shows a private key:\n{text}");
}

#[tokio::test]
async fn an_sdk_hard_coding_wechat_s_host_talks_to_openmidas_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let process = Process::start_with(launch(dir.path()), &["--tls-listen", "127.0.0.1:0"]);
    let https = https_url(&process);
    let port = port_of(&https);
    let ca = dir.path().join("openmidas-tls").join("ca.pem");
    assert!(ca.exists(), "the CA sits beside the database");
    let banner = process.stdout();
    assert!(
        banner.contains(&ca.canonicalize().unwrap().display().to_string()),
        "{banner}"
    );

    // Plain HTTP still serves beside HTTPS.
    let api = Api::new(&process, ADMIN);
    let app = test_app(1);
    api.create_app(&app).await;
    api.recharge(&app, "player-1", 250).await;

    // The SDK, unchanged but for trusting the CA: the real host name and path.
    let http = client_for_wechat_host(&ca, port);
    let client = Client::builder(&app.appid, app.secret.as_str(), &app.offer_id, app.app_key.as_str())
        .base_url(format!("https://api.weixin.qq.com:{port}"))
        .http_client(http.clone())
        .build()
        .unwrap();
    let balance = client
        .get_balance(MidasEnv::Official, &Player::new("player-1"), None)
        .await
        .expect("getbalance over HTTPS");
    assert_eq!(balance.balance, 250);

    // A client that does not trust the CA is refused: the certificate is not a public one.
    let untrusting = reqwest::Client::builder()
        .resolve("api.weixin.qq.com", std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .build()
        .unwrap();
    let refused = untrusting
        .get(format!("https://api.weixin.qq.com:{port}/healthz"))
        .send()
        .await;
    assert!(refused.is_err(), "a client without the CA must not connect");

    // Another name than the certificate's is refused too.
    let other = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap())
        .resolve("example.com", std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .build()
        .unwrap();
    assert!(other
        .get(format!("https://example.com:{port}/healthz"))
        .send()
        .await
        .is_err());

    assert_no_private_key(&process.stdout(), "stdout");
    assert_no_private_key(&process.logs(), "the logs");
}

#[test]
fn strict_python_and_node_clients_accept_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let process = Process::start_with(launch(dir.path()), &["--tls-listen", "127.0.0.1:0"]);
    let port = port_of(&https_url(&process));
    let ca = dir.path().join("openmidas-tls").join("ca.pem");

    // Python's ssl with VERIFY_X509_STRICT (the default of Python 3.13): needs the CA's
    // key usage and the leaf's authority key identifier, among others.
    let python = format!(
        r#"
import socket, ssl
ctx = ssl.create_default_context(cafile={ca:?})
ctx.verify_flags |= ssl.VERIFY_X509_STRICT
for name in ["api.weixin.qq.com", "localhost", "127.0.0.1"]:
    with socket.create_connection(("127.0.0.1", {port})) as raw:
        with ctx.wrap_socket(raw, server_hostname=name) as tls:
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: " + name.encode() + b"\r\nConnection: close\r\n\r\n")
            status = tls.recv(100).split(b"\r\n")[0]
            assert status == b"HTTP/1.1 200 OK", status
            print(name, tls.version(), "ok")
"#,
        ca = ca.display().to_string()
    );
    match Command::new("python3").arg("-c").arg(&python).output() {
        Ok(out) => assert!(
            out.status.success(),
            "python3 refused the certificate:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) if std::env::var_os("CI").is_none() => eprintln!("skipped the Python check: {e}"),
        Err(e) => panic!("python3 is needed under CI: {e}"),
    }

    // Node with NODE_EXTRA_CA_CERTS, connecting by WeChat's host name.
    let node = format!(
        r#"
const https = require("https");
https.get({{host: "127.0.0.1", port: {port}, path: "/healthz", servername: "api.weixin.qq.com",
  headers: {{host: "api.weixin.qq.com"}}}}, (res) => {{
  if (res.statusCode !== 200) {{ console.error("status", res.statusCode); process.exit(1); }}
  console.log("node ok");
}}).on("error", (e) => {{ console.error(e.message); process.exit(1); }});
"#
    );
    match Command::new("node")
        .arg("-e")
        .arg(&node)
        .env("NODE_EXTRA_CA_CERTS", &ca)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "node refused the certificate:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        // Node is not among CI's requirements: the check runs where it is installed.
        Err(e) => eprintln!("skipped the Node check: {e}"),
    }
}

/// Java's own HTTP client, trusting the CA through a KeyStore (as a truststore made with
/// keytool does) and resolving WeChat's host through a hosts file (`jdk.net.hosts.file`, the
/// JVM's stand-in for /etc/hosts). Runs where a JDK is installed.
#[test]
fn a_java_client_trusts_the_ca_and_the_hosts_entry() {
    let dir = tempfile::tempdir().unwrap();
    let process = Process::start_with(launch(dir.path()), &["--tls-listen", "127.0.0.1:0"]);
    let port = port_of(&https_url(&process));
    let ca = dir.path().join("openmidas-tls").join("ca.pem");
    let source = dir.path().join("Check.java");
    std::fs::write(
        &source,
        r#"
import java.io.FileInputStream;
import java.net.URI;
import java.net.http.*;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import javax.net.ssl.*;
public class Check {
  public static void main(String[] args) throws Exception {
    KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
    trust.load(null, null);
    trust.setCertificateEntry("openmidas",
        CertificateFactory.getInstance("X.509").generateCertificate(new FileInputStream(args[0])));
    TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    factory.init(trust);
    SSLContext tls = SSLContext.getInstance("TLS");
    tls.init(null, factory.getTrustManagers(), null);
    HttpResponse<String> answer = HttpClient.newBuilder().sslContext(tls).build()
        .send(HttpRequest.newBuilder(URI.create(args[1])).build(), HttpResponse.BodyHandlers.ofString());
    if (answer.statusCode() != 200) throw new RuntimeException("status " + answer.statusCode());
    System.out.println("java ok");
  }
}
"#,
    )
    .unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 api.weixin.qq.com\n").unwrap();
    let output = Command::new("java")
        .arg(format!("-Djdk.net.hosts.file={}", hosts.display()))
        .arg(&source)
        .arg(&ca)
        .arg(format!("https://api.weixin.qq.com:{port}/healthz"))
        .output();
    match output {
        Ok(out) => assert!(
            out.status.success(),
            "java refused the certificate:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        // A JDK is not among CI's requirements: the check runs where one is installed.
        Err(e) => eprintln!("skipped the Java check: {e}"),
    }
}

#[tokio::test]
async fn serve_tls_makes_the_listen_address_speak_https_only() {
    let dir = tempfile::tempdir().unwrap();
    // No configured admin token: a development run prints the CLI's settings.
    let process = Process::start_with(
        Launch {
            admin_token: None,
            ..launch(dir.path())
        },
        &["--tls"],
    );
    assert!(
        process.base_url.starts_with("https://127.0.0.1:"),
        "{}",
        process.base_url
    );
    let port = port_of(&process.base_url);
    let ca = dir.path().join("openmidas-tls").join("ca.pem");
    let http = client_for_wechat_host(&ca, port);
    let health = http
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .expect("https");
    assert_eq!(health.status(), 200);
    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.map(|r| r.status() != 200).unwrap_or(true));
    // The banner's CLI settings name the https URL and the CA for curl and the CLI.
    let banner = process.stdout();
    assert!(
        banner.contains(&format!("export OPENMIDAS_URL={}", process.base_url)),
        "{banner}"
    );
    assert!(
        banner.contains("SSL_CERT_FILE=") && banner.contains("CURL_CA_BUNDLE="),
        "{banner}"
    );
}

fn openmidas(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_openmidas"))
        .args(args)
        .current_dir(dir)
        .env_remove("OPENMIDAS_DATABASE_URL")
        .env_remove("OPENMIDAS_CONFIG")
        .env_remove("OPENMIDAS_TLS_DIR")
        .output()
        .expect("run openmidas")
}

#[test]
fn openmidas_ca_makes_the_ca_once_and_says_how_to_trust_it() {
    let dir = tempfile::tempdir().unwrap();
    let first = openmidas(dir.path(), &["ca"]);
    assert!(first.status.success(), "{first:?}");
    let text = String::from_utf8(first.stdout).unwrap();
    let ca: PathBuf = dir.path().canonicalize().unwrap().join("openmidas-tls").join("ca.pem");
    assert!(
        text.contains(&format!("CA certificate: {} (created now)", ca.display())),
        "{text}"
    );
    for step in [
        "SSL_CERT_FILE=",
        "REQUESTS_CA_BUNDLE=",
        "NODE_EXTRA_CA_CERTS=",
        "CURL_CA_BUNDLE=",
        "keytool -importcert",
        "update-ca-certificates",
        "127.0.0.1 api.weixin.qq.com",
    ] {
        assert!(text.contains(step), "missing {step:?}:\n{text}");
    }
    assert_no_private_key(&text, "openmidas ca");
    let pem = std::fs::read_to_string(&ca).unwrap();

    // Again: the same CA, not a new one; --path and --json for scripts.
    let again = openmidas(dir.path(), &["ca", "--path"]);
    assert_eq!(
        String::from_utf8(again.stdout).unwrap().trim(),
        ca.display().to_string()
    );
    assert_eq!(std::fs::read_to_string(&ca).unwrap(), pem);
    let json = openmidas(dir.path(), &["--json", "ca"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(value["ca_certificate"], ca.display().to_string());
    assert_eq!(value["created"], false);

    // A database elsewhere has its CA beside it; PostgreSQL must be told where.
    let elsewhere = openmidas(dir.path(), &["ca", "--path", "--database", "data/x.db"]);
    assert!(String::from_utf8(elsewhere.stdout)
        .unwrap()
        .contains("data/openmidas-tls/ca.pem"));
    let postgres = openmidas(dir.path(), &["ca", "--database", "postgres://u@127.0.0.1:1/db"]);
    assert!(!postgres.status.success());
    assert!(
        String::from_utf8_lossy(&postgres.stderr).contains("--tls-dir"),
        "{postgres:?}"
    );
}

#[test]
fn a_first_run_keeps_the_database_out_of_git() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".gitignore"), "target/\n").unwrap();
    let process = Process::start(launch(dir.path()));
    drop(process);
    let ignored = std::fs::read_to_string(dir.path().join(".gitignore")).unwrap();
    for line in [
        "target/",
        "openmidas.db",
        "openmidas.db-wal",
        "openmidas.db-shm",
        "openmidas.db.lock",
        "openmidas.db.admin-token",
        "openmidas-tls/",
    ] {
        assert!(ignored.lines().any(|l| l == line), "{line:?} missing:\n{ignored}");
    }
    // A later start changes nothing.
    let process = Process::start(launch(dir.path()));
    drop(process);
    assert_eq!(std::fs::read_to_string(dir.path().join(".gitignore")).unwrap(), ignored);
}

/// The CLI trusts the certificates of `SSL_CERT_FILE` (the local CA) besides the public
/// ones; without it, an HTTPS OpenMidas is refused and the error names the service.
#[tokio::test]
async fn the_cli_trusts_ssl_cert_file() {
    let dir = tempfile::tempdir().unwrap();
    let process = Process::start_with(launch(dir.path()), &["--tls"]);
    let port = port_of(&process.base_url);
    let ca = dir.path().join("openmidas-tls").join("ca.pem");
    let app = test_app(2);
    let created = client_for_wechat_host(&ca, port)
        .post(format!("https://localhost:{port}/admin/apps"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({
            "appid": app.appid, "secret": app.secret, "offer_id": app.offer_id,
            "app_key": app.app_key, "sandbox_app_key": app.sandbox_app_key,
        }))
        .send()
        .await
        .expect("create app over HTTPS");
    assert_eq!(created.status(), 200);
    let token = |trust: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_openmidas"));
        command
            .args(["--json", "token"])
            .env_remove("OPENMIDAS_PROFILE")
            .env_remove("SSL_CERT_FILE")
            .env("HOME", dir.path())
            .env("OPENMIDAS_URL", &process.base_url)
            .env("OPENMIDAS_APPID", &app.appid)
            .env("OPENMIDAS_SECRET", &app.secret);
        if trust {
            command.env("SSL_CERT_FILE", &ca);
        }
        command.output().expect("run openmidas token")
    };
    let trusted = token(true);
    assert!(trusted.status.success(), "{}", String::from_utf8_lossy(&trusted.stderr));
    assert!(String::from_utf8_lossy(&trusted.stdout).contains("access_token"));
    let refused = token(false);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!("cannot reach {}", process.base_url)),
        "{stderr}"
    );
}
