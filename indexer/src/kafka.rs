//! The Kafka-fed indexer: a consumer-group member that applies events in batches and commits the
//! index with the batch's offsets in the commit payload.
//!
//! The index, not the group, is the source of truth: on assignment every partition is sought to
//! the offset the index's last commit recorded (or the beginning, for a partition this index has
//! never seen). Offsets are committed to Kafka too after each index commit, only so lag tools see
//! progress. A partition about to be revoked gets its pending work committed first.
//!
//! The loop is synchronous on its own thread: applying events is CPU work, and rebalance callbacks
//! then run on the same thread as the batch they may need to commit.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use engine::{Engine, EngineWriter, WriterConfig};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use crate::apply::{apply, decode};

/// How the indexer consumes.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    pub brokers: String,
    /// Each discovery node uses its own group (and index); indexers sharing a group share partitions.
    pub group_id: String,
    pub topic: String,
    pub dead_letter_topic: String,
    /// A batch ends at this many events…
    pub batch_max: usize,
    /// …or this long after its first event.
    pub batch_wait: Duration,
}

impl KafkaConfig {
    pub fn new(brokers: impl Into<String>, group_id: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            group_id: group_id.into(),
            topic: contracts::CONTENT_TOPIC.to_owned(),
            dead_letter_topic: contracts::CONTENT_DLQ_TOPIC.to_owned(),
            batch_max: 1_000,
            batch_wait: Duration::from_millis(100),
        }
    }
}

/// What the commit payload holds: the next offset to read, by topic and partition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    #[serde(default)]
    pub kafka: BTreeMap<String, BTreeMap<i32, i64>>,
}

impl Checkpoint {
    /// The checkpoint an index's last commit carries (an empty one for a new index or a payload
    /// this indexer did not write).
    pub fn of(engine: &Engine) -> engine::Result<Self> {
        Ok(engine.checkpoint()?.and_then(|payload| serde_json::from_str(&payload).ok()).unwrap_or_default())
    }

    fn next_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        self.kafka.get(topic).and_then(|partitions| partitions.get(&partition)).copied()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("index: {0}")]
    Engine(#[from] engine::EngineError),
}

/// Counters the daemon reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub applied: u64,
    pub stale: u64,
    pub dead_lettered: u64,
    pub commits: u64,
}

/// The batch being built, shared with the rebalance callback.
struct Batch {
    writer: EngineWriter,
    committed: Checkpoint,
    /// Next offsets read since the last commit.
    pending: BTreeMap<(String, i32), i64>,
    /// Events read since the last commit.
    events: usize,
    started: Option<Instant>,
    dead_letters: BaseProducer,
    progress: Progress,
}

impl Batch {
    /// Commits the index with every offset read so far, then tells Kafka (for lag tools).
    fn commit(&mut self, consumer: &BaseConsumer<Rebalancer>) -> Result<(), IndexerError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        // Dead letters must be stored before the offsets that skip their events are.
        self.dead_letters.flush(Duration::from_secs(30))?;
        let mut next = self.committed.clone();
        for ((topic, partition), offset) in &self.pending {
            next.kafka.entry(topic.clone()).or_default().insert(*partition, *offset);
        }
        let payload = serde_json::to_string(&next).unwrap_or_default();
        self.writer.commit(Some(&payload))?;
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), offset) in &self.pending {
            offsets.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
        }
        if let Err(error) = consumer.commit(&offsets, CommitMode::Async) {
            tracing::debug!(error = %error, "offsets not committed to the group (the index has them)");
        }
        self.committed = next;
        self.pending.clear();
        self.events = 0;
        self.started = None;
        self.progress.commits += 1;
        Ok(())
    }
}

/// Seeks assigned partitions to the index's offsets and commits before a revoke.
struct Rebalancer {
    batch: Arc<Mutex<Batch>>,
}

impl ClientContext for Rebalancer {}

impl ConsumerContext for Rebalancer {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        let mut batch = lock(&self.batch);
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let assigned: Vec<(String, i32)> =
                    tpl.elements().iter().map(|e| (e.topic().to_owned(), e.partition())).collect();
                for (topic, partition) in assigned {
                    let offset = match batch.committed.next_offset(&topic, partition) {
                        Some(next) => Offset::Offset(next),
                        None => Offset::Beginning,
                    };
                    tracing::info!(topic = %topic, partition, offset = ?offset, "partition assigned");
                    let _ = tpl.set_partition_offset(&topic, partition, offset);
                }
                if let Err(error) = consumer.assign(tpl) {
                    tracing::error!(error = %error, "could not take the assigned partitions");
                }
            }
            _ => {
                if let Err(error) = batch.commit(consumer) {
                    tracing::error!(error = %error, "could not commit before the partitions were revoked");
                }
                tracing::info!(partitions = tpl.count(), "partitions revoked");
                let _ = consumer.unassign();
            }
        }
    }
}

fn lock(batch: &Mutex<Batch>) -> MutexGuard<'_, Batch> {
    batch.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Consumes until `stop` is set, then commits what it applied and leaves the group.
pub fn run(engine: &Engine, config: &KafkaConfig, stop: &AtomicBool) -> Result<Progress, IndexerError> {
    let writer = engine.writer(WriterConfig::default())?;
    let dead_letters: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()?;
    let batch = Arc::new(Mutex::new(Batch {
        writer,
        committed: Checkpoint::of(engine)?,
        pending: BTreeMap::new(),
        events: 0,
        started: None,
        dead_letters,
        progress: Progress::default(),
    }));
    let consumer: BaseConsumer<Rebalancer> = ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        .set("session.timeout.ms", "10000")
        .create_with_context(Rebalancer { batch: Arc::clone(&batch) })?;
    consumer.subscribe(&[&config.topic])?;
    while !stop.load(Ordering::Relaxed) {
        let polled = consumer.poll(Duration::from_millis(10));
        let mut batch = lock(&batch);
        match polled {
            Some(Ok(message)) => handle(&mut batch, config, &message)?,
            Some(Err(error)) => tracing::warn!(error = %error, "consumer error"),
            None => {}
        }
        let full = batch.events >= config.batch_max;
        let due = batch.started.is_some_and(|started| started.elapsed() >= config.batch_wait);
        if full || due {
            batch.commit(&consumer)?;
        }
    }
    let mut batch = lock(&batch);
    batch.commit(&consumer)?;
    let progress = batch.progress;
    drop(batch);
    consumer.unsubscribe();
    Ok(progress)
}

fn handle(batch: &mut Batch, config: &KafkaConfig, message: &BorrowedMessage<'_>) -> Result<(), IndexerError> {
    let payload = message.payload().unwrap_or_default();
    match decode(payload) {
        Ok(envelope) => match apply(&mut batch.writer, &envelope)? {
            engine::WriteOutcome::Applied => batch.progress.applied += 1,
            engine::WriteOutcome::Stale => batch.progress.stale += 1,
        },
        Err(rejection) => {
            let reason = rejection.to_string();
            tracing::warn!(partition = message.partition(), offset = message.offset(), reason = %reason, "event dead-lettered");
            let offset = message.offset().to_string();
            let partition = message.partition().to_string();
            let mut headers = OwnedHeaders::new()
                .insert(Header { key: "reason", value: Some(reason.as_str()) })
                .insert(Header { key: "source_topic", value: Some(message.topic()) })
                .insert(Header { key: "source_partition", value: Some(partition.as_str()) })
                .insert(Header { key: "source_offset", value: Some(offset.as_str()) });
            if let Some(original) = message.headers() {
                for header in original.iter() {
                    if let Some(value) = header.value {
                        headers = headers.insert(Header { key: header.key, value: Some(value) });
                    }
                }
            }
            let mut record: BaseRecord<'_, [u8], [u8]> =
                BaseRecord::to(&config.dead_letter_topic).payload(payload).headers(headers);
            if let Some(key) = message.key() {
                record = record.key(key);
            }
            batch.dead_letters.send(record).map_err(|(error, _)| error)?;
            batch.progress.dead_lettered += 1;
        }
    }
    batch.pending.insert((message.topic().to_owned(), message.partition()), message.offset() + 1);
    batch.events += 1;
    batch.started.get_or_insert_with(Instant::now);
    Ok(())
}
