//! Third-party WeChat SDKs against the real `openmidas serve`, as docs/sdks.md tells their
//! users to point them at it. Each recipe script (tests/sdks/) gets an access token through
//! its SDK exactly as the doc says, exchanges a login code, and reads a signed Midas v1
//! getbalance through the SDK's own HTTP machinery; this test starts the server in a temp
//! dir, takes the demo app's credentials from its banner, credits the player 100 coins and
//! checks the balance the script read.
//!
//! wechatpy (PyPI) is pinned to [`WECHATPY`]. Without it the tests print why and pass,
//! except under CI (`CI` set), where they fail: .ci/run installs it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The wechatpy release the recipe is written and tested against.
const WECHATPY: &str = "wechatpy==1.8.18";
/// How long the server may take to print its banner, and a recipe to run.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);
/// The coins credited before the script reads the balance.
const COINS: i64 = 100;

/// `Some(version)` when `python3` can import wechatpy; `None` (with the reason printed)
/// when it cannot and this is not CI; a panic under CI.
fn wechatpy() -> Option<String> {
    let probe = Command::new("python3")
        .args(["-c", "import wechatpy; print(wechatpy.__version__)"])
        .stdin(Stdio::null())
        .output();
    let reason = match probe {
        Ok(out) if out.status.success() => {
            return Some(String::from_utf8_lossy(&out.stdout).trim().to_string());
        }
        Ok(out) => format!(
            "python3 cannot import wechatpy ({})",
            String::from_utf8_lossy(&out.stderr).trim().lines().last().unwrap_or("")
        ),
        Err(e) => format!("no python3 ({e})"),
    };
    let install = format!("python3 -m pip install '{WECHATPY}'");
    if std::env::var_os("CI").is_some() {
        panic!("{reason}: CI must install it ({install}; see .ci/run)");
    }
    eprintln!("skipped: {reason}; to run this test: {install}");
    None
}

/// The demo app of the banner's `demo app:` line.
struct DemoApp {
    appid: String,
    secret: String,
    offer_id: String,
    app_key: String,
}

/// A running `openmidas serve` in its own directory; killed on drop.
struct Server {
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`
    http: String,
    /// `127.0.0.1:PORT` of the HTTPS listener, when started with one.
    https: Option<String>,
    admin_token: String,
    app: DemoApp,
    stderr: PathBuf,
}

impl Server {
    /// Starts the binary without an admin token (so it generates one and prints the demo
    /// app) on a free port, with `--tls-listen 127.0.0.1:0` too when `tls`.
    fn start(tls: bool) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let stderr = dir.path().join("stderr.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_openmidas"));
        command.args(["serve", "--listen", "127.0.0.1:0"]);
        if tls {
            command.args(["--tls-listen", "127.0.0.1:0"]);
        }
        for var in [
            "OPENMIDAS_ADMIN_TOKEN",
            "OPENMIDAS_DATABASE_URL",
            "OPENMIDAS_LISTEN",
            "OPENMIDAS_CONFIG",
            "OPENMIDAS_MODE",
            "OPENMIDAS_LOG_FORMAT",
            "OPENMIDAS_TLS",
            "OPENMIDAS_TLS_LISTEN",
            "OPENMIDAS_TLS_DIR",
            "OPENMIDAS_TLS_HOSTS",
            "RUST_LOG",
        ] {
            command.env_remove(var);
        }
        let mut child = command
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr log"))
            .spawn()
            .expect("spawn openmidas serve");
        let out = child.stdout.take().expect("piped stdout");
        let stdout = Arc::new(Mutex::new(String::new()));
        {
            let stdout = stdout.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    let mut all = stdout.lock().unwrap();
                    all.push_str(&line);
                    all.push('\n');
                }
            });
        }
        // The whole banner: the walkthrough ends it; an HTTPS listener has its own line.
        let deadline = Instant::now() + START_TIMEOUT;
        let banner = loop {
            let banner = stdout.lock().unwrap().clone();
            if banner.contains("# ---- end of walkthrough") && (!tls || banner.contains(" listening on https://")) {
                break banner;
            }
            if Instant::now() >= deadline || child.try_wait().ok().flatten().is_some() {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "openmidas serve printed no complete banner:\n{banner}\nlogs:\n{}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let listening = |scheme: &str| {
            banner
                .lines()
                .find_map(|l| l.split(&format!(" listening on {scheme}://")).nth(1))
                .map(|addr| addr.trim().to_string())
        };
        let http = format!(
            "http://{}",
            listening("http").unwrap_or_else(|| panic!("no http listener in:\n{banner}"))
        );
        let https = if tls {
            Some(listening("https").unwrap_or_else(|| panic!("no https listener in:\n{banner}")))
        } else {
            None
        };
        let admin_token = banner
            .lines()
            .find_map(|l| l.strip_prefix("admin token (generated"))
            .and_then(|rest| rest.rsplit(": ").next())
            .unwrap_or_else(|| panic!("no generated admin token in:\n{banner}"))
            .trim()
            .to_string();
        let demo = banner
            .lines()
            .find(|l| l.starts_with("demo app:"))
            .unwrap_or_else(|| panic!("no demo app line in:\n{banner}"));
        let value = |key: &str| {
            demo.split_whitespace()
                .find_map(|word| word.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("no {key}= in {demo:?}"))
                .to_string()
        };
        let app = DemoApp {
            appid: value("appid"),
            secret: value("secret"),
            offer_id: value("offer_id"),
            app_key: value("app_key"),
        };
        Server {
            child: Some(child),
            dir,
            http,
            https,
            admin_token,
            app,
            stderr,
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// POSTs an admin call and answers its JSON (errcode 0 asserted).
    fn admin(&self, path: &str, body: Value) -> Value {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let answer: Value = runtime.block_on(async {
            let response = reqwest::Client::new()
                .post(format!("{}{path}", self.http))
                .bearer_auth(&self.admin_token)
                .timeout(Duration::from_secs(20))
                .body(body.to_string())
                .send()
                .await
                .unwrap_or_else(|e| panic!("POST {path}: {e}"));
            let text = response.text().await.expect("answer body");
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
        });
        assert_eq!(answer["errcode"], 0, "{path}: {answer}");
        answer
    }

    /// Credits `openid` with [`COINS`] (the simulated wx.requestMidasPayment) and logs it
    /// in (the simulated wx.login): the login code for jscode2session.
    fn player(&self, openid: &str) -> String {
        let recharge = self.admin(
            "/admin/recharge",
            json!({"appid": self.app.appid, "openid": openid, "env": "official", "buy_quantity": COINS}),
        );
        assert_eq!(recharge["balance"], COINS, "{recharge}");
        let login = self.admin("/admin/login", json!({"appid": self.app.appid, "openid": openid}));
        login["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code: {login}"))
            .to_string()
    }

    /// The environment every recipe script reads.
    fn script_env(&self, openid: &str, code: &str) -> Vec<(&'static str, String)> {
        vec![
            ("OPENMIDAS_APPID", self.app.appid.clone()),
            ("OPENMIDAS_SECRET", self.app.secret.clone()),
            ("OPENMIDAS_OFFER_ID", self.app.offer_id.clone()),
            ("OPENMIDAS_APP_KEY", self.app.app_key.clone()),
            ("OPENMIDAS_OPENID", openid.to_string()),
            ("OPENMIDAS_JS_CODE", code.to_string()),
        ]
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs a recipe script with only the given environment added (no proxy, no CA override
/// but the one given), kills it after [`SCRIPT_TIMEOUT`], and answers its `RESULT` line.
fn run_recipe(server: &Server, script: &str, args: &[&str], env: Vec<(&str, String)>) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdks").join(script);
    let mut command = Command::new("python3");
    command.arg(&path).args(args).current_dir(server.dir.path());
    for var in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "SSL_CERT_FILE",
        "OPENMIDAS_URL",
        "OPENMIDAS_TLS_PORT",
    ] {
        command.env_remove(var);
    }
    command.env("NO_PROXY", "127.0.0.1,localhost,api.weixin.qq.com");
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel::<std::io::Result<Output>>();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(SCRIPT_TIMEOUT) {
        Ok(output) => output.expect("wait for python3"),
        Err(_) => {
            // SAFETY: kill(2) on our own child, not reaped yet (wait_with_output is still
            // waiting for it), so the pid cannot have been reused.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!(
                "{script} {args:?} ran longer than {SCRIPT_TIMEOUT:?}; server logs:\n{}",
                server.logs()
            );
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    eprintln!("{script} {args:?}:\n{stdout}{stderr}");
    assert!(
        output.status.success(),
        "{script} {args:?} failed ({}):\n{stdout}\n{stderr}\nserver logs:\n{}",
        output.status,
        server.logs()
    );
    let result = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("{script} printed no RESULT line:\n{stdout}\n{stderr}"));
    serde_json::from_str(result).unwrap_or_else(|e| panic!("RESULT is not JSON ({e}): {result}"))
}

/// What every recipe must have read: a real access token and the credited balance.
fn assert_balance(result: &Value, openid: &str) {
    assert_eq!(result["errcode"], 0, "{result}");
    assert_eq!(result["balance"], COINS, "{result}");
    assert_eq!(result["openid"], openid, "{result}");
    assert_eq!(result["access_token_chars"], 64, "{result}");
}

/// docs/sdks.md, wechatpy, recipe A: the client's requests are sent to OpenMidas's URL.
#[test]
fn wechatpy_base_url_recipe_reads_the_balance() {
    let Some(version) = wechatpy() else { return };
    let server = Server::start(false);
    let openid = "wechatpy-player";
    let code = server.player(openid);
    let mut env = server.script_env(openid, &code);
    env.push(("OPENMIDAS_URL", server.http.clone()));
    let result = run_recipe(&server, "wechatpy_recipe.py", &["base-url"], env);
    assert_eq!(result["mode"], "base-url", "{result}");
    assert_eq!(result["wechatpy"], version, "{result}");
    assert_balance(&result, openid);
    let logs = server.logs();
    assert!(
        !logs.contains(&server.app.secret),
        "the AppSecret reached the logs:\n{logs}"
    );
}

/// docs/sdks.md, wechatpy, recipe B: the unchanged client calls `https://api.weixin.qq.com`,
/// served by `openmidas serve --tls-listen`, trusting the server's local CA through
/// `REQUESTS_CA_BUNDLE`. The script stands in for the hosts entry and port 443 by resolving
/// api.weixin.qq.com:443 to 127.0.0.1:<the TLS port> inside its own process.
#[test]
fn wechatpy_tls_recipe_reads_the_balance() {
    let Some(version) = wechatpy() else { return };
    let server = Server::start(true);
    let https = server.https.clone().expect("an https listener");
    let port = https
        .rsplit_once(':')
        .map(|(_, port)| port.to_string())
        .unwrap_or_else(|| panic!("no port in {https:?}"));
    // The CA lives beside the database (here the default ./openmidas.db), as docs/sdks.md says.
    let ca = server.dir.path().join("openmidas-tls").join("ca.pem");
    assert!(ca.is_file(), "no CA certificate at {}", ca.display());
    // ... and where `openmidas ca` says it is.
    let printed = Command::new(env!("CARGO_BIN_EXE_openmidas"))
        .args(["ca", "--path"])
        .current_dir(server.dir.path())
        .env_remove("OPENMIDAS_DATABASE_URL")
        .env_remove("OPENMIDAS_CONFIG")
        .env_remove("OPENMIDAS_TLS_DIR")
        .output()
        .expect("openmidas ca --path");
    assert!(printed.status.success(), "openmidas ca --path: {printed:?}");
    let printed = PathBuf::from(String::from_utf8_lossy(&printed.stdout).trim());
    assert_eq!(
        printed.canonicalize().expect("the printed CA path exists"),
        ca.canonicalize().expect("CA path"),
        "openmidas ca --path"
    );
    let openid = "wechatpy-tls-player";
    let code = server.player(openid);
    let mut env = server.script_env(openid, &code);
    env.push(("REQUESTS_CA_BUNDLE", ca.display().to_string()));
    env.push(("OPENMIDAS_TLS_PORT", port));
    let result = run_recipe(&server, "wechatpy_recipe.py", &["tls"], env);
    assert_eq!(result["mode"], "tls", "{result}");
    assert_eq!(result["wechatpy"], version, "{result}");
    assert_balance(&result, openid);
}
