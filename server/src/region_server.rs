//! The region server: hosts open regions of many tables and serves `RegionService`.
//!
//! Every request names its region (`RegionRef`). A region not open here answers
//! FAILED_PRECONDITION with `NotServingRegion` details (the client re-locates), unless
//! the table does not exist at all (NOT_FOUND), which the server learns from a
//! [`TableDirectory`] (in standalone mode, the master's catalog).
//!
//! Engine calls are synchronous and may wait on disk or fsync: they run on tokio's
//! blocking pool ([`RegionServer::run`]), never on the async workers, each holding an
//! admission slot ([`crate::admission`]).
//!
//! Thread safety: the map of online regions is behind a `RwLock` read on every request
//! and written only when regions open or close.

pub mod control;
pub mod heartbeat;
pub mod lease;
mod observe;
mod scan;
mod service;
mod split;
mod write;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::RwLock;
use strata_proto::v1::RegionRef;
use strata_storage::{Engine, Region, RegionDescriptor};
use tonic::Status;

use crate::admission::{Admission, Permit};
use crate::config::ServerSection;
use crate::error::{internal, invalid, not_serving, shutting_down, storage_status, unknown_table};
use crate::metrics::{RegionCounters, ServerMetrics};
use crate::slowlog::SlowLog;

pub use service::RegionGrpc;

/// What the region server knows about a table it may not host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableState {
    /// No such table.
    Unknown,
    /// The table exists and is disabled: its regions are closed.
    Disabled,
    /// The table exists and is enabled.
    Enabled,
}

/// Answers whether a table exists (the master's catalog, or a cached view of it).
pub trait TableDirectory: Send + Sync {
    /// The table's state.
    fn table_state(&self, table: &str) -> TableState;
}

/// Test hooks (not for production use).
#[doc(hidden)]
#[derive(Clone, Debug, Default)]
pub struct TestHooks {
    /// Every Get sleeps this long while holding its admission slot.
    pub get_delay: Duration,
    /// Every Get sleeps this long inside its engine (read) step, on the blocking pool.
    pub get_read_delay: Duration,
}

/// A region open on this server, with the assignment epoch it was opened under.
#[derive(Debug)]
pub struct OnlineRegion {
    /// The open region.
    pub region: Arc<Region>,
    /// Assignment epoch: requests naming another (non-zero) epoch are refused.
    pub epoch: u64,
    /// Request counters of this region (and its table).
    pub counters: Arc<RegionCounters>,
}

/// The region server's state, shared by its gRPC service and the master.
pub struct RegionServer {
    engine: Arc<Engine>,
    online: RwLock<HashMap<String, HashMap<String, Arc<OnlineRegion>>>>,
    admission: Admission,
    tables: Arc<dyn TableDirectory>,
    shutting_down: AtomicBool,
    max_message_size: usize,
    hooks: TestHooks,
    metrics: Arc<ServerMetrics>,
    slow_log: SlowLog,
    /// Cluster mode: the lease from a remote master and the shared `root_dir`; unset in
    /// standalone mode, where the master lives in this process.
    cluster: OnceLock<control::ClusterMode>,
    /// Requests admitted since start (reported to the master for `status 'detailed'`).
    requests: AtomicU64,
}

impl std::fmt::Debug for RegionServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegionServer")
            .field("regions", &self.online_count())
            .finish_non_exhaustive()
    }
}

impl RegionServer {
    /// A region server with no region open yet.
    pub fn new(
        engine: Arc<Engine>,
        cfg: &ServerSection,
        tables: Arc<dyn TableDirectory>,
        hooks: TestHooks,
    ) -> RegionServer {
        RegionServer {
            engine,
            online: RwLock::new(HashMap::new()),
            admission: Admission::new(cfg.max_inflight, cfg.max_queue, cfg.queue_timeout),
            tables,
            shutting_down: AtomicBool::new(false),
            max_message_size: usize::try_from(cfg.max_message_size.0).unwrap_or(usize::MAX),
            hooks,
            metrics: Arc::new(ServerMetrics::default()),
            slow_log: SlowLog::new(cfg.slow_request_threshold, cfg.slow_log_entries),
            cluster: OnceLock::new(),
            requests: AtomicU64::new(0),
        }
    }

    /// The engine the regions live in.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Cluster mode: every request depends on `lease`, and the master may open and
    /// close regions under `root_dir` over gRPC. Set once, before serving.
    pub fn join_cluster(&self, lease: Arc<lease::Lease>, root_dir: std::path::PathBuf) {
        let _ = self.cluster.set(control::ClusterMode {
            lease,
            root_dir,
            fenced: AtomicBool::new(false),
        });
    }

    /// `Ok` unless this server's lease from the master lapsed.
    pub(crate) fn check_lease(&self) -> Result<(), Status> {
        self.cluster.get().map_or(Ok(()), |c| c.lease.check())
    }

    /// The check before acknowledging a request on `online` (cluster mode): the lease
    /// holds and the region was not closed meanwhile. A lease that lapsed is renewed only
    /// after every region was fenced (`heartbeat.rs`), so a request that spans a lapse
    /// fails one of the two checks even if the lease is valid again by now.
    pub(crate) fn check_still_serving(&self, online: &OnlineRegion) -> Result<(), Status> {
        if self.cluster.get().is_none() {
            return Ok(());
        }
        self.check_lease()?;
        let d = online.region.descriptor();
        let same = self
            .online
            .read()
            .get(&d.table)
            .and_then(|t| t.get(&d.region_id))
            .is_some_and(|o| std::ptr::eq(Arc::as_ptr(o), online));
        if same {
            Ok(())
        } else {
            Err(Status::unavailable(format!(
                "region {} was closed on this server while the request ran; re-locate",
                d.region_id
            )))
        }
    }

    /// Admission figures (in flight, queued, rejected).
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// Request metrics.
    pub fn metrics(&self) -> &Arc<ServerMetrics> {
        &self.metrics
    }

    /// The slow-request log.
    pub fn slow_log(&self) -> &SlowLog {
        &self.slow_log
    }

    /// Opens (or, with `create`, creates) the region in `dir` and serves it under
    /// `epoch`. Blocking: call from a blocking context.
    pub fn open_region(
        &self,
        dir: &Path,
        create: Option<RegionDescriptor>,
        epoch: u64,
    ) -> strata_storage::Result<()> {
        if self.reassign_epoch(dir, epoch) {
            return Ok(());
        }
        let region = match create {
            Some(desc) => self.engine.create_region(dir, desc)?,
            None => self.engine.open_region(dir)?,
        };
        let d = region.descriptor();
        let (table, id) = (d.table.clone(), d.region_id.clone());
        let counters = self.metrics.region_counters(&table);
        tracing::info!(region = %region.name(), epoch, "serving region");
        let old = self.online.write().entry(table).or_default().insert(
            id,
            Arc::new(OnlineRegion {
                region,
                epoch,
                counters,
            }),
        );
        if let Some(old) = old {
            // Never two live copies of one region: close the replaced one.
            old.region.close(false)?;
        }
        Ok(())
    }

    /// If the region in `dir` is open here already (an open the master retried, or a
    /// master that restarted mid-assignment), serve it under `epoch` without reopening.
    fn reassign_epoch(&self, dir: &Path, epoch: u64) -> bool {
        let mut online = self.online.write();
        for regions in online.values_mut() {
            for o in regions.values_mut() {
                if o.region.dir() == dir {
                    *o = Arc::new(OnlineRegion {
                        region: o.region.clone(),
                        epoch,
                        counters: o.counters.clone(),
                    });
                    return true;
                }
            }
        }
        false
    }

    /// Stops serving a region, flushes and closes it. Blocking.
    pub fn close_region(&self, table: &str, region_id: &str) -> strata_storage::Result<()> {
        let removed = {
            let mut online = self.online.write();
            let r = online.get_mut(table).and_then(|t| t.remove(region_id));
            if online.get(table).is_some_and(HashMap::is_empty) {
                online.remove(table);
            }
            r
        };
        match removed {
            Some(r) => {
                let res = r.region.close(true);
                tracing::info!(region = %r.region.name(), ok = res.is_ok(), "region closed, no longer served");
                res
            }
            None => Ok(()),
        }
    }

    /// Every online region.
    pub fn online_regions(&self) -> Vec<Arc<OnlineRegion>> {
        let online = self.online.read();
        online.values().flat_map(|t| t.values().cloned()).collect()
    }

    /// Requests admitted since start.
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Number of online regions.
    pub fn online_count(&self) -> usize {
        self.online.read().values().map(HashMap::len).sum()
    }

    /// Refuses new requests (UNAVAILABLE); requests already executing finish.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        self.admission.close();
    }

    /// Flushes and closes every region (after [`begin_shutdown`](Self::begin_shutdown)).
    /// Blocking. Returns the first error after trying every region.
    pub fn close_all(&self) -> strata_storage::Result<()> {
        let all: Vec<_> = self.online.write().drain().collect();
        let mut first_err = None;
        for (_, regions) in all {
            for (_, r) in regions {
                if let Err(e) = r.region.close(true) {
                    tracing::error!(region = %r.region.name(), error = %e, "close failed");
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    async fn admit(&self) -> Result<Permit, Status> {
        if self.is_shutting_down() {
            return Err(shutting_down());
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.admission.admit().await
    }

    /// The online region a request names, or the status telling the client why not.
    fn locate(&self, r: Option<&RegionRef>) -> Result<Arc<OnlineRegion>, Status> {
        let r = r.ok_or_else(|| invalid("request has no region (RegionRef)"))?;
        self.check_lease()?;
        let found = self
            .online
            .read()
            .get(&r.table)
            .and_then(|t| t.get(&r.region_id))
            .cloned();
        match found {
            Some(o) if r.epoch != 0 && r.epoch != o.epoch => Err(not_serving(
                &r.table,
                &r.region_id,
                &format!(
                    "located at epoch {}, now open at epoch {}; re-locate",
                    r.epoch, o.epoch
                ),
            )),
            Some(o) => Ok(o),
            None => Err(self.not_here(&r.table, &r.region_id)),
        }
    }

    fn not_here(&self, table: &str, region_id: &str) -> Status {
        match self.tables.table_state(table) {
            TableState::Unknown => unknown_table(table),
            TableState::Disabled => not_serving(
                table,
                region_id,
                &format!("table {table:?} is disabled; enable it first"),
            ),
            TableState::Enabled => not_serving(
                table,
                region_id,
                "region is not open on this server; re-locate",
            ),
        }
    }

    /// Runs `f` on the blocking pool holding `permit`; storage errors become statuses
    /// (a region closed because it moved or its table was disabled becomes
    /// FAILED_PRECONDITION, so the client re-locates).
    /// Adds the engine time and waits of the call to `times`.
    async fn run<T, F>(
        self: &Arc<Self>,
        permit: Permit,
        online: Arc<OnlineRegion>,
        times: &mut crate::metrics::CallTimes,
        f: F,
    ) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&Region) -> Result<T, Status> + Send + 'static,
    {
        let me = self.clone();
        let (r, t) = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            observe::timed(|| {
                let out = f(&online.region).map_err(|s| me.refine(&online, s))?;
                // Fencing: nothing finished after the lease lapsed is acknowledged.
                me.check_still_serving(&online)?;
                Ok(out)
            })
        })
        .await
        .map_err(|e| internal(format!("request task failed: {e}")))?;
        times.add(t);
        r
    }

    /// A request on `online` failed with `status`: if the region closed because it left
    /// this server, say so.
    fn refine(&self, online: &OnlineRegion, status: Status) -> Status {
        if status.code() != tonic::Code::Unavailable || self.is_shutting_down() {
            return status;
        }
        let d = online.region.descriptor();
        let still_here = self
            .online
            .read()
            .get(&d.table)
            .and_then(|t| t.get(&d.region_id))
            .is_some_and(|o| std::ptr::eq(Arc::as_ptr(o), online));
        if still_here {
            status
        } else {
            self.not_here(&d.table, &d.region_id)
        }
    }
}

/// Maps a storage result for use inside [`RegionServer::run`].
pub(crate) fn storage<T>(r: strata_storage::Result<T>) -> Result<T, Status> {
    r.map_err(|e| storage_status(&e))
}
