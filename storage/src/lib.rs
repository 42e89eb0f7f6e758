//! Strata's storage engine: the durable LSM core of a region.
//!
//! A [`Region`] owns a key range of one table, one store per column family, its own WAL
//! and its own directory. Writes go WAL -> memstore -> ack; memstores flush to immutable
//! SSTables; reads merge memstores and SSTables at an MVCC read point.
//!
//! This crate must not depend on networking, async runtimes or the proto crate: it is a
//! synchronous library with its own background threads, usable embedded.

pub mod block_cache;
pub mod error;
pub mod iterator;
pub mod key;
pub mod options;
pub mod sstable;
pub mod stats;
pub mod wal;

pub use error::{Error, Result};
pub use key::{Cell, CellType};
pub use options::{BloomType, Compression, Durability, EngineOptions, FamilyOptions};
