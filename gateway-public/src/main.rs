//! gateway-public; see `gateway_public::server`.

use clap::Parser;

#[global_allocator]
static ALLOCATOR: platform::Allocator = platform::Allocator;

#[derive(Debug, Parser)]
#[command(name = "gateway-public", about = "MediaMesh discovery API")]
struct Cli {
    #[command(flatten)]
    args: gateway_public::server::Args,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init("gateway-public");
    let result = gateway_public::server::run(Cli::parse().args, platform::shutdown_signal()).await;
    platform::telemetry::flush();
    result
}
