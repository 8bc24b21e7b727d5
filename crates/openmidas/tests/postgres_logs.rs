//! `RUST_LOG=debug` on PostgreSQL (issue 16): at debug, tokio-postgres logs every statement
//! with its parameters, which are AppSecrets, AppKeys, access tokens and session keys. The
//! real binary, on a throwaway database of the testkit's cluster, must keep them out of its
//! logs whatever the filter.

mod common;

use common::{test_app, Api, Launch, Process};
use openmidas_testkit::postgres::fresh_database;

const ADMIN: &str = "postgres-logs-admin-token";

#[tokio::test]
async fn rust_log_debug_logs_no_secret_of_an_app() {
    let database = fresh_database(false).await;
    let dir = tempfile::tempdir().unwrap();
    let process = Process::start(Launch {
        dir: dir.path(),
        database: Some(database.url.as_ref()),
        admin_token: Some(ADMIN),
        env: vec![("RUST_LOG", "debug")],
        log_name: "stderr.log",
    });
    let api = Api::new(&process, ADMIN);
    let app = test_app(16);
    api.create_app(&app).await;
    let token = api.token(&app).await;
    let session_key = api.login(&app, "o-postgres-logs-player").await;
    api.recharge(&app, "o-postgres-logs-player", 10).await;
    let balance = api.balance(&app, &token, "o-postgres-logs-player").await;
    assert_eq!(balance["balance"], 10, "{balance}");

    let logs = process.logs();
    // The filter is really at debug: OpenMidas's own debug lines (a line per request) are
    // there; only the driver's are kept out.
    assert!(
        logs.contains("DEBUG openmidas"),
        "no debug line of OpenMidas: RUST_LOG=debug did not apply:\n{logs}"
    );
    for (what, secret) in [
        ("AppSecret", app.secret.as_str()),
        ("AppKey", app.app_key.as_str()),
        ("sandbox AppKey", app.sandbox_app_key.as_str()),
        ("access_token", token.as_str()),
        ("session_key", session_key.as_str()),
    ] {
        if let Some(at) = logs.find(secret) {
            let line = logs[..at].rsplit('\n').next().unwrap_or_default();
            panic!(
                "the logs hold the app's {what} (RUST_LOG=debug on PostgreSQL), in the line starting:\n{}",
                &line[..line.len().min(300)]
            );
        }
    }
    assert!(
        !logs.contains("DEBUG tokio_postgres") && !logs.contains("DEBUG postgres_protocol"),
        "the PostgreSQL driver logged at debug:\n{logs}"
    );
}
