//! The outbox as its readers see it: the relay (which publishes rows to Kafka and marks them sent)
//! and, with no broker configured, the embedded indexer (which reads rows by sequence).
//!
//! Rows are read in sequence order. Only one relay publishes at a time: it must hold the `relay`
//! lease, which it renews while it works and another relay takes over when it lapses. One
//! publisher keeps every program's events in order; the lease makes a second relay a standby
//! rather than a second writer.

use sqlx::Row;

use crate::error::Result;
use crate::store::{Store, now_millis};

/// One event waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub seq: i64,
    pub event_id: String,
    pub event_type: String,
    /// The Kafka key: the program id.
    pub partition_key: String,
    pub traceparent: Option<String>,
    /// The event envelope as JSON.
    pub payload: String,
    pub created_at_millis: i64,
}

/// How far behind the relay is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    pub rows: u64,
    /// Age of the oldest unsent row, in milliseconds (0 when none).
    pub oldest_age_millis: i64,
}

/// Reads and marks outbox rows.
#[derive(Debug, Clone)]
pub struct Outbox {
    store: Store,
}

impl Outbox {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Up to `limit` unsent rows, oldest first.
    pub async fn unsent(&self, limit: u32) -> Result<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT seq, event_id, event_type, partition_key, traceparent, payload, created_at FROM outbox \
             WHERE sent_at IS NULL ORDER BY seq LIMIT $1",
        )
        .bind(i64::from(limit.max(1)))
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(row_of).collect()
    }

    /// Up to `limit` rows after `after_seq`, sent or not (the embedded indexer's feed).
    pub async fn after(&self, after_seq: i64, limit: u32) -> Result<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT seq, event_id, event_type, partition_key, traceparent, payload, created_at FROM outbox \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(i64::from(limit.max(1)))
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(row_of).collect()
    }

    /// Marks exactly these rows published (never a range: on PostgreSQL a row with a lower sequence
    /// number can commit after a higher one, and must not be marked before it is sent).
    pub async fn mark_sent(&self, seqs: &[i64]) -> Result<()> {
        const CHUNK: usize = 500;
        let now = now_millis();
        let mut tx = self.store.begin().await?;
        for chunk in seqs.chunks(CHUNK) {
            let placeholders: Vec<String> = (2..chunk.len() + 2).map(|n| format!("${n}")).collect();
            let sql = format!(
                "UPDATE outbox SET sent_at = $1 WHERE sent_at IS NULL AND seq IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
            for &seq in chunk {
                query = query.bind(seq);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn backlog(&self) -> Result<Backlog> {
        let row = sqlx::query("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE sent_at IS NULL")
            .fetch_one(self.store.pool())
            .await?;
        let rows: i64 = row.try_get("n")?;
        let oldest: Option<i64> = row.try_get("oldest")?;
        Ok(Backlog { rows: rows.max(0) as u64, oldest_age_millis: oldest.map_or(0, |t| (now_millis() - t).max(0)) })
    }

    /// Takes or renews the lease `name` for `holder` until `ttl_millis` from now. True when
    /// `holder` has it; false while someone else's lease is still running.
    pub async fn acquire_lease(&self, name: &str, holder: &str, ttl_millis: i64) -> Result<bool> {
        let now = now_millis();
        let result = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at < $4",
        )
        .bind(name.to_owned())
        .bind(holder.to_owned())
        .bind(now + ttl_millis)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Gives the lease up (on shutdown), so a standby can take over at once.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name.to_owned())
            .bind(holder.to_owned())
            .execute(self.store.pool())
            .await?;
        Ok(())
    }
}

fn row_of(row: &sqlx::any::AnyRow) -> Result<OutboxRow> {
    Ok(OutboxRow {
        seq: row.try_get("seq")?,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        partition_key: row.try_get("partition_key")?,
        traceparent: row.try_get("traceparent")?,
        payload: row.try_get("payload")?,
        created_at_millis: row.try_get("created_at")?,
    })
}
