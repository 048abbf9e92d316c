//! Runtime plumbing shared by MediaMesh's services: the database connection (one `sqlx` code path
//! over SQLite and PostgreSQL), and, as the services arrive, telemetry, the hyper server skeleton,
//! resilience (retry and circuit breaker) and rate limiting.
//!
//! It holds no domain logic and defines no wire types (those live in `contracts`), and runs no
//! migrations of its own: each service owns its tables.
#![forbid(unsafe_code)]

pub mod db;
pub mod http;
