//! Byte-level helpers shared by the SSTable encoders and decoders: LEB128 varints, a
//! bounds-checked reader over untrusted bytes, and block handles.
//!
//! Invariant: nothing here panics on any input. Decoders return [`DecodeError`], which the
//! caller turns into `Error::Corruption` naming the file and the offset of the block,
//! since only the caller knows them.

use std::path::Path;

use crate::error::Error;

/// Longest LEB128 encoding of a `u64`.
pub(crate) const MAX_VARINT_LEN: usize = 10;

/// Why some stored bytes could not be decoded. Carries no location: see [`Self::at`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError(pub(crate) String);

impl DecodeError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        DecodeError(reason.into())
    }

    /// Names where the bad bytes are.
    pub(crate) fn at(self, file: &Path, offset: u64) -> Error {
        Error::Corruption {
            file: file.to_path_buf(),
            offset,
            reason: self.0,
        }
    }
}

pub(crate) type DecodeResult<T> = std::result::Result<T, DecodeError>;

/// Appends `v` as a LEB128 varint (7 bits per byte, low group first).
pub(crate) fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Number of bytes [`put_varint`] writes for `v`.
pub(crate) fn varint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// A cursor over untrusted bytes; every read is bounds-checked.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Starts reading at `pos` (which may be past the end: the next read then fails).
    pub(crate) fn at(buf: &'a [u8], pos: usize) -> Self {
        Reader { buf, pos }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    #[inline]
    pub(crate) fn varint(&mut self, what: &str) -> DecodeResult<u64> {
        // Most lengths in a block fit one byte.
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        self.varint_slow(what)
    }

    #[inline(never)]
    fn varint_slow(&mut self, what: &str) -> DecodeResult<u64> {
        let mut v: u64 = 0;
        for i in 0..MAX_VARINT_LEN {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| DecodeError::new(format!("truncated varint ({what})")))?;
            self.pos += 1;
            let group = u64::from(b & 0x7F);
            // The 10th byte may only carry the top bit of a u64.
            if i == MAX_VARINT_LEN - 1 && b > 1 {
                return Err(DecodeError::new(format!("varint overflows u64 ({what})")));
            }
            v |= group << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::new(format!(
            "varint longer than 10 bytes ({what})"
        )))
    }

    /// A varint that must fit a `usize` length or offset.
    #[inline]
    pub(crate) fn varint_usize(&mut self, what: &str) -> DecodeResult<usize> {
        let v = self.varint(what)?;
        usize::try_from(v)
            .map_err(|_| DecodeError::new(format!("{what} {v} does not fit in memory")))
    }

    #[inline]
    pub(crate) fn bytes(&mut self, n: usize, what: &str) -> DecodeResult<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| DecodeError::new(format!("{what} length overflows")))?;
        let out = self.buf.get(self.pos..end).ok_or_else(|| {
            DecodeError::new(format!(
                "{what} of {n} bytes at {} runs past the end ({} bytes)",
                self.pos,
                self.buf.len()
            ))
        })?;
        self.pos = end;
        Ok(out)
    }

    #[inline]
    pub(crate) fn u8(&mut self, what: &str) -> DecodeResult<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn u32_le(&mut self, what: &str) -> DecodeResult<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u64_le(&mut self, what: &str) -> DecodeResult<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn array<const N: usize>(&mut self, what: &str) -> DecodeResult<[u8; N]> {
        let b = self.bytes(N, what)?;
        // `bytes` returned exactly N bytes, so the conversion cannot fail.
        b.try_into()
            .map_err(|_| DecodeError::new(format!("{what}: short read")))
    }
}

/// Where a block lives in the file: `size` counts every on-disk byte of the block,
/// including its 5-byte trailer (compression type and checksum).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BlockHandle {
    /// Byte offset of the block's first byte.
    pub offset: u64,
    /// On-disk length of the block including its trailer.
    pub size: u64,
}

impl BlockHandle {
    /// The varint form used in index entries: `offset varint, size varint`.
    pub(crate) fn encode_varint(&self, buf: &mut Vec<u8>) {
        put_varint(buf, self.offset);
        put_varint(buf, self.size);
    }

    /// Decodes the varint form; the value must hold nothing else.
    pub(crate) fn decode_varint(bytes: &[u8]) -> DecodeResult<BlockHandle> {
        let mut r = Reader::new(bytes);
        let offset = r.varint("block offset")?;
        let size = r.varint("block size")?;
        if !r.is_empty() {
            return Err(DecodeError::new("trailing bytes after block handle"));
        }
        Ok(BlockHandle { offset, size })
    }

    /// One past the block's last byte, or `None` on overflow.
    pub(crate) fn end(&self) -> Option<u64> {
        self.offset.checked_add(self.size)
    }

    /// True for the `(0, 0)` handle that marks an absent block.
    pub(crate) fn is_null(&self) -> bool {
        self.offset == 0 && self.size == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varint_round_trip(v in prop_oneof![any::<u64>(), 0..300u64, Just(u64::MAX)]) {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            prop_assert_eq!(buf.len(), varint_len(v));
            let mut r = Reader::new(&buf);
            prop_assert_eq!(r.varint("v").unwrap(), v);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn handle_round_trip(offset in any::<u64>(), size in any::<u64>()) {
            let h = BlockHandle { offset, size };
            let mut buf = Vec::new();
            h.encode_varint(&mut buf);
            prop_assert_eq!(BlockHandle::decode_varint(&buf).unwrap(), h);
        }

        #[test]
        fn reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..24), n in 0usize..40) {
            let mut r = Reader::new(&bytes);
            let _ = r.varint("a");
            let _ = r.bytes(n, "b");
            let _ = r.u32_le("c");
            let _ = r.u64_le("d");
            let _ = BlockHandle::decode_varint(&bytes);
        }
    }

    #[test]
    fn bad_varints_are_errors() {
        // 11 continuation bytes.
        assert!(Reader::new(&[0x80; 11]).varint("x").is_err());
        // 10th byte carries more than the top bit.
        let mut over = vec![0xFF; 9];
        over.push(0x02);
        assert!(Reader::new(&over).varint("x").is_err());
        // Truncated.
        assert!(Reader::new(&[0x80]).varint("x").is_err());
        let mut max = Vec::new();
        put_varint(&mut max, u64::MAX);
        assert_eq!(max.len(), 10);
        // Trailing byte after a handle.
        let mut h = Vec::new();
        BlockHandle { offset: 1, size: 2 }.encode_varint(&mut h);
        h.push(0);
        assert!(BlockHandle::decode_varint(&h).is_err());
    }
}
