//! The db_bench-style benchmarks and the runner that applies them to one engine.
//!
//! - `fillseq`, `fillrandom`: a fresh store in a new directory; `num` puts in key order,
//!   or every key once in a random order (a shuffled permutation: unlike db_bench, which
//!   draws with replacement, so later reads always find their key).
//! - `overwrite`: `num` puts of uniformly random existing keys into the current store
//!   (db_bench's meaning: drawn with replacement, so some keys are hit twice, ~37% never).
//! - `readwhilewriting`, `readwhilecompacting`: reads while a second thread writes or
//!   runs a major compaction (see [`crate::concurrent`]).
//! - After every write benchmark (the fills, `overwrite`, `readwhilewriting`) the store
//!   flushes its memstores/memtables and waits for background flushes and compactions
//!   ([`KvStore::flush_and_settle`]), untimed, so reads hit files; then kvbench prints
//!   the write amplification since the store was opened ([`WriteAmp`]).
//! - Around every benchmark, its flush and wait included, resident memory is sampled
//!   ([`RssSampler`]) and the peak printed.
//! - `readrandom`: `reads` gets of uniformly random existing keys.
//! - `readmissing`: `reads` gets of absent keys inside the key range (an existing key
//!   with `.` appended, as db_bench does): the absent-key get, answered by bloom filters.
//! - `seekrandom`: `reads` seeks to a random existing key, reading `1 + seek_nexts` rows.
//! - `readseq`: one scan of every row; an op is one row, its latency the time since the
//!   previous row (so batching engines show their batch cost in the tail).
//! - `scan100k`: `scans` scans of `scan_rows` rows from a random start; an op is one scan.
//!
//! Every benchmark draws from its own SplitMix64 stream derived from `--seed` and its
//! name, so all engines see the same keys, values and order.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::concurrent;
use crate::keys::{KeyFormat, SplitMix64, ValuePool};
use crate::kv::{KvStore, StoreConfig, open_store};
use crate::report::{BenchResult, Recorder};
use crate::resources::{RssSampler, WriteAmp, syscall_write_bytes};

/// Benchmark names, in the order db_bench users expect.
pub const BENCHMARKS: &[&str] = &[
    "fillseq",
    "fillrandom",
    "overwrite",
    "readwhilewriting",
    "readwhilecompacting",
    "readrandom",
    "readmissing",
    "seekrandom",
    "readseq",
    "scan100k",
];

/// What the benchmarks write and read.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Keys in the key space (and puts per fill).
    pub num: u64,
    /// Operations of the point-read and seek benchmarks.
    pub reads: u64,
    /// Key formatting.
    pub keys: KeyFormat,
    /// Value size in bytes.
    pub value_size: usize,
    /// Target compressed/uncompressed size of values.
    pub compression_ratio: f64,
    /// Base seed.
    pub seed: u64,
    /// Rows read after each seek, beyond the first.
    pub seek_nexts: usize,
    /// Scans run by `scan100k`.
    pub scans: u64,
    /// Rows per `scan100k` scan.
    pub scan_rows: usize,
}

impl Workload {
    /// The random stream of benchmark (or thread) `bench`.
    pub fn rng(&self, bench: &str) -> SplitMix64 {
        let salt = bench
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        SplitMix64::new(self.seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

/// Runs benchmarks against one engine, keeping the store the last fill produced.
pub struct Runner {
    engine: String,
    cfg: StoreConfig,
    work: Workload,
    root: PathBuf,
    store: Option<Box<dyn KvStore>>,
    dir: Option<tempfile::TempDir>,
    /// Key + value bytes put since the store was opened.
    user_bytes: u64,
    /// The process's `write()` bytes just before the store was opened.
    syscall_bytes_at_open: Option<u64>,
}

impl Runner {
    /// A runner for `engine` whose stores live in fresh directories under `root`.
    pub fn new(engine: &str, cfg: StoreConfig, work: Workload, root: &Path) -> Self {
        Runner {
            engine: engine.to_string(),
            cfg,
            work,
            root: root.to_path_buf(),
            store: None,
            dir: None,
            user_bytes: 0,
            syscall_bytes_at_open: None,
        }
    }

    /// Runs one benchmark by name.
    pub fn run(&mut self, bench: &str) -> Result<BenchResult> {
        let sampler = RssSampler::start();
        let mut result = match bench {
            "fillseq" => self.fill(bench, false)?,
            "fillrandom" => self.fill(bench, true)?,
            "overwrite" => self.overwrite()?,
            "readwhilewriting" => self.read_while_writing()?,
            "readwhilecompacting" => {
                let work = self.work.clone();
                concurrent::read_while_compacting(self.store()?, &work)?
            }
            "readrandom" => self.read(bench, false)?,
            "readmissing" => self.read(bench, true)?,
            "seekrandom" => self.seek()?,
            "readseq" => self.readseq()?,
            "scan100k" => self.scan_long()?,
            other => bail!(
                "unknown benchmark {other:?} (known: {})",
                BENCHMARKS.join(",")
            ),
        };
        if let Some(c) = self.store.as_ref().and_then(|s| s.counters()) {
            result.note = format!("{} [{c}]", result.note).trim().to_string();
        }
        result.rss = sampler.finish();
        match &result.rss {
            Some(rss) => {
                // The memory limit is Strata's option; peers only get their peak printed.
                let limit = self
                    .cfg
                    .memory_limit_bytes
                    .filter(|_| self.engine == "strata");
                println!("# {}: {bench}: {}", self.engine, rss.line(limit));
            }
            None => println!("# {}: {bench}: RSS n/a (no /proc)", self.engine),
        }
        Ok(result)
    }

    /// Flushes and waits (untimed), then returns the write amplification so far.
    fn settle(&mut self, bench: &str) -> Result<WriteAmp> {
        let user_bytes = self.user_bytes;
        let at_open = self.syscall_bytes_at_open;
        let store = self.store()?;
        let t = Instant::now();
        let summary = store.flush_and_settle()?;
        println!(
            "# {}: flushed and waited for background work after {bench} in {:.2} s (untimed): {summary}",
            store.name(),
            t.elapsed().as_secs_f64()
        );
        let amp = WriteAmp {
            user_bytes,
            engine: store.disk_writes(),
            syscall_bytes: syscall_write_bytes()
                .zip(at_open)
                .map(|(now, then)| now.saturating_sub(then)),
        };
        println!("# {}: after {bench}: {amp}", store.name());
        Ok(amp)
    }

    fn read_while_writing(&mut self) -> Result<BenchResult> {
        let work = self.work.clone();
        let (mut result, puts) = concurrent::read_while_writing(self.store()?, &work)?;
        self.user_bytes += puts * (work.keys.key_size() + work.value_size) as u64;
        result.write_amp = Some(self.settle("readwhilewriting")?);
        Ok(result)
    }

    fn store(&mut self) -> Result<&mut dyn KvStore> {
        match self.store.as_deref_mut() {
            Some(s) => Ok(s),
            None => bail!("no database yet: run fillseq or fillrandom first"),
        }
    }

    fn fill(&mut self, bench: &str, random: bool) -> Result<BenchResult> {
        self.store = None;
        self.dir = None;
        self.user_bytes = 0;
        self.syscall_bytes_at_open = syscall_write_bytes();
        let dir = tempfile::Builder::new()
            .prefix(&format!("kvbench-{}-", self.engine))
            .tempdir_in(&self.root)
            .with_context(|| format!("creating a directory under {}", self.root.display()))?;
        let store = open_store(&self.engine, dir.path(), &self.cfg)?;
        println!("# {}: {}", store.name(), store.describe());
        self.store = Some(store);
        self.dir = Some(dir);
        let mut rng = self.work.rng(bench);
        let order: Vec<u64> = if random {
            rng.permutation(self.work.num)
        } else {
            (0..self.work.num).collect()
        };
        self.write_keys(bench, &order, &mut rng)
    }

    fn overwrite(&mut self) -> Result<BenchResult> {
        let mut rng = self.work.rng("overwrite");
        let order: Vec<u64> = (0..self.work.num)
            .map(|_| rng.below(self.work.num))
            .collect();
        self.write_keys("overwrite", &order, &mut rng)
    }

    fn write_keys(
        &mut self,
        bench: &str,
        order: &[u64],
        rng: &mut SplitMix64,
    ) -> Result<BenchResult> {
        let work = self.work.clone();
        let mut values = ValuePool::new(work.value_size, work.compression_ratio, rng);
        let store = self.store()?;
        let mut key = Vec::new();
        let mut rec = Recorder::new();
        for &n in order {
            work.keys.write(n, &mut key);
            let value = values.next_value();
            let t = Instant::now();
            store.put(&key, value)?;
            rec.record(t.elapsed());
        }
        let mut result = rec.finish(store.name(), bench, order.len() as u64);
        self.user_bytes += order.len() as u64 * (work.keys.key_size() + work.value_size) as u64;
        result.write_amp = Some(self.settle(bench)?);
        Ok(result)
    }

    fn read(&mut self, bench: &str, missing: bool) -> Result<BenchResult> {
        let work = self.work.clone();
        let mut rng = work.rng(bench);
        let store = self.store()?;
        let (mut key, mut found, mut wrong_size) = (Vec::new(), 0u64, 0u64);
        let mut rec = Recorder::new();
        for _ in 0..work.reads {
            work.keys.write(rng.below(work.num), &mut key);
            if missing {
                key.push(b'.');
            }
            let t = Instant::now();
            let got = store.get(&key)?;
            rec.record(t.elapsed());
            if let Some(len) = got {
                found += 1;
                wrong_size += u64::from(len != work.value_size);
            }
        }
        let mut result = rec.finish(store.name(), bench, work.reads);
        result.note = format!("({found} of {} found)", work.reads);
        let expected = if missing { 0 } else { work.reads };
        if found != expected || wrong_size > 0 {
            result.note += &format!(
                " WARNING: expected {expected} found, {wrong_size} values of the wrong size"
            );
        }
        Ok(result)
    }

    fn seek(&mut self) -> Result<BenchResult> {
        let work = self.work.clone();
        let mut rng = work.rng("seekrandom");
        let store = self.store()?;
        let (mut key, mut rows) = (Vec::new(), 0u64);
        let mut rec = Recorder::new();
        for _ in 0..work.reads {
            work.keys.write(rng.below(work.num), &mut key);
            let t = Instant::now();
            let n = store.scan(&key, 1 + work.seek_nexts, &mut |k, v| {
                std::hint::black_box((k, v));
            })?;
            rec.record(t.elapsed());
            rows += n as u64;
        }
        let mut result = rec.finish(store.name(), "seekrandom", work.reads);
        result.note = format!("({rows} rows read, {} per seek)", 1 + work.seek_nexts);
        Ok(result)
    }

    fn readseq(&mut self) -> Result<BenchResult> {
        let num = self.work.num;
        let store = self.store()?;
        let mut rec = Recorder::new();
        let mut last = Instant::now();
        let rows = store.scan(b"", usize::MAX, &mut |k, v| {
            std::hint::black_box((k, v));
            let now = Instant::now();
            rec.record(now - last);
            last = now;
        })?;
        let mut result = rec.finish(store.name(), "readseq", rows as u64);
        result.note = format!("({rows} rows)");
        if rows as u64 != num {
            result.note += &format!(" WARNING: expected {num} rows");
        }
        Ok(result)
    }

    fn scan_long(&mut self) -> Result<BenchResult> {
        let work = self.work.clone();
        let mut rng = work.rng("scan100k");
        let store = self.store()?;
        let span = work.num.saturating_sub(work.scan_rows as u64).max(1);
        let (mut key, mut rows) = (Vec::new(), 0u64);
        let mut rec = Recorder::new();
        for _ in 0..work.scans {
            work.keys.write(rng.below(span), &mut key);
            let t = Instant::now();
            let n = store.scan(&key, work.scan_rows, &mut |k, v| {
                std::hint::black_box((k, v));
            })?;
            rec.record(t.elapsed());
            rows += n as u64;
        }
        let mut result = rec.finish(store.name(), "scan100k", work.scans);
        result.note = format!(
            "({rows} rows, {:.0} rows/sec)",
            rows as f64 / result.elapsed_secs.max(1e-9)
        );
        Ok(result)
    }
}
