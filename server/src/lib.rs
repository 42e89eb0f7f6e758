//! Strata's server: the region server (`RegionService` over gRPC), the master
//! (`MasterService`: schemas, region list, locations) and `strata-server standalone`,
//! which runs both in one process on a local `root_dir`.
//!
//! Entry points: [`config::ServerConfig`] (TOML + `--set` overrides, validated) and
//! [`standalone::start`], which binds (port 0 allowed), recovers every table and returns
//! a [`standalone::StandaloneHandle`] with the bound URL and a graceful `shutdown()`.
//! Design notes: `docs/server.md`.
//!
//! This crate depends on `strata-storage` and `strata-proto` only, never on the client.

pub mod admission;
pub mod cluster;
pub mod config;
pub mod convert;
pub mod error;
pub mod filter;
pub mod master;
pub mod metrics;
pub mod region_server;
pub mod slowlog;
pub mod standalone;
pub mod status;
