//! The reference RPC: a bare tonic unary echo with Strata's sizes and settings.
//!
//! `Echo(EchoRequest { key: 16 B }) -> EchoResponse { value: 100 B }` (the value is a
//! shared `Bytes`, no work per call). The server is set up as
//! `strata_server::standalone::start` sets up Strata's: a `TcpIncoming` with
//! TCP_NODELAY (tonic ignores the builder's flag with a custom listener), HTTP/2
//! keepalive 30 s / 10 s, explicit decode and encode limits of `server.max_message_size`
//! (64 MiB by default), and it runs on the same kind of runtime
//! ([`ServerThread`](super::servers::ServerThread)). The client channel is opened as
//! `strata-client` opens its channels (TCP_NODELAY, connect timeout, keepalive,
//! 64 MiB limits).
//!
//! Two variants:
//! - `echo`: nothing else. The floor of unary gRPC here.
//! - `echo_hop`: the two structural costs every Strata call has, without Strata: the
//!   server answers from `spawn_blocking` (Strata runs every engine call on the blocking
//!   pool), and the client sends a `grpc-timeout` and wraps the call in
//!   `tokio::time::timeout` (as `strata-client`'s retry loop does). The gap `echo ->
//!   echo_hop` is their price; the gap `echo_hop -> get` is Strata's own work.

use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use strata_client::ClientConfig;
use strata_server::config::ServerSection;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Request, Response, Status};

/// Generated from `benches/proto/echo.proto`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("rpcbench.echo");
}

use pb::echo_client::EchoClient;
use pb::echo_server::{Echo, EchoServer};

/// HTTP/2 keepalive of Strata's server (`standalone.rs`), and of its client channels.
const KEEPALIVE: (Duration, Duration) = (Duration::from_secs(30), Duration::from_secs(10));

struct EchoService {
    value: Bytes,
    hop: bool,
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn echo(
        &self,
        request: Request<pb::EchoRequest>,
    ) -> Result<Response<pb::EchoResponse>, Status> {
        let key = request.into_inner().key;
        let value = if self.hop {
            let value = self.value.clone();
            tokio::task::spawn_blocking(move || {
                drop(key);
                value
            })
            .await
            .map_err(|e| Status::internal(format!("echo task failed: {e}")))?
        } else {
            self.value.clone()
        };
        Ok(Response::new(pb::EchoResponse { value }))
    }
}

/// Serves the echo service on a free loopback port until `stop` fires. `hop` answers
/// from the blocking pool (the `echo_hop` variant).
pub async fn serve(
    value: Bytes,
    hop: bool,
    ready: mpsc::Sender<super::servers::Ready>,
    stop: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let limit = usize::try_from(ServerSection::default().max_message_size.0)?;
    let service = EchoServer::new(EchoService { value, hop })
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let router = Server::builder()
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(KEEPALIVE.0))
        .http2_keepalive_timeout(Some(KEEPALIVE.1))
        .add_service(service);
    let _ = ready.send(super::servers::Ready {
        url: format!("http://{addr}"),
        engine: None,
    });
    router
        .serve_with_incoming_shutdown(incoming, async {
            let _ = stop.await;
        })
        .await?;
    Ok(())
}

/// An echo client on its own channel (one HTTP/2 connection).
#[derive(Clone, Debug)]
pub struct EchoCaller {
    client: EchoClient<Channel>,
    /// `Some(t)`: send `grpc-timeout` t and bound the call by t (the `echo_hop` variant).
    deadline: Option<Duration>,
}

impl EchoCaller {
    /// Connects to `url` with `strata-client`'s channel settings.
    pub async fn connect(url: &str, with_deadline: bool) -> anyhow::Result<EchoCaller> {
        let config = ClientConfig::default();
        let channel = Endpoint::from_shared(url.to_string())?
            .tcp_nodelay(true)
            .connect_timeout(config.connect_timeout)
            .http2_keep_alive_interval(KEEPALIVE.0)
            .keep_alive_timeout(KEEPALIVE.1)
            .connect()
            .await?;
        let client = EchoClient::new(channel)
            .max_decoding_message_size(config.max_message_bytes)
            .max_encoding_message_size(config.max_message_bytes);
        Ok(EchoCaller {
            client,
            deadline: with_deadline.then_some(config.rpc_timeout),
        })
    }

    /// One call; checks the value's size.
    pub async fn call(&self, key: Bytes) -> anyhow::Result<()> {
        let mut client = self.client.clone();
        let mut request = Request::new(pb::EchoRequest { key });
        let response = match self.deadline {
            None => client.echo(request).await?,
            Some(t) => {
                request.set_timeout(t);
                tokio::time::timeout(t, client.echo(request)).await??
            }
        };
        let n = response.into_inner().value.len();
        anyhow::ensure!(n == super::VALUE_SIZE, "echo returned {n} bytes");
        Ok(())
    }
}
