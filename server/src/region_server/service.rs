//! `RegionService` over gRPC: each call takes an admission slot, finds its region, and
//! runs the engine call on the blocking pool. Batched calls (MultiGet, MultiMutate) take
//! one slot and one blocking hop for the whole batch and answer per item.

use std::sync::Arc;

use strata_proto::v1::region_service_server::RegionService;
use strata_proto::v1::{self as pb, ItemStatus};
use strata_storage::{Check, CompactionKind, Get, Region};
use tonic::{Request, Response, Status};

use super::{RegionServer, scan, storage};
use crate::convert::{
    columns, compare_op, durability, max_versions, row_mutation, row_to_proto, time_range,
};
use crate::error::invalid;
use crate::filter::{FilterPlan, RowFilter};

/// Most items in one MultiGet or MultiMutate.
pub const MAX_BATCH_ITEMS: usize = 10_000;

/// The gRPC face of a [`RegionServer`].
#[derive(Clone, Debug)]
pub struct RegionGrpc(pub Arc<RegionServer>);

fn check_batch(n: usize) -> Result<(), Status> {
    if n > MAX_BATCH_ITEMS {
        return Err(invalid(format!(
            "batch has {n} items, over the limit MAX_BATCH_ITEMS = {MAX_BATCH_ITEMS}"
        )));
    }
    Ok(())
}

fn item_status(r: Result<(), Status>) -> ItemStatus {
    match r {
        Ok(()) => ItemStatus::default(),
        Err(s) => ItemStatus {
            code: s.code() as i32,
            message: s.message().to_string(),
        },
    }
}

fn get_one(region: &Region, req: pb::GetRequest) -> Result<Option<pb::Row>, Status> {
    let mut get = Get::new(req.row);
    get.columns = columns(req.columns);
    get.time_range = time_range(req.time_range)?;
    get.max_versions = max_versions(req.max_versions);
    let mut plan = match req.filter {
        Some(f) => Some(FilterPlan::new(RowFilter::from_proto(f)?, &mut get.columns)),
        None => None,
    };
    let row = storage(region.get(&get))?;
    let row = match (row, plan.as_mut()) {
        (Some(r), Some(p)) => p.apply(r),
        (r, _) => r,
    };
    Ok(row.map(row_to_proto))
}

fn mutate_one(region: &Region, req: pb::MutateRequest) -> Result<(), Status> {
    let m = row_mutation(req.row, req.mutations)?;
    let d = durability(req.durability)?;
    storage(region.mutate(&m, d)).map(drop)
}

impl RegionServer {
    /// Runs `f` on the request's region with an admission slot.
    async fn unary<T, F>(
        self: &Arc<Self>,
        region: Option<&pb::RegionRef>,
        f: F,
    ) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&Region) -> Result<T, Status> + Send + 'static,
    {
        let permit = self.admit().await?;
        let online = self.locate(region)?;
        self.run(permit, online, f).await
    }

    /// Runs `f` over a batch on the blocking pool with one admission slot.
    async fn batch<I, T, F>(self: &Arc<Self>, items: Vec<I>, f: F) -> Result<Vec<T>, Status>
    where
        I: Send + 'static,
        T: Send + 'static,
        F: Fn(&RegionServer, I) -> T + Send + 'static,
    {
        check_batch(items.len())?;
        let permit = self.admit().await?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            items.into_iter().map(|i| f(&me, i)).collect()
        })
        .await
        .map_err(|e| crate::error::internal(format!("batch task failed: {e}")))
    }

    /// One item of a batch on its region, errors refined as for single calls.
    fn item<T>(
        &self,
        region: Option<&pb::RegionRef>,
        f: impl FnOnce(&Region) -> Result<T, Status>,
    ) -> Result<T, Status> {
        let online = self.locate(region)?;
        let out = f(&online.region).map_err(|s| self.refine(&online, s))?;
        self.check_still_serving(&online)?;
        Ok(out)
    }
}

#[tonic::async_trait]
impl RegionService for RegionGrpc {
    async fn get(&self, req: Request<pb::GetRequest>) -> Result<Response<pb::GetResponse>, Status> {
        let req = req.into_inner();
        let rs = &self.0;
        let permit = rs.admit().await?;
        if !rs.hooks.get_delay.is_zero() {
            tokio::time::sleep(rs.hooks.get_delay).await;
        }
        let online = rs.locate(req.region.as_ref())?;
        let row = rs.run(permit, online, move |r| get_one(r, req)).await?;
        Ok(Response::new(pb::GetResponse { row }))
    }

    async fn multi_get(
        &self,
        req: Request<pb::MultiGetRequest>,
    ) -> Result<Response<pb::MultiGetResponse>, Status> {
        let gets = req.into_inner().gets;
        let out = self
            .0
            .batch(gets, |rs, g| {
                let region = g.region.clone();
                rs.item(region.as_ref(), |r| get_one(r, g))
            })
            .await?;
        let mut resp = pb::MultiGetResponse::default();
        for r in out {
            let (row, status) = match r {
                Ok(row) => (row, Ok(())),
                Err(s) => (None, Err(s)),
            };
            resp.results.push(pb::GetResponse { row });
            resp.statuses.push(item_status(status));
        }
        Ok(Response::new(resp))
    }

    async fn mutate(
        &self,
        req: Request<pb::MutateRequest>,
    ) -> Result<Response<pb::MutateResponse>, Status> {
        let req = req.into_inner();
        let region = req.region.clone();
        self.0
            .unary(region.as_ref(), move |r| mutate_one(r, req))
            .await?;
        Ok(Response::new(pb::MutateResponse {}))
    }

    async fn multi_mutate(
        &self,
        req: Request<pb::MultiMutateRequest>,
    ) -> Result<Response<pb::MultiMutateResponse>, Status> {
        let items = req.into_inner().mutations;
        let statuses = self
            .0
            .batch(items, |rs, m| {
                let region = m.region.clone();
                item_status(rs.item(region.as_ref(), |r| mutate_one(r, m)))
            })
            .await?;
        Ok(Response::new(pb::MultiMutateResponse { statuses }))
    }

    async fn check_and_mutate(
        &self,
        req: Request<pb::CheckAndMutateRequest>,
    ) -> Result<Response<pb::CheckAndMutateResponse>, Status> {
        let req = req.into_inner();
        let expect = match req.value {
            Some(v) => Some((compare_op(req.op)?, v)),
            None => None,
        };
        let check = Check {
            family: req.family,
            qualifier: req.qualifier,
            expect,
        };
        let m = row_mutation(req.row, req.mutations)?;
        let d = durability(req.durability)?;
        let applied = self
            .0
            .unary(req.region.as_ref(), move |r| {
                storage(r.check_and_mutate(&check, &m, d))
            })
            .await?;
        Ok(Response::new(pb::CheckAndMutateResponse { applied }))
    }

    async fn increment(
        &self,
        req: Request<pb::IncrementRequest>,
    ) -> Result<Response<pb::IncrementResponse>, Status> {
        let req = req.into_inner();
        let d = durability(req.durability)?;
        let cols: Vec<_> = req
            .columns
            .into_iter()
            .map(|c| (c.family, c.qualifier, c.delta))
            .collect();
        let row = req.row;
        let values = self
            .0
            .unary(req.region.as_ref(), move |r| {
                storage(r.increment(&row, &cols, d))
            })
            .await?;
        Ok(Response::new(pb::IncrementResponse { values }))
    }

    async fn append(
        &self,
        req: Request<pb::AppendRequest>,
    ) -> Result<Response<pb::AppendResponse>, Status> {
        let req = req.into_inner();
        let d = durability(req.durability)?;
        let cols: Vec<_> = req
            .columns
            .into_iter()
            .map(|c| (c.family, c.qualifier, c.value))
            .collect();
        let row = req.row;
        let values = self
            .0
            .unary(req.region.as_ref(), move |r| {
                storage(r.append(&row, &cols, d))
            })
            .await?;
        Ok(Response::new(pb::AppendResponse { values }))
    }

    type ScanStream = scan::ScanStream;

    async fn scan(
        &self,
        req: Request<pb::ScanRequest>,
    ) -> Result<Response<Self::ScanStream>, Status> {
        scan::start(self.0.clone(), req.into_inner())
            .await
            .map(Response::new)
    }

    async fn flush(
        &self,
        req: Request<pb::FlushRequest>,
    ) -> Result<Response<pb::FlushResponse>, Status> {
        let region = req.into_inner().region;
        self.0
            .unary(region.as_ref(), |r| storage(r.flush()))
            .await?;
        Ok(Response::new(pb::FlushResponse {}))
    }

    async fn compact(
        &self,
        req: Request<pb::CompactRequest>,
    ) -> Result<Response<pb::CompactResponse>, Status> {
        let req = req.into_inner();
        let kind = if req.major {
            CompactionKind::Major
        } else {
            CompactionKind::Minor
        };
        let report = self
            .0
            .unary(req.region.as_ref(), move |r| storage(r.compact(kind)))
            .await?;
        Ok(Response::new(pb::CompactResponse {
            bytes_read: report.bytes_read(),
            bytes_written: report.bytes_written(),
        }))
    }

    async fn region_status(
        &self,
        req: Request<pb::RegionStatusRequest>,
    ) -> Result<Response<pb::RegionStatusResponse>, Status> {
        let table = req.into_inner().table;
        let rs = &self.0;
        let permit = rs.admit().await?;
        let regions: Vec<_> = rs
            .online_regions()
            .into_iter()
            .filter(|o| table.is_empty() || o.region.descriptor().table == table)
            .collect();
        let mut out = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            regions
                .iter()
                .map(|o| region_status(&o.region))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| crate::error::internal(format!("status task failed: {e}")))?;
        out.sort_by(|a, b| (&a.table, &a.start_row).cmp(&(&b.table, &b.start_row)));
        Ok(Response::new(pb::RegionStatusResponse { regions: out }))
    }

    async fn open_region(
        &self,
        req: Request<pb::OpenRegionRequest>,
    ) -> Result<Response<pb::OpenRegionResponse>, Status> {
        self.0.open_for_master(req.into_inner()).await?;
        Ok(Response::new(pb::OpenRegionResponse {}))
    }

    async fn close_region(
        &self,
        req: Request<pb::CloseRegionRequest>,
    ) -> Result<Response<pb::CloseRegionResponse>, Status> {
        self.0.close_for_master(req.into_inner()).await?;
        Ok(Response::new(pb::CloseRegionResponse {}))
    }
}

fn region_status(region: &Region) -> pb::RegionStatus {
    let d = region.descriptor();
    let s = region.status();
    pb::RegionStatus {
        table: d.table.clone(),
        region_id: d.region_id.clone(),
        start_row: d.start_row.clone().into(),
        end_row: d.end_row.clone().into(),
        memstore_bytes: s.memstore_bytes,
        store_files: s.store_files.values().sum::<usize>() as u64,
        store_file_bytes: s.store_file_bytes,
        read_point: s.read_point,
        last_major_compaction_ms: s.last_major_compaction_ms.unwrap_or(0),
    }
}
