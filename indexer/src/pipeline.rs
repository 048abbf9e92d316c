//! What every feed shares (the Kafka consumer, the rebuild, the embedded outbox reader): applying
//! events to the index in batches, committing each batch with the feed's checkpoint, and the
//! metrics that describe it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use engine::{Engine, EngineWriter, WriteOutcome, WriterConfig};
use serde::{Deserialize, Serialize};

use crate::apply::{Rejection, apply, decode};

/// What a commit payload holds: where each feed got to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Kafka: the next offset to read, by topic and partition.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kafka: BTreeMap<String, BTreeMap<i32, i64>>,
    /// Embedded mode: the last outbox sequence number applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox: Option<i64>,
}

impl Checkpoint {
    /// The checkpoint an index's last commit carries (an empty one for a new index or a payload
    /// this indexer did not write).
    pub fn of(engine: &Engine) -> engine::Result<Self> {
        Ok(engine.checkpoint()?.and_then(|payload| serde_json::from_str(&payload).ok()).unwrap_or_default())
    }

    pub fn next_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        self.kafka.get(topic).and_then(|partitions| partitions.get(&partition)).copied()
    }
}

/// Counters a run reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub applied: u64,
    pub stale: u64,
    pub dead_lettered: u64,
    pub commits: u64,
}

/// The trace id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`).
pub fn trace_id(traceparent: Option<&str>) -> Option<&str> {
    let id = traceparent?.split('-').nth(1)?;
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// A writer and the batch being built on it.
pub(crate) struct Pipeline {
    writer: EngineWriter,
    /// Events read since the last commit (dead letters included).
    pub(crate) events: usize,
    started: Option<Instant>,
    /// When each applied event of the batch happened (Unix milliseconds), for freshness.
    occurred: Vec<i64>,
    pub(crate) progress: Progress,
    feed: &'static str,
}

impl Pipeline {
    pub(crate) fn new(engine: &Engine, feed: &'static str) -> engine::Result<Self> {
        Ok(Self {
            writer: engine.writer(WriterConfig::default())?,
            events: 0,
            started: None,
            occurred: Vec::new(),
            progress: Progress::default(),
            feed,
        })
    }

    /// Applies one event; a rejection is for the caller to dead-letter (it is counted here).
    pub(crate) fn apply(&mut self, payload: &[u8], traceparent: Option<&str>) -> engine::Result<Result<(), Rejection>> {
        self.events += 1;
        self.started.get_or_insert_with(Instant::now);
        let trace_id = trace_id(traceparent).unwrap_or_default();
        let envelope = match decode(payload) {
            Ok(envelope) => envelope,
            Err(rejection) => {
                self.progress.dead_lettered += 1;
                metrics::counter!("indexer_dead_letters_total", "feed" => self.feed).increment(1);
                tracing::warn!(trace_id, reason = %rejection, feed = self.feed, "event rejected");
                return Ok(Err(rejection));
            }
        };
        let outcome = apply(&mut self.writer, &envelope)?;
        let label = match outcome {
            WriteOutcome::Applied => {
                self.progress.applied += 1;
                self.occurred.push(envelope.occurred_at.timestamp_millis());
                "applied"
            }
            WriteOutcome::Stale => {
                self.progress.stale += 1;
                "stale"
            }
        };
        metrics::counter!("indexer_events_total", "feed" => self.feed, "outcome" => label).increment(1);
        tracing::debug!(
            trace_id,
            event_id = %envelope.event_id,
            event_type = envelope.event_type.as_str(),
            id = %envelope.aggregate.id,
            version = envelope.aggregate.version,
            outcome = label,
            "event"
        );
        Ok(Ok(()))
    }

    /// True when the batch is full or its first event waited long enough.
    pub(crate) fn due(&self, max_events: usize, max_wait: Duration) -> bool {
        self.events >= max_events || self.started.is_some_and(|started| started.elapsed() >= max_wait)
    }

    /// Commits the batch with `checkpoint` in the payload.
    pub(crate) fn commit(&mut self, checkpoint: &Checkpoint) -> engine::Result<()> {
        let began = Instant::now();
        let payload = serde_json::to_string(checkpoint).unwrap_or_default();
        self.writer.commit(Some(&payload))?;
        let now = chrono::Utc::now().timestamp_millis();
        metrics::histogram!("indexer_commit_duration_seconds", "feed" => self.feed)
            .record(began.elapsed().as_secs_f64());
        metrics::histogram!("indexer_batch_size", "feed" => self.feed).record(self.events as f64);
        let freshness = metrics::histogram!("indexer_freshness_seconds", "feed" => self.feed);
        for occurred in self.occurred.drain(..) {
            freshness.record((now - occurred).max(0) as f64 / 1000.0);
        }
        tracing::debug!(
            events = self.events,
            feed = self.feed,
            took_ms = began.elapsed().as_millis() as u64,
            "committed"
        );
        self.events = 0;
        self.started = None;
        self.progress.commits += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_come_from_well_formed_traceparents_only() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(trace_id(Some(&format!("00-{id}-00f067aa0ba902b7-01"))), Some(id));
        assert_eq!(trace_id(Some("00-short-00f067aa0ba902b7-01")), None);
        assert_eq!(trace_id(Some("garbage")), None);
        assert_eq!(trace_id(None), None);
    }

    #[test]
    fn checkpoints_round_trip_and_tolerate_foreign_payloads() {
        let mut checkpoint = Checkpoint::default();
        checkpoint.kafka.entry("t".into()).or_default().insert(2, 40);
        let text = serde_json::to_string(&checkpoint).expect("json");
        assert_eq!(text, r#"{"kafka":{"t":{"2":40}}}"#);
        assert_eq!(serde_json::from_str::<Checkpoint>(&text).expect("parse"), checkpoint);
        let embedded: Checkpoint = serde_json::from_str(r#"{"outbox":17}"#).expect("parse");
        assert_eq!(embedded.outbox, Some(17));
        assert_eq!(embedded.next_offset("t", 2), None);
    }
}
