//! The meta block: what a reader needs to decide whether to open a file's blocks at all
//! (key range, timestamps, sequence ids) and what compaction and status pages report.
//!
//! Encoding (little-endian, no padding, nothing after the last key):
//!
//! ```text
//! entry_count u64 | put_count u64 | delete_marker_count u64 | min_timestamp u64 |
//! max_timestamp u64 | max_seq u64 | created_ms u64 | data_block_count u64 |
//! raw_data_bytes u64 | bloom u8 | compression u8 |
//! first_key_len varint | first_key | last_key_len varint | last_key
//! ```
//!
//! [`SsTableMeta::decode`] checks the fields against each other (counts add up, keys
//! parse and are ordered, timestamps are ordered) so a reader can trust them.

use super::codec::{DecodeError, DecodeResult, Reader, put_varint};
use crate::key;
use crate::options::{BloomType, Compression};

/// Facts about one SSTable, written by the builder and read back at open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SsTableMeta {
    /// Entries (puts and markers) in the file; at least 1.
    pub entry_count: u64,
    /// Entries of type Put.
    pub put_count: u64,
    /// Entries that are delete markers of any kind.
    pub delete_marker_count: u64,
    /// Smallest encoded key in the file.
    pub first_key: Vec<u8>,
    /// Largest encoded key in the file.
    pub last_key: Vec<u8>,
    /// Smallest cell timestamp.
    pub min_timestamp: u64,
    /// Largest cell timestamp.
    pub max_timestamp: u64,
    /// Largest sequence id (everything at or below it that the file covers is in it).
    pub max_seq: u64,
    /// When the file was finished, in milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Which keys the bloom filter holds.
    pub bloom: BloomType,
    /// The compression the file was written with (a block may still be stored raw when
    /// compressing it would not save space).
    pub compression: Compression,
    /// Number of data blocks.
    pub data_block_count: u64,
    /// Sum of the uncompressed sizes of the data blocks.
    pub raw_data_bytes: u64,
}

/// Fixed-width part of the encoding: nine u64 and two u8.
const FIXED_LEN: usize = 9 * 8 + 2;

fn bloom_to_u8(b: BloomType) -> u8 {
    match b {
        BloomType::None => 0,
        BloomType::Row => 1,
        BloomType::RowCol => 2,
    }
}

fn bloom_from_u8(b: u8) -> Option<BloomType> {
    Some(match b {
        0 => BloomType::None,
        1 => BloomType::Row,
        2 => BloomType::RowCol,
        _ => return None,
    })
}

fn compression_to_u8(c: Compression) -> u8 {
    match c {
        Compression::None => 0,
        Compression::Lz4 => 1,
    }
}

fn compression_from_u8(c: u8) -> Option<Compression> {
    Some(match c {
        0 => Compression::None,
        1 => Compression::Lz4,
        _ => return None,
    })
}

impl SsTableMeta {
    /// Encodes the meta block payload.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(FIXED_LEN + self.first_key.len() + self.last_key.len() + 20);
        for v in [
            self.entry_count,
            self.put_count,
            self.delete_marker_count,
            self.min_timestamp,
            self.max_timestamp,
            self.max_seq,
            self.created_ms,
            self.data_block_count,
            self.raw_data_bytes,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.push(bloom_to_u8(self.bloom));
        out.push(compression_to_u8(self.compression));
        for k in [&self.first_key, &self.last_key] {
            put_varint(&mut out, k.len() as u64);
            out.extend_from_slice(k);
        }
        out
    }

    /// Decodes and cross-checks a meta block payload.
    pub(crate) fn decode(bytes: &[u8]) -> DecodeResult<SsTableMeta> {
        let mut r = Reader::new(bytes);
        let meta = SsTableMeta {
            entry_count: r.u64_le("entry_count")?,
            put_count: r.u64_le("put_count")?,
            delete_marker_count: r.u64_le("delete_marker_count")?,
            min_timestamp: r.u64_le("min_timestamp")?,
            max_timestamp: r.u64_le("max_timestamp")?,
            max_seq: r.u64_le("max_seq")?,
            created_ms: r.u64_le("created_ms")?,
            data_block_count: r.u64_le("data_block_count")?,
            raw_data_bytes: r.u64_le("raw_data_bytes")?,
            bloom: {
                let b = r.u8("bloom type")?;
                bloom_from_u8(b)
                    .ok_or_else(|| DecodeError::new(format!("unknown bloom type {b}")))?
            },
            compression: {
                let c = r.u8("compression")?;
                compression_from_u8(c)
                    .ok_or_else(|| DecodeError::new(format!("unknown compression {c}")))?
            },
            first_key: {
                let n = r.varint_usize("first_key length")?;
                r.bytes(n, "first_key")?.to_vec()
            },
            last_key: {
                let n = r.varint_usize("last_key length")?;
                r.bytes(n, "last_key")?.to_vec()
            },
        };
        if !r.is_empty() {
            return Err(DecodeError::new("trailing bytes after meta block"));
        }
        meta.check()?;
        Ok(meta)
    }

    fn check(&self) -> DecodeResult<()> {
        let bad = |what: &str| Err(DecodeError::new(format!("meta block: {what}")));
        if self.entry_count == 0 || self.data_block_count == 0 {
            return bad("empty file");
        }
        if self.put_count.checked_add(self.delete_marker_count) != Some(self.entry_count) {
            return bad("put_count + delete_marker_count != entry_count");
        }
        if self.data_block_count > self.entry_count {
            return bad("more data blocks than entries");
        }
        if self.min_timestamp > self.max_timestamp {
            return bad("min_timestamp > max_timestamp");
        }
        if key::parse_key(&self.first_key).is_none() || key::parse_key(&self.last_key).is_none() {
            return bad("first_key or last_key is not an internal key");
        }
        if self.first_key > self.last_key
            || (self.entry_count == 1 && self.first_key != self.last_key)
        {
            return bad("first_key and last_key are out of order");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{CellType, encode_key};
    use proptest::prelude::*;

    prop_compose! {
        fn arb_meta()(puts in 0u64..1000, markers in 0u64..1000, ts in any::<(u64, u64)>(),
                      max_seq in any::<u64>(), created_ms in any::<u64>(), blocks in 1u64..5,
                      raw in any::<u64>(), bloom in 0u8..3, lz4 in any::<bool>(),
                      rows in (prop::collection::vec(any::<u8>(), 0..20), prop::collection::vec(any::<u8>(), 0..20)))
                      -> SsTableMeta {
            let entry_count = (puts + markers).max(blocks);
            let (lo, hi) = if rows.0 <= rows.1 { rows } else { (rows.1, rows.0) };
            let first_key = encode_key(&lo, b"q", 9, CellType::Put, 1);
            let last_key = if entry_count == 1 { first_key.clone() } else { encode_key(&hi, b"r", 1, CellType::Put, 1) };
            SsTableMeta {
                entry_count,
                put_count: entry_count - markers.min(entry_count),
                delete_marker_count: markers.min(entry_count),
                first_key,
                last_key,
                min_timestamp: ts.0.min(ts.1),
                max_timestamp: ts.0.max(ts.1),
                max_seq,
                created_ms,
                bloom: bloom_from_u8(bloom).unwrap(),
                compression: if lz4 { Compression::Lz4 } else { Compression::None },
                data_block_count: blocks,
                raw_data_bytes: raw,
            }
        }
    }

    proptest! {
        #[test]
        fn meta_round_trip(meta in arb_meta()) {
            prop_assert_eq!(SsTableMeta::decode(&meta.encode()).unwrap(), meta);
        }

        #[test]
        fn meta_truncations_and_garbage_are_errors(meta in arb_meta(), cut in any::<prop::sample::Index>(), junk in prop::collection::vec(any::<u8>(), 0..100)) {
            let bytes = meta.encode();
            prop_assert!(SsTableMeta::decode(&bytes[..cut.index(bytes.len())]).is_err());
            let mut longer = bytes.clone();
            longer.push(0);
            prop_assert!(SsTableMeta::decode(&longer).is_err());
            let _ = SsTableMeta::decode(&junk);
        }
    }

    #[test]
    fn inconsistent_counts_are_rejected() {
        let k = encode_key(b"r", b"q", 1, CellType::Put, 1);
        let mut meta = SsTableMeta {
            entry_count: 2,
            put_count: 1,
            delete_marker_count: 1,
            first_key: k.clone(),
            last_key: encode_key(b"s", b"q", 1, CellType::Put, 1),
            min_timestamp: 1,
            max_timestamp: 1,
            max_seq: 1,
            created_ms: 0,
            bloom: BloomType::Row,
            compression: Compression::None,
            data_block_count: 1,
            raw_data_bytes: 100,
        };
        assert!(SsTableMeta::decode(&meta.encode()).is_ok());
        meta.put_count = 2;
        assert!(SsTableMeta::decode(&meta.encode()).is_err());
        meta.put_count = 1;
        meta.last_key = b"not a key".to_vec();
        assert!(SsTableMeta::decode(&meta.encode()).is_err());
        meta.last_key = meta.first_key.clone();
        meta.entry_count = 1;
        meta.put_count = 0;
        assert!(SsTableMeta::decode(&meta.encode()).is_ok());
        let mut bytes = meta.encode();
        bytes[72] = 9; // bloom type
        assert!(SsTableMeta::decode(&bytes).is_err());
    }
}
