//! kvbench's Strata adapter: one [`Engine`], one region covering the whole table, one
//! family `f`; the value lives in qualifier `v`.
//!
//! Mapping of [`StoreConfig`]: `block_cache.size` = cache size, `memstore.flush_size` =
//! write buffer size, `server.memory_limit` and `memstore.stall_timeout` when given,
//! `compaction.max_bytes_per_sec` = the compaction IO budget, family `compression`,
//! `block_size_bytes`, `bloom = Row` with `bloom_fp_rate` from the bits per key
//! ([`StoreConfig::bloom_fp_rate`]), `wal.durability` from the WAL mode; other
//! compaction options stay at their defaults (minor compaction of 3+ files after a
//! flush; the scheduled major is days away, so majors only run when a benchmark asks).
//! A get reads the whole row (`Get::new(row)`); a scan is a `Scan` with start and limit,
//! drained with `Scanner::next_batch_with`, which lends each cell to a callback (as a
//! RocksDB iterator lends its key and value) rather than building owned rows.
//!
//! A write refused with the retryable `Error::WriteStall` (memory pressure past
//! `memstore.stall_timeout`) is retried after [`STALL_BACKOFF`] and counted
//! (`put_retries` in the counters), as a client would.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use strata_storage::{
    BloomType, ByteSize, CompactionKind, Compression, Durability, Engine, EngineOptions,
    FamilyOptions, Get, Region, RegionDescriptor, RowMutation, Scan,
};

use crate::kv::{CompressionMode, DiskWrites, KvHandle, KvStore, StoreConfig, WalMode, wait_until};

/// Family of the benchmark table.
const FAMILY: &[u8] = b"f";
/// Qualifier holding the value.
const QUALIFIER: &[u8] = b"v";
/// Rows asked for per scanner batch (the engine caps it at 10,000).
const SCAN_BATCH_ROWS: usize = 10_000;
/// Bytes asked for per scanner batch (the engine caps it at 4 MiB).
const SCAN_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Pause before retrying a write refused with `WriteStall`.
pub const STALL_BACKOFF: Duration = Duration::from_millis(10);
/// One write is given up after retrying this long.
const STALL_GIVE_UP: Duration = Duration::from_secs(120);
/// Consecutive idle polls of the compaction pool (20 ms apart) that count as settled:
/// a job just taken from the queue is briefly neither queued nor running.
const IDLE_POLLS: u32 = 3;

/// Strata behind [`KvStore`].
pub struct StrataStore {
    engine: Engine,
    region: Arc<Region>,
    desc: String,
    put_retries: Arc<AtomicU64>,
}

/// Puts `value` under `key`, retrying `WriteStall` after [`STALL_BACKOFF`].
fn put_retrying(region: &Region, retries: &AtomicU64, key: &[u8], value: &[u8]) -> Result<()> {
    let m = RowMutation::new(Bytes::copy_from_slice(key)).put(
        Bytes::from_static(FAMILY),
        Bytes::from_static(QUALIFIER),
        Bytes::copy_from_slice(value),
    );
    let mut give_up = None;
    loop {
        match region.mutate(&m, None) {
            Ok(_) => return Ok(()),
            Err(e) if e.is_retryable() => {
                let until = *give_up.get_or_insert_with(|| Instant::now() + STALL_GIVE_UP);
                if Instant::now() > until {
                    return Err(e).context(format!("still stalled after {STALL_GIVE_UP:?}"));
                }
                retries.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(STALL_BACKOFF);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Another thread's access to the region.
struct StrataHandle {
    region: Arc<Region>,
    put_retries: Arc<AtomicU64>,
}

impl KvHandle for StrataHandle {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        put_retrying(&self.region, &self.put_retries, key, value)
    }

    fn compact_major(&mut self) -> Result<String> {
        let r = self.region.compact(CompactionKind::Major)?;
        let inputs: usize = r.stores.iter().map(|s| s.input_files).sum();
        let outputs = r.stores.iter().filter(|s| s.output_entries > 0).count();
        Ok(format!(
            "Region::compact(Major): {inputs} files -> {outputs}, {:.1} MB read, {:.1} MB written, {} ms",
            r.bytes_read() as f64 / 1e6,
            r.bytes_written() as f64 / 1e6,
            r.duration_ms
        ))
    }
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
        if let Some(limit) = cfg.memory_limit_bytes {
            opts.server.memory_limit = ByteSize(limit);
        }
        if let Some(t) = cfg.stall_timeout {
            opts.memstore.stall_timeout = t;
        }
        opts.compaction.max_bytes_per_sec = ByteSize(cfg.compaction_bytes_per_sec);
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
            "EngineOptions {{ server.memory_limit: {}, block_cache.size: {}, memstore.flush_size: {} (global_high {}, global_low {}, \
             stall_timeout {:?}), wal.durability: {:?}, flush_threads: {}, compaction: {{ min_files {}, ratio {}, threads {}, \
             max_bytes_per_sec {}, major_period {:?} }} }}, \
             family f {{ compression: {:?}, block_size_bytes: {}, bloom: Row, bloom_fp_rate: {:.4} }}",
            opts.server.memory_limit,
            opts.block_cache.size,
            opts.memstore.flush_size,
            ByteSize(opts.global_high_bytes()),
            ByteSize(opts.global_low_bytes()),
            opts.memstore.stall_timeout,
            opts.wal.durability,
            opts.flush_threads,
            opts.compaction.min_files,
            opts.compaction.ratio,
            opts.compaction.threads,
            opts.compaction.max_bytes_per_sec,
            opts.compaction.major_period,
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
            put_retries: Arc::new(AtomicU64::new(0)),
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
        put_retrying(&self.region, &self.put_retries, key, value)
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
            let rows = scanner.next_batch_with(want, SCAN_BATCH_BYTES, &mut |cell| {
                if cell.first_in_row {
                    visit(cell.row, cell.value);
                }
            })?;
            if rows == 0 {
                break;
            }
            seen += rows;
        }
        Ok(seen)
    }

    fn flush_and_settle(&mut self) -> Result<String> {
        self.region.flush()?;
        // A flush queues a minor compaction when a store reaches compaction.min_files.
        let mut idle = 0;
        wait_until("Strata compactions", Duration::from_secs(600), || {
            let c = self.engine.compaction_stats();
            idle = if c.queued == 0 && c.running == 0 {
                idle + 1
            } else {
                0
            };
            Ok(idle >= IDLE_POLLS)
        })?;
        let st = self.region.status();
        let c = self.engine.compaction_stats();
        Ok(format!(
            "{} sstables, {} bytes, {} entries; background compactions since open: {} done, {} failed \
             (all compactions: {:.1} MB read, {:.1} MB written)",
            st.store_files.values().sum::<usize>(),
            st.store_file_bytes,
            st.store_file_entries,
            c.completed,
            c.failed,
            c.bytes_read as f64 / 1e6,
            c.bytes_written as f64 / 1e6
        ))
    }

    fn counters(&self) -> Option<String> {
        let s = self.engine.stats();
        let c = self.engine.block_cache_stats();
        let m = self.engine.memory_stats();
        let k = self.engine.compaction_stats();
        Some(format!(
            "bloom_checks {} bloom_useful {} bloom_fp {} blocks_read {} cache_hits {} cache_misses {} cache_bytes {} \
             flushes {} wal_syncs {} compactions {} write_stalls {} stall_ms {} stall_rejections {} put_retries {}",
            s.bloom_checks,
            s.bloom_useful,
            s.bloom_false_positives,
            s.blocks_read,
            c.hits,
            c.misses,
            c.size_bytes,
            s.flushes,
            s.wal_syncs,
            k.completed,
            m.stalls,
            m.stall_micros / 1000,
            m.stall_rejections,
            self.put_retries.load(Ordering::Relaxed)
        ))
    }

    fn handle(&self) -> Option<Box<dyn KvHandle>> {
        Some(Box::new(StrataHandle {
            region: self.region.clone(),
            put_retries: self.put_retries.clone(),
        }))
    }

    fn disk_writes(&self) -> Option<DiskWrites> {
        let s = self.engine.stats();
        Some(DiskWrites {
            wal: s.wal_bytes,
            flush: s.flush_bytes,
            compaction: self.engine.compaction_stats().bytes_written,
        })
    }
}

impl Drop for StrataStore {
    fn drop(&mut self) {
        // Without a flush: the benchmark directory is deleted right after.
        let _ = self.region.close(false);
        self.engine.shutdown();
    }
}
