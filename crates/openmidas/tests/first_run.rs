//! The process around the emulator controls (behaviour.md sections 7 and 13): the admin
//! token made on the first run and kept beside the database, the `export` lines for the
//! CLI, no database left behind when the address is taken, ledger mode, and clock, reset
//! and import changes that survive SIGKILL.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// The generated admin token from the banner.
fn printed_admin_token(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("admin token (generated"))
        .and_then(|rest| rest.rsplit(": ").next())
        .unwrap_or_else(|| panic!("no generated admin token in:\n{stdout}"))
        .trim()
        .to_string()
}

fn launch<'a>(dir: &'a std::path::Path, admin_token: Option<&'a str>, log_name: &'a str) -> Launch<'a> {
    Launch {
        dir,
        database: None,
        admin_token,
        env: vec![],
        log_name,
    }
}

#[test]
fn the_generated_admin_token_is_kept_and_the_cli_exports_are_printed() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Process::start(launch(dir.path(), None, "first.log"));
    let stdout = first.wait_for_stdout("export OPENMIDAS_APPID=");
    let token = printed_admin_token(&stdout);
    assert!(
        stdout.contains(&format!("export OPENMIDAS_URL={}\n", first.base_url)),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("export OPENMIDAS_ADMIN_TOKEN={token}\n")),
        "{stdout}"
    );
    assert!(stdout.contains("export OPENMIDAS_APPID=wxopenmidasdemo "), "{stdout}");
    assert!(stdout.contains("mode: emulator"), "{stdout}");
    let kept = dir.path().join("openmidas.db.admin-token");
    assert_eq!(std::fs::read_to_string(&kept).unwrap().trim(), token);
    let mode = std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only the owner reads the admin token");
    first.signal(libc::SIGTERM);
    first.wait(Duration::from_secs(20)).expect("stops");

    // The second run prints and accepts the same token: a CLI configured from the first
    // run keeps working.
    let second = Process::start(launch(dir.path(), None, "second.log"));
    let stdout = second.wait_for_stdout("export OPENMIDAS_APPID=");
    assert_eq!(printed_admin_token(&stdout), token);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let apps = runtime.block_on(Api::new(&second, &token).admin_get("/admin/apps"));
    assert_eq!(apps["errcode"], 0);
    assert!(!second.logs().contains(&token), "the logs never carry the admin token");
}

#[test]
fn a_server_that_cannot_listen_leaves_no_database_behind() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_openmidas"))
        .args(["serve", "--listen", &address, "--database", "fresh.db"])
        .current_dir(dir.path())
        .env_remove("OPENMIDAS_ADMIN_TOKEN")
        .env_remove("OPENMIDAS_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("cannot listen on {address}")), "{stderr}");
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn ledger_mode_has_no_controls_and_no_demo_app() {
    let dir = tempfile::tempdir().unwrap();
    let process = Process::start(Launch {
        env: vec![("OPENMIDAS_MODE", "ledger")],
        ..launch(dir.path(), Some("ledger-admin-token"), "ledger.log")
    });
    assert!(process
        .wait_for_stdout("mode: ledger")
        .contains("admin token: configured"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let api = Api::new(&process, "ledger-admin-token");
        assert_eq!(api.admin_get("/admin/apps").await["apps"], json!([]), "no demo app");
        let response = api
            .http
            .get(process.url("/admin/clock"))
            .bearer_auth("ledger-admin-token")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::NOT_FOUND);
    });
}

#[test]
fn clock_reset_and_import_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let admin = "crash-admin-token";
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = test_app(1);

    let mut process = Process::start(launch(dir.path(), Some(admin), "run-1.log"));
    let (moved, exported) = runtime.block_on(async {
        let api = Api::new(&process, admin);
        api.create_app(&app).await;
        api.recharge(&app, "p", 40).await;
        let exported = api.admin_get("/admin/state").await;
        api.recharge(&app, "p", 2).await;
        let moved = api
            .admin_post("/admin/clock", json!({"advance_secs": 86_400, "freeze": true}))
            .await;
        (moved, exported)
    });
    process.kill9();

    let mut process = Process::start(launch(dir.path(), Some(admin), "run-2.log"));
    runtime.block_on(async {
        let api = Api::new(&process, admin);
        let clock = api.admin_get("/admin/clock").await;
        // Frozen: the same time (its offset from the machine's clock grows as that runs).
        assert_eq!((&clock["now_ms"], &clock["frozen"]), (&moved["now_ms"], &json!(true)));
        assert_eq!(api.admin_post("/admin/reset", json!({})).await["errcode"], 0);
    });
    process.kill9();

    let mut process = Process::start(launch(dir.path(), Some(admin), "run-3.log"));
    runtime.block_on(async {
        let api = Api::new(&process, admin);
        let state = api.admin_get("/admin/state").await;
        assert_eq!(state["accounts"], json!([]), "the reset stands");
        assert_eq!(api.admin_post("/admin/state", exported.clone()).await["errcode"], 0);
    });
    process.kill9();

    let process = Process::start(launch(dir.path(), Some(admin), "run-4.log"));
    runtime.block_on(async {
        let api = Api::new(&process, admin);
        let state: Value = api.admin_get("/admin/state").await;
        assert_eq!(state, exported, "the import stands");
    });
}
