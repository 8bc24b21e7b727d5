//! Versioned schema for PostgreSQL (and the SQL that CockroachDB and YugabyteDB accept).
//!
//! The SQL lives at the workspace root, `migrations/postgres/NNNN_name.sql`, with the same
//! list of versions as `migrations/sqlite/`. Table `schema_migrations` records every applied
//! version. Several nodes may start at once: every statement is idempotent (`IF NOT
//! EXISTS`) and runs on its own (no DDL and DML in one transaction, no advisory lock); a
//! catalog race between two nodes creating the same object is retried; the version row is
//! inserted with `ON CONFLICT DO NOTHING`.

use std::time::Duration;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::error::{describe, Retry};
use crate::pool::Conn;

/// `(version, name, sql)`, in order. Never edit a shipped migration: append a new one.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "0001_init",
        include_str!("../../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "0002_one_ledger",
        include_str!("../../../migrations/postgres/0002_one_ledger.sql"),
    ),
    (
        3,
        "0003_emulator",
        include_str!("../../../migrations/postgres/0003_emulator.sql"),
    ),
    (
        4,
        "0004_xpay",
        include_str!("../../../migrations/postgres/0004_xpay.sql"),
    ),
    // 5: pushes: app push settings, purchase channels and prices, the outbox of events.
    (
        5,
        "0005_pushes",
        include_str!("../../../migrations/postgres/0005_pushes.sql"),
    ),
    // 6: the dashboard: players by openid, an account's orders by time.
    (
        6,
        "0006_dashboard",
        include_str!("../../../migrations/postgres/0006_dashboard.sql"),
    ),
    // 7: token issues: current tokens and tokens by expiry.
    (
        7,
        "0007_token_indexes",
        include_str!("../../../migrations/postgres/0007_token_indexes.sql"),
    ),
];

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("cannot migrate the PostgreSQL schema to version {version}: {message}")]
    Failed { version: i64, message: String },
    /// Creating or reading the table of applied versions failed: before any migration.
    #[error(
        "cannot create or read the schema_migrations table: {message} (the role needs CREATE on schema \
         public for the first start: `GRANT CREATE ON SCHEMA public TO <role>`, required since \
         PostgreSQL 15; see docs/postgres.md)"
    )]
    Setup { message: String },
    #[error("the database has schema version {found}, newer than this build knows ({known})")]
    TooNew { found: i64, known: i64 },
}

/// The statements of a migration: a `;` at the end of a line ends one; `--` comment lines
/// are dropped.
pub fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            out.push(current.trim().trim_end_matches(';').trim().to_string());
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version        BIGINT PRIMARY KEY,
    name           TEXT NOT NULL,
    applied_at_ms  BIGINT NOT NULL
)";

/// Runs one statement on its own (an implicit transaction), retrying the races of
/// concurrent nodes: a catalog row two `CREATE ... IF NOT EXISTS` insert at once (unique
/// violation, duplicate object), serialization failures and deadlocks.
async fn run(conn: &Conn, sql: &str, params: &[&(dyn ToSql + Sync)], version: i64) -> Result<(), MigrateError> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let result = if params.is_empty() {
            conn.client.batch_execute(sql).await
        } else {
            conn.client.execute(sql, params).await.map(|_| ())
        };
        match result {
            Ok(()) => return Ok(()),
            Err(e) => {
                let racy = e.code().is_some_and(|c| {
                    [
                        SqlState::UNIQUE_VIOLATION,
                        SqlState::DUPLICATE_TABLE,
                        SqlState::DUPLICATE_OBJECT,
                        SqlState::T_R_SERIALIZATION_FAILURE,
                        SqlState::T_R_DEADLOCK_DETECTED,
                    ]
                    .contains(c)
                });
                if !racy || attempt >= 20 {
                    return Err(MigrateError::Failed {
                        version,
                        message: describe(&e),
                    });
                }
                tracing::debug!(version, attempt, error = %describe(&e), "migration statement raced another node; retrying");
                let pause = 10 * u64::from(attempt);
                tokio::time::sleep(Duration::from_millis(pause + rand::random_range(0..=pause))).await;
            }
        }
    }
}

async fn applied_versions(conn: &mut Conn) -> Result<Vec<i64>, MigrateError> {
    let mut attempt = 0u32;
    let rows = loop {
        attempt += 1;
        match conn
            .query("SELECT version FROM schema_migrations ORDER BY version", &[])
            .await
        {
            Ok(rows) => break rows,
            // CockroachDB can ask to retry a read too.
            Err(e) if e.retry() == Retry::Again && attempt < 20 => {
                tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
            }
            Err(e) => return Err(MigrateError::Setup { message: e.to_string() }),
        }
    };
    rows.iter()
        .map(|r| r.try_get::<_, i64>(0))
        .collect::<Result<Vec<i64>, _>>()
        .map_err(|e| MigrateError::Setup { message: describe(&e) })
}

/// Brings the schema up to date.
pub(crate) async fn migrate(conn: &mut Conn, now_ms: i64) -> Result<(), MigrateError> {
    // `IF NOT EXISTS` on an existing table is a NOTICE; one per table and node at every
    // start is noise in the logs.
    conn.client
        .batch_execute("SET client_min_messages = warning")
        .await
        .map_err(|e| MigrateError::Setup { message: describe(&e) })?;
    run(conn, CREATE_VERSION_TABLE, &[], 0).await.map_err(|e| match e {
        MigrateError::Failed { message, .. } => MigrateError::Setup { message },
        other => other,
    })?;
    let applied = applied_versions(conn).await?;
    let known = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if let Some(&found) = applied.last() {
        if found > known {
            return Err(MigrateError::TooNew { found, known });
        }
    }
    let mut applied = applied;
    for &(version, name, sql) in MIGRATIONS {
        if applied.contains(&version) {
            continue;
        }
        // Another node may have applied it since: look again, so its statements (DDL locks
        // on tables other nodes are serving from) run only where they are still needed.
        applied = applied_versions(conn).await?;
        if applied.contains(&version) {
            continue;
        }
        for statement in statements(sql) {
            run(conn, &statement, &[], version).await?;
        }
        run(
            conn,
            "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES ($1, $2, $3)
             ON CONFLICT (version) DO NOTHING",
            &[&version, &name, &now_ms],
            version,
        )
        .await?;
        tracing::info!(version, name, "applied PostgreSQL migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions_in(dialect: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../migrations")
            .join(dialect);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .map(|n| n.trim_end_matches(".sql").to_string())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn both_dialects_have_the_same_versions() {
        let sqlite = versions_in("sqlite");
        let postgres = versions_in("postgres");
        assert!(!postgres.is_empty());
        assert_eq!(
            sqlite, postgres,
            "migrations/sqlite and migrations/postgres must list the same versions"
        );
        let listed: Vec<String> = MIGRATIONS.iter().map(|m| m.1.to_string()).collect();
        assert_eq!(
            listed, postgres,
            "MIGRATIONS must list every file of migrations/postgres"
        );
        for (index, (version, name, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version, index as i64 + 1);
            assert!(name.starts_with(&format!("{version:04}_")), "{name}");
        }
    }

    #[test]
    fn postgres_migrations_keep_the_portable_rules() {
        for (version, _, sql) in MIGRATIONS {
            let statements = statements(sql);
            assert!(!statements.is_empty());
            for s in &statements {
                let upper = s.to_uppercase();
                // Idempotent DDL, or a data change that touches only rows not yet changed (a
                // node re-running it, after a crash or beside another node, changes nothing).
                let ddl = upper.starts_with("CREATE TABLE IF NOT EXISTS")
                    || upper.starts_with("CREATE INDEX IF NOT EXISTS")
                    || (upper.starts_with("ALTER TABLE") && upper.contains("ADD COLUMN IF NOT EXISTS"));
                let guarded_update = upper.starts_with("UPDATE ") && upper.contains(" WHERE ");
                assert!(ddl || guarded_update, "version {version}: not idempotent: {s}");
                for banned in [
                    "ADVISORY",
                    "TRIGGER",
                    "FUNCTION",
                    "EXTENSION",
                    "SERIAL",
                    " INTEGER",
                    "INSERT ",
                    "DROP ",
                    "RENAME ",
                ] {
                    assert!(!upper.contains(banned), "version {version}: {banned} in {s}");
                }
                assert!(
                    !s.contains(';'),
                    "version {version}: a statement must not contain ';': {s}"
                );
            }
        }
    }
}
