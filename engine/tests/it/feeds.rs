//! Real feeds from ../shared/fixtures/rss in many languages, including Japanese titles that are
//! only findable through CJK bigrams.

use std::path::Path;

use contracts::{
    Category, ContentSnapshot, ContentStatus, Description, DurationSeconds, Episode, LanguageCode, PublishDate, Title,
};
use engine::SearchRequest;
use uuid::Uuid;

use crate::support::open;

const FIXTURES: &str = "../../shared/fixtures/rss";

/// Parses a fixture feed into published episodes in `language`.
fn episodes(file: &str, language: &str, program: u128) -> Vec<ContentSnapshot> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURES).join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let feed = feed_rs::parser::parse(bytes.as_slice()).unwrap_or_else(|e| panic!("{file}: {e}"));
    let language = LanguageCode::parse(language).expect("language");
    let now = chrono::Utc::now();
    feed.entries
        .iter()
        .enumerate()
        .filter_map(|(n, entry)| {
            let title = Title::parse(entry.title.as_ref()?.content.as_str()).ok()?;
            let summary = entry.summary.as_ref().map(|s| s.content.as_str()).unwrap_or_default();
            let description: String = summary.chars().take(Description::MAX_CHARS).collect();
            Some(ContentSnapshot::Episode(Episode {
                id: Uuid::from_u128(program << 32 | n as u128),
                program_id: Uuid::from_u128(program),
                title,
                description: Description::parse(description).ok()?,
                category: Category::parse("society-culture").expect("category"),
                language,
                duration_seconds: DurationSeconds::new(1800).expect("duration"),
                publish_date: entry.published.map(PublishDate::from_datetime),
                artwork_url: None,
                explicit: false,
                season: None,
                episode_number: None,
                external_guid: Some(entry.id.clone()),
                status: ContentStatus::Published,
                program_visible: true,
                version: 1,
                created_at: now,
                updated_at: now,
            }))
        })
        .collect()
}

#[test]
fn japanese_titles_are_findable_by_their_words() {
    let mut index = open();
    let mut all = episodes("wilf312__COTENRADIO.xml", "ja", 1);
    all.extend(episodes("wilf312__tokyo-pod-kyokakyoku.xml", "ja", 2));
    all.extend(episodes("wilf312__rebuildfm.xml", "ja", 3));
    assert!(all.len() > 1000, "the three feeds hold over 1,000 episodes, parsed {}", all.len());
    for item in &all {
        index.writer.upsert(item).expect("upsert");
    }
    index.writer.commit(None).expect("commit");

    let titles_with = |word: &str| {
        all.iter()
            .filter(|item| match item {
                ContentSnapshot::Episode(e) => e.title.as_str().contains(word),
                ContentSnapshot::Program(_) => false,
            })
            .count() as u64
    };
    // Words inside unspaced Japanese titles: a person's name, a theme, a place.
    for word in ["やなせたかし", "アンパンマン", "トルコ", "東京"] {
        let expected = titles_with(word);
        assert!(expected > 0, "the fixtures contain {word}");
        let request = SearchRequest { per_page: 100, ..SearchRequest::text(format!("\"{word}\"")) };
        let response = index.engine.search(&request).expect("search");
        let in_titles = response.hits.iter().filter(|h| h.title.contains(word)).count() as u64;
        assert_eq!(in_titles.min(100), expected.min(100), "{word}: every title containing it is found");
        let hit = response.hits.iter().find(|h| h.title.contains(word)).expect("a title hit");
        let highlighted = hit.highlights.title.as_deref().expect("title highlighted");
        assert!(highlighted.contains(&format!("<em>{word}</em>")), "{highlighted}");
    }
    // A Japanese word and a Latin one together.
    let mixed = index.engine.search(&SearchRequest::text("ケマル COTEN")).expect("search");
    assert!(
        mixed.total > 0 && mixed.hits.iter().all(|h| h.title.contains("ケマル") || h.description.contains("ケマル"))
    );
}

/// The European feeds in one index, with how many items each language has.
fn european() -> (crate::support::TestIndex, std::collections::BTreeMap<&'static str, u64>) {
    let mut index = open();
    let feeds = [
        ("feed-rs__rss_2.0_spiegel.xml", "de", 10),
        ("alatiera__2024-03-13-ndr.xml", "de", 11),
        ("RyanHirsch__dk-podcast.xml", "de", 12),
        ("davinkevin__rss.lesGrandesGueules.xml", "fr", 13),
        ("javiavid__pashisto-feed.xml", "es", 14),
        ("rbren__encoding.xml", "pt", 15),
        ("feed-rs__rss_2.0_spreaker.xml", "pl", 16),
        ("akupila__se-radio.xml", "en", 17),
    ];
    let mut expected_per_language = std::collections::BTreeMap::new();
    for (file, language, program) in feeds {
        let items = episodes(file, language, program);
        assert!(!items.is_empty(), "{file} has episodes");
        *expected_per_language.entry(language).or_insert(0u64) += items.len() as u64;
        for item in &items {
            index.writer.upsert(item).expect("upsert");
        }
    }
    index.writer.commit(None).expect("commit");
    (index, expected_per_language)
}

#[test]
fn european_feeds_are_searchable_with_their_stemmers_and_facets() {
    let (index, expected_per_language) = european();
    let browse = index.engine.search(&SearchRequest::browse()).expect("browse");
    for facet in &browse.facets.language {
        assert_eq!(Some(&facet.count), expected_per_language.get(facet.value.as_str()), "{}", facet.value);
    }
    assert_eq!(browse.total, expected_per_language.values().sum::<u64>());

    // Software Engineering Radio, English: "documented" and "documentation" are four edits apart,
    // beyond any typo budget, and meet only through their English stem "document".
    let english = vec![LanguageCode::parse("en").expect("en")];
    let request = SearchRequest { languages: english, per_page: 100, ..SearchRequest::text("documented ") };
    let se = index.engine.search(&request).expect("search");
    assert!(se.hits.iter().all(|h| h.language.map(|l| l.code()) == Some("en")));
    let through_stem = se.hits.iter().find(|h| {
        let text = format!("{} {}", h.title, h.description).to_lowercase();
        text.contains("documentation") && !text.contains("documented")
    });
    let hit = through_stem.expect("an item that says only \"documentation\" is found");
    let highlighted = format!("{:?}", hit.highlights);
    assert!(highlighted.to_lowercase().contains("<em>documentation</em>"), "{highlighted}");
}

#[test]
fn highlights_are_the_same_whether_or_not_the_search_says_where_it_matched() {
    // Ranked by relevance, a search knows which fields each hit matched in and looks only through
    // those; ordered by date, it does not score and looks through both. The marks must agree.
    let (index, _) = european();
    let (mut compared, mut title_only) = (0, 0);
    let texts = [
        "interview ",
        "episode ",
        "radio ",
        "nachrichten ",
        "historia ",
        "security ",
        "intervew ",
        "progra",
        "les ",
        "software engineering ",
    ];
    for text in texts {
        let ranked = SearchRequest { per_page: 100, ..SearchRequest::text(text) };
        let dated = SearchRequest { sort: engine::Sort::Newest, ..ranked.clone() };
        let by_id = |request: &SearchRequest| -> std::collections::HashMap<String, engine::Highlights> {
            let response = index.engine.search(request).expect("search");
            response.hits.iter().map(|hit| (hit.id.clone(), hit.highlights.clone())).collect()
        };
        let (ranked, dated) = (by_id(&ranked), by_id(&dated));
        for (id, highlights) in &ranked {
            if let Some(expected) = dated.get(id) {
                assert_eq!(highlights, expected, "{text}: {id}");
                compared += 1;
                title_only += usize::from(highlights.title.is_some() && highlights.description.is_none());
            }
        }
    }
    assert!(compared > 200, "{compared} hits compared");
    assert!(title_only > 10, "{title_only} hits matched in the title only");
}
