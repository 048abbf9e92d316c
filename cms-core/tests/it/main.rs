//! cms-core against a real store: a SQLite file always, PostgreSQL too with the `integration`
//! feature. Every workflow test runs on each backend. The relay tests need a real broker (tansu,
//! which scripts/test.sh installs), so they run with `integration` only.

mod api;
#[cfg(feature = "integration")]
mod relay;
mod support;
mod workflow;
