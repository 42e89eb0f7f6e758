//! The memstore: a store's in-memory sorted buffer of recent entries.
//!
//! A lock-free crossbeam skiplist keyed by encoded internal key (`key.rs`), so byte order
//! is entry order. Every insert carries a fresh sequence id, so keys are unique and
//! entries are never removed or replaced: that sidesteps crossbeam-skiplist 0.1.3's leak
//! of visited-then-removed nodes. A memstore is frozen by the region (writes move to a
//! fresh one), flushed to an SSTable and then dropped whole.
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

/// One store's memstore.
#[derive(Debug)]
pub struct Memstore {
    map: SkipMap<MemKey, Bytes>,
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
            map: SkipMap::new(),
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

    /// Inserts an entry written at clock time `now_ms` (only read for the first edit, which
    /// starts the memstore's age); returns the bytes charged.
    ///
    /// The value is copied: a `Bytes` handed in is often a slice of a much larger
    /// buffer (a decoded gRPC request, a WAL read buffer), and keeping the slice would
    /// pin that whole buffer until the flush, far beyond the bytes charged here.
    pub fn insert_at(&self, key: Bytes, value: Bytes, seq: u64, now_ms: u64) -> u64 {
        let value = owned(value);
        if self.first_insert_ms.load(Ordering::Relaxed) == 0 {
            self.first_insert_ms.store(now_ms.max(1), Ordering::Relaxed);
        }
        let charged = key.len() as u64 + value.len() as u64 + ENTRY_OVERHEAD_BYTES;
        if crate::key::parse_trailer(&key).is_some_and(|(_, kind, _)| kind.is_delete()) {
            self.markers.fetch_add(1, Ordering::Relaxed);
        }
        self.map.insert(MemKey::new(key), value);
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
        self.map.len()
    }

    /// True when nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
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
            map: &self.map,
            cur: None,
        }
    }
}

/// Cursor over a memstore; see [`InternalIterator`].
pub struct MemstoreIter<'a> {
    map: &'a SkipMap<MemKey, Bytes>,
    cur: Option<Entry<'a, MemKey, Bytes>>,
}

impl InternalIterator for MemstoreIter<'_> {
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        // One small copy of the target buys the inline-head comparisons on the way down;
        // an empty memstore (the usual state right after a flush) needs neither.
        if self.map.is_empty() {
            self.cur = None;
            return Ok(());
        }
        let target = MemKey::new(Bytes::copy_from_slice(target));
        self.cur = self.map.lower_bound(Bound::Included(&target));
        Ok(())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.cur = self.map.front();
        Ok(())
    }

    fn next(&mut self) -> Result<()> {
        self.cur = self.cur.as_ref().and_then(|e| e.next());
        Ok(())
    }

    fn valid(&self) -> bool {
        self.cur.is_some()
    }

    fn key(&self) -> &[u8] {
        self.cur
            .as_ref()
            .map(|e| &e.key().key[..])
            .unwrap_or_default()
    }

    fn value(&self) -> &[u8] {
        self.cur
            .as_ref()
            .map(|e| &e.value()[..])
            .unwrap_or_default()
    }

    fn value_bytes(&self) -> Bytes {
        self.cur
            .as_ref()
            .map(|e| e.value().clone())
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
}
