//! Per-request bookkeeping of the region server: the RPC's count, latency and error
//! code, the region's and table's counters, and the slow-request log. One
//! [`RegionServer::finish`] call per request, made by the request's handler helper
//! (`unary`, `batch`, the scan pump), so handlers themselves stay unchanged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use strata_proto::v1 as pb;
use strata_storage::request_phases;
use tonic::Status;

use super::{OnlineRegion, RegionServer};
use crate::metrics::{CallTimes, Rpc, TableStats};
use crate::slowlog::Finished;

/// Runs an engine step on the current (blocking) thread, timing it and collecting the
/// engine's waits (WAL sync, stall) made on this thread.
pub(super) fn timed<T>(f: impl FnOnce() -> T) -> (T, CallTimes) {
    request_phases::reset();
    let started = Instant::now();
    let r = f();
    let times = CallTimes {
        queue: Duration::ZERO,
        engine: started.elapsed(),
        waits: request_phases::take(),
    };
    (r, times)
}

/// A finished request, as the handler helpers report it.
pub(super) struct Outcome<'a> {
    pub rpc: Rpc,
    pub region: Option<&'a pb::RegionRef>,
    pub located: Option<&'a OnlineRegion>,
    pub row: &'a [u8],
    pub duration: Duration,
    pub times: CallTimes,
    pub items: u64,
    pub code: tonic::Code,
    /// The tables a batch touched (empty for single-region calls, which `located` names).
    pub tables: Vec<Arc<TableStats>>,
}

/// The tables a batch's items touched, collected as items are located (on the runtime
/// thread and then the blocking pool), so the batch's latency is recorded once per
/// table. Bounded: one entry per distinct table, and tables beyond
/// `metrics::MAX_TABLES` share one.
#[derive(Clone, Default)]
pub(super) struct BatchTables(Arc<Mutex<Vec<Arc<TableStats>>>>);

impl BatchTables {
    /// Notes the table of an item's region.
    pub(super) fn note(&self, online: &OnlineRegion) {
        let t = &online.counters.table;
        let mut v = self.0.lock();
        if !v.iter().any(|x| Arc::ptr_eq(x, t)) {
            v.push(t.clone());
        }
    }

    /// The tables noted so far.
    pub(super) fn take(&self) -> Vec<Arc<TableStats>> {
        std::mem::take(&mut *self.0.lock())
    }
}

/// The code of a result (`Ok` for success).
pub(super) fn code_of<T>(r: &Result<T, Status>) -> tonic::Code {
    match r {
        Ok(_) => tonic::Code::Ok,
        Err(s) => s.code(),
    }
}

impl RegionServer {
    /// Records a finished request in the metrics and, if slow, in the slow log.
    /// Records a one-row call (Get, Mutate) that started at `started`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn finish_unary<T>(
        &self,
        rpc: Rpc,
        region: Option<&pb::RegionRef>,
        located: Option<&OnlineRegion>,
        row: &[u8],
        started: Instant,
        times: CallTimes,
        r: &Result<T, Status>,
    ) {
        self.finish(Outcome {
            rpc,
            region,
            located,
            row,
            duration: started.elapsed(),
            times,
            items: 1,
            code: code_of(r),
            tables: Vec::new(),
        });
    }

    pub(super) fn finish(&self, o: Outcome<'_>) {
        let error = (o.code != tonic::Code::Ok).then_some(o.code);
        self.metrics.record(o.rpc, o.duration, error);
        if let Some(online) = o.located {
            online.counters.observe(o.rpc, o.duration);
        }
        for t in &o.tables {
            t.observe_latency(o.rpc, o.duration);
        }
        if self.slow_log.is_slow(o.duration) {
            let (table, region) = o
                .region
                .map_or(("", ""), |r| (r.table.as_str(), r.region_id.as_str()));
            self.slow_log.offer(&Finished {
                rpc: o.rpc,
                table,
                region,
                row: o.row,
                code: o.code,
                duration: o.duration,
                times: o.times,
                items: o.items,
            });
        }
    }
}
