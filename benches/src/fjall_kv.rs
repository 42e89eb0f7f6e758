//! kvbench's fjall 3.1 adapter (cargo feature `fjall`): one `Database`, one keyspace.
//!
//! Mapping of [`StoreConfig`]:
//! - `Database::builder(dir).cache_size(cache)`; journal: `manual_journal_persist(true)`
//!   for `--wal none|async` (fjall cannot turn its journal off nor sync it on a timer:
//!   records stay in its user-space buffer), default per-write `PersistMode::Buffer`
//!   for `flush`, and `Database::persist(PersistMode::SyncData)` after every write for
//!   `fsync`;
//! - keyspace `CreateOptions`: `max_memtable_size(write buffer)`,
//!   `data_block_size_policy(BlockSizePolicy::all(block size))`,
//!   `data_block_compression_policy(CompressionPolicy::all(Lz4 | None))` (fjall's default
//!   leaves L0 and L1 uncompressed), `filter_policy(FilterPolicy::all(Bloom(BitsPerKey)))`
//!   (its default uses 0.0001 fp on L0), `with_kv_separation(None)` (blob files off);
//!   everything else default (leveled compaction, worker threads = min(cores, 4)).
//!
//! A major compaction is `Keyspace::major_compact()` (public but `#[doc(hidden)]` in
//! 3.1: everything into the last level, 64 MB tables). fjall has no compaction rate
//! limit and no byte counters, so [`KvStore::disk_writes`] is `None` (kvbench still
//! reports the process's `write()` bytes).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use fjall::config::{
    BlockSizePolicy, BloomConstructionPolicy, CompressionPolicy, FilterPolicy, FilterPolicyEntry,
};
use fjall::{CompressionType, Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use crate::kv::{CompressionMode, KvHandle, KvStore, StoreConfig, WalMode, wait_until};

/// fjall behind [`KvStore`].
pub struct FjallStore {
    db: Database,
    keyspace: Keyspace,
    wal: WalMode,
    desc: String,
}

/// Another thread's access to the keyspace.
struct FjallHandle {
    db: Database,
    keyspace: Keyspace,
    wal: WalMode,
}

/// Inserts, persisting after the write for `--wal fsync`.
fn insert(db: &Database, ks: &Keyspace, wal: WalMode, key: &[u8], value: &[u8]) -> Result<()> {
    ks.insert(key, value)?;
    if wal == WalMode::Fsync {
        db.persist(PersistMode::SyncData)?;
    }
    Ok(())
}

impl KvHandle for FjallHandle {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        insert(&self.db, &self.keyspace, self.wal, key, value)
    }

    fn compact_major(&mut self) -> Result<String> {
        let started = Instant::now();
        self.keyspace.major_compact()?;
        Ok(format!(
            "Keyspace::major_compact: {} ms, {} tables after",
            started.elapsed().as_millis(),
            self.keyspace.table_count()
        ))
    }
}

impl FjallStore {
    /// Creates the database in `dir`.
    pub fn open(dir: &Path, cfg: &StoreConfig) -> Result<Self> {
        let manual = matches!(cfg.wal, WalMode::None | WalMode::Async);
        let db = Database::builder(dir)
            .cache_size(cfg.cache_size_bytes)
            .manual_journal_persist(manual)
            .open()
            .context("opening fjall")?;
        let compression = match cfg.compression {
            CompressionMode::Lz4 => CompressionType::Lz4,
            CompressionMode::None => CompressionType::None,
        };
        let block_size = u32::try_from(cfg.block_size_bytes).context("block size")?;
        let bits = cfg.bloom_bits_per_key as f32;
        let keyspace = db.keyspace("kv", || {
            KeyspaceCreateOptions::default()
                .max_memtable_size(cfg.write_buffer_size_bytes)
                .data_block_size_policy(BlockSizePolicy::all(block_size))
                .data_block_compression_policy(CompressionPolicy::all(compression))
                .filter_policy(FilterPolicy::all(FilterPolicyEntry::Bloom(
                    BloomConstructionPolicy::BitsPerKey(bits),
                )))
                .with_kv_separation(None)
        })?;
        let desc = format!(
            "cache_size {}, manual_journal_persist {manual}{}, max_memtable_size {}, block size {block_size}, \
             compression {compression:?} on all levels, bloom BitsPerKey({bits}) on all levels, kv separation off",
            cfg.cache_size_bytes,
            if cfg.wal == WalMode::Fsync {
                " + persist(SyncData) per write"
            } else {
                ""
            },
            cfg.write_buffer_size_bytes,
        );
        Ok(FjallStore {
            db,
            keyspace,
            wal: cfg.wal,
            desc,
        })
    }
}

impl KvStore for FjallStore {
    fn name(&self) -> &'static str {
        "fjall"
    }

    fn describe(&self) -> String {
        self.desc.clone()
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        insert(&self.db, &self.keyspace, self.wal, key, value)
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.keyspace.get(key)?.map(|v| v.len()))
    }

    fn scan(
        &mut self,
        start: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        let mut seen = 0;
        for guard in self.keyspace.range(start..).take(limit) {
            let (k, v) = guard.into_inner()?;
            visit(&k, &v);
            seen += 1;
        }
        Ok(seen)
    }

    fn flush_and_settle(&mut self) -> Result<String> {
        self.keyspace.rotate_memtable_and_wait()?;
        wait_until(
            "fjall flushes and compactions",
            Duration::from_secs(300),
            || Ok(self.db.outstanding_flushes() == 0 && self.db.active_compactions() == 0),
        )?;
        Ok(format!(
            "{} tables ({} in L0), {} bytes on disk",
            self.keyspace.table_count(),
            self.keyspace.l0_table_count(),
            self.keyspace.disk_space()
        ))
    }

    fn handle(&self) -> Option<Box<dyn KvHandle>> {
        Some(Box::new(FjallHandle {
            db: self.db.clone(),
            keyspace: self.keyspace.clone(),
            wal: self.wal,
        }))
    }
}
