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
//!   OS, no sync) for `async` and `flush`; `set_sync(true)` for `fsync`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use rocksdb::{BlockBasedOptions, Cache, DB, DBCompressionType, Options, WriteOptions};

use crate::kv::{CompressionMode, KvStore, StoreConfig, WalMode, wait_until};

/// RocksDB behind [`KvStore`].
pub struct RocksDbStore {
    db: DB,
    write_opts: WriteOptions,
    desc: String,
    // Kept alive as long as the DB that uses it.
    _cache: Cache,
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
        let db = DB::open(&opts, dir).context("opening RocksDB")?;
        let mut write_opts = WriteOptions::default();
        write_opts.disable_wal(cfg.wal == WalMode::None);
        write_opts.set_sync(cfg.wal == WalMode::Fsync);
        let desc = format!(
            "LRU block cache {}, write_buffer_size {}, block_size {}, compression {compression:?}, \
             full bloom {} bits/key, disableWAL {}, sync {}",
            cfg.cache_size_bytes,
            cfg.write_buffer_size_bytes,
            cfg.block_size_bytes,
            cfg.bloom_bits_per_key,
            cfg.wal == WalMode::None,
            cfg.wal == WalMode::Fsync
        );
        Ok(RocksDbStore {
            db,
            write_opts,
            desc,
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
}
