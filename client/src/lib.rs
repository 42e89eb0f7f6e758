//! Strata's async Rust client.
//!
//! [`Client::connect`] takes the master's address. [`Client::table`] gives a [`Table`]
//! for data calls (get, put, delete, scan, check-and-mutate, increment, append, batch)
//! built with builder types; [`Client::admin`] gives an [`Admin`](admin::Admin) for
//! tables and regions. Data is `bytes::Bytes` throughout: every builder takes
//! `impl Into<Bytes>`, so `&'static str`, `String`, `Vec<u8>` and `Bytes` all work.
//!
//! ```no_run
//! use futures::StreamExt;
//! use strata_client::admin::{FamilyDescriptor, TableDescriptor};
//! use strata_client::{Client, Delete, Get, Put, Scan};
//!
//! # async fn demo() -> strata_client::Result<()> {
//! let client = Client::connect("http://127.0.0.1:16020").await?;
//! let users = TableDescriptor::new("users")
//!     .family(FamilyDescriptor::new("info").max_versions(3))
//!     .family(FamilyDescriptor::new("stats"));
//! client.admin().create_table(users, vec!["m".into()]).await?;
//!
//! let table = client.table("users");
//! table.put(Put::new("ada").add("info", "name", "Ada Lovelace")).await?;
//! let row = table.get(Get::new("ada").column("info", "name")).await?;
//! assert_eq!(row.unwrap().value("info", "name").unwrap(), "Ada Lovelace");
//! let visits = table.increment("ada", "stats", "visits", 1).await?;
//! assert_eq!(visits, 1);
//!
//! let mut rows = std::pin::pin!(table.scan(Scan::new().start("a").stop("b")));
//! while let Some(row) = rows.next().await {
//!     println!("{:?}", row?.row);
//! }
//! table.delete(Delete::new("ada")).await?;
//! # Ok(()) }
//! ```
//!
//! # Regions, retries and deadlines
//!
//! Every data call names the region holding its row. The client asks the master where a
//! region lives once and caches the answer per table; a region server that answers
//! "not serving" (FAILED_PRECONDITION) or cannot be reached makes the client drop the
//! entry, ask again and retry. Retryable failures (server busy, region moving, server
//! restarting, network) are retried with exponential backoff and full jitter, within the
//! operation's deadline ([`ClientConfig::operation_timeout`], 30 s by default; each
//! attempt within [`ClientConfig::rpc_timeout`]).
//!
//! Increments, appends, check-and-mutate and deletes of "the latest version" are not
//! idempotent: the client retries them only after failures that prove the server did not
//! run them (region not served, server busy, connection refused). After a timeout or a
//! connection lost mid-call their outcome is unknown, and the error says so.
//!
//! # Concurrent gets share calls
//!
//! Gets from many tasks to one region server are coalesced under load: once
//! [`ClientConfig::coalesce_gets_after`] (2) get calls are in flight to a server, further
//! gets wait, and when one of those calls ends the gets waiting by then go out together
//! as one MultiGet (at most [`ClientConfig::max_coalesced_gets`], 64). There is no timer,
//! so a get at low load is a plain Get and waits for nothing; under load the per-call
//! costs of gRPC are paid once per batch. Each get keeps its own region, columns, filter,
//! outcome and deadline; a batch that fails as a whole is resent get by get. Set
//! `coalesce_gets_after` to 0 for one call per get.
//!
//! Errors are one coarse enum, [`Error`], with [`Error::is_retryable`] and
//! [`Error::needs_relocate`]; its message is the server's, which names the limit that
//! was hit.
//!
//! This crate depends on `strata-proto` only, never on the server or the storage engine.
//! The `cli` feature (on by default) adds the `strata` shell binary.

pub mod admin;
mod cell;
mod check_and_mutate;
mod client;
mod coalesce;
mod config;
mod connection;
pub mod error;
mod filter;
mod get;
mod location;
mod mutation;
mod retry;
mod scan;
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod shell;
mod table;

pub use admin::Admin;
pub use cell::{Cell, Row};
pub use check_and_mutate::{Append, CheckAndMutate, Increment};
pub use client::Client;
pub use config::ClientConfig;
pub use error::{Error, Result};
pub use filter::{CompareOp, Filter};
pub use get::Get;
pub use location::RegionInfo;
pub use mutation::{Delete, Durability, Mutation, Put};
pub use scan::Scan;
pub use table::Table;
