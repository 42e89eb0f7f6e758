//! The small key-value interface kvbench drives, and the settings every engine gets.
//!
//! Each engine adapter (`strata_kv`, and behind cargo features `fjall_kv` and
//! `rocksdb_kv`) maps [`StoreConfig`] onto its own options as closely as its knobs allow;
//! the mapping is printed at open ([`KvStore::describe`]) and documented in
//! `benches/README.md`. One thread drives a store; the concurrent benchmarks
//! (`readwhilewriting`, `readwhilecompacting`) give a second thread a [`KvHandle`].

use std::path::Path;

use anyhow::Result;

/// How far a write gets before it returns (`--wal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum WalMode {
    /// No log record (Strata `Durability::Skip`, RocksDB `disableWAL`).
    None,
    /// Logged, synced in the background (Strata `Durability::Async`).
    Async,
    /// Logged and handed to the OS before returning, no fsync (db_bench's default
    /// `--sync=0`; Strata `Durability::Flush`).
    Flush,
    /// Logged and fsynced before returning (db_bench `--sync=1`; Strata `Durability::Fsync`).
    Fsync,
}

/// Block compression (`--compression`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum CompressionMode {
    /// lz4 block compression.
    Lz4,
    /// Uncompressed blocks.
    None,
}

/// Settings applied to every engine.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StoreConfig {
    /// Block cache capacity in bytes.
    pub cache_size_bytes: u64,
    /// Memstore / memtable size that triggers a flush.
    pub write_buffer_size_bytes: u64,
    /// Uncompressed data block size.
    pub block_size_bytes: usize,
    /// Data block compression.
    pub compression: CompressionMode,
    /// Bloom filter bits per key.
    pub bloom_bits_per_key: f64,
    /// Write durability.
    pub wal: WalMode,
    /// Strata's `server.memory_limit` (None: the engine default, 2 GiB).
    pub memory_limit_bytes: Option<u64>,
    /// Strata's `memstore.stall_timeout` (None: the engine default, 10 s).
    pub stall_timeout: Option<std::time::Duration>,
    /// Compaction IO budget in bytes per second, 0 = unlimited (Strata
    /// `compaction.max_bytes_per_sec`, read + written; RocksDB's rate limiter, written
    /// bytes of flushes and compactions; fjall has none).
    pub compaction_bytes_per_sec: u64,
}

/// Bytes an engine wrote to disk since the store was opened, from its own counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DiskWrites {
    /// Write-ahead log / journal.
    pub wal: u64,
    /// SSTables written by flushes.
    pub flush: u64,
    /// SSTables written by compactions.
    pub compaction: u64,
}

impl DiskWrites {
    /// All three together.
    pub fn total(&self) -> u64 {
        self.wal + self.flush + self.compaction
    }

    /// `self - earlier`, per field.
    pub fn since(&self, earlier: &DiskWrites) -> DiskWrites {
        DiskWrites {
            wal: self.wal.saturating_sub(earlier.wal),
            flush: self.flush.saturating_sub(earlier.flush),
            compaction: self.compaction.saturating_sub(earlier.compaction),
        }
    }
}

/// What a second thread may do to a store while the benchmark thread uses it.
pub trait KvHandle: Send {
    /// As [`KvStore::put`].
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()>;

    /// Compacts everything into the last level and waits for it (Strata
    /// `Region::compact(Major)`, RocksDB `compact_range` forcing the bottommost level,
    /// fjall `Keyspace::major_compact`). Returns a short summary.
    fn compact_major(&mut self) -> Result<String>;
}

impl StoreConfig {
    /// The false-positive rate of a bloom filter with `bloom_bits_per_key` bits per key
    /// and the optimal number of hash functions: `p = 0.5^(bits * ln 2) ≈ 0.6185^bits`
    /// (0.0082 for 10 bits). Engines configured by rate (Strata) get this value.
    pub fn bloom_fp_rate(&self) -> f64 {
        0.5f64.powf(self.bloom_bits_per_key * std::f64::consts::LN_2)
    }
}

/// What kvbench needs from an engine.
pub trait KvStore {
    /// Short engine name.
    fn name(&self) -> &'static str;

    /// One line describing how [`StoreConfig`] was mapped onto the engine's options.
    fn describe(&self) -> String;

    /// Writes `value` under `key` with the configured durability.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()>;

    /// Reads `key`; returns the value's length if present.
    fn get(&mut self, key: &[u8]) -> Result<Option<usize>>;

    /// Visits up to `limit` rows in key order from the first key `>= start` (empty = from
    /// the first key); returns how many were visited.
    fn scan(
        &mut self,
        start: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize>;

    /// Writes every memstore/memtable to files and waits until background flushes and
    /// compactions are done, so reads that follow hit files. Returns a short summary
    /// (file counts).
    fn flush_and_settle(&mut self) -> Result<String>;

    /// Engine counters worth printing after a benchmark, if any (cumulative).
    fn counters(&self) -> Option<String> {
        None
    }

    /// A handle for another thread (writer or compactor), if the adapter has one.
    fn handle(&self) -> Option<Box<dyn KvHandle>> {
        None
    }

    /// Bytes written to disk since open, by kind, if the engine counts them.
    fn disk_writes(&self) -> Option<DiskWrites> {
        None
    }
}

/// Opens a fresh store of engine `name` in the empty directory `dir`.
pub fn open_store(name: &str, dir: &Path, cfg: &StoreConfig) -> Result<Box<dyn KvStore>> {
    match name {
        "strata" => Ok(Box::new(crate::strata_kv::StrataStore::open(dir, cfg)?)),
        #[cfg(feature = "fjall")]
        "fjall" => Ok(Box::new(crate::fjall_kv::FjallStore::open(dir, cfg)?)),
        #[cfg(feature = "rocksdb")]
        "rocksdb" => Ok(Box::new(crate::rocksdb_kv::RocksDbStore::open(dir, cfg)?)),
        other => anyhow::bail!(
            "engine {other:?} is not available in this build (built-in: {})",
            available_engines().join(", ")
        ),
    }
}

/// Engines compiled into this build, Strata first.
pub fn available_engines() -> Vec<&'static str> {
    let mut v = vec!["strata"];
    if cfg!(feature = "fjall") {
        v.push("fjall");
    }
    if cfg!(feature = "rocksdb") {
        v.push("rocksdb");
    }
    v
}

/// Polls `done` every 20 ms until it holds or `deadline` passes (then fails naming `what`).
pub fn wait_until(
    what: &str,
    deadline: std::time::Duration,
    mut done: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let until = std::time::Instant::now() + deadline;
    while !done()? {
        if std::time::Instant::now() > until {
            anyhow::bail!("{what} did not finish within {deadline:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(())
}
