//! Identity for MediaMesh: users, login, refresh-token rotation, JWT issuing, and the verification
//! library (`Claims`, `Role`, role guards) that gateways and services share.
//!
//! The crate is laid out now so the layout is fixed; its contents arrive with the auth work.
#![forbid(unsafe_code)]
