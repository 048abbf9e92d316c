//! A real CMS (cms-core on a SQLite file) as the source of events, and the check that an index
//! holds exactly what the CMS says is discoverable.

use auth::Role;
use cms_core::{Actor, Cms, Store, Target};
use contracts::{ContentKind, ContentSnapshot, CreateEpisode, CreateProgram, UpdateProgram};
use engine::Engine;
use sqlx::Row;

pub fn editor() -> Actor {
    Actor { user_id: "editor".into(), role: Role::Editor }
}

pub async fn sqlite_store(dir: &std::path::Path) -> Store {
    Store::connect(&format!("sqlite://{}", dir.join("cms.db").display())).await.expect("store")
}

/// Writes a realistic mix through the CMS until its outbox holds at least `events` events:
/// programs with six episodes, published, some hidden and shown again; some edited, some unpublished (which re-announces their
/// episodes), some deleted, some episodes unpublished on their own.
pub async fn fill(cms: &Cms, store: &Store, events: i64) {
    let actor = editor();
    let mut n = 0u64;
    while outbox_rows(store).await < events {
        n += 1;
        let input: CreateProgram = serde_json::from_value(serde_json::json!({
            "title": format!("Harbour stories {n}"), "category": "history", "language": "en"
        }))
        .expect("program");
        let program = cms.create_program(&actor, input, None, None).await.expect("create program");
        let mut episodes = Vec::new();
        for e in 0..6 {
            let input: CreateEpisode = serde_json::from_value(serde_json::json!({
                "title": format!("Tide log {n}.{e}"), "duration_seconds": 600 + e
            }))
            .expect("episode");
            let episode = cms.create_episode(&actor, program.id, input, None, None).await.expect("create episode");
            cms.publish(&actor, Target::new(episode.id, ContentKind::Episode), None, None).await.expect("publish");
            episodes.push(episode.id);
        }
        cms.publish(&actor, program.id, None, None).await.expect("publish program");
        if n.is_multiple_of(2) {
            // Each change of the program's visibility re-announces its episodes.
            cms.unpublish(&actor, program.id, None, None).await.expect("unpublish program");
            cms.publish(&actor, program.id, None, None).await.expect("republish program");
        }
        if n.is_multiple_of(3) {
            let changes: UpdateProgram =
                serde_json::from_value(serde_json::json!({"title": format!("Harbour stories {n} revised")}))
                    .expect("changes");
            cms.update_program(&actor, program.id, changes, None, None).await.expect("update");
        }
        if n.is_multiple_of(5) {
            cms.unpublish(&actor, program.id, None, None).await.expect("unpublish");
        }
        if n.is_multiple_of(4) {
            cms.unpublish(&actor, Target::new(episodes[0], ContentKind::Episode), None, None).await.expect("unpublish");
        }
        if n.is_multiple_of(7) {
            cms.delete(&actor, program.id, None, None).await.expect("delete");
        }
    }
}

pub async fn outbox_rows(store: &Store) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM outbox").fetch_one(store.pool()).await.expect("count").get::<i64, _>("n")
}

/// Every discoverable item is in the index at its CMS version, nothing else is; returns how many
/// items are discoverable.
pub async fn assert_index_matches(engine: &Engine, store: &Store) -> u64 {
    engine.reload().expect("reload");
    let rows = sqlx::query("SELECT data FROM content").fetch_all(store.pool()).await.expect("content");
    let mut discoverable = 0u64;
    for row in rows {
        let snapshot: ContentSnapshot = serde_json::from_str(&row.get::<String, _>("data")).expect("snapshot");
        let indexed = engine.get(&snapshot.id().to_string()).expect("get");
        if snapshot.is_discoverable() {
            discoverable += 1;
            let hit = indexed.unwrap_or_else(|| panic!("{} is published but not indexed", snapshot.id()));
            assert_eq!(hit.version, snapshot.version(), "{} is indexed at an old version", snapshot.id());
        } else {
            assert!(indexed.is_none(), "{} is not discoverable but indexed", snapshot.id());
        }
    }
    let browse = engine.search_uncached(&engine::SearchRequest::default()).expect("browse");
    assert_eq!(browse.total, discoverable, "the index shows exactly the discoverable items");
    discoverable
}
