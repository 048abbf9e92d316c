//! The indexer daemon: consumes content events (from Kafka, or straight from the CMS outbox in
//! embedded mode) and applies them to the `engine` index in batches, storing its checkpoint in the
//! index's commit payload so index and offsets move together.
//!
//! It serves no HTTP API besides health and metrics. The crate is laid out now so the layout is
//! fixed; its contents arrive with the indexer work.
#![forbid(unsafe_code)]
