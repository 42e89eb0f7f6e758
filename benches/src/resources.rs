//! What a benchmark costs the machine: resident memory and bytes written.
//!
//! - Memory: [`RssSampler`] resets the process's peak RSS (`5` into
//!   `/proc/self/clear_refs`, so `VmHWM` restarts from the current RSS), samples `VmRSS`,
//!   `RssAnon` and `RssFile` from `/proc/self/status` every [`SAMPLE_INTERVAL`] while the
//!   benchmark runs, and reads `VmHWM` at the end. `VmHWM` is the kernel's peak; the
//!   samples show what the peak was made of (anonymous memory: memstores, block cache,
//!   indexes, kvbench's own buffers; file pages: memory-mapped SSTables, which the kernel
//!   may drop at any time).
//! - Writes: [`WriteAmp`] divides the bytes an engine wrote since its store was opened
//!   (its own counters, [`DiskWrites`]: WAL + flush + compaction output) by the key and
//!   value bytes the benchmarks put. As an engine-independent cross-check it also gives
//!   the process's `write()` syscall bytes (`wchar` of `/proc/self/io`) over the same
//!   span: that covers every file the engine writes (manifests, logs, journals too), and
//!   works for engines without counters (fjall).
//!
//! Linux only; elsewhere the figures are absent and kvbench says so.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

use crate::kv::DiskWrites;

/// Period of the RSS samples.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(50);

const MIB: f64 = 1024.0 * 1024.0;

/// A `kB` field of `/proc/self/status`, in bytes.
fn status_field(status: &str, name: &str) -> Option<u64> {
    let rest = status.lines().find_map(|l| l.strip_prefix(name))?;
    let kib: u64 = rest
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Current `(VmRSS, RssAnon, RssFile, VmHWM)` in bytes.
fn memory_now() -> Option<(u64, u64, u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    Some((
        status_field(&s, "VmRSS")?,
        status_field(&s, "RssAnon")?,
        status_field(&s, "RssFile")?,
        status_field(&s, "VmHWM")?,
    ))
}

/// Bytes this process has passed to `write()`-family syscalls (`wchar`).
pub fn syscall_write_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/io").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("wchar:"))?
        .trim()
        .parse()
        .ok()
}

/// Peak memory over one benchmark.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RssSummary {
    /// Samples taken.
    pub samples: u64,
    /// Largest sampled `VmRSS`.
    pub peak_sampled_bytes: u64,
    /// Largest sampled `RssAnon`.
    pub peak_anon_bytes: u64,
    /// Largest sampled `RssFile`.
    pub peak_file_bytes: u64,
    /// `VmHWM` at the end (since the reset if `hwm_reset`, else since the process began).
    pub hwm_bytes: u64,
    /// Whether `/proc/self/clear_refs` accepted the reset.
    pub hwm_reset: bool,
}

impl RssSummary {
    /// The peak used for verdicts: `VmHWM`, or the sampled peak if larger.
    pub fn peak_bytes(&self) -> u64 {
        self.hwm_bytes.max(self.peak_sampled_bytes)
    }

    /// `peak RSS X MiB (...)`, compared with `limit` when one applies.
    pub fn line(&self, limit: Option<u64>) -> String {
        let mut s = format!(
            "peak RSS {:.1} MiB (VmHWM {:.1} MiB{}; {} samples every {} ms: VmRSS <= {:.1}, RssAnon <= {:.1}, RssFile <= {:.1} MiB)",
            self.peak_bytes() as f64 / MIB,
            self.hwm_bytes as f64 / MIB,
            if self.hwm_reset {
                ""
            } else {
                ", not reset: since process start"
            },
            self.samples,
            SAMPLE_INTERVAL.as_millis(),
            self.peak_sampled_bytes as f64 / MIB,
            self.peak_anon_bytes as f64 / MIB,
            self.peak_file_bytes as f64 / MIB,
        );
        if let Some(limit) = limit {
            let ratio = self.peak_bytes() as f64 / limit as f64;
            s += &format!(
                " (limit {:.0} MiB, 1.25x = {:.0} MiB): {ratio:.2}x of the limit, {}",
                limit as f64 / MIB,
                limit as f64 * 1.25 / MIB,
                if ratio <= 1.25 {
                    "under 1.25x"
                } else {
                    "OVER 1.25x"
                }
            );
        }
        s
    }
}

/// Samples memory on a background thread until [`RssSampler::finish`].
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    hwm_reset: bool,
    thread: Option<JoinHandle<RssSummary>>,
}

impl RssSampler {
    /// Resets `VmHWM` and starts sampling.
    pub fn start() -> Self {
        let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("kvbench-rss".into())
            .spawn(move || {
                let mut sum = RssSummary::default();
                loop {
                    if let Some((rss, anon, file, _)) = memory_now() {
                        sum.samples += 1;
                        sum.peak_sampled_bytes = sum.peak_sampled_bytes.max(rss);
                        sum.peak_anon_bytes = sum.peak_anon_bytes.max(anon);
                        sum.peak_file_bytes = sum.peak_file_bytes.max(file);
                    }
                    if flag.load(Ordering::Acquire) {
                        return sum;
                    }
                    std::thread::sleep(SAMPLE_INTERVAL);
                }
            })
            .ok();
        RssSampler {
            stop,
            hwm_reset,
            thread,
        }
    }

    /// Stops sampling; `None` where `/proc` is unavailable.
    pub fn finish(mut self) -> Option<RssSummary> {
        self.stop.store(true, Ordering::Release);
        let mut sum = self.thread.take()?.join().ok()?;
        sum.hwm_bytes = memory_now()?.3;
        sum.hwm_reset = self.hwm_reset;
        (sum.samples > 0).then_some(sum)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Bytes written per byte of user data, since a store was opened.
#[derive(Clone, Debug, Serialize)]
pub struct WriteAmp {
    /// Key + value bytes put by the benchmarks.
    pub user_bytes: u64,
    /// The engine's own counters, if it has them.
    pub engine: Option<DiskWrites>,
    /// `write()` syscall bytes of the whole process over the same span.
    pub syscall_bytes: Option<u64>,
}

impl WriteAmp {
    /// Engine-counted bytes over user bytes.
    pub fn engine_amp(&self) -> Option<f64> {
        self.engine.map(|d| self.ratio(d.total()))
    }

    /// `write()` bytes over user bytes.
    pub fn syscall_amp(&self) -> Option<f64> {
        self.syscall_bytes.map(|b| self.ratio(b))
    }

    fn ratio(&self, bytes: u64) -> f64 {
        bytes as f64 / self.user_bytes.max(1) as f64
    }
}

impl fmt::Display for WriteAmp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "write amplification since open, over {:.1} MB of user key+value bytes: ",
            self.user_bytes as f64 / 1e6
        )?;
        match self.engine {
            Some(d) => write!(
                f,
                "{:.2} = WAL {:.2} + flush {:.2} + compaction {:.2} (engine counters: {:.1} + {:.1} + {:.1} MB)",
                self.ratio(d.total()),
                self.ratio(d.wal),
                self.ratio(d.flush),
                self.ratio(d.compaction),
                d.wal as f64 / 1e6,
                d.flush as f64 / 1e6,
                d.compaction as f64 / 1e6
            )?,
            None => write!(f, "n/a (no engine counters)")?,
        }
        match self.syscall_bytes {
            Some(b) => write!(
                f,
                "; write() syscalls {:.2} ({:.1} MB)",
                self.ratio(b),
                b as f64 / 1e6
            ),
            None => write!(f, "; write() syscalls n/a"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_parse_in_bytes() {
        let s = "Name:\tkvbench\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(status_field(s, "VmHWM"), Some(2048 * 1024));
        assert_eq!(status_field(s, "VmRSS"), Some(1024 * 1024));
        assert_eq!(status_field(s, "RssFile"), None);
    }

    #[test]
    fn write_amp_ratios() {
        let w = WriteAmp {
            user_bytes: 100,
            engine: Some(DiskWrites {
                wal: 110,
                flush: 60,
                compaction: 30,
            }),
            syscall_bytes: Some(205),
        };
        assert_eq!(w.engine_amp(), Some(2.0));
        assert_eq!(w.syscall_amp(), Some(2.05));
        assert!(
            w.to_string()
                .contains("2.00 = WAL 1.10 + flush 0.60 + compaction 0.30")
        );
    }

    #[test]
    fn sampler_sees_this_process() {
        let s = RssSampler::start();
        std::thread::sleep(Duration::from_millis(120));
        if let Some(sum) = s.finish() {
            assert!(sum.samples >= 1);
            assert!(sum.peak_bytes() > 0);
            assert!(sum.line(Some(1 << 30)).contains("under 1.25x"));
        }
    }
}
