//! `rpcbench`: Strata's RPC latency and throughput through `strata-client`, against a
//! standalone server on loopback, next to the floors of this machine: a bare tonic echo
//! with the same runtime and settings, and optionally `redis-benchmark`.
//!
//! ```sh
//! cargo run --release -p strata-benches --bin rpcbench -- \
//!     [--ops N | --duration-secs S] [--inflight 1,32] \
//!     [--runtime multi_thread,current_thread] [--redis]
//! ```
//!
//! For each server runtime: the echo server (then its `echo_deadline` and `echo_hop`
//! variants) and a fresh
//! Strata server with a preloaded, flushed table, each case at each in-flight count.
//! The server runs in this process on its own runtime and threads (`strata-rpc`), the
//! client on others (`rpc-client`). It prints one Markdown table, the targets as ratios,
//! and the runtime comparison; `--json FILE` saves the lines. See
//! `docs/benchmarks-rpc.md` and `src/rpc/`.

#[path = "../rpc/mod.rs"]
mod rpc;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use rpc::load::{Plan, Stop};
use rpc::report::Line;
use rpc::servers::{ServerThread, build_runtime, parse_runtime, runtime_name};
use rpc::strata::Workload;
use strata_server::config::RuntimeKind;

/// mimalloc, as `strata-server` has it, for the server embedded here: glibc malloc,
/// with its `malloc_consolidate`, cost ~10% of the CPU per RPC in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CASES: &[&str] = &[
    "echo",
    "echo_deadline",
    "echo_hop",
    "get",
    "get_single",
    "multi_get",
    "put_async",
    "put_fsync",
];

/// Warm-up of a case's later turns.
const LATER_WARMUP: Duration = Duration::from_millis(50);

#[derive(Parser, Debug, Clone)]
#[command(
    name = "rpcbench",
    about = "Strata RPC latency vs. bare tonic echo and Redis"
)]
struct Args {
    /// Calls per case (all tasks together); replaces --duration-secs.
    #[arg(long, conflicts_with = "duration_secs")]
    ops: Option<u64>,
    /// Measured seconds per case.
    #[arg(long, default_value_t = 3.0)]
    duration_secs: f64,
    /// Untimed warm-up seconds before each case.
    #[arg(long, default_value_t = 0.5)]
    warmup_secs: f64,
    /// Calls in flight (one task each), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    inflight: Vec<usize>,
    /// Server runtimes (server.runtime), comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = parse_runtime, default_value = "multi_thread,current_thread")]
    runtime: Vec<RuntimeKind>,
    /// Cases to run, comma-separated: echo, echo_deadline, echo_hop, get, get_single,
    /// multi_get, put_async, put_fsync. `get` is the client's default (concurrent gets share
    /// MultiGet calls under load); `get_single` turns that off, one call per get.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "echo,echo_hop,get,get_single,multi_get,put_async,put_fsync"
    )]
    cases: Vec<String>,
    /// Also run redis-benchmark GET/SET against a redis-server started here.
    #[arg(long)]
    redis: bool,
    /// Requests per redis-benchmark test (-n).
    #[arg(long, default_value_t = 100_000)]
    redis_requests: u64,
    /// Rows preloaded (and read by gets).
    #[arg(long, default_value_t = 100_000)]
    rows: u64,
    /// Independent clients (connections) the tasks are spread over, round robin.
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// The `get` case's client setting `coalesce_gets_after` (get calls in flight to
    /// the server before further gets share MultiGet calls); unset = the client's
    /// default.
    #[arg(long)]
    coalesce_gets_after: Option<usize>,
    /// Runtime of the client side.
    #[arg(long, value_parser = parse_runtime, default_value = "current_thread")]
    client_runtime: RuntimeKind,
    /// Parent of the server's data directory (on a real disk: fsync is measured).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Server configuration override, e.g. --set wal.segment_size=16MiB (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Seed of the random keys.
    #[arg(long, default_value_t = 301)]
    seed: u64,
    /// Turns the read cases and the echoes take, per in-flight count: each measures
    /// `1/rounds` of its time (or calls) per turn, so slow spells of a shared machine
    /// fall on all of them alike and their ratios hold. Writes run after the reads, in
    /// one go (they change the rows the reads read).
    #[arg(long, default_value_t = 4)]
    rounds: usize,
    /// Runs of the whole series; each line reports the run with the median ops/s and the
    /// range over all runs.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Also write the result lines as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

impl Args {
    /// Turn `round` of `rounds` of a case at `inflight`: the whole warm-up on the first
    /// turn, a short one on later turns (the connection is warm by then).
    fn plan(&self, inflight: usize, round: usize, rounds: usize) -> Plan {
        let rounds = rounds.max(1);
        let warmup = Duration::from_secs_f64(self.warmup_secs);
        Plan {
            inflight,
            warmup: if round == 0 {
                warmup
            } else {
                warmup.min(LATER_WARMUP)
            },
            stop: match self.ops {
                Some(n) => Stop::Ops((n / rounds as u64).max(1)),
                None => Stop::Time(Duration::from_secs_f64(self.duration_secs) / rounds as u32),
            },
            // Each turn draws other keys.
            seed: self.seed ^ (round as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        }
    }

    fn wants(&self, case: &str) -> bool {
        self.cases.iter().any(|c| c == case)
    }
}

fn progress(line: &Line) {
    let mut extra = String::new();
    if !line.engine.is_empty() {
        extra = format!("  [{}]", line.engine);
    }
    if let Some(e) = &line.first_error {
        extra.push_str(&format!("  {} errors, first: {e}", line.errors));
    }
    eprintln!(
        "  {:<14} {:<9} @{:<3} {:>9.0} ops/s  p50 {:>8.1}  p99 {:>8.1}  max {:>9.1} µs  srv {:>5.1} cli {:>5.1} µs/call{extra}",
        line.runtime,
        line.case,
        line.inflight,
        line.ops_per_sec,
        line.p50_us,
        line.p99_us,
        line.max_us,
        line.server_cpu_us.unwrap_or(0.0),
        line.client_cpu_us.unwrap_or(0.0),
    );
}

/// A case: its call, and the Strata workload behind it (`None`: an echo).
struct Case {
    name: &'static str,
    op: rpc::load::Op,
    workload: Option<Workload>,
}

/// A case's turns added up.
#[derive(Default)]
struct Tally {
    sample: Option<rpc::load::Sample>,
    counters: rpc::strata::Counters,
    memory: (i64, i64),
}

/// Stops `server` on a blocking thread while the client runtime keeps running, so the
/// client's connection tasks see the server's GOAWAY and close; otherwise the graceful
/// shutdown would wait for them until `server.shutdown_timeout`.
async fn stop(server: ServerThread) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || server.stop()).await?
}

/// The Strata server of a runtime's cases, its data directory and an admin client.
struct StrataSide {
    server: ServerThread,
    admin: strata_client::Client,
    _dir: tempfile::TempDir,
}

/// One turn of `case` under `plan`, added to `tally`.
async fn turn(
    case: &Case,
    plan: Plan,
    strata: Option<&StrataSide>,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let engine = strata
        .and_then(|s| s.server.engine())
        .filter(|_| case.workload.is_some());
    let writes = case.workload.is_some_and(|w| w.is_write());
    let before = engine.map(|e| e.stats());
    let memory_before = match (writes, strata) {
        (true, Some(s)) => Some(rpc::strata::memory(&s.admin).await?),
        _ => None,
    };
    let sample = rpc::load::run(plan, case.op.clone()).await?;
    if let (Some(b), Some(e)) = (before, engine) {
        tally
            .counters
            .add(rpc::strata::Counters::between(&b, &e.stats()));
    }
    if let (Some(b), Some(s)) = (memory_before, strata) {
        let a = rpc::strata::memory(&s.admin).await?;
        tally.memory.0 += a.0 as i64 - b.0 as i64;
        tally.memory.1 += a.1 as i64 - b.1 as i64;
    }
    match &mut tally.sample {
        Some(all) => all.merge(sample)?,
        None => tally.sample = Some(sample),
    }
    Ok(())
}

/// The result line of a case's tally.
fn line_of(kind: RuntimeKind, case: &Case, inflight: usize, tally: Tally) -> Option<Line> {
    let sample = tally.sample?;
    let rows = case.workload.map_or(1, Workload::rows_per_call);
    let mut line = Line::from_sample(runtime_name(kind), case.name, inflight, rows, &sample);
    if let Some(w) = case.workload {
        line.engine = tally.counters.describe(w);
        if w.is_write() {
            line.engine
                .push_str(&rpc::strata::memory_note(tally.memory));
        }
    }
    progress(&line);
    Some(line)
}

/// Every wanted case under server runtime `kind`: the echo servers and a fresh Strata
/// server with its preloaded table run side by side; per in-flight count the reads and
/// echoes take `--rounds` turns, in alternating order, then the writes run.
fn runtime_cases(
    args: &Args,
    client: &tokio::runtime::Runtime,
    kind: RuntimeKind,
) -> anyhow::Result<Vec<Line>> {
    let mut echo_servers = Vec::new();
    for variant in rpc::echo::Variant::ALL {
        if args.wants(variant.name()) {
            let value = rpc::value(1);
            let server = ServerThread::spawn(kind, move |ready, stop| {
                rpc::echo::serve(value, variant, ready, stop)
            })?;
            echo_servers.push((variant, server));
        }
    }
    let workloads = [
        ("get", Workload::Get, true),
        ("get_single", Workload::Get, false),
        ("multi_get", Workload::MultiGet, true),
        ("put_async", Workload::PutAsync, true),
        ("put_fsync", Workload::PutFsync, true),
    ];
    let strata_server = if workloads.iter().any(|(n, ..)| args.wants(n)) {
        let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
        let dir = tempfile::Builder::new()
            .prefix("rpcbench-")
            .tempdir_in(&parent)
            .with_context(|| format!("cannot create a data directory in {}", parent.display()))?;
        let config = rpc::servers::strata_config(dir.path(), kind, &args.sets)?;
        let server = ServerThread::spawn(kind, move |ready, stop| {
            rpc::servers::strata(config, ready, stop)
        })?;
        Some((server, dir))
    } else {
        None
    };
    client.block_on(async move {
        let mut cases = Vec::new();
        for (variant, server) in &echo_servers {
            let mut callers = Vec::new();
            for _ in 0..args.clients.max(1) {
                callers.push(rpc::echo::EchoCaller::connect(server.url(), *variant).await?);
            }
            let callers: std::sync::Arc<[rpc::echo::EchoCaller]> = callers.into();
            let rows = args.rows;
            let op: rpc::load::Op = std::sync::Arc::new(move |task, random| {
                let caller = callers[task % callers.len()].clone();
                Box::pin(async move { caller.call(rpc::key(random % rows)).await })
            });
            cases.push(Case {
                name: variant.name(),
                op,
                workload: None,
            });
        }
        let mut strata = None;
        if let Some((server, dir)) = strata_server {
            let admin = strata_client::Client::connect(server.url()).await?;
            let started = std::time::Instant::now();
            let note = rpc::strata::preload(&admin, args.rows).await?;
            eprintln!(
                "  {}: {note} ({:.1} s)",
                runtime_name(kind),
                started.elapsed().as_secs_f64()
            );
            let clients = args.clients.max(1);
            let mut defaults = strata_client::ClientConfig::default();
            if let Some(after) = args.coalesce_gets_after {
                let max_batch = defaults.max_coalesced_gets;
                defaults = defaults.coalesce_gets(after, max_batch);
            }
            let tables = rpc::strata::connect(server.url(), clients, &defaults).await?;
            let one_call_per_get = defaults.clone().coalesce_gets(0, 1);
            let single = rpc::strata::connect(server.url(), clients, &one_call_per_get).await?;
            for (name, workload, coalesced) in workloads.into_iter().filter(|(n, ..)| args.wants(n))
            {
                let tables = if coalesced { &tables } else { &single };
                cases.push(Case {
                    name,
                    op: rpc::strata::op(workload, tables.clone(), args.rows),
                    workload: Some(workload),
                });
            }
            strata = Some(StrataSide {
                server,
                admin,
                _dir: dir,
            });
        }
        let (writes, reads): (Vec<Case>, Vec<Case>) = cases
            .into_iter()
            .partition(|c| c.workload.is_some_and(|w| w.is_write()));
        let rounds = args.rounds.max(1);
        let mut lines = Vec::new();
        for &n in &args.inflight {
            let mut tallies: Vec<Tally> = reads.iter().map(|_| Tally::default()).collect();
            for round in 0..rounds {
                let order: Vec<usize> = if round % 2 == 0 {
                    (0..reads.len()).collect()
                } else {
                    (0..reads.len()).rev().collect()
                };
                for i in order {
                    let plan = args.plan(n, round, rounds);
                    turn(&reads[i], plan, strata.as_ref(), &mut tallies[i]).await?;
                }
            }
            for (case, tally) in reads.iter().zip(tallies) {
                lines.extend(line_of(kind, case, n, tally));
            }
        }
        for case in &writes {
            for &n in &args.inflight {
                let mut tally = Tally::default();
                turn(case, args.plan(n, 0, 1), strata.as_ref(), &mut tally).await?;
                lines.extend(line_of(kind, case, n, tally));
            }
        }
        drop((reads, writes));
        for (_, server) in echo_servers {
            stop(server).await?;
        }
        if let Some(s) = strata {
            drop(s.admin);
            stop(s.server).await?;
        }
        anyhow::Ok(lines)
    })
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn run(args: &Args) -> anyhow::Result<Vec<Line>> {
    let client = build_runtime(args.client_runtime, rpc::cpu::CLIENT_THREAD_NAME)?;
    let mut lines = Vec::new();
    for &kind in &args.runtime {
        eprintln!(
            "server runtime {} (load average {})",
            runtime_name(kind),
            load_average()
        );
        lines.extend(runtime_cases(args, &client, kind)?);
    }
    if args.redis {
        eprintln!("redis-benchmark (load average {})", load_average());
        match rpc::redis::run(&args.inflight, args.redis_requests) {
            Ok(results) => {
                for r in &results {
                    let line = Line::from_redis(r, args.redis_requests);
                    progress(&line);
                    lines.push(line);
                }
            }
            Err(e) => eprintln!("  redis reference skipped: {e:#}"),
        }
    }
    Ok(lines)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(bad) = args.cases.iter().find(|c| !CASES.contains(&c.as_str())) {
        anyhow::bail!("unknown case {bad:?}; cases: {}", CASES.join(", "));
    }
    anyhow::ensure!(
        args.inflight.iter().all(|&n| n > 0),
        "--inflight values must be > 0"
    );
    let how = match args.ops {
        Some(n) => format!("{n} calls per case"),
        None => format!("{} s per case", args.duration_secs),
    };
    eprintln!(
        "rpcbench: {how} after {} s warm-up, in flight {:?}, {} client(s) on a {} runtime, {} rows",
        args.warmup_secs,
        args.inflight,
        args.clients,
        runtime_name(args.client_runtime),
        args.rows
    );
    let mut runs = Vec::new();
    for i in 0..args.repeat.max(1) {
        if args.repeat > 1 {
            eprintln!("run {} of {}", i + 1, args.repeat);
        }
        let worker = args.clone();
        runs.push(
            std::thread::Builder::new()
                .name(rpc::cpu::CLIENT_THREAD_NAME.into())
                .spawn(move || run(&worker))?
                .join()
                .map_err(|_| anyhow::anyhow!("benchmark thread panicked"))??,
        );
    }
    let lines = rpc::report::median_of(&runs);
    println!("\n{}", rpc::report::table(&lines));
    let hi = args.inflight.iter().copied().max().unwrap_or(1);
    for &kind in &args.runtime {
        println!("{}", rpc::report::targets(&lines, runtime_name(kind), hi));
        if runs.len() > 1 {
            println!(
                "{}",
                rpc::report::per_run_ratios(&runs, runtime_name(kind), hi)
            );
        }
    }
    if args.runtime.len() > 1 {
        println!("{}", rpc::report::runtime_comparison(&lines));
    }
    eprintln!("load average at the end: {}", load_average());
    if let Some(path) = &args.json {
        let doc = serde_json::json!({ "median": lines, "runs": runs });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
