//! gateway-cms; see `gateway_cms::server`.

use clap::Parser;

#[global_allocator]
static ALLOCATOR: platform::Allocator = platform::Allocator;

#[derive(Debug, Parser)]
#[command(name = "gateway-cms", about = "MediaMesh CMS gateway")]
struct Cli {
    #[command(flatten)]
    args: gateway_cms::server::Args,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init("gateway-cms");
    let result = gateway_cms::server::run(Cli::parse().args, platform::shutdown_signal()).await;
    platform::telemetry::flush();
    result
}
