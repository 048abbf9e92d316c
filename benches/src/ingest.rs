//! Indexer figures: events per second from a Kafka topic into a committed index, and freshness
//! (a publish through the CMS API until a separate reader finds it), each beside the broker's own
//! figure for the same messages so the ratio shows what our code costs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use auth::{JwkSet, Role, SigningKey, TokenIssuer, Verifier};
use cms_core::{Actor, Cms, CmsApi, Outbox, Relay, RelayConfig, Store};
use contracts::{EventEnvelope, EventType};
use engine::{EngineConfig, Replica};
use indexer::{Checkpoint, KafkaConfig};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::catalog::{self, GenConfig};
use crate::measure::{Report, Run};

const PARTITIONS: i32 = 3;

async fn create_topic(brokers: &str, topic: &str) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    let results = admin
        .create_topics(&[NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await?;
    for result in results {
        result.map_err(|(name, code)| anyhow::anyhow!("creating {name}: {code:?}"))?;
    }
    Ok(())
}

/// A consumer of every partition of `topic` from the beginning, outside any group, with the
/// indexer's fetch wait: what the broker can do on its own.
fn bare_consumer(brokers: &str, topic: &str) -> Result<BaseConsumer> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "mm-bench-bare")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    Ok(consumer)
}

fn sum(checkpoint: &Checkpoint, topic: &str) -> i64 {
    checkpoint.kafka.get(topic).map_or(0, |partitions| partitions.values().sum())
}

/// `events` content events (published programs and episodes of the generated catalog) put on a
/// fresh topic; then the broker's own consume rate for them (a bare consumer, no work); then the
/// indexer's rate from its first commit to the commit that covers the last event.
pub fn kafka_ingest(brokers: &str, events: usize) -> Result<Vec<Report>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let topic = format!("mm-bench.ingest.{}", uuid::Uuid::now_v7().simple());
    runtime.block_on(create_topic(brokers, &topic))?;
    let programs = (events / 20).max(1);
    let items = catalog::generate(GenConfig { programs, episodes: events.saturating_sub(programs), seed: 1 });
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()?;
    let started = Instant::now();
    runtime.block_on(async {
        let mut deliveries = Vec::with_capacity(items.len());
        for item in &items {
            let event_type = EventType::Published;
            let envelope = EventEnvelope::new(event_type, item.clone(), None);
            let payload = serde_json::to_vec(&envelope)?;
            let key = item.program_id().to_string();
            let record = FutureRecord::to(&topic).key(&key).payload(&payload);
            deliveries.push(producer.send_result(record).map_err(|(error, _)| error)?);
        }
        for delivery in deliveries {
            delivery.await?.map_err(|(error, _)| error)?;
        }
        anyhow::Ok(())
    })?;
    let mut produced = Report::new("kafka_produce_ceiling");
    produced.docs = Some(items.len() as u64);
    produced.docs_per_s = Some(items.len() as f64 / started.elapsed().as_secs_f64());

    // The broker's own ceiling: read every message, do nothing with it.
    let consumer = bare_consumer(brokers, &topic)?;
    let started = Instant::now();
    let mut read = 0usize;
    while read < items.len() {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(300), "the broker served only {read} messages");
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let _ = message?.payload().map(<[u8]>::len);
            read += 1;
        }
    }
    let mut ceiling = Report::new("kafka_consume_ceiling");
    ceiling.docs = Some(read as u64);
    ceiling.docs_per_s = Some(read as f64 / started.elapsed().as_secs_f64());
    drop(consumer);

    // The indexer, consuming in its own group into a fresh index.
    let dir = tempfile::tempdir()?;
    let replica = Replica::open(dir.path(), EngineConfig::writer_side())?;
    let config = KafkaConfig {
        topic: topic.clone(),
        ..KafkaConfig::new(brokers, format!("mm-bench-indexer-{}", uuid::Uuid::now_v7().simple()))
    };
    let stop = AtomicBool::new(false);
    let total = items.len() as i64;
    let (first, done) = std::thread::scope(|scope| {
        let worker = scope.spawn(|| indexer::run(&replica, &config, &stop));
        let started = Instant::now();
        let mut first: Option<(Instant, i64)> = None;
        loop {
            let covered = sum(&Checkpoint::of(&replica.engine())?, &topic);
            if covered > 0 && first.is_none() {
                first = Some((Instant::now(), covered));
            }
            if covered >= total {
                break;
            }
            if started.elapsed() > Duration::from_secs(600) || worker.is_finished() {
                stop.store(true, Ordering::Relaxed);
                anyhow::bail!("the indexer covered {covered} of {total} events");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let done = Instant::now();
        stop.store(true, Ordering::Relaxed);
        worker.join().map_err(|_| anyhow::anyhow!("indexer thread panicked"))??;
        Ok((first.context("no commit")?, done))
    })?;
    let (first_at, first_events) = first;
    let mut ingest = Report::new("indexer_kafka_ingest");
    ingest.docs = Some(total as u64);
    ingest.docs_per_s = Some((total - first_events) as f64 / done.duration_since(first_at).as_secs_f64().max(1e-9));
    Ok(vec![produced, ceiling, ingest])
}

/// How a freshness run is set up.
#[derive(Debug, Clone)]
pub struct FreshnessOptions {
    /// Kafka brokers; `None` runs the embedded path (the indexer reads the outbox).
    pub brokers: Option<String>,
    pub rate: u32,
    pub seconds: u32,
}

/// Publishes drafts through the CMS HTTP API at `rate` per second and times each from the request
/// until a separate reader (as a gateway would be) finds the item at its published version.
pub async fn freshness(options: &FreshnessOptions) -> Result<Vec<Report>> {
    let dir = tempfile::tempdir()?;
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("cms.db").display())).await?;
    let cms = Cms::new(store.clone());
    let count = (options.rate * options.seconds) as usize;
    let editor = Actor { user_id: "bench".into(), role: Role::Editor };
    let mut drafts = Vec::with_capacity(count);
    for n in 0..count {
        let input = serde_json::from_value(serde_json::json!({
            "title": format!("Fresh program {n}"), "category": "news", "language": "en"
        }))?;
        drafts.push(cms.create_program(&editor, input, None, None).await?.id);
    }

    // The CMS API, the relay (Kafka path) and the indexer.
    let key = SigningKey::generate()?;
    let verifier = Verifier::new(&JwkSet { keys: vec![key.public_jwk()] }, "mediamesh-auth", "mediamesh")?;
    let api = CmsApi::new(cms.clone(), verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(platform::http::serve(listener, move |request| Arc::clone(&api).handle(request), {
        let mut stop = stop_rx.clone();
        async move {
            let _ = stop.changed().await;
        }
    }));
    let root = dir.path().join("index");
    let writer_side = Arc::new(Replica::open(&root, EngineConfig::writer_side())?);
    let outbox = Outbox::new(store.clone());
    let stop_flag = Arc::new(AtomicBool::new(false));
    let mut background = Vec::new();
    let mut indexer_thread = None;
    let topic;
    match &options.brokers {
        Some(brokers) => {
            topic = format!("mm-bench.fresh.{}", uuid::Uuid::now_v7().simple());
            create_topic(brokers, &topic).await?;
            // Drafts are not discoverable; their creation events are drained before the clock starts.
            let relay = Relay::new(outbox.clone(), RelayConfig { topic: topic.clone(), ..RelayConfig::new(brokers) })?;
            background.push(tokio::spawn({
                let stop = stop_rx.clone();
                async move {
                    if let Err(error) = relay.run(stop).await {
                        eprintln!("relay: {error}");
                    }
                }
            }));
            let config = KafkaConfig {
                topic: topic.clone(),
                ..KafkaConfig::new(brokers.clone(), format!("mm-bench-fresh-{}", uuid::Uuid::now_v7().simple()))
            };
            let (replica, stop) = (Arc::clone(&writer_side), Arc::clone(&stop_flag));
            indexer_thread = Some(std::thread::spawn(move || indexer::run(&replica, &config, &stop)));
        }
        None => {
            topic = String::new();
            let task = indexer::run_embedded(
                Arc::clone(&writer_side),
                outbox.clone(),
                indexer::EmbeddedConfig::default(),
                stop_rx.clone(),
            );
            background.push(tokio::spawn(async move {
                if let Err(error) = task.await {
                    eprintln!("embedded indexer: {error}");
                }
            }));
        }
    }
    // Wait until the drafts' events are indexed (nothing visible yet), so the clock measures
    // publishes only.
    let drafts_events = count as i64;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let checkpoint = Checkpoint::of(&writer_side.engine())?;
        let covered = if options.brokers.is_some() { sum(&checkpoint, &topic) } else { checkpoint.outbox.unwrap_or(0) };
        if covered >= drafts_events {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the drafts were never indexed ({covered} of {drafts_events})");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A separate reader, as gateway-public is: it syncs every 10 ms and checks what is pending.
    let reader = Replica::open(&root, EngineConfig::default())?;
    let pending: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let seen: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let watcher = {
        let (pending, seen, stop) = (Arc::clone(&pending), Arc::clone(&seen), Arc::clone(&stop_flag));
        std::thread::spawn(move || -> Result<()> {
            while !stop.load(Ordering::Relaxed) {
                reader.refresh()?;
                let engine = reader.engine();
                if engine.reload_if_changed()? {
                    let now = Instant::now();
                    let mut pending = pending.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                    let visible: Vec<String> =
                        pending.keys().filter(|id| matches!(engine.get(id), Ok(Some(_)))).cloned().collect();
                    let mut seen = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                    for id in visible {
                        if let Some(sent) = pending.remove(&id) {
                            seen.push(now.duration_since(sent));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(())
        })
    };

    let token = TokenIssuer::new(&key, "mediamesh-auth", "mediamesh", 3600)
        .issue("bench-editor", "bench@example.com", Role::Editor, chrono::Utc::now().timestamp())?
        .0;
    let client = reqwest::Client::new();
    let interval = Duration::from_secs_f64(1.0 / f64::from(options.rate.max(1)));
    let started = Instant::now();
    let mut requests = tokio::task::JoinSet::new();
    for (n, id) in drafts.iter().enumerate() {
        let due = started + interval * n as u32;
        tokio::time::sleep_until(due.into()).await;
        let request = client.post(format!("{base}/v1/programs/{id}/publish")).bearer_auth(&token);
        let (pending, id) = (Arc::clone(&pending), id.to_string());
        requests.spawn(async move {
            let sent = Instant::now();
            pending.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.insert(id, sent);
            let response = request.send().await?;
            anyhow::ensure!(response.status().is_success(), "publish answered {}", response.status());
            anyhow::Ok(sent.elapsed())
        });
    }
    let mut publish_latencies = Vec::with_capacity(count);
    while let Some(done) = requests.join_next().await {
        publish_latencies.push(done??);
    }
    let publish_wall = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pending.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.is_empty() {
        anyhow::ensure!(Instant::now() < deadline, "some publishes never became visible");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_flag.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    watcher.join().map_err(|_| anyhow::anyhow!("watcher panicked"))??;
    if let Some(thread) = indexer_thread {
        thread.join().map_err(|_| anyhow::anyhow!("indexer panicked"))??;
    }
    for task in background {
        let _ = task.await;
    }
    let _ = server.await;

    let path = if options.brokers.is_some() { "kafka" } else { "embedded" };
    let latencies = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    let mut reports = vec![
        Report::new(format!("freshness_{path}")).with_latencies(&Run { latencies, wall: publish_wall }),
        Report::new("publish_http").with_latencies(&Run { latencies: publish_latencies, wall: publish_wall }),
    ];
    if let Some(brokers) = &options.brokers {
        reports.push(broker_latency(brokers, options.rate, options.seconds).await?);
    }
    Ok(reports)
}

/// The broker's own produce-to-consume latency at the same rate: a bare producer and consumer with
/// the settings the relay and the indexer use.
async fn broker_latency(brokers: &str, rate: u32, seconds: u32) -> Result<Report> {
    let topic = format!("mm-bench.latency.{}", uuid::Uuid::now_v7().simple());
    create_topic(brokers, &topic).await?;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()?;
    let consumer = bare_consumer(brokers, &topic)?;
    let count = (rate * seconds) as usize;
    let origin = Instant::now();
    let reader = std::thread::spawn(move || -> Result<Vec<Duration>> {
        let mut latencies = Vec::with_capacity(count);
        let deadline = Instant::now() + Duration::from_secs(u64::from(seconds) + 60);
        while latencies.len() < count && Instant::now() < deadline {
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                let message = message?;
                let sent_nanos: u64 = std::str::from_utf8(message.payload().unwrap_or_default())?.parse()?;
                latencies.push(origin.elapsed().saturating_sub(Duration::from_nanos(sent_nanos)));
            }
        }
        Ok(latencies)
    });
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(count);
    for n in 0..count {
        tokio::time::sleep_until((started + interval * n as u32).into()).await;
        let payload = (origin.elapsed().as_nanos() as u64).to_string();
        let key = format!("k{}", n % 64);
        deliveries.push(
            producer.send_result(FutureRecord::to(&topic).key(&key).payload(&payload)).map_err(|(error, _)| error)?,
        );
    }
    for delivery in deliveries {
        delivery.await?.map_err(|(error, _)| error)?;
    }
    let latencies = reader.join().map_err(|_| anyhow::anyhow!("reader panicked"))??;
    Ok(Report::new("broker_produce_to_consume").with_latencies(&Run { latencies, wall: started.elapsed() }))
}
