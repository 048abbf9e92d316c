//! `mm-bench`, MediaMesh's latency-tuning harness, as a library: deterministic catalog generation,
//! the import of real catalogs, the query mix, measurement, and the PostgreSQL baseline. The
//! binary (`src/main.rs`) is a thin command line over it; the criterion micro-benchmarks in
//! `benches/` use it too.
//!
//! Nothing here is used by a service at run time, and no figure it prints is asserted in a test:
//! figures go to BENCHMARKS.md.
#![forbid(unsafe_code)]

pub mod catalog;
pub mod http;
pub mod ingest;
pub mod measure;
pub mod pg;
pub mod querymix;
pub mod rng;
pub mod write;
