//! Calling other services without making their trouble ours: bounded retries with exponential
//! backoff and jitter (`reqwest-retry`), and a circuit breaker per upstream that fails fast while the
//! upstream is down.
//!
//! The breaker sits outside the retry layer, so it judges each call by its final outcome: a call
//! fails when it could not be made, timed out, or answered 5xx. It opens when, within `window`, at
//! least `min_calls` calls were made and at least `failure_ratio` of them failed; while open every
//! call fails at once with [`OpenCircuit`] (its `retry_after` says for how long); after `open_for`
//! one probe call goes through (half-open): success closes the breaker, failure opens it again.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Extensions;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use reqwest_retry::policies::ExponentialBackoff;
use reqwest_retry::{Jitter, RetryTransientMiddleware};

/// When a breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    pub window: Duration,
    pub min_calls: usize,
    pub failure_ratio: f64,
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self { window: Duration::from_secs(10), min_calls: 5, failure_ratio: 0.5, open_for: Duration::from_secs(2) }
    }
}

/// A breaker's state, as the `circuit_breaker_state` gauge reports it (0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    HalfOpen,
    Open,
}

impl BreakerState {
    fn gauge(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen => 1.0,
            Self::Open => 2.0,
        }
    }
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { probing: bool },
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    /// Outcomes in the window while closed: (when, succeeded).
    outcomes: VecDeque<(Instant, bool)>,
}

/// The breaker for one upstream.
#[derive(Debug)]
pub struct Breaker {
    upstream: String,
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

/// Refused by an open breaker.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{upstream} is failing; the circuit is open for another {retry_after:?}")]
pub struct OpenCircuit {
    pub upstream: String,
    pub retry_after: Duration,
}

/// Leave to make one call; say how it went with [`Permit::finish`]. A permit dropped unfinished
/// (the caller gave up) counts as a failure.
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a Breaker,
    done: bool,
}

impl Permit<'_> {
    pub fn finish(mut self, succeeded: bool) {
        self.done = true;
        self.breaker.record(succeeded);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.record(false);
        }
    }
}

impl Breaker {
    pub fn new(upstream: impl Into<String>, config: BreakerConfig) -> Self {
        let breaker = Self {
            upstream: upstream.into(),
            config,
            inner: Mutex::new(Inner { phase: Phase::Closed, outcomes: VecDeque::new() }),
        };
        breaker.report(BreakerState::Closed);
        breaker
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn report(&self, state: BreakerState) {
        metrics::gauge!("circuit_breaker_state", "upstream" => self.upstream.clone()).set(state.gauge());
    }

    pub fn state(&self) -> BreakerState {
        match self.lock().phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { until } if Instant::now() < until => BreakerState::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Leave to call the upstream, or how long until the breaker lets a call through.
    pub fn acquire(&self) -> Result<Permit<'_>, OpenCircuit> {
        let mut inner = self.lock();
        let now = Instant::now();
        match inner.phase {
            Phase::Closed => {}
            Phase::Open { until } if now < until => {
                return Err(OpenCircuit { upstream: self.upstream.clone(), retry_after: until - now });
            }
            Phase::Open { .. } | Phase::HalfOpen { probing: false } => {
                inner.phase = Phase::HalfOpen { probing: true };
                drop(inner);
                self.report(BreakerState::HalfOpen);
                tracing::info!(upstream = %self.upstream, "circuit half-open: probing");
            }
            Phase::HalfOpen { probing: true } => {
                return Err(OpenCircuit { upstream: self.upstream.clone(), retry_after: Duration::from_millis(100) });
            }
        }
        Ok(Permit { breaker: self, done: false })
    }

    fn record(&self, succeeded: bool) {
        let mut inner = self.lock();
        let now = Instant::now();
        match inner.phase {
            Phase::HalfOpen { .. } => {
                if succeeded {
                    inner.phase = Phase::Closed;
                    inner.outcomes.clear();
                    drop(inner);
                    self.report(BreakerState::Closed);
                    tracing::info!(upstream = %self.upstream, "circuit closed: the upstream answers again");
                } else {
                    inner.phase = Phase::Open { until: now + self.config.open_for };
                    drop(inner);
                    self.report(BreakerState::Open);
                }
            }
            Phase::Open { .. } => {}
            Phase::Closed => {
                inner.outcomes.push_back((now, succeeded));
                while inner.outcomes.front().is_some_and(|(when, _)| now.duration_since(*when) > self.config.window) {
                    inner.outcomes.pop_front();
                }
                let calls = inner.outcomes.len();
                let failures = inner.outcomes.iter().filter(|(_, ok)| !ok).count();
                if calls >= self.config.min_calls && failures as f64 >= self.config.failure_ratio * calls as f64 {
                    inner.phase = Phase::Open { until: now + self.config.open_for };
                    inner.outcomes.clear();
                    drop(inner);
                    self.report(BreakerState::Open);
                    metrics::counter!("circuit_breaker_opened_total", "upstream" => self.upstream.clone()).increment(1);
                    tracing::warn!(upstream = %self.upstream, calls, failures, "circuit open: failing fast");
                }
            }
        }
    }
}

/// The breaker as a `reqwest-middleware` layer.
#[derive(Debug, Clone)]
pub struct BreakerLayer(pub Arc<Breaker>);

#[async_trait::async_trait]
impl Middleware for BreakerLayer {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let permit = self.0.acquire().map_err(reqwest_middleware::Error::middleware)?;
        let result = next.run(request, extensions).await;
        permit.finish(matches!(&result, Ok(response) if !response.status().is_server_error()));
        result
    }
}

/// How a service calls one upstream.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Per attempt.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries after the first attempt (idempotent calls only).
    pub retries: u32,
    pub breaker: BreakerConfig,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_millis(500),
            retries: 2,
            breaker: BreakerConfig::default(),
        }
    }
}

/// Clients for one upstream sharing one breaker: `retrying` for calls that are safe to repeat
/// (idempotent methods, or carrying an `Idempotency-Key`), `once` for the others.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub breaker: Arc<Breaker>,
    pub retrying: ClientWithMiddleware,
    pub once: ClientWithMiddleware,
}

impl Upstream {
    pub fn new(name: &str, config: &UpstreamConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        let breaker = Arc::new(Breaker::new(name, config.breaker));
        let backoff = ExponentialBackoff::builder()
            .retry_bounds(Duration::from_millis(20), Duration::from_millis(500))
            .jitter(Jitter::Bounded)
            .build_with_max_retries(config.retries);
        let retrying = ClientBuilder::new(client.clone())
            .with(BreakerLayer(Arc::clone(&breaker)))
            .with(RetryTransientMiddleware::new_with_policy(backoff))
            .build();
        let once = ClientBuilder::new(client).with(BreakerLayer(Arc::clone(&breaker))).build();
        Ok(Self { breaker, retrying, once })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(
            "test",
            BreakerConfig {
                window: Duration::from_secs(10),
                min_calls: 4,
                failure_ratio: 0.5,
                open_for: Duration::from_millis(50),
            },
        )
    }

    #[test]
    fn opens_on_the_failure_ratio_probes_once_and_closes() {
        let breaker = breaker();
        breaker.acquire().expect("closed").finish(true);
        breaker.acquire().expect("closed").finish(false);
        breaker.acquire().expect("closed").finish(true);
        assert_eq!(breaker.state(), BreakerState::Closed, "3 calls are fewer than min_calls");
        breaker.acquire().expect("closed").finish(false);
        assert_eq!(breaker.state(), BreakerState::Open, "2 of 4 failed");
        let refused = breaker.acquire().expect_err("open");
        assert!(refused.retry_after <= Duration::from_millis(50));

        std::thread::sleep(Duration::from_millis(60));
        let probe = breaker.acquire().expect("half-open lets one probe through");
        assert!(breaker.acquire().is_err(), "only one probe at a time");
        probe.finish(false);
        assert_eq!(breaker.state(), BreakerState::Open, "a failed probe opens it again");

        std::thread::sleep(Duration::from_millis(60));
        breaker.acquire().expect("probe").finish(true);
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.acquire().expect("closed").finish(false);
        assert_eq!(breaker.state(), BreakerState::Closed, "the window restarted");
    }

    #[test]
    fn an_abandoned_probe_counts_as_a_failure() {
        let breaker = breaker();
        for _ in 0..4 {
            breaker.acquire().expect("closed").finish(false);
        }
        std::thread::sleep(Duration::from_millis(60));
        drop(breaker.acquire().expect("probe"));
        assert_eq!(breaker.state(), BreakerState::Open);
    }
}
