//! `strata-benches`: Strata's benchmarks.
//!
//! - `benches/*.rs`: criterion micro-benchmarks, one file per storage component
//!   (memstore, block, sstable, bloom, block cache, region).
//! - `kvbench` (`src/bin/kvbench.rs`): a db_bench-style load tool that runs the same
//!   workloads against Strata and, when built with the `fjall` / `rocksdb` features,
//!   against those engines with matching settings.
//!
//! The library holds kvbench's parts: deterministic keys and values ([`keys`]), latency
//! recording ([`report`]), memory and write accounting ([`resources`]), the engine
//! interface ([`kv`]), one adapter per engine and the benchmarks themselves
//! ([`workload`], and [`concurrent`] for those with a second thread); and the
//! micro-benchmarks' [`fixtures`]. [`ycsb`] holds the `strata-bench` YCSB tool's parts. Figures and how to reproduce them are in
//! `benches/README.md`. Benchmarks report numbers; they assert nothing about speed.

pub mod concurrent;
pub mod fixtures;
pub mod keys;
pub mod kv;
pub mod report;
pub mod resources;
pub mod strata_kv;
pub mod workload;
pub mod ycsb;

/// Per-thread CPU accounting, shared with rpcbench (`src/rpc/cpu.rs`).
#[path = "rpc/cpu.rs"]
pub mod cpu;

/// Servers on their own runtime, shared with rpcbench (`src/rpc/servers.rs`).
#[path = "rpc/servers.rs"]
pub mod servers;

#[cfg(feature = "fjall")]
pub mod fjall_kv;
#[cfg(feature = "rocksdb")]
pub mod rocksdb_kv;
