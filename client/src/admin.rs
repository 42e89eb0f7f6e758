//! [`Admin`]: tables (create, drop, disable, enable, list, describe) through the master,
//! and per-region work (flush, compaction, status) on the region servers.
//!
//! Flush and compaction of a table ask the master for its regions (DescribeTable), then
//! call each region's server, a few at a time. Creating, dropping, disabling and enabling
//! a table are not idempotent (a second create fails with ALREADY_EXISTS), so they are
//! retried only when the master provably did not run them.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use strata_proto::v1 as pb;

use crate::client::Inner;
use crate::config::ClientConfig;
use crate::connection::{MasterClient, request};
use crate::error::{Error, Result};
use crate::location::RegionInfo;
use crate::retry::{self, Idempotency};

mod cluster;
mod schema;
mod slowlog;
mod split;
mod status;

pub use cluster::{ClusterDetail, ServerDetail, SplitAlgorithm};
pub use schema::{BloomType, Compression, FamilyDescriptor, TableDescription, TableDescriptor};
pub use slowlog::{MAX_SLOW_LOG_LIMIT, ServerSlowLog, SlowRequest};
pub use status::{ClusterStatus, CompactionSummary, RegionStatus, ServerStatus};

/// Regions flushed or compacted at once by a table-wide admin call.
const REGION_CALLS_IN_FLIGHT: usize = 4;

/// Administration of a cluster. Get one with [`Client::admin`](crate::Client::admin).
#[derive(Debug, Clone)]
pub struct Admin {
    inner: Arc<Inner>,
}

impl Admin {
    pub(crate) fn new(inner: Arc<Inner>) -> Admin {
        Admin { inner }
    }

    /// Creates a table; with `split_keys` `[k1, .., kn]` it starts as regions
    /// `[..k1), [k1..k2), .., [kn..)`. Returns its regions.
    pub async fn create_table(
        &self,
        descriptor: TableDescriptor,
        split_keys: Vec<Bytes>,
    ) -> Result<Vec<RegionInfo>> {
        descriptor.validate()?;
        let split_keys = check_split_keys(split_keys)?;
        let message = pb::CreateTableRequest {
            schema: Some(descriptor.to_proto()),
            split_keys,
        };
        let config = self.inner.config.for_admin_work();
        let regions = self
            .master_call(
                &config,
                Idempotency::AtMostOnce,
                "create_table",
                |mut m, t| {
                    let message = message.clone();
                    async move {
                        Ok(m.create_table(request(message, t))
                            .await?
                            .into_inner()
                            .regions)
                    }
                },
            )
            .await?;
        self.inner.locations.invalidate_table(&descriptor.name);
        let regions: Vec<RegionInfo> = regions.into_iter().map(RegionInfo::from).collect();
        self.inner.learn(&regions);
        Ok(regions)
    }

    /// Drops a table and its data. HBase requires it to be disabled first; the master
    /// decides and answers [`Error::FailedPrecondition`] if it is not.
    pub async fn delete_table(&self, name: &str) -> Result<()> {
        let message = pb::DeleteTableRequest { name: name.into() };
        let config = self.inner.config.for_admin_work();
        let result = self
            .master_call(
                &config,
                Idempotency::AtMostOnce,
                "delete_table",
                |mut m, t| {
                    let message = message.clone();
                    async move { m.delete_table(request(message, t)).await.map(drop) }
                },
            )
            .await;
        self.inner.locations.invalidate_table(name);
        result
    }

    /// Takes a table offline: its regions close and reads and writes fail.
    pub async fn disable_table(&self, name: &str) -> Result<()> {
        let message = pb::DisableTableRequest { name: name.into() };
        let config = self.inner.config.for_admin_work();
        let result = self
            .master_call(
                &config,
                Idempotency::AtMostOnce,
                "disable_table",
                |mut m, t| {
                    let message = message.clone();
                    async move { m.disable_table(request(message, t)).await.map(drop) }
                },
            )
            .await;
        self.inner.locations.invalidate_table(name);
        result
    }

    /// Brings a disabled table back online.
    pub async fn enable_table(&self, name: &str) -> Result<()> {
        let message = pb::EnableTableRequest { name: name.into() };
        let config = self.inner.config.for_admin_work();
        let result = self
            .master_call(
                &config,
                Idempotency::AtMostOnce,
                "enable_table",
                |mut m, t| {
                    let message = message.clone();
                    async move { m.enable_table(request(message, t)).await.map(drop) }
                },
            )
            .await;
        self.inner.locations.invalidate_table(name);
        result
    }

    /// Names of all tables, sorted.
    pub async fn list_tables(&self) -> Result<Vec<String>> {
        let config = self.inner.config.clone();
        let mut names = self
            .master_call(
                &config,
                Idempotency::Idempotent,
                "list_tables",
                |mut m, t| async move {
                    Ok(m.list_tables(request(pb::ListTablesRequest {}, t))
                        .await?
                        .into_inner()
                        .names)
                },
            )
            .await?;
        names.sort();
        Ok(names)
    }

    /// True if the table exists.
    pub async fn table_exists(&self, name: &str) -> Result<bool> {
        Ok(self.list_tables().await?.iter().any(|n| n == name))
    }

    /// Schema, regions and state of a table. The regions also refresh the client's
    /// location cache.
    pub async fn describe_table(&self, name: &str) -> Result<TableDescription> {
        let message = pb::DescribeTableRequest { name: name.into() };
        let config = self.inner.config.clone();
        let response = self
            .master_call(
                &config,
                Idempotency::Idempotent,
                "describe_table",
                |mut m, t| {
                    let message = message.clone();
                    async move { Ok(m.describe_table(request(message, t)).await?.into_inner()) }
                },
            )
            .await?;
        let schema = response.schema.ok_or_else(|| {
            Error::protocol(format!("master described table {name} without a schema"))
        })?;
        let mut regions: Vec<RegionInfo> =
            response.regions.into_iter().map(RegionInfo::from).collect();
        regions.sort_by(|a, b| a.start_row.cmp(&b.start_row));
        self.inner.learn(&regions);
        Ok(TableDescription {
            descriptor: TableDescriptor::from_proto(schema),
            regions,
            enabled: response.enabled,
        })
    }

    /// Flushes every region's memstores to SSTables.
    pub async fn flush(&self, table: &str) -> Result<()> {
        self.on_each_region(table, "flush", |mut c, region, t| async move {
            let message = pb::FlushRequest {
                region: Some(region.region_ref()),
            };
            c.flush(request(message, t))
                .await
                .map(|_| CompactionSummary::default())
        })
        .await
        .map(drop)
    }

    /// Runs a minor compaction on every region; the server picks the files.
    pub async fn compact(&self, table: &str) -> Result<CompactionSummary> {
        self.compact_all(table, false).await
    }

    /// Rewrites every region's files into one per family, dropping deleted, expired and
    /// surplus versions.
    pub async fn major_compact(&self, table: &str) -> Result<CompactionSummary> {
        self.compact_all(table, true).await
    }

    async fn compact_all(&self, table: &str, major: bool) -> Result<CompactionSummary> {
        let what = if major { "major_compact" } else { "compact" };
        self.on_each_region(table, what, |mut c, region, t| async move {
            let message = pb::CompactRequest {
                region: Some(region.region_ref()),
                major,
            };
            let r = c.compact(request(message, t)).await?.into_inner();
            Ok(CompactionSummary {
                regions: 1,
                bytes_read: r.bytes_read,
                bytes_written: r.bytes_written,
            })
        })
        .await
    }

    /// Calls every region of `table` (as the master lists them) on its server.
    async fn on_each_region<F, Fut>(
        &self,
        table: &str,
        what: &str,
        call: F,
    ) -> Result<CompactionSummary>
    where
        F: Fn(crate::connection::RegionClient, Arc<RegionInfo>, Duration) -> Fut,
        Fut: Future<Output = Result<CompactionSummary, tonic::Status>>,
    {
        let regions = self.describe_table(table).await?.regions;
        let config = self.inner.config.for_admin_work();
        let (inner, call, config) = (&*self.inner, &call, &config);
        let one_region = |start_row: Bytes| async move {
            retry::run(config, Idempotency::Idempotent, what, move |t| {
                let start_row = start_row.clone();
                // Located by start row: after a split the call reaches the region
                // holding it now.
                async move {
                    inner
                        .on_region(table, &start_row, t, |c, r| call(c, r, t))
                        .await
                }
            })
            .await
        };
        futures::stream::iter(regions.into_iter().map(|r| one_region(r.start_row)))
            .buffer_unordered(REGION_CALLS_IN_FLIGHT)
            .try_fold(CompactionSummary::default(), |sum, one| async move {
                Ok(sum.add(one))
            })
            .await
    }

    /// Region statistics of every region server (those serving any table, and the
    /// master's own address, which is a region server too in standalone mode).
    pub async fn status(&self) -> Result<ClusterStatus> {
        let tables = self.list_tables().await?;
        let mut servers = BTreeSet::new();
        for table in &tables {
            for region in self.describe_table(table).await?.regions {
                // An unassigned region (cluster mode) names no server.
                if !region.server.is_empty() {
                    servers.insert(region.server);
                }
            }
        }
        let master = self.inner.master_address().to_owned();
        let mut statuses = Vec::new();
        // The master is asked too (standalone mode serves regions there) unless a table
        // already named it; if it turns out not to be a region server, it is left out.
        let master_is_a_guess = servers.insert(master.clone());
        for server in servers {
            match self.server_status(&server).await {
                Ok(regions) => statuses.push(ServerStatus {
                    address: server,
                    regions,
                }),
                // A master that is not also a region server does not know RegionStatus.
                Err(Error::Internal {
                    code: tonic::Code::Unimplemented,
                    ..
                }) if server == master && master_is_a_guess => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ClusterStatus {
            master,
            tables: tables.len(),
            servers: statuses,
        })
    }

    /// The regions one server holds, with their memstore and store-file sizes.
    pub async fn server_status(&self, server: &str) -> Result<Vec<RegionStatus>> {
        let inner = &*self.inner;
        let config = inner.config.clone();
        retry::run(
            &config,
            Idempotency::Idempotent,
            "region_status",
            |t| async move {
                let mut client = inner.region_server(server).await?;
                let message = pb::RegionStatusRequest {
                    table: String::new(),
                };
                let response = client.region_status(request(message, t)).await;
                let regions = response
                    .map_err(|s| Error::from_master_status(&s))?
                    .into_inner()
                    .regions;
                Ok(regions.into_iter().map(RegionStatus::from).collect())
            },
        )
        .await
    }

    pub(crate) async fn master_call<T, F, Fut>(
        &self,
        config: &ClientConfig,
        mode: Idempotency,
        what: &str,
        call: F,
    ) -> Result<T>
    where
        F: Fn(MasterClient, Duration) -> Fut,
        Fut: Future<Output = Result<T, tonic::Status>>,
    {
        let (inner, call) = (&*self.inner, &call);
        retry::run(config, mode, what, move |t| async move {
            let master = inner.master().await?;
            call(master, t).await.map_err(|s| inner.master_error(&s))
        })
        .await
    }
}

/// Sorts split keys and refuses empty or repeated ones, as HBase does.
fn check_split_keys(mut keys: Vec<Bytes>) -> Result<Vec<Bytes>> {
    keys.sort();
    if keys.first().is_some_and(Bytes::is_empty) {
        return Err(Error::InvalidArgument("a split key is empty".into()));
    }
    if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::InvalidArgument(format!(
            "split key {:?} is given twice",
            w[0]
        )));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keys_are_sorted_and_checked() {
        let keys = check_split_keys(vec!["n".into(), "g".into()]).unwrap();
        assert_eq!(keys, vec![Bytes::from("g"), Bytes::from("n")]);
        assert!(check_split_keys(vec!["a".into(), Bytes::new()]).is_err());
        assert!(check_split_keys(vec!["a".into(), "a".into()]).is_err());
        assert_eq!(check_split_keys(vec![]).unwrap(), Vec::<Bytes>::new());
    }
}
