//! The memstore: a store's in-memory sorted buffer of recent entries.
//!
//! A lock-free crossbeam skiplist keyed by encoded internal key (`key.rs`), so byte order
//! is entry order. Every insert carries a fresh sequence id, so keys are unique and
//! entries are never removed or replaced: that sidesteps crossbeam-skiplist 0.1.3's leak
//! of visited-then-removed nodes. A memstore is frozen by the region (writes move to a
//! fresh one), flushed to an SSTable and then dropped whole.
//!
//! A frozen memstore may instead be *compacted in memory* (HBase's CompactingMemStore):
//! its entries, minus those no reader can see, become a [`Memstore::flat`] memstore, a
//! read-only sorted array that shares the key and value buffers of its input. It takes no
//! inserts; it is flushed and dropped like any frozen memstore.
//!
//! Thread safety: inserts come from one writer at a time (the region's write lock);
//! readers iterate concurrently and filter by the MVCC read point.

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use crossbeam_skiplist::SkipMap;
use crossbeam_skiplist::map::Entry;

use crate::error::Result;
use crate::iterator::InternalIterator;

/// Bytes charged per entry on top of key and value: skiplist node, tower and the two
/// `Bytes` headers. An estimate, so accounting errs on the side of flushing early.
const ENTRY_OVERHEAD_BYTES: u64 = 96;

/// Bytes charged per entry of a flat memstore on top of key and value: its head (16
/// bytes), two `Bytes` headers (64) and, roughly, the two buffers' allocator headers.
const FLAT_ENTRY_OVERHEAD_BYTES: u64 = 96;

/// A memstore key: the encoded internal key plus its first 16 bytes as a big-endian
/// integer kept in the skiplist node itself.
///
/// Most comparisons during a skiplist search are decided by the leading bytes (the row),
/// so comparing the inline head first spares a jump to the key's heap buffer and a
/// `memcmp` call at each node visited. The order is exactly byte order: heads are the
/// first 16 bytes padded with zeros, and two keys whose padded heads are equal are
/// compared in full (a shorter key and one that extends it with zeros pad alike).
#[derive(Clone, Debug)]
struct MemKey {
    head: u128,
    key: Bytes,
}

impl MemKey {
    fn new(key: Bytes) -> Self {
        MemKey {
            head: head_of(&key),
            key,
        }
    }
}

/// The first 16 bytes of `key` as a big-endian integer, zero-padded.
fn head_of(key: &[u8]) -> u128 {
    let mut head = [0u8; 16];
    let n = key.len().min(16);
    if let (Some(dst), Some(src)) = (head.get_mut(..n), key.get(..n)) {
        dst.copy_from_slice(src);
    }
    u128::from_be_bytes(head)
}

impl PartialEq for MemKey {
    fn eq(&self, other: &Self) -> bool {
        self.head == other.head && self.key == other.key
    }
}

impl Eq for MemKey {}

impl PartialOrd for MemKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MemKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.head
            .cmp(&other.head)
            .then_with(|| self.key[..].cmp(&other.key[..]))
    }
}

/// How a memstore holds its entries.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per memstore, always behind an Arc; boxing the skiplist would add a jump to every read"
)]
enum Repr {
    /// Takes inserts: every memstore starts as one.
    Skip(SkipMap<MemKey, Bytes>),
    /// Read-only, sorted by key, no duplicates: the output of an in-memory compaction.
    Flat(FlatEntries),
}

/// A flat memstore's entries, with their heads (`head_of(key)`) in an array of their
/// own: a seek binary-searches 16-byte heads, four to a cache line, and compares whole
/// keys only among the few entries that share the target's head (a row's cells).
#[derive(Debug)]
struct FlatEntries {
    heads: Box<[u128]>,
    entries: Box<[(Bytes, Bytes)]>,
}

/// How many of `heads`' first elements equal `head` (the rest are greater). The run is
/// short, one row's entries at most in practice, so it is galloped (probes at 1, 2, 4,
/// ... then a binary search of the last span) instead of binary-searched over the whole
/// rest of the array: in a profile of YCSB C's gets after A, the flat memstore's seek was
/// 10% of the server's CPU, and that second search over the whole rest about half of it.
fn run_length(heads: &[u128], head: u128) -> usize {
    let mut bound = 1;
    while bound < heads.len() && heads.get(bound) == Some(&head) {
        bound *= 2;
    }
    let from = bound / 2;
    heads
        .get(from..bound.min(heads.len()))
        .map_or(0, |span| from + span.partition_point(|h| *h == head))
}

impl FlatEntries {
    /// Index of the first entry whose key is `>= target`.
    fn lower_bound(&self, target: &[u8]) -> usize {
        let head = head_of(target);
        let lo = self.heads.partition_point(|h| *h < head);
        let same = run_length(self.heads.get(lo..).unwrap_or_default(), head);
        // Keys of equal heads order as their bytes (see `MemKey`).
        let within = self
            .entries
            .get(lo..lo + same)
            .map_or(0, |run| run.partition_point(|(k, _)| k[..] < *target));
        lo + within
    }
}

/// One store's memstore.
#[derive(Debug)]
pub struct Memstore {
    repr: Repr,
    size_bytes: AtomicU64,
    max_seq: AtomicU64,
    created: Instant,
    /// Clock time (ms) of the first insert, 0 while empty: the age of the oldest edit.
    first_insert_ms: AtomicU64,
    /// Delete markers inserted (a flush of another memstore of the store needs to know
    /// whether any marker could hide its puts).
    markers: AtomicU64,
}

impl Default for Memstore {
    fn default() -> Self {
        Self::new()
    }
}

/// `value` in a buffer of about its own size: kept as is when the caller handed over
/// sole ownership of such a buffer, else copied.
fn owned(value: Bytes) -> Bytes {
    match value.try_into_mut() {
        Ok(m) if m.capacity() <= m.len() + m.len() / 4 + 64 => m.freeze(),
        Ok(m) => Bytes::copy_from_slice(&m),
        Err(shared) => Bytes::copy_from_slice(&shared),
    }
}

impl Memstore {
    /// An empty memstore.
    pub fn new() -> Self {
        Memstore {
            repr: Repr::Skip(SkipMap::new()),
            size_bytes: AtomicU64::new(0),
            max_seq: AtomicU64::new(0),
            created: Instant::now(),
            first_insert_ms: AtomicU64::new(0),
            markers: AtomicU64::new(0),
        }
    }

    /// Inserts an entry; returns the bytes it was charged.
    pub fn insert(&self, key: Bytes, value: Bytes, seq: u64) -> u64 {
        self.insert_at(key, value, seq, 1)
    }

    /// A read-only memstore of `entries` (encoded key, value), which must be sorted by key
    /// with no key twice: the output of an in-memory compaction. `first_insert_ms` is the
    /// clock time of the oldest edit among its inputs (0 = unknown).
    pub fn flat(entries: Vec<(Bytes, Bytes)>, first_insert_ms: u64) -> Self {
        let mut size = 0u64;
        let mut max_seq = 0u64;
        let mut markers = 0u64;
        let heads: Box<[u128]> = entries
            .iter()
            .map(|(key, value)| {
                size += key.len() as u64 + value.len() as u64 + FLAT_ENTRY_OVERHEAD_BYTES;
                if let Some((_, kind, seq)) = crate::key::parse_trailer(key) {
                    max_seq = max_seq.max(seq);
                    markers += u64::from(kind.is_delete());
                }
                head_of(key)
            })
            .collect();
        debug_assert!(
            entries.windows(2).all(|w| w[0].0 < w[1].0),
            "flat memstore entries must be sorted and unique"
        );
        Memstore {
            repr: Repr::Flat(FlatEntries {
                heads,
                entries: entries.into_boxed_slice(),
            }),
            size_bytes: AtomicU64::new(size),
            max_seq: AtomicU64::new(max_seq),
            created: Instant::now(),
            first_insert_ms: AtomicU64::new(first_insert_ms),
            markers: AtomicU64::new(markers),
        }
    }

    /// True for the read-only output of an in-memory compaction.
    pub fn is_flat(&self) -> bool {
        matches!(self.repr, Repr::Flat(_))
    }

    /// Inserts an entry written at clock time `now_ms` (only read for the first edit, which
    /// starts the memstore's age); returns the bytes charged.
    ///
    /// The value is copied: a `Bytes` handed in is often a slice of a much larger
    /// buffer (a decoded gRPC request, a WAL read buffer), and keeping the slice would
    /// pin that whole buffer until the flush, far beyond the bytes charged here.
    ///
    /// Only the region's active memstore takes inserts; a flat memstore is read-only,
    /// and inserting into one is a bug in the caller (it asserts).
    pub fn insert_at(&self, key: Bytes, value: Bytes, seq: u64, now_ms: u64) -> u64 {
        let Repr::Skip(map) = &self.repr else {
            panic!("insert into a flat (in-memory compacted) memstore");
        };
        let value = owned(value);
        if self.first_insert_ms.load(Ordering::Relaxed) == 0 {
            self.first_insert_ms.store(now_ms.max(1), Ordering::Relaxed);
        }
        let charged = key.len() as u64 + value.len() as u64 + ENTRY_OVERHEAD_BYTES;
        if crate::key::parse_trailer(&key).is_some_and(|(_, kind, _)| kind.is_delete()) {
            self.markers.fetch_add(1, Ordering::Relaxed);
        }
        map.insert(MemKey::new(key), value);
        self.size_bytes.fetch_add(charged, Ordering::Relaxed);
        self.max_seq.fetch_max(seq, Ordering::Relaxed);
        charged
    }

    /// Estimated heap bytes held.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes.load(Ordering::Relaxed)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Skip(map) => map.len(),
            Repr::Flat(flat) => flat.entries.len(),
        }
    }

    /// True when nothing was inserted.
    pub fn is_empty(&self) -> bool {
        match &self.repr {
            Repr::Skip(map) => map.is_empty(),
            Repr::Flat(flat) => flat.entries.is_empty(),
        }
    }

    /// Delete markers inserted (Delete, DeleteColumn, DeleteFamily).
    pub fn delete_markers(&self) -> u64 {
        self.markers.load(Ordering::Relaxed)
    }

    /// Largest sequence id inserted.
    pub fn max_seq(&self) -> u64 {
        self.max_seq.load(Ordering::Relaxed)
    }

    /// Clock time (ms) of the oldest edit, `None` while empty.
    pub fn first_insert_ms(&self) -> Option<u64> {
        match self.first_insert_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(ms),
        }
    }

    /// When the memstore was created (its oldest edit is at most this old).
    pub fn created(&self) -> Instant {
        self.created
    }

    /// A cursor over the entries.
    pub fn iter(&self) -> MemstoreIter<'_> {
        MemstoreIter {
            cur: match &self.repr {
                Repr::Skip(map) => Cursor::Skip { map, cur: None },
                Repr::Flat(flat) => Cursor::Flat {
                    flat,
                    pos: flat.entries.len(),
                },
            },
        }
    }

    /// The entry at the cursor as shared buffers (key, value), for an in-memory
    /// compaction that keeps them without copying.
    pub(crate) fn entry_bytes(it: &MemstoreIter<'_>) -> Option<(Bytes, Bytes)> {
        match &it.cur {
            Cursor::Skip { cur, .. } => cur
                .as_ref()
                .map(|e| (e.key().key.clone(), e.value().clone())),
            Cursor::Flat { flat, pos } => flat.entries.get(*pos).cloned(),
        }
    }
}

/// Cursor over a memstore; see [`InternalIterator`].
pub struct MemstoreIter<'a> {
    cur: Cursor<'a>,
}

enum Cursor<'a> {
    Skip {
        map: &'a SkipMap<MemKey, Bytes>,
        cur: Option<Entry<'a, MemKey, Bytes>>,
    },
    /// Invalid when `pos == flat.entries.len()`.
    Flat { flat: &'a FlatEntries, pos: usize },
}

impl InternalIterator for MemstoreIter<'_> {
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        match &mut self.cur {
            Cursor::Skip { map, cur } => {
                // One small copy of the target buys the inline-head comparisons on the way
                // down; an empty memstore (the usual state right after a flush) needs
                // neither.
                if map.is_empty() {
                    *cur = None;
                    return Ok(());
                }
                let target = MemKey::new(Bytes::copy_from_slice(target));
                *cur = map.lower_bound(Bound::Included(&target));
            }
            Cursor::Flat { flat, pos } => *pos = flat.lower_bound(target),
        }
        Ok(())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        match &mut self.cur {
            Cursor::Skip { map, cur } => *cur = map.front(),
            Cursor::Flat { pos, .. } => *pos = 0,
        }
        Ok(())
    }

    fn next(&mut self) -> Result<()> {
        match &mut self.cur {
            Cursor::Skip { cur, .. } => *cur = cur.as_ref().and_then(|e| e.next()),
            Cursor::Flat { flat, pos } => *pos = (*pos + 1).min(flat.entries.len()),
        }
        Ok(())
    }

    fn valid(&self) -> bool {
        match &self.cur {
            Cursor::Skip { cur, .. } => cur.is_some(),
            Cursor::Flat { flat, pos } => *pos < flat.entries.len(),
        }
    }

    fn key(&self) -> &[u8] {
        match &self.cur {
            Cursor::Skip { cur, .. } => cur.as_ref().map(|e| &e.key().key[..]),
            Cursor::Flat { flat, pos } => flat.entries.get(*pos).map(|(k, _)| &k[..]),
        }
        .unwrap_or_default()
    }

    fn value(&self) -> &[u8] {
        match &self.cur {
            Cursor::Skip { cur, .. } => cur.as_ref().map(|e| &e.value()[..]),
            Cursor::Flat { flat, pos } => flat.entries.get(*pos).map(|(_, v)| &v[..]),
        }
        .unwrap_or_default()
    }

    fn value_bytes(&self) -> Bytes {
        match &self.cur {
            Cursor::Skip { cur, .. } => cur.as_ref().map(|e| e.value().clone()),
            Cursor::Flat { flat, pos } => flat.entries.get(*pos).map(|(_, v)| v.clone()),
        }
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{CellType, encode_key};

    #[test]
    fn iterates_in_key_order_and_seeks() {
        let m = Memstore::new();
        for (i, row) in [b"c", b"a", b"b"].iter().enumerate() {
            let k = encode_key(*row, b"q", 1, CellType::Put, i as u64 + 1);
            m.insert(Bytes::from(k), Bytes::from_static(b"v"), i as u64 + 1);
        }
        let mut it = m.iter();
        it.seek_to_first().unwrap();
        let mut rows = vec![];
        while it.valid() {
            rows.push(crate::key::parse_key(it.key()).unwrap().row.into_owned());
            it.next().unwrap();
        }
        assert_eq!(rows, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        it.seek(&crate::key::row_start_key(b"b")).unwrap();
        assert_eq!(&*crate::key::parse_key(it.key()).unwrap().row, b"b");
        assert_eq!(m.max_seq(), 3);
        assert!(m.size_bytes() >= 3 * ENTRY_OVERHEAD_BYTES);
    }

    proptest::proptest! {
        // Keys of 0..40 bytes over a tiny alphabet with zeros, so shared heads, keys
        // that prefix each other and zero padding all come up.
        #[test]
        fn mem_key_order_is_byte_order(
            a in proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 0xFF]), 0..40),
            b in proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 0xFF]), 0..40),
        ) {
            let (ka, kb) = (MemKey::new(Bytes::from(a.clone())), MemKey::new(Bytes::from(b.clone())));
            proptest::prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            proptest::prop_assert_eq!(ka == kb, a == b);
        }
    }

    proptest::proptest! {
        // A flat memstore of the same entries answers every seek, first and next
        // exactly as the skiplist does.
        #[test]
        fn flat_and_skiplist_cursors_agree(
            rows in proptest::collection::btree_set(
                proptest::collection::vec(proptest::sample::select(vec![0u8, 1, b'a', 0xFF]), 1..24),
                0..40,
            ),
            targets in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(vec![0u8, 1, b'a', 0xFF]), 0..30),
                1..20,
            ),
        ) {
            use crate::key::{CellType, encode_key};
            let skip = Memstore::new();
            let mut entries = Vec::new();
            for (i, row) in rows.iter().enumerate() {
                let seq = i as u64 + 1;
                let k = Bytes::from(encode_key(row, b"q", seq * 7, CellType::Put, seq));
                let v = Bytes::from(format!("v{i}"));
                skip.insert(k.clone(), v.clone(), seq);
                entries.push((k, v));
            }
            entries.sort();
            let flat = Memstore::flat(entries, 5);
            proptest::prop_assert!(flat.is_flat() && !skip.is_flat());
            proptest::prop_assert_eq!(flat.len(), skip.len());
            proptest::prop_assert_eq!(flat.max_seq(), skip.max_seq());
            proptest::prop_assert_eq!(flat.first_insert_ms(), Some(5));
            let (mut a, mut b) = (skip.iter(), flat.iter());
            let walk = |a: &mut MemstoreIter<'_>, b: &mut MemstoreIter<'_>| -> Result<(), proptest::test_runner::TestCaseError> {
                loop {
                    proptest::prop_assert_eq!(a.valid(), b.valid());
                    if !a.valid() {
                        return Ok(());
                    }
                    proptest::prop_assert_eq!(a.key(), b.key());
                    proptest::prop_assert_eq!(a.value(), b.value());
                    proptest::prop_assert_eq!(a.value_bytes(), b.value_bytes());
                    a.next().unwrap();
                    b.next().unwrap();
                }
            };
            a.seek_to_first().unwrap();
            b.seek_to_first().unwrap();
            walk(&mut a, &mut b)?;
            // Random targets, and every stored key exactly.
            let stored: Vec<Vec<u8>> = {
                let mut it = skip.iter();
                it.seek_to_first().unwrap();
                let mut keys = Vec::new();
                while it.valid() {
                    keys.push(it.key().to_vec());
                    it.next().unwrap();
                }
                keys
            };
            for t in targets.iter().chain(stored.iter()) {
                a.seek(t).unwrap();
                b.seek(t).unwrap();
                walk(&mut a, &mut b)?;
            }
        }
    }

    #[test]
    fn values_do_not_pin_the_buffer_they_were_sliced_from() {
        let m = Memstore::new();
        let request = Bytes::from(vec![7u8; 8192]);
        let value = request.slice(100..200);
        let k = encode_key(b"r", b"q", 1, CellType::Put, 1);
        m.insert(Bytes::from(k), value, 1);
        let mut it = m.iter();
        it.seek_to_first().unwrap();
        let stored = it.value_bytes();
        assert_eq!(&stored[..], &[7u8; 100][..]);
        let buf = request.as_ptr_range();
        assert!(
            !buf.contains(&stored.as_ptr()),
            "the memstore kept a slice of the caller's buffer"
        );

        // A buffer the caller gives away whole is kept without a copy...
        let whole = Bytes::from(vec![1u8; 100]);
        let ptr = whole.as_ptr();
        assert_eq!(owned(whole).as_ptr(), ptr);
        // ...but not a small slice of a big one, even when nothing else holds it.
        let big = Bytes::from(vec![2u8; 8192]).slice(0..10);
        let ptr = big.as_ptr();
        let kept = owned(big);
        assert_ne!(kept.as_ptr(), ptr);
        assert_eq!(&kept[..], &[2u8; 10][..]);
    }

    #[test]
    fn run_length_counts_the_leading_run_of_a_head() {
        for len in 0..40usize {
            for start in 0..=len {
                for run in 0..=(len - start) {
                    // `start` smaller heads (cut off by the caller's first search in
                    // real use, kept here to vary positions), `run` equal, the rest greater.
                    let heads: Vec<u128> = (0..len)
                        .map(|i| {
                            if i < start {
                                1
                            } else if i < start + run {
                                5
                            } else {
                                9
                            }
                        })
                        .collect();
                    let rest = &heads[start..];
                    assert_eq!(
                        run_length(rest, 5),
                        run,
                        "len {len} start {start} run {run}"
                    );
                }
            }
        }
        assert_eq!(run_length(&[], 5), 0);
        assert_eq!(run_length(&[9, 9], 5), 0);
    }
}
