//! Sorted key/value blocks with key prefix compression: the format of data and index
//! blocks (before framing, see `frame.rs`).
//!
//! ```text
//! entry*  restart_offset u32 LE * n  n u32 LE
//! entry = shared varint | unshared varint | value_len varint | key_delta | value
//! ```
//!
//! Every [`RESTART_INTERVAL`]th entry is a restart point storing its full key
//! (`shared == 0`), so a seek binary-searches the restart points and then scans at most
//! one interval. Invariants checked by [`Block::decode`]: the trailer fits, restart
//! offsets start at 0, strictly increase and point inside the entry area. Entries are
//! decoded lazily and every length is bounds-checked, so corrupt bytes give a
//! [`DecodeError`], never a panic. A [`Block`] is immutable and shared (`Arc`) between
//! the block cache and iterators; a [`BlockIter`] owns its `Arc` and is `Send`.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use super::buffers::BlockBuffers;
use super::codec::{DecodeError, DecodeResult, Reader, put_varint, varint_len};
use super::heads::KeyHeads;

/// Entries between two restart points (full keys).
pub const RESTART_INTERVAL: usize = 16;

/// Accumulates sorted entries into one block's bytes.
#[derive(Debug, Default)]
pub(crate) struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    last_key: Vec<u8>,
    entries: usize,
}

impl BlockBuilder {
    /// Appends an entry. Keys must be strictly increasing (the SSTable builder checks).
    pub(crate) fn add(&mut self, key: &[u8], value: &[u8]) {
        debug_assert!(self.entries == 0 || key > self.last_key.as_slice());
        let shared = if self.entries.is_multiple_of(RESTART_INTERVAL) {
            // Offsets fit u32: the builder caps a block far below 4 GiB.
            self.restarts.push(self.buf.len() as u32);
            0
        } else {
            common_prefix(&self.last_key, key)
        };
        let unshared = key.get(shared..).unwrap_or_default();
        put_varint(&mut self.buf, shared as u64);
        put_varint(&mut self.buf, unshared.len() as u64);
        put_varint(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(unshared);
        self.buf.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(unshared);
        self.entries += 1;
    }

    /// Bytes the block would take if finished now.
    pub(crate) fn estimated_size(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    /// Bytes one more entry would add at most (for size limits before `add`).
    pub(crate) fn entry_size_bound(key: &[u8], value: &[u8]) -> usize {
        3 * varint_len(u64::MAX) + key.len() + value.len() + 4
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

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// A decoded block: its bytes plus the position of the restart array.
#[derive(Debug)]
pub struct Block {
    data: Bytes,
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
    /// Checks the trailer of `data` (a block's decompressed payload).
    pub(crate) fn decode(data: Bytes) -> DecodeResult<Block> {
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
        let e = self.entry(offset, 0)?;
        Ok(self.data.get(e.delta).unwrap_or_default())
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

    /// Decodes the entry at `offset` whose predecessor's key is `prev_key`.
    fn entry(&self, offset: usize, prev_key_len: usize) -> DecodeResult<RawEntry> {
        let entries = self.data.get(..self.entries_end).unwrap_or_default();
        let mut r = Reader::at(entries, offset);
        let shared = r.varint_usize("shared key length")?;
        let unshared = r.varint_usize("unshared key length")?;
        let value_len = r.varint_usize("value length")?;
        if shared > prev_key_len {
            return Err(DecodeError::new(format!(
                "entry at {offset} shares {shared} bytes of a {prev_key_len}-byte key"
            )));
        }
        let delta_start = r.position();
        r.bytes(unshared, "key delta")?;
        let value_start = r.position();
        r.bytes(value_len, "value")?;
        Ok(RawEntry {
            shared,
            delta: delta_start..value_start,
            value: value_start..r.position(),
        })
    }
}

/// A block of `size_bytes` bytes holding no entries, for cache tests.
#[cfg(test)]
pub(crate) fn block_for_test(size_bytes: usize) -> Arc<Block> {
    Arc::new(Block {
        data: Bytes::from(vec![0; size_bytes]),
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
    delta: Range<usize>,
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
        let delta = self.block.data.get(e.delta.clone()).unwrap_or_default();
        self.key.truncate(e.shared);
        self.key.extend_from_slice(delta);
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
        let mut b = BlockBuilder::default();
        for (k, v) in entries {
            b.add(k, v);
        }
        let bytes = b.finish();
        assert!(b.is_empty());
        Arc::new(Block::decode(Bytes::from(bytes)).unwrap())
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
            let block = build(&map);
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
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in prop::collection::vec(prop_oneof![Just(0u8), Just(1u8), any::<u8>()], 0..64), target in prop::collection::vec(any::<u8>(), 0..4)) {
            if let Ok(block) = Block::decode(Bytes::from(bytes)) {
                let mut it = BlockIter::new(Arc::new(block));
                let mut steps = 0;
                if it.seek_to_first().is_ok() {
                    while it.valid() && steps < 100 && it.next().is_ok() { steps += 1; }
                }
                let _ = it.seek(&target);
            }
        }

        #[test]
        fn flipped_block_bytes_never_panic(map in arb_map(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let block = build(&map);
            let mut bytes = block.data.to_vec();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            if let Ok(block) = Block::decode(Bytes::from(bytes)) {
                let mut it = BlockIter::new(Arc::new(block));
                if it.seek_to_first().is_ok() {
                    while it.valid() && it.next().is_ok() {}
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
        assert!(Block::decode(Bytes::from_static(&[1, 2])).is_err());
        // Count says 1000 restarts in an 8-byte block.
        assert!(Block::decode(Bytes::from(vec![0, 0, 0, 0, 0xE8, 0x03, 0, 0])).is_err());
        // Entries but zero restarts.
        assert!(Block::decode(Bytes::from(vec![0, 1, 0, b'a', 0, 0, 0, 0])).is_err());
        // First restart not at 0.
        assert!(Block::decode(Bytes::from(vec![0, 1, 0, b'a', 1, 0, 0, 0, 1, 0, 0, 0])).is_err());
        // A restart entry sharing bytes with a previous key it cannot have: caught when
        // the restart keys' heads are built.
        let bad = vec![5, 1, 0, b'a', 0, 0, 0, 0, 1, 0, 0, 0];
        let err = Block::decode(Bytes::from(bad)).unwrap_err();
        assert!(err.0.contains("shares 5 bytes"), "{err:?}");
        // The same past a restart point: caught by the iterator.
        let mut b = BlockBuilder::default();
        b.add(b"a", b"1");
        let mut bytes = b.finish();
        let second = bytes.len() - 8; // the restart array ([0]) and its count (1) end it
        bytes.splice(second..second, [9, 1, 0, b'b']);
        let mut it = BlockIter::new(Arc::new(Block::decode(Bytes::from(bytes)).unwrap()));
        it.seek_to_first().unwrap();
        assert!(it.next().is_err());
    }
}
