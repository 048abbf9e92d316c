//! Every search feature, asserted on results worked out by hand.

use contracts::ContentSnapshot;
use engine::{EngineConfig, EngineError, SearchRequest, Sort};

use crate::support::{catalog, episode, ids, load, open, open_with, program};

fn request(text: &str) -> SearchRequest {
    SearchRequest::text(text)
}

fn params(query: &str) -> SearchRequest {
    let pairs: Vec<(&str, &str)> = query.split('&').filter_map(|p| p.split_once('=')).collect();
    SearchRequest::from_params(pairs).expect("valid parameters")
}

fn loaded() -> crate::support::TestIndex {
    let mut index = open();
    load(&mut index, &catalog());
    index
}

#[test]
fn free_text_matches_title_and_description_with_title_ranked_first() {
    let index = loaded();
    let response = index.engine.search(&request("history")).expect("search");
    // Hardcore History has it in the title; the others in the description only. Item 3's German
    // "Historiker" shares the stem "histor" (German) with "history" (Czech, Polish stemmers).
    assert_eq!(ids(&response)[0], 2);
    let mut all = ids(&response);
    all.sort();
    assert_eq!(all, [2, 3, 101, 102]);
    assert_eq!(response.total, 4);
}

#[test]
fn every_word_must_match() {
    let index = loaded();
    // "wars" (item 2) matches "war" through its stem.
    let mut found = ids(&index.engine.search(&request("history war ")).expect("search"));
    found.sort();
    assert_eq!(found, [2, 101, 102]);
    assert_eq!(index.engine.search(&request("history octopus ")).expect("search").total, 0);
}

#[test]
fn typos_are_tolerated_by_word_length() {
    let index = loaded();
    // 7 letters: one typo (a transposition) allowed.
    assert!(ids(&index.engine.search(&request("histroy ")).expect("search")).contains(&2));
    // 11 letters: two typos allowed.
    assert!(ids(&index.engine.search(&request("documnetray ")).expect("search")).contains(&105));
    // 4 letters: no typo allowed ("pilt" is not "pilot" minus nothing: it is a different word).
    assert_eq!(index.engine.search(&request("pilt ")).expect("search").total, 0);
    // The first letter must be right (Meilisearch counts a typo there double).
    assert_eq!(index.engine.search(&request("yistory ")).expect("search").total, 0);
    // 8 letters with two typos is too far.
    assert_eq!(index.engine.search(&request("hsitroyy ")).expect("search").total, 0);
}

#[test]
fn the_last_word_matches_as_a_prefix_while_typing() {
    let index = loaded();
    assert_eq!(ids(&index.engine.search(&request("octo")).expect("search")), [105]);
    assert_eq!(index.engine.search(&request("octo ")).expect("search").total, 0, "a space ends the word");
    assert_eq!(ids(&index.engine.search(&request("blueprint armag")).expect("search")), [101]);
}

#[test]
fn typo_and_prefix_variants_come_from_every_segment() {
    // Segments of two or more documents share a merged lexicon; the last, single-document segment
    // keeps its own. Variants must be found in both.
    let mut index = open_with(EngineConfig { merged_lexicon_min_docs: 2, ..EngineConfig::default() });
    let item = |n, title: &str| ContentSnapshot::Program(program(n, title, "A show.", "history", "en"));
    load(&mut index, &[item(1, "Hardcore History"), item(2, "Night Vale")]);
    load(&mut index, &[item(3, "Historians at Work"), item(4, "Octopus Hour")]);
    load(&mut index, &[item(5, "Histology Lab")]);
    assert_eq!(index.engine.stats().segments, 3);
    let found = |text: &str| {
        let mut found = ids(&index.engine.search(&request(text)).expect("search"));
        found.sort();
        found
    };
    assert_eq!(found("histo"), [1, 3, 5]);
    assert_eq!(found("histroy "), [1]);
    assert_eq!(found("histrians "), [3]);
    assert_eq!(found("histolgy "), [5]);
    assert_eq!(found("octpus "), [4]);
}

#[test]
fn quoted_phrases_match_in_order() {
    let index = loaded();
    // Item 1 has "Night Vale"; item 103 has "vale of night" and "night falls" (both words, not the phrase).
    assert_eq!(ids(&index.engine.search(&request("\"night vale\"")).expect("search")), [1]);
    let both = index.engine.search(&request("night vale ")).expect("search");
    let mut found = ids(&both);
    found.sort();
    assert_eq!(found, [1, 103]);
}

#[test]
fn stems_match_across_word_forms_and_languages() {
    let index = loaded();
    // English: "runs" (103) and "running" (102) share the stem "run".
    let mut found = ids(&index.engine.search(&request("run ")).expect("search"));
    found.sort();
    assert_eq!(found, [102, 103]);
    // German: "Geschichten" and "Geschichte" share "geschicht".
    let german = index.engine.search(&params("q=geschichte &language=de")).expect("search");
    let mut found = ids(&german);
    found.sort();
    assert_eq!(found, [3, 104]);
    // Folding: "a change" finds "a changé".
    assert_eq!(ids(&index.engine.search(&request("code a change ")).expect("search")), [5]);
}

#[test]
fn filters_narrow_by_kind_category_language_duration_and_date() {
    let index = loaded();
    let search = |q: &str| {
        let mut found = ids(&index.engine.search(&params(q)).expect("search"));
        found.sort();
        found
    };
    assert_eq!(search("kind=program&category=history"), [2, 3]);
    assert_eq!(search("kind=episode&category=history&category=science"), [101, 102, 104, 105]);
    assert_eq!(search("language=fr,de"), [3, 5, 104, 106]);
    assert_eq!(search("kind=episode&min_duration=3600"), [101, 102]);
    assert_eq!(search("kind=episode&max_duration=1800"), [103, 105]);
    assert_eq!(
        search("kind=episode&published_after=2018-01-01T00:00:00Z&published_before=2020-12-31T00:00:00Z"),
        [102, 104, 106]
    );
    assert_eq!(search(&format!("program_id={}", crate::support::id(2))), [2, 101, 102]);
}

#[test]
fn sorts_by_date_and_duration() {
    let index = loaded();
    let order = |sort: &str| ids(&index.engine.search(&params(&format!("kind=episode&sort={sort}"))).expect("search"));
    assert_eq!(order("newest"), [105, 104, 106, 102, 101, 103]);
    assert_eq!(order("oldest"), [103, 101, 102, 106, 104, 105]);
    assert_eq!(order("duration"), [103, 105, 106, 104, 102, 101]);
    assert_eq!(order("duration_desc"), [101, 102, 104, 106, 105, 103]);
    // Browse (no text) is newest first by default.
    assert_eq!(ids(&index.engine.search(&params("kind=episode")).expect("browse")), order("newest"));
}

#[test]
fn paging_is_exact_and_bounded() {
    let index = loaded();
    let page = |n: u32| index.engine.search(&params(&format!("sort=oldest&per_page=4&page={n}"))).expect("page");
    let (first, second, third) = (page(1), page(2), page(3));
    assert_eq!(first.total, 11);
    assert_eq!((first.hits.len(), second.hits.len(), third.hits.len()), (4, 4, 3));
    let mut all = ids(&first);
    all.extend(ids(&second));
    all.extend(ids(&third));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 11, "pages neither overlap nor skip");
    assert!(page(4).hits.is_empty());
    let too_deep = SearchRequest { page: 101, per_page: 100, ..SearchRequest::browse() };
    match index.engine.search(&too_deep) {
        Err(EngineError::InvalidParameter { parameter, .. }) => assert_eq!(parameter, "page"),
        other => panic!("expected a page error, got {other:?}"),
    }
}

#[test]
fn facets_are_disjunctive() {
    let index = loaded();
    let count =
        |list: &[engine::FacetCount], value: &str| list.iter().find(|f| f.value == value).map_or(0, |f| f.count);
    // No filter: counts over everything.
    let all = index.engine.search(&SearchRequest::browse()).expect("browse");
    assert_eq!(count(&all.facets.category, "history"), 5);
    assert_eq!(count(&all.facets.language, "en"), 7);
    // Filtering by category keeps the category facet counted without that filter, while the
    // language facet is counted with it.
    let history = index.engine.search(&params("category=history")).expect("search");
    assert_eq!(history.total, 5);
    assert_eq!(count(&history.facets.category, "science"), 2, "other categories stay selectable");
    assert_eq!(count(&history.facets.language, "en"), 3);
    assert_eq!(count(&history.facets.language, "de"), 2);
    assert_eq!(count(&history.facets.language, "fr"), 0);
    // Both filters: each facet ignores only its own.
    let both = index.engine.search(&params("category=history&language=de")).expect("search");
    assert_eq!(both.total, 2);
    assert_eq!(count(&both.facets.category, "history"), 2);
    assert_eq!(count(&both.facets.category, "science"), 0);
    assert_eq!(count(&both.facets.language, "en"), 3);
    // Text narrows facets too; the most frequent value comes first.
    let text = index.engine.search(&request("documentary")).expect("search");
    assert_eq!(text.facets.category[0].value, "science");
}

#[test]
fn hits_carry_what_the_api_renders_with_highlights() {
    let index = loaded();
    let response = index.engine.search(&request("cephalopod scien")).expect("search");
    let hit = &response.hits[0];
    assert_eq!(hit.title, "Octopus intelligence");
    assert_eq!(hit.kind, contracts::ContentKind::Episode);
    assert_eq!(hit.program_id, crate::support::id(4).to_string());
    assert_eq!(hit.category.map(|c| c.slug()), Some("science"));
    assert_eq!(hit.language.map(|l| l.code()), Some("en"));
    assert_eq!(hit.duration_seconds, Some(1800));
    assert_eq!(hit.publish_date.as_deref(), Some("2021-05-01T00:00:00Z"));
    assert_eq!(hit.highlights.title, None, "nothing matched in the title");
    assert_eq!(hit.highlights.description.as_deref(), Some("Documentary about <em>cephalopod</em> <em>science</em>."));
    let program = index.engine.get(&crate::support::id(4).to_string()).expect("get").expect("found");
    assert_eq!(program.artwork_url.as_deref(), Some("https://img.example/4.jpg"));
}

#[test]
fn suggestions_complete_titles() {
    let index = loaded();
    let titles: Vec<String> =
        index.engine.suggest("geschi", 5).expect("suggest").iter().map(|s| s.title.clone()).collect();
    assert_eq!(titles.len(), 2);
    assert!(titles.contains(&"Geschichten aus der Geschichte".to_owned()));
    assert!(titles.contains(&"Die Geschichte des Kaffees".to_owned()));
    assert!(index.engine.suggest("zzzz", 5).expect("suggest").is_empty());
    assert!(index.engine.suggest("", 5).expect("suggest").is_empty());
}

#[test]
fn related_items_share_distinctive_words() {
    let index = loaded();
    let related = index.engine.related(&crate::support::id(101).to_string(), 3).expect("related");
    let found: Vec<u128> = related.iter().map(|h| uuid::Uuid::parse_str(&h.id).expect("uuid").as_u128()).collect();
    assert!(!found.contains(&101), "an item is not related to itself");
    assert!(found.contains(&102) || found.contains(&2), "{found:?}");
    assert!(matches!(index.engine.related("missing", 3), Err(EngineError::NotFound(_))));
}

#[test]
fn relevance_without_text_falls_back_to_newest() {
    let index = loaded();
    let browse = SearchRequest { sort: Sort::Relevance, ..SearchRequest::default() };
    assert_eq!(ids(&index.engine.search(&browse).expect("browse"))[0], 105);
}

#[test]
fn expansions_looked_up_before_a_commit_are_not_reused_after_it() {
    // The engine keeps each word's typo and prefix expansions until the next commit; a word the
    // commit brings must then be found through them.
    let mut index = open();
    let item = |n, title: &str| ContentSnapshot::Program(program(n, title, "A show.", "history", "en"));
    load(&mut index, &[item(1, "Octopus Hour")]);
    let found = |index: &crate::support::TestIndex, text: &str| {
        let mut found = ids(&index.engine.search_uncached(&request(text)).expect("search"));
        found.sort();
        found
    };
    assert_eq!(found(&index, "octo"), [1]);
    assert_eq!(found(&index, "octopux "), [1]);
    let first = index.engine.expansion_cache_stats();
    // Asked again under the same commit: both expansions (a prefix, a typo) come from the cache.
    assert_eq!(found(&index, "octo"), [1]);
    assert_eq!(found(&index, "octopux "), [1]);
    let again = index.engine.expansion_cache_stats();
    assert_eq!((again.hits - first.hits, again.misses - first.misses), (2, 0));
    load(&mut index, &[item(2, "Octopux Radio"), item(3, "Octoberfest Live")]);
    assert_eq!(found(&index, "octo"), [1, 2, 3]);
    assert_eq!(found(&index, "octopux "), [1, 2]);
    let after = index.engine.expansion_cache_stats();
    assert_eq!((after.hits - again.hits, after.misses - again.misses), (0, 2));
}

#[test]
fn variants_found_in_large_segments_are_kept_across_commits() {
    // After a commit each word is expanded again, but the large segments' lexicon (here the merged
    // one of the first two segments) is not walked again: its variants were kept. The commit's
    // small segment is walked, so the words it brings are found.
    let mut index = open_with(EngineConfig { merged_lexicon_min_docs: 2, ..EngineConfig::default() });
    let item = |n, title: &str| ContentSnapshot::Program(program(n, title, "A show.", "history", "en"));
    load(&mut index, &[item(1, "Octopus Hour"), item(2, "Night Vale")]);
    load(&mut index, &[item(3, "Octoberfest Live"), item(4, "Harbour Tales")]);
    let found = |index: &crate::support::TestIndex, text: &str| {
        let mut found = ids(&index.engine.search_uncached(&request(text)).expect("search"));
        found.sort();
        found
    };
    assert_eq!(found(&index, "octo"), [1, 3]);
    assert_eq!(found(&index, "octopux "), [1]);
    let first = index.engine.lexicon_expansion_stats();
    load(&mut index, &[item(5, "Octopux Radio")]);
    assert_eq!(index.engine.stats().segments, 3);
    let expanded = index.engine.expansion_cache_stats();
    assert_eq!(found(&index, "octo"), [1, 3, 5]);
    assert_eq!(found(&index, "octopux "), [1, 5]);
    assert_eq!(index.engine.expansion_cache_stats().misses - expanded.misses, 2, "expanded again after the commit");
    let kept = index.engine.lexicon_expansion_stats();
    assert_eq!((kept.hits - first.hits, kept.misses - first.misses), (2, 0), "the merged lexicon is not walked again");
}

#[test]
fn totals_and_facets_are_exact_across_many_matching_documents() {
    // The collector looks at matching documents in batches; counts must not depend on where a
    // batch ends.
    let mut index = open();
    let categories = ["history", "science", "comedy"];
    let languages = ["en", "fr"];
    let items: Vec<ContentSnapshot> = (0..203u128)
        .map(|n| {
            let category = categories[n as usize % 3];
            let language = languages[n as usize % 2];
            ContentSnapshot::Program(program(n + 1, &format!("Harbour tales {n}"), "Stories.", category, language))
        })
        .collect();
    load(&mut index, &items);
    let mut filtered = params("q=harbour&category=science&language=fr");
    filtered.per_page = 50;
    let response = index.engine.search_uncached(&filtered).expect("search");
    let expected = (0..203usize).filter(|n| n % 3 == 1 && n % 2 == 1).count() as u64;
    assert_eq!(response.total, expected);
    let count = |facets: &[engine::FacetCount], value: &str| {
        facets.iter().find(|f| f.value == value).map(|f| f.count).unwrap_or_default()
    };
    // Disjunctive: each facet counts with every filter but its own.
    assert_eq!(count(&response.facets.category, "science"), expected);
    assert_eq!(
        count(&response.facets.category, "history"),
        (0..203usize).filter(|n| n % 3 == 0 && n % 2 == 1).count() as u64
    );
    assert_eq!(
        count(&response.facets.language, "en"),
        (0..203usize).filter(|n| n % 3 == 1 && n % 2 == 0).count() as u64
    );
    assert_eq!(response.hits.len() as u64, expected, "all on one page of 50");
    let all = index.engine.search_uncached(&request("harbour ")).expect("search");
    assert_eq!(all.total, 203);
}

#[test]
fn matches_are_exact_across_windows_with_deleted_and_hidden_versions() {
    // Text search reads segments in windows of 4,096 documents and skips replaced versions (deleted
    // in the index) and unpublished items; totals and facets must count exactly the live matches.
    let mut index = open();
    let categories = ["history", "science", "comedy"];
    let languages = ["en", "fr", "de"];
    let title =
        |n: u128| if n.is_multiple_of(7) { format!("Harbour lighthouse {n}") } else { format!("Harbour tales {n}") };
    let items: Vec<ContentSnapshot> = (0..9_000u128)
        .map(|n| {
            let (category, language) = (categories[n as usize % 3], languages[n as usize % 5 % 3]);
            ContentSnapshot::Program(program(n + 1, &title(n), "Stories from the coast.", category, language))
        })
        .collect();
    load(&mut index, &items);
    // Every 10th is unpublished; every 11th gets a new version without "harbour".
    let changed: Vec<ContentSnapshot> = items
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 10 == 0 || n % 11 == 0)
        .map(|(n, item)| {
            let ContentSnapshot::Program(program) = item else { unreachable!("programs only") };
            let mut program = program.clone();
            program.version = 2;
            if n % 10 == 0 {
                program.status = contracts::ContentStatus::Unpublished;
            } else {
                program.title = contracts::Title::parse(format!("Mountain lighthouse {n}")).expect("title");
            }
            ContentSnapshot::Program(program)
        })
        .collect();
    load(&mut index, &changed);

    let live = |n: &usize| !n.is_multiple_of(10) && !n.is_multiple_of(11);
    let language_of = |n: usize| n % 5 % 3;
    let both = |n: &usize| live(n) && n.is_multiple_of(7);
    let science = contracts::Category::parse("science").expect("category");
    let mut filtered = request("harbour lighthouse ");
    filtered.categories = vec![science];
    filtered.per_page = 100;
    let response = index.engine.search_uncached(&filtered).expect("search");
    let expected = (0..9_000usize).filter(|n| both(n) && n % 3 == 1).count() as u64;
    assert!(expected > 100, "the matches span windows: {expected}");
    assert_eq!(response.total, expected);
    let count = |facets: &[engine::FacetCount], value: &str| {
        facets.iter().find(|f| f.value == value).map(|f| f.count).unwrap_or_default()
    };
    assert_eq!(
        count(&response.facets.category, "history"),
        (0..9_000usize).filter(|n| both(n) && n % 3 == 0).count() as u64
    );
    assert_eq!(
        count(&response.facets.language, "de"),
        (0..9_000usize).filter(|n| both(n) && n % 3 == 1 && language_of(*n) == 2).count() as u64
    );
    assert_eq!(response.hits.len(), 100);
    assert!(
        response.hits.iter().all(|hit| hit.title.starts_with("Harbour lighthouse") && hit.category == Some(science))
    );

    let all = index.engine.search_uncached(&request("harbour ")).expect("search");
    assert_eq!(all.total, (0..9_000usize).filter(live).count() as u64);
    let mountain = index.engine.search_uncached(&request("mountain lighthouse ")).expect("search");
    assert_eq!(mountain.total, (0..9_000usize).filter(|n| n % 11 == 0 && n % 10 != 0).count() as u64);
}

#[test]
fn ranking_is_the_same_whatever_the_page_size() {
    // Text search stops passing on documents that can no longer enter the page's top (their score
    // is no better than the worst kept). Whatever the page size, and so whenever that starts, the
    // order must be the one a full ranking gives, ties going to the earlier document.
    let mut index = open();
    let words = ["harbour", "lighthouse", "coast", "storm", "sailing", "fishing"];
    let items: Vec<ContentSnapshot> = (0..6_000u128)
        .map(|n| {
            let k = n as usize;
            // Titles and descriptions of varied lengths and word counts give varied scores, with
            // many exact ties among the documents of the same shape.
            let title = format!("{} {} {}", words[k % 6], words[k / 6 % 6], "tale ".repeat(k % 4));
            let description = format!("{} {}", words[k / 36 % 6], "story of the sea ".repeat(k % 5));
            ContentSnapshot::Program(program(n + 1, title.trim(), description.trim(), "history", "en"))
        })
        .collect();
    load(&mut index, &items);
    for text in ["harbour ", "storm coast ", "light", "sailing harbour fish"] {
        let mut everything = Vec::new();
        let mut total = 0;
        for page in 1.. {
            let mut paged = request(text);
            paged.per_page = 100;
            paged.page = page;
            let response = index.engine.search_uncached(&paged).expect("search");
            total = response.total;
            if response.hits.is_empty() {
                break;
            }
            everything.extend(response.hits.into_iter().map(|hit| (hit.id, hit.score)));
        }
        assert!(total > 100, "{text:?} spans windows and pages: {total}");
        assert_eq!(everything.len() as u64, total, "{text:?}: the pages hold every match once");
        assert!(everything.windows(2).all(|pair| pair[0].1 >= pair[1].1), "{text:?}: best first");
        let mut ids: Vec<&String> = everything.iter().map(|(id, _)| id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), everything.len(), "{text:?}: no hit twice");
        for per_page in [1, 7, 20] {
            let mut first = request(text);
            first.per_page = per_page;
            let response = index.engine.search_uncached(&first).expect("search");
            let top: Vec<(String, f32)> = response.hits.into_iter().map(|hit| (hit.id, hit.score)).collect();
            assert_eq!(top, everything[..per_page as usize], "{text:?} with {per_page} per page");
        }
    }
}

#[test]
fn a_column_bound_that_passes_everything_changes_no_count() {
    // Visibility, kind, category and language are decided by masks over the packed column; a
    // duration or date bound adds a read of its own column per document. A date bound that passes
    // every document must leave totals, facets (counted disjunctively) and hits as they are.
    // Without a column bound, segments sorted by the packed column are admitted run by run; with
    // one, document by document: the two paths must agree, also once versions were replaced.
    let mut index = open();
    let words = ["harbour", "lighthouse", "coast", "storm"];
    let categories = ["history", "technology", "comedy", "news"];
    let languages = ["en", "de", "fr", "ja", "pt"];
    let items: Vec<ContentSnapshot> = (0..3_000u128)
        .map(|n| {
            let k = n as usize;
            let title = format!("{} {}", words[k % 4], words[k / 4 % 4]);
            let (category, language) = (categories[k / 16 % 4], languages[k / 64 % 5]);
            if k.is_multiple_of(3) {
                let mut program = program(n + 1, &title, "A show.", category, language);
                if k.is_multiple_of(9) {
                    program.status = contracts::ContentStatus::Unpublished;
                }
                ContentSnapshot::Program(program)
            } else {
                let published = "2020-01-01T00:00:00Z";
                let episode = episode(n + 1, 1, &title, "An episode.", category, language, 600, published);
                ContentSnapshot::Episode(episode)
            }
        })
        .collect();
    load(&mut index, &items);
    let cases = [
        "q=harbour ",
        "q=storm coast &kind=program",
        "q=light&kind=episode&category=comedy",
        "q=harbour &language=de&language=ja",
        "q=coast &category=news&category=history&language=fr",
        "q=lighthouse &kind=program&category=technology&language=pt&per_page=50",
    ];
    let compare = |index: &crate::support::TestIndex, run_documents: u64| {
        assert_eq!(index.engine.stats().run_documents, run_documents, "documents admitted by runs");
        for case in cases {
            let masked = params(case);
            let mut general = masked.clone();
            general.published_before = Some(i64::MAX - 1);
            let (masked, general) = (
                index.engine.search_uncached(&masked).expect("search"),
                index.engine.search_uncached(&general).expect("search"),
            );
            assert!(masked.total > 0, "{case}");
            assert_eq!(masked, general, "{case}");
        }
    };
    compare(&index, 3_000);
    // New versions of every fifth item, in a second segment, leave deleted documents in the first;
    // every tenth goes hidden, and the others change language.
    let replaced: Vec<ContentSnapshot> = items
        .iter()
        .step_by(5)
        .enumerate()
        .map(|(n, item)| {
            let mut item = item.clone();
            let (version, status, language) = match &mut item {
                ContentSnapshot::Program(p) => (&mut p.version, &mut p.status, &mut p.language),
                ContentSnapshot::Episode(e) => (&mut e.version, &mut e.status, &mut e.language),
            };
            *version = 2;
            if n % 2 == 0 {
                *status = contracts::ContentStatus::Unpublished;
            } else {
                *language = contracts::LanguageCode::parse("de").expect("language");
            }
            item
        })
        .collect();
    load(&mut index, &replaced);
    assert_eq!(index.engine.stats().segments, 2);
    // Both segments are read by runs: the first (2,400 live documents, 600 deleted) and the
    // replaced versions' (600).
    compare(&index, 3_000);
}

#[test]
fn index_stats_derive_nothing_in_a_writer_side_engine() {
    // The indexer's engine derives nothing for search (no warmer), and its metrics read the stats:
    // they must not derive segments (columns, lexicons) on every scrape.
    let mut index = open_with(EngineConfig::writer_side());
    let items: Vec<ContentSnapshot> = (0..1_000u128)
        .map(|n| ContentSnapshot::Program(program(n + 1, "Harbour tales", "Stories.", "history", "en")))
        .collect();
    load(&mut index, &items);
    let stats = index.engine.stats();
    assert_eq!((stats.documents, stats.run_documents), (1_000, 0));
    // A search derives the segment it reads; its runs count from then on.
    assert_eq!(index.engine.search_uncached(&request("harbour ")).expect("search").total, 1_000);
    assert_eq!(index.engine.stats().run_documents, 1_000);
}
