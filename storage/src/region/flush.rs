//! Flush: freeze the active memstores (writes continue into fresh ones), write each
//! frozen store as one SSTable, record the new files and the flushed sequence id in the
//! manifest atomically, swap the region state, then drop WAL segments the SSTables cover.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Region, RegionState};
use crate::error::Result;
use crate::iterator::InternalIterator;
use crate::manifest::Manifest;
use crate::memstore::Memstore;
use crate::merge::{MergingIterator, Source};
use crate::options::FamilyOptions;
use crate::sstable::{SsTable, SsTableBuilder, SsTableWriteOptions};
use crate::stats::Stats;
use crate::visibility::FlushFilter;

impl Region {
    /// Flushes everything written so far to SSTables and waits for it.
    pub fn flush(&self) -> Result<()> {
        let mut new_files = Vec::new();
        let flushed = self.flush_locked(&mut new_files);
        // Outside the manifest lock: a prefetch reads whole files.
        for (options, table) in &new_files {
            self.prefetch_new_file(options, table);
        }
        flushed
    }

    /// Flushes every frozen generation under the manifest lock; adds the files written
    /// (with their family's options) to `new_files`, also when a later one fails.
    fn flush_locked(&self, new_files: &mut Vec<(Arc<FamilyOptions>, Arc<SsTable>)>) -> Result<()> {
        let mut manifest = self.manifest.lock();
        self.check_open()?;
        self.freeze();
        if !self.snapshot().frozen_boundaries.is_empty() {
            self.flush_frozen(&mut manifest, new_files)?;
        }
        Ok(())
    }

    /// Asks a background thread to flush once the active memstore passes the flush
    /// size, and relieves global pressure above `memstore.global_low`.
    /// Below the flush size, asks for an in-memory compaction once the active memstores
    /// pass its threshold.
    pub(crate) fn maybe_request_flush(&self) {
        let (active, compacted) = self.unflushed_bytes();
        if active + compacted >= self.engine.opts.memstore.flush_size.0 {
            self.request_flush();
        } else {
            self.maybe_request_memstore_compaction(active);
        }
        if self.engine.memory.global_bytes() >= self.engine.opts.global_low_bytes() {
            self.engine.flush_largest();
        }
    }

    /// Queues a background flush (once; later requests while queued are no-ops).
    pub(crate) fn request_flush(&self) {
        if !self.flush_requested.swap(true, Ordering::AcqRel) {
            self.engine.flush_queue.push(self.self_ref.clone());
        }
    }

    /// Bytes in the active memstores, and in the flat memstores of in-memory compactions
    /// (frozen, but waiting for no flush: they count towards the flush size).
    pub(crate) fn unflushed_bytes(&self) -> (u64, u64) {
        let st = self.snapshot();
        let active = st.stores.values().map(|s| s.active.size_bytes()).sum();
        let compacted = st
            .stores
            .values()
            .flat_map(|s| s.frozen.iter())
            .filter(|m| m.is_flat())
            .map(|m| m.size_bytes())
            .sum();
        (active, compacted)
    }

    /// Flushes if the oldest unflushed edit is older than `memstore.flush_interval`.
    pub(crate) fn flush_if_old(&self, now_ms: u64) {
        let interval = self.engine.opts.memstore.flush_interval.as_millis() as u64;
        if interval == 0 {
            return;
        }
        let oldest = self
            .snapshot()
            .stores
            .values()
            .flat_map(|s| std::iter::once(&s.active).chain(s.frozen.iter()))
            .filter_map(|m| m.first_insert_ms())
            .min();
        if oldest.is_some_and(|t| now_ms.saturating_sub(t) >= interval) {
            self.request_flush();
        }
    }

    /// Entry point of the background flush threads: a requested flush, then a requested
    /// in-memory compaction (a region is queued once per request kind).
    pub(crate) fn run_requested_work(&self) {
        if self.flush_requested.swap(false, Ordering::AcqRel) {
            self.run_requested_flush();
        }
        self.run_requested_memstore_compaction();
    }

    fn run_requested_flush(&self) {
        if self.check_open().is_err() {
            return;
        }
        self.wait_while_too_many_files();
        if let Err(e) = self.flush()
            && !matches!(e, crate::error::Error::Closed(_))
        {
            tracing::warn!(region = %self.name, error = %e, "background flush failed; will retry on the next trigger");
        }
    }

    /// Past `compaction.blocking_files` SSTables in a store, a background flush waits
    /// (at most `compaction.blocking_wait`) for compaction to catch up instead of adding
    /// another file; memstores keep absorbing writes up to their own limits meanwhile.
    fn wait_while_too_many_files(&self) {
        let opts = &self.engine.opts.compaction;
        let too_many = || {
            self.snapshot()
                .stores
                .values()
                .any(|s| s.files.len() >= opts.blocking_files)
        };
        if !too_many() {
            return;
        }
        let started = Instant::now();
        tracing::info!(region = %self.name, limit = opts.blocking_files, "flush waits for compaction: too many store files");
        let mut g = self.compacted_mx.lock();
        while too_many() && started.elapsed() < opts.blocking_wait && self.check_open().is_ok() {
            self.request_compaction(crate::compaction::CompactionKind::Minor);
            self.compacted.wait_for(&mut g, Duration::from_millis(100));
        }
        Stats::add(
            &self.engine.stats.flush_blocked_micros,
            started.elapsed().as_micros() as u64,
        );
    }

    /// Moves every active memstore to the frozen list. Returns false if all were empty.
    pub(super) fn freeze(&self) -> bool {
        let _w = self.write_lock.lock();
        let mut state = self.state.write();
        if state.stores.values().all(|s| s.active.is_empty()) {
            return false;
        }
        let mut next: RegionState = (**state).clone();
        for store in next.stores.values_mut() {
            let old = std::mem::replace(&mut store.active, Arc::new(Memstore::new()));
            store.frozen.insert(0, old);
        }
        next.frozen_boundaries.insert(0, self.mvcc.last_assigned());
        *state = Arc::new(next);
        true
    }

    /// Writes every frozen generation, merged, as one SSTable per store (manifest lock
    /// held). There is more than one after an in-memory compaction (its flat memstore
    /// and the memstore frozen since) or after a failed flush. On any failure the files
    /// it wrote are deleted and the generations stay frozen for the next attempt.
    fn flush_frozen(
        &self,
        manifest: &mut Manifest,
        new_files: &mut Vec<(Arc<FamilyOptions>, Arc<SsTable>)>,
    ) -> Result<()> {
        let started = Instant::now();
        let st = self.snapshot();
        let Some(&boundary) = st.frozen_boundaries.first() else {
            return Ok(());
        };
        // Every entry of the generations is final (its write acknowledged or failed)
        // before the flush judges what readers can see, and before the file replaces
        // the memstore: a reader that finds the file has a read point past all of it,
        // so a put the flush leaves out is hidden for that reader too.
        self.mvcc.wait_for(boundary);
        let mut written: Vec<(bytes::Bytes, Arc<SsTable>, u64)> = Vec::new();
        let mut flushed_bytes = 0;
        let mut dropped = 0;
        let mut freed = 0;
        let abort = |written: &[(bytes::Bytes, Arc<SsTable>, u64)], e| {
            for (_, t, _) in written {
                t.mark_obsolete();
            }
            Err(e)
        };
        for (family, store) in &st.stores {
            freed += store.frozen.iter().map(|m| m.size_bytes()).sum::<u64>();
            if store.frozen.iter().all(|m| m.is_empty()) {
                continue;
            }
            let fam = String::from_utf8_lossy(family).into_owned();
            match self.write_memstore(manifest, &fam, store) {
                Ok((table, id, size, left_out)) => {
                    flushed_bytes += size;
                    dropped += left_out;
                    written.push((family.clone(), table, id));
                }
                Err(e) => return abort(&written, e),
            }
        }
        // A write whose WAL append failed meanwhile fails the region: its entries may be
        // in these files and must not become durable through the manifest.
        if let Err(e) = self.check_open() {
            return abort(&written, e);
        }
        let mut next_manifest = manifest.clone();
        for (family, _, id) in &written {
            next_manifest
                .files
                .entry(String::from_utf8_lossy(family).into_owned())
                .or_default()
                .insert(0, *id);
        }
        next_manifest.flushed_seq = next_manifest.flushed_seq.max(boundary);
        if let Err(e) = next_manifest.save(&self.dir) {
            return abort(&written, e);
        }
        *manifest = next_manifest;
        {
            let mut state = self.state.write();
            let mut next: RegionState = (**state).clone();
            // Only this flush and in-memory compactions (both under the manifest lock)
            // change the frozen lists, so they are still those of `st`.
            debug_assert_eq!(next.frozen_boundaries, st.frozen_boundaries);
            for store in next.stores.values_mut() {
                store.frozen.clear();
            }
            next.frozen_boundaries.clear();
            for (family, table, _) in &written {
                if let Some(store) = next.stores.get_mut(family) {
                    store.files.insert(0, table.clone());
                }
            }
            *state = Arc::new(next);
        }
        let st = self.snapshot();
        for (family, table, _) in &written {
            if let Some(store) = st.stores.get(family) {
                new_files.push((store.options.clone(), table.clone()));
            }
        }
        self.release_memstore(freed);
        // Adaptive in-memory compaction tries a little sooner in the next memstore: the
        // data it found not worth compacting is on disk now. One step per flush, so a
        // load of new rows settles at about one try per flush while a switch to rewrites
        // is found within a few flushes.
        let _ = self.memstore_compaction_backoff.fetch_update(
            Ordering::AcqRel,
            Ordering::Acquire,
            |b| Some(b.saturating_sub(1)),
        );
        // Start a new segment so the one holding the flushed edits can be deleted now.
        self.wal.roll()?;
        self.wal.mark_flushed(boundary)?;
        let stats = &self.engine.stats;
        Stats::add(&stats.flushes, 1);
        Stats::add(&stats.flush_bytes, flushed_bytes);
        Stats::add(&stats.flush_dropped_entries, dropped);
        Stats::add(&stats.flush_micros, started.elapsed().as_micros() as u64);
        stats.latency.flush.observe(started.elapsed());
        tracing::info!(region = %self.name, flushed_seq = boundary, bytes = flushed_bytes,
            ms = started.elapsed().as_millis() as u64, "flushed memstore");
        self.maybe_request_minor();
        Ok(())
    }
}

impl super::StoreState {
    /// The store's frozen memstores merged (positioned at the first entry), and the
    /// filter of what a flush or an in-memory compaction leaves out of them (`None`
    /// without `drop_hidden`).
    pub(super) fn frozen_merged(
        &self,
        drop_hidden: bool,
    ) -> Result<(MergingIterator<'_>, Option<FlushFilter<'_>>)> {
        // Versions past max_versions may go only while no source outside the merge holds
        // a marker that could hide one of the newer versions kept.
        let count_versions = self.active.delete_markers() == 0
            && self.files.iter().all(|f| f.meta().delete_marker_count == 0);
        let filter = drop_hidden.then(|| FlushFilter::new(&self.options, count_versions));
        let children: Vec<Source<'_>> = self.frozen.iter().map(|m| m.iter().into()).collect();
        let mut it = MergingIterator::new(children);
        it.seek_to_first()?;
        Ok((it, filter))
    }
}

impl Region {
    /// Hands out a file id from the live manifest (so a failed attempt never reuses
    /// one), skipping ids whose file exists (left by a failed attempt).
    pub(crate) fn allocate_file_id(&self, manifest: &mut Manifest, family: &str) -> u64 {
        loop {
            let id = manifest.next_file_id;
            manifest.next_file_id += 1;
            if !Manifest::sstable_path(&self.dir, family, id).exists()
                && !crate::sstable::Reference::path(&self.dir, family, id).exists()
            {
                return id;
            }
        }
    }

    /// Writes the store's frozen memstores, merged, as one SSTable; returns it, its id,
    /// its size and the entries left out (counted once the flush is recorded).
    fn write_memstore(
        &self,
        manifest: &mut Manifest,
        fam: &str,
        store: &super::StoreState,
    ) -> Result<(Arc<SsTable>, u64, u64, u64)> {
        let id = self.allocate_file_id(manifest, fam);
        let path = Manifest::sstable_path(&self.dir, fam, id);
        let opts = SsTableWriteOptions {
            block_size: store.options.block_size_bytes,
            compression: store.options.compression,
            bloom: store.options.bloom,
            bloom_fp_rate: store.options.bloom_fp_rate,
            expected_entries: store.frozen.iter().map(|m| m.len()).sum(),
        };
        let drop_hidden = self.engine.opts.memstore.drop_hidden_versions;
        let (mut it, mut filter) = store.frozen_merged(drop_hidden)?;
        let mut builder = SsTableBuilder::create(&path, opts)?;
        let mut dropped = 0u64;
        while it.valid() {
            if FlushFilter::keeps(filter.as_mut(), it.key())? {
                builder.add(it.key(), it.value())?;
            } else {
                dropped += 1;
            }
            it.next()?;
        }
        let info = builder.finish()?;
        match SsTable::open(&path, self.engine.cache.clone(), self.engine.stats.clone()) {
            Ok(table) => Ok((table, id, info.file_size, dropped)),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }
}
