//! The relay against a real broker: what lands on the topic, and what happens while the broker is
//! down.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cms_core::{Outbox, Relay, RelayConfig};
use contracts::{ContentSnapshot, CreateEpisode, CreateProgram, EventEnvelope, EventType};
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};

use crate::support::{backends, editor};
use platform::testing::Broker;

struct Received {
    key: String,
    partition: i32,
    headers: HashMap<String, String>,
    envelope: EventEnvelope,
}

/// Reads the topic from the start until the events about `program` satisfy `done`.
async fn consume_until(
    broker: &Broker,
    topic: &str,
    program: uuid::Uuid,
    done: impl Fn(&[Received]) -> bool,
) -> Vec<Received> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .set("group.id", format!("test-{}", uuid::Uuid::now_v7().simple()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(&received) {
        assert!(Instant::now() < deadline, "only {} events arrived", received.len());
        let Ok(message) = tokio::time::timeout(Duration::from_secs(1), consumer.recv()).await else { continue };
        let message = message.expect("a message");
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_owned(), String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let envelope: EventEnvelope =
            serde_json::from_slice(message.payload().unwrap_or_default()).expect("an envelope");
        if envelope.data.program_id() != program {
            continue;
        }
        received.push(Received {
            key: String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
            partition: message.partition(),
            headers,
            envelope,
        });
    }
    received
}

/// Every event in the outbox about `program` (its episodes included), in sequence order.
async fn outbox_events(outbox: &Outbox, program: uuid::Uuid) -> Vec<EventEnvelope> {
    let rows = outbox.after(0, 100_000).await.expect("outbox rows");
    rows.iter()
        .map(|row| serde_json::from_str::<EventEnvelope>(&row.payload).expect("an envelope"))
        .filter(|event| event.data.program_id() == program)
        .collect()
}

fn config(broker: &Broker, topic: &str) -> RelayConfig {
    RelayConfig {
        topic: topic.to_owned(),
        delivery_timeout: Duration::from_secs(2),
        ..RelayConfig::new(broker.address())
    }
}

async fn drain(relay: &mut Relay, outbox: &Outbox) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while outbox.backlog().await.expect("backlog").rows > 0 {
        assert!(Instant::now() < deadline, "the outbox never drained");
        if relay.publish_batch().await.is_err() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn program_input(title: &str) -> CreateProgram {
    serde_json::from_value(serde_json::json!({"title": title, "category": "science", "language": "en"})).expect("valid")
}

fn episode_input(title: &str) -> CreateEpisode {
    serde_json::from_value(serde_json::json!({"title": title, "duration_seconds": 600})).expect("valid")
}

#[tokio::test]
async fn published_changes_reach_the_topic_keyed_with_headers() {
    let broker = Broker::start();
    let topic = "mediamesh.content";
    broker.create_topic(topic, 3).await;
    for backend in backends().await {
        let cms = &backend.cms;
        let outbox = Outbox::new(cms.store().clone());
        let trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let program = cms.create_program(&editor(), program_input("Ologies"), None, Some(trace)).await.expect("create");
        let episode =
            cms.create_episode(&editor(), program.id, episode_input("Ep 1"), None, Some(trace)).await.expect("ep");
        cms.publish(&editor(), program.id, None, Some(trace)).await.expect("publish");
        cms.publish(&editor(), episode.id, None, Some(trace)).await.expect("publish");
        let expected = outbox_events(&outbox, program.id).await;

        let mut relay = Relay::new(outbox.clone(), config(&broker, topic)).expect("relay");
        drain(&mut relay, &outbox).await;
        let received = consume_until(&broker, topic, program.id, |r| r.len() >= expected.len()).await;
        assert_eq!(received.len(), expected.len(), "{}", backend.name);
        for (got, want) in received.iter().zip(&expected) {
            assert_eq!(got.key, program.id.to_string(), "{}: keyed by program", backend.name);
            assert_eq!(got.partition, received[0].partition, "{}: one partition per program", backend.name);
            assert_eq!(got.headers.get("event_type").map(String::as_str), Some(want.event_type.as_str()));
            assert_eq!(got.headers.get("traceparent").map(String::as_str), Some(trace));
            assert_eq!(&got.envelope, want, "{}: the payload is the outbox envelope, in order", backend.name);
        }
        let last = &received.last().expect("events").envelope;
        assert!(matches!(&last.data, ContentSnapshot::Episode(e) if e.id == episode.id));
        assert_eq!(last.event_type, EventType::Published);
    }
}

#[tokio::test]
async fn events_wait_in_the_outbox_while_the_broker_is_down() {
    let mut broker = Broker::start();
    let topic = "mediamesh.content";
    broker.create_topic(topic, 3).await;
    let backend = backends().await.pop().expect("a backend");
    let cms = &backend.cms;
    let outbox = Outbox::new(cms.store().clone());
    let mut relay = Relay::new(outbox.clone(), config(&broker, topic)).expect("relay");

    let program = cms.create_program(&editor(), program_input("Outage"), None, None).await.expect("create");
    drain(&mut relay, &outbox).await;

    broker.stop();
    let mut items = vec![program.id];
    for n in 0..5 {
        let episode = cms.create_episode(&editor(), program.id, episode_input(&format!("Ep {n}")), None, None).await;
        items.push(episode.expect("episode").id);
    }
    for id in &items {
        cms.publish(&editor(), *id, None, None).await.expect("publish");
    }
    let waiting = outbox.backlog().await.expect("backlog").rows;
    assert!(waiting >= 11, "{waiting} events should wait");
    let attempt = relay.publish_batch().await;
    assert!(attempt.is_err(), "nothing can be delivered with the broker down: {attempt:?}");
    assert_eq!(outbox.backlog().await.expect("backlog").rows, waiting, "undelivered events stay in the outbox");

    broker.restart();
    drain(&mut relay, &outbox).await;
    let expected = outbox_events(&outbox, program.id).await;
    let received = consume_until(&broker, topic, program.id, |received| {
        expected.iter().all(|want| received.iter().any(|got| got.envelope.event_id == want.event_id))
    })
    .await;
    // Everything arrived; repeats of a failed batch are allowed, but per item the versions never go
    // backwards and every version is there.
    let mut last_version: HashMap<uuid::Uuid, u64> = HashMap::new();
    for got in &received {
        let id = got.envelope.aggregate.id;
        let version = got.envelope.aggregate.version;
        let previous = last_version.insert(id, version).unwrap_or(0);
        assert!(version >= previous, "{id}: version {version} after {previous}");
    }
    for want in &expected {
        assert!(
            received.iter().any(|got| got.envelope.event_id == want.event_id),
            "event {} ({:?} v{}) never arrived",
            want.event_id,
            want.event_type,
            want.aggregate.version
        );
    }
}

#[tokio::test]
async fn two_relays_hand_over_without_breaking_order() {
    let broker = Broker::start();
    let topic = "mediamesh.content";
    broker.create_topic(topic, 3).await;
    for backend in backends().await {
        let cms = backend.cms.clone();
        let outbox = Outbox::new(cms.store().clone());
        let relay_config = |holder: &str| RelayConfig {
            holder: holder.to_owned(),
            lease_ttl: Duration::from_millis(500),
            batch: 7,
            ..config(&broker, topic)
        };
        let (stop_a, stopping_a) = tokio::sync::watch::channel(false);
        let (stop_b, stopping_b) = tokio::sync::watch::channel(false);
        let relay_a = tokio::spawn(Relay::new(outbox.clone(), relay_config("a")).expect("relay a").run(stopping_a));
        let relay_b = tokio::spawn(Relay::new(outbox.clone(), relay_config("b")).expect("relay b").run(stopping_b));

        let program = cms.create_program(&editor(), program_input("Handover"), None, None).await.expect("create");
        let mut items = vec![program.id];
        for n in 0..3 {
            let episode =
                cms.create_episode(&editor(), program.id, episode_input(&format!("Ep {n}")), None, None).await;
            items.push(episode.expect("episode").id);
        }
        for round in 0..10 {
            if round == 5 {
                // The first relay stops (and gives up its lease); the other carries on.
                let _ = stop_a.send(true);
            }
            for id in &items {
                let changes = contracts::UpdateEpisode { season: Some(round), ..Default::default() };
                if *id == program.id {
                    cms.publish(&editor(), *id, None, None).await.expect("publish");
                    cms.unpublish(&editor(), *id, None, None).await.expect("unpublish");
                } else {
                    cms.update_episode(&editor(), *id, changes, None, None).await.expect("update");
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while outbox.backlog().await.expect("backlog").rows > 0 {
            assert!(Instant::now() < deadline, "{}: the standby never drained the outbox", backend.name);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = stop_b.send(true);
        relay_a.await.expect("task").expect("relay a");
        relay_b.await.expect("task").expect("relay b");

        let expected = outbox_events(&outbox, program.id).await;
        let received = consume_until(&broker, topic, program.id, |received| {
            expected.iter().all(|want| received.iter().any(|got| got.envelope.event_id == want.event_id))
        })
        .await;
        // A relay whose lease ran out in the middle of a batch (a loaded machine, a 500 ms lease)
        // may still deliver that batch while the other repeats it: a repeat is allowed (consumers
        // apply by version), but each event's first delivery must come in order.
        let mut last_version: HashMap<uuid::Uuid, u64> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for got in &received {
            if !seen.insert(got.envelope.event_id) {
                continue;
            }
            let (id, version) = (got.envelope.aggregate.id, got.envelope.aggregate.version);
            let previous = last_version.insert(id, version).unwrap_or(0);
            assert!(version >= previous, "{}: {id} went from version {previous} to {version}", backend.name);
        }
    }
}
