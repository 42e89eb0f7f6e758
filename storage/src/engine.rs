//! The engine: what all regions of a process share — options, the block cache, the
//! statistics, the clock, memory governance, the flush threads, the compaction pool and
//! the chore thread that runs scheduled major compactions and periodic flushes.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::block_cache::{BlockCache, BlockCacheStats};
use crate::clock::{Clock, SystemClock};
use crate::compaction::{CompactionKind, CompactionPool, CompactionPoolStats};
use crate::error::{Error, Result};
use crate::memory::{MemoryGovernor, MemoryStats};
use crate::options::EngineOptions;
use crate::region::{Region, RegionDescriptor};
use crate::stats::{Stats, StatsSnapshot};

/// State shared by the engine and its regions.
#[derive(Debug)]
pub(crate) struct EngineShared {
    pub opts: EngineOptions,
    pub cache: Arc<BlockCache>,
    pub stats: Arc<Stats>,
    pub clock: Arc<dyn Clock>,
    pub flush_queue: Arc<FlushQueue>,
    pub compactions: Arc<CompactionPool>,
    pub memory: MemoryGovernor,
    regions: Mutex<Vec<Weak<Region>>>,
}

impl EngineShared {
    pub(crate) fn register(&self, region: Weak<Region>) {
        let mut regions = self.regions.lock();
        regions.retain(|r| r.strong_count() > 0);
        regions.push(region);
    }

    /// The open regions.
    pub(crate) fn regions(&self) -> Vec<Arc<Region>> {
        self.regions
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// Asks for a flush of the region with the largest memstore that is not already
    /// flushing (global pressure: free the most memory per flush).
    pub(crate) fn flush_largest(&self) {
        let largest = self
            .regions()
            .into_iter()
            .map(|r| {
                let (active, compacted) = r.unflushed_bytes();
                (r, active + compacted)
            })
            .filter(|(_, bytes)| *bytes > 0)
            .max_by_key(|(_, bytes)| *bytes)
            .map(|(r, _)| r);
        if let Some(r) = largest {
            r.request_flush();
        }
    }
}

/// Regions waiting for a background flush. Each region is queued at most once at a
/// time (its `flush_requested` flag), so the queue is bounded by the region count.
#[derive(Debug, Default)]
pub(crate) struct FlushQueue {
    queue: Mutex<VecDeque<Weak<Region>>>,
    ready: Condvar,
    shutdown: AtomicBool,
    paused: AtomicBool,
}

impl FlushQueue {
    pub(crate) fn push(&self, region: Weak<Region>) {
        self.queue.lock().push_back(region);
        self.ready.notify_one();
    }

    fn pop(&self) -> Option<Weak<Region>> {
        let mut q = self.queue.lock();
        loop {
            if self.shutdown.load(Ordering::Acquire) {
                return None;
            }
            if !self.paused.load(Ordering::Acquire)
                && let Some(r) = q.pop_front()
            {
                return Some(r);
            }
            self.ready.wait(&mut q);
        }
    }

    fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Release);
        let _q = self.queue.lock();
        self.ready.notify_all();
    }

    fn stop(&self) {
        self.shutdown.store(true, Ordering::Release);
        let _g = self.queue.lock();
        self.ready.notify_all();
    }
}

/// Wakes the chore thread early (shutdown).
#[derive(Debug, Default)]
struct ChoreSignal {
    stop: Mutex<bool>,
    cv: Condvar,
}

/// A storage engine instance: open regions through it.
#[derive(Debug)]
pub struct Engine {
    shared: Arc<EngineShared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    chore: Arc<ChoreSignal>,
}

impl Engine {
    /// Starts an engine with the system clock.
    pub fn open(opts: EngineOptions) -> Result<Engine> {
        Self::open_with_clock(opts, Arc::new(SystemClock))
    }

    /// Starts an engine with an injected clock (tests).
    pub fn open_with_clock(opts: EngineOptions, clock: Arc<dyn Clock>) -> Result<Engine> {
        opts.validate()?;
        let compactions =
            CompactionPool::start(opts.compaction.threads, opts.compaction.max_bytes_per_sec.0)?;
        let shared = Arc::new(EngineShared {
            cache: BlockCache::new(opts.block_cache.size.0),
            stats: Arc::new(Stats::default()),
            clock,
            flush_queue: Arc::new(FlushQueue::default()),
            compactions,
            memory: MemoryGovernor::default(),
            regions: Mutex::new(Vec::new()),
            opts,
        });
        let mut threads = Vec::new();
        for i in 0..shared.opts.flush_threads {
            let q = shared.flush_queue.clone();
            threads.push(spawn(format!("strata-flush-{i}"), move || flush_loop(&q))?);
        }
        let chore = Arc::new(ChoreSignal::default());
        let (weak, signal) = (Arc::downgrade(&shared), chore.clone());
        threads.push(spawn("strata-chore".into(), move || {
            chore_loop(&weak, &signal)
        })?);
        Ok(Engine {
            shared,
            threads: Mutex::new(threads),
            chore,
        })
    }

    /// Creates a new region in `dir` (which must not hold one yet).
    pub fn create_region(&self, dir: &Path, desc: RegionDescriptor) -> Result<Arc<Region>> {
        Region::create(self.shared.clone(), dir, desc)
    }

    /// Opens an existing region, replaying its WAL.
    pub fn open_region(&self, dir: &Path) -> Result<Arc<Region>> {
        Region::open(self.shared.clone(), dir)
    }

    /// The engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.shared.opts
    }

    /// A copy of the counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Latency histograms (WAL sync, flush, compaction).
    pub fn latency(&self) -> crate::histogram::EngineLatencySnapshot {
        self.shared.stats.latency.snapshot()
    }

    /// Writes waiting for memstore room right now.
    pub fn stalled_writes(&self) -> u64 {
        self.shared.memory.stalled_now()
    }

    /// Block cache figures.
    pub fn block_cache_stats(&self) -> BlockCacheStats {
        self.shared.cache.stats()
    }

    /// Compaction queue figures.
    pub fn compaction_stats(&self) -> CompactionPoolStats {
        self.shared.compactions.stats()
    }

    /// Memstore memory figures.
    pub fn memory_stats(&self) -> MemoryStats {
        let m = &self.shared.memory;
        MemoryStats {
            global_memstore_bytes: m.global_bytes(),
            global_low_bytes: self.shared.opts.global_low_bytes(),
            global_high_bytes: self.shared.opts.global_high_bytes(),
            stalls: m.stalls.load(Ordering::Relaxed),
            stall_micros: m.stall_micros.load(Ordering::Relaxed),
            stall_rejections: m.stall_rejections.load(Ordering::Relaxed),
            stalled_now: m.stalled_now(),
        }
    }

    /// The regions open in this engine.
    pub fn regions(&self) -> Vec<Arc<Region>> {
        self.shared.regions()
    }

    /// Queues a compaction of every open region of `table` (the admin call).
    pub fn compact_table(&self, table: &str, kind: CompactionKind) -> usize {
        let regions: Vec<_> = self
            .regions()
            .into_iter()
            .filter(|r| r.descriptor().table == table)
            .collect();
        for r in &regions {
            r.request_compaction(kind);
        }
        regions.len()
    }

    /// The engine's clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.shared.clock.clone()
    }

    /// Runs the periodic checks once, now: scheduled major compactions that are due
    /// (inside the off-peak window) and flushes of memstores older than
    /// `memstore.flush_interval`. The chore thread calls this every
    /// `compaction.check_interval`; tests call it with an injected clock.
    pub fn run_chores(&self) {
        run_chores(&self.shared);
    }

    /// Holds background flushes (tests of memory pressure; maintenance). Explicit
    /// `Region::flush` calls still run.
    #[doc(hidden)]
    pub fn pause_background_flushes(&self, paused: bool) {
        self.shared.flush_queue.set_paused(paused);
    }

    /// Stops the background threads (regions stay usable; flushes and compactions then
    /// only happen when called explicitly).
    pub fn shutdown(&self) {
        self.shared.flush_queue.stop();
        {
            let mut stop = self.chore.stop.lock();
            *stop = true;
            self.chore.cv.notify_all();
        }
        self.shared.compactions.stop();
        let threads: Vec<_> = self.threads.lock().drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name)
        .spawn(f)
        .map_err(|e| Error::io("<engine thread>", e))
}

fn flush_loop(queue: &FlushQueue) {
    while let Some(weak) = queue.pop() {
        if let Some(region) = weak.upgrade() {
            region.run_requested_work();
        }
    }
}

fn chore_loop(shared: &Weak<EngineShared>, signal: &ChoreSignal) {
    loop {
        let Some(s) = shared.upgrade() else { return };
        let interval = s.opts.compaction.check_interval;
        run_chores(&s);
        drop(s);
        let mut stop = signal.stop.lock();
        if *stop {
            return;
        }
        signal
            .cv
            .wait_for(&mut stop, interval.min(Duration::from_secs(3600)));
        if *stop {
            return;
        }
    }
}

fn run_chores(shared: &EngineShared) {
    let now = shared.clock.now_ms();
    let hour = shared.clock.local_hour(now);
    for region in shared.regions() {
        if region.major_compaction_due(now, hour) {
            tracing::info!(region = %region.name(), "scheduled major compaction is due");
            region.request_compaction(CompactionKind::Major);
        }
        region.flush_if_old(now);
    }
}
