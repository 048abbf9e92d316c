//! Stable error codes and the RFC 9457 problem document every MediaMesh API returns on failure.

use serde::{Deserialize, Serialize};

/// A machine-readable error code. The string form (`as_str`) is part of the public API: clients
/// match on it, so a code is never renamed or reused for another meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ErrorCode {
    /// The request body is not valid JSON or has the wrong shape.
    MalformedBody,
    /// A field of the body failed validation.
    ValidationFailed,
    /// A query-string or path parameter is invalid or out of range.
    InvalidParameter,
    /// The body is larger than the service accepts.
    PayloadTooLarge,
    /// No credentials, or credentials that could not be verified.
    Unauthorized,
    /// Valid credentials without the role the route needs.
    Forbidden,
    /// The addressed item does not exist (or is not visible to the caller).
    NotFound,
    /// The route exists, but not with this HTTP method.
    MethodNotAllowed,
    /// `If-Match` named a version that is no longer current.
    PreconditionFailed,
    /// The write conflicts with the current state of the item.
    Conflict,
    /// Too many requests for the caller's rate-limit policy.
    RateLimited,
    /// A dependency is down or the circuit breaker is open; retry later.
    Unavailable,
    /// A bug or an unexpected failure on our side.
    Internal,
}

impl ErrorCode {
    /// The stable string clients match on.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedBody => "malformed_body",
            Self::ValidationFailed => "validation_failed",
            Self::InvalidParameter => "invalid_parameter",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PreconditionFailed => "precondition_failed",
            Self::Conflict => "conflict",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status this code is answered with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::MalformedBody | Self::InvalidParameter => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::PreconditionFailed => 412,
            Self::PayloadTooLarge => 413,
            Self::ValidationFailed => 422,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }

    /// A short, human-readable summary used as the problem's `title`.
    pub fn title(self) -> &'static str {
        match self {
            Self::MalformedBody => "malformed request body",
            Self::ValidationFailed => "validation failed",
            Self::InvalidParameter => "invalid parameter",
            Self::PayloadTooLarge => "payload too large",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not found",
            Self::MethodNotAllowed => "method not allowed",
            Self::PreconditionFailed => "precondition failed",
            Self::Conflict => "conflict",
            Self::RateLimited => "too many requests",
            Self::Unavailable => "service unavailable",
            Self::Internal => "internal error",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field at fault, named by its JSON path (`title`, `episodes[3].duration_seconds`) or by its
/// query parameter (`per_page`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// An RFC 9457 `application/problem+json` document with MediaMesh's extension members `code` and
/// `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: ErrorCode,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Seconds the client should wait before retrying; sent as the `Retry-After` header, not in
    /// the body.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// The media type problem documents are served with.
    pub const CONTENT_TYPE: &'static str = "application/problem+json";

    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            type_uri: format!("https://mediamesh.dev/problems/{}", code.as_str()),
            title: code.title().to_owned(),
            status: code.http_status(),
            detail: detail.into(),
            code,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// A problem about one field; the field is named both in `detail` and in `errors`.
    pub fn for_field(code: ErrorCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        let mut problem = Self::new(code, format!("{field}: {message}"));
        problem.errors.push(FieldError { field, message });
        problem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_names_the_field_and_serialises_as_rfc9457() {
        let problem = Problem::for_field(ErrorCode::InvalidParameter, "per_page", "must be 1 to 100");
        let json = serde_json::to_value(&problem).expect("problem serialises");
        insta::assert_json_snapshot!(json, @r#"
        {
          "code": "invalid_parameter",
          "detail": "per_page: must be 1 to 100",
          "errors": [
            {
              "field": "per_page",
              "message": "must be 1 to 100"
            }
          ],
          "status": 400,
          "title": "invalid parameter",
          "type": "https://mediamesh.dev/problems/invalid_parameter"
        }
        "#);
    }

    #[test]
    fn codes_round_trip_through_their_stable_strings() {
        for code in [ErrorCode::MalformedBody, ErrorCode::PreconditionFailed, ErrorCode::Unavailable] {
            let json = serde_json::to_string(&code).expect("code serialises");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
