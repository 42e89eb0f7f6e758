//! kvbench's Strata adapter: one [`Engine`], one region covering the whole table, one
//! family `f`; the value lives in qualifier `v`.
//!
//! Mapping of [`StoreConfig`]: `block_cache_size_bytes` = cache size,
//! `memstore_flush_size_bytes` = write buffer size, family `compression`,
//! `block_size_bytes`, `bloom = Row` with `bloom_fp_rate` from the bits per key
//! ([`StoreConfig::bloom_fp_rate`]), `default_durability` from the WAL mode. A get reads
//! the whole row (`Get::new(row)`); a scan is a `Scan` with start and limit, drained with
//! `Scanner::next_batch`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use bytes::Bytes;
use strata_storage::{
    BloomType, ByteSize, Compression, Durability, Engine, EngineOptions, FamilyOptions, Get,
    Region, RegionDescriptor, RowMutation, Scan,
};

use crate::kv::{CompressionMode, KvStore, StoreConfig, WalMode};

/// Family of the benchmark table.
const FAMILY: &[u8] = b"f";
/// Qualifier holding the value.
const QUALIFIER: &[u8] = b"v";
/// Rows asked for per scanner batch (the engine caps it at 10,000).
const SCAN_BATCH_ROWS: usize = 10_000;
/// Bytes asked for per scanner batch (the engine caps it at 4 MiB).
const SCAN_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Strata behind [`KvStore`].
pub struct StrataStore {
    engine: Engine,
    region: Arc<Region>,
    desc: String,
}

/// The Strata durability level of a WAL mode.
pub fn durability(wal: WalMode) -> Durability {
    match wal {
        WalMode::None => Durability::Skip,
        WalMode::Async => Durability::Async,
        WalMode::Flush => Durability::Flush,
        WalMode::Fsync => Durability::Fsync,
    }
}

impl StrataStore {
    /// Creates the engine and region in `dir`.
    pub fn open(dir: &Path, cfg: &StoreConfig) -> Result<Self> {
        let mut opts = EngineOptions::default();
        opts.block_cache.size = ByteSize(cfg.cache_size_bytes);
        opts.memstore.flush_size = ByteSize(cfg.write_buffer_size_bytes);
        opts.wal.durability = durability(cfg.wal);
        let family = FamilyOptions {
            compression: match cfg.compression {
                CompressionMode::Lz4 => Compression::Lz4,
                CompressionMode::None => Compression::None,
            },
            block_size_bytes: cfg.block_size_bytes,
            bloom: BloomType::Row,
            bloom_fp_rate: cfg.bloom_fp_rate(),
            ..FamilyOptions::new("f")
        };
        let desc = format!(
            "EngineOptions {{ block_cache.size: {}, memstore.flush_size: {}, wal.durability: {:?}, flush_threads: {}, compaction: defaults (min_files 3, ratio 1.2) }}, \
             family f {{ compression: {:?}, block_size_bytes: {}, bloom: Row, bloom_fp_rate: {:.4} }}",
            opts.block_cache.size,
            opts.memstore.flush_size,
            opts.wal.durability,
            opts.flush_threads,
            family.compression,
            family.block_size_bytes,
            family.bloom_fp_rate
        );
        let engine = Engine::open(opts).context("opening the Strata engine")?;
        let descriptor = RegionDescriptor::whole_table("kvbench", "r1", vec![family]);
        let region = engine
            .create_region(&dir.join("kvbench-r1"), descriptor)
            .context("creating the Strata region")?;
        Ok(StrataStore {
            engine,
            region,
            desc,
        })
    }
}

impl KvStore for StrataStore {
    fn name(&self) -> &'static str {
        "strata"
    }

    fn describe(&self) -> String {
        self.desc.clone()
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let m = RowMutation::new(Bytes::copy_from_slice(key)).put(
            Bytes::from_static(FAMILY),
            Bytes::from_static(QUALIFIER),
            Bytes::copy_from_slice(value),
        );
        self.region.mutate(&m, None)?;
        Ok(())
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<usize>> {
        let row = self.region.get(&Get::new(Bytes::copy_from_slice(key)))?;
        Ok(row.and_then(|r| r.cells.first().map(|c| c.value.len())))
    }

    fn scan(
        &mut self,
        start: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        let scan = Scan::new()
            .start(Bytes::copy_from_slice(start))
            .limit(limit as u64);
        let mut scanner = self.region.scan(&scan)?;
        let mut seen = 0;
        while seen < limit && !scanner.is_done() {
            let want = (limit - seen).min(SCAN_BATCH_ROWS);
            let rows = scanner.next_batch(want, SCAN_BATCH_BYTES)?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let value = row.cells.first().map_or(&[][..], |c| &c.value[..]);
                visit(&row.row, value);
            }
            seen += rows.len();
        }
        Ok(seen)
    }

    fn flush_and_settle(&mut self) -> Result<String> {
        self.region.flush()?;
        let st = self.region.status();
        Ok(format!(
            "{} sstables, {} bytes, {} entries (Strata has no compaction yet)",
            st.store_files.values().sum::<usize>(),
            st.store_file_bytes,
            st.store_file_entries
        ))
    }

    fn counters(&self) -> Option<String> {
        let s = self.engine.stats();
        let c = self.engine.block_cache_stats();
        Some(format!(
            "bloom_checks {} bloom_useful {} bloom_fp {} blocks_read {} cache_hits {} cache_misses {} cache_bytes {} flushes {} wal_syncs {}",
            s.bloom_checks,
            s.bloom_useful,
            s.bloom_false_positives,
            s.blocks_read,
            c.hits,
            c.misses,
            c.size_bytes,
            s.flushes,
            s.wal_syncs
        ))
    }
}

impl Drop for StrataStore {
    fn drop(&mut self) {
        // Without a flush: the benchmark directory is deleted right after.
        let _ = self.region.close(false);
        self.engine.shutdown();
    }
}
