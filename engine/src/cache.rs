//! Result caches, keyed by the normalised request and the searcher generation.
//!
//! A commit opens a new generation, so entries of older generations can never be served again
//! (they age out by size); a cached answer is therefore never stale. Capacity is bounded by an
//! estimate of each entry's bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use moka::sync::Cache;
use serde::Serialize;

use crate::request::{Facets, Hit, SearchRequest, SearchResponse, Suggestion};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum CacheKey {
    Search {
        generation: u64,
        request: SearchRequest,
    },
    /// Facet counts of a browse, which do not depend on order or page.
    BrowseFacets {
        generation: u64,
        request: SearchRequest,
    },
    Suggest {
        generation: u64,
        prefix: String,
        limit: usize,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum CacheValue {
    Search(Arc<SearchResponse>),
    Facets(Arc<Facets>),
    Suggest(Arc<Vec<Suggestion>>),
}

/// Counters of cache use, for metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: u64,
    pub weighted_bytes: u64,
}

#[derive(Debug)]
pub(crate) struct Caches {
    entries: Option<Cache<CacheKey, CacheValue>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Caches {
    /// `capacity_bytes == 0` turns caching off.
    pub fn new(capacity_bytes: u64) -> Self {
        let entries = (capacity_bytes > 0).then(|| {
            Cache::builder()
                .max_capacity(capacity_bytes)
                .weigher(|key: &CacheKey, value: &CacheValue| {
                    u32::try_from(key_bytes(key) + value_bytes(value)).unwrap_or(u32::MAX)
                })
                .build()
        });
        Self { entries, hits: AtomicU64::new(0), misses: AtomicU64::new(0) }
    }

    pub fn get(&self, key: &CacheKey) -> Option<CacheValue> {
        let entries = self.entries.as_ref()?;
        let found = entries.get(key);
        let (counter, metric) = if found.is_some() {
            (&self.hits, "engine_cache_hits_total")
        } else {
            (&self.misses, "engine_cache_misses_total")
        };
        counter.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(metric, "cache" => key.kind()).increment(1);
        found
    }

    pub fn insert(&self, key: CacheKey, value: CacheValue) {
        if let Some(entries) = &self.entries {
            entries.insert(key, value);
        }
    }

    pub fn stats(&self) -> CacheStats {
        stats_of(self.entries.as_ref(), &self.hits, &self.misses)
    }
}

/// The use of `cache` (none when it is off), with its hit and miss counters.
pub(crate) fn stats_of<K, V>(cache: Option<&Cache<K, V>>, hits: &AtomicU64, misses: &AtomicU64) -> CacheStats
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    let (entries, weighted_bytes) = cache.map_or((0, 0), |cache| {
        cache.run_pending_tasks();
        (cache.entry_count(), cache.weighted_size())
    });
    CacheStats { hits: hits.load(Ordering::Relaxed), misses: misses.load(Ordering::Relaxed), entries, weighted_bytes }
}

impl CacheKey {
    fn kind(&self) -> &'static str {
        match self {
            Self::Search { .. } => "search",
            Self::BrowseFacets { .. } => "browse_facets",
            Self::Suggest { .. } => "suggest",
        }
    }
}

const OVERHEAD: usize = 64;

fn key_bytes(key: &CacheKey) -> usize {
    OVERHEAD
        + match key {
            CacheKey::Search { request, .. } | CacheKey::BrowseFacets { request, .. } => {
                std::mem::size_of::<SearchRequest>()
                    + request.text.as_ref().map_or(0, String::len)
                    + request.categories.len()
                    + request.languages.len()
            }
            CacheKey::Suggest { prefix, .. } => prefix.len(),
        }
}

fn value_bytes(value: &CacheValue) -> usize {
    OVERHEAD
        + match value {
            CacheValue::Search(response) => {
                response.hits.iter().map(hit_bytes).sum::<usize>() + facets_bytes(&response.facets)
            }
            CacheValue::Facets(facets) => facets_bytes(facets),
            CacheValue::Suggest(suggestions) => {
                suggestions.iter().map(|s| std::mem::size_of::<Suggestion>() + s.id.len() + s.title.len()).sum()
            }
        }
}

fn hit_bytes(hit: &Hit) -> usize {
    std::mem::size_of::<Hit>()
        + hit.id.len()
        + hit.program_id.len()
        + hit.title.len()
        + hit.description.len()
        + hit.publish_date.as_ref().map_or(0, String::len)
        + hit.artwork_url.as_ref().map_or(0, String::len)
        + hit.highlights.title.as_ref().map_or(0, String::len)
        + hit.highlights.description.as_ref().map_or(0, String::len)
}

fn facets_bytes(facets: &Facets) -> usize {
    (facets.category.len() + facets.language.len()) * 40
}
