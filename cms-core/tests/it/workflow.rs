//! The editorial workflow, its events and its audit trail, on every backend.

use chrono::{Duration, Utc};
use cms_core::{CmsError, ListFilter, Outbox};
use contracts::{
    ContentKind, ContentSnapshot, ContentStatus, CreateEpisode, CreateProgram, EventEnvelope, EventType, ListParams,
    PublishDate, UpdateProgram,
};

use crate::support::{admin, backends, editor, listener};

fn program_input(title: &str) -> CreateProgram {
    serde_json::from_value(serde_json::json!({"title": title, "category": "history", "language": "en"}))
        .expect("valid program")
}

fn episode_input(title: &str) -> CreateEpisode {
    serde_json::from_value(serde_json::json!({"title": title, "duration_seconds": 1800})).expect("valid episode")
}

async fn events(outbox: &Outbox) -> Vec<EventEnvelope> {
    outbox
        .after(0, 10_000)
        .await
        .expect("outbox")
        .iter()
        .map(|row| serde_json::from_str(&row.payload).expect("an envelope"))
        .collect()
}

#[tokio::test]
async fn create_edit_and_read_with_versions() {
    for backend in backends().await {
        let cms = &backend.cms;
        let name = backend.name;
        let program = cms.create_program(&editor(), program_input("Hardcore History"), None, None).await.expect(name);
        assert_eq!((program.version, program.status), (1, ContentStatus::Draft), "{name}");

        let changes = UpdateProgram {
            title: Some(contracts::Title::parse("Hardcore History 2").expect("title")),
            ..Default::default()
        };
        let edited = cms.update_program(&editor(), program.id, changes.clone(), Some(1), None).await.expect(name);
        assert_eq!(edited.version, 2, "{name}");
        assert_eq!(edited.title.as_str(), "Hardcore History 2");

        // An editor who still holds version 1 is told it moved on.
        let stale = cms.update_program(&editor(), program.id, changes, Some(1), None).await;
        assert!(matches!(stale, Err(CmsError::PreconditionFailed { expected: 1, current: 2 })), "{name}: {stale:?}");

        let fetched = cms.get(&editor(), program.id).await.expect(name);
        assert_eq!(fetched, ContentSnapshot::Program(edited), "{name}");

        let episode = cms.create_episode(&editor(), program.id, episode_input("Pilot"), None, None).await.expect(name);
        assert_eq!(episode.category, program.category, "{name}: the episode takes the program's category");
        assert!(!episode.program_visible, "{name}: the program is a draft");

        let episodes = cms
            .list(
                &editor(),
                &ListFilter {
                    kind: Some(ContentKind::Episode),
                    program_id: Some(program.id),
                    params: ListParams { per_page: 10, ..Default::default() },
                },
            )
            .await
            .expect(name);
        assert_eq!((episodes.total, episodes.items.len()), (1, 1), "{name}");
        let by_text = cms.list(&editor(), &titled("HISTORY 2")).await;
        assert_eq!(by_text.expect(name).total, 1, "{name}: title search is case-insensitive");
        let none = cms.list(&editor(), &titled("%")).await;
        assert_eq!(none.expect(name).total, 0, "{name}: a wildcard in the text is matched literally");

        let missing = cms.create_episode(&editor(), uuid::Uuid::now_v7(), episode_input("Orphan"), None, None).await;
        assert!(matches!(missing, Err(CmsError::NotFound { .. })), "{name}: {missing:?}");
    }
}

#[tokio::test]
async fn every_change_writes_its_event_and_audit_line_in_order() {
    for backend in backends().await {
        let cms = &backend.cms;
        let name = backend.name;
        let outbox = Outbox::new(cms.store().clone());
        let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let program = cms.create_program(&editor(), program_input("Serial"), None, Some(trace)).await.expect(name);
        let episode =
            cms.create_episode(&editor(), program.id, episode_input("Episode 1"), None, None).await.expect(name);
        cms.publish(&editor(), program.id, Some(1), None).await.expect(name);
        // Publishing the program re-announced the episode, so the editor's ETag is now 2.
        cms.publish(&editor(), episode.id, Some(2), None).await.expect(name);

        let events = events(&outbox).await;
        let summary: Vec<(EventType, ContentKind, u64)> =
            events.iter().map(|e| (e.event_type, e.aggregate.kind, e.aggregate.version)).collect();
        assert_eq!(
            summary,
            [
                (EventType::Created, ContentKind::Program, 1),
                (EventType::Created, ContentKind::Episode, 1),
                (EventType::Published, ContentKind::Program, 2),
                // Publishing the program re-announces its episode as visible under it.
                (EventType::Updated, ContentKind::Episode, 2),
                (EventType::Published, ContentKind::Episode, 3),
            ],
            "{name}"
        );
        assert!(events.iter().all(|e| e.partition_key() == program.id), "{name}: keyed by program");
        assert_eq!(events[0].traceparent.as_deref(), Some(trace), "{name}");
        let last = events.last().expect("events");
        assert!(last.data.is_discoverable(), "{name}: a published episode of a published program");
        let rows = outbox.unsent(100).await.expect(name);
        assert_eq!(rows.len(), 5, "{name}");
        assert!(rows.windows(2).all(|w| w[0].seq < w[1].seq), "{name}: in sequence order");
        assert_eq!(rows[0].traceparent.as_deref(), Some(trace));

        outbox.mark_sent(&rows[..2].iter().map(|r| r.seq).collect::<Vec<_>>()).await.expect(name);
        assert_eq!(outbox.unsent(100).await.expect(name).len(), 3, "{name}");
        assert_eq!(outbox.backlog().await.expect(name).rows, 3, "{name}");

        let audit = cms.audit(&admin(), None, 0, 100).await.expect(name);
        let lines: Vec<(&str, Option<u64>, Option<u64>)> =
            audit.iter().map(|a| (a.action.as_str(), a.from_version, a.to_version)).collect();
        assert_eq!(
            lines,
            [
                ("create", None, Some(1)),
                ("create", None, Some(1)),
                ("publish", Some(1), Some(2)),
                ("program_visibility", Some(1), Some(2)),
                ("publish", Some(2), Some(3)),
            ],
            "{name}"
        );
        assert!(audit.iter().all(|a| a.actor == "editor-1"), "{name}");
        let for_episode = cms.audit(&admin(), Some(episode.id), 0, 100).await.expect(name);
        assert_eq!(for_episode.len(), 3, "{name}");
    }
}

#[tokio::test]
async fn a_retried_create_returns_the_first_result() {
    for backend in backends().await {
        let cms = &backend.cms;
        let name = backend.name;
        let first = cms.create_program(&editor(), program_input("Radiolab"), Some("key-1"), None).await.expect(name);
        let retry = cms.create_program(&editor(), program_input("Radiolab"), Some("key-1"), None).await.expect(name);
        assert_eq!(first, retry, "{name}");
        let listed = cms.list(&editor(), &first_ten()).await.expect(name);
        assert_eq!(listed.total, 1, "{name}: no duplicate");

        let reused = cms.create_program(&editor(), program_input("Other"), Some("key-1"), None).await;
        assert!(matches!(reused, Err(CmsError::Conflict(_))), "{name}: {reused:?}");
        // Keys belong to their user.
        let someone_else = cms.create_program(&admin(), program_input("Radiolab"), Some("key-1"), None).await;
        assert_ne!(someone_else.expect(name).id, first.id, "{name}");
        let bad_key = cms.create_program(&editor(), program_input("Radiolab"), Some("with space"), None).await;
        assert!(
            matches!(bad_key, Err(CmsError::Invalid(ref e)) if e.field == "Idempotency-Key"),
            "{name}: {bad_key:?}"
        );
    }
}

#[tokio::test]
async fn future_publish_dates_wait_for_the_scheduler() {
    for backend in backends().await {
        let cms = &backend.cms;
        let name = backend.name;
        let outbox = Outbox::new(cms.store().clone());
        let when = Utc::now() + Duration::hours(2);
        let mut input = program_input("Tomorrow's News");
        input.publish_date = Some(PublishDate::from_datetime(when));
        let program = cms.create_program(&editor(), input, None, None).await.expect(name);
        let scheduled = cms.publish(&editor(), program.id, None, None).await.expect(name);
        assert_eq!(scheduled.status(), ContentStatus::Scheduled, "{name}");
        assert!(!scheduled.is_discoverable(), "{name}");

        assert_eq!(cms.publish_due(Utc::now()).await.expect(name), 0, "{name}: not yet");
        assert_eq!(cms.publish_due(when + Duration::seconds(1)).await.expect(name), 1, "{name}");
        // A second scheduler (or a restart) finds nothing left to do.
        assert_eq!(cms.publish_due(when + Duration::seconds(2)).await.expect(name), 0, "{name}");

        let published = cms.get(&editor(), program.id).await.expect(name);
        assert_eq!((published.status(), published.version()), (ContentStatus::Published, 3), "{name}");
        let last = events(&outbox).await.pop().expect("events");
        assert_eq!((last.event_type, last.aggregate.version), (EventType::Published, 3), "{name}");
        let audit = cms.audit(&admin(), Some(program.id), 0, 10).await.expect(name);
        assert_eq!(
            audit.last().map(|a| (a.actor.as_str(), a.action.as_str())),
            Some(("system:scheduler", "scheduled_publish"))
        );
    }
}

#[tokio::test]
async fn unpublishing_or_deleting_a_program_hides_its_episodes() {
    for backend in backends().await {
        let cms = &backend.cms;
        let name = backend.name;
        let outbox = Outbox::new(cms.store().clone());
        let program = cms.create_program(&editor(), program_input("Night Vale"), None, None).await.expect(name);
        cms.publish(&editor(), program.id, None, None).await.expect(name);
        let mut episodes = Vec::new();
        for n in 1..=3 {
            let episode =
                cms.create_episode(&editor(), program.id, episode_input(&format!("Ep {n}")), None, None).await;
            let episode = episode.expect(name);
            assert!(episode.program_visible, "{name}");
            cms.publish(&editor(), episode.id, None, None).await.expect(name);
            episodes.push(episode.id);
        }

        cms.unpublish(&editor(), program.id, None, None).await.expect(name);
        for id in &episodes {
            let episode = cms.get(&editor(), *id).await.expect(name);
            assert_eq!(episode.status(), ContentStatus::Published, "{name}: the episode keeps its own status");
            assert!(!episode.is_discoverable(), "{name}: but is hidden with its program");
        }
        cms.publish(&editor(), program.id, None, None).await.expect(name);
        for id in &episodes {
            assert!(cms.get(&editor(), *id).await.expect(name).is_discoverable(), "{name}: back with the program");
        }

        cms.delete(&editor(), program.id, None, None).await.expect(name);
        for id in episodes.iter().chain([&program.id]) {
            let gone = cms.get(&editor(), *id).await;
            assert!(matches!(gone, Err(CmsError::NotFound { .. })), "{name}: {gone:?}");
        }
        let last_events: Vec<EventType> = events(&outbox).await.iter().rev().take(4).map(|e| e.event_type).collect();
        assert_eq!(last_events, [EventType::Deleted; 4], "{name}: the program and its three episodes");
        let listed = cms.list(&editor(), &first_ten()).await.expect(name);
        assert_eq!(listed.total, 0, "{name}: deleted items leave the listings");
    }
}

#[tokio::test]
async fn roles_are_checked_by_the_service_itself() {
    for backend in backends().await {
        let cms = &backend.cms;
        let name = backend.name;
        let denied = cms.create_program(&listener(), program_input("Nope"), None, None).await;
        assert!(matches!(denied, Err(CmsError::Auth(auth::AuthError::Forbidden(_)))), "{name}: {denied:?}");
        let program = cms.create_program(&editor(), program_input("Yes"), None, None).await.expect(name);
        let denied = cms.publish(&listener(), program.id, None, None).await;
        assert!(matches!(denied, Err(CmsError::Auth(_))), "{name}");
        let denied = cms.audit(&editor(), None, 0, 10).await;
        assert!(matches!(denied, Err(CmsError::Auth(auth::AuthError::Forbidden(_)))), "{name}: audit is ADMIN only");
        assert_eq!(denied.map_err(|e| e.to_problem().status).err(), Some(403));
        assert_eq!(cms.audit(&admin(), None, 0, 10).await.expect(name).len(), 1, "{name}");
    }
}

#[tokio::test]
async fn concurrent_edits_of_one_version_let_exactly_one_win() {
    for backend in backends().await {
        let name = backend.name;
        let program = backend.cms.create_program(&editor(), program_input("Contested"), None, None).await.expect(name);
        let mut tasks = Vec::new();
        for n in 0..8 {
            let cms = backend.cms.clone();
            tasks.push(tokio::spawn(async move {
                let changes = UpdateProgram {
                    title: Some(contracts::Title::parse(format!("Take {n}")).expect("title")),
                    ..Default::default()
                };
                cms.update_program(&editor(), program.id, changes, Some(1), None).await
            }));
        }
        let mut won = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(program) => {
                    won += 1;
                    assert_eq!(program.version, 2, "{name}");
                }
                Err(CmsError::PreconditionFailed { current: 2, .. }) => {}
                Err(other) => panic!("{name}: {other:?}"),
            }
        }
        assert_eq!(won, 1, "{name}");
    }
}

#[tokio::test]
async fn one_relay_holds_the_lease_at_a_time() {
    for backend in backends().await {
        let name = backend.name;
        let outbox = Outbox::new(backend.cms.store().clone());
        assert!(outbox.acquire_lease("relay", "a", 60_000).await.expect(name), "{name}");
        assert!(!outbox.acquire_lease("relay", "b", 60_000).await.expect(name), "{name}: a holds it");
        assert!(outbox.acquire_lease("relay", "a", 60_000).await.expect(name), "{name}: a renews");
        outbox.release_lease("relay", "a").await.expect(name);
        assert!(outbox.acquire_lease("relay", "b", 1).await.expect(name), "{name}: released, b takes it");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !outbox.acquire_lease("relay", "a", 60_000).await.expect(name) {
            assert!(std::time::Instant::now() < deadline, "{name}: b's 1 ms lease never lapsed");
            tokio::task::yield_now().await;
        }
    }
}

#[tokio::test]
async fn bad_values_are_refused_with_the_field() {
    for backend in backends().await {
        let name = backend.name;
        let mut input = program_input("Art");
        input.artwork_url = Some("javascript:alert(1)".into());
        let refused = backend.cms.create_program(&editor(), input, None, None).await;
        match refused {
            Err(error @ CmsError::Invalid(_)) => {
                let problem = error.to_problem();
                assert_eq!(problem.status, 422, "{name}");
                assert_eq!(problem.errors.first().map(|e| e.field.as_str()), Some("artwork_url"), "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// The first ten items, of every kind and status.
fn first_ten() -> ListFilter {
    ListFilter { params: ListParams { per_page: 10, ..Default::default() }, ..Default::default() }
}

/// The first ten items whose title contains `text`.
fn titled(text: &str) -> ListFilter {
    ListFilter {
        params: ListParams { text: Some(text.into()), per_page: 10, ..Default::default() },
        ..Default::default()
    }
}
