//! Server-rendered HTML of the status pages: plain tables, inline CSS, no script, so
//! any browser (or `curl`) reads them. Every value from data (table names, row keys)
//! is escaped. Each table has an `id` that tests and scrapers can find.

use std::fmt::Write;

use super::model::{MasterStatus, RegionServerStatus};
use crate::slowlog::SlowEntry;

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em}\
th,td{border:1px solid #bbb;padding:3px 8px;text-align:left;font-size:13px}\
th{background:#eef}td.n{text-align:right;font-variant-numeric:tabular-nums}\
nav a{margin-right:1em}h2{margin-top:1.2em;font-size:1.15em}";

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Bytes as `12.3 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("&le; {v} ms"))
}

fn when(ms: u64) -> String {
    if ms == 0 {
        return "never".into();
    }
    let ago = super::model::now_ms().saturating_sub(ms) / 1000;
    format!("{}s ago", ago)
}

/// A table: `id`, header cells, rows of already-escaped cells (a cell starting with
/// `#` is numeric: right-aligned, the `#` dropped).
struct Table<'a> {
    id: &'a str,
    headers: &'a [&'a str],
    rows: Vec<Vec<String>>,
}

impl Table<'_> {
    fn write(&self, out: &mut String) {
        let _ = write!(out, "<table id=\"{}\"><thead><tr>", self.id);
        for h in self.headers {
            let _ = write!(out, "<th>{h}</th>");
        }
        out.push_str("</tr></thead><tbody>");
        for row in &self.rows {
            out.push_str("<tr>");
            for cell in row {
                match cell.strip_prefix('#') {
                    Some(n) => {
                        let _ = write!(out, "<td class=\"n\">{n}</td>");
                    }
                    None => {
                        let _ = write!(out, "<td>{cell}</td>");
                    }
                }
            }
            out.push_str("</tr>");
        }
        if self.rows.is_empty() {
            let _ = write!(
                out,
                "<tr><td colspan=\"{}\"><i>none</i></td></tr>",
                self.headers.len()
            );
        }
        out.push_str("</tbody></table>");
    }
}

/// Which views this process serves (the navigation links to those only).
#[derive(Clone, Copy, Debug)]
pub struct Views {
    /// A region server page at `/rs` (and `/`).
    pub region_server: bool,
    /// A master page at `/master`.
    pub master: bool,
}

fn page(title: &str, views: Views, body: &str) -> String {
    let rs_link = if views.region_server {
        "<a href=\"/rs\">Region server</a>"
    } else {
        ""
    };
    let master_link = if views.master {
        "<a href=\"/master\">Master</a>"
    } else {
        ""
    };
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>{STYLE}</style></head><body><nav>{rs_link}{master_link}\
         <a href=\"/metrics\">Metrics</a><a href=\"/status.json\">JSON</a></nav>\
         <h1>{t}</h1>{body}<p><small>Figures as of page load; reload to refresh.</small></p>\
         </body></html>",
        t = escape(title)
    )
}

/// The region server page.
pub fn region_server_page(s: &RegionServerStatus, views: Views) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<p id=\"summary\">Server <b>{}</b>: up {}s, {} requests ({:.1}/s), {} in flight, \
         {} queued, RSS {} of memory_limit {}.</p>",
        escape(&s.address),
        s.uptime_secs,
        s.requests_total,
        s.requests_per_sec,
        s.inflight,
        s.queued,
        s.rss_bytes.map_or_else(|| "?".into(), bytes),
        bytes(s.memory_limit_bytes)
    );
    b.push_str("<h2>Regions</h2>");
    Table {
        id: "regions",
        headers: &[
            "Table",
            "Region",
            "Start row",
            "End row",
            "Memstore",
            "Store files",
            "Size",
            "Reads",
            "Writes",
            "Last major compaction",
        ],
        rows: s
            .regions
            .iter()
            .map(|r| {
                vec![
                    escape(&r.table),
                    escape(&r.region_id),
                    escape(&r.start_row),
                    escape(&r.end_row),
                    format!("#{}", bytes(r.memstore_bytes)),
                    format!("#{}", r.store_files),
                    format!("#{}", bytes(r.store_file_bytes)),
                    format!("#{}", r.reads),
                    format!("#{}", r.writes),
                    when(r.last_major_compaction_ms),
                ]
            })
            .collect(),
    }
    .write(&mut b);
    let c = &s.block_cache;
    b.push_str("<h2>Block cache</h2>");
    Table {
        id: "block-cache",
        headers: &[
            "Size",
            "Capacity",
            "Used",
            "Blocks",
            "Hits",
            "Misses",
            "Hit ratio",
            "Evictions",
        ],
        rows: vec![vec![
            format!("#{}", bytes(c.size_bytes)),
            format!("#{}", bytes(c.capacity_bytes)),
            format!("#{}", pct(c.size_bytes, c.capacity_bytes)),
            format!("#{}", c.blocks),
            format!("#{}", c.hits),
            format!("#{}", c.misses),
            format!("#{:.3}", c.hit_ratio),
            format!("#{}", c.evictions),
        ]],
    }
    .write(&mut b);
    let m = &s.memstore;
    b.push_str("<h2>Memstore</h2>");
    Table {
        id: "memstore",
        headers: &[
            "Global",
            "global_low",
            "global_high",
            "Of high",
            "Stalls",
            "Stalled now",
        ],
        rows: vec![vec![
            format!("#{}", bytes(m.global_bytes)),
            format!("#{}", bytes(m.global_low_bytes)),
            format!("#{}", bytes(m.global_high_bytes)),
            format!("#{}", pct(m.global_bytes, m.global_high_bytes)),
            format!("#{}", m.stalls),
            format!("#{}", m.stalled_now),
        ]],
    }
    .write(&mut b);
    let cp = &s.compaction;
    b.push_str("<h2>Compaction</h2>");
    Table {
        id: "compaction",
        headers: &["Queued", "Running", "Completed", "Failed"],
        rows: vec![vec![
            format!("#{}", cp.queued),
            format!("#{}", cp.running),
            format!("#{}", cp.completed),
            format!("#{}", cp.failed),
        ]],
    }
    .write(&mut b);
    b.push_str("<h2>Requests</h2>");
    Table {
        id: "requests",
        headers: &["RPC", "Requests", "Errors", "p50", "p99"],
        rows: s
            .rpcs
            .iter()
            .filter(|r| r.requests > 0)
            .map(|r| {
                vec![
                    r.rpc.to_string(),
                    format!("#{}", r.requests),
                    format!("#{}", r.errors),
                    format!("#{}", opt_ms(r.p50_ms)),
                    format!("#{}", opt_ms(r.p99_ms)),
                ]
            })
            .collect(),
    }
    .write(&mut b);
    let _ = write!(
        b,
        "<h2>Slow requests (over {} ms, newest first)</h2>",
        s.slow_threshold_ms
    );
    slow_table(&s.slow_requests, &mut b);
    b.push_str("<h2>Configuration</h2>");
    Table {
        id: "config",
        headers: &["Key", "Value", "Source"],
        rows: s
            .config
            .iter()
            .map(|c| vec![escape(&c.key), escape(&c.value), escape(&c.source)])
            .collect(),
    }
    .write(&mut b);
    page("Strata region server", views, &b)
}

fn us(v: u64) -> String {
    format!("#{:.1} ms", v as f64 / 1000.0)
}

fn slow_table(entries: &[SlowEntry], b: &mut String) {
    Table {
        id: "slow-requests",
        headers: &[
            "Finished",
            "Operation",
            "Table",
            "Region",
            "Row",
            "Status",
            "Total",
            "Queue",
            "Read",
            "Write",
            "WAL sync",
            "Stall",
            "Items",
        ],
        rows: entries
            .iter()
            .map(|e| {
                vec![
                    when(e.finished_ms),
                    e.operation.to_string(),
                    escape(&e.table),
                    escape(&e.region),
                    escape(&e.row),
                    e.status.to_string(),
                    us(e.duration_us),
                    us(e.queue_us),
                    us(e.read_us),
                    us(e.write_us),
                    us(e.wal_sync_us),
                    us(e.stall_us),
                    format!("#{}", e.items),
                ]
            })
            .collect(),
    }
    .write(b);
}

/// The master page.
pub fn master_page(s: &MasterStatus, views: Views) -> String {
    let mut b = String::new();
    b.push_str("<h2>Region servers</h2>");
    Table {
        id: "servers",
        headers: &[
            "Address",
            "Regions",
            "Requests/s",
            "RSS",
            "memory_limit",
            "Memstore",
            "Block cache",
            "Last heartbeat",
        ],
        rows: s
            .servers
            .iter()
            .map(|r| {
                let address = match &r.status_url {
                    Some(u) => format!("<a href=\"{}/\">{}</a>", escape(u), escape(&r.address)),
                    None => escape(&r.address),
                };
                vec![
                    address,
                    format!("#{}", r.regions),
                    format!("#{:.1}", r.requests_per_sec),
                    format!("#{}", r.rss_bytes.map_or_else(|| "?".into(), bytes)),
                    format!("#{}", bytes(r.memory_limit_bytes)),
                    format!("#{}", bytes(r.memstore_bytes)),
                    format!("#{}", bytes(r.block_cache_bytes)),
                    format!("#{} ms ago", r.last_heartbeat_ms_ago),
                ]
            })
            .collect(),
    }
    .write(&mut b);
    b.push_str("<h2>Tables</h2>");
    Table {
        id: "tables",
        headers: &["Table", "State", "Families", "Regions"],
        rows: s
            .tables
            .iter()
            .map(|t| {
                vec![
                    escape(&t.name),
                    if t.enabled { "enabled" } else { "disabled" }.to_string(),
                    escape(&t.families.join(", ")),
                    format!("#{}", t.regions.len()),
                ]
            })
            .collect(),
    }
    .write(&mut b);
    b.push_str("<h2>Regions</h2>");
    Table {
        id: "table-regions",
        headers: &[
            "Table",
            "Region",
            "Start row",
            "End row",
            "Server",
            "State",
            "Size",
            "Store files",
        ],
        rows: s
            .tables
            .iter()
            .flat_map(|t| {
                t.regions.iter().map(move |r| {
                    vec![
                        escape(&t.name),
                        escape(&r.region_id),
                        escape(&r.start_row),
                        escape(&r.end_row),
                        escape(&r.server),
                        escape(&r.state),
                        format!("#{}", bytes(r.size_bytes)),
                        format!("#{}", r.store_files),
                    ]
                })
            })
            .collect(),
    }
    .write(&mut b);
    b.push_str("<h2>Regions in transition</h2>");
    Table {
        id: "regions-in-transition",
        headers: &["Table", "Region", "State", "Server"],
        rows: s
            .regions_in_transition
            .iter()
            .map(|r| {
                vec![
                    escape(&r.table),
                    escape(&r.region_id),
                    escape(&r.state),
                    escape(&r.server),
                ]
            })
            .collect(),
    }
    .write(&mut b);
    b.push_str("<h2>Dead servers</h2>");
    Table {
        id: "dead-servers",
        headers: &["Address"],
        rows: s.dead_servers.iter().map(|a| vec![escape(a)]).collect(),
    }
    .write(&mut b);
    page("Strata master", views, &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_formats() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert_eq!(pct(1, 4), "25.0%");
        assert_eq!(pct(1, 0), "-");
    }
}
