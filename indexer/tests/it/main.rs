//! The indexer against a real broker (tansu) and the real CMS write path.

#[cfg(feature = "integration")]
mod kafka;
