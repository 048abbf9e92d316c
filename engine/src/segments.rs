//! What the engine derives from each segment once, when a reader first sees it. Segments never
//! change after they are written, so this is computed once per segment (by a Tantivy warmer, before
//! a new searcher is published) and dropped with the last searcher that used the segment.
//!
//! - The packed column (visibility, kind, category, language) as a plain array, which the collector
//!   reads for every matching document.
//! - The lexicon: the words of titles and descriptions (stem terms left out) with their document
//!   frequencies summed, as one FST that typo and prefix expansion walks once per segment instead of
//!   once per field.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use rustc_hash::FxHashMap;
use tantivy::columnar::ColumnValues;
use tantivy::termdict::TermStreamer;
use tantivy::index::SegmentId;
use tantivy::{Searcher, SearcherGeneration, SegmentReader, Warmer};
use tantivy_fst::{Map, MapBuilder};

use crate::analysis::STEM_MARKER;
use crate::schema::{Fields, names};

/// One segment's derived data.
pub struct SegmentData {
    /// The low 16 bits of the packed column (all it uses), by document id.
    pub packed: Box<[u16]>,
    /// Title and description words to their summed document frequency.
    pub lexicon: Map<Vec<u8>>,
}

/// Derived data by segment, shared by every searcher that holds the segment.
pub struct SegmentCache {
    fields: Fields,
    segments: RwLock<FxHashMap<SegmentId, Arc<SegmentData>>>,
}

impl std::fmt::Debug for SegmentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let segments = self.segments.read().map(|s| s.len()).unwrap_or_default();
        f.debug_struct("SegmentCache").field("segments", &segments).finish()
    }
}

impl SegmentCache {
    pub fn new(fields: Fields) -> Self {
        Self { fields, segments: RwLock::new(FxHashMap::default()) }
    }

    /// The segment's data, derived now if no warmer did it yet.
    pub fn get(&self, reader: &SegmentReader) -> tantivy::Result<Arc<SegmentData>> {
        let id = reader.segment_id();
        if let Some(data) = self.segments.read().ok().and_then(|segments| segments.get(&id).cloned()) {
            return Ok(data);
        }
        let data = Arc::new(self.derive(reader)?);
        if let Ok(mut segments) = self.segments.write() {
            segments.entry(id).or_insert_with(|| Arc::clone(&data));
        }
        Ok(data)
    }

    fn derive(&self, reader: &SegmentReader) -> tantivy::Result<SegmentData> {
        let column = reader.fast_fields().u64(names::PACKED)?;
        let packed: Box<[u16]> = if column.get_cardinality() == tantivy::columnar::Cardinality::Full {
            let mut values = vec![0u64; reader.max_doc() as usize];
            column.values.get_range(0, &mut values);
            values.into_iter().map(|value| value as u16).collect()
        } else {
            let dense = column.first_or_default_col(0);
            (0..reader.max_doc()).map(|doc| dense.get_val(doc) as u16).collect()
        };
        let title = reader.inverted_index(self.fields.title)?;
        let description = reader.inverted_index(self.fields.description)?;
        let lexicon = merge_lexicons(title.terms().stream()?, description.terms().stream()?)?;
        Ok(SegmentData { packed, lexicon })
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

/// Derives every segment of a new searcher before it is published, and forgets segments no live
/// searcher holds.
impl Warmer for SegmentCache {
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        for reader in searcher.segment_readers() {
            self.get(reader)?;
        }
        Ok(())
    }

    fn garbage_collect(&self, live_generations: &[&SearcherGeneration]) {
        let live: BTreeSet<SegmentId> =
            live_generations.iter().flat_map(|generation| generation.segments().keys().copied()).collect();
        if let Ok(mut segments) = self.segments.write() {
            segments.retain(|id, _| live.contains(id));
        }
    }
}
