//! Client settings: deadlines, retries, connection and message-size limits. Every limit
//! the client enforces is named here with its default.

use std::time::Duration;

/// Settings of a [`Client`](crate::Client). `ClientConfig::default()` suits most uses.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Deadline of one whole operation, retries and backoff included (HBase:
    /// `hbase.client.operation.timeout`). Default 30 s. For a scan it bounds the
    /// retries after one failure; each wait for the next batch is bounded by
    /// `rpc_timeout`.
    pub operation_timeout: Duration,
    /// Deadline of one RPC attempt (HBase: `hbase.rpc.timeout`), also sent to the server
    /// as `grpc-timeout`. Default 10 s. Never longer than what is left of
    /// `operation_timeout`.
    pub rpc_timeout: Duration,
    /// Retries after the first attempt (HBase: `hbase.client.retries.number`). Default 60:
    /// with the default backoff (sleeps averaging half of a ceiling capped at 1 s) that is
    /// about 30 s, so the deadline usually ends a failing operation first.
    pub max_retries: u32,
    /// First backoff ceiling; it doubles per retry up to `backoff_max`. Each sleep is
    /// uniformly random in `[0, ceiling]` ("full jitter"). Default 10 ms.
    pub backoff_base: Duration,
    /// Largest backoff ceiling. Default 1 s.
    pub backoff_max: Duration,
    /// Deadline of opening a TCP connection to a server. Default 3 s.
    pub connect_timeout: Duration,
    /// Largest gRPC message the client sends or accepts, in bytes (tonic's default is
    /// 4 MiB). Default 64 MiB. A get of a huge row or a scan batch beyond it fails with
    /// an error naming this limit.
    pub max_message_bytes: usize,
    /// Deadline of admin calls that do real work on the server: create and drop table,
    /// and each region's flush or compaction (which the server runs before answering).
    /// Used as both the operation and the attempt deadline of those calls. Default 10 min.
    pub admin_timeout: Duration,
    /// Rows per streamed scan message asked of the server when a scan does not set
    /// `batch_rows`; 0 lets the server choose. Default 0.
    pub scan_batch_rows: u32,
    /// Get calls in flight to one server before further gets wait and leave together as
    /// one MultiGet when one of those calls ends ("natural batching": no timer, so a get
    /// at low load is a plain Get). 0 turns coalescing off: every get is its own call.
    /// Default 2: measured with `rpcbench` on 2 cores, 2 against 4 gave 1.7x the gets/s
    /// at 8 in flight and 1.25x at 32, and 0.87x at 3 (where a third get waits for one
    /// of the two calls). HBase's client has no equivalent; it sends each `Table.get`
    /// alone.
    pub coalesce_gets_after: usize,
    /// Gets in one coalesced MultiGet at most. Default 64.
    pub max_coalesced_gets: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            operation_timeout: Duration::from_secs(30),
            rpc_timeout: Duration::from_secs(10),
            max_retries: 60,
            backoff_base: Duration::from_millis(10),
            backoff_max: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(3),
            max_message_bytes: 64 << 20,
            admin_timeout: Duration::from_secs(600),
            scan_batch_rows: 0,
            coalesce_gets_after: 2,
            max_coalesced_gets: 64,
        }
    }
}

impl ClientConfig {
    /// Sets [`operation_timeout`](Self::operation_timeout).
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// Sets [`rpc_timeout`](Self::rpc_timeout).
    pub fn rpc_timeout(mut self, timeout: Duration) -> Self {
        self.rpc_timeout = timeout;
        self
    }

    /// Sets [`max_retries`](Self::max_retries).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sets [`backoff_base`](Self::backoff_base) and [`backoff_max`](Self::backoff_max).
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_max = max;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`admin_timeout`](Self::admin_timeout).
    pub fn admin_timeout(mut self, timeout: Duration) -> Self {
        self.admin_timeout = timeout;
        self
    }

    /// The settings of long admin calls: `admin_timeout` bounds each attempt and the
    /// whole call.
    pub(crate) fn for_admin_work(&self) -> ClientConfig {
        let mut config = self.clone();
        config.operation_timeout = self.admin_timeout;
        config.rpc_timeout = self.admin_timeout;
        config
    }

    /// Sets [`scan_batch_rows`](Self::scan_batch_rows).
    pub fn scan_batch_rows(mut self, rows: u32) -> Self {
        self.scan_batch_rows = rows;
        self
    }

    /// Sets [`coalesce_gets_after`](Self::coalesce_gets_after) (0 = off) and
    /// [`max_coalesced_gets`](Self::max_coalesced_gets) (at least 1, at most the
    /// server's batch limit of 10,000).
    pub fn coalesce_gets(mut self, after: usize, max_batch: usize) -> Self {
        self.coalesce_gets_after = after;
        self.max_coalesced_gets = max_batch.clamp(1, 10_000);
        self
    }

    /// Sets [`max_message_bytes`](Self::max_message_bytes).
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }
}
