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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use engine::{Engine, Replica};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};

use crate::IndexerError;
use crate::pipeline::{Checkpoint, Pipeline, Progress};

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
    /// A member silent this long is dropped from the group and its partitions reassigned.
    pub session_timeout: Duration,
    /// The longest the loop may go between polls; also how long a rebalance waits for members
    /// to rejoin (a member killed mid-rebalance holds the group up to this long).
    pub max_poll_interval: Duration,
    /// A stable member id (static membership): a restarted indexer with the same id takes its
    /// partitions back at once instead of waiting out the dead member's session.
    pub instance_id: Option<String>,
}

impl KafkaConfig {
    pub fn new(brokers: impl Into<String>, group_id: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            group_id: group_id.into(),
            topic: contracts::CONTENT_TOPIC.to_owned(),
            dead_letter_topic: contracts::CONTENT_DLQ_TOPIC.to_owned(),
            batch_max: 5_000,
            batch_wait: Duration::from_millis(100),
            session_timeout: Duration::from_secs(10),
            max_poll_interval: Duration::from_secs(20),
            instance_id: None,
        }
    }
}

/// The batch being built, shared with the rebalance callback.
struct Batch {
    pipeline: Pipeline,
    committed: Checkpoint,
    /// Next offsets read since the last commit.
    pending: BTreeMap<(String, i32), i64>,
    assigned: BTreeSet<(String, i32)>,
    dead_letters: BaseProducer,
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
        self.pipeline.commit(&next)?;
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), offset) in &self.pending {
            offsets.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
        }
        if let Err(error) = consumer.commit(&offsets, CommitMode::Async) {
            tracing::debug!(error = %error, "offsets not committed to the group (the index has them)");
        }
        self.committed = next;
        self.pending.clear();
        Ok(())
    }

    /// Where a partition resumes: the index's offset, or the beginning for one it never saw.
    fn resume_at(&self, topic: &str, partition: i32) -> Offset {
        match self.committed.next_offset(topic, partition) {
            Some(next) => Offset::Offset(next),
            None => Offset::Beginning,
        }
    }
}

/// Seeks assigned partitions to the index's offsets, commits before a revoke, and turns the
/// client's statistics into lag gauges.
struct Rebalancer {
    batch: Arc<Mutex<Batch>>,
}

impl ClientContext for Rebalancer {
    /// Lag per partition: the partition's high watermark minus the index's next offset.
    fn stats(&self, statistics: Statistics) {
        let batch = lock(&self.batch);
        for (topic, partitions) in &statistics.topics {
            for (partition, stats) in &partitions.partitions {
                if *partition < 0 || !batch.assigned.contains(&(topic.clone(), *partition)) || stats.hi_offset < 0 {
                    continue;
                }
                let next = batch.committed.next_offset(topic, *partition).unwrap_or(stats.lo_offset.max(0));
                metrics::gauge!("indexer_consumer_lag", "topic" => topic.clone(), "partition" => partition.to_string())
                    .set((stats.hi_offset - next).max(0) as f64);
            }
        }
    }
}

impl ConsumerContext for Rebalancer {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        let mut batch = lock(&self.batch);
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let assigned: Vec<(String, i32)> =
                    tpl.elements().iter().map(|e| (e.topic().to_owned(), e.partition())).collect();
                for (topic, partition) in assigned {
                    let offset = batch.resume_at(&topic, partition);
                    tracing::info!(topic = %topic, partition, offset = ?offset, "partition assigned");
                    let _ = tpl.set_partition_offset(&topic, partition, offset);
                    batch.assigned.insert((topic, partition));
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
                for element in tpl.elements() {
                    let key = (element.topic().to_owned(), element.partition());
                    // The new owner reports this partition's lag from now on.
                    metrics::gauge!("indexer_consumer_lag", "topic" => key.0.clone(), "partition" => key.1.to_string())
                        .set(0.0);
                    batch.assigned.remove(&key);
                }
                let _ = consumer.unassign();
            }
        }
    }
}

fn lock(batch: &Mutex<Batch>) -> MutexGuard<'_, Batch> {
    batch.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How often the daemon looks for a new index generation (a finished rebuild).
const GENERATION_CHECK: Duration = Duration::from_secs(1);

/// Consumes until `stop` is set, then commits what it applied and leaves the group.
///
/// When a rebuild switches the replica to a new generation, the daemon commits its batch to the
/// old one, takes the new one's writer and seeks its partitions to the new index's offsets.
pub fn run(replica: &Replica, config: &KafkaConfig, stop: &AtomicBool) -> Result<Progress, IndexerError> {
    let engine = replica.engine();
    let dead_letters: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()?;
    let batch = Arc::new(Mutex::new(Batch {
        pipeline: Pipeline::new(&engine, "kafka")?,
        committed: Checkpoint::of(&engine)?,
        pending: BTreeMap::new(),
        assigned: BTreeSet::new(),
        dead_letters,
    }));
    let mut client = consumer_config(config);
    if let Some(instance) = &config.instance_id {
        client.set("group.instance.id", instance);
    }
    let consumer: BaseConsumer<Rebalancer> = client
        .set("group.id", &config.group_id)
        .set("session.timeout.ms", config.session_timeout.as_millis().to_string())
        .set("max.poll.interval.ms", config.max_poll_interval.max(config.session_timeout).as_millis().to_string())
        .set("statistics.interval.ms", "1000")
        .create_with_context(Rebalancer { batch: Arc::clone(&batch) })?;
    consumer.subscribe(&[&config.topic])?;
    let mut progress = Progress::default();
    let mut generation_checked = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let polled = consumer.poll(Duration::from_millis(10));
        let mut batch = lock(&batch);
        match polled {
            Some(Ok(message)) => handle(&mut batch, config, &message)?,
            Some(Err(error)) => tracing::warn!(error = %error, "consumer error"),
            None => {}
        }
        if batch.pipeline.due(config.batch_max, config.batch_wait) {
            batch.commit(&consumer)?;
        }
        if generation_checked.elapsed() >= GENERATION_CHECK {
            generation_checked = Instant::now();
            if replica.refresh()? {
                batch.commit(&consumer)?;
                add(&mut progress, batch.pipeline.progress);
                switch_to(&mut batch, &consumer, &replica.engine())?;
                tracing::info!(generation = %replica.generation(), "switched to a rebuilt index");
            }
        }
    }
    let mut batch = lock(&batch);
    batch.commit(&consumer)?;
    add(&mut progress, batch.pipeline.progress);
    drop(batch);
    consumer.unsubscribe();
    Ok(progress)
}

/// Continues on `engine` (a new generation): its writer, its checkpoint, and every assigned
/// partition sought to where that index got to.
fn switch_to(batch: &mut Batch, consumer: &BaseConsumer<Rebalancer>, engine: &Engine) -> Result<(), IndexerError> {
    batch.pipeline = Pipeline::new(engine, "kafka")?;
    batch.committed = Checkpoint::of(engine)?;
    batch.pending.clear();
    for (topic, partition) in batch.assigned.clone() {
        let offset = batch.resume_at(&topic, partition);
        consumer.seek(&topic, partition, offset, Duration::from_secs(10))?;
    }
    Ok(())
}

fn add(total: &mut Progress, part: Progress) {
    total.applied += part.applied;
    total.stale += part.stale;
    total.dead_lettered += part.dead_lettered;
    total.commits += part.commits;
}

/// Settings every consumer of the indexer shares: offsets are the index's business, and a waiting
/// fetch is answered within 10 ms (tansu answers only at the wait limit).
pub(crate) fn consumer_config(config: &KafkaConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &config.brokers)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10");
    client
}

fn handle(batch: &mut Batch, config: &KafkaConfig, message: &BorrowedMessage<'_>) -> Result<(), IndexerError> {
    let payload = message.payload().unwrap_or_default();
    if let Err(rejection) = batch.pipeline.apply(payload, traceparent(message))? {
        dead_letter(&batch.dead_letters, config, message, &rejection.to_string())?;
    }
    batch.pending.insert((message.topic().to_owned(), message.partition()), message.offset() + 1);
    Ok(())
}

/// The event's `traceparent` header, which the relay copies from the request that made the change.
pub(crate) fn traceparent<'a>(message: &'a BorrowedMessage<'_>) -> Option<&'a str> {
    message
        .headers()?
        .iter()
        .find(|header| header.key == "traceparent")
        .and_then(|header| header.value)
        .and_then(|value| std::str::from_utf8(value).ok())
}

/// Sends an event the indexer cannot apply to the dead-letter topic, with the reason and where
/// it came from in headers (its own headers follow).
fn dead_letter(
    producer: &BaseProducer,
    config: &KafkaConfig,
    message: &BorrowedMessage<'_>,
    reason: &str,
) -> Result<(), IndexerError> {
    tracing::warn!(partition = message.partition(), offset = message.offset(), reason, "event dead-lettered");
    let offset = message.offset().to_string();
    let partition = message.partition().to_string();
    let mut headers = OwnedHeaders::new()
        .insert(Header { key: "reason", value: Some(reason) })
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
        BaseRecord::to(&config.dead_letter_topic).payload(message.payload().unwrap_or_default()).headers(headers);
    if let Some(key) = message.key() {
        record = record.key(key);
    }
    producer.send(record).map_err(|(error, _)| error)?;
    Ok(())
}
