//! Shared helpers of Strata's end-to-end tests (`tests/tests/*.rs`).
//!
//! The tests drive the real server through the real client over loopback gRPC, with data
//! in temp directories: [`TestServer`] runs `strata-server standalone` in process,
//! [`process::ServerProcess`] runs the binary as a child process, and
//! [`process::run`] runs any binary (the `strata` shell) with a deadline.
//! [`binaries::path`] finds the binaries, building them once if they are missing.
//!
//! Rules every test follows: each wait is a poll with a deadline ([`poll_until`]), never
//! a fixed sleep standing in for a condition; each loop is bounded in count and time.

pub mod binaries;
pub mod browser;
pub mod cluster;
pub mod http;
pub mod process;
pub mod prom;

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use strata_client::admin::{FamilyDescriptor, TableDescriptor};
use strata_client::{Client, ClientConfig, Row, Scan, Table};
use strata_server::config::ServerConfig;
use strata_server::region_server::TestHooks;
use strata_server::standalone::{self, StandaloneHandle};

/// A standalone server running in this process on a loopback port, with its data in a
/// temp directory that lives as long as the value.
pub struct TestServer {
    handle: Option<StandaloneHandle>,
    config: ServerConfig,
    dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server with `ServerConfig::for_tests` on 127.0.0.1:0.
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Starts a server with the test settings adjusted by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
        TestServer::start_with_hooks(tweak, TestHooks::default()).await
    }

    /// [`start_with`](Self::start_with) plus test hooks (e.g. a delay inside every Get).
    pub async fn start_with_hooks(
        tweak: impl FnOnce(&mut ServerConfig),
        hooks: TestHooks,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig::for_tests(dir.path());
        tweak(&mut config);
        let handle = standalone::start_with_hooks(config.clone(), hooks)
            .await
            .expect("in-process server starts");
        TestServer {
            handle: Some(handle),
            config,
            dir,
        }
    }

    fn handle(&self) -> &StandaloneHandle {
        self.handle.as_ref().expect("server is running")
    }

    /// The URL of both services, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        self.handle().url()
    }

    /// The status port's URL (`/metrics`, pages, `/status.json`), e.g.
    /// `http://127.0.0.1:40124`.
    pub fn status_url(&self) -> String {
        self.handle().status_url().expect("status port is running")
    }

    /// `GET /metrics` on the status port, checked as Prometheus text (content type and
    /// strict syntax) and parsed; panics on any failure.
    pub async fn scrape(&self) -> prom::Exposition {
        let url = format!("{}/metrics", self.status_url());
        let resp = tokio::task::spawn_blocking(move || http::get(&url))
            .await
            .expect("scrape task")
            .expect("GET /metrics");
        assert_eq!(resp.status, 200, "{}", resp.body);
        let ct = resp.header("content-type").unwrap_or_default();
        assert!(
            ct.starts_with("text/plain; version=0.0.4"),
            "content-type {ct}"
        );
        prom::parse(&resp.body)
            .unwrap_or_else(|e| panic!("/metrics is not valid: {e}\n{}", resp.body))
    }

    /// The data directory.
    pub fn root_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// A new client with the default settings.
    pub async fn client(&self) -> Client {
        Client::connect(self.url()).await.expect("client connects")
    }

    /// A new client with a short operation deadline, so a test that goes wrong fails in
    /// seconds rather than after the default 30 s of retries.
    pub async fn quick_client(&self) -> Client {
        let config = ClientConfig::default()
            .operation_timeout(Duration::from_secs(10))
            .rpc_timeout(Duration::from_secs(5));
        Client::connect_with(self.url(), config)
            .await
            .expect("client connects")
    }

    /// Shuts the server down gracefully and starts it again on the same port and data
    /// directory. Binding is retried for a few seconds in case the port lingers.
    pub async fn restart(&mut self) {
        let handle = self.handle.take().expect("server is running");
        let addr: SocketAddr = handle.local_addr();
        handle.shutdown().await.expect("graceful shutdown");
        self.config.server.listen = addr;
        let config = self.config.clone();
        let handle = poll_until(Duration::from_secs(10), "restart on the same port", || {
            let config = config.clone();
            async move { standalone::start(config).await.ok() }
        })
        .await;
        self.handle = Some(handle);
    }

    /// Graceful shutdown that keeps the data directory and the port for
    /// [`start_again`](Self::start_again) (tests stage crash states in between).
    pub async fn stop_keep_data(&mut self) {
        let handle = self.handle.take().expect("server is running");
        self.config.server.listen = handle.local_addr();
        handle.shutdown().await.expect("graceful shutdown");
    }

    /// Starts the server stopped by [`stop_keep_data`](Self::stop_keep_data) again.
    pub async fn start_again(&mut self) {
        assert!(self.handle.is_none(), "server is running");
        let config = self.config.clone();
        let handle = poll_until(Duration::from_secs(10), "start on the same port", || {
            let config = config.clone();
            async move { standalone::start(config).await.ok() }
        })
        .await;
        self.handle = Some(handle);
    }

    /// Graceful shutdown; the temp directory goes with the value.
    pub async fn stop(mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown().await.expect("graceful shutdown");
        }
    }
}

/// Calls `check` every 20 ms until it returns `Some`, for at most `timeout`; panics
/// naming `what` if the deadline passes.
pub async fn poll_until<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    const INTERVAL: Duration = Duration::from_millis(20);
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(INTERVAL).await;
    }
}

/// Creates table `name` with `families` and split keys `splits`; returns its handle.
pub async fn create_table(
    client: &Client,
    name: &str,
    families: Vec<FamilyDescriptor>,
    splits: &[&str],
) -> Table {
    let descriptor = families
        .into_iter()
        .fold(TableDescriptor::new(name), TableDescriptor::family);
    let splits = splits.iter().map(|s| Bytes::from(s.to_string())).collect();
    let regions = client
        .admin()
        .create_table(descriptor, splits)
        .await
        .expect("create table");
    assert!(!regions.is_empty());
    client.table(name)
}

/// Every row of `scan`, or the first error.
pub async fn scan_rows(table: &Table, scan: Scan) -> strata_client::Result<Vec<Row>> {
    let mut stream = std::pin::pin!(table.scan(scan));
    let mut rows = Vec::new();
    while let Some(row) = stream.next().await {
        rows.push(row?);
    }
    Ok(rows)
}

/// The row keys of `scan`, as strings.
pub async fn scan_keys(table: &Table, scan: Scan) -> Vec<String> {
    let rows = scan_rows(table, scan).await.expect("scan");
    rows.iter().map(|r| text(&r.row)).collect()
}

/// Bytes as (lossy) UTF-8 text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
