//! Fixtures for the criterion micro-benchmarks: encoded entries, SSTables built from
//! them, and scratch directories on tmpfs.
//!
//! Rows are kvbench's keys (16-byte zero-padded decimals), one cell per row in
//! qualifier `v` at timestamp 1 with sequence id `row + 1`; values are kvbench's
//! 100-byte, 50%-compressible values. Everything is deterministic (fixed seeds).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_storage::block_cache::BlockCache;
use strata_storage::iterator::InternalIterator;
use strata_storage::key::{CellType, encode_key};
use strata_storage::sstable::{SsTable, SsTableBuilder, SsTableWriteOptions};
use strata_storage::stats::Stats;

use crate::keys::{SplitMix64, ValuePool};

/// Row key width used by the fixtures.
pub const KEY_SIZE: usize = 16;
/// Value size used by the fixtures.
pub const VALUE_SIZE: usize = 100;

/// The row key of number `n` (as kvbench formats it).
pub fn row(n: u64) -> Vec<u8> {
    let row = format!("{n:0KEY_SIZE$}").into_bytes();
    debug_assert_eq!(
        row.len(),
        KEY_SIZE,
        "row numbers must fit {KEY_SIZE} digits"
    );
    row
}

/// The encoded internal key of row `n`'s only cell.
pub fn entry_key(n: u64) -> Vec<u8> {
    encode_key(&row(n), b"v", 1, CellType::Put, n + 1)
}

/// A value pool with a fixed seed.
pub fn values() -> ValuePool {
    ValuePool::new(VALUE_SIZE, 0.5, &mut SplitMix64::new(42))
}

/// `count` uniformly random numbers below `below`, from a fixed seed.
pub fn random_numbers(count: usize, below: u64, seed: u64) -> Vec<u64> {
    let mut rng = SplitMix64::new(seed);
    (0..count).map(|_| rng.below(below)).collect()
}

/// A scratch directory, on tmpfs (`/dev/shm`) when there is one so disk noise stays out
/// of CPU-bound benchmarks.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let builder = || {
        let mut b = tempfile::Builder::new();
        b.prefix("strata-bench-");
        b
    };
    if shm.is_dir()
        && let Ok(d) = builder().tempdir_in(shm)
    {
        return d;
    }
    builder().tempdir().expect("creating a temp dir")
}

/// Writes an SSTable of rows `0..rows` to `dir/name` and returns its path.
pub fn build_sstable(dir: &Path, name: &str, rows: u64, opts: SsTableWriteOptions) -> PathBuf {
    let path = dir.join(name);
    let opts = SsTableWriteOptions {
        expected_entries: rows as usize,
        ..opts
    };
    let mut builder = SsTableBuilder::create(&path, opts).expect("creating the SSTable");
    let mut values = values();
    for n in 0..rows {
        builder
            .add(&entry_key(n), values.next_value())
            .expect("adding an entry");
    }
    builder.finish().expect("finishing the SSTable");
    path
}

/// Opens `path` with its own block cache of `cache_bytes` (0 = no cache).
pub fn open_sstable(path: &Path, cache_bytes: u64) -> (Arc<SsTable>, Arc<BlockCache>) {
    let cache = BlockCache::new(cache_bytes);
    let table = SsTable::open(path, cache.clone(), Arc::new(Stats::default()))
        .expect("opening the SSTable");
    (table, cache)
}

/// Reads every entry once through the cache, so later reads hit it.
pub fn warm(table: &Arc<SsTable>) -> u64 {
    let mut it = table.iter(true);
    it.seek_to_first().expect("seek");
    let mut n = 0;
    while it.valid() {
        n += 1;
        it.next().expect("next");
    }
    n
}

/// The first key of every data block and the block's entry count, by walking the file.
pub fn block_starts(table: &Arc<SsTable>) -> Vec<(Vec<u8>, usize)> {
    let index = table.index();
    let mut out: Vec<(Vec<u8>, usize)> = Vec::with_capacity(index.len());
    let mut it = table.iter(false);
    it.seek_to_first().expect("seek");
    let mut block = 0;
    let mut start = true;
    while it.valid() {
        if start {
            out.push((it.key().to_vec(), 0));
            start = false;
        }
        if let Some(last) = out.last_mut() {
            last.1 += 1;
        }
        if index
            .get(block)
            .is_some_and(|e| e.last_key.as_slice() == it.key())
        {
            block += 1;
            start = true;
        }
        it.next().expect("next");
    }
    out
}
