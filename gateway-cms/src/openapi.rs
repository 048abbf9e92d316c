//! The OpenAPI 3 document served at `/openapi.json`. Content bodies are the `contracts` wire types
//! themselves; the auth service's answers are described here (the conformance test holds them to
//! what the service really sends). The operations mirror [`crate::ROUTES`] and [`crate::rule_for`].
#![allow(dead_code)]

use contracts::{ContentSnapshot, CreateEpisode, CreateProgram, Problem, UpdateEpisode, UpdateProgram};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// `POST /v1/auth/login`.
#[derive(ToSchema)]
struct LoginRequest {
    email: String,
    password: String,
}

/// A refresh token to exchange (refresh) or revoke (logout).
#[derive(ToSchema)]
struct RefreshRequest {
    refresh_token: String,
}

/// A login's or a refresh's answer.
#[derive(ToSchema)]
struct TokenPair {
    access_token: String,
    /// Single use: each refresh returns a new one and revokes this one.
    refresh_token: String,
    /// `Bearer`.
    token_type: String,
    /// Seconds the access token is valid.
    expires_in: i64,
}

#[derive(ToSchema)]
struct LoggedOut {
    logged_out: bool,
}

/// The caller's verified token claims.
#[derive(ToSchema)]
struct Me {
    sub: String,
    email: String,
    /// `USER`, `EDITOR` or `ADMIN`.
    role: String,
    iss: String,
    aud: String,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: String,
}

/// `POST /v1/users`.
#[derive(ToSchema)]
struct NewUser {
    email: String,
    password: String,
    /// `USER`, `EDITOR` or `ADMIN`.
    role: String,
}

/// `PATCH /v1/users/{id}`: only the fields present change.
#[derive(ToSchema)]
struct UserChanges {
    role: Option<String>,
    disabled: Option<bool>,
}

#[derive(ToSchema)]
struct User {
    id: String,
    email: String,
    role: String,
    disabled: bool,
}

#[derive(ToSchema)]
struct UserList {
    users: Vec<User>,
}

/// A page of content, newest change first.
#[derive(ToSchema)]
struct ContentPage {
    total: u64,
    page: u32,
    per_page: u32,
    items: Vec<ContentSnapshot>,
}

#[derive(ToSchema)]
struct AuditEntry {
    seq: i64,
    #[schema(format = DateTime)]
    at: String,
    actor: String,
    action: String,
    item_kind: String,
    item_id: String,
    from_version: Option<u64>,
    to_version: Option<u64>,
}

#[derive(ToSchema)]
struct AuditPage {
    entries: Vec<AuditEntry>,
}

/// Exchanges credentials for an access token and a refresh token (5 a minute per address and email).
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Tokens", body = TokenPair),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ))]
fn login() {}

/// Exchanges a refresh token for new tokens (rotation: the old refresh token stops working).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", security(()),
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenPair),
        (status = 401, description = "Unknown, used or expired refresh token", body = Problem, content_type = "application/problem+json"),
    ))]
fn refresh() {}

/// Revokes a refresh token.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "Logged out", body = LoggedOut),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ))]
fn logout() {}

/// The caller's claims.
#[utoipa::path(get, path = "/v1/auth/me", tag = "auth",
    responses(
        (status = 200, description = "Claims", body = Me),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ))]
fn me() {}

/// Creates a user (ADMIN).
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = User),
        (status = 403, description = "Not an ADMIN", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json"),
    ))]
fn create_user() {}

/// Lists users (ADMIN).
#[utoipa::path(get, path = "/v1/users", tag = "users",
    responses(
        (status = 200, description = "Users", body = UserList),
        (status = 403, description = "Not an ADMIN", body = Problem, content_type = "application/problem+json"),
    ))]
fn list_users() {}

/// Changes a user's role or disables them (ADMIN).
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", request_body = UserChanges,
    params(("id" = String, Path, description = "The user's id")),
    responses(
        (status = 200, description = "Changed", body = User),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
fn update_user() {}

/// Creates a program (EDITOR). Honours `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/programs", tag = "content", request_body = CreateProgram,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeats with the same key create one program")),
    responses(
        (status = 201, description = "Created; Location and ETag name it", body = ContentSnapshot),
        (status = 403, description = "Not an EDITOR", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "cms-core is unavailable; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
fn create_program() {}

/// Lists programs in any state (EDITOR).
#[utoipa::path(get, path = "/v1/programs", tag = "content",
    params(
        ("status" = Option<String>, Query), ("category" = Option<String>, Query), ("language" = Option<String>, Query),
        ("q" = Option<String>, Query), ("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query),
    ),
    responses(
        (status = 200, description = "A page", body = ContentPage),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
    ))]
fn list_programs() {}

/// One program in any state (EDITOR).
#[utoipa::path(get, path = "/v1/programs/{id}", tag = "content", params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The program; ETag is its version", body = ContentSnapshot),
        (status = 404, description = "No such program", body = Problem, content_type = "application/problem+json"),
    ))]
fn get_program() {}

/// Changes a program (EDITOR); `If-Match` makes it conditional.
#[utoipa::path(patch, path = "/v1/programs/{id}", tag = "content", request_body = UpdateProgram,
    params(("id" = String, Path, format = Uuid), ("If-Match" = Option<String>, Header)),
    responses(
        (status = 200, description = "Changed", body = ContentSnapshot),
        (status = 412, description = "The version changed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
    ))]
fn update_program() {}

/// Deletes a program and its episodes (EDITOR).
#[utoipa::path(delete, path = "/v1/programs/{id}", tag = "content", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "Deleted", body = ContentSnapshot)))]
fn delete_program() {}

/// Publishes a program (EDITOR); with a future publish date it is scheduled.
#[utoipa::path(post, path = "/v1/programs/{id}/publish", tag = "content", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "Published or scheduled", body = ContentSnapshot)))]
fn publish_program() {}

/// Unpublishes a program (EDITOR); its episodes leave discovery with it.
#[utoipa::path(post, path = "/v1/programs/{id}/unpublish", tag = "content", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "Unpublished", body = ContentSnapshot)))]
fn unpublish_program() {}

/// Creates an episode of a program (EDITOR). Honours `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/programs/{id}/episodes", tag = "content", request_body = CreateEpisode,
    params(("id" = String, Path, format = Uuid), ("Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 201, description = "Created", body = ContentSnapshot),
        (status = 404, description = "No such program", body = Problem, content_type = "application/problem+json"),
    ))]
fn create_episode() {}

/// A program's episodes in any state (EDITOR).
#[utoipa::path(get, path = "/v1/programs/{id}/episodes", tag = "content", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "A page", body = ContentPage)))]
fn list_episodes() {}

/// One episode (EDITOR).
#[utoipa::path(get, path = "/v1/episodes/{id}", tag = "content", params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The episode", body = ContentSnapshot),
        (status = 404, description = "No such episode", body = Problem, content_type = "application/problem+json"),
    ))]
fn get_episode() {}

/// Changes an episode (EDITOR).
#[utoipa::path(patch, path = "/v1/episodes/{id}", tag = "content", request_body = UpdateEpisode,
    params(("id" = String, Path, format = Uuid), ("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "Changed", body = ContentSnapshot)))]
fn update_episode() {}

/// Deletes an episode (EDITOR).
#[utoipa::path(delete, path = "/v1/episodes/{id}", tag = "content", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "Deleted", body = ContentSnapshot)))]
fn delete_episode() {}

/// Publishes an episode (EDITOR).
#[utoipa::path(post, path = "/v1/episodes/{id}/publish", tag = "content", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "Published or scheduled", body = ContentSnapshot)))]
fn publish_episode() {}

/// Unpublishes an episode (EDITOR).
#[utoipa::path(post, path = "/v1/episodes/{id}/unpublish", tag = "content", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "Unpublished", body = ContentSnapshot)))]
fn unpublish_episode() {}

/// The audit log (ADMIN).
#[utoipa::path(get, path = "/v1/audit", tag = "content",
    params(("item_id" = Option<String>, Query), ("after" = Option<i64>, Query), ("limit" = Option<u32>, Query)),
    responses(
        (status = 200, description = "Entries", body = AuditPage),
        (status = 403, description = "Not an ADMIN", body = Problem, content_type = "application/problem+json"),
    ))]
fn audit() {}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
fn openapi() {}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()), responses((status = 200, description = "Alive")))]
fn healthz() {}

/// Readiness: auth and cms-core answer, Redis state.
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()),
    responses((status = 200, description = "Ready"), (status = 503, description = "Not ready")))]
fn readyz() {}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations", security(()),
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
fn metrics() {}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "MediaMesh CMS API", description = "Editing programs and episodes, users and tokens. Every route but login, refresh and operations needs a bearer token."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    paths(
        login, refresh, logout, me, create_user, list_users, update_user,
        create_program, list_programs, get_program, update_program, delete_program, publish_program, unpublish_program,
        create_episode, list_episodes, get_episode, update_episode, delete_episode, publish_episode, unpublish_episode,
        audit, openapi, healthz, readyz, metrics,
    ),
)]
struct Document;

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    Document::openapi()
}
