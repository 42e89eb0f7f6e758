//! `strata-bench`: YCSB's core workloads against Strata, and side by side with Redis.
//!
//! ```sh
//! strata-bench load    --embedded --workload a [-P file] [-p key=value] [--threads 32]
//! strata-bench run     --embedded --workload a --threads 32 [--target 5000] [--json f]
//! strata-bench run     --master http://host:port --workload b
//! strata-bench compare --workloads a,b,c,f,e --threads 1:100000,32 [--paced 0.5]
//! ```
//!
//! `--embedded` starts a standalone Strata server in this process on a temp dir (or
//! `--data-dir`) and stops it at the end; `run --embedded` without `--data-dir` loads
//! first, as the server is new. `--store redis` benchmarks Redis instead (`--embedded`:
//! a `redis-server` started here; or `--redis-url`). `compare` loads both stores once and
//! runs each workload at each thread count against Strata, then Redis, and prints both
//! and the ratios; `--rounds N` repeats each pair N times, the two stores taking turns,
//! and judges the targets on the median ratio. See `docs/benchmarks.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use strata_benches::cpu::CpuSnapshot;
use strata_benches::ycsb::Embedded;
use strata_benches::ycsb::engine_figures::{EngineFigures, EngineSample};
use strata_benches::ycsb::plot::write_svg;
use strata_benches::ycsb::properties::Properties;
use strata_benches::ycsb::redis_store::{RedisServer, RedisStore};
use strata_benches::ycsb::report::{CSV_HEADER, CpuFigures, Report, comparison};
use strata_benches::ycsb::runner::{Phase, RunOptions, execute};
use strata_benches::ycsb::store::Store;
use strata_benches::ycsb::strata_store::StrataStore;
use strata_benches::ycsb::workload::CoreWorkload;
use strata_storage::Engine;

/// mimalloc, as `strata-server` has it, for the server embedded here: glibc malloc,
/// with its `malloc_consolidate`, cost ~10% of the CPU per RPC in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "strata-bench",
    about = "YCSB core workloads against Strata (and Redis)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load phase: insert `recordcount` records.
    Load(Single),
    /// Run phase: `operationcount` transactions (or `--duration`).
    Run(Single),
    /// Load Strata and Redis, run the workloads against both, print both and ratios.
    Compare(Compare),
}

#[derive(Args, Clone)]
struct Common {
    /// YCSB properties file (repeatable; applied after `--workload`, in order).
    #[arg(short = 'P', value_name = "FILE")]
    property_files: Vec<PathBuf>,
    /// Property override `key=value` (repeatable; applied last).
    #[arg(short = 'p', value_name = "KEY=VALUE")]
    properties: Vec<String>,
    /// Standalone Strata server in this process (or, with `--store redis`, a
    /// redis-server started here).
    #[arg(long)]
    embedded: bool,
    /// Strata master (or standalone server) URL, e.g. http://127.0.0.1:16000.
    #[arg(long, conflicts_with = "embedded")]
    master: Option<String>,
    /// Redis URL (redis://host:port/) instead of starting redis-server.
    #[arg(long)]
    redis_url: Option<String>,
    /// Data directory of the embedded server (default: a temp dir, removed at the end).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Embedded server configuration override `key=value` (as `strata-server --set`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Stop a phase after this many seconds (YCSB's maxexecutiontime).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Seed of the workers' random streams.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the report(s) as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the report(s) as CSV.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Write an SVG with the latency-percentile and throughput-over-time plots.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Do not print the text summary.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
struct Single {
    /// Built-in workload a..f (before -P files).
    #[arg(long, short = 'w')]
    workload: Option<String>,
    /// Store: strata or redis.
    #[arg(long, default_value = "strata")]
    store: String,
    /// Workers, one operation in flight each.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Target ops/s (open loop; latency from the intended start).
    #[arg(long)]
    target: Option<f64>,
    /// With `run`: load first (implied by `--embedded` without `--data-dir`).
    #[arg(long)]
    load: bool,
    /// Workers of the load phase (default: `--threads`).
    #[arg(long)]
    load_threads: Option<usize>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct Compare {
    /// Workloads in run order; `e:200000` runs e with operationcount 200000.
    #[arg(long, value_delimiter = ',', default_value = "a")]
    workloads: Vec<String>,
    /// Thread counts; `1:100000` runs with at most 100000 operations at 1 thread.
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    threads: Vec<String>,
    /// Workers of the load phase.
    #[arg(long, default_value_t = 32)]
    load_threads: usize,
    /// After Strata's load phase, major-compact the table (and wait for it) before the
    /// runs, as HBase users do before measuring (`major_compact 'usertable'`): the runs
    /// then see one file per region instead of the flushes and the compactions the load
    /// left pending.
    #[arg(long)]
    major_compact: bool,
    /// Also run each workload at the largest thread count paced at this fraction of
    /// the throughput each store just reached (e.g. 0.5).
    #[arg(long)]
    paced: Option<f64>,
    /// Workloads that get the paced run (default: all).
    #[arg(long, value_delimiter = ',')]
    paced_workloads: Vec<String>,
    /// Most operations of a paced run (it runs at a fraction of the peak, so it takes
    /// longer than the unpaced one).
    #[arg(long, default_value_t = 200_000)]
    paced_ops: u64,
    /// Runs of each workload and thread count per store, Strata and Redis taking turns
    /// (Strata first in odd rounds, Redis first in even ones), so that a slow spell of a
    /// shared machine falls on both alike. Round 1 is labelled with the workload's name,
    /// later ones `name#2`, `name#3`...; the targets are judged on the median of the
    /// rounds' ratios. Paced runs follow the last round.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    #[command(flatten)]
    common: Common,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ycsb-client")
        .build()?;
    match cli.command {
        Command::Load(s) => runtime.block_on(single(s, Phase::Load)),
        Command::Run(s) => runtime.block_on(single(s, Phase::Run)),
        Command::Compare(c) => runtime.block_on(compare(c)),
    }
}

/// Properties of `workload` (if any), then the files, then the overrides.
fn properties(workload: Option<&str>, common: &Common) -> anyhow::Result<Properties> {
    let mut p = match workload {
        Some(w) => Properties::workload(w)?,
        None => Properties::new(),
    };
    for f in &common.property_files {
        p.merge_file(f)?;
    }
    for s in &common.properties {
        p.merge_setting(s)?;
    }
    Ok(p)
}

fn workload_label(workload: Option<&str>, common: &Common) -> String {
    match (workload, common.property_files.first()) {
        (Some(w), _) => w.trim_start_matches("workload").to_string(),
        (None, Some(f)) => f.display().to_string(),
        (None, None) => "custom".into(),
    }
}

fn options(common: &Common, threads: usize, target: Option<f64>, label: String) -> RunOptions {
    RunOptions {
        threads,
        target,
        max_time: common.duration.map(Duration::from_secs_f64),
        seed: common.seed,
        progress: !common.no_progress,
        label,
    }
}

/// Prefix of the load generator's thread names (its runtime's workers and the pacer).
const CLIENT_THREADS: &str = "ycsb-";

/// Where the store's server spends its CPU, for the per-operation CPU figures.
#[derive(Clone, Copy)]
enum ServerCpu<'a> {
    /// The embedded Strata server: every thread of this process but the load
    /// generator's.
    InProcess,
    /// A `redis-server` started here.
    Redis(&'a RedisServer),
    /// Another process or machine: not measured.
    Elsewhere,
}

impl ServerCpu<'_> {
    fn cpu_time(&self) -> Option<Duration> {
        match self {
            ServerCpu::Redis(r) => r.cpu_time(),
            _ => None,
        }
    }
}

fn server_cpu_of(embedded: Option<&Embedded>) -> ServerCpu<'static> {
    match embedded {
        Some(_) => ServerCpu::InProcess,
        None => ServerCpu::Elsewhere,
    }
}

fn props_map(p: &Properties) -> BTreeMap<String, String> {
    p.iter().map(|(k, v)| (k.into(), v.into())).collect()
}

#[expect(
    clippy::too_many_arguments,
    reason = "one phase's settings, all needed"
)]
async fn phase<S: Store>(
    store: &S,
    workload: &Arc<CoreWorkload>,
    phase: Phase,
    props: &Properties,
    label: &str,
    common: &Common,
    threads: usize,
    target: Option<f64>,
    engine: Option<&Arc<Engine>>,
    server: ServerCpu<'_>,
) -> anyhow::Result<Report> {
    let opts = options(
        common,
        threads,
        target,
        format!("{} {label} {} t{threads}", store.name(), phase.name()),
    );
    let before = engine.map(|e| EngineSample::take(e));
    let cpu_before = (CpuSnapshot::take_named(CLIENT_THREADS), server.cpu_time());
    let result = execute(store, workload.clone(), phase, &opts).await?;
    let (in_process, client) = CpuSnapshot::take_named(CLIENT_THREADS).since(&cpu_before.0);
    let server_cpu = match server {
        ServerCpu::InProcess => Some(in_process),
        ServerCpu::Redis(_) => server
            .cpu_time()
            .zip(cpu_before.1)
            .map(|(after, before)| after.saturating_sub(before)),
        ServerCpu::Elsewhere => None,
    };
    let mut report = Report::new(
        store.name(),
        label,
        phase.name(),
        threads,
        target,
        &result,
        props_map(props),
    );
    report.cpu = Some(CpuFigures::new(
        client,
        server_cpu,
        result.summary.overall.operations,
    ));
    if let (Some(e), Some(before)) = (engine, before) {
        report.engine = Some(EngineFigures::since(e, &before));
    }
    if !common.quiet {
        println!("{}", report.text());
    }
    Ok(report)
}

async fn single(s: Single, which: Phase) -> anyhow::Result<()> {
    let common = &s.common;
    let props = properties(s.workload.as_deref(), common)?;
    let label = workload_label(s.workload.as_deref(), common);
    let workload = Arc::new(CoreWorkload::new(&props)?);
    let load_first = which == Phase::Load
        || s.load
        || (s.common.embedded && s.common.data_dir.is_none() && s.store == "strata")
        || (s.common.embedded && s.store == "redis");
    let load_threads = s.load_threads.unwrap_or(s.threads);
    let mut reports = Vec::new();
    match s.store.as_str() {
        "strata" => {
            let embedded = if common.embedded {
                Some(Embedded::start(common.data_dir.as_deref(), &common.sets)?)
            } else {
                None
            };
            let url = match (&embedded, &common.master) {
                (Some(e), _) => e.url().to_string(),
                (None, Some(m)) => m.clone(),
                (None, None) => bail!("give --embedded or --master URL"),
            };
            let store = StrataStore::connect(&url, &workload.table, &props).await?;
            let engine = embedded.as_ref().and_then(Embedded::engine);
            let strata_cpu = server_cpu_of(embedded.as_ref());
            if load_first {
                store.create_table(Vec::new(), &props).await?;
                let w = if which == Phase::Run {
                    // The run's workload object keeps its insert counters fresh.
                    Arc::new(CoreWorkload::new(&props)?)
                } else {
                    workload.clone()
                };
                reports.push(
                    phase(
                        &store,
                        &w,
                        Phase::Load,
                        &props,
                        &label,
                        common,
                        load_threads,
                        None,
                        engine,
                        strata_cpu,
                    )
                    .await?,
                );
            }
            if which == Phase::Run {
                reports.push(
                    phase(
                        &store,
                        &workload,
                        Phase::Run,
                        &props,
                        &label,
                        common,
                        s.threads,
                        s.target,
                        engine,
                        strata_cpu,
                    )
                    .await?,
                );
            }
            drop(store);
            if let Some(e) = embedded {
                e.stop()?;
            }
        }
        "redis" => {
            let (server, url) = redis_target(common)?;
            let redis_cpu = server
                .as_ref()
                .map_or(ServerCpu::Elsewhere, ServerCpu::Redis);
            let store = RedisStore::connect(&url).await?;
            if load_first {
                let w = Arc::new(CoreWorkload::new(&props)?);
                reports.push(
                    phase(
                        &store,
                        &w,
                        Phase::Load,
                        &props,
                        &label,
                        common,
                        load_threads,
                        None,
                        None,
                        redis_cpu,
                    )
                    .await?,
                );
            }
            if which == Phase::Run {
                reports.push(
                    phase(
                        &store,
                        &workload,
                        Phase::Run,
                        &props,
                        &label,
                        common,
                        s.threads,
                        s.target,
                        None,
                        redis_cpu,
                    )
                    .await?,
                );
            }
            drop(server);
        }
        other => bail!("unknown store {other:?}: use strata or redis"),
    }
    write_outputs(common, &reports, &format!("workload {label}"))
}

fn redis_target(common: &Common) -> anyhow::Result<(Option<RedisServer>, String)> {
    match &common.redis_url {
        Some(u) => Ok((None, u.clone())),
        None => {
            let server = RedisServer::start()?;
            let url = server.url();
            Ok((Some(server), url))
        }
    }
}

/// `name` or `name:count`.
fn split_count(spec: &str) -> anyhow::Result<(&str, Option<u64>)> {
    match spec.split_once(':') {
        None => Ok((spec.trim(), None)),
        Some((n, c)) => Ok((
            n.trim(),
            Some(
                c.trim()
                    .parse()
                    .with_context(|| format!("bad count in {spec:?}"))?,
            ),
        )),
    }
}

async fn compare(c: Compare) -> anyhow::Result<()> {
    let common = &c.common;
    if c.workloads.is_empty() || c.threads.is_empty() {
        bail!("give at least one workload and one thread count");
    }
    if !(1..=MAX_ROUNDS).contains(&c.rounds) {
        bail!("--rounds must be 1..={MAX_ROUNDS}, got {}", c.rounds);
    }
    let mut threads = Vec::new();
    for t in &c.threads {
        let (n, ops) = split_count(t)?;
        threads.push((
            n.parse::<usize>()
                .with_context(|| format!("bad thread count {t:?}"))?,
            ops,
        ));
    }
    let first = split_count(&c.workloads[0])?.0.to_string();
    let load_props = properties(Some(&first), common)?;

    let embedded = match &common.master {
        Some(_) => None,
        None => Some(Embedded::start(common.data_dir.as_deref(), &common.sets)?),
    };
    let url = match (&embedded, &common.master) {
        (Some(e), _) => e.url().to_string(),
        (None, Some(m)) => m.clone(),
        (None, None) => unreachable!("embedded unless --master"),
    };
    let strata =
        StrataStore::connect(&url, &CoreWorkload::new(&load_props)?.table, &load_props).await?;
    let engine = embedded.as_ref().and_then(Embedded::engine);
    let strata_cpu = server_cpu_of(embedded.as_ref());
    let (redis_server, redis_url) = redis_target(common)?;
    let redis_cpu = redis_server
        .as_ref()
        .map_or(ServerCpu::Elsewhere, ServerCpu::Redis);
    let redis = RedisStore::connect(&redis_url).await?;

    let mut reports = Vec::new();
    strata.create_table(Vec::new(), &load_props).await?;
    let label = format!("load({first})");
    let w = Arc::new(CoreWorkload::new(&load_props)?);
    reports.push(
        phase(
            &strata,
            &w,
            Phase::Load,
            &load_props,
            &label,
            common,
            c.load_threads,
            None,
            engine,
            strata_cpu,
        )
        .await?,
    );
    if c.major_compact {
        let table = CoreWorkload::new(&load_props)?.table;
        let started = std::time::Instant::now();
        let summary = strata.client().admin().major_compact(&table).await?;
        eprintln!(
            "# strata: major compaction of {table} after the load: {summary:?} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let w = Arc::new(CoreWorkload::new(&load_props)?);
    reports.push(
        phase(
            &redis,
            &w,
            Phase::Load,
            &load_props,
            &label,
            common,
            c.load_threads,
            None,
            None,
            redis_cpu,
        )
        .await?,
    );

    let max_threads = threads.iter().map(|t| t.0).max().unwrap_or(1);
    for spec in &c.workloads {
        let (name, w_ops) = split_count(spec)?;
        for &(t, t_ops) in &threads {
            let mut props = properties(Some(name), common)?;
            let base: u64 = props.parse("operationcount", 0)?;
            let ops = [Some(base), w_ops, t_ops]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(base);
            props.set("operationcount", &ops.to_string());
            let mut pair = Vec::new();
            for round in 1..=c.rounds {
                let label = round_label(name, round);
                let (w_strata, w_redis) = (
                    Arc::new(CoreWorkload::new(&props)?),
                    Arc::new(CoreWorkload::new(&props)?),
                );
                let run_strata = || {
                    phase(
                        &strata,
                        &w_strata,
                        Phase::Run,
                        &props,
                        &label,
                        common,
                        t,
                        None,
                        engine,
                        strata_cpu,
                    )
                };
                let run_redis = || {
                    phase(
                        &redis,
                        &w_redis,
                        Phase::Run,
                        &props,
                        &label,
                        common,
                        t,
                        None,
                        None,
                        redis_cpu,
                    )
                };
                // Strata first in odd rounds, Redis first in even ones; Strata's report
                // is listed first either way.
                let (s, r) = if round % 2 == 1 {
                    let s = run_strata().await?;
                    (s, run_redis().await?)
                } else {
                    let r = run_redis().await?;
                    (run_strata().await?, r)
                };
                pair.extend([s, r]);
            }
            let paced_here =
                c.paced_workloads.is_empty() || c.paced_workloads.iter().any(|p| p == name);
            if let (Some(f), true) = (c.paced, t == max_threads && paced_here) {
                let last = &pair[pair.len() - 2..];
                let peaks: Vec<f64> = last.iter().map(|r| r.throughput_ops_per_sec * f).collect();
                let mut props = props.clone();
                props.set("operationcount", &ops.min(c.paced_ops).to_string());
                let w = Arc::new(CoreWorkload::new(&props)?);
                pair.push(
                    phase(
                        &strata,
                        &w,
                        Phase::Run,
                        &props,
                        &format!("{name}-paced"),
                        common,
                        t,
                        Some(peaks[0].round().max(1.0)),
                        engine,
                        strata_cpu,
                    )
                    .await?,
                );
                let w = Arc::new(CoreWorkload::new(&props)?);
                pair.push(
                    phase(
                        &redis,
                        &w,
                        Phase::Run,
                        &props,
                        &format!("{name}-paced"),
                        common,
                        t,
                        Some(peaks[1].round().max(1.0)),
                        None,
                        redis_cpu,
                    )
                    .await?,
                );
            }
            if let Some(svg) = &common.svg {
                let path = suffixed(svg, &format!("{name}-t{t}"));
                write_svg(&pair, &format!("workload {name}, {t} in flight"), &path)?;
            }
            reports.extend(pair);
            // Saved after every step, so an interrupted comparison keeps what finished.
            save_json(common, &reports)?;
        }
    }
    drop(strata);
    drop(redis);
    drop(redis_server);
    if let Some(e) = embedded {
        e.stop()?;
    }
    println!("{}", comparison(&reports, "strata", "redis"));
    println!("{}", targets(&reports, max_threads, c.rounds));
    let mut common = common.clone();
    common.svg = None;
    write_outputs(&common, &reports, "compare")
}

/// Rounds of one comparison at most (each is a full run per store).
const MAX_ROUNDS: usize = 20;

/// The label of a workload's run in `round` (1-based): the name, then `name#2`, ...
fn round_label(name: &str, round: usize) -> String {
    if round == 1 {
        name.to_string()
    } else {
        format!("{name}#{round}")
    }
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// The issue's targets, as measured; over several rounds, on the median of the rounds'
/// ratios (each round's ratio is between two runs next to each other in time).
fn targets(reports: &[Report], threads: usize, rounds: usize) -> String {
    let find = |store: &str, w: &str, t: usize| {
        reports
            .iter()
            .find(|r| r.store == store && r.workload == w && r.threads == t && r.phase == "run")
    };
    let mut out = String::from("Targets:\n");
    let (mut tputs, mut p99s) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let label = round_label("c", round);
        if let (Some(s), Some(r)) = (
            find("strata", &label, threads),
            find("redis", &label, threads),
        ) {
            tputs.push(s.throughput_ops_per_sec / r.throughput_ops_per_sec.max(1e-9));
            p99s.push(s.overall.p99_us as f64 / (r.overall.p99_us as f64).max(1.0));
        }
    }
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let (tput_rounds, p99_rounds) = (list(&tputs), list(&p99s));
    if let (Some(tput), Some(p99)) = (median(&mut tputs), median(&mut p99s)) {
        let over = if rounds > 1 {
            format!(" (median of rounds {tput_rounds})")
        } else {
            String::new()
        };
        let over_p99 = if rounds > 1 {
            format!(" (median of rounds {p99_rounds})")
        } else {
            String::new()
        };
        out += &format!(
            "- C at {threads} in flight: throughput {tput:.2}x Redis{over} (target >= 0.7) {}; p99 {p99:.2}x Redis{over_p99} (target <= 1.5) {}\n",
            verdict(tput >= 0.7),
            verdict(p99 <= 1.5)
        );
    }
    for r in reports.iter().filter(|r| {
        r.store == "strata"
            && (r.workload == "a" || r.workload.starts_with("a#"))
            && r.phase == "run"
    }) {
        if let (Some(u), Some(rd)) = (r.op("UPDATE"), r.op("READ")) {
            let ratio = u.p99_us as f64 / (rd.p99_us as f64).max(1.0);
            out += &format!(
                "- {} at {} in flight: update p99 {} µs = {ratio:.2}x read p99 {} µs (target <= 2) {}\n",
                r.workload.to_uppercase(),
                r.threads,
                u.p99_us,
                rd.p99_us,
                verdict(ratio <= 2.0)
            );
        }
    }
    for r in reports
        .iter()
        .filter(|r| r.target_ops_per_sec.is_some() && r.phase == "run")
    {
        let split = match (&r.start_delay, &r.service) {
            (Some(d), Some(s)) => format!(
                " [of which start delay p99 {} µs; service time p99 {} µs]",
                d.p99_us, s.p99_us
            ),
            _ => String::new(),
        };
        out += &format!(
            "- {} {} paced at {:.0} ops/s: achieved {:.0} ops/s, p99 {} µs from intended start (strata target < 1000) {}{split}\n",
            r.store,
            r.workload,
            r.target_ops_per_sec.unwrap_or(0.0),
            r.throughput_ops_per_sec,
            r.overall.p99_us,
            if r.store == "strata" {
                verdict(r.overall.p99_us < 1000)
            } else {
                ""
            }
        );
    }
    out
}

fn verdict(ok: bool) -> &'static str {
    if ok { "MET" } else { "MISSED" }
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or("report".into(), |s| s.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map_or("svg".into(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}-{suffix}.{ext}"))
}

fn save_json(common: &Common, reports: &[Report]) -> anyhow::Result<()> {
    if let Some(path) = &common.json {
        let text = if reports.len() == 1 {
            serde_json::to_string_pretty(&reports[0])?
        } else {
            serde_json::to_string_pretty(reports)?
        };
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn write_outputs(common: &Common, reports: &[Report], title: &str) -> anyhow::Result<()> {
    save_json(common, reports)?;
    if let Some(path) = &common.csv {
        let mut text = format!("{CSV_HEADER}\n");
        for r in reports {
            text += &r.csv_lines();
        }
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &common.svg {
        let runs: Vec<Report> = reports
            .iter()
            .filter(|r| r.phase == "run")
            .cloned()
            .collect();
        let shown = if runs.is_empty() {
            reports.to_vec()
        } else {
            runs
        };
        write_svg(&shown, title, path)?;
    }
    for r in reports {
        if r.errors() > 0 {
            eprintln!(
                "strata-bench: {} {} {}: {} operation(s) did not return OK",
                r.store,
                r.workload,
                r.phase,
                r.errors()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_after_the_first_are_numbered() {
        assert_eq!(round_label("c", 1), "c");
        assert_eq!(round_label("c", 2), "c#2");
        assert_eq!(round_label("e", 12), "e#12");
    }

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_two_middle_ones() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [0.9]), Some(0.9));
        assert_eq!(median(&mut [0.9, 0.5, 0.7]), Some(0.7));
        assert_eq!(median(&mut [0.8, 0.4, 0.6, 1.0]), Some(0.7));
    }
}
