//! Compaction: which files to merge (`picker`), when a region's major compaction is due
//! (`schedule`), the process-wide pool that runs compactions with bounded concurrency
//! and IO rate (`pool`, `rate_limit`). The merge itself is `Region::compact_store`.
//!
//! - minor: a size-tiered ("exploring", as HBase) selection of a store's files is
//!   merged into one; every entry is kept, delete markers included;
//! - major: all files of a store are merged; cells hidden by markers, the markers, cells
//!   past their TTL (beyond `min_versions`) and versions beyond `max_versions` are
//!   dropped, so reads answer the same before and after.

pub mod picker;
pub mod pool;
pub mod rate_limit;
pub mod schedule;

pub use pool::{CompactionPool, CompactionPoolStats};

/// What kind of compaction to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CompactionKind {
    /// Merge a selection of files, keep everything.
    Minor,
    /// Merge all files, drop what no reader can see.
    Major,
}

/// The outcome of compacting one store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreCompaction {
    /// Family name.
    pub family: String,
    /// Files merged.
    pub input_files: usize,
    /// Entries read.
    pub input_entries: u64,
    /// Bytes of input files.
    pub bytes_read: u64,
    /// Entries written (0 if everything was dropped).
    pub output_entries: u64,
    /// Bytes of the output file.
    pub bytes_written: u64,
}

/// The outcome of compacting a region.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Per store that was compacted.
    pub stores: Vec<StoreCompaction>,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
}

impl CompactionReport {
    /// Total bytes read.
    pub fn bytes_read(&self) -> u64 {
        self.stores.iter().map(|s| s.bytes_read).sum()
    }

    /// Total bytes written.
    pub fn bytes_written(&self) -> u64 {
        self.stores.iter().map(|s| s.bytes_written).sum()
    }
}
