//! Rate limiting shared by the gateways: GCRA (the generic cell rate algorithm) over Redis as one
//! atomic Lua script, so every gateway replica draws on the same allowance, with an in-process
//! `governor` limiter that takes over while Redis is unreachable (or serves alone when no Redis is
//! configured).
//!
//! A [`Policy`] says how many requests a subject may make: `rate` per `period` on average, with
//! bursts of up to `burst`. A [`Decision`] says whether this request may go ahead and carries the
//! `RateLimit-Policy` / `RateLimit` headers (IETF httpapi draft) and, when refused, `Retry-After`.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contracts::{ErrorCode, Problem};
use governor::Quota;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use http::{HeaderMap, HeaderValue};

/// How many requests a subject may make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The name clients see in `RateLimit-Policy` and metrics label with.
    pub name: String,
    /// Requests per `period` on average.
    pub rate: u32,
    pub period: Duration,
    /// Requests that may arrive at once after a quiet spell.
    pub burst: u32,
}

impl Policy {
    pub fn new(name: impl Into<String>, rate: u32, period: Duration, burst: u32) -> Self {
        Self { name: name.into(), rate: rate.max(1), period: period.max(Duration::from_millis(1)), burst: burst.max(1) }
    }

    /// Parses `RATE/PERIOD[:BURST]`, e.g. `20/s:40`, `5/m`, `120/1m`, `1000/10s:2000` (the burst
    /// defaults to the rate).
    pub fn parse(name: &str, spec: &str) -> Result<Self, String> {
        let (rate_part, burst) = match spec.split_once(':') {
            Some((rate, burst)) => (
                rate,
                Some(burst.trim().parse::<u32>().map_err(|_| format!("{name}: burst {burst:?} is not a number"))?),
            ),
            None => (spec, None),
        };
        let (rate, period) =
            rate_part.split_once('/').ok_or_else(|| format!("{name}: expected RATE/PERIOD[:BURST], got {spec:?}"))?;
        let rate = rate.trim().parse::<u32>().map_err(|_| format!("{name}: rate {rate:?} is not a number"))?;
        let period = period.trim();
        let split = period.find(|c: char| !c.is_ascii_digit()).unwrap_or(period.len());
        let (count, unit) = period.split_at(split);
        let count: u64 = if count.is_empty() { 1 } else { count.parse().map_err(|_| format!("{name}: bad period"))? };
        let unit = match unit {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            other => return Err(format!("{name}: unknown period unit {other:?}; use ms, s, m or h")),
        };
        if rate == 0 || count == 0 || burst == Some(0) {
            return Err(format!("{name}: rate, period and burst must be positive"));
        }
        let period = unit * u32::try_from(count).map_err(|_| format!("{name}: period too long"))?;
        Ok(Self::new(name, rate, period, burst.unwrap_or(rate)))
    }

    /// Time between two requests at the average rate.
    pub fn interval(&self) -> Duration {
        self.period / self.rate
    }

    /// The window the header's quota is stated over: the time a full burst takes to replenish.
    fn window_seconds(&self) -> u64 {
        (self.interval() * self.burst).as_secs_f64().ceil().max(1.0) as u64
    }
}

/// Policies by name, with overrides from configuration (`name=RATE/PERIOD[:BURST],...`).
#[derive(Debug, Clone, Default)]
pub struct Policies {
    by_name: HashMap<String, Policy>,
}

impl Policies {
    pub fn new(defaults: impl IntoIterator<Item = Policy>) -> Self {
        Self { by_name: defaults.into_iter().map(|p| (p.name.clone(), p)).collect() }
    }

    /// Applies overrides such as `search=100/s:200,login=10/m`; unknown names are an error, so a
    /// typo does not silently leave a default in place.
    pub fn with_overrides(mut self, spec: &str) -> Result<Self, String> {
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, value) =
                entry.split_once('=').ok_or_else(|| format!("expected name=RATE/PERIOD, got {entry:?}"))?;
            let name = name.trim();
            if !self.by_name.contains_key(name) {
                let mut known: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
                known.sort_unstable();
                return Err(format!("unknown rate-limit policy {name:?}; known: {}", known.join(", ")));
            }
            self.by_name.insert(name.to_owned(), Policy::parse(name, value)?);
        }
        Ok(self)
    }

    /// The policy called `name`; a default of 10/s if the table has none (a route table bug, which
    /// tests catch by name).
    pub fn get(&self, name: &str) -> Policy {
        self.by_name.get(name).cloned().unwrap_or_else(|| Policy::new(name, 10, Duration::from_secs(1), 10))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Policy> {
        self.by_name.values()
    }
}

/// A gateway's rate-limit settings, as flags or variables.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Redis for shared rate limits; without it each gateway limits on its own.
    #[arg(long, env = "MEDIAMESH_REDIS_URL")]
    pub redis_url: Option<String>,
    /// While Redis is unreachable: `local` (limit in this process) or `closed` (refuse, 503).
    #[arg(long, env = "MEDIAMESH_RATE_LIMIT_FAIL", default_value = "local")]
    pub rate_limit_fail: String,
}

impl LimitArgs {
    /// The limiter these settings ask for, its keys namespaced by `namespace`.
    pub fn limiter(&self, namespace: &str) -> Result<RateLimiter, String> {
        RateLimiter::configured(namespace, self.redis_url.as_deref(), &self.rate_limit_fail)
    }
}

/// What to do when Redis cannot be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Limit each gateway on its own (the in-process limiter) until Redis is back.
    #[default]
    Local,
    /// Refuse requests (503) until Redis is back.
    Closed,
}

impl FailMode {
    pub fn parse(input: &str) -> Result<Self, String> {
        match input {
            "local" | "open" => Ok(Self::Local),
            "closed" => Ok(Self::Closed),
            other => Err(format!("unknown rate-limit fail mode {other:?}; use local or closed")),
        }
    }
}

/// Which limiter made a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Redis,
    Local,
    /// Redis was unreachable and the fail mode is `Closed`.
    Unavailable,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Local => "local",
            Self::Unavailable => "unavailable",
        }
    }
}

/// The outcome for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub policy: String,
    /// Requests the window holds (the burst).
    pub quota: u32,
    pub window_seconds: u64,
    /// Requests left right now.
    pub remaining: u32,
    /// Time until the allowance is whole again.
    pub reset: Duration,
    /// When refused: how long until one request would be allowed.
    pub retry_after: Option<Duration>,
    pub backend: Backend,
}

impl Decision {
    /// Adds `RateLimit-Policy`, `RateLimit` and (when refused) `Retry-After`.
    pub fn apply(&self, headers: &mut HeaderMap) {
        let policy = format!("\"{}\";q={};w={}", self.policy, self.quota, self.window_seconds);
        let state = format!("\"{}\";r={};t={}", self.policy, self.remaining, ceil_seconds(self.reset));
        for (name, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        if let Some(wait) = self.retry_after {
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from(ceil_seconds(wait).max(1)));
        }
    }

    /// The problem a refused request is answered with (429, or 503 while failing closed).
    pub fn problem(&self) -> Problem {
        match self.backend {
            Backend::Unavailable => Problem::new(ErrorCode::Unavailable, "rate limiting is unavailable; retry shortly"),
            _ => Problem::new(
                ErrorCode::RateLimited,
                format!(
                    "the {} limit allows {} requests per {} s; retry in {} s",
                    self.policy,
                    self.quota,
                    self.window_seconds,
                    ceil_seconds(self.retry_after.unwrap_or_default()).max(1)
                ),
            ),
        }
    }
}

fn ceil_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// GCRA in one atomic step. KEYS[1]: the subject's key. ARGV: emission interval and burst
/// tolerance (both in microseconds). The stored value is the theoretical arrival time (TAT) in
/// microseconds of Redis's own clock, so every gateway agrees on time. Answers
/// `{allowed, retry_after_us, reset_us}`.
const GCRA_SCRIPT: &str = r"
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > tolerance then
  return {0, new_tat - tolerance - now, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0, new_tat - now}
";

/// How the limiter reaches Redis.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub url: String,
    /// A decision that takes longer falls back to the local limiter.
    pub timeout: Duration,
    /// After a failure, Redis is not asked again for this long.
    pub retry_after_failure: Duration,
}

impl RedisConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), timeout: Duration::from_millis(50), retry_after_failure: Duration::from_millis(500) }
    }
}

struct RedisBackend {
    client: redis::Client,
    script: redis::Script,
    config: RedisConfig,
    connection: Mutex<Option<redis::aio::MultiplexedConnection>>,
    /// No attempt before this instant (after a failure).
    quiet_until: Mutex<Option<Instant>>,
    connecting: tokio::sync::Mutex<()>,
    healthy: AtomicBool,
}

impl RedisBackend {
    async fn connection(&self) -> Option<redis::aio::MultiplexedConnection> {
        if let Some(connection) = lock(&self.connection).clone() {
            return Some(connection);
        }
        if lock(&self.quiet_until).is_some_and(|until| Instant::now() < until) {
            return None;
        }
        // One connection attempt at a time; the others use the local limiter meanwhile.
        let _connecting = self.connecting.try_lock().ok()?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.config.timeout.max(Duration::from_millis(200))))
            .set_response_timeout(Some(self.config.timeout));
        match self.client.get_multiplexed_async_connection_with_config(&config).await {
            Ok(connection) => {
                *lock(&self.connection) = Some(connection.clone());
                Some(connection)
            }
            Err(error) => {
                self.failed(&error.to_string());
                None
            }
        }
    }

    fn failed(&self, error: &str) {
        *lock(&self.connection) = None;
        *lock(&self.quiet_until) = Some(Instant::now() + self.config.retry_after_failure);
        if self.healthy.swap(false, Ordering::Relaxed) {
            tracing::warn!(error, "Redis is unreachable; rate limits fall back to this process");
            metrics::gauge!("rate_limit_redis_up").set(0.0);
        }
    }

    fn succeeded(&self) {
        if !self.healthy.swap(true, Ordering::Relaxed) {
            tracing::info!("Redis is reachable; rate limits are shared again");
            metrics::gauge!("rate_limit_redis_up").set(1.0);
        }
    }

    /// `None` when Redis could not answer in time.
    async fn decide(&self, policy: &Policy, key: &str) -> Option<(bool, Duration, Duration)> {
        let mut connection = self.connection().await?;
        let interval = policy.interval().as_micros() as u64;
        let tolerance = interval * u64::from(policy.burst);
        let mut invocation = self.script.key(key);
        invocation.arg(interval).arg(tolerance);
        let answer =
            tokio::time::timeout(self.config.timeout, invocation.invoke_async::<Vec<i64>>(&mut connection)).await;
        match answer {
            Ok(Ok(values)) if values.len() == 3 => {
                self.succeeded();
                let micros = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
                Some((values[0] == 1, micros(values[1]), micros(values[2])))
            }
            Ok(Ok(values)) => {
                self.failed(&format!("unexpected script answer {values:?}"));
                None
            }
            Ok(Err(error)) => {
                self.failed(&error.to_string());
                None
            }
            Err(_) => {
                self.failed("timed out");
                None
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

type KeyedLimiter =
    governor::RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// The in-process limiter: one keyed `governor` limiter per policy.
#[derive(Default)]
struct Local {
    limiters: Mutex<HashMap<Policy, Arc<KeyedLimiter>>>,
}

impl std::hash::Hash for Policy {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (&self.name, self.rate, self.period, self.burst).hash(state);
    }
}

impl Local {
    fn limiter(&self, policy: &Policy) -> Arc<KeyedLimiter> {
        let mut limiters = lock(&self.limiters);
        Arc::clone(limiters.entry(policy.clone()).or_insert_with(|| {
            let burst = NonZeroU32::new(policy.burst).unwrap_or(NonZeroU32::MIN);
            let quota = Quota::with_period(policy.interval())
                .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                .allow_burst(burst);
            Arc::new(governor::RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>())
        }))
    }

    fn decide(&self, policy: &Policy, key: &str) -> (bool, u32, Duration, Duration) {
        let limiter = self.limiter(policy);
        let clock = DefaultClock::default();
        match limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = policy.burst.saturating_sub(remaining);
                (true, remaining, Duration::ZERO, policy.interval() * used)
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(clock.now());
                (false, 0, wait, policy.interval() * policy.burst)
            }
        }
    }

    /// Forgets subjects whose allowance is whole again (bounds memory).
    fn shrink(&self) {
        for limiter in lock(&self.limiters).values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// The limiter a gateway asks once per limited request.
pub struct RateLimiter {
    /// Namespaces the keys by client type (`public`, `cms`).
    namespace: String,
    redis: Option<RedisBackend>,
    local: Local,
    fail: FailMode,
    decisions: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("namespace", &self.namespace)
            .field("redis", &self.redis.as_ref().map(|r| &r.config.url))
            .field("fail", &self.fail)
            .finish()
    }
}

impl RateLimiter {
    /// The in-process limiter only (the embedded default).
    pub fn local(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            redis: None,
            local: Local::default(),
            fail: FailMode::Local,
            decisions: 0.into(),
        }
    }

    /// Limits shared through Redis at `config.url`, falling back as `fail` says while it is
    /// unreachable. Connecting is lazy: a Redis that is down at start is simply tried again later.
    pub fn redis(namespace: impl Into<String>, config: RedisConfig, fail: FailMode) -> Result<Self, String> {
        let client = redis::Client::open(config.url.as_str()).map_err(|e| format!("redis url {}: {e}", config.url))?;
        let backend = RedisBackend {
            client,
            script: redis::Script::new(GCRA_SCRIPT),
            config,
            connection: Mutex::new(None),
            quiet_until: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            healthy: AtomicBool::new(true),
        };
        Ok(Self { redis: Some(backend), fail, ..Self::local(namespace) })
    }

    /// What a service's configuration asks for: shared through Redis at `redis_url` (failing as
    /// `fail_mode` says: `local` or `closed`), or in-process when no URL is given.
    pub fn configured(namespace: &str, redis_url: Option<&str>, fail_mode: &str) -> Result<Self, String> {
        match redis_url.filter(|url| !url.is_empty()) {
            Some(url) => {
                let fail = FailMode::parse(fail_mode)?;
                tracing::info!(redis = url, ?fail, "rate limits shared through Redis");
                Self::redis(namespace, RedisConfig::new(url), fail)
            }
            None => Ok(Self::local(namespace)),
        }
    }

    /// Decides for one request of `subject` (`user:<id>`, `ip:<addr>`, ...) under `policy`.
    pub async fn check(&self, policy: &Policy, subject: &str) -> Decision {
        let started = Instant::now();
        let key = format!("mm:rl:{}:{}:{subject}", self.namespace, policy.name);
        let quota = policy.burst;
        let window_seconds = policy.window_seconds();
        let decision = match &self.redis {
            Some(redis) => match redis.decide(policy, &key).await {
                Some((allowed, retry_after, reset)) => {
                    let used = reset.as_micros().div_ceil(policy.interval().as_micros().max(1));
                    let remaining = u64::from(quota).saturating_sub(used as u64) as u32;
                    Decision {
                        allowed,
                        policy: policy.name.clone(),
                        quota,
                        window_seconds,
                        remaining,
                        reset,
                        retry_after: (!allowed).then_some(retry_after),
                        backend: Backend::Redis,
                    }
                }
                None => {
                    metrics::counter!("rate_limit_fallback_total", "mode" => match self.fail {
                        FailMode::Local => "local",
                        FailMode::Closed => "closed",
                    })
                    .increment(1);
                    match self.fail {
                        FailMode::Local => self.local_decision(policy, &key),
                        FailMode::Closed => Decision {
                            allowed: false,
                            policy: policy.name.clone(),
                            quota,
                            window_seconds,
                            remaining: 0,
                            reset: Duration::ZERO,
                            retry_after: Some(Duration::from_secs(1)),
                            backend: Backend::Unavailable,
                        },
                    }
                }
            },
            None => self.local_decision(policy, &key),
        };
        metrics::counter!(
            "rate_limit_decisions_total",
            "policy" => policy.name.clone(),
            "outcome" => if decision.allowed { "allowed" } else { "limited" },
            "backend" => decision.backend.as_str()
        )
        .increment(1);
        metrics::histogram!("rate_limit_decision_seconds", "backend" => decision.backend.as_str())
            .record(started.elapsed().as_secs_f64());
        // Now and then, forget local subjects that are whole again.
        if self.decisions.fetch_add(1, Ordering::Relaxed) % 10_000 == 9_999 {
            self.local.shrink();
        }
        decision
    }

    fn local_decision(&self, policy: &Policy, key: &str) -> Decision {
        let (allowed, remaining, retry_after, reset) = self.local.decide(policy, key);
        Decision {
            allowed,
            policy: policy.name.clone(),
            quota: policy.burst,
            window_seconds: policy.window_seconds(),
            remaining,
            reset,
            retry_after: (!allowed).then_some(retry_after),
            backend: Backend::Local,
        }
    }

    /// Whether Redis answered the last time it was asked (`None` without Redis).
    pub fn redis_healthy(&self) -> Option<bool> {
        self.redis.as_ref().map(|r| r.healthy.load(Ordering::Relaxed) && lock(&r.connection).is_some())
    }

    /// Pings Redis (for readiness); `None` without Redis.
    pub async fn ping_redis(&self) -> Option<Result<(), String>> {
        let redis = self.redis.as_ref()?;
        let Some(mut connection) = redis.connection().await else {
            return Some(Err("unreachable".into()));
        };
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        Some(match tokio::time::timeout(redis.config.timeout.max(Duration::from_millis(200)), ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("timed out".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_and_reject_nonsense() {
        let policy = Policy::parse("search", "20/s:40").expect("valid");
        assert_eq!((policy.rate, policy.period, policy.burst), (20, Duration::from_secs(1), 40));
        assert_eq!(policy.interval(), Duration::from_millis(50));
        assert_eq!(policy.window_seconds(), 2);
        let login = Policy::parse("login", "5/m").expect("valid");
        assert_eq!((login.burst, login.interval()), (5, Duration::from_secs(12)));
        assert_eq!(Policy::parse("x", "1000/10s:2000").expect("valid").interval(), Duration::from_millis(10));
        for bad in ["20", "x/s", "20/fortnight", "0/s", "20/s:0", "20/s:many"] {
            assert!(Policy::parse("x", bad).is_err(), "{bad}");
        }
        let policies = Policies::new([policy.clone()]);
        assert!(policies.clone().with_overrides("serach=1/s").is_err(), "typos are refused");
        let changed = policies.with_overrides("search=100/s:200").expect("override");
        assert_eq!(changed.get("search").burst, 200);
    }

    #[tokio::test]
    async fn the_local_limiter_allows_the_burst_then_refuses_with_headers() {
        let limiter = RateLimiter::local("test");
        let policy = Policy::new("search", 20, Duration::from_secs(1), 40);
        for n in 0..40u32 {
            let decision = limiter.check(&policy, "ip:10.0.0.1").await;
            assert!(decision.allowed, "request {n}");
            assert_eq!(decision.remaining, 39 - n);
        }
        let refused = limiter.check(&policy, "ip:10.0.0.1").await;
        assert!(!refused.allowed);
        assert!(refused.retry_after.is_some_and(|wait| wait <= Duration::from_millis(50)), "{refused:?}");
        let mut headers = HeaderMap::new();
        refused.apply(&mut headers);
        assert_eq!(headers["ratelimit-policy"], "\"search\";q=40;w=2");
        assert!(headers["ratelimit"].to_str().expect("ascii").starts_with("\"search\";r=0;t="));
        assert_eq!(headers["retry-after"], "1");
        assert_eq!(refused.problem().status, 429);
        // Another subject has its own allowance.
        assert!(limiter.check(&policy, "ip:10.0.0.2").await.allowed);
    }
}
