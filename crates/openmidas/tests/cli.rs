//! The client subcommands of the real binary against a real `openmidas serve`, with output
//! snapshots (tokens, session keys and server-numbered orders redacted), and `sign
//! --explain` against the known-answer signature vectors.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

const ADMIN_TOKEN: &str = "cli-test-admin-token";
const APPID: &str = "wxclitest";
const SECRET: &str = "cli-test-secret-0123456789";
const OFFER_ID: &str = "1450000099";
const APP_KEY: &str = "CliTestAppKey0123456789abcdefABCD";
const SANDBOX_APP_KEY: &str = "CliTestSandboxKey0123456789abcdef";
/// How long an xpay refund_order stays in progress (on the emulator's clock).
const REFUND_DELAY_SECS: u32 = 60;

/// Every variable the client subcommands read: cleared so the developer's shell never leaks in.
const OPENMIDAS_VARS: &[&str] = &[
    "OPENMIDAS_URL",
    "OPENMIDAS_APPID",
    "OPENMIDAS_SECRET",
    "OPENMIDAS_OFFER_ID",
    "OPENMIDAS_APP_KEY",
    "OPENMIDAS_SANDBOX_APP_KEY",
    "OPENMIDAS_ADMIN_TOKEN",
    "OPENMIDAS_PROFILE",
    "OPENMIDAS_PROFILE_NAME",
    "OPENMIDAS_SESSION_KEY",
    "OPENMIDAS_LANG",
    "LC_ALL",
    "LC_MESSAGES",
    "LANG",
    "SSL_CERT_FILE",
    "RUST_LOG",
];

/// A running `openmidas serve` on 127.0.0.1:0 with one configured app; killed on drop.
struct Server {
    child: Child,
    base_url: String,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start() -> Server {
        Server::start_with(&[])
    }

    /// The same, with more `serve` flags (`--mode ledger`).
    fn start_with(serve_args: &[&str]) -> Server {
        Server::start_configured("", serve_args)
    }

    /// The same, with more of the config file after the app's table (`[apps.push]`).
    fn start_configured(more_config: &str, serve_args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("server.toml");
        std::fs::write(
            &config,
            format!(
                "demo_app = false\n[[apps]]\nappid = \"{APPID}\"\nsecret = \"{SECRET}\"\noffer_id = \"{OFFER_ID}\"\n\
                 app_key = \"{APP_KEY}\"\nsandbox_app_key = \"{SANDBOX_APP_KEY}\"\n\
                 refund_delay_secs = {REFUND_DELAY_SECS}\n{more_config}"
            ),
        )
        .expect("write config");
        let mut command = Command::new(env!("CARGO_BIN_EXE_openmidas"));
        for var in OPENMIDAS_VARS {
            command.env_remove(var);
        }
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--database"])
            .arg(dir.path().join("x.db"))
            .arg("--config")
            .arg(&config)
            .args(serve_args)
            .env("OPENMIDAS_ADMIN_TOKEN", ADMIN_TOKEN)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn openmidas serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base_url = loop {
            let line = lines
                .next()
                .expect("openmidas serve exited before printing its address")
                .expect("read stdout");
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.trim().to_string();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base_url, dir }
    }

    /// A client command with the settings in the environment, HOME in the temp dir.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = self.bare(args);
        command
            .env("OPENMIDAS_URL", &self.base_url)
            .env("OPENMIDAS_APPID", APPID)
            .env("OPENMIDAS_SECRET", SECRET)
            .env("OPENMIDAS_OFFER_ID", OFFER_ID)
            .env("OPENMIDAS_APP_KEY", APP_KEY)
            .env("OPENMIDAS_SANDBOX_APP_KEY", SANDBOX_APP_KEY)
            .env("OPENMIDAS_ADMIN_TOKEN", ADMIN_TOKEN);
        command
    }

    /// A client command with no settings at all.
    fn bare(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_openmidas"));
        for var in OPENMIDAS_VARS {
            command.env_remove(var);
        }
        command
            .args(args)
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .stdin(Stdio::null());
        command
    }

    fn ok(&self, args: &[&str]) -> String {
        run_ok(self.command(args))
    }

    fn fails(&self, args: &[&str]) -> (String, String) {
        run_fails(self.command(args))
    }
}

fn run_ok(mut command: Command) -> String {
    let out: Output = command.output().expect("run openmidas");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{command:?} failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    stdout
}

/// Runs a command that must exit 1; answers (stdout, stderr).
fn run_fails(mut command: Command) -> (String, String) {
    let out = command.output().expect("run openmidas");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{command:?}\nstdout: {stdout}\nstderr: {stderr}"
    );
    (stdout, stderr)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Replaces each secret value with its label.
fn redact(text: &str, secrets: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (value, label) in secrets {
        assert!(!value.is_empty());
        out = out.replace(value, label);
    }
    out
}

/// Logs a player in through the CLI; answers the session_key.
fn login(server: &Server, openid: &str) -> String {
    let answer = json(&server.ok(&["login", "--openid", openid, "--json"]));
    assert_eq!(answer["openid"], openid);
    answer["session_key"].as_str().expect("session_key").to_string()
}

#[test]
fn newcomer_flow_in_human_output() {
    let server = Server::start();
    let mut transcript = String::new();
    let mut step = |title: &str, output: String| {
        transcript.push_str(&format!("$ openmidas {title}\n{output}\n"));
    };

    let token_out = server.ok(&["token"]);
    let token = token_out
        .lines()
        .find_map(|l| l.strip_prefix("access_token: "))
        .expect("token line")
        .trim()
        .to_string();
    let login_out = server.ok(&["login", "--openid", "player-1"]);
    let session_key = login_out
        .lines()
        .find_map(|l| l.strip_prefix("session_key: "))
        .expect("session_key line")
        .trim()
        .to_string();
    let secrets = [
        (token.as_str(), "[access_token]"),
        (session_key.as_str(), "[session_key]"),
    ];
    step("token", redact(&token_out, &secrets));
    step("login --openid player-1", redact(&login_out, &secrets));
    let sk = session_key.as_str();
    step(
        "recharge --openid player-1 --amount 100 --out-trade-no first-100",
        server.ok(&[
            "recharge",
            "--openid",
            "player-1",
            "--amount",
            "100",
            "--out-trade-no",
            "first-100",
        ]),
    );
    let player = ["--openid", "player-1", "--session-key", sk];
    let with = |args: &[&str]| -> Vec<String> { args.iter().chain(player.iter()).map(|s| s.to_string()).collect() };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        server.ok(&refs)
    };
    step("balance", run(with(&["balance"])));
    step(
        "pay --amount 30 --bill-no order-1 --pay-item sword",
        run(with(&[
            "pay",
            "--amount",
            "30",
            "--bill-no",
            "order-1",
            "--pay-item",
            "sword",
        ])),
    );
    step(
        "pay --amount 30 --bill-no order-1 --pay-item sword   (again: not charged twice)",
        run(with(&[
            "pay",
            "--amount",
            "30",
            "--bill-no",
            "order-1",
            "--pay-item",
            "sword",
        ])),
    );
    step(
        "present --amount 20 --bill-no gift-1",
        run(with(&["present", "--amount", "20", "--bill-no", "gift-1"])),
    );
    step("balance", run(with(&["balance"])));
    step(
        "cancel --bill-no order-1",
        run(with(&["cancel", "--bill-no", "order-1"])),
    );
    step("balance", run(with(&["balance"])));
    step("balance --sandbox", run(with(&["balance", "--sandbox"])));

    assert!(!transcript.contains(sk) && !transcript.contains(&token));
    insta::assert_snapshot!(transcript);
}

#[test]
fn json_output_for_scripts() {
    let server = Server::start();
    let token = json(&server.ok(&["token", "--json"]));
    assert!(token["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(token["expires_in"], 7200);
    let classic = json(&server.ok(&["token", "--classic", "--json"]));
    assert_ne!(classic["access_token"], token["access_token"]);

    let sk = login(&server, "player-2");
    let fresh = json(&server.ok(&["login", "--json"]));
    assert!(fresh["openid"]
        .as_str()
        .is_some_and(|o| !o.is_empty() && o != "player-2"));

    let recharged = json(&server.ok(&[
        "recharge",
        "--openid",
        "player-2",
        "--amount",
        "50",
        "--sandbox",
        "--json",
    ]));
    assert!(recharged["out_trade_no"].as_str().is_some_and(|o| !o.is_empty()));
    let mut outputs = serde_json::Map::new();
    let mut recharged = recharged;
    recharged["out_trade_no"] = "[numbered by the server]".into();
    outputs.insert("recharge".into(), recharged);
    let p = [
        "--openid",
        "player-2",
        "--session-key",
        sk.as_str(),
        "--sandbox",
        "--json",
    ];
    let run = |name: &str, args: &[&str]| -> (String, Value) {
        let all: Vec<&str> = args.iter().chain(p.iter()).copied().collect();
        (name.to_string(), json(&server.ok(&all)))
    };
    for (name, value) in [
        run(
            "pay",
            &["pay", "--amount", "20", "--bill-no", "s-1", "--app-remark", "level 2"],
        ),
        run(
            "pay_again",
            &["pay", "--amount", "20", "--bill-no", "s-1", "--app-remark", "level 2"],
        ),
        run("present", &["present", "--amount", "5", "--bill-no", "g-1"]),
        run("cancel", &["cancel", "--bill-no", "s-1"]),
        run("balance", &["balance"]),
    ] {
        outputs.insert(name, value);
    }
    insta::assert_json_snapshot!(Value::Object(outputs));
}

#[test]
fn every_failure_names_its_errcode_and_meaning() {
    let server = Server::start();
    let sk = login(&server, "player-3");
    let mut transcript = String::new();
    // Every errmsg ends with its request id, which changes each run.
    let mut record = |title: &str, (stdout, stderr): (String, String)| {
        transcript.push_str(&format!("$ openmidas {title}\n"));
        if !stdout.is_empty() {
            transcript.push_str(&format!("stdout: {}", redact_rids(&stdout)));
        }
        transcript.push_str(&format!("stderr: {}\n", redact_rids(&stderr)));
    };
    let p = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(["--openid", "player-3", "--session-key", sk.as_str()].iter())
            .map(|s| s.to_string())
            .collect()
    };
    let fails = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        server.fails(&refs)
    };
    record(
        "pay --amount 10 --bill-no broke-1",
        fails(p(&["pay", "--amount", "10", "--bill-no", "broke-1"])),
    );
    record(
        "pay --amount 10 --bill-no broke-1 --json",
        fails(p(&["pay", "--amount", "10", "--bill-no", "broke-1", "--json"])),
    );
    record(
        "cancel --bill-no never-paid",
        fails(p(&["cancel", "--bill-no", "never-paid"])),
    );
    record(
        "balance --openid player-3 --session-key [someone else's]",
        fails(vec![
            "balance".into(),
            "--openid".into(),
            "player-3".into(),
            "--session-key".into(),
            "AAAAAAAAAAAAAAAAAAAAAA==".into(),
        ]),
    );
    record(
        "recharge --openid player-3 --amount 10 --out-trade-no dup-1   (twice)",
        {
            server.ok(&[
                "recharge",
                "--openid",
                "player-3",
                "--amount",
                "10",
                "--out-trade-no",
                "dup-1",
            ]);
            server.fails(&[
                "recharge",
                "--openid",
                "player-3",
                "--amount",
                "10",
                "--out-trade-no",
                "dup-1",
            ])
        },
    );
    record(
        "pay --bill-no 'not valid' (refused before sending)",
        fails(p(&["pay", "--amount", "1", "--bill-no", "not valid"])),
    );
    record(
        "token --secret wrong",
        server.fails(&["token", "--secret", "wrong-secret"]),
    );
    let mut no_appid = server.bare(&["balance", "--openid", "x"]);
    no_appid.env("OPENMIDAS_URL", &server.base_url);
    record("balance --openid x   (no settings)", run_fails(no_appid));
    let mut real_service = server.bare(&["login", "--appid", APPID, "--secret", SECRET, "--admin-token", "t"]);
    real_service.env_remove("OPENMIDAS_URL");
    record(
        "login   (no --url: the real service has no admin routes)",
        run_fails(real_service),
    );

    let transcript = transcript.replace(&server.base_url, "[url]");
    assert!(!transcript.contains(&sk));
    insta::assert_snapshot!(transcript);
}

#[test]
fn profile_file_with_named_profiles() {
    let server = Server::start();
    let profile = server.dir.path().join("profile.toml");
    std::fs::write(
        &profile,
        format!(
            "default = \"local\"\n\n[profiles.local]\nurl = \"{url}\"\nappid = \"{APPID}\"\nsecret = \"{SECRET}\"\n\
             offer_id = \"{OFFER_ID}\"\napp_key = \"{APP_KEY}\"\nsandbox_app_key = \"{SANDBOX_APP_KEY}\"\n\
             admin_token = \"{ADMIN_TOKEN}\"\n\n[profiles.wrong-key]\nurl = \"{url}\"\nappid = \"{APPID}\"\n\
             secret = \"{SECRET}\"\noffer_id = \"{OFFER_ID}\"\napp_key = \"not-the-app-key\"\n",
            url = server.base_url
        ),
    )
    .expect("write profile");
    let file = profile.to_str().expect("utf-8 path");

    // --profile FILE, default profile of the file.
    run_ok(server.bare(&["recharge", "--profile", file, "--openid", "p", "--amount", "7"]));
    let b = json(&run_ok(server.bare(&[
        "balance",
        "--profile",
        file,
        "--openid",
        "p",
        "--json",
    ])));
    assert_eq!(b["balance"], 7);

    // A named profile; its wrong AppKey gives a sig error.
    let (_, stderr) = run_fails(server.bare(&[
        "balance",
        "--profile",
        file,
        "--profile-name",
        "wrong-key",
        "--openid",
        "p",
    ]));
    assert!(stderr.contains("90011"), "{stderr}");
    // A flag overrides the profile.
    let b = json(&run_ok(server.bare(&[
        "balance",
        "--profile",
        file,
        "--profile-name",
        "wrong-key",
        "--app-key",
        APP_KEY,
        "--openid",
        "p",
        "--json",
    ])));
    assert_eq!(b["balance"], 7);
    // So does the environment.
    let mut env_key = server.bare(&["balance", "--profile-name", "wrong-key", "--openid", "p", "--json"]);
    env_key.env("OPENMIDAS_PROFILE", file).env("OPENMIDAS_APP_KEY", APP_KEY);
    assert_eq!(json(&run_ok(env_key))["balance"], 7);

    // The default location: $XDG_CONFIG_HOME/openmidas/profile.toml.
    let default_dir: PathBuf = server.dir.path().join("config").join("openmidas");
    std::fs::create_dir_all(&default_dir).expect("config dir");
    std::fs::copy(&profile, default_dir.join("profile.toml")).expect("copy profile");
    let b = json(&run_ok(server.bare(&["balance", "--openid", "p", "--json"])));
    assert_eq!(b["balance"], 7);

    let (_, stderr) =
        run_fails(server.bare(&["balance", "--profile", file, "--profile-name", "nope", "--openid", "p"]));
    assert!(
        stderr.contains("profile \"nope\" is not in") && stderr.contains("local, wrong-key"),
        "{stderr}"
    );
    let missing = Path::new(file).with_file_name("missing.toml");
    let (_, stderr) = run_fails(server.bare(&["balance", "--profile", missing.to_str().unwrap(), "--openid", "p"]));
    assert!(stderr.contains("cannot read the profile file"), "{stderr}");
}

/// The shared known-answer vectors (copied here): the common body, then per vector the uri,
/// the extra fields, sig and mp_sig. Key AppKey `zNLg...`, session_key `V7Q38...`,
/// access_token `ACCESSTOKEN`.
const VECTOR_APP_KEY: &str = "zNLgAGgqsEWJOg1nFVaO5r7fAlIQxr1u";
const VECTOR_SESSION_KEY: &str = "V7Q38/i2KXaqrQyl2Yx9Hg==";
const VECTOR_BODY: &str = r#""openid":"odkx20ENSNa2w5y3g_qOkOvBNM1g","appid":"wx1234567","offer_id":"12345678","ts":1507530737,"zone_id":"1","pf":"android""#;
const VECTORS: &[(&str, &str, &str, &str)] = &[
    (
        "/cgi-bin/midas/getbalance",
        "",
        "1ad64e8dcb2ec1dc486b7fdf01f4a15159fc623dc3422470e51cf6870734726b",
        "ff4c5bb39dea1002a8f03be0438724e1a8bcea5ebce8f221f9b9fea3bcf3bf76",
    ),
    (
        "/cgi-bin/midas/pay",
        r#","amt":123,"bill_no":"BillNo_123""#,
        "ada5ef41b2f185b9d6ba041ed0f4ba562ed5aeb6acce17be58865fa88c55aaab",
        "101c9de900169d556be97ceafce55a18bf1385bc39e0ddb4e8ca7c1d670c76da",
    ),
    (
        "/cgi-bin/midas/cancelpay",
        r#","bill_no":"BillNo_123""#,
        "cff702559f26433de1df7e20921d5798bf4dc1c7636472a0bec82369a8bb6ba8",
        "35b37a9192e7bbb595627b371ac8dc6ccf879f3d8b9486927708a1de13232219",
    ),
    (
        "/cgi-bin/midas/present",
        r#","present_counts":233,"bill_no":"BillNo_123""#,
        "c82c534ca46818722a8cbe0004020aea541333aefa7a780fb0bb45d9397da3ef",
        "523537261e0205eda7a7ed2a6e3d7333badc94cc2eb591f733559f3608bbe0af",
    ),
    (
        "/cgi-bin/midas/sandbox/getbalance",
        "",
        "f8f9f6ac64eb1cf4a5f2f0235f72fe69af0d2ceb2b26bed5a024244140643bb4",
        "ba1b7d2bce2e824cadf56c143fab6739e843f7b5578c079ec1432f12e5120b6c",
    ),
    (
        "/cgi-bin/midas/sandbox/pay",
        r#","amt":123,"bill_no":"BillNo_123""#,
        "e00c9d9177ff4005844734e08d08c39ebfebc82d8fab0d941a097cb1ba7c25e0",
        "9d6493a6a5e1b94832f33845c0d7cf13c8a41deef6291f2e07541f2188d933a7",
    ),
    (
        "/cgi-bin/midas/sandbox/cancelpay",
        r#","bill_no":"BillNo_123""#,
        "967ddbdbd7ba6893e57fac0d7b39711241c28a0c4a93e2cdadc2ebae9cb350e5",
        "3154cf22edd1a3eeab094f68bc810230ff5020b8072df90c636384a751775fbf",
    ),
    (
        "/cgi-bin/midas/sandbox/present",
        r#","present_counts":233,"bill_no":"BillNo_123""#,
        "d057ab7878e30688ab5f075328a9e600cd3b443ce2980defa69969ef7e364b2b",
        "95204c161bdd55024dabdf91263f10661ba7bc9311d79d57b58efabcff92410a",
    ),
];

fn sign_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_openmidas"));
    for var in OPENMIDAS_VARS {
        command.env_remove(var);
    }
    command.arg("sign").args(args).stdin(Stdio::null());
    command
}

fn explain(uri: &str, body: &str) -> String {
    run_ok(sign_command(&[
        "--explain",
        "--app-key",
        VECTOR_APP_KEY,
        "--uri",
        uri,
        "--session-key",
        VECTOR_SESSION_KEY,
        "--access-token",
        "ACCESSTOKEN",
        "--body",
        body,
    ]))
}

/// The value after `label` on its line, up to the first whitespace.
fn field(output: &str, label: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} in {output}"))
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn sign_explain_matches_the_known_answer_vectors() {
    for (uri, extra, sig, mp_sig) in VECTORS {
        let body = format!("{{{VECTOR_BODY}{extra}}}");
        let out = explain(uri, &body);
        assert_eq!(field(&out, "sig:"), *sig, "{uri}\n{out}");
        assert_eq!(field(&out, "mp_sig:"), *mp_sig, "{uri}\n{out}");

        // Without --explain: the signed body, ready to POST, carries the same signatures.
        let signed = json(&run_ok(sign_command(&[
            "--app-key",
            VECTOR_APP_KEY,
            "--uri",
            uri,
            "--session-key",
            VECTOR_SESSION_KEY,
            "--access-token",
            "ACCESSTOKEN",
            "--body",
            &body,
        ])));
        assert_eq!(signed["sig"], *sig, "{uri}");
        assert_eq!(signed["mp_sig"], *mp_sig, "{uri}");
    }
    // key=value form, sig only.
    let out = run_ok(sign_command(&[
        "--app-key",
        VECTOR_APP_KEY,
        "--uri",
        "/cgi-bin/midas/getbalance",
        "openid=odkx20ENSNa2w5y3g_qOkOvBNM1g",
        "appid=wx1234567",
        "offer_id=12345678",
        "ts=1507530737",
        "zone_id=1",
        "pf=android",
    ]));
    assert_eq!(out.trim(), format!("sig={}", VECTORS[0].2));

    let getbalance = explain(VECTORS[0].0, &format!("{{{VECTOR_BODY}}}"));
    assert_eq!(
        field(&getbalance, "sig_string: "),
        "appid=wx1234567&offer_id=12345678&openid=odkx20ENSNa2w5y3g_qOkOvBNM1g&pf=android&ts=1507530737&zone_id=1\
         &org_loc=/cgi-bin/midas/getbalance&method=POST&secret=zNLgAGgqsEWJOg1nFVaO5r7fAlIQxr1u"
    );
    assert_eq!(
        field(&getbalance, "mp_sig_string: "),
        "access_token=ACCESSTOKEN&appid=wx1234567&offer_id=12345678&openid=odkx20ENSNa2w5y3g_qOkOvBNM1g&pf=android\
         &sig=1ad64e8dcb2ec1dc486b7fdf01f4a15159fc623dc3422470e51cf6870734726b&ts=1507530737&zone_id=1\
         &org_loc=/cgi-bin/midas/getbalance&method=POST&session_key=V7Q38/i2KXaqrQyl2Yx9Hg=="
    );
    insta::assert_snapshot!(getbalance);
}

// ---- Virtual payment 2.0 and the simulated player's purchases ----

/// Replaces every ` rid: <8 hex>-<8 hex>-<8 hex>` (2.0 errmsgs carry one) with ` rid: <rid>`.
fn redact_rids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(" rid: ") {
        let (head, tail) = rest.split_at(at + " rid: ".len());
        out.push_str(head);
        let rid = tail.get(..26).unwrap_or_default();
        let parts: Vec<&str> = rid.split('-').collect();
        assert!(
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| p.len() == 8 && p.bytes().all(|b| b.is_ascii_hexdigit())),
            "not a rid: {tail:?}"
        );
        out.push_str("<rid>");
        rest = &tail[26..];
    }
    out.push_str(rest);
    out
}

/// The seconds of the system clock now.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Checks the platform's ids and a paid purchase's time (they change every run) and puts
/// their shape in their place: `mch` and 32 hex digits, `4200` and 24 digits, a time of the
/// last minutes.
fn redact_order_ids(text: &str) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = if let Some(value) = line.strip_prefix("mch_order_no:    ") {
            let hex = value.strip_prefix("mch").unwrap_or_default();
            assert!(hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
            "mch_order_no:    [mch + 32 hex digits]".to_string()
        } else if let Some(value) = line.strip_prefix("transaction_id:  ") {
            assert!(
                value.starts_with("4200") && value.len() == 28 && value.bytes().all(|b| b.is_ascii_digit()),
                "{line}"
            );
            "transaction_id:  [4200 + 24 digits]".to_string()
        } else if let Some(value) = line.strip_prefix("pay_finish_time: ") {
            let seconds: i64 = value.split(' ').next().and_then(|s| s.parse().ok()).expect("seconds");
            if seconds == 0 {
                line.to_string()
            } else {
                assert!((unix_now() - seconds).abs() < 600, "{line}");
                "pay_finish_time: [now] (UNIX seconds)".to_string()
            }
        } else {
            line.to_string()
        };
        out.push(line);
    }
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    joined
}

/// The same, in a JSON answer of `order --json`.
fn redact_order_json(mut order: Value) -> Value {
    let text = format!(
        "mch_order_no:    {}\ntransaction_id:  {}\npay_finish_time: {}",
        order["mch_order_no"].as_str().expect("mch_order_no"),
        order["transaction_id"].as_str().expect("transaction_id"),
        order["pay_finish_time"].as_i64().expect("pay_finish_time"),
    );
    // The same checks as the text output's (the redacted text itself is not needed).
    let _checked = redact_order_ids(&text);
    order["mch_order_no"] = "[mch + 32 hex digits]".into();
    order["transaction_id"] = "[4200 + 24 digits]".into();
    if order["pay_finish_time"] != 0 {
        order["pay_finish_time"] = "[now]".into();
    }
    order
}

#[test]
fn v2_flow_in_human_output() {
    let server = Server::start();
    let sk = login(&server, "player-1");
    let mut transcript = String::new();
    // The coin purchase that `order --biz coins` finds later.
    let recharged = server.ok(&[
        "recharge",
        "--openid",
        "player-1",
        "--amount",
        "100",
        "--out-trade-no",
        "coins-1",
    ]);
    transcript.push_str(&format!(
        "$ openmidas recharge --openid player-1 --amount 100 --out-trade-no coins-1\n{recharged}\n"
    ));
    let player = ["--openid", "player-1", "--session-key", sk.as_str()];
    // Every step but `purchase pay|close` (which address the purchase) names the player.
    let mut step = |title: &str, args: &[&str]| {
        let extra: &[&str] = if args[0] == "purchase" { &[] } else { &player };
        let all: Vec<&str> = args.iter().chain(extra).copied().collect();
        let output = redact_order_ids(&server.ok(&all));
        transcript.push_str(&format!("$ openmidas {title}\n{output}\n"));
    };
    step("balance --dialect v2", &["balance", "--dialect", "v2"]);
    step(
        "present --dialect v2 --amount 10 --bill-no gift-1",
        &["present", "--dialect", "v2", "--amount", "10", "--bill-no", "gift-1"],
    );
    let pay = [
        "pay",
        "--dialect",
        "v2",
        "--amount",
        "30",
        "--bill-no",
        "pay-1",
        "--payitem",
        "sword",
        "--remark",
        "level 3",
    ];
    step(
        "pay --dialect v2 --amount 30 --bill-no pay-1 --payitem sword --remark 'level 3'",
        &pay,
    );
    step(
        "pay --dialect v2 --amount 30 --bill-no pay-1 --payitem sword --remark 'level 3'   (again: not charged twice)",
        &pay,
    );
    step(
        "refund --bill-no refund-1 --pay-bill-no pay-1 --amount 15   (cash back first)",
        &[
            "refund",
            "--bill-no",
            "refund-1",
            "--pay-bill-no",
            "pay-1",
            "--amount",
            "15",
        ],
    );
    let rest = [
        "refund",
        "--bill-no",
        "refund-2",
        "--pay-bill-no",
        "pay-1",
        "--amount",
        "15",
    ];
    step(
        "refund --bill-no refund-2 --pay-bill-no pay-1 --amount 15   (the rest: cash, then gift)",
        &rest,
    );
    step(
        "refund --bill-no refund-2 --pay-bill-no pay-1 --amount 15   (again: not refunded twice)",
        &rest,
    );
    step("balance --dialect v2", &["balance", "--dialect", "v2"]);
    step(
        "order --out-trade-no coins-1 --biz coins   (the recharge)",
        &["order", "--out-trade-no", "coins-1", "--biz", "coins"],
    );
    step(
        "buy --product-id sword --quantity 2 --price-fen 300 --out-trade-no item-1 --attach level-3",
        &[
            "buy",
            "--product-id",
            "sword",
            "--quantity",
            "2",
            "--price-fen",
            "300",
            "--out-trade-no",
            "item-1",
            "--attach",
            "level-3",
        ],
    );
    step(
        "order --out-trade-no item-1 --biz item",
        &["order", "--out-trade-no", "item-1", "--biz", "item"],
    );
    step(
        "buy --product-id shield --price-fen 500 --out-trade-no item-2 --manual",
        &[
            "buy",
            "--product-id",
            "shield",
            "--price-fen",
            "500",
            "--out-trade-no",
            "item-2",
            "--manual",
        ],
    );
    step(
        "order --out-trade-no item-2 --biz item",
        &["order", "--out-trade-no", "item-2", "--biz", "item"],
    );
    // purchase pay / close address the purchase, not the player.
    step(
        "purchase pay --out-trade-no item-2",
        &["purchase", "pay", "--out-trade-no", "item-2"],
    );
    step(
        "order --out-trade-no item-2 --biz item",
        &["order", "--out-trade-no", "item-2", "--biz", "item"],
    );
    step(
        "buy --product-id shield --price-fen 500 --out-trade-no item-3 --manual --sandbox",
        &[
            "buy",
            "--product-id",
            "shield",
            "--price-fen",
            "500",
            "--out-trade-no",
            "item-3",
            "--manual",
            "--sandbox",
        ],
    );
    step(
        "purchase close --out-trade-no item-3 --sandbox",
        &["purchase", "close", "--out-trade-no", "item-3", "--sandbox"],
    );
    step(
        "balance --dialect v2 --sandbox",
        &["balance", "--dialect", "v2", "--sandbox"],
    );

    assert!(!transcript.contains(&sk));
    insta::assert_snapshot!(transcript);
}

#[test]
fn v2_json_output_for_scripts() {
    let server = Server::start();
    let sk = login(&server, "player-2");
    server.ok(&[
        "recharge",
        "--openid",
        "player-2",
        "--amount",
        "50",
        "--sandbox",
        "--out-trade-no",
        "coins-2",
    ]);
    // The session_key from the environment, as the docs suggest.
    let run = |args: &[&str]| -> Value {
        let all: Vec<&str> = args.iter().chain(["--json"].iter()).copied().collect();
        let mut command = server.command(&all);
        command.env("OPENMIDAS_SESSION_KEY", &sk);
        json(&run_ok(command))
    };
    fn with<'a>(args: &[&'a str]) -> Vec<&'a str> {
        args.iter()
            .chain(&["--openid", "player-2", "--sandbox"])
            .copied()
            .collect()
    }
    let mut outputs = serde_json::Map::new();
    for (name, args) in [
        (
            "present",
            with(&["present", "--dialect", "v2", "--amount", "5", "--bill-no", "g-1"]),
        ),
        (
            "pay",
            with(&["pay", "--dialect", "v2", "--amount", "20", "--bill-no", "s-1"]),
        ),
        (
            "pay_again",
            with(&["pay", "--dialect", "v2", "--amount", "20", "--bill-no", "s-1"]),
        ),
        (
            "refund",
            with(&["refund", "--bill-no", "r-1", "--pay-bill-no", "s-1", "--amount", "20"]),
        ),
        ("balance", with(&["balance", "--dialect", "v2"])),
        (
            "buy",
            with(&[
                "buy",
                "--product-id",
                "gem",
                "--price-fen",
                "100",
                "--out-trade-no",
                "item-1",
                "--manual",
            ]),
        ),
        (
            "purchase_pay",
            vec!["purchase", "pay", "--out-trade-no", "item-1", "--sandbox"],
        ),
    ] {
        outputs.insert(name.into(), run(&args));
    }
    for (name, out_trade_no, biz) in [("order_coins", "coins-2", "coins"), ("order_item", "item-1", "item")] {
        let order = run(&with(&["order", "--out-trade-no", out_trade_no, "--biz", biz]));
        outputs.insert(name.into(), redact_order_json(order));
    }
    insta::assert_json_snapshot!(Value::Object(outputs));
}

#[test]
fn v2_failures_name_their_errcode_and_meaning() {
    let server = Server::start();
    let sk = login(&server, "player-3");
    server.ok(&["recharge", "--openid", "player-3", "--amount", "10"]);
    let mut transcript = String::new();
    let mut record = |title: &str, (stdout, stderr): (String, String)| {
        transcript.push_str(&format!("$ openmidas {title}\n"));
        if !stdout.is_empty() {
            transcript.push_str(&format!("stdout: {stdout}"));
        }
        transcript.push_str(&format!("stderr: {stderr}\n"));
    };
    let p = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(["--openid", "player-3", "--session-key", sk.as_str()].iter())
            .map(|s| s.to_string())
            .collect()
    };
    let fails = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        server.fails(&refs)
    };
    record(
        "balance --dialect v2 --openid player-3   (no session_key)",
        server.fails(&["balance", "--dialect", "v2", "--openid", "player-3"]),
    );
    record(
        "pay --dialect v2 --amount 1 --bill-no b-1 --pay-item sword",
        fails(p(&[
            "pay",
            "--dialect",
            "v2",
            "--amount",
            "1",
            "--bill-no",
            "b-1",
            "--pay-item",
            "sword",
        ])),
    );
    record(
        "pay --amount 1 --bill-no b-1 --remark r   (v1)",
        fails(p(&["pay", "--amount", "1", "--bill-no", "b-1", "--remark", "r"])),
    );
    record(
        "balance --dialect v2 --pf ios",
        fails(p(&["balance", "--dialect", "v2", "--pf", "ios"])),
    );
    record(
        "pay --dialect v2 --amount 11 --bill-no broke-1",
        fails(p(&["pay", "--dialect", "v2", "--amount", "11", "--bill-no", "broke-1"])),
    );
    record(
        "pay --dialect v2 --amount 11 --bill-no broke-1 --json",
        fails(p(&[
            "pay",
            "--dialect",
            "v2",
            "--amount",
            "11",
            "--bill-no",
            "broke-1",
            "--json",
        ])),
    );
    record(
        "pay --dialect v2 --amount 1 --bill-no 'a|b'   (refused before sending)",
        fails(p(&["pay", "--dialect", "v2", "--amount", "1", "--bill-no", "a|b"])),
    );
    record(
        "refund --bill-no r-1 --pay-bill-no never-paid --amount 1",
        fails(p(&[
            "refund",
            "--bill-no",
            "r-1",
            "--pay-bill-no",
            "never-paid",
            "--amount",
            "1",
        ])),
    );
    server.ok(&p(&["pay", "--dialect", "v2", "--amount", "4", "--bill-no", "paid-1"])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    record(
        "refund --bill-no r-2 --pay-bill-no paid-1 --amount 5   (more than the pay)",
        fails(p(&[
            "refund",
            "--bill-no",
            "r-2",
            "--pay-bill-no",
            "paid-1",
            "--amount",
            "5",
        ])),
    );
    record(
        "balance --dialect v2 --openid stranger --session-key [player-3's]   (never logged in)",
        server.fails(&[
            "balance",
            "--dialect",
            "v2",
            "--openid",
            "stranger",
            "--session-key",
            sk.as_str(),
        ]),
    );
    record(
        "order --out-trade-no nothing --biz coins",
        fails(p(&["order", "--out-trade-no", "nothing", "--biz", "coins"])),
    );
    record(
        "order --out-trade-no nothing --biz coins --user-ip 10.0.0.1",
        fails(p(&[
            "order",
            "--out-trade-no",
            "nothing",
            "--biz",
            "coins",
            "--user-ip",
            "10.0.0.1",
        ])),
    );
    let buy = p(&[
        "buy",
        "--product-id",
        "sword",
        "--price-fen",
        "300",
        "--out-trade-no",
        "item-1",
    ]);
    server.ok(&buy.iter().map(String::as_str).collect::<Vec<_>>());
    record("buy ... --out-trade-no item-1   (twice)", fails(buy));
    record(
        "buy --openid player-3 ... --out-trade-no item-2   (no session_key)",
        server.fails(&[
            "buy",
            "--openid",
            "player-3",
            "--product-id",
            "sword",
            "--price-fen",
            "300",
            "--out-trade-no",
            "item-2",
        ]),
    );
    record(
        "buy ... --out-trade-no item-2 --session-key [not the player's]",
        server.fails(&[
            "buy",
            "--openid",
            "player-3",
            "--session-key",
            "AAAAAAAAAAAAAAAAAAAAAA==",
            "--product-id",
            "sword",
            "--price-fen",
            "300",
            "--out-trade-no",
            "item-2",
        ]),
    );
    record(
        "purchase pay --out-trade-no item-1   (paid already)",
        server.fails(&["purchase", "pay", "--out-trade-no", "item-1"]),
    );
    let mut no_sandbox_key = server.bare(&[
        "buy",
        "--openid",
        "player-3",
        "--session-key",
        sk.as_str(),
        "--product-id",
        "sword",
        "--price-fen",
        "300",
        "--out-trade-no",
        "item-3",
        "--sandbox",
    ]);
    no_sandbox_key
        .env("OPENMIDAS_URL", &server.base_url)
        .env("OPENMIDAS_APPID", APPID)
        .env("OPENMIDAS_OFFER_ID", OFFER_ID)
        .env("OPENMIDAS_ADMIN_TOKEN", ADMIN_TOKEN);
    record("buy ... --sandbox   (no sandbox AppKey)", run_fails(no_sandbox_key));

    let transcript = redact_rids(&transcript.replace(&server.base_url, "[url]"));
    assert!(!transcript.contains(&sk));
    for secret in [APP_KEY, SANDBOX_APP_KEY, SECRET, ADMIN_TOKEN] {
        assert!(!transcript.contains(secret), "{secret}");
    }
    insta::assert_snapshot!(transcript);
}

/// A stand-in for the service that issues tokens and answers every other path -1: each
/// 2.0 state change gives up after its retries with its outcome unknown.
fn always_system_error() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // The head, then as many body bytes as content-length says.
                let (head_end, length) = loop {
                    let n = match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    request.extend_from_slice(&buf[..n]);
                    if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (end + 4, length);
                    }
                };
                while request.len() < head_end + length {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&request[..head_end]).into_owned();
                let body = if head.contains(" /cgi-bin/stable_token") {
                    r#"{"access_token":"fake-token-of-the-stand-in","expires_in":7200}"#
                } else {
                    r#"{"errcode":-1,"errmsg":"system error rid: 00000000-00000000-00000000"}"#
                };
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes());
            });
        }
    });
    url
}

#[test]
fn v2_unknown_outcome_says_to_run_again_with_the_same_bill_no() {
    let url = always_system_error();
    // The player and settings; `--dialect v2` is added for the commands that have both.
    let command = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_openmidas"));
        for var in OPENMIDAS_VARS {
            command.env_remove(var);
        }
        command
            .args(args)
            .args(["--openid", "p", "--session-key", "AAAAAAAAAAAAAAAAAAAAAA=="])
            .env("OPENMIDAS_URL", &url)
            .env("OPENMIDAS_APPID", APPID)
            .env("OPENMIDAS_SECRET", SECRET)
            .env("OPENMIDAS_OFFER_ID", OFFER_ID)
            .env("OPENMIDAS_APP_KEY", APP_KEY)
            .env("HOME", std::env::temp_dir().join("openmidas-cli-test-no-home"))
            .stdin(Stdio::null());
        if args[0] != "refund" {
            command.args(["--dialect", "v2"]);
        }
        command
    };
    for (args, bill_no) in [
        (&["pay", "--amount", "1", "--bill-no", "pay-9"][..], "pay-9"),
        (&["present", "--amount", "1", "--bill-no", "gift-9"][..], "gift-9"),
        (
            &[
                "refund",
                "--bill-no",
                "refund-9",
                "--pay-bill-no",
                "pay-9",
                "--amount",
                "1",
            ][..],
            "refund-9",
        ),
    ] {
        let (_, stderr) = run_fails(command(args));
        assert!(stderr.contains("errcode -1"), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "the outcome is unknown: run the same command again with --bill-no {bill_no}; it is never applied twice"
            )),
            "{stderr}"
        );
    }
    // A read has no outcome to worry about.
    let (_, stderr) = run_fails(command(&["balance"]));
    assert!(
        stderr.contains("errcode -1") && !stderr.contains("--bill-no"),
        "{stderr}"
    );
}

/// The 2.0 known-answer vector `v2-getbalance-compact` of
/// `crates/openmidas-protocol/tests/data/signatures.json`, its body byte for byte.
const V2_VECTOR_APP_KEY: &str = "12345";
const V2_VECTOR_SESSION_KEY: &str = "9hAb/NEYUlkaMBEsmFgzig==";
const V2_VECTOR_BODY: &str =
    r#"{"offer_id":"12345678","zone_id":"1","openid":"oUrsfxxxxxxxxxx","env":0,"ts":1668136271}"#;
const V2_VECTOR_PAY_SIG: &str = "5fc5460b23b2589efb8adbc2cf08d7a9cd8892b33e084249a26455b7880741a8";
const V2_VECTOR_SIGNATURE: &str = "7ec6d737f118b0c898de39ef1b6b199c48290e699495364fe9d069597a7da125";

#[test]
fn sign_explain_for_2_0_matches_the_known_answer_vector() {
    let vectors: Value = serde_json::from_str(include_str!("../../openmidas-protocol/tests/data/signatures.json"))
        .expect("signatures.json");
    let vector = vectors["vectors"]
        .as_array()
        .and_then(|all| all.iter().find(|v| v["name"] == "v2-getbalance-compact"))
        .expect("vector v2-getbalance-compact");
    assert_eq!(vector["raw_body"], V2_VECTOR_BODY);
    assert_eq!(vector["pay_sig"], V2_VECTOR_PAY_SIG);
    assert_eq!(vector["signature"], V2_VECTOR_SIGNATURE);

    let common = [
        "--app-key",
        V2_VECTOR_APP_KEY,
        "--uri",
        "/wxa/game/getbalance",
        "--body",
        V2_VECTOR_BODY,
    ];
    let with = |extra: &[&str]| -> Command { sign_command(&common.iter().chain(extra).copied().collect::<Vec<_>>()) };
    let explained = run_ok(with(&["--explain", "--session-key", V2_VECTOR_SESSION_KEY]));
    assert_eq!(field(&explained, "pay_sig:"), V2_VECTOR_PAY_SIG, "{explained}");
    assert_eq!(field(&explained, "signature:"), V2_VECTOR_SIGNATURE, "{explained}");
    assert!(explained.contains(&format!("pay_sig_message: /wxa/game/getbalance&{V2_VECTOR_BODY}\n")));
    assert!(explained.contains(&format!("signature_message: {V2_VECTOR_BODY}\n")));
    assert!(!explained.contains(V2_VECTOR_SESSION_KEY) && !explained.contains("12345&"));
    insta::assert_snapshot!(explained);

    // Without a session_key: pay_sig alone.
    let pay_sig_only = run_ok(with(&["--explain"]));
    assert_eq!(field(&pay_sig_only, "pay_sig:"), V2_VECTOR_PAY_SIG);
    assert!(!pay_sig_only.contains("signature"), "{pay_sig_only}");

    // Signed: the body unchanged, then the query string to send it with.
    let signed = run_ok(with(&[
        "--session-key",
        V2_VECTOR_SESSION_KEY,
        "--access-token",
        "ACCESSTOKEN",
    ]));
    assert_eq!(
        signed,
        format!(
            "{V2_VECTOR_BODY}\naccess_token=ACCESSTOKEN&signature={V2_VECTOR_SIGNATURE}&sig_method=hmac_sha256&pay_sig={V2_VECTOR_PAY_SIG}\n"
        )
    );
    // The query carries the token: 2.0 output needs it.
    let (stdout, stderr) = run_fails(with(&["--session-key", V2_VECTOR_SESSION_KEY]));
    assert!(stdout.is_empty() && stderr.contains("give --access-token"), "{stderr}");
    // 2.0 signs bytes: key=value parameters are refused, and so is a body that is not an object.
    let (_, stderr) = run_fails(sign_command(&["--app-key", "k", "--uri", "/wxa/game/pay", "openid=o"]));
    assert!(stderr.contains("give it as --body JSON"), "{stderr}");
    let (_, stderr) = run_fails(sign_command(&[
        "--app-key",
        "k",
        "--uri",
        "/wxa/game/pay",
        "--body",
        "[1]",
    ]));
    assert!(stderr.contains("JSON object"), "{stderr}");
}

#[test]
fn sign_a_client_item_purchase() {
    let vectors: Value = serde_json::from_str(include_str!("../../openmidas-protocol/tests/data/signatures.json"))
        .expect("signatures.json");
    let vector = vectors["vectors"]
        .as_array()
        .and_then(|all| all.iter().find(|v| v["name"] == "client-requestMidasPaymentGameItem"))
        .expect("vector client-requestMidasPaymentGameItem");
    let text = |key: &str| vector[key].as_str().expect(key).to_string();
    let (sign_data, pay_sig, signature) = (text("sign_data"), text("pay_sig"), text("signature"));
    let args = [
        "--app-key",
        V2_VECTOR_APP_KEY,
        "--uri",
        "requestMidasPaymentGameItem",
        "--session-key",
        V2_VECTOR_SESSION_KEY,
        "--body",
        sign_data.as_str(),
    ];
    let explained = run_ok(sign_command(
        &args.iter().chain(["--explain"].iter()).copied().collect::<Vec<_>>(),
    ));
    assert_eq!(field(&explained, "pay_sig:"), pay_sig, "{explained}");
    assert_eq!(field(&explained, "signature:"), signature, "{explained}");
    assert!(explained.contains(&format!("pay_sig_message: requestMidasPaymentGameItem&{sign_data}\n")));
    let signed = run_ok(sign_command(&args));
    assert_eq!(
        signed,
        format!("{sign_data}\npay_sig={pay_sig}\nsignature={signature}\n")
    );
}

// ---- The emulator controls: clock, faults, requests, reset, state ----

/// Whether `text` is a request id: `<8 hex>-<8 hex>-<8 hex>`.
fn is_rid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| p.len() == 8 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The output of `requests`, stable: ` rid: ` of errmsgs and the table's ids as `<rid>`
/// (padded to an id's width, so columns stay aligned), latencies as `<latency>`.
fn redact_request_log(text: &str) -> String {
    let text = redact_rids(text);
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let mut line = line.to_string();
        // Ids: every word of a rid's shape.
        let ids: Vec<String> = line
            .split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
            .filter(|word| is_rid(word))
            .map(str::to_string)
            .collect();
        for id in ids {
            line = line.replace(&id, &format!("{:<26}", "<rid>"));
        }
        // Latencies: `<number> ms`, with the spaces that right-align it (one is kept).
        while let Some(unit) = line.find(" ms") {
            let head = &line[..unit];
            let number_start = head
                .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
                .map_or(0, |i| i + 1);
            if number_start == unit {
                break;
            }
            let spaces_start = head[..number_start].trim_end_matches(' ').len();
            let run_start = (spaces_start + 1).min(number_start);
            let run_len = unit + 3 - run_start;
            let replacement = format!("{:>run_len$}", "<latency>");
            line.replace_range(run_start..unit + 3, &replacement);
        }
        // A padded id that ends its line leaves spaces behind.
        let newline = if line.ends_with('\n') { "\n" } else { "" };
        out.push_str(line.trim_end());
        out.push_str(newline);
    }
    out
}

/// Replaces the value of each `label:` line (any indentation) with `[varies]`: the parts
/// of a request that carry the client's `ts`, its signatures or its access token.
fn redact_values(text: &str, labels: &[&str]) -> String {
    text.lines()
        .map(|line| {
            let body = line.trim_start();
            let indent = &line[..line.len() - body.len()];
            for label in labels {
                if let Some(rest) = body.strip_prefix(&format!("{label}:")) {
                    let gap = rest.len() - rest.trim_start().len();
                    return format!("{indent}{label}:{}[varies]", " ".repeat(gap));
                }
            }
            line.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if text.ends_with('\n') { "\n" } else { "" }
}

/// A `clock` output with what depends on the machine's time redacted: `now:` when it is
/// the machine's time (checked), and a non-zero `offset:` (which the machine's time sets).
fn redact_clock(text: &str) -> String {
    text.lines()
        .map(|line| {
            if let Some(rest) = line.strip_prefix("now:    ") {
                let ms: i64 = rest
                    .split("epoch ms ")
                    .nth(1)
                    .and_then(|r| r.trim_end_matches(')').parse().ok())
                    .unwrap_or_else(|| panic!("{line}"));
                if (unix_now() * 1000 - ms).abs() < 600_000 {
                    "now:    [the machine's time]".to_string()
                } else {
                    line.to_string()
                }
            } else if line.starts_with("offset: ") && line.contains("ahead of") {
                "offset: [to the machine's time] (ahead of the server machine's clock)".to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn emulator_controls_in_human_output() {
    let server = Server::start();
    let mut transcript = String::new();
    let mut step = |title: &str, output: String| {
        transcript.push_str(&format!("$ openmidas {title}\n{output}\n"));
    };

    // A frozen clock: every time below is known.
    let set = server.ok(&["clock", "--set", "2030-01-01T08:00:00+08:00", "--freeze"]);
    step("clock --set 2030-01-01T08:00:00+08:00 --freeze", redact_clock(&set));
    step(
        "clock --advance 48h",
        redact_clock(&server.ok(&["clock", "--advance", "48h"])),
    );

    step(
        "faults add --path /cgi-bin/midas/pay --errcode -1 --when after --times 1",
        server.ok(&[
            "faults",
            "add",
            "--path",
            "/cgi-bin/midas/pay",
            "--errcode",
            "-1",
            "--when",
            "after",
            "--times",
            "1",
        ]),
    );
    step(
        "faults add --dialect v2 --drop-connection --delay-ms 100 --probability 0.5 --seed 7",
        server.ok(&[
            "faults",
            "add",
            "--dialect",
            "v2",
            "--drop-connection",
            "--delay-ms",
            "100",
            "--probability",
            "0.5",
            "--seed",
            "7",
        ]),
    );
    step(
        "faults add --openid player-9 --delay-ms 20",
        server.ok(&["faults", "add", "--openid", "player-9", "--delay-ms", "20"]),
    );
    step("faults", server.ok(&["faults"]));
    step("faults delete 2", server.ok(&["faults", "delete", "2"]));
    let (_, stderr) = server.fails(&["faults", "delete", "2"]);
    step("faults delete 2   (again)", stderr);

    // The player's traffic: a pay the fault answers -1 after applying (the CLI retries and
    // gets the original result), and a balance signed with the sandbox AppKey.
    login(&server, "player-1");
    server.ok(&[
        "recharge",
        "--openid",
        "player-1",
        "--amount",
        "100",
        "--out-trade-no",
        "first-100",
    ]);
    step(
        "pay --openid player-1 --amount 30 --bill-no order-1",
        server.ok(&["pay", "--openid", "player-1", "--amount", "30", "--bill-no", "order-1"]),
    );
    let (_, stderr) = server.fails(&["balance", "--openid", "player-1", "--app-key", SANDBOX_APP_KEY]);
    step(
        "balance --openid player-1 --app-key <the sandbox AppKey>",
        redact_rids(&stderr),
    );
    step("faults", server.ok(&["faults"]));

    let log = server.ok(&["requests"]);
    assert!(log.contains("2030-01-03T00:00:00.000Z"), "{log}");
    step("requests", redact_request_log(&log));
    step(
        "requests --openid player-1 --errcode -1",
        redact_request_log(&server.ok(&["requests", "--openid", "player-1", "--errcode", "-1"])),
    );
    let id_of = |errcode: &str| {
        let listed = json(&server.ok(&["requests", "--errcode", errcode, "--json"]));
        listed["items"][0]["id"].as_str().expect("an id").to_string()
    };
    let varies = ["query", "body", "signed", "expected", "received"];
    let faulted = server.ok(&["requests", &id_of("-1")]);
    step(
        "requests <the pay's id>",
        redact_values(&redact_request_log(&faulted), &varies),
    );
    let diagnosed = server.ok(&["requests", &id_of("90011")]);
    assert!(!diagnosed.contains(APP_KEY) && !diagnosed.contains(SANDBOX_APP_KEY));
    step(
        "requests <the balance's id>",
        redact_values(&redact_request_log(&diagnosed), &varies),
    );
    let (_, stderr) = server.fails(&["requests", "00000000-00000000-00000000"]);
    step("requests 00000000-00000000-00000000", stderr);

    // State: export, reset, import.
    let in_dir = |args: &[&str]| {
        let mut command = server.command(args);
        command.current_dir(server.dir.path());
        run_ok(command)
    };
    step(
        "state export --output state.json",
        in_dir(&["state", "export", "--output", "state.json"]),
    );
    step(
        "reset   (OPENMIDAS_APPID is set: it is not a reset option)",
        server.ok(&["reset"]),
    );
    step("requests", server.ok(&["requests"]));
    step("state import state.json", in_dir(&["state", "import", "state.json"]));
    step(
        "balance --openid player-1",
        server
            .ok(&["balance", "--openid", "player-1"])
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
            + "\n",
    );
    step(
        "reset --appid wxclitest --drop-apps",
        server.ok(&["reset", "--appid", APPID, "--drop-apps"]),
    );
    step("clock --reset", redact_clock(&server.ok(&["clock", "--reset"])));
    insta::assert_snapshot!(transcript);
}

#[test]
fn emulator_controls_json_for_scripts() {
    let server = Server::start();
    let clock = json(&server.ok(&["clock", "--set", "1893456000000", "--freeze", "--json"]));
    assert_eq!(
        (clock["now_ms"].as_i64(), clock["frozen"].as_bool()),
        (Some(1_893_456_000_000), Some(true))
    );
    let clock = json(&server.ok(&["clock", "--advance", "-90m", "--json"]));
    assert_eq!(clock["now_ms"].as_i64(), Some(1_893_456_000_000 - 5_400_000));
    let clock = json(&server.ok(&["clock", "--resume", "--json"]));
    assert_eq!(clock["frozen"], false);

    let added = json(&server.ok(&[
        "faults",
        "add",
        "--path",
        "/cgi-bin/token",
        "--dialect",
        "auth",
        "--errcode",
        "40013",
        "--errmsg",
        "invalid appid",
        "--times",
        "2",
        "--json",
    ]));
    assert_eq!(added, serde_json::json!({"id": 1}));
    let listed = json(&server.ok(&["faults", "--json"]));
    assert_eq!(
        listed["items"][0],
        serde_json::json!({
            "id": 1,
            "match": {"dialect": "auth", "path": "/cgi-bin/token", "appid": null, "openid": null},
            "errcode": 40013, "errmsg": "invalid appid", "when": "before", "delay_ms": 0,
            "drop_connection": false, "times": 2, "probability": 1.0, "seed": 0, "fired": 0, "remaining": 2,
        })
    );

    let (stdout, stderr) = server.fails(&["token", "--classic", "--json"]);
    assert!(stderr.contains("errcode 40013"), "{stderr}");
    let failed = json(&stdout);
    let rid = failed["errmsg"]
        .as_str()
        .and_then(|m| m.strip_prefix("invalid appid rid: "))
        .expect("the fault's errmsg and rid");

    let log = json(&server.ok(&["requests", "--errcode", "40013", "--json"]));
    assert_eq!(log["items"].as_array().map(Vec::len), Some(1), "{log}");
    let entry = &log["items"][0];
    assert_eq!(
        (entry["id"].as_str(), entry["path"].as_str()),
        (Some(rid), Some("/cgi-bin/token"))
    );
    assert_eq!(entry["fault"]["id"], 1);
    assert!(!entry["query"].as_str().unwrap_or_default().contains(SECRET), "{entry}");
    assert_eq!(&json(&server.ok(&["requests", rid, "--json"])), entry);
    let (stdout, _) = server.fails(&["requests", "nope", "--json"]);
    assert_eq!(json(&stdout)["errcode"], 40097);

    assert_eq!(
        json(&server.ok(&["faults", "delete", "1", "--json"])),
        serde_json::json!({"deleted": 1})
    );
    assert_eq!(
        json(&server.ok(&["faults", "delete", "--all", "--json"])),
        serde_json::json!({"deleted": "all"})
    );

    // The document goes through stdout and stdin unchanged.
    let document = server.ok(&["state", "export", "--json"]);
    assert_eq!(json(&document)["version"], 4);
    assert_eq!(
        json(&server.ok(&["reset", "--json"])),
        serde_json::json!({"appid": null, "keep_apps": true})
    );
    let mut import = server.command(&["state", "import", "-", "--json"]);
    import
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = import.spawn().expect("spawn state import");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(document.as_bytes()).expect("write the document");
    }
    let out = child.wait_with_output().expect("state import");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let imported = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        (imported["imported"].as_str(), imported["rows"]["apps"].as_i64()),
        (Some("-"), Some(1))
    );
    assert_eq!(server.ok(&["state", "export", "--json"]), document);
}

#[test]
fn requests_follow_prints_requests_made_after_it_started() {
    let server = Server::start();
    let mut follow = server
        .command(&["requests", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn requests --follow");
    let stdout = follow.stdout.take().expect("stdout");
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    let next = || {
        lines
            .recv_timeout(std::time::Duration::from_secs(15))
            .expect("a line from requests --follow")
    };
    assert!(next().starts_with("TIME (UTC)"), "the header first");

    // A request made now: --follow prints its row on its next poll.
    let (stdout, _) = server.fails(&["token", "--appid", "wxnosuchapp", "--classic", "--json"]);
    let rid = json(&stdout)["errmsg"]
        .as_str()
        .and_then(|m| m.rsplit(" rid: ").next())
        .expect("a rid")
        .to_string();
    let row = loop {
        let line = next();
        if line.contains("/cgi-bin/token") {
            break line;
        }
    };
    assert!(
        row.contains(&rid) && row.contains("40013") && row.contains("GET"),
        "{row}"
    );
    follow.kill().expect("kill requests --follow");
    let _ = follow.wait();
}

#[test]
fn emulator_commands_against_a_ledger_mode_server() {
    let server = Server::start_with(&["--mode", "ledger"]);
    for args in [
        &["clock"][..],
        &["clock", "--advance", "1h"],
        &["faults"],
        &["faults", "add", "--errcode", "-1"],
        &["requests"],
        &["requests", "--follow"],
        &["reset"],
        &["state", "export"],
    ] {
        let (_, stderr) = server.fails(args);
        assert!(
            stderr.contains("the server has no emulator controls (404, errcode 40066): it runs in ledger mode"),
            "{args:?}: {stderr}"
        );
    }
    // Without an admin token, nothing is sent.
    let (_, stderr) = run_fails(server.bare(&["clock", "--url", &server.base_url]));
    assert!(stderr.contains("the admin token is not set"), "{stderr}");
}

// ---- xpay ----

/// Puts the shape of what changes every run in its place: WeChat's ids (`[32 hex]`,
/// `mch[32 hex]`, `[4200 + 24 digits]`) and UNIX seconds of the last hour (`[now]`,
/// `[now+N]` for later ones); checks each really has that shape.
fn redact_xpay(text: &str) -> String {
    let now = unix_now();
    let mut out = String::new();
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        let t = token.as_str();
        let hex32 = |t: &str| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        let replaced = if hex32(t) {
            "[32 hex]".to_string()
        } else if t.strip_prefix("mch").is_some_and(hex32) {
            "mch[32 hex]".to_string()
        } else if t.len() == 28 && t.starts_with("4200") && t.bytes().all(|b| b.is_ascii_digit()) {
            "[4200 + 24 digits]".to_string()
        } else if let Some(seconds) = t
            .parse::<i64>()
            .ok()
            .filter(|s| t.len() == 10 && (now - s).abs() < 3600)
        {
            // The emulator's clock may have been moved forward by the test (whole minutes).
            let ahead = seconds - now;
            if ahead > 30 {
                format!("[now+{}m]", (ahead + 30) / 60)
            } else {
                "[now]".to_string()
            }
        } else {
            t.to_string()
        };
        out.push_str(&replaced);
        token.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// [`redact_xpay`] on every string and number of a JSON answer (a redacted number becomes
/// a string).
fn redact_xpay_json(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(redact_xpay(&text)),
        Value::Number(number) => {
            let text = number.to_string();
            let redacted = redact_xpay(&text);
            if redacted == text {
                Value::Number(number)
            } else {
                Value::String(redacted)
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(redact_xpay_json).collect()),
        Value::Object(fields) => Value::Object(fields.into_iter().map(|(k, v)| (k, redact_xpay_json(v))).collect()),
        other => other,
    }
}

/// Today in China (yyyymmdd), the day of the bill.
fn china_today() -> String {
    let days = (unix_now() + 8 * 3600).div_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}")
}

#[test]
fn xpay_flow_in_human_output() {
    let server = Server::start();
    let sk = login(&server, "player-x");
    let today = china_today();
    let mut transcript = String::new();
    let mut step = |title: &str, args: &[&str]| {
        let mut output = redact_xpay(&server.ok(args));
        if args[0] == "clock" {
            // Its answer names the day.
            assert!(output.contains("offset: +2m"), "{output}");
            output = "(the clock's answer, which names the day, left out)\n".to_string();
        }
        transcript.push_str(&format!("$ openmidas {title}\n{output}\n"));
    };
    let player = ["--openid", "player-x", "--session-key", sk.as_str()];
    let with = |args: &[&'static str]| -> Vec<String> {
        args.iter()
            .map(|s| s.to_string())
            .chain(player.iter().map(|s| s.to_string()))
            .collect()
    };
    let mut run = |title: &str, args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        step(title, &args);
    };
    run(
        "recharge --openid player-x --amount 100 --out-trade-no coins-0001   (v1 and 2.0's coins, the same account)",
        vec![
            "recharge",
            "--openid",
            "player-x",
            "--amount",
            "100",
            "--out-trade-no",
            "coins-0001",
        ]
        .into_iter()
        .map(String::from)
        .collect(),
    );
    run("balance --dialect xpay", with(&["balance", "--dialect", "xpay"]));
    run(
        "present --dialect xpay --amount 10 --bill-no gift-0001",
        with(&[
            "present",
            "--dialect",
            "xpay",
            "--amount",
            "10",
            "--bill-no",
            "gift-0001",
        ]),
    );
    run(
        "pay --dialect xpay --amount 30 --bill-no pay-00001 --payitem sword --remark 'level 3'",
        with(&[
            "pay",
            "--dialect",
            "xpay",
            "--amount",
            "30",
            "--bill-no",
            "pay-00001",
            "--payitem",
            "sword",
            "--remark",
            "level 3",
        ]),
    );
    run(
        "refund --dialect xpay --bill-no refund-0001 --pay-bill-no pay-00001 --amount 15",
        with(&[
            "refund",
            "--dialect",
            "xpay",
            "--bill-no",
            "refund-0001",
            "--pay-bill-no",
            "pay-00001",
            "--amount",
            "15",
        ]),
    );
    run("balance --dialect xpay", with(&["balance", "--dialect", "xpay"]));
    run(
        "buy --dialect xpay --product-id sword --price-fen 300 --quantity 2 --out-trade-no goods-0001 --attach level-3",
        with(&[
            "buy",
            "--dialect",
            "xpay",
            "--product-id",
            "sword",
            "--price-fen",
            "300",
            "--quantity",
            "2",
            "--out-trade-no",
            "goods-0001",
            "--attach",
            "level-3",
        ]),
    );
    let order = |order_id: &'static str| -> Vec<String> {
        [
            "order",
            "--dialect",
            "xpay",
            "--openid",
            "player-x",
            "--order-id",
            order_id,
        ]
        .into_iter()
        .map(String::from)
        .collect()
    };
    run(
        "order --dialect xpay --openid player-x --order-id goods-0001",
        order("goods-0001"),
    );
    run(
        "deliver --order-id goods-0001",
        vec!["deliver".into(), "--order-id".into(), "goods-0001".into()],
    );
    run(
        "order --dialect xpay --openid player-x --order-id goods-0001",
        order("goods-0001"),
    );
    let refund_order: Vec<String> = [
        "refund-order",
        "--openid",
        "player-x",
        "--order-id",
        "goods-0001",
        "--refund-order-id",
        "rf-goods-0001",
        "--refund-fee",
        "200",
        "--reason",
        "3",
        "--req-from",
        "2",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    run(
        "refund-order --openid player-x --order-id goods-0001 --refund-order-id rf-goods-0001 --refund-fee 200 --reason 3 --req-from 2",
        refund_order,
    );
    run(
        "order --dialect xpay --openid player-x --order-id rf-goods-0001   (in progress)",
        order("rf-goods-0001"),
    );
    run(
        "clock --advance 2m",
        vec!["clock".into(), "--advance".into(), "2m".into()],
    );
    run(
        "order --dialect xpay --openid player-x --order-id rf-goods-0001   (done)",
        order("rf-goods-0001"),
    );
    run(
        "buy --dialect xpay --coins --quantity 50 --out-trade-no coins-0002",
        with(&[
            "buy",
            "--dialect",
            "xpay",
            "--coins",
            "--quantity",
            "50",
            "--out-trade-no",
            "coins-0002",
        ]),
    );
    run(
        "buy --dialect xpay --product-id shield --price-fen 500 --out-trade-no goods-0002 --manual --sandbox",
        with(&[
            "buy",
            "--dialect",
            "xpay",
            "--product-id",
            "shield",
            "--price-fen",
            "500",
            "--out-trade-no",
            "goods-0002",
            "--manual",
            "--sandbox",
        ]),
    );
    run(
        "purchase close --out-trade-no goods-0002 --sandbox",
        vec!["purchase", "close", "--out-trade-no", "goods-0002", "--sandbox"]
            .into_iter()
            .map(String::from)
            .collect(),
    );
    run(
        "order --dialect xpay --openid player-x --order-id goods-0002 --sandbox",
        order("goods-0002")
            .into_iter()
            .chain(["--sandbox".to_string()])
            .collect(),
    );
    // The bill: the first call is being generated (268490011); the command asks again.
    run(
        "bill --begin TODAY --end TODAY",
        vec![
            "bill".into(),
            "--begin".into(),
            today.clone(),
            "--end".into(),
            today.clone(),
        ],
    );
    let transcript = transcript.replace(&today, "TODAY");
    assert!(!transcript.contains(&sk));
    insta::assert_snapshot!(transcript);
}

#[test]
fn xpay_json_output_for_scripts() {
    let server = Server::start();
    let sk = login(&server, "player-y");
    server.ok(&[
        "recharge",
        "--openid",
        "player-y",
        "--amount",
        "50",
        "--out-trade-no",
        "coins-0003",
    ]);
    let run = |args: &[&str]| -> Value {
        let all: Vec<&str> = args.iter().chain(["--json"].iter()).copied().collect();
        let mut command = server.command(&all);
        command.env("OPENMIDAS_SESSION_KEY", &sk);
        redact_xpay_json(json(&run_ok(command)))
    };
    let mut outputs = serde_json::Map::new();
    for (name, args) in [
        ("balance", &["balance", "--dialect", "xpay", "--openid", "player-y"][..]),
        (
            "present",
            &[
                "present",
                "--dialect",
                "xpay",
                "--openid",
                "player-y",
                "--amount",
                "5",
                "--bill-no",
                "gift-0003",
            ],
        ),
        (
            "pay",
            &[
                "pay",
                "--dialect",
                "xpay",
                "--openid",
                "player-y",
                "--amount",
                "20",
                "--bill-no",
                "pay-00003",
            ],
        ),
        (
            "refund",
            &[
                "refund",
                "--dialect",
                "xpay",
                "--openid",
                "player-y",
                "--bill-no",
                "refund-0003",
                "--pay-bill-no",
                "pay-00003",
                "--amount",
                "20",
            ],
        ),
        (
            "buy",
            &[
                "buy",
                "--dialect",
                "xpay",
                "--openid",
                "player-y",
                "--product-id",
                "gem",
                "--price-fen",
                "100",
                "--out-trade-no",
                "goods-0003",
            ],
        ),
        ("deliver", &["deliver", "--order-id", "goods-0003"]),
        (
            "refund_order",
            &[
                "refund-order",
                "--openid",
                "player-y",
                "--order-id",
                "goods-0003",
                "--refund-order-id",
                "rf-goods-0003",
                "--left-fee",
                "100",
                "--refund-fee",
                "100",
            ],
        ),
        (
            "order",
            &[
                "order",
                "--dialect",
                "xpay",
                "--openid",
                "player-y",
                "--order-id",
                "goods-0003",
            ],
        ),
    ] {
        outputs.insert(name.into(), run(args));
    }
    insta::assert_json_snapshot!(Value::Object(outputs));
}

#[test]
fn xpay_failures_name_their_errcode_and_meaning() {
    let server = Server::start();
    let sk = login(&server, "player-z");
    let mut transcript = String::new();
    let mut fails = |title: &str, args: &[&str]| {
        let (stdout, stderr) = server.fails(args);
        assert!(stdout.is_empty(), "{stdout}");
        transcript.push_str(&format!(
            "$ openmidas {title}\n{}\n",
            redact_xpay(&redact_rids(&stderr))
        ));
    };
    let sk_args = ["--openid", "player-z", "--session-key", sk.as_str()];
    let with = |args: &[&'static str]| -> Vec<&str> { args.iter().copied().chain(sk_args.iter().copied()).collect() };
    fails(
        "pay --dialect xpay --amount 30 --bill-no pay-00009   (no coins)",
        &with(&["pay", "--dialect", "xpay", "--amount", "30", "--bill-no", "pay-00009"]),
    );
    server.ok(&with(&[
        "present",
        "--dialect",
        "xpay",
        "--amount",
        "5",
        "--bill-no",
        "gift-0009",
    ]));
    fails(
        "present --dialect xpay --amount 5 --bill-no gift-0009   (run again)",
        &with(&[
            "present",
            "--dialect",
            "xpay",
            "--amount",
            "5",
            "--bill-no",
            "gift-0009",
        ]),
    );
    fails(
        "pay --dialect xpay --amount 1 --bill-no short",
        &with(&["pay", "--dialect", "xpay", "--amount", "1", "--bill-no", "short"]),
    );
    fails(
        "pay --dialect xpay --amount 1 --bill-no pay-00010 --zone-id 2",
        &with(&[
            "pay",
            "--dialect",
            "xpay",
            "--amount",
            "1",
            "--bill-no",
            "pay-00010",
            "--zone-id",
            "2",
        ]),
    );
    fails(
        "pay --dialect xpay --amount 1 --bill-no pay-00010 --pay-item sword",
        &with(&[
            "pay",
            "--dialect",
            "xpay",
            "--amount",
            "1",
            "--bill-no",
            "pay-00010",
            "--pay-item",
            "sword",
        ]),
    );
    fails(
        "balance --dialect xpay --openid player-z   (no session_key)",
        &["balance", "--dialect", "xpay", "--openid", "player-z"],
    );
    fails(
        "balance --dialect xpay --session-key <another player's>",
        &[
            "balance",
            "--dialect",
            "xpay",
            "--openid",
            "player-z",
            "--session-key",
            "AAAAAAAAAAAAAAAAAAAAAA==",
        ],
    );
    fails(
        "order --dialect xpay --openid player-z --order-id nowhere-0001",
        &[
            "order",
            "--dialect",
            "xpay",
            "--openid",
            "player-z",
            "--order-id",
            "nowhere-0001",
        ],
    );
    fails(
        "order --dialect xpay --openid player-z --order-id a-0001 --wx-order-id b",
        &[
            "order",
            "--dialect",
            "xpay",
            "--openid",
            "player-z",
            "--order-id",
            "a-0001",
            "--wx-order-id",
            "b",
        ],
    );
    fails(
        "order --dialect xpay --openid player-z --out-trade-no a-0001",
        &[
            "order",
            "--dialect",
            "xpay",
            "--openid",
            "player-z",
            "--out-trade-no",
            "a-0001",
        ],
    );
    server.ok(&with(&[
        "buy",
        "--dialect",
        "xpay",
        "--product-id",
        "gem",
        "--price-fen",
        "100",
        "--out-trade-no",
        "goods-0009",
    ]));
    fails(
        "refund-order --openid player-z --order-id goods-0009 --refund-order-id rf-000009 --left-fee 90 --refund-fee 10   (a stale left_fee)",
        &[
            "refund-order", "--openid", "player-z", "--order-id", "goods-0009", "--refund-order-id", "rf-000009",
            "--left-fee", "90", "--refund-fee", "10",
        ],
    );
    fails(
        "refund-order ... --refund-fee 101   (more than paid)",
        &[
            "refund-order",
            "--openid",
            "player-z",
            "--order-id",
            "goods-0009",
            "--refund-order-id",
            "rf-000009",
            "--refund-fee",
            "101",
        ],
    );
    fails(
        "buy --dialect xpay --out-trade-no goods-0010",
        &with(&["buy", "--dialect", "xpay", "--out-trade-no", "goods-0010"]),
    );
    fails(
        "buy --dialect xpay --product-id gem --price-fen 100 --out-trade-no goods-0009   (used before)",
        &with(&[
            "buy",
            "--dialect",
            "xpay",
            "--product-id",
            "gem",
            "--price-fen",
            "100",
            "--out-trade-no",
            "goods-0009",
        ]),
    );
    server.ok(&[
        "refund-order",
        "--openid",
        "player-z",
        "--order-id",
        "goods-0009",
        "--refund-order-id",
        "rf-000009",
        "--refund-fee",
        "10",
    ]);
    fails(
        "refund-order ... --refund-order-id rf-000009 --left-fee 100 --refund-fee 10   (run again while in progress)",
        &[
            "refund-order",
            "--openid",
            "player-z",
            "--order-id",
            "goods-0009",
            "--refund-order-id",
            "rf-000009",
            "--left-fee",
            "100",
            "--refund-fee",
            "10",
        ],
    );
    fails(
        "bill --begin 20260101 --end 20260301",
        &["bill", "--begin", "20260101", "--end", "20260301"],
    );
    assert!(!transcript.contains(&sk));
    insta::assert_snapshot!(transcript);
}

#[test]
fn xpay_unknown_outcome_says_to_run_again_with_the_same_number() {
    let url = always_system_error();
    let command = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_openmidas"));
        for var in OPENMIDAS_VARS {
            command.env_remove(var);
        }
        command
            .args(args)
            .args(["--openid", "p", "--session-key", "AAAAAAAAAAAAAAAAAAAAAA=="])
            .env("OPENMIDAS_URL", &url)
            .env("OPENMIDAS_APPID", APPID)
            .env("OPENMIDAS_SECRET", SECRET)
            .env("OPENMIDAS_OFFER_ID", OFFER_ID)
            .env("OPENMIDAS_APP_KEY", APP_KEY)
            .env("HOME", std::env::temp_dir().join("openmidas-cli-test-no-home"))
            .stdin(Stdio::null());
        command
    };
    for (args, flag, number) in [
        (
            &["pay", "--dialect", "xpay", "--amount", "1", "--bill-no", "pay-00099"][..],
            "--bill-no",
            "pay-00099",
        ),
        (
            &[
                "present",
                "--dialect",
                "xpay",
                "--amount",
                "1",
                "--bill-no",
                "gift-0099",
            ][..],
            "--bill-no",
            "gift-0099",
        ),
        (
            &[
                "refund",
                "--dialect",
                "xpay",
                "--bill-no",
                "refund-0099",
                "--pay-bill-no",
                "pay-00099",
                "--amount",
                "1",
            ][..],
            "--bill-no",
            "refund-0099",
        ),
    ] {
        let (_, stderr) = run_fails(command(args));
        assert!(stderr.contains("errcode -1"), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "the outcome is unknown: run the same command again with {flag} {number}; it is never applied twice \
                 (errcode 268490004 then means an earlier run applied it)"
            )),
            "{stderr}"
        );
    }
    let (_, stderr) = run_fails(command(&["balance", "--dialect", "xpay"]));
    assert!(
        stderr.contains("errcode -1") && !stderr.contains("run the same command"),
        "{stderr}"
    );
}

// ---- Pushes ----

/// A game server's push URL on a thread: answers the URL check (GET) with its `echostr`,
/// refuses the first event it is sent (`fail`) and acknowledges every later one
/// (`success`). Answers its URL.
fn push_receiver() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the push receiver");
    let url = format!("http://{}/push", listener.local_addr().expect("receiver address"));
    std::thread::spawn(move || {
        let mut events = 0;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(pos + 4);
                }
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let length: usize = head
                .lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < head_end + length {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let mut request_line = head.lines().next().unwrap_or_default().split(' ');
            let method = request_line.next().unwrap_or_default();
            let target = request_line.next().unwrap_or_default();
            let body = if method == "GET" {
                // echostr is digits: sent as they are.
                let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
                query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("echostr="))
                    .unwrap_or_default()
                    .to_string()
            } else {
                events += 1;
                if events == 1 { "fail" } else { "success" }.to_string()
            };
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    url
}

/// `pushes --json`'s items, once `done` holds for them (the server's worker looks every
/// 200 ms).
fn pushes_when(server: &Server, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..200 {
        let answer = json(&server.ok(&["pushes", "--json"]));
        let items = answer["items"].as_array().expect("items").clone();
        if done(&items) {
            return items;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the pushes never got there: {}", server.ok(&["pushes", "--json"]));
}

#[test]
fn pushes_list_and_redeliver() {
    let receiver = push_receiver();
    let server = Server::start_configured(
        &format!("[apps.push]\nurl = \"{receiver}\"\ntoken = \"clipushtoken\"\n"),
        &[],
    );
    // A frozen clock: every time below is known (and no retry comes due by itself).
    server.ok(&["clock", "--set", "2030-01-01T08:00:00+08:00", "--freeze"]);
    let sk = login(&server, "player-1");
    let buy = |out_trade_no: &str| {
        server.ok(&[
            "buy",
            "--openid",
            "player-1",
            "--session-key",
            &sk,
            "--product-id",
            "sword",
            "--quantity",
            "2",
            "--price-fen",
            "300",
            "--out-trade-no",
            out_trade_no,
        ])
    };
    // The first event is refused and waits for its retry; the second is acknowledged.
    buy("item-1");
    pushes_when(&server, |items| {
        items.len() == 1 && items[0]["attempts"] == 1 && items[0]["delivering"] == false
    });
    buy("item-2");
    let items = pushes_when(&server, |items| items.len() == 2 && items[1]["status"] == "delivered");
    assert_eq!(items[0]["status"], "pending");
    assert_eq!(items[0]["appid"], APPID);
    assert_eq!(items[0]["env"], "official");
    assert_eq!(items[0]["order_id"], "item-1");
    assert_eq!(items[0]["event"], "minigame_game_pay_goods_deliver_notify");
    // 2030-01-01T00:00:00Z, then the first retry 15 s later.
    assert_eq!(items[0]["created_ms"], 1_893_456_000_000_i64);
    assert_eq!(items[0]["next_attempt_ms"], 1_893_456_015_000_i64);
    assert_eq!(items[1]["last_reply"], "success");

    let mut transcript = String::new();
    let mut step = |args: &[&str]| {
        transcript.push_str(&format!("$ openmidas {}\n{}\n", args.join(" "), server.ok(args)));
    };
    step(&["pushes"]);
    step(&["pushes", "--status", "pending"]);
    step(&["pushes", "--limit", "1"]);
    step(&["pushes", "redeliver", "1"]);
    step(&["pushes"]);
    step(&["pushes", "--after-id", "1"]);
    step(&["pushes", "--status", "pending"]);
    step(&["pushes", "--appid", "wxsomeotherapp"]);
    let mut failed = |args: &[&str]| {
        let (stdout, stderr) = server.fails(args);
        assert!(stdout.is_empty(), "{stdout}");
        transcript.push_str(&format!("$ openmidas {}\n(exit 1) {stderr}\n", args.join(" ")));
    };
    failed(&["pushes", "redeliver", "99"]);
    failed(&["pushes", "--status", "failed", "redeliver", "1"]);
    insta::assert_snapshot!(transcript);

    // --json: the item after a redelivery, and a failure as JSON on stdout.
    let again = json(&server.ok(&["pushes", "redeliver", "2", "--json"]));
    assert_eq!(again["push"]["id"], 2);
    assert_eq!(again["push"]["attempts"], 2);
    assert_eq!(again["push"]["status"], "delivered");
    let (stdout, _) = server.fails(&["pushes", "redeliver", "99", "--json"]);
    assert_eq!(json(&stdout)["errcode"], 40097);
}

/// The rough edges a new user hit first (behaviour.md section 15): global --json, negative
/// numbers, transport errors that name the service, a failed token fetch that says nothing
/// was sent, the note when no URL is set, Chinese explanations, completions and man page.
#[test]
fn first_try_rough_edges() {
    let server = Server::start();
    server.ok(&["recharge", "--openid", "edge", "--amount", "10"]);

    // --json before the subcommand, as after it.
    let before = server.ok(&["--json", "balance", "--openid", "edge"]);
    let after = server.ok(&["balance", "--openid", "edge", "--json"]);
    assert_eq!(before, after);
    let balance: Value = serde_json::from_str(&before).expect("JSON");
    assert_eq!(balance["balance"], 10);

    // A negative amount is an amount, refused as one; never taken for a flag.
    let (_, stderr) = server.fails(&["pay", "--openid", "edge", "--amount", "-5", "--bill-no", "edge-1"]);
    assert!(!stderr.contains("unexpected argument"), "{stderr}");
    assert!(stderr.contains("amt") || stderr.contains("amount"), "{stderr}");

    // Nothing listens on port 1: the error names the service and the cause, and since the
    // token fetch failed, nothing was sent (not "the outcome is unknown").
    let mut dead = server.command(&["pay", "--openid", "edge", "--amount", "1", "--bill-no", "edge-2"]);
    dead.env("OPENMIDAS_URL", "http://127.0.0.1:1");
    let (_, stderr) = run_fails(dead);
    assert!(stderr.contains("cannot get an access_token"), "{stderr}");
    assert!(stderr.contains("cannot reach http://127.0.0.1:1"), "{stderr}");
    assert!(stderr.to_lowercase().contains("connection refused"), "{stderr}");
    assert!(stderr.contains("nothing was sent"), "{stderr}");
    assert!(!stderr.contains("outcome is unknown"), "{stderr}");
    assert!(
        !stderr.contains('\x1b'),
        "no colour codes when stderr is not a terminal: {stderr:?}"
    );

    // Chinese explanations, by flag or by locale.
    let (_, stderr) = server.fails(&[
        "--lang",
        "zh-CN",
        "pay",
        "--openid",
        "edge",
        "--amount",
        "500",
        "--bill-no",
        "edge-3",
    ]);
    assert!(stderr.contains("errcode 90013"), "{stderr}");
    assert!(stderr.contains("说明"), "{stderr}");
    let mut by_locale = server.command(&["pay", "--openid", "edge", "--amount", "500", "--bill-no", "edge-4"]);
    by_locale.env("LANG", "zh_CN.UTF-8");
    let (_, stderr) = run_fails(by_locale);
    assert!(stderr.contains("说明"), "{stderr}");
    let (_, english) = server.fails(&["pay", "--openid", "edge", "--amount", "500", "--bill-no", "edge-5"]);
    assert!(!english.contains("说明"), "{english}");
    let bad = server
        .command(&["--lang", "fr", "balance", "--openid", "edge"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "a usage error");
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--lang must be en or zh-CN"),
        "{bad:?}"
    );

    // The container's health probe: 0 when /healthz answers, 1 when nothing listens.
    let addr = server.base_url.trim_start_matches("http://").to_string();
    run_ok(server.bare(&["healthcheck", "--addr", &addr]));
    run_fails(server.bare(&["healthcheck", "--addr", "127.0.0.1:1", "--timeout-secs", "1"]));

    // Completions and the man page.
    let bash = run_ok(server.bare(&["completions", "bash"]));
    assert!(bash.contains("openmidas") && bash.contains("complete"), "{bash}");
    let man = run_ok(server.bare(&["man"]));
    assert!(man.contains(".TH openmidas"), "{man}");
    let pages = server.dir.path().join("man");
    run_ok(server.bare(&["man", "--dir", pages.to_str().unwrap()]));
    assert!(pages.join("openmidas-serve.1").exists());
}

/// Without a URL the CLI says it calls the real service (the call itself may then fail or
/// not, depending on this machine's network: only the note is checked).
#[test]
fn no_url_says_it_calls_the_real_service() {
    let server = Server::start();
    let mut command = server.bare(&["token"]);
    command
        .env("OPENMIDAS_APPID", APPID)
        .env("OPENMIDAS_SECRET", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let output = command.output().expect("run openmidas token");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no --url or OPENMIDAS_URL: calling the real WeChat service at https://api.weixin.qq.com"),
        "{stderr}"
    );
}
