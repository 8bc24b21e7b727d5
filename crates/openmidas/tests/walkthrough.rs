//! The first-run experience: `openmidas serve` in an empty directory without an admin
//! token prints a walkthrough; pasted into bash it must end with a balance of 100. The
//! secrets it prints must never reach the logs.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

const START: &str = "# ---- walkthrough";
const END: &str = "# ---- end of walkthrough";

/// The value after `key=` on a banner line (`key=value key2=value2`).
fn banner_value(line: &str, key: &str) -> String {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
        .to_string()
}

#[test]
fn printed_walkthrough_works_and_secrets_stay_out_of_the_logs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut process = Process::start(Launch {
        dir: dir.path(),
        database: None,
        admin_token: None,
        // Debug logs: one line per request, the most a log could leak.
        env: vec![("RUST_LOG", "debug")],
        log_name: "stderr.log",
    });
    let stdout = process.wait_for_stdout(END);

    // The banner: the generated admin token and the demo app's credentials.
    let admin_token = stdout
        .lines()
        .find_map(|l| l.strip_prefix("admin token (generated"))
        .and_then(|rest| rest.rsplit(": ").next())
        .unwrap_or_else(|| panic!("no generated admin token in:\n{stdout}"))
        .trim()
        .to_string();
    let demo = stdout
        .lines()
        .find(|l| l.starts_with("demo app:"))
        .unwrap_or_else(|| panic!("no demo app line in:\n{stdout}"));
    let secret = banner_value(demo, "secret");
    let app_key = banner_value(demo, "app_key");
    let sandbox_app_key = banner_value(demo, "sandbox_app_key");
    for value in [&admin_token, &secret, &app_key, &sandbox_app_key] {
        assert!(value.len() >= 16, "a weak secret {value:?} in:\n{stdout}");
    }

    // The walkthrough, exactly as printed, then one line that reveals the access token the
    // script obtained (to look for it in the logs).
    let start = stdout
        .find(START)
        .unwrap_or_else(|| panic!("no walkthrough in:\n{stdout}"));
    let end = stdout[start..].find(END).expect("end marker") + start;
    let mut script = stdout[start..end].to_string();
    assert!(script.contains(&process.base_url), "{script}");
    script.push_str("\necho \"ACCESS_TOKEN=$TOKEN\"\n");
    let run = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .output()
        .expect("run bash (and curl)");
    let output = String::from_utf8_lossy(&run.stdout).into_owned();
    let errors = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "walkthrough failed: {output}\n{errors}");

    let answers: Vec<Value> = output.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let balance = answers
        .iter()
        .find(|a| a.get("first_save").is_some())
        .unwrap_or_else(|| panic!("no getbalance answer in the output:\n{output}\n{errors}"));
    assert_eq!(balance["errcode"], 0, "{balance}");
    assert_eq!(balance["balance"], 100, "{balance}");
    assert!(
        output.contains("\"errcode\":0") && output.contains("\"balance\":100"),
        "{output}"
    );
    let session_key = answers
        .iter()
        .find_map(|a| a["session_key"].as_str())
        .unwrap_or_else(|| panic!("no jscode2session answer in:\n{output}"))
        .to_string();
    let access_token = output
        .lines()
        .find_map(|l| l.strip_prefix("ACCESS_TOKEN="))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| panic!("the script got no access token:\n{output}"))
        .to_string();

    // A clean stop, then the logs of the whole run.
    process.signal(libc::SIGTERM);
    let status = process
        .wait(Duration::from_secs(20))
        .expect("exits within 20 s of SIGTERM");
    assert_eq!(status.code(), Some(0));
    let logs = process.logs();
    assert!(
        logs.contains("/cgi-bin/midas/getbalance"),
        "debug logs without requests:\n{logs}"
    );
    for (name, value) in [
        ("admin token", &admin_token),
        ("AppSecret", &secret),
        ("AppKey", &app_key),
        ("sandbox AppKey", &sandbox_app_key),
        ("session_key", &session_key),
        ("access_token", &access_token),
    ] {
        assert!(!logs.contains(value.as_str()), "the logs contain the {name}:\n{logs}");
    }
    assert!(
        dir.path().join("openmidas.db").exists(),
        "the default database is in the working directory"
    );
}
