//! Events from cms-core through the relay and Kafka into a searchable index.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use auth::Role;
use cms_core::{Actor, Cms, Outbox, Relay, RelayConfig, Store};
use contracts::{CONTENT_DLQ_TOPIC, CONTENT_TOPIC, CreateProgram};
use engine::{Engine, EngineConfig, Replica, SearchRequest};
use indexer::{Checkpoint, KafkaConfig, Progress};
use platform::testing::Broker;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};

fn editor() -> Actor {
    Actor { user_id: "editor".into(), role: Role::Editor }
}

/// A CMS on a fresh SQLite file that publishes `count` programs titled with `word`, relayed to the
/// broker; returns how many events it relayed.
async fn publish_programs(broker: &Broker, dir: &std::path::Path, word: &str, count: usize) -> u64 {
    let store = Store::connect(&format!("sqlite://{}", dir.join("cms.db").display())).await.expect("store");
    let cms = Cms::new(store.clone());
    for n in 0..count {
        let input: CreateProgram = serde_json::from_value(serde_json::json!({
            "title": format!("{word} number {n}"), "category": "history", "language": "en"
        }))
        .expect("valid");
        let program = cms.create_program(&editor(), input, None, None).await.expect("create");
        cms.publish(&editor(), program.id, None, None).await.expect("publish");
    }
    let outbox = Outbox::new(store);
    let total = outbox.backlog().await.expect("backlog").rows;
    let mut relay = Relay::new(outbox.clone(), RelayConfig::new(broker.address())).expect("relay");
    let deadline = Instant::now() + Duration::from_secs(60);
    while outbox.backlog().await.expect("backlog").rows > 0 {
        assert!(Instant::now() < deadline, "relay never drained");
        if relay.publish_batch().await.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    total
}

/// Runs the indexer on `replica` until `done` holds (or a deadline), then stops it.
fn index_until(replica: &Replica, config: &KafkaConfig, done: impl Fn(&Engine) -> bool) -> Progress {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| indexer::run(replica, config, &stop));
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(&replica.engine()) && Instant::now() < deadline && !worker.is_finished() {
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        worker.join().expect("indexer thread").expect("indexer")
    })
}

fn total(engine: &Engine, text: &str) -> u64 {
    engine.search_uncached(&SearchRequest::text(format!("{text} "))).map(|r| r.total).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn published_items_become_searchable_and_poison_goes_to_the_dead_letter_topic() {
    let broker = Broker::start();
    broker.create_topic(CONTENT_TOPIC, 3).await;
    broker.create_topic(CONTENT_DLQ_TOPIC, 1).await;
    let dir = tempfile::tempdir().expect("dir");

    // A poison event first, so good events follow it on its partition.
    let producer: FutureProducer =
        ClientConfig::new().set("bootstrap.servers", broker.address()).create().expect("producer");
    producer
        .send(FutureRecord::to(CONTENT_TOPIC).key("poison").payload("{not an event"), Duration::from_secs(10))
        .await
        .expect("poison sent");
    let relayed = publish_programs(&broker, dir.path(), "Chronicle", 30).await;

    let replica = Replica::open(dir.path().join("index"), EngineConfig::default()).expect("replica");
    let engine = replica.engine();
    let config = KafkaConfig { batch_wait: Duration::from_millis(50), ..KafkaConfig::new(broker.address(), "node-a") };
    let progress = index_until(&replica, &config, |engine| total(engine, "chronicle") == 30);
    assert_eq!(total(&engine, "chronicle"), 30, "{progress:?}");
    assert_eq!(progress.dead_lettered, 1, "{progress:?}");
    assert_eq!(progress.applied + progress.stale, relayed, "{progress:?}");

    // The checkpoint in the index covers every message read, poison included.
    let checkpoint = Checkpoint::of(&engine).expect("checkpoint");
    let next: i64 = checkpoint.kafka.get(CONTENT_TOPIC).map(|p| p.values().sum()).unwrap_or(0);
    assert_eq!(next as u64, relayed + 1);

    // The dead letter carries the reason.
    let dlq: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .set("group.id", "dlq-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    dlq.subscribe(&[CONTENT_DLQ_TOPIC]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(30);
    let reason = loop {
        assert!(Instant::now() < deadline, "nothing in the dead-letter topic");
        if let Some(Ok(message)) = dlq.poll(Duration::from_millis(100)) {
            assert_eq!(message.payload(), Some(&b"{not an event"[..]));
            let headers = message.headers().expect("headers");
            let reason = headers.iter().find(|h| h.key == "reason").and_then(|h| h.value).expect("a reason");
            break String::from_utf8_lossy(reason).into_owned();
        }
    };
    assert!(reason.contains("not a valid content event"), "{reason}");

    // Restarted on the same index, it resumes after its checkpoint: only what is new is applied.
    let sequel = publish_programs(&broker, &dir.path().join("second"), "Sequel", 1).await;
    let again = index_until(&replica, &config, |engine| total(engine, "sequel") == 1);
    assert_eq!(total(&engine, "sequel"), 1);
    assert_eq!((again.applied, again.stale, again.dead_lettered), (sequel, 0, 0), "{again:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicated_and_reordered_delivery_ends_in_the_right_state() {
    use contracts::{ContentSnapshot, ContentStatus, EventEnvelope, EventType};

    let broker = Broker::start();
    broker.create_topic(CONTENT_TOPIC, 3).await;
    broker.create_topic(CONTENT_DLQ_TOPIC, 1).await;
    let producer: FutureProducer =
        ClientConfig::new().set("bootstrap.servers", broker.address()).create().expect("producer");
    let now = chrono::Utc::now();
    let mut expected_visible = Vec::new();
    let mut sends = Vec::new();
    for item in 0..20u32 {
        let id = uuid::Uuid::now_v7();
        // Versions 1..=5; the last one decides: even items end published, odd ones unpublished.
        let mut events = Vec::new();
        for version in 1..=5u64 {
            let status = match (version, item % 2) {
                (5, 0) => ContentStatus::Published,
                (5, _) => ContentStatus::Unpublished,
                (v, _) if v % 2 == 0 => ContentStatus::Published,
                _ => ContentStatus::Draft,
            };
            let program: contracts::Program = serde_json::from_value(serde_json::json!({
                "id": id, "title": format!("Shuffled item {item}"), "category": "news", "language": "en",
                "status": status, "version": version, "created_at": now, "updated_at": now
            }))
            .expect("program");
            let event_type = if status == ContentStatus::Published { EventType::Published } else { EventType::Updated };
            events.push(EventEnvelope::new(event_type, ContentSnapshot::Program(program), None));
        }
        if item % 2 == 0 {
            expected_visible.push(id);
        }
        // Newest first, then everything again in another order: late and repeated deliveries.
        let order = [4usize, 2, 0, 3, 1, 0, 1, 2, 3, 4];
        for index in order {
            sends.push((id.to_string(), serde_json::to_string(&events[index]).expect("json")));
        }
    }
    for (key, payload) in &sends {
        producer
            .send(FutureRecord::to(CONTENT_TOPIC).key(key).payload(payload), Duration::from_secs(10))
            .await
            .expect("sent");
    }
    let dir = tempfile::tempdir().expect("dir");
    let replica = Replica::open(dir.path().join("index"), EngineConfig::default()).expect("replica");
    let engine = replica.engine();
    let config = KafkaConfig { batch_wait: Duration::from_millis(50), ..KafkaConfig::new(broker.address(), "node-b") };
    let progress = index_until(&replica, &config, |engine| {
        Checkpoint::of(engine)
            .map(|c| c.kafka.get(CONTENT_TOPIC).map_or(0, |p| p.values().sum::<i64>()) as usize == sends.len())
            .unwrap_or(false)
    });
    assert_eq!(progress.applied, 20, "only each item's newest version applies: {progress:?}");
    assert_eq!(progress.stale, sends.len() as u64 - 20, "{progress:?}");
    let response = engine.search_uncached(&SearchRequest::text("shuffled ")).expect("search");
    let mut found: Vec<String> = response.hits.iter().map(|hit| hit.id.clone()).collect();
    found.sort();
    let mut want: Vec<String> = expected_visible.iter().map(uuid::Uuid::to_string).collect();
    want.sort();
    assert_eq!(response.total, 10);
    assert_eq!(found, want);
    assert!(response.hits.iter().all(|hit| hit.version == 5));
}

/// Sets every flag when dropped, so a failing assertion stops the indexer threads instead of
/// leaving the test waiting for them.
struct StopAll<'a>(Vec<&'a AtomicBool>);

impl Drop for StopAll<'_> {
    fn drop(&mut self) {
        for flag in &self.0 {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

#[test]
fn a_second_indexer_in_the_group_takes_over_and_catches_up() {
    let _serial = crate::serial();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let broker = Broker::start();
    runtime.block_on(broker.create_topic(CONTENT_TOPIC, 3));
    runtime.block_on(broker.create_topic(CONTENT_DLQ_TOPIC, 1));
    let dir = tempfile::tempdir().expect("dir");
    // Enough programs that each of the three partitions gets some: keys are random ids, and with 12
    // a partition is left empty about one run in 40; an indexer given only that one reads nothing.
    const PROGRAMS: usize = 30;
    let first_wave = runtime.block_on(publish_programs(&broker, &dir.path().join("cms-1"), "Relay", PROGRAMS));

    // Two indexers, each with its own index, share the group's partitions.
    let replica_a = Replica::open(dir.path().join("index-a"), EngineConfig::default()).expect("replica a");
    let replica_b = Replica::open(dir.path().join("index-b"), EngineConfig::default()).expect("replica b");
    let (engine_a, engine_b) = (replica_a.engine(), replica_b.engine());
    let config = KafkaConfig { batch_wait: Duration::from_millis(50), ..KafkaConfig::new(broker.address(), "shared") };
    let stop_a = AtomicBool::new(false);
    let stop_b = AtomicBool::new(false);
    let read = |engine: &Engine| {
        Checkpoint::of(engine).map(|c| c.kafka.get(CONTENT_TOPIC).map_or(0, |p| p.values().sum::<i64>())).unwrap_or(0)
    };
    std::thread::scope(|scope| {
        let _guard = StopAll(vec![&stop_a, &stop_b]);
        let a = scope.spawn(|| indexer::run(&replica_a, &config, &stop_a));
        let b = scope.spawn(|| indexer::run(&replica_b, &config, &stop_b));
        let deadline = Instant::now() + Duration::from_secs(60);
        // Both take part, and between them they read everything (one may have read a partition
        // before the other joined and took it over).
        while read(&engine_a) == 0 || read(&engine_b) == 0 || ((read(&engine_a) + read(&engine_b)) as u64) < first_wave
        {
            assert!(
                Instant::now() < deadline,
                "the two indexers never read the first wave of {first_wave}: a read {}, b read {}",
                read(&engine_a),
                read(&engine_b)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // One goes away; the other takes its partitions and replays them into its own index.
        stop_a.store(true, Ordering::Relaxed);
        let progress_a = a.join().expect("thread").expect("indexer a");
        let second_wave = runtime.block_on(publish_programs(&broker, &dir.path().join("cms-2"), "Encore", 3));
        while total(&engine_b, "relay") != PROGRAMS as u64 || total(&engine_b, "encore") != 3 {
            assert!(Instant::now() < deadline, "the survivor never caught up");
            std::thread::sleep(Duration::from_millis(20));
        }
        stop_b.store(true, Ordering::Relaxed);
        let progress_b = b.join().expect("thread").expect("indexer b");
        assert!(progress_a.applied > 0 && progress_b.applied > 0, "both took part: {progress_a:?} {progress_b:?}");
        assert_eq!(read(&engine_b) as u64, first_wave + second_wave, "the survivor's index covers every partition");
    });
}
