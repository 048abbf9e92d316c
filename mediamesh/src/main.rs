//! `mediamesh`: every MediaMesh service as a subcommand (`gateway-public`, `gateway-cms`,
//! `cms-core`, `auth`, `indexer`, `relay`), and `mediamesh up`, which runs them all in one process:
//! with embedded defaults (SQLite under `MEDIAMESH_DATA_DIR`, the indexer fed from the outbox,
//! in-process rate limits) or, when configured, Kafka, Redis and PostgreSQL.

mod demo;
mod up;

use clap::{Parser, Subcommand};
use tokio::sync::watch;

#[global_allocator]
static ALLOCATOR: platform::Allocator = platform::Allocator;

#[derive(Debug, Parser)]
#[command(name = "mediamesh", about = "MediaMesh: podcast and documentary discovery", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every service in this process.
    Up(up::UpArgs),
    /// The discovery API.
    GatewayPublic(gateway_public::server::Args),
    /// The editors' API.
    GatewayCms(gateway_cms::server::Args),
    /// The CMS service (with the relay when Kafka is configured).
    CmsCore(cms_core::server::Args),
    /// The auth service.
    Auth(auth::server::Args),
    /// The indexer daemon.
    Indexer(indexer::daemon::Args),
    /// Only the outbox relay to Kafka.
    Relay(RelayArgs),
}

/// The relay's configuration.
#[derive(Debug, Clone, clap::Args)]
struct RelayArgs {
    #[arg(long, env = "MEDIAMESH_DATABASE_URL")]
    database_url: Option<String>,
    #[arg(long, env = "MEDIAMESH_KAFKA_BROKERS")]
    kafka_brokers: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    platform::telemetry::init(match &cli.command {
        Command::Up(_) => "mediamesh",
        Command::GatewayPublic(_) => "gateway-public",
        Command::GatewayCms(_) => "gateway-cms",
        Command::CmsCore(_) => "cms-core",
        Command::Auth(_) => "auth",
        Command::Indexer(_) => "indexer",
        Command::Relay(_) => "relay",
    });
    if let Command::Indexer(args) = cli.command {
        // The daemon runs its own runtime; a small one waits for the signal.
        let (stop, stopping) = watch::channel(false);
        std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                runtime.block_on(platform::shutdown_signal());
                let _ = stop.send(true);
            }
        });
        let result = indexer::daemon::run_daemon(args, false, stopping);
        platform::telemetry::flush();
        return result.map(|_| ());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async move {
        let shutdown = platform::shutdown_signal();
        match cli.command {
            Command::Up(args) => up::run(args).await,
            Command::GatewayPublic(args) => gateway_public::server::run(args, shutdown).await,
            Command::GatewayCms(args) => gateway_cms::server::run(args, shutdown).await,
            Command::CmsCore(args) => cms_core::server::run(args, shutdown).await,
            Command::Auth(args) => auth::server::run(args, shutdown).await,
            Command::Relay(args) => relay(args).await,
            Command::Indexer(_) => Ok(()),
        }
    });
    platform::telemetry::flush();
    result
}

async fn relay(args: RelayArgs) -> anyhow::Result<()> {
    let url = args.database_url.unwrap_or_else(platform::db::default_database_url);
    let store = cms_core::Store::connect(&url).await?;
    let relay = cms_core::Relay::new(cms_core::Outbox::new(store), cms_core::RelayConfig::new(args.kafka_brokers))?;
    let (stop, stopping) = watch::channel(false);
    let task = tokio::spawn(relay.run(stopping));
    platform::shutdown_signal().await;
    let _ = stop.send(true);
    task.await??;
    Ok(())
}
