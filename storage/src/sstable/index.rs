//! The block index: one entry per data block, `key = the block's last key`,
//! `value = offset varint | size varint`, stored in the block format of `block.rs`.
//!
//! A reader loads it whole at open into a sorted `Vec` and binary-searches it: the data
//! block that may hold the first key `>= target` is the first one whose last key is
//! `>= target`. [`decode_index`] checks that last keys strictly increase and that the
//! handles are in file order, inside the data area, and do not overlap.

use std::sync::Arc;

use bytes::Bytes;

use super::block::{Block, BlockBuilder, BlockIter, KeyLayout};
use super::codec::{BlockHandle, DecodeError, DecodeResult};

/// One data block as the index knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// The last (largest) key stored in the block.
    pub last_key: Vec<u8>,
    /// Where the block is.
    pub handle: BlockHandle,
}

/// Encodes index entries (already in key order) as an unframed block.
pub(crate) fn encode_index(entries: &[IndexEntry]) -> Vec<u8> {
    let mut b = BlockBuilder::default();
    let mut value = Vec::new();
    for e in entries {
        value.clear();
        e.handle.encode_varint(&mut value);
        b.add(&e.last_key, &value);
    }
    b.finish()
}

/// Decodes and checks an index block; `data_end` is the first byte after the data blocks.
pub(crate) fn decode_index(payload: Bytes, data_end: u64) -> DecodeResult<Vec<IndexEntry>> {
    let block = Arc::new(Block::decode(payload, KeyLayout::Plain)?);
    let mut it = BlockIter::new(block);
    it.seek_to_first()?;
    let mut out: Vec<IndexEntry> = Vec::new();
    let mut next_free = 0u64;
    while it.valid() {
        let handle = BlockHandle::decode_varint(it.value())?;
        let n = out.len();
        if let Some(prev) = out.last()
            && prev.last_key.as_slice() >= it.key()
        {
            return Err(DecodeError::new(format!(
                "index entry {n} is not after entry {}",
                n - 1
            )));
        }
        let end = handle.end().filter(|&end| end <= data_end);
        if handle.offset < next_free || end.is_none() || handle.size == 0 {
            return Err(DecodeError::new(format!(
                "index entry {n} points at ({}, {}), outside the data area [{next_free}, {data_end})",
                handle.offset, handle.size
            )));
        }
        next_free = end.unwrap_or(data_end);
        out.push(IndexEntry {
            last_key: it.key().to_vec(),
            handle,
        });
        it.next()?;
    }
    Ok(out)
}

/// Index of the first block whose last key is `>= target` (`entries.len()` if none).
pub(crate) fn find_block(entries: &[IndexEntry], target: &[u8]) -> usize {
    entries.partition_point(|e| e.last_key.as_slice() < target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_index() -> impl Strategy<Value = Vec<IndexEntry>> {
        (
            prop::collection::btree_set(prop::collection::vec(any::<u8>(), 1..10), 0..60),
            prop::collection::vec(1u64..100_000, 60),
            prop::collection::vec(0u64..50, 60),
        )
            .prop_map(|(keys, sizes, gaps)| {
                let mut offset = 0;
                keys.into_iter()
                    .zip(sizes.iter().zip(&gaps))
                    .map(|(k, (&size, &gap))| {
                        offset += gap;
                        let handle = BlockHandle { offset, size };
                        offset += size;
                        IndexEntry {
                            last_key: k,
                            handle,
                        }
                    })
                    .collect()
            })
    }

    proptest! {
        #[test]
        fn index_round_trip(entries in arb_index(), probe in prop::collection::vec(any::<u8>(), 0..10)) {
            let data_end = entries.last().map_or(0, |e| e.handle.end().unwrap());
            let decoded = decode_index(Bytes::from(encode_index(&entries)), data_end).unwrap();
            prop_assert_eq!(&decoded, &entries);
            let i = find_block(&decoded, &probe);
            let expected = entries.iter().position(|e| e.last_key >= probe).unwrap_or(entries.len());
            prop_assert_eq!(i, expected);
        }
    }

    #[test]
    fn bad_handles_are_rejected() {
        let e = |k: &[u8], offset, size| IndexEntry {
            last_key: k.to_vec(),
            handle: BlockHandle { offset, size },
        };
        // Past the data area.
        let bytes = encode_index(&[e(b"a", 0, 10), e(b"b", 10, 10)]);
        assert!(decode_index(Bytes::from(bytes.clone()), 20).is_ok());
        assert!(decode_index(Bytes::from(bytes), 19).is_err());
        // Overlapping blocks.
        let bytes = encode_index(&[e(b"a", 0, 10), e(b"b", 5, 10)]);
        assert!(decode_index(Bytes::from(bytes), 100).is_err());
        // Offset + size overflows.
        let bytes = encode_index(&[e(b"a", u64::MAX, 10)]);
        assert!(decode_index(Bytes::from(bytes), u64::MAX).is_err());
    }
}
