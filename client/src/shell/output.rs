//! How the shell prints results: HBase-like text (`ROW  COLUMN+CELL` lines, then
//! `N row(s)` and the time taken), or with `--json` exactly one JSON document per
//! command on one line.
//!
//! Bytes are printed as HBase's `Bytes.toStringBinary` does, in both modes: printable
//! ASCII as is, every other byte (and `\`) as `\xHH`. The text is lossless and can be
//! pasted back into a double-quoted shell string.

use std::io::{self, Write};
use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::Row;
use crate::admin::{ClusterStatus, TableDescription};

/// Width of the first column of row listings.
const KEY_WIDTH: usize = 34;

/// Writes command results to `out`.
pub struct Printer<W: Write> {
    out: W,
    json: bool,
    /// Text mode: the scan header waits for the first row, so a scan that fails at once
    /// prints only its error.
    scan_header_pending: bool,
}

impl<W: Write> Printer<W> {
    /// A printer of text, or of JSON documents if `json`.
    pub fn new(out: W, json: bool) -> Printer<W> {
        Printer {
            out,
            json,
            scan_header_pending: false,
        }
    }

    /// True in `--json` mode.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// The writer (tests read what was printed).
    pub fn into_inner(self) -> W {
        self.out
    }

    fn doc(&mut self, doc: Json) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &doc)?;
        writeln!(self.out)
    }

    /// A result with no data: `text` in text mode (if not empty), `doc` in JSON mode.
    pub fn done(&mut self, text: &str, doc: Json) -> io::Result<()> {
        if self.json {
            return self.doc(doc);
        }
        if !text.is_empty() {
            writeln!(self.out, "{text}")?;
        }
        Ok(())
    }

    /// The time a command took (text mode only).
    pub fn took(&mut self, elapsed: Duration) -> io::Result<()> {
        if self.json {
            return Ok(());
        }
        writeln!(self.out, "Took {:.4} seconds", elapsed.as_secs_f64())
    }

    /// The result of `get`.
    pub fn get(&mut self, row: Option<&Row>) -> io::Result<()> {
        if self.json {
            return self.doc(match row {
                Some(r) => row_json(r),
                None => json!({"row": null, "cells": []}),
            });
        }
        writeln!(self.out, "{:<KEY_WIDTH$} CELL", "COLUMN")?;
        let cells = row.map_or(&[][..], |r| &r.cells[..]);
        for c in cells {
            let column = format!("{}:{}", binary(&c.family), binary(&c.qualifier));
            writeln!(
                self.out,
                " {column:<w$} timestamp={}, value={}",
                c.timestamp,
                binary(&c.value),
                w = KEY_WIDTH - 1
            )?;
        }
        writeln!(self.out, "{} row(s)", usize::from(!cells.is_empty()))
    }

    /// Starts the listing of a scan.
    pub fn begin_scan(&mut self) -> io::Result<()> {
        if self.json {
            return write!(self.out, "{{\"rows\":[");
        }
        self.scan_header_pending = true;
        Ok(())
    }

    fn scan_header(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.scan_header_pending) {
            writeln!(self.out, "{:<KEY_WIDTH$} COLUMN+CELL", "ROW")?;
        }
        Ok(())
    }

    /// One scanned row; `index` counts from 0.
    pub fn scan_row(&mut self, row: &Row, index: u64) -> io::Result<()> {
        if self.json {
            if index > 0 {
                write!(self.out, ",")?;
            }
            return serde_json::to_writer(&mut self.out, &row_json(row)).map_err(io::Error::from);
        }
        self.scan_header()?;
        let key = binary(&row.row);
        for c in &row.cells {
            writeln!(
                self.out,
                " {key:<w$} column={}:{}, timestamp={}, value={}",
                binary(&c.family),
                binary(&c.qualifier),
                c.timestamp,
                binary(&c.value),
                w = KEY_WIDTH - 1
            )?;
        }
        Ok(())
    }

    /// Ends the listing of a scan. `error` is the failure that cut it short, if any: in
    /// JSON mode it goes into the document; in text mode the caller prints it after.
    pub fn end_scan(&mut self, count: u64, error: Option<(&str, String)>) -> io::Result<()> {
        if self.json {
            write!(self.out, "],\"count\":{count}")?;
            if let Some((kind, message)) = error {
                let e = json!({"kind": kind, "message": message});
                write!(self.out, ",\"error\":{e}")?;
            }
            return writeln!(self.out, "}}");
        }
        if error.is_some() && count == 0 {
            self.scan_header_pending = false;
            return Ok(());
        }
        self.scan_header()?;
        writeln!(self.out, "{count} row(s)")
    }

    /// The result of `count`.
    pub fn count(&mut self, count: u64) -> io::Result<()> {
        self.done(&format!("{count} row(s)"), json!({ "count": count }))
    }

    /// The value of a counter.
    pub fn counter(&mut self, value: Option<i64>) -> io::Result<()> {
        match value {
            Some(v) => self.done(&format!("COUNTER VALUE = {v}"), json!({ "counter": v })),
            None => self.done("COUNTER VALUE = nil", json!({ "counter": null })),
        }
    }

    /// The result of `list`.
    pub fn tables(&mut self, names: &[String]) -> io::Result<()> {
        if self.json {
            return self.doc(json!({ "tables": names }));
        }
        writeln!(self.out, "TABLE")?;
        for n in names {
            writeln!(self.out, "{n}")?;
        }
        writeln!(self.out, "{} row(s)", names.len())
    }

    /// The result of `describe`.
    pub fn describe(&mut self, d: &TableDescription) -> io::Result<()> {
        let families: Vec<Json> = d.descriptor.families.iter().map(family_json).collect();
        let regions: Vec<Json> = d
            .regions
            .iter()
            .map(|r| {
                json!({"region_id": r.region_id, "start_row": binary(&r.start_row),
                       "end_row": binary(&r.end_row), "server": r.server, "state": r.state})
            })
            .collect();
        if self.json {
            return self.doc(json!({"table": d.descriptor.name, "enabled": d.enabled,
                                   "families": families, "regions": regions}));
        }
        let state = if d.enabled { "ENABLED" } else { "DISABLED" };
        writeln!(self.out, "Table {} is {state}", d.descriptor.name)?;
        writeln!(self.out, "COLUMN FAMILIES DESCRIPTION")?;
        for f in &families {
            writeln!(self.out, "{}", ruby_hash(f))?;
        }
        writeln!(self.out, "{} REGION(S)", d.regions.len())?;
        for r in &d.regions {
            writeln!(
                self.out,
                " {} [{}, {}) on {} ({})",
                r.region_id,
                bound(&r.start_row, "-inf"),
                bound(&r.end_row, "+inf"),
                r.server,
                if r.state.is_empty() { "open" } else { &r.state }
            )?;
        }
        Ok(())
    }

    /// The result of `status`.
    pub fn status(&mut self, s: &ClusterStatus) -> io::Result<()> {
        if self.json {
            let servers: Vec<Json> = s
                .servers
                .iter()
                .map(|srv| {
                    let regions: Vec<Json> = srv
                        .regions
                        .iter()
                        .map(|r| {
                            json!({"table": r.table, "region_id": r.region_id,
                                   "start_row": binary(&r.start_row), "end_row": binary(&r.end_row),
                                   "memstore_bytes": r.memstore_bytes, "store_files": r.store_files,
                                   "store_file_bytes": r.store_file_bytes, "read_point": r.read_point,
                                   "last_major_compaction_ms": r.last_major_compaction_ms})
                        })
                        .collect();
                    json!({"address": srv.address, "regions": regions})
                })
                .collect();
            return self.doc(json!({"master": s.master, "tables": s.tables, "servers": servers}));
        }
        let regions: usize = s.servers.iter().map(|srv| srv.regions.len()).sum();
        writeln!(
            self.out,
            "1 active master ({}), {} server(s), {} table(s), {regions} region(s)",
            s.master,
            s.servers.len(),
            s.tables
        )?;
        for srv in &s.servers {
            let memstore: u64 = srv.regions.iter().map(|r| r.memstore_bytes).sum();
            let files: u64 = srv.regions.iter().map(|r| r.store_files).sum();
            let file_bytes: u64 = srv.regions.iter().map(|r| r.store_file_bytes).sum();
            writeln!(
                self.out,
                " {}: regions={}, memstore_bytes={memstore}, store_files={files}, store_file_bytes={file_bytes}",
                srv.address,
                srv.regions.len()
            )?;
        }
        Ok(())
    }

    /// Slow-request logs, one block per server, newest first.
    pub fn slow_log(&mut self, logs: &[crate::admin::ServerSlowLog]) -> io::Result<()> {
        if self.json {
            let servers: Vec<Json> = logs
                .iter()
                .map(|l| {
                    let entries: Vec<Json> = l
                        .entries
                        .iter()
                        .map(|e| {
                            json!({"finished_ms": e.finished_ms, "operation": e.operation,
                                   "table": e.table, "region_id": e.region_id, "row": e.row,
                                   "status": e.status, "duration_us": e.duration_us,
                                   "queue_us": e.queue_us, "read_us": e.read_us,
                                   "write_us": e.write_us, "wal_sync_us": e.wal_sync_us,
                                   "stall_us": e.stall_us, "items": e.items})
                        })
                        .collect();
                    json!({"address": l.address, "threshold_ms": l.threshold_ms,
                           "recorded": l.recorded, "entries": entries})
                })
                .collect();
            return self.doc(json!({ "servers": servers }));
        }
        let ms = |us: u64| us as f64 / 1000.0;
        for l in logs {
            writeln!(
                self.out,
                "{}: {} slow request(s) over {} ms since start, newest {} shown",
                l.address,
                l.recorded,
                l.threshold_ms,
                l.entries.len()
            )?;
            for e in &l.entries {
                writeln!(
                    self.out,
                    " {} {} table={} region={} row={:?} status={} total={:.1}ms queue={:.1}ms \
                     read={:.1}ms write={:.1}ms wal_sync={:.1}ms stall={:.1}ms items={}",
                    e.finished_ms,
                    e.operation,
                    e.table,
                    e.region_id,
                    e.row,
                    e.status,
                    ms(e.duration_us),
                    ms(e.queue_us),
                    ms(e.read_us),
                    ms(e.write_us),
                    ms(e.wal_sync_us),
                    ms(e.stall_us),
                    e.items
                )?;
            }
        }
        Ok(())
    }

    /// Help text (`{"help": ...}` in JSON mode).
    pub fn help(&mut self, text: &str) -> io::Result<()> {
        if self.json {
            return self.doc(json!({ "help": text }));
        }
        write!(self.out, "{text}")
    }

    /// A failed command: `ERROR: message` in text mode.
    pub fn error(&mut self, kind: &str, message: &str) -> io::Result<()> {
        if self.json {
            return self.doc(json!({"error": {"kind": kind, "message": message}}));
        }
        writeln!(self.out, "ERROR: {message}")
    }

    /// Flushes the writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// HBase's `Bytes.toStringBinary`: printable ASCII kept, other bytes and `\` as `\xHH`.
pub fn binary(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// A region bound: quoted, or `unbounded` (`-inf` for a start, `+inf` for an end).
fn bound(b: &[u8], unbounded: &str) -> String {
    if b.is_empty() {
        return unbounded.to_owned();
    }
    format!("'{}'", binary(b))
}

fn row_json(r: &Row) -> Json {
    let cells: Vec<Json> = r
        .cells
        .iter()
        .map(|c| {
            json!({"family": binary(&c.family), "qualifier": binary(&c.qualifier),
                   "timestamp": c.timestamp, "value": binary(&c.value)})
        })
        .collect();
    json!({"row": binary(&r.row), "cells": cells})
}

fn family_json(f: &crate::admin::FamilyDescriptor) -> Json {
    json!({
        "NAME": f.name,
        "VERSIONS": f.max_versions,
        "MIN_VERSIONS": f.min_versions,
        "TTL": f.ttl.map_or_else(|| json!("FOREVER"), |t| json!(t.as_secs())),
        "BLOOMFILTER": format!("{:?}", f.bloom).to_ascii_uppercase(),
        "COMPRESSION": format!("{:?}", f.compression).to_ascii_uppercase(),
        "BLOCKSIZE": f.block_size,
        "IN_MEMORY": f.in_memory,
        "PREFETCH_BLOCKS_ON_OPEN": f.prefetch_blocks_on_open,
    })
}

/// `{NAME => 'info', VERSIONS => '3', ...}` in the order of `family_json`.
fn ruby_hash(f: &Json) -> String {
    const ORDER: [&str; 9] = [
        "NAME",
        "VERSIONS",
        "MIN_VERSIONS",
        "TTL",
        "BLOOMFILTER",
        "COMPRESSION",
        "BLOCKSIZE",
        "IN_MEMORY",
        "PREFETCH_BLOCKS_ON_OPEN",
    ];
    let fields: Vec<String> = ORDER
        .iter()
        .map(|k| {
            let v = match &f[*k] {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{k} => '{v}'")
        })
        .collect();
    format!("{{{}}}", fields.join(", "))
}

#[cfg(test)]
#[path = "output/tests.rs"]
mod tests;
