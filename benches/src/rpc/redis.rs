//! The Redis reference: `redis-benchmark` against a `redis-server` started here.
//!
//! `redis-server --port P --bind 127.0.0.1 --save '' --appendonly no` on a free loopback
//! port (no persistence, so SET is a memory write), then per connection count `c`:
//! `redis-benchmark -p P -t get,set -n N -d 100 -c c --csv`. redis-benchmark's CSV gives
//! requests/s and p50/p99/max in ms (no p999). Its key is the fixed 16-byte
//! `key:__rand_int__`, as in `BENCHMARKS-ANCHORS.md`. With no `redis-server` or
//! `redis-benchmark` on the PATH the reference is skipped with a note (install them with
//! `apt-get install -y redis-server redis-tools`).

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

/// One redis-benchmark test.
#[derive(Clone, Debug)]
pub struct RedisResult {
    /// `GET` or `SET`.
    pub test: String,
    /// Connections (`-c`), one request in flight each.
    pub clients: usize,
    /// Requests per second.
    pub rps: f64,
    /// Latency percentiles, µs.
    pub p50_us: f64,
    /// p99, µs.
    pub p99_us: f64,
    /// Largest, µs.
    pub max_us: f64,
}

/// Kills the server when dropped.
struct RedisServer(Child);

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start_server() -> anyhow::Result<(RedisServer, u16)> {
    let port = free_port()?;
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot run redis-server (apt-get install -y redis-server redis-tools)")?;
    let server = RedisServer(child);
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if t.elapsed() > Duration::from_secs(10) {
            bail!("redis-server did not listen on port {port} within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((server, port))
}

/// Parses redis-benchmark's `--csv` output (`"test","rps","avg_latency_ms",
/// "min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",
/// "max_latency_ms"`).
fn parse_csv(text: &str, clients: usize) -> anyhow::Result<Vec<RedisResult>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .ok_or_else(|| anyhow!("redis-benchmark printed nothing"))?
        .split(',')
        .map(|f| f.trim_matches('"').to_string())
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| anyhow!("redis-benchmark CSV has no {name} column: {header:?}"))
    };
    let (test, rps, p50, p99, max) = (
        col("test")?,
        col("rps")?,
        col("p50_latency_ms")?,
        col("p99_latency_ms")?,
        col("max_latency_ms")?,
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').map(|f| f.trim_matches('"')).collect();
            let num = |i: usize| -> anyhow::Result<f64> {
                let s = f.get(i).ok_or_else(|| anyhow!("short CSV line {line:?}"))?;
                s.parse()
                    .with_context(|| format!("bad number {s:?} in {line:?}"))
            };
            Ok(RedisResult {
                test: f.get(test).unwrap_or(&"?").to_string(),
                clients,
                rps: num(rps)?,
                p50_us: num(p50)? * 1e3,
                p99_us: num(p99)? * 1e3,
                max_us: num(max)? * 1e3,
            })
        })
        .collect()
}

/// Runs GET and SET with `requests` requests at each connection count.
pub fn run(connections: &[usize], requests: u64) -> anyhow::Result<Vec<RedisResult>> {
    let (_server, port) = start_server()?;
    let mut out = Vec::new();
    for &c in connections {
        let output = Command::new("redis-benchmark")
            .args([
                "-p",
                &port.to_string(),
                "-t",
                "get,set",
                "-d",
                "100",
                "--csv",
            ])
            .args(["-n", &requests.to_string(), "-c", &c.to_string()])
            .stderr(Stdio::null())
            .output()
            .context("cannot run redis-benchmark (apt-get install -y redis-tools)")?;
        if !output.status.success() {
            bail!("redis-benchmark -c {c} failed: {}", output.status);
        }
        out.extend(parse_csv(&String::from_utf8_lossy(&output.stdout), c)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_of_redis_7_is_read() {
        let text = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\
                    \"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\
                    \"SET\",\"20554.98\",\"0.046\",\"0.016\",\"0.031\",\"0.039\",\"0.087\",\"7.055\"\n";
        let r = parse_csv(text, 1).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].test, "SET");
        assert!((r[0].p50_us - 31.0).abs() < 1e-6 && (r[0].max_us - 7055.0).abs() < 1e-6);
    }
}
