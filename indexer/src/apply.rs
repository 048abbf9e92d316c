//! Turning one event into a change of the index, or a reason to dead-letter it.

use contracts::{ContentSnapshot, EventEnvelope, EventType, SCHEMA_VERSION};
use engine::{EngineWriter, WriteOutcome};

/// Why an event cannot be applied (it goes to the dead-letter topic with this reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejection(pub String);

/// Reads an event: valid JSON, a known schema version, and values that pass the contracts'
/// validation (the envelope's types reject what the rules forbid).
pub fn decode(payload: &[u8]) -> Result<EventEnvelope, Rejection> {
    let envelope: EventEnvelope =
        serde_json::from_slice(payload).map_err(|e| Rejection(format!("not a valid content event: {e}")))?;
    if envelope.schema_version != SCHEMA_VERSION {
        return Err(Rejection(format!(
            "schema version {} is not supported (this indexer reads {SCHEMA_VERSION})",
            envelope.schema_version
        )));
    }
    let data = &envelope.data;
    if envelope.aggregate.id != data.id() || envelope.aggregate.version != data.version() {
        return Err(Rejection("the aggregate does not match the snapshot".into()));
    }
    Ok(envelope)
}

/// Applies an event. Idempotent by (id, version): a repeat or an older version changes nothing.
pub fn apply(writer: &mut EngineWriter, envelope: &EventEnvelope) -> engine::Result<WriteOutcome> {
    match envelope.event_type {
        EventType::Deleted => {
            let data: &ContentSnapshot = &envelope.data;
            writer.delete(data.kind(), data.id(), data.program_id(), data.version())
        }
        _ => writer.upsert(&envelope.data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_events_are_rejected_with_a_reason() {
        assert!(decode(b"{not json").expect_err("bad json").0.contains("not a valid content event"));
        let valid = serde_json::json!({
            "event_id": "01890000-0000-7000-8000-000000000000",
            "event_type": "content.created",
            "schema_version": 1,
            "occurred_at": "2026-11-26T00:00:00Z",
            "aggregate": {"kind": "program", "id": "01890000-0000-7000-8000-000000000001", "version": 1},
            "data": {
                "kind": "program", "id": "01890000-0000-7000-8000-000000000001", "title": "T",
                "category": "news", "language": "en", "status": "draft", "version": 1,
                "created_at": "2026-11-26T00:00:00Z", "updated_at": "2026-11-26T00:00:00Z"
            }
        });
        assert!(decode(valid.to_string().as_bytes()).is_ok());
        let mut future = valid.clone();
        future["schema_version"] = 99.into();
        assert!(decode(future.to_string().as_bytes()).expect_err("v99").0.contains("schema version 99"));
        let mut invalid = valid.clone();
        invalid["data"]["language"] = "klingon".into();
        assert!(decode(invalid.to_string().as_bytes()).is_err(), "validation applies to events too");
        let mut mismatched = valid;
        mismatched["aggregate"]["version"] = 2.into();
        assert!(decode(mismatched.to_string().as_bytes()).is_err());
    }
}
