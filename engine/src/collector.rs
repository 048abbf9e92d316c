//! One pass over the matching documents that filters, counts, ranks and counts facets.
//!
//! Text (and `program_id`) narrow the documents through the inverted index; every other filter is
//! a columnar lookup here. Category and language filters are applied last so that each facet can be
//! counted with every filter except its own (disjunctive faceting): a document whose language
//! passes counts towards the category facet whatever its category, and the other way round.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Arc;

use contracts::{CATEGORIES, Category, LANGUAGES, LanguageCode};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::ColumnValues;
use tantivy::fastfield::AliveBitSet;
use tantivy::query::EnableScoring;
use tantivy::schema::Field;
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentOrdinal, SegmentReader};

use crate::matching::{AllWordsQuery, Visit, WINDOW_WORDS};
use crate::request::{SearchRequest, Sort};
use crate::schema::{Packed, kind_ordinal};
use crate::segments::{SegmentCache, SegmentData};

/// What a document must satisfy besides the text, as columnar checks.
#[derive(Debug, Clone)]
pub struct Filter {
    kind: Option<u64>,
    categories: Option<u32>,
    languages: Option<[u64; 3]>,
    duration: (u64, u64),
    publish_date: (i64, i64),
    exclude_doc: Option<DocAddress>,
}

impl Default for Filter {
    /// Visible documents of any kind, category, language, duration and date.
    fn default() -> Self {
        Self {
            kind: None,
            categories: None,
            languages: None,
            duration: (0, u64::MAX),
            publish_date: (i64::MIN, i64::MAX),
            exclude_doc: None,
        }
    }
}

impl Filter {
    pub fn from_request(request: &SearchRequest) -> Self {
        let categories = (!request.categories.is_empty())
            .then(|| request.categories.iter().fold(0u32, |mask, c| mask | 1 << c.ordinal()));
        let languages = (!request.languages.is_empty()).then(|| {
            let mut mask = [0u64; 3];
            for language in &request.languages {
                let ordinal = language.ordinal() as usize;
                mask[ordinal / 64] |= 1 << (ordinal % 64);
            }
            mask
        });
        Self {
            kind: request.kind.map(kind_ordinal),
            categories,
            languages,
            duration: (request.min_duration.unwrap_or(0), request.max_duration.unwrap_or(u64::MAX)),
            publish_date: (request.published_after.unwrap_or(i64::MIN), request.published_before.unwrap_or(i64::MAX)),
            exclude_doc: None,
        }
    }

    /// Whether a document's duration decides whether it passes.
    fn bounds_duration(&self) -> bool {
        self.duration != (0, u64::MAX)
    }

    /// Leaves one document out (the item `related` starts from).
    pub fn excluding(mut self, doc: DocAddress) -> Self {
        self.exclude_doc = Some(doc);
        self
    }
}

/// How hits are ranked: all orders map to one `u64` key, higher first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Score,
    NewestFirst,
    OldestFirst,
    ShortestFirst,
    LongestFirst,
}

impl Order {
    pub fn for_request(sort: Sort, has_text: bool) -> Self {
        match sort {
            Sort::Relevance if has_text => Self::Score,
            Sort::Relevance | Sort::Newest => Self::NewestFirst,
            Sort::Oldest => Self::OldestFirst,
            Sort::Duration => Self::ShortestFirst,
            Sort::DurationDesc => Self::LongestFirst,
        }
    }
}

/// Maps an `i64` onto a `u64` with the same order.
fn ordered_i64(value: i64) -> u64 {
    (value as u64) ^ (1 << 63)
}

/// A ranked document: greater is better; ties go to the lower address, so results are stable.
#[derive(Debug, Clone, Copy)]
pub struct Ranked {
    pub key: u64,
    pub score: Score,
    pub address: DocAddress,
    /// The fields the document matched the query's terms in, as bits over [`Collected::fields`];
    /// 0 when not known (see [`Visit::matched`]).
    pub fields: u8,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key).then_with(|| other.address.cmp(&self.address))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What one pass yields.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    pub total: u64,
    /// Best first, at most `limit`.
    pub top: Vec<Ranked>,
    pub category_counts: Vec<u64>,
    pub language_counts: Vec<u64>,
    /// The fields [`Ranked::fields`] names by bit (empty when the search does not say).
    pub fields: Vec<Field>,
}

impl Collected {
    /// Whether `ranked` matched the query's terms in `field`: false only when the search says so.
    pub fn matched_in(&self, ranked: &Ranked, field: Field) -> bool {
        // Fields past the eighth share the last bit (see `matching`).
        ranked.fields == 0
            || self.fields.iter().position(|&f| f == field).is_none_or(|bit| bit >= 7 || ranked.fields >> bit & 1 == 1)
    }

    pub fn category_facets(&self) -> impl Iterator<Item = (Category, u64)> + '_ {
        self.category_counts
            .iter()
            .enumerate()
            .filter_map(|(ordinal, &count)| Category::from_ordinal(ordinal as u64).map(|category| (category, count)))
    }

    pub fn language_facets(&self) -> impl Iterator<Item = (LanguageCode, u64)> + '_ {
        self.language_counts.iter().enumerate().filter_map(|(ordinal, &count)| {
            LanguageCode::from_ordinal(ordinal as u64).map(|language| (language, count))
        })
    }
}

/// The collector behind search, browse, suggest and related.
#[derive(Debug, Clone)]
pub struct SearchCollector {
    pub segments: Arc<SegmentCache>,
    pub filter: Filter,
    pub order: Order,
    pub limit: usize,
    pub facets: bool,
}

pub struct SearchSegmentCollector {
    segment: SegmentOrdinal,
    filter: Filter,
    order: Order,
    limit: usize,
    facets: bool,
    segment_data: Arc<SegmentData>,
    heap: BinaryHeap<Reverse<Ranked>>,
    collected: Collected,
    /// Documents waiting to be looked at, with their scores (see [`BATCH`]).
    pending: Vec<(DocId, Score)>,
    /// The segment's live documents, when some were deleted (for [`SearchCollector::search_words`]).
    alive: Option<AliveBitSet>,
    /// The filter as masks (see [`Admission::admit`]).
    masks: Masks,
    /// Facet counts, added to `collected` at harvest.
    counts: Box<Counts>,
}

/// Documents looked at together. Each one's packed value is a random read of a column too large
/// for the core's cache; reading a batch's values in one tight loop lets the processor wait for
/// many of them at once instead of one after another.
const BATCH: usize = 64;

impl Collector for SearchCollector {
    type Fruit = Collected;
    type Child = SearchSegmentCollector;

    fn for_segment(&self, segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<Self::Child> {
        Ok(SearchSegmentCollector {
            segment,
            filter: self.filter.clone(),
            order: self.order,
            limit: self.limit,
            facets: self.facets,
            segment_data: self.segments.get(reader)?,
            heap: BinaryHeap::with_capacity(self.limit.min(1024) + 1),
            collected: Collected {
                category_counts: if self.facets { vec![0; CATEGORIES.len()] } else { Vec::new() },
                language_counts: if self.facets { vec![0; LANGUAGES.len()] } else { Vec::new() },
                ..Collected::default()
            },
            pending: Vec::with_capacity(BATCH),
            alive: reader.alive_bitset().cloned(),
            masks: Masks::of(&self.filter),
            counts: Box::new(Counts { categories: [0; 64], languages: [0; 256] }),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.order == Order::Score
    }

    fn merge_fruits(&self, fruits: Vec<Collected>) -> tantivy::Result<Collected> {
        let mut merged = Collected {
            category_counts: if self.facets { vec![0; CATEGORIES.len()] } else { Vec::new() },
            language_counts: if self.facets { vec![0; LANGUAGES.len()] } else { Vec::new() },
            ..Collected::default()
        };
        for fruit in fruits {
            merged.total += fruit.total;
            merged.top.extend(fruit.top);
            for (sum, count) in merged.category_counts.iter_mut().zip(fruit.category_counts) {
                *sum += count;
            }
            for (sum, count) in merged.language_counts.iter_mut().zip(fruit.language_counts) {
                *sum += count;
            }
        }
        merged.top.sort_unstable_by(|a, b| b.cmp(a));
        merged.top.truncate(self.limit);
        Ok(merged)
    }
}

impl SegmentCollector for SearchSegmentCollector {
    type Fruit = Collected;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.pending.push((doc, score));
        if self.pending.len() == BATCH {
            self.flush();
        }
    }

    fn harvest(mut self) -> Collected {
        self.flush();
        for (sum, count) in self.collected.category_counts.iter_mut().zip(self.counts.categories) {
            *sum += count;
        }
        for (sum, count) in self.collected.language_counts.iter_mut().zip(self.counts.languages) {
            *sum += count;
        }
        self.collected.top = self.heap.into_iter().map(|Reverse(ranked)| ranked).collect();
        self.collected
    }
}

impl SearchSegmentCollector {
    fn flush(&mut self) {
        let mut packed = [0u32; BATCH];
        let column = &self.segment_data.packed;
        for (value, &(doc, _)) in packed.iter_mut().zip(&self.pending) {
            *value = column.get(doc as usize).copied().unwrap_or_default();
        }
        let pending = std::mem::take(&mut self.pending);
        for (&(doc, score), &value) in pending.iter().zip(&packed) {
            let admission =
                Admission { masks: &self.masks, filter: &self.filter, data: &self.segment_data, segment: self.segment };
            // Tantivy passes live documents only.
            let (value, counts) = (u64::from(value), &mut *self.counts);
            let admitted = if self.facets {
                admission.admit::<true>(counts, doc, value, true)
            } else {
                admission.admit::<false>(counts, doc, value, true)
            };
            if admitted == 1 {
                self.rank(doc, score);
            }
        }
        self.pending = pending;
        self.pending.clear();
    }

    /// Counts an admitted document and keeps it if it ranks among the best so far.
    fn rank(&mut self, doc: DocId, score: Score) {
        self.collected.total += 1;
        self.offer(doc, score, 0);
    }

    /// Keeps a document if it ranks among the best so far.
    fn offer(&mut self, doc: DocId, score: Score, fields: u8) {
        if self.limit == 0 {
            return;
        }
        let key = match self.order {
            Order::Score => u64::from(score.max(0.0).to_bits()),
            Order::NewestFirst => ordered_i64(self.segment_data.publish_date.get_val(doc)),
            Order::OldestFirst => !ordered_i64(self.segment_data.publish_date.get_val(doc)),
            Order::ShortestFirst => !self.segment_data.duration(doc),
            Order::LongestFirst => self.segment_data.duration(doc),
        };
        let ranked = Ranked { key, score, address: DocAddress::new(self.segment, doc), fields };
        if self.heap.len() < self.limit {
            self.heap.push(Reverse(ranked));
        } else if let Some(mut worst) = self.heap.peek_mut()
            && ranked > worst.0
        {
            *worst = Reverse(ranked);
        }
    }
}

/// The fast path of a text search: the filter, the facets and the ranking see each window's matches
/// before they are scored, so the documents the filter leaves out are never scored, and each
/// document's packed word is read once for all three and for scoring.
impl Visit for SearchSegmentCollector {
    fn window(&mut self, base: DocId, candidates: &mut [u64; WINDOW_WORDS]) {
        match (self.by_runs(), self.facets) {
            (true, true) => self.window_runs::<true>(base, candidates),
            (true, false) => self.window_runs::<false>(base, candidates),
            (false, true) => self.window_admit::<true>(base, candidates),
            (false, false) => self.window_admit::<false>(base, candidates),
        }
    }

    fn matched(&mut self, doc: DocId, score: Score, fields: u8) {
        self.offer(doc, score, fields);
    }

    fn may_want(&mut self, base: DocId) -> bool {
        !self.by_runs() || self.segment_data.runs_in(base).any(|(run, _, _)| self.masks.keeps(u64::from(run.value)))
    }

    fn floor(&self) -> Option<Score> {
        if self.order != Order::Score {
            return None;
        }
        if self.limit == 0 {
            return Some(Score::INFINITY);
        }
        match self.heap.peek() {
            Some(Reverse(worst)) if self.heap.len() == self.limit => Some(worst.score.max(0.0)),
            _ => None,
        }
    }
}

/// The filter as masks over the packed value (visibility, kind, category, language), and whether
/// it also bounds columns of its own (duration, date) or excludes a document.
#[derive(Debug, Clone, Copy)]
struct Masks {
    /// The bits of the packed value that must equal `required` (visibility and kind).
    test: u64,
    required: u64,
    /// Bit `c` set: category `c` passes.
    categories: u64,
    /// Bit `l % 64` of word `l / 64` set: language `l` passes.
    languages: [u64; 4],
    columns: bool,
}

impl Masks {
    fn of(filter: &Filter) -> Self {
        let (test, required) = match filter.kind {
            Some(kind) => (Packed::VISIBLE | Packed::KIND, Packed::VISIBLE | Packed::kind_bit(kind)),
            None => (Packed::VISIBLE, Packed::VISIBLE),
        };
        Self {
            test,
            required,
            categories: filter.categories.map_or(u64::MAX, u64::from),
            languages: filter.languages.map_or([u64::MAX; 4], |[a, b, c]| [a, b, c, 0]),
            columns: filter.bounds_duration()
                || filter.publish_date != (i64::MIN, i64::MAX)
                || filter.exclude_doc.is_some(),
        }
    }

    /// What the filter says of a document with packed value `value` (columns aside).
    #[inline(always)]
    fn verdict(&self, value: u64) -> Verdict {
        let packed = Packed(value);
        let (category, language) = (packed.category(), packed.language());
        Verdict {
            category,
            language,
            passes: u64::from(value & self.test == self.required),
            category_ok: self.categories >> category & 1,
            language_ok: self.languages[language / 64] >> (language % 64) & 1,
        }
    }

    /// Whether a document with packed value `value` passes, when the filter has no columns.
    fn keeps(&self, value: u64) -> bool {
        self.verdict(value).kept() == 1
    }
}

/// The filter's parts for one packed value, each 1 or 0 so that counts add them without a branch:
/// visibility and kind together, category, language. Used per run (and per window, to see
/// whether any run passes); [`Admission::admit`] writes the same parts out per document.
#[derive(Debug, Clone, Copy)]
struct Verdict {
    category: usize,
    language: usize,
    passes: u64,
    category_ok: u64,
    language_ok: u64,
}

impl Verdict {
    /// 1 when every part passes.
    #[inline(always)]
    fn kept(&self) -> u64 {
        self.passes & self.category_ok & self.language_ok
    }

    /// Counts `count` documents with this verdict towards the facets, disjunctively: towards their
    /// category when their language passes, and the other way round.
    #[inline(always)]
    fn count_facets(&self, counts: &mut Counts, count: u64) {
        counts.categories[self.category] += count * (self.passes & self.language_ok);
        counts.languages[self.language] += count * (self.passes & self.category_ok);
    }
}

/// What admits a document in one segment: the filter's masks, and its columns where it has them.
struct Admission<'a> {
    masks: &'a Masks,
    filter: &'a Filter,
    data: &'a SegmentData,
    segment: SegmentOrdinal,
}

impl Admission<'_> {
    /// Whether a document (`alive` or not, with packed value `value`) passes the filter, as 1 or
    /// 0; with `FACETS`, counts it towards the facets it counts for (disjunctively: its category
    /// when its language passes, and the other way round). The packed column decides by masks,
    /// without a branch per document; duration, date and the excluded document need reads of
    /// their own, only when the filter has them.
    #[inline(always)]
    fn admit<const FACETS: bool>(&self, counts: &mut Counts, doc: DocId, value: u64, alive: bool) -> u64 {
        // The parts of `Masks::verdict`, written out: through the struct this loop ran 2 % slower
        // (measured on an unsorted index, where every window takes this path).
        let masks = self.masks;
        let mut passes = u64::from(alive && value & masks.test == masks.required);
        if masks.columns && passes == 1 && !self.passes_columns(doc) {
            passes = 0;
        }
        let packed = Packed(value);
        let (category, language) = (packed.category(), packed.language());
        let category_ok = masks.categories >> category & 1;
        let language_ok = masks.languages[language / 64] >> (language % 64) & 1;
        if FACETS {
            counts.categories[category] += passes & language_ok;
            counts.languages[language] += passes & category_ok;
        }
        passes & category_ok & language_ok
    }

    /// Whether a document passes the filter's duration and date bounds and is not the excluded one.
    fn passes_columns(&self, doc: DocId) -> bool {
        let filter = self.filter;
        if filter.bounds_duration() {
            let duration = self.data.duration(doc);
            if duration < filter.duration.0 || duration > filter.duration.1 {
                return false;
            }
        }
        if filter.publish_date != (i64::MIN, i64::MAX) {
            let date = self.data.publish_date.get_val(doc);
            if date < filter.publish_date.0 || date > filter.publish_date.1 {
                return false;
            }
        }
        !filter.exclude_doc.is_some_and(|a| a.segment_ord == self.segment && a.doc_id == doc)
    }
}

/// Asks for the cache lines that hold the candidates' values in `column` (a column by document),
/// so that the loop reading them finds most on their way instead of waiting for each in turn: a
/// window's candidates are scattered over a column larger than the core's caches, and without
/// this each read waits on memory before the next can start (here they are all issued at once,
/// one per line).
fn prefetch(column: &[u32], base: DocId, candidates: &[u64; WINDOW_WORDS]) {
    let lines = line_masks(column);
    for (index, &word) in candidates.iter().enumerate() {
        if word == 0 {
            continue;
        }
        let first = base as usize + index * 64;
        for &(start, mask) in &lines {
            if word & mask != 0
                && let Some(value) = column.get(first + start)
            {
                prefetch_line(value);
            }
        }
    }
}

/// Values of a `u32` column in a cache line.
const VALUES_PER_LINE: usize = 64 / size_of::<u32>();

/// The cache lines a word of candidates (64 documents from a multiple of 64) spans in `column`: the
/// offset of each line's first document in the word, and the word's bits in that line (up to five
/// lines: a column need not start on a line).
fn line_masks(column: &[u32]) -> [(usize, u64); 5] {
    let skew = (column.as_ptr() as usize / size_of::<u32>()) % VALUES_PER_LINE;
    // The word's first line boundary (documents are multiples of 64 from the column's start).
    let boundary = (VALUES_PER_LINE - skew) % VALUES_PER_LINE;
    std::array::from_fn(|line| {
        let start = (boundary + line * VALUES_PER_LINE).saturating_sub(VALUES_PER_LINE);
        let end = (boundary + line * VALUES_PER_LINE).min(64);
        let mask = if end > start { (u64::MAX >> (64 - (end - start))) << start } else { 0 };
        (start, mask)
    })
}

#[cfg(target_arch = "x86_64")]
fn prefetch_line(value: &u32) {
    safe_arch::prefetch_t0(value);
}

#[cfg(not(target_arch = "x86_64"))]
fn prefetch_line(_: &u32) {}

/// Facet counts by category and language ordinal, as many as the packed column can hold (those
/// with no name are dropped at harvest).
#[derive(Debug, Clone)]
struct Counts {
    categories: [u64; 64],
    languages: [u64; 256],
}

impl SearchSegmentCollector {
    /// [`Visit::window`]: each candidate's packed value is read and admitted (see
    /// [`Admission::admit`]); those left out are cleared.
    fn window_admit<const FACETS: bool>(&mut self, base: DocId, candidates: &mut [u64; WINDOW_WORDS]) {
        let admission =
            Admission { masks: &self.masks, filter: &self.filter, data: &self.segment_data, segment: self.segment };
        let (counts, live) = (&mut *self.counts, self.alive.as_ref());
        let column = &admission.data.packed[..];
        prefetch(column, base, candidates);
        if self.filter.bounds_duration() {
            prefetch(&admission.data.duration, base, candidates);
        }
        let mut total = 0u64;
        for (index, word) in candidates.iter_mut().enumerate() {
            let mut bits = *word;
            let mut kept = 0u64;
            while bits != 0 {
                let bit = bits.trailing_zeros();
                bits &= bits - 1;
                let doc = base + index as DocId * 64 + bit;
                let value = u64::from(column.get(doc as usize).copied().unwrap_or_default());
                let alive = live.is_none_or(|live| live.is_alive(doc));
                kept |= admission.admit::<FACETS>(counts, doc, value, alive) << bit;
            }
            *word = kept;
            total += u64::from(kept.count_ones());
        }
        // Counted here, as every admitted document is: `matched` sees only those that may rank.
        self.collected.total += total;
    }
}

impl SearchSegmentCollector {
    /// Whether a window can be admitted run by run: the segment has runs and the filter decides by
    /// the packed value alone.
    fn by_runs(&self) -> bool {
        !self.segment_data.runs.is_empty() && !self.masks.columns
    }

    /// [`Visit::window`] by runs of documents with one packed value (see [`SegmentData::runs`]):
    /// the filter decides once per run, and the run's candidates count towards the total and the
    /// facets by a population count, as [`Admission::admit`] would count each of them.
    fn window_runs<const FACETS: bool>(&mut self, base: DocId, candidates: &mut [u64; WINDOW_WORDS]) {
        if let Some(alive) = &self.alive {
            for (index, word) in candidates.iter_mut().enumerate() {
                let mut bits = *word;
                while bits != 0 {
                    let bit = bits.trailing_zeros();
                    bits &= bits - 1;
                    if !alive.is_alive(base + index as DocId * 64 + bit) {
                        *word &= !(1 << bit);
                    }
                }
            }
        }
        let (masks, counts) = (&self.masks, &mut *self.counts);
        let mut total = 0u64;
        for (run, from, to) in self.segment_data.runs_in(base) {
            let verdict = masks.verdict(u64::from(run.value));
            let keep = verdict.kept();
            let mut count = 0u64;
            for word in (from / 64)..=((to - 1) / 64) {
                let low = if word == from / 64 { from % 64 } else { 0 };
                let high = if word == (to - 1) / 64 { (to - 1) % 64 + 1 } else { 64 };
                let mask = (u64::MAX >> (64 - (high - low))) << low;
                let slot = &mut candidates[word as usize];
                count += u64::from((*slot & mask).count_ones());
                if keep == 0 {
                    *slot &= !mask;
                }
            }
            if FACETS {
                verdict.count_facets(counts, count);
            }
            total += count * keep;
        }
        self.collected.total += total;
    }
}

impl SearchCollector {
    /// Collects the matches of `query` (see [`Visit`]); the same as `searcher.search`, faster.
    pub fn search_words(&self, searcher: &Searcher, query: &AllWordsQuery) -> tantivy::Result<Collected> {
        let scoring = if self.requires_scoring() {
            EnableScoring::enabled_from_searcher(searcher)
        } else {
            EnableScoring::disabled_from_searcher(searcher)
        };
        let weight = query.words_weight(scoring)?;
        let mut fruits = Vec::with_capacity(searcher.segment_readers().len());
        for (ordinal, reader) in searcher.segment_readers().iter().enumerate() {
            let mut segment = self.for_segment(ordinal as SegmentOrdinal, reader)?;
            weight.visit(reader, &mut segment)?;
            fruits.push(segment.harvest());
        }
        let mut collected = self.merge_fruits(fruits)?;
        collected.fields = weight.fields().to_vec();
        Ok(collected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i64_mapping_preserves_order() {
        let values = [i64::MIN, -5, -1, 0, 1, 1_700_000_000, i64::MAX];
        for pair in values.windows(2) {
            assert!(ordered_i64(pair[0]) < ordered_i64(pair[1]));
        }
    }

    #[test]
    fn line_masks_split_a_word_of_candidates_by_cache_line_wherever_the_column_starts() {
        let values = vec![0u32; 1024];
        for skew in 0..VALUES_PER_LINE {
            let column = &values[skew..];
            let lines = line_masks(column);
            let line_of = |doc: usize| (column.as_ptr() as usize + doc * size_of::<u32>()) / 64;
            let mut covered = 0u64;
            for (start, mask) in lines {
                assert_eq!(covered & mask, 0, "lines overlap (skew {skew})");
                covered |= mask;
                for first in [0, 64, 640] {
                    for bit in (0..64).filter(|bit| mask >> bit & 1 == 1) {
                        assert!(bit >= start, "bit {bit} before its line's start {start} (skew {skew})");
                        assert_eq!(line_of(first + bit), line_of(first + start), "skew {skew}, bit {bit}");
                    }
                }
            }
            assert_eq!(covered, u64::MAX, "every document of the word is in a line (skew {skew})");
        }
        // Near the column's end, lines past it are skipped rather than read.
        let mut candidates = [0u64; WINDOW_WORDS];
        candidates[WINDOW_WORDS - 1] = u64::MAX;
        prefetch(&values[..10], 0, &candidates);
    }

    #[test]
    fn ties_go_to_the_lower_address() {
        let a = Ranked { key: 5, score: 0.0, address: DocAddress::new(0, 1), fields: 0 };
        let b = Ranked { key: 5, score: 0.0, address: DocAddress::new(0, 2), fields: 0 };
        assert!(a > b);
    }
}
