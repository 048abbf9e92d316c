//! The OpenAPI 3 document served at `/openapi.json`. The response schemas are the wire types
//! themselves (`contracts`, feature `openapi`); the operations below mirror [`crate::ROUTES`], and a
//! test checks every route is documented and every documented answer matches its schema.
#![allow(dead_code)]

use contracts::{FacetValues, Problem, Related, SearchHit, SearchPage, Suggestions};
use utoipa::{IntoParams, OpenApi};

/// Filters, order and paging, shared by search, browse and a program's episodes.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
struct Filters {
    /// `program` or `episode`.
    kind: Option<String>,
    /// Category slug; repeat (or comma-separate) for any of several.
    category: Option<Vec<String>>,
    /// Language code (ISO 639-1); repeat (or comma-separate) for any of several.
    language: Option<Vec<String>>,
    /// `relevance` (default with text), `newest` (default without), `oldest`, `duration`, `duration_desc`.
    sort: Option<String>,
    /// Shortest duration, in seconds.
    min_duration: Option<u64>,
    /// Longest duration, in seconds.
    max_duration: Option<u64>,
    /// RFC 3339 date-time or `YYYY-MM-DD`, inclusive.
    published_after: Option<String>,
    /// RFC 3339 date-time or `YYYY-MM-DD`, inclusive.
    published_before: Option<String>,
    /// 1-based; `page * per_page` may reach 10,000.
    page: Option<u32>,
    /// 1 to 100 (default 20).
    per_page: Option<u32>,
}

/// Search with text: words, `"phrases"`, `-excluded` words; the last word may be unfinished.
#[utoipa::path(get, path = "/v1/search", tag = "discovery",
    params(("q" = Option<String>, Query, description = "The text (at most 1,000 characters)"), Filters),
    responses(
        (status = 200, description = "A page of hits with facet counts", body = SearchPage),
        (status = 400, description = "A parameter is invalid (named in `errors`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The bearer token is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
fn search() {}

/// Browse published content by filters alone (newest first by default).
#[utoipa::path(get, path = "/v1/browse", tag = "discovery",
    params(Filters),
    responses(
        (status = 200, description = "A page of items with facet counts", body = SearchPage),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ))]
fn browse() {}

/// Title completions for what has been typed so far.
#[utoipa::path(get, path = "/v1/suggest", tag = "discovery",
    params(
        ("q" = String, Query, description = "What has been typed"),
        ("limit" = Option<u32>, Query, description = "1 to 20 (default 10)"),
    ),
    responses(
        (status = 200, description = "Completions, best first", body = Suggestions),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ))]
fn suggest() {}

/// One published program.
#[utoipa::path(get, path = "/v1/programs/{id}", tag = "discovery",
    params(("id" = String, Path, format = Uuid, description = "The program's id")),
    responses(
        (status = 200, description = "The program", body = SearchHit),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No published program has this id", body = Problem, content_type = "application/problem+json"),
    ))]
fn program() {}

/// A published program's published episodes.
#[utoipa::path(get, path = "/v1/programs/{id}/episodes", tag = "discovery",
    params(("id" = String, Path, format = Uuid, description = "The program's id"), ("q" = Option<String>, Query, description = "Text within the program's episodes"), Filters),
    responses(
        (status = 200, description = "A page of episodes", body = SearchPage),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No published program has this id", body = Problem, content_type = "application/problem+json"),
    ))]
fn program_episodes() {}

/// Published items like this program.
#[utoipa::path(get, path = "/v1/programs/{id}/related", tag = "discovery",
    params(("id" = String, Path, format = Uuid, description = "The program's id"), ("limit" = Option<u32>, Query, description = "1 to 50 (default 10)")),
    responses(
        (status = 200, description = "Related items, most alike first", body = Related),
        (status = 404, description = "No published program has this id", body = Problem, content_type = "application/problem+json"),
    ))]
fn program_related() {}

/// One published episode.
#[utoipa::path(get, path = "/v1/episodes/{id}", tag = "discovery",
    params(("id" = String, Path, format = Uuid, description = "The episode's id")),
    responses(
        (status = 200, description = "The episode", body = SearchHit),
        (status = 404, description = "No published episode has this id", body = Problem, content_type = "application/problem+json"),
    ))]
fn episode() {}

/// Every category with published content, with counts.
#[utoipa::path(get, path = "/v1/categories", tag = "discovery",
    responses((status = 200, description = "Categories by count", body = FacetValues)))]
fn categories() {}

/// Every language with published content, with counts.
#[utoipa::path(get, path = "/v1/languages", tag = "discovery",
    responses((status = 200, description = "Languages by count", body = FacetValues)))]
fn languages() {}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
fn openapi() {}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive")))]
fn healthz() {}

/// Readiness, with the state of the index and Redis.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready"), (status = 503, description = "Not ready")))]
fn readyz() {}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
fn metrics() {}

#[derive(OpenApi)]
#[openapi(
    info(title = "MediaMesh discovery API", description = "Search and browse published podcasts and documentaries."),
    paths(
        search,
        browse,
        suggest,
        program,
        program_episodes,
        program_related,
        episode,
        categories,
        languages,
        openapi,
        healthz,
        readyz,
        metrics
    )
)]
struct Document;

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    Document::openapi()
}
