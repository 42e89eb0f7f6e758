//! CPU time of the client's threads and of everything else in the process (the server).
//!
//! Client and server share one process, so the split is by thread: the client runs on
//! threads named [`CLIENT_THREAD_NAME`] (its runtime and the thread driving it); the
//! main thread only waits. So server CPU = process CPU (`CLOCK_PROCESS_CPUTIME_ID`,
//! which keeps the time of threads that have exited, such as idle blocking-pool threads)
//! minus the client threads' CPU minus the main thread's. Per-thread CPU comes from the
//! thread's CPU clock (`clock_gettime` on the clock id Linux derives from a thread id:
//! `(!tid << 3) | CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD`), in nanoseconds; thread names
//! come from `/proc/self/task/<tid>/comm`.
//!
//! This VM has no hardware counters and no `schedstat`, which is why clocks are used.

use std::collections::HashMap;
use std::time::Duration;

/// Name of the client's threads.
pub const CLIENT_THREAD_NAME: &str = "rpc-client";

/// CPU clock of thread `tid` (Linux's `MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)`).
fn thread_clock(tid: i32) -> libc::clockid_t {
    const CPUCLOCK_SCHED: i32 = 2;
    const CPUCLOCK_PERTHREAD: i32 = 4;
    (!tid << 3) | CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD
}

fn clock_ns(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; an unknown clock returns -1.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// CPU times at one instant.
#[derive(Clone, Debug, Default)]
pub struct CpuSnapshot {
    process_ns: u64,
    main_ns: u64,
    /// Client threads by tid.
    client_ns: HashMap<i32, u64>,
}

impl CpuSnapshot {
    /// Reads the clocks now.
    pub fn take() -> CpuSnapshot {
        CpuSnapshot::take_named(CLIENT_THREAD_NAME)
    }

    /// Reads the clocks now, counting the threads whose name starts with `client_prefix`
    /// as the client.
    pub fn take_named(client_prefix: &str) -> CpuSnapshot {
        let pid = std::process::id() as i32;
        let mut client_ns = HashMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
            for entry in dir.flatten() {
                let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                    continue;
                };
                let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                if comm.trim_end().starts_with(client_prefix)
                    && let Some(ns) = clock_ns(thread_clock(tid))
                {
                    client_ns.insert(tid, ns);
                }
            }
        }
        CpuSnapshot {
            process_ns: clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID).unwrap_or(0),
            main_ns: clock_ns(thread_clock(pid)).unwrap_or(0),
            client_ns,
        }
    }

    /// (server, client) CPU spent since `earlier`.
    pub fn since(&self, earlier: &CpuSnapshot) -> (Duration, Duration) {
        let client: u64 = self
            .client_ns
            .iter()
            .map(|(tid, ns)| ns.saturating_sub(earlier.client_ns.get(tid).copied().unwrap_or(0)))
            .sum();
        let main = self.main_ns.saturating_sub(earlier.main_ns);
        let process = self.process_ns.saturating_sub(earlier.process_ns);
        let server = process.saturating_sub(client).saturating_sub(main);
        (Duration::from_nanos(server), Duration::from_nanos(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_client_thread_is_counted_as_client() {
        let before = CpuSnapshot::take();
        let spin = std::thread::Builder::new()
            .name(CLIENT_THREAD_NAME.into())
            .spawn(|| {
                // Spin until this thread has used 50 ms of CPU (wall time varies with load).
                let own = || clock_ns(libc::CLOCK_THREAD_CPUTIME_ID).unwrap();
                let t0 = own();
                let mut x = 0u64;
                while own() - t0 < 50_000_000 {
                    x = x.wrapping_add(std::hint::black_box(1));
                }
                std::hint::black_box(x);
                CpuSnapshot::take()
            })
            .unwrap();
        let mid = spin.join().unwrap();
        let (_, client) = mid.since(&before);
        assert!(client >= Duration::from_millis(50), "{client:?}");
    }
}
