//! Prometheus text exposition (format 0.0.4) of a region server: its request metrics,
//! the engine's counters, gauges and latency histograms, and process figures. Written
//! by hand over plain snapshots: the format is small, and it keeps the request path free
//! of a registry's locks.
//!
//! Cardinality: per-table series are capped by [`super::MAX_TABLES`]; per-region and
//! per-store series by [`MAX_REGIONS`] (regions sorted by table and id; the rest are
//! summed into the server-wide gauges only).

use std::fmt::Write;

use strata_storage::histogram::HistogramSnapshot;

use super::{CODE_NAMES, Rpc};
use crate::region_server::RegionServer;

/// Most regions exported with per-region and per-store series.
pub const MAX_REGIONS: usize = 500;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Label pairs of one sample.
type Labels<'a> = &'a [(&'a str, &'a str)];

/// Builds the text, one family at a time.
#[derive(Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    /// The text written so far.
    pub fn finish(self) -> String {
        self.out
    }

    /// `# HELP` and `# TYPE` lines of a family.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample line.
    pub fn sample(&mut self, name: &str, labels: Labels<'_>, value: impl std::fmt::Display) {
        self.out.push_str(name);
        write_labels(&mut self.out, labels, None);
        let _ = writeln!(self.out, " {value}");
    }

    /// A family with a single unlabelled sample.
    pub fn single(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// The `_bucket`, `_sum` and `_count` samples of a histogram in seconds.
    pub fn histogram(&mut self, name: &str, labels: Labels<'_>, h: &HistogramSnapshot) {
        let bucket = format!("{name}_bucket");
        for (bound, count) in h.cumulative() {
            let le = bound.map_or_else(|| "+Inf".to_string(), |b| seconds(b).to_string());
            self.out.push_str(&bucket);
            write_labels(&mut self.out, labels, Some(&le));
            let _ = writeln!(self.out, " {count}");
        }
        self.sample(&format!("{name}_sum"), labels, seconds(h.sum_micros));
        self.sample(&format!("{name}_count"), labels, h.count());
    }
}

fn seconds(micros: u64) -> f64 {
    micros as f64 / 1e6
}

fn write_labels(out: &mut String, labels: Labels<'_>, le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    let extra = le.map(|v| ("le", v));
    for (k, v) in labels.iter().copied().chain(extra) {
        if !first {
            out.push(',');
        }
        first = false;
        let _ = write!(out, "{k}=\"{}\"", escape_label(v));
    }
    out.push('}');
}

/// Escapes a label value: backslash, double quote and newline.
pub fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Resident set size of this process in bytes (Linux `/proc/self/statm`), if known.
pub fn process_rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // 4 KiB pages: the page size of every Linux target this server builds for.
    Some(pages * 4096)
}

/// The whole exposition of `rs`. Reads region figures (takes short locks): call it
/// off the async workers.
pub fn render(rs: &RegionServer) -> String {
    let mut w = Writer::default();
    requests(&mut w, rs);
    engine(&mut w, rs);
    regions(&mut w, rs);
    if let Some(rss) = process_rss_bytes() {
        w.single(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            rss,
        );
    }
    w.single(
        "strata_uptime_seconds",
        "gauge",
        "Seconds since the region server started.",
        rs.metrics().uptime().as_secs_f64(),
    );
    w.finish()
}

fn requests(w: &mut Writer, rs: &RegionServer) {
    let rpcs = rs.metrics().rpc_snapshots();
    w.family(
        "strata_rpc_requests_total",
        "counter",
        "RegionService requests finished, by RPC.",
    );
    for r in &rpcs {
        w.sample(
            "strata_rpc_requests_total",
            &[("rpc", r.rpc.name())],
            r.requests,
        );
    }
    w.family(
        "strata_rpc_errors_total",
        "counter",
        "RegionService requests that failed, by RPC and gRPC status code.",
    );
    for r in &rpcs {
        for (code, n) in r.errors.iter().enumerate().skip(1) {
            if *n > 0 {
                let code = CODE_NAMES.get(code).copied().unwrap_or("unknown");
                w.sample(
                    "strata_rpc_errors_total",
                    &[("rpc", r.rpc.name()), ("code", code)],
                    n,
                );
            }
        }
    }
    w.family(
        "strata_rpc_duration_seconds",
        "histogram",
        "Server-side latency of RegionService requests (scans: queue plus read time).",
    );
    for r in rpcs
        .iter()
        .filter(|r| r.rpc != Rpc::SlowLog || r.requests > 0)
    {
        w.histogram(
            "strata_rpc_duration_seconds",
            &[("rpc", r.rpc.name())],
            &r.latency,
        );
    }
    let tables = rs.metrics().table_snapshots();
    w.family(
        "strata_table_requests_total",
        "counter",
        "Read and write requests per table (batch items count one each).",
    );
    for t in &tables {
        w.sample(
            "strata_table_requests_total",
            &[("table", &t.table), ("kind", "read")],
            t.reads,
        );
        w.sample(
            "strata_table_requests_total",
            &[("table", &t.table), ("kind", "write")],
            t.writes,
        );
    }
    w.family(
        "strata_table_request_duration_seconds",
        "histogram",
        "Latency of single-region requests per table (Get, Scan; Mutate, CheckAndMutate, Increment, Append).",
    );
    for t in &tables {
        w.histogram(
            "strata_table_request_duration_seconds",
            &[("table", &t.table), ("kind", "read")],
            &t.read_latency,
        );
        w.histogram(
            "strata_table_request_duration_seconds",
            &[("table", &t.table), ("kind", "write")],
            &t.write_latency,
        );
    }
    let a = rs.admission();
    w.single(
        "strata_inflight_requests",
        "gauge",
        "Requests executing now (at most server.max_inflight).",
        a.inflight(),
    );
    w.single(
        "strata_queued_requests",
        "gauge",
        "Requests waiting for an execution slot.",
        a.queued(),
    );
    w.single(
        "strata_rejected_requests_total",
        "counter",
        "Requests refused as busy (queue full or queue_timeout).",
        a.rejected(),
    );
    w.single(
        "strata_slow_requests_total",
        "counter",
        "Requests slower than server.slow_request_threshold.",
        rs.slow_log().recorded(),
    );
}

fn engine(w: &mut Writer, rs: &RegionServer) {
    let e = rs.engine();
    let c = e.block_cache_stats();
    w.single(
        "strata_block_cache_size_bytes",
        "gauge",
        "Bytes held by the block cache.",
        c.size_bytes,
    );
    w.single(
        "strata_block_cache_capacity_bytes",
        "gauge",
        "Block cache capacity (block_cache.size).",
        c.capacity_bytes,
    );
    w.single(
        "strata_block_cache_blocks",
        "gauge",
        "Blocks held by the block cache.",
        c.entries,
    );
    w.single(
        "strata_block_cache_hits_total",
        "counter",
        "Block lookups answered from the cache.",
        c.hits,
    );
    w.single(
        "strata_block_cache_misses_total",
        "counter",
        "Block lookups that read the file.",
        c.misses,
    );
    w.single(
        "strata_block_cache_evictions_total",
        "counter",
        "Blocks evicted from the cache.",
        c.evictions,
    );
    w.single(
        "strata_block_cache_inserts_total",
        "counter",
        "Blocks inserted into the cache.",
        c.inserts,
    );
    w.single(
        "strata_block_cache_buffers_reused_total",
        "counter",
        "Block reads that decompressed or copied into a dropped block's buffer instead of a new, zeroed one.",
        c.buffers_reused,
    );
    w.single(
        "strata_block_cache_hit_ratio",
        "gauge",
        "Hits / (hits + misses) since start (0 before any lookup).",
        hit_ratio(c.hits, c.misses),
    );
    let s = e.stats();
    let counters: [(&str, &str, u64); 17] = [
        (
            "strata_bloom_checks_total",
            "Bloom filter probes made for point reads.",
            s.bloom_checks,
        ),
        (
            "strata_bloom_useful_total",
            "Probes where the bloom filter ruled a file out.",
            s.bloom_useful,
        ),
        (
            "strata_bloom_false_positives_total",
            "Probes where the filter said maybe but the file held nothing.",
            s.bloom_false_positives,
        ),
        (
            "strata_blocks_read_total",
            "Data blocks read from files.",
            s.blocks_read,
        ),
        (
            "strata_blocks_read_resident_total",
            "Of those, read by gets on the async threads because the pages were in the page cache.",
            s.blocks_read_resident,
        ),
        (
            "strata_block_read_bytes_total",
            "Bytes of data blocks read from files.",
            s.block_bytes_read,
        ),
        (
            "strata_wal_records_total",
            "WAL records appended.",
            s.wal_records,
        ),
        ("strata_wal_bytes_total", "WAL bytes written.", s.wal_bytes),
        (
            "strata_wal_syncs_total",
            "WAL fsync/fdatasync calls.",
            s.wal_syncs,
        ),
        (
            "strata_flushes_total",
            "Memstore flushes completed.",
            s.flushes,
        ),
        (
            "strata_flush_bytes_total",
            "SSTable bytes written by flushes.",
            s.flush_bytes,
        ),
        (
            "strata_flush_dropped_entries_total",
            "Memstore entries flushes left out (puts no reader could see any more).",
            s.flush_dropped_entries,
        ),
        (
            "strata_memstore_compactions_total",
            "In-memory compactions of memstores completed.",
            s.memstore_compactions,
        ),
        (
            "strata_memstore_compaction_dropped_entries_total",
            "Memstore entries in-memory compactions left out (puts no reader could see any more).",
            s.memstore_compaction_dropped_entries,
        ),
        (
            "strata_engine_gets_total",
            "Point reads served by the engine.",
            s.gets,
        ),
        (
            "strata_engine_scan_rows_total",
            "Rows returned by engine scans.",
            s.scan_rows,
        ),
        (
            "strata_engine_mutations_total",
            "Row mutations applied by the engine.",
            s.mutations,
        ),
    ];
    for (name, help, v) in &counters {
        w.single(name, "counter", help, v);
    }
    w.single(
        "strata_flush_blocked_seconds_total",
        "counter",
        "Time background flushes waited for compaction (compaction.blocking_files).",
        seconds(s.flush_blocked_micros),
    );
    let lat = e.latency();
    w.family(
        "strata_wal_sync_duration_seconds",
        "histogram",
        "Duration of WAL syncs.",
    );
    w.histogram("strata_wal_sync_duration_seconds", &[], &lat.wal_sync);
    w.family(
        "strata_flush_duration_seconds",
        "histogram",
        "Duration of memstore flushes.",
    );
    w.histogram("strata_flush_duration_seconds", &[], &lat.flush);
    w.family(
        "strata_compaction_duration_seconds",
        "histogram",
        "Duration of region compactions.",
    );
    w.histogram("strata_compaction_duration_seconds", &[], &lat.compaction);
    let cp = e.compaction_stats();
    w.single(
        "strata_compaction_queue_length",
        "gauge",
        "Regions waiting for a compaction worker.",
        cp.queued,
    );
    w.single(
        "strata_compactions_running",
        "gauge",
        "Compactions running now.",
        cp.running,
    );
    w.single(
        "strata_compactions_completed_total",
        "counter",
        "Region compactions finished.",
        cp.completed,
    );
    w.single(
        "strata_compactions_failed_total",
        "counter",
        "Region compactions that failed.",
        cp.failed,
    );
    w.single(
        "strata_compaction_read_bytes_total",
        "counter",
        "Bytes of input files read by compactions.",
        cp.bytes_read,
    );
    w.single(
        "strata_compaction_written_bytes_total",
        "counter",
        "Bytes of output files written by compactions.",
        cp.bytes_written,
    );
    let m = e.memory_stats();
    w.single(
        "strata_memstore_global_bytes",
        "gauge",
        "Bytes in all memstores of the process.",
        m.global_memstore_bytes,
    );
    w.single(
        "strata_memstore_global_low_bytes",
        "gauge",
        "memstore.global_low: above it the largest memstores flush.",
        m.global_low_bytes,
    );
    w.single(
        "strata_memstore_global_high_bytes",
        "gauge",
        "memstore.global_high: at it writes stall.",
        m.global_high_bytes,
    );
    w.single(
        "strata_write_stalls_total",
        "counter",
        "Writes that waited for memstore room.",
        m.stalls,
    );
    w.single(
        "strata_write_stall_seconds_total",
        "counter",
        "Total time writes waited for memstore room.",
        seconds(m.stall_micros),
    );
    w.single(
        "strata_write_stall_rejections_total",
        "counter",
        "Writes refused after waiting memstore.stall_timeout.",
        m.stall_rejections,
    );
    w.single(
        "strata_write_stalled",
        "gauge",
        "Writes waiting for memstore room now.",
        m.stalled_now,
    );
}

/// Hits / (hits + misses), 0 without lookups.
pub fn hit_ratio(hits: u64, misses: u64) -> f64 {
    let total = hits + misses;
    if total == 0 {
        0.0
    } else {
        hits as f64 / total as f64
    }
}

fn regions(w: &mut Writer, rs: &RegionServer) {
    let mut online = rs.online_regions();
    w.single(
        "strata_open_regions",
        "gauge",
        "Regions open on this server.",
        online.len(),
    );
    online.sort_by(|a, b| a.region.name().cmp(b.region.name()));
    online.truncate(MAX_REGIONS);
    let statuses: Vec<_> = online
        .iter()
        .map(|o| (o.region.descriptor(), o.region.status()))
        .collect();
    w.family(
        "strata_region_memstore_bytes",
        "gauge",
        "Bytes in the region's memstores (first 500 regions by name).",
    );
    for (d, s) in &statuses {
        let labels = [
            ("table", d.table.as_str()),
            ("region", d.region_id.as_str()),
        ];
        w.sample("strata_region_memstore_bytes", &labels, s.memstore_bytes);
    }
    w.family(
        "strata_region_store_file_bytes",
        "gauge",
        "Bytes of the region's SSTables.",
    );
    for (d, s) in &statuses {
        let labels = [
            ("table", d.table.as_str()),
            ("region", d.region_id.as_str()),
        ];
        w.sample(
            "strata_region_store_file_bytes",
            &labels,
            s.store_file_bytes,
        );
    }
    w.family(
        "strata_store_files",
        "gauge",
        "SSTables per store (region and column family).",
    );
    for (d, s) in &statuses {
        for (family, n) in &s.store_files {
            let labels = [
                ("table", d.table.as_str()),
                ("region", d.region_id.as_str()),
                ("family", family.as_str()),
            ];
            w.sample("strata_store_files", &labels, n);
        }
    }
}
