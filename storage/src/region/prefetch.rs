//! Prefetch on open (HBase's `PREFETCH_BLOCKS_ON_OPEN`): for families with
//! [`FamilyOptions::prefetch_blocks_on_open`], every data block of a new file is loaded
//! into the block cache while the cache has free room, so reads of a read-mostly family
//! whose data fits the cache never wait for a cold block.
//!
//! When: a file written by a flush or a compaction is prefetched by that job's own
//! background thread, right after it is installed; the files of a region that opens are
//! prefetched by a short-lived thread, at most [`MAX_OPEN_PREFETCH_THREADS`] at once in
//! the process (a region opening past that is not prefetched; its reads fill the cache).
//! Best effort: a prefetch that fails (a corrupt block) is logged and stops; the read
//! that meets the block reports the corruption as it would without prefetching.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Region;
use crate::options::FamilyOptions;
use crate::sstable::SsTable;

/// Region-open prefetch threads running at once, at most.
pub const MAX_OPEN_PREFETCH_THREADS: usize = 2;

static OPEN_PREFETCH_THREADS: AtomicUsize = AtomicUsize::new(0);

impl Region {
    /// Prefetches `table` if its family asks for it.
    pub(crate) fn prefetch_new_file(&self, options: &FamilyOptions, table: &SsTable) {
        if options.prefetch_blocks_on_open {
            prefetch(&self.name, &options.name, table);
        }
    }

    /// After the region opened: prefetches the files of its prefetching families on a
    /// thread of its own.
    pub(crate) fn prefetch_on_open(&self) {
        let st = self.snapshot();
        let files: Vec<(String, Arc<SsTable>)> = st
            .stores
            .values()
            .filter(|s| s.options.prefetch_blocks_on_open)
            .flat_map(|s| s.files.iter().map(|f| (s.options.name.clone(), f.clone())))
            .collect();
        if files.is_empty() || !self.engine.cache.has_room_for_prefetch() {
            return;
        }
        let running = OPEN_PREFETCH_THREADS.fetch_add(1, Ordering::AcqRel);
        if running >= MAX_OPEN_PREFETCH_THREADS {
            OPEN_PREFETCH_THREADS.fetch_sub(1, Ordering::AcqRel);
            tracing::info!(region = %self.name, "prefetch on open skipped: other regions are prefetching");
            return;
        }
        let region = self.name.clone();
        let spawned = std::thread::Builder::new()
            .name("strata-prefetch".into())
            .spawn(move || {
                for (family, table) in &files {
                    prefetch(&region, family, table);
                }
                OPEN_PREFETCH_THREADS.fetch_sub(1, Ordering::AcqRel);
            });
        if let Err(e) = spawned {
            OPEN_PREFETCH_THREADS.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!(region = %self.name, error = %e, "prefetch thread did not start");
        }
    }
}

fn prefetch(region: &str, family: &str, table: &SsTable) {
    let started = std::time::Instant::now();
    match table.prefetch_blocks() {
        Ok(blocks) => tracing::debug!(region, family, file = %table.path().display(), blocks,
            micros = started.elapsed().as_micros() as u64, "prefetched"),
        Err(e) => tracing::warn!(region, family, file = %table.path().display(), error = %e,
            "prefetch stopped"),
    }
}
