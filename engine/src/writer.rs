//! Writes: versioned upserts and deletes, committed in batches with a caller's checkpoint.
//!
//! Every item keeps exactly one document. Unpublished and deleted items keep a hidden tombstone
//! holding their version, so an older event arriving late can never bring them back.

use contracts::{ContentKind, ContentSnapshot};
use rustc_hash::FxHashMap;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocSet, Index, IndexReader, IndexWriter, TERMINATED, TantivyDocument};
use uuid::Uuid;

use crate::analysis::tag_with_language;
use crate::error::{EngineError, Result};
use crate::schema::{Fields, Packed, id_term, kind_ordinal};

/// Resources for a writer.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Indexing threads.
    pub threads: usize,
    /// Memory the writer buffers before it flushes a segment (split across threads).
    pub memory_bytes: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self { threads: 1, memory_bytes: 64 * 1024 * 1024 }
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Applied,
    /// The index already holds this version or a newer one; nothing changed.
    Stale,
}

/// The one writer of an index directory.
pub struct EngineWriter {
    writer: IndexWriter,
    reader: IndexReader,
    fields: Fields,
    /// Versions written since the last commit, which the reader cannot see yet.
    pending: FxHashMap<Uuid, u64>,
}

impl std::fmt::Debug for EngineWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineWriter").field("pending", &self.pending.len()).finish()
    }
}

impl EngineWriter {
    pub(crate) fn new(index: &Index, reader: IndexReader, fields: Fields, config: WriterConfig) -> Result<Self> {
        let threads = config.threads.max(1);
        // Tantivy needs at least 15 MB per thread.
        let memory = config.memory_bytes.max(threads * 16 * 1024 * 1024);
        let writer = index.writer_with_num_threads(threads, memory).map_err(|error| match error {
            tantivy::TantivyError::LockFailure(..) => EngineError::WriterLocked(error.to_string()),
            other => EngineError::Index(other),
        })?;
        Ok(Self { writer, reader, fields, pending: FxHashMap::default() })
    }

    /// Writes the item's snapshot unless the index holds the same or a newer version. Only a
    /// discoverable item (published, and for an episode its program too) becomes searchable; any
    /// other state hides it.
    pub fn upsert(&mut self, snapshot: &ContentSnapshot) -> Result<WriteOutcome> {
        let id = snapshot.id();
        let version = snapshot.version();
        let current = self.current_version(id)?;
        if current.is_some_and(|current| current >= version) {
            return Ok(WriteOutcome::Stale);
        }
        let document = if snapshot.is_discoverable() {
            self.visible_document(snapshot)
        } else {
            self.tombstone(snapshot.kind(), id, snapshot.program_id(), version)
        };
        self.replace(id, version, document, current.is_some())?;
        Ok(WriteOutcome::Applied)
    }

    /// Hides the item for good at `version` (older events for it are ignored from then on).
    pub fn delete(&mut self, kind: ContentKind, id: Uuid, program_id: Uuid, version: u64) -> Result<WriteOutcome> {
        let current = self.current_version(id)?;
        if current.is_some_and(|current| current >= version) {
            return Ok(WriteOutcome::Stale);
        }
        let document = self.tombstone(kind, id, program_id, version);
        self.replace(id, version, document, current.is_some())?;
        Ok(WriteOutcome::Applied)
    }

    /// Commits everything written so far, storing `checkpoint` in the commit, and makes it visible
    /// to this process's readers at once (other processes see it within their reload delay).
    pub fn commit(&mut self, checkpoint: Option<&str>) -> Result<()> {
        let mut prepared = self.writer.prepare_commit()?;
        if let Some(checkpoint) = checkpoint {
            prepared.set_payload(checkpoint);
        }
        prepared.commit()?;
        self.reader.reload()?;
        self.pending.clear();
        Ok(())
    }

    /// The version the index holds for an item (committed or pending), tombstones included.
    pub fn current_version(&self, id: Uuid) -> Result<Option<u64>> {
        if let Some(version) = self.pending.get(&id) {
            return Ok(Some(*version));
        }
        let searcher = self.reader.searcher();
        let term = id_term(self.fields.id, id);
        let mut latest: Option<u64> = None;
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(self.fields.id)?;
            let Some(mut postings) = inverted.read_postings(&term, IndexRecordOption::Basic)? else {
                continue;
            };
            let versions = segment.fast_fields().u64(crate::schema::names::VERSION)?.first_or_default_col(0);
            let alive = segment.alive_bitset();
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if alive.is_none_or(|bits| bits.is_alive(doc)) {
                    let version = versions.get_val(doc);
                    latest = Some(latest.map_or(version, |v| v.max(version)));
                }
                doc = postings.advance();
            }
        }
        Ok(latest)
    }

    /// Waits for background merges to finish (after a bulk load), consuming the writer.
    pub fn wait_merging(self) -> Result<()> {
        Ok(self.writer.wait_merging_threads()?)
    }

    /// Adds the item's new document, deleting its old one when there is one (a first write has
    /// nothing to delete, which spares bulk loads a delete per document).
    fn replace(&mut self, id: Uuid, version: u64, document: TantivyDocument, existed: bool) -> Result<()> {
        if existed {
            self.writer.delete_term(id_term(self.fields.id, id));
        }
        self.writer.add_document(document)?;
        self.pending.insert(id, version);
        Ok(())
    }

    fn base_document(&self, kind: ContentKind, id: Uuid, program_id: Uuid, version: u64) -> TantivyDocument {
        let f = &self.fields;
        let mut document = TantivyDocument::new();
        document.add_bytes(f.id, id.as_bytes());
        document.add_u64(f.kind, kind_ordinal(kind));
        document.add_bytes(f.program_id, program_id.as_bytes());
        document.add_u64(f.version, version);
        document
    }

    fn tombstone(&self, kind: ContentKind, id: Uuid, program_id: Uuid, version: u64) -> TantivyDocument {
        let f = &self.fields;
        let mut document = self.base_document(kind, id, program_id, version);
        // Every columnar field gets a value so each column is dense (read without an index).
        document.add_u64(f.packed, Packed::new(false, kind, 0, 0).0);
        document.add_u64(f.duration_seconds, 0);
        document.add_i64(f.publish_date, 0);
        document
    }

    fn visible_document(&self, snapshot: &ContentSnapshot) -> TantivyDocument {
        let f = &self.fields;
        let mut document =
            self.base_document(snapshot.kind(), snapshot.id(), snapshot.program_id(), snapshot.version());
        let (title, description, category, language, duration, publish_date, artwork) = match snapshot {
            ContentSnapshot::Program(p) => (
                p.title.as_str(),
                p.description.as_str(),
                p.category,
                p.language,
                p.duration_seconds.map(|d| d.get()),
                p.publish_date,
                p.artwork_url.as_deref(),
            ),
            ContentSnapshot::Episode(e) => (
                e.title.as_str(),
                e.description.as_str(),
                e.category,
                e.language,
                Some(e.duration_seconds.get()),
                e.publish_date,
                e.artwork_url.as_deref(),
            ),
        };
        document.add_text(f.title, tag_with_language(language, title));
        document.add_text(f.description, tag_with_language(language, description));
        document.add_u64(f.category, category.ordinal());
        document.add_u64(f.language, language.ordinal());
        document.add_u64(f.packed, Packed::new(true, snapshot.kind(), category.ordinal(), language.ordinal()).0);
        document.add_u64(f.duration_seconds, duration.unwrap_or(0));
        document.add_i64(f.publish_date, publish_date.map_or(0, |d| d.unix_seconds()));
        if let Some(artwork) = artwork {
            document.add_text(f.artwork_url, artwork);
        }
        document
    }
}
