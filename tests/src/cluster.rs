//! A real cluster on loopback: one `strata-server master` and N `strata-server
//! regionserver` child processes over one temp `root_dir`, with short membership
//! timeouts so failover tests stay fast. Processes are killed on drop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use strata_client::{Client, ClientConfig, RegionInfo};

use crate::{binaries, poll_until};

/// Longest a process may take to print its status line.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Fast membership for tests: heartbeat 200 ms, a server is dead after 2 s of silence
/// (its lease: 1.8 s). Shorter timeouts made healthy servers fence themselves on a
/// 2-core machine loaded by parallel builds (the cluster recovers, but tests that check
/// stable assignments would see it).
pub const FAST: &[&str] = &[
    "master.heartbeat_interval=\"200ms\"",
    "master.server_timeout=\"2s\"",
    "master.balance_interval=\"0s\"",
];

/// One `strata-server` child process.
pub struct Proc {
    child: Child,
    url: String,
    status_url: Option<String>,
}

impl Proc {
    /// Runs `strata-server <args>` and waits for its status line (which names its URL).
    pub fn spawn(args: &[String]) -> Result<Proc, String> {
        let mut child = Command::new(binaries::path(binaries::SERVER))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn strata-server: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            let _ = tx.send(line);
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        // "... listening on http://a:p, ... status pages at http://a:q/"
        let mut urls = line
            .split_whitespace()
            .filter(|w| w.starts_with("http://"))
            .map(|w| w.trim_end_matches(',').trim_end_matches('/').to_string());
        match urls.next() {
            Some(url) => Ok(Proc {
                child,
                url,
                status_url: urls.next(),
            }),
            None => {
                let _ = child.kill();
                let status = child.wait();
                Err(format!(
                    "strata-server {args:?} printed no status line (got {line:?}, exit {status:?})"
                ))
            }
        }
    }

    /// The URL it printed.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its HTTP status port (`/`, `/metrics`, `/status.json`), as its status line says.
    pub fn status_url(&self) -> Option<&str> {
        self.status_url.as_deref()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`STOP`, `CONT`, `TERM`) with `kill(1)`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// Waits (polling, at most `timeout`) for the process to exit; its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, then reap.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A stopped process must be continued to die promptly on some kernels.
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(self.child.id().to_string())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A master and region servers over one temp `root_dir`.
pub struct Cluster {
    dir: tempfile::TempDir,
    sets: Vec<String>,
    /// The master process (None while it is down).
    pub master: Option<Proc>,
    master_listen: String,
    /// Region servers; a killed one leaves `None`.
    pub servers: Vec<Option<Proc>>,
}

fn common_args(kind: &str, root: &Path, listen: &str, sets: &[String]) -> Vec<String> {
    let mut args = vec![
        kind.to_string(),
        "--listen".into(),
        listen.into(),
        "--root-dir".into(),
        root.display().to_string(),
        "--log-level".into(),
        std::env::var("STRATA_TEST_LOG").unwrap_or_else(|_| "warn".into()),
        // Every process of a test (and of tests running in parallel) its own port.
        "--set".into(),
        "server.status_listen=\"127.0.0.1:0\"".into(),
    ];
    for s in sets {
        args.push("--set".into());
        args.push(s.clone());
    }
    args
}

impl Cluster {
    /// Starts a master and `n` region servers with the `--set` overrides `sets` (e.g.
    /// [`FAST`]), and waits until all `n` registered.
    pub async fn start(n: usize, sets: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let master = Proc::spawn(&common_args("master", dir.path(), "127.0.0.1:0", &sets))
            .unwrap_or_else(|e| panic!("{e}"));
        let master_listen = master.url().trim_start_matches("http://").to_string();
        let mut c = Cluster {
            dir,
            sets,
            master: Some(master),
            master_listen,
            servers: Vec::new(),
        };
        for _ in 0..n {
            c.add_server();
        }
        c.wait_live(n).await;
        c
    }

    /// The master's URL.
    pub fn master_url(&self) -> String {
        format!("http://{}", self.master_listen)
    }

    /// The shared data directory.
    pub fn root_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts one more region server; returns its index.
    pub fn add_server(&mut self) -> usize {
        let mut args = common_args("regionserver", self.dir.path(), "127.0.0.1:0", &self.sets);
        args.push("--master".into());
        args.push(self.master_url());
        let p = Proc::spawn(&args).unwrap_or_else(|e| panic!("{e}"));
        self.servers.push(Some(p));
        self.servers.len() - 1
    }

    /// URL of region server `i`.
    pub fn server_url(&self, i: usize) -> String {
        self.servers[i]
            .as_ref()
            .expect("server running")
            .url()
            .to_string()
    }

    /// SIGKILLs region server `i`.
    pub fn kill_server(&mut self, i: usize) {
        if let Some(p) = self.servers[i].take() {
            p.kill();
        }
    }

    /// SIGKILLs the master.
    pub fn kill_master(&mut self) {
        if let Some(p) = self.master.take() {
            p.kill();
        }
    }

    /// Starts the master again on the same port (retrying while the port lingers).
    pub async fn start_master(&mut self) {
        let args = common_args("master", self.dir.path(), &self.master_listen, &self.sets);
        let master = poll_until(Duration::from_secs(10), "master restart", || {
            let args = args.clone();
            async move { Proc::spawn(&args).ok() }
        })
        .await;
        self.master = Some(master);
    }

    /// A client with a generous deadline (failover fits inside it).
    pub async fn client(&self) -> Client {
        let config = ClientConfig::default()
            .operation_timeout(Duration::from_secs(30))
            .rpc_timeout(Duration::from_secs(5));
        poll_until(Duration::from_secs(10), "client connects", || {
            let config = config.clone();
            let url = self.master_url();
            async move { Client::connect_with(url, config).await.ok() }
        })
        .await
    }

    /// Waits until exactly `n` region servers are live at the master.
    pub async fn wait_live(&self, n: usize) {
        let client = self.client().await;
        poll_until(Duration::from_secs(20), "region servers registered", || {
            let admin = client.admin();
            async move {
                let d = admin.cluster_detail().await.ok()?;
                (d.servers.len() == n).then_some(())
            }
        })
        .await;
    }
}

/// Waits until every region of `table` is open on a server other than `not_on`, and
/// returns them.
pub async fn wait_all_open(
    client: &Client,
    table: &str,
    not_on: Option<&str>,
    timeout: Duration,
) -> Vec<RegionInfo> {
    poll_until(timeout, "every region open", || async move {
        let regions = client.admin().list_regions(table).await.ok()?;
        let ok = regions
            .iter()
            .all(|r| r.is_open() && !r.server.is_empty() && Some(r.server.as_str()) != not_on);
        ok.then_some(regions)
    })
    .await
}

/// A spread-out row key for writer `task`'s `i`-th row: 8 hex digits first, so rows
/// fall into every region of a `HexStringSplit` table.
pub fn spread_key(task: usize, i: usize) -> String {
    let h = (i as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((task as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    format!("{:08x}-{task}-{i}", (h >> 32) as u32)
}

/// Background writers: `tasks` tasks putting rows until stopped (or `max_per_task`
/// rows each), recording every acknowledged row and every error the caller saw.
pub struct Writers {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handles: Vec<tokio::task::JoinHandle<(Vec<String>, Vec<String>)>>,
    acked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Writers {
    /// Starts the writers on `table` with `client`.
    pub fn start(client: &Client, table: &str, tasks: usize, max_per_task: usize) -> Writers {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let acked = std::sync::Arc::new(AtomicUsize::new(0));
        let handles = (0..tasks)
            .map(|task| {
                let t = client.table(table);
                let stop = stop.clone();
                let acked = acked.clone();
                tokio::spawn(async move {
                    let (mut ok, mut errors) = (Vec::new(), Vec::new());
                    for i in 0..max_per_task {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let key = spread_key(task, i);
                        let put = strata_client::Put::new(key.clone()).add("f", "q", key.clone());
                        match t.put(put).await {
                            Ok(()) => {
                                ok.push(key);
                                acked.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => errors.push(format!("{key}: {e}")),
                        }
                    }
                    (ok, errors)
                })
            })
            .collect();
        Writers {
            stop,
            handles,
            acked,
        }
    }

    /// Rows acknowledged so far.
    pub fn acked(&self) -> usize {
        self.acked.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until `n` more rows than now are acknowledged (bounded by `timeout`).
    pub async fn wait_more(&self, n: usize, timeout: Duration) {
        let target = self.acked() + n;
        poll_until(timeout, "writers to make progress", || async move {
            (self.acked() >= target).then_some(())
        })
        .await;
    }

    /// Stops the writers; returns (acknowledged rows, errors the callers saw).
    pub async fn finish(self) -> (Vec<String>, Vec<String>) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.join().await
    }

    /// Waits for the writers to write all their rows; returns (acknowledged rows, errors
    /// the callers saw).
    pub async fn join(self) -> (Vec<String>, Vec<String>) {
        let (mut ok, mut errors) = (Vec::new(), Vec::new());
        for h in self.handles {
            let (o, e) = h.await.expect("writer task");
            ok.extend(o);
            errors.extend(e);
        }
        (ok, errors)
    }
}

/// Reads every row in `keys` back (in parallel batches) and returns the missing ones.
pub async fn missing_rows(client: &Client, table: &str, keys: &[String]) -> Vec<String> {
    let t = client.table(table);
    let mut missing = Vec::new();
    for chunk in keys.chunks(64) {
        let reads = chunk.iter().map(|k| {
            let t = t.clone();
            let k = k.clone();
            async move {
                match t.get(strata_client::Get::new(k.clone())).await {
                    Ok(Some(row)) if row.value("f", "q").is_some_and(|v| v == k.as_bytes()) => None,
                    Ok(_) => Some(k),
                    Err(e) => Some(format!("{k}: {e}")),
                }
            }
        });
        missing.extend(futures::future::join_all(reads).await.into_iter().flatten());
    }
    missing
}
