//! The HTTP status port (`server.status_listen`, default 127.0.0.1:16030): what an
//! operator looks at first.
//!
//! - `GET /metrics`: Prometheus text ([`crate::metrics::prometheus`]);
//! - `GET /` (and `/rs`): the region server page; `GET /master`: the master page;
//! - `GET /status.json`: the same data as JSON (`region_server`, `master`).
//!
//! A process serves the views it has: standalone mode both, a future dedicated master
//! only the master view (through a [`model::MasterView`]), a region server only its own.
//! Pages are built off the async workers (they read region figures under short locks),
//! and at most [`MAX_CONCURRENT_REQUESTS`] are built at once; past that the port
//! answers 503 at once.

pub mod cluster_view;
pub mod html;
pub mod model;
pub mod stats_line;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

use crate::config::ServerConfig;
use crate::metrics::prometheus::{self, CONTENT_TYPE};
use crate::region_server::RegionServer;
use model::{MasterView, RateTracker};

/// Most status requests built at once.
pub const MAX_CONCURRENT_REQUESTS: usize = 8;

/// A region server as the status port shows it.
pub struct RegionServerSource {
    /// The region server.
    pub region_server: Arc<RegionServer>,
    /// The address clients use.
    pub address: String,
    /// The effective configuration (shown with each key's source).
    pub config: ServerConfig,
    /// Request rate, shared with the master view.
    pub rate: Arc<RateTracker>,
}

/// What a status port shows.
#[derive(Default)]
pub struct StatusSources {
    /// The region server view, if this process runs one.
    pub region_server: Option<RegionServerSource>,
    /// The master view, if this process runs a master.
    pub master: Option<Arc<dyn MasterView>>,
}

struct AppState {
    sources: StatusSources,
    permits: Semaphore,
}

type Shared = Arc<AppState>;

/// A running status port.
pub struct StatusServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for StatusServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Binds `addr` (port 0 picks one) and serves `sources` until shut down.
pub async fn start(addr: SocketAddr, sources: StatusSources) -> std::io::Result<StatusServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(AppState {
        sources,
        permits: Semaphore::new(MAX_CONCURRENT_REQUESTS),
    });
    let app = Router::new()
        .route("/", get(index))
        .route("/rs", get(rs_page))
        .route("/master", get(master_page))
        .route("/metrics", get(metrics))
        .route("/status.json", get(status_json))
        .with_state(state);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(StatusServer {
        addr,
        stop: Some(stop),
        task,
    })
}

impl StatusServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting and waits (briefly) for open requests.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Keep-alive connections may hold graceful shutdown open: bound the wait.
        match tokio::time::timeout(std::time::Duration::from_secs(2), &mut self.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "status port ended with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "status port task failed"),
            Err(_) => self.task.abort(),
        }
    }
}

/// Runs `f` on the blocking pool under a concurrency permit.
async fn build<T: Send + 'static>(
    state: &Shared,
    f: impl FnOnce(&AppState) -> Option<T> + Send + 'static,
) -> Result<T, Response> {
    let Ok(_permit) = state.permits.try_acquire() else {
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            format!("status port busy: {MAX_CONCURRENT_REQUESTS} requests already running; retry"),
        )
            .into_response());
    };
    let s = state.clone();
    match tokio::task::spawn_blocking(move || f(&s)).await {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err((
            StatusCode::NOT_FOUND,
            "this process does not serve that view\n",
        )
            .into_response()),
        Err(e) => Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("status task failed: {e}\n"),
        )
            .into_response()),
    }
}

fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn views(s: &AppState) -> html::Views {
    html::Views {
        region_server: s.sources.region_server.is_some(),
        master: s.sources.master.is_some(),
    }
}

fn rs_html(s: &AppState) -> Option<String> {
    let src = s.sources.region_server.as_ref()?;
    let status =
        model::region_server_status(&src.region_server, &src.address, &src.config, &src.rate);
    Some(html::region_server_page(&status, views(s)))
}

fn master_html(s: &AppState) -> Option<String> {
    let m = s.sources.master.as_ref()?;
    Some(html::master_page(&m.master_status(), views(s)))
}

async fn index(State(state): State<Shared>) -> Response {
    build(&state, |s| rs_html(s).or_else(|| master_html(s)))
        .await
        .map_or_else(|e| e, html)
}

async fn rs_page(State(state): State<Shared>) -> Response {
    build(&state, rs_html).await.map_or_else(|e| e, html)
}

async fn master_page(State(state): State<Shared>) -> Response {
    build(&state, master_html).await.map_or_else(|e| e, html)
}

async fn metrics(State(state): State<Shared>) -> Response {
    let text = build(&state, |s| {
        let mut out = String::new();
        if let Some(src) = &s.sources.region_server {
            out.push_str(&prometheus::render(&src.region_server));
        }
        if let Some(m) = &s.sources.master {
            out.push_str(&master_metrics(&m.master_status()));
        }
        Some(out)
    })
    .await;
    match text {
        Ok(t) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], t).into_response(),
        Err(e) => e,
    }
}

fn master_metrics(m: &model::MasterStatus) -> String {
    let mut w = prometheus::Writer::default();
    w.single(
        "strata_master_region_servers",
        "gauge",
        "Region servers known to the master.",
        m.servers.len(),
    );
    w.single(
        "strata_master_tables",
        "gauge",
        "Tables in the catalog.",
        m.tables.len(),
    );
    w.single(
        "strata_master_regions",
        "gauge",
        "Regions in the catalog.",
        m.tables.iter().map(|t| t.regions.len()).sum::<usize>(),
    );
    w.single(
        "strata_master_regions_in_transition",
        "gauge",
        "Regions of enabled tables not open anywhere.",
        m.regions_in_transition.len(),
    );
    w.single(
        "strata_master_dead_servers",
        "gauge",
        "Region servers declared dead recently (the master remembers the last 32).",
        m.dead_servers.len(),
    );
    // One series per live server: bounded by the cluster's size, as HBase's per-server
    // master metrics are.
    w.family(
        "strata_master_server_heartbeat_age_seconds",
        "gauge",
        "Time since the master last heard from a live region server.",
    );
    for srv in &m.servers {
        let age = srv.last_heartbeat_ms_ago as f64 / 1000.0;
        w.sample(
            "strata_master_server_heartbeat_age_seconds",
            &[("server", &srv.address)],
            age,
        );
    }
    w.family(
        "strata_master_server_regions",
        "gauge",
        "Regions the master assigns to a live region server.",
    );
    for srv in &m.servers {
        w.sample(
            "strata_master_server_regions",
            &[("server", &srv.address)],
            srv.regions,
        );
    }
    w.finish()
}

async fn status_json(State(state): State<Shared>) -> Response {
    let body = build(&state, |s| {
        let rs = s.sources.region_server.as_ref().map(|src| {
            model::region_server_status(&src.region_server, &src.address, &src.config, &src.rate)
        });
        let master = s.sources.master.as_ref().map(|m| m.master_status());
        let v = serde_json::json!({ "region_server": rs, "master": master });
        Some(serde_json::to_string_pretty(&v).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")))
    })
    .await;
    match body {
        Ok(b) => ([(header::CONTENT_TYPE, "application/json")], b).into_response(),
        Err(e) => e,
    }
}
