//! The master: table schemas, the region list and where each region is served. Never
//! in the data path: clients ask it once per region (`LocateRegion`) and cache the
//! answer.
//!
//! Today it runs inside `strata-server standalone` and assigns every region to the one
//! local region server through the [`RegionHost`] seam; a multi-server master will
//! implement the same seam over gRPC. State lives in the [`catalog`]
//! (`root_dir/master/catalog`), written before regions are opened or after they are
//! closed, so recovery can roll any interrupted operation forward:
//! - create: the table is in the catalog first; a region whose directory has no
//!   descriptor yet is created at recovery;
//! - delete: the table leaves the catalog and is listed in `pending_deletes` until its
//!   directory is gone; recovery finishes the removal;
//! - enable: epochs are bumped and saved before regions open.
//!
//! Admin operations are serialized by one async lock; their disk work runs on the
//! blocking pool.

mod admin;
pub mod catalog;
pub mod schema;
mod service;
pub mod split;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_proto::v1 as pb;
use strata_storage::region::DESCRIPTOR_FILE;
use strata_storage::{Error, RegionDescriptor, Result};
use tonic::Status;

use crate::error::unknown_table;
use catalog::{CATALOG_FILE, Catalog, RegionEntry, SharedCatalog, TableEntry};

pub use service::MasterGrpc;

/// Where the master opens and closes regions (the local region server in standalone
/// mode). Methods block: call them from a blocking context.
pub trait RegionHost: Send + Sync {
    /// Opens (or with `create`, creates) the region in `dir` under `epoch`.
    fn open_region(&self, dir: &Path, create: Option<RegionDescriptor>, epoch: u64) -> Result<()>;
    /// Flushes and closes a region.
    fn close_region(&self, table: &str, region_id: &str) -> Result<()>;
    /// The address clients use for the regions opened here.
    fn address(&self) -> String;
    /// Splits an open region into daughters `left_id` and `right_id` (opened under
    /// `epoch`) at `split_row` or its middle row; returns the split row.
    fn split_region(
        &self,
        table: &str,
        region_id: &str,
        split_row: Option<&[u8]>,
        left_id: &str,
        right_id: &str,
        epoch: u64,
    ) -> Result<Vec<u8>> {
        let _ = (split_row, left_id, right_id, epoch);
        Err(Error::InvalidRegion(format!(
            "this host cannot split region {table}/{region_id}"
        )))
    }
    /// Store file sizes of the regions open here (for automatic splits).
    fn region_sizes(&self) -> Vec<split::RegionSize> {
        Vec::new()
    }
}

/// The master of one `root_dir`.
pub struct Master {
    root: PathBuf,
    catalog: Arc<SharedCatalog>,
    host: Arc<dyn RegionHost>,
    ops: tokio::sync::Mutex<()>,
    /// Exclusive lock on `master/LOCK`: one master per `root_dir`.
    _lock: File,
}

impl std::fmt::Debug for Master {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Master")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// Locks `root/master/` and loads the catalog (empty on a fresh `root_dir`). Refuses a
/// `root_dir` that holds tables but no catalog rather than treating it as empty.
pub fn open_catalog(root: &Path) -> Result<(Arc<SharedCatalog>, File)> {
    let dir = root.join("master");
    strata_storage::fs_util::create_dir_durable(&dir)?;
    let lock_path = dir.join("LOCK");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io(&lock_path, e))?;
    lock.try_lock().map_err(|_| {
        Error::InvalidRegion(format!(
            "{} is locked: another strata-server uses this root_dir",
            lock_path.display()
        ))
    })?;
    let path = dir.join(CATALOG_FILE);
    let catalog = match Catalog::load(&path)? {
        Some(c) => c,
        None => {
            let tables = root.join("tables");
            let has_tables = std::fs::read_dir(&tables)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false);
            if has_tables {
                return Err(Error::InvalidRegion(format!(
                    "{} holds tables but {} is missing: refusing to start with an empty catalog \
                     (restore master/ or move tables/ away)",
                    tables.display(),
                    path.display()
                )));
            }
            Catalog::default()
        }
    };
    Ok((Arc::new(SharedCatalog::new(path, catalog)), lock))
}

impl Master {
    /// A master over a catalog from [`open_catalog`].
    pub fn new(
        root: PathBuf,
        catalog: Arc<SharedCatalog>,
        lock: File,
        host: Arc<dyn RegionHost>,
    ) -> Self {
        Master {
            root,
            catalog,
            host,
            ops: tokio::sync::Mutex::new(()),
            _lock: lock,
        }
    }

    /// The catalog (the region server reads table states from it).
    pub fn catalog(&self) -> &Arc<SharedCatalog> {
        &self.catalog
    }

    /// Finishes interrupted deletes and opens every region of every enabled table under
    /// a new epoch. Blocking. Returns (tables, regions opened).
    pub fn recover(&self) -> Result<(usize, usize)> {
        self.recover_splits()?;
        for table in self.catalog.read(|c| c.pending_deletes.clone()) {
            self.finish_delete(&table)?;
        }
        self.catalog.update(|c| {
            for t in c.tables.values_mut().filter(|t| t.enabled) {
                t.regions.iter_mut().for_each(|r| r.epoch += 1);
            }
            Ok(())
        })?;
        let tables = self.catalog.read(|c| c.tables.clone());
        let mut opened = 0;
        for (name, t) in tables.iter().filter(|(_, t)| t.enabled) {
            for r in &t.regions {
                self.open_region(name, t, r)?;
                opened += 1;
            }
        }
        Ok((tables.len(), opened))
    }

    fn region_dir(&self, table: &str, region_id: &str) -> PathBuf {
        self.root.join("tables").join(table).join(region_id)
    }

    /// Opens a region of the catalog, creating its directory if creation was
    /// interrupted, and checks the directory holds the region the catalog names.
    fn open_region(&self, table: &str, t: &TableEntry, r: &RegionEntry) -> Result<()> {
        let dir = self.region_dir(table, &r.region_id);
        let want = t.descriptor(table, r);
        if !dir.join(DESCRIPTOR_FILE).exists() {
            return self.host.open_region(&dir, Some(want), r.epoch);
        }
        let have = RegionDescriptor::load(&dir)?;
        if (&have.table, &have.region_id, &have.start_row, &have.end_row)
            != (&want.table, &want.region_id, &want.start_row, &want.end_row)
        {
            return Err(Error::InvalidRegion(format!(
                "{} holds region {} but the catalog expects {}",
                dir.display(),
                have.name(),
                want.name()
            )));
        }
        self.host.open_region(&dir, None, r.epoch)
    }

    /// Removes a deleted table's directory and its `pending_deletes` entry.
    fn finish_delete(&self, table: &str) -> Result<()> {
        let dir = self.root.join("tables").join(table);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => strata_storage::fs_util::sync_dir(&self.root.join("tables"))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&dir, e)),
        }
        self.catalog.update(|c| {
            c.pending_deletes.retain(|t| t != table);
            Ok(())
        })
    }

    /// Where `row` of `table` is served.
    pub fn locate(&self, table: &str, row: &[u8]) -> Result<pb::RegionLocation, Status> {
        let t = self
            .catalog
            .table(table)
            .ok_or_else(|| unknown_table(table))?;
        if !t.enabled {
            return Err(Status::failed_precondition(format!(
                "table {table:?} is disabled; enable it first"
            )));
        }
        let r = t.region_for(row).ok_or_else(|| {
            Status::internal(format!(
                "catalog of table {table:?} has no region for the row"
            ))
        })?;
        Ok(self.location(table, &t, r))
    }

    fn location(&self, table: &str, t: &TableEntry, r: &RegionEntry) -> pb::RegionLocation {
        pb::RegionLocation {
            table: table.to_string(),
            region_id: r.region_id.clone(),
            start_row: r.start_row.clone().into(),
            end_row: r.end_row.clone().into(),
            server: self.host.address(),
            epoch: r.epoch,
            state: if t.enabled { "open" } else { "offline" }.to_string(),
        }
    }

    /// (tables, regions) in the catalog.
    pub fn counts(&self) -> (usize, usize) {
        self.catalog.read(|c| {
            (
                c.tables.len(),
                c.tables.values().map(|t| t.regions.len()).sum(),
            )
        })
    }
}
