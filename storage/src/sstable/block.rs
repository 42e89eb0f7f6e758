//! Sorted key/value blocks with key prefix compression: the format of data and index
//! blocks (before framing, see `frame.rs`).
//!
//! ```text
//! entry*  restart_offset u32 LE * n  n u32 LE
//! entry = shared varint | unshared varint | value_len varint | key_delta | value   (plain)
//! entry = shared varint | unshared varint | value_len varint | tag u8
//!         | body_delta | trailer_delta | value                                     (trailer)
//! ```
//!
//! Every [`RESTART_INTERVAL`]th entry is a restart point storing its full key
//! (`shared == 0`), so a seek binary-searches the restart points and then scans at most
//! one interval.
//!
//! Two [`KeyLayout`]s: index blocks (and data blocks of format-1 files) treat keys as
//! opaque bytes. Data blocks of format-2 files know every key ends with an internal
//! key's 17-byte trailer (`!timestamp`, type, `!seq`): the prefix is shared over the key's
//! body only, and the trailer is stored as its difference from the previous key's (the
//! unshared tails of the two big-endian fields, and the type unless it repeats), about 6
//! bytes instead of 17 for a file written in one flush. A restart entry stores its whole
//! trailer (`tag == 0`), so its full key is contiguous in the block.
//!
//! Invariants checked by [`Block::decode`]: the restart array fits, restart offsets start
//! at 0, strictly increase and point inside the entry area. Entries are
//! decoded lazily and every length is bounds-checked, so corrupt bytes give a
//! [`DecodeError`], never a panic. A [`Block`] is immutable and shared (`Arc`) between
//! the block cache and iterators; a [`BlockIter`] owns its `Arc` and is `Send`.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use super::buffers::BlockBuffers;
use super::codec::{DecodeError, DecodeResult, Reader, put_varint, varint_len};
use super::heads::KeyHeads;
use crate::key::KEY_TRAILER_LEN;

/// Entries between two restart points (full keys).
pub const RESTART_INTERVAL: usize = 16;

/// Bytes of an internal key's trailer: `!timestamp` u64 BE, type u8, `!seq` u64 BE.
const TRAILER: usize = KEY_TRAILER_LEN;
/// Where the type byte sits in the trailer (the two u64 fields surround it).
const TYPE_AT: usize = 8;
/// Largest valid trailer tag: `8 * 18 + 8 * 2 + 1`.
const MAX_TAG: u8 = 161;

/// How a block stores its keys (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyLayout {
    /// Keys are opaque bytes, prefix-compressed.
    #[default]
    Plain,
    /// Every key is an internal key; its 17-byte trailer is delta-coded.
    Trailer,
}

/// A trailer tag: how many leading bytes of each u64 field equal the previous key's
/// (0..=8 each) and whether the type byte repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tag {
    ts_shared: usize,
    seq_shared: usize,
    type_same: bool,
}

impl Tag {
    const FULL: Tag = Tag {
        ts_shared: 0,
        seq_shared: 0,
        type_same: false,
    };

    fn encode(self) -> u8 {
        (self.ts_shared * 18 + self.seq_shared * 2 + usize::from(self.type_same)) as u8
    }

    fn decode(tag: u8) -> Option<Tag> {
        (tag <= MAX_TAG).then(|| {
            let t = usize::from(tag);
            Tag {
                ts_shared: t / 18,
                seq_shared: (t % 18) / 2,
                type_same: t % 2 == 1,
            }
        })
    }

    /// Bytes of the trailer stored after the key's body.
    fn stored_len(self) -> usize {
        (8 - self.ts_shared) + usize::from(!self.type_same) + (8 - self.seq_shared)
    }
}

/// Accumulates sorted entries into one block's bytes.
#[derive(Debug, Default)]
pub(crate) struct BlockBuilder {
    layout: KeyLayout,
    buf: Vec<u8>,
    restarts: Vec<u32>,
    last_key: Vec<u8>,
    entries: usize,
}

impl BlockBuilder {
    /// A builder for blocks of `layout`. With [`KeyLayout::Trailer`] every key must be at
    /// least [`KEY_TRAILER_LEN`] bytes (the SSTable builder accepts only internal keys).
    pub(crate) fn new(layout: KeyLayout) -> Self {
        BlockBuilder {
            layout,
            ..BlockBuilder::default()
        }
    }

    /// Appends an entry. Keys must be strictly increasing (the SSTable builder checks).
    pub(crate) fn add(&mut self, key: &[u8], value: &[u8]) {
        debug_assert!(self.entries == 0 || key > self.last_key.as_slice());
        let restart = self.entries.is_multiple_of(RESTART_INTERVAL);
        if restart {
            // Offsets fit u32: the builder caps a block far below 4 GiB.
            self.restarts.push(self.buf.len() as u32);
        }
        match self.layout {
            KeyLayout::Plain => {
                let shared = if restart {
                    0
                } else {
                    common_prefix(&self.last_key, key)
                };
                let unshared = key.get(shared..).unwrap_or_default();
                put_varint(&mut self.buf, shared as u64);
                put_varint(&mut self.buf, unshared.len() as u64);
                put_varint(&mut self.buf, value.len() as u64);
                self.buf.extend_from_slice(unshared);
            }
            KeyLayout::Trailer => {
                // The SSTable builder accepts only internal keys, which end with a trailer.
                debug_assert!(key.len() >= TRAILER, "not an internal key");
                let (body, trailer) = key.split_at(key.len().saturating_sub(TRAILER));
                let (prev_body, prev_trailer) = self
                    .last_key
                    .split_at(self.last_key.len().saturating_sub(TRAILER));
                let (ts, kind, seq) = trailer_fields(trailer);
                let (shared, tag) = if restart || prev_trailer.len() != TRAILER {
                    (0, Tag::FULL)
                } else {
                    let (prev_ts, prev_kind, prev_seq) = trailer_fields(prev_trailer);
                    let tag = Tag {
                        ts_shared: common_prefix(prev_ts, ts),
                        seq_shared: common_prefix(prev_seq, seq),
                        type_same: prev_kind == kind,
                    };
                    (common_prefix(prev_body, body), tag)
                };
                let unshared = body.get(shared..).unwrap_or_default();
                put_varint(&mut self.buf, shared as u64);
                put_varint(&mut self.buf, unshared.len() as u64);
                put_varint(&mut self.buf, value.len() as u64);
                self.buf.push(tag.encode());
                self.buf.extend_from_slice(unshared);
                self.buf
                    .extend_from_slice(ts.get(tag.ts_shared..).unwrap_or_default());
                if !tag.type_same {
                    self.buf.extend(kind);
                }
                self.buf
                    .extend_from_slice(seq.get(tag.seq_shared..).unwrap_or_default());
            }
        }
        self.buf.extend_from_slice(value);
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.entries += 1;
    }

    /// Bytes the block would take if finished now.
    pub(crate) fn estimated_size(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    /// Bytes one more entry would add at most (for size limits before `add`).
    pub(crate) fn entry_size_bound(key: &[u8], value: &[u8]) -> usize {
        3 * varint_len(u64::MAX) + 1 + key.len() + value.len() + 4
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries == 0
    }

    pub(crate) fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// Returns the finished block bytes and resets the builder for the next block.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        for r in &self.restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        self.restarts.clear();
        self.last_key.clear();
        self.entries = 0;
        out
    }
}

/// An internal key trailer's `!timestamp` bytes, type byte and `!seq` bytes (empty
/// fields if `trailer` is short, which the SSTable builder rules out).
fn trailer_fields(trailer: &[u8]) -> (&[u8], Option<u8>, &[u8]) {
    let (ts, rest) = trailer.split_at(TYPE_AT.min(trailer.len()));
    match rest.split_first() {
        Some((kind, seq)) => (ts, Some(*kind), seq),
        None => (ts, None, rest),
    }
}

/// `prev` (a big-endian trailer field) with its low `len` bytes (0..=8) replaced by the
/// `len` bytes of `data` that end at `end`. One 8-byte load, no loop, when at least 8
/// bytes precede `end` (always, past a block's first entry).
#[inline]
fn merge_tail(prev: u64, data: &[u8], end: usize, len: usize) -> u64 {
    let low = u64::MAX
        .checked_shr(64u32.saturating_sub(8 * len as u32))
        .unwrap_or(0);
    let tail = match end
        .checked_sub(8)
        .and_then(|start| data.get(start..end))
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
    {
        Some(w) => u64::from_be_bytes(w),
        None => data
            .get(end.saturating_sub(len)..end)
            .unwrap_or_default()
            .iter()
            .fold(0, |acc, &b| (acc << 8) | u64::from(b)),
    };
    (prev & !low) | (tail & low)
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// A decoded block: its bytes plus the position of the restart array.
#[derive(Debug)]
pub struct Block {
    data: Bytes,
    layout: KeyLayout,
    /// Where the entries end and the restart array begins.
    entries_end: usize,
    num_restarts: usize,
    /// The restart keys' heads, so a seek's binary search reads one small array instead
    /// of an entry per probe (see `heads.rs`).
    heads: KeyHeads,
    /// Heap bytes of `data`'s buffer (its capacity when it came from a pool).
    buffer_bytes: usize,
    /// Where `data`'s buffer goes when the block is dropped (see `buffers.rs`).
    recycle_to: Option<Arc<BlockBuffers>>,
}

impl Drop for Block {
    fn drop(&mut self) {
        if let Some(pool) = self.recycle_to.take() {
            pool.put(std::mem::take(&mut self.data));
        }
    }
}

impl Block {
    /// Checks the restart array of `data` (a block's decompressed payload), whose keys
    /// are stored as `layout` says.
    pub(crate) fn decode(data: Bytes, layout: KeyLayout) -> DecodeResult<Block> {
        let len = data.len();
        let count_at = len.checked_sub(4).ok_or_else(|| {
            DecodeError::new(format!("block of {len} bytes has no restart count"))
        })?;
        let num_restarts = Reader::at(&data, count_at).u32_le("restart count")? as usize;
        let entries_end = num_restarts
            .checked_mul(4)
            .and_then(|n| count_at.checked_sub(n))
            .ok_or_else(|| {
                DecodeError::new(format!(
                    "{num_restarts} restart points do not fit a {len}-byte block"
                ))
            })?;
        if num_restarts == 0 && entries_end != 0 {
            return Err(DecodeError::new("block has entries but no restart point"));
        }
        let mut block = Block {
            buffer_bytes: data.len(),
            data,
            layout,
            entries_end,
            num_restarts,
            heads: KeyHeads::default(),
            recycle_to: None,
        };
        let mut prev: Option<usize> = None;
        for i in 0..num_restarts {
            let r = block.restart(i)?;
            let ok = match prev {
                None => r == 0,
                Some(p) => r > p,
            };
            if !ok || r >= entries_end {
                return Err(DecodeError::new(format!(
                    "restart point {i} has bad offset {r}"
                )));
            }
            prev = Some(r);
        }
        let keys = (0..num_restarts)
            .map(|i| block.restart_key(i))
            .collect::<DecodeResult<Vec<&[u8]>>>()?;
        block.heads = KeyHeads::new(&keys);
        Ok(block)
    }

    /// The whole key stored at restart point `i`.
    fn restart_key(&self, i: usize) -> DecodeResult<&[u8]> {
        let offset = self.restart(i)?;
        if offset >= self.entries_end {
            return Err(DecodeError::new(format!(
                "restart point {i} holds no entry"
            )));
        }
        // With no previous key the entry shares nothing (`entry` checks), so its whole
        // key, body and trailer, is contiguous.
        let e = self.entry(offset, 0)?;
        Ok(self
            .data
            .get(e.delta.start..e.trailer.end)
            .unwrap_or_default())
    }

    /// Hands the block's buffer, of `capacity` bytes and taken from `pool`, back to
    /// `pool` when the block is dropped.
    pub(crate) fn recycled_to(mut self, pool: Arc<BlockBuffers>, capacity: usize) -> Block {
        self.buffer_bytes = capacity.max(self.data.len());
        self.recycle_to = Some(pool);
        self
    }

    /// Heap bytes held by the block (the block cache's weight).
    pub fn size_bytes(&self) -> usize {
        self.buffer_bytes + self.heads.size_bytes()
    }

    /// True if the block holds no entries.
    pub fn is_empty(&self) -> bool {
        self.entries_end == 0
    }

    fn restart(&self, i: usize) -> DecodeResult<usize> {
        let at = i
            .checked_mul(4)
            .and_then(|n| self.entries_end.checked_add(n))
            .ok_or_else(|| DecodeError::new("restart index overflows"))?;
        Ok(Reader::at(&self.data, at).u32_le("restart offset")? as usize)
    }

    /// Decodes the entry at `offset` whose predecessor's key is `prev_key_len` bytes
    /// long (0: no predecessor, a restart point). Inlined: returned through memory,
    /// its ranges cost a store-forwarding stall per entry.
    #[inline(always)]
    fn entry(&self, offset: usize, prev_key_len: usize) -> DecodeResult<RawEntry> {
        let entries = self.data.get(..self.entries_end).unwrap_or_default();
        let mut r = Reader::at(entries, offset);
        let shared = r.varint_usize("shared key length")?;
        let unshared = r.varint_usize("unshared key length")?;
        let value_len = r.varint_usize("value length")?;
        let (tag, prev_body_len) = match self.layout {
            KeyLayout::Plain => (Tag::FULL, prev_key_len),
            KeyLayout::Trailer => {
                let byte = r.u8("trailer tag")?;
                let tag = Tag::decode(byte).ok_or_else(|| {
                    DecodeError::new(format!("entry at {offset} has bad trailer tag {byte}"))
                })?;
                if prev_key_len == 0 && tag != Tag::FULL {
                    return Err(DecodeError::new(format!(
                        "entry at {offset} shares trailer bytes with no previous key"
                    )));
                }
                (tag, prev_key_len.saturating_sub(TRAILER))
            }
        };
        if shared > prev_body_len {
            return Err(DecodeError::new(format!(
                "entry at {offset} shares {shared} bytes of a {prev_body_len}-byte key"
            )));
        }
        let delta_start = r.position();
        r.bytes(unshared, "key delta")?;
        let trailer_start = r.position();
        if self.layout == KeyLayout::Trailer {
            r.bytes(tag.stored_len(), "key trailer")?;
        }
        let value_start = r.position();
        r.bytes(value_len, "value")?;
        Ok(RawEntry {
            shared,
            tag,
            delta: delta_start..trailer_start,
            trailer: trailer_start..value_start,
            value: value_start..r.position(),
        })
    }
}

/// A block of `size_bytes` bytes holding no entries, for cache tests.
#[cfg(test)]
pub(crate) fn block_for_test(size_bytes: usize) -> Arc<Block> {
    Arc::new(Block {
        data: Bytes::from(vec![0; size_bytes]),
        layout: KeyLayout::Plain,
        entries_end: 0,
        num_restarts: 0,
        heads: KeyHeads::default(),
        buffer_bytes: size_bytes,
        recycle_to: None,
    })
}

/// An entry's parts as ranges into the block's bytes.
struct RawEntry {
    shared: usize,
    /// How `trailer` differs from the previous key's trailer ([`KeyLayout::Trailer`]).
    tag: Tag,
    /// The key's unshared bytes (of its body, in the trailer layout).
    delta: Range<usize>,
    /// The stored part of the trailer (empty in the plain layout).
    trailer: Range<usize>,
    value: Range<usize>,
}

/// A cursor over one block. Owns its block, so it can outlive the cache lookup.
#[derive(Debug)]
pub struct BlockIter {
    block: Arc<Block>,
    /// Offset of the entry after the current one (`entries_end` at the end).
    next_offset: usize,
    key: Vec<u8>,
    value: Range<usize>,
    valid: bool,
    /// The current key's trailer fields ([`KeyLayout::Trailer`] blocks): the next entry
    /// stores only how its own differ.
    ts: u64,
    kind: u8,
    seq: u64,
}

impl BlockIter {
    /// A cursor positioned nowhere; call a seek first.
    pub fn new(block: Arc<Block>) -> Self {
        BlockIter {
            block,
            next_offset: 0,
            key: Vec::new(),
            value: 0..0,
            valid: false,
            ts: 0,
            kind: 0,
            seq: 0,
        }
    }

    /// True while positioned on an entry.
    pub fn valid(&self) -> bool {
        self.valid
    }

    /// The current key (only meaningful while valid).
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The current value (only meaningful while valid).
    pub fn value(&self) -> &[u8] {
        self.block.data.get(self.value.clone()).unwrap_or_default()
    }

    /// True if nothing but this cursor holds the block (the block cache does not): it
    /// is dropped with the cursor, unless a slice of it lives on.
    pub fn sole_holder(&self) -> bool {
        Arc::strong_count(&self.block) == 1
    }

    /// The current value as a shared slice of the block (no copy).
    pub fn value_bytes(&self) -> bytes::Bytes {
        if self.value.end <= self.block.data.len() && self.value.start <= self.value.end {
            self.block.data.slice(self.value.clone())
        } else {
            bytes::Bytes::new()
        }
    }

    pub(crate) fn seek_to_first(&mut self) -> DecodeResult<()> {
        self.start_at_restart(0)?;
        self.next()
    }

    /// Moves to the entry after the current one; invalid past the last entry.
    pub(crate) fn next(&mut self) -> DecodeResult<()> {
        self.valid = false;
        if self.next_offset >= self.block.entries_end {
            return Ok(());
        }
        let e = self.block.entry(self.next_offset, self.key.len())?;
        let data = &self.block.data;
        let delta = data.get(e.delta.clone()).unwrap_or_default();
        match self.block.layout {
            KeyLayout::Plain => {
                self.key.truncate(e.shared);
                self.key.extend_from_slice(delta);
            }
            KeyLayout::Trailer => {
                // The previous key's trailer fields, their unshared tails replaced by
                // this entry's stored bytes (`entry` checked they are all there).
                let tag = e.tag;
                let ts_end = e.trailer.start + (8 - tag.ts_shared);
                self.ts = merge_tail(self.ts, data, ts_end, 8 - tag.ts_shared);
                if !tag.type_same {
                    self.kind = data.get(ts_end).copied().unwrap_or_default();
                }
                self.seq = merge_tail(self.seq, data, e.trailer.end, 8 - tag.seq_shared);
                self.key.truncate(e.shared);
                self.key.extend_from_slice(delta);
                self.key.extend_from_slice(&self.ts.to_be_bytes());
                self.key.push(self.kind);
                self.key.extend_from_slice(&self.seq.to_be_bytes());
            }
        }
        self.next_offset = e.value.end;
        self.value = e.value;
        self.valid = true;
        Ok(())
    }

    /// Positions at the first entry with key `>= target`; invalid if there is none.
    pub(crate) fn seek(&mut self, target: &[u8]) -> DecodeResult<()> {
        if self.block.num_restarts == 0 {
            self.valid = false;
            return Ok(());
        }
        // Find the last restart point whose key is < target; the answer is at or after it.
        let block = &self.block;
        debug_assert_eq!(block.heads.len(), block.num_restarts);
        let lo = block
            .heads
            .count_less(target, |i| block.restart_key(i))?
            .saturating_sub(1);
        self.start_at_restart(lo)?;
        loop {
            self.next()?;
            if !self.valid || self.key.as_slice() >= target {
                return Ok(());
            }
        }
    }

    fn start_at_restart(&mut self, i: usize) -> DecodeResult<()> {
        self.key.clear();
        self.valid = false;
        self.next_offset = if self.block.num_restarts == 0 {
            self.block.entries_end
        } else {
            self.block.restart(i)?
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn build(entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> Arc<Block> {
        build_as(KeyLayout::Plain, entries)
    }

    fn build_as(layout: KeyLayout, entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> Arc<Block> {
        let mut b = BlockBuilder::new(layout);
        for (k, v) in entries {
            b.add(k, v);
        }
        let bytes = b.finish();
        assert!(b.is_empty());
        Arc::new(Block::decode(Bytes::from(bytes), layout).unwrap())
    }

    fn check_round_trip_and_seek(
        layout: KeyLayout,
        map: &BTreeMap<Vec<u8>, Vec<u8>>,
        probes: &[Vec<u8>],
    ) -> Result<(), TestCaseError> {
        let block = build_as(layout, map);
        let mut it = BlockIter::new(block.clone());
        it.seek_to_first().unwrap();
        let all: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        prop_assert_eq!(collect(&mut it), all);
        // Seek to every stored key and to random probes: must equal BTreeMap lower_bound.
        for target in map.keys().chain(probes.iter()) {
            it.seek(target).unwrap();
            let expected = map.range(target.clone()..).next();
            match expected {
                Some((k, v)) => {
                    prop_assert!(it.valid());
                    prop_assert_eq!(it.key(), &k[..]);
                    prop_assert_eq!(it.value(), &v[..]);
                }
                None => prop_assert!(!it.valid()),
            }
        }
        Ok(())
    }

    /// Keys shaped like internal keys: a short body, then 17 trailer bytes drawn so that
    /// neighbours share some leading bytes of each field, and sometimes the type.
    fn arb_internal_map() -> impl Strategy<Value = BTreeMap<Vec<u8>, Vec<u8>>> {
        let body = prop::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(0u8)], 0..6);
        let field = (0usize..=8, any::<u64>()).prop_map(|(zeros, v)| {
            // `zeros` leading 0xFF bytes, as a complemented small number has.
            let mut b = v.to_be_bytes();
            b.iter_mut().take(zeros).for_each(|x| *x = 0xFF);
            b
        });
        let key = (
            body,
            field.clone(),
            prop_oneof![Just(4u8), Just(1u8), any::<u8>()],
            field,
        )
            .prop_map(|(mut k, ts, kind, seq)| {
                k.extend_from_slice(&ts);
                k.push(kind);
                k.extend_from_slice(&seq);
                k
            });
        prop::collection::btree_map(key, prop::collection::vec(any::<u8>(), 0..20), 0..80)
    }

    fn collect(it: &mut BlockIter) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        while it.valid() {
            out.push((it.key().to_vec(), it.value().to_vec()));
            it.next().unwrap();
        }
        out
    }

    fn arb_map() -> impl Strategy<Value = BTreeMap<Vec<u8>, Vec<u8>>> {
        // Small alphabet so keys share prefixes.
        let key = prop::collection::vec(
            prop_oneof![Just(b'a'), Just(b'b'), Just(0u8), any::<u8>()],
            0..12,
        );
        prop::collection::btree_map(key, prop::collection::vec(any::<u8>(), 0..20), 0..80)
    }

    proptest! {
        // Debug-build lz4 and seeks are slow; fewer, larger cases keep the suite quick.
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        #[test]
        fn round_trip_and_seek(map in arb_map(), probes in prop::collection::vec(prop::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..12), 0..20)) {
            check_round_trip_and_seek(KeyLayout::Plain, &map, &probes)?;
        }

        #[test]
        fn trailer_layout_round_trip_and_seek(map in arb_internal_map(), probes in prop::collection::vec(prop::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(0xFF), any::<u8>()], 0..24), 0..20)) {
            check_round_trip_and_seek(KeyLayout::Trailer, &map, &probes)?;
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in prop::collection::vec(prop_oneof![Just(0u8), Just(1u8), any::<u8>()], 0..64), target in prop::collection::vec(any::<u8>(), 0..4), trailer in any::<bool>()) {
            let layout = if trailer { KeyLayout::Trailer } else { KeyLayout::Plain };
            if let Ok(block) = Block::decode(Bytes::from(bytes), layout) {
                let mut it = BlockIter::new(Arc::new(block));
                let mut steps = 0;
                if it.seek_to_first().is_ok() {
                    while it.valid() && steps < 100 && it.next().is_ok() { steps += 1; }
                }
                let _ = it.seek(&target);
            }
        }

        #[test]
        fn flipped_block_bytes_never_panic(map in arb_map(), internal in arb_internal_map(), at in any::<prop::sample::Index>(), byte in any::<u8>(), trailer in any::<bool>()) {
            let (layout, map) = if trailer { (KeyLayout::Trailer, internal) } else { (KeyLayout::Plain, map) };
            let block = build_as(layout, &map);
            let mut bytes = block.data.to_vec();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            if let Ok(block) = Block::decode(Bytes::from(bytes), layout) {
                let mut it = BlockIter::new(Arc::new(block));
                let mut steps = 0;
                if it.seek_to_first().is_ok() {
                    while it.valid() && steps < 200 && it.next().is_ok() { steps += 1; }
                }
                let _ = it.seek(b"b");
            }
        }
    }

    #[test]
    fn restarts_every_interval_and_prefixes_shared() {
        let map: BTreeMap<Vec<u8>, Vec<u8>> = (0..40u32)
            .map(|i| (format!("key{i:04}").into_bytes(), vec![i as u8]))
            .collect();
        let block = build(&map);
        assert_eq!(block.num_restarts, 3);
        let raw_keys: usize = map.keys().map(|k| k.len()).sum();
        assert!(
            block.entries_end < raw_keys,
            "prefix compression should shrink keys"
        );
    }

    #[test]
    fn empty_block_is_valid_and_empty() {
        let block = build(&BTreeMap::new());
        assert!(block.is_empty());
        let mut it = BlockIter::new(block);
        it.seek_to_first().unwrap();
        assert!(!it.valid());
        it.seek(b"x").unwrap();
        assert!(!it.valid());
    }

    #[test]
    fn bad_trailers_are_rejected() {
        let decode = |b: Vec<u8>| Block::decode(Bytes::from(b), KeyLayout::Plain);
        assert!(decode(vec![1, 2]).is_err());
        // Count says 1000 restarts in an 8-byte block.
        assert!(decode(vec![0, 0, 0, 0, 0xE8, 0x03, 0, 0]).is_err());
        // Entries but zero restarts.
        assert!(decode(vec![0, 1, 0, b'a', 0, 0, 0, 0]).is_err());
        // First restart not at 0.
        assert!(decode(vec![0, 1, 0, b'a', 1, 0, 0, 0, 1, 0, 0, 0]).is_err());
        // A restart entry sharing bytes with a previous key it cannot have: caught when
        // the restart keys' heads are built.
        let bad = vec![5, 1, 0, b'a', 0, 0, 0, 0, 1, 0, 0, 0];
        let err = decode(bad).unwrap_err();
        assert!(err.0.contains("shares 5 bytes"), "{err:?}");
        // The same past a restart point: caught by the iterator.
        let mut b = BlockBuilder::default();
        b.add(b"a", b"1");
        let mut bytes = b.finish();
        let second = bytes.len() - 8; // the restart array ([0]) and its count (1) end it
        bytes.splice(second..second, [9, 1, 0, b'b']);
        let mut it = BlockIter::new(Arc::new(decode(bytes).unwrap()));
        it.seek_to_first().unwrap();
        assert!(it.next().is_err());
    }

    fn internal_key(row: &[u8], ts: u64, kind: u8, seq: u64) -> Vec<u8> {
        let mut k = row.to_vec();
        k.extend_from_slice(&(!ts).to_be_bytes());
        k.push(kind);
        k.extend_from_slice(&(!seq).to_be_bytes());
        k
    }

    #[test]
    fn trailer_layout_stores_a_neighbours_trailer_in_a_few_bytes() {
        // Rows written close together: timestamps a few ms apart, sequence ids nearby.
        let entries: BTreeMap<Vec<u8>, Vec<u8>> = (0..64u64)
            .map(|i| {
                let row = format!("row{:08}", i * 7919 % 100_000);
                let key = internal_key(row.as_bytes(), 1_765_000_000_000 + i % 5, 4, 1000 + i * 37);
                (key, b"v".to_vec())
            })
            .collect();
        let plain = build_as(KeyLayout::Plain, &entries);
        let compact = build_as(KeyLayout::Trailer, &entries);
        // 60 of the 64 entries are not restart points and save 17 - 1 (tag) - 1 (ts) -
        // 2 (seq) bytes or more each.
        assert!(
            compact.entries_end + 60 * 13 <= plain.entries_end,
            "plain {} compact {}",
            plain.entries_end,
            compact.entries_end
        );
        let mut it = BlockIter::new(compact);
        it.seek_to_first().unwrap();
        let got = collect(&mut it);
        let want: Vec<_> = entries.into_iter().collect();
        assert_eq!(got, want);
    }

    #[test]
    fn trailer_layout_rejects_bad_tags() {
        let mut b = BlockBuilder::new(KeyLayout::Trailer);
        b.add(&internal_key(b"a", 5, 4, 9), b"1");
        b.add(&internal_key(b"b", 5, 4, 9), b"2");
        let good = b.finish();
        // Entry 0: shared, unshared, value_len, tag at byte 3.
        let mut bad = good.clone();
        bad[3] = 9 * 18; // past MAX_TAG
        let err = Block::decode(Bytes::from(bad), KeyLayout::Trailer).unwrap_err();
        assert!(err.0.contains("bad trailer tag"), "{err:?}");
        // A restart entry claiming to share its trailer with a key before it.
        let mut bad = good.clone();
        bad[3] = 1;
        let err = Block::decode(Bytes::from(bad), KeyLayout::Trailer).unwrap_err();
        assert!(err.0.contains("no previous key"), "{err:?}");
        // The second entry's tag (after entry 0's 3 + 1 + 1 + 17 + 1 bytes): a bad one is
        // an error from the iterator, not a wrong key.
        let second = 3 + 1 + 1 + TRAILER + 1;
        assert_eq!(
            good[second + 3],
            Tag {
                ts_shared: 8,
                seq_shared: 8,
                type_same: true
            }
            .encode()
        );
        let mut bad = good.clone();
        bad[second + 3] = 200;
        let mut it = BlockIter::new(Arc::new(
            Block::decode(Bytes::from(bad), KeyLayout::Trailer).unwrap(),
        ));
        it.seek_to_first().unwrap();
        assert!(it.next().is_err());
    }
}
