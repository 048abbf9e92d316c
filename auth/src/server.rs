//! The auth service as a process: its configuration (flags or `MEDIAMESH_*` variables) and the
//! function that serves it until told to stop. The `auth` binary and `mediamesh auth` / `mediamesh
//! up` all run this.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;

use crate::{AuthApi, AuthConfig, AuthService};

/// `auth serve`'s configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// `sqlite://path` or `postgres://…` (default: a SQLite file under MEDIAMESH_DATA_DIR).
    #[arg(long, env = "MEDIAMESH_DATABASE_URL")]
    pub database_url: Option<String>,
    #[arg(long, env = "MEDIAMESH_AUTH_ADDR", default_value = "127.0.0.1:8083")]
    pub addr: String,
    /// The first ADMIN, created when no user exists.
    #[arg(long, env = "MEDIAMESH_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// Prefer the environment variable: arguments show in process listings.
    #[arg(long, env = "MEDIAMESH_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
}

impl Args {
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(platform::db::default_database_url)
    }
}

/// Opens the service's database, creates the first ADMIN if configured and none exists, and serves
/// the API until `shutdown` resolves.
pub async fn run(args: Args, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
    platform::metrics::install("auth");
    let url = args.database_url();
    let service = AuthService::open(&url, AuthConfig::default()).await.with_context(|| format!("opening {url}"))?;
    if let (Some(email), Some(password)) = (&args.admin_email, &args.admin_password)
        && service.bootstrap_admin(email, password).await?.is_some()
    {
        tracing::info!(email = %email, "created the first ADMIN");
    }
    let listener = tokio::net::TcpListener::bind(&args.addr).await.with_context(|| format!("binding {}", args.addr))?;
    tracing::info!(addr = %args.addr, "auth listening");
    let api = AuthApi::new(service);
    platform::http::serve(listener, move |request| Arc::clone(&api).handle(request), shutdown).await?;
    tracing::info!("auth stopped");
    Ok(())
}
