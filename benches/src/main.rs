//! `mm-bench`: generate or import a catalog, index it, and measure queries against the engine and
//! against a PostgreSQL baseline. See `mm-bench --help` and BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use benches::catalog::{self, GenConfig, Vocabulary};
use benches::measure::{Report, peak_rss_bytes, rss_bytes, run_concurrent};
use benches::{pg, querymix};
use clap::{Parser, Subcommand};
use engine::{Engine, EngineConfig, SearchRequest, WriterConfig};

#[global_allocator]
static ALLOCATOR: platform::Allocator = platform::Allocator;

#[derive(Debug, Parser)]
#[command(name = "mm-bench", about = "MediaMesh latency-tuning harness")]
struct Cli {
    /// Print one JSON object per scenario instead of aligned text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a deterministic catalog as NDJSON.
    Gen {
        #[arg(long, default_value_t = 50_000)]
        programs: usize,
        #[arg(long, default_value_t = 1_000_000)]
        episodes: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Map a real catalog CSV (../shared/fixtures/catalog) to the same NDJSON.
    ImportCsv {
        file: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Index an NDJSON catalog and report documents per second.
    Index {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        index: PathBuf,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        #[arg(long, default_value_t = 1024)]
        memory_mb: usize,
    },
    /// Run the query mix uncached and cached and report latency percentiles.
    Query {
        #[arg(long)]
        index: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        queries: usize,
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
        /// Derive the query vocabulary from this catalog (for imported catalogs); generated
        /// catalogs share one synthetic vocabulary.
        #[arg(long)]
        catalog: Option<PathBuf>,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        #[arg(long, default_value_t = 256)]
        cache_mb: u64,
        /// Which scenarios to run: any of uncached, browse, cached.
        #[arg(long, value_delimiter = ',', default_value = "uncached,browse,cached")]
        scenarios: Vec<String>,
        /// Before the scenarios, time each query of the mix alone, one at a time, and write its
        /// time, matches and request to this file (tab-separated), to see which queries cost most.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// During the uncached scenario, write one new program and commit every this many
        /// milliseconds, as an indexer does under a steady trickle of edits (each commit is a new
        /// searcher generation). The index is copied first, so the one given is left as it was.
        #[arg(long)]
        commit_every_ms: Option<u64>,
    },
    /// Generate a small catalog, index it, and show what a few searches return.
    Demo {
        /// Where to keep the index (a temporary directory by default).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Load the catalog into PostgreSQL (tsvector + GIN) and run the same query mix there.
    BaselinePg {
        #[arg(long, env = "MEDIAMESH_DATABASE_URL")]
        database_url: String,
        #[arg(long)]
        input: PathBuf,
        #[arg(long, default_value_t = 2_000)]
        queries: usize,
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
        #[arg(long)]
        catalog_vocabulary: bool,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Reuse the table a previous run loaded.
        #[arg(long)]
        skip_load: bool,
    },
    /// Create programs through the CMS HTTP API (SQLite, or PostgreSQL with --database-url) and
    /// measure creates/s, beside the database's own rate for the same rows.
    CmsWrite {
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 5_000)]
        creates: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
    /// Relay outbox events to Kafka and measure events/s, beside the broker's own rate for the
    /// same messages.
    Relay {
        #[arg(long, env = "MEDIAMESH_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
        brokers: String,
        #[arg(long, default_value = "mm-bench.relay")]
        topic: String,
        #[arg(long, default_value_t = 20_000)]
        events: usize,
    },
    /// Put content events on a fresh topic and measure events/s from the topic into a committed
    /// index, beside the broker's own produce and consume rates for the same messages.
    KafkaIngest {
        #[arg(long, env = "MEDIAMESH_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
        brokers: String,
        #[arg(long, default_value_t = 200_000)]
        events: usize,
    },
    /// Publish through the CMS API at a steady rate and time each publish until a separate reader
    /// finds it; with --brokers through the relay and Kafka (beside the broker's own latency),
    /// without through the embedded outbox feed.
    Freshness {
        #[arg(long)]
        brokers: Option<String>,
        #[arg(long, default_value_t = 500)]
        rate: u32,
        #[arg(long, default_value_t = 20)]
        seconds: u32,
    },
    /// gateway-public under load on loopback (the real binary, its own process): a cached query
    /// mix and unique (uncached) queries, req/s and latency; and the rate-limit decision through
    /// Redis beside Redis's own round trip.
    Http {
        /// An index (`mm-bench index` output) or an index root.
        #[arg(long)]
        index: PathBuf,
        /// The gateway-public binary (default: beside this one).
        #[arg(long)]
        gateway_bin: Option<PathBuf>,
        #[arg(long, default_value_t = 32)]
        connections: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value_t = 200_000)]
        unique_queries: usize,
        #[arg(long)]
        catalog: Option<PathBuf>,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        #[arg(long, value_delimiter = ',', default_value = "cached,uncached,ratelimit")]
        scenarios: Vec<String>,
        #[arg(long, env = "MEDIAMESH_REDIS_URL")]
        redis_url: Option<String>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Gen { programs, episodes, seed, out } => {
            let started = Instant::now();
            let items = catalog::generate(GenConfig { programs, episodes, seed });
            catalog::write_ndjson(&out, &items)?;
            let mut report = Report::new("gen");
            report.docs = Some(items.len() as u64);
            report.docs_per_s = Some(items.len() as f64 / started.elapsed().as_secs_f64());
            report.print(cli.json);
        }
        Command::ImportCsv { file, out } => {
            let (items, import) = catalog::import_netflix_csv(&file)?;
            catalog::write_ndjson(&out, &items)?;
            for (row, reason) in &import.rejected {
                eprintln!("{}:{row}: rejected: {reason}", file.display());
            }
            let mut report = Report::new("import-csv");
            report.docs = Some(items.len() as u64);
            report.print(cli.json);
            if items.is_empty() {
                bail!("{}: no row could be imported", file.display());
            }
        }
        Command::Index { input, index, threads, memory_mb } => {
            for report in index_catalog(&input, &index, threads, memory_mb)? {
                report.print(cli.json);
            }
        }
        Command::Query { index, queries, concurrency, catalog, seed, cache_mb, scenarios, trace, commit_every_ms } => {
            let vocabulary = vocabulary(catalog.as_deref())?;
            let commit_every = commit_every_ms.map(Duration::from_millis);
            let options = QueryOptions { queries, concurrency, seed, cache_mb, scenarios, trace, commit_every };
            // Commits change the index: they go to a copy.
            let copy = match commit_every {
                Some(_) => Some(copy_index(&index)?),
                None => None,
            };
            let index = copy.as_ref().map_or(index, |dir| dir.path().to_path_buf());
            for report in query(&index, &vocabulary, &options)? {
                report.print(cli.json);
            }
        }
        Command::Demo { dir } => demo(dir)?,
        Command::BaselinePg { database_url, input, queries, concurrency, catalog_vocabulary, seed, skip_load } => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let reports = runtime.block_on(baseline_pg(
                &database_url,
                &input,
                queries,
                concurrency,
                catalog_vocabulary,
                seed,
                skip_load,
            ))?;
            for report in reports {
                report.print(cli.json);
            }
        }
        Command::CmsWrite { database_url, creates, concurrency } => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            for report in runtime.block_on(benches::write::cms_write(database_url.as_deref(), creates, concurrency))? {
                report.print(cli.json);
            }
        }
        Command::Http {
            index,
            gateway_bin,
            connections,
            seconds,
            unique_queries,
            catalog,
            seed,
            scenarios,
            redis_url,
        } => {
            let vocabulary = vocabulary(catalog.as_deref())?;
            let gateway_bin = match gateway_bin {
                Some(path) => path,
                None => std::env::current_exe()?.with_file_name("gateway-public"),
            };
            let options = benches::http::HttpOptions {
                gateway_bin,
                index,
                connections,
                seconds,
                unique_queries,
                seed,
                scenarios,
                redis_url,
            };
            for report in benches::http::http(&options, &vocabulary)? {
                report.print(cli.json);
            }
        }
        Command::Relay { brokers, topic, events } => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            for report in runtime.block_on(benches::write::relay(&brokers, &topic, events))? {
                report.print(cli.json);
            }
        }
        Command::KafkaIngest { brokers, events } => {
            for report in benches::ingest::kafka_ingest(&brokers, events)? {
                report.print(cli.json);
            }
        }
        Command::Freshness { brokers, rate, seconds } => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let options = benches::ingest::FreshnessOptions { brokers, rate, seconds };
            for report in runtime.block_on(benches::ingest::freshness(&options))? {
                report.print(cli.json);
            }
        }
    }
    Ok(())
}

fn vocabulary(catalog: Option<&Path>) -> Result<Vocabulary> {
    Ok(match catalog {
        Some(path) => Vocabulary::from_catalog(&catalog::read_ndjson(path)?),
        None => Vocabulary::synthetic(),
    })
}

fn index_catalog(input: &Path, index: &Path, threads: usize, memory_mb: usize) -> Result<Vec<Report>> {
    let read_started = Instant::now();
    let items = catalog::read_ndjson(input)?;
    let read = read_started.elapsed();
    let engine = Engine::open(index, EngineConfig::default())?;
    let mut writer = engine.writer(WriterConfig { threads, memory_bytes: memory_mb * 1024 * 1024 })?;
    let started = Instant::now();
    for item in &items {
        writer.upsert(item)?;
    }
    writer.commit(None)?;
    let committed = started.elapsed();
    writer.wait_merging()?;
    let merged = started.elapsed();
    let docs = items.len() as u64;
    let mut parse = Report::new("parse_ndjson");
    parse.docs = Some(docs);
    parse.docs_per_s = Some(docs as f64 / read.as_secs_f64());
    let mut index_report = Report::new("index");
    index_report.docs = Some(docs);
    index_report.docs_per_s = Some(docs as f64 / committed.as_secs_f64());
    let mut merged_report = Report::new("index_and_merge");
    merged_report.docs = Some(docs);
    merged_report.docs_per_s = Some(docs as f64 / merged.as_secs_f64());
    merged_report.rss_bytes = peak_rss_bytes();
    engine.reload()?;
    let stats = engine.stats();
    eprintln!(
        "index: {} documents in {} segments ({} in segments sorted into runs) at {}",
        stats.documents,
        stats.segments,
        stats.run_documents,
        index.display()
    );
    Ok(vec![parse, index_report, merged_report])
}

struct QueryOptions {
    queries: usize,
    concurrency: usize,
    seed: u64,
    cache_mb: u64,
    scenarios: Vec<String>,
    trace: Option<PathBuf>,
    commit_every: Option<Duration>,
}

/// Queries run before measuring (see `query`).
const WARM_UP_QUERIES: usize = 1_000;

fn query(index: &Path, vocabulary: &Vocabulary, options: &QueryOptions) -> Result<Vec<Report>> {
    let QueryOptions { queries, concurrency, seed, cache_mb, .. } = *options;
    let wants = |scenario: &str| options.scenarios.iter().any(|s| s == scenario);
    let engine = Engine::open(index, EngineConfig { cache_bytes: cache_mb * 1024 * 1024, ..EngineConfig::default() })?;
    let stats = engine.stats();
    if stats.documents == 0 {
        bail!("{}: the index is empty; run `mm-bench index` first", index.display());
    }
    let docs = Some(stats.documents);
    let mix = querymix::generate(vocabulary, queries, seed);
    let browse: Vec<SearchRequest> = mix
        .iter()
        .map(|r| SearchRequest { text: None, sort: engine::Sort::Newest, ..r.clone() })
        .take(queries.min(2_000))
        .collect();

    // Warm up as a running server is warm: 1,000 queries of another seed touch the index pages the
    // mix needs (a new process maps them on first use), without answering any measured query early.
    for request in querymix::generate(vocabulary, WARM_UP_QUERIES, seed.wrapping_add(1)) {
        engine.search_uncached(&request)?;
    }
    let mut reports = Vec::new();
    if let Some(path) = &options.trace {
        write_trace(&engine, &mix, path)?;
    }
    if wants("uncached") {
        let matched = std::sync::atomic::AtomicU64::new(0);
        let (before, before_by_lexicon) = (engine.expansion_cache_stats(), engine.lexicon_expansion_stats());
        let (run, commits) = with_commits(&engine, options.commit_every, seed, || {
            run_concurrent(mix.len(), concurrency, |i| {
                let response = engine.search_uncached(&mix[i])?;
                matched.fetch_add(response.total, std::sync::atomic::Ordering::Relaxed);
                Ok::<_, engine::EngineError>(())
            })
        })?;
        let run = run?;
        if options.commit_every.is_some() {
            eprintln!("{commits} commits during the run; index now {} segments", engine.stats().segments);
        }
        let mut expansions = engine.expansion_cache_stats();
        (expansions.misses, expansions.hits) = (expansions.misses - before.misses, expansions.hits - before.hits);
        let by_lexicon = engine.lexicon_expansion_stats();
        eprintln!(
            "of the computed expansions' walks of large lexicons: {} kept from earlier generations, {} walked",
            by_lexicon.hits - before_by_lexicon.hits,
            by_lexicon.misses - before_by_lexicon.misses
        );
        eprintln!(
            "query mix: {} matching documents per query on average; typo and prefix expansions: {} computed, {} \
             from the cache ({} kept, {} KiB)",
            matched.into_inner() / mix.len().max(1) as u64,
            expansions.misses,
            expansions.hits,
            expansions.entries,
            expansions.weighted_bytes >> 10,
        );
        let mut uncached = Report::new("query_uncached").with_latencies(&run);
        uncached.docs = docs;
        uncached.rss_bytes = rss_bytes();
        reports.push(uncached);
    }
    if wants("browse") {
        let run = run_concurrent(browse.len(), concurrency, |i| engine.search_uncached(&browse[i]).map(|_| ()))?;
        let mut browse_report = Report::new("browse_uncached").with_latencies(&run);
        browse_report.docs = docs;
        reports.push(browse_report);
    }
    if !wants("cached") {
        return Ok(reports);
    }

    // Cached: a working set of distinct requests, each answered once to fill the cache, then
    // asked again and again.
    let working_set = &mix[..mix.len().min(1_000)];
    for request in working_set {
        engine.search(request)?;
    }
    let before = engine.cache_stats();
    let run = run_concurrent(queries, concurrency, |i| engine.search(&working_set[i % working_set.len()]).map(|_| ()))?;
    let after = engine.cache_stats();
    if after.hits - before.hits != queries as u64 {
        bail!("the cached scenario missed the cache {} times", queries as u64 - (after.hits - before.hits));
    }
    let mut cached = Report::new("query_cached").with_latencies(&run);
    cached.docs = docs;
    cached.rss_bytes = rss_bytes();
    reports.push(cached);
    eprintln!(
        "index: {} documents, {} segments; cache: {} entries, {} KiB",
        stats.documents,
        stats.segments,
        after.entries,
        after.weighted_bytes / 1024
    );
    Ok(reports)
}

/// Runs `work` while, with `every`, another thread writes one new program and commits at that
/// interval (each commit makes it visible to the engine's searches); returns what `work` returned
/// and the number of commits.
fn with_commits<T: Send>(
    engine: &Engine,
    every: Option<Duration>,
    seed: u64,
    work: impl FnOnce() -> T + Send,
) -> Result<(T, usize)> {
    let Some(every) = every else { return Ok((work(), 0)) };
    let mut writer = engine.writer(WriterConfig::default())?;
    let programs = catalog::generate(GenConfig { programs: 100_000, episodes: 0, seed: seed ^ 0x5eed });
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let committer = scope.spawn(|| -> Result<usize> {
            let mut commits = 0;
            let mut next = Instant::now() + every;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
                next += every;
                let Some(program) = programs.get(commits) else { bail!("more commits than programs to write") };
                writer.upsert(program)?;
                writer.commit(None)?;
                commits += 1;
            }
            Ok(commits)
        });
        let result = work();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let commits = committer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        Ok((result, commits))
    })
}

/// A copy of the index directory, for a run that writes to it.
fn copy_index(index: &Path) -> Result<tempfile::TempDir> {
    let copy =
        tempfile::Builder::new().prefix("mm-bench-index-").tempdir_in(index.parent().unwrap_or(Path::new(".")))?;
    for entry in std::fs::read_dir(index)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), copy.path().join(entry.file_name()))?;
        }
    }
    Ok(copy)
}

/// Each query of `mix` timed alone: microseconds, matches, words, whether the last word is
/// unfinished, the filters, and the text.
fn write_trace(engine: &Engine, mix: &[SearchRequest], path: &Path) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "micros\tmatches\twords\tunfinished\tcategories\tlanguages\tkind\tmin_duration\tpage\ttext")?;
    for request in mix {
        let started = Instant::now();
        let response = engine.search_uncached(request)?;
        let micros = started.elapsed().as_micros();
        let text = request.text.as_deref().unwrap_or_default();
        writeln!(
            out,
            "{micros}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            response.total,
            engine::words(text).len(),
            u8::from(!text.ends_with(char::is_whitespace)),
            request.categories.len(),
            request.languages.len(),
            request.kind.map_or("-", |kind| kind.as_str()),
            request.min_duration.map_or(0, |d| d),
            request.page,
            text.trim_end(),
        )?;
    }
    out.flush()?;
    Ok(())
}

async fn baseline_pg(
    url: &str,
    input: &Path,
    queries: usize,
    concurrency: usize,
    catalog_vocabulary: bool,
    seed: u64,
    skip_load: bool,
) -> Result<Vec<Report>> {
    let items = catalog::read_ndjson(input)?;
    let pool = pg::connect(url, concurrency as u32).await?;
    let mut reports = Vec::new();
    if !skip_load {
        let (copied, indexed) = pg::load(&pool, &items).await?;
        let mut load = Report::new("pg_copy");
        load.docs = Some(items.len() as u64);
        load.docs_per_s = Some(items.len() as f64 / copied.as_secs_f64());
        reports.push(load);
        let mut gin = Report::new("pg_copy_and_gin");
        gin.docs = Some(items.len() as u64);
        gin.docs_per_s = Some(items.len() as f64 / (copied + indexed).as_secs_f64());
        reports.push(gin);
    }
    let vocabulary = if catalog_vocabulary { Vocabulary::from_catalog(&items) } else { Vocabulary::synthetic() };
    let mix = Arc::new(querymix::generate(&vocabulary, queries, seed));
    // The same warm-up the engine gets.
    for request in mix.iter().take(200) {
        pg::search(&pool, request).await.context("baseline warm-up query")?;
    }
    let run = pg::run_mix(&pool, mix, concurrency).await?;
    let mut report = Report::new("pg_query").with_latencies(&run);
    report.docs = Some(items.len() as u64);
    reports.push(report);
    Ok(reports)
}

fn demo(dir: Option<PathBuf>) -> Result<()> {
    let temporary = tempfile::tempdir()?;
    let dir = dir.unwrap_or_else(|| temporary.path().join("index"));
    let items = catalog::generate(GenConfig { programs: 300, episodes: 3_000, seed: 1 });
    let engine = Engine::open(&dir, EngineConfig::default())?;
    let mut writer = engine.writer(WriterConfig::default())?;
    let started = Instant::now();
    for item in &items {
        writer.upsert(item)?;
    }
    writer.commit(None)?;
    println!("indexed {} programs and episodes in {:?} at {}", items.len(), started.elapsed(), dir.display());

    let vocabulary = Vocabulary::synthetic();
    let word = |rank: usize| vocabulary.words[rank].clone();
    let examples = [
        SearchRequest::text(format!("{} ", word(40))),
        SearchRequest::text(format!("{} {}", word(60), &word(90)[..3.min(word(90).len())])),
        SearchRequest { languages: vec![contracts::LanguageCode::parse("de")?], ..SearchRequest::text(word(25)) },
        SearchRequest::browse(),
    ];
    for request in &examples {
        let response = engine.search(request)?;
        println!(
            "\n{:?} (language {:?}): {} results",
            request.text.as_deref().unwrap_or("<browse>"),
            request.languages.iter().map(|l| l.code()).collect::<Vec<_>>(),
            response.total
        );
        for hit in response.hits.iter().take(3) {
            println!(
                "  [{}] {}  ({}, {})",
                hit.kind.as_str(),
                hit.highlights.title.as_deref().unwrap_or(&hit.title),
                hit.category.map_or("-", |c| c.slug()),
                hit.language.map_or("-", |l| l.code())
            );
        }
        let top = |facets: &[engine::FacetCount]| {
            facets.iter().take(4).map(|f| format!("{}:{}", f.value, f.count)).collect::<Vec<_>>().join(" ")
        };
        println!("  categories {}\n  languages  {}", top(&response.facets.category), top(&response.facets.language));
    }
    let suggestions = engine.suggest(&word(40)[..3], 5)?;
    println!("\nsuggest {:?}: {:?}", &word(40)[..3], suggestions.iter().map(|s| s.title.as_str()).collect::<Vec<_>>());
    Ok(())
}
