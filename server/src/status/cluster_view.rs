//! The master page of a cluster master: the catalog (tables, regions, their assignment
//! state) joined with the membership (live servers and the load figures of their last
//! heartbeat, per server and per region).
//!
//! Region figures come from the heartbeat of the server the catalog names, so they are
//! at most `master.heartbeat_interval` old; a region whose server has not reported it
//! yet (just opened, or its server's report was truncated at
//! [`MAX_REGION_LOADS`](crate::region_server::heartbeat::MAX_REGION_LOADS)) shows 0.
//! Reads the catalog and the membership under their own short locks, one after the
//! other; no lock is held across an RPC.

use std::collections::HashMap;
use std::sync::Arc;

use strata_proto::v1 as pb;

use super::model::{MasterRegionRow, MasterStatus, MasterView, ServerRow, TableRow, TransitionRow};
use crate::master::Master;
use crate::master::catalog::RegionState;
use crate::slowlog::printable_row;

/// [`MasterView`] of a cluster master.
pub struct ClusterMasterView {
    /// The master.
    pub master: Arc<Master>,
}

impl MasterView for ClusterMasterView {
    fn master_status(&self) -> MasterStatus {
        let m = &self.master;
        // Dead before live: a server expired between the two reads then shows in
        // neither list for one page, never in both.
        let dead_servers = m.membership().dead();
        let entries = m.membership().entries();
        let assigned = m.load_by_server();
        let servers = entries
            .iter()
            .map(|(address, e)| ServerRow {
                address: address.clone(),
                regions: assigned.get(address).map_or(0, Vec::len),
                requests_per_sec: e.requests_per_second,
                rss_bytes: (e.load.rss_bytes > 0).then_some(e.load.rss_bytes),
                memory_limit_bytes: e.load.memory_limit_bytes,
                memstore_bytes: e.load.memstore_bytes,
                block_cache_bytes: e.load.block_cache_bytes,
                last_heartbeat_ms_ago: u64::try_from(e.last_seen.elapsed().as_millis())
                    .unwrap_or(u64::MAX),
                // A link target from the network: only plain http(s) URLs become links.
                status_url: is_http_url(&e.load.status_url).then(|| e.load.status_url.clone()),
            })
            .collect();
        let reported: HashMap<(&str, &str, &str), &pb::RegionLoad> = entries
            .iter()
            .flat_map(|(address, e)| {
                e.load.region_loads.iter().map(move |r| {
                    (
                        (address.as_str(), r.table.as_str(), r.region_id.as_str()),
                        r,
                    )
                })
            })
            .collect();
        let mut tables = Vec::new();
        let mut transitions = Vec::new();
        m.catalog().read(|c| {
            for (name, t) in &c.tables {
                let mut regions = Vec::with_capacity(t.regions.len());
                for r in &t.regions {
                    let state = match (r.state, t.enabled) {
                        (RegionState::Offline, false) => "disabled",
                        (s, _) => s.as_str(),
                    };
                    let server = if r.state == RegionState::Offline {
                        String::new()
                    } else {
                        r.server.clone()
                    };
                    if t.enabled && r.state != RegionState::Open && !r.pinned_offline {
                        transitions.push(TransitionRow {
                            table: name.clone(),
                            region_id: r.region_id.clone(),
                            state: state.to_string(),
                            server: server.clone(),
                        });
                    }
                    let load =
                        reported.get(&(r.server.as_str(), name.as_str(), r.region_id.as_str()));
                    regions.push(MasterRegionRow {
                        region_id: r.region_id.clone(),
                        start_row: printable_row(&r.start_row),
                        end_row: printable_row(&r.end_row),
                        server,
                        state: state.to_string(),
                        size_bytes: load.map_or(0, |l| l.store_file_bytes + l.memstore_bytes),
                        store_files: load.map_or(0, |l| l.store_files),
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
            servers,
            tables,
            regions_in_transition: transitions,
            dead_servers,
        }
    }
}

fn is_http_url(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://")) && !s.contains(['"', '<', '>', ' '])
}
