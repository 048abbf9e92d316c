//! The auth service: `auth serve` (the default), `auth bootstrap-admin`, `auth rotate-keys`.
//!
//! Configuration comes from flags or `MEDIAMESH_*` variables; every default works on one machine
//! with no servers (a SQLite file under `./data`).

use std::sync::Arc;

use anyhow::Context;
use auth::{AuthApi, AuthConfig, AuthService};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "auth", about = "MediaMesh auth service")]
struct Cli {
    /// `sqlite://path` or `postgres://…` (default: a SQLite file under MEDIAMESH_DATA_DIR).
    #[arg(long, env = "MEDIAMESH_DATABASE_URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the HTTP API.
    Serve {
        #[arg(long, env = "MEDIAMESH_AUTH_ADDR", default_value = "127.0.0.1:8083")]
        addr: String,
    },
    /// Creates the first ADMIN when no user exists.
    BootstrapAdmin {
        #[arg(long, env = "MEDIAMESH_ADMIN_EMAIL")]
        email: String,
        /// Prefer the environment variable: arguments show in process listings.
        #[arg(long, env = "MEDIAMESH_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Starts signing with a new key; the previous one keeps verifying for a token's lifetime.
    RotateKeys,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(env_filter()).init();
    let cli = Cli::parse();
    let url = cli.database_url.unwrap_or_else(platform::db::default_database_url);
    let service = AuthService::open(&url, AuthConfig::default()).await.with_context(|| format!("opening {url}"))?;
    let default_serve =
        || Command::Serve { addr: std::env::var("MEDIAMESH_AUTH_ADDR").unwrap_or_else(|_| "127.0.0.1:8083".into()) };
    match cli.command.unwrap_or_else(default_serve) {
        Command::Serve { addr } => {
            if let (Ok(email), Ok(password)) =
                (std::env::var("MEDIAMESH_ADMIN_EMAIL"), std::env::var("MEDIAMESH_ADMIN_PASSWORD"))
                && service.bootstrap_admin(&email, &password).await?.is_some()
            {
                tracing::info!(email = %email, "created the first ADMIN");
            }
            let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
            tracing::info!(addr = %addr, "auth listening");
            let api = AuthApi::new(service);
            platform::http::serve(
                listener,
                move |request| Arc::clone(&api).handle(request),
                platform::shutdown_signal(),
            )
            .await?;
        }
        Command::BootstrapAdmin { email, password } => match service.bootstrap_admin(&email, &password).await? {
            Some(user) => println!("created ADMIN {} ({})", user.email, user.id),
            None => println!("users exist already; nothing done"),
        },
        Command::RotateKeys => println!("now signing with key {}", service.rotate_keys().await?),
    }
    Ok(())
}

fn env_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_env("MEDIAMESH_LOG").unwrap_or_else(|_| "info".into())
}
