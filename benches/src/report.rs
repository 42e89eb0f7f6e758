//! Latency recording and db_bench-style result lines.
//!
//! A [`Recorder`] times one benchmark: the wall clock over the whole run and, per
//! operation, a latency in nanoseconds kept in an HDR histogram (3 significant digits,
//! 1 ns to 100 s). [`BenchResult`] prints as
//! `name : X micros/op; Y ops/sec; p50 A p99 B p999 C micros` and serializes to JSON,
//! with the benchmark's peak memory and, after writes, its write amplification
//! ([`crate::resources`]).

use std::fmt;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::resources::{RssSummary, WriteAmp};

/// Largest latency the histogram tracks (longer ones are clamped to it).
const MAX_LATENCY_NANOS: u64 = 100_000_000_000;

/// Times one benchmark run.
pub struct Recorder {
    hist: Histogram<u64>,
    started: Instant,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// Starts the wall clock.
    pub fn new() -> Self {
        let hist = Histogram::new_with_bounds(1, MAX_LATENCY_NANOS, 3)
            .expect("static histogram bounds are valid");
        Recorder {
            hist,
            started: Instant::now(),
        }
    }

    /// Records one operation's latency.
    #[inline]
    pub fn record(&mut self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.hist
            .saturating_record(nanos.clamp(1, MAX_LATENCY_NANOS));
    }

    /// Stops the clock: `ops` operations of `name` on `engine`.
    pub fn finish(self, engine: &str, name: &str, ops: u64) -> BenchResult {
        let elapsed = self.started.elapsed();
        let micros = |q: f64| self.hist.value_at_quantile(q) as f64 / 1000.0;
        BenchResult {
            engine: engine.to_string(),
            name: name.to_string(),
            ops,
            elapsed_secs: elapsed.as_secs_f64(),
            micros_per_op: elapsed.as_secs_f64() * 1e6 / ops.max(1) as f64,
            ops_per_sec: ops as f64 / elapsed.as_secs_f64().max(1e-9),
            p50_micros: micros(0.50),
            p99_micros: micros(0.99),
            p999_micros: micros(0.999),
            max_micros: self.hist.max() as f64 / 1000.0,
            note: String::new(),
            rss: None,
            write_amp: None,
        }
    }
}

/// One benchmark's figures.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    /// Engine name (`strata`, `fjall`, `rocksdb`).
    pub engine: String,
    /// Benchmark name (`fillrandom`, ...).
    pub name: String,
    /// Operations timed.
    pub ops: u64,
    /// Wall time of the whole run.
    pub elapsed_secs: f64,
    /// Wall time divided by operations.
    pub micros_per_op: f64,
    /// Operations per second of wall time.
    pub ops_per_sec: f64,
    /// Median operation latency.
    pub p50_micros: f64,
    /// 99th percentile latency.
    pub p99_micros: f64,
    /// 99.9th percentile latency.
    pub p999_micros: f64,
    /// Slowest operation.
    pub max_micros: f64,
    /// Free text: found counts, rows/s, engine counters.
    pub note: String,
    /// Peak memory while the benchmark (and its untimed flush and wait) ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss: Option<RssSummary>,
    /// After a write benchmark: bytes written since the store was opened / user bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_amp: Option<WriteAmp>,
}

impl fmt::Display for BenchResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<12}: {:>10.3} micros/op; {:>10.0} ops/sec; p50 {:.2} p99 {:.2} p999 {:.2} micros ({} ops, {:.2} s)",
            self.name,
            self.micros_per_op,
            self.ops_per_sec,
            self.p50_micros,
            self.p99_micros,
            self.p999_micros,
            self.ops,
            self.elapsed_secs
        )?;
        if !self.note.is_empty() {
            write!(f, " {}", self.note)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_rates() {
        let mut r = Recorder::new();
        for i in 1..=1000u64 {
            r.record(Duration::from_nanos(i * 1000));
        }
        let res = r.finish("e", "b", 1000);
        assert!((res.p50_micros - 500.0).abs() < 1.0, "{res}");
        assert!((res.p99_micros - 990.0).abs() < 2.0, "{res}");
        assert!(res.ops_per_sec > 0.0);
        assert!(res.to_string().starts_with("b           :"), "{res}");
    }
}
