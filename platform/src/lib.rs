//! Runtime plumbing shared by MediaMesh's services: telemetry, the hyper server skeleton, resilience
//! (retry and circuit breaker) and rate limiting.
//!
//! It holds no domain logic and defines no wire types (those live in `contracts`). The crate is laid
//! out now so the layout is fixed; its contents arrive with the gateway and operations work.
#![forbid(unsafe_code)]
