//! The region server's request metrics: per RPC (count, latency histogram, errors per
//! gRPC code), per table (reads, writes, latency) and per region (request counts for
//! the status page). Everything on the request path is a relaxed atomic add on
//! structures found without a lock: RPC slots are a fixed array, and a region's table
//! counters are resolved once when the region opens ([`RegionCounters`]).
//!
//! Label cardinality is bounded: at most [`MAX_TABLES`] tables get their own series;
//! regions of later tables count under the table label `_other`. Prometheus text is
//! written by [`prometheus`]; the engine's figures are read at scrape time.

pub mod prometheus;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use serde::Serialize;
use strata_storage::histogram::{Histogram, HistogramSnapshot};
use strata_storage::request_phases::Phases;

/// Most tables exported with their own label; later ones share [`OTHER_TABLE`].
pub const MAX_TABLES: usize = 64;
/// Label of the tables past [`MAX_TABLES`].
pub const OTHER_TABLE: &str = "_other";
/// gRPC status codes 0..=16.
const CODES: usize = 17;

/// The RPCs of `RegionService`, as metric labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rpc {
    /// Get.
    Get,
    /// MultiGet.
    MultiGet,
    /// Mutate (put/delete).
    Mutate,
    /// MultiMutate.
    MultiMutate,
    /// CheckAndMutate.
    CheckAndMutate,
    /// Increment.
    Increment,
    /// Append.
    Append,
    /// Scan (the whole stream).
    Scan,
    /// Flush (admin).
    Flush,
    /// Compact (admin).
    Compact,
    /// RegionStatus (admin).
    RegionStatus,
    /// SlowLog (admin).
    SlowLog,
}

impl Rpc {
    /// Every RPC, in label order.
    pub const ALL: [Rpc; 12] = [
        Rpc::Get,
        Rpc::MultiGet,
        Rpc::Mutate,
        Rpc::MultiMutate,
        Rpc::CheckAndMutate,
        Rpc::Increment,
        Rpc::Append,
        Rpc::Scan,
        Rpc::Flush,
        Rpc::Compact,
        Rpc::RegionStatus,
        Rpc::SlowLog,
    ];

    /// The label value (`get`, `multi_get`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Rpc::Get => "get",
            Rpc::MultiGet => "multi_get",
            Rpc::Mutate => "mutate",
            Rpc::MultiMutate => "multi_mutate",
            Rpc::CheckAndMutate => "check_and_mutate",
            Rpc::Increment => "increment",
            Rpc::Append => "append",
            Rpc::Scan => "scan",
            Rpc::Flush => "flush",
            Rpc::Compact => "compact",
            Rpc::RegionStatus => "region_status",
            Rpc::SlowLog => "slow_log",
        }
    }

    /// Reads data (counted as table reads); the rest write or administer.
    pub fn is_read(self) -> bool {
        matches!(self, Rpc::Get | Rpc::MultiGet | Rpc::Scan)
    }

    /// Writes data (counted as table writes).
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Rpc::Mutate | Rpc::MultiMutate | Rpc::CheckAndMutate | Rpc::Increment | Rpc::Append
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// gRPC code names, indexed by code number (label values of the error counter).
pub const CODE_NAMES: [&str; CODES] = [
    "ok",
    "cancelled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal",
    "unavailable",
    "data_loss",
    "unauthenticated",
];

/// Counters of one RPC.
#[derive(Debug, Default)]
pub struct RpcStats {
    requests: AtomicU64,
    errors: [AtomicU64; CODES],
    latency: Histogram,
}

/// Snapshot of [`RpcStats`].
#[derive(Clone, Debug)]
pub struct RpcSnapshot {
    /// The RPC.
    pub rpc: Rpc,
    /// Requests finished (ok or not).
    pub requests: u64,
    /// Failed requests per gRPC code (index = code number; index 0 unused).
    pub errors: [u64; CODES],
    /// Latency of finished requests.
    pub latency: HistogramSnapshot,
}

/// Counters of one table (or of [`OTHER_TABLE`]).
#[derive(Debug, Default)]
pub struct TableStats {
    /// Read requests (a MultiGet counts each item; a scan counts once).
    pub reads: AtomicU64,
    /// Write requests (a MultiMutate counts each item).
    pub writes: AtomicU64,
    /// Latency of single-region read requests (Get, Scan).
    pub read_latency: Histogram,
    /// Latency of single-region write requests.
    pub write_latency: Histogram,
}

/// Snapshot of [`TableStats`].
#[derive(Clone, Debug)]
pub struct TableSnapshot {
    /// Table name (or `_other`).
    pub table: String,
    /// See [`TableStats::reads`].
    pub reads: u64,
    /// See [`TableStats::writes`].
    pub writes: u64,
    /// See [`TableStats::read_latency`].
    pub read_latency: HistogramSnapshot,
    /// See [`TableStats::write_latency`].
    pub write_latency: HistogramSnapshot,
}

/// A region's request counters, created when it opens (kept in its `OnlineRegion`).
#[derive(Debug)]
pub struct RegionCounters {
    /// The table's counters (shared by the table's regions).
    pub table: Arc<TableStats>,
    /// Read requests on this region since it opened here.
    pub reads: AtomicU64,
    /// Write requests on this region since it opened here.
    pub writes: AtomicU64,
}

impl RegionCounters {
    /// Counts one request item of `rpc` (no latency: batch items).
    pub fn count(&self, rpc: Rpc) {
        if rpc.is_read() {
            self.reads.fetch_add(1, Ordering::Relaxed);
            self.table.reads.fetch_add(1, Ordering::Relaxed);
        } else if rpc.is_write() {
            self.writes.fetch_add(1, Ordering::Relaxed);
            self.table.writes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one single-region request and its latency.
    pub fn observe(&self, rpc: Rpc, latency: Duration) {
        self.count(rpc);
        self.table.observe_latency(rpc, latency);
    }
}

impl TableStats {
    /// Records the latency of a request of `rpc` that touched this table (a batch's
    /// whole duration, once per table it touched).
    pub fn observe_latency(&self, rpc: Rpc, latency: Duration) {
        if rpc.is_read() {
            self.read_latency.observe(latency);
        } else if rpc.is_write() {
            self.write_latency.observe(latency);
        }
    }
}

/// The region server's request metrics.
#[derive(Debug)]
pub struct ServerMetrics {
    rpcs: [RpcStats; Rpc::ALL.len()],
    tables: RwLock<BTreeMap<String, Arc<TableStats>>>,
    other: Arc<TableStats>,
    started: Instant,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        ServerMetrics {
            rpcs: std::array::from_fn(|_| RpcStats::default()),
            tables: RwLock::new(BTreeMap::new()),
            other: Arc::new(TableStats::default()),
            started: Instant::now(),
        }
    }
}

impl ServerMetrics {
    /// Counters for a region of `table` opening here (not on the request path).
    pub fn region_counters(&self, table: &str) -> Arc<RegionCounters> {
        Arc::new(RegionCounters {
            table: self.table(table),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        })
    }

    fn table(&self, table: &str) -> Arc<TableStats> {
        if let Some(t) = self.tables.read().get(table) {
            return t.clone();
        }
        let mut tables = self.tables.write();
        if let Some(t) = tables.get(table) {
            return t.clone();
        }
        if tables.len() >= MAX_TABLES {
            return self.other.clone();
        }
        let t = Arc::new(TableStats::default());
        tables.insert(table.to_string(), t.clone());
        t
    }

    /// Records a finished request: its RPC, latency and outcome (`None` = OK).
    #[inline]
    pub fn record(&self, rpc: Rpc, latency: Duration, error: Option<tonic::Code>) {
        let Some(s) = self.rpcs.get(rpc.index()) else {
            return;
        };
        s.requests.fetch_add(1, Ordering::Relaxed);
        s.latency.observe(latency);
        if let Some(code) = error
            && let Some(e) = s.errors.get(code as usize)
        {
            e.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every RPC's counters.
    pub fn rpc_snapshots(&self) -> Vec<RpcSnapshot> {
        Rpc::ALL
            .iter()
            .zip(self.rpcs.iter())
            .map(|(&rpc, s)| RpcSnapshot {
                rpc,
                requests: s.requests.load(Ordering::Relaxed),
                errors: std::array::from_fn(|i| s.errors[i].load(Ordering::Relaxed)),
                latency: s.latency.snapshot(),
            })
            .collect()
    }

    /// Every table's counters (at most [`MAX_TABLES`] plus `_other` when used).
    pub fn table_snapshots(&self) -> Vec<TableSnapshot> {
        let snap = |table: &str, t: &TableStats| TableSnapshot {
            table: table.to_string(),
            reads: t.reads.load(Ordering::Relaxed),
            writes: t.writes.load(Ordering::Relaxed),
            read_latency: t.read_latency.snapshot(),
            write_latency: t.write_latency.snapshot(),
        };
        let mut out: Vec<_> = self
            .tables
            .read()
            .iter()
            .map(|(name, t)| snap(name, t))
            .collect();
        let other = snap(OTHER_TABLE, &self.other);
        if other.reads + other.writes > 0 {
            out.push(other);
        }
        out
    }

    /// Requests finished since start, all RPCs.
    pub fn total_requests(&self) -> u64 {
        self.rpcs
            .iter()
            .map(|s| s.requests.load(Ordering::Relaxed))
            .sum()
    }

    /// Time since the metrics were created (server start).
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Where one request's time went (the slow log's phases).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallTimes {
    /// Waiting for an admission slot.
    pub queue: Duration,
    /// Running the engine call (reads, or writes including their WAL sync and stall).
    pub engine: Duration,
    /// Engine waits inside `engine`: WAL sync and write stall.
    pub waits: Phases,
}

impl CallTimes {
    /// Adds another step's times (scans run in many steps).
    pub fn add(&mut self, other: CallTimes) {
        self.queue += other.queue;
        self.engine += other.engine;
        self.waits.wal_sync += other.waits.wal_sync;
        self.waits.stall += other.waits.stall;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_indices_follow_all() {
        for (i, rpc) in Rpc::ALL.iter().enumerate() {
            assert_eq!(rpc.index(), i, "{rpc:?}");
        }
    }

    #[test]
    fn records_requests_errors_and_tables() {
        let m = ServerMetrics::default();
        m.record(Rpc::Get, Duration::from_micros(30), None);
        m.record(
            Rpc::Get,
            Duration::from_micros(30),
            Some(tonic::Code::NotFound),
        );
        let get = &m.rpc_snapshots()[0];
        assert_eq!(get.requests, 2);
        assert_eq!(get.errors[tonic::Code::NotFound as usize], 1);
        assert_eq!(get.latency.count(), 2);
        let r = m.region_counters("t");
        r.observe(Rpc::Get, Duration::from_micros(10));
        r.count(Rpc::MultiMutate);
        let t = &m.table_snapshots()[0];
        assert_eq!((t.table.as_str(), t.reads, t.writes), ("t", 1, 1));
        assert_eq!(t.read_latency.count(), 1);
    }

    #[test]
    fn tables_past_the_cap_share_other() {
        let m = ServerMetrics::default();
        for i in 0..MAX_TABLES + 5 {
            m.region_counters(&format!("t{i}")).count(Rpc::Get);
        }
        let snaps = m.table_snapshots();
        assert_eq!(snaps.len(), MAX_TABLES + 1);
        let other = snaps.iter().find(|t| t.table == OTHER_TABLE).unwrap();
        assert_eq!(other.reads, 5);
    }
}
