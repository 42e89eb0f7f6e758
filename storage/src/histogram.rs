//! A fixed-bucket latency histogram on relaxed atomics: recording is a handful of
//! uncontended atomic adds, no lock and no allocation, so it can sit on every request and
//! every WAL sync. Buckets are exponential from 25 µs to 10 s (Prometheus-style upper
//! bounds, `le`); anything slower lands in the overflow bucket.
//!
//! Thread safety: every method takes `&self`; a snapshot taken while others record may
//! mix old and new counts by one observation, which metrics tolerate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in microseconds (the last bucket, +Inf, is implicit).
pub const BUCKET_BOUNDS_MICROS: [u64; 19] = [
    25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000,
];
const BUCKETS: usize = BUCKET_BOUNDS_MICROS.len() + 1;

/// Live histogram of durations.
#[derive(Debug)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    sum_micros: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one duration.
    #[inline]
    pub fn observe(&self, d: Duration) {
        self.observe_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    /// Records one duration given in microseconds.
    #[inline]
    pub fn observe_micros(&self, micros: u64) {
        let i = BUCKET_BOUNDS_MICROS.partition_point(|&b| b < micros);
        // `i` is at most BUCKET_BOUNDS_MICROS.len(), the overflow bucket.
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// A copy of the counts.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            sum_micros: self.sum_micros.load(Ordering::Relaxed),
        }
    }
}

/// A point-in-time copy of a [`Histogram`]; snapshots add up (per-table totals).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Observations per bucket (not cumulative); the last one is the overflow (+Inf).
    pub buckets: [u64; BUCKETS],
    /// Sum of all observations in microseconds.
    pub sum_micros: u64,
}

impl HistogramSnapshot {
    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// Adds another snapshot's counts to this one.
    pub fn merge(&mut self, other: &HistogramSnapshot) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
        self.sum_micros += other.sum_micros;
    }

    /// `(upper bound in µs or None for +Inf, cumulative count)` per bucket, as
    /// Prometheus `le` buckets.
    pub fn cumulative(&self) -> impl Iterator<Item = (Option<u64>, u64)> + '_ {
        let mut total = 0;
        self.buckets.iter().enumerate().map(move |(i, n)| {
            total += n;
            (BUCKET_BOUNDS_MICROS.get(i).copied(), total)
        })
    }

    /// The upper bound of the bucket holding quantile `q` (0..=1), in µs; `None` when
    /// empty or when it falls in the overflow bucket.
    pub fn quantile_upper_micros(&self, q: f64) -> Option<u64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = ((count as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        self.cumulative()
            .find(|&(_, c)| c >= rank)
            .and_then(|(bound, _)| bound)
    }
}

/// Engine-wide latency histograms (WAL sync, flush, compaction).
#[derive(Debug, Default)]
pub struct EngineLatency {
    /// Duration of each WAL (and WAL directory) fsync/fdatasync.
    pub wal_sync: Histogram,
    /// Duration of each memstore flush.
    pub flush: Histogram,
    /// Duration of each region compaction (all its stores).
    pub compaction: Histogram,
}

/// Snapshot of [`EngineLatency`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineLatencySnapshot {
    /// See [`EngineLatency::wal_sync`].
    pub wal_sync: HistogramSnapshot,
    /// See [`EngineLatency::flush`].
    pub flush: HistogramSnapshot,
    /// See [`EngineLatency::compaction`].
    pub compaction: HistogramSnapshot,
}

impl EngineLatency {
    /// Copies the three histograms.
    pub fn snapshot(&self) -> EngineLatencySnapshot {
        EngineLatencySnapshot {
            wal_sync: self.wal_sync.snapshot(),
            flush: self.flush.snapshot(),
            compaction: self.compaction.snapshot(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_upper_bounds_and_cumulate() {
        let h = Histogram::default();
        h.observe_micros(25); // le=25
        h.observe_micros(26); // le=50
        h.observe(Duration::from_millis(3)); // le=5000
        h.observe(Duration::from_secs(100)); // +Inf
        let s = h.snapshot();
        assert_eq!(s.count(), 4);
        assert_eq!(s.sum_micros, 25 + 26 + 3_000 + 100_000_000);
        let cum: Vec<_> = s.cumulative().collect();
        assert_eq!(cum[0], (Some(25), 1));
        assert_eq!(cum[1], (Some(50), 2));
        assert_eq!(cum[7], (Some(5_000), 3));
        assert_eq!(cum.last(), Some(&(None, 4)));
        assert_eq!(s.quantile_upper_micros(0.5), Some(50));
        assert_eq!(s.quantile_upper_micros(0.75), Some(5_000));
        assert_eq!(s.quantile_upper_micros(1.0), None);
        let mut m = s;
        m.merge(&s);
        assert_eq!(m.count(), 8);
        assert_eq!(
            HistogramSnapshot::default().quantile_upper_micros(0.5),
            None
        );
    }
}
