//! Stores for tests: a fresh SQLite file, and (with `integration`) a fresh PostgreSQL database.

use auth::Role;
use cms_core::{Actor, Cms, Store};

pub struct Backend {
    pub name: &'static str,
    pub cms: Cms,
    _dir: Option<tempfile::TempDir>,
}

/// One content service per backend under test, each on an empty database.
pub async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("cms.db").display());
    let sqlite = Store::connect(&url).await.expect("sqlite store");
    let mut backends = vec![Backend { name: "sqlite", cms: Cms::new(sqlite), _dir: Some(dir) }];
    if cfg!(feature = "integration") {
        backends.push(Backend { name: "postgres", cms: Cms::new(fresh_postgres().await), _dir: None });
    }
    backends
}

/// A new database on the test server, so tests never see each other's rows.
async fn fresh_postgres() -> Store {
    let base = std::env::var("MEDIAMESH_DATABASE_URL_TEST")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    sqlx::any::install_default_drivers();
    let admin =
        sqlx::AnyPool::connect(&base).await.expect("PostgreSQL at MEDIAMESH_DATABASE_URL_TEST (run scripts/test.sh)");
    drop_stale_databases(&admin).await;
    let name = format!("cms_it_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("create database");
    let url = match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("MEDIAMESH_DATABASE_URL_TEST has no database name: {base}"),
    };
    Store::connect(&url).await.expect("postgres store")
}

pub fn editor() -> Actor {
    Actor { user_id: "editor-1".into(), role: Role::Editor }
}

pub fn admin() -> Actor {
    Actor { user_id: "admin-1".into(), role: Role::Admin }
}

pub fn listener() -> Actor {
    Actor { user_id: "user-1".into(), role: Role::User }
}

/// Databases earlier test runs left behind (`cms_it_…`, and `auth_it_…` from the auth crate's tests),
/// older than an hour: their names carry a UUIDv7 timestamp.
async fn drop_stale_databases(admin: &sqlx::AnyPool) {
    use sqlx::Row;
    let rows = sqlx::query("SELECT datname FROM pg_database WHERE datname LIKE 'cms_it_%' OR datname LIKE 'auth_it_%'")
        .fetch_all(admin)
        .await
        .unwrap_or_default();
    let hour_ago = chrono::Utc::now().timestamp_millis() - 3_600_000;
    for row in rows {
        let Ok(name) = row.try_get::<String, _>("datname") else { continue };
        let created = name
            .rsplit('_')
            .next()
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
            .and_then(|id| id.get_timestamp())
            .map(|t| t.to_unix().0 as i64 * 1000);
        if created.is_some_and(|t| t < hour_ago) {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).execute(admin).await;
        }
    }
}
