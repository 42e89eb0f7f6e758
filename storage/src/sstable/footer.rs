//! The fixed-size footer at the end of every SSTable: where the index, bloom and meta
//! blocks are, the format version, a checksum of the footer itself and a magic number.
//!
//! ```text
//! offset  0  index_offset u64 | 8  index_size u64
//!        16  bloom_offset u64 | 24 bloom_size u64   (0, 0 when the file has no bloom)
//!        32  meta_offset  u64 | 40 meta_size  u64
//!        48  format_version u32 (2; version 1 files are still read)
//!        52  footer_crc32c u32   (over bytes 0..52)
//!        56  magic u64           (the ASCII bytes "STRATAS1")
//! ```
//!
//! A reader checks the magic first (is this an SSTable at all, or a truncated one?), then
//! the checksum, then the version, then that every handle lies before the footer.

use super::block::KeyLayout;
use super::codec::{BlockHandle, DecodeError, DecodeResult, Reader};

/// Size of the footer in bytes.
pub const FOOTER_LEN: usize = 64;
/// The magic number, stored little-endian so the file ends with the bytes `STRATAS1`.
pub const MAGIC: u64 = u64::from_le_bytes(*b"STRATAS1");
/// The SSTable format version this code writes: 2, whose data blocks delta-code their
/// keys' trailers ([`KeyLayout::Trailer`]).
pub const FORMAT_VERSION: u32 = 2;
/// The oldest version this code reads: 1, whose data blocks store keys whole
/// ([`KeyLayout::Plain`]). Everything but the data blocks' key layout is the same.
pub const OLDEST_READABLE_VERSION: u32 = 1;

/// Bytes covered by the footer checksum.
const CRC_COVERED: usize = 52;

/// The decoded footer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    /// The index block.
    pub index: BlockHandle,
    /// The bloom block, `(0, 0)` if the file has none.
    pub bloom: BlockHandle,
    /// The meta block.
    pub meta: BlockHandle,
    /// The file's format version.
    pub version: u32,
}

impl Footer {
    /// Encodes the footer (always [`FOOTER_LEN`] bytes).
    pub(crate) fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut out = Vec::with_capacity(FOOTER_LEN);
        for h in [self.index, self.bloom, self.meta] {
            out.extend_from_slice(&h.offset.to_le_bytes());
            out.extend_from_slice(&h.size.to_le_bytes());
        }
        out.extend_from_slice(&self.version.to_le_bytes());
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&MAGIC.to_le_bytes());
        let mut fixed = [0u8; FOOTER_LEN];
        fixed.copy_from_slice(&out);
        fixed
    }

    /// Decodes the last [`FOOTER_LEN`] bytes of a file; `footer_offset` is where they
    /// start (every block must end at or before it).
    pub(crate) fn decode(bytes: &[u8], footer_offset: u64) -> DecodeResult<Footer> {
        if bytes.len() != FOOTER_LEN {
            return Err(DecodeError::new(format!(
                "footer is {} bytes, not {FOOTER_LEN}",
                bytes.len()
            )));
        }
        let mut r = Reader::new(bytes);
        let mut handle = |what| -> DecodeResult<BlockHandle> {
            Ok(BlockHandle {
                offset: r.u64_le(what)?,
                size: r.u64_le(what)?,
            })
        };
        let index = handle("index handle")?;
        let bloom = handle("bloom handle")?;
        let meta = handle("meta handle")?;
        let version = r.u32_le("format version")?;
        let stored_crc = r.u32_le("footer checksum")?;
        let magic = r.u64_le("magic")?;
        if magic != MAGIC {
            return Err(DecodeError::new(format!(
                "bad magic {:?} (not an SSTable, or truncated)",
                String::from_utf8_lossy(&magic.to_le_bytes())
            )));
        }
        let actual_crc = crc32c::crc32c(bytes.get(..CRC_COVERED).unwrap_or_default());
        if stored_crc != actual_crc {
            return Err(DecodeError::new(format!(
                "footer checksum mismatch: stored {stored_crc:#010x}, computed {actual_crc:#010x}"
            )));
        }
        if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(DecodeError::new(format!(
                "unsupported SSTable format version {version} (this build reads \
                 {OLDEST_READABLE_VERSION} to {FORMAT_VERSION})"
            )));
        }
        for (what, h, optional) in [
            ("index", index, false),
            ("bloom", bloom, true),
            ("meta", meta, false),
        ] {
            if optional && h.is_null() {
                continue;
            }
            if h.size == 0 || h.end().is_none_or(|end| end > footer_offset) {
                return Err(DecodeError::new(format!(
                    "{what} handle ({}, {}) is outside the file's {footer_offset} block bytes",
                    h.offset, h.size
                )));
            }
        }
        Ok(Footer {
            index,
            bloom,
            meta,
            version,
        })
    }

    /// How the file's data blocks store their keys.
    pub(crate) fn data_layout(&self) -> KeyLayout {
        data_layout(self.version)
    }
}

/// How data blocks of format `version` store their keys. Only versions
/// [`Footer::decode`] accepts reach here; a new version must get its own arm.
pub(crate) fn data_layout(version: u32) -> KeyLayout {
    match version {
        1 => KeyLayout::Plain,
        _ => KeyLayout::Trailer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_handle(max: u64) -> impl Strategy<Value = BlockHandle> {
        (0..max, 1..max).prop_map(move |(offset, size)| BlockHandle {
            offset: offset.min(max - size),
            size,
        })
    }

    proptest! {
        #[test]
        fn footer_round_trip(index in arb_handle(1 << 40), bloom in prop::option::of(arb_handle(1 << 40)), meta in arb_handle(1 << 40)) {
            let f = Footer { index, bloom: bloom.unwrap_or_default(), meta, version: FORMAT_VERSION };
            let bytes = f.encode();
            prop_assert!(bytes.ends_with(b"STRATAS1"));
            prop_assert_eq!(Footer::decode(&bytes, 1 << 40).unwrap(), f);
        }

        #[test]
        fn any_flipped_bit_is_rejected(at in 0..FOOTER_LEN, bit in 0u8..8) {
            let f = Footer {
                index: BlockHandle { offset: 100, size: 20 },
                bloom: BlockHandle { offset: 120, size: 30 },
                meta: BlockHandle { offset: 150, size: 10 },
                version: FORMAT_VERSION,
            };
            let mut bytes = f.encode();
            bytes[at] ^= 1 << bit;
            prop_assert!(Footer::decode(&bytes, 160).is_err());
        }
    }

    #[test]
    fn version_and_bounds_are_checked() {
        let f = Footer {
            index: BlockHandle {
                offset: 0,
                size: 10,
            },
            bloom: BlockHandle::default(),
            meta: BlockHandle {
                offset: 10,
                size: 10,
            },
            version: FORMAT_VERSION,
        };
        assert!(Footer::decode(&f.encode(), 20).is_ok());
        let v1 = Footer { version: 1, ..f };
        assert_eq!(
            Footer::decode(&v1.encode(), 20).unwrap().data_layout(),
            KeyLayout::Plain
        );
        assert_eq!(
            Footer::decode(&f.encode(), 20).unwrap().data_layout(),
            KeyLayout::Trailer
        );
        let err = Footer::decode(&f.encode(), 19).unwrap_err();
        assert!(err.0.contains("meta handle"), "{err:?}");
        // A future version with a valid checksum.
        let mut bytes = f.encode();
        for bad in [0, FORMAT_VERSION + 1] {
            bytes[48..52].copy_from_slice(&bad.to_le_bytes());
            let crc = crc32c::crc32c(&bytes[..52]);
            bytes[52..56].copy_from_slice(&crc.to_le_bytes());
            let err = Footer::decode(&bytes, 20).unwrap_err();
            assert!(err.0.contains(&format!("version {bad}")), "{err:?}");
        }
        assert!(Footer::decode(&bytes[1..], 20).is_err());
    }
}
