//! `RegionService` over gRPC: each call takes an admission slot, finds its region, and
//! runs the engine call on the blocking pool; gets whose data is in memory (memstores,
//! cached blocks) are answered on the runtime thread instead, sparing the hop. Batched
//! calls (MultiGet, MultiMutate) take one slot and at most one blocking hop for the
//! whole batch and answer per item.

use std::sync::Arc;

use strata_proto::v1::region_service_server::RegionService;
use strata_proto::v1::{self as pb, ItemStatus};
use strata_storage::{Check, CompactionKind, Get, Region, Row};
use tonic::{Request, Response, Status};

use std::time::Instant;

use super::observe::{self, BatchTables, Outcome, code_of};
use super::{OnlineRegion, RegionServer, scan, storage};
use crate::convert::{
    columns, compare_op, durability, max_versions, row_mutation, row_to_proto, time_range,
};
use crate::error::invalid;
use crate::filter::{FilterPlan, RowFilter};
use crate::metrics::{CallTimes, Rpc};

/// Most items in one MultiGet or MultiMutate.
pub const MAX_BATCH_ITEMS: usize = 10_000;

/// The gRPC face of a [`RegionServer`].
#[derive(Clone, Debug)]
pub struct RegionGrpc(pub Arc<RegionServer>);

pub(super) fn check_batch(n: usize) -> Result<(), Status> {
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

/// Items of a batch answered on the runtime thread before the rest goes to the
/// blocking pool: bounds the time one request holds an async worker.
pub(super) const MAX_INLINE_ITEMS: usize = 32;

/// A decoded get request: the engine's query and the filter to apply to its row.
struct PreparedGet {
    get: Get,
    plan: Option<FilterPlan>,
}

impl PreparedGet {
    fn new(req: pb::GetRequest) -> Result<Self, Status> {
        let mut get = Get::new(req.row);
        get.columns = columns(req.columns);
        get.time_range = time_range(req.time_range)?;
        get.max_versions = max_versions(req.max_versions);
        let plan = match req.filter {
            Some(f) => Some(FilterPlan::new(RowFilter::from_proto(f)?, &mut get.columns)),
            None => None,
        };
        Ok(PreparedGet { get, plan })
    }

    fn finish(mut self, row: Option<Row>) -> Option<pb::Row> {
        let row = match (row, self.plan.as_mut()) {
            (Some(r), Some(p)) => p.apply(r),
            (r, _) => r,
        };
        row.map(row_to_proto)
    }

    /// The answer from memory alone (memstores and cached blocks), `Ok(None)` if a
    /// block must be read from a file: then call [`PreparedGet::run`] where blocking is
    /// allowed.
    fn try_cached(self, region: &Region) -> Result<Result<Option<pb::Row>, Self>, Status> {
        match storage(region.try_get_cached(&self.get))? {
            Some(row) => Ok(Ok(self.finish(row))),
            None => Ok(Err(self)),
        }
    }

    fn run(self, region: &Region) -> Result<Option<pb::Row>, Status> {
        let row = storage(region.get(&self.get))?;
        Ok(self.finish(row))
    }
}

fn get_one(region: &Region, req: pb::GetRequest) -> Result<Option<pb::Row>, Status> {
    PreparedGet::new(req)?.run(region)
}

/// A MultiGet item: not tried yet, or tried in memory and in need of a file read.
enum PendingGet {
    Raw(pb::GetRequest),
    Prepared(Option<pb::RegionRef>, PreparedGet),
}

impl PendingGet {
    /// On the runtime thread: the answer if it needs no file read, else the item for
    /// the blocking pool.
    fn try_inline(
        self,
        rs: &RegionServer,
        tables: &BatchTables,
    ) -> Result<Result<Option<pb::Row>, Status>, Box<PendingGet>> {
        let PendingGet::Raw(mut g) = self else {
            return Err(Box::new(self));
        };
        let region = g.region.take();
        let online = match rs.locate(region.as_ref()) {
            Ok(o) => o,
            Err(s) => return Ok(Err(s)),
        };
        online.counters.count(Rpc::MultiGet);
        tables.note(&online);
        let prepared = match PreparedGet::new(g) {
            Ok(p) => p,
            Err(s) => return Ok(Err(s)),
        };
        match prepared.try_cached(&online.region) {
            Ok(Ok(row)) => Ok(rs.check_still_serving(&online).map(|()| row)),
            Ok(Err(p)) => Err(Box::new(PendingGet::Prepared(region, p))),
            Err(s) => Ok(Err(rs.refine(&online, s))),
        }
    }

    /// On the blocking pool.
    fn run(self, rs: &RegionServer, tables: &BatchTables) -> Result<Option<pb::Row>, Status> {
        match self {
            PendingGet::Raw(g) => {
                let region = g.region.clone();
                rs.item(Rpc::MultiGet, region.as_ref(), tables, |r| get_one(r, g))
            }
            // Counted when it was tried in memory.
            PendingGet::Prepared(region, p) => {
                let online = rs.locate(region.as_ref())?;
                p.run(&online.region).map_err(|s| rs.refine(&online, s))
            }
        }
    }
}

impl RegionServer {
    /// Runs `f` on the request's region with an admission slot, and records the
    /// request (metrics, slow log; `row` names it there).
    async fn unary<T, F>(
        self: &Arc<Self>,
        rpc: Rpc,
        region: Option<&pb::RegionRef>,
        row: &[u8],
        f: F,
    ) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&Region) -> Result<T, Status> + Send + 'static,
    {
        self.unary_inline(rpc, region, row, |_| Ok(Err(())), move |r, ()| f(r))
            .await
    }

    /// As [`RegionServer::unary`], but first tries `inline` on the runtime thread: it
    /// answers (`Ok(Ok(t))`) when it can without blocking (no file read, no lock wait),
    /// or hands `p` on (`Ok(Err(p))`) to `f` on the blocking pool.
    async fn unary_inline<T, P, I, F>(
        self: &Arc<Self>,
        rpc: Rpc,
        region: Option<&pb::RegionRef>,
        row: &[u8],
        inline: I,
        f: F,
    ) -> Result<T, Status>
    where
        T: Send + 'static,
        P: Send + 'static,
        I: FnOnce(&Region) -> Result<Result<T, P>, Status>,
        F: FnOnce(&Region, P) -> Result<T, Status> + Send + 'static,
    {
        let started = Instant::now();
        let mut times = CallTimes::default();
        let mut located = None;
        let r = self
            .unary_steps(rpc, region, started, &mut times, &mut located, inline, f)
            .await;
        self.finish_unary(rpc, region, located.as_deref(), row, started, times, &r);
        r
    }

    #[allow(clippy::too_many_arguments)]
    async fn unary_steps<T, P, I, F>(
        self: &Arc<Self>,
        rpc: Rpc,
        region: Option<&pb::RegionRef>,
        started: Instant,
        times: &mut CallTimes,
        located: &mut Option<Arc<OnlineRegion>>,
        inline: I,
        f: F,
    ) -> Result<T, Status>
    where
        T: Send + 'static,
        P: Send + 'static,
        I: FnOnce(&Region) -> Result<Result<T, P>, Status>,
        F: FnOnce(&Region, P) -> Result<T, Status> + Send + 'static,
    {
        // Queue time counts for refused requests too (a queue_timeout is all queue).
        let permit = self.admit().await;
        times.queue = started.elapsed();
        let permit = permit?;
        if rpc == Rpc::Get && !self.hooks.get_delay.is_zero() {
            Box::pin(tokio::time::sleep(self.hooks.get_delay)).await;
        }
        let online = self.locate(region)?;
        *located = Some(online.clone());
        let (tried, t) =
            observe::timed(|| inline(&online.region).map_err(|s| self.refine(&online, s)));
        times.add(t);
        match tried? {
            Ok(answer) => {
                // Fencing: nothing finished after the lease lapsed is acknowledged.
                self.check_still_serving(&online)?;
                Ok(answer)
            }
            // Boxed: most calls are answered inline, and the blocking-pool hop's state
            // would otherwise enlarge (and be moved with) every call's future.
            Err(p) => Box::pin(self.run(permit, online, times, move |r| f(r, p))).await,
        }
    }

    /// Runs a batch with one admission slot: answers items with `inline` on the runtime
    /// thread, in order, until one needs the blocking pool (`Err(item)`) or
    /// [`MAX_INLINE_ITEMS`] are done; that item and the rest then run through `f` on the
    /// blocking pool in one hop.
    async fn batch_inline<I, T, N, F>(
        self: &Arc<Self>,
        rpc: Rpc,
        items: Vec<I>,
        tables: BatchTables,
        inline: N,
        f: F,
    ) -> Result<Vec<T>, Status>
    where
        I: Send + 'static,
        T: Send + 'static,
        N: FnMut(&RegionServer, I) -> Result<T, Box<I>>,
        F: Fn(&RegionServer, I) -> T + Send + 'static,
    {
        let started = Instant::now();
        let n = items.len() as u64;
        let mut times = CallTimes::default();
        let r = self
            .batch_steps(items, started, &mut times, inline, f)
            .await;
        self.finish(Outcome {
            rpc,
            region: None,
            located: None,
            row: &[],
            duration: started.elapsed(),
            times,
            items: n,
            code: code_of(&r),
            tables: tables.take(),
        });
        r
    }

    async fn batch_steps<I, T, N, F>(
        self: &Arc<Self>,
        items: Vec<I>,
        started: Instant,
        times: &mut CallTimes,
        mut inline: N,
        f: F,
    ) -> Result<Vec<T>, Status>
    where
        I: Send + 'static,
        T: Send + 'static,
        N: FnMut(&RegionServer, I) -> Result<T, Box<I>>,
        F: Fn(&RegionServer, I) -> T + Send + 'static,
    {
        check_batch(items.len())?;
        // Queue time counts for refused requests too (a queue_timeout is all queue).
        let permit = self.admit().await;
        times.queue = started.elapsed();
        let permit = permit?;
        let mut out = Vec::with_capacity(items.len());
        let mut rest = items.into_iter();
        let mut pending = None;
        let (_, t) = observe::timed(|| {
            for i in rest.by_ref().take(MAX_INLINE_ITEMS) {
                match inline(self, i) {
                    Ok(t) => out.push(t),
                    Err(i) => {
                        pending = Some(*i);
                        break;
                    }
                }
            }
        });
        times.add(t);
        let remaining: Vec<I> = pending.into_iter().chain(rest).collect();
        if remaining.is_empty() {
            return Ok(out);
        }
        let me = self.clone();
        let (more, t) = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            observe::timed(|| remaining.into_iter().map(|i| f(&me, i)).collect::<Vec<T>>())
        })
        .await
        .map_err(|e| crate::error::internal(format!("batch task failed: {e}")))?;
        times.add(t);
        out.extend(more);
        Ok(out)
    }

    /// One item of a batch on its region, errors refined as for single calls.
    fn item<T>(
        &self,
        rpc: Rpc,
        region: Option<&pb::RegionRef>,
        tables: &BatchTables,
        f: impl FnOnce(&Region) -> Result<T, Status>,
    ) -> Result<T, Status> {
        let online = self.locate(region)?;
        online.counters.count(rpc);
        tables.note(&online);
        let out = f(&online.region).map_err(|s| self.refine(&online, s))?;
        self.check_still_serving(&online)?;
        Ok(out)
    }
}

#[tonic::async_trait]
impl RegionService for RegionGrpc {
    async fn get(&self, req: Request<pb::GetRequest>) -> Result<Response<pb::GetResponse>, Status> {
        let mut req = req.into_inner();
        // Taken, not cloned: the get itself needs only the row and its options.
        let (region, key) = (req.region.take(), req.row.clone());
        let delay = self.0.hooks.get_read_delay;
        // Cache hits are answered on the runtime thread, sparing the hop to the blocking
        // pool (about a third of the server's CPU per get); only file reads go there.
        let row = self
            .0
            .unary_inline(
                Rpc::Get,
                region.as_ref(),
                &key,
                move |r| {
                    let prepared = PreparedGet::new(req)?;
                    if !delay.is_zero() {
                        // The test hook delays the read itself, on the blocking pool.
                        return Ok(Err(prepared));
                    }
                    prepared.try_cached(r)
                },
                move |r, prepared| {
                    if !delay.is_zero() {
                        std::thread::sleep(delay);
                    }
                    prepared.run(r)
                },
            )
            .await?;
        Ok(Response::new(pb::GetResponse { row }))
    }

    async fn multi_get(
        &self,
        req: Request<pb::MultiGetRequest>,
    ) -> Result<Response<pb::MultiGetResponse>, Status> {
        let gets = req.into_inner().gets;
        // Answered in memory on the runtime thread until one needs a file read.
        let items = gets.into_iter().map(PendingGet::Raw).collect();
        let tables = BatchTables::default();
        let (inline_tables, pool_tables) = (tables.clone(), tables.clone());
        let out = self
            .0
            .batch_inline(
                Rpc::MultiGet,
                items,
                tables,
                move |rs, g: PendingGet| g.try_inline(rs, &inline_tables),
                move |rs, g| g.run(rs, &pool_tables),
            )
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
        let mut req = req.into_inner();
        let (region, key) = (req.region.take(), req.row.clone());
        let m =
            durability(req.durability).and_then(|d| Ok((row_mutation(req.row, req.mutations)?, d)));
        self.0
            .unary_mutate(Rpc::Mutate, region.as_ref(), &key, m)
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
            .multi_mutate(items)
            .await?
            .into_iter()
            .map(item_status)
            .collect();
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
        let key = req.row.clone();
        let m = row_mutation(req.row, req.mutations)?;
        let d = durability(req.durability)?;
        let applied = self
            .0
            .unary(Rpc::CheckAndMutate, req.region.as_ref(), &key, move |r| {
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
        let key = row.clone();
        let values = self
            .0
            .unary(Rpc::Increment, req.region.as_ref(), &key, move |r| {
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
        let key = row.clone();
        let values = self
            .0
            .unary(Rpc::Append, req.region.as_ref(), &key, move |r| {
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
            .unary(Rpc::Flush, region.as_ref(), &[], |r| storage(r.flush()))
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
            .unary(Rpc::Compact, req.region.as_ref(), &[], move |r| {
                storage(r.compact(kind))
            })
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
        let started = Instant::now();
        let table = req.into_inner().table;
        let rs = &self.0;
        let r = region_statuses(rs, table).await;
        rs.metrics.record(
            Rpc::RegionStatus,
            started.elapsed(),
            r.as_ref().err().map(Status::code),
        );
        r.map(|regions| Response::new(pb::RegionStatusResponse { regions }))
    }

    async fn slow_log(
        &self,
        req: Request<pb::SlowLogRequest>,
    ) -> Result<Response<pb::SlowLogResponse>, Status> {
        let started = Instant::now();
        let limit = req.into_inner().limit as usize;
        let log = self.0.slow_log();
        let entries = log
            .newest(limit)
            .into_iter()
            .map(|e| pb::SlowLogEntry {
                finished_ms: e.finished_ms,
                operation: e.operation.to_string(),
                table: e.table,
                region_id: e.region,
                row: e.row,
                status: e.status.to_string(),
                duration_us: e.duration_us,
                queue_us: e.queue_us,
                read_us: e.read_us,
                write_us: e.write_us,
                wal_sync_us: e.wal_sync_us,
                stall_us: e.stall_us,
                items: e.items,
            })
            .collect();
        let resp = pb::SlowLogResponse {
            entries,
            threshold_ms: u64::try_from(log.threshold().as_millis()).unwrap_or(u64::MAX),
            recorded: log.recorded(),
        };
        self.0.metrics.record(Rpc::SlowLog, started.elapsed(), None);
        Ok(Response::new(resp))
    }

    async fn split(
        &self,
        req: Request<pb::SplitRequest>,
    ) -> Result<Response<pb::SplitResponse>, Status> {
        super::split::split(&self.0, req).await
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

async fn region_statuses(
    rs: &Arc<RegionServer>,
    table: String,
) -> Result<Vec<pb::RegionStatus>, Status> {
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
    Ok(out)
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
