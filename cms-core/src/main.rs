//! The CMS service; see `cms_core::server`.

use clap::Parser;

#[global_allocator]
static ALLOCATOR: platform::Allocator = platform::Allocator;

#[derive(Debug, Parser)]
#[command(name = "cms-core", about = "MediaMesh CMS service")]
struct Cli {
    #[command(flatten)]
    args: cms_core::server::Args,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init("cms-core");
    let result = cms_core::server::run(Cli::parse().args, platform::shutdown_signal()).await;
    platform::telemetry::flush();
    result
}
