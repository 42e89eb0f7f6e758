//! The closed-loop load driver.
//!
//! `inflight` tasks are spawned on the client runtime; each runs one call at a time,
//! back to back, so exactly `inflight` calls are outstanding (less the few microseconds
//! between a reply and the next send). Every task warms up until a common instant, then
//! measures until the run's deadline (`--duration-secs`) or until the run's shared call
//! budget (`--ops`) is spent. Each call's latency (send to reply, as the caller sees it)
//! goes into the task's HDR histogram (ns, 3 significant digits), merged at the end.
//! Throughput is calls completed / time from the common start to the last task's end.
//! Failed calls are counted, not timed; the first error is kept for the report.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::SplitMix64;
use super::cpu::CpuSnapshot;

/// One timed call: gets the task's index and 64 random bits.
pub type Op = Arc<dyn Fn(usize, u64) -> CallFuture + Send + Sync>;
/// What an [`Op`] returns.
pub type CallFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// When a run ends.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// After this many calls in total (all tasks together).
    Ops(u64),
    /// After this long.
    Time(Duration),
}

/// How to run one case.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Tasks, each with one call in flight.
    pub inflight: usize,
    /// Untimed calls before the measurement (all tasks, same length).
    pub warmup: Duration,
    /// End of the measurement.
    pub stop: Stop,
    /// Seed of the tasks' random streams.
    pub seed: u64,
}

/// What one run measured.
#[derive(Debug)]
pub struct Sample {
    /// Latency of successful calls, ns.
    pub hist: Histogram<u64>,
    /// Successful calls.
    pub ops: u64,
    /// Failed calls.
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
    /// Measured wall time.
    pub elapsed: Duration,
    /// CPU of the server's threads during the measurement.
    pub server_cpu: Duration,
    /// CPU of the client's threads during the measurement.
    pub client_cpu: Duration,
}

impl Sample {
    /// Calls per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A percentile of the latency, µs.
    pub fn micros(&self, quantile: f64) -> f64 {
        self.hist.value_at_quantile(quantile) as f64 / 1e3
    }

    /// Largest latency, µs.
    pub fn max_micros(&self) -> f64 {
        self.hist.max() as f64 / 1e3
    }

    /// Adds another slice of the same case: latencies, counts, time and CPU.
    pub fn merge(&mut self, other: Sample) -> anyhow::Result<()> {
        self.hist.add(&other.hist)?;
        self.ops += other.ops;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.elapsed += other.elapsed;
        self.server_cpu += other.server_cpu;
        self.client_cpu += other.client_cpu;
        Ok(())
    }
}

struct TaskResult {
    hist: Histogram<u64>,
    ops: u64,
    errors: u64,
    first_error: Option<String>,
    end: Instant,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000_000, 3).expect("valid histogram bounds")
}

/// Runs `op` under `plan` on the current runtime.
pub async fn run(plan: Plan, op: Op) -> anyhow::Result<Sample> {
    let start = Instant::now() + plan.warmup;
    let deadline = match plan.stop {
        Stop::Time(d) => Some(start + d),
        Stop::Ops(_) => None,
    };
    let budget = match plan.stop {
        Stop::Ops(n) => Some(Arc::new(AtomicU64::new(n))),
        Stop::Time(_) => None,
    };
    let mut tasks = Vec::with_capacity(plan.inflight);
    for index in 0..plan.inflight {
        let (op, budget) = (op.clone(), budget.clone());
        let seed = plan.seed ^ (index as u64).wrapping_mul(0x2545_F491_4F6C_DD1D);
        tasks.push(tokio::spawn(async move {
            let mut rng = SplitMix64::new(seed);
            while Instant::now() < start {
                let _ = op(index, rng.next_u64()).await;
            }
            let mut r = TaskResult {
                hist: histogram(),
                ops: 0,
                errors: 0,
                first_error: None,
                end: start,
            };
            loop {
                let more = match (&budget, deadline) {
                    (Some(b), _) => b
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                        .is_ok(),
                    (None, Some(d)) => Instant::now() < d,
                    (None, None) => false,
                };
                if !more {
                    break;
                }
                let t0 = Instant::now();
                let result = op(index, rng.next_u64()).await;
                let t1 = Instant::now();
                match result {
                    Ok(()) => {
                        let ns = u64::try_from((t1 - t0).as_nanos()).unwrap_or(u64::MAX);
                        r.hist.saturating_record(ns.max(1));
                        r.ops += 1;
                    }
                    Err(e) => {
                        r.errors += 1;
                        r.first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
                r.end = t1;
            }
            r
        }));
    }
    tokio::time::sleep_until(start).await;
    let cpu_start = CpuSnapshot::take();
    let mut sample = Sample {
        hist: histogram(),
        ops: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        server_cpu: Duration::ZERO,
        client_cpu: Duration::ZERO,
    };
    let mut end = start;
    for task in tasks {
        let r = task.await?;
        sample.hist.add(&r.hist)?;
        sample.ops += r.ops;
        sample.errors += r.errors;
        if sample.first_error.is_none() {
            sample.first_error = r.first_error;
        }
        end = end.max(r.end);
    }
    let (server_cpu, client_cpu) = CpuSnapshot::take().since(&cpu_start);
    sample.elapsed = end - start;
    sample.server_cpu = server_cpu;
    sample.client_cpu = client_cpu;
    Ok(sample)
}
