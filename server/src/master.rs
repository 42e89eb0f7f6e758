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
mod assignment;
pub mod balancer;
pub mod catalog;
mod cluster_admin;
pub mod membership;
pub mod remote;
pub mod schema;
mod service;
pub mod split;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use strata_proto::v1 as pb;
use strata_storage::region::DESCRIPTOR_FILE;
use strata_storage::{Error, RegionDescriptor, Result};
use tonic::Status;

use crate::config::MasterSection;
use crate::error::unknown_table;
use catalog::{CATALOG_FILE, Catalog, RegionEntry, SharedCatalog, TableEntry};
use membership::Membership;

pub use service::MasterGrpc;

/// Where the master opens and closes regions: the local region server in standalone
/// mode, a [`remote::RemoteHost`] per registered server in cluster mode. Methods block:
/// call them from a blocking context.
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
    servers: Membership,
    settings: MasterSection,
    /// Standalone mode: the one in-process region server, assigned everything.
    standalone: bool,
    ops: tokio::sync::Mutex<()>,
    last_balance: Mutex<Instant>,
    /// Regions whose last open failed: when to try again, and failures so far.
    open_backoff: Mutex<std::collections::HashMap<(String, String), (Instant, u32)>>,
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
    /// A standalone master: `host` (the in-process region server) is its only server.
    pub fn new(
        root: PathBuf,
        catalog: Arc<SharedCatalog>,
        lock: File,
        host: Arc<dyn RegionHost>,
    ) -> Self {
        let settings = MasterSection::default();
        let servers = Membership::new(settings.server_timeout);
        servers.register(&host.address(), 0, host, true);
        Master {
            root,
            catalog,
            servers,
            settings,
            standalone: true,
            ops: tokio::sync::Mutex::new(()),
            last_balance: Mutex::new(Instant::now()),
            open_backoff: Mutex::new(std::collections::HashMap::new()),
            _lock: lock,
        }
    }

    /// A cluster master: region servers register over gRPC.
    pub fn new_cluster(
        root: PathBuf,
        catalog: Arc<SharedCatalog>,
        lock: File,
        settings: MasterSection,
    ) -> Self {
        Master {
            root,
            catalog,
            servers: Membership::new(settings.server_timeout),
            settings,
            standalone: false,
            ops: tokio::sync::Mutex::new(()),
            last_balance: Mutex::new(Instant::now()),
            open_backoff: Mutex::new(std::collections::HashMap::new()),
            _lock: lock,
        }
    }

    /// The catalog (the region server reads table states from it).
    pub fn catalog(&self) -> &Arc<SharedCatalog> {
        &self.catalog
    }

    /// The live region servers.
    pub fn membership(&self) -> &Membership {
        &self.servers
    }

    /// Finishes interrupted deletes. Standalone: opens every region of every enabled
    /// table on the local server under a new epoch. Cluster: nothing more; servers
    /// register and report their regions, and the repair chore reassigns the regions of
    /// servers that do not come back within `master.server_timeout`. Blocking. Returns
    /// (tables, regions opened).
    pub fn recover(&self) -> Result<(usize, usize)> {
        self.recover_splits()?;
        for table in self.catalog.read(|c| c.pending_deletes.clone()) {
            self.finish_delete(&table)?;
        }
        let tables = self.catalog.read(|c| c.tables.clone());
        if !self.standalone {
            return Ok((tables.len(), 0));
        }
        let local = self.servers.live();
        let Some(local) = local.first() else {
            return Ok((tables.len(), 0));
        };
        let mut plan = Vec::new();
        for (name, t) in tables.iter().filter(|(_, t)| t.enabled) {
            for r in &t.regions {
                plan.push((name.clone(), r.region_id.clone(), local.clone()));
            }
        }
        let opened = plan.len();
        if let Some(e) = self.assign_many(plan).into_iter().next() {
            return Err(e);
        }
        Ok((tables.len(), opened))
    }

    fn region_dir(&self, table: &str, region_id: &str) -> PathBuf {
        self.root.join("tables").join(table).join(region_id)
    }

    /// What opening a region of the catalog needs: its directory, and its descriptor if
    /// the directory was never created (creation interrupted). Checks the directory holds
    /// the region the catalog names.
    fn open_args(
        &self,
        table: &str,
        t: &TableEntry,
        r: &RegionEntry,
    ) -> Result<(PathBuf, Option<RegionDescriptor>)> {
        let dir = self.region_dir(table, &r.region_id);
        let want = t.descriptor(table, r);
        if !dir.join(DESCRIPTOR_FILE).exists() {
            return Ok((dir, Some(want)));
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
        Ok((dir, None))
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
            server: r.server.clone(),
            epoch: r.epoch,
            state: if t.enabled {
                r.state.as_str()
            } else {
                "offline"
            }
            .to_string(),
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
