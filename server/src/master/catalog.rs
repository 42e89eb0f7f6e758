//! The master's persistent state: every table's schema, enabled flag and region list
//! (id, key range, assignment epoch), kept in one file, `root_dir/master/catalog`.
//!
//! The file is JSON inside the storage crate's checksummed envelope (magic `STRCATL1`,
//! version 1), replaced atomically (temp name, fsync, rename, directory fsync), so a
//! crash leaves the old or the new catalog. A damaged catalog stops the server: it is
//! never taken as empty. Writers go through [`SharedCatalog::update`], which saves before
//! publishing, so readers never see state that is not on disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use strata_storage::fs_util::{self, hex_bytes};
use strata_storage::{Error, FamilyOptions, RegionDescriptor, Result};

use crate::region_server::{TableDirectory, TableState};

const MAGIC: u64 = u64::from_le_bytes(*b"STRCATL1");
const VERSION: u32 = 1;
/// File name of the catalog inside `root_dir/master/`.
pub const CATALOG_FILE: &str = "catalog";

/// One region of a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionEntry {
    /// Region id, unique within the table (its directory name).
    pub region_id: String,
    /// First row (inclusive); empty = unbounded.
    #[serde(with = "hex_bytes")]
    pub start_row: Vec<u8>,
    /// Row the region stops before; empty = unbounded.
    #[serde(with = "hex_bytes")]
    pub end_row: Vec<u8>,
    /// Bumped each time the region is assigned (opened); requests naming an older epoch
    /// are refused.
    pub epoch: u64,
    /// Address of the server it is assigned to; empty = none.
    #[serde(default)]
    pub server: String,
    /// Where the region is in its assignment state machine.
    #[serde(default)]
    pub state: RegionState,
    /// Taken offline by an operator (`unassign`): not assigned again until `assign`.
    #[serde(default)]
    pub pinned_offline: bool,
}

/// A region's transition state, persisted with every step so a restarted master resumes
/// it: `Offline -> Opening -> Open -> Closing -> Offline`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionState {
    /// Not served anywhere.
    #[default]
    Offline,
    /// The master asked `server` to open it under `epoch`.
    Opening,
    /// Served by `server` under `epoch`.
    Open,
    /// The master asked `server` to close it (move, unassign, disable).
    Closing,
}

impl RegionState {
    /// The name clients see in `RegionLocation.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            RegionState::Offline => "offline",
            RegionState::Opening => "opening",
            RegionState::Open => "open",
            RegionState::Closing => "closing",
        }
    }
}

impl RegionEntry {
    /// True if `row` falls in the region (the empty row is in the first region).
    pub fn contains(&self, row: &[u8]) -> bool {
        row >= self.start_row.as_slice() && (self.end_row.is_empty() || row < &self.end_row[..])
    }
}

/// One table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableEntry {
    /// Column families.
    pub families: Vec<FamilyOptions>,
    /// Disabled tables have no open region.
    pub enabled: bool,
    /// Regions sorted by start row, covering all rows without gaps.
    pub regions: Vec<RegionEntry>,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
}

impl TableEntry {
    /// The descriptor of one of the table's regions.
    pub fn descriptor(&self, table: &str, r: &RegionEntry) -> RegionDescriptor {
        RegionDescriptor {
            table: table.to_string(),
            region_id: r.region_id.clone(),
            start_row: r.start_row.clone(),
            end_row: r.end_row.clone(),
            families: self.families.clone(),
            parent: None,
        }
    }

    /// The region with id `region_id`.
    pub fn region(&self, region_id: &str) -> Option<&RegionEntry> {
        self.regions.iter().find(|r| r.region_id == region_id)
    }

    /// The region with id `region_id`, for update.
    pub fn region_mut(&mut self, region_id: &str) -> Option<&mut RegionEntry> {
        self.regions.iter_mut().find(|r| r.region_id == region_id)
    }

    /// The region holding `row`.
    pub fn region_for(&self, row: &[u8]) -> Option<&RegionEntry> {
        let i = self
            .regions
            .partition_point(|r| r.start_row.as_slice() <= row);
        i.checked_sub(1)
            .and_then(|i| self.regions.get(i))
            .filter(|r| r.contains(row))
    }
}

/// All tables.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// By table name.
    pub tables: BTreeMap<String, TableEntry>,
    /// Deleted tables whose directories may still exist (removal is finished at
    /// recovery if a crash interrupted it).
    #[serde(default)]
    pub pending_deletes: Vec<String>,
    /// Split transactions not finished yet (see `master/split.rs`).
    #[serde(default)]
    pub splits: Vec<super::split::SplitTxn>,
}

impl Catalog {
    /// Reads the catalog; `Ok(None)` if the file does not exist.
    pub fn load(path: &Path) -> Result<Option<Catalog>> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        let body = fs_util::unseal(path, MAGIC, VERSION, &bytes)?;
        serde_json::from_slice(body)
            .map(Some)
            .map_err(|e| Error::Corruption {
                file: path.to_path_buf(),
                offset: 16,
                reason: format!("catalog does not decode: {e}"),
            })
    }

    /// Replaces the catalog file atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let body = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::InvalidArgument(format!("cannot encode catalog: {e}")))?;
        fs_util::write_atomic(path, &fs_util::seal(MAGIC, VERSION, &body))
    }
}

/// The catalog shared by the master (writer) and the region server (reader).
#[derive(Debug)]
pub struct SharedCatalog {
    path: PathBuf,
    state: RwLock<Catalog>,
    /// Serializes writers so saves happen in publish order.
    write: Mutex<()>,
}

impl SharedCatalog {
    /// Wraps a loaded catalog stored at `path`.
    pub fn new(path: PathBuf, catalog: Catalog) -> SharedCatalog {
        SharedCatalog {
            path,
            state: RwLock::new(catalog),
            write: Mutex::new(()),
        }
    }

    /// A copy of one table's entry.
    pub fn table(&self, name: &str) -> Option<TableEntry> {
        self.state.read().tables.get(name).cloned()
    }

    /// Reads the catalog under its lock.
    pub fn read<T>(&self, f: impl FnOnce(&Catalog) -> T) -> T {
        f(&self.state.read())
    }

    /// Applies `f` to a copy, saves the copy, then publishes it. If `f` or the save
    /// fails, nothing changes. Blocking (fsync).
    pub fn update<T>(&self, f: impl FnOnce(&mut Catalog) -> Result<T>) -> Result<T> {
        let _w = self.write.lock();
        let mut next = self.state.read().clone();
        let out = f(&mut next)?;
        next.save(&self.path)?;
        *self.state.write() = next;
        Ok(out)
    }
}

impl TableDirectory for SharedCatalog {
    fn table_state(&self, table: &str) -> TableState {
        match self.state.read().tables.get(table) {
            None => TableState::Unknown,
            Some(t) if t.enabled => TableState::Enabled,
            Some(_) => TableState::Disabled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(id: &str, start: &str, end: &str) -> RegionEntry {
        RegionEntry {
            region_id: id.into(),
            start_row: start.as_bytes().to_vec(),
            end_row: end.as_bytes().to_vec(),
            epoch: 1,
            server: String::new(),
            state: RegionState::Offline,
            pinned_offline: false,
        }
    }

    #[test]
    fn region_lookup_by_row() {
        let t = TableEntry {
            families: vec![FamilyOptions::new("f")],
            enabled: true,
            regions: vec![
                region("a", "", "g"),
                region("b", "g", "p"),
                region("c", "p", ""),
            ],
            created_ms: 0,
        };
        let id = |row: &str| t.region_for(row.as_bytes()).map(|r| r.region_id.clone());
        assert_eq!(id("").as_deref(), Some("a"));
        assert_eq!(id("f").as_deref(), Some("a"));
        assert_eq!(id("g").as_deref(), Some("b"));
        assert_eq!(id("zzz").as_deref(), Some("c"));
    }

    #[test]
    fn save_load_and_corruption() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(CATALOG_FILE);
        assert!(Catalog::load(&p).unwrap().is_none());
        let shared = SharedCatalog::new(p.clone(), Catalog::default());
        shared
            .update(|c| {
                c.tables.insert(
                    "t".into(),
                    TableEntry {
                        families: vec![FamilyOptions::new("f")],
                        enabled: false,
                        regions: vec![region("r", "", "")],
                        created_ms: 5,
                    },
                );
                Ok(())
            })
            .unwrap();
        assert_eq!(shared.table_state("t"), TableState::Disabled);
        assert_eq!(shared.table_state("u"), TableState::Unknown);
        let failed: Result<()> = shared.update(|c| {
            c.tables.clear();
            Err(Error::InvalidArgument("no".into()))
        });
        assert!(failed.is_err());
        let loaded = Catalog::load(&p).unwrap().unwrap();
        assert_eq!(loaded, shared.read(Catalog::clone));
        let mut bytes = std::fs::read(&p).unwrap();
        let n = bytes.len();
        bytes[n / 2] ^= 1;
        std::fs::write(&p, bytes).unwrap();
        assert!(matches!(Catalog::load(&p), Err(Error::Corruption { .. })));
    }
}
