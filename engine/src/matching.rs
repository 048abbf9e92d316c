//! The query every text search runs: each word must match, by any of its terms (the word as written, its
//! stems, its typo and prefix variants, in the title or the description), and a document scores the
//! sum of the BM25 scores of the terms it has, each times its boost.
//!
//! Tantivy can express this as an intersection of unions of term queries, and did so here before.
//! That plan scores every posting of every term as the union reads it, although most of them belong
//! to documents another word then rules out; each score is a random read of a field-norm column
//! larger than the core's cache. It also looks each term up twice per segment (once for its BM25
//! statistics, once for its postings) and builds a score table per term.
//!
//! Here, a segment is read in windows of [`WINDOW`] documents. For each window the words are read
//! rarest first, each as a bitset of the documents any of its terms has, and the bitsets are
//! intersected; a word that leaves nothing ends the window early, and the words after it skip ahead
//! through their skip lists. Only the documents left at the end are scored: their field norms are
//! read once each, and each of their postings adds its term's score. Each term is looked up once per
//! segment, and the BM25 tables are built once per field. The scores are those Tantivy's BM25 gives
//! (the same formula, statistics and constants).
//!
//! Where the other words leave only a few candidates in a window, a frequent term seeks them one by
//! one through its skip list rather than reading every posting. A search's collector sees each
//! window's candidates before they are scored ([`Visit`]): it drops those its filter rejects (after
//! counting their facets), so they are never scored. The field norms then come from the same packed
//! word per document the collector just read (see `segments`). Once the collector's top is full, it
//! names the score a document must beat to enter it ([`Visit::floor`]); the others are counted in
//! the window but not passed on one by one.

use std::fmt;
use std::sync::Arc;

use tantivy::fieldnorm::FieldNormReader;
use tantivy::index::SegmentId;
use tantivy::postings::{BlockSegmentPostings, TermInfo};
use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, Score, Searcher, SegmentReader, TERMINATED, Term};

use crate::segments::{SegmentCache, SegmentData};

/// Documents per window: the bitsets of one window fit in a few cache lines.
pub const WINDOW: u32 = 4096;
pub const WINDOW_WORDS: usize = (WINDOW / 64) as usize;
/// A term whose postings in a window outnumber the window's candidates by this much seeks them
/// one by one instead of reading every posting.
const SEEK_FACTOR: u32 = 4;
/// BM25 constants, as Tantivy (and Lucene) use them.
const K1: Score = 1.2;
const B: Score = 0.75;

/// Every word must match, by any of its terms; each term comes with its boost.
#[derive(Clone)]
pub struct AllWordsQuery {
    words: Vec<Vec<(Term, Score)>>,
    /// Where the field norms of title and description are read, when not from Tantivy's columns.
    segments: Option<Arc<SegmentCache>>,
}

impl AllWordsQuery {
    /// A query over `words`, each the terms (with their boosts) it may match by. A word without
    /// terms matches nothing. With `segments`, field norms are read from the segments' packed
    /// column (which the collector reads for the same documents) where it holds them.
    pub fn new(words: Vec<Vec<(Term, Score)>>, segments: Option<Arc<SegmentCache>>) -> Self {
        Self { words, segments }
    }
}

impl fmt::Debug for AllWordsQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AllWordsQuery").field("words", &self.words.len()).finish()
    }
}

impl Query for AllWordsQuery {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.words_weight(enable_scoring)?))
    }
}

impl AllWordsQuery {
    /// The query's weight, for [`AllWordsWeight::visit`].
    pub fn words_weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<AllWordsWeight> {
        let scoring = enable_scoring.is_scoring_enabled();
        let mut fields: Vec<Field> = Vec::new();
        let mut words = Vec::with_capacity(self.words.len());
        for word in &self.words {
            let mut clauses = Vec::with_capacity(word.len());
            for (term, boost) in word {
                let slot = match fields.iter().position(|&field| field == term.field()) {
                    Some(slot) => slot,
                    None => {
                        fields.push(term.field());
                        fields.len() - 1
                    }
                };
                clauses.push(Clause { term: term.clone(), boost: *boost, slot, weight: 0.0 });
            }
            words.push(clauses);
        }
        let mut weight = AllWordsWeight {
            words,
            fields,
            norm_tables: Vec::new(),
            segments: Vec::new(),
            packed: self.segments.clone(),
            scoring,
        };
        match enable_scoring.searcher() {
            Some(searcher) => weight.look_up(searcher)?,
            // BM25 needs the totals of every segment, which only a searcher has.
            None if scoring => {
                return Err(tantivy::TantivyError::InvalidArgument("scoring all words needs a searcher".into()));
            }
            None => {}
        }
        Ok(weight)
    }
}

/// What a search does with one segment's matches, window by window.
pub trait Visit {
    /// Sees a window's matching documents (bit `i` of word `w` is document `base + 64 w + i`)
    /// before they are scored, and clears those it wants left out.
    fn window(&mut self, base: DocId, candidates: &mut [u64; WINDOW_WORDS]);
    /// A document left in, in document order, with its score and the fields it has terms in (bit
    /// `i` for [`AllWordsWeight::fields`]`[i]`), or 0 and 0 without scoring.
    fn matched(&mut self, doc: DocId, score: Score, fields: u8);
    /// With scoring, a score the documents still to come must beat to be wanted (ties lose, as
    /// they come later): those that do not are not passed to [`Visit::matched`].
    fn floor(&self) -> Option<Score> {
        None
    }
    /// False when no document of the window at `base` can be wanted whatever it matches (the
    /// window is still shown to [`Visit::window`]): its postings are then read without their
    /// term frequencies, and nothing in it is scored.
    fn may_want(&mut self, _base: DocId) -> bool {
        true
    }
}

/// A plain callback, which wants every match.
struct Emit<'a>(&'a mut dyn FnMut(DocId, Score));

impl Visit for Emit<'_> {
    fn window(&mut self, _: DocId, _: &mut [u64; WINDOW_WORDS]) {}

    fn matched(&mut self, doc: DocId, score: Score, _fields: u8) {
        (self.0)(doc, score);
    }
}

struct Clause {
    term: Term,
    boost: Score,
    /// Which of the weight's fields the term is in.
    slot: usize,
    /// BM25's `idf · (k1 + 1) · boost`.
    weight: Score,
}

/// [`AllWordsQuery`] tied to a searcher: the terms looked up and weighed.
pub struct AllWordsWeight {
    /// The clauses of each word.
    words: Vec<Vec<Clause>>,
    /// The fields the terms are in.
    fields: Vec<Field>,
    /// Per field, BM25's length normalisation for each field-norm id.
    norm_tables: Vec<NormTable>,
    /// Per segment of the searcher, the term info of each clause (by word, then clause).
    segments: Vec<(SegmentId, Vec<Vec<Option<TermInfo>>>)>,
    packed: Option<Arc<SegmentCache>>,
    scoring: bool,
}

impl AllWordsWeight {
    /// Looks every term up once per segment and derives the BM25 weights from the totals.
    fn look_up(&mut self, searcher: &Searcher) -> tantivy::Result<()> {
        let mut total_docs = 0u64;
        let mut total_tokens = vec![0u64; self.fields.len()];
        let mut doc_freqs: Vec<Vec<u64>> = self.words.iter().map(|word| vec![0; word.len()]).collect();
        for reader in searcher.segment_readers() {
            total_docs += u64::from(reader.max_doc());
            let infos = self.term_infos(reader, &mut total_tokens)?;
            for (word_freqs, word_infos) in doc_freqs.iter_mut().zip(&infos) {
                for (freq, info) in word_freqs.iter_mut().zip(word_infos) {
                    *freq += info.as_ref().map_or(0, |info| u64::from(info.doc_freq));
                }
            }
            self.segments.push((reader.segment_id(), infos));
        }
        if !self.scoring {
            return Ok(());
        }
        self.norm_tables = total_tokens
            .iter()
            .map(|&tokens| {
                let average = if total_docs == 0 { 1.0 } else { tokens as Score / total_docs as Score };
                let norm: [Score; 256] = std::array::from_fn(|id| {
                    let length = FieldNormReader::id_to_fieldnorm(id as u8) as Score;
                    K1 * (1.0 - B + B * length / average)
                });
                NormTable { once: norm.map(|norm| 1.0 / (1.0 + norm)), norm }
            })
            .collect();
        for (word, freqs) in self.words.iter_mut().zip(&doc_freqs) {
            for (clause, &doc_freq) in word.iter_mut().zip(freqs) {
                clause.weight = idf(doc_freq, total_docs) * (1.0 + K1) * clause.boost;
            }
        }
        Ok(())
    }

    /// Each clause's term info in one segment; adds the segment's tokens per field to `tokens`.
    fn term_infos(&self, reader: &SegmentReader, tokens: &mut [u64]) -> tantivy::Result<Vec<Vec<Option<TermInfo>>>> {
        let inverted: Vec<_> =
            self.fields.iter().map(|&field| reader.inverted_index(field)).collect::<tantivy::Result<_>>()?;
        for (total, index) in tokens.iter_mut().zip(&inverted) {
            *total += index.total_num_tokens();
        }
        self.words
            .iter()
            .map(|word| word.iter().map(|clause| Ok(inverted[clause.slot].get_term_info(&clause.term)?)).collect())
            .collect()
    }

    /// The fields the terms are in: what the bits of [`Visit::matched`]'s `fields` stand for.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Shows `visitor` the matching documents of one segment, window by window.
    pub fn visit(&self, reader: &SegmentReader, visitor: &mut dyn Visit) -> tantivy::Result<()> {
        self.run(reader, 1.0, visitor)
    }

    /// The matching documents of one segment, with their scores (0 without scoring), in order.
    fn run(&self, reader: &SegmentReader, boost: Score, visitor: &mut dyn Visit) -> tantivy::Result<()> {
        if self.words.is_empty() {
            return Ok(());
        }
        let infos = match self.segments.iter().find(|(id, _)| *id == reader.segment_id()) {
            Some((_, infos)) => infos,
            None => &self.term_infos(reader, &mut vec![0; self.fields.len()])?,
        };
        let option = if self.scoring { IndexRecordOption::WithFreqs } else { IndexRecordOption::Basic };
        let inverted: Vec<_> =
            self.fields.iter().map(|&field| reader.inverted_index(field)).collect::<tantivy::Result<_>>()?;
        let mut words: Vec<Vec<Cursor>> = Vec::with_capacity(self.words.len());
        for (word, word_infos) in self.words.iter().zip(infos) {
            let mut cursors = Vec::with_capacity(word.len());
            for (clause, info) in word.iter().zip(word_infos) {
                let Some(info) = info else { continue };
                cursors.push(Cursor {
                    postings: inverted[clause.slot].read_block_postings_from_terminfo(info, option)?,
                    index: 0,
                    weight: clause.weight * boost,
                    slot: clause.slot,
                    per_window: (u64::from(info.doc_freq) * u64::from(WINDOW) / u64::from(reader.max_doc().max(1)))
                        as u32,
                    window: Vec::new(),
                });
            }
            if cursors.is_empty() {
                return Ok(());
            }
            words.push(cursors);
        }
        words.sort_by_key(|cursors| cursors.iter().map(|c| u64::from(c.postings.doc_freq())).sum::<u64>());
        let words = words.into_iter().map(Word::new).collect();
        let norms = if self.scoring { self.norms(reader)? } else { Norms::Columns(Vec::new()) };
        Windows { words, norms: &norms, tables: &self.norm_tables, scoring: self.scoring }.run(visitor);
        Ok(())
    }

    /// Where the segment's field norms are read: the packed column when it holds every field's.
    fn norms(&self, reader: &SegmentReader) -> tantivy::Result<Norms> {
        if let Some(cache) = &self.packed {
            let shifts: Option<Vec<u32>> = self.fields.iter().map(|&field| cache.norm_shift(field)).collect();
            if let Some(shifts) = shifts {
                return Ok(Norms::Packed { data: cache.get(reader)?, shifts });
            }
        }
        // A field without norms counts every document as one token long, as Tantivy does.
        Ok(Norms::Columns(
            self.fields
                .iter()
                .map(|&field| {
                    reader
                        .get_fieldnorms_reader(field)
                        .unwrap_or_else(|_| FieldNormReader::constant(reader.max_doc(), 1))
                })
                .collect(),
        ))
    }
}

fn idf(doc_freq: u64, total_docs: u64) -> Score {
    let doc_freq = doc_freq.min(total_docs);
    let x = ((total_docs - doc_freq) as Score + 0.5) / (doc_freq as Score + 0.5);
    (1.0 + x).ln()
}

impl Weight for AllWordsWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut matches = Matches::default();
        self.run(
            reader,
            boost,
            &mut Emit(&mut |doc, score| {
                matches.docs.push(doc);
                matches.scores.push(score);
            }),
        )?;
        Ok(Box::new(matches))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) != doc {
            return Err(tantivy::TantivyError::InvalidArgument(format!("document {doc} does not match")));
        }
        Ok(Explanation::new("sum of the BM25 scores of the matching terms of every word", scorer.score()))
    }

    fn for_each(&self, reader: &SegmentReader, callback: &mut dyn FnMut(DocId, Score)) -> tantivy::Result<()> {
        self.run(reader, 1.0, &mut Emit(callback))
    }
}

/// BM25's term-frequency factor `tf / (tf + norm)` by field-norm id: `norm` for any frequency, and
/// the factor itself for a frequency of 1 (most postings: titles are short), which spares a division.
struct NormTable {
    norm: [Score; 256],
    once: [Score; 256],
}

/// A segment's field-norm ids, by field slot.
enum Norms {
    /// Tantivy's field-norm columns.
    Columns(Vec<FieldNormReader>),
    /// The packed column, each field's id at its shift.
    Packed { data: Arc<SegmentData>, shifts: Vec<u32> },
}

/// One term's postings in one segment, read window by window.
struct Cursor {
    postings: BlockSegmentPostings,
    /// Position in the current block.
    index: usize,
    weight: Score,
    slot: usize,
    /// The postings a window holds on average.
    per_window: u32,
    /// The current window's postings: document and term frequency (kept only when scoring).
    window: Vec<(DocId, u32)>,
}

impl Cursor {
    /// The first document at or after `target` (TERMINATED when none is left).
    fn seek(&mut self, target: DocId) -> DocId {
        let docs = self.postings.docs();
        match docs.get(self.index) {
            Some(&doc) if doc >= target => return doc,
            None if docs.is_empty() => return TERMINATED,
            _ => {}
        }
        if docs.last().is_some_and(|&last| last >= target) {
            self.index += docs[self.index..].partition_point(|&doc| doc < target);
        } else {
            self.index = self.postings.seek(target);
        }
        self.current()
    }

    fn current(&mut self) -> DocId {
        loop {
            let docs = self.postings.docs();
            if docs.is_empty() {
                return TERMINATED;
            }
            if let Some(&doc) = docs.get(self.index) {
                return doc;
            }
            self.postings.advance();
            self.index = 0;
        }
    }

    /// Marks which of the `candidates` of the window at `base` this term has, seeking each one:
    /// blocks of postings without a candidate are skipped, not decoded. Returns where the cursor
    /// stands after (a lower bound of its next document).
    fn fill_candidates(
        &mut self,
        base: DocId,
        candidates: &[u64; WINDOW_WORDS],
        bits: &mut [u64; WINDOW_WORDS],
        keep: bool,
    ) -> DocId {
        self.window.clear();
        let mut found = base;
        for (index, &word) in candidates.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let slot = index * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                let doc = base + slot as DocId;
                found = self.seek(doc);
                if found == TERMINATED {
                    return TERMINATED;
                }
                if found == doc {
                    bits[index] |= 1 << (slot % 64);
                    if keep {
                        self.window.push((doc, self.postings.freqs().get(self.index).copied().unwrap_or(1)));
                    }
                }
            }
        }
        found
    }

    /// Marks this term's documents in `[base, base + WINDOW)` and moves past them; returns its
    /// next document.
    fn fill(&mut self, base: DocId, bits: &mut [u64; WINDOW_WORDS], keep: bool) -> DocId {
        self.window.clear();
        if self.seek(base) == TERMINATED {
            return TERMINATED;
        }
        let end = base.saturating_add(WINDOW);
        loop {
            let docs = self.postings.docs();
            if docs.is_empty() {
                return TERMINATED;
            }
            let freqs = self.postings.freqs();
            let start = self.index;
            // One pass marks the window's postings and finds where they end (a block is 128 sorted
            // documents, most of them usually in the window: no binary search ahead of the pass).
            let mut stop = start;
            for &doc in &docs[start..] {
                if doc >= end {
                    break;
                }
                let slot = (doc - base) as usize;
                bits[slot / 64] |= 1 << (slot % 64);
                stop += 1;
            }
            let in_window = &docs[start..stop];
            if keep {
                match freqs.get(start..stop) {
                    Some(freqs) => self.window.extend(in_window.iter().copied().zip(freqs.iter().copied())),
                    None => self.window.extend(in_window.iter().map(|&doc| (doc, 1))),
                }
            }
            self.index = stop;
            if stop < docs.len() {
                return docs[stop];
            }
            self.postings.advance();
            self.index = 0;
        }
    }
}

/// One word's cursors in one segment.
///
/// A word often has dozens of terms (stems, typo and prefix variants, in two fields), most of them
/// without a posting in a given window. Where each cursor stands is kept apart from the cursors
/// (which hold their decoded blocks, a kilobyte each), so a window passes over the cursors it has
/// nothing of by reading a few bytes, and scoring reads only the cursors it filled.
struct Word {
    cursors: Vec<Cursor>,
    /// Per cursor, a document at or before its next posting (exact once it has been read there):
    /// a cursor whose `next` is past a window has nothing in it.
    next: Vec<DocId>,
    /// The cursors that kept postings of the current window (for scoring).
    filled: Vec<usize>,
}

impl Word {
    fn new(cursors: Vec<Cursor>) -> Self {
        Self { next: vec![0; cursors.len()], filled: Vec::with_capacity(cursors.len()), cursors }
    }

    /// The word's first document at or after `target` (TERMINATED when none is left).
    fn seek(&mut self, target: DocId) -> DocId {
        let mut first = TERMINATED;
        for (cursor, next) in self.cursors.iter_mut().zip(&mut self.next) {
            if *next < target {
                *next = cursor.seek(target);
            }
            first = first.min(*next);
        }
        first
    }

    /// Marks the word's documents in the window at `base`: all of them, or (`candidates`) only
    /// those among the candidates, each term choosing how it reads them.
    fn fill(
        &mut self,
        base: DocId,
        candidates: Option<&[u64; WINDOW_WORDS]>,
        bits: &mut [u64; WINDOW_WORDS],
        keep: bool,
    ) {
        let end = base.saturating_add(WINDOW);
        let count: u32 =
            candidates.map_or(u32::MAX, |candidates| candidates.iter().map(|bits| bits.count_ones()).sum());
        self.filled.clear();
        for (index, (cursor, next)) in self.cursors.iter_mut().zip(&mut self.next).enumerate() {
            if *next >= end {
                continue;
            }
            *next = match candidates {
                Some(candidates) if count.saturating_mul(SEEK_FACTOR) < cursor.per_window => {
                    cursor.fill_candidates(base, candidates, bits, keep)
                }
                _ => cursor.fill(base, bits, keep),
            };
            if keep && !cursor.window.is_empty() {
                self.filled.push(index);
            }
        }
    }
}

/// Buffers of [`Windows::run`] kept by each thread between runs.
struct Scratch {
    /// Each slot of a window's score: 0 between windows.
    scores: Vec<Score>,
    /// Each slot's fields with a term (a bit per field slot): 0 between windows.
    fields: Vec<u8>,
    /// Field-norm ids of a window's candidates, by field slot.
    norm_ids: Vec<[u8; WINDOW as usize]>,
}

impl Default for Scratch {
    fn default() -> Self {
        Self { scores: vec![0.0; WINDOW as usize], fields: vec![0; WINDOW as usize], norm_ids: Vec::new() }
    }
}

thread_local! {
    static SCRATCH: std::cell::Cell<Option<Scratch>> = const { std::cell::Cell::new(None) };
}

/// The window-by-window intersection of one segment's words.
struct Windows<'a> {
    /// The words, the rarest first.
    words: Vec<Word>,
    norms: &'a Norms,
    tables: &'a [NormTable],
    scoring: bool,
}

impl Windows<'_> {
    fn run(self, visitor: &mut dyn Visit) {
        // A thread's buffers are reused from one segment and query to the next: allocating them
        // each time cost zeroed pages from the allocator (and the kernel) on every query.
        let mut scratch = SCRATCH.with(|scratch| scratch.take()).unwrap_or_default();
        scratch.norm_ids.resize(self.tables.len(), [0; WINDOW as usize]);
        self.run_with(visitor, &mut scratch.scores, &mut scratch.fields, &mut scratch.norm_ids);
        SCRATCH.with(|kept| kept.set(Some(scratch)));
    }

    /// [`Windows::run`] with buffers: `scores` and `fields` (every slot 0, and left so) and
    /// `norm_ids`.
    fn run_with(
        mut self,
        visitor: &mut dyn Visit,
        scores: &mut [Score],
        fields: &mut [u8],
        norm_ids: &mut [[u8; WINDOW as usize]],
    ) {
        let mut base: DocId = 0;
        loop {
            // Every match has a term of the rarest word: start at the window of its next document.
            let next = self.words[0].seek(base);
            if next == TERMINATED {
                return;
            }
            base = next - next % WINDOW;
            let scoring = self.scoring && visitor.may_want(base);
            let mut candidates = [0u64; WINDOW_WORDS];
            let mut reached = 0;
            for (position, word) in self.words.iter_mut().enumerate() {
                let mut bits = [0u64; WINDOW_WORDS];
                word.fill(base, (position > 0).then_some(&candidates), &mut bits, scoring);
                if position == 0 {
                    candidates = bits;
                } else {
                    candidates.iter_mut().zip(&bits).for_each(|(candidate, bits)| *candidate &= bits);
                }
                reached = position + 1;
                if candidates.iter().all(|&bits| bits == 0) {
                    break;
                }
            }
            if reached == self.words.len() {
                visitor.window(base, &mut candidates);
                // The filter may have left nothing (in a sorted segment, whole windows of another
                // language or category): then there is nothing to score.
                if scoring && candidates.iter().any(|&bits| bits != 0) {
                    self.score(base, &candidates, scores, fields, norm_ids);
                }
                let mut floor = if self.scoring { visitor.floor() } else { None };
                for (index, &bits) in candidates.iter().enumerate() {
                    let mut bits = bits;
                    while bits != 0 {
                        let slot = index * 64 + bits.trailing_zeros() as usize;
                        bits &= bits - 1;
                        let score = std::mem::take(&mut scores[slot]);
                        let matched_in = std::mem::take(&mut fields[slot]);
                        if floor.is_none_or(|floor| score > floor) {
                            visitor.matched(base + slot as DocId, score, matched_in);
                            floor = visitor.floor();
                        }
                    }
                }
            }
            match base.checked_add(WINDOW) {
                Some(next_base) => base = next_base,
                None => return,
            }
        }
    }

    /// Adds up the scores of the candidates of the window at `base`, and marks the fields each has
    /// terms in (the slots of `scores` and `fields` are 0).
    fn score(
        &self,
        base: DocId,
        candidates: &[u64; WINDOW_WORDS],
        scores: &mut [Score],
        fields: &mut [u8],
        norm_ids: &mut [[u8; WINDOW as usize]],
    ) {
        // Each candidate's field norms, read once (a random read each) before the postings use them.
        let each_candidate = |visit: &mut dyn FnMut(usize)| {
            for (index, &bits) in candidates.iter().enumerate() {
                let mut bits = bits;
                while bits != 0 {
                    visit(index * 64 + bits.trailing_zeros() as usize);
                    bits &= bits - 1;
                }
            }
        };
        match self.norms {
            Norms::Columns(columns) => {
                for (norms, ids) in columns.iter().zip(norm_ids.iter_mut()) {
                    each_candidate(&mut |slot| ids[slot] = norms.fieldnorm_id(base + slot as DocId));
                }
            }
            Norms::Packed { data, shifts } => each_candidate(&mut |slot| {
                let word = data.packed.get((base as usize) + slot).copied().unwrap_or_default();
                for (ids, shift) in norm_ids.iter_mut().zip(shifts) {
                    ids[slot] = (word >> shift) as u8;
                }
            }),
        }
        for cursor in self.words.iter().flat_map(|word| word.filled.iter().map(|&index| &word.cursors[index])) {
            let table = &self.tables[cursor.slot];
            let ids = &norm_ids[cursor.slot];
            // A query over more than 8 fields shares the last bit among the rest.
            let field = 1u8 << cursor.slot.min(7);
            for &(doc, freq) in &cursor.window {
                let slot = (doc - base) as usize;
                if candidates[slot / 64] & (1 << (slot % 64)) != 0 {
                    let id = ids[slot] as usize;
                    let factor = if freq == 1 {
                        table.once[id]
                    } else {
                        let freq = freq as Score;
                        freq / (freq + table.norm[id])
                    };
                    scores[slot] += cursor.weight * factor;
                    fields[slot] |= field;
                }
            }
        }
    }
}

/// A segment's matches, computed up front, as a scorer (when the query is part of a larger one).
#[derive(Default)]
struct Matches {
    docs: Vec<DocId>,
    scores: Vec<Score>,
    position: usize,
}

impl DocSet for Matches {
    fn advance(&mut self) -> DocId {
        self.position = (self.position + 1).min(self.docs.len());
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.position += self.docs[self.position..].partition_point(|&doc| doc < target);
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.docs.get(self.position).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        (self.docs.len() - self.position) as u32
    }
}

impl Scorer for Matches {
    fn score(&mut self) -> Score {
        self.scores.get(self.position).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use tantivy::collector::{Count, DocSetCollector, TopDocs};
    use tantivy::query::{BooleanQuery, BoostQuery, Occur, TermQuery};
    use tantivy::schema::{Schema, TEXT};
    use tantivy::{DocAddress, Index, IndexWriter, doc};

    use super::*;

    const VOCABULARY: [&str; 12] =
        ["river", "history", "jazz", "moon", "garden", "war", "science", "film", "night", "city", "rare", "gone"];

    /// An index of `documents` documents in three segments (one with deletions), whose words follow
    /// a skewed distribution: "river" is in most documents, "rare" in a few, "gone" in none.
    fn index(documents: u32) -> (Index, Field, Field) {
        let mut schema = Schema::builder();
        let title = schema.add_text_field("title", TEXT);
        let description = schema.add_text_field("description", TEXT);
        let index = Index::create_in_ram(schema.build());
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).expect("writer");
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let text = |next: &mut dyn FnMut(u64) -> u64, words: u64| {
            (0..words)
                .map(|_| {
                    let pick = next(1000);
                    let word = match pick {
                        0..=399 => 0,
                        400..=997 => 1 + (pick as usize % 9),
                        _ => 10,
                    };
                    VOCABULARY[word]
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        for n in 0..documents {
            let title_words = 1 + next(4);
            let t = text(&mut next, title_words);
            let description_words = next(30);
            let d = text(&mut next, description_words);
            writer.add_document(doc!(title => t, description => d)).expect("document added");
            if n % (documents / 3) == documents / 3 - 1 {
                writer.commit().expect("commit");
            }
        }
        writer.delete_term(Term::from_field_text(title, "moon"));
        writer.commit().expect("commit");
        (index, title, description)
    }

    fn words(spec: &[&[(&str, f32)]], title: Field, description: Field) -> Vec<Vec<(Term, Score)>> {
        spec.iter()
            .map(|word| {
                word.iter()
                    .flat_map(|&(text, boost)| {
                        [
                            (Term::from_field_text(title, text), boost * 8.0),
                            (Term::from_field_text(description, text), boost),
                        ]
                    })
                    .collect()
            })
            .collect()
    }

    /// The same query as Tantivy's intersection of unions of boosted term queries.
    fn tantivy_query(words: &[Vec<(Term, Score)>]) -> BooleanQuery {
        BooleanQuery::new(
            words
                .iter()
                .map(|word| {
                    let should: Vec<(Occur, Box<dyn Query>)> = word
                        .iter()
                        .map(|(term, boost)| {
                            let query = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
                            (Occur::Should, Box::new(BoostQuery::new(Box::new(query), *boost)) as Box<dyn Query>)
                        })
                        .collect();
                    (Occur::Must, Box::new(BooleanQuery::new(should)) as Box<dyn Query>)
                })
                .collect(),
        )
    }

    fn top(searcher: &Searcher, query: &dyn Query) -> Vec<(Score, DocAddress)> {
        let mut top = searcher.search(query, &TopDocs::with_limit(100_000).order_by_score()).expect("search");
        top.sort_by_key(|a| a.1);
        top
    }

    #[test]
    fn matches_and_scores_what_tantivy_intersection_of_unions_gives() {
        let (index, title, description) = index(30_000);
        let searcher = index.reader().expect("reader").searcher();
        assert_eq!(searcher.segment_readers().len(), 3);
        let cases: &[&[&[(&str, f32)]]] = &[
            &[&[("river", 1.0)]],
            &[&[("rare", 1.0)], &[("river", 1.0), ("jazz", 0.3)]],
            &[&[("history", 1.0), ("war", 0.5)], &[("river", 1.0)], &[("night", 1.0), ("city", 0.4), ("gone", 0.3)]],
            &[&[("film", 1.0)], &[("science", 1.0)], &[("garden", 1.0)], &[("moon", 1.0)]],
            &[&[("rare", 1.0)], &[("gone", 1.0)]],
        ];
        for case in cases {
            let words = words(case, title, description);
            let expected = top(&searcher, &tantivy_query(&words));
            let ours = top(&searcher, &AllWordsQuery::new(words.clone(), None));
            assert_eq!(ours.len(), expected.len(), "{case:?}");
            for ((score, address), (expected_score, expected_address)) in ours.iter().zip(&expected) {
                assert_eq!(address, expected_address, "{case:?}");
                assert!(
                    (score - expected_score).abs() <= 1e-4 * expected_score.abs(),
                    "{case:?}: {score} vs {expected_score}"
                );
            }
            let count = AllWordsQuery::new(words.clone(), None).count(&searcher).expect("count");
            assert_eq!(count, expected.len(), "{case:?}");
            let unscored = searcher.search(&AllWordsQuery::new(words, None), &DocSetCollector).expect("search");
            assert_eq!(unscored.len(), expected.len(), "{case:?}");
        }
        let single = top(&searcher, &AllWordsQuery::new(words(&[&[("river", 1.0)]], title, description), None));
        assert!(single.len() > 10_000, "the common word spans many windows: {}", single.len());
    }

    /// Records what a segment's visit passes on.
    #[derive(Default)]
    struct Record(Vec<(DocId, u8)>);

    impl Visit for Record {
        fn window(&mut self, _: DocId, _: &mut [u64; WINDOW_WORDS]) {}

        fn matched(&mut self, doc: DocId, _: Score, fields: u8) {
            self.0.push((doc, fields));
        }
    }

    #[test]
    fn each_match_names_the_fields_it_has_terms_in() {
        let (index, title, description) = index(30_000);
        let searcher = index.reader().expect("reader").searcher();
        let spec: &[&[(&str, f32)]] = &[&[("history", 1.0), ("war", 0.5)], &[("river", 1.0), ("rare", 0.3)]];
        let words = words(spec, title, description);
        let weight = AllWordsQuery::new(words.clone(), None)
            .words_weight(EnableScoring::enabled_from_searcher(&searcher))
            .expect("weight");
        let bit = |field: Field| 1u8 << weight.fields().iter().position(|&f| f == field).expect("field of the query");
        let (mut title_only, mut description_only) = (0, 0);
        for reader in searcher.segment_readers() {
            let mut record = Record::default();
            weight.visit(reader, &mut record).expect("visit");
            assert!(!record.0.is_empty());
            // A document has a term in a field when any term of the query in that field has it.
            let has_any = |field: Field, doc: DocId| {
                words.iter().flatten().filter(|(term, _)| term.field() == field).any(|(term, _)| {
                    let inverted = reader.inverted_index(field).expect("inverted index");
                    inverted.read_postings(term, IndexRecordOption::Basic).expect("postings").is_some_and(
                        |mut postings| postings.doc() == doc || postings.doc() < doc && postings.seek(doc) == doc,
                    )
                })
            };
            for &(doc, fields) in &record.0 {
                let expected = if has_any(title, doc) { bit(title) } else { 0 }
                    | if has_any(description, doc) { bit(description) } else { 0 };
                assert_eq!(fields, expected, "document {doc}");
                title_only += usize::from(fields == bit(title));
                description_only += usize::from(fields == bit(description));
            }
        }
        assert!(title_only > 0 && description_only > 0, "both cases occur: {title_only}, {description_only}");
    }

    #[test]
    fn works_as_part_of_a_larger_query() {
        let (index, title, description) = index(12_000);
        let searcher = index.reader().expect("reader").searcher();
        let words = words(&[&[("jazz", 1.0)], &[("river", 1.0)]], title, description);
        let night = || Box::new(TermQuery::new(Term::from_field_text(title, "night"), IndexRecordOption::WithFreqs));
        let combined = |words: Box<dyn Query>| {
            BooleanQuery::new(vec![(Occur::Must, words), (Occur::Must, night() as Box<dyn Query>)])
        };
        let expected = top(&searcher, &combined(Box::new(tantivy_query(&words))));
        let ours = top(&searcher, &combined(Box::new(AllWordsQuery::new(words, None))));
        assert!(!expected.is_empty());
        assert_eq!(
            ours.iter().map(|(_, a)| *a).collect::<Vec<_>>(),
            expected.iter().map(|(_, a)| *a).collect::<Vec<_>>()
        );
        for ((score, _), (expected_score, _)) in ours.iter().zip(&expected) {
            assert!((score - expected_score).abs() <= 1e-4 * expected_score.abs());
        }
        assert_eq!(searcher.search(&AllWordsQuery::new(Vec::new(), None), &Count).expect("count"), 0);
    }
}
