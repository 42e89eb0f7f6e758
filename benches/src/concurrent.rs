//! The benchmarks with a second thread, which drives the store through a
//! [`KvHandle`] while the benchmark thread reads; only the reads are timed.
//!
//! - `readwhilewriting` (db_bench's name and meaning, with one reader): `reads` gets of
//!   random existing keys while a writer thread overwrites random existing keys as fast
//!   as it can (no rate limit, db_bench's default), so memstore flushes and the
//!   compactions they trigger run during the reads. The writer's put count, rate and
//!   latencies, and what the engine wrote meanwhile, are in the note.
//! - `readwhilecompacting`: gets of random existing keys for exactly as long as a major
//!   compaction of the whole store, started on another thread at the same moment, runs
//!   (so the op count varies). Compare its percentiles with a `readrandom` run just
//!   before it on the same files, and with one just after (one file, cold cache).
//!
//! Both check every get finds a value of the expected size, as `readrandom` does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Result, anyhow};

use crate::keys::{SplitMix64, ValuePool};
use crate::kv::{DiskWrites, KvHandle, KvStore};
use crate::report::{BenchResult, Recorder};
use crate::workload::Workload;

/// Raises a flag when dropped, so the other thread stops even if this one fails.
struct RaiseOnDrop<'a>(&'a AtomicBool);

impl Drop for RaiseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Times random gets and checks what they return.
struct Reader<'w> {
    work: &'w Workload,
    rng: SplitMix64,
    key: Vec<u8>,
    rec: Recorder,
    ops: u64,
    found: u64,
    wrong_size: u64,
}

impl<'w> Reader<'w> {
    fn new(work: &'w Workload, bench: &str) -> Self {
        Reader {
            work,
            rng: work.rng(bench),
            key: Vec::new(),
            rec: Recorder::new(),
            ops: 0,
            found: 0,
            wrong_size: 0,
        }
    }

    fn get_one(&mut self, store: &mut dyn KvStore) -> Result<()> {
        self.work
            .keys
            .write(self.rng.below(self.work.num), &mut self.key);
        let t = Instant::now();
        let got = store.get(&self.key)?;
        self.rec.record(t.elapsed());
        self.ops += 1;
        if let Some(len) = got {
            self.found += 1;
            self.wrong_size += u64::from(len != self.work.value_size);
        }
        Ok(())
    }

    fn finish(self, engine: &str, bench: &str) -> BenchResult {
        let mut r = self.rec.finish(engine, bench, self.ops);
        r.note = format!("({} of {} found)", self.found, self.ops);
        if self.found != self.ops || self.wrong_size > 0 {
            r.note += &format!(
                " WARNING: expected all found, {} values of the wrong size",
                self.wrong_size
            );
        }
        r
    }
}

/// Overwrites random existing keys through `handle` until `stop` is raised.
fn write_until(
    handle: &mut dyn KvHandle,
    work: &Workload,
    stop: &AtomicBool,
) -> Result<BenchResult> {
    let _stop_reader = RaiseOnDrop(stop);
    let mut rng = work.rng("readwhilewriting-writer");
    let mut values = ValuePool::new(work.value_size, work.compression_ratio, &mut rng);
    let (mut key, mut rec, mut puts) = (Vec::new(), Recorder::new(), 0u64);
    while !stop.load(Ordering::Acquire) {
        work.keys.write(rng.below(work.num), &mut key);
        let value = values.next_value();
        let t = Instant::now();
        handle.put(&key, value)?;
        rec.record(t.elapsed());
        puts += 1;
    }
    Ok(rec.finish("", "writer", puts))
}

/// Megabytes, for notes.
fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// What the engine wrote between two counter snapshots, for notes.
fn written(before: Option<DiskWrites>, after: Option<DiskWrites>) -> String {
    match (before, after) {
        (Some(b), Some(a)) => {
            let d = a.since(&b);
            format!(
                "engine wrote WAL {:.1} + flush {:.1} + compaction {:.1} MB",
                mb(d.wal),
                mb(d.flush),
                mb(d.compaction)
            )
        }
        _ => "engine write counters n/a".into(),
    }
}

/// `readwhilewriting`; returns the reads' result and the writer's put count.
pub fn read_while_writing(store: &mut dyn KvStore, work: &Workload) -> Result<(BenchResult, u64)> {
    let name = store.name();
    let mut handle = store
        .handle()
        .ok_or_else(|| anyhow!("{name}: this adapter has no handle for a second thread"))?;
    let before = store.disk_writes();
    let stop = AtomicBool::new(false);
    let (mut result, writes) = std::thread::scope(|s| -> Result<_> {
        let writer = s.spawn(|| write_until(handle.as_mut(), work, &stop));
        let reads = (|| -> Result<BenchResult> {
            let _stop_writer = RaiseOnDrop(&stop);
            let mut reader = Reader::new(work, "readwhilewriting");
            for _ in 0..work.reads {
                if stop.load(Ordering::Acquire) {
                    break; // the writer failed; its error is reported below
                }
                reader.get_one(store)?;
            }
            Ok(reader.finish(name, "readwhilewriting"))
        })();
        let writes = writer
            .join()
            .map_err(|_| anyhow!("writer thread panicked"))??;
        Ok((reads?, writes))
    })?;
    result.note += &format!(
        "; writer: {} puts, {:.0} puts/s, put p50 {:.2} p99 {:.2} p999 {:.2} micros; {} during the reads",
        writes.ops,
        writes.ops_per_sec,
        writes.p50_micros,
        writes.p99_micros,
        writes.p999_micros,
        written(before, store.disk_writes())
    );
    Ok((result, writes.ops))
}

/// `readwhilecompacting`.
pub fn read_while_compacting(store: &mut dyn KvStore, work: &Workload) -> Result<BenchResult> {
    let name = store.name();
    let mut handle = store
        .handle()
        .ok_or_else(|| anyhow!("{name}: this adapter has no handle for a second thread"))?;
    let before = store.disk_writes();
    let done = AtomicBool::new(false);
    let (mut result, summary, secs) = std::thread::scope(|s| -> Result<_> {
        let compactor = s.spawn(|| {
            let _done = RaiseOnDrop(&done);
            let started = Instant::now();
            let r = handle.compact_major();
            (r, started.elapsed().as_secs_f64())
        });
        let mut reader = Reader::new(work, "readwhilecompacting");
        while !done.load(Ordering::Acquire) {
            reader.get_one(store)?;
        }
        let result = reader.finish(name, "readwhilecompacting");
        let (summary, secs) = compactor
            .join()
            .map_err(|_| anyhow!("compaction thread panicked"))?;
        Ok((result, summary?, secs))
    })?;
    result.note += &format!(
        " during a major compaction of {secs:.2} s [{summary}; {}]",
        written(before, store.disk_writes())
    );
    if result.ops < 10_000 {
        result.note += " WARNING: under 10k reads, the tail percentiles are coarse";
    }
    Ok(result)
}
