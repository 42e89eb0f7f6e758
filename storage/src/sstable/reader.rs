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
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use memmap2::Mmap;

use super::block::{Block, BlockIter, KeyLayout};
use super::bloom::BloomFilter;
use super::codec::{BlockHandle, DecodeError};
use super::footer::{FOOTER_LEN, Footer};
use super::frame::{read_frame, read_frame_into};
use super::heads::KeyHeads;
use super::index::{IndexEntry, decode_index};
use super::iter::SsTableIter;
use super::meta::SsTableMeta;
use super::reference::{Half, Reference};
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
    /// The file this table is known by (its id, and what is deleted when obsolete): the
    /// SSTable itself, or for a reference the `.ref` file.
    path: PathBuf,
    /// The file holding the data (the parent's SSTable for a reference).
    data_path: PathBuf,
    /// The whole data file, mapped.
    data: Bytes,
    /// For a reference: the half of the data file it exposes.
    view: Option<HalfView>,
    cache_id: u64,
    cache: Arc<BlockCache>,
    stats: Arc<Stats>,
    index: Vec<IndexEntry>,
    /// Heads of the index's last keys, for [`SsTable::find_block`].
    index_heads: KeyHeads,
    bloom: Option<BloomFilter>,
    meta: SsTableMeta,
    /// How the data blocks store their keys (by the footer's format version).
    layout: KeyLayout,
    /// Set when a compaction replaced the file: it is unlinked when the last reader
    /// drops its handle.
    obsolete: std::sync::atomic::AtomicBool,
}

impl Drop for SsTable {
    fn drop(&mut self) {
        // Its cache id dies with it, so its cached blocks could never be read again:
        // give their room back now rather than when the cache's policy gets to them
        // (a compaction's inputs, a closed region's files).
        self.cache
            .remove_file(self.cache_id, self.index.iter().map(|e| e.handle.offset));
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
            .field("data_path", &self.data_path)
            .field("view", &self.view)
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
        Self::open_unshared(path, cache, stats).map(Arc::new)
    }

    /// Opens the reference file `ref_path`: maps the parent SSTable it names (a sibling
    /// region directory of `ref_path`'s region) and clips every read to the half.
    pub fn open_reference(
        ref_path: &Path,
        cache: Arc<BlockCache>,
        stats: Arc<Stats>,
    ) -> Result<Arc<SsTable>> {
        let reference = Reference::load(ref_path)?;
        let region_dir = ref_path
            .parent()
            .and_then(Path::parent)
            .ok_or_else(|| Error::InvalidRegion(format!("{} has no region", ref_path.display())))?;
        let parent_file = reference.parent_file(region_dir)?;
        let mut table = Self::open_unshared(&parent_file, cache, stats)?;
        table.path = ref_path.to_path_buf();
        table.clip(reference.half, key::row_start_key(&reference.split_row))?;
        Ok(Arc::new(table))
    }

    fn open_unshared(path: &Path, cache: Arc<BlockCache>, stats: Arc<Stats>) -> Result<SsTable> {
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
        Self::from_bytes(path, data, cache, stats)
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

        let index_heads = KeyHeads::new(
            &index
                .iter()
                .map(|e| e.last_key.as_slice())
                .collect::<Vec<_>>(),
        );
        Ok(SsTable {
            path: path.to_path_buf(),
            data_path: path.to_path_buf(),
            data,
            view: None,
            cache_id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            cache,
            stats,
            index,
            index_heads,
            bloom,
            meta,
            layout: footer.data_layout(),
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

    /// File size in bytes; for a reference, the share of the parent file its half
    /// covers (by data blocks), which is what compaction and split decisions weigh.
    pub fn file_size(&self) -> u64 {
        let full = self.data.len() as u64;
        match &self.view {
            None => full,
            Some(v) => full * v.blocks.len() as u64 / (self.index.len().max(1) as u64),
        }
    }

    /// The file holding the data (the parent's SSTable for a reference).
    pub fn data_path(&self) -> &Path {
        &self.data_path
    }

    /// True if this is a reference to half of a parent region's SSTable.
    pub fn is_reference(&self) -> bool {
        self.view.is_some()
    }

    /// For a reference: the half and the encoded split key (`key::row_start_key`).
    pub fn reference_half(&self) -> Option<(Half, &[u8])> {
        self.view.as_ref().map(|v| (v.half, v.split_key.as_slice()))
    }

    /// True if rows of `row_part` (a row bloom key) can be in this table's range: always
    /// for a plain SSTable, only the reference's half otherwise.
    fn row_in_view(&self, row_part: &[u8]) -> bool {
        match &self.view {
            None => true,
            Some(v) if v.empty => false,
            Some(v) => match v.half {
                Half::Bottom => row_part < v.split_key.as_slice(),
                Half::Top => row_part >= v.split_key.as_slice(),
            },
        }
    }

    /// The whole index of the data file (block numbers used by iterators and the cache).
    pub(crate) fn full_index(&self) -> &[IndexEntry] {
        &self.index
    }

    /// Number (in [`Self::full_index`]) of the first block whose last key is `>= target`,
    /// the index's length if none.
    pub(crate) fn find_block(&self, target: &[u8]) -> usize {
        let last_key = |i: usize| self.index.get(i).map(|e| e.last_key.as_slice()).ok_or(());
        self.index_heads
            .count_less(target, last_key)
            .unwrap_or_else(|()| super::index::find_block(&self.index, target))
    }

    /// The (bounds, empty) an iterator of this table clips to: a lower bound for a top
    /// half, an upper bound (exclusive) for a bottom half.
    pub(crate) fn iter_bounds(&self) -> (Option<Vec<u8>>, Option<Vec<u8>>, bool) {
        match &self.view {
            None => (None, None, false),
            Some(v) => match v.half {
                Half::Top => (Some(v.split_key.clone()), None, v.empty),
                Half::Bottom => (None, Some(v.split_key.clone()), v.empty),
            },
        }
    }

    /// Restricts the table to one half of its rows (reference open). Computes the
    /// half's first and last keys from the index and at most one data block, and
    /// scales the counts in the meta by the share of data blocks.
    fn clip(&mut self, half: Half, split_key: Vec<u8>) -> Result<()> {
        let n = self.index.len();
        // First block whose last key is >= the split key: the boundary block.
        let b = super::index::find_block(&self.index, &split_key);
        let mut view = HalfView {
            split_key,
            half,
            blocks: 0..0,
            empty: true,
        };
        let mut first = Vec::new();
        let mut last = Vec::new();
        match half {
            Half::Top if b < n => {
                let mut it = BlockIter::new(self.read_data_block(b, false)?);
                it.seek(&view.split_key)
                    .map_err(|e| e.at(&self.data_path, self.block_offset(b)))?;
                if it.valid() {
                    first = it.key().to_vec();
                    last = self.meta.last_key.clone();
                    view.blocks = b..n;
                    view.empty = false;
                }
            }
            Half::Top => {}
            Half::Bottom if self.meta.first_key >= view.split_key => {}
            Half::Bottom if b == n => {
                first = self.meta.first_key.clone();
                last = self.meta.last_key.clone();
                view.blocks = 0..n;
                view.empty = false;
            }
            Half::Bottom => {
                // The last key below the split key is in block b, or ends block b-1.
                let mut it = BlockIter::new(self.read_data_block(b, false)?);
                let at = |e: DecodeError| e.at(&self.data_path, self.block_offset(b));
                it.seek_to_first().map_err(at)?;
                while it.valid() && it.key() < view.split_key.as_slice() {
                    last.clear();
                    last.extend_from_slice(it.key());
                    it.next().map_err(at)?;
                }
                if last.is_empty() {
                    last = b
                        .checked_sub(1)
                        .and_then(|p| self.index.get(p))
                        .map(|e| e.last_key.clone())
                        .unwrap_or_default();
                    view.blocks = 0..b;
                } else {
                    view.blocks = 0..b + 1;
                }
                first = self.meta.first_key.clone();
                view.empty = last.is_empty();
            }
        }
        let share = |v: u64| {
            if view.empty {
                0
            } else {
                (v * view.blocks.len() as u64)
                    .div_ceil(n.max(1) as u64)
                    .max(1)
            }
        };
        self.meta.entry_count = share(self.meta.entry_count);
        self.meta.put_count = share(self.meta.put_count).min(self.meta.entry_count);
        self.meta.delete_marker_count =
            share(self.meta.delete_marker_count).min(self.meta.entry_count);
        self.meta.raw_data_bytes = share(self.meta.raw_data_bytes);
        self.meta.data_block_count = view.blocks.len() as u64;
        self.meta.first_key = first;
        self.meta.last_key = last;
        self.view = Some(view);
        Ok(())
    }

    fn block_offset(&self, i: usize) -> u64 {
        self.block_handle(i).map_or(0, |h| h.offset)
    }

    /// The meta block.
    pub fn meta(&self) -> &SsTableMeta {
        &self.meta
    }

    /// The block index (one entry per data block, in key order): for split points and
    /// tools. For a reference, only the blocks of its half.
    pub fn index(&self) -> &[IndexEntry] {
        match &self.view {
            None => &self.index,
            Some(v) => self.index.get(v.blocks.clone()).unwrap_or_default(),
        }
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
        if !self.row_in_view(row_part) {
            return false;
        }
        match (&self.bloom, self.meta.bloom) {
            (Some(filter), BloomType::Row) => self.probe(filter, row_part),
            _ => true,
        }
    }

    /// Bloom probe with a row+column bloom key (`key::column_part`). False means the file
    /// holds no entry of that column. A row filter is probed with the key's row part.
    pub fn may_contain_column(&self, column_part: &[u8]) -> bool {
        if let Some(row) = key::row_part(column_part)
            && !self.row_in_view(row)
        {
            return false;
        }
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
        !self.view.as_ref().is_some_and(|v| v.empty)
            && self.meta.last_key.as_slice() >= start_row_key
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

    /// Data block `i` from memory alone: from the block cache, or, when the block is at
    /// most [`MAX_RESIDENT_READ_BYTES`] and every page of it is in the OS page cache,
    /// read from the mapping (checksum verified, as every read) and added to the block
    /// cache. Else [`Error::NotCached`]: reading it could wait for the disk, or would
    /// hold the caller's thread too long.
    pub(crate) fn cached_data_block(&self, i: usize) -> Result<Arc<Block>> {
        let handle = self.block_handle(i).ok_or_else(|| {
            Error::InvalidArgument(format!("block {i} out of range in {}", self.path.display()))
        })?;
        if let Some(block) = self.cache.get_cached(self.cache_id, handle.offset) {
            return Ok(block);
        }
        if !self.cache.is_enabled()
            || handle.size > MAX_RESIDENT_READ_BYTES
            || !self.block_resident(handle)
        {
            return Err(Error::NotCached);
        }
        let block = self.load_block(handle, true)?;
        Stats::add(&self.stats.blocks_read_resident, 1);
        self.cache
            .insert_loaded(self.cache_id, handle.offset, block.clone());
        Ok(block)
    }

    /// True if the bytes of the block at `handle` are in memory (see `resident.rs`).
    fn block_resident(&self, handle: BlockHandle) -> bool {
        let start = usize::try_from(handle.offset).ok();
        let end = usize::try_from(handle.size)
            .ok()
            .zip(start)
            .and_then(|(n, s)| s.checked_add(n));
        match (start, end) {
            (Some(s), Some(e)) => self
                .data
                .get(s..e)
                .is_some_and(super::resident::is_resident),
            _ => false,
        }
    }

    /// Loads this file's data blocks into the block cache, in file order, skipping the
    /// ones already there, while the cache has room for them
    /// ([`BlockCache::has_room_for_prefetch`]); HBase's `PREFETCH_BLOCKS_ON_OPEN`.
    /// Every block is verified as on any read. Returns the blocks loaded. A reference
    /// (half of a parent file) is not prefetched: its blocks are the parent's.
    pub fn prefetch_blocks(&self) -> Result<u64> {
        if self.is_reference() {
            return Ok(0);
        }
        let mut loaded = 0;
        for entry in self.index.iter() {
            if !self.cache.has_room_for_prefetch() {
                break;
            }
            let handle = entry.handle;
            if self.cache.contains(self.cache_id, handle.offset) {
                continue;
            }
            let block = self.load_block(handle, true)?;
            self.cache
                .insert_prefetched(self.cache_id, handle.offset, block);
            loaded += 1;
        }
        Ok(loaded)
    }

    /// Reads data block `i` through the block cache.
    pub(crate) fn read_data_block(&self, i: usize, fill_cache: bool) -> Result<Arc<Block>> {
        let handle = self.block_handle(i).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "block {i} out of range in {}",
                self.data_path.display()
            ))
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
        let buffers = self.cache.buffers();
        let mut capacity = 0;
        read_frame_into(&self.data, handle, for_cache, |len| {
            let buf = buffers.take(len);
            capacity = buf.capacity();
            buf
        })
        .and_then(|payload| Block::decode(payload, self.layout))
        .map(|block| match capacity {
            // A zero-copy slice of the mapping: nothing to recycle.
            0 => Arc::new(block),
            _ => Arc::new(block.recycled_to(buffers.clone(), capacity)),
        })
        .map_err(|e| e.at(&self.data_path, handle.offset))
    }
}

/// Largest block (on-disk frame) a cache-only read loads from the page cache. Such a read
/// runs on a server's async thread, which also drives the connections: verifying and
/// copying a 64 KiB block there (~30 µs here) stalled the other requests of the
/// connection more than the blocking-pool hop it saved (measured with `strata-bench`,
/// YCSB C over 1M records: 64 KiB blocks lost ~10% throughput, 8 KiB blocks gained
/// ~10-40% and cut the read p99; docs/benchmarks.md, "Where the time goes"). A block
/// closes once it passes its family's `block_size`, so this admits families of up to
/// ~12 KiB blocks; 16 KiB ones (frames just over 16 KiB) were inconclusive and keep the
/// blocking path.
pub const MAX_RESIDENT_READ_BYTES: u64 = 16 * 1024;

/// The half of a parent SSTable a reference exposes.
#[derive(Clone, Debug)]
struct HalfView {
    /// `key::row_start_key(split_row)`.
    split_key: Vec<u8>,
    half: Half,
    /// Data blocks holding entries of the half.
    blocks: Range<usize>,
    /// The half holds no entry.
    empty: bool,
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
