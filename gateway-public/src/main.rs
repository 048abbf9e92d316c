//! gateway-public; see `gateway_public::server`.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "gateway-public", about = "MediaMesh discovery API")]
struct Cli {
    #[command(flatten)]
    args: gateway_public::server::Args,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MEDIAMESH_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    gateway_public::server::run(Cli::parse().args, platform::shutdown_signal()).await
}
