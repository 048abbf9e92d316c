//! The public discovery gateway: embeds the `engine` as a reader of the index the indexer writes
//! and serves the search and browse HTTP API.
//!
//! It never writes the index and never talks to the CMS. Anonymous use is allowed; a valid token
//! (USER, EDITOR or ADMIN) raises the caller's rate limit, an invalid one is refused (401). Every
//! answer is cacheable by CDNs (`Cache-Control`, strong `ETag`, `Surrogate-Key`), and a page is
//! computed once per index commit: repeats are served from memory until the next commit.
#![forbid(unsafe_code)]

pub mod cdn;
pub mod openapi;
pub mod server;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth::{Claims, Keys};
use bytes::Bytes;
use contracts::{
    ErrorCode, FacetValues, Facets, Highlights, Problem, Related, SearchHit, SearchPage, Suggestion, Suggestions,
    ValueCount,
};
use engine::{Engine, EngineError, Replica, SearchRequest};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::Full;
use platform::http::{Request, Response, Routes, client_ip, header, json, problem, query_pairs};
use platform::ratelimit::{Policies, Policy, RateLimiter};
use uuid::Uuid;

use crate::cdn::{CachePolicy, Cors};

/// The routes, resolved once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Search,
    Browse,
    Suggest,
    Program,
    ProgramEpisodes,
    ProgramRelated,
    Episode,
    Categories,
    Languages,
    OpenApi,
    Health,
    Ready,
    Metrics,
}

/// Every route with its path template (matchit syntax); the OpenAPI test checks the document
/// against this table.
pub const ROUTES: &[(&str, Route)] = &[
    ("/v1/search", Route::Search),
    ("/v1/browse", Route::Browse),
    ("/v1/suggest", Route::Suggest),
    ("/v1/programs/{id}", Route::Program),
    ("/v1/programs/{id}/episodes", Route::ProgramEpisodes),
    ("/v1/programs/{id}/related", Route::ProgramRelated),
    ("/v1/episodes/{id}", Route::Episode),
    ("/v1/categories", Route::Categories),
    ("/v1/languages", Route::Languages),
    ("/openapi.json", Route::OpenApi),
    ("/healthz", Route::Health),
    ("/readyz", Route::Ready),
    ("/metrics", Route::Metrics),
];

impl Route {
    /// Content routes are limited, cached and CORS-enabled; the operational ones are not.
    fn is_content(self) -> bool {
        !matches!(self, Self::OpenApi | Self::Health | Self::Ready | Self::Metrics)
    }

    /// The rate-limit policy family: search-like routes cost more than lookups.
    fn policy_family(self) -> &'static str {
        match self {
            Self::Search | Self::Suggest => "search",
            _ => "browse",
        }
    }
}

/// The rate limits gateway-public applies unless configured otherwise: per client IP for anonymous
/// callers, per user (`*_user`) for callers with a valid token.
pub fn default_policies() -> Policies {
    let second = Duration::from_secs(1);
    Policies::new([
        Policy::new("search", 20, second, 40),
        Policy::new("search_user", 100, second, 200),
        Policy::new("browse", 50, second, 100),
        Policy::new("browse_user", 250, second, 500),
    ])
}

/// How gateway-public behaves.
#[derive(Debug, Clone)]
pub struct PublicConfig {
    pub cache: CachePolicy,
    /// Artwork URLs are rewritten onto this base when set (`MEDIAMESH_CDN_BASE_URL`).
    pub cdn_base_url: Option<String>,
    pub cors: Cors,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    pub policies: Policies,
    /// Off for load tests of the engine path alone.
    pub rate_limits: bool,
    /// Bytes of rendered pages kept per index commit.
    pub page_cache_bytes: u64,
}

impl Default for PublicConfig {
    fn default() -> Self {
        Self {
            cache: CachePolicy::default(),
            cdn_base_url: None,
            cors: Cors::Any,
            trusted_proxies: Vec::new(),
            policies: default_policies(),
            rate_limits: true,
            page_cache_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A rendered answer, shared by every request for the same page under the same commit.
#[derive(Debug)]
struct Page {
    body: Bytes,
    etag: HeaderValue,
    surrogate_keys: HeaderValue,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PageKey {
    generation: String,
    commit: u64,
    route: Route,
    id: Option<Uuid>,
    query: String,
}

/// The discovery API.
pub struct PublicApi {
    replica: Arc<Replica>,
    keys: Option<Keys>,
    limiter: RateLimiter,
    config: PublicConfig,
    routes: Routes<Route>,
    pages: moka::sync::Cache<PageKey, Arc<Page>>,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    openapi: Bytes,
    /// `Cache-Control` for content answers, rendered once.
    cache_control: HeaderValue,
}

impl std::fmt::Debug for PublicApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicApi").field("replica", &self.replica).field("limiter", &self.limiter).finish()
    }
}

impl PublicApi {
    /// `keys` verifies callers' tokens; without keys every token is refused (anonymous use still
    /// works). `metrics` is the process's recorder, served at `/metrics`.
    pub fn new(
        replica: Arc<Replica>,
        keys: Option<Keys>,
        limiter: RateLimiter,
        config: PublicConfig,
        metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> Arc<Self> {
        let pages = moka::sync::Cache::builder()
            .max_capacity(config.page_cache_bytes)
            .weigher(|key: &PageKey, page: &Arc<Page>| {
                u32::try_from(page.body.len() + key.query.len() + 128).unwrap_or(u32::MAX)
            })
            .build();
        let openapi = Bytes::from(openapi::document().to_json().unwrap_or_default());
        let cache_control = config.cache.header();
        Arc::new(Self {
            replica,
            keys,
            limiter,
            config,
            routes: Routes::new(ROUTES),
            pages,
            metrics,
            openapi,
            cache_control,
        })
    }

    pub fn replica(&self) -> &Arc<Replica> {
        &self.replica
    }

    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// Answers one request.
    pub async fn handle(self: Arc<Self>, request: Request) -> Response {
        self.routes.dispatch(request, |route, id, request| self.route(route, id, request)).await
    }

    async fn route(&self, route: Route, id: Option<String>, request: Request) -> Response {
        if !route.is_content() {
            return self.operational(route, &request).await;
        }
        let origin = header(request.headers(), "origin").map(str::to_owned);
        let mut response = match *request.method() {
            Method::OPTIONS => {
                let mut response = empty(StatusCode::NO_CONTENT);
                self.config.cors.preflight(origin.as_deref(), response.headers_mut());
                return response;
            }
            Method::GET | Method::HEAD => self.content(route, id, &request).await,
            _ => {
                let mut response = problem(&platform::http::method_not_allowed());
                response.headers_mut().insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
                response
            }
        };
        self.config.cors.apply(origin.as_deref(), response.headers_mut());
        response
    }

    async fn content(&self, route: Route, id: Option<String>, request: &Request) -> Response {
        let claims = match self.authenticate(request.headers()) {
            Ok(claims) => claims,
            Err(refused) => return no_store(problem(&refused)),
        };
        let decision = if self.config.rate_limits {
            let (policy, subject) = self.subject(route, claims.as_ref(), request);
            let decision = self.limiter.check(&policy, &subject).await;
            if !decision.allowed {
                let mut response = no_store(problem(&decision.problem()));
                decision.apply(response.headers_mut());
                return response;
            }
            Some(decision)
        } else {
            None
        };
        let mut response = match self.page(route, id.as_deref(), request.uri().query().unwrap_or("")) {
            Ok(page) => {
                let fresh = cdn::not_modified(request.headers(), &page.etag);
                let mut response = if fresh {
                    empty(StatusCode::NOT_MODIFIED)
                } else {
                    let mut response = hyper::Response::new(Full::new(page.body.clone()));
                    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    response
                };
                let headers = response.headers_mut();
                headers.insert(ETAG, page.etag.clone());
                headers.insert(CACHE_CONTROL, self.cache_control.clone());
                headers.insert("surrogate-key", page.surrogate_keys.clone());
                response
            }
            Err(failure) => no_store(problem(&failure)),
        };
        if let Some(decision) = decision {
            decision.apply(response.headers_mut());
        }
        response
    }

    /// The caller's claims: `None` for an anonymous caller, a 401 problem for an invalid token.
    fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Claims>, Problem> {
        let Some(authorization) = header(headers, http::header::AUTHORIZATION.as_str()) else { return Ok(None) };
        let Some(keys) = &self.keys else {
            return Err(Problem::new(ErrorCode::Unauthorized, "this gateway accepts no tokens"));
        };
        keys.verifier().verify_bearer(authorization).map(Some).map_err(|error| {
            tracing::info!(error = %error, "token refused");
            error.to_problem()
        })
    }

    /// The policy and the subject it is counted against: the user when authenticated, the client
    /// address otherwise.
    fn subject(&self, route: Route, claims: Option<&Claims>, request: &Request) -> (Policy, String) {
        let family = route.policy_family();
        match claims {
            Some(claims) => (self.config.policies.get(&format!("{family}_user")), format!("user:{}", claims.sub)),
            None => {
                let ip = client_ip(request, &self.config.trusted_proxies)
                    .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
                (self.config.policies.get(family), format!("ip:{ip}"))
            }
        }
    }

    fn page(&self, route: Route, id: Option<&str>, query: &str) -> Result<Arc<Page>, Problem> {
        let id = id.map(parse_id).transpose()?;
        let (generation, engine) = self.replica.live();
        let key = PageKey { generation, commit: engine.searcher_generation(), route, id, query: query.to_owned() };
        if let Some(page) = self.pages.get(&key) {
            return Ok(page);
        }
        let uri_query: http::Uri = format!("/?{query}").parse().unwrap_or_default();
        let pairs = query_pairs(&uri_query);
        let params: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let page = Arc::new(self.render(&engine, route, id, &params)?);
        self.pages.insert(key, Arc::clone(&page));
        Ok(page)
    }

    fn render(
        &self,
        engine: &Engine,
        route: Route,
        id: Option<Uuid>,
        params: &[(&str, &str)],
    ) -> Result<Page, Problem> {
        let started = Instant::now();
        let cdn = self.config.cdn_base_url.as_deref();
        let id_text = id.map(|id| id.to_string()).unwrap_or_default();
        match route {
            Route::Search | Route::Browse => {
                if route == Route::Browse && params.iter().any(|(name, _)| *name == "q") {
                    return Err(Problem::for_field(
                        ErrorCode::InvalidParameter,
                        "q",
                        "browse takes no text; use /v1/search",
                    ));
                }
                let request = SearchRequest::from_params(params.iter().copied()).map_err(engine_problem)?;
                let answer = engine.search_fresh(&request).map_err(engine_problem)?;
                let page = to_page(answer, started, cdn);
                let family = if route == Route::Search { "search" } else { "browse" };
                Ok(rendered(&page, hit_keys(&page.hits), family))
            }
            Route::Suggest => {
                let mut text = None;
                let mut limit = 10;
                for &(name, value) in params {
                    match name {
                        "q" => text = Some(value),
                        "limit" => limit = bounded(name, value, 1, 20)?,
                        other => {
                            return Err(Problem::for_field(ErrorCode::InvalidParameter, other, "unknown parameter"));
                        }
                    }
                }
                let text = text.ok_or_else(|| Problem::for_field(ErrorCode::InvalidParameter, "q", "is required"))?;
                let found = engine.suggest(text, limit).map_err(engine_problem)?;
                let suggestions = Suggestions {
                    suggestions: found
                        .iter()
                        .map(|s| Suggestion {
                            id: s.id.clone(),
                            kind: s.kind.as_str().to_owned(),
                            title: s.title.clone(),
                        })
                        .collect(),
                };
                let ids: Vec<&str> = suggestions.suggestions.iter().map(|s| s.id.as_str()).collect();
                Ok(rendered(&suggestions, ids, "suggest"))
            }
            Route::Program | Route::Episode => {
                no_params(params)?;
                let kind = if route == Route::Program {
                    contracts::ContentKind::Program
                } else {
                    contracts::ContentKind::Episode
                };
                let hit = visible(engine, &id_text, kind)?;
                let hit = to_hit(hit, cdn);
                let keys = vec![hit.id.as_str(), hit.program_id.as_str()];
                Ok(rendered(&hit, keys, "item"))
            }
            Route::ProgramEpisodes => {
                visible(engine, &id_text, contracts::ContentKind::Program)?;
                if let Some((name, _)) = params.iter().find(|(name, _)| matches!(*name, "kind" | "program_id")) {
                    return Err(Problem::for_field(ErrorCode::InvalidParameter, *name, "is set by the path"));
                }
                let mut request = SearchRequest::from_params(params.iter().copied()).map_err(engine_problem)?;
                request.kind = Some(contracts::ContentKind::Episode);
                request.program_id = id;
                let answer = engine.search_fresh(&request).map_err(engine_problem)?;
                let page = to_page(answer, started, cdn);
                let mut keys = hit_keys(&page.hits);
                keys.push(&id_text);
                Ok(rendered(&page, keys, "episodes"))
            }
            Route::ProgramRelated => {
                let mut limit = 10;
                for &(name, value) in params {
                    match name {
                        "limit" => limit = bounded(name, value, 1, 50)?,
                        other => {
                            return Err(Problem::for_field(ErrorCode::InvalidParameter, other, "unknown parameter"));
                        }
                    }
                }
                visible(engine, &id_text, contracts::ContentKind::Program)?;
                let hits = engine.related(&id_text, limit).map_err(engine_problem)?;
                let related = Related { hits: hits.into_iter().map(|hit| to_hit(hit, cdn)).collect() };
                let mut keys = hit_keys(&related.hits);
                keys.push(&id_text);
                Ok(rendered(&related, keys, "related"))
            }
            Route::Categories | Route::Languages => {
                no_params(params)?;
                let request = SearchRequest { per_page: 1, highlight: false, ..SearchRequest::browse() };
                let answer = engine.search(&request).map_err(engine_problem)?;
                let counts = if route == Route::Categories { &answer.facets.category } else { &answer.facets.language };
                let values = FacetValues { values: counts.iter().map(to_count).collect() };
                Ok(rendered(&values, Vec::new(), if route == Route::Categories { "categories" } else { "languages" }))
            }
            Route::OpenApi | Route::Health | Route::Ready | Route::Metrics => {
                Err(Problem::new(ErrorCode::Internal, "not a content route"))
            }
        }
    }

    async fn operational(&self, route: Route, request: &Request) -> Response {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return problem(&platform::http::method_not_allowed());
        }
        match route {
            Route::Health => json(StatusCode::OK, &serde_json::json!({"status": "ok"})),
            Route::Ready => self.readiness().await,
            Route::Metrics => match &self.metrics {
                Some(handle) => {
                    let (_, engine) = self.replica.live();
                    let (cache, index) = (engine.cache_stats(), engine.stats());
                    metrics::gauge!("engine_cache_hits").set(cache.hits as f64);
                    metrics::gauge!("engine_cache_misses").set(cache.misses as f64);
                    metrics::gauge!("engine_cache_bytes").set(cache.weighted_bytes as f64);
                    metrics::gauge!("page_cache_entries").set(self.pages.entry_count() as f64);
                    metrics::gauge!("index_documents").set(index.documents as f64);
                    metrics::gauge!("index_segments").set(index.segments as f64);
                    metrics::gauge!("index_run_documents").set(index.run_documents as f64);
                    platform::metrics::render(handle)
                }
                None => problem(&Problem::new(ErrorCode::NotFound, "metrics are not recorded in this process")),
            },
            _ => {
                let mut response = hyper::Response::new(Full::new(self.openapi.clone()));
                response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response
            }
        }
    }

    /// `/readyz`: the index is readable and, when configured, Redis answers.
    async fn readiness(&self) -> Response {
        let (generation, engine) = self.replica.live();
        let stats = engine.stats();
        let ready = true;
        let mut checks = serde_json::json!({
            "index": {"ok": true, "generation": generation, "documents": stats.documents, "segments": stats.segments}
        });
        if let Some(redis) = self.limiter.ping_redis().await {
            // Limits still hold without Redis (the local fallback), so this is reported, not fatal.
            checks["redis"] = match redis {
                Ok(()) => serde_json::json!({"ok": true}),
                Err(error) => serde_json::json!({"ok": false, "error": error, "fallback": "local limits"}),
            };
        }
        if self.keys.is_none() {
            checks["auth"] = serde_json::json!({"ok": true, "detail": "no key set: anonymous only"});
        }
        let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
        json(status, &serde_json::json!({"status": if ready { "ready" } else { "unready" }, "checks": checks}))
    }
}

fn rendered<T: serde::Serialize>(value: &T, keys: Vec<&str>, family: &str) -> Page {
    let body = Bytes::from(serde_json::to_vec(value).unwrap_or_default());
    Page { etag: cdn::etag(&body), surrogate_keys: cdn::surrogate_keys(keys, &[family]), body }
}

fn hit_keys(hits: &[SearchHit]) -> Vec<&str> {
    hits.iter().flat_map(|hit| [hit.id.as_str(), hit.program_id.as_str()]).collect()
}

/// The API's hit, made of the engine's (whose strings it takes over).
fn to_hit(hit: engine::Hit, cdn: Option<&str>) -> SearchHit {
    SearchHit {
        id: hit.id,
        kind: hit.kind.as_str().to_owned(),
        program_id: hit.program_id,
        title: hit.title,
        description: hit.description,
        category: hit.category.map(|c| c.slug().to_owned()),
        language: hit.language.map(|l| l.code().to_owned()),
        duration_seconds: hit.duration_seconds,
        publish_date: hit.publish_date,
        artwork_url: hit.artwork_url.map(|url| match cdn {
            Some(base) => cdn::rewrite(&url, base),
            None => url,
        }),
        highlights: Highlights { title: hit.highlights.title, description: hit.highlights.description },
    }
}

fn to_page(answer: engine::SearchResponse, started: Instant, cdn: Option<&str>) -> SearchPage {
    SearchPage {
        total: answer.total,
        page: answer.page,
        per_page: answer.per_page,
        took_ms: millis(started),
        hits: answer.hits.into_iter().map(|hit| to_hit(hit, cdn)).collect(),
        facets: Facets {
            category: answer.facets.category.iter().map(to_count).collect(),
            language: answer.facets.language.iter().map(to_count).collect(),
        },
    }
}

fn to_count(count: &engine::FacetCount) -> ValueCount {
    ValueCount { value: count.value.clone(), count: count.count }
}

/// The published item `id` of `kind`, or 404.
fn visible(engine: &Engine, id: &str, kind: contracts::ContentKind) -> Result<engine::Hit, Problem> {
    match engine.get(id).map_err(engine_problem)? {
        Some(hit) if hit.kind == kind => Ok(hit),
        _ => Err(Problem::new(ErrorCode::NotFound, format!("no published {} has id {id}", kind.as_str()))),
    }
}

fn parse_id(id: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(id).map_err(|_| Problem::for_field(ErrorCode::InvalidParameter, "id", "must be a UUID"))
}

fn no_params(params: &[(&str, &str)]) -> Result<(), Problem> {
    match params.first() {
        Some((name, _)) => Err(Problem::for_field(ErrorCode::InvalidParameter, *name, "unknown parameter")),
        None => Ok(()),
    }
}

fn bounded(name: &str, value: &str, min: usize, max: usize) -> Result<usize, Problem> {
    value.trim().parse::<usize>().ok().filter(|n| (min..=max).contains(n)).ok_or_else(|| {
        Problem::for_field(ErrorCode::InvalidParameter, name, format!("must be between {min} and {max}"))
    })
}

fn engine_problem(error: EngineError) -> Problem {
    if matches!(error, EngineError::Index(_) | EngineError::Directory(_) | EngineError::Io(_)) {
        tracing::error!(error = %error, "index read failed");
    }
    error.to_problem()
}

fn millis(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

fn empty(status: StatusCode) -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
