//! [`RegionHost`] over gRPC: how the master opens and closes regions on a remote region
//! server (`RegionService.OpenRegion` / `CloseRegion` / `Split`).
//!
//! The seam's methods are blocking (the master calls them from its blocking pool), so
//! each call runs on the master's runtime through a [`Handle`]. Adding a method to the
//! seam (e.g. a split) means one more RPC forwarded the same way as [`RemoteHost::call`]
//! does here.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use strata_proto::v1 as pb;
use strata_proto::v1::region_service_client::RegionServiceClient;
use strata_storage::{Error, RegionDescriptor, Result};
use tokio::runtime::Handle;
use tonic::transport::{Channel, Endpoint};

use super::RegionHost;

/// Longest an OpenRegion may take (it replays the region's WAL) or a CloseRegion (it
/// flushes the memstore).
const REGION_RPC_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest a connection attempt to a region server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A remote region server.
pub struct RemoteHost {
    address: String,
    client: RegionServiceClient<Channel>,
    runtime: Handle,
}

impl RemoteHost {
    /// A host for the server at `address` (connects lazily), calling through `runtime`.
    pub fn new(address: &str, runtime: Handle) -> std::result::Result<RemoteHost, String> {
        let endpoint = Endpoint::from_shared(address.to_string())
            .map_err(|e| format!("bad region server address {address:?}: {e}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true);
        Ok(RemoteHost {
            address: address.to_string(),
            client: RegionServiceClient::new(endpoint.connect_lazy()),
            runtime,
        })
    }

    /// Runs one RPC to completion from a blocking thread.
    fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: FnOnce(RegionServiceClient<Channel>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
    {
        let client = self.client.clone();
        self.runtime
            .block_on(f(client))
            .map(tonic::Response::into_inner)
            .map_err(|s| {
                Error::InvalidRegion(format!(
                    "{what} on {} failed: {} ({:?})",
                    self.address,
                    s.message(),
                    s.code()
                ))
            })
    }
}

/// `dir` is `root_dir/tables/<table>/<region-id>`: the names the server resolves in its
/// own mount of `root_dir`.
fn table_and_region(dir: &Path) -> Result<(String, String)> {
    let name = |p: Option<&Path>| {
        p.and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .map(str::to_owned)
    };
    match (name(dir.parent()), name(Some(dir))) {
        (Some(t), Some(r)) => Ok((t, r)),
        _ => Err(Error::InvalidRegion(format!(
            "{} is not a region directory (root_dir/tables/<table>/<region>)",
            dir.display()
        ))),
    }
}

fn request<T>(message: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.set_timeout(REGION_RPC_TIMEOUT);
    r
}

impl RegionHost for RemoteHost {
    fn open_region(&self, dir: &Path, create: Option<RegionDescriptor>, epoch: u64) -> Result<()> {
        let (table, region_id) = table_and_region(dir)?;
        let create_descriptor = match create {
            Some(d) => serde_json::to_vec(&d)
                .map_err(|e| Error::InvalidArgument(format!("cannot encode descriptor: {e}")))?,
            None => Vec::new(),
        };
        let message = pb::OpenRegionRequest {
            table,
            region_id,
            epoch,
            create_descriptor: create_descriptor.into(),
        };
        self.call("OpenRegion", |mut c| async move {
            c.open_region(request(message)).await
        })
        .map(drop)
    }

    fn close_region(&self, table: &str, region_id: &str) -> Result<()> {
        let message = pb::CloseRegionRequest {
            table: table.to_string(),
            region_id: region_id.to_string(),
        };
        self.call("CloseRegion", |mut c| async move {
            c.close_region(request(message)).await
        })
        .map(drop)
    }

    fn address(&self) -> String {
        self.address.clone()
    }

    fn split_region(
        &self,
        table: &str,
        region_id: &str,
        split_row: Option<&[u8]>,
        left_id: &str,
        right_id: &str,
        epoch: u64,
    ) -> Result<Vec<u8>> {
        let message = pb::SplitRequest {
            region: Some(pb::RegionRef {
                table: table.to_string(),
                region_id: region_id.to_string(),
                ..Default::default()
            }),
            split_row: split_row.map(|r| r.to_vec().into()),
            left_region_id: left_id.to_string(),
            right_region_id: right_id.to_string(),
            daughter_epoch: epoch,
        };
        self.call(
            "Split",
            |mut c| async move { c.split(request(message)).await },
        )
        .map(|r| r.split_row.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_dir_names_table_and_region() {
        let (t, r) = table_and_region(Path::new("/data/tables/t1/0001-00002")).unwrap();
        assert_eq!((t.as_str(), r.as_str()), ("t1", "0001-00002"));
        assert!(table_and_region(Path::new("/")).is_err());
    }
}
