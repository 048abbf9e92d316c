//! Reads: search, browse, suggestions, related items and lookups by id.

use std::collections::HashMap;
use std::sync::Arc;

use contracts::{Category, LanguageCode, PublishDate};
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocAddress, Searcher, TantivyDocument, Term};

use crate::cache::{CacheKey, CacheValue};
use crate::collector::{Collected, Filter, Order, SearchCollector};
use crate::error::{EngineError, Result};
use crate::highlight::{Matcher, highlight};
use crate::matching::AllWordsQuery;
use crate::query::{self, ParsedQuery};
use crate::request::{FacetCount, Facets, Highlights, Hit, SearchRequest, SearchResponse, Suggestion};
use crate::schema::{id_term, kind_from_ordinal};
use crate::{Engine, analysis};

/// Characters of description a snippet shows.
const SNIPPET_CHARS: usize = 200;
/// Terms of the source item a `related` query uses.
const RELATED_TERMS: usize = 16;

impl Engine {
    /// Searches (or browses, without text), answering from the cache when the same request was
    /// answered since the last commit.
    pub fn search(&self, request: &SearchRequest) -> Result<Arc<SearchResponse>> {
        request.validate()?;
        let request = request.normalised();
        let searcher = self.reader.searcher();
        let key = CacheKey::Search { generation: searcher.generation().generation_id(), request: request.clone() };
        if let Some(CacheValue::Search(response)) = self.caches.get(&key) {
            return Ok(response);
        }
        let response = Arc::new(self.execute(&searcher, &request, true)?);
        self.caches.insert(key, CacheValue::Search(Arc::clone(&response)));
        Ok(response)
    }

    /// Searches without reading or filling the result cache, for a caller that keeps what it makes
    /// of the answer (gateway-public keeps rendered pages per commit, so the answer would be held
    /// twice). A browse's facet counts are still shared across its pages.
    pub fn search_fresh(&self, request: &SearchRequest) -> Result<SearchResponse> {
        request.validate()?;
        let searcher = self.reader.searcher();
        self.execute(&searcher, &request.normalised(), true)
    }

    /// Searches without reading or filling the result cache (benchmarks, diagnostics).
    pub fn search_uncached(&self, request: &SearchRequest) -> Result<SearchResponse> {
        request.validate()?;
        let searcher = self.reader.searcher();
        self.execute(&searcher, &request.normalised(), false)
    }

    /// Up to `limit` titles completing `prefix` (its last word may be unfinished), best first,
    /// without repeating a title.
    pub fn suggest(&self, prefix: &str, limit: usize) -> Result<Arc<Vec<Suggestion>>> {
        if prefix.chars().count() > crate::MAX_QUERY_CHARS {
            return Err(EngineError::invalid("q", format!("must be at most {} characters", crate::MAX_QUERY_CHARS)));
        }
        let limit = limit.clamp(1, 50);
        let searcher = self.reader.searcher();
        let normal = crate::request::normalise_text(prefix);
        let key = CacheKey::Suggest { generation: searcher.generation().generation_id(), prefix: normal, limit };
        if let Some(CacheValue::Suggest(suggestions)) = self.caches.get(&key) {
            return Ok(suggestions);
        }
        let parsed = query::parse(prefix, &[])?;
        let suggestions = if parsed.is_empty() {
            Vec::new()
        } else {
            let tantivy_query =
                query::build(&parsed, &[(self.fields.title, 1.0)], &searcher, &self.segments, false)?.query;
            let collector = SearchCollector {
                segments: Arc::clone(&self.segments),
                filter: Filter::default(),
                order: Order::Score,
                limit: limit * 4,
                facets: false,
            };
            let collected = searcher.search(&*tantivy_query, &collector)?;
            // Titles that begin with what was typed come first (a completion, not just a match),
            // then by score; the collector's order breaks ties.
            let mut candidates = Vec::with_capacity(collected.top.len());
            for (rank, ranked) in collected.top.iter().enumerate() {
                let document: TantivyDocument = searcher.doc(ranked.address)?;
                let title = text_of(&document, self.fields.title);
                let completes = begins_with(&title, &parsed);
                candidates.push((!completes, rank, document, title));
            }
            candidates.sort_by_key(|(not_completing, rank, ..)| (*not_completing, *rank));
            let mut seen = std::collections::HashSet::new();
            let mut suggestions = Vec::with_capacity(limit);
            for (_, _, document, title) in candidates {
                if seen.insert(title.to_lowercase()) {
                    suggestions.push(Suggestion {
                        id: uuid_of(&document, self.fields.id),
                        kind: kind_from_ordinal(u64_of(&document, self.fields.kind)),
                        title,
                    });
                }
                if suggestions.len() == limit {
                    break;
                }
            }
            suggestions
        };
        let suggestions = Arc::new(suggestions);
        self.caches.insert(key, CacheValue::Suggest(Arc::clone(&suggestions)));
        Ok(suggestions)
    }

    /// The published item with this id.
    pub fn get(&self, id: &str) -> Result<Option<Hit>> {
        let searcher = self.reader.searcher();
        match self.find_visible(&searcher, id)? {
            Some(address) => Ok(Some(self.hit(&searcher, address, 0.0, None)?)),
            None => Ok(None),
        }
    }

    /// Up to `limit` published items most like the item `id` (more-like-this over its title and
    /// description: its most distinctive words, weighted by tf-idf).
    pub fn related(&self, id: &str, limit: usize) -> Result<Vec<Hit>> {
        let searcher = self.reader.searcher();
        let address = self.find_visible(&searcher, id)?.ok_or_else(|| EngineError::NotFound(id.to_owned()))?;
        let document: TantivyDocument = searcher.doc(address)?;
        let text = format!("{} {}", text_of(&document, self.fields.title), text_of(&document, self.fields.description));
        let mut frequencies: HashMap<String, u32> = HashMap::new();
        for word in analysis::words(&text) {
            if word.cjk || word.term.chars().count() >= 3 && !word.term.chars().all(|c| c.is_ascii_digit()) {
                *frequencies.entry(word.term).or_default() += 1;
            }
        }
        let documents = searcher.num_docs().max(1) as f32;
        let mut weighted: Vec<(String, f32)> = Vec::new();
        for (term, frequency) in frequencies {
            let doc_freq = searcher.doc_freq(&Term::from_field_text(self.fields.description, &term))?
                + searcher.doc_freq(&Term::from_field_text(self.fields.title, &term))?;
            // A word only this item has relates it to nothing; one most items have says nothing.
            if doc_freq < 2 || doc_freq as f32 > documents * 0.2 {
                continue;
            }
            weighted.push((term, frequency as f32 * (documents / doc_freq as f32).ln()));
        }
        weighted.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        weighted.truncate(RELATED_TERMS);
        if weighted.is_empty() {
            return Ok(Vec::new());
        }
        let clauses: Vec<(Occur, Box<dyn Query>)> = weighted
            .iter()
            .flat_map(|(term, weight)| {
                [(self.fields.title, 2.0 * weight), (self.fields.description, *weight)].map(|(field, boost)| {
                    let query = TermQuery::new(Term::from_field_text(field, term), IndexRecordOption::WithFreqs);
                    (Occur::Should, Box::new(BoostQuery::new(Box::new(query), boost)) as Box<dyn Query>)
                })
            })
            .collect();
        let collector = SearchCollector {
            segments: Arc::clone(&self.segments),
            filter: Filter::default().excluding(address),
            order: Order::Score,
            limit: limit.clamp(1, 100),
            facets: false,
        };
        let collected = searcher.search(&BooleanQuery::new(clauses), &collector)?;
        collected.top.iter().map(|ranked| self.hit(&searcher, ranked.address, ranked.score, None)).collect()
    }

    fn execute(&self, searcher: &Searcher, request: &SearchRequest, use_cache: bool) -> Result<SearchResponse> {
        let parsed = match &request.text {
            Some(text) => query::parse(text, &request.languages)?,
            None => ParsedQuery::default(),
        };
        let compiled = query::build(&parsed, &query::search_fields(&self.fields), searcher, &self.segments, true)?;
        let mut query = compiled.query;
        if let Some(program_id) = request.program_id {
            let term = id_term(self.fields.program_id, program_id);
            let by_program: Box<dyn Query> = Box::new(TermQuery::new(term, IndexRecordOption::Basic));
            query = Box::new(BooleanQuery::new(vec![(Occur::Must, query), (Occur::Must, by_program)]));
        }

        // A browse's facets do not depend on order or page: reuse them across pages.
        let facets_key = (use_cache && parsed.is_empty() && request.facets).then(|| CacheKey::BrowseFacets {
            generation: searcher.generation().generation_id(),
            request: SearchRequest { sort: Default::default(), page: 1, per_page: 1, ..request.clone() },
        });
        let cached_facets = match facets_key.as_ref().and_then(|key| self.caches.get(key)) {
            Some(CacheValue::Facets(facets)) => Some(facets),
            _ => None,
        };

        let limit = (request.page * request.per_page) as usize;
        let collector = SearchCollector {
            segments: Arc::clone(&self.segments),
            filter: Filter::from_request(request),
            order: Order::for_request(request.sort, !parsed.is_empty()),
            limit,
            facets: request.facets && cached_facets.is_none(),
        };
        let collected = match query.downcast_ref::<AllWordsQuery>() {
            Some(words) => collector.search_words(searcher, words)?,
            None => searcher.search(&*query, &collector)?,
        };

        let facets = match cached_facets {
            Some(facets) => (*facets).clone(),
            None if request.facets => {
                let facets = facets_of(&collected, request);
                if let Some(key) = facets_key {
                    self.caches.insert(key, CacheValue::Facets(Arc::new(facets.clone())));
                }
                facets
            }
            None => Facets::default(),
        };
        let matcher = (request.highlight && !parsed.is_empty()).then(|| Matcher::new(&parsed, &compiled.variants));
        let skip = ((request.page - 1) * request.per_page) as usize;
        let hits = collected
            .top
            .iter()
            .skip(skip)
            .map(|ranked| {
                // A text the search found no term in has nothing to highlight (a description
                // mostly: titles rank first): it is not looked through.
                let marks = matcher.as_ref().map(|matcher| Marks {
                    matcher,
                    title: collected.matched_in(ranked, self.fields.title),
                    description: collected.matched_in(ranked, self.fields.description),
                });
                self.hit(searcher, ranked.address, ranked.score, marks)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SearchResponse { total: collected.total, page: request.page, per_page: request.per_page, hits, facets })
    }

    fn find_visible(&self, searcher: &Searcher, id: &str) -> Result<Option<DocAddress>> {
        let Ok(id) = uuid::Uuid::parse_str(id) else { return Ok(None) };
        let query = TermQuery::new(id_term(self.fields.id, id), IndexRecordOption::Basic);
        let collector = SearchCollector {
            segments: Arc::clone(&self.segments),
            filter: Filter::default(),
            order: Order::NewestFirst,
            limit: 1,
            facets: false,
        };
        Ok(searcher.search(&query, &collector)?.top.first().map(|ranked| ranked.address))
    }

    fn hit(&self, searcher: &Searcher, address: DocAddress, score: f32, marks: Option<Marks<'_>>) -> Result<Hit> {
        let f = &self.fields;
        let document: TantivyDocument = searcher.doc(address)?;
        let language = LanguageCode::from_ordinal(u64_of(&document, f.language));
        let title = text_of(&document, f.title);
        let description = text_of(&document, f.description);
        let highlights = match marks {
            Some(Marks { matcher, title: in_title, description: in_description }) => Highlights {
                title: in_title.then(|| highlight(&title, language, matcher, None)).flatten(),
                description: in_description
                    .then(|| highlight(&description, language, matcher, Some(SNIPPET_CHARS)))
                    .flatten(),
            },
            None => Highlights::default(),
        };
        let duration = u64_of(&document, f.duration_seconds);
        let publish_date = document.get_first(f.publish_date).and_then(|v| v.as_i64()).filter(|&d| d != 0);
        Ok(Hit {
            id: uuid_of(&document, f.id),
            kind: kind_from_ordinal(u64_of(&document, f.kind)),
            program_id: uuid_of(&document, f.program_id),
            title,
            description,
            category: Category::from_ordinal(u64_of(&document, f.category)),
            language,
            duration_seconds: (duration > 0).then_some(duration),
            publish_date: publish_date.and_then(PublishDate::from_unix_seconds).map(PublishDate::to_rfc3339),
            artwork_url: document.get_first(f.artwork_url).and_then(|v| v.as_str()).map(str::to_owned),
            version: u64_of(&document, f.version),
            score,
            highlights,
        })
    }
}

/// What a hit's highlights are made with: the query's matcher, and which texts to look through.
#[derive(Clone, Copy)]
struct Marks<'a> {
    matcher: &'a Matcher,
    title: bool,
    description: bool,
}

/// Whether the title's first words are the query's words, the last one possibly unfinished.
fn begins_with(title: &str, query: &ParsedQuery) -> bool {
    let title_words = analysis::words(title);
    query.words.len() <= title_words.len()
        && query
            .words
            .iter()
            .zip(&title_words)
            .all(|(wanted, word)| word.term == wanted.term || (wanted.prefix && word.term.starts_with(&wanted.term)))
}

fn facets_of(collected: &Collected, request: &SearchRequest) -> Facets {
    let category = facet_list(collected.category_facets().map(|(c, n)| (c.slug(), n, request.categories.contains(&c))));
    let language = facet_list(collected.language_facets().map(|(l, n)| (l.code(), n, request.languages.contains(&l))));
    Facets { category, language }
}

/// Values with a count, plus selected values even at zero; most frequent first.
fn facet_list<'a>(counts: impl Iterator<Item = (&'a str, u64, bool)>) -> Vec<FacetCount> {
    let mut list: Vec<FacetCount> = counts
        .filter(|(_, count, selected)| *count > 0 || *selected)
        .map(|(value, count, _)| FacetCount { value: value.to_owned(), count })
        .collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    list
}

/// A stored text field, without the language tag indexed text carries.
fn text_of(document: &TantivyDocument, field: tantivy::schema::Field) -> String {
    analysis::strip_language_tag(document.get_first(field).and_then(|v| v.as_str()).unwrap_or_default()).to_owned()
}

fn uuid_of(document: &TantivyDocument, field: tantivy::schema::Field) -> String {
    document
        .get_first(field)
        .and_then(|v| v.as_bytes())
        .and_then(|bytes| uuid::Uuid::from_slice(bytes).ok())
        .map(|id| id.to_string())
        .unwrap_or_default()
}

fn u64_of(document: &TantivyDocument, field: tantivy::schema::Field) -> u64 {
    document.get_first(field).and_then(|v| v.as_u64()).unwrap_or_default()
}
