//! The indexer: consumes content events (from Kafka, or straight from the CMS outbox in embedded
//! mode) and applies them to the `engine` index in batches, storing its checkpoint in the index's
//! commit payload so index and offsets move together: nothing lost, nothing applied twice.
//!
//! Events apply idempotently by (id, version). An event that cannot be read (bad JSON, an unknown
//! schema version, a value the contracts reject) goes to the dead-letter topic with the reason in a
//! header, and the indexer carries on. It serves no HTTP API besides health and metrics.
#![forbid(unsafe_code)]

mod apply;
pub mod daemon;
mod embedded;
mod kafka;
mod pipeline;
mod rebuild;

pub use apply::{Rejection, apply, decode};
pub use embedded::{EmbeddedConfig, run_embedded};
pub use kafka::{KafkaConfig, run};
pub use pipeline::{Checkpoint, Progress, trace_id};
pub use rebuild::{Rebuilt, rebuild};

#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("index: {0}")]
    Engine(#[from] engine::EngineError),
    #[error("reading the outbox: {0}")]
    Outbox(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("stopped before it finished")]
    Interrupted,
}
