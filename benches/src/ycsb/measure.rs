//! Latency recording: one HDR histogram per operation kind (µs, 3 significant digits, up
//! to 1 hour), YCSB's `Return=` counts per status code, the run's transactions, scan
//! lengths, and a per-interval histogram the progress ticker drains every second for
//! the live p99 and the throughput-over-time series.
//!
//! Thread safety: every field sits behind its own short lock or is atomic; a record
//! takes three uncontended locks (tens of nanoseconds), small beside an RPC.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::time::Instant;

use super::store::StoreError;

/// Longest latency a histogram holds, µs (longer ones are clamped).
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// YCSB's operation kinds, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum OpKind {
    /// Read one record.
    Read,
    /// Update fields of one record.
    Update,
    /// Insert one record.
    Insert,
    /// Scan records from a key.
    Scan,
    /// Read then update one record.
    ReadModifyWrite,
    /// Delete one record (not chosen by the core workload).
    Delete,
}

impl OpKind {
    /// Every kind, in report order.
    pub const ALL: [OpKind; 6] = [
        OpKind::Read,
        OpKind::Update,
        OpKind::Insert,
        OpKind::Scan,
        OpKind::ReadModifyWrite,
        OpKind::Delete,
    ];

    /// YCSB's name: `READ`, `UPDATE`, `INSERT`, `SCAN`, `READ-MODIFY-WRITE`, `DELETE`.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "READ",
            OpKind::Update => "UPDATE",
            OpKind::Insert => "INSERT",
            OpKind::Scan => "SCAN",
            OpKind::ReadModifyWrite => "READ-MODIFY-WRITE",
            OpKind::Delete => "DELETE",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A histogram for latencies in µs.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

struct OpStats {
    hist: Histogram<u64>,
    returns: BTreeMap<String, u64>,
    first_errors: BTreeMap<String, String>,
}

/// Everything one phase measures.
pub struct Measurements {
    ops: [Mutex<OpStats>; 6],
    overall: Mutex<Histogram<u64>>,
    interval: Mutex<Histogram<u64>>,
    start_delay: Mutex<Histogram<u64>>,
    service: Mutex<Histogram<u64>>,
    transactions: [AtomicU64; 6],
    done: AtomicU64,
    scan_requested: AtomicU64,
    scan_returned: AtomicU64,
    scans_short: AtomicU64,
}

impl Default for Measurements {
    fn default() -> Self {
        Measurements::new()
    }
}

impl Measurements {
    /// Empty.
    pub fn new() -> Measurements {
        let stats = || {
            Mutex::new(OpStats {
                hist: histogram(),
                returns: BTreeMap::new(),
                first_errors: BTreeMap::new(),
            })
        };
        Measurements {
            ops: [stats(), stats(), stats(), stats(), stats(), stats()],
            overall: Mutex::new(histogram()),
            interval: Mutex::new(histogram()),
            start_delay: Mutex::new(histogram()),
            service: Mutex::new(histogram()),
            transactions: Default::default(),
            done: AtomicU64::new(0),
            scan_requested: AtomicU64::new(0),
            scan_returned: AtomicU64::new(0),
            scans_short: AtomicU64::new(0),
        }
    }

    /// Records one operation of `kind` that started (or was meant to) at `start` and
    /// ended now, with its outcome. Returns true if it succeeded.
    pub fn record(&self, kind: OpKind, start: Instant, error: Option<&StoreError>) -> bool {
        let us = elapsed_us(start);
        let mut s = self.ops[kind.index()].lock();
        s.hist.saturating_record(us);
        let code = error.map_or("OK", |e| e.code.as_str());
        *s.returns.entry(code.to_string()).or_insert(0) += 1;
        if let Some(e) = error {
            s.first_errors
                .entry(e.code.clone())
                .or_insert_with(|| e.message.clone());
        }
        error.is_none()
    }

    /// Records one whole transaction (the `[OVERALL]` line) of `kind`, from `intended`.
    /// A paced transaction also gives `dispatched`, when a worker took it from the
    /// pacer: its start delay (`intended` to `dispatched`) and its service time
    /// (`dispatched` to now) are recorded apart.
    pub fn record_transaction(&self, kind: OpKind, intended: Instant, dispatched: Option<Instant>) {
        if let Some(d) = dispatched {
            let delay = d.saturating_duration_since(intended).as_micros();
            self.start_delay
                .lock()
                .saturating_record(u64::try_from(delay).unwrap_or(u64::MAX).max(1));
            self.service.lock().saturating_record(elapsed_us(d));
        }
        let us = elapsed_us(intended);
        self.overall.lock().saturating_record(us);
        self.interval.lock().saturating_record(us);
        self.transactions[kind.index()].fetch_add(1, Ordering::Relaxed);
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a scan that asked for `requested` rows and got `returned`.
    pub fn record_scan(&self, requested: usize, returned: usize) {
        self.scan_requested
            .fetch_add(requested as u64, Ordering::Relaxed);
        self.scan_returned
            .fetch_add(returned as u64, Ordering::Relaxed);
        if returned < requested {
            self.scans_short.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Transactions completed so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Takes the histogram of transactions completed since the last call.
    pub fn take_interval(&self) -> Histogram<u64> {
        let mut h = self.interval.lock();
        let out = h.clone();
        h.reset();
        out
    }

    /// The final figures of each kind that ran (by report order), and the overall ones.
    pub fn summary(&self) -> Summary {
        let ops = OpKind::ALL
            .iter()
            .filter_map(|&k| {
                let s = self.ops[k.index()].lock();
                (!s.hist.is_empty())
                    .then(|| OpSummary::from_hist(k.name(), &s.hist, &s.returns, &s.first_errors))
            })
            .collect();
        let transactions = OpKind::ALL
            .iter()
            .filter_map(|&k| {
                let n = self.transactions[k.index()].load(Ordering::Relaxed);
                (n > 0).then(|| (k.name().to_string(), n))
            })
            .collect();
        let overall_hist = self.overall.lock().clone();
        let paced = |name: &str, h: &Mutex<Histogram<u64>>| {
            let h = h.lock();
            (!h.is_empty())
                .then(|| OpSummary::from_hist(name, &h, &BTreeMap::new(), &BTreeMap::new()))
        };
        Summary {
            start_delay: paced("START-DELAY", &self.start_delay),
            service: paced("SERVICE", &self.service),
            overall: OpSummary::from_hist(
                "OVERALL",
                &overall_hist,
                &BTreeMap::new(),
                &BTreeMap::new(),
            ),
            overall_hist,
            ops,
            transactions,
            scan_rows_requested: self.scan_requested.load(Ordering::Relaxed),
            scan_rows_returned: self.scan_returned.load(Ordering::Relaxed),
            scans_short: self.scans_short.load(Ordering::Relaxed),
        }
    }
}

fn elapsed_us(start: Instant) -> u64 {
    let us = Instant::now().saturating_duration_since(start).as_micros();
    u64::try_from(us).unwrap_or(u64::MAX).max(1)
}

/// One operation kind's figures (µs).
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct OpSummary {
    /// YCSB's name (`READ`, ..., `OVERALL`).
    pub name: String,
    /// Operations measured.
    pub operations: u64,
    /// Mean latency, µs.
    pub average_us: f64,
    /// Smallest latency, µs.
    pub min_us: u64,
    /// Largest latency, µs.
    pub max_us: u64,
    /// Median, µs.
    pub p50_us: u64,
    /// 95th percentile, µs.
    pub p95_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// 99.99th percentile, µs.
    pub p9999_us: u64,
    /// Operations per status code (`OK`, `NOT_FOUND`, `UNAVAILABLE`, ...).
    pub returns: BTreeMap<String, u64>,
    /// The first message seen for each error code.
    pub first_errors: BTreeMap<String, String>,
    /// (percentile, latency µs) points for the percentile plot.
    pub percentiles: Vec<(f64, u64)>,
}

/// Percentiles plotted: 0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100.
const PLOT_PERCENTILES: [f64; 12] = [
    0.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0,
];

impl OpSummary {
    fn from_hist(
        name: &str,
        h: &Histogram<u64>,
        returns: &BTreeMap<String, u64>,
        first_errors: &BTreeMap<String, String>,
    ) -> OpSummary {
        let q = |p: f64| h.value_at_quantile(p);
        OpSummary {
            name: name.to_string(),
            operations: h.len(),
            average_us: if !h.is_empty() { h.mean() } else { 0.0 },
            min_us: if !h.is_empty() { h.min() } else { 0 },
            max_us: h.max(),
            p50_us: q(0.50),
            p95_us: q(0.95),
            p99_us: q(0.99),
            p999_us: q(0.999),
            p9999_us: q(0.9999),
            returns: returns.clone(),
            first_errors: first_errors.clone(),
            percentiles: PLOT_PERCENTILES
                .iter()
                .map(|&p| (p, h.value_at_percentile(p)))
                .collect(),
        }
    }

    /// Operations that did not return OK.
    pub fn errors(&self) -> u64 {
        self.returns
            .iter()
            .filter(|(k, _)| k.as_str() != "OK")
            .map(|(_, v)| v)
            .sum()
    }
}

/// The figures of a phase.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Per transaction, from its intended start.
    pub overall: OpSummary,
    /// The overall histogram (for merging and plots).
    pub overall_hist: Histogram<u64>,
    /// Per operation kind that ran (a read-modify-write also counts its read and update).
    pub ops: Vec<OpSummary>,
    /// Transactions by kind (these add up to the overall operation count).
    pub transactions: BTreeMap<String, u64>,
    /// Rows scans asked for.
    pub scan_rows_requested: u64,
    /// Rows scans returned.
    pub scan_rows_returned: u64,
    /// Scans that returned fewer rows than asked (end of the key space).
    pub scans_short: u64,
    /// Paced runs: from each transaction's intended start to its dispatch to a worker.
    pub start_delay: Option<OpSummary>,
    /// Paced runs: from each transaction's dispatch to its end.
    pub service: Option<OpSummary>,
}
