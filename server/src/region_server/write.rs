//! The write RPCs' fast path: Mutate and MultiMutate items whose row lock is free and
//! whose memstore has room are logged and inserted on the runtime thread
//! ([`Region::try_mutate_start`]); their WAL sync is then awaited without holding a
//! thread, in a task of its own (a cancelled call must not drop a write half-way: its
//! sequence id would hold back the visibility of every later write of the region),
//! while the region's WAL syncer thread fsyncs for all of them at once. Anything that
//! would wait (a busy row lock, a write stall, a full WAL buffer, a Delete of the latest
//! version, which reads first) runs on the blocking pool as before.
//!
//! A MultiMutate thus costs one group commit for all its rows rather than one fsync per
//! row. Within one batch, items are resolved in order wherever a blocking write must
//! wait for earlier ones to become visible, so a batch never waits on itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use strata_proto::v1 as pb;
use strata_storage::{Durability, PendingWrite, RowMutation};
use tonic::Status;

use super::observe::{self, BatchTables, Outcome, code_of};
use super::service::{MAX_INLINE_ITEMS, check_batch};
use super::{OnlineRegion, RegionServer, storage};
use crate::convert::{durability, row_mutation};
use crate::metrics::{CallTimes, Rpc};

/// Drives a pending write to its end: polled once here (a write that needs no WAL
/// wait, e.g. `Durability::Async`, resolves at once), else in a task of its own, so a
/// cancelled call does not drop it half-way (a write dropped before it is durable syncs
/// in place, blocking a runtime worker for an fsync). The task's first poll registers
/// its own waker; the one registered here only causes a spurious wake-up.
async fn resolve(mut pending: PendingWrite) -> Result<strata_storage::Result<u64>, Status> {
    let first = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut pending).poll(cx))).await;
    match first {
        Poll::Ready(r) => Ok(r),
        Poll::Pending => tokio::spawn(pending)
            .await
            .map_err(|e| crate::error::internal(format!("write task failed: {e}"))),
    }
}

/// A MultiMutate item on its way.
enum WriteItem {
    /// Its outcome.
    Done(Result<(), Status>),
    /// Logged and inserted; waiting for the WAL and the read point.
    Pending(Arc<OnlineRegion>, PendingWrite),
    /// Must run where blocking is allowed.
    Deferred(Arc<OnlineRegion>, RowMutation, Option<Durability>),
}

impl RegionServer {
    /// A row mutation (`Mutate`): applied on the runtime thread when that needs no
    /// wait ([`Region::try_mutate_start`]), its WAL sync then awaited without holding a
    /// thread, so concurrent writers share one fsync through the WAL's syncer; else (row
    /// lock busy, memstore past a limit, a read needed first) run on the blocking pool,
    /// which waits or stalls as the limits say.
    pub(super) async fn unary_mutate(
        self: &Arc<Self>,
        rpc: Rpc,
        region: Option<&pb::RegionRef>,
        row: &[u8],
        m: Result<(RowMutation, Option<Durability>), Status>,
    ) -> Result<(), Status> {
        let started = Instant::now();
        let mut times = CallTimes::default();
        let mut located = None;
        let r = self
            .mutate_steps(region, started, &mut times, &mut located, m)
            .await;
        self.finish_unary(rpc, region, located.as_deref(), row, started, times, &r);
        r
    }

    async fn mutate_steps(
        self: &Arc<Self>,
        region: Option<&pb::RegionRef>,
        started: Instant,
        times: &mut CallTimes,
        located: &mut Option<Arc<OnlineRegion>>,
        m: Result<(RowMutation, Option<Durability>), Status>,
    ) -> Result<(), Status> {
        let permit = self.admit().await;
        times.queue = started.elapsed();
        let permit = permit?;
        let online = self.locate(region)?;
        *located = Some(online.clone());
        let (m, durability) = m?;
        let (tried, t) = observe::timed(|| {
            storage(online.region.try_mutate_start(&m, durability))
                .map_err(|s| self.refine(&online, s))
        });
        times.add(t);
        let Some(pending) = tried? else {
            return self
                .run(permit, online, times, move |r| {
                    storage(r.mutate(&m, durability)).map(drop)
                })
                .await;
        };
        let waiting = Instant::now();
        let done = resolve(pending).await?;
        let waited = waiting.elapsed();
        times.engine += waited;
        times.waits.wal_sync += waited;
        self.finish_write(&online, done)
    }

    /// MultiMutate: per-row results in request order, one admission slot for the batch.
    pub(super) async fn multi_mutate(
        self: &Arc<Self>,
        items: Vec<pb::MutateRequest>,
    ) -> Result<Vec<Result<(), Status>>, Status> {
        let started = Instant::now();
        let n = items.len() as u64;
        let mut times = CallTimes::default();
        let tables = BatchTables::default();
        let r = self
            .multi_mutate_steps(items, started, &mut times, &tables)
            .await;
        self.finish(Outcome {
            rpc: Rpc::MultiMutate,
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

    async fn multi_mutate_steps(
        self: &Arc<Self>,
        items: Vec<pb::MutateRequest>,
        started: Instant,
        times: &mut CallTimes,
        tables: &BatchTables,
    ) -> Result<Vec<Result<(), Status>>, Status> {
        check_batch(items.len())?;
        let permit = self.admit().await;
        times.queue = started.elapsed();
        let permit = permit?;
        let mut rest = items.into_iter().peekable();
        // In request order; nothing after a deferred item starts before it has run, or
        // a later write to its row could land first (or be waited for by it).
        let (mut out, t) = observe::timed(|| {
            let mut out = Vec::new();
            while out.len() < MAX_INLINE_ITEMS
                && let Some(m) = rest.next()
            {
                let item = self.start_write(m, tables);
                let deferred = matches!(item, WriteItem::Deferred(..));
                out.push(item);
                if deferred {
                    break;
                }
            }
            out
        });
        times.add(t);
        let deferred = out.iter().any(|i| matches!(i, WriteItem::Deferred(..)));
        if deferred || rest.peek().is_some() {
            let me = self.clone();
            let tables = tables.clone();
            let (all, t) = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                observe::timed(|| me.run_in_order(out, rest, &tables))
            })
            .await
            .map_err(|e| crate::error::internal(format!("batch task failed: {e}")))?;
            times.add(t);
            out = all;
        }
        // The pending writes, awaited in order in a task of their own.
        let waiting = Instant::now();
        let me = self.clone();
        let results = tokio::spawn(async move {
            let mut results = Vec::with_capacity(out.len());
            for item in out {
                results.push(match item {
                    WriteItem::Done(r) => r,
                    WriteItem::Pending(online, p) => me.finish_write(&online, p.await),
                    WriteItem::Deferred(..) => Err(crate::error::internal(
                        "a deferred write was left unrun (bug)",
                    )),
                });
            }
            results
        })
        .await
        .map_err(|e| crate::error::internal(format!("write task failed: {e}")))?;
        let waited = waiting.elapsed();
        times.engine += waited;
        times.waits.wal_sync += waited;
        Ok(results)
    }

    /// Starts one item without blocking.
    fn start_write(&self, m: pb::MutateRequest, tables: &BatchTables) -> WriteItem {
        let online = match self.locate(m.region.as_ref()) {
            Ok(o) => o,
            Err(s) => return WriteItem::Done(Err(s)),
        };
        online.counters.count(Rpc::MultiMutate);
        tables.note(&online);
        let parsed =
            durability(m.durability).and_then(|d| Ok((row_mutation(m.row, m.mutations)?, d)));
        let (row_mutation, d) = match parsed {
            Ok(p) => p,
            Err(s) => return WriteItem::Done(Err(s)),
        };
        match storage(online.region.try_mutate_start(&row_mutation, d)) {
            Ok(Some(p)) => WriteItem::Pending(online, p),
            Ok(None) => WriteItem::Deferred(online, row_mutation, d),
            Err(s) => WriteItem::Done(Err(self.refine(&online, s))),
        }
    }

    /// On the blocking pool: the items started so far (the last one may be deferred)
    /// and the rest, in request order. Each deferred item runs blocking once the batch's
    /// earlier pending writes are resolved (blocking too): it waits until they are
    /// visible, and nobody else would drive them meanwhile. Items after it start only
    /// then. Pending items left at the end are awaited by the caller.
    fn run_in_order(
        &self,
        started: Vec<WriteItem>,
        rest: impl Iterator<Item = pb::MutateRequest>,
        tables: &BatchTables,
    ) -> Vec<WriteItem> {
        let mut out: Vec<WriteItem> = Vec::with_capacity(started.len());
        let items = started
            .into_iter()
            .map(Ok)
            .chain(rest.map(Err::<WriteItem, _>));
        for item in items {
            let item = match item {
                Ok(started) => started,
                Err(m) => self.start_write(m, tables),
            };
            let WriteItem::Deferred(online, m, d) = item else {
                out.push(item);
                continue;
            };
            for earlier in &mut out {
                if let WriteItem::Pending(..) = earlier
                    && let WriteItem::Pending(o, p) =
                        std::mem::replace(earlier, WriteItem::Done(Ok(())))
                {
                    *earlier = WriteItem::Done(self.finish_write(&o, p.wait()));
                }
            }
            let r = storage(online.region.mutate(&m, d))
                .map(drop)
                .map_err(|s| self.refine(&online, s))
                .and_then(|()| self.check_still_serving(&online));
            out.push(WriteItem::Done(r));
        }
        out
    }

    /// A resolved write, with errors refined and the lease checked.
    fn finish_write(
        &self,
        online: &OnlineRegion,
        r: strata_storage::Result<u64>,
    ) -> Result<(), Status> {
        storage(r).map_err(|s| self.refine(online, s))?;
        // Fencing: nothing finished after the lease lapsed is acknowledged.
        self.check_still_serving(online)
    }
}
