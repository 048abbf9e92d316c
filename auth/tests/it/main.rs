//! The auth service against a real store: a SQLite file always, PostgreSQL too with the
//! `integration` feature.

mod api;
mod service;
