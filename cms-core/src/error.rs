//! What can go wrong in the content store, and how each failure is answered over HTTP.

use contracts::{DomainError, ErrorCode, Problem};

#[derive(Debug, thiserror::Error)]
pub enum CmsError {
    /// No such item (or it is deleted).
    #[error("{kind} {id} does not exist")]
    NotFound { kind: &'static str, id: String },
    /// `If-Match` named a version that is no longer current.
    #[error("the item is at version {current}, not {expected}")]
    PreconditionFailed { expected: u64, current: u64 },
    /// The change does not fit the item's state, or an idempotency key was reused for another request.
    #[error("{0}")]
    Conflict(String),
    /// A value failed validation.
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// The caller may not do this.
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("store migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored snapshot could not be read back: a bug or a damaged row.
    #[error("stored data: {0}")]
    Data(String),
}

pub type Result<T, E = CmsError> = std::result::Result<T, E>;

impl CmsError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::PreconditionFailed { .. } => ErrorCode::PreconditionFailed,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::Invalid(_) => ErrorCode::ValidationFailed,
            Self::Auth(error) => error.to_problem().code,
            Self::Store(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed) => {
                ErrorCode::Unavailable
            }
            Self::Store(_) | Self::Migration(_) | Self::Data(_) => ErrorCode::Internal,
        }
    }

    /// The problem document for an HTTP answer; internal details stay in the logs.
    pub fn to_problem(&self) -> Problem {
        match self {
            Self::Invalid(error) => Problem::for_field(ErrorCode::ValidationFailed, &error.field, &error.message),
            Self::Auth(error) => error.to_problem(),
            _ => match self.code() {
                ErrorCode::Internal => Problem::new(ErrorCode::Internal, "the content store failed; see the logs"),
                ErrorCode::Unavailable => Problem::new(ErrorCode::Unavailable, "the content store is unreachable"),
                code => Problem::new(code, self.to_string()),
            },
        }
    }
}
