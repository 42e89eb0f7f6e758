//! The process-wide compaction pool: `compaction.threads` workers take regions from a
//! queue (each region queued at most once; a major request upgrades a queued minor),
//! and share one IO rate limit. Its counters are the queue figures operators watch.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};

use super::rate_limit::RateLimiter;
use crate::error::{Error, Result};
use crate::region::Region;

/// Queue and worker threads.
#[derive(Debug)]
pub struct CompactionPool {
    queue: Mutex<VecDeque<Weak<Region>>>,
    ready: Condvar,
    shutdown: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) limiter: RateLimiter,
    running: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    pub(crate) bytes_read: AtomicU64,
    pub(crate) bytes_written: AtomicU64,
}

/// Pool figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompactionPoolStats {
    /// Regions waiting for a worker.
    pub queued: u64,
    /// Compactions running now.
    pub running: u64,
    /// Region compactions finished.
    pub completed: u64,
    /// Region compactions that failed.
    pub failed: u64,
    /// Bytes of input files read.
    pub bytes_read: u64,
    /// Bytes of output files written.
    pub bytes_written: u64,
}

impl CompactionPool {
    /// Starts `threads` workers sharing a `max_bytes_per_sec` budget (0 = unlimited).
    pub(crate) fn start(threads: usize, max_bytes_per_sec: u64) -> Result<Arc<Self>> {
        let pool = Arc::new(CompactionPool {
            queue: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            shutdown: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
            limiter: RateLimiter::new(max_bytes_per_sec),
            running: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
        });
        for i in 0..threads {
            let p = pool.clone();
            let t = std::thread::Builder::new()
                .name(format!("strata-compact-{i}"))
                .spawn(move || p.worker())
                .map_err(|e| Error::io("<compaction thread>", e))?;
            pool.threads.lock().push(t);
        }
        Ok(pool)
    }

    /// Queues a region (the region dedups its own requests).
    pub(crate) fn submit(&self, region: Weak<Region>) {
        self.queue.lock().push_back(region);
        self.ready.notify_one();
    }

    /// Current figures.
    pub fn stats(&self) -> CompactionPoolStats {
        CompactionPoolStats {
            queued: self.queue.lock().len() as u64,
            running: self.running.load(Ordering::Relaxed),
            completed: self.completed.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
        }
    }

    /// Stops the workers after their current compaction.
    pub(crate) fn stop(&self) {
        self.shutdown.store(true, Ordering::Release);
        {
            let _q = self.queue.lock();
            self.ready.notify_all();
        }
        let threads: Vec<_> = self.threads.lock().drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }

    fn next(&self) -> Option<Weak<Region>> {
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

    fn worker(&self) {
        while let Some(weak) = self.next() {
            let Some(region) = weak.upgrade() else {
                continue;
            };
            self.running.fetch_add(1, Ordering::Relaxed);
            let result = region.run_queued_compaction();
            self.running.fetch_sub(1, Ordering::Relaxed);
            match result {
                Ok(_) => self.completed.fetch_add(1, Ordering::Relaxed),
                Err(e) => {
                    if !matches!(e, Error::Closed(_)) {
                        tracing::warn!(region = %region.name(), error = %e, "compaction failed");
                    }
                    self.failed.fetch_add(1, Ordering::Relaxed)
                }
            };
        }
    }
}
