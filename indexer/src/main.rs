//! The indexer daemon; see `indexer::daemon`. `indexer rebuild` replays the topic into a new index
//! generation and switches readers to it. SIGTERM or Ctrl-C finishes the batch, commits it with its
//! checkpoint, and leaves the group.

use clap::{Parser, Subcommand};
use tokio::sync::watch;

#[global_allocator]
static ALLOCATOR: platform::Allocator = platform::Allocator;

#[derive(Debug, Parser)]
#[command(name = "indexer", about = "MediaMesh indexer: content events → discovery index")]
struct Cli {
    #[command(flatten)]
    args: indexer::daemon::Args,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Keep the index current (the default).
    Run,
    /// Replay the topic from the earliest offsets into a new index generation, then make it live.
    Rebuild,
}

fn main() -> anyhow::Result<()> {
    platform::telemetry::init("indexer");
    let cli = Cli::parse();
    let (stop, stopping) = watch::channel(false);
    // A thread of its own waits for the signal, so the daemon keeps its runtime to itself.
    std::thread::spawn(move || {
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            runtime.block_on(platform::shutdown_signal());
            let _ = stop.send(true);
        }
    });
    let result = indexer::daemon::run_daemon(cli.args, matches!(cli.command, Some(Command::Rebuild)), stopping);
    platform::telemetry::flush();
    result?;
    Ok(())
}
