//! Versioned writes, tombstones, checkpoints, readers in other processes, and cache freshness.

use std::time::{Duration, Instant};

use contracts::{ContentKind, ContentSnapshot, ContentStatus, Title};
use engine::{Engine, EngineConfig, SearchRequest, WriteOutcome, WriterConfig};

use crate::support::{catalog, episode, id, ids, load, open, program};

fn search_ids(engine: &Engine, text: &str) -> Vec<u128> {
    ids(&engine.search(&SearchRequest::text(text)).expect("search"))
}

fn versioned(version: u64, title: &str, status: ContentStatus) -> ContentSnapshot {
    let mut item = program(7, title, "", "news", "en");
    item.version = version;
    item.status = status;
    ContentSnapshot::Program(item)
}

#[test]
fn an_older_version_never_replaces_a_newer_one() {
    let mut index = open();
    assert_eq!(
        index.writer.upsert(&versioned(3, "Third", ContentStatus::Published)).expect("v3"),
        WriteOutcome::Applied
    );
    // Older and equal versions arriving later (redelivery, reordering) change nothing, whether or
    // not they were committed in between.
    assert_eq!(
        index.writer.upsert(&versioned(2, "Second", ContentStatus::Published)).expect("v2"),
        WriteOutcome::Stale
    );
    index.writer.commit(None).expect("commit");
    assert_eq!(index.writer.upsert(&versioned(1, "First", ContentStatus::Published)).expect("v1"), WriteOutcome::Stale);
    assert_eq!(
        index.writer.upsert(&versioned(3, "Third again", ContentStatus::Published)).expect("v3"),
        WriteOutcome::Stale
    );
    index.writer.commit(None).expect("commit");
    assert_eq!(search_ids(&index.engine, "third"), [7]);
    assert!(search_ids(&index.engine, "second").is_empty());
    assert_eq!(index.engine.stats().documents, 1, "one document per item");
    assert_eq!(
        index.writer.upsert(&versioned(4, "Fourth", ContentStatus::Published)).expect("v4"),
        WriteOutcome::Applied
    );
    index.writer.commit(None).expect("commit");
    assert_eq!(search_ids(&index.engine, "fourth"), [7]);
    assert!(search_ids(&index.engine, "third").is_empty());
}

#[test]
fn unpublished_and_deleted_items_disappear_and_stay_gone() {
    let mut index = open();
    index.writer.upsert(&versioned(1, "Breaking", ContentStatus::Published)).expect("publish");
    index.writer.commit(None).expect("commit");
    assert_eq!(search_ids(&index.engine, "breaking"), [7]);

    index.writer.upsert(&versioned(2, "Breaking", ContentStatus::Unpublished)).expect("unpublish");
    index.writer.commit(None).expect("commit");
    assert!(search_ids(&index.engine, "breaking").is_empty());
    assert!(index.engine.get(&id(7).to_string()).expect("get").is_none());
    // A late, older "published" event must not resurrect it.
    assert_eq!(
        index.writer.upsert(&versioned(1, "Breaking", ContentStatus::Published)).expect("late"),
        WriteOutcome::Stale
    );
    index.writer.commit(None).expect("commit");
    assert!(search_ids(&index.engine, "breaking").is_empty());

    index.writer.upsert(&versioned(3, "Breaking", ContentStatus::Published)).expect("republish");
    index.writer.commit(None).expect("commit");
    assert_eq!(search_ids(&index.engine, "breaking"), [7]);

    index.writer.delete(ContentKind::Program, id(7), id(7), 4).expect("delete");
    index.writer.commit(None).expect("commit");
    assert!(search_ids(&index.engine, "breaking").is_empty());
    assert_eq!(index.writer.current_version(id(7)).expect("version"), Some(4));
    // Drafts are never searchable.
    index.writer.upsert(&versioned(5, "Drafty", ContentStatus::Draft)).expect("draft");
    index.writer.commit(None).expect("commit");
    assert!(search_ids(&index.engine, "drafty").is_empty());
    assert_eq!(index.engine.search(&SearchRequest::browse()).expect("browse").total, 0);
}

#[test]
fn an_episode_of_a_hidden_program_is_hidden() {
    let mut index = open();
    let mut pilot = episode(9, 8, "Pilot Light", "The first one.", "history", "en", 1800, "2024-05-01T00:00:00Z");
    index.writer.upsert(&ContentSnapshot::Episode(pilot.clone())).expect("publish");
    index.writer.commit(None).expect("commit");
    assert_eq!(search_ids(&index.engine, "pilot light"), [9]);

    // The CMS re-announces the episode when its program is unpublished, and again when it returns.
    pilot.program_visible = false;
    pilot.version = 2;
    index.writer.upsert(&ContentSnapshot::Episode(pilot.clone())).expect("program hidden");
    index.writer.commit(None).expect("commit");
    assert!(search_ids(&index.engine, "pilot light").is_empty());

    pilot.program_visible = true;
    pilot.version = 3;
    index.writer.upsert(&ContentSnapshot::Episode(pilot)).expect("program back");
    index.writer.commit(None).expect("commit");
    assert_eq!(search_ids(&index.engine, "pilot light"), [9]);
}

#[test]
fn the_commit_payload_carries_the_checkpoint_across_reopen() {
    let dir = tempfile::tempdir().expect("temporary directory");
    {
        let engine = Engine::open(dir.path(), EngineConfig::default()).expect("open");
        assert_eq!(engine.checkpoint().expect("checkpoint"), None);
        let mut writer = engine.writer(WriterConfig::default()).expect("writer");
        for item in catalog() {
            writer.upsert(&item).expect("upsert");
        }
        writer.commit(Some(r#"{"mediamesh.content":{"0":42,"1":7}}"#)).expect("commit");
    }
    let reopened = Engine::open(dir.path(), EngineConfig::default()).expect("reopen");
    assert_eq!(reopened.checkpoint().expect("checkpoint").as_deref(), Some(r#"{"mediamesh.content":{"0":42,"1":7}}"#));
    assert_eq!(reopened.search(&SearchRequest::browse()).expect("browse").total, 11);
}

#[test]
fn a_second_writer_on_the_same_directory_is_refused() {
    let index = open();
    let second = index.engine.writer(WriterConfig::default());
    assert!(matches!(second, Err(engine::EngineError::WriterLocked(_))), "{second:?}");
}

#[test]
fn readers_reload_when_another_engine_commits_to_the_directory() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let writer_side = Engine::open(dir.path(), EngineConfig::default()).expect("writer engine");
    // A separate Engine over the same directory, as a gateway process has: it learns of commits
    // only through the files.
    let reader_side = Engine::open(dir.path(), EngineConfig::default()).expect("reader engine");
    assert_eq!(reader_side.search(&SearchRequest::browse()).expect("browse").total, 0);

    let mut writer = writer_side.writer(WriterConfig::default()).expect("writer");
    for item in catalog() {
        writer.upsert(&item).expect("upsert");
    }
    writer.commit(Some("checkpoint-1")).expect("commit");

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let total = reader_side.search(&SearchRequest::browse()).expect("browse").total;
        if total == 11 {
            break;
        }
        assert!(Instant::now() < deadline, "the reader never saw the commit (total {total})");
        std::thread::yield_now();
        std::thread::park_timeout(Duration::from_millis(20));
    }
    assert_eq!(reader_side.checkpoint().expect("checkpoint").as_deref(), Some("checkpoint-1"));
}

#[test]
fn the_cache_serves_repeats_and_never_serves_a_stale_answer() {
    let mut index = open();
    load(&mut index, &catalog());
    let request = SearchRequest::text("history");
    let first = index.engine.search(&request).expect("search");
    let before = index.engine.cache_stats();
    let second = index.engine.search(&SearchRequest::text("  HISTORY")).expect("search");
    let after = index.engine.cache_stats();
    assert_eq!(after.hits, before.hits + 1, "a normalised repeat is a hit");
    assert_eq!(first, second);
    assert!(after.weighted_bytes > 0);

    // A commit changes the answer; the cached one must not be served.
    let mut renamed = program(2, "Softcore Tales", "Nothing to see.", "history", "en");
    renamed.version = 2;
    index.writer.upsert(&ContentSnapshot::Program(renamed)).expect("update");
    index.writer.commit(None).expect("commit");
    let fresh = index.engine.search(&request).expect("search");
    assert!(!ids(&fresh).contains(&2), "stale entry served: {:?}", ids(&fresh));
    assert_eq!(fresh.total, first.total - 1);
    assert_eq!(
        Title::parse("Softcore Tales").expect("title").as_str(),
        index.engine.get(&id(2).to_string()).expect("get").expect("found").title
    );
}

#[test]
fn a_fresh_search_answers_as_a_cached_one_without_keeping_the_answer() {
    let mut index = open();
    load(&mut index, &catalog());
    let request = SearchRequest::text("history");
    let before = index.engine.cache_stats();
    let fresh = index.engine.search_fresh(&request).expect("search");
    let cached = index.engine.search(&request).expect("search");
    let after = index.engine.cache_stats();
    assert_eq!(after.misses, before.misses + 1, "the fresh search left nothing in the result cache");
    assert_eq!(after.hits, before.hits);
    assert_eq!(*cached, fresh);

    // A browse's facet counts are still shared across its pages.
    let page = |page| SearchRequest { page, ..SearchRequest::browse() };
    let first = index.engine.search_fresh(&page(1)).expect("browse");
    let hits = index.engine.cache_stats().hits;
    let second = index.engine.search_fresh(&page(2)).expect("browse");
    assert_eq!(index.engine.cache_stats().hits, hits + 1, "the second page reused the first's facets");
    assert_eq!(first.facets, second.facets);
    assert!(!first.facets.category.is_empty());
}

/// The index's document-store compression, as its metadata records it.
fn docstore_compression(dir: &std::path::Path) -> String {
    let meta = std::fs::read_to_string(dir.join("meta.json")).expect("meta.json");
    let meta: serde_json::Value = serde_json::from_str(&meta).expect("meta.json is JSON");
    meta["index_settings"]["docstore_compression"].as_str().expect("compression named").to_owned()
}

/// Whether some segment's document store holds `text` byte for byte.
fn stored_verbatim(dir: &std::path::Path, text: &str) -> bool {
    std::fs::read_dir(dir).expect("index directory").any(|entry| {
        let path = entry.expect("entry").path();
        path.extension().is_some_and(|e| e == "store")
            && std::fs::read(&path).expect("store file").windows(text.len()).any(|w| w == text.as_bytes())
    })
}

/// A published program whose description repeats one phrase: LZ4 would store the repeats as
/// back-references, so the whole description is found in a store file only if it is uncompressed.
fn repetitive(n: u128, phrase: &str) -> (ContentSnapshot, String) {
    let description = phrase.repeat(60).trim().to_owned();
    let item = program(n, phrase.trim(), &description, "news", "en");
    (ContentSnapshot::Program(item), description)
}

#[test]
fn documents_are_stored_uncompressed_also_in_an_index_an_older_build_set_to_lz4() {
    let mut index = open();
    let (item, description) = repetitive(21, "harbour lights at dusk ");
    load(&mut index, &[item]);
    let dir = index._dir.path().to_path_buf();
    assert!(stored_verbatim(&dir, &description), "the segment's store is compressed");
    assert_eq!(docstore_compression(&dir), "none");
    let before = index.engine.search(&SearchRequest::text("harbour")).expect("search");
    assert_eq!(ids(&before), [21]);
    drop(index.writer);
    drop(index.engine);

    // An index an older build created names LZ4 in its settings; from the next commit on, what is
    // written (new segments, merges) is uncompressed. (Each segment's store names its own codec, so
    // segments written compressed stay readable.)
    let meta = std::fs::read_to_string(dir.join("meta.json")).expect("meta.json");
    let mut meta: serde_json::Value = serde_json::from_str(&meta).expect("meta.json is JSON");
    meta["index_settings"]["docstore_compression"] = "lz4".into();
    std::fs::write(dir.join("meta.json"), meta.to_string()).expect("meta.json rewritten");
    assert_eq!(docstore_compression(&dir), "lz4");
    let engine = Engine::open(&dir, EngineConfig::default()).expect("reopens");
    let mut writer = engine.writer(WriterConfig::default()).expect("writer");
    assert_eq!(engine.search(&SearchRequest::text("harbour")).expect("search"), before);
    let (item, description) = repetitive(22, "lanterns over the quay ");
    writer.upsert(&item).expect("upsert");
    writer.commit(None).expect("commit");
    assert!(stored_verbatim(&dir, &description), "a segment written after reopening is compressed");
    assert_eq!(docstore_compression(&dir), "none");
    assert_eq!(search_ids(&engine, "lanterns"), [22]);
}
