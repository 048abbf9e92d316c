//! Embedded mode: the indexer fed straight from the CMS outbox, no broker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cms_core::{Cms, Outbox};
use engine::{EngineConfig, Replica};
use indexer::{Checkpoint, EmbeddedConfig, Progress};
use tokio::sync::watch;

use crate::cms::{assert_index_matches, fill, outbox_rows, sqlite_store};

/// Runs the embedded indexer until its checkpoint reaches the outbox's last row, then stops it.
async fn index_outbox(replica: &Arc<Replica>, outbox: &Outbox, last_seq: i64) -> Progress {
    let (stop, stopping) = watch::channel(false);
    let task =
        tokio::spawn(indexer::run_embedded(Arc::clone(replica), outbox.clone(), EmbeddedConfig::default(), stopping));
    let deadline = Instant::now() + Duration::from_secs(60);
    while Checkpoint::of(&replica.engine()).expect("checkpoint").outbox != Some(last_seq) {
        assert!(Instant::now() < deadline, "the embedded indexer never reached the last row");
        assert!(!task.is_finished(), "the embedded indexer stopped: {:?}", task.await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).expect("stop");
    task.await.expect("task").expect("embedded indexer")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_outbox_feeds_the_index_with_no_broker() {
    let dir = tempfile::tempdir().expect("dir");
    let store = sqlite_store(dir.path()).await;
    let cms = Cms::new(store.clone());
    fill(&cms, &store, 600).await;
    let outbox = Outbox::new(store.clone());
    let first = outbox_rows(&store).await;
    let replica = Arc::new(Replica::open(dir.path().join("index"), EngineConfig::default()).expect("replica"));

    let progress = index_outbox(&replica, &outbox, first).await;
    assert_eq!(progress.dead_lettered, 0);
    assert_eq!(progress.applied + progress.stale, first as u64, "{progress:?}");
    let discoverable = assert_index_matches(&replica.engine(), &store).await;
    assert!(discoverable > 50, "{discoverable}");

    // A poison row (as a bad migration might leave) is set aside with its reason, and the rows
    // after it still apply; a restart resumes after the checkpoint.
    sqlx::query(
        "INSERT INTO outbox (event_id, event_type, partition_key, payload, created_at) VALUES ('x', 'content.created', 'k', '{not json', 0)",
    )
    .execute(store.pool())
    .await
    .expect("poison");
    fill(&cms, &store, first + 60).await;
    let second = outbox_rows(&store).await;
    let again = index_outbox(&replica, &outbox, second).await;
    assert_eq!(again.dead_lettered, 1, "{again:?}");
    assert_eq!(again.applied + again.stale + again.dead_lettered, (second - first) as u64, "only new rows: {again:?}");
    assert_index_matches(&replica.engine(), &store).await;
    let letters = std::fs::read_to_string(dir.path().join("index/dead-letters.ndjson")).expect("dead letters");
    assert!(letters.contains("not a valid content event") && letters.contains("{not json"), "{letters}");
}
