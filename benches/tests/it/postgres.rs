//! The PostgreSQL baseline against a real server (MEDIAMESH_DATABASE_URL, or the local one).

use benches::catalog::{self, GenConfig};
use benches::pg;
use contracts::ContentSnapshot;
use engine::SearchRequest;

fn database_url() -> String {
    std::env::var("MEDIAMESH_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

#[tokio::test]
async fn the_baseline_loads_the_catalog_and_answers_the_mix() {
    let items = catalog::generate(GenConfig { programs: 100, episodes: 2_000, seed: 5 });
    let pool = pg::connect(&database_url(), 2).await.expect("PostgreSQL is reachable");
    pg::load(&pool, &items).await.expect("load");

    // A word in the middle of the frequency range: matches some items, not all.
    let vocabulary = catalog::Vocabulary::synthetic();
    let word = vocabulary.words[150].clone();
    let expected = items
        .iter()
        .filter(|item| {
            let (title, description) = catalog::text_of(item);
            engine::words(&format!("{title} {description}")).iter().any(|w| w.term == word)
        })
        .count() as i64;
    assert!(expected > 0);
    let answer = pg::search(&pool, &SearchRequest::text(format!("{word} "))).await.expect("query").expect("has words");
    assert_eq!(answer.total, expected);
    let category_sum: i64 = serde_json::from_str::<Vec<(i64, i64)>>(&answer.category_facets)
        .expect("facet json")
        .iter()
        .map(|(_, count)| count)
        .sum();
    assert_eq!(category_sum, expected, "without filters the facet counts add up to the total");

    // Filters narrow the total; the category facet ignores the category filter.
    let category = match &items[0] {
        ContentSnapshot::Program(p) => p.category,
        ContentSnapshot::Episode(e) => e.category,
    };
    let filtered = SearchRequest { categories: vec![category], ..SearchRequest::text(format!("{word} ")) };
    let narrowed = pg::search(&pool, &filtered).await.expect("query").expect("has words");
    assert!(narrowed.total <= expected);
    assert_eq!(narrowed.category_facets, answer.category_facets);

    let mix = std::sync::Arc::new(benches::querymix::generate(&vocabulary, 50, 1));
    let run = pg::run_mix(&pool, mix, 2).await.expect("mix runs");
    assert_eq!(run.latencies.len(), 50);
}
