//! SSTables: immutable sorted files of internal entries (HBase's HFile, LevelDB's table).
//!
//! A file is written once by [`SsTableBuilder`] (flush or compaction), renamed into
//! place, and from then on only read, through a memory map, by [`SsTable`] and its
//! [`SsTableIter`]. The bytes are specified in `storage/FORMAT.md`:
//!
//! ```text
//! data block* | index block | bloom block? | meta block | footer (64 bytes)
//! ```
//!
//! Keys are encoded internal keys (`key.rs`) compared as plain bytes. Every block carries
//! a CRC32C that is checked on every read from the file; any undecodable byte becomes an
//! `Error::Corruption` naming the file and the offset of the block, never a panic or a
//! wrong answer. Submodules: `codec` (varints, handles), `frame` (compression and
//! checksum envelope), `block` (prefix-compressed sorted blocks), `index`, `bloom`,
//! `meta`, `footer`, `builder`, `reader`, `iter`, `buffers` (recycled block buffers).

// Decoders read untrusted bytes: no slicing that can panic, no unwraps outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

mod block;
mod bloom;
mod buffers;
mod builder;
mod codec;
mod footer;
mod frame;
mod heads;
mod index;
mod iter;
mod meta;
mod reader;
mod reference;
mod resident;

#[cfg(test)]
mod corruption_tests;
#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod tests;

pub use block::{Block, RESTART_INTERVAL};
pub use bloom::{BloomFilter, MAX_BLOOM_KEYS};
pub use buffers::{BlockBuffers, KEPT_BUFFERS, MAX_KEPT_BUFFER_BYTES};
pub use builder::{MAX_ENTRY_BYTES, SsTableBuilder, SsTableInfo, SsTableWriteOptions};
pub use codec::BlockHandle;
pub use footer::{FOOTER_LEN, FORMAT_VERSION, MAGIC};
pub use frame::MAX_UNCOMPRESSED_BLOCK_BYTES;
pub use index::IndexEntry;
pub use iter::SsTableIter;
pub use meta::SsTableMeta;
pub use reader::SsTable;
pub use reference::{Half, REFERENCE_EXT, Reference};

#[cfg(test)]
pub(crate) use block::block_for_test;
