//! The HTTP plumbing every MediaMesh service shares: a hyper 1.x server with graceful shutdown,
//! bounded body reading, JSON and `application/problem+json` answers, and request parsing that
//! names the field at fault.
//!
//! A service is a function from request to response; routing is the service's own (with `matchit`).
//! `serve` takes the listener and the shutdown future, so tests bind `127.0.0.1:0` and run the real
//! service in-process.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use contracts::{ErrorCode, Problem};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::telemetry::{RequestId, TraceContext};

pub type Request = hyper::Request<Incoming>;
pub type Response = hyper::Response<Full<Bytes>>;

/// Bodies larger than this are refused with 413 unless a route allows more.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long a stopping server waits for the requests in flight.
pub const DRAIN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves `handler` on `listener` until `shutdown` resolves, then stops accepting and lets the
/// requests in flight finish (for at most [`DRAIN_DEADLINE`]).
pub async fn serve<H, F>(listener: TcpListener, handler: H, shutdown: impl Future<Output = ()>) -> std::io::Result<()>
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let handler = Arc::new(handler);
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(connection) => connection,
                    Err(error) => {
                        tracing::warn!(error = %error, "accept failed");
                        continue;
                    }
                };
                let handler = Arc::clone(&handler);
                let service = hyper::service::service_fn(move |mut request: Request| {
                    request.extensions_mut().insert(Peer(peer));
                    let response = traced(request, &*handler);
                    async move { Ok::<_, Infallible>(response.await) }
                });
                let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(error = %error, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    // Requests in flight get a deadline to finish; connections still open after it are dropped.
    if tokio::time::timeout(DRAIN_DEADLINE, graceful.shutdown()).await.is_err() {
        tracing::warn!(deadline_s = DRAIN_DEADLINE.as_secs(), "requests still in flight at the drain deadline");
    }
    Ok(())
}

/// Runs `handler` for `request` inside the request's trace (see [`observe_request`]): what
/// [`serve`] does for every request, for servers that run their own accept loop.
pub fn traced<H, F>(mut request: Request, handler: &H) -> impl Future<Output = Response> + Send + use<H, F>
where
    H: Fn(Request) -> F + ?Sized,
    F: Future<Output = Response> + Send + 'static,
{
    let (span, context, id) = observe_request(&mut request);
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let response = handler(request).instrument(span.clone());
    async move {
        let mut response = response.await;
        finish(&span, &mut response, &context, &id, started);
        let route = response.extensions().get::<RouteTemplate>().map_or("unmatched", |r| r.0);
        observe(route, &method, response.status(), started);
        response
    }
}

/// Starts a request's trace: its context (a child of the caller's `traceparent`, or a new trace)
/// and id go into the request's extensions and into the span its handling runs in, so every log
/// line of the request carries `request_id`, `trace_id` and `span_id`.
fn observe_request(request: &mut Request) -> (tracing::Span, TraceContext, RequestId) {
    let parent = header(request.headers(), "traceparent").and_then(TraceContext::parse);
    let id = RequestId::from_header(header(request.headers(), "x-request-id"));
    let span = tracing::info_span!(
        "request",
        request_id = %id.0,
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let mut context = TraceContext::child_of(parent.as_ref());
    if crate::telemetry::exporting() {
        // The exported span is this hop: its ids are the ones passed on.
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        if let Some(remote) = parent.as_ref().and_then(TraceContext::otel_parent) {
            let _ = span.set_parent(remote);
        }
        let exported = span.context().span().span_context().clone();
        if exported.is_valid() {
            context = TraceContext {
                trace_id: exported.trace_id().to_string(),
                span_id: exported.span_id().to_string(),
                sampled: exported.is_sampled(),
            };
        }
    }
    span.record("trace_id", tracing::field::display(&context.trace_id));
    span.record("span_id", tracing::field::display(&context.span_id));
    request.extensions_mut().insert(context.clone());
    request.extensions_mut().insert(id.clone());
    (span, context, id)
}

/// Logs the answered request and gives the caller its `traceparent` and `x-request-id`.
fn finish(
    span: &tracing::Span,
    response: &mut Response,
    context: &TraceContext,
    id: &RequestId,
    started: std::time::Instant,
) {
    let status = response.status().as_u16();
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, duration_ms = millis, "answered");
        } else {
            tracing::info!(status, duration_ms = millis, "answered");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&context.header()) {
        response.headers_mut().insert("traceparent", value);
    }
    if let Ok(value) = HeaderValue::from_str(&id.0) {
        response.headers_mut().insert("x-request-id", value);
    }
}

/// The route template that answered (`/v1/programs/{id}`), which a service puts in its response's
/// extensions; request metrics are labelled with it, never with the raw path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteTemplate(pub &'static str);

/// The address of the connection's other end, in every request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub std::net::SocketAddr);

/// The client's address: the connection's peer, or, when the peer is one of `trusted_proxies`, the
/// last address in `X-Forwarded-For` that is not itself a trusted proxy. A client cannot choose its
/// address by sending the header itself.
pub fn client_ip(request: &Request, trusted_proxies: &[std::net::IpAddr]) -> Option<std::net::IpAddr> {
    let peer = request.extensions().get::<Peer>()?.0.ip();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = request.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    let hops: Vec<std::net::IpAddr> =
        forwarded.flat_map(|v| v.split(',')).filter_map(|hop| hop.trim().parse().ok()).collect();
    Some(hops.into_iter().rev().find(|hop| !trusted_proxies.contains(hop)).unwrap_or(peer))
}

/// A comma-separated list of IP addresses (trusted proxies, say).
pub fn parse_ips(list: &str) -> Result<Vec<std::net::IpAddr>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|ip| !ip.is_empty())
        .map(|ip| ip.parse().map_err(|_| format!("{ip:?} is not an IP address")))
        .collect()
}

/// Records one answered request: `http_requests_total{route,method,status}`,
/// `http_request_duration_seconds{route,method}`, and for 4xx/5xx `http_errors_total{route,method,class}`. `route` is the route's template, never the raw
/// path, so the label set stays bounded.
pub fn observe(route: &'static str, method: &http::Method, status: StatusCode, started: std::time::Instant) {
    let method = method_label(method);
    metrics::counter!("http_requests_total", "route" => route, "method" => method, "status" => status.as_str().to_owned())
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    if status.as_u16() >= 400 {
        let class = if status.is_server_error() { "server" } else { "client" };
        metrics::counter!("http_errors_total", "route" => route, "method" => method, "class" => class).increment(1);
    }
}

fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// A service's route table: paths (matchit syntax, at most one `{id}` parameter) to its route
/// values.
#[derive(Debug)]
pub struct Routes<R> {
    router: matchit::Router<(R, &'static str)>,
}

impl<R: Copy> Routes<R> {
    /// The table is fixed at build time; a conflicting entry is logged (and caught by any test of
    /// the service, since its route would not resolve).
    pub fn new(table: &[(&'static str, R)]) -> Self {
        let mut router = matchit::Router::new();
        for &(path, route) in table {
            if let Err(error) = router.insert(path, (route, path)) {
                tracing::error!(path, error = %error, "route table");
            }
        }
        Self { router }
    }

    /// The route for `path` and its `{id}` parameter; a problem (404) when none matches.
    pub fn resolve(&self, path: &str) -> Result<(R, Option<String>), Problem> {
        match self.router.at(path) {
            Ok(matched) => Ok((matched.value.0, matched.params.get("id").map(str::to_owned))),
            Err(_) => Err(Problem::new(ErrorCode::NotFound, format!("no route for {path}"))),
        }
    }

    /// Answers `request` with `handler(route, id, request)` for the route its path takes, or 404;
    /// either way the response carries the route's template for the request metrics.
    pub async fn dispatch<F, Fut>(&self, request: Request, handler: F) -> Response
    where
        F: FnOnce(R, Option<String>, Request) -> Fut,
        Fut: Future<Output = Response>,
    {
        let template = self.template(request.uri().path());
        let mut response = match self.resolve(request.uri().path()) {
            Ok((route, id)) => handler(route, id, request).await,
            Err(missing) => problem(&missing),
        };
        response.extensions_mut().insert(template);
        response
    }

    /// The template of the route `path` takes (`unmatched` when none), for metrics labels.
    pub fn template(&self, path: &str) -> RouteTemplate {
        RouteTemplate(self.router.at(path).map_or("unmatched", |matched| matched.value.1))
    }
}

/// The answer for a known route asked with a method it does not take.
pub fn method_not_allowed() -> Problem {
    Problem::new(ErrorCode::MethodNotAllowed, "this route does not take that method")
}

/// The `Authorization` header's value; 401 when there is none.
pub fn authorization(headers: &HeaderMap) -> Result<&str, Problem> {
    header(headers, http::header::AUTHORIZATION.as_str())
        .ok_or_else(|| Problem::new(ErrorCode::Unauthorized, "a bearer token is required"))
}

/// A handler's result as the response to send.
pub fn answer(result: Result<Response, Problem>) -> Response {
    result.unwrap_or_else(|failure| problem(&failure))
}

/// A JSON answer.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => with_type(status, bytes, "application/json"),
        Err(error) => problem(&Problem::new(ErrorCode::Internal, format!("cannot serialise the answer: {error}"))),
    }
}

/// An `application/problem+json` answer with the problem's status.
pub fn problem(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let bytes = serde_json::to_vec(problem).unwrap_or_default();
    let mut response = with_type(status, bytes, Problem::CONTENT_TYPE);
    if let Some(seconds) = problem.retry_after {
        response.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn with_type(status: StatusCode, bytes: Vec<u8>, content_type: &'static str) -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Reads the whole body, refusing more than `limit` bytes (413) before reading them where the
/// client declared its length.
pub async fn read_body(request: Request, limit: usize) -> Result<(http::request::Parts, Bytes), Problem> {
    let too_large = || Problem::new(ErrorCode::PayloadTooLarge, format!("the body must be at most {limit} bytes"));
    let declared =
        request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let (parts, body) = request.into_parts();
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok((parts, collected.to_bytes())),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(error) => Err(Problem::new(ErrorCode::MalformedBody, format!("the body could not be read: {error}"))),
    }
}

/// Parses a JSON body. Syntax errors are 400 `malformed_body`; a well-formed body with a wrong type,
/// a missing or unknown field, or a value its domain type rejects is 422 `validation_failed`, naming
/// the field by its JSON path.
pub fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, Problem> {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !is_json {
        return Err(Problem::new(ErrorCode::MalformedBody, "the body must be application/json"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let inner = error.inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let path = error.path().to_string();
                let field = if path == "." { unknown_field(inner).unwrap_or_else(|| "body".to_owned()) } else { path };
                Problem::for_field(ErrorCode::ValidationFailed, field, clean_message(inner))
            }
            _ => not_json(inner),
        }
    })?;
    // Anything after the value is a syntax error too.
    deserializer.end().map_err(|error| not_json(&error))?;
    Ok(parsed)
}

fn not_json(error: &serde_json::Error) -> Problem {
    Problem::new(ErrorCode::MalformedBody, format!("the body is not valid JSON: {error}"))
}

/// The field an "unknown field `x`" error names (serde reports it at the parent's path).
fn unknown_field(error: &serde_json::Error) -> Option<String> {
    let message = error.to_string();
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next().map(str::to_owned)
}

/// serde's message without its " at line L column C" suffix.
fn clean_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message,
    }
}

/// The value of a header as text, if present and readable.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A query string as pairs (percent-decoded).
pub fn query_pairs(uri: &http::Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|query| {
            query
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(key), decode(value))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("zz"), 16) {
                    Ok(byte) => {
                        out.push(byte);
                        index += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        title: contracts::Title,
        count: u32,
    }

    fn headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        headers
    }

    fn field_of(body: &str) -> (u16, String) {
        let problem = parse_json::<Sample>(&headers(), body.as_bytes()).expect_err(body);
        (problem.status, problem.errors.first().map(|e| e.field.clone()).unwrap_or_default())
    }

    #[test]
    fn bad_bodies_name_the_field_or_say_it_is_not_json() {
        assert!(parse_json::<Sample>(&headers(), br#"{"title":"A","count":1}"#).is_ok());
        assert_eq!(field_of(r#"{"title":"A","count":"one"}"#), (422, "count".into()));
        assert_eq!(field_of(r#"{"title":"","count":1}"#), (422, "title".into()));
        assert_eq!(field_of(r#"{"title":"A","count":1,"colour":"red"}"#), (422, "colour".into()));
        assert_eq!(field_of(r#"{"title":"A"}"#).0, 422);
        assert_eq!(field_of(r#"{"title":"A","count":1"#).0, 400);
        assert_eq!(field_of(r#"{"title":"A","count":1} trailing"#).0, 400);
        assert_eq!(field_of("").0, 400);
        let plain = parse_json::<Sample>(&HeaderMap::new(), b"{}").expect_err("no content type");
        assert_eq!(plain.status, 400);
    }

    #[test]
    fn query_strings_are_decoded() {
        let uri: http::Uri = "/v1/programs?q=night+vale&category=true%2Dcrime&bad=%zz&x".parse().expect("uri");
        assert_eq!(
            query_pairs(&uri),
            [
                ("q".into(), "night vale".into()),
                ("category".into(), "true-crime".into()),
                ("bad".into(), "%zz".into()),
                ("x".into(), String::new())
            ]
        );
    }
}
