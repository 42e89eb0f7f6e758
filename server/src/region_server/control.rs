//! Cluster control of a region server: the master's `OpenRegion` / `CloseRegion` calls,
//! and fencing (closing every region without flushing when the lease lapses).
//!
//! Only servers started in cluster mode ([`RegionServer::join_cluster`]) accept these
//! calls; a standalone server answers FAILED_PRECONDITION, since its in-process master
//! opens regions directly.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use strata_proto::v1 as pb;
use strata_storage::RegionDescriptor;
use tonic::Status;

use super::RegionServer;
use super::lease::Lease;
use crate::error::{internal, invalid, storage_status};
use crate::master::schema::validate_table_name;

/// What a region server in cluster mode knows beyond its regions.
#[derive(Debug)]
pub(crate) struct ClusterMode {
    pub(crate) lease: Arc<Lease>,
    pub(crate) root_dir: PathBuf,
    /// Set by [`RegionServer::fence`]: the master must learn this server's regions are
    /// closed, so the heartbeat loop registers again (reporting none). Without it, a
    /// master that did not declare the server dead (its heartbeats got through, their
    /// answers came late) would keep sending clients here.
    pub(crate) fenced: AtomicBool,
}

/// A region id is a directory name: no separators, no dots only.
fn validate_region_id(id: &str) -> Result<(), Status> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && id != "."
        && id != "..";
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "region id {id:?} is not a valid directory name (1..=128 of [A-Za-z0-9._-])"
        )))
    }
}

impl RegionServer {
    fn cluster_mode(&self) -> Result<&ClusterMode, Status> {
        self.cluster.get().ok_or_else(|| {
            Status::failed_precondition("this region server runs standalone: it takes no orders")
        })
    }

    /// The master's OpenRegion: opens (or creates) `root_dir/tables/<table>/<region>`
    /// under the given epoch, replaying its WAL before it serves.
    pub(crate) async fn open_for_master(
        self: &Arc<Self>,
        req: pb::OpenRegionRequest,
    ) -> Result<(), Status> {
        let mode = self.cluster_mode()?;
        validate_table_name(&req.table)?;
        validate_region_id(&req.region_id)?;
        if self.is_shutting_down() {
            return Err(crate::error::shutting_down());
        }
        // Opening needs the lease: a fenced server must not take regions.
        mode.lease.check()?;
        let create = if req.create_descriptor.is_empty() {
            None
        } else {
            let d: RegionDescriptor = serde_json::from_slice(&req.create_descriptor)
                .map_err(|e| invalid(format!("create_descriptor does not decode: {e}")))?;
            if d.table != req.table || d.region_id != req.region_id {
                return Err(invalid(format!(
                    "create_descriptor names region {} but the request names {}/{}",
                    d.name(),
                    req.table,
                    req.region_id
                )));
            }
            Some(d)
        };
        let dir = mode
            .root_dir
            .join("tables")
            .join(&req.table)
            .join(&req.region_id);
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            // The creation may have happened before (a retried open): open it then.
            let create =
                create.filter(|_| !dir.join(strata_storage::region::DESCRIPTOR_FILE).exists());
            me.open_region(&dir, create, req.epoch)
        })
        .await
        .map_err(|e| internal(format!("open task failed: {e}")))?
        .map_err(|e| storage_status(&e))?;
        tracing::info!(table = %req.table, region = %req.region_id, epoch = req.epoch, "region opened");
        Ok(())
    }

    /// The master's CloseRegion: flushes and closes the region (a no-op if not open).
    pub(crate) async fn close_for_master(
        self: &Arc<Self>,
        req: pb::CloseRegionRequest,
    ) -> Result<(), Status> {
        self.cluster_mode()?;
        let me = self.clone();
        let (t, r) = (req.table.clone(), req.region_id.clone());
        tokio::task::spawn_blocking(move || me.close_region(&t, &r))
            .await
            .map_err(|e| internal(format!("close task failed: {e}")))?
            .map_err(|e| storage_status(&e))?;
        tracing::info!(table = %req.table, region = %req.region_id, "region closed");
        Ok(())
    }

    /// The lease lapsed: stop serving every region at once, without flushing (the
    /// directory may soon belong to another server). Closing releases each region's
    /// directory lock, which lets the new owner open it. Blocking.
    pub fn fence(&self) -> usize {
        if let Some(c) = self.cluster.get() {
            c.fenced.store(true, Ordering::Release);
        }
        let all: Vec<_> = self.online.write().drain().collect();
        let mut n = 0;
        for (_, regions) in all {
            for (_, r) in regions {
                n += 1;
                if let Err(e) = r.region.close(false) {
                    tracing::warn!(region = %r.region.name(), error = %e, "close while fencing failed");
                }
            }
        }
        n
    }

    /// True once after each [`fence`](Self::fence).
    pub(crate) fn take_fenced(&self) -> bool {
        self.cluster
            .get()
            .is_some_and(|c| c.fenced.swap(false, Ordering::AcqRel))
    }

    /// Regions open here with their epochs (for registration with the master).
    pub fn open_region_refs(&self) -> Vec<pb::OpenRegionRef> {
        let online = self.online.read();
        online
            .iter()
            .flat_map(|(t, regions)| {
                regions.iter().map(|(id, o)| pb::OpenRegionRef {
                    table: t.clone(),
                    region_id: id.clone(),
                    epoch: o.epoch,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_ids_are_plain_directory_names() {
        assert!(validate_region_id("1700000000000-00001").is_ok());
        for bad in ["", ".", "..", "a/b", "a\\b", &"x".repeat(129)] {
            assert!(validate_region_id(bad).is_err(), "{bad:?}");
        }
    }
}
