//! gRPC channels, one per server address, shared by every table and the admin.
//!
//! A channel is opened eagerly the first time an address is used, so a server that is
//! down shows up as a connect failure ([`Error::Transport`] with `connect_failed`), which
//! proves the request was not sent. A channel whose server failed is dropped from the
//! pool (see [`Connections::forget`]) so the next attempt connects afresh. All channels
//! have TCP_NODELAY on, a connect timeout, and explicit message-size limits.
//!
//! Each pooled server also has its [`GetCoalescer`], so concurrent gets to one server
//! share MultiGet calls under load (see `coalesce`).
//!
//! Thread safety: the pool is a mutex around a map of cloneable `Channel`s; the mutex
//! is never held across an await.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use strata_proto::v1::master_service_client::MasterServiceClient;
use strata_proto::v1::region_service_client::RegionServiceClient;
use tonic::transport::{Channel, Endpoint};

use crate::coalesce::GetCoalescer;
use crate::config::ClientConfig;
use crate::error::{Error, Result};

/// Region server clients as the rest of the crate uses them.
pub(crate) type RegionClient = RegionServiceClient<Channel>;
/// Master clients.
pub(crate) type MasterClient = MasterServiceClient<Channel>;

/// The pool of channels, keyed by normalized address.
#[derive(Debug)]
pub(crate) struct Connections {
    config: ClientConfig,
    channels: Mutex<HashMap<String, Pooled>>,
}

/// One server's channel and the gets waiting for it.
#[derive(Debug, Clone)]
struct Pooled {
    channel: Channel,
    gets: Arc<GetCoalescer>,
}

impl Connections {
    pub(crate) fn new(config: ClientConfig) -> Connections {
        Connections {
            config,
            channels: Mutex::new(HashMap::new()),
        }
    }

    /// A region service client for the server at `address`.
    pub(crate) async fn region(&self, address: &str) -> Result<RegionClient> {
        Ok(self.region_client(self.pooled(address).await?.channel))
    }

    /// A region service client for the server at `address`, and its get coalescer.
    pub(crate) async fn region_gets(
        &self,
        address: &str,
    ) -> Result<(RegionClient, Arc<GetCoalescer>)> {
        let pooled = self.pooled(address).await?;
        Ok((self.region_client(pooled.channel), pooled.gets))
    }

    fn region_client(&self, channel: Channel) -> RegionClient {
        let limit = self.config.max_message_bytes;
        RegionServiceClient::new(channel)
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit)
    }

    /// A master service client for the master at `address`.
    pub(crate) async fn master(&self, address: &str) -> Result<MasterClient> {
        let channel = self.pooled(address).await?.channel;
        let limit = self.config.max_message_bytes;
        Ok(MasterServiceClient::new(channel)
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit))
    }

    /// Drops the pooled channel of `address` after its server failed.
    pub(crate) fn forget(&self, address: &str) {
        self.channels.lock().remove(&normalize(address));
    }

    async fn pooled(&self, address: &str) -> Result<Pooled> {
        let address = normalize(address);
        if let Some(pooled) = self.channels.lock().get(&address) {
            return Ok(pooled.clone());
        }
        // Boxed: connecting is rare, and its state would otherwise enlarge (and be moved
        // with) the future of every call.
        Box::pin(self.connect(address)).await
    }

    async fn connect(&self, address: String) -> Result<Pooled> {
        let channel = self
            .endpoint(&address)?
            .connect()
            .await
            .map_err(|e| Error::connect(&address, &e))?;
        let gets = Arc::new(GetCoalescer::new(
            self.config.coalesce_gets_after,
            self.config.max_coalesced_gets,
        ));
        // Two tasks may connect at once; keep the first channel, drop the other.
        let mut channels = self.channels.lock();
        Ok(channels
            .entry(address)
            .or_insert(Pooled { channel, gets })
            .clone())
    }

    fn endpoint(&self, address: &str) -> Result<Endpoint> {
        let endpoint = Endpoint::from_shared(address.to_owned())
            .map_err(|e| Error::InvalidArgument(format!("bad server address {address:?}: {e}")))?;
        Ok(endpoint
            .tcp_nodelay(true)
            .connect_timeout(self.config.connect_timeout)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10)))
    }
}

/// Adds `http://` when the address has no scheme, so `127.0.0.1:16020` works.
pub(crate) fn normalize(address: &str) -> String {
    let address = address.trim().trim_end_matches('/');
    if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    }
}

/// A request carrying the attempt's deadline as `grpc-timeout`, so the server can drop
/// work nobody waits for.
pub(crate) fn request<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_get_a_scheme() {
        assert_eq!(normalize("127.0.0.1:16020"), "http://127.0.0.1:16020");
        assert_eq!(normalize(" http://h:1/ "), "http://h:1");
        assert_eq!(normalize("https://h:1"), "https://h:1");
    }

    #[tokio::test]
    async fn a_refused_connection_proves_nothing_was_sent() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        drop(listener);
        let pool = Connections::new(ClientConfig::default());
        let err = pool.region(&address).await.unwrap_err();
        assert!(err.proves_not_executed() && err.needs_relocate(), "{err:?}");
        assert!(err.to_string().contains(&address), "{err}");
        let bad = pool.region("http://bad host").await.unwrap_err();
        assert!(matches!(bad, Error::InvalidArgument(_)), "{bad:?}");
    }
}
