//! The indexer against the real CMS write path: fed from its outbox (embedded mode), and through
//! the relay and a real broker (tansu; `integration` feature).

mod cms;
mod embedded;
#[cfg(feature = "integration")]
mod kafka;
#[cfg(feature = "integration")]
mod process;
