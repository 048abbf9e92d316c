//! The editorial workflow: creating, editing, publishing, unpublishing and deleting programs and
//! episodes. Every change bumps the item's version and, in the same transaction, appends its event
//! to the outbox and a line to the audit log, so the store, the event stream and the audit never
//! disagree.
//!
//! Each method checks the caller's role itself (service-level RBAC): EDITOR for content, ADMIN for
//! the audit log. A gateway in front checks too, but the store does not rely on it.

use auth::{Claims, Role};
use chrono::{DateTime, Utc};
use contracts::{
    ContentKind, ContentSnapshot, ContentStatus, CreateEpisode, CreateProgram, DomainError, Episode, EventEnvelope,
    EventType, ListParams, Program, PublishDate, UpdateEpisode, UpdateProgram,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use uuid::Uuid;

use crate::error::{CmsError, Result};
use crate::store::{Backend, Store, Tx, now_millis};

/// Who is acting: a verified user, or the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub role: Role,
}

impl Actor {
    pub fn from_claims(claims: &Claims) -> Self {
        Self { user_id: claims.sub.clone(), role: claims.role }
    }

    /// The scheduler publishing what editors scheduled.
    pub fn scheduler() -> Self {
        Self { user_id: "system:scheduler".into(), role: Role::Editor }
    }

    fn require(&self, role: Role) -> Result<()> {
        Ok(self.role.require(role)?)
    }
}

/// The item a change is for: its id, and the kind the caller addressed it as (`/v1/programs/{id}`
/// must not change an episode). A bare id matches either kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub id: Uuid,
    pub kind: Option<ContentKind>,
}

impl Target {
    pub fn new(id: Uuid, kind: ContentKind) -> Self {
        Self { id, kind: Some(kind) }
    }
}

impl From<Uuid> for Target {
    fn from(id: Uuid) -> Self {
        Self { id, kind: None }
    }
}

/// What `list` returns at most per page.
pub const MAX_PAGE_SIZE: u32 = contracts::MAX_LIST_PAGE_SIZE;

/// Filters for listing content in the CMS (drafts included, deleted items never).
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub kind: Option<ContentKind>,
    pub program_id: Option<Uuid>,
    /// What the list routes' query string asks for: status, category, language, words the title
    /// must contain (case-insensitively), paging.
    pub params: ListParams,
}

/// One page of a listing, newest change first.
#[derive(Debug, Clone, Serialize)]
pub struct ListPage {
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub items: Vec<ContentSnapshot>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub item_kind: String,
    pub item_id: String,
    pub from_version: Option<u64>,
    pub to_version: Option<u64>,
}

/// The CMS's content service over a store.
#[derive(Debug, Clone)]
pub struct Cms {
    store: Store,
}

impl Cms {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Creates a draft program. With an idempotency key, a retry of the same request returns the
    /// first result instead of creating another program.
    pub async fn create_program(
        &self,
        actor: &Actor,
        input: CreateProgram,
        idempotency_key: Option<&str>,
        traceparent: Option<&str>,
    ) -> Result<Program> {
        actor.require(Role::Editor)?;
        let request_hash = hash_request("create_program", "", &input)?;
        let mut tx = self.store.begin().await?;
        if let Some(previous) = self.replay::<Program>(&mut tx, actor, idempotency_key, &request_hash).await? {
            return Ok(previous);
        }
        let now = Utc::now();
        let program = Program {
            id: Uuid::now_v7(),
            title: input.title,
            description: input.description,
            category: input.category,
            language: input.language,
            duration_seconds: input.duration_seconds,
            publish_date: input.publish_date,
            artwork_url: checked_url(input.artwork_url)?,
            explicit: input.explicit,
            external_guid: input.external_guid,
            status: ContentStatus::Draft,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let snapshot = ContentSnapshot::Program(program.clone());
        self.insert(&mut tx, &snapshot).await?;
        self.record(&mut tx, actor, "create", &snapshot, None, EventType::Created, traceparent).await?;
        self.remember(&mut tx, actor, idempotency_key, &request_hash, &program).await?;
        tx.commit().await?;
        Ok(program)
    }

    /// Creates a draft episode of a program; its category and language default to the program's.
    pub async fn create_episode(
        &self,
        actor: &Actor,
        program_id: Uuid,
        input: CreateEpisode,
        idempotency_key: Option<&str>,
        traceparent: Option<&str>,
    ) -> Result<Episode> {
        actor.require(Role::Editor)?;
        let request_hash = hash_request("create_episode", &program_id.to_string(), &input)?;
        let mut tx = self.store.begin().await?;
        if let Some(previous) = self.replay::<Episode>(&mut tx, actor, idempotency_key, &request_hash).await? {
            return Ok(previous);
        }
        let ContentSnapshot::Program(program) = self.load(&mut tx, program_id, true).await? else {
            return Err(CmsError::NotFound { kind: "program", id: program_id.to_string() });
        };
        let now = Utc::now();
        let episode = Episode {
            id: Uuid::now_v7(),
            program_id,
            title: input.title,
            description: input.description,
            category: input.category.unwrap_or(program.category),
            language: input.language.unwrap_or(program.language),
            duration_seconds: input.duration_seconds,
            publish_date: input.publish_date,
            artwork_url: checked_url(input.artwork_url)?,
            explicit: input.explicit,
            season: input.season,
            episode_number: input.episode_number,
            external_guid: input.external_guid,
            status: ContentStatus::Draft,
            program_visible: program.status == ContentStatus::Published,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let snapshot = ContentSnapshot::Episode(episode.clone());
        self.insert(&mut tx, &snapshot).await?;
        self.record(&mut tx, actor, "create", &snapshot, None, EventType::Created, traceparent).await?;
        self.remember(&mut tx, actor, idempotency_key, &request_hash, &episode).await?;
        tx.commit().await?;
        Ok(episode)
    }

    /// The item as the CMS holds it (any status but deleted).
    pub async fn get(&self, actor: &Actor, id: Uuid) -> Result<ContentSnapshot> {
        actor.require(Role::Editor)?;
        let row = sqlx::query("SELECT data FROM content WHERE id = $1 AND status <> 'deleted'")
            .bind(id.to_string())
            .fetch_optional(self.store.pool())
            .await?;
        match row {
            Some(row) => parse_snapshot(&row.try_get::<String, _>("data")?),
            None => Err(CmsError::NotFound { kind: "item", id: id.to_string() }),
        }
    }

    /// A page of items matching `filter`, most recently changed first.
    pub async fn list(&self, actor: &Actor, filter: &ListFilter) -> Result<ListPage> {
        actor.require(Role::Editor)?;
        let params = &filter.params;
        let per_page = params.per_page.clamp(1, MAX_PAGE_SIZE);
        let page = params.page.max(1);
        // Absent filters are passed as NULL so one statement serves every combination.
        const WHERE: &str = "status <> 'deleted' \
            AND ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR program_id = $2) AND ($3 IS NULL OR status = $3) \
            AND ($4 IS NULL OR category = $4) AND ($5 IS NULL OR language = $5) AND ($6 IS NULL OR title_lower LIKE $6 ESCAPE '\\')";
        let text = params.text.as_deref().map(|t| format!("%{}%", escape_like(&t.to_lowercase())));
        let binds = (
            filter.kind.map(|k| k.as_str().to_owned()),
            filter.program_id.map(|id| id.to_string()),
            params.status.map(|s| s.as_str().to_owned()),
            params.category.map(|c| c.slug().to_owned()),
            params.language.map(|l| l.code().to_owned()),
            text,
        );
        let count_sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM content WHERE {WHERE}"));
        let total: i64 = sqlx::query(count_sql)
            .bind(binds.0.clone())
            .bind(binds.1.clone())
            .bind(binds.2.clone())
            .bind(binds.3.clone())
            .bind(binds.4.clone())
            .bind(binds.5.clone())
            .fetch_one(self.store.pool())
            .await?
            .try_get("n")?;
        let page_sql = sqlx::AssertSqlSafe(format!(
            "SELECT data FROM content WHERE {WHERE} ORDER BY updated_at DESC, id DESC LIMIT $7 OFFSET $8"
        ));
        let rows = sqlx::query(page_sql)
            .bind(binds.0)
            .bind(binds.1)
            .bind(binds.2)
            .bind(binds.3)
            .bind(binds.4)
            .bind(binds.5)
            .bind(i64::from(per_page))
            .bind(i64::from(page - 1) * i64::from(per_page))
            .fetch_all(self.store.pool())
            .await?;
        let items =
            rows.iter().map(|row| parse_snapshot(&row.try_get::<String, _>("data")?)).collect::<Result<Vec<_>>>()?;
        Ok(ListPage { total: total.max(0) as u64, page, per_page, items })
    }

    /// Changes the fields present in `changes`. `expected` is the version the editor saw (`If-Match`).
    pub async fn update_program(
        &self,
        actor: &Actor,
        id: Uuid,
        changes: UpdateProgram,
        expected: Option<u64>,
        traceparent: Option<&str>,
    ) -> Result<Program> {
        let snapshot = self
            .change(actor, Target::new(id, ContentKind::Program), expected, traceparent, "update", |current| {
                let ContentSnapshot::Program(mut program) = current else {
                    return Err(CmsError::NotFound { kind: "program", id: id.to_string() });
                };
                let UpdateProgram {
                    title,
                    description,
                    category,
                    language,
                    duration_seconds,
                    publish_date,
                    artwork_url,
                    explicit,
                } = changes;
                set(&mut program.title, title);
                set(&mut program.description, description);
                set(&mut program.category, category);
                set(&mut program.language, language);
                set_some(&mut program.duration_seconds, duration_seconds);
                set_some(&mut program.publish_date, publish_date);
                set_some(&mut program.artwork_url, checked_url(artwork_url)?);
                set(&mut program.explicit, explicit);
                Ok((ContentSnapshot::Program(program), EventType::Updated))
            })
            .await?;
        match snapshot {
            ContentSnapshot::Program(program) => Ok(program),
            ContentSnapshot::Episode(_) => Err(CmsError::Data("a program id held an episode".into())),
        }
    }

    /// Changes the fields present in `changes` (see [`Cms::update_program`]).
    pub async fn update_episode(
        &self,
        actor: &Actor,
        id: Uuid,
        changes: UpdateEpisode,
        expected: Option<u64>,
        traceparent: Option<&str>,
    ) -> Result<Episode> {
        let snapshot = self
            .change(actor, Target::new(id, ContentKind::Episode), expected, traceparent, "update", |current| {
                let ContentSnapshot::Episode(mut episode) = current else {
                    return Err(CmsError::NotFound { kind: "episode", id: id.to_string() });
                };
                let UpdateEpisode {
                    title,
                    description,
                    category,
                    language,
                    duration_seconds,
                    publish_date,
                    artwork_url,
                    explicit,
                    season,
                    episode_number,
                } = changes;
                set(&mut episode.title, title);
                set(&mut episode.description, description);
                set(&mut episode.category, category);
                set(&mut episode.language, language);
                set(&mut episode.duration_seconds, duration_seconds);
                set_some(&mut episode.publish_date, publish_date);
                set_some(&mut episode.artwork_url, checked_url(artwork_url)?);
                set(&mut episode.explicit, explicit);
                set_some(&mut episode.season, season);
                set_some(&mut episode.episode_number, episode_number);
                Ok((ContentSnapshot::Episode(episode), EventType::Updated))
            })
            .await?;
        match snapshot {
            ContentSnapshot::Episode(episode) => Ok(episode),
            ContentSnapshot::Program(_) => Err(CmsError::Data("an episode id held a program".into())),
        }
    }

    /// Publishes the item now, or schedules it when its publish date is in the future (the
    /// scheduler publishes it then). Without a publish date, it gets now.
    pub async fn publish(
        &self,
        actor: &Actor,
        target: impl Into<Target>,
        expected: Option<u64>,
        traceparent: Option<&str>,
    ) -> Result<ContentSnapshot> {
        let now = Utc::now();
        self.change(actor, target.into(), expected, traceparent, "publish", |current| {
            let mut next = current;
            let date = publish_date_mut(&mut next);
            let when = *date.get_or_insert(PublishDate::from_datetime(now));
            if when.datetime() > now {
                set_status(&mut next, ContentStatus::Scheduled);
                Ok((next, EventType::Updated))
            } else {
                set_status(&mut next, ContentStatus::Published);
                Ok((next, EventType::Published))
            }
        })
        .await
    }

    /// Hides the item from discovery (it stays in the CMS).
    pub async fn unpublish(
        &self,
        actor: &Actor,
        target: impl Into<Target>,
        expected: Option<u64>,
        traceparent: Option<&str>,
    ) -> Result<ContentSnapshot> {
        self.change(actor, target.into(), expected, traceparent, "unpublish", |current| {
            let mut next = current;
            set_status(&mut next, ContentStatus::Unpublished);
            Ok((next, EventType::Unpublished))
        })
        .await
    }

    /// Soft-deletes the item (a program's episodes with it): gone from discovery and from the CMS's
    /// listings, kept in the store and the audit log.
    pub async fn delete(
        &self,
        actor: &Actor,
        target: impl Into<Target>,
        expected: Option<u64>,
        traceparent: Option<&str>,
    ) -> Result<ContentSnapshot> {
        self.change(actor, target.into(), expected, traceparent, "delete", |current| {
            let mut next = current;
            set_status(&mut next, ContentStatus::Deleted);
            Ok((next, EventType::Deleted))
        })
        .await
    }

    /// Publishes every scheduled item whose publish date has come (called by the scheduler; safe to
    /// call from several processes and again after a restart). Returns how many it published.
    pub async fn publish_due(&self, now: DateTime<Utc>) -> Result<usize> {
        let due = sqlx::query(
            "SELECT id FROM content WHERE status = 'scheduled' AND scheduled_at <= $1 ORDER BY scheduled_at",
        )
        .bind(now.timestamp_millis())
        .fetch_all(self.store.pool())
        .await?;
        let actor = Actor::scheduler();
        let mut published = 0;
        for row in due {
            let id = parse_uuid(&row.try_get::<String, _>("id")?)?;
            let result = self
                .change(&actor, id.into(), None, None, "scheduled_publish", |current| {
                    if current.status() != ContentStatus::Scheduled {
                        return Err(CmsError::Conflict("no longer scheduled".into()));
                    }
                    let mut next = current;
                    set_status(&mut next, ContentStatus::Published);
                    Ok((next, EventType::Published))
                })
                .await;
            match result {
                Ok(_) => published += 1,
                // Another scheduler got there first, or an editor changed it meanwhile.
                Err(CmsError::Conflict(_) | CmsError::NotFound { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(published)
    }

    /// Audit lines after `after_seq`, oldest first, for one item or all (ADMIN only).
    pub async fn audit(
        &self,
        actor: &Actor,
        item: Option<Uuid>,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        actor.require(Role::Admin)?;
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, item_kind, item_id, from_version, to_version FROM audit_log \
             WHERE seq > $1 AND ($2 IS NULL OR item_id = $2) ORDER BY seq LIMIT $3",
        )
        .bind(after_seq)
        .bind(item.map(|id| id.to_string()))
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    seq: row.try_get("seq")?,
                    at: millis_to_time(row.try_get("at")?),
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    item_kind: row.try_get("item_kind")?,
                    item_id: row.try_get("item_id")?,
                    from_version: row.try_get::<Option<i64>, _>("from_version")?.map(|v| v as u64),
                    to_version: row.try_get::<Option<i64>, _>("to_version")?.map(|v| v as u64),
                })
            })
            .collect()
    }

    /// Loads the item under a write lock, checks the expected version, applies `edit`, and writes
    /// the new version with its event and audit line. A program whose visibility changes
    /// re-announces its episodes (each at a new version) so discovery follows.
    async fn change(
        &self,
        actor: &Actor,
        target: Target,
        expected: Option<u64>,
        traceparent: Option<&str>,
        action: &str,
        edit: impl FnOnce(ContentSnapshot) -> Result<(ContentSnapshot, EventType)>,
    ) -> Result<ContentSnapshot> {
        actor.require(Role::Editor)?;
        let mut tx = self.store.begin().await?;
        let current = self.load(&mut tx, target.id, true).await?;
        if target.kind.is_some_and(|kind| kind != current.kind()) {
            let kind = target.kind.map_or("item", ContentKind::as_str);
            return Err(CmsError::NotFound { kind, id: target.id.to_string() });
        }
        let current_version = current.version();
        if let Some(expected) = expected
            && expected != current_version
        {
            return Err(CmsError::PreconditionFailed { expected, current: current_version });
        }
        if let ContentSnapshot::Episode(episode) = &current
            && action == "publish"
        {
            // An episode cannot be published under a deleted program.
            self.load(&mut tx, episode.program_id, false).await?;
        }
        let was_visible = program_visible(&current);
        let (mut next, event) = edit(current)?;
        stamp(&mut next, current_version + 1);
        self.update(&mut tx, &next, current_version).await?;
        self.record(&mut tx, actor, action, &next, Some(current_version), event, traceparent).await?;
        if let ContentSnapshot::Program(program) = &next {
            let visible = program_visible(&next);
            if visible != was_visible || program.status == ContentStatus::Deleted {
                self.cascade(&mut tx, actor, program, visible, traceparent).await?;
            }
        }
        tx.commit().await?;
        Ok(next)
    }

    /// Re-announces a program's episodes after its visibility changed; deleting a program deletes
    /// its episodes.
    async fn cascade(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        program: &Program,
        visible: bool,
        traceparent: Option<&str>,
    ) -> Result<()> {
        let rows = sqlx::query(
            "SELECT data FROM content WHERE program_id = $1 AND kind = 'episode' AND status <> 'deleted' ORDER BY id",
        )
        .bind(program.id.to_string())
        .fetch_all(&mut **tx)
        .await?;
        for row in rows {
            let ContentSnapshot::Episode(mut episode) = parse_snapshot(&row.try_get::<String, _>("data")?)? else {
                continue;
            };
            let from = episode.version;
            let (action, event) = if program.status == ContentStatus::Deleted {
                episode.status = ContentStatus::Deleted;
                ("delete_with_program", EventType::Deleted)
            } else {
                episode.program_visible = visible;
                ("program_visibility", EventType::Updated)
            };
            let mut next = ContentSnapshot::Episode(episode);
            stamp(&mut next, from + 1);
            self.update(tx, &next, from).await?;
            self.record(tx, actor, action, &next, Some(from), event, traceparent).await?;
        }
        Ok(())
    }

    /// The item's current snapshot; with `lock`, held for this transaction (PostgreSQL row lock;
    /// SQLite's `BEGIN IMMEDIATE` already serialises writers). Deleted items are not found.
    async fn load(&self, tx: &mut Tx, id: Uuid, lock: bool) -> Result<ContentSnapshot> {
        let sql = match (self.store.backend(), lock) {
            (Backend::Postgres, true) => "SELECT data FROM content WHERE id = $1 AND status <> 'deleted' FOR UPDATE",
            _ => "SELECT data FROM content WHERE id = $1 AND status <> 'deleted'",
        };
        let row = sqlx::query(sql).bind(id.to_string()).fetch_optional(&mut **tx).await?;
        match row {
            Some(row) => parse_snapshot(&row.try_get::<String, _>("data")?),
            None => Err(CmsError::NotFound { kind: "item", id: id.to_string() }),
        }
    }

    async fn insert(&self, tx: &mut Tx, snapshot: &ContentSnapshot) -> Result<()> {
        let row = Columns::of(snapshot)?;
        sqlx::query(
            "INSERT INTO content (id, kind, program_id, status, version, title_lower, category, language, \
             scheduled_at, data, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(row.id)
        .bind(row.kind)
        .bind(row.program_id)
        .bind(row.status)
        .bind(row.version)
        .bind(row.title_lower)
        .bind(row.category)
        .bind(row.language)
        .bind(row.scheduled_at)
        .bind(row.data)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Writes a new version over `from` (the version the transaction read).
    async fn update(&self, tx: &mut Tx, snapshot: &ContentSnapshot, from: u64) -> Result<()> {
        let row = Columns::of(snapshot)?;
        let result = sqlx::query(
            "UPDATE content SET status = $2, version = $3, title_lower = $4, category = $5, language = $6, \
             scheduled_at = $7, data = $8, updated_at = $9 WHERE id = $1 AND version = $10",
        )
        .bind(row.id)
        .bind(row.status)
        .bind(row.version)
        .bind(row.title_lower)
        .bind(row.category)
        .bind(row.language)
        .bind(row.scheduled_at)
        .bind(row.data)
        .bind(row.updated_at)
        .bind(from as i64)
        .execute(&mut **tx)
        .await?;
        if result.rows_affected() != 1 {
            return Err(CmsError::Conflict("the item changed while it was being written; retry".into()));
        }
        Ok(())
    }

    /// Appends the change's event to the outbox and its line to the audit log.
    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        action: &str,
        snapshot: &ContentSnapshot,
        from_version: Option<u64>,
        event_type: EventType,
        traceparent: Option<&str>,
    ) -> Result<()> {
        let envelope = EventEnvelope::new(event_type, snapshot.clone(), traceparent.map(str::to_owned));
        let payload = serde_json::to_string(&envelope).map_err(|e| CmsError::Data(e.to_string()))?;
        let now = now_millis();
        sqlx::query(
            "INSERT INTO outbox (event_id, event_type, partition_key, traceparent, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(envelope.event_id.to_string())
        .bind(event_type.as_str())
        .bind(envelope.partition_key().to_string())
        .bind(traceparent.map(str::to_owned))
        .bind(payload)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, item_kind, item_id, from_version, to_version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(now)
        .bind(actor.user_id.clone())
        .bind(action.to_owned())
        .bind(snapshot.kind().as_str())
        .bind(snapshot.id().to_string())
        .bind(from_version.map(|v| v as i64))
        .bind(snapshot.version() as i64)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The stored answer to an earlier request with this idempotency key, if there was one. The
    /// same key with a different request is a conflict.
    async fn replay<T: serde::de::DeserializeOwned>(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        key: Option<&str>,
        request_hash: &str,
    ) -> Result<Option<T>> {
        let Some(key) = key else { return Ok(None) };
        check_idempotency_key(key)?;
        let row =
            sqlx::query("SELECT request_hash, response FROM idempotency WHERE actor = $1 AND idempotency_key = $2")
                .bind(actor.user_id.clone())
                .bind(key.to_owned())
                .fetch_optional(&mut **tx)
                .await?;
        let Some(row) = row else { return Ok(None) };
        if row.try_get::<String, _>("request_hash")? != request_hash {
            return Err(CmsError::Conflict("this Idempotency-Key was used for a different request".into()));
        }
        let response: String = row.try_get("response")?;
        serde_json::from_str(&response).map(Some).map_err(|e| CmsError::Data(e.to_string()))
    }

    async fn remember<T: Serialize>(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        key: Option<&str>,
        request_hash: &str,
        response: &T,
    ) -> Result<()> {
        let Some(key) = key else { return Ok(()) };
        let response = serde_json::to_string(response).map_err(|e| CmsError::Data(e.to_string()))?;
        sqlx::query(
            "INSERT INTO idempotency (actor, idempotency_key, request_hash, response, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(actor.user_id.clone())
        .bind(key.to_owned())
        .bind(request_hash.to_owned())
        .bind(response)
        .bind(now_millis())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// The indexed columns of a snapshot.
struct Columns {
    id: String,
    kind: &'static str,
    program_id: String,
    status: &'static str,
    version: i64,
    title_lower: String,
    category: &'static str,
    language: &'static str,
    scheduled_at: Option<i64>,
    data: String,
    created_at: i64,
    updated_at: i64,
}

impl Columns {
    fn of(snapshot: &ContentSnapshot) -> Result<Self> {
        let (title, category, language, publish_date, created_at, updated_at) = match snapshot {
            ContentSnapshot::Program(p) => {
                (&p.title, p.category, p.language, p.publish_date, p.created_at, p.updated_at)
            }
            ContentSnapshot::Episode(e) => {
                (&e.title, e.category, e.language, e.publish_date, e.created_at, e.updated_at)
            }
        };
        let status = snapshot.status();
        Ok(Self {
            id: snapshot.id().to_string(),
            kind: snapshot.kind().as_str(),
            program_id: snapshot.program_id().to_string(),
            status: status.as_str(),
            version: snapshot.version() as i64,
            title_lower: title.as_str().to_lowercase(),
            category: category.slug(),
            language: language.code(),
            scheduled_at: (status == ContentStatus::Scheduled)
                .then(|| publish_date.map(|d| d.datetime().timestamp_millis()))
                .flatten(),
            data: serde_json::to_string(snapshot).map_err(|e| CmsError::Data(e.to_string()))?,
            created_at: created_at.timestamp_millis(),
            updated_at: updated_at.timestamp_millis(),
        })
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// Sets an optional field when a value is given (a PATCH cannot clear one).
fn set_some<T>(field: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *field = value;
    }
}

fn set_status(snapshot: &mut ContentSnapshot, status: ContentStatus) {
    match snapshot {
        ContentSnapshot::Program(program) => program.status = status,
        ContentSnapshot::Episode(episode) => episode.status = status,
    }
}

fn publish_date_mut(snapshot: &mut ContentSnapshot) -> &mut Option<PublishDate> {
    match snapshot {
        ContentSnapshot::Program(program) => &mut program.publish_date,
        ContentSnapshot::Episode(episode) => &mut episode.publish_date,
    }
}

/// Sets the new version and the time of the change.
fn stamp(snapshot: &mut ContentSnapshot, version: u64) {
    let now = Utc::now();
    match snapshot {
        ContentSnapshot::Program(program) => {
            program.version = version;
            program.updated_at = now;
        }
        ContentSnapshot::Episode(episode) => {
            episode.version = version;
            episode.updated_at = now;
        }
    }
}

/// Whether a program's episodes may be discoverable (only meaningful for programs).
fn program_visible(snapshot: &ContentSnapshot) -> bool {
    matches!(snapshot, ContentSnapshot::Program(p) if p.status == ContentStatus::Published)
}

fn parse_snapshot(data: &str) -> Result<ContentSnapshot> {
    serde_json::from_str(data).map_err(|e| CmsError::Data(format!("unreadable snapshot: {e}")))
}

fn parse_uuid(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| CmsError::Data(format!("bad id {text}: {e}")))
}

fn millis_to_time(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

/// Artwork must be an absolute http(s) URL of sane length.
fn checked_url(url: Option<String>) -> Result<Option<String>> {
    match url {
        None => Ok(None),
        Some(url)
            if url.len() <= 2048 && (url.starts_with("https://") || url.starts_with("http://")) && url.len() > 8 =>
        {
            Ok(Some(url))
        }
        Some(_) => Err(DomainError::new("artwork_url", "must be an http(s) URL of at most 2048 characters").into()),
    }
}

fn check_idempotency_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > 200 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(DomainError::new("Idempotency-Key", "must be 1–200 visible ASCII characters").into());
    }
    Ok(())
}

/// A fingerprint of a request, so a reused idempotency key with another body is caught.
fn hash_request<T: Serialize>(operation: &str, target: &str, body: &T) -> Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(operation.as_bytes());
    hasher.update([0]);
    hasher.update(target.as_bytes());
    hasher.update([0]);
    hasher.update(serde_json::to_vec(body).map_err(|e| CmsError::Data(e.to_string()))?);
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Escapes LIKE wildcards in user text (with `ESCAPE '\'`), so it matches literally on both backends.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
