//! The demo app (behaviour.md section 7) is a convenience of a new emulator: it is never
//! created in ledger mode, whether the mode comes from `--mode` or the config file, and
//! never added to a database that already has apps. Through the real binary.

mod common;

use std::time::Duration;

use common::*;
const ADMIN: &str = "demo-test-admin-token";

fn launch<'a>(dir: &'a std::path::Path, log_name: &'a str) -> Launch<'a> {
    Launch {
        dir,
        database: None,
        admin_token: Some(ADMIN),
        env: vec![],
        log_name,
    }
}

fn appids(process: &Process) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let apps = runtime.block_on(Api::new(process, ADMIN).admin_get("/admin/apps"));
    assert_eq!(apps["errcode"], 0, "{apps}");
    apps["apps"]
        .as_array()
        .unwrap_or_else(|| panic!("no apps list: {apps}"))
        .iter()
        .map(|app| app["appid"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn stop(mut process: Process) {
    process.signal(libc::SIGTERM);
    process.wait(Duration::from_secs(20)).expect("stops");
}

#[test]
fn ledger_mode_never_creates_the_demo_app() {
    // `serve --mode ledger` on an empty directory.
    let dir = tempfile::tempdir().unwrap();
    let process = Process::start_with(launch(dir.path(), "flag.log"), &["--mode", "ledger"]);
    assert!(process.wait_for_stdout("mode: ledger").contains("mode: ledger"));
    assert_eq!(appids(&process), Vec::<String>::new(), "no demo app with --mode ledger");
    stop(process);

    // `mode = "ledger"` in the config file, `demo_app = true` notwithstanding.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "mode = \"ledger\"\ndemo_app = true\n").unwrap();
    let process = Process::start_with(launch(dir.path(), "file.log"), &["--config", "c.toml"]);
    process.wait_for_stdout("mode: ledger");
    assert_eq!(
        appids(&process),
        Vec::<String>::new(),
        "no demo app with mode = \"ledger\""
    );
    stop(process);
}

#[test]
fn the_demo_app_is_only_added_to_a_new_database() {
    let dir = tempfile::tempdir().unwrap();
    // A new database in emulator mode gets the demo app.
    let process = Process::start(launch(dir.path(), "first.log"));
    assert_eq!(appids(&process), vec!["wxopenmidasdemo".to_string()]);
    stop(process);

    // A database that has only its own apps is not new: no demo app is added on restart.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "demo_app = false\n").unwrap();
    let process = Process::start_with(launch(dir.path(), "own.log"), &["--config", "c.toml"]);
    assert_eq!(appids(&process), Vec::<String>::new());
    let app = test_app(1);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(Api::new(&process, ADMIN).create_app(&app));
    stop(process);
    let process = Process::start(launch(dir.path(), "again.log"));
    assert_eq!(appids(&process), vec![app.appid.clone()]);
    stop(process);

    // A database that ran in ledger mode and holds an app gets none when it runs as an
    // emulator.
    let dir = tempfile::tempdir().unwrap();
    let process = Process::start_with(launch(dir.path(), "ledger.log"), &["--mode", "ledger"]);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(Api::new(&process, ADMIN).create_app(&app));
    stop(process);
    let process = Process::start(launch(dir.path(), "emulator.log"));
    assert_eq!(appids(&process), vec![app.appid.clone()]);
    stop(process);
}
