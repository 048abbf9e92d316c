//! The end-to-end journey with every service as its own process (`mediamesh <service>`), a real
//! broker (tansu), Redis and PostgreSQL: an ADMIN creates an EDITOR; the EDITOR logs in through
//! gateway-cms, creates a program and 20 episodes and publishes them; within a second they are
//! searchable through gateway-public with the right facets; an edit and an unpublish show up the
//! same way; the publish request's trace id is in the logs of gateway-cms, cms-core and the
//! indexer; every service's `/metrics` shows the requests, and the indexer's lag returns to 0.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use contracts::{CONTENT_DLQ_TOPIC, CONTENT_TOPIC};
use platform::testing::{Broker, free_port};
use serde_json::{Value, json};

/// One service process, killed when dropped.
struct Service {
    name: &'static str,
    child: Child,
    log: PathBuf,
    addr: String,
}

impl Service {
    fn start(name: &'static str, dir: &Path, env: &[(&str, String)], args: &[String]) -> Self {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_mediamesh"));
        command.arg(name).args(args);
        for key in ["MEDIAMESH_DATA_DIR", "MEDIAMESH_INDEX_DIR", "MEDIAMESH_AUTH_URL", "MEDIAMESH_CMS_URL"] {
            command.env_remove(key);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .env("MEDIAMESH_LOG_FORMAT", "json")
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("mediamesh");
        let addr = args.iter().skip_while(|a| *a != "--addr").nth(1).cloned().unwrap_or_default();
        Self { name, child, log, addr }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dump(services: &[&Service]) -> String {
    services.iter().map(|s| format!("---- {}\n{}", s.name, s.log())).collect::<Vec<_>>().join("\n")
}

/// A new database on the test server.
pub async fn fresh_database() -> String {
    let base = std::env::var("MEDIAMESH_DATABASE_URL_TEST")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base).await.expect("PostgreSQL (run scripts/test.sh)");
    let name = format!("cms_it_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("create database");
    let (server, _) = base.rsplit_once('/').expect("a database name in the URL");
    format!("{server}/{name}")
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_editors_work_reaches_discovery_with_one_trace_through_every_process() {
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start();
    broker.create_topic(CONTENT_TOPIC, 3).await;
    broker.create_topic(CONTENT_DLQ_TOPIC, 1).await;
    let database = fresh_database().await;
    let redis = std::env::var("MEDIAMESH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let addr = |port: u16| format!("127.0.0.1:{port}");
    let (auth_port, cms_port, indexer_port, public_port, editors_port) =
        (free_port(), free_port(), free_port(), free_port(), free_port());
    let auth_url = format!("http://{}", addr(auth_port));
    let common = vec![
        ("MEDIAMESH_DATABASE_URL", database.clone()),
        ("MEDIAMESH_KAFKA_BROKERS", broker.address()),
        ("MEDIAMESH_REDIS_URL", redis.clone()),
        ("MEDIAMESH_LOG", "info,indexer=debug,cms_core::relay=debug".to_owned()),
        ("MEDIAMESH_ADMIN_EMAIL", "admin@mediamesh.test".to_owned()),
        ("MEDIAMESH_ADMIN_PASSWORD", "a long passphrase".to_owned()),
        ("MEDIAMESH_INDEXER_GROUP", format!("e2e-{}", uuid::Uuid::now_v7().simple())),
        // The shared Redis remembers earlier runs' logins for a minute.
        ("MEDIAMESH_CMS_RATE_LIMITS", "login=600/m".to_owned()),
        // The test polls search faster than a listener's 20/s would allow.
        ("MEDIAMESH_PUBLIC_RATE_LIMITS", "search=500/s:500".to_owned()),
    ];
    let index = dir.path().join("index").display().to_string();
    let auth = Service::start("auth", dir.path(), &common, &["--addr".into(), addr(auth_port)]);
    let cms = Service::start(
        "cms-core",
        dir.path(),
        &common,
        &["--addr".into(), addr(cms_port), "--auth-url".into(), auth_url.clone()],
    );
    let indexer = Service::start(
        "indexer",
        dir.path(),
        &common,
        &["--addr".into(), addr(indexer_port), "--index".into(), index.clone()],
    );
    let public = Service::start(
        "gateway-public",
        dir.path(),
        &common,
        &["--addr".into(), addr(public_port), "--index".into(), index, "--auth-url".into(), auth_url.clone()],
    );
    let editors = Service::start(
        "gateway-cms",
        dir.path(),
        &common,
        &[
            "--addr".into(),
            addr(editors_port),
            "--auth-url".into(),
            auth_url,
            "--cms-url".into(),
            format!("http://{}", addr(cms_port)),
        ],
    );
    let all = [&auth, &cms, &indexer, &public, &editors];
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");

    // Every service comes up ready.
    let deadline = Instant::now() + Duration::from_secs(90);
    for service in all {
        loop {
            let ready = client.get(service.url("/readyz")).send().await.is_ok_and(|r| r.status().is_success());
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "{} never became ready\n{}", service.name, dump(&all));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Readiness covers each service's dependencies: the broker for cms-core and the indexer,
    // Redis for the gateways.
    for (service, check) in [(&cms, "broker"), (&indexer, "broker"), (&public, "redis"), (&editors, "redis")] {
        let ready = json_of(client.get(service.url("/readyz")).send().await.expect("readyz")).await;
        assert_eq!(ready["checks"][check]["ok"], true, "{}: {ready}", service.name);
    }

    // An ADMIN creates an EDITOR, who logs in through gateway-cms.
    let editors_url = format!("http://{}", editors.addr);
    let login = |email: &'static str| crate::login(&client, &editors_url, email);
    let admin = login("admin@mediamesh.test").await;
    let created = client
        .post(editors.url("/v1/users"))
        .bearer_auth(&admin)
        .json(&json!({"email": "editor@mediamesh.test", "password": "a long passphrase", "role": "EDITOR"}))
        .send()
        .await
        .expect("create editor");
    assert_eq!(created.status(), 201);
    let editor = login("editor@mediamesh.test").await;

    // A program and 20 episodes, published.
    let program = json_of(
        client
            .post(editors.url("/v1/programs"))
            .bearer_auth(&editor)
            .json(&json!({"title": "Tidewater chronicles", "category": "history", "language": "en"}))
            .send()
            .await
            .expect("program"),
    )
    .await;
    let program_id = program["id"].as_str().expect("program id").to_owned();
    let mut episodes = Vec::new();
    for n in 0..20 {
        let language = if n < 15 { "en" } else { "fr" };
        let episode = json_of(
            client
                .post(editors.url(&format!("/v1/programs/{program_id}/episodes")))
                .bearer_auth(&editor)
                .json(&json!({"title": format!("Tidewater episode {n}"), "duration_seconds": 600 + n, "language": language}))
                .send()
                .await
                .expect("episode"),
        )
        .await;
        let id = episode["id"].as_str().unwrap_or_else(|| panic!("episode {n}: {episode}")).to_owned();
        let published =
            client.post(editors.url(&format!("/v1/episodes/{id}/publish"))).bearer_auth(&editor).send().await;
        assert_eq!(published.expect("publish episode").status(), 200);
        episodes.push(id);
    }
    let trace_id = "5e2e0a1b2c3d4e5f60718293a4b5c6d7";
    let publish = client
        .post(editors.url(&format!("/v1/programs/{program_id}/publish")))
        .bearer_auth(&editor)
        .header("traceparent", format!("00-{trace_id}-0123456789abcdef-01"))
        .send()
        .await
        .expect("publish program");
    assert_eq!(publish.status(), 200);
    assert!(publish.headers()["traceparent"].to_str().expect("ascii").contains(trace_id));
    let published_at = Instant::now();

    // Within a second, searchable with the right facets.
    let search = |query: &'static str| {
        let (client, url) = (client.clone(), public.url(&format!("/v1/search?{query}")));
        async move { json_of(client.get(url).send().await.expect("search")).await }
    };
    loop {
        let page = search("q=tidewater&per_page=50").await;
        if page["total"] == 21 {
            assert_eq!(page["facets"]["category"], json!([{"value": "history", "count": 21}]), "{page}");
            assert_eq!(
                page["facets"]["language"],
                json!([{"value": "en", "count": 16}, {"value": "fr", "count": 5}]),
                "{page}"
            );
            break;
        }
        assert!(published_at.elapsed() < Duration::from_secs(1), "not searchable within 1 s: {page}\n{}", dump(&all));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // An edit and an unpublish show up the same way.
    let edited = client
        .patch(editors.url(&format!("/v1/programs/{program_id}")))
        .bearer_auth(&editor)
        .json(&json!({"title": "Tidewater chronicles, revised"}))
        .send()
        .await
        .expect("edit");
    assert_eq!(edited.status(), 200);
    let unpublished = client
        .post(editors.url(&format!("/v1/episodes/{}/unpublish", episodes[0])))
        .bearer_auth(&editor)
        .send()
        .await
        .expect("unpublish");
    assert_eq!(unpublished.status(), 200);
    let changed_at = Instant::now();
    loop {
        let page = search("q=revised&kind=program").await;
        let all_hits = search("q=tidewater&per_page=50").await;
        if page["total"] == 1 && all_hits["total"] == 20 {
            break;
        }
        assert!(
            changed_at.elapsed() < Duration::from_secs(1),
            "changes not visible within 1 s: revised {} tidewater {}",
            page["total"],
            all_hits["total"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // One trace id through gateway-cms, cms-core and the indexer.
    let traced = |service: &Service| service.log().lines().any(|line| line.contains(trace_id));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(traced(&editors) && traced(&cms) && traced(&indexer)) {
        assert!(Instant::now() < deadline, "trace {trace_id} missing from a log\n{}", dump(&all));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // In cms-core's process, both its request handling and the relay's send carry it.
    let relayed = |log: String| log.lines().any(|l| l.contains(trace_id) && l.contains("\"relayed\""));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !relayed(cms.log()) {
        assert!(Instant::now() < deadline, "the relay did not log trace {trace_id}\n{}", cms.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for line in editors.log().lines().filter(|l| l.contains(trace_id)) {
        let parsed: Value = serde_json::from_str(line).expect("JSON log lines");
        assert_eq!(parsed["service"], "gateway-cms");
        assert!(parsed["request_id"].is_string() && parsed["span_id"].is_string(), "{line}");
    }

    // Every service's metrics show its requests; the indexer's lag returns to 0.
    for service in [&auth, &cms, &public, &editors] {
        let metrics = client.get(service.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
        assert!(metrics.contains("http_requests_total{"), "{}: {metrics}", service.name);
        assert!(!metrics.contains("path=\""), "route templates, never raw paths");
    }
    let public_metrics = client.get(public.url("/metrics")).send().await.expect("m").text().await.expect("t");
    assert!(public_metrics.contains("route=\"/v1/search\""), "{public_metrics}");
    let editors_metrics = client.get(editors.url("/metrics")).send().await.expect("m").text().await.expect("t");
    assert!(editors_metrics.contains("circuit_breaker_state{"), "{editors_metrics}");
    assert!(editors_metrics.contains("rate_limit_decisions_total{"), "{editors_metrics}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = client.get(indexer.url("/metrics")).send().await.expect("m").text().await.expect("t");
        let lags: Vec<&str> = metrics.lines().filter(|l| l.starts_with("indexer_consumer_lag{")).collect();
        if lags.len() == 3 && lags.iter().all(|l| l.ends_with(" 0")) {
            break;
        }
        assert!(Instant::now() < deadline, "lag never returned to 0: {lags:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
