//! Zero-downtime reindex: replay the topic from its earliest offsets into a new index generation,
//! and make it the live one once it has caught up.
//!
//! The rebuild reads every partition itself (no group membership, so the running daemon keeps its
//! partitions) while readers go on serving the old generation. When every partition has reached its
//! high watermark (measured twice, so a burst in between is read too), it commits with its offsets, closes its writer and switches
//! `CURRENT`. Gateways pick up the new generation on their next refresh; the daemon commits to the
//! old one, takes the new one's writer and continues from the new index's offsets, so what arrived
//! after the rebuild's last batch is applied there too.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use engine::{Engine, EngineConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::IndexerError;
use crate::kafka::{KafkaConfig, consumer_config, traceparent};
use crate::pipeline::{Checkpoint, Pipeline, Progress};

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    /// The generation now live.
    pub generation: String,
    pub progress: Progress,
    pub checkpoint: Checkpoint,
}

const WATERMARK_TIMEOUT: Duration = Duration::from_secs(10);

/// Rebuilds the index under `root` from the topic. Events the indexer rejects are skipped and
/// logged (the live daemon dead-lettered them when they first arrived). If `stop` is set first,
/// the unfinished generation is removed and the live one stays.
pub fn rebuild(root: &Path, config: &KafkaConfig, stop: &AtomicBool) -> Result<Rebuilt, IndexerError> {
    let (generation, directory) = engine::new_generation(root)?;
    tracing::info!(generation = %generation, "rebuilding from the earliest offsets");
    let result = replay(&directory, config, stop);
    match result {
        Ok(Some((progress, checkpoint))) => {
            engine::switch_generation(root, &generation)?;
            tracing::info!(generation = %generation, applied = progress.applied, "rebuilt index is live");
            Ok(Rebuilt { generation, progress, checkpoint })
        }
        Ok(None) | Err(_) => {
            let _ = std::fs::remove_dir_all(&directory);
            result.and_then(|_| Err(IndexerError::Interrupted))
        }
    }
}

/// Replays into `directory`; `None` when stopped before catching up.
fn replay(
    directory: &Path,
    config: &KafkaConfig,
    stop: &AtomicBool,
) -> Result<Option<(Progress, Checkpoint)>, IndexerError> {
    let engine = Engine::open(directory, EngineConfig::writer_side())?;
    let mut pipeline = Pipeline::new(&engine, "rebuild")?;
    let consumer: BaseConsumer =
        consumer_config(config).set("group.id", format!("{}-rebuild", config.group_id)).create()?;
    let metadata = consumer.fetch_metadata(Some(&config.topic), WATERMARK_TIMEOUT)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|topic| topic.name() == config.topic)
        .flat_map(|topic| topic.partitions().iter().map(|p| p.id()))
        .collect();
    let mut assignment = TopicPartitionList::new();
    let mut checkpoint = Checkpoint::default();
    for &partition in &partitions {
        assignment.add_partition_offset(&config.topic, partition, Offset::Beginning)?;
        let (low, _) = consumer.fetch_watermarks(&config.topic, partition, WATERMARK_TIMEOUT)?;
        checkpoint.kafka.entry(config.topic.clone()).or_default().insert(partition, low);
    }
    consumer.assign(&assignment)?;
    let mut targets = high_watermarks(&consumer, &config.topic, &partitions)?;
    let mut targets_at = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        if let Some(polled) = consumer.poll(Duration::from_millis(10)) {
            let message = polled?;
            if let Err(rejection) = pipeline.apply(message.payload().unwrap_or_default(), traceparent(&message))? {
                tracing::warn!(partition = message.partition(), offset = message.offset(), reason = %rejection, "skipped");
            }
            checkpoint.kafka.entry(config.topic.clone()).or_default().insert(message.partition(), message.offset() + 1);
        }
        if pipeline.due(config.batch_max, config.batch_wait) {
            pipeline.commit(&checkpoint)?;
        }
        if behind(&checkpoint, &config.topic, &targets) == 0 && targets_at.elapsed() >= Duration::from_millis(100) {
            // Caught up with the watermarks last measured: done if no newer events arrived since.
            targets = high_watermarks(&consumer, &config.topic, &partitions)?;
            targets_at = Instant::now();
            if behind(&checkpoint, &config.topic, &targets) == 0 {
                break;
            }
        }
    }
    pipeline.commit(&checkpoint)?;
    let progress = pipeline.progress;
    drop(pipeline);
    Ok(Some((progress, checkpoint)))
}

fn high_watermarks(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: &[i32],
) -> Result<BTreeMap<i32, i64>, IndexerError> {
    let mut highs = BTreeMap::new();
    for &partition in partitions {
        let (_, high) = consumer.fetch_watermarks(topic, partition, WATERMARK_TIMEOUT)?;
        highs.insert(partition, high);
    }
    Ok(highs)
}

/// Events between the checkpoint and the targets, over all partitions.
fn behind(checkpoint: &Checkpoint, topic: &str, targets: &BTreeMap<i32, i64>) -> i64 {
    targets
        .iter()
        .map(|(&partition, &high)| (high - checkpoint.next_offset(topic, partition).unwrap_or(0)).max(0))
        .sum()
}
