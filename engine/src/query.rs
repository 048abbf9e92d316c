//! From query text to a Tantivy query.
//!
//! Every word must match (in the title or the description). A word matches as written, by its stem
//! in any language the search covers, and with typos: one edit for words of 5 or more characters,
//! two for 9 or more. The last word also matches as a prefix while the user is still typing (no
//! trailing space). Text in double quotes must match as a phrase. Title matches weigh more than
//! description matches. As in Meilisearch, which counts a first-letter typo double, the first letter
//! must be right (it keeps the typo automaton out of most of the term dictionary). Typo and prefix
//! variants are looked up in the segments' lexicons (once per word until the next commit; see
//! `segments`) and become more terms of the word, at most [`MAX_VARIANTS`] per word, the most
//! frequent first. The words run as one [`AllWordsQuery`] (see `matching`).

use std::sync::Arc;

use contracts::LanguageCode;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur, PhraseQuery, Query};
use tantivy::schema::Field;
use tantivy::{Searcher, Term};
use tantivy_fst::{Automaton, IntoStreamer, Streamer};

use crate::analysis::{self, Word};
use crate::automata::{Prefix, Typos};
use crate::error::{EngineError, Result};
use crate::matching::AllWordsQuery;
use crate::request::MAX_QUERY_TERMS;
use crate::schema::Fields;
use crate::segments::{Expansion, ExpansionKey, LexiconExpansionKey, LexiconVariants, SearchLexicon, SegmentCache};

/// Title matches outweigh description matches by this much, so an item named by the query ranks
/// above items that only talk about it.
const TITLE_BOOST: f32 = 8.0;
const STEM_FACTOR: f32 = 0.5;
const TYPO_FACTOR: f32 = 0.3;
const PREFIX_FACTOR: f32 = 0.4;
const MIN_PLAIN_STEM_CHARS: usize = 4;

/// One word of the query, with the ways it may match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryWord {
    pub term: String,
    pub stems: Vec<String>,
    pub cjk: bool,
    /// Edits allowed (0, 1 or 2).
    pub typos: u8,
    /// Also matches words starting with it.
    pub prefix: bool,
}

/// A parsed query text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    pub words: Vec<QueryWord>,
    /// Each phrase as its terms, in order.
    pub phrases: Vec<Vec<String>>,
}

impl ParsedQuery {
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.phrases.is_empty()
    }
}

/// Typo budget by word length, as Meilisearch and Algolia users expect.
pub fn typos_for(term: &str) -> u8 {
    match term.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// Parses query text. `languages` narrows which stemmers apply (all when empty).
pub fn parse(text: &str, languages: &[LanguageCode]) -> Result<ParsedQuery> {
    let mut parsed = ParsedQuery::default();
    let segments: Vec<&str> = text.split('"').collect();
    let balanced = segments.len() % 2 == 1;
    let still_typing = !text.ends_with(char::is_whitespace) && !text.ends_with('"');
    let last_segment = segments.len() - 1;
    for (index, segment) in segments.iter().enumerate() {
        let is_phrase = index % 2 == 1 && (balanced || index != last_segment);
        let words = analysis::words(segment);
        if is_phrase {
            let terms: Vec<String> = words.into_iter().map(|w| w.term).collect();
            match terms.len() {
                0 => {}
                1 => parsed.words.extend(terms.into_iter().map(exact_word)),
                _ => parsed.phrases.push(terms),
            }
            continue;
        }
        let count = words.len();
        for (position, word) in words.into_iter().enumerate() {
            let is_last = index == last_segment && position + 1 == count;
            parsed.words.push(query_word(word, is_last && still_typing, languages));
        }
    }
    if parsed.words.len() + parsed.phrases.len() > MAX_QUERY_TERMS {
        return Err(EngineError::invalid("q", format!("must have at most {MAX_QUERY_TERMS} words")));
    }
    Ok(parsed)
}

fn exact_word(term: String) -> QueryWord {
    QueryWord { term, stems: Vec::new(), cjk: false, typos: 0, prefix: false }
}

fn query_word(word: Word, prefix: bool, languages: &[LanguageCode]) -> QueryWord {
    if word.cjk {
        return QueryWord { term: word.term, stems: Vec::new(), cjk: true, typos: 0, prefix: false };
    }
    // Pure numbers ("2024", "s01") are matched as written: a typo in a number is another number.
    let numeric = word.term.chars().all(|c| c.is_ascii_digit());
    let typos = if numeric { 0 } else { typos_for(&word.term) };
    let stems = if numeric { Vec::new() } else { analysis::query_stems(&word.lowercase, languages) };
    QueryWord { typos, prefix: prefix && !numeric, stems, cjk: false, term: word.term }
}

/// A query ready to run, with the typo and prefix variants its words were expanded to (what a
/// highlighter needs to mark the same words).
pub struct Compiled {
    pub query: Box<dyn Query>,
    pub variants: Vec<String>,
}

/// Builds the Tantivy query for parsed text over `fields` (title and description for search, title
/// only for suggestions).
///
/// With `lexicons` (for the search fields, title and description), variants come from each
/// segment's lexicon; without, from the fields' own term dictionaries. Scoring reads field norms from
/// `segments`.
pub fn build(
    parsed: &ParsedQuery,
    text_fields: &[(Field, f32)],
    searcher: &Searcher,
    segments: &Arc<SegmentCache>,
    lexicons: bool,
) -> Result<Compiled> {
    if parsed.is_empty() {
        return Ok(Compiled { query: Box::new(AllQuery), variants: Vec::new() });
    }
    let mut all_variants = Vec::new();
    let fields: Vec<Field> = text_fields.iter().map(|(field, _)| *field).collect();
    let source = if lexicons {
        Source::Lexicons { cache: segments, lexicons: segments.lexicons(searcher)? }
    } else {
        Source::Fields(&fields)
    };
    let mut words = Vec::with_capacity(parsed.words.len());
    for word in &parsed.words {
        let variants = Variants::of(word, searcher, &source)?;
        let mut terms = Vec::new();
        for &(field, boost) in text_fields {
            add_word_terms(word, &variants, field, boost, &mut terms);
        }
        words.push(terms);
        all_variants.extend(variants.typos.iter().cloned());
        all_variants.extend(variants.prefix.iter().cloned());
    }
    let words: Box<dyn Query> = Box::new(AllWordsQuery::new(words, Some(Arc::clone(segments))));
    if parsed.phrases.is_empty() {
        return Ok(Compiled { query: words, variants: all_variants });
    }
    let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if !parsed.words.is_empty() {
        must.push((Occur::Must, words));
    }
    for phrase in &parsed.phrases {
        let should: Vec<(Occur, Box<dyn Query>)> = text_fields
            .iter()
            .map(|&(field, boost)| {
                let terms = phrase.iter().map(|t| Term::from_field_text(field, t)).collect();
                let query: Box<dyn Query> = Box::new(BoostQuery::new(Box::new(PhraseQuery::new(terms)), boost));
                (Occur::Should, query)
            })
            .collect();
        must.push((Occur::Must, Box::new(BooleanQuery::new(should))));
    }
    Ok(Compiled { query: Box::new(BooleanQuery::new(must)), variants: all_variants })
}

/// The terms (with their boosts) a word matches by in `field`.
fn add_word_terms(word: &QueryWord, variants: &Variants, field: Field, boost: f32, out: &mut Vec<(Term, f32)>) {
    let mut add = |text: &str, weight: f32| out.push((Term::from_field_text(field, text), weight));
    add(&word.term, boost);
    for stem in &word.stems {
        add(&analysis::stem_term(stem), boost * STEM_FACTOR);
        // A document word that is its own stem has no stem term ("run"), so the query's stem is
        // also tried as a plain word; short stems ("oct" of "octo") would match unrelated words.
        if *stem != word.term && stem.chars().count() >= MIN_PLAIN_STEM_CHARS {
            add(stem, boost * STEM_FACTOR);
        }
    }
    for term in variants.typos.iter() {
        add(term, boost * TYPO_FACTOR);
    }
    for term in variants.prefix.iter() {
        add(term, boost * PREFIX_FACTOR);
    }
}

/// Most variants (typo or prefix) one word expands to; the most frequent are kept, as the words the
/// user most likely meant.
const MAX_VARIANTS: usize = 48;

/// The terms a word matches with typos and as a prefix, found once per query in the term
/// dictionaries of every field and segment (or the lexicons), so each is scored as a term of its
/// own (BM25, by its own frequency).
struct Variants {
    typos: Arc<[String]>,
    prefix: Arc<[String]>,
}

/// Where variants are looked up: the lexicons (with the cache of their expansions), or the term
/// dictionaries of some fields.
enum Source<'a> {
    Lexicons { cache: &'a SegmentCache, lexicons: Vec<SearchLexicon> },
    Fields(&'a [Field]),
}

impl Variants {
    fn of(word: &QueryWord, searcher: &Searcher, source: &Source<'_>) -> Result<Self> {
        let none = || -> Arc<[String]> { Arc::from(Vec::new()) };
        Ok(Self {
            typos: if word.typos > 0 {
                expand_cached(searcher, source, word, Expansion::Typos(word.typos))?
            } else {
                none()
            },
            prefix: if word.prefix { expand_cached(searcher, source, word, Expansion::Prefix)? } else { none() },
        })
    }
}

fn expand_cached(
    searcher: &Searcher,
    source: &Source<'_>,
    word: &QueryWord,
    expansion: Expansion,
) -> Result<Arc<[String]>> {
    let run = |fields: &[Field], lexicons: Option<(&SegmentCache, &[SearchLexicon])>| match expansion {
        Expansion::Typos(typos) => {
            expand(searcher, fields, lexicons, expansion, &Typos::new(&word.term, typos), &word.term)
        }
        Expansion::Prefix => expand(searcher, fields, lexicons, expansion, &Prefix::new(&word.term), &word.term),
    };
    match source {
        Source::Lexicons { cache, lexicons } => {
            let key = ExpansionKey {
                generation: searcher.generation().generation_id(),
                word: word.term.as_str().into(),
                expansion,
            };
            Ok(cache.expansion(key, || run(&[], Some((cache, lexicons))))?)
        }
        Source::Fields(fields) => Ok(run(fields, None)?.into()),
    }
}

/// The terms `automaton` accepts in `fields` (or the lexicons) of every segment, the word itself
/// left out, the most frequent [`MAX_VARIANTS`] first. A large lexicon's variants (with their
/// frequencies there) are kept by the cache for later generations.
fn expand<A: Automaton>(
    searcher: &Searcher,
    fields: &[Field],
    lexicons: Option<(&SegmentCache, &[SearchLexicon])>,
    expansion: Expansion,
    automaton: &A,
    word: &str,
) -> tantivy::Result<Vec<String>>
where
    A::State: Clone,
{
    let mut found: rustc_hash::FxHashMap<Vec<u8>, u64> = rustc_hash::FxHashMap::default();
    if let Some((cache, lexicons)) = lexicons {
        for SearchLexicon { id, lexicon } in lexicons {
            let walk = || -> LexiconVariants {
                let mut variants = Vec::new();
                let mut stream = lexicon.search(automaton).into_stream();
                while let Some((key, doc_freq)) = stream.next() {
                    if key != word.as_bytes() {
                        variants.push((Box::from(key), doc_freq));
                    }
                }
                variants.into()
            };
            let variants = match id {
                Some(id) => {
                    cache.lexicon_expansion(LexiconExpansionKey { lexicon: *id, word: word.into(), expansion }, walk)
                }
                None => walk(),
            };
            for (variant, doc_freq) in variants.iter() {
                *found.entry(variant.to_vec()).or_default() += doc_freq;
            }
        }
    } else {
        for segment in searcher.segment_readers() {
            for &field in fields {
                let inverted = segment.inverted_index(field)?;
                let mut stream = inverted.terms().search(automaton).into_stream()?;
                while stream.advance() {
                    if stream.key() != word.as_bytes() {
                        *found.entry(stream.key().to_vec()).or_default() += u64::from(stream.value().doc_freq);
                    }
                }
            }
        }
    }
    let mut ranked: Vec<(Vec<u8>, u64)> = found.into_iter().collect();
    ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(ranked.into_iter().take(MAX_VARIANTS).filter_map(|(bytes, _)| String::from_utf8(bytes).ok()).collect())
}

/// Title and description with their weights: the fields a full-text search covers.
pub fn search_fields(fields: &Fields) -> [(Field, f32); 2] {
    [(fields.title, TITLE_BOOST), (fields.description, 1.0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_get_typo_budgets_and_the_last_one_a_prefix() {
        let parsed = parse("the history of podcasting", &[]).expect("parses");
        let summary: Vec<(&str, u8, bool)> =
            parsed.words.iter().map(|w| (w.term.as_str(), w.typos, w.prefix)).collect();
        assert_eq!(summary, [("the", 0, false), ("history", 1, false), ("of", 0, false), ("podcasting", 2, true)]);
        let finished = parse("history ", &[]).expect("parses");
        assert!(!finished.words[0].prefix, "a trailing space ends the word");
    }

    #[test]
    fn quotes_make_phrases_and_an_unbalanced_quote_is_plain_text() {
        let parsed = parse(r#"welcome "night vale" radio"#, &[]).expect("parses");
        assert_eq!(parsed.phrases, [vec!["night".to_owned(), "vale".to_owned()]]);
        assert_eq!(parsed.words.iter().map(|w| w.term.as_str()).collect::<Vec<_>>(), ["welcome", "radio"]);
        let unbalanced = parse(r#"night "vale"#, &[]).expect("parses");
        assert!(unbalanced.phrases.is_empty());
        assert_eq!(unbalanced.words.len(), 2);
    }

    #[test]
    fn numbers_and_cjk_are_exact() {
        let parsed = parse("2024 東京", &[]).expect("parses");
        assert_eq!(parsed.words[0].typos, 0);
        assert!(!parsed.words[1].prefix && parsed.words[1].cjk);
    }

    #[test]
    fn too_many_words_name_q() {
        let text = vec!["word"; 40].join(" ");
        assert!(matches!(parse(&text, &[]), Err(EngineError::InvalidParameter { parameter, .. }) if parameter == "q"));
    }
}
