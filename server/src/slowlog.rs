//! The slow-request log: requests whose server-side time passed
//! `server.slow_request_threshold` are kept in a ring buffer of
//! `server.slow_log_entries` entries (oldest dropped first), with where their time went.
//! Shown on the status page, in `/status.json`, and by the shell's `slowlog` (the
//! `SlowLog` RPC). Each slow request is also logged at WARN.
//!
//! Only slow requests take the buffer's lock, so fast requests pay one comparison.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;

use crate::metrics::{CallTimes, Rpc};

/// Most bytes of a row key kept in an entry (longer keys are cut and marked).
pub const MAX_ROW_BYTES: usize = 64;
/// Largest `server.slow_log_entries`.
pub const MAX_ENTRIES_CEILING: usize = 100_000;

/// One slow request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SlowEntry {
    /// When it finished, ms since the Unix epoch.
    pub finished_ms: u64,
    /// The RPC (`get`, `mutate`, `scan`, ...).
    pub operation: &'static str,
    /// Table named by the request ("" when unknown).
    pub table: String,
    /// Region id named by the request ("" when unknown).
    pub region: String,
    /// The row key (or a scan's start row), printable, cut to [`MAX_ROW_BYTES`].
    pub row: String,
    /// gRPC code name of the outcome (`ok`, `not_found`, ...).
    pub status: &'static str,
    /// Server-side time, µs (for a scan: queue plus read time of all its batches).
    pub duration_us: u64,
    /// Waiting for an admission slot, µs.
    pub queue_us: u64,
    /// Engine time of reads (Get, MultiGet, Scan), µs.
    pub read_us: u64,
    /// Engine time of writes outside the WAL sync and stall, µs.
    pub write_us: u64,
    /// Waiting for the WAL sync (group commit), µs.
    pub wal_sync_us: u64,
    /// Waiting for memstore room (write stall), µs.
    pub stall_us: u64,
    /// Rows (scan) or items (batches) the request covered.
    pub items: u64,
}

/// What a finished request tells the slow log.
#[derive(Debug)]
pub struct Finished<'a> {
    /// The RPC.
    pub rpc: Rpc,
    /// Table and region named by the request.
    pub table: &'a str,
    /// Region id.
    pub region: &'a str,
    /// Row key (or scan start row).
    pub row: &'a [u8],
    /// gRPC code of the outcome.
    pub code: tonic::Code,
    /// Server-side time.
    pub duration: Duration,
    /// Its phases.
    pub times: CallTimes,
    /// Rows or items.
    pub items: u64,
}

/// The ring buffer.
#[derive(Debug)]
pub struct SlowLog {
    threshold: Duration,
    capacity: usize,
    entries: Mutex<VecDeque<SlowEntry>>,
    recorded: AtomicU64,
}

impl SlowLog {
    /// A log keeping `capacity` entries of requests slower than `threshold` (a zero
    /// threshold records every request; a zero capacity records none).
    pub fn new(threshold: Duration, capacity: usize) -> SlowLog {
        SlowLog {
            threshold,
            capacity,
            entries: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            recorded: AtomicU64::new(0),
        }
    }

    /// The threshold.
    pub fn threshold(&self) -> Duration {
        self.threshold
    }

    /// True if a request that took `d` belongs in the log.
    #[inline]
    pub fn is_slow(&self, d: Duration) -> bool {
        self.capacity > 0 && d >= self.threshold
    }

    /// Records `f` if it is slow.
    pub fn offer(&self, f: &Finished<'_>) {
        if !self.is_slow(f.duration) {
            return;
        }
        self.recorded.fetch_add(1, Ordering::Relaxed);
        let e = entry(f);
        tracing::warn!(op = e.operation, table = %e.table, region = %e.region, row = %e.row,
            status = e.status, ms = e.duration_us / 1000, queue_us = e.queue_us, read_us = e.read_us,
            write_us = e.write_us, wal_sync_us = e.wal_sync_us, stall_us = e.stall_us, "slow request");
        let mut entries = self.entries.lock();
        while entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back(e);
    }

    /// Slow requests seen since start (including those the ring dropped).
    pub fn recorded(&self) -> u64 {
        self.recorded.load(Ordering::Relaxed)
    }

    /// Entries kept at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The newest `limit` entries (0 = all), newest first.
    pub fn newest(&self, limit: usize) -> Vec<SlowEntry> {
        let entries = self.entries.lock();
        let n = if limit == 0 { entries.len() } else { limit };
        entries.iter().rev().take(n).cloned().collect()
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn entry(f: &Finished<'_>) -> SlowEntry {
    let t = &f.times;
    let waits = t.waits.wal_sync + t.waits.stall;
    let (read, write) = if f.rpc.is_read() {
        (t.engine, Duration::ZERO)
    } else {
        (Duration::ZERO, t.engine.saturating_sub(waits))
    };
    SlowEntry {
        finished_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        operation: f.rpc.name(),
        table: f.table.to_string(),
        region: f.region.to_string(),
        row: printable_row(f.row),
        status: crate::metrics::CODE_NAMES
            .get(f.code as usize)
            .copied()
            .unwrap_or("unknown"),
        duration_us: micros(f.duration),
        queue_us: micros(t.queue),
        read_us: micros(read),
        write_us: micros(write),
        wal_sync_us: micros(t.waits.wal_sync),
        stall_us: micros(t.waits.stall),
        items: f.items,
    }
}

/// The row as text: printable ASCII kept, other bytes as `\xNN`, cut at
/// [`MAX_ROW_BYTES`] input bytes with a `...` mark.
pub fn printable_row(row: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for &b in row.iter().take(MAX_ROW_BYTES) {
        if b.is_ascii_graphic() || b == b' ' {
            if b == b'\\' {
                s.push('\\');
            }
            s.push(b as char);
        } else {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    if row.len() > MAX_ROW_BYTES {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(ms: u64, row: &[u8]) -> Finished<'_> {
        Finished {
            rpc: Rpc::Get,
            table: "t",
            region: "r1",
            row,
            code: tonic::Code::Ok,
            duration: Duration::from_millis(ms),
            times: CallTimes {
                queue: Duration::from_millis(1),
                engine: Duration::from_millis(ms - 1),
                ..CallTimes::default()
            },
            items: 1,
        }
    }

    #[test]
    fn keeps_only_slow_requests_up_to_capacity() {
        let log = SlowLog::new(Duration::from_millis(100), 2);
        log.offer(&finished(99, b"fast"));
        assert!(log.newest(0).is_empty());
        log.offer(&finished(100, b"a"));
        log.offer(&finished(150, b"b"));
        log.offer(&finished(200, b"c"));
        let rows: Vec<_> = log.newest(0).into_iter().map(|e| e.row).collect();
        assert_eq!(rows, ["c", "b"]);
        let e = &log.newest(1)[0];
        assert_eq!((e.queue_us, e.read_us, e.write_us), (1000, 199_000, 0));
        assert_eq!(e.operation, "get");
    }

    #[test]
    fn rows_are_printable_and_cut() {
        assert_eq!(printable_row(b"ab\x00\\"), "ab\\x00\\\\");
        let long = vec![b'x'; MAX_ROW_BYTES + 10];
        let p = printable_row(&long);
        assert!(p.ends_with("...") && p.len() == MAX_ROW_BYTES + 3, "{p}");
    }

    #[test]
    fn zero_capacity_records_nothing() {
        let log = SlowLog::new(Duration::ZERO, 0);
        log.offer(&finished(500, b"a"));
        assert!(log.newest(0).is_empty());
    }
}
