//! Errors inside a transaction, which of them a retry can cure, and how they are told
//! without leaking data (a PostgreSQL DETAIL line can quote a token or a key).

use openmidas_ledger::account::InvariantViolation;
use openmidas_ledger::StoreError;
use tokio_postgres::error::SqlState;

/// What can go wrong while running one transaction.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TxError {
    #[error("{}", describe(.0))]
    Db(#[from] tokio_postgres::Error),
    /// A stored value this build cannot read.
    #[error("unreadable row: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Invariant(#[from] InvariantViolation),
    #[error("no database connection became free in time")]
    PoolExhausted,
    /// COMMIT was sent but its answer was lost: the transaction may or may not have applied.
    #[error("the outcome of COMMIT is unknown: {0}")]
    CommitUnknown(String),
}

/// How to react to an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Roll back and run the whole transaction again (after a backoff).
    Again,
    /// Give up; the transaction did not apply (or, for `CommitUnknown`, may have).
    Never,
}

impl TxError {
    /// Serialization failures, deadlocks, lock timeouts, a unique key a concurrent node
    /// inserted first (the re-run sees its row), and lost connections before COMMIT.
    pub(crate) fn retry(&self) -> Retry {
        match self {
            TxError::Db(e) => {
                if let Some(code) = e.code() {
                    let retryable = [
                        SqlState::T_R_SERIALIZATION_FAILURE,
                        SqlState::T_R_DEADLOCK_DETECTED,
                        SqlState::UNIQUE_VIOLATION,
                        SqlState::LOCK_NOT_AVAILABLE,
                        // The connection was shut down by an administrator or a failover.
                        SqlState::ADMIN_SHUTDOWN,
                        SqlState::CRASH_SHUTDOWN,
                        SqlState::CANNOT_CONNECT_NOW,
                    ];
                    if retryable.contains(code) {
                        Retry::Again
                    } else {
                        Retry::Never
                    }
                } else if connection_lost(e) {
                    // Before COMMIT (a lost COMMIT is `CommitUnknown`): the server rolls the
                    // transaction back when the connection goes.
                    Retry::Again
                } else {
                    Retry::Never
                }
            }
            // Already waited `acquire_timeout`; waiting again would only hold the caller.
            TxError::PoolExhausted => Retry::Never,
            TxError::Corrupt(_) | TxError::Invariant(_) | TxError::CommitUnknown(_) => Retry::Never,
        }
    }

    /// Whether the connection is left in a state worth keeping.
    pub(crate) fn keeps_connection(&self) -> bool {
        match self {
            TxError::Db(e) => !e.is_closed() && e.code().is_some(),
            _ => false,
        }
    }
}

impl From<TxError> for StoreError {
    fn from(e: TxError) -> StoreError {
        match e {
            TxError::Invariant(v) => StoreError::Invariant(v),
            other => StoreError::Backend(other.to_string()),
        }
    }
}

/// A closed connection or an I/O error (no SQLSTATE).
pub(crate) fn connection_lost(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// An error's SQLSTATE and message, without DETAIL or HINT (which may quote values).
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({}): {}", db.severity(), db.code().code(), db.message()),
        None => {
            // Not from the server: I/O, protocol or conversion; these carry no row data.
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_database_errors_are_not_retried_blindly() {
        assert_eq!(TxError::Corrupt("x".into()).retry(), Retry::Never);
        assert_eq!(TxError::CommitUnknown("x".into()).retry(), Retry::Never);
        assert_eq!(TxError::PoolExhausted.retry(), Retry::Never);
        assert_eq!(TxError::Invariant(InvariantViolation("x".into())).retry(), Retry::Never);
    }
}
