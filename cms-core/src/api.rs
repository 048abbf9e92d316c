//! The CMS's internal HTTP API (hyper 1.x), which gateway-cms fronts. It is safe on its own: every
//! request but `/healthz` needs a valid bearer token, roles are checked here, bodies are bounded and
//! validated, and every failure is `application/problem+json` naming the field at fault.
//!
//! Routes: `POST|GET /v1/programs`, `GET|PATCH|DELETE /v1/programs/{id}`,
//! `POST /v1/programs/{id}/publish|unpublish`, `POST|GET /v1/programs/{id}/episodes`,
//! `GET|PATCH|DELETE /v1/episodes/{id}`, `POST /v1/episodes/{id}/publish|unpublish`, `GET /v1/audit`,
//! `GET /healthz`. Responses about one item carry its version as a strong `ETag`; `PATCH`,
//! `DELETE` and publishing honour `If-Match` (412 when stale); `POST` creates honour
//! `Idempotency-Key`.

use std::sync::Arc;

use auth::{Claims, Keys};
use contracts::{
    AuditParams, ContentKind, ContentSnapshot, CreateEpisode, CreateProgram, ErrorCode, ListParams, Problem,
    UpdateEpisode, UpdateProgram,
};
use http::header::{ETAG, LOCATION};
use http::{HeaderValue, Method, StatusCode};
use platform::http::{
    MAX_BODY_BYTES, Request, Response, Routes, answer, authorization, header, json, method_not_allowed, parse_json,
    query_pairs, read_body,
};
use uuid::Uuid;

use crate::content::{Actor, Cms, ListFilter, Target};
use crate::error::CmsError;

/// The routes, resolved once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Health,
    Ready,
    Metrics,
    Programs,
    Program,
    ProgramPublish,
    ProgramUnpublish,
    ProgramEpisodes,
    Episode,
    EpisodePublish,
    EpisodeUnpublish,
    Audit,
}

/// The CMS API: the content service and the verifier for its callers' tokens.
pub struct CmsApi {
    cms: Cms,
    keys: Keys,
    routes: Routes<Route>,
    /// The relay's brokers, which `/readyz` checks.
    brokers: Option<String>,
}

impl std::fmt::Debug for CmsApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CmsApi").finish_non_exhaustive()
    }
}

impl CmsApi {
    /// `keys` may be one fixed verifier or a set that follows the auth service's rotations.
    pub fn new(cms: Cms, keys: impl Into<Keys>) -> Arc<Self> {
        Self::with_broker(cms, keys, None)
    }

    /// The API of a cms-core that relays to `brokers` (its readiness includes them).
    pub fn with_broker(cms: Cms, keys: impl Into<Keys>, brokers: Option<String>) -> Arc<Self> {
        let routes = Routes::new(&[
            ("/healthz", Route::Health),
            ("/readyz", Route::Ready),
            ("/metrics", Route::Metrics),
            ("/v1/programs", Route::Programs),
            ("/v1/programs/{id}", Route::Program),
            ("/v1/programs/{id}/publish", Route::ProgramPublish),
            ("/v1/programs/{id}/unpublish", Route::ProgramUnpublish),
            ("/v1/programs/{id}/episodes", Route::ProgramEpisodes),
            ("/v1/episodes/{id}", Route::Episode),
            ("/v1/episodes/{id}/publish", Route::EpisodePublish),
            ("/v1/episodes/{id}/unpublish", Route::EpisodeUnpublish),
            ("/v1/audit", Route::Audit),
        ]);
        Arc::new(Self { cms, keys: keys.into(), routes, brokers })
    }

    /// Answers one request.
    pub async fn handle(self: Arc<Self>, request: Request) -> Response {
        let template = self.routes.template(request.uri().path());
        let mut response = answer(self.route(request).await);
        response.extensions_mut().insert(template);
        response
    }

    async fn route(&self, request: Request) -> Result<Response, Problem> {
        let (route, id) = self.routes.resolve(request.uri().path())?;
        let id = id.as_deref().map(parse_id).transpose()?;
        match route {
            Route::Health => return Ok(json(StatusCode::OK, &serde_json::json!({"status": "ok"}))),
            Route::Ready => return Ok(self.readiness().await),
            Route::Metrics => {
                return platform::metrics::current()
                    .ok_or_else(|| Problem::new(ErrorCode::NotFound, "metrics are not recorded in this process"));
            }
            _ => {}
        }
        let claims = self.authenticate(&request).await?;
        let actor = Actor::from_claims(&claims);
        let method = request.method().clone();
        // This hop's trace context (a child of the caller's), which the outbox passes on to Kafka.
        let traceparent = request.extensions().get::<platform::telemetry::TraceContext>().map(|c| c.header());
        let trace = traceparent.as_deref();
        let if_match = if_match(&request)?;
        let cms = &self.cms;
        match (route, method, id) {
            (Route::Programs, Method::POST, None) => {
                let key = header(request.headers(), "idempotency-key").map(str::to_owned);
                let (parts, body) = read_body(request, MAX_BODY_BYTES).await?;
                let input: CreateProgram = parse_json(&parts.headers, &body)?;
                let program = cms.create_program(&actor, input, key.as_deref(), trace).await.map_err(failure)?;
                Ok(created("/v1/programs", ContentSnapshot::Program(program)))
            }
            (Route::Programs, Method::GET, None) => list(cms, &actor, &request, Some(ContentKind::Program), None).await,
            (Route::ProgramEpisodes, Method::POST, Some(program_id)) => {
                let key = header(request.headers(), "idempotency-key").map(str::to_owned);
                let (parts, body) = read_body(request, MAX_BODY_BYTES).await?;
                let input: CreateEpisode = parse_json(&parts.headers, &body)?;
                let episode =
                    cms.create_episode(&actor, program_id, input, key.as_deref(), trace).await.map_err(failure)?;
                Ok(created("/v1/episodes", ContentSnapshot::Episode(episode)))
            }
            (Route::ProgramEpisodes, Method::GET, Some(program_id)) => {
                // A listing of a program that does not exist is a 404, not an empty page.
                expect_kind(cms.get(&actor, program_id).await.map_err(failure)?, ContentKind::Program, program_id)?;
                list(cms, &actor, &request, Some(ContentKind::Episode), Some(program_id)).await
            }
            (Route::Program | Route::Episode, Method::GET, Some(id)) => {
                let kind = if route == Route::Program { ContentKind::Program } else { ContentKind::Episode };
                let item = expect_kind(cms.get(&actor, id).await.map_err(failure)?, kind, id)?;
                Ok(item_response(StatusCode::OK, &item))
            }
            (Route::Program, Method::PATCH, Some(id)) => {
                let (parts, body) = read_body(request, MAX_BODY_BYTES).await?;
                let changes: UpdateProgram = parse_json(&parts.headers, &body)?;
                let program = cms.update_program(&actor, id, changes, if_match, trace).await.map_err(failure)?;
                Ok(item_response(StatusCode::OK, &ContentSnapshot::Program(program)))
            }
            (Route::Episode, Method::PATCH, Some(id)) => {
                let (parts, body) = read_body(request, MAX_BODY_BYTES).await?;
                let changes: UpdateEpisode = parse_json(&parts.headers, &body)?;
                let episode = cms.update_episode(&actor, id, changes, if_match, trace).await.map_err(failure)?;
                Ok(item_response(StatusCode::OK, &ContentSnapshot::Episode(episode)))
            }
            (Route::Program | Route::Episode, Method::DELETE, Some(id)) => {
                let kind = if route == Route::Program { ContentKind::Program } else { ContentKind::Episode };
                let item = cms.delete(&actor, Target::new(id, kind), if_match, trace).await.map_err(failure)?;
                Ok(item_response(StatusCode::OK, &item))
            }
            (Route::ProgramPublish | Route::EpisodePublish, Method::POST, Some(id)) => {
                let kind = if route == Route::ProgramPublish { ContentKind::Program } else { ContentKind::Episode };
                let item = cms.publish(&actor, Target::new(id, kind), if_match, trace).await.map_err(failure)?;
                Ok(item_response(StatusCode::OK, &item))
            }
            (Route::ProgramUnpublish | Route::EpisodeUnpublish, Method::POST, Some(id)) => {
                let kind = if route == Route::ProgramUnpublish { ContentKind::Program } else { ContentKind::Episode };
                let item = cms.unpublish(&actor, Target::new(id, kind), if_match, trace).await.map_err(failure)?;
                Ok(item_response(StatusCode::OK, &item))
            }
            (Route::Audit, Method::GET, None) => {
                let AuditParams { item, after, limit } = AuditParams::from_pairs(query_pairs(request.uri()))?;
                let entries = cms.audit(&actor, item, after, limit).await.map_err(failure)?;
                Ok(json(StatusCode::OK, &serde_json::json!({ "entries": entries })))
            }
            _ => Err(method_not_allowed()),
        }
    }

    /// `/readyz`: the store answers, and the brokers when it relays; the outbox backlog says
    /// whether the relay keeps up.
    async fn readiness(&self) -> Response {
        let outbox = crate::Outbox::new(self.cms.store().clone());
        let mut ready = true;
        let mut checks = serde_json::Map::new();
        match outbox.backlog().await {
            Ok(backlog) => {
                checks.insert("store".into(), serde_json::json!({"ok": true}));
                checks.insert(
                    "outbox".into(),
                    serde_json::json!({"unsent": backlog.rows, "oldest_age_ms": backlog.oldest_age_millis}),
                );
            }
            Err(error) => {
                ready = false;
                checks.insert("store".into(), serde_json::json!({"ok": false, "error": error.to_string()}));
            }
        }
        if let Some(brokers) = &self.brokers {
            let broker = crate::server::broker_reachable(brokers).await;
            ready &= broker.is_ok();
            checks.insert(
                "broker".into(),
                match broker {
                    Ok(()) => serde_json::json!({"ok": true}),
                    Err(error) => serde_json::json!({"ok": false, "error": error}),
                },
            );
        }
        let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
        json(status, &serde_json::json!({"status": if ready { "ready" } else { "unready" }, "checks": checks}))
    }

    async fn authenticate(&self, request: &Request) -> Result<Claims, Problem> {
        let authorization = authorization(request.headers())?;
        self.keys.verifier().verify_bearer(authorization).map_err(|error| {
            tracing::info!(error = %error, "token refused");
            error.to_problem()
        })
    }
}

async fn list(
    cms: &Cms,
    actor: &Actor,
    request: &Request,
    kind: Option<ContentKind>,
    program_id: Option<Uuid>,
) -> Result<Response, Problem> {
    let filter = list_filter(request.uri(), kind, program_id)?;
    let page = cms.list(actor, &filter).await.map_err(failure)?;
    Ok(json(StatusCode::OK, &page))
}

/// The filter a list route's query string asks for, or a 400 problem naming the parameter.
fn list_filter(uri: &http::Uri, kind: Option<ContentKind>, program_id: Option<Uuid>) -> Result<ListFilter, Problem> {
    Ok(ListFilter { kind, program_id, params: ListParams::from_pairs(query_pairs(uri))? })
}

/// A `201 Created` with `Location` and `ETag`.
fn created(base: &str, item: ContentSnapshot) -> Response {
    let mut response = item_response(StatusCode::CREATED, &item);
    if let Ok(location) = HeaderValue::from_str(&format!("{base}/{}", item.id())) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// One item with its version as a strong `ETag`.
fn item_response(status: StatusCode, item: &ContentSnapshot) -> Response {
    let mut response = json(status, item);
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", item.version())) {
        response.headers_mut().insert(ETAG, etag);
    }
    response
}

/// The version `If-Match` names (`"3"`, `W/"3"` is refused: versions are strong validators).
fn if_match(request: &Request) -> Result<Option<u64>, Problem> {
    let Some(value) = header(request.headers(), "if-match") else { return Ok(None) };
    let value = value.trim();
    if value == "*" {
        return Ok(None);
    }
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| invalid_param("If-Match", "must be the item's ETag, such as \"3\""))
}

fn expect_kind(item: ContentSnapshot, kind: ContentKind, id: Uuid) -> Result<ContentSnapshot, Problem> {
    if item.kind() == kind {
        Ok(item)
    } else {
        Err(Problem::new(ErrorCode::NotFound, format!("{} {id} does not exist", kind.as_str())))
    }
}

fn parse_id(text: &str) -> Result<Uuid, Problem> {
    parse_param_id("id", text)
}

fn parse_param_id(name: &str, text: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(text).map_err(|_| invalid_param(name, "must be a UUID"))
}

fn invalid_param(name: &str, message: &str) -> Problem {
    Problem::for_field(ErrorCode::InvalidParameter, name, message)
}

/// A service failure as a problem; internal ones are logged with their cause.
fn failure(error: CmsError) -> Problem {
    let problem = error.to_problem();
    if problem.status >= 500 {
        tracing::error!(error = %error, "cms request failed");
    }
    problem
}
