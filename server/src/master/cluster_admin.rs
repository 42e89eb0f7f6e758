//! The master's cluster operations as async calls (membership, status, the meta
//! listing, move/assign/unassign/balance) and the background chore that expires dead
//! servers, repairs assignments and balances.
//!
//! Everything that changes assignments takes the master's operation lock and runs on
//! the blocking pool; heartbeats only touch [`super::membership::Membership`].

use std::sync::Arc;
use std::time::Duration;

use strata_proto::v1 as pb;
use tokio::sync::watch;
use tonic::Status;

use super::Master;
use super::catalog::RegionState;
use super::remote::RemoteHost;
use crate::error::{internal, invalid, storage_status, unknown_table};

/// Shortest and longest period of the repair chore.
const CHORE_PERIOD_RANGE: (Duration, Duration) =
    (Duration::from_millis(20), Duration::from_millis(500));

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> strata_storage::Result<T> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal(format!("master task failed: {e}")))?
        .map_err(|e| storage_status(&e))
}

impl Master {
    /// RegisterServer: a region server joins (or comes back).
    pub async fn register_server(
        self: &Arc<Self>,
        req: pb::RegisterServerRequest,
    ) -> Result<pb::RegisterServerResponse, Status> {
        if self.standalone {
            return Err(Status::failed_precondition(
                "this master runs standalone: it takes no region servers",
            ));
        }
        if !(req.address.starts_with("http://") || req.address.starts_with("https://")) {
            return Err(invalid(format!(
                "server address must be a URL such as http://host:16020, got {:?}",
                req.address
            )));
        }
        let host = Arc::new(
            RemoteHost::new(&req.address, tokio::runtime::Handle::current()).map_err(invalid)?,
        );
        let reported = req
            .regions
            .into_iter()
            .map(|r| (r.table, r.region_id, r.epoch))
            .collect();
        let _op = self.ops.lock().await;
        let me = self.clone();
        blocking(move || me.register_blocking(&req.address, req.start_code, host, reported))
            .await?;
        Ok(pb::RegisterServerResponse {
            heartbeat_interval_ms: self.settings.heartbeat_interval.as_millis() as u64,
            lease_ms: self.settings.lease().as_millis() as u64,
        })
    }

    /// Heartbeat: a live server reports its load.
    pub fn heartbeat(&self, req: pb::HeartbeatRequest) -> pb::HeartbeatResponse {
        let known =
            self.servers
                .heartbeat(&req.address, req.start_code, req.load.unwrap_or_default());
        pb::HeartbeatResponse { reregister: !known }
    }

    /// ReportServerStopped: a region server closed its regions and left; the repair
    /// pass reassigns them at its next round instead of after `server_timeout`.
    pub fn server_stopped(
        &self,
        req: pb::ReportServerStoppedRequest,
    ) -> pb::ReportServerStoppedResponse {
        let removed = self.servers.remove(&req.address, req.start_code);
        if removed {
            tracing::info!(server = %req.address, "region server stopped cleanly; reassigning its regions");
        }
        pb::ReportServerStoppedResponse { removed }
    }

    /// ClusterStatus: live servers with their load, dead ones, region counts.
    pub fn cluster_status(&self, master: &str) -> pb::ClusterStatusResponse {
        let load = self.load_by_server();
        let servers = self
            .servers
            .entries()
            .into_iter()
            .map(|(address, e)| pb::ServerInfo {
                regions: load.get(&address).map_or(0, |v| v.len() as u64),
                address,
                start_code: e.start_code,
                ms_since_heartbeat: e.last_seen.elapsed().as_millis() as u64,
                load: Some(e.load),
                requests_per_second: e.requests_per_second,
            })
            .collect();
        let (tables, regions, in_transition) = self.catalog.read(|c| {
            let all = c.tables.values().flat_map(|t| t.regions.iter());
            let rit = c
                .tables
                .values()
                .filter(|t| t.enabled)
                .flat_map(|t| t.regions.iter())
                .filter(|r| r.state != RegionState::Open && !r.pinned_offline)
                .count();
            (c.tables.len(), all.count(), rit)
        });
        pb::ClusterStatusResponse {
            master: master.to_string(),
            servers,
            tables: tables as u64,
            regions: regions as u64,
            regions_in_transition: in_transition as u64,
            dead_servers: self.servers.dead(),
        }
    }

    /// ListRegions: every region (of one table, or all) with range, server and state.
    pub fn list_regions(&self, table: &str) -> Result<Vec<pb::RegionLocation>, Status> {
        let tables = self.catalog.read(|c| c.tables.clone());
        if !table.is_empty() && !tables.contains_key(table) {
            return Err(unknown_table(table));
        }
        Ok(tables
            .iter()
            .filter(|(name, _)| table.is_empty() || name.as_str() == table)
            .flat_map(|(name, t)| t.regions.iter().map(move |r| self.location(name, t, r)))
            .collect())
    }

    fn region_location(&self, table: &str, id: &str) -> Result<pb::RegionLocation, Status> {
        let t = self
            .catalog
            .table(table)
            .ok_or_else(|| unknown_table(table))?;
        let r = t
            .region(id)
            .ok_or_else(|| Status::not_found(format!("table {table:?} has no region {id:?}")))?;
        Ok(self.location(table, &t, r))
    }

    /// Checks the region exists in an enabled table.
    fn check_region(&self, table: &str, id: &str) -> Result<(), Status> {
        let t = self
            .catalog
            .table(table)
            .ok_or_else(|| unknown_table(table))?;
        if t.region(id).is_none() {
            return Err(Status::not_found(format!(
                "table {table:?} has no region {id:?}"
            )));
        }
        if !t.enabled {
            return Err(Status::failed_precondition(format!(
                "table {table:?} is disabled; enable it first"
            )));
        }
        Ok(())
    }

    /// MoveRegion: close on its server, open on `server` (or the least loaded other
    /// live server when empty).
    pub async fn move_region(
        self: &Arc<Self>,
        table: String,
        id: String,
        server: String,
    ) -> Result<pb::RegionLocation, Status> {
        let _op = self.ops.lock().await;
        self.check_region(&table, &id)?;
        let current = self.region_location(&table, &id)?.server;
        let target = if server.is_empty() {
            self.load_by_server()
                .into_iter()
                .filter(|(a, _)| *a != current)
                .min_by_key(|(a, v)| (v.len(), a.clone()))
                .map(|(a, _)| a)
                .ok_or_else(|| {
                    Status::failed_precondition("no other live region server to move to")
                })?
        } else {
            server
        };
        if !self.servers.is_live(&target) {
            return Err(invalid(format!(
                "server {target:?} is not a live region server (see status 'detailed')"
            )));
        }
        if target != current {
            let me = self.clone();
            let (t, i, to) = (table.clone(), id.clone(), target.clone());
            blocking(move || me.move_region_blocking(&t, &i, &to)).await?;
        }
        self.region_location(&table, &id)
    }

    /// AssignRegion: opens an offline (or unassigned) region on the least loaded server.
    pub async fn assign_region(
        self: &Arc<Self>,
        table: String,
        id: String,
    ) -> Result<pb::RegionLocation, Status> {
        let _op = self.ops.lock().await;
        self.check_region(&table, &id)?;
        let loc = self.region_location(&table, &id)?;
        if loc.state == "open" {
            return Ok(loc);
        }
        let me = self.clone();
        let (t, i) = (table.clone(), id.clone());
        blocking(move || {
            let plan = me.place(vec![(t, i)]);
            if plan.is_empty() {
                return Err(strata_storage::Error::InvalidRegion(
                    "no live region server".into(),
                ));
            }
            me.assign_many(plan).into_iter().next().map_or(Ok(()), Err)
        })
        .await?;
        self.region_location(&table, &id)
    }

    /// UnassignRegion: closes the region and keeps it offline until AssignRegion.
    pub async fn unassign_region_op(
        self: &Arc<Self>,
        table: String,
        id: String,
    ) -> Result<(), Status> {
        let _op = self.ops.lock().await;
        self.check_region(&table, &id)?;
        let me = self.clone();
        blocking(move || me.unassign_region(&table, &id, true)).await
    }

    /// Balance: runs the balancer now.
    pub async fn balance(self: &Arc<Self>) -> Result<usize, Status> {
        let _op = self.ops.lock().await;
        let me = self.clone();
        blocking(move || me.balance_blocking()).await
    }

    /// The background chore of a cluster master: every half heartbeat interval (within
    /// 20..500 ms), expire dead servers and repair assignments; balance when due. Ends
    /// when `stop` turns true.
    pub async fn run_chores(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let period = (self.settings.heartbeat_interval / 2)
            .clamp(CHORE_PERIOD_RANGE.0, CHORE_PERIOD_RANGE.1);
        while !*stop.borrow() {
            {
                let _op = self.ops.lock().await;
                let me = self.clone();
                let r = tokio::task::spawn_blocking(move || {
                    me.repair();
                    if me.balance_due() {
                        let _ = me.balance_blocking();
                    }
                })
                .await;
                if let Err(e) = r {
                    tracing::error!(error = %e, "master chore failed");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
