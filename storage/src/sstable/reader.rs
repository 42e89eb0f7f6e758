//! Opens an SSTable read-only through a memory map and serves its blocks.
//!
//! [`SsTable::open`] checks the footer, then loads and verifies the meta, index and bloom
//! blocks and cross-checks them; data blocks are verified (checksum, trailer) each time
//! they are read from the file, and every failure is an `Error::Corruption` naming the
//! file and the offset of the block (or footer) at fault. An `SsTable` is immutable and
//! `Send + Sync`; share it as `Arc<SsTable>`. Its mapping stays valid after the file is
//! unlinked (compaction deletes files that readers may still hold), and is never
//! modified because SSTables are never rewritten in place (see `builder.rs`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use memmap2::Mmap;

use super::block::Block;
use super::bloom::BloomFilter;
use super::codec::{BlockHandle, DecodeError};
use super::footer::{FOOTER_LEN, Footer};
use super::frame::read_frame;
use super::index::{IndexEntry, decode_index};
use super::iter::SsTableIter;
use super::meta::SsTableMeta;
use crate::block_cache::BlockCache;
use crate::error::{Error, IoContext, Result};
use crate::key;
use crate::options::BloomType;
use crate::stats::Stats;

/// Source of process-unique block cache ids (never reused, so a reopened or replaced
/// file can never be served another file's cached blocks).
static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(1);

/// An open, verified SSTable.
pub struct SsTable {
    path: PathBuf,
    /// The whole file, mapped.
    data: Bytes,
    cache_id: u64,
    cache: Arc<BlockCache>,
    stats: Arc<Stats>,
    index: Vec<IndexEntry>,
    bloom: Option<BloomFilter>,
    meta: SsTableMeta,
    /// Set when a compaction replaced the file: it is unlinked when the last reader
    /// drops its handle.
    obsolete: std::sync::atomic::AtomicBool,
}

impl Drop for SsTable {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire)
            && let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(file = %self.path.display(), error = %e, "could not delete a compacted SSTable");
        }
    }
}

impl std::fmt::Debug for SsTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsTable")
            .field("path", &self.path)
            .field("file_size", &self.data.len())
            .field("cache_id", &self.cache_id)
            .field("blocks", &self.index.len())
            .finish()
    }
}

impl SsTable {
    /// Opens and verifies `path`. Data blocks are read through `cache`; reads from the
    /// file are counted in `stats`.
    pub fn open(path: &Path, cache: Arc<BlockCache>, stats: Arc<Stats>) -> Result<Arc<SsTable>> {
        let file = File::open(path).at(path)?;
        let len = file.metadata().at(path)?.len();
        if len < FOOTER_LEN as u64 {
            return Err(DecodeError::new(format!(
                "file of {len} bytes is shorter than the {FOOTER_LEN}-byte footer"
            ))
            .at(path, 0));
        }
        // SAFETY: the mapping is read-only and SSTables are immutable once renamed into
        // place: nothing in Strata truncates or writes a finished file (the builder
        // refuses to replace an existing one), which is what would make reads through
        // the mapping undefined. Unlinking the file while mapped is fine.
        let mmap = unsafe { Mmap::map(&file) }.at(path)?;
        #[cfg(unix)]
        {
            // Point reads jump between blocks; read-ahead would waste IO. Only a hint.
            let _ = mmap.advise(memmap2::Advice::Random);
        }
        let data = Bytes::from_owner(mmap);
        Self::from_bytes(path, data, cache, stats).map(Arc::new)
    }

    fn from_bytes(
        path: &Path,
        data: Bytes,
        cache: Arc<BlockCache>,
        stats: Arc<Stats>,
    ) -> Result<SsTable> {
        let footer_offset = data.len().saturating_sub(FOOTER_LEN);
        let footer_bytes = data.get(footer_offset..).unwrap_or_default();
        let footer = Footer::decode(footer_bytes, footer_offset as u64)
            .map_err(|e| e.at(path, footer_offset as u64))?;

        let meta = read_frame(&data, footer.meta, false)
            .and_then(|payload| SsTableMeta::decode(&payload))
            .map_err(|e| e.at(path, footer.meta.offset))?;

        let data_end = [footer.index, footer.bloom, footer.meta]
            .iter()
            .filter(|h| !h.is_null())
            .map(|h| h.offset)
            .min()
            .unwrap_or(0);
        let index = read_frame(&data, footer.index, false)
            .and_then(|payload| decode_index(payload, data_end))
            .and_then(|index| check_index_against_meta(&index, &meta).map(|()| index))
            .map_err(|e| e.at(path, footer.index.offset))?;

        let bloom = match (meta.bloom, footer.bloom.is_null()) {
            (BloomType::None, true) => None,
            (BloomType::Row | BloomType::RowCol, false) => Some(
                read_frame(&data, footer.bloom, false)
                    .and_then(|payload| BloomFilter::decode(&payload))
                    .map_err(|e| e.at(path, footer.bloom.offset))?,
            ),
            (kind, absent) => {
                return Err(DecodeError::new(format!(
                    "meta says bloom {kind:?} but the footer {} a bloom block",
                    if absent { "has no" } else { "has" }
                ))
                .at(path, footer.meta.offset));
            }
        };

        Ok(SsTable {
            path: path.to_path_buf(),
            data,
            cache_id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            cache,
            stats,
            index,
            bloom,
            meta,
            obsolete: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Marks the file as replaced (by a compaction): it is deleted from disk once no
    /// reader holds it any more. The manifest must no longer list it.
    pub fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// File size in bytes.
    pub fn file_size(&self) -> u64 {
        self.data.len() as u64
    }

    /// The meta block.
    pub fn meta(&self) -> &SsTableMeta {
        &self.meta
    }

    /// The block index (one entry per data block, in key order): for split points and
    /// tools.
    pub fn index(&self) -> &[IndexEntry] {
        &self.index
    }

    /// Process-unique id naming this open file in block cache keys.
    pub fn cache_id(&self) -> u64 {
        self.cache_id
    }

    /// The kind of bloom filter the file has.
    pub fn bloom_type(&self) -> BloomType {
        self.meta.bloom
    }

    /// Bloom probe with a row bloom key (`key::row_part`). False means the file holds no
    /// entry of that row. Files with a row+column filter (or none) answer true.
    pub fn may_contain_row(&self, row_part: &[u8]) -> bool {
        match (&self.bloom, self.meta.bloom) {
            (Some(filter), BloomType::Row) => self.probe(filter, row_part),
            _ => true,
        }
    }

    /// Bloom probe with a row+column bloom key (`key::column_part`). False means the file
    /// holds no entry of that column. A row filter is probed with the key's row part.
    pub fn may_contain_column(&self, column_part: &[u8]) -> bool {
        match (&self.bloom, self.meta.bloom) {
            (Some(filter), BloomType::RowCol) => self.probe(filter, column_part),
            (Some(filter), BloomType::Row) => match key::row_part(column_part) {
                Some(row) => self.probe(filter, row),
                None => true,
            },
            _ => true,
        }
    }

    /// Counts the probe (`bloom_checks`) and a negative answer (`bloom_useful`).
    fn probe(&self, filter: &BloomFilter, bloom_key: &[u8]) -> bool {
        Stats::add(&self.stats.bloom_checks, 1);
        let maybe = filter.may_contain(bloom_key);
        if !maybe {
            Stats::add(&self.stats.bloom_useful, 1);
        }
        maybe
    }

    /// True if the file may hold keys in `[start_row_key, end_row_key)`; the bounds are
    /// encoded seek keys (`key::row_start_key`, `key::row_end_key`), `None` = unbounded.
    pub fn overlaps_rows(&self, start_row_key: &[u8], end_row_key: Option<&[u8]>) -> bool {
        self.meta.last_key.as_slice() >= start_row_key
            && end_row_key.is_none_or(|end| self.meta.first_key.as_slice() < end)
    }

    /// A cursor over the file's entries. With `fill_cache == false` (large scans) blocks
    /// found in the cache are used but blocks read from the file are not inserted.
    pub fn iter(self: &Arc<Self>, fill_cache: bool) -> SsTableIter {
        SsTableIter::new(self.clone(), fill_cache)
    }

    /// The handle of data block `i`, which must be `< index().len()`.
    pub(crate) fn block_handle(&self, i: usize) -> Option<BlockHandle> {
        self.index.get(i).map(|e| e.handle)
    }

    /// A cursor that only uses blocks already in the block cache: a block that is not
    /// there fails the read with [`Error::NotCached`] instead of touching the file.
    pub fn iter_cache_only(self: &Arc<Self>) -> SsTableIter {
        SsTableIter::new_cache_only(self.clone())
    }

    /// Data block `i` if it is in the block cache, else [`Error::NotCached`].
    pub(crate) fn cached_data_block(&self, i: usize) -> Result<Arc<Block>> {
        let handle = self.block_handle(i).ok_or_else(|| {
            Error::InvalidArgument(format!("block {i} out of range in {}", self.path.display()))
        })?;
        self.cache
            .get_cached(self.cache_id, handle.offset)
            .ok_or(Error::NotCached)
    }

    /// Reads data block `i` through the block cache.
    pub(crate) fn read_data_block(&self, i: usize, fill_cache: bool) -> Result<Arc<Block>> {
        let handle = self.block_handle(i).ok_or_else(|| {
            Error::InvalidArgument(format!("block {i} out of range in {}", self.path.display()))
        })?;
        self.cache
            .get_or_load(self.cache_id, handle.offset, fill_cache, || {
                self.load_block(handle, fill_cache && self.cache.is_enabled())
            })
    }

    /// Reads, verifies and decodes a data block from the file.
    fn load_block(&self, handle: BlockHandle, for_cache: bool) -> Result<Arc<Block>> {
        Stats::add(&self.stats.blocks_read, 1);
        Stats::add(&self.stats.block_bytes_read, handle.size);
        read_frame(&self.data, handle, for_cache)
            .and_then(Block::decode)
            .map(Arc::new)
            .map_err(|e| e.at(&self.path, handle.offset))
    }
}

/// The index must describe exactly the blocks the meta block counts, ending at its key.
fn check_index_against_meta(index: &[IndexEntry], meta: &SsTableMeta) -> Result<(), DecodeError> {
    if index.len() as u64 != meta.data_block_count {
        return Err(DecodeError::new(format!(
            "index lists {} data blocks, meta says {}",
            index.len(),
            meta.data_block_count
        )));
    }
    if index.last().map(|e| e.last_key.as_slice()) != Some(meta.last_key.as_slice()) {
        return Err(DecodeError::new(
            "index's last key differs from meta's last_key",
        ));
    }
    Ok(())
}
