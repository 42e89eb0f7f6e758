//! The driver: runs a phase (load or run) of a [`CoreWorkload`] against a [`Store`] with
//! `threads` workers, each with one operation in flight.
//!
//! Closed loop (no `--target`): each worker starts its next transaction as soon as the
//! previous one ends; latency is service time.
//!
//! Open loop (`--target N`): a pacer thread (a plain OS thread, whose sleeps are far more
//! precise than the async timer's 1 ms ticks) schedules transaction `i` at
//! `start + i / N` and hands the intended time to whichever worker is free, through a
//! bounded queue. Each transaction's latency is measured from that intended time, so when
//! the store stalls, the transactions queued behind it carry the wait: coordinated
//! omission does not hide the tail. When every worker is busy and the queue is full the
//! pacer waits too, but the schedule it hands out does not move. Paced runs also split
//! each transaction's latency in two, as YCSB's `measurement.interval=both` does: the
//! start delay (intended start to the moment a worker took it: the load generator's
//! share, or every worker busy) and the service time (from then to the end).
//!
//! A phase ends after its operation count (load: `insertcount`; run: `operationcount`) or
//! its maximum execution time, whichever comes first. A ticker samples progress every
//! second: the progress bar's live ops/s and p99, and the throughput-over-time series.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::time::Instant;

use super::generator::Rng;
use super::measure::{Measurements, OpKind, Summary};
use super::store::Store;
use super::workload::CoreWorkload;

/// Most workers (in-flight operations) a phase may use.
pub const MAX_THREADS: usize = 4096;
/// Scheduled transactions the pacer may queue ahead of the workers.
pub const PACER_QUEUE: usize = 1024;
/// Progress sampling period.
pub const TICK: Duration = Duration::from_secs(1);

/// Which phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Insert the records (`strata-bench load`).
    Load,
    /// Run the transactions (`strata-bench run`).
    Run,
}

impl Phase {
    /// `load` or `run`.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Load => "load",
            Phase::Run => "run",
        }
    }
}

/// How to run a phase.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Workers, one operation in flight each.
    pub threads: usize,
    /// Target transactions per second (open loop), or `None` for as fast as possible.
    pub target: Option<f64>,
    /// Stop after this long (YCSB's `maxexecutiontime`).
    pub max_time: Option<Duration>,
    /// Seed of the workers' random streams.
    pub seed: u64,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Prefix of the progress bar.
    pub label: String,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            threads: 1,
            target: None,
            max_time: None,
            seed: 1,
            progress: false,
            label: String::new(),
        }
    }
}

/// One progress sample.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TimelinePoint {
    /// Seconds since the phase started (end of the interval).
    pub t_secs: f64,
    /// Transactions per second over the interval.
    pub ops_per_sec: f64,
    /// p99 of the transactions that ended in the interval, µs.
    pub p99_us: u64,
}

/// What a phase measured.
#[derive(Clone, Debug)]
pub struct PhaseResult {
    /// The figures.
    pub summary: Summary,
    /// From the start to the end of the last transaction.
    pub runtime: Duration,
    /// Progress samples, one per second.
    pub timeline: Vec<TimelinePoint>,
}

impl PhaseResult {
    /// Transactions per second.
    pub fn throughput(&self) -> f64 {
        self.summary.overall.operations as f64 / self.runtime.as_secs_f64().max(1e-9)
    }
}

/// Runs `phase` of `workload` against `store`.
pub async fn execute<S: Store>(
    store: &S,
    workload: Arc<CoreWorkload>,
    phase: Phase,
    opts: &RunOptions,
) -> anyhow::Result<PhaseResult> {
    if opts.threads == 0 || opts.threads > MAX_THREADS {
        bail!(
            "threads={} must be between 1 and {MAX_THREADS}",
            opts.threads
        );
    }
    if let Some(t) = opts.target
        && !(t.is_finite() && t > 0.0)
    {
        bail!("target={t} must be a positive number of operations per second");
    }
    let operations = match phase {
        Phase::Load => workload.insert_count,
        Phase::Run => workload.operation_count,
    };
    if operations == 0 && opts.max_time.is_none() {
        bail!(
            "{} phase has no end: set {} or a maximum execution time",
            phase.name(),
            match phase {
                Phase::Load => "recordcount (or insertcount)",
                Phase::Run => "operationcount",
            }
        );
    }
    let mut workers = Vec::with_capacity(opts.threads);
    for i in 0..opts.threads {
        workers.push(
            store
                .worker()
                .await
                .with_context(|| format!("cannot open {} client {i}", store.name()))?,
        );
    }

    let m = Arc::new(Measurements::new());
    let start = Instant::now();
    let deadline = opts.max_time.map(|d| start + d);
    let tickets = Arc::new(AtomicU64::new(0));
    let schedule = opts
        .target
        .map(|target| Arc::new(Mutex::new(spawn_pacer(start, target, operations, deadline))));

    let mut tasks = Vec::with_capacity(opts.threads);
    for (i, worker) in workers.into_iter().enumerate() {
        let (w, m, tickets, schedule) = (
            workload.clone(),
            m.clone(),
            tickets.clone(),
            schedule.clone(),
        );
        let seed = opts.seed ^ (i as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D);
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(seed);
            loop {
                // Paced: the intended start, and when this worker took it.
                let (intended, dispatched) = match &schedule {
                    Some(rx) => match rx.lock().await.recv().await {
                        Some(at) => (at, Some(Instant::now())),
                        None => break,
                    },
                    None => {
                        if deadline.is_some_and(|d| Instant::now() >= d)
                            || (operations > 0
                                && tickets.fetch_add(1, Ordering::Relaxed) >= operations)
                        {
                            break;
                        }
                        (Instant::now(), None)
                    }
                };
                let kind = match phase {
                    Phase::Load => {
                        w.do_insert(&worker, &mut rng, &m, intended).await;
                        OpKind::Insert
                    }
                    Phase::Run => w.do_transaction(&worker, &mut rng, &m, intended).await?.0,
                };
                m.record_transaction(kind, intended, dispatched);
            }
            anyhow::Ok(Instant::now())
        }));
    }

    let (stop_tx, stop_rx) = oneshot::channel();
    let ticker = tokio::spawn(tick(
        m.clone(),
        start,
        progress_bar(opts, operations),
        stop_rx,
        operations,
    ));
    let mut end = start;
    let mut failure = None;
    for task in tasks {
        match task.await {
            Ok(Ok(t)) => end = end.max(t),
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(e) => failure = failure.or(Some(anyhow::anyhow!("worker failed: {e}"))),
        }
    }
    let _ = stop_tx.send(end);
    let timeline = ticker.await.context("progress ticker failed")?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(PhaseResult {
        summary: m.summary(),
        runtime: end - start,
        timeline,
    })
}

/// Starts the pacer thread: it sends transaction `i`'s intended start,
/// `start + i / target`, at that time, until `operations` (0 = no limit) or `deadline`.
fn spawn_pacer(
    start: Instant,
    target: f64,
    operations: u64,
    deadline: Option<Instant>,
) -> mpsc::Receiver<Instant> {
    let (tx, rx) = mpsc::channel(PACER_QUEUE);
    std::thread::Builder::new()
        .name("ycsb-pacer".into())
        .spawn(move || {
            let mut i: u64 = 0;
            while operations == 0 || i < operations {
                let at = start + Duration::from_secs_f64(i as f64 / target);
                if deadline.is_some_and(|d| at >= d) {
                    break;
                }
                let now = Instant::now();
                if at > now {
                    std::thread::sleep(at - now);
                }
                if tx.blocking_send(at).is_err() {
                    break;
                }
                i += 1;
            }
        })
        .expect("cannot spawn the pacer thread");
    rx
}

fn progress_bar(opts: &RunOptions, operations: u64) -> ProgressBar {
    if !opts.progress {
        return ProgressBar::hidden();
    }
    let len = if operations > 0 {
        operations
    } else {
        opts.max_time.map_or(0, |d| d.as_secs())
    };
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} {msg} (eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(opts.label.clone());
    bar
}

async fn tick(
    m: Arc<Measurements>,
    start: Instant,
    bar: ProgressBar,
    mut stop: oneshot::Receiver<Instant>,
    operations: u64,
) -> Vec<TimelinePoint> {
    let mut timeline = Vec::new();
    let mut interval = tokio::time::interval_at(start + TICK, TICK);
    let (mut last_t, mut last_done) = (start, 0u64);
    loop {
        let now = tokio::select! {
            _ = interval.tick() => None,
            end = &mut stop => Some(end.unwrap_or_else(|_| Instant::now())),
        };
        let t = now.unwrap_or_else(Instant::now);
        let done = m.done();
        let h = m.take_interval();
        let dt = t.saturating_duration_since(last_t).as_secs_f64();
        if dt > 0.0 && (done > last_done || now.is_none()) {
            let point = TimelinePoint {
                t_secs: t.saturating_duration_since(start).as_secs_f64(),
                ops_per_sec: (done - last_done) as f64 / dt,
                p99_us: h.value_at_quantile(0.99),
            };
            bar.set_message(format!(
                "{:.0} ops/s, p99 {} µs",
                point.ops_per_sec, point.p99_us
            ));
            timeline.push(point);
        }
        if operations > 0 {
            bar.set_position(done);
        } else {
            bar.set_position(t.saturating_duration_since(start).as_secs());
        }
        (last_t, last_done) = (t, done);
        if now.is_some() {
            bar.finish_and_clear();
            return timeline;
        }
    }
}
