//! Wire types shared by every MediaMesh service: the content model (`Program`, `Episode`), the
//! create/update DTOs, the validated domain values they are built from, the Kafka event envelope,
//! topic names, and the stable error codes returned as RFC 9457 problem documents.
//!
//! This crate is pure data: it performs no I/O, owns no runtime, and is the only crate that defines
//! wire types. Every value that crosses a process boundary is declared here, so a change to the
//! wire format is a change to this crate.
#![forbid(unsafe_code)]

mod category;
mod content;
mod discovery;
mod domain;
mod error;
mod events;
mod language;
#[cfg(feature = "openapi")]
mod openapi;

pub use category::{CATEGORIES, Category};
pub use content::{
    AuditParams, ContentSnapshot, CreateEpisode, CreateProgram, Episode, ListParams, MAX_LIST_PAGE_SIZE, Program,
    UpdateEpisode, UpdateProgram,
};
pub use discovery::{
    FacetValues, Facets, Highlights, Related, SearchHit, SearchPage, Suggestion, Suggestions, ValueCount,
};
pub use domain::{ContentKind, ContentStatus, Description, DomainError, DurationSeconds, PublishDate, Title};
pub use error::{ErrorCode, FieldError, Problem};
pub use events::{Aggregate, CONTENT_DLQ_TOPIC, CONTENT_TOPIC, EventEnvelope, EventType, SCHEMA_VERSION};
pub use language::{LANGUAGES, LanguageCode};
