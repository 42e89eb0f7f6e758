//! Cluster mode: `strata-server master` ([`start_master`]) and `strata-server
//! regionserver` ([`start_region_server`]), separate processes sharing one `root_dir`.
//!
//! The master serves `MasterService` only: it keeps the catalog under
//! `root_dir/master/`, tracks region servers by heartbeat and opens/closes regions on
//! them over gRPC (its background chore repairs assignments and balances). A region
//! server serves `RegionService`, registers with the master, heartbeats, and serves only
//! while its lease holds. Standalone mode is the same master and region-server code in
//! one process (see [`crate::standalone`]). Design and fencing argument:
//! `docs/cluster.md`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strata_proto::v1::master_service_server::MasterServiceServer;
use strata_proto::v1::region_service_server::RegionServiceServer;
use strata_storage::Engine;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::{Router, TcpIncoming};

use crate::config::ServerConfig;
use crate::master::{self, Master, MasterGrpc};
use crate::region_server::heartbeat::{self, HeartbeatSettings};
use crate::region_server::lease::Lease;
use crate::region_server::{RegionGrpc, RegionServer, TableDirectory, TableState, TestHooks};
use crate::standalone::ServerError;
use crate::status::cluster_view::ClusterMasterView;
use crate::status::model::RateTracker;
use crate::status::{self, RegionServerSource, StatusServer, StatusSources};

/// The master's status port when `server.status_listen` is not configured: HBase's
/// master web UI port (region servers keep the key's default, 16030).
pub const MASTER_STATUS_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 16010);

/// HTTP/2 keepalive ping period and ack timeout (as in standalone mode).
const HTTP2_KEEPALIVE: (Duration, Duration) = (Duration::from_secs(30), Duration::from_secs(10));

/// A region server of a cluster does not hold the catalog: it treats every table as
/// enabled, so a request for a region it does not serve answers FAILED_PRECONDITION and
/// the client asks the master (which knows whether the table exists).
struct AnyTable;

impl TableDirectory for AnyTable {
    fn table_state(&self, _table: &str) -> TableState {
        TableState::Enabled
    }
}

async fn bind(config: &ServerConfig) -> Result<(TcpListener, SocketAddr, String), ServerError> {
    let s = &config.server;
    let listener = TcpListener::bind(s.listen)
        .await
        .map_err(|e| ServerError::Net(format!("cannot listen on {}: {e}", s.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Net(e.to_string()))?;
    let url = s.advertise.clone().unwrap_or_else(|| {
        let mut a = addr;
        if a.ip().is_unspecified() {
            a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{a}")
    });
    Ok((listener, addr, url))
}

fn server_builder() -> Server {
    Server::builder()
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(HTTP2_KEEPALIVE.0))
        .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE.1))
}

fn serve(
    router: Router,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<Result<(), tonic::transport::Error>> {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tokio::spawn(router.serve_with_incoming_shutdown(incoming, async move {
        let _ = stop.wait_for(|s| *s).await;
    }))
}

fn message_limit(config: &ServerConfig) -> usize {
    usize::try_from(config.server.max_message_size.0).unwrap_or(usize::MAX)
}

/// A running cluster master.
#[derive(Debug)]
pub struct MasterHandle {
    addr: SocketAddr,
    url: String,
    stop: watch::Sender<bool>,
    serve: JoinHandle<Result<(), tonic::transport::Error>>,
    chores: JoinHandle<()>,
    split_chore: JoinHandle<()>,
    split_chore_stop: Arc<tokio::sync::Notify>,
    shutdown_timeout: Duration,
    master: Arc<Master>,
    status: Option<StatusServer>,
}

/// Starts a cluster master on `config.server.listen` over `config.server.root_dir`.
pub async fn start_master(config: ServerConfig) -> Result<MasterHandle, ServerError> {
    config.validate()?;
    let (listener, addr, url) = bind(&config).await?;
    let root = config.server.root_dir.clone();
    let settings = config.master.clone();
    let master = tokio::task::spawn_blocking(move || {
        strata_storage::fs_util::create_dir_durable(&root.join("tables"))?;
        let (catalog, lock) = master::open_catalog(&root)?;
        let master = Arc::new(Master::new_cluster(root, catalog, lock, settings));
        let (tables, _) = master.recover()?;
        tracing::info!(tables, "master recovered its catalog");
        Ok::<_, ServerError>(master)
    })
    .await
    .map_err(|e| ServerError::Net(format!("start-up task failed: {e}")))??;
    let limit = message_limit(&config);
    let svc = MasterServiceServer::new(MasterGrpc(master.clone()))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    // A value other than the region server's default counts as chosen even without a
    // recorded source (configurations built in code, as tests do).
    let chosen = config.is_set("server.status_listen")
        || config.server.status_listen != crate::config::ServerSection::default().status_listen;
    let status_addr = if chosen {
        config.server.status_listen
    } else {
        MASTER_STATUS_LISTEN
    };
    let sources = StatusSources {
        region_server: None,
        master: Some(Arc::new(ClusterMasterView {
            master: master.clone(),
        })),
    };
    // Before serving: a taken status port fails the start with nothing to undo.
    let status = status::start(status_addr, sources).await.map_err(|e| {
        ServerError::Net(format!(
            "cannot listen on server.status_listen {status_addr}: {e}"
        ))
    })?;
    tracing::info!(url = %status.url(), "status pages and /metrics");
    let (stop, stopped) = watch::channel(false);
    let serve = serve(server_builder().add_service(svc), listener, stopped.clone());
    let chores = tokio::spawn(master.clone().run_chores(stopped));
    let split_chore_stop = Arc::new(tokio::sync::Notify::new());
    let split_chore = master.spawn_split_chore(
        config.engine.region.split_check_interval,
        config.engine.region.max_size.0,
        split_chore_stop.clone(),
    );
    Ok(MasterHandle {
        addr,
        url,
        stop,
        serve,
        chores,
        split_chore,
        split_chore_stop,
        shutdown_timeout: config.server.shutdown_timeout,
        master,
        status: Some(status),
    })
}

impl MasterHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The master's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The master.
    pub fn master(&self) -> &Arc<Master> {
        &self.master
    }

    /// The HTTP status port's URL (`/master`, `/metrics`, `/status.json`).
    pub fn status_url(&self) -> Option<String> {
        self.status.as_ref().map(StatusServer::url)
    }

    /// The status line printed at start.
    pub fn status_line(&self) -> String {
        let (tables, regions) = self.master.counts();
        format!(
            "strata master listening on {} ({tables} tables, {regions} regions), status pages at {}/",
            self.url,
            self.status_url().unwrap_or_default()
        )
    }

    /// Stops the chores, the status port and the gRPC server. The catalog is always on
    /// disk already.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        let _ = self.stop.send(true);
        // A split the chore is running finishes first, within the shutdown bound.
        self.split_chore_stop.notify_one();
        if tokio::time::timeout(self.shutdown_timeout, &mut self.split_chore)
            .await
            .is_err()
        {
            tracing::warn!("split chore still running; stopping it");
            self.split_chore.abort();
        }
        let _ = (&mut self.chores).await;
        if let Some(st) = self.status.take() {
            st.shutdown().await;
        }
        match (&mut self.serve).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ServerError::Net(e.to_string())),
            Err(e) => Err(ServerError::Net(e.to_string())),
        }
    }
}

/// A running cluster region server.
#[derive(Debug)]
pub struct RegionServerHandle {
    addr: SocketAddr,
    url: String,
    shutdown_timeout: Duration,
    stop: watch::Sender<bool>,
    serve: JoinHandle<Result<(), tonic::transport::Error>>,
    tasks: Vec<JoinHandle<()>>,
    region_server: Arc<RegionServer>,
    lease: Arc<Lease>,
    status: Option<StatusServer>,
    stats_line: Option<JoinHandle<()>>,
    /// How it reached the master (to report a clean stop).
    heartbeat: HeartbeatSettings,
}

/// Starts a region server that registers with the master at `master_url`.
pub async fn start_region_server(
    config: ServerConfig,
    master_url: &str,
) -> Result<RegionServerHandle, ServerError> {
    config.validate()?;
    if !(master_url.starts_with("http://") || master_url.starts_with("https://")) {
        return Err(ServerError::Net(format!(
            "--master must be a URL such as http://host:16000, got {master_url:?}"
        )));
    }
    let (listener, addr, url) = bind(&config).await?;
    let s = config.server.clone();
    let engine_opts = config.engine.clone();
    let rs = tokio::task::spawn_blocking(move || {
        let engine = Arc::new(Engine::open(engine_opts)?);
        Ok::<_, ServerError>(Arc::new(RegionServer::new(
            engine,
            &s,
            Arc::new(AnyTable),
            TestHooks::default(),
        )))
    })
    .await
    .map_err(|e| ServerError::Net(format!("start-up task failed: {e}")))??;
    let lease = Arc::new(Lease::new(config.master.lease()));
    rs.join_cluster(lease.clone(), config.server.root_dir.clone());
    let limit = message_limit(&config);
    let svc = RegionServiceServer::new(RegionGrpc(rs.clone()))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let sources = StatusSources {
        region_server: Some(RegionServerSource {
            region_server: rs.clone(),
            address: url.clone(),
            config: config.clone(),
            rate: Arc::new(RateTracker::default()),
        }),
        master: None,
    };
    let status_addr = config.server.status_listen;
    // Before serving and registering: a taken port fails the start, and no region has
    // been opened here yet, so there is nothing to close.
    let status = status::start(status_addr, sources).await.map_err(|e| {
        ServerError::Net(format!(
            "cannot listen on server.status_listen {status_addr}: {e}"
        ))
    })?;
    tracing::info!(url = %status.url(), "status pages and /metrics");
    let (stop, stopped) = watch::channel(false);
    let serve = serve(server_builder().add_service(svc), listener, stopped.clone());
    let start_code = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(1);
    let settings = HeartbeatSettings {
        master_url: master_url.to_string(),
        address: url.clone(),
        start_code,
        interval: config.master.heartbeat_interval,
        status_url: status.url(),
    };
    let tasks = heartbeat::spawn(rs.clone(), lease.clone(), settings.clone(), stopped)
        .map_err(ServerError::Net)?;
    Ok(RegionServerHandle {
        addr,
        url,
        shutdown_timeout: config.server.shutdown_timeout,
        stop,
        serve,
        tasks,
        stats_line: status::stats_line::spawn(rs.clone(), config.server.stats_interval),
        region_server: rs,
        lease,
        status: Some(status),
        heartbeat: settings,
    })
}

impl RegionServerHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL clients and the master use.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The region server.
    pub fn region_server(&self) -> &Arc<RegionServer> {
        &self.region_server
    }

    /// The lease from the master.
    pub fn lease(&self) -> &Arc<Lease> {
        &self.lease
    }

    /// The HTTP status port's URL (`/`, `/metrics`, `/status.json`).
    pub fn status_url(&self) -> Option<String> {
        self.status.as_ref().map(StatusServer::url)
    }

    /// The status line printed at start.
    pub fn status_line(&self) -> String {
        format!(
            "strata regionserver listening on {}, status pages at {}/",
            self.url,
            self.status_url().unwrap_or_default()
        )
    }

    /// Graceful shutdown: refuse new requests, stop heartbeating, let in-flight calls
    /// finish, flush and close every region, then tell the master, which reassigns the
    /// regions at once (if the master cannot be reached, it does so once the heartbeats
    /// have been missing for `master.server_timeout`).
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(t) = self.stats_line.take() {
            t.abort();
        }
        if let Some(st) = self.status.take() {
            st.shutdown().await;
        }
        self.region_server.begin_shutdown();
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        if tokio::time::timeout(self.shutdown_timeout, &mut self.serve)
            .await
            .is_err()
        {
            self.serve.abort();
        }
        let rs = self.region_server.clone();
        tokio::task::spawn_blocking(move || {
            let r = rs.close_all();
            rs.engine().shutdown();
            r
        })
        .await
        .map_err(|e| ServerError::Net(format!("shutdown task failed: {e}")))??;
        // Only now: every region is closed and its directory lock released, so its next
        // owner can open it.
        heartbeat::report_stopped(&self.heartbeat).await;
        Ok(())
    }
}
