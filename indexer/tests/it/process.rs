//! The indexer binary as its own process: killed with SIGKILL mid-stream, killed inside a group,
//! rebuilding under readers, stopped with SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use cms_core::{Cms, Outbox, Relay, RelayConfig, Store};
use contracts::{CONTENT_DLQ_TOPIC, CONTENT_TOPIC};
use engine::{Engine, EngineConfig, Replica, SearchRequest};
use indexer::Checkpoint;
use platform::testing::{Broker, free_port};

use crate::cms::{assert_index_matches, fill, outbox_rows, sqlite_store};
use crate::serial;

/// One `indexer` process.
struct Daemon {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Daemon {
    /// Starts `indexer`; with `instance`, as a static group member of that name.
    fn start(broker: &Broker, root: &Path, group: &str, instance: Option<&str>, log: &Path) -> Self {
        Self::start_with(broker, root, group, instance, log, &[])
    }

    fn start_with(
        broker: &Broker,
        root: &Path,
        group: &str,
        instance: Option<&str>,
        log: &Path,
        extra: &[&str],
    ) -> Self {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut command = Command::new(env!("CARGO_BIN_EXE_indexer"));
        command.args(["--index", &root.display().to_string(), "--addr", &addr]);
        command.args(extra);
        if let Some(instance) = instance {
            command.args(["--instance-id", instance]);
        }
        let child = command
            .env("MEDIAMESH_KAFKA_BROKERS", broker.address())
            .env("MEDIAMESH_INDEXER_GROUP", group)
            .env("MEDIAMESH_LOG", "info")
            .stdout(std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log"))
            .stderr(std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log"))
            .spawn()
            .expect("indexer binary");
        Self { child, addr, log: log.to_path_buf() }
    }

    /// SIGKILL: no batch finished, nothing committed, no goodbye to the group.
    fn kill(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }

    /// SIGTERM, and the exit status.
    fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the indexer ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn metrics(&self) -> String {
        let Ok(mut stream) = TcpStream::connect(&self.addr) else { return String::new() };
        let _ = stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: indexer\r\n\r\n");
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The index a daemon keeps under `root`, once it has created it.
fn reader(root: &Path) -> Replica {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !root.join("CURRENT").exists() {
        assert!(Instant::now() < deadline, "the indexer never created its index");
        std::thread::sleep(Duration::from_millis(20));
    }
    Replica::open(root, EngineConfig::default()).expect("replica")
}

/// Messages the index's checkpoint covers.
fn read_so_far(engine: &Engine) -> i64 {
    Checkpoint::of(engine).map(|c| c.kafka.get(CONTENT_TOPIC).map_or(0, |p| p.values().sum())).unwrap_or(0)
}

fn wait_for(what: &str, seconds: u64, logs: &[&Path], mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        if Instant::now() >= deadline {
            for log in logs {
                eprintln!("---- {}\n{}", log.display(), std::fs::read_to_string(log).unwrap_or_default());
            }
            panic!("timed out waiting: {what}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Publishes every outbox row to the broker, at most `rate` events a second: a stream, as editors
/// and imports produce it, rather than one burst.
async fn relay_all(brokers: String, store: Store, rate: f64) {
    let outbox = Outbox::new(store);
    let mut relay = Relay::new(outbox.clone(), RelayConfig::new(brokers)).expect("relay");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);
    let mut sent = 0usize;
    while outbox.backlog().await.expect("backlog").rows > 0 {
        assert!(Instant::now() < deadline, "relay never drained");
        match relay.publish_batch().await {
            Ok(count) => sent += count,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
        let due = Duration::from_secs_f64(sent as f64 / rate);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
}

fn broker_with_topics(runtime: &tokio::runtime::Runtime) -> Broker {
    let broker = Broker::start();
    runtime.block_on(broker.create_topic(CONTENT_TOPIC, 3));
    runtime.block_on(broker.create_topic(CONTENT_DLQ_TOPIC, 1));
    broker
}

/// A broker with the content topics, and a CMS on a SQLite file in a temporary directory.
struct World {
    runtime: tokio::runtime::Runtime,
    broker: Broker,
    dir: tempfile::TempDir,
    store: Store,
    cms: Cms,
}

impl World {
    fn new() -> Self {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let broker = broker_with_topics(&runtime);
        let dir = tempfile::tempdir().expect("dir");
        let store = runtime.block_on(sqlite_store(dir.path()));
        let cms = Cms::new(store.clone());
        Self { runtime, broker, dir, store, cms }
    }
}

#[test]
fn an_indexer_killed_mid_stream_resumes_to_exactly_the_cms_state() {
    let _serial = serial();
    let World { runtime, broker, dir, store, cms } = World::new();
    runtime.block_on(fill(&cms, &store, 50_000));
    let total = runtime.block_on(outbox_rows(&store));
    // The relay streams the events (at 2,500 a second) while the indexer consumes them.
    let relaying = runtime.spawn(relay_all(broker.address(), store.clone(), 2_500.0));
    let root = dir.path().join("index");
    let log = dir.path().join("indexer.log");
    // The restarted process is the same node: a static member, so it takes its partitions back
    // at once (tansu 0.6 never completes the rebalance a new dynamic member starts while the
    // dead one is still in the group).
    let mut first = Daemon::start(&broker, &root, "node", Some("node-1"), &log);
    let replica = reader(&root);
    wait_for("a quarter of the stream indexed", 120, &[&log], || read_so_far(&replica.engine()) >= total / 4);
    first.kill();
    let at_kill = read_so_far(&replica.engine());
    assert!(at_kill < total, "killed mid-stream: {at_kill} of {total}");

    let mut second = Daemon::start(&broker, &root, "node", Some("node-1"), &log);
    wait_for("the whole stream indexed", 180, &[&log], || read_so_far(&replica.engine()) == total);
    runtime.block_on(relaying).expect("relay task");
    let discoverable = runtime.block_on(assert_index_matches(&replica.engine(), &store));
    assert!(discoverable > 1_500, "{discoverable}");

    // Its metrics show the work and a lag that returns to 0 on every partition.
    wait_for("lag 0 on every partition", 30, &[&log], || {
        let metrics = second.metrics();
        let lags: Vec<&str> = metrics.lines().filter(|l| l.starts_with("indexer_consumer_lag{")).collect();
        lags.len() == 3 && lags.iter().all(|l| l.ends_with(" 0"))
    });
    let metrics = second.metrics();
    for series in [
        "indexer_events_total{",
        "indexer_batch_size_bucket{",
        "indexer_commit_duration_seconds_bucket{",
        "indexer_freshness_seconds_bucket{",
    ] {
        assert!(metrics.contains(series), "{series} missing from:\n{metrics}");
    }
    assert!(second.terminate().success(), "SIGTERM is a clean stop:\n{}", second.logs());
    assert!(second.logs().contains("stopped"), "{}", second.logs());
}

#[test]
fn of_two_indexers_in_one_group_the_survivor_of_a_kill_takes_every_partition() {
    let _serial = serial();
    let World { runtime, broker, dir, store, cms } = World::new();
    runtime.block_on(fill(&cms, &store, 3_000));
    runtime.block_on(relay_all(broker.address(), store.clone(), f64::INFINITY));
    let first_wave = runtime.block_on(outbox_rows(&store));

    // Two nodes of one group (dynamic members), each with its own index.
    let (root_a, root_b) = (dir.path().join("index-a"), dir.path().join("index-b"));
    let (log_a, log_b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let quick = ["--session-timeout-ms", "6000"];
    let mut a = Daemon::start_with(&broker, &root_a, "shared", None, &log_a, &quick);
    let b = Daemon::start_with(&broker, &root_b, "shared", None, &log_b, &quick);
    let (reader_a, reader_b) = (reader(&root_a), reader(&root_b));
    let read = |replica: &Replica| {
        replica.sync().expect("sync");
        read_so_far(&replica.engine())
    };
    wait_for("both nodes reading, the first wave read between them", 90, &[&log_a, &log_b], || {
        let (in_a, in_b) = (read(&reader_a), read(&reader_b));
        in_a > 0 && in_b > 0 && in_a + in_b >= first_wave
    });

    // One dies without a goodbye; more events arrive; the other takes its partitions (after the
    // session timeout) and replays them into its own index.
    a.kill();
    runtime.block_on(fill(&cms, &store, first_wave + 1_000));
    runtime.block_on(relay_all(broker.address(), store.clone(), f64::INFINITY));
    let total = runtime.block_on(outbox_rows(&store));
    wait_for("the survivor covers every partition", 120, &[&log_a, &log_b], || read(&reader_b) == total);
    runtime.block_on(assert_index_matches(&reader_b.engine(), &store));
    drop(b);
}

#[test]
fn a_rebuild_replaces_the_index_while_readers_are_served() {
    let _serial = serial();
    let World { runtime, broker, dir, store, cms } = World::new();
    runtime.block_on(fill(&cms, &store, 1_500));
    runtime.block_on(relay_all(broker.address(), store.clone(), f64::INFINITY));
    let first_wave = runtime.block_on(outbox_rows(&store));

    let root = dir.path().join("index");
    let mut daemon = Daemon::start(&broker, &root, "node", None, &dir.path().join("indexer.log"));
    let gateway = reader(&root);
    wait_for("the first wave indexed", 60, &[&daemon.log], || read_so_far(&gateway.engine()) == first_wave);
    let before = gateway.generation();
    let serving = gateway.engine();
    let served = runtime.block_on(assert_index_matches(&serving, &store));

    // More events arrive while the rebuild replays the topic.
    let second_wave = runtime.spawn({
        let (store, cms) = (store.clone(), cms.clone());
        let address = broker.address();
        async move {
            fill(&cms, &store, first_wave + 500).await;
            relay_all(address, store, f64::INFINITY).await;
        }
    });
    let rebuild = Command::new(env!("CARGO_BIN_EXE_indexer"))
        .args(["--index", &root.display().to_string(), "rebuild"])
        .env("MEDIAMESH_KAFKA_BROKERS", broker.address())
        .env("MEDIAMESH_LOG", "info")
        .output()
        .expect("indexer rebuild");
    assert!(rebuild.status.success(), "{}", String::from_utf8_lossy(&rebuild.stderr));
    runtime.block_on(second_wave).expect("second wave");

    // The gateway's old engine still answers; a refresh moves it to the new generation.
    assert_eq!(serving.search_uncached(&SearchRequest::default()).expect("old generation").total, served);
    assert!(gateway.refresh().expect("refresh"), "CURRENT names a new generation");
    assert_ne!(gateway.generation(), before);
    assert!(root.join(&before).is_dir(), "the previous generation stays for readers still on it");

    // The daemon followed: it continues on the new generation and applies what came after.
    runtime.block_on(fill(&cms, &store, runtime.block_on(outbox_rows(&store)) + 100));
    runtime.block_on(relay_all(broker.address(), store.clone(), f64::INFINITY));
    let total = runtime.block_on(outbox_rows(&store));
    wait_for("the new generation covers everything", 60, &[&daemon.log], || read_so_far(&gateway.engine()) == total);
    runtime.block_on(assert_index_matches(&gateway.engine(), &store));
    assert!(daemon.logs().contains("switched to a rebuilt index"), "{}", daemon.logs());
    assert!(daemon.terminate().success());
}
