//! `strata-bench`'s parts: a YCSB-compatible load tool.
//!
//! - [`generator`]: YCSB's key hash and distributions (zipfian, scrambled zipfian,
//!   latest, uniform, hotspot, exponential), the insert counters.
//! - [`properties`]: the built-in core workloads `a`..`f`, `-P` files, `-p` overrides.
//! - [`workload`]: YCSB's `CoreWorkload` (key names, values, operation choice).
//! - [`store`]: the [`Store`](store::Store) trait (YCSB's `DB`); implementations for
//!   Strata ([`strata_store`]), Redis ([`redis_store`]) and memory ([`memory_store`]).
//! - [`runner`]: load and run phases, closed or open loop (`--target`), progress.
//! - [`measure`]: HDR histograms per operation, `Return=` counts per status code.
//! - [`report`]: text / JSON / CSV output and the comparison table; [`plot`]: the SVG.
//! - [`engine_figures`]: the embedded server's engine counters over a phase.
//! - [`Embedded`]: a standalone Strata server in this process on a temp dir.

pub mod engine_figures;
pub mod generator;
pub mod measure;
pub mod memory_store;
pub mod plot;
pub mod properties;
pub mod redis_store;
pub mod report;
pub mod runner;
pub mod store;
pub mod strata_store;
pub mod workload;

use std::path::Path;
use std::sync::Arc;

use strata_server::config::RuntimeKind;
use strata_storage::Engine;

use crate::servers::{ServerThread, strata_config};

/// A standalone Strata server (master and region server) on its own runtime and threads
/// in this process, with its data in a temp dir (or a given dir); stopped and removed on
/// drop.
pub struct Embedded {
    server: Option<ServerThread>,
    _dir: Option<tempfile::TempDir>,
}

impl Embedded {
    /// Starts the server with the default configuration (`wal.durability = fsync`,
    /// `server.runtime = multi_thread`) and the `key=value` overrides in `sets`, under
    /// `data_dir` or a new temp dir.
    pub fn start(data_dir: Option<&Path>, sets: &[String]) -> anyhow::Result<Embedded> {
        let (dir, root) = match data_dir {
            Some(d) => (None, d.to_path_buf()),
            None => {
                let t = tempfile::Builder::new().prefix("strata-bench").tempdir()?;
                let root = t.path().to_path_buf();
                (Some(t), root)
            }
        };
        let config = strata_config(&root, RuntimeKind::MultiThread, sets)?;
        // `--set server.runtime=current_thread` picks the runtime, as in the binary.
        let runtime = config.server.runtime;
        let server = ServerThread::spawn(runtime, move |ready, stop| {
            crate::servers::strata(config, ready, stop)
        })?;
        Ok(Embedded {
            server: Some(server),
            _dir: dir,
        })
    }

    /// Where clients connect.
    pub fn url(&self) -> &str {
        self.server.as_ref().map_or("", |s| s.url())
    }

    /// The server's engine (for its counters).
    pub fn engine(&self) -> Option<&Arc<Engine>> {
        self.server.as_ref().and_then(|s| s.engine())
    }

    /// Stops the server (regions flushed and closed).
    pub fn stop(mut self) -> anyhow::Result<()> {
        match self.server.take() {
            Some(s) => s.stop(),
            None => Ok(()),
        }
    }
}
