//! The editors' gateway: authenticates, authorises, validates and forwards requests to `cms-core`
//! and `auth`.
//!
//! It stores nothing itself. For every request it: resolves the route (404/405 otherwise); checks
//! the bearer token and the route's role (401/403) — the services check again; applies the route's
//! rate limit; reads at most 1 MiB of body and validates it against the service's own request type
//! (400/422, naming the field); then forwards only the headers the services need, with
//! `X-Forwarded-For` set from the connection (or from trusted proxies), through a client with
//! timeouts, bounded retries with backoff for calls that are safe to repeat, and a circuit breaker
//! per upstream (503 with `Retry-After` while it is open).
#![forbid(unsafe_code)]

pub mod openapi;
pub mod server;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use auth::forms::{Login, NewUser, RefreshToken, UserChanges};
use auth::{Claims, Keys, Role};
use bytes::Bytes;
use contracts::{
    AuditParams, CreateEpisode, CreateProgram, ErrorCode, ListParams, Problem, UpdateEpisode, UpdateProgram,
};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::Full;
use platform::http::{
    MAX_BODY_BYTES, Request, Response, Routes, client_ip, header, json, parse_json, problem, query_pairs, read_body,
};
use platform::ratelimit::{Policies, Policy, RateLimiter};
use platform::resilience::{OpenCircuit, Upstream, UpstreamConfig};
use platform::telemetry::{RequestId, TraceContext};
use sha2::Digest;
use uuid::Uuid;

/// The routes, resolved once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Login,
    Refresh,
    Logout,
    Me,
    Users,
    User,
    Programs,
    Program,
    ProgramPublish,
    ProgramUnpublish,
    ProgramEpisodes,
    Episode,
    EpisodePublish,
    EpisodeUnpublish,
    Audit,
    OpenApi,
    Health,
    Ready,
    Metrics,
}

/// Every route with its path template; the OpenAPI test checks the document against it.
pub const ROUTES: &[(&str, Route)] = &[
    ("/v1/auth/login", Route::Login),
    ("/v1/auth/refresh", Route::Refresh),
    ("/v1/auth/logout", Route::Logout),
    ("/v1/auth/me", Route::Me),
    ("/v1/users", Route::Users),
    ("/v1/users/{id}", Route::User),
    ("/v1/programs", Route::Programs),
    ("/v1/programs/{id}", Route::Program),
    ("/v1/programs/{id}/publish", Route::ProgramPublish),
    ("/v1/programs/{id}/unpublish", Route::ProgramUnpublish),
    ("/v1/programs/{id}/episodes", Route::ProgramEpisodes),
    ("/v1/episodes/{id}", Route::Episode),
    ("/v1/episodes/{id}/publish", Route::EpisodePublish),
    ("/v1/episodes/{id}/unpublish", Route::EpisodeUnpublish),
    ("/v1/audit", Route::Audit),
    ("/openapi.json", Route::OpenApi),
    ("/healthz", Route::Health),
    ("/readyz", Route::Ready),
    ("/metrics", Route::Metrics),
];

impl Route {
    pub fn template(self) -> &'static str {
        ROUTES.iter().find(|(_, route)| *route == self).map_or("unmatched", |(path, _)| path)
    }
}

/// Which service answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Auth,
    Cms,
}

/// The body a request must carry, checked before it is forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    None,
    Login,
    RefreshToken,
    NewUser,
    UserChanges,
    CreateProgram,
    UpdateProgram,
    CreateEpisode,
    UpdateEpisode,
}

/// What a route and method need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub service: Service,
    /// `None`: no token needed.
    pub role: Option<Role>,
    /// The rate-limit policy's name.
    pub policy: &'static str,
    body: Body,
}

const fn rule(service: Service, role: Option<Role>, policy: &'static str, body: Body) -> Rule {
    Rule { service, role, policy, body }
}

/// The rule for `route` and `method`; `None` when the route does not take the method.
pub fn rule_for(route: Route, method: &Method) -> Option<Rule> {
    use Service::{Auth, Cms};
    let editor = Some(Role::Editor);
    let admin = Some(Role::Admin);
    let anyone = Some(Role::User);
    Some(match (route, method.as_str()) {
        (Route::Login, "POST") => rule(Auth, None, "login", Body::Login),
        (Route::Refresh, "POST") => rule(Auth, None, "refresh", Body::RefreshToken),
        (Route::Logout, "POST") => rule(Auth, anyone, "cms_read", Body::RefreshToken),
        (Route::Me, "GET") => rule(Auth, anyone, "cms_read", Body::None),
        (Route::Users, "POST") => rule(Auth, admin, "cms_write", Body::NewUser),
        (Route::Users, "GET") => rule(Auth, admin, "cms_read", Body::None),
        (Route::User, "PATCH") => rule(Auth, admin, "cms_write", Body::UserChanges),
        (Route::Programs, "POST") => rule(Cms, editor, "cms_write", Body::CreateProgram),
        (Route::Programs | Route::Program | Route::ProgramEpisodes | Route::Episode, "GET") => {
            rule(Cms, editor, "cms_read", Body::None)
        }
        (Route::Program, "PATCH") => rule(Cms, editor, "cms_write", Body::UpdateProgram),
        (Route::Episode, "PATCH") => rule(Cms, editor, "cms_write", Body::UpdateEpisode),
        (Route::Program | Route::Episode, "DELETE")
        | (Route::ProgramPublish | Route::ProgramUnpublish | Route::EpisodePublish | Route::EpisodeUnpublish, "POST") => {
            rule(Cms, editor, "cms_write", Body::None)
        }
        (Route::ProgramEpisodes, "POST") => rule(Cms, editor, "cms_write", Body::CreateEpisode),
        (Route::Audit, "GET") => rule(Cms, admin, "cms_read", Body::None),
        _ => return None,
    })
}

/// The rate limits gateway-cms applies unless configured otherwise.
pub fn default_policies() -> Policies {
    let minute = Duration::from_secs(60);
    Policies::new([
        // Per client IP and email: guessing passwords is slow.
        Policy::new("login", 5, minute, 5),
        // Per client IP: the refresh token is opaque here.
        Policy::new("refresh", 30, minute, 30),
        // Per user.
        Policy::new("cms_write", 120, minute, 120),
        Policy::new("cms_read", 600, minute, 300),
    ])
}

/// Request headers forwarded to the services; everything else a client sends is dropped, so no
/// client can speak for the gateway (`X-Forwarded-*`, `Forwarded`, `X-Real-IP`, internal headers).
const FORWARDED_REQUEST_HEADERS: &[&str] =
    &["authorization", "content-type", "accept", "if-match", "if-none-match", "idempotency-key", "tracestate"];

/// Response headers passed back to the client.
const FORWARDED_RESPONSE_HEADERS: &[&str] = &["content-type", "etag", "location", "retry-after"];

/// How gateway-cms behaves.
#[derive(Debug, Clone)]
pub struct CmsGatewayConfig {
    pub auth_url: String,
    pub cms_url: String,
    pub trusted_proxies: Vec<IpAddr>,
    pub policies: Policies,
    pub upstream: UpstreamConfig,
}

impl CmsGatewayConfig {
    pub fn new(auth_url: impl Into<String>, cms_url: impl Into<String>) -> Self {
        Self {
            auth_url: auth_url.into(),
            cms_url: cms_url.into(),
            trusted_proxies: Vec::new(),
            policies: default_policies(),
            upstream: UpstreamConfig::default(),
        }
    }
}

/// The editors' API.
pub struct CmsGateway {
    keys: Keys,
    limiter: RateLimiter,
    config: CmsGatewayConfig,
    routes: Routes<Route>,
    auth: Upstream,
    cms: Upstream,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    openapi: Bytes,
}

impl std::fmt::Debug for CmsGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CmsGateway")
            .field("auth", &self.config.auth_url)
            .field("cms", &self.config.cms_url)
            .finish_non_exhaustive()
    }
}

impl CmsGateway {
    pub fn new(
        keys: Keys,
        limiter: RateLimiter,
        config: CmsGatewayConfig,
        metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> Result<Arc<Self>, reqwest::Error> {
        let auth = Upstream::new("auth", &config.upstream)?;
        let cms = Upstream::new("cms-core", &config.upstream)?;
        let openapi = Bytes::from(openapi::document().to_json().unwrap_or_default());
        Ok(Arc::new(Self { keys, limiter, config, routes: Routes::new(ROUTES), auth, cms, metrics, openapi }))
    }

    pub fn upstream(&self, service: Service) -> &Upstream {
        match service {
            Service::Auth => &self.auth,
            Service::Cms => &self.cms,
        }
    }

    /// Answers one request.
    pub async fn handle(self: Arc<Self>, request: Request) -> Response {
        self.routes.dispatch(request, |route, id, request| self.route(route, id, request)).await
    }

    async fn route(&self, route: Route, id: Option<String>, request: Request) -> Response {
        match route {
            Route::Health => return json(StatusCode::OK, &serde_json::json!({"status": "ok"})),
            Route::Ready => return self.readiness().await,
            Route::Metrics => {
                return match &self.metrics {
                    Some(handle) => platform::metrics::render(handle),
                    None => problem(&Problem::new(ErrorCode::NotFound, "metrics are not recorded in this process")),
                };
            }
            Route::OpenApi => {
                let mut response = hyper::Response::new(Full::new(self.openapi.clone()));
                response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                return response;
            }
            _ => {}
        }
        let Some(rule) = rule_for(route, request.method()) else {
            return problem(&platform::http::method_not_allowed());
        };
        let mut decision = None;
        let mut response = match self.forward(route, rule, id, request, &mut decision).await {
            Ok(response) => response,
            Err(failure) => problem(&failure),
        };
        response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(decision) = decision {
            decision.apply(response.headers_mut());
        }
        response
    }

    async fn forward(
        &self,
        route: Route,
        rule: Rule,
        id: Option<String>,
        request: Request,
        decision: &mut Option<platform::ratelimit::Decision>,
    ) -> Result<Response, Problem> {
        if let Some(id) = &id {
            Uuid::parse_str(id).map_err(|_| Problem::for_field(ErrorCode::InvalidParameter, "id", "must be a UUID"))?;
        }
        let claims = match rule.role {
            Some(role) => Some(self.authorise(request.headers(), role)?),
            None => None,
        };
        validate_query(route, request.method(), request.uri())?;
        let ip = client_ip(&request, &self.config.trusted_proxies);
        let path_and_query =
            request.uri().path_and_query().map_or_else(|| request.uri().path().to_owned(), |p| p.as_str().to_owned());
        let method = request.method().clone();
        let (parts, body) = read_body(request, MAX_BODY_BYTES).await?;
        let email = validate(rule.body, &parts.headers, &body)?;

        // The subject: the user when authenticated; the client address (and, for login, the
        // email) otherwise.
        let subject = match (&claims, rule.policy) {
            (Some(claims), _) => format!("user:{}", claims.sub),
            (None, "login") => format!(
                "ip:{}:email:{}",
                ip.map_or_else(|| "unknown".into(), |ip| ip.to_string()),
                digest(&email.unwrap_or_default().to_lowercase())
            ),
            (None, _) => format!("ip:{}", ip.map_or_else(|| "unknown".into(), |ip| ip.to_string())),
        };
        let verdict = self.limiter.check(&self.config.policies.get(rule.policy), &subject).await;
        let allowed = verdict.allowed;
        let refused = (!allowed).then(|| verdict.problem());
        *decision = Some(verdict);
        if let Some(refused) = refused {
            return Err(refused);
        }

        let base = match rule.service {
            Service::Auth => &self.config.auth_url,
            Service::Cms => &self.config.cms_url,
        };
        let url = format!("{}{path_and_query}", base.trim_end_matches('/'));
        let mut headers = HeaderMap::new();
        for name in FORWARDED_REQUEST_HEADERS {
            for value in parts.headers.get_all(*name) {
                headers.append(*name, value.clone());
            }
        }
        if let Some(ip) = ip
            && let Ok(value) = HeaderValue::from_str(&ip.to_string())
        {
            headers.insert("x-forwarded-for", value);
        }
        // The trace goes on with this hop as the parent; the request keeps its id.
        if let Some(context) = parts.extensions.get::<TraceContext>()
            && let Ok(value) = HeaderValue::from_str(&context.header())
        {
            headers.insert("traceparent", value);
        }
        if let Some(id) = parts.extensions.get::<RequestId>()
            && let Ok(value) = HeaderValue::from_str(&id.0)
        {
            headers.insert("x-request-id", value);
        }
        let safe_to_repeat = matches!(method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE)
            || parts.headers.contains_key("idempotency-key");
        let upstream = self.upstream(rule.service);
        let client = if safe_to_repeat { &upstream.retrying } else { &upstream.once };
        let sent = client.request(method, &url).headers(headers).body(body).send().await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(error) => return Err(upstream_failure(rule.service, &route, &error)),
        };
        let status = answer.status();
        let mut response_headers = HeaderMap::new();
        for name in FORWARDED_RESPONSE_HEADERS {
            if let Some(value) = answer.headers().get(*name) {
                response_headers.insert(*name, value.clone());
            }
        }
        let bytes = answer.bytes().await.map_err(|error| {
            tracing::warn!(error = %error, "reading an upstream answer failed");
            Problem::new(ErrorCode::Unavailable, "the upstream answer was cut short; retry")
        })?;
        let mut response = hyper::Response::new(Full::new(bytes));
        *response.status_mut() = status;
        *response.headers_mut() = response_headers;
        Ok(response)
    }

    /// The caller's claims if the token is valid and carries `role` (or a higher one).
    fn authorise(&self, headers: &HeaderMap, role: Role) -> Result<Claims, Problem> {
        let authorization = platform::http::authorization(headers)?;
        let claims = self.keys.verifier().verify_bearer(authorization).map_err(|error| {
            tracing::info!(error = %error, "token refused");
            error.to_problem()
        })?;
        auth::require(&claims, role).map_err(|error| error.to_problem())?;
        Ok(claims)
    }

    /// `/readyz`: both upstreams answer their health checks (through their breakers' eyes), and
    /// Redis when configured.
    async fn readiness(&self) -> Response {
        let mut ready = true;
        let mut checks = serde_json::Map::new();
        for (name, base, upstream) in
            [("auth", &self.config.auth_url, &self.auth), ("cms", &self.config.cms_url, &self.cms)]
        {
            let url = format!("{}/healthz", base.trim_end_matches('/'));
            let ok = matches!(upstream.once.get(&url).send().await, Ok(answer) if answer.status().is_success());
            ready &= ok;
            checks.insert(
                name.into(),
                serde_json::json!({"ok": ok, "breaker": format!("{:?}", upstream.breaker.state()).to_lowercase()}),
            );
        }
        if let Some(redis) = self.limiter.ping_redis().await {
            checks.insert(
                "redis".into(),
                match redis {
                    Ok(()) => serde_json::json!({"ok": true}),
                    Err(error) => serde_json::json!({"ok": false, "error": error, "fallback": "local limits"}),
                },
            );
        }
        let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
        json(status, &serde_json::json!({"status": if ready { "ready" } else { "unready" }, "checks": checks}))
    }
}

/// Checks the query string of the routes that take one, with the parsers cms-core answers with.
fn validate_query(route: Route, method: &Method, uri: &http::Uri) -> Result<(), Problem> {
    match (route, method.as_str()) {
        (Route::Programs | Route::ProgramEpisodes, "GET") => ListParams::from_pairs(query_pairs(uri)).map(drop),
        (Route::Audit, "GET") => AuditParams::from_pairs(query_pairs(uri)).map(drop),
        _ => Ok(()),
    }
}

/// Checks the body against the service's request type; returns the login email (for the login
/// limit's key).
fn validate(body: Body, headers: &HeaderMap, bytes: &[u8]) -> Result<Option<String>, Problem> {
    match body {
        Body::None => {
            if !bytes.is_empty() && header(headers, "content-type").is_some() {
                // A stray body is harmless for these routes but never forwarded unchecked.
                let _: serde_json::Value = parse_json(headers, bytes)?;
            }
        }
        Body::Login => {
            let login: Login = parse_json(headers, bytes)?;
            if !login.email.contains('@') {
                return Err(Problem::for_field(ErrorCode::ValidationFailed, "email", "must be an email address"));
            }
            if login.password.is_empty() {
                return Err(Problem::for_field(ErrorCode::ValidationFailed, "password", "must not be empty"));
            }
            return Ok(Some(login.email));
        }
        Body::RefreshToken => {
            let form: RefreshToken = parse_json(headers, bytes)?;
            if form.refresh_token.is_empty() {
                return Err(Problem::for_field(ErrorCode::ValidationFailed, "refresh_token", "must not be empty"));
            }
        }
        Body::NewUser => {
            let form: NewUser = parse_json(headers, bytes)?;
            if !form.email.contains('@') {
                return Err(Problem::for_field(ErrorCode::ValidationFailed, "email", "must be an email address"));
            }
        }
        Body::UserChanges => {
            let _: UserChanges = parse_json(headers, bytes)?;
        }
        Body::CreateProgram => {
            let _: CreateProgram = parse_json(headers, bytes)?;
        }
        Body::UpdateProgram => {
            let _: UpdateProgram = parse_json(headers, bytes)?;
        }
        Body::CreateEpisode => {
            let _: CreateEpisode = parse_json(headers, bytes)?;
        }
        Body::UpdateEpisode => {
            let _: UpdateEpisode = parse_json(headers, bytes)?;
        }
    }
    Ok(None)
}

/// 503 with `Retry-After` for an open breaker or an upstream that could not be reached.
fn upstream_failure(service: Service, route: &Route, error: &reqwest_middleware::Error) -> Problem {
    let name = match service {
        Service::Auth => "auth",
        Service::Cms => "cms-core",
    };
    if let reqwest_middleware::Error::Middleware(inner) = error
        && let Some(open) = inner.downcast_ref::<OpenCircuit>()
    {
        let mut problem = Problem::new(
            ErrorCode::Unavailable,
            format!("{name} is failing; retry in {} s", open.retry_after.as_secs() + 1),
        );
        problem.retry_after = Some(open.retry_after.as_secs() + 1);
        return problem;
    }
    tracing::warn!(upstream = name, route = route.template(), error = %error, "upstream call failed");
    let mut problem = Problem::new(ErrorCode::Unavailable, format!("{name} did not answer; retry shortly"));
    problem.retry_after = Some(1);
    problem
}

fn digest(text: &str) -> String {
    let hash = sha2::Sha256::digest(text.as_bytes());
    hash[..8].iter().map(|b| format!("{b:02x}")).collect()
}
