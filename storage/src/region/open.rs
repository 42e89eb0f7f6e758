//! Creating a region directory and opening (recovering) an existing one: load the
//! descriptor and manifest, delete files the manifest does not list (leftovers of a
//! crash mid-flush), open the SSTables, replay the WAL past the flushed sequence id into
//! the memstores, and start a new WAL segment.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex, RwLock};

use super::{ROW_LOCK_STRIPES, Region, RegionDescriptor, RegionState, StoreState};
use crate::engine::EngineShared;
use crate::error::{Error, IoContext, Result};
use crate::fs_util;
use crate::manifest::Manifest;
use crate::memstore::Memstore;
use crate::mutation::decode_payload;
use crate::mvcc::Mvcc;
use crate::sstable::{Reference, SsTable};
use crate::wal::{self, Wal, WalOptions};

/// Name of the WAL directory inside a region directory.
pub const WAL_DIR: &str = "wal";
/// Name of the lock file that keeps a region open in one engine only.
pub const LOCK_FILE: &str = "LOCK";
/// Sequence ids stay below this (2^62), so `+ 1` never overflows.
const MAX_SEQ: u64 = 1 << 62;

impl Region {
    pub(crate) fn create(
        engine: Arc<EngineShared>,
        dir: &Path,
        desc: RegionDescriptor,
    ) -> Result<Arc<Region>> {
        desc.validate()?;
        if dir.join(super::DESCRIPTOR_FILE).exists() {
            return Err(Error::InvalidRegion(format!(
                "{} already holds a region",
                dir.display()
            )));
        }
        fs_util::create_dir_durable(dir)?;
        for f in &desc.families {
            fs_util::create_dir_durable(&dir.join(&f.name))?;
        }
        fs_util::create_dir_durable(&dir.join(WAL_DIR))?;
        let manifest = Manifest {
            next_file_id: 1,
            ..Default::default()
        };
        manifest.save(dir)?;
        // The descriptor goes last: a directory without it is an unfinished creation.
        desc.save(dir)?;
        Self::open(engine, dir)
    }

    pub(crate) fn open(engine: Arc<EngineShared>, dir: &Path) -> Result<Arc<Region>> {
        let desc = RegionDescriptor::load(dir)?;
        let lock = lock_region_dir(dir)?;
        super::split::check_on_open(dir)?;
        let manifest = Manifest::load(dir)?;
        let name = desc.name();
        remove_unlisted_files(dir, &desc, &manifest)?;
        let mut stores = BTreeMap::new();
        let mut max_seq = manifest.flushed_seq;
        for f in &desc.families {
            fs_util::create_dir_durable(&dir.join(&f.name))?;
            let mut files = Vec::new();
            for id in manifest
                .files
                .get(&f.name)
                .map(|v| v.as_slice())
                .unwrap_or_default()
            {
                let table = open_store_file(&engine, dir, &f.name, *id)?;
                max_seq = max_seq.max(table.meta().max_seq);
                files.push(table);
            }
            let state = StoreState {
                options: Arc::new(f.clone()),
                active: Arc::new(Memstore::new()),
                frozen: Vec::new(),
                files,
            };
            stores.insert(crate::key::family_name(f.name.as_bytes()), state);
        }
        let state = RegionState {
            stores,
            frozen_boundaries: Vec::new(),
        };

        // Replay into a detached memstore set first; the region object is built after.
        let wal_dir = dir.join(WAL_DIR);
        let mut replayed: Vec<(u64, Bytes, Vec<crate::mutation::ResolvedCell>)> = Vec::new();
        let outcome = wal::replay(&wal_dir, manifest.flushed_seq, |seq, payload| {
            let (row, cells) = decode_payload(payload).ok_or_else(|| Error::Corruption {
                file: wal_dir.clone(),
                offset: seq,
                reason: format!("WAL record seq {seq} does not decode as a row mutation"),
            })?;
            for c in &cells {
                if !state.stores.contains_key(&c.family) {
                    return Err(Error::Corruption {
                        file: wal_dir.clone(),
                        offset: seq,
                        reason: format!("WAL record seq {seq} names unknown family {:?}", c.family),
                    });
                }
            }
            replayed.push((seq, row, cells));
            Ok(())
        })?;
        max_seq = max_seq.max(outcome.last_seq.unwrap_or(0));
        if max_seq >= MAX_SEQ {
            return Err(Error::Corruption {
                file: dir.join(crate::manifest::MANIFEST_FILE),
                offset: 0,
                reason: format!("sequence id {max_seq} is out of range (limit {MAX_SEQ})"),
            });
        }
        let wal_opts = WalOptions::from_engine(&engine.opts);
        let wal = Wal::open(
            &wal_dir,
            max_seq + 1,
            outcome.segments,
            wal_opts,
            engine.stats.clone(),
        )?;
        let engine_now = engine.clock.now_ms();
        let region = Arc::new_cyclic(|weak| Region {
            name: name.clone(),
            dir: dir.to_path_buf(),
            engine,
            state: RwLock::new(Arc::new(state)),
            write_lock: Mutex::new(()),
            row_locks: (0..ROW_LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            mvcc: Mvcc::new(max_seq),
            wal,
            manifest: Mutex::new(manifest),
            memstore_bytes: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            writes_fenced: AtomicBool::new(false),
            failure: Mutex::new(None),
            flush_requested: AtomicBool::new(false),
            memstore_compaction_requested: AtomicBool::new(false),
            memstore_compaction_backoff: AtomicU32::new(0),
            self_ref: weak.clone(),
            compaction_lock: Mutex::new(()),
            compaction_queued: AtomicBool::new(false),
            major_requested: AtomicBool::new(false),
            last_compaction_ms: AtomicU64::new(0),
            compacted: Condvar::new(),
            compacted_mx: Mutex::new(()),
            opened_ms: engine_now,
            dir_lock: Mutex::new(Some(lock)),
            desc,
        });
        let replayed_count = replayed.len();
        for (seq, row, cells) in replayed {
            region.insert_cells(&row, &cells, seq);
        }
        region.engine.register(region.self_ref.clone());
        tracing::info!(region = %name, replayed = replayed_count, read_point = max_seq,
            torn_tail = outcome.torn_tail_dropped, "region opened");
        region.prefetch_on_open();
        region.maybe_request_flush();
        region.maybe_request_minor();
        Ok(region)
    }
}

/// `.ref`: the suffix of reference files.
const REF_SUFFIX: &str = ".ref";

/// Opens store file `id`: an SSTable, or a reference to half of a parent region's
/// SSTable (a daughter not yet compacted after a split).
pub(crate) fn open_store_file(
    engine: &EngineShared,
    dir: &Path,
    family: &str,
    id: u64,
) -> Result<Arc<SsTable>> {
    let ref_path = Reference::path(dir, family, id);
    if ref_path.exists() {
        return SsTable::open_reference(&ref_path, engine.cache.clone(), engine.stats.clone());
    }
    let path = Manifest::sstable_path(dir, family, id);
    SsTable::open(&path, engine.cache.clone(), engine.stats.clone())
}

/// Deletes SSTables and references the manifest does not list and temporary files.
fn remove_unlisted_files(dir: &Path, desc: &RegionDescriptor, manifest: &Manifest) -> Result<()> {
    for f in &desc.families {
        let fdir = dir.join(&f.name);
        let Ok(entries) = fs::read_dir(&fdir) else {
            continue;
        };
        let live: Vec<u64> = manifest.files.get(&f.name).cloned().unwrap_or_default();
        let mut removed = false;
        for entry in entries {
            let path = entry.at(&fdir)?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let listed = name
                .strip_suffix(".sst")
                .or_else(|| name.strip_suffix(REF_SUFFIX))
                .and_then(|id| id.parse::<u64>().ok())
                .is_some_and(|id| live.contains(&id));
            let ours =
                name.ends_with(".sst") || name.ends_with(REF_SUFFIX) || name.ends_with(".tmp");
            if !listed && ours {
                tracing::info!(file = %path.display(), "removing file not listed in the manifest");
                fs::remove_file(&path).at(&path)?;
                removed = true;
            }
        }
        if removed {
            fs_util::sync_dir(&fdir)?;
        }
    }
    Ok(())
}

/// Takes an exclusive lock on `<dir>/LOCK` for as long as the region is open, so a
/// second open (in this process or another) fails instead of sharing the WAL.
fn lock_region_dir(dir: &Path) -> Result<fs::File> {
    let path = dir.join(LOCK_FILE);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .at(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(Error::InvalidRegion(format!(
            "{} is already open (locked by {}); close it there first",
            dir.display(),
            path.display()
        ))),
        Err(fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}
