//! [`Client`]: the entry point. It holds what tables and the admin share: the
//! configuration, the channel pool, and the region-location cache filled from the master.
//!
//! Thread safety: `Client` is a cheap `Arc` clone; share it across tasks.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use strata_proto::v1 as pb;

use crate::admin::Admin;
use crate::config::ClientConfig;
use crate::connection::{Connections, MasterClient, RegionClient, normalize, request};
use crate::error::{Error, Result};
use crate::get::Get;
use crate::location::{LocationCache, RegionInfo};
use crate::table::Table;

/// A connection to a Strata cluster, through its master.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// State shared by a client's tables and admin.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: ClientConfig,
    master_address: String,
    connections: Connections,
    pub(crate) locations: LocationCache,
    /// Requests sent to the master (locations and admin), for the cache's hit figures.
    master_requests: AtomicU64,
}

impl Client {
    /// Connects to the master at `master_address` (e.g. `http://127.0.0.1:16020`; the
    /// scheme may be left out) with the default [`ClientConfig`]. In standalone mode the
    /// master and the region server share this address.
    pub async fn connect(master_address: impl AsRef<str>) -> Result<Client> {
        Client::connect_with(master_address, ClientConfig::default()).await
    }

    /// Connects with explicit settings. Fails at once if the master cannot be reached
    /// within `config.connect_timeout`.
    pub async fn connect_with(
        master_address: impl AsRef<str>,
        config: ClientConfig,
    ) -> Result<Client> {
        let inner = Inner {
            master_address: normalize(master_address.as_ref()),
            connections: Connections::new(config.clone()),
            locations: LocationCache::default(),
            master_requests: AtomicU64::new(0),
            config,
        };
        inner.master().await?;
        Ok(Client {
            inner: Arc::new(inner),
        })
    }

    /// Table and cluster administration.
    pub fn admin(&self) -> Admin {
        Admin::new(Arc::clone(&self.inner))
    }

    /// A handle on table `name`. Nothing is checked until it is used: a missing table
    /// shows up as [`Error::NotFound`] on the first call.
    pub fn table(&self, name: impl Into<String>) -> Table {
        Table::new(Arc::clone(&self.inner), name.into())
    }

    /// The settings in force.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The master's address, normalized.
    pub fn master_address(&self) -> &str {
        &self.inner.master_address
    }

    /// Requests this client has sent to the master (region locations and admin calls).
    /// After warm-up it should grow only when regions move.
    pub fn master_request_count(&self) -> u64 {
        self.inner.master_requests.load(Ordering::Relaxed)
    }
}

impl Inner {
    /// The master's address, normalized.
    pub(crate) fn master_address(&self) -> &str {
        &self.master_address
    }

    /// A client of the master.
    pub(crate) async fn master(&self) -> Result<MasterClient> {
        self.master_requests.fetch_add(1, Ordering::Relaxed);
        self.connections.master(&self.master_address).await
    }

    /// A client of the region server at `address`.
    pub(crate) async fn region_server(&self, address: &str) -> Result<RegionClient> {
        self.connections.region(address).await
    }

    /// Converts a master status, dropping the master's channel if the network failed.
    pub(crate) fn master_error(&self, status: &tonic::Status) -> Error {
        let err = Error::from_master_status(status);
        if matches!(err, Error::Transport { .. }) {
            self.connections.forget(&self.master_address);
        }
        err
    }

    /// After `err` from the server of `region`: drop what it proved stale.
    pub(crate) fn region_failed(&self, region: &RegionInfo, err: &Error) {
        if err.needs_relocate() {
            self.locations.invalidate(region);
        }
        if matches!(err, Error::Transport { .. }) {
            self.connections.forget(&region.server);
        }
    }

    /// The region of `table` holding `row`: from the cache, else from the master.
    pub(crate) async fn locate(
        &self,
        table: &str,
        row: &[u8],
        timeout: Duration,
    ) -> Result<Arc<RegionInfo>> {
        if let Some(region) = self.locations.lookup(table, row) {
            return Ok(region);
        }
        // Boxed: a cache miss is rare, and a master call's state would otherwise enlarge
        // (and be moved with) the future of every call.
        Box::pin(self.locate_from_master(table, row, timeout)).await
    }

    async fn locate_from_master(
        &self,
        table: &str,
        row: &[u8],
        timeout: Duration,
    ) -> Result<Arc<RegionInfo>> {
        let message = pb::LocateRegionRequest {
            table: table.to_owned(),
            row: bytes::Bytes::copy_from_slice(row),
        };
        let response = self
            .master()
            .await?
            .locate_region(request(message, timeout))
            .await
            .map_err(|s| self.master_error(&s))?;
        let location = response.into_inner().location.ok_or_else(|| {
            Error::protocol(format!("master returned no location for table {table}"))
        })?;
        let region = RegionInfo::from(location);
        if region.table != table || !region.contains(row) {
            return Err(Error::protocol(format!(
                "master located row {row:?} of table {table} in region {} of table {} [{:?}, {:?})",
                region.region_id, region.table, region.start_row, region.end_row
            )));
        }
        if !region.is_open() {
            // Not cached: ask again after the backoff.
            return Err(Error::Unavailable(format!(
                "region {} of table {table} is {}",
                region.region_id, region.state
            )));
        }
        Ok(self.locations.insert(region))
    }

    /// One attempt of a call to the region of `table` holding `row`: locate it, call its
    /// server, and drop what a failure proved stale.
    pub(crate) async fn on_region<T, F, Fut>(
        &self,
        table: &str,
        row: &[u8],
        timeout: Duration,
        call: F,
    ) -> Result<T>
    where
        F: FnOnce(RegionClient, Arc<RegionInfo>) -> Fut,
        Fut: Future<Output = Result<T, tonic::Status>>,
    {
        let region = self.locate(table, row, timeout).await?;
        let result = match self.region_server(&region.server).await {
            Ok(client) => call(client, Arc::clone(&region))
                .await
                .map_err(|s| Error::from_region_status(&s)),
            Err(e) => Err(e),
        };
        self.settle(&region, result)
    }

    /// One attempt of a get of `row` of `table`: locate its region and read it through
    /// the server's get coalescer (see `coalesce`).
    pub(crate) async fn get_row(
        &self,
        table: &str,
        get: &Get,
        timeout: Duration,
    ) -> Result<Option<pb::Row>> {
        let region = self.locate(table, get.row(), timeout).await?;
        let result = match self.connections.region_gets(&region.server).await {
            Ok((client, gets)) => {
                let message = || get.to_request(Some(region.region_ref()));
                gets.get(client, message, timeout)
                    .await
                    .map_err(|s| Error::from_region_status(&s))
            }
            Err(e) => Err(e),
        };
        self.settle(&region, result)
    }

    /// Passes `result` on, after dropping what its failure proved stale.
    fn settle<T>(&self, region: &RegionInfo, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            self.region_failed(region, e);
        }
        result
    }

    /// Caches regions the master listed (DescribeTable, CreateTable).
    pub(crate) fn learn(&self, regions: &[RegionInfo]) {
        for region in regions.iter().filter(|r| r.is_open()) {
            self.locations.insert(region.clone());
        }
    }
}
