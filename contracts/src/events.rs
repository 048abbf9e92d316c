//! The event envelope carried on Kafka (and stored in the CMS outbox), and the topic names.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{ContentKind, ContentSnapshot};

/// Topic every content event is published to, keyed by program id.
pub const CONTENT_TOPIC: &str = "mediamesh.content";
/// Where consumers put events they cannot apply, with the reason in a header.
pub const CONTENT_DLQ_TOPIC: &str = "mediamesh.content.dlq";
/// The envelope schema this build writes and understands.
pub const SCHEMA_VERSION: u32 = 1;

/// What happened to the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "content.created")]
    Created,
    #[serde(rename = "content.updated")]
    Updated,
    #[serde(rename = "content.published")]
    Published,
    #[serde(rename = "content.unpublished")]
    Unpublished,
    #[serde(rename = "content.deleted")]
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "content.created",
            Self::Updated => "content.updated",
            Self::Published => "content.published",
            Self::Unpublished => "content.unpublished",
            Self::Deleted => "content.deleted",
        }
    }
}

/// Which item the event is about, and its version after the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    pub kind: ContentKind,
    pub id: Uuid,
    pub version: u64,
}

/// One content event. `data` is the item's full snapshot after the change, so a consumer never
/// needs to ask the CMS for the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    pub event_id: Uuid,
    pub event_type: EventType,
    pub schema_version: u32,
    pub occurred_at: DateTime<Utc>,
    pub aggregate: Aggregate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    pub data: ContentSnapshot,
}

impl EventEnvelope {
    /// A new event about `data`, stamped now with a time-ordered (v7) id.
    pub fn new(event_type: EventType, data: ContentSnapshot, traceparent: Option<String>) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type,
            schema_version: SCHEMA_VERSION,
            occurred_at: Utc::now(),
            aggregate: Aggregate { kind: data.kind(), id: data.id(), version: data.version() },
            traceparent,
            data,
        }
    }

    /// The Kafka message key: the program id, so a program and its episodes stay in order.
    pub fn partition_key(&self) -> Uuid {
        self.data.program_id()
    }
}
