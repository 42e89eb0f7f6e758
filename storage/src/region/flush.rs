//! Flush: freeze the active memstores (writes continue into fresh ones), write each
//! frozen store as one SSTable, record the new files and the flushed sequence id in the
//! manifest atomically, swap the region state, then drop WAL segments the SSTables cover.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Region, RegionState};
use crate::error::Result;
use crate::iterator::InternalIterator;
use crate::manifest::Manifest;
use crate::memstore::Memstore;
use crate::sstable::{SsTable, SsTableBuilder, SsTableWriteOptions};
use crate::stats::Stats;

impl Region {
    /// Flushes everything written so far to SSTables and waits for it.
    pub fn flush(&self) -> Result<()> {
        let mut manifest = self.manifest.lock();
        self.check_open()?;
        self.freeze();
        while !self.snapshot().frozen_boundaries.is_empty() {
            self.flush_oldest(&mut manifest)?;
        }
        Ok(())
    }

    /// Asks a background thread to flush once the active memstore passes the flush size.
    pub(crate) fn maybe_request_flush(&self) {
        if self.active_bytes() < self.engine.opts.memstore_flush_size_bytes {
            return;
        }
        if !self.flush_requested.swap(true, Ordering::AcqRel) {
            self.engine.flush_queue.push(self.self_ref.clone());
        }
    }

    fn active_bytes(&self) -> u64 {
        self.snapshot()
            .stores
            .values()
            .map(|s| s.active.size_bytes())
            .sum()
    }

    /// Entry point of the background flush threads.
    pub(crate) fn run_requested_flush(&self) {
        self.flush_requested.store(false, Ordering::Release);
        if self.check_open().is_err() {
            return;
        }
        if let Err(e) = self.flush()
            && !matches!(e, crate::error::Error::Closed(_))
        {
            tracing::warn!(region = %self.name, error = %e, "background flush failed; will retry on the next trigger");
        }
    }

    /// Moves every active memstore to the frozen list. Returns false if all were empty.
    fn freeze(&self) -> bool {
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

    /// Writes the oldest frozen generation (manifest lock held).
    fn flush_oldest(&self, manifest: &mut Manifest) -> Result<()> {
        let started = Instant::now();
        let st = self.snapshot();
        let Some(&boundary) = st.frozen_boundaries.last() else {
            return Ok(());
        };
        let mut next_manifest = manifest.clone();
        let mut written: Vec<(bytes::Bytes, Arc<SsTable>)> = Vec::new();
        let mut flushed_bytes = 0;
        let mut freed = 0;
        for (family, store) in &st.stores {
            let Some(mem) = store.frozen.last() else { continue };
            freed += mem.size_bytes();
            if mem.is_empty() {
                continue;
            }
            let fam = String::from_utf8_lossy(family).into_owned();
            let id = next_manifest.next_file_id;
            next_manifest.next_file_id += 1;
            let path = Manifest::sstable_path(&self.dir, &fam, id);
            let opts = SsTableWriteOptions {
                block_size: store.options.block_size_bytes,
                compression: store.options.compression,
                bloom: store.options.bloom,
                bloom_fp_rate: store.options.bloom_fp_rate,
                expected_entries: mem.len(),
            };
            let mut builder = SsTableBuilder::create(&path, opts)?;
            let mut it = mem.iter();
            it.seek_to_first()?;
            while it.valid() {
                builder.add(it.key(), it.value())?;
                it.next()?;
            }
            let info = builder.finish()?;
            flushed_bytes += info.file_size;
            let table = SsTable::open(&path, self.engine.cache.clone(), self.engine.stats.clone())?;
            next_manifest.files.entry(fam).or_default().insert(0, id);
            written.push((family.clone(), table));
        }
        next_manifest.flushed_seq = next_manifest.flushed_seq.max(boundary);
        next_manifest.save(&self.dir)?;
        *manifest = next_manifest;
        {
            let mut state = self.state.write();
            let mut next: RegionState = (**state).clone();
            for store in next.stores.values_mut() {
                store.frozen.pop();
            }
            next.frozen_boundaries.pop();
            for (family, table) in written {
                if let Some(store) = next.stores.get_mut(&family) {
                    store.files.insert(0, table);
                }
            }
            *state = Arc::new(next);
        }
        self.memstore_bytes
            .fetch_sub(freed.min(self.memstore_bytes()), Ordering::Relaxed);
        // Start a new segment so the one holding the flushed edits can be deleted now.
        self.wal.roll()?;
        self.wal.mark_flushed(boundary)?;
        let stats = &self.engine.stats;
        Stats::add(&stats.flushes, 1);
        Stats::add(&stats.flush_bytes, flushed_bytes);
        Stats::add(&stats.flush_micros, started.elapsed().as_micros() as u64);
        tracing::info!(region = %self.name, flushed_seq = boundary, bytes = flushed_bytes,
            ms = started.elapsed().as_millis() as u64, "flushed memstore");
        Ok(())
    }
}
