//! The outbox relay: publishes outbox rows to Kafka in sequence order and marks them sent.
//!
//! Rows are produced with an idempotent producer (`acks=all`, gapless), keyed by program id, with
//! `event_type` and `traceparent` headers. After a batch, only the rows up to the first failed
//! delivery are marked sent; the rest are produced again on the next attempt (consumers apply
//! events idempotently by version, so a repeat is harmless, a gap never happens). While the broker
//! is down, rows wait in the outbox and the relay retries with exponential backoff. Only the relay
//! holding the `relay` lease publishes, so a second relay is a standby that takes over when the
//! first stops renewing.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tokio::sync::watch;

use crate::error::CmsError;
use crate::outbox::{Outbox, OutboxRow};

/// The lease every relay competes for.
pub const RELAY_LEASE: &str = "relay";

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error(transparent)]
    Store(#[from] CmsError),
    /// Some rows of the batch were not delivered (they stay in the outbox).
    #[error("{failed} of {attempted} events not delivered: {reason}")]
    Undelivered { attempted: usize, failed: usize, reason: String },
}

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// `host:port,…` of the Kafka brokers.
    pub brokers: String,
    pub topic: String,
    /// This relay's name in the lease table (unique per process).
    pub holder: String,
    /// Rows per batch.
    pub batch: u32,
    pub lease_ttl: Duration,
    /// Wait between polls when the outbox is empty.
    pub idle_poll: Duration,
    /// How long one message may wait for the broker before its delivery counts as failed.
    pub delivery_timeout: Duration,
    pub max_backoff: Duration,
}

impl RelayConfig {
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            topic: contracts::CONTENT_TOPIC.to_owned(),
            holder: format!("relay-{}", uuid::Uuid::now_v7().simple()),
            batch: 2_000,
            lease_ttl: Duration::from_secs(15),
            idle_poll: Duration::from_millis(20),
            delivery_timeout: Duration::from_secs(10),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Publishes the outbox to Kafka.
pub struct Relay {
    outbox: Outbox,
    config: RelayConfig,
    producer: FutureProducer,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Relay {
    pub fn new(outbox: Outbox, config: RelayConfig) -> Result<Self, RelayError> {
        let producer = producer(&config)?;
        Ok(Self { outbox, config, producer })
    }

    /// Publishes batches until `shutdown` turns true, then gives up the lease.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), RelayError> {
        let mut backoff = Duration::from_millis(100);
        while !*shutdown.borrow() {
            let pause = match self.publish_batch().await {
                Ok(0) => self.config.idle_poll,
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    continue;
                }
                Err(error) => {
                    tracing::warn!(error = %error, backoff_ms = backoff.as_millis() as u64, "relay batch failed; retrying");
                    let pause = backoff;
                    backoff = (backoff * 2).min(self.config.max_backoff);
                    pause
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
            }
        }
        let _ = self.producer.flush(Duration::from_secs(5));
        self.outbox.release_lease(RELAY_LEASE, &self.config.holder).await?;
        Ok(())
    }

    /// Publishes up to one batch if this relay holds the lease; returns how many rows it marked
    /// sent (0 when the outbox is empty or another relay holds the lease).
    pub async fn publish_batch(&mut self) -> Result<usize, RelayError> {
        let ttl = self.config.lease_ttl.as_millis() as i64;
        if !self.outbox.acquire_lease(RELAY_LEASE, &self.config.holder, ttl).await? {
            return Ok(0);
        }
        let rows = self.outbox.unsent(self.config.batch).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        // Enqueue the whole batch in order, then wait for every delivery.
        let mut deliveries = Vec::with_capacity(rows.len());
        for row in &rows {
            deliveries.push(self.producer.send_result(record(&self.config.topic, row)));
        }
        let mut delivered = 0;
        let mut failure = None;
        for delivery in deliveries {
            let outcome = match delivery {
                Ok(future) => match future.await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err((error, _))) => Err(error.to_string()),
                    Err(_) => Err("the producer went away".to_owned()),
                },
                Err((error, _)) => Err(error.to_string()),
            };
            match outcome {
                Ok(()) if failure.is_none() => delivered += 1,
                Ok(()) => {}
                Err(reason) => {
                    failure.get_or_insert(reason);
                }
            }
        }
        for row in &rows[..delivered] {
            // The trace the event belongs to (the editor's request), so its journey can be followed.
            let trace_id = row.traceparent.as_deref().and_then(|t| t.split('-').nth(1)).unwrap_or_default();
            tracing::debug!(trace_id, event_id = %row.event_id, event_type = %row.event_type, seq = row.seq, "relayed");
        }
        let sent: Vec<i64> = rows[..delivered].iter().map(|row| row.seq).collect();
        self.outbox.mark_sent(&sent).await?;
        match failure {
            None => Ok(delivered),
            Some(reason) => {
                // After a failed delivery the idempotent producer's sequence state is suspect
                // (gapless mode makes it fatal): the retry starts from a fresh producer.
                self.producer = producer(&self.config)?;
                Err(RelayError::Undelivered { attempted: rows.len(), failed: rows.len() - delivered, reason })
            }
        }
    }
}

fn producer(config: &RelayConfig) -> Result<FutureProducer, RelayError> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("enable.idempotence", "true")
        .set("enable.gapless.guarantee", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .set("message.timeout.ms", config.delivery_timeout.as_millis().to_string())
        .create()?)
}

fn record<'a>(topic: &'a str, row: &'a OutboxRow) -> FutureRecord<'a, str, str> {
    let mut headers = OwnedHeaders::new().insert(Header { key: "event_type", value: Some(row.event_type.as_str()) });
    if let Some(traceparent) = &row.traceparent {
        headers = headers.insert(Header { key: "traceparent", value: Some(traceparent.as_str()) });
    }
    FutureRecord::to(topic).key(row.partition_key.as_str()).payload(row.payload.as_str()).headers(headers)
}
