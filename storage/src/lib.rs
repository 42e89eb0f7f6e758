//! Strata's storage engine: the durable LSM core of a region.
//!
//! A [`Region`] owns a key range of one table, one store per column family, its own WAL
//! and its own directory. Writes go WAL -> memstore -> ack; memstores flush to immutable
//! SSTables; reads merge memstores and SSTables at an MVCC read point. An [`Engine`]
//! holds what regions of a process share: the block cache, statistics and flush threads.
//!
//! ```no_run
//! use strata_storage::{Engine, EngineOptions, FamilyOptions, Get, RegionDescriptor, RowMutation};
//!
//! let engine = Engine::open(EngineOptions::default())?;
//! let desc = RegionDescriptor::whole_table("users", "r1", vec![FamilyOptions::new("info")]);
//! let region = engine.create_region(std::path::Path::new("/tmp/strata-users-r1"), desc)?;
//! region.mutate(&RowMutation::new("row1").put("info", "name", "Ada"), None)?;
//! let row = region.get(&Get::new("row1"))?.expect("written above");
//! assert_eq!(&row.value(b"info", b"name").unwrap()[..], b"Ada");
//! # Ok::<(), strata_storage::Error>(())
//! ```
//!
//! This crate must not depend on networking, async runtimes or the proto crate: it is a
//! synchronous library with its own background threads, usable embedded.

pub mod block_cache;
pub mod clock;
pub mod compaction;
pub mod engine;
pub mod error;
pub mod fs_util;
pub mod histogram;
pub mod iterator;
pub mod key;
pub mod manifest;
pub mod memory;
pub mod memstore;
pub mod merge;
pub mod mutation;
mod mvcc;
pub mod options;
pub mod query;
pub mod region;
pub mod request_phases;
pub mod sstable;
pub mod stats;
mod sync;
mod visibility;
pub mod wal;

pub use clock::{Clock, ManualClock, SystemClock};
pub use compaction::{CompactionKind, CompactionReport};
pub use engine::Engine;
pub use error::{Error, Result};
pub use key::{Cell, CellType};
pub use mutation::{Mutation, RowMutation};
pub use options::{
    BloomType, ByteSize, Compression, Durability, EngineOptions, FamilyOptions, InMemoryCompaction,
};
pub use query::{Get, Row, Scan, TimeRange};
pub use region::{
    CellRef, Check, CompareOp, PendingWrite, Region, RegionDescriptor, RegionStatus, Scanner,
    SplitMarker, SplitResult, SplitState,
};
