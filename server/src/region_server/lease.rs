//! The region server's lease from the master: the fence that keeps two servers from
//! serving one region.
//!
//! A heartbeat sent at `t` and accepted by the master extends the lease to `t + lease`
//! (`lease` = 0.9 x `master.server_timeout`). The master declares the server dead only
//! `server_timeout` after it *received* that heartbeat, which is later than `t`: so the
//! lease always runs out before the master reassigns anything (docs/cluster.md,
//! "Fencing"). Every request checks the lease when it starts and again before it
//! answers, so nothing done after the lease ran out is acknowledged, even by a request
//! that was in flight (or frozen by SIGSTOP) when it did.
//!
//! Thread safety: the deadline is one atomic (nanoseconds since the lease's creation),
//! read on every request without a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tonic::Status;

/// A lease that expires unless renewed.
#[derive(Debug)]
pub struct Lease {
    base: Instant,
    /// Nanoseconds after `base` at which the lease ends; 0 = never granted or revoked.
    deadline_ns: AtomicU64,
    /// Lease length per renewal in nanoseconds; only ever lowered.
    period_ns: AtomicU64,
}

impl Lease {
    /// A lease of `period` per renewal, not granted yet.
    pub fn new(period: Duration) -> Lease {
        Lease {
            base: Instant::now(),
            deadline_ns: AtomicU64::new(0),
            period_ns: AtomicU64::new(u64::try_from(period.as_nanos()).unwrap_or(u64::MAX)),
        }
    }

    /// Lowers the lease to at most `period` (the master's, when it is configured with a
    /// shorter `server_timeout` than this server: the shorter one keeps fencing safe).
    pub fn limit_period(&self, period: Duration) {
        let ns = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
        self.period_ns.fetch_min(ns, Ordering::AcqRel);
    }

    /// The lease length per renewal.
    pub fn period(&self) -> Duration {
        Duration::from_nanos(self.period_ns.load(Ordering::Acquire))
    }

    fn ns(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The master accepted a heartbeat (or registration) sent at `sent`: the lease runs
    /// until `sent + period`. Never moves the deadline backwards.
    pub fn renew(&self, sent: Instant) {
        let until = self.ns(sent + self.period()).max(1);
        self.deadline_ns.fetch_max(until, Ordering::AcqRel);
    }

    /// Ends the lease now (the server fences itself).
    pub fn revoke(&self) {
        self.deadline_ns.store(0, Ordering::Release);
    }

    /// True while the lease holds.
    pub fn is_valid(&self) -> bool {
        self.ns(Instant::now()) < self.deadline_ns.load(Ordering::Acquire)
    }

    /// How long the lease still holds (zero if lapsed).
    pub fn remaining(&self) -> Duration {
        let d = self.deadline_ns.load(Ordering::Acquire);
        Duration::from_nanos(d.saturating_sub(self.ns(Instant::now())))
    }

    /// `Ok` while the lease holds, else UNAVAILABLE: the client re-locates and retries.
    pub fn check(&self) -> Result<(), Status> {
        if self.is_valid() {
            Ok(())
        } else {
            Err(Status::unavailable(
                "region server lease from the master lapsed: not serving (re-locate)",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_runs_from_send_time_and_never_shrinks() {
        let lease = Lease::new(Duration::from_millis(200));
        assert!(!lease.is_valid(), "not granted yet");
        assert!(lease.check().is_err());
        let now = Instant::now();
        lease.renew(now);
        assert!(lease.is_valid());
        assert!(lease.remaining() <= Duration::from_millis(200));
        // An older heartbeat answered late does not shorten the lease.
        lease.renew(now - Duration::from_millis(150));
        assert!(lease.remaining() > Duration::from_millis(60));
        // A heartbeat sent long ago grants nothing.
        let stale = Lease::new(Duration::from_millis(10));
        stale.renew(Instant::now() - Duration::from_millis(50));
        assert!(!stale.is_valid());
        lease.limit_period(Duration::from_millis(50));
        lease.limit_period(Duration::from_secs(10)); // never raised
        assert_eq!(lease.period(), Duration::from_millis(50));
        lease.revoke();
        assert!(!lease.is_valid());
        assert_eq!(lease.check().unwrap_err().code(), tonic::Code::Unavailable);
    }
}
