//! A region: one table's key range `[start_row, end_row)` with one store per column
//! family, its own WAL and its own directory. The unit of flush, recovery (and later
//! compaction, split and assignment).
//!
//! Concurrency:
//! - `write_lock` orders writers: sequence id, WAL append and memstore insert happen
//!   under it, so WAL order = seq order = memstore contents. WAL sync happens after it is
//!   released (group commit), then the MVCC read point publishes the write.
//! - row locks (striped) make check-and-mutate, increment and append atomic per row.
//! - `state` is an immutable snapshot (memstores and files per store) swapped whole on
//!   freeze and flush; readers clone the `Arc` and never block writers.
//! - `manifest` is locked by the one flush running at a time.

mod compact;
mod descriptor;
mod flush;
mod memstore_compaction;
mod open;
mod pending_write;
mod prefetch;
mod read;
pub mod split;
mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex, MutexGuard, RwLock};

pub use descriptor::{DESCRIPTOR_FILE, RegionDescriptor};
pub use memstore_compaction::MemstoreCompaction;
pub use pending_write::PendingWrite;
pub use read::{CellRef, Scanner};
pub use split::{SplitMarker, SplitResult, SplitState};
pub use write::{Check, CompareOp};

use crate::engine::EngineShared;
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::memstore::Memstore;
use crate::mvcc::Mvcc;
use crate::options::FamilyOptions;
use crate::sstable::SsTable;
use crate::wal::Wal;

/// Row lock stripes per region: enough that unrelated rows rarely share one.
const ROW_LOCK_STRIPES: usize = 256;

fn row_stripe(row: &[u8]) -> usize {
    crc32c::crc32c(row) as usize % ROW_LOCK_STRIPES
}

/// One store's live data.
#[derive(Clone, Debug)]
pub(crate) struct StoreState {
    pub options: Arc<FamilyOptions>,
    pub active: Arc<Memstore>,
    /// Frozen memstores, newest first: waiting for a flush, or the flat output of an
    /// in-memory compaction (one, until a flush freezes the active memstore beside it).
    pub frozen: Vec<Arc<Memstore>>,
    /// Live SSTables, newest first.
    pub files: Vec<Arc<SsTable>>,
}

/// An immutable snapshot of the region's stores.
#[derive(Clone, Debug)]
pub(crate) struct RegionState {
    pub stores: BTreeMap<Bytes, StoreState>,
    /// Highest seq in each frozen generation, newest first (one per `frozen` entry).
    pub frozen_boundaries: Vec<u64>,
}

/// Figures about one region, for status pages and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionStatus {
    /// `table/region_id`.
    pub name: String,
    /// Bytes in active and frozen memstores.
    pub memstore_bytes: u64,
    /// Frozen memstore generations: waiting for a flush, or the flat output of an
    /// in-memory compaction (one per store).
    pub frozen_memstores: usize,
    /// Live SSTables per family.
    pub store_files: BTreeMap<String, usize>,
    /// Total SSTable bytes.
    pub store_file_bytes: u64,
    /// Entries in SSTables.
    pub store_file_entries: u64,
    /// Current MVCC read point.
    pub read_point: u64,
    /// WAL records up to this seq are flushed.
    pub flushed_seq: u64,
    /// WAL segment files.
    pub wal_segments: usize,
    /// When the last major compaction finished (ms since epoch).
    pub last_major_compaction_ms: Option<u64>,
    /// Duration of the last compaction in ms.
    pub last_compaction_duration_ms: u64,
}

/// An open region. Cheap to share behind `Arc`; every method is thread-safe.
pub struct Region {
    desc: RegionDescriptor,
    name: String,
    dir: PathBuf,
    engine: Arc<EngineShared>,
    state: RwLock<Arc<RegionState>>,
    write_lock: Mutex<()>,
    row_locks: Vec<Mutex<()>>,
    mvcc: Mvcc,
    wal: Arc<Wal>,
    manifest: Mutex<Manifest>,
    memstore_bytes: AtomicU64,
    closed: AtomicBool,
    /// Set by a split: writes are refused (`Closed`) while the region drains and closes.
    writes_fenced: AtomicBool,
    failure: Mutex<Option<String>>,
    flush_requested: AtomicBool,
    /// An in-memory compaction is queued (at most once at a time).
    memstore_compaction_requested: AtomicBool,
    /// Doublings of the in-memory flush size the next in-memory compaction waits for:
    /// raised by adaptive ones that found little to drop, reset by a good one, lowered
    /// by one per flush.
    memstore_compaction_backoff: AtomicU32,
    self_ref: Weak<Region>,
    /// One compaction of this region at a time.
    compaction_lock: Mutex<()>,
    compaction_queued: AtomicBool,
    major_requested: AtomicBool,
    /// Duration of the last compaction, ms.
    last_compaction_ms: AtomicU64,
    /// Signalled after each compaction (flushes blocked on too many files wait on it).
    compacted: Condvar,
    compacted_mx: Mutex<()>,
    /// When the region was opened (ms): the schedule's origin if the manifest has none.
    opened_ms: u64,
    /// Exclusive lock on the directory's LOCK file, released by `close` (or drop).
    dir_lock: Mutex<Option<std::fs::File>>,
}

impl Drop for Region {
    fn drop(&mut self) {
        // Memstores die with the region: give their bytes back to the process budget.
        self.engine
            .memory
            .release(self.memstore_bytes.load(Ordering::Relaxed));
    }
}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Region {
    /// The region's descriptor (table, range, families).
    pub fn descriptor(&self) -> &RegionDescriptor {
        &self.desc
    }

    /// `table/region_id`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The region's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes held in memstores (active and frozen).
    pub fn memstore_bytes(&self) -> u64 {
        self.memstore_bytes.load(Ordering::Relaxed)
    }

    /// Current figures.
    pub fn status(&self) -> RegionStatus {
        let st = self.snapshot();
        let mut store_files = BTreeMap::new();
        let (mut bytes, mut entries) = (0, 0);
        for (name, s) in &st.stores {
            store_files.insert(String::from_utf8_lossy(name).into_owned(), s.files.len());
            for f in &s.files {
                bytes += f.file_size();
                entries += f.meta().entry_count;
            }
        }
        let manifest = self.manifest.lock().clone();
        RegionStatus {
            name: self.name.clone(),
            memstore_bytes: self.memstore_bytes(),
            frozen_memstores: st.frozen_boundaries.len(),
            store_files,
            store_file_bytes: bytes,
            store_file_entries: entries,
            read_point: self.mvcc.read_point(),
            flushed_seq: manifest.flushed_seq,
            wal_segments: self.wal.segment_count(),
            last_major_compaction_ms: manifest.last_major_compaction_ms,
            last_compaction_duration_ms: self.last_compaction_ms.load(Ordering::Relaxed),
        }
    }

    /// Stops serving: later calls fail with `Closed`. With `flush`, memstores are
    /// written to SSTables first (as HBase does on a clean close), so reopening replays
    /// nothing. The WAL is synced and closed either way.
    pub fn close(&self, flush: bool) -> Result<()> {
        if flush {
            self.flush()?;
        }
        // Holding the compaction and manifest locks waits for a background compaction or
        // flush in progress to finish (later ones see the region closed), so nothing
        // touches the directory after close returns.
        let _c = self.compaction_lock.lock();
        let _m = self.manifest.lock();
        {
            let _w = self.write_lock.lock();
            self.closed.store(true, Ordering::Release);
        }
        let r = self.wal.close();
        // Nothing touches the directory any more: another engine may open it now.
        self.dir_lock.lock().take();
        r
    }

    /// Counts memstore bytes in the region and the process budget.
    pub(crate) fn charge_memstore(&self, bytes: u64) {
        self.memstore_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.engine.memory.charge(bytes);
    }

    /// Returns flushed memstore bytes.
    pub(crate) fn release_memstore(&self, bytes: u64) {
        let _ = self
            .memstore_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(bytes))
            });
        self.engine.memory.release(bytes);
    }

    /// True if the scheduled major compaction is due at `now_ms` (local hour `hour`).
    pub(crate) fn major_compaction_due(&self, now_ms: u64, hour: u32) -> bool {
        let opts = &self.engine.opts.compaction;
        let origin = {
            let m = self.manifest.lock();
            m.last_major_compaction_ms
                .or(m.created_ms)
                .unwrap_or(self.opened_ms)
        };
        let Some(due) = crate::compaction::schedule::next_major_due_ms(opts, &self.name, origin)
        else {
            return false;
        };
        let window = opts.offpeak_window().ok().flatten();
        now_ms >= due
            && crate::compaction::schedule::in_offpeak(window, hour)
            && self.check_open().is_ok()
    }

    pub(crate) fn snapshot(&self) -> Arc<RegionState> {
        self.state.read().clone()
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed(self.name.clone()));
        }
        if let Some(reason) = self.failure.lock().as_ref() {
            return Err(Error::Closed(format!(
                "{} (failed: {reason}; reopen the region to recover)",
                self.name
            )));
        }
        Ok(())
    }

    /// Like [`check_open`](Self::check_open), and also refuses writes once a split fenced
    /// them (called under the write lock).
    pub(crate) fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if self.writes_fenced.load(Ordering::Acquire) {
            return Err(Error::Closed(format!("{} (splitting)", self.name)));
        }
        Ok(())
    }

    /// Marks the region failed after an error that leaves the memstore ahead of the
    /// WAL: nothing more is served until it is reopened (and the WAL replayed).
    pub(crate) fn fail(&self, e: &Error) {
        let mut f = self.failure.lock();
        if f.is_none() {
            tracing::error!(region = %self.name, error = %e, "region failed; it must be reopened");
            *f = Some(e.to_string());
        }
    }

    pub(crate) fn row_lock(&self, row: &[u8]) -> MutexGuard<'_, ()> {
        self.row_locks[row_stripe(row)].lock()
    }

    /// The row's lock if it is free now (writers to a row hold it only briefly, but
    /// increments read under it, so an async caller does not wait for it).
    pub(crate) fn try_row_lock(&self, row: &[u8]) -> Option<MutexGuard<'_, ()>> {
        self.row_locks[row_stripe(row)].try_lock()
    }

    pub(crate) fn check_row(&self, row: &[u8]) -> Result<()> {
        crate::mutation::validate_row(row)?;
        if !self.desc.contains_row(row) {
            let show = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(64)]).into_owned();
            return Err(Error::RowOutOfRange {
                region: self.name.clone(),
                row: show(row),
                start: show(&self.desc.start_row),
                end: show(&self.desc.end_row),
            });
        }
        Ok(())
    }

    pub(crate) fn family<'a>(&self, st: &'a RegionState, family: &[u8]) -> Result<&'a StoreState> {
        st.stores.get(family).ok_or_else(|| Error::UnknownFamily {
            region: self.name.clone(),
            family: String::from_utf8_lossy(family).into_owned(),
        })
    }
}

#[cfg(test)]
mod memstore_compaction_tests;
#[cfg(test)]
mod tests;
