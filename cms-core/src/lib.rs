//! The content store behind the CMS: programs and episodes, the editorial workflow (drafts,
//! publishing now or on a date, unpublishing, soft deletes), optimistic concurrency by version,
//! idempotent creates, the audit log, and the transactional outbox that feeds Kafka.
//!
//! One `sqlx` code path serves a SQLite file (the default) and PostgreSQL. Every change writes the
//! item, its event (the `contracts` envelope) and its audit line in one transaction. This crate does
//! not search (that is `engine`) and does not issue tokens (that is `auth`); it verifies the caller's
//! role itself rather than trusting a gateway.
#![forbid(unsafe_code)]

mod api;
mod content;
mod error;
mod outbox;
mod relay;
pub mod server;
mod store;

pub use api::CmsApi;
pub use content::{Actor, AuditEntry, Cms, ListFilter, ListPage, MAX_PAGE_SIZE, Target};
pub use error::{CmsError, Result};
pub use outbox::{Backlog, Outbox, OutboxRow};
pub use relay::{RELAY_LEASE, Relay, RelayConfig, RelayError};
pub use store::{Backend, Store, now_millis};
