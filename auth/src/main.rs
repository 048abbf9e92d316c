//! The auth service: `auth serve` (the default), `auth bootstrap-admin`, `auth rotate-keys`.
//!
//! Configuration comes from flags or `MEDIAMESH_*` variables; every default works on one machine
//! with no servers (a SQLite file under `./data`).

use anyhow::Context;
use auth::{AuthConfig, AuthService};
use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: platform::Allocator = platform::Allocator;

#[derive(Debug, Parser)]
#[command(name = "auth", about = "MediaMesh auth service")]
struct Cli {
    #[command(flatten)]
    args: auth::server::Args,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the HTTP API (the default).
    Serve,
    /// Creates the first ADMIN when no user exists (MEDIAMESH_ADMIN_EMAIL / MEDIAMESH_ADMIN_PASSWORD).
    BootstrapAdmin,
    /// Starts signing with a new key; the previous one keeps verifying for a token's lifetime.
    RotateKeys,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init("auth");
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => auth::server::run(cli.args, platform::shutdown_signal()).await?,
        Command::BootstrapAdmin => {
            let (Some(email), Some(password)) = (&cli.args.admin_email, &cli.args.admin_password) else {
                anyhow::bail!(
                    "set MEDIAMESH_ADMIN_EMAIL and MEDIAMESH_ADMIN_PASSWORD (or --admin-email, --admin-password)"
                );
            };
            let service = open(&cli.args).await?;
            match service.bootstrap_admin(email, password).await? {
                Some(user) => println!("created ADMIN {} ({})", user.email, user.id),
                None => println!("users exist already; nothing done"),
            }
        }
        Command::RotateKeys => println!("now signing with key {}", open(&cli.args).await?.rotate_keys().await?),
    }
    platform::telemetry::flush();
    Ok(())
}

async fn open(args: &auth::server::Args) -> anyhow::Result<AuthService> {
    let url = args.database_url();
    AuthService::open(&url, AuthConfig::default()).await.with_context(|| format!("opening {url}"))
}
