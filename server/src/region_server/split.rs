//! Splitting a region this server hosts: the region-server half of the master's split
//! transaction (`master/split.rs`).
//!
//! The parent is flushed while it still serves, then taken out of the online map (new
//! requests get FAILED_PRECONDITION and re-locate), split by the engine (which fences
//! writes, drains in-flight ones and flushes the rest), and both daughters are opened.
//! If the split fails before it commits, the parent is served again: reopened when the
//! engine had already closed it, else put back as it was.

use std::sync::Arc;

use strata_proto::v1 as pb;
use strata_storage::{Error, Result, SplitResult};
use tonic::{Request, Response, Status};

use super::{OnlineRegion, RegionServer};
use crate::error::{invalid, storage_status};

impl RegionServer {
    /// Splits the online region `table/region_id` into daughters `left_id` and
    /// `right_id` (opened here under `daughter_epoch`). Blocking.
    pub fn split_region(
        &self,
        table: &str,
        region_id: &str,
        split_row: Option<&[u8]>,
        left_id: &str,
        right_id: &str,
        daughter_epoch: u64,
    ) -> Result<SplitResult> {
        let online = self.online_region(table, region_id).ok_or_else(|| {
            Error::InvalidArgument(format!("region {table}/{region_id} is not open here"))
        })?;
        let parent = &online.region;
        if let Some(row) = split_row {
            parent.check_split_row(row)?;
        }
        // Most of the memstore goes to disk while the region still serves.
        parent.flush()?;
        self.take_offline(table, region_id, &online);
        match parent.split(split_row, left_id, right_id) {
            Ok(res) => {
                self.open_region(&res.left_dir, None, daughter_epoch)?;
                self.open_region(&res.right_dir, None, daughter_epoch)?;
                Ok(res)
            }
            Err(e) => {
                if parent.is_closed() {
                    tracing::warn!(region = %parent.name(), error = %e, "split failed after close; reopening the parent");
                    self.open_region(parent.dir(), None, online.epoch)?;
                } else {
                    self.put_online(table, region_id, online.clone());
                }
                Err(e)
            }
        }
    }

    /// Bytes of store files of every online region: (table, region id, bytes).
    pub fn region_sizes(&self) -> Vec<(String, String, u64, bool)> {
        self.online_regions()
            .iter()
            .map(|o| {
                let d = o.region.descriptor();
                (
                    d.table.clone(),
                    d.region_id.clone(),
                    o.region.store_file_bytes(),
                    o.region.has_references(),
                )
            })
            .collect()
    }

    fn online_region(&self, table: &str, region_id: &str) -> Option<Arc<OnlineRegion>> {
        self.online
            .read()
            .get(table)
            .and_then(|t| t.get(region_id))
            .cloned()
    }

    /// Removes the entry if it is still `online` (not replaced meanwhile).
    fn take_offline(&self, table: &str, region_id: &str, online: &Arc<OnlineRegion>) {
        let mut map = self.online.write();
        if let Some(t) = map.get_mut(table)
            && t.get(region_id).is_some_and(|o| Arc::ptr_eq(o, online))
        {
            t.remove(region_id);
        }
    }

    fn put_online(&self, table: &str, region_id: &str, online: Arc<OnlineRegion>) {
        self.online
            .write()
            .entry(table.to_string())
            .or_default()
            .entry(region_id.to_string())
            .or_insert(online);
    }
}

/// The `RegionService.Split` handler: the master names the daughters.
pub(crate) async fn split(
    rs: &Arc<RegionServer>,
    req: Request<pb::SplitRequest>,
) -> Result<Response<pb::SplitResponse>, Status> {
    let req = req.into_inner();
    let r = req
        .region
        .ok_or_else(|| invalid("Split needs a region (RegionRef)"))?;
    // The region must be served here at the epoch the master named.
    rs.locate(Some(&r))?;
    if req.left_region_id.is_empty() || req.right_region_id.is_empty() {
        return Err(invalid("Split needs left_region_id and right_region_id"));
    }
    let epoch = req.daughter_epoch.max(1);
    let me = rs.clone();
    let res = tokio::task::spawn_blocking(move || {
        me.split_region(
            &r.table,
            &r.region_id,
            req.split_row.as_deref(),
            &req.left_region_id,
            &req.right_region_id,
            epoch,
        )
    })
    .await
    .map_err(|e| crate::error::internal(format!("split task failed: {e}")))?
    .map_err(|e| storage_status(&e))?;
    Ok(Response::new(pb::SplitResponse {
        split_row: res.split_row.into(),
    }))
}
