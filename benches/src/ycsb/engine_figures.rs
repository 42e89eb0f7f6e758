//! The embedded server's engine counters over one phase: where a Strata read found its
//! blocks, and what the background work (flushes, compactions) did meanwhile. Only an
//! embedded server has them (`--master` points at another process).

use std::fmt::Write;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strata_storage::Engine;

/// Counters at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct EngineSample {
    gets: u64,
    cache_hits: u64,
    cache_misses: u64,
    blocks_read: u64,
    blocks_read_resident: u64,
    block_bytes_read: u64,
    flushes: u64,
    memstore_compactions: u64,
    memstore_compaction_dropped: u64,
    compactions: u64,
    compaction_bytes_read: u64,
    compaction_bytes_written: u64,
}

impl EngineSample {
    /// The engine's counters now.
    pub fn take(engine: &Engine) -> EngineSample {
        let s = engine.stats();
        let c = engine.block_cache_stats();
        let p = engine.compaction_stats();
        EngineSample {
            gets: s.gets,
            cache_hits: c.hits,
            cache_misses: c.misses,
            blocks_read: s.blocks_read,
            blocks_read_resident: s.blocks_read_resident,
            block_bytes_read: s.block_bytes_read,
            flushes: s.flushes,
            memstore_compactions: s.memstore_compactions,
            memstore_compaction_dropped: s.memstore_compaction_dropped_entries,
            compactions: p.completed,
            compaction_bytes_read: p.bytes_read,
            compaction_bytes_written: p.bytes_written,
        }
    }
}

/// What the engine did during a phase (differences of two samples), and its state at
/// the end.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EngineFigures {
    /// Point gets served.
    pub gets: u64,
    /// Block cache lookups answered from the cache.
    pub block_cache_hits: u64,
    /// Block cache lookups that read the file.
    pub block_cache_misses: u64,
    /// Data blocks read from files.
    pub blocks_read: u64,
    /// Of those, read by gets on the server's async threads because the pages were in
    /// the OS page cache (no blocking-pool hop).
    #[serde(default)]
    pub blocks_read_resident: u64,
    /// Bytes of those blocks.
    pub block_bytes_read: u64,
    /// Memstore flushes finished.
    pub flushes: u64,
    /// In-memory compactions of memstores finished.
    #[serde(default)]
    pub memstore_compactions: u64,
    /// Memstore entries those left out.
    #[serde(default)]
    pub memstore_compaction_dropped_entries: u64,
    /// Region compactions finished.
    pub compactions: u64,
    /// Bytes compactions read.
    pub compaction_bytes_read: u64,
    /// Bytes compactions wrote.
    pub compaction_bytes_written: u64,
    /// Compactions running or queued at the end.
    pub compactions_pending_at_end: u64,
    /// SSTables of all regions at the end.
    pub store_files_at_end: usize,
    /// Bytes of those SSTables.
    pub store_file_bytes_at_end: u64,
    /// Bytes the block cache held at the end.
    pub block_cache_bytes_at_end: u64,
}

impl EngineFigures {
    /// The change from `before` to now, plus the engine's state now.
    pub fn since(engine: &Arc<Engine>, before: &EngineSample) -> EngineFigures {
        let now = EngineSample::take(engine);
        let p = engine.compaction_stats();
        let (mut files, mut bytes) = (0, 0);
        for r in engine.regions() {
            let st = r.status();
            files += st.store_files.values().sum::<usize>();
            bytes += st.store_file_bytes;
        }
        EngineFigures {
            gets: now.gets - before.gets,
            block_cache_hits: now.cache_hits - before.cache_hits,
            block_cache_misses: now.cache_misses - before.cache_misses,
            blocks_read: now.blocks_read - before.blocks_read,
            blocks_read_resident: now.blocks_read_resident - before.blocks_read_resident,
            block_bytes_read: now.block_bytes_read - before.block_bytes_read,
            flushes: now.flushes - before.flushes,
            memstore_compactions: now.memstore_compactions - before.memstore_compactions,
            memstore_compaction_dropped_entries: now.memstore_compaction_dropped
                - before.memstore_compaction_dropped,
            compactions: now.compactions - before.compactions,
            compaction_bytes_read: now.compaction_bytes_read - before.compaction_bytes_read,
            compaction_bytes_written: now.compaction_bytes_written
                - before.compaction_bytes_written,
            compactions_pending_at_end: p.running + p.queued,
            store_files_at_end: files,
            store_file_bytes_at_end: bytes,
            block_cache_bytes_at_end: engine.block_cache_stats().size_bytes,
        }
    }

    /// Block cache hit ratio over the phase (1 when there was no lookup).
    pub fn hit_ratio(&self) -> f64 {
        let lookups = self.block_cache_hits + self.block_cache_misses;
        if lookups == 0 {
            1.0
        } else {
            self.block_cache_hits as f64 / lookups as f64
        }
    }

    /// One `# engine:` line for the text report.
    pub fn text(&self) -> String {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let mut out = String::new();
        let _ = write!(
            out,
            "# engine: {} gets, block cache {:.1}% hits ({} hits, {} misses), {} blocks read \
             ({:.1} MiB, {} of them inline from the page cache); {} flushes, {} in-memory \
             compactions ({} entries dropped), {} compactions ({:.0} MiB read, {:.0} MiB written), \
             {} pending at the end; {} SSTables ({:.0} MiB), cache holds {:.0} MiB",
            self.gets,
            self.hit_ratio() * 100.0,
            self.block_cache_hits,
            self.block_cache_misses,
            self.blocks_read,
            mib(self.block_bytes_read),
            self.blocks_read_resident,
            self.flushes,
            self.memstore_compactions,
            self.memstore_compaction_dropped_entries,
            self.compactions,
            mib(self.compaction_bytes_read),
            mib(self.compaction_bytes_written),
            self.compactions_pending_at_end,
            self.store_files_at_end,
            mib(self.store_file_bytes_at_end),
            mib(self.block_cache_bytes_at_end),
        );
        out
    }
}
