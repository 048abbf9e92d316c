//! Distributed rate limiting with a real Redis (a `redis-server` per test on a free port, so it
//! can be stopped and started again): two gateways share one limit, and losing Redis falls back to
//! local limits with no 5xx, then shares again when Redis is back.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gateway_public::{PublicConfig, default_policies};
use platform::ratelimit::{FailMode, RateLimiter, RedisConfig};

use crate::world::{Node, client};

struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    fn start() -> Self {
        let port = platform::testing::free_port();
        let mut redis = Self { port, child: None };
        redis.restart();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn config(spec: &str) -> PublicConfig {
    PublicConfig { policies: default_policies().with_overrides(spec).expect("policies"), ..PublicConfig::default() }
}

fn limiter(redis: &Redis) -> RateLimiter {
    RateLimiter::redis("public", RedisConfig::new(redis.url()), FailMode::Local).expect("limiter")
}

#[tokio::test(flavor = "multi_thread")]
async fn two_gateways_sharing_redis_hold_one_global_limit() {
    let redis = Redis::start();
    let node = Node::new().await;
    // 50/s with a burst of 50, asked at about 300/s in all for three seconds, alternating between
    // the two gateways: together they may allow 50 + 50 per second, not twice that.
    let spec = "search=50/s:50";
    let a = node.gateway(limiter(&redis), config(spec)).await;
    let b = node.gateway(limiter(&redis), config(spec)).await;
    let client = client();
    let started = Instant::now();
    let (mut allowed, mut refused, mut n) = (0u64, 0u64, 0u64);
    while started.elapsed() < Duration::from_secs(3) {
        let gateway = if n % 2 == 0 { &a } else { &b };
        n += 1;
        let response = client.get(gateway.url("/v1/search?q=sea")).send().await.expect("request");
        let headers = response.headers().clone();
        match response.status().as_u16() {
            200 => allowed += 1,
            429 => {
                refused += 1;
                assert!(headers.contains_key("retry-after"));
            }
            other => panic!("unexpected status {other}"),
        }
        assert_eq!(headers["ratelimit-policy"], "\"search\";q=50;w=1");
        assert!(headers["ratelimit"].to_str().expect("ascii").starts_with("\"search\";r="));
        tokio::time::sleep(Duration::from_micros(3_300)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let expected = 50.0 + 50.0 * elapsed;
    let ratio = allowed as f64 / expected;
    assert!(refused > 0, "the load exceeded the limit");
    assert!(
        (0.95..=1.05).contains(&ratio),
        "allowed {allowed} of {n} in {elapsed:.2} s; one global limit allows {expected:.0} (ratio {ratio:.3})"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn losing_redis_falls_back_to_local_limits_and_recovers() {
    let mut redis = Redis::start();
    let node = Node::new().await;
    let spec = "search=1/m:5";
    let a = node.gateway(limiter(&redis), config(spec)).await;
    let b = node.gateway(limiter(&redis), config(spec)).await;
    let client = client();
    let status = |url: String| {
        let client = client.clone();
        async move { client.get(url).send().await.expect("request").status().as_u16() }
    };
    // Shared: five requests through A use the allowance B sees too.
    for _ in 0..5 {
        assert_eq!(status(a.url("/v1/search?q=sea")).await, 200);
    }
    assert_eq!(status(b.url("/v1/search?q=sea")).await, 429, "B sees A's use of the shared limit");

    // Redis gone: each gateway limits on its own; nothing fails.
    redis.stop();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(status(a.url("/v1/search?q=sea")).await);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429], "A's local allowance of 5");
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(status(b.url("/v1/search?q=sea")).await);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429], "B's own local allowance of 5");
    assert_eq!(a.api.limiter().redis_healthy(), Some(false));

    // Redis back (empty, as a restarted cache is): shared limits again once the retry pause ends.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    for gateway in [&a, &b] {
        // Each limiter asks Redis again once its retry pause is over.
        while gateway.api.limiter().ping_redis().await != Some(Ok(())) {
            assert!(Instant::now() < deadline, "the limiter never reached Redis again");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for _ in 0..5 {
        assert_eq!(status(b.url("/v1/search?q=sea")).await, 200);
    }
    assert_eq!(status(a.url("/v1/search?q=sea")).await, 429, "A sees B's use again");
    assert_eq!(a.api.limiter().redis_healthy(), Some(true));
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_closed_refuses_with_503_while_redis_is_down() {
    let mut redis = Redis::start();
    let node = Node::new().await;
    let limiter = RateLimiter::redis("public", RedisConfig::new(redis.url()), FailMode::Closed).expect("limiter");
    let gateway = node.gateway(limiter, PublicConfig::default()).await;
    let client = client();
    assert_eq!(client.get(gateway.url("/v1/search?q=sea")).send().await.expect("up").status(), 200);
    redis.stop();
    let response = client.get(gateway.url("/v1/search?q=sea")).send().await.expect("down");
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    gateway.stop().await;
}
