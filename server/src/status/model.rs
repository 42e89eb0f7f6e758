//! What the status pages and `/status.json` show, gathered into plain serializable
//! structs: [`RegionServerStatus`] for one region server, [`MasterStatus`] for the
//! master. The master's view is fed by a [`MasterView`], so a cluster master can list
//! many servers through the same page; standalone mode feeds it the one local server.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;

use crate::config::ServerConfig;
use crate::metrics::prometheus::{hit_ratio, process_rss_bytes};
use crate::region_server::RegionServer;
use crate::slowlog::{SlowEntry, printable_row};

/// One region on a region server.
#[derive(Clone, Debug, Serialize)]
pub struct RegionRow {
    /// Table name.
    pub table: String,
    /// Region id.
    pub region_id: String,
    /// First row (printable), "" = table start.
    pub start_row: String,
    /// End row (exclusive, printable), "" = table end.
    pub end_row: String,
    /// Bytes in memstores.
    pub memstore_bytes: u64,
    /// SSTables over all stores.
    pub store_files: u64,
    /// SSTable bytes.
    pub store_file_bytes: u64,
    /// Read requests since the region opened here.
    pub reads: u64,
    /// Write requests since the region opened here.
    pub writes: u64,
    /// Last major compaction, ms since the epoch (0 = never).
    pub last_major_compaction_ms: u64,
}

/// Block cache figures.
#[derive(Clone, Debug, Serialize)]
pub struct BlockCacheView {
    /// Bytes cached.
    pub size_bytes: u64,
    /// Capacity.
    pub capacity_bytes: u64,
    /// Blocks cached.
    pub blocks: u64,
    /// Hits since start.
    pub hits: u64,
    /// Misses since start.
    pub misses: u64,
    /// Evictions since start.
    pub evictions: u64,
    /// hits / (hits + misses).
    pub hit_ratio: f64,
}

/// Memstore figures against their limits.
#[derive(Clone, Debug, Serialize)]
pub struct MemstoreView {
    /// Bytes in all memstores.
    pub global_bytes: u64,
    /// memstore.global_low.
    pub global_low_bytes: u64,
    /// memstore.global_high.
    pub global_high_bytes: u64,
    /// Writes that waited for room since start.
    pub stalls: u64,
    /// Writes waiting now.
    pub stalled_now: u64,
}

/// Compaction figures.
#[derive(Clone, Debug, Serialize)]
pub struct CompactionView {
    /// Regions queued.
    pub queued: u64,
    /// Running now.
    pub running: u64,
    /// Finished since start.
    pub completed: u64,
    /// Failed since start.
    pub failed: u64,
}

/// Requests of one RPC.
#[derive(Clone, Debug, Serialize)]
pub struct RpcRow {
    /// RPC name.
    pub rpc: &'static str,
    /// Finished requests.
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// Upper bound of the p50 bucket, ms (None: no data or over the last bucket).
    pub p50_ms: Option<f64>,
    /// Upper bound of the p99 bucket, ms.
    pub p99_ms: Option<f64>,
}

/// One configuration key.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigRow {
    /// Dotted key.
    pub key: String,
    /// Effective value (TOML text).
    pub value: String,
    /// `default`, `file` or `set`.
    pub source: String,
}

/// Everything the region server page shows.
#[derive(Clone, Debug, Serialize)]
pub struct RegionServerStatus {
    /// Address clients use.
    pub address: String,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Requests finished since start.
    pub requests_total: u64,
    /// Requests per second over the last interval between two status reads (or since start).
    pub requests_per_sec: f64,
    /// Requests executing now.
    pub inflight: usize,
    /// Requests queued now.
    pub queued: usize,
    /// Resident memory, bytes.
    pub rss_bytes: Option<u64>,
    /// server.memory_limit, bytes.
    pub memory_limit_bytes: u64,
    /// Open regions.
    pub regions: Vec<RegionRow>,
    /// Block cache.
    pub block_cache: BlockCacheView,
    /// Memstores.
    pub memstore: MemstoreView,
    /// Compactions.
    pub compaction: CompactionView,
    /// Per-RPC requests.
    pub rpcs: Vec<RpcRow>,
    /// server.slow_request_threshold, ms.
    pub slow_threshold_ms: u64,
    /// Newest slow requests, newest first.
    pub slow_requests: Vec<SlowEntry>,
    /// Effective configuration.
    pub config: Vec<ConfigRow>,
}

/// One region server as the master sees it.
#[derive(Clone, Debug, Serialize)]
pub struct ServerRow {
    /// Address.
    pub address: String,
    /// Regions it serves.
    pub regions: usize,
    /// Requests per second.
    pub requests_per_sec: f64,
    /// Resident memory, bytes.
    pub rss_bytes: Option<u64>,
    /// server.memory_limit, bytes.
    pub memory_limit_bytes: u64,
    /// Memstore bytes.
    pub memstore_bytes: u64,
    /// Block cache bytes.
    pub block_cache_bytes: u64,
    /// Age of its last heartbeat, ms (0 for the local server of standalone mode).
    pub last_heartbeat_ms_ago: u64,
    /// Its own status page, when it runs on another process.
    pub status_url: Option<String>,
}

/// A region as the master sees it.
#[derive(Clone, Debug, Serialize)]
pub struct MasterRegionRow {
    /// Region id.
    pub region_id: String,
    /// First row (printable).
    pub start_row: String,
    /// End row (printable).
    pub end_row: String,
    /// Server serving it ("" if none).
    pub server: String,
    /// `open`, `offline`, `disabled`, ...
    pub state: String,
    /// Bytes (SSTables + memstore) when known.
    pub size_bytes: u64,
    /// Store files when known.
    pub store_files: u64,
}

/// A table as the master sees it.
#[derive(Clone, Debug, Serialize)]
pub struct TableRow {
    /// Name.
    pub name: String,
    /// Enabled?
    pub enabled: bool,
    /// Column families.
    pub families: Vec<String>,
    /// Its regions in key order.
    pub regions: Vec<MasterRegionRow>,
}

/// A region moving between states.
#[derive(Clone, Debug, Serialize)]
pub struct TransitionRow {
    /// Table.
    pub table: String,
    /// Region id.
    pub region_id: String,
    /// State (e.g. `opening`, `offline`).
    pub state: String,
    /// Server involved ("" if none).
    pub server: String,
}

/// Everything the master page shows.
#[derive(Clone, Debug, Serialize)]
pub struct MasterStatus {
    /// Region servers.
    pub servers: Vec<ServerRow>,
    /// Tables and their regions.
    pub tables: Vec<TableRow>,
    /// Regions in transition.
    pub regions_in_transition: Vec<TransitionRow>,
    /// Servers declared dead recently (missed heartbeats), oldest first.
    pub dead_servers: Vec<String>,
}

/// The source of the master page: standalone's catalog and local server
/// ([`LocalMasterView`]), or a cluster master's catalog and membership
/// ([`super::cluster_view::ClusterMasterView`]).
pub trait MasterView: Send + Sync {
    /// The current view (may take short locks; called off the async workers).
    fn master_status(&self) -> MasterStatus;
}

/// Requests per second between successive reads.
#[derive(Debug)]
pub struct RateTracker {
    last: Mutex<(Instant, u64, f64)>,
}

impl Default for RateTracker {
    fn default() -> Self {
        RateTracker {
            last: Mutex::new((Instant::now(), 0, 0.0)),
        }
    }
}

impl RateTracker {
    /// The rate of `total` since the previous call at least a second ago (else the
    /// previous rate).
    pub fn rate(&self, total: u64) -> f64 {
        let mut last = self.last.lock();
        let elapsed = last.0.elapsed();
        if elapsed >= Duration::from_secs(1) {
            let rate = total.saturating_sub(last.1) as f64 / elapsed.as_secs_f64();
            *last = (Instant::now(), total, rate);
        }
        last.2
    }
}

fn ms(micros: Option<u64>) -> Option<f64> {
    micros.map(|m| m as f64 / 1000.0)
}

/// Gathers the region server's figures. Takes short locks: call off the async workers.
pub fn region_server_status(
    rs: &RegionServer,
    address: &str,
    config: &ServerConfig,
    rate: &RateTracker,
) -> RegionServerStatus {
    let e = rs.engine();
    let mut regions: Vec<RegionRow> = rs
        .online_regions()
        .iter()
        .map(|o| {
            let d = o.region.descriptor();
            let s = o.region.status();
            RegionRow {
                table: d.table.clone(),
                region_id: d.region_id.clone(),
                start_row: printable_row(&d.start_row),
                end_row: printable_row(&d.end_row),
                memstore_bytes: s.memstore_bytes,
                store_files: s.store_files.values().sum::<usize>() as u64,
                store_file_bytes: s.store_file_bytes,
                reads: o.counters.reads.load(std::sync::atomic::Ordering::Relaxed),
                writes: o.counters.writes.load(std::sync::atomic::Ordering::Relaxed),
                last_major_compaction_ms: s.last_major_compaction_ms.unwrap_or(0),
            }
        })
        .collect();
    regions.sort_by(|a, b| (&a.table, &a.start_row).cmp(&(&b.table, &b.start_row)));
    let c = e.block_cache_stats();
    let m = e.memory_stats();
    let cp = e.compaction_stats();
    let metrics = rs.metrics();
    let total = metrics.total_requests();
    RegionServerStatus {
        address: address.to_string(),
        uptime_secs: metrics.uptime().as_secs(),
        requests_total: total,
        requests_per_sec: rate.rate(total),
        inflight: rs.admission().inflight(),
        queued: rs.admission().queued(),
        rss_bytes: process_rss_bytes(),
        memory_limit_bytes: e.options().server.memory_limit.0,
        regions,
        block_cache: BlockCacheView {
            size_bytes: c.size_bytes,
            capacity_bytes: c.capacity_bytes,
            blocks: c.entries,
            hits: c.hits,
            misses: c.misses,
            evictions: c.evictions,
            hit_ratio: hit_ratio(c.hits, c.misses),
        },
        memstore: MemstoreView {
            global_bytes: m.global_memstore_bytes,
            global_low_bytes: m.global_low_bytes,
            global_high_bytes: m.global_high_bytes,
            stalls: m.stalls,
            stalled_now: m.stalled_now,
        },
        compaction: CompactionView {
            queued: cp.queued,
            running: cp.running,
            completed: cp.completed,
            failed: cp.failed,
        },
        rpcs: metrics
            .rpc_snapshots()
            .iter()
            .map(|r| RpcRow {
                rpc: r.rpc.name(),
                requests: r.requests,
                errors: r.errors.iter().sum(),
                p50_ms: ms(r.latency.quantile_upper_micros(0.5)),
                p99_ms: ms(r.latency.quantile_upper_micros(0.99)),
            })
            .collect(),
        slow_threshold_ms: u64::try_from(rs.slow_log().threshold().as_millis()).unwrap_or(0),
        slow_requests: rs.slow_log().newest(0),
        config: config_rows(config),
    }
}

/// The effective configuration, key by key, with where each value came from.
pub fn config_rows(config: &ServerConfig) -> Vec<ConfigRow> {
    let Ok(tree) = config.to_value() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    flatten("", &tree, &mut out);
    for row in &mut out {
        row.source = match config.sources.get(&row.key) {
            Some(crate::config::ConfigSource::File) => "file",
            Some(crate::config::ConfigSource::Set) => "set",
            _ => "default",
        }
        .to_string();
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

fn flatten(prefix: &str, v: &toml::Value, out: &mut Vec<ConfigRow>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        v => out.push(ConfigRow {
            key: prefix.to_string(),
            value: v.to_string(),
            source: String::new(),
        }),
    }
}

/// The master view of standalone mode: the catalog's tables and the one local region
/// server.
pub struct LocalMasterView {
    /// The master.
    pub master: Arc<crate::master::Master>,
    /// The local region server.
    pub region_server: Arc<RegionServer>,
    /// Its address.
    pub address: String,
    /// Request rate of the local server.
    pub rate: Arc<RateTracker>,
}

impl MasterView for LocalMasterView {
    fn master_status(&self) -> MasterStatus {
        let rs = &self.region_server;
        let online = rs.online_regions();
        let e = rs.engine();
        let server = ServerRow {
            address: self.address.clone(),
            regions: online.len(),
            requests_per_sec: self.rate.rate(rs.metrics().total_requests()),
            rss_bytes: process_rss_bytes(),
            memory_limit_bytes: e.options().server.memory_limit.0,
            memstore_bytes: e.memory_stats().global_memstore_bytes,
            block_cache_bytes: e.block_cache_stats().size_bytes,
            last_heartbeat_ms_ago: 0,
            status_url: None,
        };
        let mut tables = Vec::new();
        let mut transitions = Vec::new();
        self.master.catalog().read(|c| {
            for (name, t) in &c.tables {
                let mut regions = Vec::new();
                for r in &t.regions {
                    let here = online.iter().find(|o| {
                        let d = o.region.descriptor();
                        d.table == *name && d.region_id == r.region_id
                    });
                    let (state, server, size, files) = match (here, t.enabled) {
                        (Some(o), _) => {
                            let s = o.region.status();
                            let files = s.store_files.values().sum::<usize>() as u64;
                            (
                                "open",
                                self.address.clone(),
                                s.store_file_bytes + s.memstore_bytes,
                                files,
                            )
                        }
                        (None, false) => ("disabled", String::new(), 0, 0),
                        (None, true) => ("offline", String::new(), 0, 0),
                    };
                    if state == "offline" {
                        transitions.push(TransitionRow {
                            table: name.clone(),
                            region_id: r.region_id.clone(),
                            state: state.into(),
                            server: String::new(),
                        });
                    }
                    regions.push(MasterRegionRow {
                        region_id: r.region_id.clone(),
                        start_row: printable_row(&r.start_row),
                        end_row: printable_row(&r.end_row),
                        server,
                        state: state.into(),
                        size_bytes: size,
                        store_files: files,
                    });
                }
                tables.push(TableRow {
                    name: name.clone(),
                    enabled: t.enabled,
                    families: t.families.iter().map(|f| f.name.clone()).collect(),
                    regions,
                });
            }
        });
        MasterStatus {
            servers: vec![server],
            tables,
            regions_in_transition: transitions,
            dead_servers: Vec::new(),
        }
    }
}

/// Milliseconds since the epoch now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
