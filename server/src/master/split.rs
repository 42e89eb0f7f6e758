//! The master's split transaction, the split chore and the split-parent janitor.
//!
//! A split of region P of table T into daughters L and R runs, under the master's
//! operation lock:
//! 1. catalog: record `SplitTxn { P, L, R, state: splitting }` (P still serves);
//! 2. host: flush P, take it offline, split it on disk (the storage protocol's commit
//!    point is P's `SPLIT` marker turning `committed`), open L and R;
//! 3. catalog: replace P by L and R in T's region list; the transaction moves to
//!    `split` (P offline, its files still read by the daughters' references).
//!
//! Recovery ([`Master::recover_splits`], before any region opens) reads P's marker for
//! every `splitting` transaction: `committed` rolls forward (step 3), anything else
//! rolls back (daughter directories deleted, P reopened as before). The janitor
//! ([`Master::clean_split_parents`]) deletes P's directory once no daughter references
//! its files and then forgets the transaction.
//!
//! Clients holding P's location get FAILED_PRECONDITION once P goes offline, re-locate,
//! and are told P until step 3 is saved (they retry with backoff), then L or R.

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use strata_proto::v1 as pb;
use strata_storage::region::split::{remove_split_parent, roll_back_split};
use strata_storage::{Error, Result, SplitMarker, SplitState};
use tonic::Status;

use super::Master;
use super::catalog::{RegionEntry, RegionState};
use crate::error::{storage_status, unknown_table};

/// How far a split transaction got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitTxnState {
    /// Recorded; the host may be splitting. Recovery reads the parent's marker.
    Splitting,
    /// Daughters are in the region list; the parent is offline until no daughter
    /// references its files, then its directory is deleted.
    Split,
}

/// One split in the master catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitTxn {
    /// Table of the region.
    pub table: String,
    /// The parent's catalog entry as it was when the split began.
    pub parent: RegionEntry,
    /// Left daughter's region id (rows below the split row).
    pub left_id: String,
    /// Right daughter's region id.
    pub right_id: String,
    /// How far it got.
    pub state: SplitTxnState,
}

/// Size of one online region, for the split chore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionSize {
    /// Table.
    pub table: String,
    /// Region id.
    pub region_id: String,
    /// Bytes of its store files (references count their half).
    pub store_file_bytes: u64,
    /// It still reads a parent's files (it compacts before it can split again).
    pub has_references: bool,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Master {
    /// Splits regions of `table` (all of them, the one named `region_id`, or the one
    /// holding `split_row`) at `split_row` or their middle row. With an empty `table`,
    /// `region_id` is looked up in every table. Returns the daughters' locations.
    pub async fn split(
        self: &Arc<Self>,
        table: &str,
        region_id: &str,
        split_row: Option<Vec<u8>>,
    ) -> Result<Vec<pb::RegionLocation>, Status> {
        let _op = self.ops.lock().await;
        let (table, targets, all) = self.split_targets(table, region_id, split_row.as_deref())?;
        let mut out = Vec::new();
        let mut first_err = None;
        for parent in targets {
            let me = self.clone();
            let (t, row) = (table.clone(), split_row.clone());
            let r = tokio::task::spawn_blocking(move || me.split_blocking(&t, parent, row))
                .await
                .map_err(|e| Status::internal(format!("split task failed: {e}")))?;
            match r {
                Ok(daughters) => {
                    let entry = self
                        .catalog
                        .table(&table)
                        .ok_or_else(|| unknown_table(&table))?;
                    out.extend(daughters.iter().map(|d| self.location(&table, &entry, d)));
                }
                // Splitting a whole table skips regions too small to split.
                Err(Error::InvalidArgument(reason)) if all => {
                    tracing::info!(table = %table, %reason, "region not split");
                    first_err.get_or_insert(Error::InvalidArgument(reason));
                }
                Err(e) => return Err(storage_status(&e)),
            }
        }
        match first_err {
            Some(e) if out.is_empty() => Err(storage_status(&e)),
            _ => Ok(out),
        }
    }

    /// (table, regions to split, whether the whole table was asked for).
    fn split_targets(
        &self,
        table: &str,
        region_id: &str,
        split_row: Option<&[u8]>,
    ) -> Result<(String, Vec<RegionEntry>, bool), Status> {
        let table = if table.is_empty() {
            if region_id.is_empty() {
                return Err(Status::invalid_argument(
                    "SplitRegion needs a table or a region id",
                ));
            }
            self.catalog
                .read(|c| {
                    c.tables
                        .iter()
                        .find(|(_, t)| t.regions.iter().any(|r| r.region_id == region_id))
                        .map(|(name, _)| name.clone())
                })
                .ok_or_else(|| Status::not_found(format!("no region {region_id:?} in any table")))?
        } else {
            table.to_string()
        };
        let t = self
            .catalog
            .table(&table)
            .ok_or_else(|| unknown_table(&table))?;
        if !t.enabled {
            return Err(Status::failed_precondition(format!(
                "table {table:?} is disabled; enable it before splitting"
            )));
        }
        let targets: Vec<RegionEntry> = match (region_id.is_empty(), split_row) {
            (false, _) => {
                let r = t
                    .regions
                    .iter()
                    .find(|r| r.region_id == region_id)
                    .ok_or_else(|| {
                        Status::not_found(format!("table {table:?} has no region {region_id:?}"))
                    })?;
                vec![r.clone()]
            }
            (true, Some(row)) => vec![
                t.region_for(row)
                    .ok_or_else(|| Status::internal("catalog has no region for the row"))?
                    .clone(),
            ],
            (true, None) => t.regions.clone(),
        };
        let all = region_id.is_empty() && split_row.is_none();
        Ok((table, targets, all))
    }

    /// Steps 1-3 for one region (operation lock held by the caller).
    fn split_blocking(
        &self,
        table: &str,
        parent: RegionEntry,
        split_row: Option<Vec<u8>>,
    ) -> Result<[RegionEntry; 2]> {
        let (left_id, right_id) = self.daughter_ids(table);
        let txn = SplitTxn {
            table: table.to_string(),
            parent: parent.clone(),
            left_id: left_id.clone(),
            right_id: right_id.clone(),
            state: SplitTxnState::Splitting,
        };
        self.catalog.update(|c| {
            c.splits.push(txn.clone());
            Ok(())
        })?;
        let host = self.servers.host(&parent.server).ok_or_else(|| {
            Error::InvalidRegion(format!(
                "region {table}/{} has no live server ({:?}); split it once it is assigned",
                parent.region_id, parent.server
            ))
        })?;
        let res = host.split_region(
            table,
            &parent.region_id,
            split_row.as_deref(),
            &left_id,
            &right_id,
            1,
        );
        match res {
            Ok(row) => self.commit_split(&txn, &row),
            Err(e) => {
                // The storage commit point decides, not the error: a split that
                // committed but failed to open a daughter is rolled forward.
                let dir = self.region_dir(table, &parent.region_id);
                if let Ok(Some(m)) = SplitMarker::load(&dir)
                    && m.state == SplitState::Committed
                {
                    tracing::error!(table, region = %parent.region_id, error = %e,
                        "split committed but the daughters did not open; recorded, they open at the next start");
                    self.commit_split(&txn, &m.split_row)?;
                    return Err(e);
                }
                self.catalog.update(|c| {
                    c.splits.retain(|t| t != &txn);
                    Ok(())
                })?;
                Err(e)
            }
        }
    }

    /// Step 3: the daughters replace the parent in the region list.
    fn commit_split(&self, txn: &SplitTxn, split_row: &[u8]) -> Result<[RegionEntry; 2]> {
        let p = &txn.parent;
        let left = RegionEntry {
            region_id: txn.left_id.clone(),
            start_row: p.start_row.clone(),
            end_row: split_row.to_vec(),
            epoch: 1,
            server: p.server.clone(),
            state: RegionState::Open,
            pinned_offline: false,
        };
        let right = RegionEntry {
            region_id: txn.right_id.clone(),
            start_row: split_row.to_vec(),
            end_row: p.end_row.clone(),
            epoch: 1,
            server: p.server.clone(),
            state: RegionState::Open,
            pinned_offline: false,
        };
        let (l, r) = (left.clone(), right.clone());
        self.catalog.update(|c| {
            let t = c.tables.get_mut(&txn.table).ok_or_else(|| {
                Error::InvalidArgument(format!("table {:?} vanished during a split", txn.table))
            })?;
            let i = t
                .regions
                .iter()
                .position(|r| r.region_id == p.region_id)
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "region {} left the catalog during its split",
                        p.region_id
                    ))
                })?;
            t.regions.splice(i..=i, [l, r]);
            for s in c.splits.iter_mut().filter(|s| *s == txn) {
                s.state = SplitTxnState::Split;
            }
            Ok(())
        })?;
        tracing::info!(table = %txn.table, parent = %p.region_id, left = %txn.left_id,
            right = %txn.right_id, "split recorded");
        Ok([left, right])
    }

    /// Two region ids unused in `table` (catalog, pending splits and directories).
    fn daughter_ids(&self, table: &str) -> (String, String) {
        let mut ms = now_ms();
        loop {
            let ids = (format!("{ms:013}-{:05}", 0), format!("{ms:013}-{:05}", 1));
            let taken = |id: &str| {
                self.catalog.read(|c| {
                    c.tables
                        .get(table)
                        .is_some_and(|t| t.regions.iter().any(|r| r.region_id == id))
                        || c.splits.iter().any(|s| {
                            s.table == table
                                && (s.left_id == id || s.right_id == id || s.parent.region_id == id)
                        })
                }) || self.region_dir(table, id).exists()
            };
            if !taken(&ids.0) && !taken(&ids.1) {
                return ids;
            }
            ms += 1;
        }
    }

    /// Finishes or undoes splits a crash interrupted. Call before opening regions.
    pub(crate) fn recover_splits(&self) -> Result<()> {
        let pending: Vec<SplitTxn> = self.catalog.read(|c| c.splits.clone());
        for txn in pending {
            if txn.state != SplitTxnState::Splitting {
                continue;
            }
            let dir = self.region_dir(&txn.table, &txn.parent.region_id);
            let marker = if dir.exists() {
                SplitMarker::load(&dir)?
            } else {
                None
            };
            let table_gone = self.catalog.table(&txn.table).is_none();
            match marker {
                Some(m) if m.state == SplitState::Committed && !table_gone => {
                    tracing::info!(table = %txn.table, parent = %txn.parent.region_id, "rolling an interrupted split forward");
                    self.commit_split(&txn, &m.split_row)?;
                }
                _ => {
                    if dir.exists() {
                        roll_back_split(&dir)?;
                    }
                    tracing::info!(table = %txn.table, parent = %txn.parent.region_id, "rolled an interrupted split back");
                    self.catalog.update(|c| {
                        c.splits.retain(|t| t != &txn);
                        Ok(())
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Deletes split parents no daughter references any more and forgets their
    /// transactions. Returns how many went. Blocking.
    pub fn clean_split_parents(&self) -> Result<usize> {
        let done: Vec<SplitTxn> = self.catalog.read(|c| {
            c.splits
                .iter()
                .filter(|s| s.state == SplitTxnState::Split)
                .cloned()
                .collect()
        });
        let mut removed = 0;
        for txn in done {
            let dir = self.region_dir(&txn.table, &txn.parent.region_id);
            let gone = if self.catalog.table(&txn.table).is_none() || !table_exists(&dir) {
                true
            } else {
                remove_split_parent(&dir)?
            };
            if gone {
                self.catalog.update(|c| {
                    c.splits.retain(|t| t != &txn);
                    Ok(())
                })?;
                removed += 1;
                tracing::info!(table = %txn.table, parent = %txn.parent.region_id, "split parent removed");
            }
        }
        Ok(removed)
    }

    /// One round of the split chore: remove unreferenced split parents, then split
    /// every region whose store files passed `max_size_bytes`.
    pub async fn run_split_chore(self: &Arc<Self>, max_size_bytes: u64) {
        let me = self.clone();
        let sizes = tokio::task::spawn_blocking(move || {
            if let Err(e) = me.clean_split_parents() {
                tracing::warn!(error = %e, "split parent cleanup failed; retried next round");
            }
            me.servers
                .entries()
                .into_iter()
                .flat_map(|(_, e)| reported_sizes(&e))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for s in sizes {
            if s.store_file_bytes < max_size_bytes || s.has_references {
                continue;
            }
            let in_catalog = self
                .catalog
                .table(&s.table)
                .is_some_and(|t| t.enabled && t.regions.iter().any(|r| r.region_id == s.region_id));
            if !in_catalog {
                continue;
            }
            tracing::info!(table = %s.table, region = %s.region_id, bytes = s.store_file_bytes,
                limit = max_size_bytes, "region passed region.max_size; splitting");
            if let Err(e) = self.split(&s.table, &s.region_id, None).await {
                tracing::info!(table = %s.table, region = %s.region_id, error = %e.message(), "automatic split did not happen");
            }
        }
    }

    /// Runs [`run_split_chore`](Self::run_split_chore) every `interval` until `stop`
    /// is notified (a round in progress, and the split it runs, finishes first) or the
    /// master is dropped.
    pub fn spawn_split_chore(
        self: &Arc<Self>,
        interval: Duration,
        max_size_bytes: u64,
        stop: Arc<tokio::sync::Notify>,
    ) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Master> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.notified() => return,
                    _ = tokio::time::sleep(interval) => {}
                }
                let Some(master) = weak.upgrade() else {
                    return;
                };
                master.run_split_chore(max_size_bytes).await;
            }
        })
    }
}

/// The store sizes of a server's regions: asked directly of an in-process host
/// (standalone), else taken from its last heartbeat (cluster; at most one heartbeat
/// interval old, which only delays a split by that much).
fn reported_sizes(e: &super::membership::ServerEntry) -> Vec<RegionSize> {
    let direct = e.host.region_sizes();
    if !direct.is_empty() {
        return direct;
    }
    e.load
        .region_loads
        .iter()
        .map(|r| RegionSize {
            table: r.table.clone(),
            region_id: r.region_id.clone(),
            store_file_bytes: r.store_file_bytes,
            has_references: r.has_references,
        })
        .collect()
}

/// True if the table directory above a region directory exists.
fn table_exists(region_dir: &Path) -> bool {
    region_dir.parent().is_some_and(Path::exists)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master::catalog::Catalog;

    #[test]
    fn catalogs_without_splits_still_load_and_transactions_round_trip() {
        let old = br#"{"tables": {}, "pending_deletes": []}"#;
        let c: Catalog = serde_json::from_slice(old).unwrap();
        assert!(c.splits.is_empty());
        let mut c = c;
        c.splits.push(SplitTxn {
            table: "t".into(),
            parent: RegionEntry {
                region_id: "p".into(),
                start_row: b"a".to_vec(),
                end_row: Vec::new(),
                epoch: 3,
                server: "http://127.0.0.1:1".into(),
                state: RegionState::Open,
                pinned_offline: false,
            },
            left_id: "l".into(),
            right_id: "r".into(),
            state: SplitTxnState::Splitting,
        });
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("catalog");
        c.save(&path).unwrap();
        assert_eq!(Catalog::load(&path).unwrap().unwrap(), c);
        let text = serde_json::to_string(&c.splits[0]).unwrap();
        assert!(text.contains(r#""state":"splitting""#), "{text}");
    }
}
