//! [`SsTableIter`]: an [`InternalIterator`] over one SSTable.
//!
//! A seek binary-searches the in-memory index for the first block whose last key is
//! `>= target`, then the block's restart points; `next` walks the block and moves to the
//! following block at its end. The iterator owns an `Arc` of its table and of the current
//! block, so it borrows nothing and can be stored in a merging iterator or sent to
//! another thread. After any error it is invalid until the next successful seek.

use std::sync::Arc;

use super::block::BlockIter;
use super::codec::DecodeError;
use super::reader::SsTable;
use crate::error::{Error, Result};
use crate::iterator::InternalIterator;

/// A cursor over one SSTable's entries in key order.
#[derive(Debug)]
pub struct SsTableIter {
    table: Arc<SsTable>,
    fill_cache: bool,
    /// Use cached blocks only; a missing one fails with [`Error::NotCached`].
    cache_only: bool,
    /// Index of the data block `block` iterates over.
    block_idx: usize,
    /// `None` before the first seek, past the end and after an error.
    block: Option<BlockIter>,
    /// A reference's top half starts here (encoded split key).
    lower: Option<Vec<u8>>,
    /// A reference's bottom half stops before this key.
    upper: Option<Vec<u8>>,
    /// A reference whose half is empty: never valid.
    empty: bool,
    /// `value_bytes` copies values shorter than this instead of slicing the block.
    copy_values_below: usize,
}

impl SsTableIter {
    pub(crate) fn new(table: Arc<SsTable>, fill_cache: bool) -> Self {
        let (lower, upper, empty) = table.iter_bounds();
        SsTableIter {
            table,
            fill_cache,
            cache_only: false,
            block_idx: 0,
            block: None,
            lower,
            upper,
            empty,
            copy_values_below: 0,
        }
    }

    /// Makes [`InternalIterator::value_bytes`] copy values shorter than `len` bytes out
    /// of a block that only this iterator holds (one the cache did not keep) instead of
    /// returning a slice of it. Such a slice would keep the whole block buffer alive
    /// (and from being recycled, see `buffers.rs`) for as long as the caller holds the
    /// value, which for a point read's small value costs more memory than a copy costs
    /// time. A block the cache holds is sliced: it stays in memory anyway.
    pub(crate) fn copy_values_below(mut self, len: usize) -> Self {
        self.copy_values_below = len;
        self
    }

    pub(crate) fn new_cache_only(table: Arc<SsTable>) -> Self {
        SsTableIter {
            cache_only: true,
            ..Self::new(table, false)
        }
    }

    /// The table this iterator reads.
    pub fn table(&self) -> &Arc<SsTable> {
        &self.table
    }

    /// Turns a block decoding error into a corruption naming the current block.
    fn corrupt(&self, e: DecodeError) -> Error {
        let offset = self
            .table
            .block_handle(self.block_idx)
            .map_or(0, |h| h.offset);
        e.at(self.table.data_path(), offset)
    }

    /// Loads block `idx` (unpositioned). Past the last block the iterator becomes invalid.
    fn load(&mut self, idx: usize) -> Result<bool> {
        self.block = None;
        self.block_idx = idx;
        if self.empty || idx >= self.table.full_index().len() {
            return Ok(false);
        }
        let block = if self.cache_only {
            self.table.cached_data_block(idx)?
        } else {
            self.table.read_data_block(idx, self.fill_cache)?
        };
        self.block = Some(BlockIter::new(block));
        Ok(true)
    }

    /// While the current block is exhausted, moves to the first entry of the next one.
    fn skip_exhausted_blocks(&mut self) -> Result<()> {
        while self.block.as_ref().is_some_and(|b| !b.valid()) {
            if !self.load(self.block_idx + 1)? {
                return Ok(());
            }
            if let Some(b) = &mut self.block
                && let Err(e) = b.seek_to_first()
            {
                return Err(self.corrupt(e));
            }
        }
        Ok(())
    }

    fn seek_inner(&mut self, target: &[u8]) -> Result<()> {
        let idx = self.table.find_block(target);
        // A seek into the block already held (a read skipping a column's versions, or
        // moving to the next selected column) needs no cache lookup.
        let held = idx == self.block_idx && self.block.is_some();
        if (held || self.load(idx)?)
            && let Some(b) = &mut self.block
            && let Err(e) = b.seek(target)
        {
            return Err(self.corrupt(e));
        }
        self.skip_exhausted_blocks()
    }

    fn seek_to_first_inner(&mut self) -> Result<()> {
        if self.load(0)?
            && let Some(b) = &mut self.block
            && let Err(e) = b.seek_to_first()
        {
            return Err(self.corrupt(e));
        }
        self.skip_exhausted_blocks()
    }

    fn next_inner(&mut self) -> Result<()> {
        if let Some(b) = &mut self.block
            && let Err(e) = b.next()
        {
            return Err(self.corrupt(e));
        }
        self.skip_exhausted_blocks()
    }

    /// Leaves the cursor invalid if `r` is an error.
    fn invalid_on_error(&mut self, r: Result<()>) -> Result<()> {
        if r.is_err() {
            self.block = None;
        }
        r
    }
}

impl InternalIterator for SsTableIter {
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        let r = match self.lower.take() {
            // A top half starts at the split key.
            Some(lower) => {
                let r = self.seek_inner(if target < lower.as_slice() {
                    &lower
                } else {
                    target
                });
                self.lower = Some(lower);
                r
            }
            None => self.seek_inner(target),
        };
        self.invalid_on_error(r)
    }

    fn seek_to_first(&mut self) -> Result<()> {
        let r = match self.lower.take() {
            Some(lower) => {
                let r = self.seek_inner(&lower);
                self.lower = Some(lower);
                r
            }
            None => self.seek_to_first_inner(),
        };
        self.invalid_on_error(r)
    }

    fn next(&mut self) -> Result<()> {
        let r = self.next_inner();
        self.invalid_on_error(r)
    }

    fn valid(&self) -> bool {
        // A bottom half ends before the split key.
        self.block.as_ref().is_some_and(|b| {
            b.valid() && self.upper.as_ref().is_none_or(|u| b.key() < u.as_slice())
        })
    }

    fn key(&self) -> &[u8] {
        debug_assert!(self.valid());
        self.block.as_ref().map_or(&[], BlockIter::key)
    }

    fn value(&self) -> &[u8] {
        debug_assert!(self.valid());
        self.block.as_ref().map_or(&[], BlockIter::value)
    }

    fn value_bytes(&self) -> bytes::Bytes {
        match &self.block {
            Some(b) if b.value().len() < self.copy_values_below && b.sole_holder() => {
                bytes::Bytes::copy_from_slice(b.value())
            }
            Some(b) => b.value_bytes(),
            None => bytes::Bytes::new(),
        }
    }
}
