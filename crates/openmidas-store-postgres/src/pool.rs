//! A small bounded pool of connections, each with its own cache of prepared statements.
//!
//! A connection is taken for one read or one short transaction and given back; a broken
//! one (closed, or left in an unknown state by an error) is dropped instead, and the next
//! taker opens a fresh one. At most `size` connections exist at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

use crate::error::TxError;

/// One open connection and the statements prepared on it.
pub(crate) struct Conn {
    pub(crate) client: Client,
    statements: HashMap<&'static str, Statement>,
}

pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl Conn {
    /// Opens a connection; its I/O runs on a task of its own.
    pub(crate) async fn connect(config: &tokio_postgres::Config) -> Result<Conn, tokio_postgres::Error> {
        let (client, connection) = config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %crate::error::describe(&e), "PostgreSQL connection closed with an error");
            }
        });
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    pub(crate) async fn statement(&mut self, sql: &'static str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).await?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    pub(crate) async fn query(&mut self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>, TxError> {
        let statement = self.statement(sql).await?;
        Ok(self.client.query(&statement, params).await?)
    }

    pub(crate) async fn query_opt(&mut self, sql: &'static str, params: Params<'_>) -> Result<Option<Row>, TxError> {
        let statement = self.statement(sql).await?;
        Ok(self.client.query_opt(&statement, params).await?)
    }

    pub(crate) async fn execute(&mut self, sql: &'static str, params: Params<'_>) -> Result<u64, TxError> {
        let statement = self.statement(sql).await?;
        Ok(self.client.execute(&statement, params).await?)
    }

    /// A statement without parameters (BEGIN, COMMIT, SAVEPOINT, DDL).
    pub(crate) async fn simple(&self, sql: &str) -> Result<(), TxError> {
        Ok(self.client.batch_execute(sql).await?)
    }
}

struct Inner {
    config: tokio_postgres::Config,
    idle: Mutex<Vec<Conn>>,
    permits: Arc<Semaphore>,
    acquire_timeout: Duration,
}

/// The pool. Cloning shares it.
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

/// A connection taken from the pool; dropping it gives it back (unless it broke).
pub(crate) struct Pooled {
    conn: Option<Conn>,
    pool: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
}

impl Pool {
    pub(crate) fn new(config: tokio_postgres::Config, size: usize, acquire_timeout: Duration) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                config,
                idle: Mutex::new(Vec::with_capacity(size)),
                permits: Arc::new(Semaphore::new(size)),
                acquire_timeout,
            }),
        }
    }

    /// Takes an idle connection, or opens one; waits at most `acquire_timeout` for a free slot.
    pub(crate) async fn get(&self) -> Result<Pooled, TxError> {
        let permit = tokio::time::timeout(self.inner.acquire_timeout, self.inner.permits.clone().acquire_owned())
            .await
            .map_err(|_| TxError::PoolExhausted)?
            .map_err(|_| TxError::PoolExhausted)?;
        let idle = loop {
            let candidate = self.inner.idle.lock().pop();
            match candidate {
                Some(conn) if conn.is_closed() => continue,
                other => break other,
            }
        };
        let conn = match idle {
            Some(conn) => conn,
            None => Conn::connect(&self.inner.config).await?,
        };
        Ok(Pooled {
            conn: Some(conn),
            pool: self.inner.clone(),
            _permit: permit,
        })
    }
}

impl Pooled {
    /// The connection (present until the guard is dropped or discarded).
    pub(crate) fn conn(&mut self) -> Result<&mut Conn, TxError> {
        self.conn
            .as_mut()
            .ok_or_else(|| TxError::Corrupt("pooled connection already given back".into()))
    }

    /// Drops the connection instead of giving it back (its state is unknown).
    pub(crate) fn discard(mut self) {
        self.conn = None;
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !conn.is_closed() {
                self.pool.idle.lock().push(conn);
            }
        }
    }
}
