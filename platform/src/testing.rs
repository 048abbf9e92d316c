//! Test harness (feature `testing`, for dev-dependencies only): a real Kafka-protocol broker, tansu,
//! started per test on a free port with its own SQLite storage, stoppable and restartable on the
//! same data. `scripts/test.sh` installs tansu; `MEDIAMESH_TANSU_BIN` says where. Also the check
//! that an answer matches its OpenAPI schema, which the gateways' conformance tests share.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use serde_json::Value;

#[derive(Debug)]
pub struct Broker {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

fn tansu() -> PathBuf {
    std::env::var_os("MEDIAMESH_TANSU_BIN").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        home.join(".cache/mediamesh-tools/tansu-0.6.0/bin/tansu")
    })
}

/// A port nothing listens on now and that no other caller in this process was given. Tests run in
/// parallel and start servers on ports they picked; a port one test released, before its server
/// bound it, must not go to another test (the kernel may hand it out again at once).
#[allow(clippy::expect_used)]
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        if GIVEN.lock().unwrap_or_else(PoisonError::into_inner).insert(port) {
            return port;
        }
    }
}

impl Broker {
    #[allow(clippy::expect_used)]
    pub fn start() -> Self {
        let port = free_port();
        let mut broker = Self { port, dir: tempfile::tempdir().expect("temporary directory"), child: None };
        broker.restart();
        broker
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the broker (again) on the same port and data.
    pub fn restart(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::File::create(self.dir.path().join("tansu.log")).expect("log file");
        let child = Command::new(tansu())
            .current_dir(self.dir.path())
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start tansu at {} ({e}); scripts/test.sh installs it", tansu().display())
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not start listening on {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
        self.index_headers();
    }

    /// tansu 0.6's SQLite schema has no index on its `header` table, and it reads a fetched
    /// record's headers one record at a time: each lookup scans every header stored, so consuming
    /// a topic of n messages with headers costs O(n²) and a 50,000-event topic stalls the broker
    /// (group heartbeats then time out). An index on the lookup key makes each lookup O(log n).
    fn index_headers(&self) {
        let url = format!("sqlite://{}", self.dir.path().join("tansu.db").display());
        let indexed = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect(&url).await.ok()?;
                let deadline = Instant::now() + Duration::from_secs(10);
                // The broker creates its tables as it starts; wait for them.
                loop {
                    let created = sqlx::query(
                        "CREATE INDEX IF NOT EXISTS mediamesh_header_lookup ON header (topition, offset_id)",
                    )
                    .execute(&pool)
                    .await;
                    match created {
                        Ok(_) => return Some(()),
                        Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
                        Err(_) => return None,
                    }
                }
            })
        })
        .join()
        .ok()
        .flatten();
        assert!(indexed.is_some(), "could not index tansu's header table in {}", self.dir.path().display());
    }

    /// Kills the broker (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn create_topic(&self, topic: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> =
            ClientConfig::new().set("bootstrap.servers", self.address()).create().expect("admin client");
        let results = admin
            .create_topics(&[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))], &AdminOptions::new())
            .await
            .expect("create topic");
        for result in results {
            result.unwrap_or_else(|(name, code)| panic!("topic {name}: {code:?}"));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Checks `value` against `schema` (the subset of JSON Schema utoipa writes), resolving `$ref`s
/// in `document`. Objects may not carry properties their schema does not list.
pub fn conforms(document: &Value, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    check(document, schema, value, path, true)
}

/// The properties `schema` lists, through `$ref`s and `allOf`s.
fn listed<'a>(document: &'a Value, schema: &'a Value, into: &mut Vec<&'a str>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or_default();
        return listed(document, &document["components"]["schemas"][name], into);
    }
    for part in schema.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        listed(document, part, into);
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        into.extend(properties.keys().map(String::as_str));
    }
}

/// `strict`: an object may carry no property the schema does not list (off inside `allOf`, whose
/// parts each list some; the union is checked once).
fn check(document: &Value, schema: &Value, value: &Value, path: &str, strict: bool) -> Result<(), String> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or_default();
        let target = &document["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{path}: unresolved {reference}"));
        }
        return check(document, target, value, path, strict);
    }
    for combinator in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(combinator).and_then(Value::as_array) {
            let matches = options.iter().filter(|o| check(document, o, value, path, strict).is_ok()).count();
            return if matches >= 1 { Ok(()) } else { Err(format!("{path}: {value} matches no {combinator} option")) };
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        all.iter().try_for_each(|part| check(document, part, value, path, false))?;
        if let (true, Value::Object(fields)) = (strict, value) {
            let mut names = Vec::new();
            listed(document, schema, &mut names);
            if let Some(name) = fields.keys().find(|name| !names.contains(&name.as_str())) {
                return Err(format!("{path}.{name}: not in the schema"));
            }
        }
        return Ok(());
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() {
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let ok = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        if !ok {
            return Err(format!("{path}: {value} is {actual}, the schema says {types:?}"));
        }
    }
    if let (Some(minimum), Some(number)) = (schema.get("minimum").and_then(Value::as_f64), value.as_f64())
        && number < minimum
    {
        return Err(format!("{path}: {number} < {minimum}"));
    }
    if let Value::Object(fields) = value {
        let properties = schema.get("properties").and_then(Value::as_object);
        for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let name = required.as_str().unwrap_or_default();
            if !fields.contains_key(name) {
                return Err(format!("{path}: required field {name} missing"));
            }
        }
        if let Some(properties) = properties {
            for (name, field) in fields {
                match properties.get(name) {
                    Some(schema) => check(document, schema, field, &format!("{path}.{name}"), true)?,
                    None if strict => return Err(format!("{path}.{name}: not in the schema")),
                    None => {}
                }
            }
        }
    }
    if let (Value::Array(items), Some(schema)) = (value, schema.get("items")) {
        for (n, item) in items.iter().enumerate() {
            check(document, schema, item, &format!("{path}[{n}]"), true)?;
        }
    }
    Ok(())
}
