//! Connecting to the database and the rules every write follows.
//!
//! SQLite is the embedded default. sea-orm opens it with a single connection unless told
//! otherwise, so we set the pool size and the pragmas that make it behave under concurrent
//! use: WAL (readers do not block the writer), `synchronous=NORMAL` (durable at checkpoints,
//! fast commits), a busy timeout, and foreign keys (off by default in SQLite). Writes begin
//! `IMMEDIATE`, taking the write lock up front, so concurrent writers queue behind the busy
//! timeout instead of failing with "database is locked" when a read lock upgrades.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, IsolationLevel, RuntimeErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

use crate::error::{Error, InvalidParam, Result};
use crate::service::changes::{Change, Journal};

/// How to open the database pool.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// `sqlite://...` or `postgres://...`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// How long a SQLite writer waits for the lock before giving up.
    pub busy_timeout: Duration,
    /// How long to wait for a connection (and for an unreachable server).
    pub connect_timeout: Duration,
}

/// Opens the pool, with SQLite's pragmas set on every connection. When the pool cannot get
/// a connection, the error says why (refused, unknown database, authentication failed)
/// rather than only that the pool timed out.
pub async fn connect(options: &DbOptions) -> Result<DatabaseConnection, DbErr> {
    match open_pool(options).await {
        Err(DbErr::ConnectionAcquire(_) | DbErr::Conn(_))
            if options.url.starts_with("postgres") =>
        {
            Err(DbErr::Custom(why_unreachable(options).await))
        }
        other => other,
    }
}

/// What a single direct connection to PostgreSQL answers, for the start-up error.
async fn why_unreachable(options: &DbOptions) -> String {
    use sea_orm::sqlx::Connection;
    let attempt = sea_orm::sqlx::PgConnection::connect(&options.url);
    match tokio::time::timeout(options.connect_timeout, attempt).await {
        Ok(Err(sea_orm::sqlx::Error::Database(e))) => e.message().to_owned(),
        Ok(Err(e)) => e.to_string(),
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            "the server answered only after the pool gave up; raise --db-connect-timeout".to_owned()
        }
        Err(_) => format!(
            "no answer within {} (--db-connect-timeout)",
            humantime::format_duration(options.connect_timeout)
        ),
    }
}

async fn open_pool(options: &DbOptions) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(options.url.clone());
    opts.max_connections(options.max_connections)
        .min_connections(1)
        .connect_timeout(options.connect_timeout)
        .acquire_timeout(options.connect_timeout)
        .sqlx_logging(false);
    if options.url.contains(":memory:") {
        // Every connection to `:memory:` is a database of its own: keep exactly one, forever.
        opts.max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    }
    // The JIT compiles plans worth seconds; an API's statements take milliseconds, and
    // compiling cost more than it saved in every plan measured here.
    opts.map_sqlx_postgres_opts(|o| o.options([("jit", "off")]));
    let busy = options.busy_timeout;
    opts.map_sqlx_sqlite_opts(move |o: SqliteConnectOptions| {
        o.create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(busy)
            .foreign_keys(true)
    });
    let mut db = Database::connect(opts).await?;
    db.set_metric_callback(|info| {
        let _ = TALLY.try_with(|tally| tally.add(info.elapsed));
    });
    Ok(db)
}

/// Keeps SQLite's query-planner statistics current (`PRAGMA optimize=0x10012`: every
/// table, analyzed where its statistics are missing or stale, under a temporary
/// `analysis_limit` so that a large table is sampled, not read whole, and the write lock
/// it takes is short), as SQLite asks of applications that keep connections open: at start
/// and then every [`OPTIMIZE_EVERY`]. Without statistics its planner guesses, and a guess
/// can cost a great deal: on 50,000 practice examples, the stats by year of a province and
/// a theme took 680 ms unanalyzed against 98 ms analyzed. PostgreSQL's autovacuum does
/// this there; elsewhere it does nothing.
pub async fn optimize(db: &DatabaseConnection) -> Result<()> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    db.execute_unprepared("PRAGMA optimize=0x10012")
        .await
        .map_err(map_db_err)?;
    Ok(())
}

/// How often [`optimize`] runs after the start.
pub const OPTIMIZE_EVERY: Duration = Duration::from_secs(3600);

tokio::task_local! {
    /// The statements of the request being served (see [`tallied`]).
    static TALLY: Arc<Tally>;
    /// The read transaction every [`read`] of a piece of work shares (see [`one_snapshot`]).
    static SNAPSHOT: Option<Arc<Snapshot>>;
}

/// How many SQL statements a piece of work ran and how long they took (transaction
/// control, `BEGIN` and `COMMIT`, not counted).
#[derive(Debug, Default)]
pub struct Tally {
    statements: AtomicU64,
    micros: AtomicU64,
}

impl Tally {
    fn add(&self, elapsed: Duration) {
        self.statements.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The statements run.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Their time together.
    pub fn elapsed(&self) -> Duration {
        Duration::from_micros(self.micros.load(Ordering::Relaxed))
    }
}

/// Runs `work`, counting the statements it (and what it hands on with [`carried`]) runs.
pub async fn tallied<F: Future>(work: F) -> (F::Output, Arc<Tally>) {
    let tally = Arc::new(Tally::default());
    let output = TALLY.scope(Arc::clone(&tally), work).await;
    (output, tally)
}

/// `work`, counted in the tally of the work that makes it (for a task it spawns).
pub fn carried<F>(work: F) -> impl Future<Output = F::Output> + Send + 'static
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    let tally = TALLY.try_with(Arc::clone).ok();
    let snapshot = SNAPSHOT.try_with(Clone::clone).ok().flatten();
    async move {
        let work = SNAPSHOT.scope(snapshot, work);
        match tally {
            Some(tally) => TALLY.scope(tally, work).await,
            None => work.await,
        }
    }
}

/// A read transaction begun by the first [`read`] of a piece of work and lent to each of
/// the others in turn (see [`one_snapshot`]).
#[derive(Default)]
struct Snapshot {
    txn: tokio::sync::Mutex<Option<DatabaseTransaction>>,
}

/// Runs `work` with every [`read`] it makes (and what it hands on with [`carried`]) in one
/// read transaction, begun at its first read and committed when it ends: one snapshot for
/// the whole of a GraphQL query, whose levels are read by separate batched reads, and one
/// `BEGIN`/`COMMIT` instead of one per read. The reads take the transaction in turn. A
/// read that fails drops it (the next begins another), and a read made inside another
/// read's work begins its own rather than wait for the one it is inside.
///
/// Only for work that does nothing but read through [`read`]: the transaction holds its
/// connection until `work` ends, so work that writes, or reads outside [`read`], would
/// wait for a second connection while holding the first, and would not see its own
/// writes in the snapshot.
pub async fn one_snapshot<F: Future>(work: F) -> F::Output {
    let snapshot = Arc::new(Snapshot::default());
    let output = SNAPSHOT.scope(Some(Arc::clone(&snapshot)), work).await;
    let txn = snapshot.txn.lock().await.take();
    if let Some(txn) = txn {
        // Everything was read; a failure to end the transaction loses nothing (dropped,
        // it rolls back).
        if let Err(error) = txn.commit().await {
            tracing::debug!(%error, "a read snapshot did not end cleanly");
        }
    }
    output
}

/// A write transaction with the changes it has recorded so far (see [`changes`]): every
/// service function that writes takes one, and [`write`] commits it.
///
/// [`changes`]: crate::service::changes
pub struct Tx {
    txn: DatabaseTransaction,
    journal: Journal,
}

impl Tx {
    /// The transaction, for queries.
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Records the change-log and audit entries of one write; they are written, with the
    /// transaction's feed position, when it commits.
    pub fn record(&self, change: Change<'_>) {
        self.journal.record(change);
    }

    /// Writes the recorded entries and commits; answers whether they still need their
    /// feed position ([`changes::settle`]).
    ///
    /// [`changes::settle`]: crate::service::changes::settle
    async fn commit(self) -> Result<bool> {
        let unstamped = self.journal.flush(&self.txn).await?;
        self.txn.commit().await.map_err(map_db_err)?;
        Ok(unstamped)
    }
}

/// Begins a plain write transaction (one that records no change): `BEGIN IMMEDIATE` on
/// SQLite, so that it waits its turn behind other writers (a deferred transaction that
/// reads first and then writes fails at once when another wrote meanwhile), a plain
/// `BEGIN` elsewhere.
pub async fn begin_immediate(db: &DatabaseConnection) -> Result<DatabaseTransaction> {
    let db = db.clone();
    uncancelled(async move {
        db.begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
    })
    .await
}

/// Begins a transaction in a task of its own, so that it is begun whole even when the
/// request waiting for it is dropped (its client hung up, or it timed out): dropped while
/// its `BEGIN` was on the wire, the connection would go back to the pool inside a
/// transaction nobody holds, and the next request on it would fail. A transaction once
/// begun rolls back when it is dropped.
pub async fn uncancelled<F>(begin: F) -> Result<DatabaseTransaction>
where
    F: Future<Output = std::result::Result<DatabaseTransaction, DbErr>> + Send + 'static,
{
    tokio::spawn(crate::prometheus::acquiring(begin))
        .await
        .map_err(Error::internal)?
        .map_err(map_db_err)
}

/// Begins a write transaction: `BEGIN IMMEDIATE` on SQLite, a plain `BEGIN` elsewhere.
async fn begin_write(db: &DatabaseConnection) -> Result<Tx> {
    let txn = begin_immediate(db).await?;
    Ok(Tx {
        txn,
        journal: Journal::default(),
    })
}

/// How often [`write`] runs a transaction that the database refused as [`Error::Busy`].
const WRITE_ATTEMPTS: u32 = 3;

/// Runs `work` in a write transaction ([`Tx`]) and commits it, with the change-log and
/// audit entries `work` recorded written last. `work` owns the transaction while it runs
/// and hands it back with its result. When the database refuses the transaction for
/// contention ([`Error::Busy`]: PostgreSQL broke a deadlock between writers that lock the
/// same rows in another order, or SQLite's busy timeout ran out), nothing was written, so
/// the whole transaction runs again, up to [`WRITE_ATTEMPTS`] times, after a short pause
/// that grows and differs per attempt so that the writers part ways.
pub async fn write<T, F, Fut>(db: &DatabaseConnection, mut work: F) -> Result<T>
where
    F: FnMut(Tx) -> Fut,
    Fut: Future<Output = Result<(Tx, T)>>,
{
    let mut attempt = 1;
    loop {
        let result = async {
            let (tx, value) = work(begin_write(db).await?).await?;
            if tx.commit().await? {
                // Committed: a failure to stamp now leaves the entries to the next run.
                if let Err(error) = crate::service::changes::settle(db).await {
                    tracing::warn!(%error, "committed changes wait for their feed position");
                }
            }
            crate::service::changes::announce();
            Ok(value)
        }
        .await;
        match result {
            Err(Error::Busy) if attempt < WRITE_ATTEMPTS => {
                let jitter = u64::from(uuid::Uuid::now_v7().as_bytes()[15] % 50);
                tracing::debug!(attempt, "write refused for contention; running it again");
                tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 25 + jitter)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Runs `work` in one read-only transaction, so that every statement of a read sees the
/// same committed state and a body always matches its version (and so its ETag):
/// `REPEATABLE READ, READ ONLY` on PostgreSQL; on SQLite a deferred transaction, whose
/// first read fixes the snapshot (WAL). Within [`one_snapshot`], the transaction is that
/// work's, shared by all its reads.
pub async fn read<T, F, Fut>(db: &DatabaseConnection, work: F) -> Result<T>
where
    F: FnOnce(DatabaseTransaction) -> Fut,
    Fut: Future<Output = Result<(DatabaseTransaction, T)>>,
{
    if let Some(snapshot) = SNAPSHOT.try_with(Clone::clone).ok().flatten() {
        let mut held = snapshot.txn.lock().await;
        let txn = match held.take() {
            Some(txn) => txn,
            None => begin_read(db).await?,
        };
        let (txn, value) = SNAPSHOT.scope(None, work(txn)).await?;
        *held = Some(txn);
        return Ok(value);
    }
    let txn = begin_read(db).await?;
    let (txn, value) = work(txn).await?;
    txn.commit().await.map_err(map_db_err)?;
    Ok(value)
}

/// Begins a read-only transaction (see [`read`]).
async fn begin_read(db: &DatabaseConnection) -> Result<DatabaseTransaction> {
    let db = db.clone();
    uncancelled(async move {
        if is_postgres(db.get_database_backend()) {
            db.begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await
        } else {
            db.begin().await
        }
    })
    .await
}

/// Whether the database answers (readiness).
pub async fn ping(db: &DatabaseConnection) -> Result<()> {
    db.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "the database does not answer");
        Error::Unavailable("the database does not answer".to_owned())
    })
}

/// The backend behind a connection, for the few places where SQL differs.
pub fn is_postgres(backend: DbBackend) -> bool {
    backend == DbBackend::Postgres
}

/// Maps a database error to what the caller caused, where we can tell.
///
/// The service checks references and uniqueness before writing, so these mappings are the
/// safety net for races (two writers taking the same slug at once). Constraint names follow
/// `ux_<table>_<columns>` and `ck_<table>_<column>`, which lets us name the field.
pub fn map_db_err(err: DbErr) -> Error {
    if is_transient(&err) {
        // The cause (which may quote SQL) is logged, never sent.
        tracing::warn!(error = %err, "the database is unavailable");
        return Error::Unavailable(
            "the database is not reachable right now; retry the request".to_owned(),
        );
    }
    let db_error = match &err {
        DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => {
            e.as_database_error()
        }
        DbErr::RecordNotUpdated => {
            return Error::Conflict(
                "the resource was changed by another request at the same time; read it again and retry"
                    .to_owned(),
            );
        }
        _ => None,
    };
    let Some(db_error) = db_error else {
        return Error::internal(err);
    };
    let message = db_error.message().to_owned();
    let constraint = db_error.constraint().map(str::to_owned);
    let field = constraint
        .as_deref()
        .and_then(field_of_constraint)
        .or_else(|| field_of_sqlite_message(&message));
    match db_error.kind() {
        sea_orm::sqlx::error::ErrorKind::UniqueViolation => {
            Error::Validation(vec![InvalidParam::new(
                field.unwrap_or_else(|| "body".to_owned()),
                "is already taken by another resource",
            )])
        }
        sea_orm::sqlx::error::ErrorKind::ForeignKeyViolation => {
            Error::Validation(vec![InvalidParam::new(
                field.unwrap_or_else(|| "body".to_owned()),
                "refers to a resource that does not exist",
            )])
        }
        sea_orm::sqlx::error::ErrorKind::CheckViolation => {
            Error::Validation(vec![InvalidParam::new(
                field.unwrap_or_else(|| "body".to_owned()),
                "has a value that is not allowed",
            )])
        }
        sea_orm::sqlx::error::ErrorKind::NotNullViolation => {
            Error::Validation(vec![InvalidParam::new(
                field.unwrap_or_else(|| "body".to_owned()),
                "is required",
            )])
        }
        // SQLite's busy timeout ran out; PostgreSQL broke a deadlock between two writers
        // (40P01) or could not serialize them (40001). Nothing was written: retrying works.
        _ if message.contains("database is locked")
            || matches!(db_error.code().as_deref(), Some("40P01" | "40001")) =>
        {
            Error::Busy
        }
        // Data the database refuses to store (SQLSTATE class 22: too long, out of range, a
        // NUL byte; class 54: past a program limit such as an index row's size; SQLite's
        // "string or blob too big"). Validation catches these before the database does; this
        // keeps anything it missed a 400 rather than a 500.
        _ if db_error
            .code()
            .is_some_and(|c| c.starts_with("22") || c.starts_with("54"))
            || message.contains("too big") =>
        {
            tracing::warn!(error = %message, "the database refused a value the validation let through");
            Error::Validation(vec![InvalidParam::new(
                field.unwrap_or_else(|| "body".to_owned()),
                "has a value that cannot be stored (too long, out of range, or with characters that are not allowed)",
            )])
        }
        _ => Error::internal(err),
    }
}

/// Whether `err` is the database being out of reach for a while, not anything the
/// request did: no connection to be had (pool exhausted or closed, server unreachable), the
/// connection lost mid-statement (I/O, TLS or protocol failure), or the server refusing or
/// ending sessions: SQLSTATE class 08 (connection exception), 57P01/57P02/57P03 (admin
/// shutdown, crash shutdown, cannot connect now) and 53300 (too many connections).
pub fn is_transient(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                Sqlx::Io(_)
                | Sqlx::Tls(_)
                | Sqlx::Protocol(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::WorkerCrashed => true,
                Sqlx::Database(db) => db.code().is_some_and(|code| {
                    code.starts_with("08")
                        || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
                }),
                _ => false,
            }
        }
        _ => false,
    }
}

/// `ux_networks_slug` → `slug`, `ck_regions_kind` → `kind` (camelCased for the API).
fn field_of_constraint(name: &str) -> Option<String> {
    let rest = name
        .strip_prefix("ux_")
        .or_else(|| name.strip_prefix("ck_"))
        .or_else(|| name.strip_prefix("fk_"))?;
    // The table name may itself contain underscores; the known tables are matched longest first.
    let column = crate::service::TABLES
        .iter()
        .filter_map(|t| rest.strip_prefix(t).and_then(|c| c.strip_prefix('_')))
        .min_by_key(|c| c.len())?;
    // `ux_<table>_owner_partner_id_external_id`: the caller's own id is taken.
    if column == "owner_partner_id_external_id" {
        return Some("externalId".to_owned());
    }
    Some(camel(column))
}

/// SQLite: "UNIQUE constraint failed: networks.slug" / "CHECK constraint failed: ck_regions_kind".
fn field_of_sqlite_message(message: &str) -> Option<String> {
    let (_, tail) = message.split_once("failed: ")?;
    if let Some(field) = field_of_constraint(tail.trim()) {
        return Some(field);
    }
    if tail.trim().ends_with(".external_id") {
        return Some("externalId".to_owned());
    }
    let last = tail.split(", ").last()?;
    let column = last.split('.').next_back()?;
    Some(camel(column))
}

/// `start_year` → `startYear`.
pub fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}
