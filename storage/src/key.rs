//! Internal keys: the one place that defines Strata's sort order.
//!
//! A stored entry is `(row, family, qualifier, timestamp, type, sequence_id) -> value`.
//! A store holds exactly one column family, so inside a store (memstore, SSTable,
//! compaction) the family is implied and the key encodes the other five parts. The
//! encoding is *memcmp-ordered*: comparing two encoded keys as plain byte strings gives
//! the logical order
//!
//! ```text
//! row asc, qualifier asc, timestamp desc, type (delete markers before puts), seq desc
//! ```
//!
//! so every layer compares keys with `<[u8]>::cmp` and nothing else. The layout is
//!
//! ```text
//! esc(row) 0x00 0x01  esc(qualifier) 0x00 0x01  !timestamp:u64be  type:u8  !seq:u64be
//! ```
//!
//! where `esc` doubles every `0x00` byte as `0x00 0xFF` and `0x00 0x01` terminates a
//! component. Because the terminator sorts below any escaped byte, a shorter row sorts
//! before every row it prefixes, which is plain lexicographic order on the raw bytes.
//! The trailing 17 bytes (`KEY_TRAILER_LEN`) are fixed width. `storage/FORMAT.md`
//! describes the same bytes.

use std::borrow::Cow;
use std::cmp::Ordering;

use bytes::Bytes;

use crate::error::{Error, Result};

/// Bytes after the qualifier: inverted timestamp, type, inverted sequence id.
pub const KEY_TRAILER_LEN: usize = 8 + 1 + 8;

const ESCAPE: u8 = 0x00;
const ESCAPED_ZERO: u8 = 0xFF;
const TERMINATOR: u8 = 0x01;
/// Second byte of the key that sorts after every key of a row (see [`row_end_key`]).
const AFTER_TERMINATOR: u8 = 0x02;

/// What a stored entry is. The numeric value is the on-disk type byte, and its order is
/// the sort order at equal `(row, qualifier, timestamp)`: markers come before puts, so a
/// reader meets a marker before the cells it hides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum CellType {
    /// Hides every cell of the family in this row with a timestamp `<=` the marker's.
    DeleteFamily = 1,
    /// Hides every version of one column with a timestamp `<=` the marker's.
    DeleteColumn = 2,
    /// Hides the one version of a column with exactly the marker's timestamp.
    Delete = 3,
    /// A value.
    Put = 4,
}

impl CellType {
    /// Decodes the on-disk type byte.
    pub fn from_u8(b: u8) -> Option<CellType> {
        match b {
            1 => Some(CellType::DeleteFamily),
            2 => Some(CellType::DeleteColumn),
            3 => Some(CellType::Delete),
            4 => Some(CellType::Put),
            _ => None,
        }
    }

    /// True for the three delete markers.
    pub fn is_delete(self) -> bool {
        self != CellType::Put
    }
}

/// A decoded internal key. Row and qualifier borrow from the encoded bytes unless they
/// contained `0x00` bytes that had to be unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    /// Row key.
    pub row: Cow<'a, [u8]>,
    /// Column qualifier (may be empty).
    pub qualifier: Cow<'a, [u8]>,
    /// Cell timestamp, milliseconds since the Unix epoch unless the user chose otherwise.
    pub timestamp: u64,
    /// Put or one of the delete markers.
    pub kind: CellType,
    /// Region-wide sequence id of the mutation that wrote the entry.
    pub seq: u64,
}

impl ParsedKey<'_> {
    /// The logical comparator, used by tests to check that the byte order matches it.
    pub fn logical_cmp(&self, other: &ParsedKey<'_>) -> Ordering {
        self.row
            .cmp(&other.row)
            .then_with(|| self.qualifier.cmp(&other.qualifier))
            .then_with(|| other.timestamp.cmp(&self.timestamp))
            .then_with(|| self.kind.cmp(&other.kind))
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

fn escape_into(buf: &mut Vec<u8>, part: &[u8]) {
    // Fast path: most keys contain no zero byte.
    if !part.contains(&ESCAPE) {
        buf.extend_from_slice(part);
    } else {
        for &b in part {
            buf.push(b);
            if b == ESCAPE {
                buf.push(ESCAPED_ZERO);
            }
        }
    }
    buf.push(ESCAPE);
    buf.push(TERMINATOR);
}

/// The exact encoded length of a key of `row` and `qualifier`: a buffer of this
/// capacity becomes a `Bytes` without a second allocation.
pub fn encoded_len(row: &[u8], qualifier: &[u8]) -> usize {
    let zeros = |part: &[u8]| part.iter().filter(|&&b| b == ESCAPE).count();
    row.len() + zeros(row) + qualifier.len() + zeros(qualifier) + 4 + KEY_TRAILER_LEN
}

/// Upper bound of the encoded length of a key (for reserving buffers).
pub fn encoded_len_hint(row: &[u8], qualifier: &[u8]) -> usize {
    row.len() + qualifier.len() + 4 + KEY_TRAILER_LEN + 8
}

/// Appends the encoded key to `buf`.
pub fn encode_key_into(
    buf: &mut Vec<u8>,
    row: &[u8],
    qualifier: &[u8],
    timestamp: u64,
    kind: CellType,
    seq: u64,
) {
    escape_into(buf, row);
    escape_into(buf, qualifier);
    buf.extend_from_slice(&(!timestamp).to_be_bytes());
    buf.push(kind as u8);
    buf.extend_from_slice(&(!seq).to_be_bytes());
}

#[cfg(test)]
#[test]
fn encoded_len_is_exact() {
    for (row, q) in [
        (&b"r"[..], &b""[..]),
        (b"row\x00x", b"q\x00\x00"),
        (b"\x00", b"\x00"),
    ] {
        let k = encode_key(row, q, 7, CellType::Put, 9);
        assert_eq!(k.len(), encoded_len(row, q), "{row:?} {q:?}");
    }
}

/// Encodes a key into a fresh buffer.
pub fn encode_key(
    row: &[u8],
    qualifier: &[u8],
    timestamp: u64,
    kind: CellType,
    seq: u64,
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(encoded_len(row, qualifier));
    encode_key_into(&mut buf, row, qualifier, timestamp, kind, seq);
    buf
}

/// The smallest possible key of `row`: every entry of the row sorts at or after it.
/// It is also the row's bloom-filter key (see [`row_part`]).
pub fn row_start_key(row: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(row.len() + 2);
    escape_into(&mut buf, row);
    buf
}

/// A key that sorts after every entry of `row` and before every entry of any greater row.
pub fn row_end_key(row: &[u8]) -> Vec<u8> {
    let mut buf = row_start_key(row);
    let last = buf.len() - 1;
    buf[last] = AFTER_TERMINATOR;
    buf
}

/// [`row_end_key`] of the row whose [`row_part`] is given (no unescaping needed).
pub fn row_end_of_part(row_part: &[u8]) -> Vec<u8> {
    let mut buf = row_part.to_vec();
    if let Some(last) = buf.last_mut() {
        *last = AFTER_TERMINATOR;
    }
    buf
}

/// The smallest possible key of column `(row, qualifier)`; it is also the row+column
/// bloom-filter key (see [`column_part`]).
pub fn column_start_key(row: &[u8], qualifier: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(row.len() + qualifier.len() + 4);
    escape_into(&mut buf, row);
    escape_into(&mut buf, qualifier);
    buf
}

/// A key that sorts after every entry of the column whose [`column_part`] is `column`
/// and before every entry of any greater column or row (as [`row_end_key`] for rows).
pub fn column_end_key(column: &[u8]) -> Vec<u8> {
    let mut buf = column.to_vec();
    if let Some(last) = buf.last_mut() {
        *last = AFTER_TERMINATOR;
    }
    buf
}

/// The smallest key of column `(row, qualifier)` whose timestamp is `<= timestamp`.
pub fn column_seek_key(row: &[u8], qualifier: &[u8], timestamp: u64) -> Vec<u8> {
    let mut buf = column_start_key(row, qualifier);
    buf.extend_from_slice(&(!timestamp).to_be_bytes());
    buf
}

/// Finds the end of an escaped component starting at `from`: returns the index just
/// past its `0x00 0x01` terminator.
fn component_end(key: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        let zero = i + memchr::memchr(ESCAPE, key.get(i..)?)?;
        match *key.get(zero + 1)? {
            TERMINATOR => return Some(zero + 2),
            ESCAPED_ZERO => i = zero + 2,
            _ => return None,
        }
    }
}

fn unescape(part: &[u8]) -> Cow<'_, [u8]> {
    if !part.contains(&ESCAPE) {
        return Cow::Borrowed(part);
    }
    let mut out = Vec::with_capacity(part.len());
    let mut i = 0;
    while i < part.len() {
        out.push(part[i]);
        i += if part[i] == ESCAPE { 2 } else { 1 };
    }
    Cow::Owned(out)
}

/// The escaped row with its terminator: two keys are in the same row exactly when their
/// row parts are equal. This is also the row bloom key. `None` if the key is malformed.
pub fn row_part(key: &[u8]) -> Option<&[u8]> {
    component_end(key, 0).map(|end| &key[..end])
}

/// The row key of a [`row_part`] (unescaped; borrowed when it holds no `0x00`).
pub fn row_of_part(row_part: &[u8]) -> Option<Cow<'_, [u8]>> {
    let escaped = row_part.strip_suffix(&[ESCAPE, TERMINATOR])?;
    Some(unescape(escaped))
}

/// The qualifier of a [`column_part`] whose row part is `row_part_len` bytes long:
/// cheaper than [`parse_key`] when the row is already known.
pub fn qualifier_of_column(column: &[u8], row_part_len: usize) -> Option<Cow<'_, [u8]>> {
    let escaped = column
        .get(row_part_len..)?
        .strip_suffix(&[ESCAPE, TERMINATOR])?;
    Some(unescape(escaped))
}

/// The escaped row and qualifier with terminators (the key without its trailer): two
/// keys are in the same column exactly when these are equal. Also the row+column bloom key.
pub fn column_part(key: &[u8]) -> Option<&[u8]> {
    if key.len() < KEY_TRAILER_LEN {
        return None;
    }
    Some(&key[..key.len() - KEY_TRAILER_LEN])
}

/// Decodes an encoded key; `None` if it is malformed (callers turn that into a
/// `Corruption` error naming where the key came from).
pub fn parse_key(key: &[u8]) -> Option<ParsedKey<'_>> {
    let row_end = component_end(key, 0)?;
    let qual_end = component_end(key, row_end)?;
    if key.len() != qual_end + KEY_TRAILER_LEN {
        return None;
    }
    let t = &key[qual_end..];
    let timestamp = !u64::from_be_bytes(t[0..8].try_into().ok()?);
    let kind = CellType::from_u8(t[8])?;
    let seq = !u64::from_be_bytes(t[9..17].try_into().ok()?);
    Some(ParsedKey {
        row: unescape(&key[..row_end - 2]),
        qualifier: unescape(&key[row_end..qual_end - 2]),
        timestamp,
        kind,
        seq,
    })
}

/// Reads only the trailer of a well-formed key: `(timestamp, type, seq)`.
pub fn parse_trailer(key: &[u8]) -> Option<(u64, CellType, u64)> {
    if key.len() < KEY_TRAILER_LEN {
        return None;
    }
    let t = &key[key.len() - KEY_TRAILER_LEN..];
    let timestamp = !u64::from_be_bytes(t[0..8].try_into().ok()?);
    let kind = CellType::from_u8(t[8])?;
    let seq = !u64::from_be_bytes(t[9..17].try_into().ok()?);
    Some((timestamp, kind, seq))
}

/// Parses a key or returns a `Corruption` error naming `file` and `offset`.
pub fn parse_key_or_corrupt<'a>(
    key: &'a [u8],
    file: &std::path::Path,
    offset: u64,
) -> Result<ParsedKey<'a>> {
    parse_key(key).ok_or_else(|| Error::Corruption {
        file: file.to_path_buf(),
        offset,
        reason: "malformed internal key".into(),
    })
}

/// Most distinct family names [`family_name`] keeps (64 bytes each at most: 256 KiB).
pub const MAX_INTERNED_FAMILY_NAMES: usize = 4096;

/// Interned family names (see [`family_name`]); they live as long as the process.
static FAMILY_NAMES: parking_lot::Mutex<std::collections::BTreeSet<&'static [u8]>> =
    parking_lot::Mutex::new(std::collections::BTreeSet::new());

/// A family name as `Bytes` whose clones and drops touch no reference count.
///
/// Every cell a read returns carries its family, so a scan cloned (an atomic increment)
/// and later dropped (a decrement) the family name once per row. The first
/// [`MAX_INTERNED_FAMILY_NAMES`] distinct names are kept for the life of the process and
/// handed out as static `Bytes`; past that bound names are ordinary shared `Bytes`.
pub fn family_name(name: &[u8]) -> Bytes {
    let mut names = FAMILY_NAMES.lock();
    if let Some(&interned) = names.get(name) {
        return Bytes::from_static(interned);
    }
    if names.len() >= MAX_INTERNED_FAMILY_NAMES {
        return Bytes::copy_from_slice(name);
    }
    let interned: &'static [u8] = Box::leak(name.to_vec().into_boxed_slice());
    names.insert(interned);
    Bytes::from_static(interned)
}

#[cfg(test)]
#[test]
fn family_names_are_interned_once() {
    let a = family_name(b"interned-family-test");
    let b = family_name(b"interned-family-test");
    assert_eq!(a, b);
    assert_eq!(a.as_ptr(), b.as_ptr(), "one copy per distinct name");
    assert_eq!(&family_name(b"other-family-test")[..], b"other-family-test");
}

/// A cell as users see it: one version of one column, or a delete marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// Row key.
    pub row: Bytes,
    /// Column family name.
    pub family: Bytes,
    /// Column qualifier.
    pub qualifier: Bytes,
    /// Timestamp in milliseconds.
    pub timestamp: u64,
    /// Put or delete marker.
    pub kind: CellType,
    /// Value (empty for markers).
    pub value: Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
        // Bias towards 0x00, 0x01, 0x02 and 0xFF, the bytes the escaping cares about.
        prop::collection::vec(
            prop_oneof![Just(0u8), Just(1u8), Just(2u8), Just(0xFFu8), any::<u8>()],
            0..6,
        )
    }

    fn arb_kind() -> impl Strategy<Value = CellType> {
        prop_oneof![
            Just(CellType::DeleteFamily),
            Just(CellType::DeleteColumn),
            Just(CellType::Delete),
            Just(CellType::Put)
        ]
    }

    prop_compose! {
        fn arb_key()(row in arb_bytes(), q in arb_bytes(), ts in prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>(), 0..4u64],
                     kind in arb_kind(), seq in prop_oneof![any::<u64>(), 0..4u64]) -> (Vec<u8>, Vec<u8>, u64, CellType, u64) {
            (row, q, ts, kind, seq)
        }
    }

    proptest! {
        #[test]
        fn parts_give_back_row_and_qualifier(row in arb_bytes(), q in arb_bytes(), ts in any::<u64>()) {
            let k = encode_key(&row, &q, ts, CellType::Put, 3);
            let rp = row_part(&k).unwrap();
            prop_assert_eq!(&row_of_part(rp).unwrap()[..], &row[..]);
            prop_assert_eq!(&qualifier_of_column(column_part(&k).unwrap(), rp.len()).unwrap()[..], &q[..]);
            prop_assert_eq!(row_end_of_part(rp), row_end_key(&row));
        }

        #[test]
        fn byte_order_matches_logical_order(a in arb_key(), b in arb_key()) {
            let ea = encode_key(&a.0, &a.1, a.2, a.3, a.4);
            let eb = encode_key(&b.0, &b.1, b.2, b.3, b.4);
            let pa = parse_key(&ea).unwrap();
            let pb = parse_key(&eb).unwrap();
            prop_assert_eq!(ea.cmp(&eb), pa.logical_cmp(&pb));
        }

        #[test]
        fn encode_parse_round_trip(a in arb_key()) {
            let e = encode_key(&a.0, &a.1, a.2, a.3, a.4);
            let p = parse_key(&e).unwrap();
            prop_assert_eq!(&*p.row, &a.0[..]);
            prop_assert_eq!(&*p.qualifier, &a.1[..]);
            prop_assert_eq!((p.timestamp, p.kind, p.seq), (a.2, a.3, a.4));
            prop_assert_eq!(parse_trailer(&e), Some((a.2, a.3, a.4)));
        }

        #[test]
        fn row_bounds_enclose_row(a in arb_key(), other_row in arb_bytes()) {
            let e = encode_key(&a.0, &a.1, a.2, a.3, a.4);
            prop_assert!(row_start_key(&a.0)[..] <= e[..]);
            prop_assert!(e[..] < row_end_key(&a.0)[..]);
            prop_assert_eq!(row_part(&e).unwrap(), &row_start_key(&a.0)[..]);
            // A key of another row is on the same side of both bounds.
            let o = encode_key(&other_row, &a.1, a.2, a.3, a.4);
            if other_row < a.0 {
                prop_assert!(o[..] < row_start_key(&a.0)[..]);
            } else if other_row > a.0 {
                prop_assert!(o[..] >= row_end_key(&a.0)[..]);
            }
        }

        #[test]
        fn column_end_key_bounds_its_column(a in arb_key(), q2 in arb_bytes(), row2 in arb_bytes(), ts in any::<u64>()) {
            let e = encode_key(&a.0, &a.1, a.2, a.3, a.4);
            let end = column_end_key(column_part(&e).unwrap());
            prop_assert!(e[..] < end[..]);
            // Any key of a greater column of the row, or of a greater row, is past it;
            // any key of a smaller column or row is before it.
            let o = encode_key(&row2, &q2, ts, CellType::Put, 0);
            if (row2.clone(), q2.clone()) > (a.0.clone(), a.1.clone()) {
                prop_assert!(o[..] > end[..]);
            } else {
                prop_assert!(o[..] < end[..]);
            }
        }

        #[test]
        fn column_seek_finds_versions(row in arb_bytes(), q in arb_bytes(), ts in any::<u64>(), probe in any::<u64>(), kind in arb_kind(), seq in any::<u64>()) {
            let e = encode_key(&row, &q, ts, kind, seq);
            let seek = column_seek_key(&row, &q, probe);
            // Entries with timestamp <= probe sort at or after the seek key.
            prop_assert_eq!(e[..] >= seek[..], ts <= probe);
            prop_assert!(column_start_key(&row, &q)[..] <= e[..]);
        }
    }

    #[test]
    fn markers_sort_before_puts_at_equal_timestamp() {
        let put = encode_key(b"r", b"q", 5, CellType::Put, 9);
        let del = encode_key(b"r", b"q", 5, CellType::Delete, 1);
        let dc = encode_key(b"r", b"q", 5, CellType::DeleteColumn, 1);
        assert!(dc < del && del < put);
        let newer = encode_key(b"r", b"q", 6, CellType::Put, 1);
        assert!(newer < dc, "higher timestamps sort first");
    }

    #[test]
    fn malformed_keys_are_rejected() {
        assert!(parse_key(b"").is_none());
        assert!(parse_key(b"abc").is_none());
        assert!(parse_key(&[0, 0x05, 0, 1]).is_none());
        let mut k = encode_key(b"r", b"q", 1, CellType::Put, 1);
        k.pop();
        assert!(parse_key(&k).is_none());
        let mut k = encode_key(b"r", b"q", 1, CellType::Put, 1);
        let type_pos = k.len() - 9;
        k[type_pos] = 9;
        assert!(parse_key(&k).is_none());
    }
}
