//! The harness's integration tests: the real Netflix catalog through `import-csv` and the engine
//! (relevance on real text), and the PostgreSQL baseline against a real server (`integration`).

mod netflix;
#[cfg(feature = "integration")]
mod postgres;
