//! Write-path figures: creates per second through the CMS HTTP API, and outbox events per second
//! through the relay to Kafka, each beside the ceiling of the component we do not own (the same
//! writes straight into the database; the same messages straight into the broker), so the ratio
//! shows what our code costs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use auth::{JwkSet, Role, SigningKey, TokenIssuer, Verifier};
use cms_core::{Actor, Cms, CmsApi, Outbox, Relay, RelayConfig, Store};
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::measure::{Report, Run};

/// A store on `database_url`; for PostgreSQL, a fresh database beside the one named, so runs never
/// see each other's rows. Returns the store and a label for the backend.
async fn fresh_store(database_url: Option<&str>, dir: &std::path::Path) -> Result<(Store, &'static str)> {
    match database_url {
        Some(url) if url.starts_with("postgres") => {
            sqlx::any::install_default_drivers();
            let admin = sqlx::AnyPool::connect(url).await.context("connecting to PostgreSQL")?;
            let name = format!("mm_bench_cms_{}", uuid::Uuid::now_v7().simple());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await?;
            let (server, _) = url.rsplit_once('/').context("the URL names no database")?;
            Ok((Store::connect(&format!("{server}/{name}")).await?, "postgres"))
        }
        _ => Ok((Store::connect(&format!("sqlite://{}", dir.join("cms.db").display())).await?, "sqlite")),
    }
}

fn program_body(n: usize) -> serde_json::Value {
    serde_json::json!({
        "title": format!("Benchmark program {n}"),
        "description": "A program created by mm-bench to measure the write path. ".repeat(8),
        "category": "technology",
        "language": "en",
        "artwork_url": format!("https://cdn.example/artwork/{n}.jpg"),
    })
}

/// `creates` programs through the HTTP API with `concurrency` clients, then the database's own
/// ceiling for the same three rows per transaction.
pub async fn cms_write(database_url: Option<&str>, creates: usize, concurrency: usize) -> Result<Vec<Report>> {
    let dir = tempfile::tempdir()?;
    let (store, backend) = fresh_store(database_url, dir.path()).await?;
    let key = SigningKey::generate()?;
    let verifier = Verifier::new(&JwkSet { keys: vec![key.public_jwk()] }, "mediamesh-auth", "mediamesh")?;
    let api = CmsApi::new(Cms::new(store.clone()), verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server =
        tokio::spawn(platform::http::serve(listener, move |request| Arc::clone(&api).handle(request), async move {
            let _ = stopped.await;
        }));
    let token = TokenIssuer::new(&key, "mediamesh-auth", "mediamesh", 3600)
        .issue("bench-editor", "bench@example.com", Role::Editor, chrono::Utc::now().timestamp())?
        .0;
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/programs");
    let run = run_tasks(creates, concurrency, |n| {
        let request = client
            .post(&url)
            .bearer_auth(&token)
            .header("idempotency-key", format!("bench-{n}"))
            .json(&program_body(n));
        async move {
            let response = request.send().await?;
            anyhow::ensure!(response.status() == reqwest::StatusCode::CREATED, "create answered {}", response.status());
            Ok(())
        }
    })
    .await?;
    let _ = stop.send(());
    let _ = server.await;
    let mut api_report = Report::new(format!("cms_create_http_{backend}")).with_latencies(&run);
    api_report.docs = Some(creates as u64);

    // The same writes without us: a content row, an outbox row and an audit row per transaction.
    sqlx::query("CREATE TABLE bench_ceiling (id TEXT PRIMARY KEY, data TEXT NOT NULL)").execute(store.pool()).await?;
    let snapshot = serde_json::to_string(&program_body(0))?.repeat(2);
    let run = run_tasks(creates, concurrency, |n| {
        let store = store.clone();
        let snapshot = snapshot.clone();
        async move {
            let mut tx = store.begin().await?;
            for part in ["content", "outbox", "audit"] {
                sqlx::query("INSERT INTO bench_ceiling (id, data) VALUES ($1, $2)")
                    .bind(format!("{part}-{n}"))
                    .bind(snapshot.clone())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }
    })
    .await?;
    let mut ceiling = Report::new(format!("db_ceiling_{backend}")).with_latencies(&run);
    ceiling.docs = Some(creates as u64);
    Ok(vec![api_report, ceiling])
}

/// `events` outbox rows relayed to `topic` on `brokers`, then the broker's own ceiling for the same
/// messages from one producer.
pub async fn relay(brokers: &str, topic: &str, events: usize) -> Result<Vec<Report>> {
    let dir = tempfile::tempdir()?;
    let (store, _) = fresh_store(None, dir.path()).await?;
    let cms = Cms::new(store.clone());
    let editor = Actor { user_id: "bench".into(), role: Role::Editor };
    for n in 0..events {
        let input = serde_json::from_value(program_body(n))?;
        cms.create_program(&editor, input, None, None).await?;
    }
    let outbox = Outbox::new(store);
    let payload_bytes = outbox.unsent(1).await?.first().map_or(0, |row| row.payload.len());
    let mut relay = Relay::new(outbox.clone(), RelayConfig { topic: topic.to_owned(), ..RelayConfig::new(brokers) })?;
    let started = Instant::now();
    while outbox.backlog().await?.rows > 0 {
        if let Err(error) = relay.publish_batch().await {
            eprintln!("relay batch failed, retrying: {error}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let relay_wall = started.elapsed();

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .create()?;
    let payload = "x".repeat(payload_bytes);
    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(events);
    for n in 0..events {
        let key = format!("ceiling-{n}");
        let record = FutureRecord::to(topic).key(&key).payload(&payload);
        deliveries.push(producer.send_result(record).map_err(|(error, _)| error)?);
    }
    for delivery in deliveries {
        delivery.await?.map_err(|(error, _)| error)?;
    }
    let ceiling_wall = started.elapsed();
    let rate = |wall: Duration| events as f64 / wall.as_secs_f64().max(1e-9);
    let mut relayed = Report::new("relay_outbox_to_kafka");
    relayed.docs = Some(events as u64);
    relayed.qps = Some(rate(relay_wall));
    let mut ceiling = Report::new("kafka_producer_ceiling");
    ceiling.docs = Some(events as u64);
    ceiling.qps = Some(rate(ceiling_wall));
    Ok(vec![relayed, ceiling])
}

/// Runs `count` tasks, at most `concurrency` at a time, timing each.
async fn run_tasks<F, Fut>(count: usize, concurrency: usize, task: F) -> Result<Run>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(count);
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < concurrency.max(1) {
            let n = next.fetch_add(1, Ordering::Relaxed);
            if n >= count {
                break;
            }
            let future = task(n);
            running.spawn(async move {
                let begun = Instant::now();
                future.await.map(|()| begun.elapsed())
            });
        }
        match running.join_next().await {
            Some(done) => latencies.push(done??),
            None => break,
        }
    }
    Ok(Run { latencies, wall: started.elapsed() })
}
