//! `mm-bench http`: gateway-public under load on loopback. The gateway runs as its own process
//! (the real binary); this process is a bounded, closed-loop load generator on one thread: a fixed
//! number of keep-alive HTTP/1.1 connections, each sending its next request when the last answer
//! has been read. Scenarios:
//! - `cached`: a mix of 200 distinct searches, warmed once, then repeated (the CDN-miss, gateway-hit
//!   path);
//! - `uncached`: searches that are each asked once (the engine does the work every time);
//! - `ratelimit`: the rate-limit decision alone, through Redis, beside Redis's own round trip and
//!   the in-process limiter.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use engine::SearchRequest;
use http_body_util::{BodyExt, Empty};
use platform::ratelimit::{FailMode, Policy, RateLimiter, RedisConfig};

use crate::catalog::Vocabulary;
use crate::measure::{Report, Run};
use crate::querymix;

/// What `mm-bench http` runs.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub gateway_bin: PathBuf,
    /// An index directory (as `mm-bench index` writes) or an index root with `CURRENT`.
    pub index: PathBuf,
    pub connections: usize,
    pub seconds: f64,
    pub unique_queries: usize,
    pub seed: u64,
    pub scenarios: Vec<String>,
    pub redis_url: Option<String>,
}

/// The query string the discovery API takes for `request`.
pub fn query_string(request: &SearchRequest) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(text) = &request.text {
        pairs.push(("q".into(), text.clone()));
    }
    if let Some(kind) = request.kind {
        pairs.push(("kind".into(), kind.as_str().into()));
    }
    for category in &request.categories {
        pairs.push(("category".into(), category.slug().into()));
    }
    for language in &request.languages {
        pairs.push(("language".into(), language.code().into()));
    }
    if request.sort != engine::Sort::Relevance {
        let sort = serde_json::to_value(request.sort).ok().and_then(|v| v.as_str().map(str::to_owned));
        if let Some(sort) = sort {
            pairs.push(("sort".into(), sort));
        }
    }
    if let Some(min) = request.min_duration {
        pairs.push(("min_duration".into(), min.to_string()));
    }
    if let Some(max) = request.max_duration {
        pairs.push(("max_duration".into(), max.to_string()));
    }
    if request.page != 1 {
        pairs.push(("page".into(), request.page.to_string()));
    }
    if request.per_page != 20 {
        pairs.push(("per_page".into(), request.per_page.to_string()));
    }
    pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&")
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// The gateway process, stopped when dropped.
struct Gateway {
    child: Child,
    addr: String,
    _root: Option<tempfile::TempDir>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An index root over `index`: itself when it is one, else a temporary root whose only generation
/// links to it.
fn index_root(index: &Path) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    if index.join("CURRENT").exists() {
        return Ok((index.to_path_buf(), None));
    }
    if !index.join("meta.json").exists() {
        bail!("{}: not an index (run `mm-bench index` first)", index.display());
    }
    let root = tempfile::tempdir()?;
    let target = index.canonicalize()?;
    std::os::unix::fs::symlink(&target, root.path().join("gen-1"))?;
    std::fs::write(root.path().join("CURRENT"), "gen-1\n")?;
    Ok((root.path().to_path_buf(), Some(root)))
}

fn start_gateway(bin: &Path, index: &Path) -> Result<Gateway> {
    let (root, temporary) = index_root(index)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(bin)
        .args(["--addr", &addr, "--index"])
        .arg(&root)
        .env("MEDIAMESH_RATE_LIMITS_OFF", "true")
        .env("MEDIAMESH_LOG", "warn")
        .env_remove("MEDIAMESH_AUTH_URL")
        .env_remove("MEDIAMESH_REDIS_URL")
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {} (cargo build --release -p gateway-public)", bin.display()))?;
    let gateway = Gateway { child, addr, _root: temporary };
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(&gateway.addr).is_err() {
        if Instant::now() > deadline {
            bail!("gateway-public did not start listening on {}", gateway.addr);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(gateway)
}

/// Drives `connections` keep-alive connections against `addr` for `duration`, taking paths from
/// `paths` in turn (cycling through them when `cycle`, else each once). Counts non-200 answers.
async fn drive(
    addr: &str,
    paths: Arc<Vec<String>>,
    connections: usize,
    duration: Duration,
    cycle: bool,
) -> Result<(Run, u64)> {
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let (paths, next, failures) = (Arc::clone(&paths), Arc::clone(&next), Arc::clone(&failures));
        let host = addr.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if !cycle && index >= paths.len() {
                    break;
                }
                let path = &paths[index % paths.len()];
                let request = http::Request::get(path.as_str())
                    .header(http::header::HOST, host.as_str())
                    .body(Empty::<Bytes>::new())?;
                let begun = Instant::now();
                let response = sender.send_request(request).await?;
                let status = response.status();
                let _body = response.into_body().collect().await?;
                latencies.push(begun.elapsed());
                if status != http::StatusCode::OK {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok((Run { latencies, wall: started.elapsed() }, failures.load(Ordering::Relaxed)))
}

fn paths_of(requests: &[SearchRequest]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    requests
        .iter()
        .map(|r| format!("/v1/search?{}", query_string(r)))
        .filter(|path| seen.insert(path.clone()))
        .collect()
}

/// Runs the scenarios asked for.
pub fn http(options: &HttpOptions, vocabulary: &Vocabulary) -> Result<Vec<Report>> {
    let wants = |scenario: &str| options.scenarios.iter().any(|s| s == scenario);
    // One thread: the gateway process gets the rest of the machine.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut reports = Vec::new();
    let duration = Duration::from_secs_f64(options.seconds);
    if wants("cached") || wants("uncached") {
        let gateway = start_gateway(&options.gateway_bin, &options.index)?;
        // Warm the process as a running server is warm: queries of another seed map the index
        // pages the mix needs without answering a measured query early.
        let warm = Arc::new(paths_of(&querymix::generate(vocabulary, 1_000, options.seed.wrapping_add(1))));
        runtime.block_on(drive(&gateway.addr, warm, options.connections, Duration::from_secs(120), false))?;
        if wants("cached") {
            let mix = Arc::new(
                paths_of(&querymix::generate(vocabulary, 400, options.seed)).into_iter().take(200).collect::<Vec<_>>(),
            );
            runtime.block_on(drive(&gateway.addr, Arc::clone(&mix), 1, Duration::from_secs(120), false))?;
            let (run, failures) = runtime.block_on(drive(&gateway.addr, mix, options.connections, duration, true))?;
            if failures > 0 {
                bail!("cached: {failures} answers were not 200");
            }
            reports.push(Report::new(format!("http_cached_c{}", options.connections)).with_latencies(&run));
        }
        if wants("uncached") {
            let unique = Arc::new(paths_of(&querymix::generate(
                vocabulary,
                options.unique_queries,
                options.seed.wrapping_add(2),
            )));
            let (run, failures) =
                runtime.block_on(drive(&gateway.addr, unique, options.connections, duration, false))?;
            if failures > 0 {
                bail!("uncached: {failures} answers were not 200");
            }
            reports.push(Report::new(format!("http_uncached_c{}", options.connections)).with_latencies(&run));
        }
    }
    if wants("ratelimit") {
        let Some(url) = options.redis_url.as_deref() else {
            bail!("the ratelimit scenario needs --redis-url (MEDIAMESH_REDIS_URL)");
        };
        reports.extend(runtime.block_on(rate_limit_overhead(url))?);
    }
    Ok(reports)
}

/// Latency of one decision through Redis (the GCRA script), of Redis's own `PING` on the same
/// connection, and of the in-process limiter, 20,000 sequential calls each over 1,000 subjects.
async fn rate_limit_overhead(url: &str) -> Result<Vec<Report>> {
    const CALLS: usize = 20_000;
    let policy = Policy::new("bench", 1_000_000, Duration::from_secs(1), 1_000_000);
    let redis = RateLimiter::redis("bench", RedisConfig::new(url), FailMode::Closed).map_err(anyhow::Error::msg)?;
    let local = RateLimiter::local("bench");
    let subjects: Vec<String> = (0..1_000).map(|n| format!("ip:10.0.{}.{}", n / 256, n % 256)).collect();
    let mut reports = Vec::new();
    for (name, limiter) in [("ratelimit_redis", &redis), ("ratelimit_local", &local)] {
        for subject in subjects.iter().take(100) {
            limiter.check(&policy, subject).await;
        }
        let mut latencies = Vec::with_capacity(CALLS);
        let started = Instant::now();
        for n in 0..CALLS {
            let begun = Instant::now();
            let decision = limiter.check(&policy, &subjects[n % subjects.len()]).await;
            latencies.push(begun.elapsed());
            if !decision.allowed {
                bail!("{name}: a decision was refused ({decision:?}); is Redis up at {url}?");
            }
        }
        reports.push(Report::new(name).with_latencies(&Run { latencies, wall: started.elapsed() }));
    }
    let mut latencies = Vec::with_capacity(CALLS);
    let started = Instant::now();
    for _ in 0..CALLS {
        let begun = Instant::now();
        match redis.ping_redis().await {
            Some(Ok(())) => {}
            other => bail!("redis ping failed: {other:?}"),
        }
        latencies.push(begun.elapsed());
    }
    reports.push(Report::new("redis_ping").with_latencies(&Run { latencies, wall: started.elapsed() }));
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_become_the_query_strings_the_api_parses() {
        let mut request = SearchRequest::text("café crème ");
        request.categories.push(contracts::Category::parse("true-crime").expect("category"));
        request.per_page = 50;
        let query = query_string(&request);
        assert_eq!(query, "q=caf%C3%A9+cr%C3%A8me+&category=true-crime&per_page=50");
        let uri: http::Uri = format!("/v1/search?{query}").parse().expect("uri");
        let pairs = platform::http::query_pairs(&uri);
        let parsed = SearchRequest::from_params(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).expect("parses");
        assert_eq!(parsed, request);
    }
}
