//! What the public discovery API (gateway-public) answers. With the `openapi` feature each type
//! also describes itself for the OpenAPI document, so the document and the wire format are one
//! declaration.

use serde::{Deserialize, Serialize};

/// One page of a search or browse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchPage {
    /// Exact number of matching items.
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    /// Milliseconds the engine spent computing this page (a cached page repeats its figure).
    pub took_ms: f64,
    pub hits: Vec<SearchHit>,
    pub facets: Facets,
}

/// A published program or episode, with everything needed to render it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    #[cfg_attr(feature = "openapi", schema(format = "uuid"))]
    pub id: String,
    /// `program` or `episode`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(program|episode)$"))]
    pub kind: String,
    /// The program itself for a program; the parent program for an episode.
    #[cfg_attr(feature = "openapi", schema(format = "uuid"))]
    pub program_id: String,
    pub title: String,
    pub description: String,
    pub category: Option<String>,
    pub language: Option<String>,
    pub duration_seconds: Option<u64>,
    /// RFC 3339.
    #[cfg_attr(feature = "openapi", schema(format = "date-time"))]
    pub publish_date: Option<String>,
    #[cfg_attr(feature = "openapi", schema(format = "uri"))]
    pub artwork_url: Option<String>,
    pub highlights: Highlights,
}

/// Title and description with the matched words wrapped in `<em>` (HTML-escaped); null where
/// nothing matched, and always null in a browse.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Highlights {
    pub title: Option<String>,
    pub description: Option<String>,
}

/// Counts per facet value; each facet is counted with every filter applied except its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Facets {
    pub category: Vec<ValueCount>,
    pub language: Vec<ValueCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValueCount {
    pub value: String,
    pub count: u64,
}

/// Title completions for what has been typed so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suggestions {
    pub suggestions: Vec<Suggestion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suggestion {
    #[cfg_attr(feature = "openapi", schema(format = "uuid"))]
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(pattern = "^(program|episode)$"))]
    pub kind: String,
    pub title: String,
}

/// Items like another one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Related {
    pub hits: Vec<SearchHit>,
}

/// Every value of one facet over all published content, with counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FacetValues {
    pub values: Vec<ValueCount>,
}
