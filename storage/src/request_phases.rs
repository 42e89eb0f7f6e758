//! Where the time of one engine call went, for the server's slow-request log: the
//! engine adds the time a write waited for its WAL sync and for memstore room (a stall)
//! to thread-local counters of the calling thread; the caller resets them before the
//! call ([`reset`]) and reads them after it ([`take`]) on the same thread.
//!
//! Engine calls are synchronous, so the thread that makes the call is the thread that
//! waits; nothing is shared between threads and recording is two thread-local adds.

use std::cell::Cell;
use std::time::Duration;

thread_local! {
    static WAL_SYNC_MICROS: Cell<u64> = const { Cell::new(0) };
    static STALL_MICROS: Cell<u64> = const { Cell::new(0) };
}

/// Time spent by the current thread in engine waits since the last [`reset`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Phases {
    /// Waiting for the WAL sync (group commit) of this thread's writes.
    pub wal_sync: Duration,
    /// Waiting for memstore room (write stall).
    pub stall: Duration,
}

/// Zeroes the current thread's counters.
pub fn reset() {
    WAL_SYNC_MICROS.with(|c| c.set(0));
    STALL_MICROS.with(|c| c.set(0));
}

/// The current thread's counters since the last [`reset`], zeroing them.
pub fn take() -> Phases {
    Phases {
        wal_sync: Duration::from_micros(WAL_SYNC_MICROS.with(|c| c.replace(0))),
        stall: Duration::from_micros(STALL_MICROS.with(|c| c.replace(0))),
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

pub(crate) fn add_wal_sync(d: Duration) {
    WAL_SYNC_MICROS.with(|c| c.set(c.get().saturating_add(micros(d))));
}

pub(crate) fn add_stall(d: Duration) {
    STALL_MICROS.with(|c| c.set(c.get().saturating_add(micros(d))));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_returns_and_clears() {
        reset();
        add_wal_sync(Duration::from_micros(7));
        add_wal_sync(Duration::from_micros(3));
        add_stall(Duration::from_millis(2));
        let p = take();
        assert_eq!(p.wal_sync, Duration::from_micros(10));
        assert_eq!(p.stall, Duration::from_millis(2));
        assert_eq!(take(), Phases::default());
    }
}
