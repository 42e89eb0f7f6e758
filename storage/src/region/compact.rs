//! Compaction of a region's stores: merge input SSTables into one (dropping hidden
//! cells in a major compaction), swap the live file set atomically in the manifest and
//! the region state, and let replaced files be deleted when their last reader is gone.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;

use super::{Region, RegionState};
use crate::compaction::{CompactionKind, CompactionReport, StoreCompaction, picker};
use crate::error::Result;
use crate::iterator::InternalIterator;
use crate::manifest::Manifest;
use crate::merge::{MergingIterator, Source};
use crate::sstable::{SsTable, SsTableBuilder, SsTableWriteOptions};
use crate::visibility::RetentionFilter;

/// Bytes of compaction IO charged to the rate limiter at a time.
const RATE_LIMIT_CHUNK_BYTES: u64 = 256 * 1024;

impl Region {
    /// Compacts every store now, on the calling thread: `Major` merges all files of each
    /// store and drops what no reader can see; `Minor` merges a size-tiered selection
    /// where one qualifies. A major compaction flushes the memstores first, so it covers
    /// everything written before the call.
    pub fn compact(&self, kind: CompactionKind) -> Result<CompactionReport> {
        self.check_open()?;
        if kind == CompactionKind::Major {
            self.flush()?;
        }
        let _one_at_a_time = self.compaction_lock.lock();
        self.check_open()?;
        let started = Instant::now();
        let mut report = CompactionReport::default();
        let families: Vec<Bytes> = self.snapshot().stores.keys().cloned().collect();
        for family in families {
            if let Some(s) = self.compact_store(&family, kind)? {
                report.stores.push(s);
            }
        }
        report.duration_ms = started.elapsed().as_millis() as u64;
        if !report.stores.is_empty() {
            self.engine
                .stats
                .latency
                .compaction
                .observe(started.elapsed());
        }
        if kind == CompactionKind::Major {
            let mut m = self.manifest.lock();
            let mut next = m.clone();
            next.last_major_compaction_ms = Some(self.engine.clock.now_ms());
            next.save(&self.dir)?;
            *m = next;
        }
        self.last_compaction_ms
            .store(report.duration_ms, Ordering::Relaxed);
        if !report.stores.is_empty() {
            tracing::info!(region = %self.name, ?kind, files = report.stores.iter().map(|s| s.input_files).sum::<usize>(),
                read = report.bytes_read(), written = report.bytes_written(), ms = report.duration_ms, "compaction ends");
        }
        Ok(report)
    }

    /// Queues a background compaction (a major request upgrades a queued minor).
    pub fn request_compaction(&self, kind: CompactionKind) {
        if kind == CompactionKind::Major {
            self.major_requested.store(true, Ordering::Release);
        }
        if !self.compaction_queued.swap(true, Ordering::AcqRel) {
            self.engine.compactions.submit(self.self_ref.clone());
        }
    }

    /// Queues a minor compaction if some store has `compaction.min_files` files.
    pub(crate) fn maybe_request_minor(&self) {
        let min = self.engine.opts.compaction.min_files;
        if self
            .snapshot()
            .stores
            .values()
            .any(|s| s.files.len() >= min || s.files.iter().any(|f| f.is_reference()))
        {
            self.request_compaction(CompactionKind::Minor);
        }
    }

    /// Entry point of the pool's workers.
    pub(crate) fn run_queued_compaction(&self) -> Result<CompactionReport> {
        self.compaction_queued.store(false, Ordering::Release);
        let kind = if self.major_requested.swap(false, Ordering::AcqRel) {
            CompactionKind::Major
        } else {
            CompactionKind::Minor
        };
        let r = self.compact(kind);
        self.compacted.notify_all();
        r
    }

    /// Merges the chosen files of one store. Returns `None` if there was nothing to do.
    fn compact_store(
        &self,
        family: &Bytes,
        kind: CompactionKind,
    ) -> Result<Option<StoreCompaction>> {
        let st = self.snapshot();
        let store = self.family(&st, family)?.clone();
        let opts = &self.engine.opts.compaction;
        // Files newest first in the state; the picker wants them oldest first.
        let oldest_first: Vec<&Arc<SsTable>> = store.files.iter().rev().collect();
        // A store still reading a parent's files through references rewrites them all
        // (whatever the kind): the parent's files can go only once no reference is left.
        let has_references = store.files.iter().any(|f| f.is_reference());
        let inputs: Vec<Arc<SsTable>> = match kind {
            _ if store.files.is_empty() => return Ok(None),
            CompactionKind::Major => oldest_first.into_iter().cloned().collect(),
            CompactionKind::Minor if has_references => oldest_first.into_iter().cloned().collect(),
            CompactionKind::Minor => {
                let sizes: Vec<u64> = oldest_first.iter().map(|f| f.file_size()).collect();
                let force = store.files.len() >= opts.blocking_files;
                match picker::select(&sizes, opts, force) {
                    Some(range) => oldest_first[range].iter().map(|f| (*f).clone()).collect(),
                    None => return Ok(None),
                }
            }
        };
        // Every input entry must be final (its write acknowledged or failed) before a
        // major compaction judges it.
        let max_seq = inputs.iter().map(|f| f.meta().max_seq).max().unwrap_or(0);
        self.mvcc.wait_for(max_seq.min(self.mvcc.last_assigned()));

        let fam = String::from_utf8_lossy(family).into_owned();
        let id = self.allocate_file_id(&mut self.manifest.lock(), &fam);
        let path = Manifest::sstable_path(&self.dir, &fam, id);
        let input_entries: u64 = inputs.iter().map(|f| f.meta().entry_count).sum();
        let bytes_read: u64 = inputs.iter().map(|f| f.file_size()).sum();
        tracing::info!(region = %self.name, family = %fam, ?kind, input_files = inputs.len(),
            input_bytes = bytes_read, store_files = store.files.len(), "compaction starts");
        let children: Vec<Source<'_>> =
            inputs.iter().map(|f| Source::from(f.iter(false))).collect();
        let mut merged = MergingIterator::new(children);
        merged.seek_to_first()?;
        let write_opts = SsTableWriteOptions {
            block_size: store.options.block_size_bytes,
            compression: store.options.compression,
            bloom: store.options.bloom,
            bloom_fp_rate: store.options.bloom_fp_rate,
            expected_entries: input_entries as usize,
        };
        let mut builder: Option<SsTableBuilder> = None;
        let mut retention = (kind == CompactionKind::Major)
            .then(|| RetentionFilter::new(&store.options, self.engine.clock.now_ms()));
        let pool = &self.engine.compactions;
        let avg_entry = (bytes_read / input_entries.max(1)).max(1);
        let mut since_charge = 0u64;
        while merged.valid() {
            let keep = match retention.as_mut() {
                Some(r) => r.keep(merged.key())?,
                None => true,
            };
            if keep {
                let b = match builder.as_mut() {
                    Some(b) => b,
                    None => builder.insert(SsTableBuilder::create(&path, write_opts.clone())?),
                };
                b.add(merged.key(), merged.value())?;
            }
            since_charge += avg_entry;
            if since_charge >= RATE_LIMIT_CHUNK_BYTES {
                // Reads and writes both count against the budget.
                pool.limiter.acquire(since_charge * 2);
                since_charge = 0;
            }
            merged.next()?;
        }
        drop(merged);
        let output = match builder {
            Some(b) => {
                let info = b.finish()?;
                Some((
                    SsTable::open(&path, self.engine.cache.clone(), self.engine.stats.clone())?,
                    info,
                ))
            }
            None => None,
        };
        self.install_compaction(
            family,
            &fam,
            &inputs,
            output.as_ref().map(|(t, _)| (t.clone(), id)),
        )?;
        let input_files = inputs.len();
        if let Some((table, _)) = &output {
            // The inputs first leave the cache (dropped with the last handle on them),
            // so the output's blocks find their room.
            let options = store.options.clone();
            drop((inputs, store, st));
            self.prefetch_new_file(&options, table);
        }
        let (output_entries, bytes_written) = output
            .as_ref()
            .map(|(_, i)| (i.meta.entry_count, i.file_size))
            .unwrap_or((0, 0));
        pool.bytes_read.fetch_add(bytes_read, Ordering::Relaxed);
        pool.bytes_written
            .fetch_add(bytes_written, Ordering::Relaxed);
        Ok(Some(StoreCompaction {
            family: fam,
            input_files,
            input_entries,
            bytes_read,
            output_entries,
            bytes_written,
        }))
    }

    /// Replaces `inputs` by `output` in the manifest (durably, atomically) and then in
    /// the region state; the inputs are deleted once no reader holds them.
    fn install_compaction(
        &self,
        family: &Bytes,
        fam: &str,
        inputs: &[Arc<SsTable>],
        output: Option<(Arc<SsTable>, u64)>,
    ) -> Result<()> {
        let is_input = |t: &Arc<SsTable>| inputs.iter().any(|i| Arc::ptr_eq(i, t));
        let mut m = self.manifest.lock();
        if let Err(e) = self.check_open() {
            if let Some((out, _)) = &output {
                out.mark_obsolete();
            }
            return Err(e);
        }
        let st = self.snapshot();
        let store = self.family(&st, family)?;
        // Rebuild the family's file list, newest first, with the output where the newest
        // input was.
        let mut files = Vec::with_capacity(store.files.len());
        let mut placed = false;
        for t in &store.files {
            if !is_input(t) {
                files.push(t.clone());
            } else if !placed {
                if let Some((out, _)) = &output {
                    files.push(out.clone());
                }
                placed = true;
            }
        }
        let ids = files
            .iter()
            .map(|t| file_id(t))
            .collect::<Result<Vec<u64>>>()?;
        let mut next = m.clone();
        next.files.insert(fam.to_owned(), ids);
        next.save(&self.dir)?;
        *m = next;
        {
            let mut state = self.state.write();
            let mut ns: RegionState = (**state).clone();
            if let Some(s) = ns.stores.get_mut(family) {
                s.files = files;
            }
            *state = Arc::new(ns);
        }
        for t in inputs {
            t.mark_obsolete();
        }
        Ok(())
    }
}

/// The file id of an SSTable, from its name (`<id>.sst`).
pub(crate) fn file_id(t: &SsTable) -> Result<u64> {
    t.path()
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            crate::error::Error::InvalidRegion(format!(
                "unexpected SSTable name {}",
                t.path().display()
            ))
        })
}
