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
//! Three variants ([`Variant`]):
//! - `echo`: nothing else. The floor of unary gRPC here.
//! - `echo_deadline`: the client sends a `grpc-timeout` and wraps the call in
//!   `tokio::time::timeout`, as `strata-client` does on every call (the server's tonic
//!   then arms a timer per call too). The gap `echo -> echo_deadline` is the price of a
//!   deadline on every call.
//! - `echo_hop`: that deadline plus an answer from `spawn_blocking` (the hop a Strata
//!   call takes when it must read a file or write). The gap `echo_deadline -> echo_hop`
//!   is the hop's price.

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

/// Which echo: see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// The bare call.
    Bare,
    /// With a client deadline (`grpc-timeout` and `tokio::time::timeout`).
    Deadline,
    /// With a client deadline, answered from the blocking pool.
    Hop,
}

impl Variant {
    /// All of them, in the order they run.
    pub const ALL: [Variant; 3] = [Variant::Bare, Variant::Deadline, Variant::Hop];

    /// The case's name.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Bare => "echo",
            Variant::Deadline => "echo_deadline",
            Variant::Hop => "echo_hop",
        }
    }
}

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

/// Serves the echo service on a free loopback port until `stop` fires, as `variant`
/// says (`Hop` answers from the blocking pool).
pub async fn serve(
    value: Bytes,
    variant: Variant,
    ready: mpsc::Sender<super::servers::Ready>,
    stop: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let limit = usize::try_from(ServerSection::default().max_message_size.0)?;
    let service = EchoServer::new(EchoService {
        value,
        hop: variant == Variant::Hop,
    })
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
    /// `Some(t)`: send `grpc-timeout` t and bound the call by t (`echo_deadline`, `echo_hop`).
    deadline: Option<Duration>,
}

impl EchoCaller {
    /// Connects to `url` with `strata-client`'s channel settings.
    pub async fn connect(url: &str, variant: Variant) -> anyhow::Result<EchoCaller> {
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
            deadline: (variant != Variant::Bare).then_some(config.rpc_timeout),
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
