//! The content store behind the CMS: programs and episodes, the editorial workflow, and the
//! transactional outbox that feeds Kafka.
//!
//! It does not search (that is `engine`) and does not issue tokens (that is `auth`). The crate is laid
//! out now so the layout is fixed; its contents arrive with the CMS work.
#![forbid(unsafe_code)]
