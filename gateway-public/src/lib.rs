//! The public discovery gateway: embeds the `engine` as a reader of the index and serves the
//! search and browse HTTP API.
//!
//! It never writes the index and never talks to the CMS. The crate is laid out now so the layout is
//! fixed; its contents arrive with the gateway work.
#![forbid(unsafe_code)]
