//! Criterion micro-benchmarks of the engine's hot paths: query parsing, facet counting over a
//! browse, an uncached search, and a cache hit. `cargo bench -p benches --bench hot_paths`.

use std::hint::black_box;

use benches::catalog::{self, GenConfig, Vocabulary};
use criterion::{Criterion, criterion_group, criterion_main};
use engine::{Engine, EngineConfig, SearchRequest, WriterConfig};

fn hot_paths(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let engine = Engine::open(dir.path(), EngineConfig::default()).expect("index opens");
    let mut writer = engine.writer(WriterConfig { threads: 2, ..WriterConfig::default() }).expect("writer");
    for item in catalog::generate(GenConfig { programs: 2_000, episodes: 50_000, seed: 3 }) {
        writer.upsert(&item).expect("upsert");
    }
    writer.commit(None).expect("commit");
    writer.wait_merging().expect("merges");
    engine.reload().expect("reload");

    let vocabulary = Vocabulary::synthetic();
    let text = format!("{} {} {}", vocabulary.words[120], vocabulary.words[400], &vocabulary.words[800][..3]);

    c.bench_function("query_parse", |b| b.iter(|| engine::parse_query(black_box(&text), &[]).expect("parses")));
    let browse = SearchRequest { per_page: 1, ..SearchRequest::browse() };
    c.bench_function("facet_count_browse_52k", |b| {
        b.iter(|| engine.search_uncached(black_box(&browse)).expect("browse"))
    });
    let search = SearchRequest::text(text.clone());
    c.bench_function("search_uncached_52k", |b| b.iter(|| engine.search_uncached(black_box(&search)).expect("search")));
    engine.search(&search).expect("fills the cache");
    c.bench_function("search_cache_hit", |b| b.iter(|| engine.search(black_box(&search)).expect("hit")));
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
