//! The durable store's connection: one `sqlx` code path over SQLite (the default, a file) and
//! PostgreSQL, chosen by URL.
//!
//! Only primitive column types cross the `any` driver: ids and JSON as text, times as Unix
//! milliseconds. Services keep their own migrations per backend (they differ in how sequences are
//! declared) and may share one database: each migrator ignores the others' migrations.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A write transaction.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// A connection pool and the backend behind it.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
}

impl Database {
    /// Connects to `url` (`sqlite://path/file.db` or `postgres://…`), creating a SQLite file when
    /// missing.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        if backend == Backend::Sqlite {
            // `sqlite://data/cms.db` in a fresh checkout: make `data/`.
            let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
            let path = path.split('?').next().unwrap_or_default();
            if let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
            }
        }
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; writers wait for each other
                        // instead of failing at once.
                        connection
                            .execute(
                                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;",
                            )
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self { pool, backend })
    }

    /// Applies `migrator`, leaving other services' migrations in the same database alone.
    pub async fn migrate(&self, mut migrator: sqlx::migrate::Migrator) -> Result<(), sqlx::migrate::MigrateError> {
        migrator.set_ignore_missing(true);
        migrator.run(&self.pool).await
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so
    /// two writers queue instead of failing when one upgrades a read.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }
}

/// The default store: a SQLite file under `MEDIAMESH_DATA_DIR` (default `./data`).
pub fn default_database_url() -> String {
    let dir = std::env::var("MEDIAMESH_DATA_DIR").unwrap_or_else(|_| "data".to_owned());
    format!("sqlite://{dir}/mediamesh.db")
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
