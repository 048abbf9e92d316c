//! The engine's one error type.

use contracts::{ErrorCode, Problem};

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A search parameter is invalid; `parameter` names it as the HTTP API spells it.
    #[error("{parameter}: {message}")]
    InvalidParameter { parameter: String, message: String },
    /// No visible item has this id.
    #[error("no published item has id {0}")]
    NotFound(String),
    /// Another process holds the index's writer lock.
    #[error("another process is writing this index ({0}); run one indexer per index directory")]
    WriterLocked(String),
    /// The index could not be read or written.
    #[error("index failure: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("index directory failure: {0}")]
    Directory(#[from] tantivy::directory::error::OpenDirectoryError),
    #[error("index file failure: {0}")]
    Io(#[from] std::io::Error),
}

impl EngineError {
    pub fn invalid(parameter: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidParameter { parameter: parameter.into(), message: message.into() }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidParameter { .. } => ErrorCode::InvalidParameter,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::WriterLocked(_) => ErrorCode::Conflict,
            Self::Index(_) | Self::Directory(_) | Self::Io(_) => ErrorCode::Internal,
        }
    }

    /// The problem document an HTTP API answers with.
    pub fn to_problem(&self) -> Problem {
        match self {
            Self::InvalidParameter { parameter, message } => {
                Problem::for_field(self.code(), parameter.clone(), message.clone())
            }
            other => Problem::new(other.code(), other.to_string()),
        }
    }
}
