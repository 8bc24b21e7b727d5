//! The embedded SQLite store (the default backend).
//!
//! - **One writer thread** owns the only write connection. Requests queue on a bounded
//!   channel; the writer takes everything waiting (up to `max_batch`), applies it in one
//!   `BEGIN IMMEDIATE` transaction, commits once, and only then answers every request of
//!   the batch (if any command fails, the batch is rolled back and re-applied one command
//!   per transaction, so one failure cannot spoil its neighbours). With `synchronous=FULL` that commit is one fsync for the whole
//!   batch: group commit.
//! - **Readers** are a small pool of connections used directly from the async tasks: a
//!   WAL read of a cached page takes microseconds and never waits for the writer. Account
//!   reads usually come from the writer-maintained [`account_cache`] instead.
//! - **One process owns the database**: `open` takes an exclusive lock on `<path>.lock`, so
//!   a second server on the same file is refused instead of silently sharing it (which
//!   would make the account cache stale). Several nodes share PostgreSQL, not SQLite.

mod account_cache;
mod checkpoint;
mod metrics;
mod migrations;
mod rows;
mod state;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use async_trait::async_trait;
use openmidas_ledger::account::{Account, AccountKey, Env};
use openmidas_ledger::auth::{App, Session, TokenRecord};
use openmidas_ledger::batch::Batch;
use openmidas_ledger::bill::Bill;
use openmidas_ledger::clock::ClockState;
use openmidas_ledger::command::{Command, JournalEntry};
use openmidas_ledger::order::{Order, OrderKey};
use openmidas_ledger::push::{Push, PushFilter};
use openmidas_ledger::state::StateDoc;
use openmidas_ledger::{AccountFilter, OrderCursor, Store, StoreError, Write, Written};
use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

/// How a commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: every group commit is fsync'd before anyone is answered (default).
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives a crash of the process, not of the machine.
    Relaxed,
}

/// Settings of the SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    pub path: PathBuf,
    pub durability: Durability,
    /// Most commands in one transaction.
    pub max_batch: usize,
    /// Most commands waiting for the writer; past that, writes answer -1 (overloaded).
    pub queue_depth: usize,
    /// Read connections.
    pub readers: usize,
    /// How long to wait for another process's write lock.
    pub busy_timeout_ms: u64,
    /// Most accounts kept in memory for reads.
    pub account_cache_entries: usize,
    /// WAL size, in frames (pages written), at which the writer starts the WAL over; see
    /// the `checkpoint` module.
    pub wal_restart_frames: i64,
}

impl SqliteConfig {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteConfig {
            path: path.into(),
            durability: Durability::Full,
            max_batch: 512,
            queue_depth: 8192,
            readers: 4,
            busy_timeout_ms: 5000,
            account_cache_entries: 100_000,
            wal_restart_frames: checkpoint::DEFAULT_RESTART_FRAMES,
        }
    }
}

/// Why the store could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open SQLite database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("cannot migrate SQLite database {path} to version {version}: {source}")]
    Migrate {
        path: PathBuf,
        version: usize,
        source: rusqlite::Error,
    },
    #[error("database {path} has schema version {found}, newer than this build knows ({known})")]
    TooNew { path: PathBuf, found: usize, known: usize },
    #[error("cannot start the writer thread: {0}")]
    Thread(std::io::Error),
    #[error("database {path} is in use by another OpenMidas process (lock file {lock})")]
    InUse { path: PathBuf, lock: String },
    #[error("cannot create database file {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("cannot create lock file {lock}: {source}")]
    Lock { lock: String, source: std::io::Error },
}

struct WriteJob {
    write: Write,
    reply: oneshot::Sender<Result<Written, StoreError>>,
}

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    writer: Mutex<Option<mpsc::Sender<WriteJob>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    accounts: Arc<account_cache::AccountCache>,
}

/// Takes the exclusive lock that makes this process the database's only user. The lock
/// lives as long as the returned file (the writer thread keeps it until its last commit).
fn lock_database(path: &Path) -> Result<std::fs::File, OpenError> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let lock = format!("{}.lock", path.display());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock)
        .map_err(|source| OpenError::Lock {
            lock: lock.clone(),
            source,
        })?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(OpenError::InUse {
            path: path.to_path_buf(),
            lock,
        });
    }
    Ok(file)
}

/// Creates the database file, owner-only (0600), before SQLite opens it: it holds AppSecrets,
/// AppKeys, live tokens and session keys. SQLite gives the `-wal` and `-shm` files the
/// permissions of the main file, so they are 0600 too. An existing file is left as it is.
fn create_private(path: &Path) -> Result<(), OpenError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(OpenError::Create {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn open_connection(config: &SqliteConfig) -> Result<Connection, OpenError> {
    let open = |path: &Path| -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_millis(config.busy_timeout_ms))?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "journal_mode is {mode}, not wal"
            )));
        }
        let synchronous = match config.durability {
            Durability::Full => "FULL",
            Durability::Relaxed => "NORMAL",
        };
        conn.execute_batch(&format!("PRAGMA synchronous={synchronous}; PRAGMA foreign_keys=ON;"))?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    };
    open(&config.path).map_err(|source| OpenError::Open {
        path: config.path.clone(),
        source,
    })
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), OpenError> {
    let found: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(|source| OpenError::Open {
            path: path.to_path_buf(),
            source,
        })? as usize;
    let known = migrations::MIGRATIONS.len();
    if found > known {
        return Err(OpenError::TooNew {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    for (index, sql) in migrations::MIGRATIONS.iter().enumerate().skip(found) {
        let version = index + 1;
        let err = |source| OpenError::Migrate {
            path: path.to_path_buf(),
            version,
            source,
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)
            .map_err(err)?;
        tx.execute_batch(sql).map_err(err)?;
        tx.pragma_update(None, "user_version", version as i64).map_err(err)?;
        tx.commit().map_err(err)?;
        tracing::info!(version, "applied SQLite migration");
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database, and starts the writer.
    pub fn open(config: SqliteConfig) -> Result<SqliteStore, OpenError> {
        assert!(config.max_batch > 0 && config.queue_depth > 0 && config.readers > 0);
        let lock = lock_database(&config.path)?;
        create_private(&config.path)?;
        let mut write_conn = open_connection(&config)?;
        migrate(&mut write_conn, &config.path)?;
        checkpoint::prepare_writer(&write_conn).map_err(|source| OpenError::Open {
            path: config.path.clone(),
            source,
        })?;
        let checkpoint_conn = open_connection(&config)?;
        let readers = (0..config.readers)
            .map(|_| {
                let conn = open_connection(&config)?;
                conn.execute_batch("PRAGMA query_only=ON;")
                    .map_err(|source| OpenError::Open {
                        path: config.path.clone(),
                        source,
                    })?;
                Ok(Mutex::new(conn))
            })
            .collect::<Result<Vec<_>, OpenError>>()?;

        let (sender, receiver) = mpsc::channel(config.queue_depth);
        std::sync::LazyLock::force(&metrics::METRICS);
        let max_batch = config.max_batch;
        let wal_restart_frames = config.wal_restart_frames;
        let accounts = Arc::new(account_cache::AccountCache::new(config.account_cache_entries));
        let published = accounts.clone();
        let (stop_checkpoints, checkpoint_signal) = std::sync::mpsc::channel::<()>();
        let checkpointer = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint::run_checkpointer(checkpoint_conn, checkpoint_signal))
            .map_err(OpenError::Thread)?;
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let _lock = lock;
                run_writer(write_conn, receiver, max_batch, wal_restart_frames, &published);
                // The writer is done: one last checkpoint, then the checkpointer stops.
                drop(stop_checkpoints);
                let _ = checkpointer.join();
            })
            .map_err(OpenError::Thread)?;
        Ok(SqliteStore {
            writer: Mutex::new(Some(sender)),
            writer_thread: Mutex::new(Some(thread)),
            readers,
            next_reader: AtomicUsize::new(0),
            accounts,
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        // Try every reader without blocking first; only wait when all are busy.
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        for i in 0..n {
            if let Some(conn) = self.readers[(start + i) % n].try_lock() {
                return f(&conn).map_err(backend);
            }
        }
        let conn = self.readers[start % n].lock();
        f(&conn).map_err(backend)
    }

    async fn queue(&self, write: Write) -> Result<Written, StoreError> {
        let (reply, answer) = oneshot::channel();
        let sender = self.writer.lock().clone().ok_or(StoreError::ShuttingDown)?;
        // Counted before it is sent, so the writer never takes it first.
        metrics::METRICS.queue_depth.inc();
        sender.try_send(WriteJob { write, reply }).map_err(|e| {
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

fn run_writer(
    mut conn: Connection,
    mut receiver: mpsc::Receiver<WriteJob>,
    max_batch: usize,
    wal_restart_frames: i64,
    accounts: &account_cache::AccountCache,
) {
    let mut batch: Vec<WriteJob> = Vec::with_capacity(max_batch);
    while let Some(first) = receiver.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let metrics = &*metrics::METRICS;
        metrics.queue_depth.sub(batch.len() as i64);
        metrics.batch_size.observe(batch.len() as f64);
        let timer = metrics.commit_seconds.start_timer();
        let (results, updates) = apply_batch(&mut conn, &batch);
        timer.observe_duration();
        // One result per job; should a bug break that, the jobs without one are answered -1
        // (their reply channel closes) instead of the writer thread dying.
        debug_assert_eq!(results.len(), batch.len(), "one result per job");
        if results.len() != batch.len() {
            tracing::error!(
                results = results.len(),
                jobs = batch.len(),
                "the writer lost track of a batch"
            );
        }
        // Before anyone is answered, so no answer precedes the cache.
        accounts.publish(updates);
        if batch.iter().any(|job| job.write.replaces_state()) {
            accounts.clear();
        }
        for (job, result) in batch.drain(..).zip(results) {
            // The requester may have gone away (client disconnected); the write stands.
            let _ = job.reply.send(result);
        }
        // After answering: the requests that arrive meanwhile wait for this, none before.
        checkpoint::restart_if_due(&conn, wal_restart_frames);
    }
    tracing::debug!("SQLite writer stopped");
}

/// Applies a batch in one transaction and returns one result per job, in order. Nothing is
/// `Ok` unless its commit succeeded.
///
/// The batch runs optimistically without savepoints (they cost two statements per command).
/// If any command fails, the whole transaction rolls back and every command of the batch is
/// applied again alone, in its own transaction, so one bad command cannot fail its
/// neighbours.
fn apply_batch(conn: &mut Connection, batch: &[WriteJob]) -> (Vec<Result<Written, StoreError>>, Vec<AccountUpdate>) {
    match apply_together(conn, batch) {
        Ok((results, updates)) => (results.into_iter().map(Ok).collect(), updates),
        Err(e) => {
            tracing::warn!(error = %e, jobs = batch.len(), "group commit failed; applying the batch one by one");
            let mut all_updates = Vec::new();
            let results = batch
                .iter()
                .map(|job| {
                    let (mut results, updates) = apply_together(conn, std::slice::from_ref(job))?;
                    all_updates.extend(updates);
                    Ok(results.remove(0))
                })
                .collect();
            (results, all_updates)
        }
    }
}

/// An account as a committed transaction left it.
type AccountUpdate = (AccountKey, Account);

/// Applies jobs in one `BEGIN IMMEDIATE` transaction; any failure rolls all of them back.
/// Answers each job's result and the accounts the transaction changed.
///
/// The ledger commands of the jobs run together as one [`Batch`] (every order and account
/// they name read once, decided in queue order, written once); the other writes run their
/// [`Write::plan`]. They touch different tables, so their relative order does not matter.
fn apply_together(conn: &mut Connection, jobs: &[WriteJob]) -> Result<(Vec<Written>, Vec<AccountUpdate>), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    let mut results: Vec<Option<Written>> = vec![None; jobs.len()];
    let mut commands: Vec<(usize, &Command)> = Vec::new();
    for (index, job) in jobs.iter().enumerate() {
        match &job.write {
            Write::Ledger(command) => commands.push((index, command)),
            other => results[index] = Some(apply_planned(&tx, other)?),
        }
    }
    let mut updates = Vec::new();
    if !commands.is_empty() {
        let batch = Batch::new(commands.iter().map(|(_, c)| *c).collect());
        let orders = batch
            .order_keys()
            .iter()
            .map(|key| rows::order(&tx, key))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        let accounts = batch
            .account_keys()
            .iter()
            .map(|key| rows::account(&tx, key))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        let decided = batch.decide(orders, accounts)?;
        rows::write_ledger(&tx, &decided.writes).map_err(backend)?;
        updates.extend(
            decided
                .writes
                .changed_accounts()
                .map(|(key, account)| (key.clone(), *account)),
        );
        for ((index, _), outcome) in commands.iter().zip(decided.outcomes) {
            results[*index] = Some(Written::Outcome(outcome));
        }
    }
    tx.commit().map_err(backend)?;
    let results = results
        .into_iter()
        .map(|r| r.ok_or_else(|| StoreError::Backend("a write of the batch was not applied".into())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((results, updates))
}

/// A write other than a ledger command: its read, its plan, its row writes.
fn apply_planned(conn: &Connection, write: &Write) -> Result<Written, StoreError> {
    let read = rows::row_read(conn, write.row_read()).map_err(backend)?;
    let (row_writes, written) = write.plan(read).map_err(|e| StoreError::Backend(e.to_string()))?;
    for row_write in &row_writes {
        rows::row_write(conn, row_write).map_err(backend)?;
    }
    Ok(written)
}

#[async_trait]
impl Store for SqliteStore {
    async fn write(&self, write: Write) -> Result<Written, StoreError> {
        self.queue(write).await
    }

    async fn app(&self, appid: &str) -> Result<Option<Arc<App>>, StoreError> {
        Ok(self.read(|c| rows::app(c, appid))?.map(Arc::new))
    }

    async fn apps(&self) -> Result<Vec<App>, StoreError> {
        self.read(rows::apps)
    }

    async fn token(&self, token: &str) -> Result<Option<Arc<TokenRecord>>, StoreError> {
        Ok(self.read(|c| rows::token(c, token))?.map(Arc::new))
    }

    async fn session(&self, appid: &str, openid: &str) -> Result<Option<Session>, StoreError> {
        self.read(|c| rows::session(c, appid, openid))
    }

    async fn account(&self, key: &AccountKey) -> Result<Account, StoreError> {
        match self.accounts.get(key) {
            Ok(account) => Ok(account),
            Err(miss) => {
                let account = self.read(|c| rows::account(c, key))?.unwrap_or_default();
                self.accounts.fill(key, account, miss);
                Ok(account)
            }
        }
    }

    async fn order(&self, key: &OrderKey) -> Result<Option<Order>, StoreError> {
        self.read(|c| rows::order(c, key))
    }

    async fn journal(
        &self,
        key: &AccountKey,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, JournalEntry)>, StoreError> {
        self.read(|c| rows::journal(c, key, after_id, limit))
    }

    async fn accounts(&self, filter: &AccountFilter) -> Result<Vec<(AccountKey, Account)>, StoreError> {
        self.read(|c| rows::accounts(c, filter))
    }

    async fn orders_of(
        &self,
        key: &AccountKey,
        after: Option<&OrderCursor>,
        limit: u32,
    ) -> Result<Vec<(OrderKey, Order)>, StoreError> {
        self.read(|c| rows::orders_of(c, key, after, limit))
    }

    async fn order_by_wx_order_id(
        &self,
        appid: &str,
        env: Env,
        wx_order_id: &str,
    ) -> Result<Option<(OrderKey, Order)>, StoreError> {
        self.read(|c| rows::order_by_wx_order_id(c, appid, env, wx_order_id))
    }

    async fn purchases(
        &self,
        appid: &str,
        env: Env,
        from_ms: i64,
        to_ms: i64,
        limit: u32,
    ) -> Result<Vec<(OrderKey, Order)>, StoreError> {
        self.read(|c| rows::purchases(c, appid, env, from_ms, to_ms, limit))
    }

    async fn bill(&self, token: &str) -> Result<Option<Bill>, StoreError> {
        self.read(|c| rows::bill(c, token))
    }

    async fn pushes(&self, filter: &PushFilter) -> Result<Vec<Push>, StoreError> {
        self.read(|c| rows::pushes(c, filter))
    }

    async fn push(&self, id: i64) -> Result<Option<Push>, StoreError> {
        self.read(|c| rows::push(c, id))
    }

    async fn clock(&self) -> Result<ClockState, StoreError> {
        self.read(state::clock)
    }

    async fn export(&self) -> Result<StateDoc, StoreError> {
        self.read(state::export)
    }

    async fn shutdown(&self) {
        // Dropping the last sender lets the writer finish what is queued and stop.
        self.writer.lock().take();
        let handle = self.writer_thread.lock().take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}
