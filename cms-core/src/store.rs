//! The content database: a [`platform::db::Database`] with the CMS's migrations applied.

use platform::db::Database;
pub use platform::db::{Backend, Tx, now_millis};

use crate::error::Result;

/// A pool on the content database, migrated.
#[derive(Debug, Clone)]
pub struct Store {
    database: Database,
}

impl Store {
    /// Connects to `url` (`sqlite://path/cms.db` or `postgres://…`) and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let database = Database::connect(url).await?;
        match database.backend() {
            Backend::Sqlite => database.migrate(sqlx::migrate!("./migrations/sqlite")).await?,
            Backend::Postgres => database.migrate(sqlx::migrate!("./migrations/postgres")).await?,
        }
        Ok(Self { database })
    }

    pub fn pool(&self) -> &sqlx::AnyPool {
        self.database.pool()
    }

    pub fn backend(&self) -> Backend {
        self.database.backend()
    }

    /// Starts a write transaction (see [`Database::begin`]).
    pub async fn begin(&self) -> Result<Tx> {
        Ok(self.database.begin().await?)
    }
}
