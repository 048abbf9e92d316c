//! A discovery node as production runs it: content written through the CMS (SQLite), indexed by
//! the embedded indexer from the outbox, and gateway-public serving that index over HTTP on a free
//! port. Tokens come from a real auth signing key.

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth::{JwkSet, Keys, Role, SigningKey, TokenIssuer, Verifier};
use cms_core::{Actor, Cms, Outbox, Store, Target};
use contracts::{ContentKind, CreateEpisode, CreateProgram};
use engine::{EngineConfig, Replica};
use gateway_public::{PublicApi, PublicConfig};
use indexer::{Checkpoint, EmbeddedConfig};
use platform::ratelimit::RateLimiter;
use sqlx::Row;
use tokio::sync::watch;
use uuid::Uuid;

pub const ISSUER: &str = "mediamesh-auth";
pub const AUDIENCE: &str = "mediamesh";

/// Ids of the catalog's items, by role in the tests.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub harbour: Uuid,
    pub harbour_episodes: Vec<Uuid>,
    pub draft: Uuid,
}

/// An indexed catalog.
pub struct Node {
    _dir: tempfile::TempDir,
    pub replica: Arc<Replica>,
    pub catalog: Catalog,
    pub issuer: TokenIssuer,
    pub keys: Keys,
    pub cms: Cms,
    pub store: Store,
}

fn editor() -> Actor {
    Actor { user_id: "editor".into(), role: Role::Editor }
}

async fn program(cms: &Cms, value: serde_json::Value) -> Uuid {
    let input: CreateProgram = serde_json::from_value(value).expect("program input");
    let program = cms.create_program(&editor(), input, None, None).await.expect("create program");
    cms.publish(&editor(), program.id, None, None).await.expect("publish program");
    program.id
}

async fn episode(cms: &Cms, program: Uuid, value: serde_json::Value) -> Uuid {
    let input: CreateEpisode = serde_json::from_value(value).expect("episode input");
    let episode = cms.create_episode(&editor(), program, input, None, None).await.expect("create episode");
    cms.publish(&editor(), Target::new(episode.id, ContentKind::Episode), None, None).await.expect("publish episode");
    episode.id
}

/// Three published programs (history/en, news/fr, science/de) with seven published episodes,
/// and one unpublished program.
async fn write_catalog(cms: &Cms) -> Catalog {
    use serde_json::json;
    let harbour = program(
        cms,
        json!({
            "title": "Harbour History Hour", "description": "Stories of ports, ships and the people of the sea.",
            "category": "history", "language": "en", "artwork_url": "https://img.example.org/harbour.jpg",
            "publish_date": "2020-06-01T00:00:00Z"
        }),
    )
    .await;
    let mut harbour_episodes = Vec::new();
    for (title, duration, date) in [
        ("Lighthouse keepers of the north", 1800, "2021-03-01T00:00:00Z"),
        ("Shipwrecks and salvage", 2400, "2022-05-10T00:00:00Z"),
        ("The great storm of 1953", 3000, "2023-01-15T00:00:00Z"),
    ] {
        harbour_episodes.push(
            episode(cms, harbour, json!({
                "title": title, "description": format!("{title}: an episode about lighthouses, harbours and the sea."),
                "category": "history", "language": "en", "duration_seconds": duration, "publish_date": date,
                "artwork_url": "http://img.example.org/episodes/1.jpg"
            }))
            .await,
        );
    }
    let nouvelles = program(
        cms,
        json!({
            "title": "Nouvelles du matin", "description": "Le journal du matin.", "category": "news", "language": "fr",
            "publish_date": "2021-01-01T00:00:00Z"
        }),
    )
    .await;
    for (title, duration, date) in
        [("Les marchés ce matin", 600, "2023-06-01T00:00:00Z"), ("Élections régionales", 900, "2023-07-01T00:00:00Z")]
    {
        episode(
            cms,
            nouvelles,
            json!({
                "title": title, "description": "Actualités.", "category": "news", "language": "fr",
                "duration_seconds": duration, "publish_date": date
            }),
        )
        .await;
    }
    let science = program(
        cms,
        json!({
            "title": "Wissenschaft am Abend", "description": "Forschung verständlich erklärt.", "category": "science",
            "language": "de", "publish_date": "2019-01-01T00:00:00Z"
        }),
    )
    .await;
    for (title, duration, date) in [
        ("Schwarze Löcher erklärt", 1500, "2020-01-10T00:00:00Z"),
        ("Die Geschichte der Leuchttürme", 1200, "2021-09-09T00:00:00Z"),
    ] {
        episode(
            cms,
            science,
            json!({
                "title": title, "description": "Eine Folge über Wissenschaft.", "category": "science", "language": "de",
                "duration_seconds": duration, "publish_date": date
            }),
        )
        .await;
    }
    let input: CreateProgram = serde_json::from_value(json!({
        "title": "Draft harbour show", "category": "history", "language": "en"
    }))
    .expect("draft");
    let draft = cms.create_program(&editor(), input, None, None).await.expect("draft").id;
    Catalog { harbour, harbour_episodes, draft }
}

/// Runs the embedded indexer until the index holds every outbox row.
pub async fn index_all(replica: &Arc<Replica>, store: &Store) {
    let last: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM outbox")
        .fetch_one(store.pool())
        .await
        .expect("outbox")
        .get("n");
    let (stop, stopping) = watch::channel(false);
    let task = tokio::spawn(indexer::run_embedded(
        Arc::clone(replica),
        Outbox::new(store.clone()),
        EmbeddedConfig::default(),
        stopping,
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    while Checkpoint::of(&replica.engine()).expect("checkpoint").outbox != Some(last) {
        assert!(Instant::now() < deadline, "the indexer never caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).expect("stop");
    task.await.expect("indexer task").expect("indexer");
    replica.sync().expect("sync");
}

impl Node {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}", dir.path().join("cms.db").display());
        let store = Store::connect(&url).await.expect("store");
        let cms = Cms::new(store.clone());
        let catalog = write_catalog(&cms).await;
        let replica = Arc::new(Replica::open(dir.path().join("index"), EngineConfig::default()).expect("replica"));
        index_all(&replica, &store).await;
        let key = SigningKey::generate().expect("key");
        let issuer = TokenIssuer::new(&key, ISSUER, AUDIENCE, 900);
        let verifier = Verifier::new(&JwkSet { keys: vec![key.public_jwk()] }, ISSUER, AUDIENCE).expect("verifier");
        Self { _dir: dir, replica, catalog, issuer, keys: Keys::new(verifier), cms, store }
    }

    pub fn token(&self, user: &str, role: Role) -> String {
        let now = chrono::Utc::now().timestamp();
        self.issuer.issue(user, &format!("{user}@mediamesh.test"), role, now).expect("token").0
    }

    /// A gateway over this node's index.
    pub async fn gateway(&self, limiter: RateLimiter, config: PublicConfig) -> Gateway {
        let api = PublicApi::new(Arc::clone(&self.replica), Some(self.keys.clone()), limiter, config, None);
        Gateway::start(api).await
    }
}

/// A running gateway-public on a free port.
pub struct Gateway {
    pub base: String,
    pub api: Arc<PublicApi>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Gateway {
    pub async fn start(api: Arc<PublicApi>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = Arc::clone(&api);
        let task = tokio::spawn(async move {
            platform::http::serve(listener, move |request| Arc::clone(&served).handle(request), async {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
        });
        Self { base, api, stop: Some(stop), task: Some(task) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client")
}

/// GETs `url` and parses the JSON body; returns the status, the headers and the body.
pub async fn get(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() { serde_json::Value::Null } else { serde_json::from_slice(&bytes).expect("json") };
    (status, headers, body)
}
