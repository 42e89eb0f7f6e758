//! The assignment manager: opens regions on servers, closes them, moves them, and the
//! repair pass that drives every region back to a steady state.
//!
//! Each step of a transition is saved in the catalog before the master acts on it
//! (`Offline -> Opening -> Open`, `Open -> Closing -> Offline`), with the epoch bumped at
//! `Opening`, so a master that restarts anywhere in between finds the step and resumes:
//! - `Opening`/`Open` on a server that registers and reports the region at that epoch
//!   becomes `Open`; not reported, it becomes `Offline` and is assigned again;
//! - on a server that does not come back within `master.server_timeout`: `Offline`, then
//!   assigned elsewhere (the old server's lease has lapsed by then: it stopped serving);
//! - `Closing`: closed again (closing is idempotent), then `Offline`;
//! - `Offline` (not pinned by `unassign`) in an enabled table: assigned.
//!
//! Every method here blocks (fsync, RPCs): callers hold the master's operation lock and
//! run on the blocking pool. Opens on different servers run in parallel, one thread per
//! target server.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use strata_storage::{Error, Result};

use super::Master;
use super::catalog::RegionState;

/// First and longest wait before an open that failed is tried again (doubling).
const OPEN_RETRY_BACKOFF: (Duration, Duration) =
    (Duration::from_millis(50), Duration::from_secs(1));

/// (table, region id, target server).
pub(crate) type Placement = (String, String, String);

impl Master {
    /// Regions assigned (open or opening) per live server, every live server listed.
    pub(crate) fn load_by_server(&self) -> BTreeMap<String, Vec<(String, String)>> {
        let mut load: BTreeMap<String, Vec<(String, String)>> = self
            .servers
            .live()
            .into_iter()
            .map(|a| (a, Vec::new()))
            .collect();
        self.catalog.read(|c| {
            for (name, t) in &c.tables {
                for r in &t.regions {
                    if matches!(r.state, RegionState::Open | RegionState::Opening)
                        && let Some(v) = load.get_mut(&r.server)
                    {
                        v.push((name.clone(), r.region_id.clone()));
                    }
                }
            }
        });
        load
    }

    /// Targets for `regions`, each to the live server with the fewest regions at that
    /// point (ties by address), so a batch spreads evenly. Empty if no server is live.
    pub(crate) fn place(&self, regions: Vec<(String, String)>) -> Vec<Placement> {
        let mut counts: Vec<(usize, String)> = self
            .load_by_server()
            .into_iter()
            .map(|(a, v)| (v.len(), a))
            .collect();
        if counts.is_empty() {
            return Vec::new();
        }
        regions
            .into_iter()
            .map(|(t, r)| {
                counts.sort();
                let slot = &mut counts[0];
                slot.0 += 1;
                (t, r, slot.1.clone())
            })
            .collect()
    }

    /// Opens each region on its target: one catalog write marks them all `Opening`
    /// under a new epoch, the opens run in parallel per target server, one write records
    /// the outcome (`Open`, or `Offline` to be retried by the repair pass). Returns the
    /// errors.
    pub(crate) fn assign_many(&self, plan: Vec<Placement>) -> Vec<Error> {
        if plan.is_empty() {
            return Vec::new();
        }
        let marked = self.catalog.update(|c| {
            let mut out = Vec::new();
            for (table, id, target) in &plan {
                let Some(t) = c.tables.get_mut(table) else {
                    continue;
                };
                if !t.enabled {
                    continue;
                }
                let families = t.families.clone();
                let Some(r) = t.region_mut(id) else { continue };
                r.epoch += 1;
                r.server = target.clone();
                r.state = RegionState::Opening;
                r.pinned_offline = false;
                let r = r.clone();
                let view = super::catalog::TableEntry {
                    families,
                    enabled: true,
                    regions: Vec::new(),
                    created_ms: 0,
                };
                out.push((table.clone(), r, view, target.clone()));
            }
            Ok(out)
        });
        let marked = match marked {
            Ok(m) => m,
            Err(e) => return vec![e],
        };
        let mut by_target: HashMap<String, Vec<_>> = HashMap::new();
        for m in marked {
            by_target.entry(m.3.clone()).or_default().push(m);
        }
        let outcomes: Vec<(String, String, u64, String, Result<()>)> = std::thread::scope(|s| {
            let workers: Vec<_> = by_target
                .into_iter()
                .map(|(target, regions)| {
                    s.spawn(move || {
                        let host = self.servers.host(&target);
                        regions
                            .into_iter()
                            .map(|(table, r, view, target)| {
                                let result = match &host {
                                    None => Err(Error::InvalidRegion(format!(
                                        "server {target} is not live"
                                    ))),
                                    Some(h) => self.open_args(&table, &view, &r).and_then(
                                        |(dir, create)| h.open_region(&dir, create, r.epoch),
                                    ),
                                };
                                (table, r.region_id, r.epoch, target, result)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        });
        let mut errors = Vec::new();
        let saved = self.catalog.update(|c| {
            for (table, id, epoch, target, result) in &outcomes {
                let Some(r) = c.tables.get_mut(table).and_then(|t| t.region_mut(id)) else {
                    continue;
                };
                if r.epoch != *epoch || &r.server != target {
                    continue; // reassigned meanwhile
                }
                r.state = if result.is_ok() {
                    RegionState::Open
                } else {
                    r.server.clear();
                    RegionState::Offline
                };
            }
            Ok(())
        });
        let mut backoff = self.open_backoff.lock();
        for (table, id, epoch, target, result) in outcomes {
            let key = (table.clone(), id.clone());
            match result {
                Ok(()) => {
                    backoff.remove(&key);
                    tracing::info!(%table, region = %id, epoch, server = %target, "region open");
                }
                Err(e) => {
                    let failures = backoff.get(&key).map_or(0, |b| b.1) + 1;
                    let wait = OPEN_RETRY_BACKOFF
                        .0
                        .saturating_mul(1 << failures.min(10))
                        .min(OPEN_RETRY_BACKOFF.1);
                    backoff.insert(key, (Instant::now() + wait, failures));
                    if failures == 1 || failures.is_multiple_of(20) {
                        tracing::warn!(%table, region = %id, server = %target, failures, error = %e, "open failed; will retry");
                    }
                    errors.push(e);
                }
            }
        }
        drop(backoff);
        if let Err(e) = saved {
            errors.push(e);
        }
        errors
    }

    /// Closes a region (flushing it) on its server and marks it `Offline`; `pin` keeps
    /// it offline until an explicit assign. A close that fails on a live server leaves
    /// the region `Closing` for the repair pass to retry.
    pub(crate) fn unassign_region(&self, table: &str, id: &str, pin: bool) -> Result<()> {
        let server = self.catalog.update(|c| {
            let r = c
                .tables
                .get_mut(table)
                .and_then(|t| t.region_mut(id))
                .ok_or_else(|| Error::InvalidArgument(format!("no region {table}/{id}")))?;
            if !r.server.is_empty() {
                r.state = RegionState::Closing;
            }
            Ok(r.server.clone())
        })?;
        if let Some(host) = self.servers.host(&server) {
            host.close_region(table, id)?;
        }
        self.catalog.update(|c| {
            if let Some(r) = c.tables.get_mut(table).and_then(|t| t.region_mut(id)) {
                r.state = RegionState::Offline;
                r.server.clear();
                r.pinned_offline = pin;
            }
            Ok(())
        })?;
        tracing::info!(%table, region = %id, from = %server, "region closed");
        Ok(())
    }

    /// Moves a region: close (flush) on its server, then open on `target`.
    pub(crate) fn move_region_blocking(&self, table: &str, id: &str, target: &str) -> Result<()> {
        if !self.servers.is_live(target) {
            return Err(Error::InvalidArgument(format!(
                "server {target} is not a live region server"
            )));
        }
        self.unassign_region(table, id, false)?;
        let plan = vec![(table.to_string(), id.to_string(), target.to_string())];
        match self.assign_many(plan).into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// One repair pass: expire silent servers, then drive every region that is not
    /// steady (see the module docs). Returns how many regions it acted on.
    pub(crate) fn repair(&self) -> usize {
        for dead in self.servers.expire() {
            tracing::warn!(server = %dead, "region server missed its heartbeats: dead; reassigning its regions");
        }
        let grace_over = self.servers.grace_over();
        let mut to_close = Vec::new();
        let mut to_offline = Vec::new();
        let mut to_assign = Vec::new();
        self.catalog.read(|c| {
            for (name, t) in &c.tables {
                for r in &t.regions {
                    let live = self.servers.is_live(&r.server);
                    let key = (name.clone(), r.region_id.clone());
                    match r.state {
                        RegionState::Offline if t.enabled && !r.pinned_offline => {
                            to_assign.push(key);
                        }
                        RegionState::Offline => {}
                        RegionState::Closing if live => to_close.push(key),
                        _ if live && !t.enabled => to_close.push(key),
                        _ if !live && (grace_over || self.servers.has_left(&r.server)) => {
                            to_offline.push(key)
                        }
                        _ => {}
                    }
                }
            }
        });
        let mut acted = to_close.len() + to_offline.len();
        for (t, id) in to_close {
            if let Err(e) = self.unassign_region(&t, &id, false) {
                tracing::warn!(table = %t, region = %id, error = %e, "close failed; will retry");
            }
        }
        if !to_offline.is_empty() {
            let r = self.catalog.update(|c| {
                for (t, id) in &to_offline {
                    if let Some(te) = c.tables.get_mut(t) {
                        let enabled = te.enabled;
                        if let Some(r) = te.region_mut(id) {
                            r.state = RegionState::Offline;
                            r.server.clear();
                            if enabled && !r.pinned_offline {
                                to_assign.push((t.clone(), id.clone()));
                            }
                        }
                    }
                }
                Ok(())
            });
            if let Err(e) = r {
                tracing::error!(error = %e, "cannot save the catalog");
            }
        }
        {
            let now = Instant::now();
            let backoff = self.open_backoff.lock();
            to_assign.retain(|k| backoff.get(k).is_none_or(|b| b.0 <= now));
        }
        if !to_assign.is_empty() {
            acted += to_assign.len();
            let plan = self.place(to_assign);
            self.assign_many(plan);
        }
        acted
    }

    /// A server registered (first start, restart, or after a master restart): record
    /// it, keep the regions it reports at their current epoch, mark the regions the
    /// catalog gave it but it does not report as `Offline` (assigned again by the next
    /// repair pass), and close what it reports but no longer owns.
    pub(crate) fn register_blocking(
        &self,
        address: &str,
        start_code: u64,
        host: std::sync::Arc<dyn super::RegionHost>,
        reported: Vec<(String, String, u64)>,
    ) -> Result<()> {
        self.servers
            .register(address, start_code, host.clone(), false);
        let reported_map: HashMap<(String, String), u64> = reported
            .iter()
            .map(|(t, r, e)| ((t.clone(), r.clone()), *e))
            .collect();
        let stale = self.catalog.update(|c| {
            for (name, t) in c.tables.iter_mut() {
                for r in t.regions.iter_mut().filter(|r| r.server == address) {
                    let key = (name.clone(), r.region_id.clone());
                    let kept = reported_map.get(&key) == Some(&r.epoch);
                    match r.state {
                        RegionState::Open | RegionState::Opening if kept && t.enabled => {
                            r.state = RegionState::Open;
                        }
                        RegionState::Closing if kept => {}
                        _ => {
                            r.state = RegionState::Offline;
                            r.server.clear();
                        }
                    }
                }
            }
            let owned = |t: &str, id: &str, e: u64| {
                c.tables
                    .get(t)
                    .and_then(|te| te.region(id))
                    .is_some_and(|r| r.server == address && r.epoch == e)
            };
            Ok(reported
                .iter()
                .filter(|(t, id, e)| !owned(t, id, *e))
                .cloned()
                .collect::<Vec<_>>())
        })?;
        for (t, id, _) in stale {
            tracing::info!(server = %address, table = %t, region = %id, "closing a region the server no longer owns");
            if let Err(e) = host.close_region(&t, &id) {
                tracing::warn!(error = %e, "closing a stale region failed");
            }
        }
        tracing::info!(server = %address, regions = reported.len(), "region server registered");
        Ok(())
    }
}
