//! MediaMesh's discovery engine: a Tantivy index of programs and episodes with analysis per
//! language, faceted search, browse, suggestions and related items, behind size-bounded caches.
//!
//! The engine is a library. It does no network I/O and knows nothing of Kafka or HTTP: the indexer
//! feeds it through [`EngineWriter`] (one writer per index directory), and gateways query it through
//! [`Engine`], which reloads whenever a commit lands, also when another process made it.
#![forbid(unsafe_code)]

mod analysis;
mod automata;
mod cache;
mod collector;
mod error;
mod highlight;
mod matching;
mod query;
mod replica;
mod request;
mod schema;
mod search;
mod segments;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tantivy::directory::MmapDirectory;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, ReloadPolicy};

pub use analysis::{is_cjk, words};
pub use cache::CacheStats;
pub use error::{EngineError, Result};
pub use query::{ParsedQuery, QueryWord, parse as parse_query};
pub use replica::{Replica, current_generation, new_generation, switch_generation};
pub use request::{
    FacetCount, Facets, Highlights, Hit, MAX_PER_PAGE, MAX_QUERY_CHARS, MAX_RESULT_WINDOW, SearchRequest,
    SearchResponse, Sort, Suggestion,
};
pub use writer::{EngineWriter, WriteOutcome, WriterConfig};

use crate::cache::Caches;
use crate::schema::Fields;
use crate::segments::SegmentCache;

/// How an [`Engine`] is opened.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Bytes the result caches may hold; 0 turns them off.
    pub cache_bytes: u64,
    /// Document-store blocks kept per segment. 0 by default: blocks are stored uncompressed, so a
    /// cached block would save only a 4 KiB copy, and every read would take the cache's lock.
    pub doc_store_cache_blocks: usize,
    /// Segments with at least this many documents share one merged lexicon for typo and prefix
    /// expansion; smaller (recent) segments keep their own.
    pub merged_lexicon_min_docs: u32,
    /// Derive each new segment's search data (and the merged lexicon) as commits are loaded, so no
    /// query pays for it. A process that mostly writes (the indexer) turns this off: a query then
    /// derives what it needs on first use.
    pub warm: bool,
}

impl EngineConfig {
    /// For a process that writes the index and searches it rarely: no caches, no warming.
    pub fn writer_side() -> Self {
        Self { cache_bytes: 0, warm: false, ..Self::default() }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { cache_bytes: 64 * 1024 * 1024, doc_store_cache_blocks: 0, merged_lexicon_min_docs: 20_000, warm: true }
    }
}

/// Sizes of the index, for metrics and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct IndexStats {
    /// Documents, tombstones included.
    pub documents: u64,
    pub segments: usize,
    pub generation: u64,
    /// Documents in segments sorted into runs of one packed value, which text search admits run by
    /// run; the rest (segments written unsorted by an older build, merged from such segments, or
    /// too small) are admitted document by document. Counted over the segments derived for search
    /// (every segment of a warmed searcher; none in a writer-side engine, which derives nothing).
    pub run_documents: u64,
}

/// A reader of one index directory: search, browse, suggest, related, get.
pub struct Engine {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    caches: Caches,
    /// Data derived once per segment (packed column, lexicon); kept current by the reader's warmer.
    segments: Arc<SegmentCache>,
    directory: PathBuf,
    /// Size and modification time of `meta.json` when this reader last reloaded.
    last_meta: std::sync::Mutex<Option<(u64, std::time::SystemTime)>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("directory", &self.directory).finish_non_exhaustive()
    }
}

fn meta_stamp(directory: &Path) -> Option<(u64, std::time::SystemTime)> {
    let metadata = std::fs::metadata(directory.join("meta.json")).ok()?;
    Some((metadata.len(), metadata.modified().ok()?))
}

/// Bytes per doc-store block (Tantivy's default is 16 KiB).
const DOCSTORE_BLOCK_BYTES: usize = 4096;
/// Document-store blocks are kept uncompressed: rendering a hit then copies its block instead of
/// decompressing it (a document read went from 6.4 to 3.9 µs), for a store about 40 % larger
/// (536 MB against 389 MB for the 1,050,000-document benchmark catalog; BENCHMARKS.md).
const DOCSTORE_COMPRESSION: tantivy::store::Compressor = tantivy::store::Compressor::None;

impl Engine {
    /// Opens the index in `directory`, creating the directory and an empty index if needed.
    pub fn open(directory: impl AsRef<Path>, config: EngineConfig) -> Result<Self> {
        let directory = directory.as_ref().to_path_buf();
        std::fs::create_dir_all(&directory)?;
        let mmap = MmapDirectory::open(&directory)?;
        let exists = Index::exists(&mmap).map_err(|e| EngineError::Io(std::io::Error::other(e)))?;
        let mut index = if exists {
            Index::open(mmap)?
        } else {
            let (schema, _) = schema::build();
            // Small doc-store blocks: a page of hits reads 20 scattered documents, and each read
            // copies a whole block.
            let settings = tantivy::IndexSettings {
                docstore_blocksize: DOCSTORE_BLOCK_BYTES,
                docstore_compression: DOCSTORE_COMPRESSION,
                ..Default::default()
            };
            match Index::create(mmap, schema, settings) {
                Ok(index) => index,
                // Another process created it between our check and our create.
                Err(_) => Index::open_in_dir(&directory)?,
            }
        };
        // Also on an index an older build created with compressed blocks: its segments are
        // rewritten uncompressed as they merge.
        index.settings_mut().docstore_compression = DOCSTORE_COMPRESSION;
        // Segments sorted by the packed column (language, category, kind, visibility), so that a
        // search admits and counts a window's matches run by run (the collector's `window_runs`).
        // Also on an index an older build wrote unsorted: new segments are sorted, and a merge of
        // unsorted ones is valid but has short runs, which the collector reads document by document.
        index.settings_mut().sort_by_field =
            Some(tantivy::IndexSortByField { field: schema::names::PACKED.to_owned(), order: tantivy::Order::Asc });
        index
            .tokenizers()
            .register(analysis::TOKENIZER_NAME, TextAnalyzer::from(analysis::MediaMeshTokenizer::default()));
        let fields = Fields::from_schema(&index.schema())?;
        let segments = Arc::new(SegmentCache::new(fields.clone(), config.merged_lexicon_min_docs));
        let warmer: Arc<dyn tantivy::Warmer> = Arc::clone(&segments) as _;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .doc_store_cache_num_blocks(config.doc_store_cache_blocks)
            .warmers(if config.warm { vec![Arc::downgrade(&warmer)] } else { Vec::new() })
            .try_into()?;
        let last_meta = std::sync::Mutex::new(meta_stamp(&directory));
        Ok(Self { index, reader, fields, caches: Caches::new(config.cache_bytes), segments, directory, last_meta })
    }

    /// A writer for this index. Only one may exist per directory, across processes.
    pub fn writer(&self, config: WriterConfig) -> Result<EngineWriter> {
        EngineWriter::new(&self.index, self.reader.clone(), self.fields.clone(), config)
    }

    /// The checkpoint the last commit stored (the indexer keeps its Kafka offsets there).
    pub fn checkpoint(&self) -> Result<Option<String>> {
        Ok(self.index.load_metas()?.payload)
    }

    /// Makes the latest commit visible now rather than when the file watcher notices it.
    pub fn reload(&self) -> Result<()> {
        Ok(self.reader.reload()?)
    }

    /// Reloads if a commit landed since the last reload (one `stat` when none did). Tantivy's own
    /// watcher notices another process's commits only every 500 ms; a reader that wants them
    /// sooner calls this on its own cadence.
    pub fn reload_if_changed(&self) -> Result<bool> {
        let stamp = meta_stamp(&self.directory);
        let mut last = self.last_meta.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if stamp == *last {
            return Ok(false);
        }
        self.reader.reload()?;
        *last = stamp;
        Ok(true)
    }

    pub fn stats(&self) -> IndexStats {
        let searcher = self.reader.searcher();
        let run_documents = searcher
            .segment_readers()
            .iter()
            .filter(|reader| self.segments.derived(reader).is_some_and(|data| !data.runs.is_empty()))
            .map(|reader| u64::from(reader.num_docs()))
            .sum();
        IndexStats {
            documents: searcher.num_docs(),
            segments: searcher.segment_readers().len(),
            generation: searcher.generation().generation_id(),
            run_documents,
        }
    }

    /// Changes with every commit this reader has loaded: results computed under one value stay
    /// valid until it changes.
    pub fn searcher_generation(&self) -> u64 {
        self.reader.searcher().generation().generation_id()
    }

    pub fn cache_stats(&self) -> CacheStats {
        self.caches.stats()
    }

    /// Use of the cache of typo and prefix expansions.
    pub fn expansion_cache_stats(&self) -> CacheStats {
        self.segments.expansion_stats()
    }

    /// Use of the variants kept per large lexicon, which expansions not cached for the current
    /// generation (after a commit) start from.
    pub fn lexicon_expansion_stats(&self) -> CacheStats {
        self.segments.lexicon_expansion_stats()
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }
}
