//! cms-core against a real store: a SQLite file always, PostgreSQL too with the `integration`
//! feature. Every test runs on each backend.

mod support;
mod workflow;
