//! The PostgreSQL baseline: the same catalog in a table with a `tsvector` column and a GIN index,
//! and the same query mix answered the way a team without a search engine would: full-text match,
//! `ts_rank` order, facet counts by `GROUP BY` (disjunctive, like the engine's), `ts_headline`
//! snippets for the page of hits. PostgreSQL has no typo tolerance here; misspelt words simply
//! match less.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use contracts::ContentSnapshot;
use engine::SearchRequest;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::measure::Run;
use crate::querymix::to_tsquery;

// The baseline owns table `mm_bench_items` (dropped and recreated by `load`); sqlx wants SQL as
// literals, so the name is spelt out in each statement.

pub async fn connect(url: &str, connections: u32) -> Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(connections.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", redact(url)))
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// Loads the catalog with COPY, then builds the GIN index and statistics. Returns the seconds the
/// COPY and the index build took.
pub async fn load(pool: &PgPool, items: &[ContentSnapshot]) -> Result<(Duration, Duration)> {
    sqlx::query("DROP TABLE IF EXISTS mm_bench_items").execute(pool).await?;
    sqlx::query(
        "CREATE UNLOGGED TABLE mm_bench_items (
            id uuid PRIMARY KEY,
            kind smallint NOT NULL,
            program_id uuid NOT NULL,
            title text NOT NULL,
            description text NOT NULL,
            category smallint NOT NULL,
            language smallint NOT NULL,
            duration_seconds integer NOT NULL,
            publish_date bigint NOT NULL,
            tsv tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('simple', title), 'A') || setweight(to_tsvector('simple', description), 'B')
            ) STORED
        )",
    )
    .execute(pool)
    .await?;

    let started = Instant::now();
    let mut connection = pool.acquire().await?;
    let mut copy = connection
        .copy_in_raw(
            "COPY mm_bench_items (id, kind, program_id, title, description, category, language, duration_seconds, publish_date) FROM STDIN",
        )
        .await?;
    let mut buffer = String::with_capacity(1 << 20);
    for item in items {
        append_row(&mut buffer, item);
        if buffer.len() > (1 << 20) {
            copy.send(buffer.as_bytes()).await?;
            buffer.clear();
        }
    }
    copy.send(buffer.as_bytes()).await?;
    copy.finish().await?;
    drop(connection);
    let copied = started.elapsed();

    let started = Instant::now();
    sqlx::query("CREATE INDEX mm_bench_items_tsv ON mm_bench_items USING GIN (tsv)").execute(pool).await?;
    sqlx::query("ANALYZE mm_bench_items").execute(pool).await?;
    Ok((copied, started.elapsed()))
}

fn append_row(out: &mut String, item: &ContentSnapshot) {
    use std::fmt::Write as _;
    let (kind, title, description, category, language, duration, date) = match item {
        ContentSnapshot::Program(p) => (
            0,
            p.title.as_str(),
            p.description.as_str(),
            p.category.ordinal(),
            p.language.ordinal(),
            p.duration_seconds.map_or(0, |d| d.get()),
            p.publish_date.map_or(0, |d| d.unix_seconds()),
        ),
        ContentSnapshot::Episode(e) => (
            1,
            e.title.as_str(),
            e.description.as_str(),
            e.category.ordinal(),
            e.language.ordinal(),
            e.duration_seconds.get(),
            e.publish_date.map_or(0, |d| d.unix_seconds()),
        ),
    };
    let _ = write!(out, "{}\t{}\t{}\t", item.id(), kind, item.program_id());
    escape_copy(title, out);
    out.push('\t');
    escape_copy(description, out);
    let _ = writeln!(out, "\t{category}\t{language}\t{duration}\t{date}");
}

/// COPY text format: backslash, tab, newline and carriage return are escaped.
fn escape_copy(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// What one baseline query returns.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineAnswer {
    pub total: i64,
    pub category_facets: String,
    pub language_facets: String,
    pub hits: String,
}

const QUERY: &str = "
WITH m AS MATERIALIZED (
    SELECT id, description, category, language, ts_rank(tsv, q) AS rank
    FROM mm_bench_items, to_tsquery('simple', $1) AS q
    WHERE tsv @@ q AND ($2::smallint IS NULL OR kind = $2) AND duration_seconds >= $3
), f AS (
    SELECT * FROM m
    WHERE (cardinality($4::smallint[]) = 0 OR category = ANY($4))
      AND (cardinality($5::smallint[]) = 0 OR language = ANY($5))
)
SELECT
    (SELECT count(*) FROM f) AS total,
    (SELECT coalesce(json_agg(json_build_array(category, n) ORDER BY n DESC), '[]')::text FROM (
        SELECT category, count(*) AS n FROM m
        WHERE cardinality($5::smallint[]) = 0 OR language = ANY($5) GROUP BY category) c) AS category_facets,
    (SELECT coalesce(json_agg(json_build_array(language, n) ORDER BY n DESC), '[]')::text FROM (
        SELECT language, count(*) AS n FROM m
        WHERE cardinality($4::smallint[]) = 0 OR category = ANY($4) GROUP BY language) l) AS language_facets,
    (SELECT coalesce(json_agg(json_build_array(id, h)), '[]')::text FROM (
        SELECT id, ts_headline('simple', description, to_tsquery('simple', $1)) AS h
        FROM f ORDER BY rank DESC, id LIMIT $6 OFFSET $7) t) AS hits
";

/// Answers one request of the mix; `None` when its text has no words.
pub async fn search(pool: &PgPool, request: &SearchRequest) -> Result<Option<BaselineAnswer>> {
    let Some(tsquery) = to_tsquery(request) else { return Ok(None) };
    let kind = request.kind.map(|k| if k == contracts::ContentKind::Program { 0i16 } else { 1 });
    let categories: Vec<i16> = request.categories.iter().map(|c| c.ordinal() as i16).collect();
    let languages: Vec<i16> = request.languages.iter().map(|l| l.ordinal() as i16).collect();
    let row: (i64, String, String, String) = sqlx::query_as(QUERY)
        .bind(tsquery)
        .bind(kind)
        .bind(request.min_duration.unwrap_or(0) as i32)
        .bind(categories)
        .bind(languages)
        .bind(i64::from(request.per_page))
        .bind(i64::from((request.page - 1) * request.per_page))
        .fetch_one(pool)
        .await?;
    Ok(Some(BaselineAnswer { total: row.0, category_facets: row.1, language_facets: row.2, hits: row.3 }))
}

/// Runs the mix with `concurrency` connections in flight.
pub async fn run_mix(pool: &PgPool, requests: Arc<Vec<SearchRequest>>, concurrency: usize) -> Result<Run> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (pool, requests, next) = (pool.clone(), Arc::clone(&requests), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = requests.get(index) else { return Ok::<_, anyhow::Error>(latencies) };
                let start = Instant::now();
                search(&pool, request).await?;
                latencies.push(start.elapsed());
            }
        }));
    }
    let mut latencies = Vec::with_capacity(requests.len());
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(Run { latencies, wall: started.elapsed() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_is_escaped() {
        let mut out = String::new();
        escape_copy("a\tb\\c\nd", &mut out);
        assert_eq!(out, "a\\tb\\\\c\\nd");
    }

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(redact("postgres://user:secret@localhost/test"), "postgres://…@localhost/test");
        assert_eq!(redact("postgres://localhost/test"), "postgres://localhost/test");
    }
}
