//! The database: SQLite by default, PostgreSQL when `DATABASE_URL=postgres://…`, one schema in a
//! migrations folder per database (`server/migrations/{sqlite,postgres}`), the same SQL for both
//! wherever the two agree (`$1` placeholders, `ON CONFLICT`, `RETURNING`).
//!
//! Every query is written once and run on whichever pool is open ([`on_pool!`]); where the two
//! databases need different SQL (claiming work with `FOR UPDATE SKIP LOCKED`), the module says so.
//! Times are integer milliseconds since the Unix epoch on both.

pub mod billing_keys;
pub mod changes;
pub mod charges;
pub mod customers;
pub mod exchanges;
pub mod health;
pub mod refunds;
pub mod subscriptions;
pub mod webhooks;

use std::borrow::Cow;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

/// Runs `$body` with `$pool` bound to the open pool, whichever database it is: the query is
/// written once and compiled for both.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Which database the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file, one machine (the default).
    Sqlite,
    /// One server, any number of billing-server instances.
    Postgres,
}

/// Where the database is, as `DATABASE_URL` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file (`path`, `sqlite://path`).
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://…`, `postgresql://…`).
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses `DATABASE_URL`. An in-memory SQLite database is refused: billing keys must survive
    /// a restart.
    pub fn parse(raw: &str) -> Result<DatabaseUrl, String> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(raw.to_owned()));
        }
        let path = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
            .unwrap_or(raw);
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() || path == ":memory:" || path.contains("mode=memory") {
            return Err(
                "DATABASE_URL must name a SQLite file or a postgres:// URL (billing keys must \
                 survive restarts)"
                    .into(),
            );
        }
        if raw.contains("://") && !raw.starts_with("sqlite:") {
            return Err(
                "DATABASE_URL must be a SQLite file path, sqlite://… or postgres://…".into(),
            );
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    /// The URL without a password, for logs.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => match url.split_once('@') {
                Some((credentials, rest)) => {
                    let scheme_end = credentials.find("://").map_or(0, |i| i + 3);
                    let user = credentials[scheme_end..]
                        .split(':')
                        .next()
                        .unwrap_or_default();
                    format!("{}{user}:…@{rest}", &credentials[..scheme_end])
                }
                None => url.clone(),
            },
        }
    }
}

/// An open pool of either database.
#[derive(Clone, Debug)]
pub enum Pool {
    /// SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// The database and everything stored in it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: Pool,
}

/// A storage failure. Handlers log it and answer a retryable `503`; it never reaches a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed the query.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The database folder could not be created.
    #[error("cannot create the database folder: {0}")]
    Folder(std::io::Error),
}

impl StoreError {
    /// A unique-constraint violation: somebody else inserted the same row first.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

/// `Result` of the storage layer.
pub type StoreResult<T> = Result<T, StoreError>;

/// How a migration is run. `Sqlx`: by sqlx's migrator, in its transaction. `Rebuild` (SQLite
/// only): a table is rebuilt to change a constraint, which needs foreign keys off — a pragma a
/// transaction ignores, and sqlx-sqlite 0.8 runs every migration in one (it ignores `no_tx`) — so
/// it runs on a connection of its own ([`apply_sqlite_rebuild`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Transaction {
    Sqlx,
    Rebuild,
}

macro_rules! migrations {
    ($($version:literal $name:literal $file:literal $tx:ident),* $(,)?) => {
        &[$(($version, $name, include_str!(concat!("../../migrations/", $file)), Transaction::$tx)),*]
    };
}

type MigrationList = &'static [(i64, &'static str, &'static str, Transaction)];

/// Embedded at compile time (no `sqlx::migrate!` macro, no migrations folder at run time).
const SQLITE_MIGRATIONS: MigrationList = migrations![
    1 "init" "sqlite/0001_init.sql" Sqlx,
    2 "exactly once" "sqlite/0002_exactly_once.sql" Sqlx,
    3 "subscriptions" "sqlite/0003_subscriptions.sql" Sqlx,
    4 "terms" "sqlite/0004_terms.sql" Rebuild,
    5 "refunds" "sqlite/0005_refunds.sql" Sqlx,
    6 "request ids" "sqlite/0006_request_ids.sql" Sqlx,
    7 "lease takeovers" "sqlite/0007_lease_takeovers.sql" Sqlx,
    8 "refund request ids" "sqlite/0008_refund_request_ids.sql" Sqlx,
    9 "session rotation" "sqlite/0009_session_rotation.sql" Sqlx,
];
const POSTGRES_MIGRATIONS: MigrationList = migrations![
    1 "init" "postgres/0001_init.sql" Sqlx,
    2 "subscriptions" "postgres/0002_subscriptions.sql" Sqlx,
    3 "statuses" "postgres/0003_statuses.sql" Sqlx,
    4 "terms" "postgres/0004_terms.sql" Sqlx,
    5 "refunds" "postgres/0005_refunds.sql" Sqlx,
    6 "request ids" "postgres/0006_request_ids.sql" Sqlx,
    7 "lease takeovers" "postgres/0007_lease_takeovers.sql" Sqlx,
    8 "refund request ids" "postgres/0008_refund_request_ids.sql" Sqlx,
    9 "session rotation" "postgres/0009_session_rotation.sql" Sqlx,
];

fn migration(
    (version, name, sql, _): &(i64, &'static str, &'static str, Transaction),
) -> Migration {
    Migration::new(
        *version,
        Cow::Borrowed(*name),
        MigrationType::Simple,
        Cow::Borrowed(*sql),
        false,
    )
}

fn migrator(list: MigrationList) -> Migrator {
    Migrator {
        migrations: Cow::Owned(list.iter().map(migration).collect()),
        ..Migrator::DEFAULT
    }
}

/// Brings a SQLite database up to date: sqlx's migrator for each stretch of ordinary migrations,
/// [`apply_sqlite_rebuild`] for each rebuild between them.
async fn migrate_sqlite(pool: &SqlitePool, options: &SqliteConnectOptions) -> StoreResult<()> {
    for (i, step) in SQLITE_MIGRATIONS.iter().enumerate() {
        if step.3 == Transaction::Rebuild {
            let mut before = migrator(&SQLITE_MIGRATIONS[..i]);
            // Those after it may be applied already: that is no error here.
            before.ignore_missing = true;
            before.run(pool).await?;
            apply_sqlite_rebuild(options, &migration(step)).await?;
        }
    }
    migrator(SQLITE_MIGRATIONS).run(pool).await?;
    Ok(())
}

/// Runs a rebuild migration on its own connection with foreign keys off, in one `IMMEDIATE`
/// transaction that first checks it is not applied yet (another process may be starting on the
/// same file), checks every foreign key after it, and records it in sqlx's table with sqlx's own
/// checksum, so sqlx's migrator sees it applied.
async fn apply_sqlite_rebuild(options: &SqliteConnectOptions, m: &Migration) -> StoreResult<()> {
    use sqlx::{Connection, Executor};
    let mut connection =
        sqlx::SqliteConnection::connect_with(&options.clone().foreign_keys(false)).await?;
    let started = std::time::Instant::now();
    let mut tx = connection.begin_with("BEGIN IMMEDIATE").await?;
    let (applied,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = $1 AND success")
            .bind(m.version)
            .fetch_one(&mut *tx)
            .await?;
    if applied == 0 {
        (&mut *tx).execute(&*m.sql).await.map_err(|e| {
            StoreError::Migration(sqlx::migrate::MigrateError::ExecuteMigration(e, m.version))
        })?;
        let broken: Vec<(String, i64, String, i64)> = sqlx::query_as("PRAGMA foreign_key_check")
            .fetch_all(&mut *tx)
            .await?;
        if let Some((table, row, parent, _)) = broken.first() {
            return Err(StoreError::Migration(sqlx::migrate::MigrateError::Execute(
                sqlx::Error::Protocol(format!(
                    "migration {}: row {row} of {table} references a missing {parent}",
                    m.version
                )),
            )));
        }
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ($1, $2, TRUE, $3, $4)",
        )
        .bind(m.version)
        .bind(&*m.description)
        .bind(&*m.checksum)
        .bind(started.elapsed().as_nanos() as i64)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    connection.close().await?;
    Ok(())
}

/// How big a pool to open.
#[derive(Debug, Clone, Copy)]
pub struct PoolSize {
    /// Connections at most.
    pub max_connections: u32,
}

impl Default for PoolSize {
    fn default() -> Self {
        PoolSize {
            max_connections: 16,
        }
    }
}

impl Store {
    /// Opens (creating a SQLite file and its folder if missing) and migrates the database. Several
    /// instances may start at once on one PostgreSQL: sqlx takes an advisory lock while migrating.
    pub async fn open(url: &DatabaseUrl, size: PoolSize) -> StoreResult<Store> {
        let pool = match url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(StoreError::Folder)?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // WAL + NORMAL: a commit survives a process crash (SIGKILL); only a power cut
                    // can lose the last transactions. FULL would also survive that, at a cost.
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5));
                let pool = SqlitePoolOptions::new()
                    .max_connections(size.max_connections.min(8))
                    .connect_with(options.clone())
                    .await?;
                migrate_sqlite(&pool, &options).await?;
                Pool::Sqlite(pool)
            }
            DatabaseUrl::Postgres(url) => {
                let options = PgConnectOptions::from_str(url)?;
                let pool = PgPoolOptions::new()
                    .max_connections(size.max_connections)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(options)
                    .await?;
                migrator(POSTGRES_MIGRATIONS).run(&pool).await?;
                Pool::Postgres(pool)
            }
        };
        Ok(Store { pool })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Whether the database answers (for `/api/health`).
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Whether every migration this binary knows is applied, and none failed half-way (readiness:
    /// a database restored from an old backup, or one a failed migration left dirty, is not
    /// ready). Versions a newer binary applied are no reason to stop serving.
    pub async fn migrations_applied(&self) -> StoreResult<bool> {
        let rows: Vec<(i64, bool)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT version, success FROM _sqlx_migrations",
        )
        .fetch_all(pool)
        .await)?;
        let known = match self.backend() {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        Ok(rows.iter().all(|(_, success)| *success)
            && known
                .iter()
                .all(|(version, ..)| rows.iter().any(|(v, _)| v == version)))
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://x/y.db?mode=rwc").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("x/y.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("data/billing.sqlite").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("data/billing.sqlite"))
        );
        assert!(DatabaseUrl::parse(":memory:").is_err());
        assert!(DatabaseUrl::parse("sqlite::memory:").is_err());
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        let pg = DatabaseUrl::parse("postgres://shop:hunter2@db:5432/shop").unwrap();
        assert_eq!(pg.redacted(), "postgres://shop:…@db:5432/shop");
        assert!(!pg.redacted().contains("hunter2"));
    }
}
