//! Sorted key/value blocks with key prefix compression: the format of data and index
//! blocks (before framing, see `frame.rs`).
//!
//! ```text
//! entry*  restart_offset u32 LE * n  n u32 LE
//! plain entry   = shared varint | unshared varint | value_len varint | key_delta | value
//! trailer entry = tag varint | unshared varint | value_len varint | column_delta
//!                 | type u8 | timestamp_delta varint | seq_delta varint | value
//! ```
//!
//! Every [`RESTART_INTERVAL`]th entry is a restart point storing its full key
//! (`shared == 0`), so a seek binary-searches the restart points and then scans at most
//! one interval.
//!
//! Index blocks, and the data blocks of format-1 files, hold only plain entries
//! ([`EntryLayout::Plain`]). The data blocks of format-2 files ([`EntryLayout::Trailer`])
//! hold internal keys, whose last 17 bytes (`!timestamp u64 be | type | !seq u64 be`) a
//! plain entry would store in full after every row change. There the first varint is a
//! tag: `shared << 1` for a plain entry (every restart entry is one), `shared << 1 | 1`
//! for a trailer entry, whose `shared` and delta cover the key without its trailer and
//! whose two 8-byte trailer fields are stored as zigzag varints of their wrapping
//! difference from the previous key's (about 6 bytes instead of 17).
//!
//! Invariants checked by [`Block::decode`]: the restart array fits, restart offsets
//! start at 0, strictly increase and point inside the entry area. Entries are
//! decoded lazily and every length is bounds-checked, so corrupt bytes give a
//! [`DecodeError`], never a panic. A [`Block`] is immutable and shared (`Arc`) between
//! the block cache and iterators; a [`BlockIter`] owns its `Arc` and is `Send`.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use super::codec::{DecodeError, DecodeResult, Reader, put_varint, varint_len};
use super::heads::KeyHeads;

/// Entries between two restart points (full keys).
pub const RESTART_INTERVAL: usize = 16;

/// Bytes of an internal key's trailer (`!timestamp u64 be | type u8 | !seq u64 be`).
const TRAILER: usize = crate::key::KEY_TRAILER_LEN;

/// How a block's entries store their keys (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum EntryLayout {
    /// Prefix compression over whole keys: index blocks, format-1 data blocks.
    #[default]
    Plain,
    /// Format-2 data blocks: internal keys whose trailers are delta-coded.
    Trailer,
}

/// Accumulates sorted entries into one block's bytes.
#[derive(Debug, Default)]
pub(crate) struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    last_key: Vec<u8>,
    entries: usize,
    layout: EntryLayout,
}

impl BlockBuilder {
    /// An empty builder writing entries in `layout`.
    pub(crate) fn new(layout: EntryLayout) -> Self {
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
        let trailer_entry = self.layout == EntryLayout::Trailer
            && !restart
            && key.len() >= TRAILER
            && self.last_key.len() >= TRAILER;
        if trailer_entry {
            let (column, trailer) = key.split_at(key.len() - TRAILER);
            let (prev_column, prev_trailer) = self.last_key.split_at(self.last_key.len() - TRAILER);
            let shared = common_prefix(prev_column, column);
            let delta = column.get(shared..).unwrap_or_default();
            put_varint(&mut self.buf, (shared as u64) << 1 | 1);
            put_varint(&mut self.buf, delta.len() as u64);
            put_varint(&mut self.buf, value.len() as u64);
            self.buf.extend_from_slice(delta);
            let (ts, kind, seq) = trailer_fields(trailer);
            let (prev_ts, _, prev_seq) = trailer_fields(prev_trailer);
            self.buf.push(kind);
            put_varint(&mut self.buf, zigzag(ts.wrapping_sub(prev_ts)));
            put_varint(&mut self.buf, zigzag(seq.wrapping_sub(prev_seq)));
        } else {
            let shared = if restart {
                0
            } else {
                common_prefix(&self.last_key, key)
            };
            let delta = key.get(shared..).unwrap_or_default();
            let tag = match self.layout {
                EntryLayout::Plain => shared as u64,
                EntryLayout::Trailer => (shared as u64) << 1,
            };
            put_varint(&mut self.buf, tag);
            put_varint(&mut self.buf, delta.len() as u64);
            put_varint(&mut self.buf, value.len() as u64);
            self.buf.extend_from_slice(delta);
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
        // A trailer entry stores at most 1 + 2 * 10 bytes for a 17-byte trailer.
        3 * varint_len(u64::MAX) + key.len() + value.len() + 4 + 4
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

/// A trailer's two 8-byte big-endian fields (as stored, complemented) and its type byte.
fn trailer_fields(trailer: &[u8]) -> (u64, u8, u64) {
    let field = |at: usize| {
        trailer
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_be_bytes)
    };
    (field(0), trailer.get(8).copied().unwrap_or(0), field(9))
}

/// Maps a wrapping difference to a small unsigned number when it is small either way.
fn zigzag(delta: u64) -> u64 {
    let d = delta as i64;
    ((d << 1) ^ (d >> 63)) as u64
}

fn unzigzag(z: u64) -> u64 {
    ((z >> 1) as i64 ^ -((z & 1) as i64)) as u64
}

/// A decoded block: its bytes plus the position of the restart array.
#[derive(Debug)]
pub struct Block {
    data: Bytes,
    /// Where the entries end and the restart array begins.
    entries_end: usize,
    num_restarts: usize,
    layout: EntryLayout,
    /// The restart keys' heads, so a seek's binary search reads one small array instead
    /// of an entry per probe (see `heads.rs`).
    heads: KeyHeads,
}

impl Block {
    /// Checks the trailer of `data` (a block's decompressed payload), whose entries are
    /// in `layout`.
    pub(crate) fn decode(data: Bytes, layout: EntryLayout) -> DecodeResult<Block> {
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
            data,
            entries_end,
            num_restarts,
            layout,
            heads: KeyHeads::default(),
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
        let e = self.entry(offset, &[])?;
        Ok(self.data.get(e.delta).unwrap_or_default())
    }

    /// Heap bytes held by the block (the block cache's weight).
    pub fn size_bytes(&self) -> usize {
        self.data.len() + self.heads.size_bytes()
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

    /// Decodes the entry at `offset` whose predecessor's key is `prev_key` (empty at a
    /// restart point).
    #[inline]
    fn entry(&self, offset: usize, prev_key: &[u8]) -> DecodeResult<RawEntry> {
        let entries = self.data.get(..self.entries_end).unwrap_or_default();
        let mut r = Reader::at(entries, offset);
        let tag = r.varint("shared key length")?;
        let (shared, trailer_entry) = match self.layout {
            EntryLayout::Plain => (tag, false),
            EntryLayout::Trailer => (tag >> 1, tag & 1 == 1),
        };
        let unshared = r.varint_usize("unshared key length")?;
        let value_len = r.varint_usize("value length")?;
        // The bytes `shared` may reach: the whole previous key, or its part before the
        // trailer.
        let prev_len = if trailer_entry {
            prev_key.len().checked_sub(TRAILER).ok_or_else(|| {
                DecodeError::new(format!(
                    "entry at {offset} delta-codes the trailer of a {}-byte key",
                    prev_key.len()
                ))
            })?
        } else {
            prev_key.len()
        };
        if shared > prev_len as u64 {
            return Err(DecodeError::new(format!(
                "entry at {offset} shares {shared} bytes of a {prev_len}-byte key"
            )));
        }
        let delta_start = r.position();
        r.bytes(unshared, "key delta")?;
        let delta = delta_start..r.position();
        let trailer = if trailer_entry {
            let kind = r.u8("key type")?;
            let ts_delta = r.varint("timestamp delta")?;
            let seq_delta = r.varint("sequence delta")?;
            let (prev_ts, _, prev_seq) =
                trailer_fields(prev_key.get(prev_len..).unwrap_or_default());
            let mut t = [0u8; TRAILER];
            t[..8].copy_from_slice(&prev_ts.wrapping_add(unzigzag(ts_delta)).to_be_bytes());
            t[8] = kind;
            t[9..].copy_from_slice(&prev_seq.wrapping_add(unzigzag(seq_delta)).to_be_bytes());
            Some(t)
        } else {
            None
        };
        let value_start = r.position();
        r.bytes(value_len, "value")?;
        Ok(RawEntry {
            // At most `prev_key.len()`, so it fits.
            shared: shared as usize,
            delta,
            trailer,
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
        layout: EntryLayout::Plain,
        heads: KeyHeads::default(),
    })
}

/// An entry's parts as ranges into the block's bytes.
struct RawEntry {
    shared: usize,
    delta: Range<usize>,
    /// A trailer entry's decoded trailer, appended after the delta.
    trailer: Option<[u8; TRAILER]>,
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
        let e = self.block.entry(self.next_offset, &self.key)?;
        let delta = self.block.data.get(e.delta.clone()).unwrap_or_default();
        self.key.truncate(e.shared);
        self.key.extend_from_slice(delta);
        if let Some(trailer) = &e.trailer {
            self.key.extend_from_slice(trailer);
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
        build_in(EntryLayout::Plain, entries)
    }

    fn build_in(layout: EntryLayout, entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> Arc<Block> {
        let mut b = BlockBuilder::new(layout);
        for (k, v) in entries {
            b.add(k, v);
        }
        let bytes = b.finish();
        assert!(b.is_empty());
        Arc::new(Block::decode(Bytes::from(bytes), layout).unwrap())
    }

    fn layout_of(trailer: bool) -> EntryLayout {
        if trailer {
            EntryLayout::Trailer
        } else {
            EntryLayout::Plain
        }
    }

    /// Keys shaped like internal keys: a column part from a small alphabet (so parts
    /// share prefixes and repeat), then a trailer whose fields are near each other,
    /// at either end of the u64 range, or anywhere.
    fn arb_internal_map() -> impl Strategy<Value = BTreeMap<Vec<u8>, Vec<u8>>> {
        let column = prop::collection::vec(
            prop_oneof![Just(b'r'), Just(0u8), Just(1u8), any::<u8>()],
            0..6,
        );
        let field = prop_oneof![
            1_000u64..1_100,
            Just(0u64),
            Just(u64::MAX),
            u64::MAX - 50..=u64::MAX,
            any::<u64>(),
        ];
        let key = (
            column,
            field.clone(),
            prop_oneof![1u8..=4, any::<u8>()],
            field,
        )
            .prop_map(|(mut k, ts, kind, seq)| {
                k.extend_from_slice(&ts.to_be_bytes());
                k.push(kind);
                k.extend_from_slice(&seq.to_be_bytes());
                k
            });
        prop::collection::btree_map(key, prop::collection::vec(any::<u8>(), 0..20), 0..80)
    }

    /// Every key and value of `map` read back through `block`, and every seek (to stored
    /// keys and to `probes`) lands where `BTreeMap::range` says.
    fn check_block(
        block: &Arc<Block>,
        map: &BTreeMap<Vec<u8>, Vec<u8>>,
        probes: &[Vec<u8>],
    ) -> Result<(), TestCaseError> {
        let mut it = BlockIter::new(block.clone());
        it.seek_to_first().unwrap();
        let all: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        prop_assert_eq!(collect(&mut it), all);
        for target in map.keys().chain(probes.iter()) {
            it.seek(target).unwrap();
            match map.range(target.clone()..).next() {
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
        fn round_trip_and_seek(map in arb_map(), probes in prop::collection::vec(prop::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..12), 0..20), trailer in any::<bool>()) {
            // Keys shorter than a trailer are stored as plain entries in either layout.
            check_block(&build_in(layout_of(trailer), &map), &map, &probes)?;
        }

        #[test]
        fn internal_keys_round_trip_and_seek_in_both_layouts(map in arb_internal_map(), probes in prop::collection::vec(prop::collection::vec(prop_oneof![Just(b'r'), Just(0u8), any::<u8>()], 0..24), 0..20)) {
            let plain = build_in(EntryLayout::Plain, &map);
            let trailer = build_in(EntryLayout::Trailer, &map);
            check_block(&plain, &map, &probes)?;
            check_block(&trailer, &map, &probes)?;
            // A trailer entry stores at most 4 bytes more than a plain one.
            let entries = map.len().saturating_sub(map.len().div_ceil(RESTART_INTERVAL));
            prop_assert!(trailer.entries_end <= plain.entries_end + 4 * entries);
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in prop::collection::vec(prop_oneof![Just(0u8), Just(1u8), any::<u8>()], 0..64), target in prop::collection::vec(any::<u8>(), 0..4), trailer in any::<bool>()) {
            if let Ok(block) = Block::decode(Bytes::from(bytes), layout_of(trailer)) {
                let mut it = BlockIter::new(Arc::new(block));
                let mut steps = 0;
                if it.seek_to_first().is_ok() {
                    while it.valid() && steps < 100 && it.next().is_ok() { steps += 1; }
                }
                let _ = it.seek(&target);
            }
        }

        #[test]
        fn flipped_block_bytes_never_panic(map in arb_internal_map(), at in any::<prop::sample::Index>(), byte in any::<u8>(), trailer in any::<bool>()) {
            let layout = layout_of(trailer);
            let block = build_in(layout, &map);
            let mut bytes = block.data.to_vec();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            if let Ok(block) = Block::decode(Bytes::from(bytes), layout) {
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
        assert!(Block::decode(Bytes::from_static(&[1, 2]), EntryLayout::Plain).is_err());
        // Count says 1000 restarts in an 8-byte block.
        assert!(
            Block::decode(
                Bytes::from(vec![0, 0, 0, 0, 0xE8, 0x03, 0, 0]),
                EntryLayout::Plain
            )
            .is_err()
        );
        // Entries but zero restarts.
        assert!(
            Block::decode(
                Bytes::from(vec![0, 1, 0, b'a', 0, 0, 0, 0]),
                EntryLayout::Plain
            )
            .is_err()
        );
        // First restart not at 0.
        assert!(
            Block::decode(
                Bytes::from(vec![0, 1, 0, b'a', 1, 0, 0, 0, 1, 0, 0, 0]),
                EntryLayout::Plain
            )
            .is_err()
        );
        // A restart entry sharing bytes with a previous key it cannot have: caught when
        // the restart keys' heads are built.
        let bad = vec![5, 1, 0, b'a', 0, 0, 0, 0, 1, 0, 0, 0];
        let err = Block::decode(Bytes::from(bad), EntryLayout::Plain).unwrap_err();
        assert!(err.0.contains("shares 5 bytes"), "{err:?}");
        // The same past a restart point: caught by the iterator.
        let mut b = BlockBuilder::default();
        b.add(b"a", b"1");
        let mut bytes = b.finish();
        let second = bytes.len() - 8; // the restart array ([0]) and its count (1) end it
        bytes.splice(second..second, [9, 1, 0, b'b']);
        let mut it = BlockIter::new(Arc::new(
            Block::decode(Bytes::from(bytes), EntryLayout::Plain).unwrap(),
        ));
        it.seek_to_first().unwrap();
        assert!(it.next().is_err());
    }

    /// An internal key of row `row` (any bytes), qualifier `q`, for the layout tests.
    fn ikey(row: &str, ts: u64, kind: u8, seq: u64) -> Vec<u8> {
        let mut k = row.as_bytes().to_vec();
        k.extend_from_slice(&[0, 1, b'q', 0, 1]);
        k.extend_from_slice(&(!ts).to_be_bytes());
        k.push(kind);
        k.extend_from_slice(&(!seq).to_be_bytes());
        k
    }

    #[test]
    fn trailer_entries_store_small_deltas_instead_of_whole_trailers() {
        // 0000000000000042-style rows written within a second of each other: the shape of
        // a flushed memstore.
        let map: BTreeMap<Vec<u8>, Vec<u8>> = (0..64u64)
            .map(|i| {
                let row = format!("{:016}", i * 7919 % 1000);
                let key = ikey(
                    &row,
                    1_764_000_000_000 + (i * 37) % 900,
                    4,
                    1 + (i * 104_729) % 500_000,
                );
                (key, vec![b'v'; 10])
            })
            .collect();
        let plain = build_in(EntryLayout::Plain, &map);
        let trailer = build_in(EntryLayout::Trailer, &map);
        check_block(&trailer, &map, &[]).unwrap();
        // 60 of the 64 entries are trailer entries; each saves at least 8 of its 17 bytes.
        assert!(
            trailer.entries_end + 60 * 8 <= plain.entries_end,
            "{} vs {}",
            trailer.entries_end,
            plain.entries_end
        );
    }

    #[test]
    fn trailer_entries_are_checked_against_the_key_before_them() {
        let mut b = BlockBuilder::new(EntryLayout::Trailer);
        b.add(&ikey("a", 5, 4, 9), b"1");
        b.add(&ikey("b", 5, 4, 8), b"2");
        let good = b.finish();
        // The second entry is a trailer entry: tag `shared << 1 | 1`.
        let second = 3 + 23 + 1;
        assert_eq!(good[second], 1, "{good:?}");
        // A trailer entry where a restart's full key belongs.
        let mut bad = good.clone();
        bad[0] = 1;
        let err = Block::decode(Bytes::from(bad), EntryLayout::Trailer).unwrap_err();
        assert!(
            err.0.contains("delta-codes the trailer of a 0-byte key"),
            "{err:?}"
        );
        // A trailer entry sharing more than the previous key's column part.
        let mut bad = good;
        bad[second] = (30 << 1) | 1;
        let block = Block::decode(Bytes::from(bad), EntryLayout::Trailer).unwrap();
        let mut it = BlockIter::new(Arc::new(block));
        it.seek_to_first().unwrap();
        let err = it.next().unwrap_err();
        assert!(err.0.contains("shares 30 bytes of a 6-byte key"), "{err:?}");
    }
}
