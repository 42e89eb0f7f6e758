//! Reports: YCSB's text summary, JSON (one [`Report`] per phase, or an array for
//! `compare`), CSV (one line per operation kind), and the comparison table with ratios.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::engine_figures::EngineFigures;
use super::measure::OpSummary;
use super::runner::{PhaseResult, TimelinePoint};

/// Everything one phase against one store measured.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// `strata`, `redis`, `memory`, ...
    pub store: String,
    /// Workload name (`a`..`f`) or the properties file.
    pub workload: String,
    /// `load` or `run`.
    pub phase: String,
    /// Workers (operations in flight).
    pub threads: usize,
    /// Target ops/s (open loop), if paced.
    pub target_ops_per_sec: Option<f64>,
    /// From start to the end of the last transaction, ms.
    pub runtime_ms: f64,
    /// Transactions per second.
    pub throughput_ops_per_sec: f64,
    /// Per transaction (from its intended start); `operations` is the transaction count.
    pub overall: OpSummary,
    /// Per operation kind (a read-modify-write also counts its read and its update).
    pub ops: Vec<OpSummary>,
    /// Transactions by kind; they add up to `overall.operations`.
    pub transactions: BTreeMap<String, u64>,
    /// Rows all scans asked for.
    pub scan_rows_requested: u64,
    /// Rows all scans returned.
    pub scan_rows_returned: u64,
    /// Scans that returned fewer rows than asked (they reached the end of the keys).
    pub scans_short: u64,
    /// Throughput and p99 per second.
    pub timeline: Vec<TimelinePoint>,
    /// `/proc/loadavg` at the end of the phase (the machine may be shared).
    pub load_average: String,
    /// The properties the workload ran with.
    pub properties: BTreeMap<String, String>,
    /// CPU per transaction of the load generator and of the store's server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuFigures>,
    /// The embedded Strata server's engine counters over the phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineFigures>,
    /// Paced runs: per transaction, from its intended start to the moment a worker took
    /// it (the load generator's share of the latency, or every worker busy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_delay: Option<OpSummary>,
    /// Paced runs: per transaction, from the moment a worker took it to its end (YCSB's
    /// plain `[READ]` figures under `measurement.interval=both`, beside the intended ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<OpSummary>,
}

/// CPU time per transaction over a phase, µs: the load generator's threads (client
/// library included) and the store's server (the embedded Strata server's threads, or
/// the `redis-server` process). On a shared machine these are steadier than throughput.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CpuFigures {
    /// Client (load generator and store client library) CPU per transaction, µs.
    pub client_us_per_op: f64,
    /// Server CPU per transaction, µs (`None` when the server runs elsewhere).
    pub server_us_per_op: Option<f64>,
}

impl CpuFigures {
    /// From CPU times over `transactions`.
    pub fn new(
        client: std::time::Duration,
        server: Option<std::time::Duration>,
        transactions: u64,
    ) -> CpuFigures {
        let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / transactions.max(1) as f64;
        CpuFigures {
            client_us_per_op: per(client),
            server_us_per_op: server.map(per),
        }
    }

    /// One `# cpu:` line for the text report.
    pub fn text(&self) -> String {
        match self.server_us_per_op {
            Some(s) => format!(
                "# cpu: client {:.1} µs/op, server {s:.1} µs/op, total {:.1} µs/op",
                self.client_us_per_op,
                self.client_us_per_op + s
            ),
            None => format!(
                "# cpu: client {:.1} µs/op (server not measured)",
                self.client_us_per_op
            ),
        }
    }
}

/// The 1-, 5- and 15-minute load averages, or `?`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

impl Report {
    /// Builds the report of one phase.
    pub fn new(
        store: &str,
        workload: &str,
        phase: &str,
        threads: usize,
        target: Option<f64>,
        result: &PhaseResult,
        properties: BTreeMap<String, String>,
    ) -> Report {
        let s = &result.summary;
        Report {
            store: store.into(),
            workload: workload.into(),
            phase: phase.into(),
            threads,
            target_ops_per_sec: target,
            runtime_ms: result.runtime.as_secs_f64() * 1e3,
            throughput_ops_per_sec: result.throughput(),
            overall: s.overall.clone(),
            ops: s.ops.clone(),
            transactions: s.transactions.clone(),
            scan_rows_requested: s.scan_rows_requested,
            scan_rows_returned: s.scan_rows_returned,
            scans_short: s.scans_short,
            timeline: result.timeline.clone(),
            load_average: load_average(),
            properties,
            cpu: None,
            engine: None,
            start_delay: s.start_delay.clone(),
            service: s.service.clone(),
        }
    }

    /// Operations of every kind that did not return OK.
    pub fn errors(&self) -> u64 {
        self.ops.iter().map(OpSummary::errors).sum()
    }

    /// The figures of operation `name` (`READ`, ...).
    pub fn op(&self, name: &str) -> Option<&OpSummary> {
        self.ops.iter().find(|o| o.name == name)
    }

    /// YCSB's text summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# {} workload {} {} phase, {} thread(s){}; load average {}",
            self.store,
            self.workload,
            self.phase,
            self.threads,
            self.target_ops_per_sec
                .map_or(String::new(), |t| format!(", target {t} ops/s")),
            self.load_average
        );
        let _ = writeln!(out, "[OVERALL], RunTime(ms), {:.0}", self.runtime_ms);
        let _ = writeln!(
            out,
            "[OVERALL], Throughput(ops/sec), {:.2}",
            self.throughput_ops_per_sec
        );
        for op in std::iter::once(&self.overall).chain(&self.ops) {
            write_op(&mut out, op);
        }
        if self.scan_rows_requested > 0 {
            let _ = writeln!(
                out,
                "[SCAN], RowsRequested, {}\n[SCAN], RowsReturned, {}\n[SCAN], ShortScans, {}",
                self.scan_rows_requested, self.scan_rows_returned, self.scans_short
            );
        }
        for op in &self.ops {
            for (code, msg) in &op.first_errors {
                let _ = writeln!(out, "# first {} error {code}: {msg}", op.name);
            }
        }
        for (what, d) in [
            (
                "start delay (intended start to dispatch: the load generator's share)",
                &self.start_delay,
            ),
            ("service time (dispatch to end)", &self.service),
        ] {
            if let Some(d) = d {
                let _ = writeln!(
                    out,
                    "# paced {what}, µs: p50 {} p99 {} p99.9 {} max {}",
                    d.p50_us, d.p99_us, d.p999_us, d.max_us
                );
            }
        }
        if let Some(c) = &self.cpu {
            let _ = writeln!(out, "{}", c.text());
        }
        if let Some(e) = &self.engine {
            let _ = writeln!(out, "{}", e.text());
        }
        out
    }

    /// CSV lines (no header) for this report: one per operation kind and `OVERALL`.
    pub fn csv_lines(&self) -> String {
        let mut out = String::new();
        for op in std::iter::once(&self.overall).chain(&self.ops) {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{:.2},{},{:.1},{},{},{},{},{},{},{},{},{}",
                self.store,
                self.workload,
                self.phase,
                self.threads,
                self.target_ops_per_sec
                    .map_or(String::new(), |t| t.to_string()),
                op.name,
                self.throughput_ops_per_sec,
                op.operations,
                op.average_us,
                op.min_us,
                op.max_us,
                op.p50_us,
                op.p95_us,
                op.p99_us,
                op.p999_us,
                op.p9999_us,
                op.errors(),
                self.load_average.replace(' ', "/"),
            );
        }
        out
    }
}

/// The CSV header matching [`Report::csv_lines`].
pub const CSV_HEADER: &str = "store,workload,phase,threads,target_ops_per_sec,operation,\
throughput_ops_per_sec,operations,average_us,min_us,max_us,p50_us,p95_us,p99_us,p999_us,\
p9999_us,errors,load_average";

fn write_op(out: &mut String, op: &OpSummary) {
    let n = &op.name;
    let _ = writeln!(out, "[{n}], Operations, {}", op.operations);
    let _ = writeln!(out, "[{n}], AverageLatency(us), {:.2}", op.average_us);
    let _ = writeln!(out, "[{n}], MinLatency(us), {}", op.min_us);
    let _ = writeln!(out, "[{n}], MaxLatency(us), {}", op.max_us);
    let _ = writeln!(out, "[{n}], 50thPercentileLatency(us), {}", op.p50_us);
    let _ = writeln!(out, "[{n}], 95thPercentileLatency(us), {}", op.p95_us);
    let _ = writeln!(out, "[{n}], 99thPercentileLatency(us), {}", op.p99_us);
    let _ = writeln!(out, "[{n}], 99.9thPercentileLatency(us), {}", op.p999_us);
    let _ = writeln!(out, "[{n}], 99.99thPercentileLatency(us), {}", op.p9999_us);
    for (code, count) in &op.returns {
        let _ = writeln!(out, "[{n}], Return={code}, {count}");
    }
}

/// The comparison table of `compare`: per workload, threads and operation, each store's
/// throughput and p50/p99/p99.9, and the ratio of `subject` to `reference`
/// (throughput: subject / reference, higher is better for the subject; latency:
/// subject / reference, lower is better).
pub fn comparison(reports: &[Report], subject: &str, reference: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| workload | threads | op | {subject} ops/s | {reference} ops/s | ratio | {subject} p50/p99/p99.9 µs | {reference} p50/p99/p99.9 µs | p99 ratio | errors ({subject}/{reference}) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    let find = |store: &str, w: &str, t: usize| {
        reports
            .iter()
            .find(|r| r.store == store && r.workload == w && r.threads == t && r.phase == "run")
    };
    let mut seen = Vec::new();
    for r in reports
        .iter()
        .filter(|r| r.store == subject && r.phase == "run")
    {
        if seen.contains(&(r.workload.clone(), r.threads)) {
            continue;
        }
        seen.push((r.workload.clone(), r.threads));
        let Some(other) = find(reference, &r.workload, r.threads) else {
            continue;
        };
        for op in std::iter::once(&r.overall).chain(&r.ops) {
            let o = if op.name == "OVERALL" {
                Some(&other.overall)
            } else {
                other.op(&op.name)
            };
            let Some(o) = o else { continue };
            let (tput_s, tput_r) = if op.name == "OVERALL" {
                (r.throughput_ops_per_sec, other.throughput_ops_per_sec)
            } else {
                (
                    op.operations as f64 / (r.runtime_ms / 1e3).max(1e-9),
                    o.operations as f64 / (other.runtime_ms / 1e3).max(1e-9),
                )
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} | {:.0} | {:.2} | {}/{}/{} | {}/{}/{} | {:.2} | {}/{} |",
                r.workload,
                r.threads,
                op.name,
                tput_s,
                tput_r,
                tput_s / tput_r.max(1e-9),
                op.p50_us,
                op.p99_us,
                op.p999_us,
                o.p50_us,
                o.p99_us,
                o.p999_us,
                op.p99_us as f64 / (o.p99_us as f64).max(1.0),
                op.errors(),
                o.errors(),
            );
        }
    }
    out
}
