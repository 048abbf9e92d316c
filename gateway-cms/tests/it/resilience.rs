//! cms-core goes away: the breaker opens and the gateway answers 503 at once, with Retry-After;
//! cms-core comes back: a probe closes the breaker and writes succeed again.

use std::time::{Duration, Instant};

use platform::resilience::{BreakerConfig, BreakerState};
use reqwest::Method;
use serde_json::json;

use crate::world::{ADMIN_EMAIL, Cluster, call, call_full};

#[tokio::test(flavor = "multi_thread")]
async fn the_breaker_opens_while_cms_core_is_down_and_closes_when_it_is_back() {
    let mut cluster = Cluster::start(|config| {
        config.upstream.breaker = BreakerConfig {
            window: Duration::from_secs(10),
            min_calls: 4,
            failure_ratio: 0.5,
            open_for: Duration::from_secs(1),
        };
    })
    .await;
    let admin = cluster.login(ADMIN_EMAIL).await;
    let editor = cluster.user(&admin, "editor@mediamesh.test", "EDITOR").await;
    let create = |title: &str| json!({"title": title, "category": "history", "language": "en"});
    let (status, _) = call(Method::POST, &cluster.url("/v1/programs"), Some(&editor), Some(create("Before"))).await;
    assert_eq!(status, 201);

    cluster.cms.kill().await;
    let breaker = &cluster.api.upstream(gateway_cms::Service::Cms).breaker;
    // Failing calls (each retried, then 503) until the breaker opens.
    let mut attempts = 0;
    while breaker.state() != BreakerState::Open {
        let (status, headers, problem) =
            call_full(Method::GET, &cluster.url("/v1/programs"), Some(&editor), None, &[]).await;
        assert_eq!((status, problem["code"].as_str()), (503, Some("unavailable")), "{problem}");
        assert!(headers.contains_key("retry-after"));
        attempts += 1;
        assert!(attempts <= 4, "the breaker should be open after 4 failed calls");
    }
    // Open: answered without trying cms-core, fast.
    for _ in 0..5 {
        let started = Instant::now();
        let (status, headers, problem) =
            call_full(Method::POST, &cluster.url("/v1/programs"), Some(&editor), Some(create("While down")), &[]).await;
        let took = started.elapsed();
        assert_eq!(status, 503, "{problem}");
        assert!(took < Duration::from_millis(50), "fails fast: {took:?}");
        assert_eq!(headers["retry-after"], "1");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains("cms-core")), "{problem}");
    }
    // Auth is another upstream with its own breaker: still fine.
    let (status, _) = call(Method::GET, &cluster.url("/v1/auth/me"), Some(&editor), None).await;
    assert_eq!(status, 200);

    cluster.cms.restart().await;
    // The open period ends (a timer, nothing to race): the next call is the half-open probe.
    let deadline = Instant::now() + Duration::from_secs(5);
    while breaker.state() == BreakerState::Open {
        assert!(Instant::now() < deadline, "the breaker never left the open state");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, item) = call(Method::POST, &cluster.url("/v1/programs"), Some(&editor), Some(create("After"))).await;
    assert_eq!(status, 201, "the probe write succeeds: {item}");
    assert_eq!(breaker.state(), BreakerState::Closed);
    let (_, page) = call(Method::GET, &cluster.url("/v1/programs"), Some(&editor), None).await;
    assert_eq!(page["total"], 2, "nothing was written while the breaker was open: {page}");
}
