//! The process-wide block cache (HBase's BlockCache): decompressed SSTable data blocks
//! keyed by `(file cache id, block offset)`, bounded in bytes, shared by every region.
//!
//! Built on `quick_cache::sync::Cache`, chosen because:
//! - its S3-FIFO policy is scan-resistant: a new block enters a small probationary queue
//!   and is promoted to the main queue only if it is read again, so one large scan cycles
//!   through the small queue instead of flushing the hot set (an LRU would lose it);
//! - it weighs entries, so the bound is in bytes ([`BlockWeighter`]: block bytes plus a
//!   fixed per-entry overhead) rather than in entries of uneven size;
//! - `get_value_or_guard` lets the first reader of a missing block load it while
//!   concurrent readers of the same block wait for that one load instead of each reading
//!   and decompressing it;
//! - its `Lifecycle::on_evict` hook lets us count evictions.
//!
//! The cache is sharded (each shard has its own lock and a share of the capacity), so the
//! total weight stays within the capacity plus at most one shard's rounding; a block
//! heavier than a shard's main queue is not admitted (and counted as an eviction).
//! A capacity of 0 disables the cache: every lookup misses and nothing is stored.
//! All methods take `&self` and are safe to call from any thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use quick_cache::sync::{Cache, GuardResult};
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};

use crate::error::Result;
use crate::sstable::{Block, BlockBuffers};

/// Bytes charged per cached block on top of its data: the `Block` and `Arc` headers and
/// the cache's own entry, roughly.
pub const ENTRY_OVERHEAD_BYTES: u64 = 96;

/// Block size assumed when sizing the cache's hash tables and shards (between the
/// default 64 KiB data block and the small blocks of point-read-heavy families).
const ESTIMATED_BLOCK_BYTES: u64 = 16 * 1024;

/// Share of the capacity a prefetch fills at most (see
/// [`BlockCache::has_room_for_prefetch`]); below the cache's hot section (97% in
/// quick_cache), so prefetched blocks enter as hot ones and reads' blocks keep room.
pub const PREFETCH_FILL_LIMIT: f64 = 0.9;

/// Cache key: `(SsTable::cache_id(), block offset)`.
type Key = (u64, u64);

/// Weighs a cached block by its bytes.
#[derive(Clone, Debug, Default)]
pub struct BlockWeighter;

impl Weighter<Key, Arc<Block>> for BlockWeighter {
    fn weight(&self, _key: &Key, block: &Arc<Block>) -> u64 {
        block.size_bytes() as u64 + ENTRY_OVERHEAD_BYTES
    }
}

/// Counts evictions; evicted blocks are parked in the request state so their memory is
/// freed after the shard lock is released (as quick_cache's default lifecycle does).
#[derive(Clone, Debug)]
struct EvictionCounter(Arc<AtomicU64>);

impl Lifecycle<Key, Arc<Block>> for EvictionCounter {
    type RequestState = [Option<(Key, Arc<Block>)>; 2];

    fn on_evict(&self, state: &mut Self::RequestState, key: Key, block: Arc<Block>) {
        self.0.fetch_add(1, Ordering::Relaxed);
        if let Some(slot) = state.iter_mut().find(|s| s.is_none()) {
            *slot = Some((key, block));
        }
    }
}

type Inner = Cache<Key, Arc<Block>, BlockWeighter, DefaultHashBuilder, EvictionCounter>;

/// A point-in-time view of the cache's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockCacheStats {
    /// Configured capacity in bytes.
    pub capacity_bytes: u64,
    /// Current weight of the cached blocks in bytes (data + per-entry overhead).
    pub size_bytes: u64,
    /// Blocks cached now.
    pub entries: u64,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to read the file.
    pub misses: u64,
    /// Blocks evicted to make room (including blocks too large to admit).
    pub evictions: u64,
    /// Blocks inserted.
    pub inserts: u64,
    /// Block reads that decompressed or copied into a dropped block's buffer instead of
    /// a new, zeroed one (see `sstable/buffers.rs`).
    pub buffers_reused: u64,
}

/// The shared block cache. See the module docs.
pub struct BlockCache {
    /// `None` when the capacity is 0.
    cache: Option<Inner>,
    capacity_bytes: u64,
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    evictions: Arc<AtomicU64>,
    /// Buffers of dropped blocks, for the next block read.
    buffers: Arc<BlockBuffers>,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("stats", &self.stats())
            .finish()
    }
}

impl BlockCache {
    /// A cache holding up to `capacity_bytes` of blocks; 0 disables caching.
    pub fn new(capacity_bytes: u64) -> Arc<Self> {
        let evictions = Arc::new(AtomicU64::new(0));
        let cache = (capacity_bytes > 0).then(|| {
            let estimated_items = (capacity_bytes / ESTIMATED_BLOCK_BYTES).max(1);
            Cache::with(
                usize::try_from(estimated_items).unwrap_or(usize::MAX),
                capacity_bytes,
                BlockWeighter,
                DefaultHashBuilder::default(),
                EvictionCounter(evictions.clone()),
            )
        });
        Arc::new(BlockCache {
            cache,
            capacity_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            inserts: AtomicU64::new(0),
            evictions,
            buffers: Arc::default(),
        })
    }

    /// The pool the blocks read for this cache take their buffers from and return them
    /// to.
    pub fn buffers(&self) -> &Arc<BlockBuffers> {
        &self.buffers
    }

    /// True unless the capacity is 0.
    pub fn is_enabled(&self) -> bool {
        self.cache.is_some()
    }

    /// The cached block at `(file, offset)`, if present (a hit is counted; an absence is
    /// not a miss, since the caller then reads the block the normal way).
    pub fn get_cached(&self, file: u64, offset: u64) -> Option<Arc<Block>> {
        let block = self.cache.as_ref()?.get(&(file, offset))?;
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(block)
    }

    /// Counts a miss and inserts `block`, which the caller loaded itself at `(file,
    /// offset)` after [`get_cached`](Self::get_cached) found nothing. Never waits: if
    /// another thread is loading the same block, both copies are equal and either may
    /// stay cached.
    pub fn insert_loaded(&self, file: u64, offset: u64, block: Arc<Block>) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        if let Some(cache) = &self.cache {
            cache.insert((file, offset), block);
            self.inserts.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// True if the block at `(file, offset)` is cached (nothing is counted, and the
    /// block is not marked as read).
    pub fn contains(&self, file: u64, offset: u64) -> bool {
        self.cache
            .as_ref()
            .is_some_and(|c| c.contains_key(&(file, offset)))
    }

    /// True while a prefetch may add blocks: the cache is enabled and under
    /// [`PREFETCH_FILL_LIMIT`] of its capacity, so prefetching only fills free room and
    /// never pushes out blocks that reads brought in.
    pub fn has_room_for_prefetch(&self) -> bool {
        match &self.cache {
            Some(c) => (c.weight() as f64) < self.capacity_bytes as f64 * PREFETCH_FILL_LIMIT,
            None => false,
        }
    }

    /// Drops the cached blocks of file `file` at `offsets` (a file that is closed for
    /// good); not counted as evictions, which are the policy's.
    pub fn remove_file(&self, file: u64, offsets: impl Iterator<Item = u64>) {
        if let Some(cache) = &self.cache {
            for offset in offsets {
                cache.remove(&(file, offset));
            }
        }
    }

    /// Inserts a block a prefetch loaded (counted as an insert, not as a miss).
    pub fn insert_prefetched(&self, file: u64, offset: u64, block: Arc<Block>) {
        if let Some(cache) = &self.cache {
            cache.insert((file, offset), block);
            self.inserts.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Returns the cached block at `(file, offset)`, or calls `load` on a miss. With
    /// `fill` the loaded block is inserted, and concurrent callers for the same block wait
    /// for this one load; without it (large scans, as HBase's `setCacheBlocks(false)`) a
    /// cached block is still used but a loaded one is not inserted. A failed `load` caches
    /// nothing and returns its error.
    pub fn get_or_load(
        &self,
        file: u64,
        offset: u64,
        fill: bool,
        load: impl FnOnce() -> Result<Arc<Block>>,
    ) -> Result<Arc<Block>> {
        let Some(cache) = &self.cache else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return load();
        };
        let key = (file, offset);
        if !fill {
            if let Some(block) = cache.get(&key) {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(block);
            }
            self.misses.fetch_add(1, Ordering::Relaxed);
            return load();
        }
        match cache.get_value_or_guard(&key, None) {
            GuardResult::Value(block) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Ok(block)
            }
            GuardResult::Guard(guard) => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                // On error the guard drops uninserted and a waiter takes over the load.
                let block = load()?;
                if guard.insert(block.clone()).is_ok() {
                    self.inserts.fetch_add(1, Ordering::Relaxed);
                }
                Ok(block)
            }
            // Only returned for a finite timeout; kept total rather than unreachable.
            GuardResult::Timeout => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                load()
            }
        }
    }

    /// The counters and current size.
    pub fn stats(&self) -> BlockCacheStats {
        let (size_bytes, entries) = self
            .cache
            .as_ref()
            .map_or((0, 0), |c| (c.weight(), c.len() as u64));
        BlockCacheStats {
            capacity_bytes: self.capacity_bytes,
            size_bytes,
            entries,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            inserts: self.inserts.load(Ordering::Relaxed),
            buffers_reused: self.buffers.reused(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sstable::block_for_test;
    use std::cell::Cell;

    const BLOCK: usize = 1024;
    const WEIGHT: u64 = BLOCK as u64 + ENTRY_OVERHEAD_BYTES;

    /// Looks up `(1, offset)`, loading a fresh block on a miss; returns whether it hit.
    fn touch(cache: &BlockCache, offset: u64, fill: bool) -> bool {
        let loaded = Cell::new(false);
        cache
            .get_or_load(1, offset, fill, || {
                loaded.set(true);
                Ok(block_for_test(BLOCK))
            })
            .unwrap();
        !loaded.get()
    }

    #[test]
    fn counts_hits_misses_and_inserts() {
        let cache = BlockCache::new(64 * WEIGHT);
        assert!(!touch(&cache, 0, true));
        assert!(touch(&cache, 0, true));
        assert!(touch(&cache, 0, false));
        let s = cache.stats();
        assert_eq!((s.hits, s.misses, s.inserts, s.entries), (2, 1, 1, 1));
        assert_eq!(s.size_bytes, WEIGHT);
    }

    #[test]
    fn no_fill_uses_but_never_inserts() {
        let cache = BlockCache::new(64 * WEIGHT);
        assert!(!touch(&cache, 7, false));
        assert!(!touch(&cache, 7, false));
        assert_eq!(cache.stats().entries, 0);
        assert_eq!(cache.stats().inserts, 0);
        touch(&cache, 7, true);
        assert!(touch(&cache, 7, false));
    }

    #[test]
    fn failed_load_caches_nothing() {
        let cache = BlockCache::new(64 * WEIGHT);
        let r = cache.get_or_load(1, 0, true, || {
            Err(crate::Error::InvalidArgument("x".into()))
        });
        assert!(r.is_err());
        assert!(
            !touch(&cache, 0, true),
            "the failed load must not leave an entry"
        );
    }

    #[test]
    fn zero_capacity_is_disabled() {
        let cache = BlockCache::new(0);
        assert!(!cache.is_enabled());
        assert!(!touch(&cache, 0, true));
        assert!(!touch(&cache, 0, true));
        let s = cache.stats();
        assert_eq!((s.hits, s.misses, s.entries, s.size_bytes), (0, 2, 0, 0));
    }

    #[test]
    fn size_stays_within_capacity_and_evictions_are_counted() {
        let capacity = 100 * WEIGHT;
        let cache = BlockCache::new(capacity);
        for offset in 0..1000 {
            touch(&cache, offset, true);
            let s = cache.stats();
            assert!(s.size_bytes <= capacity + WEIGHT, "{s:?}");
        }
        let s = cache.stats();
        assert!(s.entries > 50, "cache should be nearly full: {s:?}");
        assert_eq!(s.inserts, 1000);
        assert_eq!(s.evictions, s.inserts - s.entries, "{s:?}");
    }

    #[test]
    fn a_large_scan_does_not_evict_the_hot_set() {
        let cache = BlockCache::new(256 * WEIGHT);
        let hot: Vec<u64> = (0..64).collect();
        // Warm up to a steady state: the hot set is re-read between streams of blocks read
        // once, until the cache is full (an empty cache admits anything).
        let mut unique = 1_000_000..;
        for _ in 0..8 {
            for &h in &hot {
                touch(&cache, h, true);
            }
            for u in unique.by_ref().take(300) {
                touch(&cache, u, true);
            }
        }
        assert!(
            cache.stats().size_bytes + 2 * WEIGHT > 256 * WEIGHT,
            "{:?}",
            cache.stats()
        );
        // Read once only, just before the scan: the scan should push these out.
        let once: Vec<u64> = (1000..1064).collect();
        for &o in &once {
            touch(&cache, o, true);
        }
        // One pass over 8x the capacity of never-repeated blocks, filling the cache.
        for offset in 10_000..10_000 + 2048 {
            touch(&cache, offset, true);
        }
        let survivors = |set: &[u64]| set.iter().filter(|&&b| touch(&cache, b, false)).count();
        let (hot_left, once_left) = (survivors(&hot), survivors(&once));
        assert!(
            hot_left * 100 >= hot.len() * 80,
            "only {hot_left}/{} hot blocks survived the scan: {:?}",
            hot.len(),
            cache.stats()
        );
        // The scan did pressure the cache: blocks read once were evicted.
        assert!(
            once_left * 100 <= once.len() * 20,
            "{once_left}/{} read-once blocks survived",
            once.len()
        );
    }

    #[test]
    fn concurrent_misses_load_once() {
        let cache = BlockCache::new(64 * WEIGHT);
        let loads = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    cache
                        .get_or_load(3, 3, true, || {
                            loads.fetch_add(1, Ordering::Relaxed);
                            std::thread::yield_now();
                            Ok(block_for_test(BLOCK))
                        })
                        .unwrap();
                });
            }
        });
        assert_eq!(loads.load(Ordering::Relaxed), 1);
    }
}
