//! What can go wrong when checking who a caller is and what they may do.

use contracts::{ErrorCode, Problem};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credentials, or credentials that could not be verified.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// Valid credentials without the role the action needs.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A signing key could not be made or read (configuration, not the caller's fault).
    #[error("signing key: {0}")]
    Key(String),
}

pub type Result<T, E = AuthError> = std::result::Result<T, E>;

impl AuthError {
    /// The problem document for an HTTP answer. Why a token was refused stays in the logs: the
    /// caller learns only that it was.
    pub fn to_problem(&self) -> Problem {
        match self {
            Self::Unauthorized(_) => Problem::new(ErrorCode::Unauthorized, "a valid bearer token is required"),
            Self::Forbidden(reason) => Problem::new(ErrorCode::Forbidden, reason.clone()),
            Self::Key(_) => Problem::new(ErrorCode::Internal, "the service cannot sign or verify tokens"),
        }
    }
}
