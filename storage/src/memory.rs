//! Memory governance across all regions of a process: one accountant of memstore
//! bytes with HBase's two global water marks. Above `memstore.global_low` the largest
//! memstores are flushed while writes continue; at `memstore.global_high` writes wait
//! (up to `memstore.stall_timeout`) for flushes to free memory and then fail with a
//! retryable `WriteStall` naming the limit. Per region, writes wait at
//! `memstore.flush_size x memstore.block_multiplier` (HBase's RegionTooBusy).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

/// Process-wide memstore accounting and the condition writers stall on.
#[derive(Debug, Default)]
pub struct MemoryGovernor {
    global_bytes: AtomicU64,
    lock: Mutex<()>,
    freed: Condvar,
    /// Writes that had to wait at a limit.
    pub(crate) stalls: AtomicU64,
    /// Total time writes spent waiting at a limit, in microseconds.
    pub(crate) stall_micros: AtomicU64,
    /// Writes refused with `WriteStall` after waiting `stall_timeout`.
    pub(crate) stall_rejections: AtomicU64,
    /// Writes waiting at a limit now (the first and last log the stall's begin/end).
    stalled_now: AtomicU64,
}

/// Memory figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Bytes in all memstores of the process.
    pub global_memstore_bytes: u64,
    /// `memstore.global_low` in bytes.
    pub global_low_bytes: u64,
    /// `memstore.global_high` in bytes.
    pub global_high_bytes: u64,
    /// Writes that waited at a limit.
    pub stalls: u64,
    /// Total time writes waited, in microseconds.
    pub stall_micros: u64,
    /// Writes refused with `WriteStall`.
    pub stall_rejections: u64,
    /// Writes waiting at a limit right now.
    pub stalled_now: u64,
}

impl MemoryGovernor {
    /// Bytes held by all memstores.
    pub fn global_bytes(&self) -> u64 {
        self.global_bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn charge(&self, bytes: u64) {
        self.global_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Returns memory (a flush finished or a region closed) and wakes stalled writers.
    pub(crate) fn release(&self, bytes: u64) {
        let _ = self
            .global_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(bytes))
            });
        let _g = self.lock.lock();
        self.freed.notify_all();
    }

    /// A write starts waiting; true for the first one (a stall begins).
    pub(crate) fn enter_stall(&self) -> bool {
        self.stalled_now.fetch_add(1, Ordering::AcqRel) == 0
    }

    /// A write stops waiting; true for the last one (the stall ends).
    pub(crate) fn leave_stall(&self) -> bool {
        self.stalled_now.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Writes waiting now.
    pub fn stalled_now(&self) -> u64 {
        self.stalled_now.load(Ordering::Relaxed)
    }

    /// Waits until memory is released or `timeout` passes.
    pub(crate) fn wait_freed(&self, timeout: Duration) {
        let mut g = self.lock.lock();
        self.freed.wait_for(&mut g, timeout);
    }
}
