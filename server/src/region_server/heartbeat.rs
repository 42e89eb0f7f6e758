//! A region server's side of membership: register with the master, heartbeat every
//! `master.heartbeat_interval`, renew the [`Lease`] with each accepted heartbeat, and
//! fence (stop serving every region) the moment the lease lapses.
//!
//! Two tasks: the heartbeat loop (RPCs bounded by the heartbeat interval) and a
//! watchdog that wakes when the lease would end, so a hung RPC never delays fencing.
//! Requests check the lease themselves too (see [`super::lease`]).
//!
//! When the master answers "re-register" (it restarted, or it declared this server dead)
//! the loop registers again, reporting the regions still open so a restarted master
//! keeps them where they are.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use strata_proto::v1 as pb;
use strata_proto::v1::master_service_client::MasterServiceClient;
use tokio::sync::watch;
use tonic::transport::{Channel, Endpoint};

use super::RegionServer;
use super::lease::Lease;
use crate::metrics::prometheus::process_rss_bytes;

/// How a region server reaches its master.
#[derive(Clone, Debug)]
pub struct HeartbeatSettings {
    /// The master's URL, e.g. `http://127.0.0.1:16000`.
    pub master_url: String,
    /// This server's URL as clients and the master use it.
    pub address: String,
    /// Distinguishes restarts of a server on the same address (ms since the epoch at
    /// start).
    pub start_code: u64,
    /// `master.heartbeat_interval`.
    pub interval: Duration,
    /// This server's HTTP status port (shown and linked on the master's page).
    pub status_url: String,
}

/// Longest wait for the master's answer to a clean-stop report.
const STOP_REPORT_TIMEOUT: Duration = Duration::from_secs(2);

/// Tells the master this server stopped cleanly (best effort, bounded by
/// [`STOP_REPORT_TIMEOUT`]): without it the master waits for the missed heartbeats.
pub async fn report_stopped(s: &HeartbeatSettings) {
    let report = async {
        let endpoint = Endpoint::from_shared(s.master_url.clone())
            .map_err(|e| e.to_string())?
            .connect_timeout(STOP_REPORT_TIMEOUT)
            .tcp_nodelay(true);
        let mut master =
            MasterServiceClient::new(endpoint.connect().await.map_err(|e| e.to_string())?);
        let req = pb::ReportServerStoppedRequest {
            address: s.address.clone(),
            start_code: s.start_code,
        };
        master
            .report_server_stopped(req)
            .await
            .map(|r| r.into_inner().removed)
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(STOP_REPORT_TIMEOUT, report).await {
        Ok(Ok(removed)) => tracing::info!(removed, "told the master this server stopped"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not tell the master this server stopped; it will notice the missed heartbeats")
        }
        Err(_) => tracing::warn!(
            "the master did not answer the stop report in time; it will notice the missed heartbeats"
        ),
    }
}

/// Shortest watchdog sleep, so a lease that is not granted does not spin.
const WATCHDOG_MIN_SLEEP: Duration = Duration::from_millis(20);

/// Starts the heartbeat loop and the lease watchdog; both end when `stop` turns true.
pub fn spawn(
    rs: Arc<RegionServer>,
    lease: Arc<Lease>,
    settings: HeartbeatSettings,
    stop: watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, String> {
    let endpoint = Endpoint::from_shared(settings.master_url.clone())
        .map_err(|e| format!("bad master URL {:?}: {e}", settings.master_url))?
        .connect_timeout(settings.interval)
        .tcp_nodelay(true);
    let channel = endpoint.connect_lazy();
    let beat = tokio::spawn(heartbeat_loop(
        rs.clone(),
        lease.clone(),
        settings,
        MasterServiceClient::new(channel),
        stop.clone(),
    ));
    let dog = tokio::spawn(watchdog(rs, lease, stop));
    Ok(vec![beat, dog])
}

/// Most regions whose figures one heartbeat carries (about 100 bytes each); a server
/// with more reports the first ones in (table, region id) order and counts the rest
/// only in `ServerLoad.regions`.
pub const MAX_REGION_LOADS: usize = 10_000;

/// The figures a heartbeat carries. Takes only short locks (region snapshots and
/// counters), so it runs on the heartbeat task itself: a busy blocking pool must not
/// delay a heartbeat and, with it, the lease.
pub(crate) fn load(rs: &RegionServer, status_url: &str) -> pb::ServerLoad {
    let engine = rs.engine();
    let cache = engine.block_cache_stats();
    let mut regions = rs.online_regions();
    regions.sort_by(|a, b| {
        let (a, b) = (a.region.descriptor(), b.region.descriptor());
        (&a.table, &a.region_id).cmp(&(&b.table, &b.region_id))
    });
    let region_loads = regions
        .iter()
        .take(MAX_REGION_LOADS)
        .map(|o| {
            let d = o.region.descriptor();
            let s = o.region.status();
            pb::RegionLoad {
                table: d.table.clone(),
                region_id: d.region_id.clone(),
                memstore_bytes: s.memstore_bytes,
                store_files: s.store_files.values().sum::<usize>() as u64,
                store_file_bytes: s.store_file_bytes,
                has_references: o.region.has_references(),
                reads: o.counters.reads.load(Ordering::Relaxed),
                writes: o.counters.writes.load(Ordering::Relaxed),
                last_major_compaction_ms: s.last_major_compaction_ms.unwrap_or(0),
            }
        })
        .collect();
    pb::ServerLoad {
        requests: rs.request_count(),
        memstore_bytes: engine.memory_stats().global_memstore_bytes,
        block_cache_bytes: cache.size_bytes,
        block_cache_hits: cache.hits,
        block_cache_misses: cache.misses,
        regions: regions.len() as u64,
        rss_bytes: process_rss_bytes().unwrap_or(0),
        memory_limit_bytes: engine.options().server.memory_limit.0,
        status_url: status_url.to_string(),
        region_loads,
        block_cache_capacity_bytes: cache.capacity_bytes,
        compaction_queued: engine.compaction_stats().queued,
    }
}

async fn heartbeat_loop(
    rs: Arc<RegionServer>,
    lease: Arc<Lease>,
    s: HeartbeatSettings,
    mut master: MasterServiceClient<Channel>,
    mut stop: watch::Receiver<bool>,
) {
    let mut registered = false;
    let mut next = tokio::time::Instant::now();
    while !*stop.borrow() {
        if rs.take_fenced() {
            // Without this a master that did not declare us dead (our heartbeats got
            // through, their answers came late) would keep routing clients here.
            registered = false;
        }
        let sent = Instant::now();
        let mut again_now = false;
        if registered {
            let mut req = tonic::Request::new(pb::HeartbeatRequest {
                address: s.address.clone(),
                start_code: s.start_code,
                load: Some(load(&rs, &s.status_url)),
            });
            req.set_timeout(s.interval);
            match master.heartbeat(req).await {
                Ok(r) if r.get_ref().reregister => {
                    tracing::info!("master asks to re-register");
                    registered = false;
                    again_now = true;
                }
                Ok(_) => renew(&rs, &lease, sent).await,
                Err(e) => tracing::debug!(error = %e, "heartbeat failed"),
            }
        } else {
            // A lapsed lease: fence before reporting, so the report never names a region
            // the master may already have given to another server.
            if !lease.is_valid() {
                fence_now(&rs).await;
            }
            let regions = rs.open_region_refs();
            let mut req = tonic::Request::new(pb::RegisterServerRequest {
                address: s.address.clone(),
                start_code: s.start_code,
                regions,
            });
            // Registration may wait for the master's operation lock: allow longer.
            req.set_timeout(s.interval * 3);
            match master.register_server(req).await {
                Ok(r) => {
                    let lease_ms = r.get_ref().lease_ms;
                    if lease_ms > 0 {
                        lease.limit_period(Duration::from_millis(lease_ms));
                    }
                    renew(&rs, &lease, sent).await;
                    registered = true;
                    tracing::info!(master = %s.master_url, "registered with the master");
                }
                Err(e) => tracing::debug!(error = %e, "registration failed"),
            }
        }
        if again_now {
            continue;
        }
        next += s.interval;
        let now = tokio::time::Instant::now();
        if next < now {
            next = now;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Closes every region (blocking pool) and logs it.
async fn fence_now(rs: &Arc<RegionServer>) {
    if rs.online_count() == 0 {
        return;
    }
    let r = rs.clone();
    let closed = tokio::task::spawn_blocking(move || r.fence())
        .await
        .unwrap_or(0);
    tracing::warn!(
        regions = closed,
        "lease from the master lapsed: stopped serving every region"
    );
}

/// Renews the lease for a heartbeat sent at `sent` that the master accepted. A lease
/// that already lapsed is renewed only after fencing: requests that started under the
/// old lease then fail their final check (region closed), and nothing spans the gap.
async fn renew(rs: &Arc<RegionServer>, lease: &Lease, sent: Instant) {
    if !lease.is_valid() {
        fence_now(rs).await;
    }
    lease.renew(sent);
}

async fn watchdog(rs: Arc<RegionServer>, lease: Arc<Lease>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        if !lease.is_valid() {
            fence_now(&rs).await;
        }
        let wait = lease.remaining().max(WATCHDOG_MIN_SLEEP);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}
