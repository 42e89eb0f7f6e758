//! The engine: what all regions of a process share — options, the block cache, the
//! statistics, the clock and the background flush threads.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::{Condvar, Mutex};
use std::thread::JoinHandle;

use crate::block_cache::{BlockCache, BlockCacheStats};
use crate::clock::{Clock, SystemClock};
use crate::error::Result;
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
}

/// Regions waiting for a background flush. Each region is queued at most once at a
/// time (its `flush_requested` flag), so the queue is bounded by the region count.
#[derive(Debug, Default)]
pub(crate) struct FlushQueue {
    queue: Mutex<VecDeque<Weak<Region>>>,
    ready: Condvar,
    shutdown: AtomicBool,
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
            if let Some(r) = q.pop_front() {
                return Some(r);
            }
            self.ready.wait(&mut q);
        }
    }

    fn stop(&self) {
        self.shutdown.store(true, Ordering::Release);
        let _g = self.queue.lock();
        self.ready.notify_all();
    }
}

/// A storage engine instance: open regions through it.
#[derive(Debug)]
pub struct Engine {
    shared: Arc<EngineShared>,
    flushers: Mutex<Vec<JoinHandle<()>>>,
}

impl Engine {
    /// Starts an engine with the system clock.
    pub fn open(opts: EngineOptions) -> Result<Engine> {
        Self::open_with_clock(opts, Arc::new(SystemClock))
    }

    /// Starts an engine with an injected clock (tests).
    pub fn open_with_clock(opts: EngineOptions, clock: Arc<dyn Clock>) -> Result<Engine> {
        opts.validate()?;
        let shared = Arc::new(EngineShared {
            cache: BlockCache::new(opts.block_cache_size_bytes),
            stats: Arc::new(Stats::default()),
            clock,
            flush_queue: Arc::new(FlushQueue::default()),
            opts,
        });
        let flushers = (0..shared.opts.flush_threads)
            .map(|i| {
                let q = shared.flush_queue.clone();
                std::thread::Builder::new()
                    .name(format!("strata-flush-{i}"))
                    .spawn(move || flush_loop(&q))
                    .map_err(|e| crate::error::Error::io("<flush thread>", e))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Engine {
            shared,
            flushers: Mutex::new(flushers),
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

    /// Block cache figures.
    pub fn block_cache_stats(&self) -> BlockCacheStats {
        self.shared.cache.stats()
    }

    /// The engine's clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.shared.clock.clone()
    }

    /// Stops the background threads (regions stay usable; flushes then only happen
    /// when asked for explicitly).
    pub fn shutdown(&self) {
        self.shared.flush_queue.stop();
        let threads: Vec<_> = self.flushers.lock().drain(..).collect();
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

fn flush_loop(queue: &FlushQueue) {
    while let Some(weak) = queue.pop() {
        if let Some(region) = weak.upgrade() {
            region.run_requested_flush();
        }
    }
}
