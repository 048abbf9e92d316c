//! gateway-public's tests: the discovery API over a real index fed through the CMS, and (feature
//! `integration`) rate limits shared through real Redis processes.

#[cfg(feature = "integration")]
mod limits;
mod openapi;
mod search;
mod world;
