//! The slow-request logs of the region servers ([`Admin::slow_log`]): requests slower
//! than each server's `server.slow_request_threshold`, newest first, with where their
//! time went.

use strata_proto::v1 as pb;

use super::Admin;
use crate::connection::request;
use crate::error::{Error, Result};
use crate::retry::{self, Idempotency};

/// Most entries asked of one server.
pub const MAX_SLOW_LOG_LIMIT: u32 = 100_000;

/// One slow request. Times in microseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlowRequest {
    /// When it finished, ms since the epoch.
    pub finished_ms: u64,
    /// The RPC (`get`, `mutate`, `scan`, ...).
    pub operation: String,
    /// Table ("" for batches spanning regions).
    pub table: String,
    /// Region id ("" for batches).
    pub region_id: String,
    /// Row key (printable, cut to 64 bytes).
    pub row: String,
    /// Outcome code name (`ok`, `not_found`, ...).
    pub status: String,
    /// Server-side time.
    pub duration_us: u64,
    /// Waiting for an execution slot.
    pub queue_us: u64,
    /// Engine time of a read.
    pub read_us: u64,
    /// Engine time of a write outside its WAL sync and stall.
    pub write_us: u64,
    /// Waiting for the WAL sync.
    pub wal_sync_us: u64,
    /// Waiting for memstore room.
    pub stall_us: u64,
    /// Rows or batch items.
    pub items: u64,
}

impl From<pb::SlowLogEntry> for SlowRequest {
    fn from(e: pb::SlowLogEntry) -> Self {
        SlowRequest {
            finished_ms: e.finished_ms,
            operation: e.operation,
            table: e.table,
            region_id: e.region_id,
            row: e.row,
            status: e.status,
            duration_us: e.duration_us,
            queue_us: e.queue_us,
            read_us: e.read_us,
            write_us: e.write_us,
            wal_sync_us: e.wal_sync_us,
            stall_us: e.stall_us,
            items: e.items,
        }
    }
}

/// One server's slow-request log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerSlowLog {
    /// The server.
    pub address: String,
    /// Its `server.slow_request_threshold` in ms.
    pub threshold_ms: u64,
    /// Slow requests it saw since start (its ring keeps the newest).
    pub recorded: u64,
    /// The newest entries, newest first.
    pub entries: Vec<SlowRequest>,
}

impl Admin {
    /// The newest `limit` (0 = all kept) slow requests of every region server.
    pub async fn slow_log(&self, limit: u32) -> Result<Vec<ServerSlowLog>> {
        if limit > MAX_SLOW_LOG_LIMIT {
            return Err(Error::InvalidArgument(format!(
                "slow log limit {limit} is over MAX_SLOW_LOG_LIMIT = {MAX_SLOW_LOG_LIMIT}"
            )));
        }
        let status = self.status().await?;
        let mut out = Vec::new();
        for server in status.servers {
            out.push(self.server_slow_log(&server.address, limit).await?);
        }
        Ok(out)
    }

    /// One server's slow-request log.
    pub async fn server_slow_log(&self, server: &str, limit: u32) -> Result<ServerSlowLog> {
        let inner = &*self.inner;
        let config = inner.config.clone();
        retry::run(
            &config,
            Idempotency::Idempotent,
            "slow_log",
            |t| async move {
                let mut client = inner.region_server(server).await?;
                let response = client
                    .slow_log(request(pb::SlowLogRequest { limit }, t))
                    .await
                    .map_err(|s| Error::from_master_status(&s))?
                    .into_inner();
                Ok(ServerSlowLog {
                    address: server.to_string(),
                    threshold_ms: response.threshold_ms,
                    recorded: response.recorded,
                    entries: response
                        .entries
                        .into_iter()
                        .map(SlowRequest::from)
                        .collect(),
                })
            },
        )
        .await
    }
}
