//! ../shared/fixtures/catalog: 8,807 real titles with real descriptions.

use std::path::Path;
use std::sync::OnceLock;

use benches::catalog;
use contracts::ContentSnapshot;
use engine::{Engine, EngineConfig, SearchRequest, WriterConfig};

struct Loaded {
    engine: Engine,
    items: Vec<ContentSnapshot>,
    _dir: tempfile::TempDir,
}

fn loaded() -> &'static Loaded {
    static LOADED: OnceLock<Loaded> = OnceLock::new();
    LOADED.get_or_init(|| {
        let csv = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/fixtures/catalog/Ahmedhassan676__netflix_titles.csv");
        let (items, report) = catalog::import_netflix_csv(&csv).expect("the catalog imports");
        assert_eq!(report.rows, 8_807);
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        let dir = tempfile::tempdir().expect("temporary directory");
        let engine = Engine::open(dir.path(), EngineConfig::default()).expect("index opens");
        let mut writer = engine.writer(WriterConfig { threads: 2, ..WriterConfig::default() }).expect("writer");
        for item in &items {
            writer.upsert(item).expect("upsert");
        }
        writer.commit(None).expect("commit");
        Loaded { engine, items, _dir: dir }
    })
}

fn titles(request: &SearchRequest) -> Vec<String> {
    loaded().engine.search(request).expect("search").hits.iter().map(|h| h.title.clone()).collect()
}

fn program(item: &ContentSnapshot) -> &contracts::Program {
    match item {
        ContentSnapshot::Program(program) => program,
        ContentSnapshot::Episode(_) => panic!("the CSV import makes programs"),
    }
}

#[test]
fn every_title_is_indexed_and_counted_exactly() {
    let browse = loaded().engine.search(&SearchRequest::browse()).expect("browse");
    assert_eq!(browse.total, 8_807);
    let documentaries = loaded().items.iter().filter(|i| program(i).category.slug() == "documentary").count() as u64;
    let facet = browse.facets.category.iter().find(|f| f.value == "documentary").expect("documentary facet");
    assert_eq!(facet.count, documentaries);
    assert!(documentaries > 800, "Documentaries and Docuseries map to documentary: {documentaries}");
}

#[test]
fn names_find_their_title_first() {
    assert_eq!(titles(&SearchRequest::text("dick johnson"))[0], "Dick Johnson Is Dead");
    assert_eq!(titles(&SearchRequest::text("breaking bad "))[0], "Breaking Bad");
}

#[test]
fn typos_still_find_the_title() {
    assert_eq!(titles(&SearchRequest::text("stranger thngs "))[0], "Stranger Things");
    // The catalog itself misspells one title ("Octupus"): one query finds both spellings.
    let found = titles(&SearchRequest::text("octopus "));
    assert!(found.contains(&"My Octopus Teacher".to_owned()), "{found:?}");
    assert!(found.contains(&"Motu Patlu in Octupus World".to_owned()), "{found:?}");
}

#[test]
fn an_unfinished_word_completes() {
    let found = titles(&SearchRequest::text("narc"));
    for expected in ["Narcos", "Narcos: Mexico", "Inside the Real Narcos"] {
        assert!(found.contains(&expected.to_owned()), "{expected} missing from {found:?}");
    }
    // Completions first: every title that begins with the input comes before those that only
    // contain its words.
    let suggestions = loaded().engine.suggest("stranger th", 5).expect("suggest");
    let titles: Vec<&str> = suggestions.iter().map(|s| s.title.as_str()).collect();
    assert!(titles.contains(&"Stranger Things"), "{titles:?}");
    let completing = titles.iter().take_while(|t| t.to_lowercase().starts_with("stranger th")).count();
    assert!(completing >= 2, "{titles:?}");
    assert!(titles[..completing].contains(&"Stranger Things"), "{titles:?}");
}

#[test]
fn phrases_match_exactly() {
    let request = SearchRequest { per_page: 100, ..SearchRequest::text("\"planet earth\"") };
    let response = loaded().engine.search(&request).expect("search");
    assert!(response.hits.iter().any(|h| h.title == "Planet Earth II"));
    for hit in &response.hits {
        let text = format!("{} {}", hit.title, hit.description).to_lowercase();
        assert!(text.contains("planet earth"), "{}: {}", hit.title, hit.description);
    }
}

#[test]
fn filters_and_disjunctive_facets_agree_with_the_data() {
    let items = &loaded().items;
    let after = contracts::PublishDate::parse("2021-01-01T00:00:00Z").expect("date").unix_seconds();
    let recent_documentaries = items
        .iter()
        .map(program)
        .filter(|p| p.category.slug() == "documentary" && p.publish_date.is_some_and(|d| d.unix_seconds() >= after))
        .count() as u64;
    let request =
        SearchRequest::from_params([("category", "documentary"), ("published_after", "2021-01-01T00:00:00Z")])
            .expect("valid");
    let response = loaded().engine.search(&request).expect("search");
    assert_eq!(response.total, recent_documentaries);
    // The category facet ignores the category filter (but not the date filter).
    let recent_comedies = items
        .iter()
        .map(program)
        .filter(|p| p.category.slug() == "comedy" && p.publish_date.is_some_and(|d| d.unix_seconds() >= after))
        .count() as u64;
    let comedy = response.facets.category.iter().find(|f| f.value == "comedy").map_or(0, |f| f.count);
    assert_eq!(comedy, recent_comedies);
}

#[test]
fn sorting_by_duration_orders_movies() {
    let request =
        SearchRequest::from_params([("q", "documentary "), ("sort", "duration_desc"), ("min_duration", "60")])
            .expect("valid");
    let response = loaded().engine.search(&request).expect("search");
    assert!(response.total > 20);
    let durations: Vec<u64> = response.hits.iter().map(|h| h.duration_seconds.unwrap_or(0)).collect();
    assert!(durations.windows(2).all(|pair| pair[0] >= pair[1]), "{durations:?}");
}
