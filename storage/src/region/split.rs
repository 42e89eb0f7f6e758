//! Region split: cut a region at a row into two daughter regions that read the parent's
//! SSTables through half-range reference files (no data copy), HBase-style.
//!
//! Protocol (each step durable before the next; `docs/storage.md` has the crash table):
//! 1. Check the split row (inside the range, above the start row) and the daughter ids.
//!    A region that still reads its own parent through references compacts first.
//! 2. Flush while still serving; then fence writes (new writes fail with `Closed`, which
//!    servers turn into "re-locate"), wait for in-flight writes, flush the rest, close.
//!    Every acknowledged write is now in an SSTable: the daughters need no WAL.
//! 3. Write `SPLIT` (state `started`, the split row, the daughter ids) in the parent.
//! 4. Create each daughter: directories, one `.ref` per parent SSTable holding rows of
//!    its half, a manifest listing them, and `region.meta` (with `parent`) last.
//! 5. Rewrite `SPLIT` with state `committed`: the commit point.
//!
//! Opening a parent whose `SPLIT` says `started` rolls the split back (daughter
//! directories deleted, marker removed) and opens the parent intact; a `committed`
//! marker makes the parent refuse to open, as the daughters own its rows now. The
//! parent's files are deleted by [`remove_split_parent`] once no daughter lists a
//! reference any more (their compactions rewrote every reference).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use super::{Region, RegionDescriptor, RegionState};
use crate::compaction::CompactionKind;
use crate::error::{Error, IoContext, Result};
use crate::fs_util::{self, hex_bytes};
use crate::iterator::InternalIterator;
use crate::key;
use crate::manifest::Manifest;
use crate::sstable::{Half, Reference};

/// The split marker file inside the parent's directory.
pub const SPLIT_FILE: &str = "SPLIT";
const MAGIC: u64 = u64::from_le_bytes(*b"STRSPLT1");
const VERSION: u32 = 1;
/// Most entries read from one file to find a middle row when its block index is too
/// small to give one (a region of one or two blocks).
const MAX_SPLIT_POINT_SCAN_ENTRIES: usize = 100_000;

/// How far a split got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitState {
    /// Daughters may be partly created; not committed: roll back.
    Started,
    /// Both daughters are complete; the parent is retired.
    Committed,
}

/// The content of `SPLIT`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitMarker {
    /// How far the split got.
    pub state: SplitState,
    /// The row the daughters meet at (first row of the right daughter).
    #[serde(with = "hex_bytes")]
    pub split_row: Vec<u8>,
    /// Region ids of the left (lower) and right daughters, siblings of the parent.
    pub daughters: Vec<String>,
}

impl SplitMarker {
    /// Writes the marker atomically into `parent_dir` (the split itself does this; tests
    /// use it to stage crash states).
    pub fn save(&self, parent_dir: &Path) -> Result<()> {
        let body = serde_json::to_vec(self)
            .map_err(|e| Error::InvalidArgument(format!("cannot encode split marker: {e}")))?;
        fs_util::write_atomic(
            &parent_dir.join(SPLIT_FILE),
            &fs_util::seal(MAGIC, VERSION, &body),
        )
    }

    /// Reads the marker of `parent_dir`; `Ok(None)` if the region never split.
    pub fn load(parent_dir: &Path) -> Result<Option<SplitMarker>> {
        let path = parent_dir.join(SPLIT_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let body = fs_util::unseal(&path, MAGIC, VERSION, &bytes)?;
        let m: SplitMarker = serde_json::from_slice(body).map_err(|e| Error::Corruption {
            file: path.clone(),
            offset: 16,
            reason: format!("bad split marker: {e}"),
        })?;
        if m.daughters.len() != 2 || m.daughters.iter().any(|d| !plain_name(d)) {
            return Err(Error::Corruption {
                file: path,
                offset: 16,
                reason: format!("split marker names bad daughters {:?}", m.daughters),
            });
        }
        Ok(Some(m))
    }
}

/// What a committed split produced.
#[derive(Clone, Debug, PartialEq)]
pub struct SplitResult {
    /// The first row of the right daughter.
    pub split_row: Vec<u8>,
    /// Rows `[parent start, split_row)`.
    pub left: RegionDescriptor,
    /// Rows `[split_row, parent end)`.
    pub right: RegionDescriptor,
    /// Directory of the left daughter (open it with `Engine::open_region`).
    pub left_dir: PathBuf,
    /// Directory of the right daughter.
    pub right_dir: PathBuf,
}

fn plain_name(s: &str) -> bool {
    !s.is_empty() && !s.contains(['/', '\\']) && !s.starts_with('.')
}

fn table_dir(dir: &Path) -> Result<&Path> {
    dir.parent()
        .ok_or_else(|| Error::InvalidRegion(format!("{} has no parent", dir.display())))
}

impl Region {
    /// True if some store still reads a parent's files through references.
    pub fn has_references(&self) -> bool {
        self.snapshot()
            .stores
            .values()
            .any(|s| s.files.iter().any(|f| f.is_reference()))
    }

    /// True once the region was closed (or split).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Bytes of the region's store files (references count their half).
    pub fn store_file_bytes(&self) -> u64 {
        self.snapshot()
            .stores
            .values()
            .flat_map(|s| s.files.iter())
            .map(|f| f.file_size())
            .sum()
    }

    /// Checks that `row` can split this region: inside the range and above the start.
    pub fn check_split_row(&self, row: &[u8]) -> Result<()> {
        let d = &self.desc;
        let show = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(64)]).into_owned();
        if row <= d.start_row.as_slice() || (!d.end_row.is_empty() && row >= &d.end_row[..]) {
            return Err(Error::InvalidArgument(format!(
                "split row {:?} must be inside region {} [{:?}, {:?}) and above its start row",
                show(row),
                self.name,
                show(&d.start_row),
                show(&d.end_row)
            )));
        }
        crate::mutation::validate_row(row)
    }

    /// The middle row of the region: the median of the block boundaries of the largest
    /// store's files (each block weighs the same), or, when the store has too few
    /// blocks, the middle distinct row of its largest file. Fails if the region holds
    /// fewer than two distinct rows.
    pub fn split_point(&self) -> Result<Vec<u8>> {
        let st = self.snapshot();
        let store = st
            .stores
            .values()
            .max_by_key(|s| s.files.iter().map(|f| f.file_size()).sum::<u64>());
        let file = store
            .and_then(|s| s.files.iter().max_by_key(|f| f.file_size()))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "region {} has no data to find a split row in; give one",
                    self.name
                ))
            })?;
        let mut bounds: Vec<&[u8]> = store
            .into_iter()
            .flat_map(|s| s.files.iter())
            .flat_map(|f| f.index().iter().map(|e| e.last_key.as_slice()))
            .collect();
        bounds.sort_unstable();
        if bounds.len() >= 3
            && let Some(row) = bounds
                .get(bounds.len() / 2)
                .and_then(|k| key::parse_key(k))
                .map(|k| k.row.into_owned())
            && self.check_split_row(&row).is_ok()
        {
            return Ok(row);
        }
        // Few blocks: read the file's distinct rows (bounded) and take the middle one.
        let mut rows: Vec<Vec<u8>> = Vec::new();
        let mut it = file.iter(false);
        it.seek_to_first()?;
        let mut seen = 0;
        while it.valid() && seen < MAX_SPLIT_POINT_SCAN_ENTRIES {
            let k = key::parse_key_or_corrupt(it.key(), file.data_path(), 0)?;
            if rows.last().is_none_or(|r| r.as_slice() != &k.row[..]) {
                rows.push(k.row.into_owned());
            }
            seen += 1;
            it.next()?;
        }
        rows.retain(|r| self.check_split_row(r).is_ok());
        rows.get(rows.len() / 2).cloned().ok_or_else(|| {
            Error::InvalidArgument(format!("region {} holds too few rows to split", self.name))
        })
    }

    /// Splits the region at `split_row` (or its middle row) into daughters
    /// `left_id` and `right_id`, created as sibling directories. On success the region
    /// is closed and retired; open the daughters from [`SplitResult`]. On failure before
    /// the region closed it keeps serving; after, it is closed with nothing split and
    /// must be reopened (the error says which: check [`Region::is_closed`]).
    pub fn split(
        &self,
        split_row: Option<&[u8]>,
        left_id: &str,
        right_id: &str,
    ) -> Result<SplitResult> {
        self.check_open()?;
        if let Some(row) = split_row {
            self.check_split_row(row)?;
        }
        let tdir = table_dir(&self.dir)?.to_path_buf();
        for id in [left_id, right_id] {
            if !plain_name(id) || id == self.desc.region_id || left_id == right_id {
                return Err(Error::InvalidArgument(format!(
                    "bad daughter region ids {left_id:?}, {right_id:?} for {}",
                    self.name
                )));
            }
            if tdir.join(id).exists() {
                return Err(Error::InvalidArgument(format!(
                    "daughter directory {} already exists",
                    tdir.join(id).display()
                )));
            }
        }
        if self.has_references() {
            // A daughter that still reads its parent splits only after its own
            // compaction, so references never point at references.
            self.compact(CompactionKind::Major)?;
        }
        self.flush()?;
        let row = match split_row {
            Some(r) => r.to_vec(),
            None => self.split_point()?,
        };
        let (left, right) = self.daughter_descriptors(&row, left_id, right_id)?;
        self.fence_and_close()?;
        let result = SplitResult {
            split_row: row,
            left_dir: tdir.join(left_id),
            right_dir: tdir.join(right_id),
            left,
            right,
        };
        if let Err(e) = self.write_daughters(&result) {
            tracing::error!(region = %self.name, error = %e, "split failed; rolling back");
            if let Err(e2) = roll_back_split(&self.dir) {
                tracing::error!(region = %self.name, error = %e2, "split roll-back failed; the next open retries it");
            }
            return Err(e);
        }
        tracing::info!(region = %self.name, left = %result.left.region_id, right = %result.right.region_id,
            "region split");
        Ok(result)
    }

    fn daughter_descriptors(
        &self,
        row: &[u8],
        left_id: &str,
        right_id: &str,
    ) -> Result<(RegionDescriptor, RegionDescriptor)> {
        let mut left = self.desc.clone();
        left.region_id = left_id.to_string();
        left.end_row = row.to_vec();
        left.parent = Some(self.desc.region_id.clone());
        let mut right = self.desc.clone();
        right.region_id = right_id.to_string();
        right.start_row = row.to_vec();
        right.parent = Some(self.desc.region_id.clone());
        left.validate()?;
        right.validate()?;
        Ok((left, right))
    }

    /// Stops writes, waits for those in flight, flushes the rest and closes. If
    /// anything before the close fails, writes are let in again.
    fn fence_and_close(&self) -> Result<()> {
        {
            let _w = self.write_lock.lock();
            self.writes_fenced.store(true, Ordering::Release);
        }
        let flushed = (|| {
            self.mvcc.wait_for(self.mvcc.last_assigned());
            self.check_open()?;
            self.flush()
        })();
        if let Err(e) = flushed {
            self.writes_fenced.store(false, Ordering::Release);
            return Err(e);
        }
        self.close(false)
    }

    /// Steps 3-5 of the protocol (the region is closed and fully flushed).
    fn write_daughters(&self, r: &SplitResult) -> Result<()> {
        let mut marker = SplitMarker {
            state: SplitState::Started,
            split_row: r.split_row.clone(),
            daughters: vec![r.left.region_id.clone(), r.right.region_id.clone()],
        };
        marker.save(&self.dir)?;
        let st = self.snapshot();
        let manifest = self.manifest.lock().clone();
        let split_key = key::row_start_key(&r.split_row);
        for (dir, desc, half) in [
            (&r.left_dir, &r.left, Half::Bottom),
            (&r.right_dir, &r.right, Half::Top),
        ] {
            self.write_daughter(dir, desc, half, &split_key, &st, &manifest)?;
        }
        marker.state = SplitState::Committed;
        marker.save(&self.dir)
    }

    fn write_daughter(
        &self,
        dir: &Path,
        desc: &RegionDescriptor,
        half: Half,
        split_key: &[u8],
        st: &RegionState,
        parent: &Manifest,
    ) -> Result<()> {
        fs_util::create_dir_durable(dir)?;
        fs_util::create_dir_durable(&dir.join(super::open::WAL_DIR))?;
        let mut files: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let mut next_file_id = 1;
        for (family, store) in &st.stores {
            let fam = String::from_utf8_lossy(family).into_owned();
            fs_util::create_dir_durable(&dir.join(&fam))?;
            let ids = files.entry(fam.clone()).or_default();
            // Newest first, as the manifest lists them.
            for f in &store.files {
                let m = f.meta();
                let holds_half = match half {
                    Half::Bottom => m.first_key.as_slice() < split_key,
                    Half::Top => m.last_key.as_slice() >= split_key,
                };
                if !holds_half {
                    continue;
                }
                let reference = Reference {
                    parent_region: self.desc.region_id.clone(),
                    family: fam.clone(),
                    file_id: super::compact::file_id(f)?,
                    half,
                    split_row: desc_split_row(desc, half),
                };
                reference.save(&Reference::path(dir, &fam, next_file_id))?;
                ids.push(next_file_id);
                next_file_id += 1;
            }
        }
        let manifest = Manifest {
            flushed_seq: parent.flushed_seq,
            next_file_id,
            files,
            last_major_compaction_ms: None,
            created_ms: Some(self.engine.clock.now_ms()),
        };
        manifest.save(dir)?;
        // The descriptor goes last: a directory without it is an unfinished creation.
        desc.save(dir)
    }
}

/// The split row as a daughter's descriptor records it.
fn desc_split_row(desc: &RegionDescriptor, half: Half) -> Vec<u8> {
    match half {
        Half::Bottom => desc.end_row.clone(),
        Half::Top => desc.start_row.clone(),
    }
}

/// Undoes a split that did not commit: deletes the daughter directories its marker
/// names and the marker. Idempotent; a committed split is left alone (error).
pub fn roll_back_split(parent_dir: &Path) -> Result<()> {
    let Some(marker) = SplitMarker::load(parent_dir)? else {
        return Ok(());
    };
    if marker.state == SplitState::Committed {
        return Err(Error::InvalidRegion(format!(
            "{} was split into {:?}; a committed split cannot be rolled back",
            parent_dir.display(),
            marker.daughters
        )));
    }
    let tdir = table_dir(parent_dir)?;
    for d in &marker.daughters {
        let dir = tdir.join(d);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&dir, e)),
        }
    }
    fs_util::sync_dir(tdir)?;
    let path = parent_dir.join(SPLIT_FILE);
    std::fs::remove_file(&path).at(&path)?;
    fs_util::sync_dir(parent_dir)?;
    tracing::info!(region = %parent_dir.display(), "uncommitted split rolled back");
    Ok(())
}

/// True while a daughter of the committed split in `parent_dir` still lists a
/// reference file (reads the daughters' manifests on disk).
pub fn parent_still_referenced(parent_dir: &Path) -> Result<bool> {
    let marker = match SplitMarker::load(parent_dir)? {
        Some(m) if m.state == SplitState::Committed => m,
        _ => {
            return Err(Error::InvalidRegion(format!(
                "{} holds no committed split",
                parent_dir.display()
            )));
        }
    };
    let tdir = table_dir(parent_dir)?;
    for d in &marker.daughters {
        let dir = tdir.join(d);
        if !dir.join(crate::manifest::MANIFEST_FILE).exists() {
            // A daughter that is gone (split and removed itself, or its table
            // deleted) no longer reads anything.
            continue;
        }
        let m = Manifest::load(&dir)?;
        for (fam, ids) in &m.files {
            if ids
                .iter()
                .any(|id| Reference::path(&dir, fam, *id).exists())
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Deletes a split parent's directory once no daughter references its files.
/// Returns true if the directory is gone (now or before). Crash-safe: the directory is
/// first renamed to a hidden name, which a later call finishes removing.
pub fn remove_split_parent(parent_dir: &Path) -> Result<bool> {
    let tdir = table_dir(parent_dir)?;
    let name = parent_dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::InvalidRegion(format!("bad region dir {}", parent_dir.display())))?;
    let doomed = tdir.join(format!(".{name}.removing"));
    if parent_dir.exists() {
        if parent_still_referenced(parent_dir)? {
            return Ok(false);
        }
        std::fs::rename(parent_dir, &doomed).at(parent_dir)?;
        fs_util::sync_dir(tdir)?;
    }
    match std::fs::remove_dir_all(&doomed) {
        Ok(()) => fs_util::sync_dir(tdir)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&doomed, e)),
    }
    Ok(true)
}

/// At open: rolls back an uncommitted split; refuses a parent whose split committed.
pub(crate) fn check_on_open(dir: &Path) -> Result<()> {
    match SplitMarker::load(dir)? {
        None => Ok(()),
        Some(m) if m.state == SplitState::Started => roll_back_split(dir),
        Some(m) => Err(Error::InvalidRegion(format!(
            "{} was split into daughters {:?} and serves nothing more",
            dir.display(),
            m.daughters
        ))),
    }
}
