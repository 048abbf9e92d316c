//! What the engine derives from each segment once, when a reader first sees it. Segments never
//! change after they are written, so this is computed once per segment (by a Tantivy warmer, before
//! a new searcher is published) and dropped with the last searcher that used the segment.
//!
//! - The packed column (visibility, kind, category, language) as a plain array, which the collector
//!   reads for every matching document, with the title's and description's field norms beside it in
//!   the same word, which scoring reads for the same documents: one cache line for both.
//! - The lexicon: the words of titles and descriptions (stem terms left out) with their document
//!   frequencies summed, as one FST that typo and prefix expansion walks once per segment instead of
//!   once per field.
//!
//! Typo and prefix expansions looked up in the lexicons are kept too, by searcher generation and
//! word: query words repeat (their frequencies follow a Zipf law, as a catalog's words do), and
//! walking the lexicon for a word's variants is most of what a query costs before it reads
//! postings. A new generation (a commit) asks under a new key; older entries age out by size.
//!
//! A commit adds a small segment and leaves the large ones as they were, so each word's variants in
//! a large segment's lexicon (or the merged one) are also kept by lexicon: under a new generation,
//! a word seen before walks only the small segments' lexicons and adds up what the others kept.
//!
//! The lexicons of the large segments are also merged into one, so a query walks one dictionary for
//! most of the index (segment vocabularies overlap almost entirely) plus one per small, recent
//! segment. The merged lexicon is rebuilt only when the set of large segments changes, which
//! happens on merges, not on every commit.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rustc_hash::FxHashMap;
use tantivy::columnar::ColumnValues;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::index::SegmentId;
use tantivy::schema::Field;
use tantivy::termdict::TermStreamer;
use tantivy::{DocId, Searcher, SearcherGeneration, SegmentReader, Warmer};
use tantivy_fst::{Map, MapBuilder, Streamer};

use crate::CacheStats;
use crate::analysis::STEM_MARKER;
use crate::matching::WINDOW;
use crate::schema::{Fields, names};

/// Words to their document frequency (see the module documentation).
pub type Lexicon = Arc<Map<Vec<u8>>>;

/// Which lexicon variants were kept for: a large segment's own, or the merged one (numbered as it
/// is built). Small segments' lexicons are walked each time: they are small, and commits bring and
/// merges take them away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LexiconId {
    Segment(SegmentId),
    Merged(u64),
}

/// A lexicon a query walks, with the id its variants are kept under (none for a small segment's).
#[derive(Clone)]
pub struct SearchLexicon {
    pub id: Option<LexiconId>,
    pub lexicon: Lexicon,
}

/// One segment's derived data.
pub struct SegmentData {
    /// By document id: the low 16 bits of the packed column (all it uses), then the field-norm ids
    /// of the title and of the description, a byte each (see [`SegmentCache::norm_shift`]).
    pub packed: Box<[u32]>,
    /// Title and description words to their summed document frequency.
    pub lexicon: Lexicon,
    /// Durations in seconds by document (at most 48 hours, so a `u32`), read for every candidate
    /// of a duration filter: a plain array, as the packed column is, rather than a compressed column.
    pub duration: Box<[u32]>,
    /// Columns read only for some filters and orders, opened once rather than per query.
    pub publish_date: Arc<dyn ColumnValues<i64>>,
    /// The segment as runs of documents with one packed value (low 16 bits), in document order,
    /// when it has few enough of them to be worth visiting run by run (see [`runs_of`]); else
    /// empty. Segments are sorted by the packed column, so a segment is a few thousand runs.
    pub runs: Box<[Run]>,
    /// By matching window (see [`WINDOW`]), the run its first document is in (empty without runs):
    /// a window finds its runs without a search.
    pub window_runs: Box<[u32]>,
}

/// Documents from `start` to the next run's start (or the segment's end) share the packed
/// value `value` (its low 16 bits: visibility, kind, category and language).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub start: u32,
    pub value: u16,
}

/// A segment is visited by runs only when its runs hold this many documents on average (half a
/// 64-document word of candidates): with much shorter runs, walking them costs about what reading
/// each candidate's value does. A chosen bound, not a tuned one: the benchmark catalog's segments
/// average hundreds of documents a run, and the demo's tiny segments fall below it.
const MIN_MEAN_RUN: usize = 32;

/// The runs of equal values in `packed` (low 16 bits), or none when they are too short on average
/// to pay (see [`MIN_MEAN_RUN`]).
pub fn runs_of(packed: &[u32]) -> Box<[Run]> {
    let mut runs: Vec<Run> = Vec::new();
    for (doc, &word) in (0u32..).zip(packed) {
        let value = word as u16;
        if runs.last().is_none_or(|run| run.value != value) {
            if runs.len() >= packed.len() / MIN_MEAN_RUN {
                return Box::default();
            }
            runs.push(Run { start: doc, value });
        }
    }
    runs.into_boxed_slice()
}

/// For each window of `documents` (see [`WINDOW`]), the run of `runs` its first document is in.
fn window_runs(runs: &[Run], documents: u32) -> Box<[u32]> {
    if runs.is_empty() {
        return Box::default();
    }
    let mut run = 0;
    (0..documents.div_ceil(WINDOW))
        .map(|window| {
            while runs.get(run + 1).is_some_and(|next| next.start <= window * WINDOW) {
                run += 1;
            }
            run as u32
        })
        .collect()
}

impl SegmentData {
    /// The runs that overlap the matching window at `base`, each with the part of the window it
    /// covers (from and to, relative to `base`, `to` excluded).
    pub fn runs_in(&self, base: DocId) -> impl Iterator<Item = (&Run, u32, u32)> {
        let end = base + WINDOW;
        let first = match self.window_runs.get((base / WINDOW) as usize) {
            Some(&run) if base.is_multiple_of(WINDOW) => run as usize,
            _ => self.runs.partition_point(|run| run.start <= base).saturating_sub(1),
        };
        let next_starts = self.runs.iter().skip(first + 1).map(|next| next.start).chain([end]);
        self.runs[first.min(self.runs.len())..]
            .iter()
            .zip(next_starts)
            .take_while(move |(run, _)| run.start < end)
            .map(move |(run, next)| (run, run.start.max(base) - base, next.min(end) - base))
    }

    /// A document's duration in seconds (0 for none).
    pub fn duration(&self, doc: u32) -> u64 {
        u64::from(self.duration.get(doc as usize).copied().unwrap_or_default())
    }
}

/// Derived data by segment, shared by every searcher that holds the segment.
pub struct SegmentCache {
    fields: Fields,
    /// Segments with at least this many documents share the merged lexicon.
    large_segment_docs: u32,
    segments: RwLock<FxHashMap<SegmentId, Arc<SegmentData>>>,
    /// The merged lexicon of the large segments, with their ids (sorted) and its number.
    merged: RwLock<Option<(Vec<SegmentId>, u64, Lexicon)>>,
    /// Merged lexicons built so far (numbers them).
    merges: AtomicU64,
    expansions: moka::sync::Cache<ExpansionKey, Arc<[String]>>,
    /// Expansions found in the cache, and those computed.
    expansion_hits: AtomicU64,
    expansion_misses: AtomicU64,
    /// Each word's variants in each large lexicon, across generations.
    lexicon_expansions: moka::sync::Cache<LexiconExpansionKey, LexiconVariants>,
    lexicon_hits: AtomicU64,
    lexicon_misses: AtomicU64,
}

/// A word's variants in one lexicon, with their document frequencies there, in lexicon order.
pub type LexiconVariants = Arc<[(Box<[u8]>, u64)]>;

/// A lexicon's variants are kept only up to this many (a short word's prefix completions can be
/// thousands); a word with more walks that lexicon each time it is expanded anew.
const MAX_KEPT_VARIANTS: usize = 1024;

const TITLE_NORM_SHIFT: u32 = 16;
const DESCRIPTION_NORM_SHIFT: u32 = 24;

/// Bytes the expansion cache may hold.
const EXPANSION_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// A word's expansion: its typo variants (with so many edits) or its prefix completions, under
/// one searcher generation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExpansionKey {
    pub generation: u64,
    pub word: Box<str>,
    pub expansion: Expansion,
}

/// A word's expansion in one lexicon, under any generation that has that lexicon.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LexiconExpansionKey {
    pub lexicon: LexiconId,
    pub word: Box<str>,
    pub expansion: Expansion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expansion {
    Typos(u8),
    Prefix,
}

impl std::fmt::Debug for SegmentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let segments = self.segments.read().map(|s| s.len()).unwrap_or_default();
        f.debug_struct("SegmentCache").field("segments", &segments).finish()
    }
}

impl SegmentCache {
    pub fn new(fields: Fields, large_segment_docs: u32) -> Self {
        let expansions = moka::sync::Cache::builder()
            .max_capacity(EXPANSION_CACHE_BYTES)
            .weigher(|key: &ExpansionKey, variants: &Arc<[String]>| {
                let bytes = 96 + key.word.len() + variants.iter().map(|v| v.len() + 24).sum::<usize>();
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .build();
        let lexicon_expansions = moka::sync::Cache::builder()
            .max_capacity(EXPANSION_CACHE_BYTES)
            .weigher(|key: &LexiconExpansionKey, variants: &LexiconVariants| {
                let bytes = 112 + key.word.len() + variants.iter().map(|(v, _)| v.len() + 32).sum::<usize>();
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .build();
        Self {
            fields,
            large_segment_docs,
            segments: RwLock::new(FxHashMap::default()),
            merged: RwLock::new(None),
            merges: AtomicU64::new(0),
            expansions,
            expansion_hits: AtomicU64::new(0),
            expansion_misses: AtomicU64::new(0),
            lexicon_expansions,
            lexicon_hits: AtomicU64::new(0),
            lexicon_misses: AtomicU64::new(0),
        }
    }

    /// A word's variants in one large lexicon, found by `walk` unless they were kept already (and
    /// kept unless there are more than [`MAX_KEPT_VARIANTS`]).
    pub fn lexicon_expansion(
        &self,
        key: LexiconExpansionKey,
        walk: impl FnOnce() -> LexiconVariants,
    ) -> LexiconVariants {
        if let Some(found) = self.lexicon_expansions.get(&key) {
            self.lexicon_hits.fetch_add(1, Ordering::Relaxed);
            return found;
        }
        self.lexicon_misses.fetch_add(1, Ordering::Relaxed);
        let variants = walk();
        if variants.len() <= MAX_KEPT_VARIANTS {
            self.lexicon_expansions.insert(key, Arc::clone(&variants));
        }
        variants
    }

    /// Use of the variants kept by lexicon (looked up only when an expansion is not cached for
    /// the generation).
    pub fn lexicon_expansion_stats(&self) -> CacheStats {
        crate::cache::stats_of(Some(&self.lexicon_expansions), &self.lexicon_hits, &self.lexicon_misses)
    }

    /// The expansion under `key`, computed by `expand` unless it was already.
    pub fn expansion(
        &self,
        key: ExpansionKey,
        expand: impl FnOnce() -> tantivy::Result<Vec<String>>,
    ) -> tantivy::Result<Arc<[String]>> {
        if let Some(found) = self.expansions.get(&key) {
            self.expansion_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(found);
        }
        self.expansion_misses.fetch_add(1, Ordering::Relaxed);
        let variants: Arc<[String]> = expand()?.into();
        self.expansions.insert(key, Arc::clone(&variants));
        Ok(variants)
    }

    /// Use of the expansion cache.
    pub fn expansion_stats(&self) -> CacheStats {
        crate::cache::stats_of(Some(&self.expansions), &self.expansion_hits, &self.expansion_misses)
    }

    /// The lexicons that together cover every segment of `searcher`: the merged one when it matches
    /// the searcher's large segments (else theirs one by one), and each small segment's own.
    pub fn lexicons(&self, searcher: &Searcher) -> tantivy::Result<Vec<SearchLexicon>> {
        let large = large_segments(searcher, self.large_segment_docs);
        let merged = self.merged.read().ok().and_then(|merged| match &*merged {
            Some((ids, number, lexicon)) if !large.is_empty() && *ids == large => {
                Some(SearchLexicon { id: Some(LexiconId::Merged(*number)), lexicon: Arc::clone(lexicon) })
            }
            _ => None,
        });
        let mut lexicons = Vec::with_capacity(searcher.segment_readers().len());
        for reader in searcher.segment_readers() {
            let is_large = large.binary_search(&reader.segment_id()).is_ok();
            if merged.is_some() && is_large {
                continue;
            }
            lexicons.push(SearchLexicon {
                id: is_large.then(|| LexiconId::Segment(reader.segment_id())),
                lexicon: Arc::clone(&self.get(reader)?.lexicon),
            });
        }
        lexicons.extend(merged);
        Ok(lexicons)
    }

    /// Builds the merged lexicon of `searcher`'s large segments unless it exists already.
    fn merge_large(&self, searcher: &Searcher) -> tantivy::Result<()> {
        let large = large_segments(searcher, self.large_segment_docs);
        let current =
            self.merged.read().ok().is_some_and(|merged| merged.as_ref().is_some_and(|(ids, _, _)| *ids == large));
        if current || large.len() < 2 {
            if large.len() < 2
                && let Ok(mut merged) = self.merged.write()
            {
                *merged = None;
            }
            return Ok(());
        }
        let mut parts = Vec::with_capacity(large.len());
        for reader in searcher.segment_readers() {
            if large.binary_search(&reader.segment_id()).is_ok() {
                parts.push(Arc::clone(&self.get(reader)?.lexicon));
            }
        }
        let lexicon = Arc::new(union(&parts)?);
        let number = self.merges.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut merged) = self.merged.write() {
            *merged = Some((large, number, lexicon));
        }
        Ok(())
    }

    /// The segment's data, derived now if no warmer did it yet.
    pub fn get(&self, reader: &SegmentReader) -> tantivy::Result<Arc<SegmentData>> {
        if let Some(data) = self.derived(reader) {
            return Ok(data);
        }
        let data = Arc::new(self.derive(reader)?);
        if let Ok(mut segments) = self.segments.write() {
            segments.entry(reader.segment_id()).or_insert_with(|| Arc::clone(&data));
        }
        Ok(data)
    }

    /// The segment's data if it was derived already (by a warmer or a search).
    pub fn derived(&self, reader: &SegmentReader) -> Option<Arc<SegmentData>> {
        self.segments.read().ok().and_then(|segments| segments.get(&reader.segment_id()).cloned())
    }

    /// Where in a word of [`SegmentData::packed`] the field-norm id of `field` is, if it is there.
    pub fn norm_shift(&self, field: Field) -> Option<u32> {
        if field == self.fields.title {
            Some(TITLE_NORM_SHIFT)
        } else if field == self.fields.description {
            Some(DESCRIPTION_NORM_SHIFT)
        } else {
            None
        }
    }

    fn derive(&self, reader: &SegmentReader) -> tantivy::Result<SegmentData> {
        let column = reader.fast_fields().u64(names::PACKED)?;
        let mut values = vec![0u64; reader.max_doc() as usize];
        if column.get_cardinality() == tantivy::columnar::Cardinality::Full {
            column.values.get_range(0, &mut values);
        } else {
            let dense = column.first_or_default_col(0);
            values.iter_mut().zip(0..).for_each(|(value, doc)| *value = dense.get_val(doc));
        }
        let norms = |field| reader.get_fieldnorms_reader(field).ok();
        let (title_norms, description_norms) = (norms(self.fields.title), norms(self.fields.description));
        let norm_id =
            |norms: &Option<FieldNormReader>, doc| norms.as_ref().map_or(0, |n| u32::from(n.fieldnorm_id(doc)));
        let packed: Box<[u32]> = values
            .into_iter()
            .zip(0..)
            .map(|(value, doc)| {
                (value as u32 & 0xFFFF)
                    | norm_id(&title_norms, doc) << TITLE_NORM_SHIFT
                    | norm_id(&description_norms, doc) << DESCRIPTION_NORM_SHIFT
            })
            .collect();
        let title = reader.inverted_index(self.fields.title)?;
        let description = reader.inverted_index(self.fields.description)?;
        let lexicon = merge_lexicons(title.terms().stream()?, description.terms().stream()?)?;
        let fast = reader.fast_fields();
        let runs = runs_of(&packed);
        Ok(SegmentData {
            window_runs: window_runs(&runs, reader.max_doc()),
            runs,
            packed,
            lexicon: Arc::new(lexicon),
            duration: {
                let mut values = vec![0u64; reader.max_doc() as usize];
                dense(fast.u64(names::DURATION_SECONDS)?).get_range(0, &mut values);
                values.into_iter().map(|value| u32::try_from(value).unwrap_or(u32::MAX)).collect()
            },
            publish_date: dense(fast.i64(names::PUBLISH_DATE)?),
        })
    }
}

/// The column's values by document. Every document gets every columnar field (tombstones too), so
/// columns are dense and read directly; a sparse one (which only an index written otherwise would
/// have) falls back to a default of 0.
fn dense<T>(column: tantivy::columnar::Column<T>) -> Arc<dyn ColumnValues<T>>
where
    T: tantivy::columnar::MonotonicallyMappableToU64 + PartialOrd + Default + Copy + std::fmt::Debug + Send + Sync,
{
    if column.get_cardinality() == tantivy::columnar::Cardinality::Full {
        column.values
    } else {
        column.first_or_default_col(T::default())
    }
}

/// Merges two term streams (both sorted) into one FST of words with summed document frequencies,
/// leaving out stem terms.
fn merge_lexicons(mut a: TermStreamer<'_>, mut b: TermStreamer<'_>) -> tantivy::Result<Map<Vec<u8>>> {
    let fst_error = |e: tantivy_fst::Error| tantivy::TantivyError::InternalError(format!("lexicon: {e}"));
    let mut builder = MapBuilder::memory();
    let mut a_live = a.advance();
    let mut b_live = b.advance();
    while a_live || b_live {
        let order = match (a_live, b_live) {
            (true, true) => a.key().cmp(b.key()),
            (true, false) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        let (key, doc_freq) = match order {
            std::cmp::Ordering::Less => (a.key(), u64::from(a.value().doc_freq)),
            std::cmp::Ordering::Greater => (b.key(), u64::from(b.value().doc_freq)),
            std::cmp::Ordering::Equal => (a.key(), u64::from(a.value().doc_freq) + u64::from(b.value().doc_freq)),
        };
        if key.first() != Some(&(STEM_MARKER as u8)) {
            builder.insert(key, doc_freq).map_err(fst_error)?;
        }
        if order != std::cmp::Ordering::Greater {
            a_live = a.advance();
        }
        if order != std::cmp::Ordering::Less {
            b_live = b.advance();
        }
    }
    let bytes = builder.into_inner().map_err(fst_error)?;
    Map::from_bytes(bytes).map_err(fst_error)
}

/// The ids of the segments with at least `min_docs` documents, sorted.
fn large_segments(searcher: &Searcher, min_docs: u32) -> Vec<SegmentId> {
    let mut ids: Vec<SegmentId> = searcher
        .segment_readers()
        .iter()
        .filter(|reader| reader.max_doc() >= min_docs)
        .map(SegmentReader::segment_id)
        .collect();
    ids.sort_unstable();
    ids
}

/// One lexicon holding every word of `parts`, document frequencies summed.
fn union(parts: &[Lexicon]) -> tantivy::Result<Map<Vec<u8>>> {
    let fst_error = |e: tantivy_fst::Error| tantivy::TantivyError::InternalError(format!("lexicon: {e}"));
    let mut op = tantivy_fst::map::OpBuilder::new();
    for part in parts {
        op = op.add(part.as_ref());
    }
    let mut stream = op.union();
    let mut builder = MapBuilder::memory();
    while let Some((key, values)) = stream.next() {
        builder.insert(key, values.iter().map(|v| v.value).sum::<u64>()).map_err(fst_error)?;
    }
    Map::from_bytes(builder.into_inner().map_err(fst_error)?).map_err(fst_error)
}

/// Derives every segment of a new searcher before it is published (and the merged lexicon when its
/// large segments changed), and forgets segments no live searcher holds.
impl Warmer for SegmentCache {
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        for reader in searcher.segment_readers() {
            self.get(reader)?;
        }
        self.merge_large(searcher)
    }

    fn garbage_collect(&self, live_generations: &[&SearcherGeneration]) {
        let live: BTreeSet<SegmentId> =
            live_generations.iter().flat_map(|generation| generation.segments().keys().copied()).collect();
        if let Ok(mut segments) = self.segments.write() {
            segments.retain(|id, _| live.contains(id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_found_where_they_are_long_enough() {
        let packed: Vec<u32> = [(7, 400), (9, 1), (7, 300)]
            .into_iter()
            .flat_map(|(value, len)| std::iter::repeat_n(value | 0x3A << TITLE_NORM_SHIFT, len))
            .collect();
        let runs = runs_of(&packed);
        let run = |start, value| Run { start, value };
        assert_eq!(*runs, [run(0, 7), run(400, 9), run(401, 7)], "norms are not part of a run's value");
        // Shorter runs than `MIN_MEAN_RUN` on average: none.
        let alternating: Vec<u32> = (0..640).map(|doc| doc / 16 % 2).collect();
        assert!(runs_of(&alternating).is_empty());
        let halves: Vec<u32> = (0..640).map(|doc| doc / 320).collect();
        assert_eq!(runs_of(&halves).len(), 2);
        assert!(runs_of(&[]).is_empty());
    }

    #[test]
    fn each_window_knows_the_run_it_starts_in() {
        let run = |start| Run { start, value: 0 };
        let runs = [run(0), run(5000), run(5001), run(3 * WINDOW), run(3 * WINDOW + 1)];
        let starts = window_runs(&runs, 5 * WINDOW - 7);
        assert_eq!(*starts, [0, 0, 2, 3, 4]);
        for (window, &first) in (0..).zip(starts.iter()) {
            let base = window * WINDOW;
            assert_eq!(first as usize, runs.partition_point(|run| run.start <= base) - 1, "window {window}");
        }
        assert!(window_runs(&[], 10 * WINDOW).is_empty());
    }

    #[test]
    fn a_lexicons_variants_are_kept_unless_there_are_too_many() {
        let cache = SegmentCache::new(crate::schema::build().1, 2);
        let key = |word: &str| LexiconExpansionKey {
            lexicon: LexiconId::Merged(0),
            word: word.into(),
            expansion: Expansion::Prefix,
        };
        let variants = |n: usize| -> LexiconVariants {
            (0..n).map(|i| (format!("w{i:05}").into_bytes().into_boxed_slice(), 1)).collect()
        };
        let mut walks = 0;
        for _ in 0..2 {
            let found = cache.lexicon_expansion(key("few"), || {
                walks += 1;
                variants(3)
            });
            assert_eq!(found.len(), 3);
        }
        assert_eq!(walks, 1, "kept after the first walk");
        for _ in 0..2 {
            let found = cache.lexicon_expansion(key("many"), || {
                walks += 1;
                variants(MAX_KEPT_VARIANTS + 1)
            });
            assert_eq!(found.len(), MAX_KEPT_VARIANTS + 1, "all of them, though not kept");
        }
        assert_eq!(walks, 3, "walked each time");
        let stats = cache.lexicon_expansion_stats();
        assert_eq!((stats.hits, stats.misses), (1, 3));
    }

    fn lexicon(words: &[(&str, u64)]) -> Lexicon {
        Arc::new(Map::from_iter(words.iter().map(|&(w, n)| (w, n))).expect("sorted words"))
    }

    #[test]
    fn the_union_of_lexicons_sums_document_frequencies() {
        let merged =
            union(&[lexicon(&[("alpha", 2), ("beta", 1)]), lexicon(&[("beta", 4), ("gamma", 3)])]).expect("union");
        let mut words = Vec::new();
        let mut stream = merged.stream();
        while let Some((key, value)) = stream.next() {
            words.push((String::from_utf8(key.to_vec()).expect("utf-8"), value));
        }
        assert_eq!(words, [("alpha".to_owned(), 2), ("beta".to_owned(), 5), ("gamma".to_owned(), 3)]);
    }
}
