//! Cluster administration: pre-split tables (`NUMREGIONS` + `SPLITALGO`), the meta
//! listing, `status 'detailed'`, and `move` / `assign` / `unassign` / `balance`.

use bytes::Bytes;
use strata_proto::v1 as pb;

use super::{Admin, TableDescriptor};
use crate::connection::request;
use crate::error::{Error, Result};
use crate::location::RegionInfo;
use crate::retry::Idempotency;

/// Most regions a pre-split may ask for (the master's limit on split keys + 1).
pub const MAX_PRE_SPLIT_REGIONS: u32 = 1_001;

/// How `NUMREGIONS` cuts the key space, as HBase's `RegionSplitter` algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitAlgorithm {
    /// Row keys are 8 lowercase hex digits (`00000000`..`ffffffff`): split points at
    /// even steps of that space.
    HexString,
    /// Row keys are arbitrary bytes: split points at even steps of the 8-byte space.
    Uniform,
}

impl SplitAlgorithm {
    /// Parses `HexStringSplit` or `UniformSplit` (HBase's names).
    pub fn parse(name: &str) -> Result<SplitAlgorithm> {
        match name {
            "HexStringSplit" => Ok(SplitAlgorithm::HexString),
            "UniformSplit" => Ok(SplitAlgorithm::Uniform),
            other => Err(Error::InvalidArgument(format!(
                "unknown SPLITALGO {other:?}: use 'HexStringSplit' or 'UniformSplit'"
            ))),
        }
    }

    /// The `regions - 1` split keys that cut the space into `regions` even parts.
    pub fn split_keys(self, regions: u32) -> Result<Vec<Bytes>> {
        if !(2..=MAX_PRE_SPLIT_REGIONS).contains(&regions) {
            return Err(Error::InvalidArgument(format!(
                "NUMREGIONS must be in 2..={MAX_PRE_SPLIT_REGIONS}, got {regions}"
            )));
        }
        let n = u128::from(regions);
        Ok((1..n)
            .map(|i| match self {
                SplitAlgorithm::HexString => {
                    let point = (1u128 << 32) * i / n;
                    Bytes::from(format!("{point:08x}"))
                }
                SplitAlgorithm::Uniform => {
                    let point = ((1u128 << 64) * i / n) as u64;
                    Bytes::copy_from_slice(&point.to_be_bytes())
                }
            })
            .collect())
    }
}

/// One live region server as the master sees it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServerDetail {
    /// Its URL.
    pub address: String,
    /// Regions the master assigns to it.
    pub regions: u64,
    /// Milliseconds since its last heartbeat.
    pub ms_since_heartbeat: u64,
    /// Requests per second between its last two heartbeats.
    pub requests_per_second: f64,
    /// Requests since it started.
    pub requests: u64,
    /// Bytes in its memstores.
    pub memstore_bytes: u64,
    /// Bytes in its block cache.
    pub block_cache_bytes: u64,
    /// Block cache hits and misses since start.
    pub block_cache_hits: u64,
    /// See `block_cache_hits`.
    pub block_cache_misses: u64,
}

/// The master's view of the cluster (`status 'detailed'`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClusterDetail {
    /// Live servers, by address.
    pub servers: Vec<ServerDetail>,
    /// Servers declared dead recently.
    pub dead_servers: Vec<String>,
    /// Tables.
    pub tables: u64,
    /// Regions of all tables.
    pub regions: u64,
    /// Regions of enabled tables not open (opening, closing, offline).
    pub regions_in_transition: u64,
}

impl From<pb::ClusterStatusResponse> for ClusterDetail {
    fn from(r: pb::ClusterStatusResponse) -> Self {
        ClusterDetail {
            servers: r
                .servers
                .into_iter()
                .map(|s| {
                    let l = s.load.unwrap_or_default();
                    ServerDetail {
                        address: s.address,
                        regions: s.regions,
                        ms_since_heartbeat: s.ms_since_heartbeat,
                        requests_per_second: s.requests_per_second,
                        requests: l.requests,
                        memstore_bytes: l.memstore_bytes,
                        block_cache_bytes: l.block_cache_bytes,
                        block_cache_hits: l.block_cache_hits,
                        block_cache_misses: l.block_cache_misses,
                    }
                })
                .collect(),
            dead_servers: r.dead_servers,
            tables: r.tables,
            regions: r.regions,
            regions_in_transition: r.regions_in_transition,
        }
    }
}

fn location(l: Option<pb::RegionLocation>) -> Result<RegionInfo> {
    l.map(RegionInfo::from)
        .ok_or_else(|| Error::protocol("master returned no region location"))
}

impl Admin {
    /// Creates a table pre-split into `regions` regions by `algorithm` (the shell's
    /// `NUMREGIONS => n, SPLITALGO => '...'`).
    pub async fn create_table_pre_split(
        &self,
        descriptor: TableDescriptor,
        regions: u32,
        algorithm: SplitAlgorithm,
    ) -> Result<Vec<RegionInfo>> {
        let keys = algorithm.split_keys(regions)?;
        self.create_table(descriptor, keys).await
    }

    /// Every region of `table` (all tables when empty) with its range, server, epoch
    /// and state: the meta listing.
    pub async fn list_regions(&self, table: &str) -> Result<Vec<RegionInfo>> {
        let message = pb::ListRegionsRequest {
            table: table.into(),
        };
        let config = self.inner.config.clone();
        let regions = self
            .master_call(
                &config,
                Idempotency::Idempotent,
                "list_regions",
                |mut m, t| {
                    let message = message.clone();
                    async move {
                        Ok(m.list_regions(request(message, t))
                            .await?
                            .into_inner()
                            .regions)
                    }
                },
            )
            .await?;
        Ok(regions.into_iter().map(RegionInfo::from).collect())
    }

    /// The master's view of servers and load.
    pub async fn cluster_detail(&self) -> Result<ClusterDetail> {
        let config = self.inner.config.clone();
        let r = self
            .master_call(
                &config,
                Idempotency::Idempotent,
                "cluster_status",
                |mut m, t| async move {
                    Ok(m.cluster_status(request(pb::ClusterStatusRequest {}, t))
                        .await?
                        .into_inner())
                },
            )
            .await?;
        Ok(ClusterDetail::from(r))
    }

    /// Moves a region to `server` (any other live server when empty): closed (flushed)
    /// where it is, then opened there. Returns its new location.
    pub async fn move_region(
        &self,
        table: &str,
        region_id: &str,
        server: &str,
    ) -> Result<RegionInfo> {
        let message = pb::MoveRegionRequest {
            table: table.into(),
            region_id: region_id.into(),
            server: server.into(),
        };
        let config = self.inner.config.for_admin_work();
        let l = self
            .master_call(&config, Idempotency::AtMostOnce, "move", |mut m, t| {
                let message = message.clone();
                async move {
                    Ok(m.move_region(request(message, t))
                        .await?
                        .into_inner()
                        .location)
                }
            })
            .await?;
        self.inner.locations.invalidate_table(table);
        location(l)
    }

    /// Opens an offline region on the least loaded server.
    pub async fn assign_region(&self, table: &str, region_id: &str) -> Result<RegionInfo> {
        let message = pb::AssignRegionRequest {
            table: table.into(),
            region_id: region_id.into(),
        };
        let config = self.inner.config.for_admin_work();
        let l = self
            .master_call(&config, Idempotency::Idempotent, "assign", |mut m, t| {
                let message = message.clone();
                async move {
                    Ok(m.assign_region(request(message, t))
                        .await?
                        .into_inner()
                        .location)
                }
            })
            .await?;
        location(l)
    }

    /// Closes a region and keeps it offline until [`assign_region`](Self::assign_region).
    pub async fn unassign_region(&self, table: &str, region_id: &str) -> Result<()> {
        let message = pb::UnassignRegionRequest {
            table: table.into(),
            region_id: region_id.into(),
        };
        let config = self.inner.config.for_admin_work();
        self.master_call(&config, Idempotency::Idempotent, "unassign", |mut m, t| {
            let message = message.clone();
            async move { m.unassign_region(request(message, t)).await.map(drop) }
        })
        .await?;
        self.inner.locations.invalidate_table(table);
        Ok(())
    }

    /// Runs the balancer now; returns how many regions moved.
    pub async fn balance(&self) -> Result<u64> {
        let config = self.inner.config.for_admin_work();
        let moves = self
            .master_call(
                &config,
                Idempotency::AtMostOnce,
                "balance",
                |mut m, t| async move {
                    Ok(m.balance(request(pb::BalanceRequest {}, t))
                        .await?
                        .into_inner()
                        .moves)
                },
            )
            .await?;
        Ok(moves)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_split_cuts_the_hex_space_evenly() {
        let keys = SplitAlgorithm::HexString.split_keys(4).unwrap();
        assert_eq!(
            keys,
            vec![
                Bytes::from("40000000"),
                Bytes::from("80000000"),
                Bytes::from("c0000000")
            ]
        );
        let keys = SplitAlgorithm::HexString.split_keys(12).unwrap();
        assert_eq!(keys.len(), 11);
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn uniform_split_cuts_the_byte_space_evenly() {
        let keys = SplitAlgorithm::Uniform.split_keys(2).unwrap();
        assert_eq!(keys, vec![Bytes::from_static(&[0x80, 0, 0, 0, 0, 0, 0, 0])]);
        assert!(SplitAlgorithm::Uniform.split_keys(1).is_err());
        assert!(
            SplitAlgorithm::Uniform
                .split_keys(MAX_PRE_SPLIT_REGIONS + 1)
                .is_err()
        );
        assert!(SplitAlgorithm::parse("Nope").is_err());
        assert_eq!(
            SplitAlgorithm::parse("UniformSplit").unwrap(),
            SplitAlgorithm::Uniform
        );
    }
}
