//! SQLite: opening the database and running the embedded migrations (from `server/migrations/`).

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::SqlitePool;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

/// The migrations, embedded at compile time (no `sqlx::migrate!` macro needed).
const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "init", include_str!("../migrations/0001_init.sql"))];

#[derive(Debug)]
struct Embedded;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|(v, d, sql)| {
                    Migration::new(*v, (*d).into(), MigrationType::Simple, (*sql).into(), false)
                })
                .collect())
        })
    }
}

/// Opens (creating if missing) the database file and brings its schema up to date.
pub async fn open(path: &Path) -> Result<SqlitePool, BoxDynError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(opts)
        .await?;
    Migrator::new(Embedded).await?.run(&pool).await?;
    Ok(pool)
}
