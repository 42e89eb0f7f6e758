//! rpcbench's output: the results table (Markdown, so it pastes into docs), the targets
//! as ratios against the echo reference of the same runtime, and the runtime comparison.

use std::fmt::Write;

use serde::Serialize;

use super::load::Sample;
use super::redis::RedisResult;

/// One line of the results table.
#[derive(Clone, Debug, Serialize)]
pub struct Line {
    /// Server runtime (`multi_thread`, `current_thread`) or `redis`.
    pub runtime: String,
    /// `echo`, `echo_hop`, `get`, `multi_get`, `put_fsync`, `put_async`, `GET`, `SET`.
    pub case: String,
    /// Calls in flight (Redis: connections).
    pub inflight: usize,
    /// Calls measured.
    pub ops: u64,
    /// Calls per second.
    pub ops_per_sec: f64,
    /// Rows per second (calls × rows per call).
    pub rows_per_sec: f64,
    /// Latency percentiles and maximum, µs.
    pub p50_us: f64,
    /// p99, µs.
    pub p99_us: f64,
    /// p99.9, µs (not reported by redis-benchmark).
    pub p999_us: Option<f64>,
    /// Largest, µs.
    pub max_us: f64,
    /// Calls that took 38–44 ms: delayed-ACK/Nagle stalls cluster at ~40 ms on Linux.
    pub near_40ms: u64,
    /// Server threads' CPU per call, µs.
    pub server_cpu_us: Option<f64>,
    /// Client threads' CPU per call, µs.
    pub client_cpu_us: Option<f64>,
    /// Failed calls.
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
    /// Strata engine counters over the case (warm-up included), e.g. records per WAL sync.
    pub engine: String,
    /// Runs this line is the median of (by ops/s), and their lowest and highest ops/s.
    pub runs: usize,
    /// Lowest ops/s over the runs.
    pub ops_per_sec_min: f64,
    /// Highest ops/s over the runs.
    pub ops_per_sec_max: f64,
}

impl Line {
    /// A line from a measured sample.
    pub fn from_sample(runtime: &str, case: &str, inflight: usize, rows: u64, s: &Sample) -> Line {
        let per_op = |d: std::time::Duration| d.as_secs_f64() * 1e6 / s.ops.max(1) as f64;
        Line {
            runtime: runtime.into(),
            case: case.into(),
            inflight,
            ops: s.ops,
            ops_per_sec: s.ops_per_sec(),
            rows_per_sec: s.ops_per_sec() * rows as f64,
            p50_us: s.micros(0.50),
            p99_us: s.micros(0.99),
            p999_us: Some(s.micros(0.999)),
            max_us: s.max_micros(),
            near_40ms: s.hist.count_between(38_000_000, 44_000_000),
            server_cpu_us: Some(per_op(s.server_cpu)),
            client_cpu_us: Some(per_op(s.client_cpu)),
            errors: s.errors,
            first_error: s.first_error.clone(),
            engine: String::new(),
            runs: 1,
            ops_per_sec_min: s.ops_per_sec(),
            ops_per_sec_max: s.ops_per_sec(),
        }
    }

    /// A line from redis-benchmark.
    pub fn from_redis(r: &RedisResult, requests: u64) -> Line {
        Line {
            runtime: "redis".into(),
            case: r.test.clone(),
            inflight: r.clients,
            ops: requests,
            ops_per_sec: r.rps,
            rows_per_sec: r.rps,
            p50_us: r.p50_us,
            p99_us: r.p99_us,
            p999_us: None,
            max_us: r.max_us,
            near_40ms: 0,
            server_cpu_us: None,
            client_cpu_us: None,
            errors: 0,
            first_error: None,
            engine: String::new(),
            runs: 1,
            ops_per_sec_min: r.rps,
            ops_per_sec_max: r.rps,
        }
    }
}

/// Per (runtime, case, in flight), the run with the median ops/s, carrying the range of
/// all runs, and over all runs the errors, the 38–44 ms calls and the largest latency
/// (tails count wherever they happened). Keeps the order of the first run.
pub fn median_of(runs: &[Vec<Line>]) -> Vec<Line> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    first
        .iter()
        .map(|key| {
            let mut same: Vec<&Line> = runs
                .iter()
                .filter_map(|run| find(run, &key.runtime, &key.case, key.inflight))
                .collect();
            same.sort_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec));
            let mut line = same[same.len() / 2].clone();
            line.runs = same.len();
            line.ops_per_sec_min = same[0].ops_per_sec;
            line.ops_per_sec_max = same[same.len() - 1].ops_per_sec;
            line.errors = same.iter().map(|l| l.errors).sum();
            line.near_40ms = same.iter().map(|l| l.near_40ms).sum();
            line.max_us = same.iter().map(|l| l.max_us).fold(0.0, f64::max);
            line
        })
        .collect()
}

fn fmt_rate(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

fn fmt_us(x: f64) -> String {
    if x >= 1000.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn ops_cell(l: &Line) -> String {
    if l.runs > 1 {
        format!(
            "{} [{}–{}]",
            fmt_rate(l.ops_per_sec),
            fmt_rate(l.ops_per_sec_min),
            fmt_rate(l.ops_per_sec_max)
        )
    } else {
        fmt_rate(l.ops_per_sec)
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or("-".into(), fmt_us)
}

/// The results table.
pub fn table(lines: &[Line]) -> String {
    let mut out = String::from(
        "| runtime | case | in flight | ops/s | rows/s | p50 µs | p99 µs | p999 µs | max µs | server CPU µs/call | client CPU µs/call | errors | engine counters |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for l in lines {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            l.runtime,
            l.case,
            l.inflight,
            ops_cell(l),
            fmt_rate(l.rows_per_sec),
            fmt_us(l.p50_us),
            fmt_us(l.p99_us),
            opt(l.p999_us),
            fmt_us(l.max_us),
            opt(l.server_cpu_us),
            opt(l.client_cpu_us),
            l.errors,
            l.engine
        );
    }
    out
}

fn find<'a>(lines: &'a [Line], runtime: &str, case: &str, inflight: usize) -> Option<&'a Line> {
    lines
        .iter()
        .find(|l| l.runtime == runtime && l.case == case && l.inflight == inflight)
}

/// One target: what, the measured figure, and whether it is met.
fn verdict(out: &mut String, what: &str, figure: Option<(f64, String)>, met: impl Fn(f64) -> bool) {
    let (cell, ok) = match figure {
        Some((x, text)) => (text, if met(x) { "met" } else { "**not met**" }),
        None => ("n/a (case not run)".into(), "-"),
    };
    let _ = writeln!(out, "| {what} | {cell} | {ok} |");
}

/// The targets of the issue for `runtime`, as ratios to the echo of the same runtime.
/// `hi` is the higher in-flight count run (32 by default).
pub fn targets(lines: &[Line], runtime: &str, hi: usize) -> String {
    let mut out = format!("| target ({runtime}) | measured | verdict |\n|---|---|---|\n");
    let pair = |case: &str, n: usize, base: &str, f: fn(&Line) -> f64| {
        let (a, b) = (
            find(lines, runtime, case, n)?,
            find(lines, runtime, base, n)?,
        );
        let r = f(a) / f(b);
        let text = format!(
            "{r:.2}x ({} / {})",
            fmt_us(f(a)).trim_end_matches(".0"),
            fmt_us(f(b)).trim_end_matches(".0")
        );
        Some((r, text))
    };
    verdict(
        &mut out,
        "get p50 <= 1.15x echo p50, 1 in flight",
        pair("get", 1, "echo", |l| l.p50_us),
        |r| r <= 1.15,
    );
    verdict(
        &mut out,
        &format!("get ops/s >= 0.85x echo, {hi} in flight"),
        pair("get", hi, "echo", |l| l.ops_per_sec),
        |r| r >= 0.85,
    );
    verdict(
        &mut out,
        &format!("get p99 <= 1.2x echo p99, {hi} in flight"),
        pair("get", hi, "echo", |l| l.p99_us),
        |r| r <= 1.2,
    );
    let fsync = find(lines, runtime, "put_fsync", hi)
        .map(|l| (l.ops_per_sec, format!("{:.0} puts/s", l.ops_per_sec)));
    verdict(
        &mut out,
        &format!("put_fsync >= 15k puts/s, {hi} in flight"),
        fsync,
        |x| x >= 15_000.0,
    );
    for n in [1, hi] {
        let mg = find(lines, runtime, "multi_get", n)
            .zip(find(lines, runtime, "get", n))
            .map(|(m, g)| {
                let r = m.rows_per_sec / g.ops_per_sec;
                (
                    r,
                    format!(
                        "{r:.2}x ({} / {} rows/s)",
                        fmt_rate(m.rows_per_sec),
                        fmt_rate(g.ops_per_sec)
                    ),
                )
            });
        verdict(
            &mut out,
            &format!("multi_get(16) rows/s >= 3x get, {n} in flight"),
            mg,
            |r| r >= 3.0,
        );
    }
    let mine: Vec<&Line> = lines.iter().filter(|l| l.runtime == runtime).collect();
    let worst = mine
        .iter()
        .max_by(|a, b| a.max_us.total_cmp(&b.max_us))
        .map(|l| {
            let near: u64 = mine.iter().map(|l| l.near_40ms).sum();
            let over: Vec<String> = mine
                .iter()
                .filter(|l| l.max_us >= 40_000.0)
                .map(|l| format!("{} @{}", l.case, l.inflight))
                .collect();
            let mut text = format!(
                "max {} µs ({} @{}); {near} calls in 38–44 ms",
                fmt_us(l.max_us),
                l.case,
                l.inflight
            );
            if !over.is_empty() {
                text.push_str(&format!("; max >= 40 ms in {}", over.join(", ")));
            }
            (l.max_us, text)
        });
    verdict(
        &mut out,
        "no 40 ms tails (max latency of every case)",
        worst,
        |x| x < 40_000.0,
    );
    out
}

/// A per-run ratio: its label, the case, the in-flight count and the figure compared.
type RatioRow = (String, &'static str, usize, fn(&Line) -> f64);

/// With several runs: the echo-relative targets of `runtime` computed within each run
/// (a case and its echo took turns in the same run, so these ratios are the fair ones;
/// the table above picks each line's median run on its own), and their median.
pub fn per_run_ratios(runs: &[Vec<Line>], runtime: &str, hi: usize) -> String {
    let mut out = format!("| ratio within each run ({runtime}) |");
    for i in 1..=runs.len() {
        let _ = write!(out, " run {i} |");
    }
    out.push_str(" median |\n|---|");
    for _ in 0..=runs.len() {
        out.push_str("---|");
    }
    out.push('\n');
    let rows: [RatioRow; 4] = [
        ("get p50 / echo p50, 1 in flight".into(), "get", 1, |l| {
            l.p50_us
        }),
        (
            "get_single p50 / echo p50, 1 in flight".into(),
            "get_single",
            1,
            |l| l.p50_us,
        ),
        (
            format!("get ops/s / echo ops/s, {hi} in flight"),
            "get",
            hi,
            |l| l.ops_per_sec,
        ),
        (
            format!("get p99 / echo p99, {hi} in flight"),
            "get",
            hi,
            |l| l.p99_us,
        ),
    ];
    for (what, case, n, f) in rows {
        let ratios: Vec<Option<f64>> = runs
            .iter()
            .map(|run| {
                let (a, b) = (find(run, runtime, case, n)?, find(run, runtime, "echo", n)?);
                Some(f(a) / f(b))
            })
            .collect();
        let _ = write!(out, "| {what} |");
        for r in &ratios {
            match r {
                Some(r) => {
                    let _ = write!(out, " {r:.2}x |");
                }
                None => out.push_str(" - |"),
            }
        }
        let mut known: Vec<f64> = ratios.into_iter().flatten().collect();
        known.sort_by(f64::total_cmp);
        let median = match known.len() {
            0 => None,
            n if n % 2 == 1 => Some(known[n / 2]),
            n => Some((known[n / 2 - 1] + known[n / 2]) / 2.0),
        };
        match median {
            Some(m) => {
                let _ = writeln!(out, " {m:.2}x |");
            }
            None => out.push_str(" - |\n"),
        }
    }
    out
}

/// Each case under both runtimes: current_thread over multi_thread.
pub fn runtime_comparison(lines: &[Line]) -> String {
    let mut out = String::from(
        "| case | in flight | ops/s multi / current | ratio | p50 µs multi / current | server CPU µs/call multi / current |\n|---|---|---|---|---|---|\n",
    );
    for mt in lines.iter().filter(|l| l.runtime == "multi_thread") {
        let Some(ct) = find(lines, "current_thread", &mt.case, mt.inflight) else {
            continue;
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} / {} | {:.2}x | {} / {} | {} / {} |",
            mt.case,
            mt.inflight,
            fmt_rate(mt.ops_per_sec),
            fmt_rate(ct.ops_per_sec),
            ct.ops_per_sec / mt.ops_per_sec.max(1e-9),
            fmt_us(mt.p50_us),
            fmt_us(ct.p50_us),
            opt(mt.server_cpu_us),
            opt(ct.server_cpu_us)
        );
    }
    out
}
