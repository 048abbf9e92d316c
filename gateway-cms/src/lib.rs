//! The editors' gateway: authenticates, authorises, validates and forwards requests to `cms-core`
//! and `auth`.
//!
//! It stores nothing itself. The crate is laid out now so the layout is fixed; its contents arrive
//! with the gateway work.
#![forbid(unsafe_code)]
