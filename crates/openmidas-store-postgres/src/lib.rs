//! The PostgreSQL store: many stateless OpenMidas nodes on one database.
//!
//! - **Writer tasks** apply ledger commands (one by default). Each owns one connection; a
//!   command goes to the writer of its account (a hash of the account key), so with several
//!   writers one account's commands never contend with each other inside a node. A writer
//!   takes everything queued for it (up to `max_batch`) and applies it in one transaction,
//!   set-based (the `batch` module): `BEGIN` and one locking read of all the batch's orders
//!   and one of all its accounts, pipelined; the ledger's [`Batch`] decides each command in
//!   queue order, in memory, each seeing what the commands before it did; one statement per
//!   kind of write over arrays, pipelined; one COMMIT; only then the answers (group commit). A
//!   batch costs the same few round trips whatever its size. Should one command fail on its
//!   own (not a conflict), the batch is rolled back and applied one command per
//!   transaction, so the failure stays that command's. The queues are bounded; a full one
//!   answers [`StoreError::Overloaded`].
//! - **Across nodes** the database arbitrates: a batch locks the orders and accounts it
//!   reads (`SELECT ... FOR UPDATE`, every node in the same key order, so nodes do not
//!   deadlock; or relies on SERIALIZABLE), and the primary keys of `orders` and `accounts`
//!   make a second insert of one `bill_no` or one new account fail. Every transaction is
//!   re-run on serialization failure (40001), deadlock (40P01), lock timeout, a unique
//!   violation from a node racing the same number or account (the re-run sees its rows and
//!   answers the duplicate), or a connection lost before COMMIT; with bounded exponential
//!   backoff and jitter, then [`StoreError::Backend`].
//! - **Pushes** (behaviour.md section 12): a batch inserts the events its changes cause in
//!   its own transaction (an outbox). Delivery workers on any node claim due events with
//!   `FOR UPDATE SKIP LOCKED` and lease them, so each claim takes events no other node holds.
//! - **Tokens, login codes and sessions** are rows too, so any node serves any request.
//!   Their writes are short transactions on a pooled connection, run on a task of their own
//!   so a client hanging up cannot interrupt them.
//! - **Reads** use a pooled connection directly and never wait behind writes.
//! - **Durability**: a write is answered after COMMIT returns, which with PostgreSQL's
//!   default `synchronous_commit = on` means after the WAL is flushed. A COMMIT whose
//!   answer was lost is reported as a failure (the client retries with the same number and
//!   sees the original result as a duplicate), never retried blindly.

mod batch;
mod error;
mod metrics;
pub mod migrations;
mod pool;
mod rows;
mod state;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use openmidas_ledger::account::{Account, AccountKey, Env};
use openmidas_ledger::auth::{App, Session, TokenRecord};
use openmidas_ledger::batch::Batch;
use openmidas_ledger::bill::Bill;
use openmidas_ledger::clock::ClockState;
use openmidas_ledger::command::{Command, JournalEntry, Outcome};
use openmidas_ledger::order::{Order, OrderKey};
use openmidas_ledger::push::{Push, PushFilter};
use openmidas_ledger::state::StateDoc;
use openmidas_ledger::{AccountFilter, OrderCursor, Store, StoreError, Write, Written};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;

use crate::error::{describe, Retry, TxError};
pub use crate::migrations::MigrateError;
use crate::pool::{Conn, Pool};

/// How a commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// The server's setting (PostgreSQL's default `synchronous_commit = on`: the WAL is
    /// flushed before COMMIT returns).
    #[default]
    Full,
    /// `SET synchronous_commit = off` on the writers' connections: a crash of the database
    /// server may lose the last commits (never corrupt them). PostgreSQL only.
    Relaxed,
}

/// Settings of the PostgreSQL store.
#[derive(Clone)]
pub struct PgConfig {
    /// `postgres://user:password@host:port/database?...` or a key=value string. TLS is not
    /// supported: use `sslmode=disable` (or `prefer`) on a trusted network, or a local proxy.
    pub url: String,
    pub durability: Durability,
    /// Writer tasks (and their connections) of this node.
    pub writers: usize,
    /// Most commands in one transaction.
    pub max_batch: usize,
    /// Most commands waiting for the writers of this node; past that, writes answer -1.
    pub queue_depth: usize,
    /// Pooled connections for reads and for token, login and app writes.
    pub pool_size: usize,
    /// Most runs of one transaction (the first and its retries).
    pub max_attempts: u32,
    /// First backoff; doubled on each retry up to `retry_cap`, with jitter.
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// Run every transaction at SERIALIZABLE (otherwise the database's default: READ
    /// COMMITTED on PostgreSQL, SERIALIZABLE on CockroachDB). Both are correct.
    pub serializable: bool,
    /// How long a request waits for a pooled connection.
    pub acquire_timeout: Duration,
}

impl PgConfig {
    pub fn new(url: impl Into<String>) -> PgConfig {
        PgConfig {
            url: url.into(),
            durability: Durability::Full,
            // One writer with big batches was the fastest on a 2-core machine (the database
            // and the node sharing one core): each batch costs a constant number of
            // statements, so fewer, larger batches do less work per command. More writers
            // overlap one batch's COMMIT with the next batch's work; see docs/postgres.md.
            writers: 1,
            max_batch: 128,
            queue_depth: 4096,
            pool_size: 16,
            max_attempts: 12,
            retry_base: Duration::from_millis(2),
            retry_cap: Duration::from_millis(250),
            serializable: false,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("PgConfig")
            .field("url", &redact_url(&self.url))
            .field("durability", &self.durability)
            .field("writers", &self.writers)
            .field("max_batch", &self.max_batch)
            .field("queue_depth", &self.queue_depth)
            .field("pool_size", &self.pool_size)
            .field("max_attempts", &self.max_attempts)
            .field("serializable", &self.serializable)
            .finish_non_exhaustive()
    }
}

/// A connection string with its password replaced by `***`, for logs and `Debug`:
/// `postgres://user:***@host/db?...` (and a `password=` query parameter), or a key=value
/// string's `password=***`.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let before_query = rest.split('?').next().unwrap_or(rest);
        let (userinfo, after) = match before_query.rfind('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let userinfo = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((user, _)) => format!("{user}:***@"),
                None => format!("{info}@"),
            },
            None => String::new(),
        };
        let after = match after.split_once('?') {
            Some((path, query)) => {
                let query: Vec<String> = query
                    .split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                        _ => pair.to_string(),
                    })
                    .collect();
                format!("{path}?{}", query.join("&"))
            }
            None => after.to_string(),
        };
        return format!("{scheme}://{userinfo}{after}");
    }
    // key=value pairs separated by spaces; a value may be quoted ('...', with \' and \\).
    let mut out = String::new();
    let mut rest = url;
    while !rest.is_empty() {
        let trimmed = rest.trim_start();
        out.push_str(&rest[..rest.len() - trimmed.len()]);
        rest = trimmed;
        let Some(eq) = rest.find('=') else {
            out.push_str(rest);
            break;
        };
        let key = rest[..eq].trim();
        out.push_str(&rest[..=eq]);
        let value = rest[eq + 1..].trim_start();
        out.push_str(&rest[eq + 1..eq + 1 + (rest.len() - eq - 1 - value.len())]);
        let len = if let Some(quoted) = value.strip_prefix('\'') {
            let mut escaped = false;
            let mut end = quoted.len();
            for (i, c) in quoted.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '\'' => {
                        end = i + 1;
                        break;
                    }
                    _ => {}
                }
            }
            1 + end
        } else {
            value.find(char::is_whitespace).unwrap_or(value.len())
        };
        if key.eq_ignore_ascii_case("password") {
            out.push_str("***");
        } else {
            out.push_str(&value[..len]);
        }
        rest = &value[len..];
    }
    out
}

/// Why the store could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("invalid PostgreSQL connection string: {0}")]
    Url(String),
    #[error("invalid PostgreSQL store settings: {0}")]
    Settings(&'static str),
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
    #[error(transparent)]
    Migrate(#[from] MigrateError),
}

struct Settings {
    max_batch: usize,
    max_attempts: u32,
    retry_base: Duration,
    retry_cap: Duration,
    begin: &'static str,
    relaxed: bool,
}

impl Settings {
    /// The pause before run number `attempt + 1`: exponential, capped, with jitter (half
    /// fixed, half random) so racing nodes fall out of step.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry_base
            .saturating_mul(1u32.checked_shl(attempt.saturating_sub(1).min(20)).unwrap_or(u32::MAX));
        let ceiling = exp.min(self.retry_cap);
        let half = ceiling / 2;
        let jitter_ns = rand::random_range(0..=half.as_nanos().min(u128::from(u64::MAX)) as u64);
        half + Duration::from_nanos(jitter_ns)
    }
}

struct LedgerJob {
    command: Command,
    reply: oneshot::Sender<Result<Outcome, StoreError>>,
}

/// A read on a pooled connection: `read!(store, conn => rows::app(conn, appid))`. A broken
/// connection is dropped and the read tried once more on a fresh one (reads change
/// nothing, so that is always safe).
macro_rules! read {
    ($store:expr, $conn:ident => $body:expr) => {{
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut pooled = match $store.pool.get().await {
                Ok(p) => p,
                Err(e) if attempt < 2 && e.retry() == Retry::Again => continue,
                Err(e) => break Err(StoreError::from(e)),
            };
            let result = match pooled.conn() {
                Ok($conn) => $body.await,
                Err(e) => Err(e),
            };
            match result {
                Ok(value) => break Ok(value),
                Err(e) => {
                    if !e.keeps_connection() {
                        pooled.discard();
                        if attempt < 2 && e.retry() == Retry::Again {
                            continue;
                        }
                    }
                    break Err(StoreError::from(e));
                }
            }
        }
    }};
}

/// The PostgreSQL implementation of [`Store`].
pub struct PostgresStore {
    writers: Mutex<Vec<mpsc::Sender<LedgerJob>>>,
    writer_tasks: Mutex<Vec<JoinHandle<()>>>,
    writer_count: usize,
    pool: Pool,
    settings: Arc<Settings>,
    closed: AtomicBool,
}

fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

impl PostgresStore {
    /// Connects, brings the schema up to date (safe when several nodes start at once), and
    /// starts the writer tasks on the current tokio runtime.
    pub async fn open(config: PgConfig) -> Result<PostgresStore, OpenError> {
        if config.writers == 0 || config.max_batch == 0 || config.pool_size == 0 || config.max_attempts == 0 {
            return Err(OpenError::Settings(
                "writers, max_batch, pool_size and max_attempts must be at least 1",
            ));
        }
        if config.queue_depth < config.writers {
            return Err(OpenError::Settings(
                "queue_depth must be at least the number of writers",
            ));
        }
        let mut pg: tokio_postgres::Config = config
            .url
            .parse()
            .map_err(|e: tokio_postgres::Error| OpenError::Url(describe(&e)))?;
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(Duration::from_secs(10));
        }
        if pg.get_application_name().is_none() {
            pg.application_name("openmidas");
        }
        let settings = Arc::new(Settings {
            max_batch: config.max_batch,
            max_attempts: config.max_attempts,
            retry_base: config.retry_base,
            retry_cap: config.retry_cap,
            begin: if config.serializable {
                "BEGIN ISOLATION LEVEL SERIALIZABLE"
            } else {
                "BEGIN"
            },
            relaxed: config.durability == Durability::Relaxed,
        });

        let mut first = Conn::connect(&pg).await.map_err(|e| OpenError::Connect(describe(&e)))?;
        migrations::migrate(&mut first, now_ms()).await?;
        if config.durability == Durability::Full {
            // PostgreSQL only; other databases may not know the setting.
            if let Ok(rows) = first.client.simple_query("SHOW synchronous_commit").await {
                let off = rows.iter().any(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => matches!(r.try_get(0), Ok(Some("off"))),
                    _ => false,
                });
                if off {
                    tracing::warn!("the database has synchronous_commit = off: a crash of the database server may lose acknowledged writes");
                }
            }
        }
        let pool = Pool::new(pg.clone(), config.pool_size, config.acquire_timeout);
        drop(first);

        let per_writer = (config.queue_depth / config.writers).max(1);
        std::sync::LazyLock::force(&metrics::METRICS);
        let mut senders = Vec::with_capacity(config.writers);
        let mut tasks = Vec::with_capacity(config.writers);
        for index in 0..config.writers {
            let (sender, receiver) = mpsc::channel(per_writer);
            let writer = Writer {
                index,
                pg: pg.clone(),
                settings: settings.clone(),
                conn: None,
            };
            tasks.push(tokio::spawn(writer.run(receiver)));
            senders.push(sender);
        }
        tracing::info!(
            writers = config.writers,
            pool_size = config.pool_size,
            serializable = config.serializable,
            "PostgreSQL store open"
        );
        Ok(PostgresStore {
            writers: Mutex::new(senders),
            writer_tasks: Mutex::new(tasks),
            writer_count: config.writers,
            pool,
            settings,
            closed: AtomicBool::new(false),
        })
    }

    fn writer_for(&self, key: &AccountKey) -> usize {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        (hasher.finish() % self.writer_count as u64) as usize
    }

    /// A short write transaction on a pooled connection, on a task of its own (so it runs
    /// to its end even if the caller goes away), retried as every transaction is.
    async fn pooled_write(&self, write: Write) -> Result<Written, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::ShuttingDown);
        }
        let pool = self.pool.clone();
        let settings = self.settings.clone();
        let task = tokio::spawn(async move {
            let mut attempt = 0u32;
            loop {
                attempt += 1;
                let outcome = match pool.get().await {
                    Ok(mut pooled) => {
                        let result = match pooled.conn() {
                            Ok(conn) => run_planned(conn, &settings, &write).await,
                            Err(e) => Err(e),
                        };
                        if let Err(e) = &result {
                            if !e.keeps_connection() {
                                pooled.discard();
                            }
                        }
                        result
                    }
                    Err(e) => Err(e),
                };
                match outcome {
                    Ok(result) => return Ok(result),
                    Err(e) if e.retry() == Retry::Again && attempt < settings.max_attempts => {
                        tracing::debug!(attempt, error = %e, "write transaction conflicted; retrying");
                        tokio::time::sleep(settings.backoff(attempt)).await;
                    }
                    Err(e) => {
                        tracing::error!(attempt, error = %e, "write transaction failed");
                        return Err(StoreError::from(e));
                    }
                }
            }
        });
        task.await
            .map_err(|e| StoreError::Backend(format!("write task failed: {e}")))?
    }
}

/// BEGIN (at the configured isolation).
async fn begin(conn: &mut Conn, settings: &Settings) -> Result<(), TxError> {
    conn.simple(settings.begin).await
}

/// COMMIT if `result` is Ok, else ROLLBACK. A COMMIT that fails with an SQLSTATE was rolled
/// back (retry may apply); one whose answer is lost is [`TxError::CommitUnknown`].
async fn finish<T>(conn: &mut Conn, result: Result<T, TxError>) -> Result<T, TxError> {
    match result {
        Ok(value) => match conn.client.batch_execute("COMMIT").await {
            Ok(()) => Ok(value),
            Err(e) => match e.code() {
                Some(code) if *code == SqlState::T_R_STATEMENT_COMPLETION_UNKNOWN => {
                    Err(TxError::CommitUnknown(describe(&e)))
                }
                Some(_) => Err(TxError::Db(e)),
                None => Err(TxError::CommitUnknown(describe(&e))),
            },
        },
        Err(e) => {
            if e.keeps_connection() {
                // If ROLLBACK fails too, the connection is lost and the server rolls back.
                let _ = conn.simple("ROLLBACK").await;
            }
            Err(e)
        }
    }
}

/// A write other than a ledger command, in one transaction: its read, its plan, its row
/// writes ([`Write::plan`]).
async fn run_planned(conn: &mut Conn, settings: &Settings, write: &Write) -> Result<Written, TxError> {
    begin(conn, settings).await?;
    let result = async {
        let read = rows::row_read(conn, write.row_read()).await?;
        let (row_writes, written) = write.plan(read).map_err(|e| TxError::Corrupt(e.to_string()))?;
        for row_write in &row_writes {
            rows::row_write(conn, row_write).await?;
        }
        Ok(written)
    }
    .await;
    finish(conn, result).await
}

/// One writer task and its connection.
struct Writer {
    index: usize,
    pg: tokio_postgres::Config,
    settings: Arc<Settings>,
    conn: Option<Conn>,
}

impl Writer {
    async fn run(mut self, mut receiver: mpsc::Receiver<LedgerJob>) {
        let mut batch: Vec<LedgerJob> = Vec::with_capacity(self.settings.max_batch);
        while let Some(first) = receiver.recv().await {
            batch.push(first);
            while batch.len() < self.settings.max_batch {
                match receiver.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let metrics = &*metrics::METRICS;
            metrics.queue_depth.sub(batch.len() as i64);
            metrics.batch_size.observe(batch.len() as f64);
            let timer = metrics.commit_seconds.start_timer();
            let results = self.apply_with_retries(&batch).await;
            timer.observe_duration();
            debug_assert_eq!(results.len(), batch.len());
            for (job, result) in batch.drain(..).zip(results) {
                // The requester may have gone away; the write stands.
                let _ = job.reply.send(result);
            }
        }
        tracing::debug!(writer = self.index, "PostgreSQL writer stopped");
    }

    async fn connection(&mut self) -> Result<&mut Conn, TxError> {
        if self.conn.as_ref().is_some_and(Conn::is_closed) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let conn = Conn::connect(&self.pg).await?;
            // Every ledger statement joins an unnest() of the batch's keys to a primary key.
            // A plan PostgreSQL caches while the tables are still nearly empty (before their
            // first ANALYZE) would scan them whole for as long as the connection lives; on
            // this connection, which runs nothing else, rule those plans out. PostgreSQL
            // (and YugabyteDB) settings: a database that does not know them may refuse them.
            if let Err(e) = conn
                .simple("SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off")
                .await
            {
                tracing::debug!(error = %e, "planner settings not applied");
            }
            if self.settings.relaxed {
                conn.simple("SET synchronous_commit = off").await?;
            }
            self.conn = Some(conn);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| TxError::Corrupt("writer connection missing".into()))
    }

    /// Applies the batch in one transaction (re-run on a retryable error). If one command
    /// fails on its own (not a conflict), the batch is rolled back and every command is
    /// applied alone, so that failure stays that command's.
    async fn apply_with_retries(&mut self, batch: &[LedgerJob]) -> Vec<Result<Outcome, StoreError>> {
        let commands: Vec<&Command> = batch.iter().map(|job| &job.command).collect();
        match self.run_with_retries(&commands).await {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(failure) if failure.own && commands.len() > 1 => {
                tracing::warn!(writer = self.index, size = commands.len(), error = %failure.error,
                    "a command failed inside a group commit; applying the batch one by one");
                let mut results = Vec::with_capacity(commands.len());
                for command in &commands {
                    results.push(match self.run_with_retries(&[*command]).await {
                        Ok(mut outcomes) => outcomes
                            .pop()
                            .ok_or_else(|| StoreError::Backend("a command was not applied".into())),
                        Err(failure) => Err(store_error(&failure.error)),
                    });
                }
                results
            }
            Err(failure) => commands.iter().map(|_| Err(store_error(&failure.error))).collect(),
        }
    }

    /// One transaction over `commands`, re-run on a retryable error up to `max_attempts`.
    async fn run_with_retries(&mut self, commands: &[&Command]) -> Result<Vec<Outcome>, BatchFailure> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let settings = self.settings.clone();
            let result = match self.connection().await {
                Ok(conn) => apply_batch(conn, &settings, commands).await,
                Err(error) => Err(BatchFailure { error, own: false }),
            };
            let failure = match result {
                Ok(outcomes) => return Ok(outcomes),
                Err(failure) => failure,
            };
            if !failure.error.keeps_connection() {
                self.conn = None;
            }
            if failure.error.retry() == Retry::Again && attempt < settings.max_attempts {
                tracing::debug!(writer = self.index, attempt, size = commands.len(), error = %failure.error,
                    "ledger transaction conflicted; retrying");
                tokio::time::sleep(settings.backoff(attempt)).await;
                continue;
            }
            if failure.own && commands.len() > 1 {
                // The caller splits the batch; not an error of the batch as a whole.
                return Err(failure);
            }
            tracing::error!(writer = self.index, attempt, size = commands.len(), error = %failure.error,
                "ledger transaction failed; answering -1");
            return Err(failure);
        }
    }
}

fn store_error(e: &TxError) -> StoreError {
    match e {
        TxError::Invariant(v) => StoreError::Invariant(v.clone()),
        other => StoreError::Backend(other.to_string()),
    }
}

/// Why a ledger transaction did not commit.
struct BatchFailure {
    error: TxError,
    /// A command failed on its own (a non-retryable error of that command, not a
    /// conflict): its neighbours may well succeed without it.
    own: bool,
}

/// One transaction over the commands, set-based (see the [`batch`] module): a constant
/// number of round trips whatever the batch size, no savepoints (see
/// [`Writer::apply_with_retries`] for a command that fails). The outcomes are in the
/// commands' order.
async fn apply_batch(
    conn: &mut Conn,
    settings: &Settings,
    commands: &[&Command],
) -> Result<Vec<Outcome>, BatchFailure> {
    let batch = Batch::new(commands.to_vec());
    let mut own = false;
    let body = async {
        let result = async {
            let (orders, accounts) = batch::begin_and_read(conn, settings.begin, &batch).await?;
            let decided = batch.decide(orders, accounts)?;
            batch::write(conn, &decided.writes).await?;
            Ok::<_, TxError>(decided.outcomes)
        }
        .await;
        if let Err(e) = &result {
            own = e.retry() == Retry::Never;
        }
        result
    }
    .await;
    let own_failure = body.is_err() && own;
    finish(conn, body).await.map_err(|error| BatchFailure {
        own: own_failure && !matches!(error, TxError::CommitUnknown(_)),
        error,
    })
}

impl PostgresStore {
    /// Queues a ledger command for the writer of its account.
    async fn queue_ledger(&self, command: Command) -> Result<Outcome, StoreError> {
        let index = self.writer_for(&command.account);
        let sender = self
            .writers
            .lock()
            .get(index)
            .cloned()
            .ok_or(StoreError::ShuttingDown)?;
        let (reply, answer) = oneshot::channel();
        // Counted before it is sent, so the writer never takes it first.
        metrics::METRICS.queue_depth.inc();
        sender.try_send(LedgerJob { command, reply }).map_err(|e| {
            metrics::METRICS.queue_depth.dec();
            match e {
                mpsc::error::TrySendError::Full(_) => StoreError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => StoreError::ShuttingDown,
            }
        })?;
        drop(sender);
        answer.await.map_err(|_| StoreError::ShuttingDown)?
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn write(&self, write: Write) -> Result<Written, StoreError> {
        match write {
            Write::Ledger(command) => self.queue_ledger(command).await.map(Written::Outcome),
            other => self.pooled_write(other).await,
        }
    }

    async fn app(&self, appid: &str) -> Result<Option<Arc<App>>, StoreError> {
        Ok(read!(self, c => rows::app(c, appid))?.map(Arc::new))
    }

    async fn apps(&self) -> Result<Vec<App>, StoreError> {
        read!(self, c => rows::apps(c))
    }

    async fn token(&self, token: &str) -> Result<Option<Arc<TokenRecord>>, StoreError> {
        Ok(read!(self, c => rows::token(c, token))?.map(Arc::new))
    }

    async fn session(&self, appid: &str, openid: &str) -> Result<Option<Session>, StoreError> {
        read!(self, c => rows::session(c, appid, openid))
    }

    async fn account(&self, key: &AccountKey) -> Result<Account, StoreError> {
        read!(self, c => rows::account(c, key)).map(Option::unwrap_or_default)
    }

    async fn order(&self, key: &OrderKey) -> Result<Option<Order>, StoreError> {
        read!(self, c => rows::order(c, key))
    }

    async fn journal(
        &self,
        key: &AccountKey,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, JournalEntry)>, StoreError> {
        read!(self, c => rows::journal(c, key, after_id, limit))
    }

    async fn accounts(&self, filter: &AccountFilter) -> Result<Vec<(AccountKey, Account)>, StoreError> {
        read!(self, c => rows::accounts(c, filter))
    }

    async fn orders_of(
        &self,
        key: &AccountKey,
        after: Option<&OrderCursor>,
        limit: u32,
    ) -> Result<Vec<(OrderKey, Order)>, StoreError> {
        read!(self, c => rows::orders_of(c, key, after, limit))
    }

    async fn order_by_wx_order_id(
        &self,
        appid: &str,
        env: Env,
        wx_order_id: &str,
    ) -> Result<Option<(OrderKey, Order)>, StoreError> {
        read!(self, c => rows::order_by_wx_order_id(c, appid, env, wx_order_id))
    }

    async fn purchases(
        &self,
        appid: &str,
        env: Env,
        from_ms: i64,
        to_ms: i64,
        limit: u32,
    ) -> Result<Vec<(OrderKey, Order)>, StoreError> {
        read!(self, c => rows::purchases(c, appid, env, from_ms, to_ms, limit))
    }

    async fn bill(&self, token: &str) -> Result<Option<Bill>, StoreError> {
        read!(self, c => rows::bill(c, token))
    }

    async fn pushes(&self, filter: &PushFilter) -> Result<Vec<Push>, StoreError> {
        read!(self, c => rows::pushes(c, filter))
    }

    async fn push(&self, id: i64) -> Result<Option<Push>, StoreError> {
        read!(self, c => rows::push(c, id))
    }

    async fn clock(&self) -> Result<ClockState, StoreError> {
        read!(self, c => state::clock(c, false))
    }

    async fn export(&self) -> Result<StateDoc, StoreError> {
        read!(self, c => state::export(c))
    }

    async fn shutdown(&self) {
        self.closed.store(true, Ordering::Release);
        // Dropping the senders lets each writer finish what is queued and stop.
        self.writers.lock().clear();
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.writer_tasks.lock());
        for task in tasks {
            let _ = task.await;
        }
    }
}

#[cfg(test)]
mod redact_tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords() {
        for (url, shown) in [
            (
                "postgres://u:Pw0rd@db:5432/x?sslmode=disable",
                "postgres://u:***@db:5432/x?sslmode=disable",
            ),
            ("postgresql://u:p/w@rd@db/x", "postgresql://u:***@db/x"),
            (
                "postgres://u@db/x?password=Pw0rd&sslmode=disable",
                "postgres://u@db/x?password=***&sslmode=disable",
            ),
            ("postgres://db/x", "postgres://db/x"),
            (
                "host=db user=u password=Pw0rd dbname=x",
                "host=db user=u password=*** dbname=x",
            ),
            (
                "host=db password = 'Pw 0\\'rd' dbname=x",
                "host=db password = *** dbname=x",
            ),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
        let config = PgConfig::new("postgres://u:Pw0rd@db/x");
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("Pw0rd") && debug.contains("postgres://u:***@db/x"),
            "{debug}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let s = Settings {
            max_batch: 1,
            max_attempts: 10,
            retry_base: Duration::from_millis(2),
            retry_cap: Duration::from_millis(100),
            begin: "BEGIN",
            relaxed: false,
        };
        for attempt in 1..40 {
            let d = s.backoff(attempt);
            let ceiling = (Duration::from_millis(2) * 2u32.saturating_pow((attempt - 1).min(20))).min(s.retry_cap);
            assert!(
                d >= ceiling / 2 && d <= ceiling,
                "attempt {attempt}: {d:?} vs {ceiling:?}"
            );
        }
        assert!(s.backoff(30) <= Duration::from_millis(100));
    }

    #[test]
    fn config_debug_hides_the_url() {
        let c = PgConfig::new("postgres://u:hunter2@localhost/db");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
