//! The indexer: consumes content events (from Kafka, or straight from the CMS outbox in embedded
//! mode) and applies them to the `engine` index in batches, storing its checkpoint in the index's
//! commit payload so index and offsets move together: nothing lost, nothing applied twice.
//!
//! Events apply idempotently by (id, version). An event that cannot be read (bad JSON, an unknown
//! schema version, a value the contracts reject) goes to the dead-letter topic with the reason in a
//! header, and the indexer carries on. It serves no HTTP API besides health and metrics.
#![forbid(unsafe_code)]

mod apply;
mod kafka;

pub use apply::{Rejection, apply, decode};
pub use kafka::{Checkpoint, IndexerError, KafkaConfig, Progress, run};
