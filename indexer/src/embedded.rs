//! Embedded mode: with no broker configured, the indexer reads the CMS outbox directly, in
//! sequence order, and keeps the last sequence number it applied in the commit payload. The same
//! pipeline as the Kafka feed applies the events, so MediaMesh runs on one machine with no servers.
//!
//! Sequence numbers are gapless on SQLite (writes are serialised), the embedded store. On
//! PostgreSQL a transaction can take a number and commit after a later one, or roll back and never
//! use it; a gap therefore holds the feed back for `gap_grace`, then is passed over.
//!
//! Events the indexer cannot apply are appended, with the reason, to `dead-letters.ndjson` under
//! the index root (there is no dead-letter topic without a broker); the rows stay in the outbox.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cms_core::{Outbox, OutboxRow};
use engine::Replica;
use tokio::sync::watch;

use crate::IndexerError;
use crate::pipeline::{Checkpoint, Pipeline, Progress};

/// How the embedded indexer reads the outbox.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// Rows per read (and at most per commit).
    pub batch_max: u32,
    /// How long to wait before reading again when nothing new was there.
    pub poll: Duration,
    /// How long a gap in sequence numbers holds the feed back before it is passed over.
    pub gap_grace: Duration,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self { batch_max: 1_000, poll: Duration::from_millis(20), gap_grace: Duration::from_secs(2) }
    }
}

/// Applies outbox rows to the live index until `stop` turns true; then commits and returns.
pub async fn run_embedded(
    replica: Arc<Replica>,
    outbox: Outbox,
    config: EmbeddedConfig,
    mut stop: watch::Receiver<bool>,
) -> Result<Progress, IndexerError> {
    let engine = replica.engine();
    let mut state = Some(State {
        pipeline: Pipeline::new(&engine, "outbox")?,
        checkpoint: Checkpoint::of(&engine)?,
        dead_letters: replica.root().join("dead-letters.ndjson"),
    });
    drop(engine);
    let mut gap: Option<(i64, Instant)> = None;
    while !*stop.borrow() {
        let Some(current) = state.as_ref() else { break };
        let after = current.checkpoint.outbox.unwrap_or(0);
        let rows = outbox.after(after, config.batch_max).await.map_err(|e| IndexerError::Outbox(e.to_string()))?;
        let ready = contiguous(after, rows, &mut gap, config.gap_grace);
        if ready.is_empty() {
            tokio::select! {
                _ = tokio::time::sleep(config.poll) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let mut owned = state.take().ok_or(IndexerError::Interrupted)?;
        let (returned, result) = tokio::task::spawn_blocking(move || {
            let result = owned.apply(&ready);
            (owned, result)
        })
        .await
        .map_err(|e| IndexerError::Outbox(e.to_string()))?;
        result?;
        state = Some(returned);
    }
    match state {
        Some(state) => Ok(state.pipeline.progress),
        None => Err(IndexerError::Interrupted),
    }
}

struct State {
    pipeline: Pipeline,
    checkpoint: Checkpoint,
    dead_letters: PathBuf,
}

impl State {
    fn apply(&mut self, rows: &[OutboxRow]) -> Result<(), IndexerError> {
        for row in rows {
            if let Err(rejection) = self.pipeline.apply(row.payload.as_bytes(), row.traceparent.as_deref())? {
                let line = serde_json::json!({"seq": row.seq, "reason": rejection.to_string(), "payload": row.payload});
                let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.dead_letters)?;
                writeln!(file, "{line}")?;
            }
            self.checkpoint.outbox = Some(row.seq);
        }
        self.pipeline.commit(&self.checkpoint)?;
        Ok(())
    }
}

/// The rows that follow `after` without a gap; a gap older than `grace` is passed over.
fn contiguous(after: i64, rows: Vec<OutboxRow>, gap: &mut Option<(i64, Instant)>, grace: Duration) -> Vec<OutboxRow> {
    let mut expected = after + 1;
    let mut ready = Vec::with_capacity(rows.len());
    for row in rows {
        if row.seq != expected {
            let since = match *gap {
                Some((at, since)) if at == expected => since,
                _ => {
                    *gap = Some((expected, Instant::now()));
                    break;
                }
            };
            if since.elapsed() < grace {
                break;
            }
            tracing::warn!(missing_from = expected, missing_to = row.seq - 1, "outbox sequence gap passed over");
            *gap = None;
        }
        expected = row.seq + 1;
        ready.push(row);
    }
    ready
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64) -> OutboxRow {
        OutboxRow {
            seq,
            event_id: String::new(),
            event_type: String::new(),
            partition_key: String::new(),
            traceparent: None,
            payload: String::new(),
            created_at_millis: 0,
        }
    }

    fn seqs(rows: &[OutboxRow]) -> Vec<i64> {
        rows.iter().map(|r| r.seq).collect()
    }

    #[test]
    fn gaps_hold_the_feed_back_until_the_grace_passes() {
        let mut gap = None;
        let grace = Duration::from_millis(50);
        assert_eq!(seqs(&contiguous(0, vec![row(1), row(2), row(4)], &mut gap, grace)), [1, 2]);
        assert_eq!(seqs(&contiguous(2, vec![row(4), row(5)], &mut gap, grace)), Vec::<i64>::new());
        // The late row commits: the feed goes on in order.
        assert_eq!(seqs(&contiguous(2, vec![row(3), row(4), row(5)], &mut gap, grace)), [3, 4, 5]);
        assert_eq!(seqs(&contiguous(5, vec![row(7)], &mut gap, grace)), Vec::<i64>::new());
        std::thread::sleep(grace);
        assert_eq!(seqs(&contiguous(5, vec![row(7), row(8)], &mut gap, grace)), [7, 8], "a rolled-back number");
    }
}
