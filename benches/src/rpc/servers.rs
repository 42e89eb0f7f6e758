//! Servers on their own runtime and threads, as the `strata-server` binary runs them.
//!
//! [`ServerThread::spawn`] starts an OS thread that builds a tokio runtime the way
//! `server/src/main.rs` does (`new_multi_thread()` or `new_current_thread()`,
//! `enable_all()`, threads named `strata-rpc`) and `block_on`s the serving future there.
//! With `multi_thread` the connection tasks run on tokio's worker threads (one per core);
//! with `current_thread` everything async runs on that one thread. Blocking-pool threads
//! (where Strata runs its engine calls) carry the same name, so `perf report
//! --comm strata-rpc` and the CPU accounting in [`cpu`](super::cpu) see the server only.
//!
//! [`strata`] and [`echo`](super::echo::serve) are the two serving futures.

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use anyhow::{Context, anyhow};
use strata_server::config::{RuntimeKind, ServerConfig};
use strata_storage::Engine;
use tokio::sync::oneshot;

/// Name of every server thread (the binary's name for its runtime threads).
pub const SERVER_THREAD_NAME: &str = "strata-rpc";

/// `multi_thread` / `current_thread`, as in `server.runtime`.
pub fn runtime_name(kind: RuntimeKind) -> &'static str {
    match kind {
        RuntimeKind::MultiThread => "multi_thread",
        RuntimeKind::CurrentThread => "current_thread",
    }
}

/// Parses `multi_thread` / `current_thread`.
pub fn parse_runtime(s: &str) -> Result<RuntimeKind, String> {
    match s {
        "multi_thread" => Ok(RuntimeKind::MultiThread),
        "current_thread" => Ok(RuntimeKind::CurrentThread),
        _ => Err(format!(
            "unknown runtime {s:?}: use multi_thread or current_thread"
        )),
    }
}

/// A tokio runtime of `kind`, built as `strata-server` builds its own.
pub fn build_runtime(
    kind: RuntimeKind,
    thread_name: &str,
) -> std::io::Result<tokio::runtime::Runtime> {
    match kind {
        RuntimeKind::MultiThread => tokio::runtime::Builder::new_multi_thread(),
        RuntimeKind::CurrentThread => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .thread_name(thread_name)
    .build()
}

/// What a server reports once it accepts connections.
#[derive(Debug)]
pub struct Ready {
    /// Where clients connect.
    pub url: String,
    /// Strata's engine (for its counters); `None` for the echo server.
    pub engine: Option<Arc<Engine>>,
}

/// A server running on its own runtime; [`stop`](Self::stop) ends it gracefully.
#[derive(Debug)]
pub struct ServerThread {
    url: String,
    engine: Option<Arc<Engine>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl ServerThread {
    /// Starts `serve` on a new thread and runtime of `kind`. `serve` gets a sender for
    /// its [`Ready`], to use once it accepts connections, and a receiver that fires when it
    /// must stop; it returns after a graceful shutdown.
    pub fn spawn<F, Fut>(kind: RuntimeKind, serve: F) -> anyhow::Result<ServerThread>
    where
        F: FnOnce(mpsc::Sender<Ready>, oneshot::Receiver<()>) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(SERVER_THREAD_NAME.into())
            .spawn(move || {
                let runtime = build_runtime(kind, SERVER_THREAD_NAME)?;
                runtime.block_on(serve(ready_tx, stop_rx))
            })
            .context("cannot spawn the server thread")?;
        match ready_rx.recv_timeout(Duration::from_secs(120)) {
            Ok(ready) => Ok(ServerThread {
                url: ready.url,
                engine: ready.engine,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Err(_) => match thread.join() {
                Ok(Err(e)) => Err(e.context("server failed to start")),
                Ok(Ok(())) => Err(anyhow!("server ended before it was ready")),
                Err(_) => Err(anyhow!("server thread panicked at start")),
            },
        }
    }

    /// Where clients connect (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Strata's engine, for its counters.
    pub fn engine(&self) -> Option<&Arc<Engine>> {
        self.engine.as_ref()
    }

    /// Asks the server to stop and waits for its thread.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(std::thread::JoinHandle::join) {
            None => Ok(()),
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(anyhow!("server thread panicked")),
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!("rpcbench: server shutdown: {e:#}");
        }
    }
}

/// The Strata configuration rpcbench runs: the defaults (`wal.durability = fsync`,
/// 512 MiB block cache, ...) on `root_dir`, free loopback ports (gRPC and status), `server.runtime =
/// kind`, then the user's `--set` overrides. Loaded through [`ServerConfig::from_parts`],
/// so it is validated exactly as the binary validates its configuration.
pub fn strata_config(
    root_dir: &Path,
    kind: RuntimeKind,
    sets: &[String],
) -> anyhow::Result<ServerConfig> {
    let quoted = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut all = vec![
        format!(
            "server.root_dir={}",
            quoted(&root_dir.display().to_string())
        ),
        format!("server.listen={}", quoted("127.0.0.1:0")),
        format!("server.status_listen={}", quoted("127.0.0.1:0")),
        format!("server.runtime={}", quoted(runtime_name(kind))),
    ];
    all.extend(sets.iter().cloned());
    ServerConfig::from_parts(None, &all).map_err(|e| anyhow!("server configuration: {e}"))
}

/// Serves Strata standalone with `config` on the current runtime until `stop` fires,
/// then shuts it down (regions flushed and closed).
pub async fn strata(
    config: ServerConfig,
    ready: mpsc::Sender<Ready>,
    stop: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let handle = strata_server::standalone::start(config).await?;
    let _ = ready.send(Ready {
        url: handle.url().to_string(),
        engine: Some(handle.region_server().engine().clone()),
    });
    let _ = stop.await;
    handle.shutdown().await?;
    Ok(())
}
