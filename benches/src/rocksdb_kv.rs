//! kvbench's RocksDB adapter (cargo feature `rocksdb`; the `rocksdb` crate 0.20 linked
//! against Debian's librocksdb, see `benches/README.md`).
//!
//! Mapping of [`StoreConfig`]:
//! - `Options`: `create_if_missing`, `set_write_buffer_size(write buffer)`,
//!   `set_compression_type(Lz4 | None)` (all levels), everything else default (leveled
//!   compaction, 2 background jobs, 2 write buffers);
//! - `BlockBasedOptions`: `set_block_size(block size)`,
//!   `set_bloom_filter(bits per key, false)` (full filters),
//!   `set_block_cache(Cache::new_lru_cache(cache size))`; index and filter blocks stay
//!   outside the cache (default `cache_index_and_filter_blocks = false`), as Strata and
//!   fjall keep theirs in memory;
//! - `WriteOptions`: `disable_wal(true)` for `--wal none`; default (WAL written to the
//!   OS, no sync) for `async` and `flush`; `set_sync(true)` for `fsync`;
//! - `enable_statistics()`, so [`KvStore::disk_writes`] reads the tickers
//!   `rocksdb.wal.bytes`, `rocksdb.flush.write.bytes` and `rocksdb.compact.write.bytes`;
//! - `--compaction_max_bytes_per_sec N` (N > 0): `set_ratelimiter(N, 100 ms, 10)`, which
//!   paces the bytes flushes and compactions write (Strata's budget counts reads too).
//!
//! A major compaction is `compact_range_opt(None, None)` with
//! `BottommostLevelCompaction::Force`, so the last level is rewritten as well (the
//! default skips it when no compaction filter is set).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rocksdb::{
    BlockBasedOptions, BottommostLevelCompaction, Cache, CompactOptions, DB, DBCompressionType,
    Options, WriteOptions,
};

use crate::kv::{CompressionMode, DiskWrites, KvHandle, KvStore, StoreConfig, WalMode, wait_until};

/// RocksDB behind [`KvStore`].
pub struct RocksDbStore {
    db: Arc<DB>,
    write_opts: WriteOptions,
    wal: WalMode,
    desc: String,
    // Holds the statistics object the DB updates.
    opts: Options,
    // Kept alive as long as the DB that uses it.
    _cache: Cache,
}

/// Another thread's access to the database.
struct RocksDbHandle {
    db: Arc<DB>,
    write_opts: WriteOptions,
}

impl KvHandle for RocksDbHandle {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.db.put_opt(key, value, &self.write_opts)?;
        Ok(())
    }

    fn compact_major(&mut self) -> Result<String> {
        let started = Instant::now();
        let mut c = CompactOptions::default();
        c.set_bottommost_level_compaction(BottommostLevelCompaction::Force);
        self.db.compact_range_opt(None::<&[u8]>, None::<&[u8]>, &c);
        Ok(format!(
            "compact_range_opt(all, bottommost Force): {} ms",
            started.elapsed().as_millis()
        ))
    }
}

/// The write options of a WAL mode.
fn write_options(wal: WalMode) -> WriteOptions {
    let mut w = WriteOptions::default();
    w.disable_wal(wal == WalMode::None);
    w.set_sync(wal == WalMode::Fsync);
    w
}

/// The value of ticker `name` in `Options::get_statistics()`'s text
/// (`rocksdb.wal.bytes COUNT : 123`).
fn ticker(stats: &str, name: &str) -> u64 {
    stats
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().strip_prefix("COUNT :"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

impl RocksDbStore {
    /// Creates the database in `dir`.
    pub fn open(dir: &Path, cfg: &StoreConfig) -> Result<Self> {
        let cache = Cache::new_lru_cache(usize::try_from(cfg.cache_size_bytes)?)
            .context("creating the RocksDB block cache")?;
        let mut table = BlockBasedOptions::default();
        table.set_block_size(cfg.block_size_bytes);
        table.set_bloom_filter(cfg.bloom_bits_per_key, false);
        table.set_block_cache(&cache);
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_write_buffer_size(usize::try_from(cfg.write_buffer_size_bytes)?);
        let compression = match cfg.compression {
            CompressionMode::Lz4 => DBCompressionType::Lz4,
            CompressionMode::None => DBCompressionType::None,
        };
        opts.set_compression_type(compression);
        opts.set_block_based_table_factory(&table);
        opts.enable_statistics();
        if cfg.compaction_bytes_per_sec > 0 {
            opts.set_ratelimiter(i64::try_from(cfg.compaction_bytes_per_sec)?, 100_000, 10);
        }
        let db = Arc::new(DB::open(&opts, dir).context("opening RocksDB")?);
        let write_opts = write_options(cfg.wal);
        let desc = format!(
            "LRU block cache {}, write_buffer_size {}, block_size {}, compression {compression:?}, \
             full bloom {} bits/key, disableWAL {}, sync {}, statistics on, rate limiter {} bytes/s (0 = none)",
            cfg.cache_size_bytes,
            cfg.write_buffer_size_bytes,
            cfg.block_size_bytes,
            cfg.bloom_bits_per_key,
            cfg.wal == WalMode::None,
            cfg.wal == WalMode::Fsync,
            cfg.compaction_bytes_per_sec
        );
        Ok(RocksDbStore {
            db,
            write_opts,
            wal: cfg.wal,
            desc,
            opts,
            _cache: cache,
        })
    }

    fn int_property(&self, name: &str) -> Result<u64> {
        Ok(self.db.property_int_value(name)?.unwrap_or(0))
    }
}

impl KvStore for RocksDbStore {
    fn name(&self) -> &'static str {
        "rocksdb"
    }

    fn describe(&self) -> String {
        self.desc.clone()
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.db.put_opt(key, value, &self.write_opts)?;
        Ok(())
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.db.get_pinned(key)?.map(|v| v.len()))
    }

    fn scan(
        &mut self,
        start: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        let mut it = self.db.raw_iterator();
        it.seek(start);
        let mut seen = 0;
        while seen < limit {
            match (it.key(), it.value()) {
                (Some(k), Some(v)) => visit(k, v),
                _ => break,
            }
            seen += 1;
            it.next();
        }
        it.status()?;
        Ok(seen)
    }

    fn flush_and_settle(&mut self) -> Result<String> {
        self.db.flush()?;
        wait_until(
            "RocksDB flushes and compactions",
            Duration::from_secs(300),
            || {
                Ok(self.int_property("rocksdb.num-running-flushes")? == 0
                    && self.int_property("rocksdb.num-running-compactions")? == 0
                    && self.int_property("rocksdb.compaction-pending")? == 0)
            },
        )?;
        let level_files: Vec<String> = (0..4)
            .map(|l| {
                self.db
                    .property_value(&format!("rocksdb.num-files-at-level{l}"))
                    .ok()
                    .flatten()
                    .unwrap_or_default()
            })
            .collect();
        Ok(format!(
            "files per level L0..L3: {}, {} bytes of SST",
            level_files.join("/"),
            self.int_property("rocksdb.total-sst-files-size")?
        ))
    }

    fn handle(&self) -> Option<Box<dyn KvHandle>> {
        Some(Box::new(RocksDbHandle {
            db: self.db.clone(),
            write_opts: write_options(self.wal),
        }))
    }

    fn disk_writes(&self) -> Option<DiskWrites> {
        let stats = self.opts.get_statistics()?;
        Some(DiskWrites {
            wal: ticker(&stats, "rocksdb.wal.bytes"),
            flush: ticker(&stats, "rocksdb.flush.write.bytes"),
            compaction: ticker(&stats, "rocksdb.compact.write.bytes"),
        })
    }
}
