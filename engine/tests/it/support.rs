//! Builders for snapshots and a catalog with known contents.

use chrono::{DateTime, Utc};
use contracts::{
    Category, ContentSnapshot, ContentStatus, Description, DurationSeconds, Episode, LanguageCode, Program,
    PublishDate, Title,
};
use engine::{Engine, EngineConfig, EngineWriter, WriterConfig};
use uuid::Uuid;

pub struct TestIndex {
    pub engine: Engine,
    pub writer: EngineWriter,
    pub _dir: tempfile::TempDir,
}

pub fn open() -> TestIndex {
    open_with(EngineConfig::default())
}

pub fn open_with(config: EngineConfig) -> TestIndex {
    let dir = tempfile::tempdir().expect("temporary directory");
    let engine = Engine::open(dir.path(), config).expect("index opens");
    let writer = engine.writer(WriterConfig::default()).expect("writer");
    TestIndex { engine, writer, _dir: dir }
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000, 0).expect("valid time")
}

/// Deterministic ids so tests can name items.
pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub fn program(n: u128, title: &str, description: &str, category: &str, language: &str) -> Program {
    Program {
        id: id(n),
        title: Title::parse(title).expect("title"),
        description: Description::parse(description).expect("description"),
        category: Category::parse(category).expect("category"),
        language: LanguageCode::parse(language).expect("language"),
        duration_seconds: None,
        publish_date: PublishDate::from_unix_seconds(1_600_000_000 + n as i64 * 86_400),
        artwork_url: Some(format!("https://img.example/{n}.jpg")),
        explicit: false,
        external_guid: None,
        status: ContentStatus::Published,
        version: 1,
        created_at: now(),
        updated_at: now(),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn episode(
    n: u128,
    program: u128,
    title: &str,
    description: &str,
    category: &str,
    language: &str,
    duration: u64,
    published: &str,
) -> Episode {
    Episode {
        id: id(n),
        program_id: id(program),
        title: Title::parse(title).expect("title"),
        description: Description::parse(description).expect("description"),
        category: Category::parse(category).expect("category"),
        language: LanguageCode::parse(language).expect("language"),
        duration_seconds: DurationSeconds::new(duration).expect("duration"),
        publish_date: Some(PublishDate::parse(published).expect("date")),
        artwork_url: None,
        explicit: false,
        season: None,
        episode_number: None,
        external_guid: None,
        status: ContentStatus::Published,
        program_visible: true,
        version: 1,
        created_at: now(),
        updated_at: now(),
    }
}

/// A small catalog whose every answer can be worked out by hand.
pub fn catalog() -> Vec<ContentSnapshot> {
    let p = |n, t, d, c, l| ContentSnapshot::Program(program(n, t, d, c, l));
    let e = |n, prog, t, d, c, l, dur, date| ContentSnapshot::Episode(episode(n, prog, t, d, c, l, dur, date));
    vec![
        p(
            1,
            "Welcome to Night Vale",
            "Twice-monthly community updates for the small desert town of Night Vale.",
            "fiction",
            "en",
        ),
        p(2, "Hardcore History", "In-depth history podcasts about wars and empires.", "history", "en"),
        p(3, "Geschichten aus der Geschichte", "Zwei Historiker erzählen sich Geschichten.", "history", "de"),
        p(4, "Science Friday", "Brain fun for curious people: science news and documentary stories.", "science", "en"),
        p(5, "Le Code a changé", "Une série documentaire sur la technologie.", "technology", "fr"),
        e(
            101,
            2,
            "Blueprint for Armageddon",
            "The history of the First World War, told as a documentary.",
            "history",
            "en",
            6 * 3600,
            "2014-01-01T00:00:00Z",
        ),
        e(
            102,
            2,
            "Supernova in the East",
            "Japan's road to the Pacific war: running history.",
            "history",
            "en",
            5 * 3600,
            "2018-07-01T00:00:00Z",
        ),
        e(
            103,
            1,
            "Pilot",
            "A vale of night falls; the radio host runs the community news.",
            "fiction",
            "en",
            25 * 60,
            "2012-06-15T00:00:00Z",
        ),
        e(
            104,
            3,
            "Die Geschichte des Kaffees",
            "Kaffee, Geschichte und Podcasts.",
            "history",
            "de",
            45 * 60,
            "2020-03-01T00:00:00Z",
        ),
        e(
            105,
            4,
            "Octopus intelligence",
            "Documentary about cephalopod science.",
            "science",
            "en",
            30 * 60,
            "2021-05-01T00:00:00Z",
        ),
        e(
            106,
            5,
            "Les algorithmes",
            "La technologie des algorithmes expliquée.",
            "technology",
            "fr",
            40 * 60,
            "2019-09-01T00:00:00Z",
        ),
    ]
}

pub fn load(index: &mut TestIndex, items: &[ContentSnapshot]) {
    for item in items {
        index.writer.upsert(item).expect("upsert");
    }
    index.writer.commit(None).expect("commit");
}

pub fn ids(response: &engine::SearchResponse) -> Vec<u128> {
    response.hits.iter().map(|hit| Uuid::parse_str(&hit.id).expect("uuid id").as_u128()).collect()
}
