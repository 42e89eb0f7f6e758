//! Process-wide engine counters (RocksDB-style named statistics). Cheap relaxed atomics;
//! a snapshot is a plain struct the server turns into metrics.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// Live counters, shared by every region of an engine.
        #[derive(Debug, Default)]
        pub struct Stats {
            $($(#[$doc])* pub $name: AtomicU64,)*
            /// Latency histograms (WAL sync, flush, compaction).
            pub latency: crate::histogram::EngineLatency,
        }

        /// A point-in-time copy of [`Stats`].
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct StatsSnapshot {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl Stats {
            /// Copies every counter.
            pub fn snapshot(&self) -> StatsSnapshot {
                StatsSnapshot { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }
    };
}

counters! {
    /// Bloom filter probes made for point reads.
    bloom_checks,
    /// Probes where the filter said "absent", so the file was skipped.
    bloom_useful,
    /// Probes where the filter said "maybe" but the file held nothing for the key.
    bloom_false_positives,
    /// Data blocks read from files (cache misses and uncached reads).
    blocks_read,
    /// Bytes of data blocks read from files (on-disk size).
    block_bytes_read,
    /// Of `blocks_read`, those read by a cache-only get because the block's pages were in
    /// the OS page cache (no blocking-pool hop; see `sstable/resident.rs`).
    blocks_read_resident,
    /// WAL records appended.
    wal_records,
    /// WAL bytes written to segment files.
    wal_bytes,
    /// WAL fsync/fdatasync calls.
    wal_syncs,
    /// Total time spent in WAL syncs, in microseconds.
    wal_sync_micros,
    /// Memstore flushes completed.
    flushes,
    /// Bytes of SSTables written by flushes.
    flush_bytes,
    /// Total flush time in microseconds.
    flush_micros,
    /// Time background flushes waited for compaction (too many store files), µs.
    flush_blocked_micros,
    /// Memstore entries a flush left out: puts no reader could see any more
    /// (`memstore.drop_hidden_versions`).
    flush_dropped_entries,
    /// In-memory compactions of memstores completed (`memstore.in_memory_compaction`).
    memstore_compactions,
    /// Memstore entries in-memory compactions left out (hidden from every reader).
    memstore_compaction_dropped_entries,
    /// Total in-memory compaction time in microseconds.
    memstore_compaction_micros,
    /// Point gets served.
    gets,
    /// Rows returned by scans.
    scan_rows,
    /// Row mutations applied.
    mutations,
}

impl Stats {
    /// Adds `n` to a counter.
    #[inline]
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
