//! A malformed config or profile file is reported by line, column and key, never by the
//! text of its values: the files hold AppSecrets, AppKeys and admin tokens, and stderr
//! ends up in terminals, CI logs and bug reports. Through the real binary.

use std::process::{Command, Stdio};

const SECRET: &str = "Zq8SecretAppKey0123456789abcdef";

fn run(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_openmidas"));
    for (var, _) in std::env::vars() {
        if var.starts_with("OPENMIDAS_") {
            command.env_remove(var);
        }
    }
    let output = command
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .stdin(Stdio::null())
        .output()
        .expect("run openmidas");
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    (output.status.success(), text)
}

/// Lines that break a secret's line in different ways.
fn malformed_secret_lines() -> Vec<String> {
    vec![
        format!("secret = \"{SECRET}"),
        format!("secret = {SECRET}"),
        format!("secret = \"{SECRET}\" trailing"),
        format!("secret = [\"{SECRET}\"]"),
    ]
}

#[test]
fn serve_config_errors_do_not_print_secrets() {
    for line in malformed_secret_lines() {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "listen = \"127.0.0.1:0\"\n\n[[apps]]\nappid = \"wx0123456789abcdef\"\n{line}\n\
             offer_id = \"1450000001\"\napp_key = \"k\"\nsandbox_app_key = \"s\"\n"
        );
        std::fs::write(dir.path().join("bad.toml"), config).unwrap();
        let (ok, output) = run(dir.path(), &["serve", "--config", "bad.toml"]);
        assert!(!ok, "{output}");
        assert!(!output.contains(SECRET), "{line}: the secret is printed:\n{output}");
        assert!(
            output.contains("bad.toml") && output.contains("line 5"),
            "{line}:\n{output}"
        );
        assert!(output.contains("key `secret`"), "{line}:\n{output}");
    }
    // An admin token the same way.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), format!("admin_token = {SECRET}\n")).unwrap();
    let (ok, output) = run(dir.path(), &["serve", "--config", "bad.toml"]);
    assert!(!ok && !output.contains(SECRET), "{output}");
    assert!(output.contains("line 1, column 15, key `admin_token`"), "{output}");
}

#[test]
fn profile_errors_do_not_print_secrets() {
    for line in malformed_secret_lines() {
        let dir = tempfile::tempdir().unwrap();
        let profile = format!("default = \"local\"\n\n[profiles.local]\nurl = \"http://127.0.0.1:9\"\n{line}\n");
        std::fs::write(dir.path().join("profile.toml"), profile).unwrap();
        let (ok, output) = run(dir.path(), &["balance", "--profile", "profile.toml", "--openid", "p"]);
        assert!(!ok, "{output}");
        assert!(!output.contains(SECRET), "{line}: the secret is printed:\n{output}");
        assert!(
            output.contains("line 5") && output.contains("key `secret`"),
            "{line}:\n{output}"
        );
    }
}
