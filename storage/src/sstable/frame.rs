//! The on-disk envelope of every SSTable block: `payload | compression_type u8 | crc32c u32`.
//!
//! The checksum covers the payload and the type byte, and is verified on every read from
//! the file. Data blocks may be lz4-compressed (only when that saves at least 1/8 of the
//! bytes, LevelDB's rule, so a reader does not pay decompression for nothing); index,
//! bloom and meta blocks are always stored raw. The decompressed size stored in a
//! compressed payload is untrusted and capped at [`MAX_UNCOMPRESSED_BLOCK_BYTES`].

use bytes::{Bytes, BytesMut};

use super::codec::{BlockHandle, DecodeError, DecodeResult};
use crate::options::Compression;

/// Bytes after the payload: compression type (1) and CRC32C (4).
pub(crate) const FRAME_TRAILER_LEN: usize = 5;

/// Largest decompressed block a reader accepts. A block holds at least one entry, so the
/// writer refuses entries that could push a block past this (see `builder.rs`).
pub const MAX_UNCOMPRESSED_BLOCK_BYTES: usize = 64 * 1024 * 1024;

/// Compression type byte: payload stored as is.
pub(crate) const TYPE_RAW: u8 = 0;
/// Compression type byte: payload is `uncompressed_len u32 LE | lz4 block`.
pub(crate) const TYPE_LZ4: u8 = 1;

/// Appends `payload` framed (and compressed when asked and worthwhile) to `out`.
/// Returns the number of bytes appended.
pub(crate) fn encode_frame(payload: &[u8], compression: Compression, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    let compressed = match compression {
        Compression::Lz4 => Some(lz4_flex::block::compress_prepend_size(payload)),
        Compression::None => None,
    };
    let kind = match compressed {
        Some(c) if c.len() < payload.len() - payload.len() / 8 => {
            out.extend_from_slice(&c);
            TYPE_LZ4
        }
        _ => {
            out.extend_from_slice(payload);
            TYPE_RAW
        }
    };
    out.push(kind);
    let crc = crc32c::crc32c(out.get(start..).unwrap_or_default());
    out.extend_from_slice(&crc.to_le_bytes());
    out.len() - start
}

/// Returns the on-disk bytes of the block at `handle`, checksum-verified, still framed
/// as `(payload, compression_type)`. `file` is the whole mapped file.
pub(crate) fn checked_frame(file: &Bytes, handle: BlockHandle) -> DecodeResult<(Bytes, u8)> {
    let range = handle_range(file.len(), handle)?;
    let framed = file.slice(range);
    let payload_len = framed.len().checked_sub(FRAME_TRAILER_LEN).ok_or_else(|| {
        DecodeError::new(format!(
            "block of {} bytes is shorter than its trailer",
            framed.len()
        ))
    })?;
    // payload | type: what the checksum covers.
    let (body, crc_bytes) = framed.split_at(payload_len + 1);
    let stored = u32::from_le_bytes(
        crc_bytes
            .try_into()
            .map_err(|_| DecodeError::new("short checksum"))?,
    );
    let actual = crc32c::crc32c(body);
    if stored != actual {
        return Err(DecodeError::new(format!(
            "block checksum mismatch: stored {stored:#010x}, computed {actual:#010x}"
        )));
    }
    let kind = body.last().copied().unwrap_or(TYPE_RAW);
    Ok((framed.slice(..payload_len), kind))
}

/// Reads, verifies and decompresses the block at `handle`. Raw payloads are zero-copy
/// slices of `file` unless `copy_raw` asks for a heap copy (for blocks that will live in
/// the block cache: a slice would pin the mapping and weigh nothing real).
pub(crate) fn read_frame(file: &Bytes, handle: BlockHandle, copy_raw: bool) -> DecodeResult<Bytes> {
    read_frame_into(file, handle, copy_raw, BytesMut::zeroed)
}

/// [`read_frame`], taking the buffer a decompressed (or copied) payload is written to
/// from `buffer`, which must return exactly the length asked for (initialized bytes of
/// any value: every one is overwritten).
pub(crate) fn read_frame_into(
    file: &Bytes,
    handle: BlockHandle,
    copy_raw: bool,
    buffer: impl FnOnce(usize) -> BytesMut,
) -> DecodeResult<Bytes> {
    let (payload, kind) = checked_frame(file, handle)?;
    match kind {
        TYPE_RAW if copy_raw => {
            let mut out = buffer(payload.len());
            if out.len() != payload.len() {
                return Err(DecodeError::new("block buffer of the wrong length"));
            }
            out.copy_from_slice(&payload);
            Ok(out.freeze())
        }
        TYPE_RAW => Ok(payload),
        TYPE_LZ4 => decompress(&payload, buffer).map(BytesMut::freeze),
        other => Err(DecodeError::new(format!(
            "unknown compression type {other}"
        ))),
    }
}

fn decompress(payload: &[u8], buffer: impl FnOnce(usize) -> BytesMut) -> DecodeResult<BytesMut> {
    let (size, body) = lz4_flex::block::uncompressed_size(payload)
        .map_err(|e| DecodeError::new(format!("lz4 size prefix: {e}")))?;
    if size > MAX_UNCOMPRESSED_BLOCK_BYTES {
        return Err(DecodeError::new(format!(
            "decompressed size {size} is over the limit {MAX_UNCOMPRESSED_BLOCK_BYTES}"
        )));
    }
    let mut out = buffer(size);
    if out.len() != size {
        return Err(DecodeError::new("block buffer of the wrong length"));
    }
    let written = lz4_flex::block::decompress_into(body, &mut out)
        .map_err(|e| DecodeError::new(format!("lz4: {e}")))?;
    // A recycled buffer holds an older block's bytes: all of them must be overwritten.
    if written != size {
        return Err(DecodeError::new(format!(
            "lz4 produced {written} bytes, the block says {size}"
        )));
    }
    Ok(out)
}

/// The byte range of `handle` inside a file of `file_len` bytes.
fn handle_range(file_len: usize, handle: BlockHandle) -> DecodeResult<std::ops::Range<usize>> {
    let out_of_file = || {
        DecodeError::new(format!(
            "block handle ({}, {}) is outside the file ({file_len} bytes)",
            handle.offset, handle.size
        ))
    };
    let start = usize::try_from(handle.offset).map_err(|_| out_of_file())?;
    let len = usize::try_from(handle.size).map_err(|_| out_of_file())?;
    let end = start.checked_add(len).ok_or_else(out_of_file)?;
    if end > file_len {
        return Err(out_of_file());
    }
    Ok(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn framed(payload: &[u8], c: Compression) -> (Bytes, BlockHandle) {
        let mut out = vec![0xAB; 3]; // a block need not start at 0
        let n = encode_frame(payload, c, &mut out);
        let handle = BlockHandle {
            offset: 3,
            size: n as u64,
        };
        (Bytes::from(out), handle)
    }

    proptest! {
        // Debug-build lz4 and seeks are slow; fewer, larger cases keep the suite quick.
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn frame_round_trip(payload in prop::collection::vec(prop_oneof![Just(7u8), any::<u8>()], 0..3000),
                            lz4 in any::<bool>()) {
            let c = if lz4 { Compression::Lz4 } else { Compression::None };
            let (file, h) = framed(&payload, c);
            prop_assert_eq!(&read_frame(&file, h, lz4).unwrap()[..], &payload[..]);
        }

        #[test]
        fn any_flipped_byte_is_detected(payload in prop::collection::vec(any::<u8>(), 1..200), at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let (file, h) = framed(&payload, Compression::Lz4);
            let mut bytes = file.to_vec();
            let i = 3 + at.index(h.size as usize);
            bytes[i] ^= 1 << bit;
            prop_assert!(read_frame(&Bytes::from(bytes), h, false).is_err());
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64), off in 0u64..70, size in 0u64..70) {
            let _ = read_frame(&Bytes::from(bytes), BlockHandle { offset: off, size }, true);
        }
    }

    #[test]
    fn compresses_only_when_it_pays() {
        let repetitive = vec![b'a'; 4096];
        let (file, h) = framed(&repetitive, Compression::Lz4);
        assert!(
            h.size < 200,
            "lz4 should shrink a repetitive block, got {}",
            h.size
        );
        assert_eq!(checked_frame(&file, h).unwrap().1, TYPE_LZ4);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let random: Vec<u8> = (0..4096)
            .map(|_| {
                // xorshift64: incompressible enough for lz4.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        let (file, h) = framed(&random, Compression::Lz4);
        assert_eq!(checked_frame(&file, h).unwrap().1, TYPE_RAW);
        assert_eq!(&read_frame(&file, h, false).unwrap()[..], &random[..]);
    }

    #[test]
    fn oversized_decompressed_length_is_rejected() {
        // A valid checksum over a payload that claims 1 GiB decompressed.
        let mut payload = (1u32 << 30).to_le_bytes().to_vec();
        payload.extend_from_slice(&[0x10, b'x']);
        let mut out = payload.clone();
        out.push(TYPE_LZ4);
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        let h = BlockHandle {
            offset: 0,
            size: out.len() as u64,
        };
        let err = read_frame(&Bytes::from(out), h, false).unwrap_err();
        assert!(err.0.contains("over the limit"), "{err:?}");
    }
}
