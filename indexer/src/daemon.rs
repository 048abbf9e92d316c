//! The indexer daemon as a process (the `indexer` binary and `mediamesh indexer` / `up` run it). With `MEDIAMESH_KAFKA_BROKERS` set it consumes `mediamesh.content` in a
//! consumer group; without it, it reads the CMS outbox (`MEDIAMESH_DATABASE_URL`, default the
//! SQLite file under `MEDIAMESH_DATA_DIR`). Either way it keeps the index under
//! `MEDIAMESH_DATA_DIR/index` current and serves `/metrics` and `/healthz`.
//!
//! `indexer rebuild` replays the topic into a new index generation and switches readers to it.
//! SIGTERM or Ctrl-C finishes the batch, commits it with its checkpoint, and leaves the group.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use engine::{EngineConfig, Replica};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::{EmbeddedConfig, KafkaConfig, Progress};

/// The indexer's configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Kafka brokers; without them the indexer reads the CMS outbox (embedded mode).
    #[arg(long, env = "MEDIAMESH_KAFKA_BROKERS")]
    pub brokers: Option<String>,
    /// Partitions of the content topic if the indexer has to create it.
    #[arg(long, env = "MEDIAMESH_KAFKA_PARTITIONS", default_value_t = 6)]
    pub kafka_partitions: i32,
    /// One group per discovery node (each keeps a full replica); indexers sharing a group split
    /// the partitions.
    #[arg(long, env = "MEDIAMESH_INDEXER_GROUP", default_value = "mediamesh-indexer")]
    pub group: String,
    /// The index root (default: MEDIAMESH_DATA_DIR/index).
    #[arg(long, env = "MEDIAMESH_INDEX_DIR")]
    pub index: Option<PathBuf>,
    /// The CMS database, read in embedded mode.
    #[arg(long, env = "MEDIAMESH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where `/metrics` and `/healthz` are served.
    #[arg(long, env = "MEDIAMESH_INDEXER_ADDR", default_value = "127.0.0.1:8084")]
    pub addr: String,
    /// A batch is committed at this many events, or when its first event has waited
    /// `--batch-wait-ms`, whichever comes first.
    #[arg(long, default_value_t = 5_000)]
    pub batch_max: usize,
    #[arg(long, default_value_t = 100)]
    pub batch_wait_ms: u64,
    /// A group member silent this long loses its partitions to the others.
    #[arg(long, default_value_t = 10_000)]
    pub session_timeout_ms: u64,
    /// A stable identity for this indexer in its group (static membership), e.g. the host name:
    /// restarted with the same one, it takes its partitions back without waiting for a rebalance.
    #[arg(long, env = "MEDIAMESH_INDEXER_INSTANCE")]
    pub instance_id: Option<String>,
}

/// Keeps the index current (or, with `rebuild`, replays the topic into a new generation) until
/// `stopping` turns true; then finishes the batch, commits it with its checkpoint, and leaves the
/// group. Blocks the calling thread (it runs its own small runtime).
pub fn run_daemon(args: Args, rebuild: bool, stopping: watch::Receiver<bool>) -> anyhow::Result<Progress> {
    let root = args.index.clone().unwrap_or_else(|| {
        PathBuf::from(std::env::var("MEDIAMESH_DATA_DIR").unwrap_or_else(|_| "data".into())).join("index")
    });
    let metrics = platform::metrics::install("indexer");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let stop_rx = stopping.clone();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        runtime.spawn(async move {
            platform::stopped(stopping).await;
            tracing::info!("stopping: finishing the batch");
            stop.store(true, Ordering::Relaxed);
        });
    }
    let kafka = args.brokers.as_ref().map(|brokers| KafkaConfig {
        batch_max: args.batch_max,
        batch_wait: Duration::from_millis(args.batch_wait_ms),
        session_timeout: Duration::from_millis(args.session_timeout_ms),
        instance_id: args.instance_id.clone(),
        ..KafkaConfig::new(brokers.clone(), args.group.clone())
    });
    if rebuild {
        let config = kafka.context("rebuild replays the Kafka topic: set MEDIAMESH_KAFKA_BROKERS")?;
        let rebuilt = crate::rebuild(&root, &config, &stop)?;
        tracing::info!(generation = %rebuilt.generation, applied = rebuilt.progress.applied, "rebuild done");
        return Ok(rebuilt.progress);
    }
    let replica = Arc::new(
        Replica::open(&root, EngineConfig::writer_side()).with_context(|| format!("opening {}", root.display()))?,
    );
    let listener = runtime.block_on(TcpListener::bind(&args.addr)).with_context(|| format!("binding {}", args.addr))?;
    tracing::info!(addr = %args.addr, "serving /metrics, /healthz and /readyz");
    let served = Arc::clone(&replica);
    let brokers = args.brokers.clone();
    runtime.spawn(platform::http::serve(
        listener,
        move |request: platform::http::Request| {
            let metrics = metrics.clone();
            let replica = Arc::clone(&served);
            let brokers = brokers.clone();
            async move {
                let (template, mut response) = match request.uri().path() {
                    "/metrics" => {
                        let stats = replica.engine().stats();
                        metrics::gauge!("index_documents").set(stats.documents as f64);
                        metrics::gauge!("index_segments").set(stats.segments as f64);
                        ("/metrics", platform::metrics::render(&metrics))
                    }
                    "/healthz" => {
                        ("/healthz", platform::http::json(http::StatusCode::OK, &serde_json::json!({"status": "ok"})))
                    }
                    "/readyz" => {
                        let (generation, engine) = replica.live();
                        let stats = engine.stats();
                        let checkpoint = crate::Checkpoint::of(&engine).ok();
                        let mut checks = serde_json::json!({"index": {
                            "ok": true, "generation": generation, "documents": stats.documents,
                            "checkpoint": checkpoint.map(|c| serde_json::json!({"kafka": c.kafka, "outbox": c.outbox})),
                        }});
                        let mut ready = true;
                        if let Some(brokers) = &brokers {
                            let broker = cms_core::server::broker_reachable(brokers).await;
                            ready = broker.is_ok();
                            checks["broker"] = match broker {
                                Ok(()) => serde_json::json!({"ok": true}),
                                Err(error) => serde_json::json!({"ok": false, "error": error}),
                            };
                        }
                        let status = if ready { http::StatusCode::OK } else { http::StatusCode::SERVICE_UNAVAILABLE };
                        let body =
                            serde_json::json!({"status": if ready { "ready" } else { "unready" }, "checks": checks});
                        ("/readyz", platform::http::json(status, &body))
                    }
                    _ => (
                        "unmatched",
                        platform::http::problem(&contracts::Problem::new(
                            contracts::ErrorCode::NotFound,
                            "no such route",
                        )),
                    ),
                };
                response.extensions_mut().insert(platform::http::RouteTemplate(template));
                response
            }
        },
        platform::stopped(stop_rx.clone()),
    ));
    let progress: Progress = match kafka {
        Some(config) => {
            // A new cluster: the topics may not exist yet (cms-core creates them too).
            runtime.block_on(cms_core::server::ensure_topics(&config.brokers, args.kafka_partitions))?;
            tracing::info!(index = %root.display(), group = %config.group_id, "indexing from Kafka");
            crate::run(&replica, &config, &stop)?
        }
        None => {
            let url = args.database_url.clone().unwrap_or_else(platform::db::default_database_url);
            tracing::info!(index = %root.display(), database = %url, "indexing from the CMS outbox (embedded mode)");
            runtime.block_on(async {
                let store = cms_core::Store::connect(&url).await.with_context(|| format!("opening {url}"))?;
                let config = EmbeddedConfig {
                    batch_max: args.batch_max.try_into().unwrap_or(u32::MAX),
                    ..EmbeddedConfig::default()
                };
                anyhow::Ok(crate::run_embedded(replica, cms_core::Outbox::new(store), config, stop_rx).await?)
            })?
        }
    };
    tracing::info!(
        applied = progress.applied,
        stale = progress.stale,
        dead_lettered = progress.dead_lettered,
        commits = progress.commits,
        "stopped"
    );
    Ok(progress)
}
