//! Which region servers are alive: registration, heartbeats and expiry.
//!
//! A server is live from its registration until `master.server_timeout` passes without
//! a heartbeat from it (measured from when the master *received* the last one; see
//! docs/cluster.md, "Fencing"). The local region server of standalone mode is registered
//! as permanent and never expires. Membership is not persisted: after a restart the
//! master knows no server until they register again, and it waits a full
//! `server_timeout` after its own start before it treats a server as dead (the
//! `grace_over` check), so servers that are alive keep their regions.
//!
//! Thread safety: one `RwLock` around the map; no lock is held across an RPC.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use strata_proto::v1 as pb;

use super::RegionHost;

/// Most recently dead servers remembered for `status`.
const MAX_DEAD_REMEMBERED: usize = 32;

/// One live region server.
#[derive(Clone)]
pub struct ServerEntry {
    /// Distinguishes restarts on one address.
    pub start_code: u64,
    /// How the master opens and closes regions there.
    pub host: Arc<dyn RegionHost>,
    /// When the master last heard from it.
    pub last_seen: Instant,
    /// Never expires (standalone mode's in-process server).
    pub permanent: bool,
    /// Load figures of its last heartbeat.
    pub load: pb::ServerLoad,
    /// Requests per second between its last two heartbeats.
    pub requests_per_second: f64,
}

/// The live servers, by address.
pub struct Membership {
    servers: RwLock<BTreeMap<String, ServerEntry>>,
    dead: Mutex<VecDeque<String>>,
    /// Servers that reported a clean stop (until they register again): their regions
    /// are closed, so they are reassigned even within the start-up grace period.
    left: Mutex<VecDeque<String>>,
    timeout: Duration,
    started: Instant,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("servers", &self.servers.read().keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Membership {
    /// No server yet; `timeout` is `master.server_timeout`.
    pub fn new(timeout: Duration) -> Membership {
        Membership {
            servers: RwLock::new(BTreeMap::new()),
            dead: Mutex::new(VecDeque::new()),
            left: Mutex::new(VecDeque::new()),
            timeout,
            started: Instant::now(),
        }
    }

    /// Adds (or replaces) a server.
    pub fn register(
        &self,
        address: &str,
        start_code: u64,
        host: Arc<dyn RegionHost>,
        permanent: bool,
    ) {
        let entry = ServerEntry {
            start_code,
            host,
            last_seen: Instant::now(),
            permanent,
            load: pb::ServerLoad::default(),
            requests_per_second: 0.0,
        };
        self.servers.write().insert(address.to_string(), entry);
        self.dead.lock().retain(|d| d != address);
        self.left.lock().retain(|d| d != address);
    }

    /// Records a heartbeat; false if the server is unknown (or restarted), which tells
    /// it to register again.
    pub fn heartbeat(&self, address: &str, start_code: u64, load: pb::ServerLoad) -> bool {
        let mut servers = self.servers.write();
        let Some(e) = servers.get_mut(address) else {
            return false;
        };
        if e.start_code != start_code {
            return false;
        }
        let now = Instant::now();
        let secs = now.duration_since(e.last_seen).as_secs_f64();
        if secs > 0.0 && load.requests >= e.load.requests {
            e.requests_per_second = (load.requests - e.load.requests) as f64 / secs;
        }
        e.last_seen = now;
        e.load = load;
        true
    }

    /// Removes a server that left cleanly (not the permanent one, not another
    /// incarnation on the same address); false if there was none.
    pub fn remove(&self, address: &str, start_code: u64) -> bool {
        let mut servers = self.servers.write();
        let ours = servers
            .get(address)
            .is_some_and(|e| !e.permanent && e.start_code == start_code);
        if ours {
            servers.remove(address);
            drop(servers);
            let mut left = self.left.lock();
            left.retain(|d| d != address);
            left.push_back(address.to_string());
            if left.len() > MAX_DEAD_REMEMBERED {
                left.pop_front();
            }
        }
        ours
    }

    /// True if `address` reported a clean stop and has not registered since.
    pub fn has_left(&self, address: &str) -> bool {
        self.left.lock().iter().any(|d| d == address)
    }

    /// Removes servers silent for `server_timeout`; returns their addresses.
    pub fn expire(&self) -> Vec<String> {
        let now = Instant::now();
        let mut servers = self.servers.write();
        let dead: Vec<String> = servers
            .iter()
            .filter(|(_, e)| !e.permanent && now.duration_since(e.last_seen) > self.timeout)
            .map(|(a, _)| a.clone())
            .collect();
        for a in &dead {
            servers.remove(a);
        }
        drop(servers);
        let mut list = self.dead.lock();
        for a in &dead {
            list.push_back(a.clone());
            if list.len() > MAX_DEAD_REMEMBERED {
                list.pop_front();
            }
        }
        dead
    }

    /// True once this master has run for `server_timeout`: a server that has not
    /// registered by then is dead (its lease ran out even if it heard from the previous
    /// master incarnation just before that one stopped).
    pub fn grace_over(&self) -> bool {
        self.started.elapsed() > self.timeout
    }

    /// Is `address` live?
    pub fn is_live(&self, address: &str) -> bool {
        self.servers.read().contains_key(address)
    }

    /// The host of a live server.
    pub fn host(&self, address: &str) -> Option<Arc<dyn RegionHost>> {
        self.servers.read().get(address).map(|e| e.host.clone())
    }

    /// Addresses of the live servers, sorted.
    pub fn live(&self) -> Vec<String> {
        self.servers.read().keys().cloned().collect()
    }

    /// A copy of every live server's entry.
    pub fn entries(&self) -> Vec<(String, ServerEntry)> {
        self.servers
            .read()
            .iter()
            .map(|(a, e)| (a.clone(), e.clone()))
            .collect()
    }

    /// Servers declared dead recently, oldest first.
    pub fn dead(&self) -> Vec<String> {
        self.dead.lock().iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    struct Nowhere;
    impl RegionHost for Nowhere {
        fn open_region(
            &self,
            _: &Path,
            _: Option<strata_storage::RegionDescriptor>,
            _: u64,
        ) -> strata_storage::Result<()> {
            Ok(())
        }
        fn close_region(&self, _: &str, _: &str) -> strata_storage::Result<()> {
            Ok(())
        }
        fn address(&self) -> String {
            "x".into()
        }
    }

    #[test]
    fn heartbeats_keep_servers_alive_and_restarts_reregister() {
        let m = Membership::new(Duration::from_millis(50));
        m.register("a", 1, Arc::new(Nowhere), false);
        m.register("local", 1, Arc::new(Nowhere), true);
        assert!(m.heartbeat("a", 1, pb::ServerLoad::default()));
        assert!(!m.heartbeat("a", 2, pb::ServerLoad::default()), "restarted");
        assert!(!m.heartbeat("b", 1, pb::ServerLoad::default()), "unknown");
        assert!(m.expire().is_empty());
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(m.expire(), vec!["a".to_string()]);
        assert_eq!(m.live(), vec!["local".to_string()], "permanent stays");
        assert_eq!(m.dead(), vec!["a".to_string()]);
        assert!(m.grace_over());
        m.register("a", 3, Arc::new(Nowhere), false);
        assert!(m.dead().is_empty());
        assert!(!m.remove("a", 2), "another incarnation stays");
        assert!(!m.remove("local", 1), "the permanent server stays");
        assert!(m.remove("a", 3));
        assert_eq!(m.live(), vec!["local".to_string()]);
        assert!(m.has_left("a") && m.dead().is_empty());
        m.register("a", 4, Arc::new(Nowhere), false);
        assert!(!m.has_left("a"), "back");
    }
}
