//! A token bucket over bytes, shared by all compactions of a process
//! (`compaction.max_bytes_per_sec`), so compaction IO cannot starve foreground reads.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Limits a byte rate; `acquire` sleeps when the budget is spent.
#[derive(Debug)]
pub struct RateLimiter {
    bytes_per_sec: u64,
    state: Mutex<(f64, Instant)>,
}

/// Burst allowance: a quarter second of budget.
const BURST_SECS: f64 = 0.25;

impl RateLimiter {
    /// `bytes_per_sec == 0` means unlimited.
    pub fn new(bytes_per_sec: u64) -> Self {
        RateLimiter {
            bytes_per_sec,
            state: Mutex::new((bytes_per_sec as f64 * BURST_SECS, Instant::now())),
        }
    }

    /// True when a limit is set.
    pub fn is_limited(&self) -> bool {
        self.bytes_per_sec > 0
    }

    /// Takes `bytes` from the budget, sleeping until they are available. Returns the
    /// time slept.
    pub fn acquire(&self, bytes: u64) -> Duration {
        if self.bytes_per_sec == 0 {
            return Duration::ZERO;
        }
        let rate = self.bytes_per_sec as f64;
        let wait = {
            let mut s = self.state.lock();
            let now = Instant::now();
            let refill = now.duration_since(s.1).as_secs_f64() * rate;
            s.0 = (s.0 + refill).min(rate * BURST_SECS);
            s.1 = now;
            s.0 -= bytes as f64;
            if s.0 >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-s.0 / rate)
            }
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_sleeps() {
        let r = RateLimiter::new(0);
        assert_eq!(r.acquire(u64::MAX / 2), Duration::ZERO);
    }

    #[test]
    fn spending_past_the_burst_sleeps_at_least_the_deficit() {
        // 1 MB/s: the burst is 250 KB; taking 500 KB must wait at least ~0.25 s.
        let r = RateLimiter::new(1_000_000);
        let started = Instant::now();
        r.acquire(500_000);
        assert!(
            started.elapsed() >= Duration::from_millis(240),
            "{:?}",
            started.elapsed()
        );
    }
}
