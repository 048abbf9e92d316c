//! The indexer daemon: `indexer` consumes `mediamesh.content` in a consumer group and keeps the
//! index under `MEDIAMESH_DATA_DIR` (default `./data`) current. SIGTERM or Ctrl-C finishes the
//! batch, commits it with its offsets, and leaves the group.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use clap::Parser;
use engine::{Engine, EngineConfig};
use indexer::KafkaConfig;

#[derive(Debug, Parser)]
#[command(name = "indexer", about = "MediaMesh indexer: Kafka → discovery index")]
struct Cli {
    #[arg(long, env = "MEDIAMESH_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    brokers: String,
    /// One group per discovery node (each keeps a full replica); indexers sharing a group split
    /// the partitions.
    #[arg(long, env = "MEDIAMESH_INDEXER_GROUP", default_value = "mediamesh-indexer")]
    group: String,
    /// The index directory (default: MEDIAMESH_DATA_DIR/index).
    #[arg(long, env = "MEDIAMESH_INDEX_DIR")]
    index: Option<PathBuf>,
    #[arg(long, default_value_t = 1_000)]
    batch_max: usize,
    #[arg(long, default_value_t = 100)]
    batch_wait_ms: u64,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MEDIAMESH_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let cli = Cli::parse();
    let index = cli.index.unwrap_or_else(|| {
        PathBuf::from(std::env::var("MEDIAMESH_DATA_DIR").unwrap_or_else(|_| "data".into())).join("index")
    });
    let engine =
        Engine::open(&index, EngineConfig::default()).with_context(|| format!("opening {}", index.display()))?;
    let config = KafkaConfig {
        batch_max: cli.batch_max,
        batch_wait: std::time::Duration::from_millis(cli.batch_wait_ms),
        ..KafkaConfig::new(cli.brokers, cli.group)
    };
    let stop = Arc::new(AtomicBool::new(false));
    let signals = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let stopper = Arc::clone(&stop);
    std::thread::spawn(move || {
        signals.block_on(platform::shutdown_signal());
        tracing::info!("stopping: finishing the batch");
        stopper.store(true, Ordering::Relaxed);
    });
    tracing::info!(index = %index.display(), group = %config.group_id, "indexing");
    let progress = indexer::run(&engine, &config, &stop)?;
    tracing::info!(
        applied = progress.applied,
        stale = progress.stale,
        dead_lettered = progress.dead_lettered,
        commits = progress.commits,
        "stopped"
    );
    Ok(())
}
