//! In-memory compaction (HBase's CompactingMemStore): the active memstores are frozen and
//! merged with the region's earlier frozen memstores into one read-only flat memstore
//! per store, leaving out the entries a flush would leave out (`FlushFilter`). Nothing
//! is written to disk and the WAL is untouched: the result is still unflushed data, and
//! a flush later writes it like any frozen memstore.
//!
//! Why: a row updated over and over holds one memstore entry per update, and every read
//! of it steps over them. After a compaction it holds one version per column (or
//! `max_versions`), so reads of hot rows cost what reads of cold ones do, and the memory
//! the dead versions held goes back to the budget.
//!
//! Safety of what is left out, the same argument as the flush's: the merge waits until
//! every write of the frozen generations is final (`Mvcc::wait_for` of the newest
//! boundary), and readers take the region state before their read point. A reader that
//! finds the flat memstore thus has a read point past every entry in it, and sees the
//! same cells with or without the entries left out; a reader that took the state before
//! the swap keeps the memstores it found. Versions past `max_versions` go only while no
//! other source of the store (the new active memstore, the files) holds a delete marker.
//!
//! Concurrency: runs under the manifest lock, so it never overlaps a flush (which pops
//! frozen generations) or another in-memory compaction. Writers are held only by the
//! freeze, as for a flush.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;

use super::{Region, RegionState, StoreState};
use crate::error::Result;
use crate::iterator::InternalIterator;
use crate::memstore::Memstore;
use crate::merge::Source;
use crate::options::InMemoryCompaction;
use crate::stats::Stats;
use crate::visibility::FlushFilter;

/// An adaptive compaction that leaves out less than this share of the entries frozen
/// for it (1 in 10) doubles the active memstore size the next one waits for.
const ADAPTIVE_MIN_DROPPED_DIVISOR: u64 = 10;

/// Most doublings of that size (past a few the flush size is reached first anyway).
const ADAPTIVE_MAX_BACKOFF: u32 = 16;

/// What one in-memory compaction did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemstoreCompaction {
    /// Entries of the memstores merged (all stores).
    pub entries_in: u64,
    /// Of those, entries of the memstores frozen for this compaction (the rest were
    /// already compacted).
    pub entries_new: u64,
    /// Entries in the flat memstores it produced.
    pub entries_out: u64,
    /// Memstore bytes before and after.
    pub bytes_before: u64,
    /// See `bytes_before`.
    pub bytes_after: u64,
}

impl MemstoreCompaction {
    /// Entries left out.
    pub fn dropped(&self) -> u64 {
        self.entries_in - self.entries_out
    }
}

impl Region {
    /// Compacts the region's memstores in memory now and waits for it: the active
    /// memstores are frozen and, per store, merged with the frozen ones into one flat
    /// memstore without the entries no reader can see. Returns `None` when there was
    /// nothing to merge. Runs whatever `memstore.in_memory_compaction` says (it only
    /// governs the background trigger); drops only what `memstore.drop_hidden_versions`
    /// allows (nothing when it is off).
    pub fn compact_memstore(&self) -> Result<Option<MemstoreCompaction>> {
        self.compact_memstore_when(|_| true)
    }

    /// [`compact_memstore`](Self::compact_memstore) if `due(active bytes)` still holds
    /// once the manifest lock is held (a flush may have run while this waited for it).
    fn compact_memstore_when(
        &self,
        due: impl FnOnce(u64) -> bool,
    ) -> Result<Option<MemstoreCompaction>> {
        let _manifest = self.manifest.lock();
        self.check_open()?;
        if !due(self.unflushed_bytes().0) {
            return Ok(None);
        }
        self.freeze();
        let st = self.snapshot();
        let Some(&boundary) = st.frozen_boundaries.first() else {
            return Ok(None);
        };
        let already_flat = st.frozen_boundaries.len() == 1
            && st
                .stores
                .values()
                .all(|s| s.frozen.iter().all(|m| m.is_flat()));
        if already_flat {
            return Ok(None);
        }
        let started = Instant::now();
        // Every entry of the generations is final before the merge judges visibility.
        self.mvcc.wait_for(boundary);
        let drop_hidden = self.engine.opts.memstore.drop_hidden_versions;
        let mut outcome = MemstoreCompaction::default();
        let mut merged = Vec::with_capacity(st.stores.len());
        for (family, store) in &st.stores {
            let flat = compact_store(store, drop_hidden, &mut outcome)?;
            merged.push((family.clone(), Arc::new(flat)));
        }
        outcome.bytes_before = frozen_bytes(&st);
        outcome.bytes_after = merged.iter().map(|(_, m)| m.size_bytes()).sum();
        self.install_compacted(&st, merged, boundary);
        // The flat memstores replace the frozen ones in the region's count (charged
        // first, so the count never dips below what is held).
        self.charge_memstore(outcome.bytes_after);
        self.release_memstore(outcome.bytes_before);
        let stats = &self.engine.stats;
        Stats::add(&stats.memstore_compactions, 1);
        Stats::add(
            &stats.memstore_compaction_dropped_entries,
            outcome.dropped(),
        );
        Stats::add(
            &stats.memstore_compaction_micros,
            started.elapsed().as_micros() as u64,
        );
        tracing::debug!(region = %self.name, entries_in = outcome.entries_in,
            entries_out = outcome.entries_out, bytes_before = outcome.bytes_before,
            bytes_after = outcome.bytes_after, ms = started.elapsed().as_millis() as u64,
            "compacted memstore in memory");
        Ok(Some(outcome))
    }

    /// Swaps the frozen generations of `st` for the merged ones (one generation, up to
    /// `boundary`). The manifest lock is held, so no flush changed the frozen lists since
    /// `st` was taken; writers only replace the active memstores.
    fn install_compacted(
        &self,
        st: &RegionState,
        merged: Vec<(Bytes, Arc<Memstore>)>,
        boundary: u64,
    ) {
        let mut state = self.state.write();
        let mut next: RegionState = (**state).clone();
        debug_assert_eq!(next.frozen_boundaries, st.frozen_boundaries);
        for (family, flat) in merged {
            if let Some(store) = next.stores.get_mut(&family) {
                store.frozen = vec![flat];
            }
        }
        next.frozen_boundaries = vec![boundary];
        *state = Arc::new(next);
    }

    /// Active memstore bytes at which the next in-memory compaction is due: the
    /// in-memory flush size, doubled for each adaptive backoff. `None` when they are off.
    fn memstore_compaction_due_bytes(&self) -> Option<u64> {
        let threshold = self.engine.opts.memstore.in_memory_flush_bytes()?;
        let backoff = self.memstore_compaction_backoff.load(Ordering::Acquire);
        Some(threshold.saturating_mul(1 << backoff.min(ADAPTIVE_MAX_BACKOFF)))
    }

    /// Asks a background thread for an in-memory compaction once the active memstores
    /// pass the in-memory flush size (called after writes, below the flush size).
    pub(crate) fn maybe_request_memstore_compaction(&self, active_bytes: u64) {
        if self
            .memstore_compaction_due_bytes()
            .is_none_or(|due| active_bytes < due)
        {
            return;
        }
        if !self
            .memstore_compaction_requested
            .swap(true, Ordering::AcqRel)
        {
            self.engine.flush_queue.push(self.self_ref.clone());
        }
    }

    /// Entry point of the background flush threads for a requested in-memory compaction.
    pub(crate) fn run_requested_memstore_compaction(&self) {
        if !self
            .memstore_compaction_requested
            .swap(false, Ordering::AcqRel)
            || self.check_open().is_err()
        {
            return;
        }
        let opts = &self.engine.opts.memstore;
        // Judged again under the manifest lock: a request made while the last compaction
        // or a flush ran finds its work done, or the size due raised.
        let due = |active| {
            self.memstore_compaction_due_bytes()
                .is_some_and(|due| active >= due)
        };
        match self.compact_memstore_when(due) {
            Ok(Some(done)) if opts.in_memory_compaction == InMemoryCompaction::Adaptive => {
                // Little to drop (new rows, not rewrites): wait for twice the data before
                // the next try, as redundancy grows with the memstore; a good one resets
                // (and each flush takes one step back).
                let backoff = &self.memstore_compaction_backoff;
                if done.dropped() < done.entries_new / ADAPTIVE_MIN_DROPPED_DIVISOR {
                    let b = backoff.load(Ordering::Acquire);
                    backoff.store((b + 1).min(ADAPTIVE_MAX_BACKOFF), Ordering::Release);
                    tracing::debug!(region = %self.name, dropped = done.dropped(),
                        entries_new = done.entries_new, backoff = b + 1,
                        "in-memory compaction found little to drop; the next waits for more");
                } else {
                    backoff.store(0, Ordering::Release);
                }
            }
            Ok(_) => {}
            Err(crate::error::Error::Closed(_)) => {}
            Err(e) => {
                tracing::warn!(region = %self.name, error = %e, "in-memory compaction failed");
            }
        }
        // Past the flush size now (the compaction freed too little): flush.
        self.maybe_request_flush();
    }
}

/// Bytes of every frozen memstore of `st`.
fn frozen_bytes(st: &RegionState) -> u64 {
    st.stores
        .values()
        .flat_map(|s| s.frozen.iter())
        .map(|m| m.size_bytes())
        .sum()
}

/// Merges one store's frozen memstores into a flat one, leaving out what a flush would.
fn compact_store(
    store: &StoreState,
    drop_hidden: bool,
    outcome: &mut MemstoreCompaction,
) -> Result<Memstore> {
    let first_insert_ms = store
        .frozen
        .iter()
        .filter_map(|m| m.first_insert_ms())
        .min()
        .unwrap_or(0);
    let entries_in: u64 = store.frozen.iter().map(|m| m.len() as u64).sum();
    outcome.entries_in += entries_in;
    outcome.entries_new += store
        .frozen
        .iter()
        .filter(|m| !m.is_flat())
        .map(|m| m.len() as u64)
        .sum::<u64>();
    // The same merge and filter as a flush's.
    let (mut it, mut filter) = store.frozen_merged(drop_hidden)?;
    let mut kept = Vec::with_capacity(usize::try_from(entries_in).unwrap_or(0));
    while it.valid() {
        if FlushFilter::keeps(filter.as_mut(), it.key())? {
            let entry = match it.current_source() {
                Some(Source::Memstore(m)) => Memstore::entry_bytes(m),
                _ => None,
            };
            // Every source is a memstore, so the buffers are shared, not copied.
            kept.push(
                entry.unwrap_or_else(|| (Bytes::copy_from_slice(it.key()), it.value_bytes())),
            );
        }
        it.next()?;
    }
    outcome.entries_out += kept.len() as u64;
    Ok(Memstore::flat(kept, first_insert_ms))
}
