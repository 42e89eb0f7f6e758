//! `strata-server standalone`: the master and one region server in one process on a
//! local `root_dir`, serving both gRPC services on one port.
//!
//! [`start`] runs inside the caller's tokio runtime (tests use it in-process):
//!
//! ```no_run
//! # async fn demo() -> Result<(), strata_server::standalone::ServerError> {
//! use strata_server::{config::ServerConfig, standalone};
//! let server = standalone::start(ServerConfig::for_tests("/tmp/strata-test")).await?;
//! let url = server.url(); // "http://127.0.0.1:<port>": connect both services here
//! # let _ = url;
//! server.shutdown().await?; // stop accepting, finish in-flight calls, flush, close
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use strata_proto::v1::master_service_server::MasterServiceServer;
use strata_proto::v1::region_service_server::RegionServiceServer;
use strata_storage::{Engine, RegionDescriptor};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::config::{ConfigError, ServerConfig};
use crate::master::{self, Master, MasterGrpc, RegionHost};
use crate::region_server::{RegionGrpc, RegionServer, TestHooks};
use crate::status::model::{LocalMasterView, RateTracker};
use crate::status::{self, RegionServerSource, StatusServer, StatusSources};

/// HTTP/2 keepalive ping period, and how long a ping may go unanswered before the
/// connection is dropped (dead clients do not hold streams forever).
const HTTP2_KEEPALIVE: (Duration, Duration) = (Duration::from_secs(30), Duration::from_secs(10));

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The engine, the catalog or a region failed.
    #[error(transparent)]
    Storage(#[from] strata_storage::Error),
    /// Binding or serving failed.
    #[error("network: {0}")]
    Net(String),
}

/// The local region server as the master's [`RegionHost`].
struct LocalHost {
    rs: Arc<RegionServer>,
    address: String,
}

impl RegionHost for LocalHost {
    fn open_region(
        &self,
        dir: &Path,
        create: Option<RegionDescriptor>,
        epoch: u64,
    ) -> strata_storage::Result<()> {
        self.rs.open_region(dir, create, epoch)
    }

    fn close_region(&self, table: &str, region_id: &str) -> strata_storage::Result<()> {
        self.rs.close_region(table, region_id)
    }

    fn address(&self) -> String {
        self.address.clone()
    }

    fn split_region(
        &self,
        table: &str,
        region_id: &str,
        split_row: Option<&[u8]>,
        left_id: &str,
        right_id: &str,
        epoch: u64,
    ) -> strata_storage::Result<Vec<u8>> {
        self.rs
            .split_region(table, region_id, split_row, left_id, right_id, epoch)
            .map(|r| r.split_row)
    }

    fn region_sizes(&self) -> Vec<master::split::RegionSize> {
        self.rs
            .region_sizes()
            .into_iter()
            .map(
                |(table, region_id, store_file_bytes, has_references)| master::split::RegionSize {
                    table,
                    region_id,
                    store_file_bytes,
                    has_references,
                },
            )
            .collect()
    }
}

/// A running standalone server.
#[derive(Debug)]
pub struct StandaloneHandle {
    addr: SocketAddr,
    url: String,
    root_dir: std::path::PathBuf,
    shutdown_timeout: Duration,
    stop: Option<oneshot::Sender<()>>,
    serve: JoinHandle<Result<(), tonic::transport::Error>>,
    region_server: Arc<RegionServer>,
    master: Arc<Master>,
    status: Option<StatusServer>,
    stats_line: Option<JoinHandle<()>>,
    /// Automatic splits and split-parent cleanup (`region.split_check_interval`).
    split_chore: JoinHandle<()>,
    /// Tells the split chore to stop after its current round.
    split_chore_stop: Arc<tokio::sync::Notify>,
}

/// Starts a standalone server with `config` (already validated by
/// [`ServerConfig::load`], checked again here).
pub async fn start(config: ServerConfig) -> Result<StandaloneHandle, ServerError> {
    start_with_hooks(config, TestHooks::default()).await
}

/// [`start`] with test hooks.
#[doc(hidden)]
pub async fn start_with_hooks(
    config: ServerConfig,
    hooks: TestHooks,
) -> Result<StandaloneHandle, ServerError> {
    config.validate()?;
    let s = config.server.clone();
    // Bind first: a busy port fails before minutes of WAL replay.
    let listener = TcpListener::bind(s.listen)
        .await
        .map_err(|e| ServerError::Net(format!("cannot listen on {}: {e}", s.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Net(e.to_string()))?;
    let url = s.advertise.clone().unwrap_or_else(|| advertised(addr));
    let root = s.root_dir.clone();
    let status_listener_addr = s.status_listen;
    let (engine_opts, hooks_c, s_c, url_c) = (config.engine.clone(), hooks, s.clone(), url.clone());
    let (region_server, master) = tokio::task::spawn_blocking(move || {
        strata_storage::fs_util::create_dir_durable(&root.join("tables"))?;
        let (catalog, lock) = master::open_catalog(&root)?;
        let engine = Arc::new(Engine::open(engine_opts)?);
        let rs = Arc::new(RegionServer::new(engine, &s_c, catalog.clone(), hooks_c));
        let host = Arc::new(LocalHost {
            rs: rs.clone(),
            address: url_c,
        });
        let master = Arc::new(Master::new(root, catalog, lock, host));
        let (tables, regions) = master.recover()?;
        tracing::info!(tables, regions, "recovered");
        Ok::<_, ServerError>((rs, master))
    })
    .await
    .map_err(|e| ServerError::Net(format!("start-up task failed: {e}")))??;

    let limit = usize::try_from(s.max_message_size.0).unwrap_or(usize::MAX);
    let region_svc = RegionServiceServer::new(RegionGrpc(region_server.clone()))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let master_svc = MasterServiceServer::new(MasterGrpc(master.clone()))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    // tcp_nodelay on the builder is ignored with a custom incoming: set it there too.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let (stop, stopped) = oneshot::channel::<()>();
    let router = Server::builder()
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(HTTP2_KEEPALIVE.0))
        .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE.1))
        .add_service(region_svc)
        .add_service(master_svc);
    let split_chore_stop = Arc::new(tokio::sync::Notify::new());
    let split_chore = master.spawn_split_chore(
        config.engine.region.split_check_interval,
        config.engine.region.max_size.0,
        split_chore_stop.clone(),
    );
    let serve = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
        let _ = stopped.await;
    }));
    let rate = Arc::new(RateTracker::default());
    let sources = StatusSources {
        region_server: Some(RegionServerSource {
            region_server: region_server.clone(),
            address: url.clone(),
            config: config.clone(),
            rate: rate.clone(),
        }),
        master: Some(Arc::new(LocalMasterView {
            master: master.clone(),
            region_server: region_server.clone(),
            address: url.clone(),
            rate,
        })),
    };
    let status = match status::start(status_listener_addr, sources).await {
        Ok(st) => st,
        Err(e) => {
            // Stop what was started: the regions flush and close as on shutdown.
            split_chore_stop.notify_one();
            let _ = split_chore.await;
            region_server.begin_shutdown();
            let _ = stop.send(());
            let _ = serve.await;
            let rs = region_server.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let _ = rs.close_all();
                rs.engine().shutdown();
            })
            .await;
            return Err(ServerError::Net(format!(
                "cannot listen on server.status_listen {status_listener_addr}: {e}"
            )));
        }
    };
    tracing::info!(url = %status.url(), "status pages and /metrics");
    let stats_line = status::stats_line::spawn(region_server.clone(), s.stats_interval);
    Ok(StandaloneHandle {
        addr,
        url,
        root_dir: s.root_dir.clone(),
        shutdown_timeout: s.shutdown_timeout,
        stop: Some(stop),
        serve,
        region_server,
        master,
        status: Some(status),
        stats_line,
        split_chore,
        split_chore_stop,
    })
}

/// `http://` + the bound address; an unspecified IP (0.0.0.0) is advertised as
/// loopback, which only local clients can use: set `server.advertise` for others.
fn advertised(addr: SocketAddr) -> String {
    let mut a = addr;
    if a.ip().is_unspecified() {
        tracing::warn!(%addr, "listening on all interfaces; advertising loopback (set server.advertise)");
        a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{a}")
}

impl StandaloneHandle {
    /// The bound address (the real port when `server.listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL clients connect to for both services, e.g. `http://127.0.0.1:16020`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The region server (admission figures, online regions).
    pub fn region_server(&self) -> &Arc<RegionServer> {
        &self.region_server
    }

    /// The HTTP status port's URL (`/metrics`, `/`, `/master`, `/status.json`).
    pub fn status_url(&self) -> Option<String> {
        self.status.as_ref().map(StatusServer::url)
    }

    /// The master (catalog).
    pub fn master(&self) -> &Arc<Master> {
        &self.master
    }

    /// The one status line printed at start.
    pub fn status_line(&self) -> String {
        let (tables, regions) = self.master.counts();
        format!(
            "strata standalone listening on {}, data in {} ({tables} tables, {regions} regions), status pages at {}/",
            self.url,
            self.root_dir.display(),
            self.status_url().unwrap_or_default()
        )
    }

    /// Graceful shutdown: refuse new requests, stop accepting connections, let
    /// in-flight calls finish (at most `server.shutdown_timeout`), then flush and close
    /// every region and stop the engine.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        tracing::info!("shutting down");
        if let Some(t) = self.stats_line.take() {
            t.abort();
        }
        if let Some(st) = self.status.take() {
            st.shutdown().await;
        }
        // A split the chore is running finishes before regions close.
        self.split_chore_stop.notify_one();
        if tokio::time::timeout(self.shutdown_timeout, &mut self.split_chore)
            .await
            .is_err()
        {
            tracing::warn!("split chore still running; stopping it");
            self.split_chore.abort();
        }
        self.region_server.begin_shutdown();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(self.shutdown_timeout, &mut self.serve).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "gRPC server ended with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "gRPC server task failed"),
            Err(_) => {
                tracing::warn!(timeout = ?self.shutdown_timeout, "in-flight calls still running; closing anyway");
                self.serve.abort();
            }
        }
        let rs = self.region_server.clone();
        tokio::task::spawn_blocking(move || {
            let r = rs.close_all();
            rs.engine().shutdown();
            r
        })
        .await
        .map_err(|e| ServerError::Net(format!("shutdown task failed: {e}")))??;
        tracing::info!("all regions flushed and closed");
        Ok(())
    }
}
