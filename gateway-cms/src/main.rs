//! gateway-cms; see `gateway_cms::server`.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "gateway-cms", about = "MediaMesh CMS gateway")]
struct Cli {
    #[command(flatten)]
    args: gateway_cms::server::Args,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MEDIAMESH_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    gateway_cms::server::run(Cli::parse().args, platform::shutdown_signal()).await
}
