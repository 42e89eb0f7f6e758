//! WAL record framing: the bytes of one `(seq, payload)` record.
//!
//! ```text
//! +-----------------+---------+----------------+-------------------+-----------------+
//! | payload_len u32 | seq u64 | header_crc u32 | payload (len B)   | payload_crc u32 |
//! +-----------------+---------+----------------+-------------------+-----------------+
//!   header_crc  = crc32c(payload_len || seq)      (the first 12 bytes)
//!   payload_crc = crc32c(payload)
//! ```
//!
//! The length has its own checksum so a reader never trusts a damaged length: a flipped
//! length bit fails `header_crc` and the reader can tell "damaged record followed by more
//! records" (corruption) from "the writer died here" (torn tail) instead of reading a bogus
//! extent that happens to run past the end of the file. An all-zero header never verifies
//! (crc32c of twelve zero bytes is not zero), so zero-filled file tails read as "no record".
//!
//! Pure functions, no I/O; `storage/FORMAT.md` specifies the same bytes.

/// Bytes before the payload: `payload_len u32 | seq u64 | header_crc u32`.
pub const RECORD_HEADER_LEN: usize = 4 + 8 + 4;
/// Bytes after the payload: `payload_crc u32`.
pub const RECORD_TRAILER_LEN: usize = 4;
/// Framing bytes per record.
pub const RECORD_OVERHEAD: usize = RECORD_HEADER_LEN + RECORD_TRAILER_LEN;
/// Largest payload a record may carry (128 MiB). Larger appends are rejected with
/// `Error::LimitExceeded`; a reader treats a larger verified length as corruption, and it
/// bounds the buffer a reader allocates for one record.
pub const MAX_PAYLOAD_BYTES: usize = 128 * 1024 * 1024;

/// A verified record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordHeader {
    /// Payload length in bytes (verified by the header crc, not yet bounded).
    pub payload_len: u32,
    /// Sequence id of the mutation.
    pub seq: u64,
}

impl RecordHeader {
    /// Total bytes of the record this header starts.
    pub fn record_len(&self) -> u64 {
        RECORD_OVERHEAD as u64 + u64::from(self.payload_len)
    }
}

/// Encodes a header for a payload of `payload_len` bytes.
pub(crate) fn encode_header(seq: u64, payload_len: u32) -> [u8; RECORD_HEADER_LEN] {
    let mut h = [0u8; RECORD_HEADER_LEN];
    h[0..4].copy_from_slice(&payload_len.to_le_bytes());
    h[4..12].copy_from_slice(&seq.to_le_bytes());
    let crc = crc32c::crc32c(&h[0..12]);
    h[12..16].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Decodes a header; `None` when its checksum does not match (damaged or not a header).
pub(crate) fn decode_header(h: &[u8; RECORD_HEADER_LEN]) -> Option<RecordHeader> {
    let [
        l0,
        l1,
        l2,
        l3,
        s0,
        s1,
        s2,
        s3,
        s4,
        s5,
        s6,
        s7,
        c0,
        c1,
        c2,
        c3,
    ] = *h;
    let stored = u32::from_le_bytes([c0, c1, c2, c3]);
    if crc32c::crc32c(&h[0..12]) != stored {
        return None;
    }
    Some(RecordHeader {
        payload_len: u32::from_le_bytes([l0, l1, l2, l3]),
        seq: u64::from_le_bytes([s0, s1, s2, s3, s4, s5, s6, s7]),
    })
}

/// True when `trailer` is the checksum of `payload`.
pub(crate) fn payload_matches(payload: &[u8], trailer: [u8; RECORD_TRAILER_LEN]) -> bool {
    crc32c::crc32c(payload) == u32::from_le_bytes(trailer)
}

/// Appends one encoded record to `out`.
///
/// # Panics
/// If `payload` is longer than [`MAX_PAYLOAD_BYTES`]: callers check the limit first and
/// return `Error::LimitExceeded`, so reaching it here is a programming error.
pub fn encode_record(seq: u64, payload: &[u8], out: &mut Vec<u8>) {
    let len = checked_len(payload);
    out.reserve(RECORD_OVERHEAD + payload.len());
    out.extend_from_slice(&encode_header(seq, len));
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
}

/// The payload length as the `u32` stored on disk, after the limit check.
pub(crate) fn checked_len(payload: &[u8]) -> u32 {
    assert!(
        payload.len() <= MAX_PAYLOAD_BYTES,
        "WAL payload of {} bytes passed the limit check",
        payload.len()
    );
    // MAX_PAYLOAD_BYTES < u32::MAX, so this cannot truncate.
    payload.len() as u32
}

/// Why the bytes at some offset are not a good record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadRecord {
    /// Fewer bytes than a header.
    ShortHeader,
    /// The header checksum does not match.
    HeaderCrc,
    /// A verified header announces more than [`MAX_PAYLOAD_BYTES`].
    TooLong(u32),
    /// The record runs past the end of the bytes.
    ShortRecord,
    /// The payload checksum does not match.
    PayloadCrc,
}

impl BadRecord {
    /// Human-readable reason for error messages.
    pub fn reason(&self) -> String {
        match self {
            BadRecord::ShortHeader => "truncated record header".into(),
            BadRecord::HeaderCrc => "record header checksum mismatch".into(),
            BadRecord::TooLong(n) => {
                format!("record payload length {n} is over MAX_PAYLOAD_BYTES = {MAX_PAYLOAD_BYTES}")
            }
            BadRecord::ShortRecord => "record runs past the end of the segment".into(),
            BadRecord::PayloadCrc => "record payload checksum mismatch".into(),
        }
    }
}

/// Decodes the record at the start of `buf`: `(header, payload)`; the record is
/// `header.record_len()` bytes long. The file reader streams instead; this whole-slice
/// form states the decoding rules in one place for the property tests.
#[cfg(test)]
pub(crate) fn decode_record(buf: &[u8]) -> Result<(RecordHeader, &[u8]), BadRecord> {
    let h: &[u8; RECORD_HEADER_LEN] = buf
        .get(..RECORD_HEADER_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(BadRecord::ShortHeader)?;
    let header = decode_header(h).ok_or(BadRecord::HeaderCrc)?;
    if header.payload_len as usize > MAX_PAYLOAD_BYTES {
        return Err(BadRecord::TooLong(header.payload_len));
    }
    let end = RECORD_HEADER_LEN + header.payload_len as usize;
    let payload = buf
        .get(RECORD_HEADER_LEN..end)
        .ok_or(BadRecord::ShortRecord)?;
    let trailer: [u8; RECORD_TRAILER_LEN] = buf
        .get(end..end + RECORD_TRAILER_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(BadRecord::ShortRecord)?;
    if !payload_matches(payload, trailer) {
        return Err(BadRecord::PayloadCrc);
    }
    Ok((header, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_bytes_are_never_a_header() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283); // the CRC32C check value
        assert_eq!(crc32c::crc32c(&[0u8; 12]), 0x2B60_B55D); // quoted in FORMAT.md
        assert_eq!(decode_header(&[0u8; RECORD_HEADER_LEN]), None);
        assert_eq!(decode_record(&[0u8; 64]).unwrap_err(), BadRecord::HeaderCrc);
    }

    #[test]
    fn layout_is_byte_exact() {
        let mut out = Vec::new();
        encode_record(0x0102_0304_0506_0708, b"abc", &mut out);
        assert_eq!(out.len(), RECORD_OVERHEAD + 3);
        assert_eq!(&out[0..4], &3u32.to_le_bytes());
        assert_eq!(&out[4..12], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(&out[12..16], &crc32c::crc32c(&out[0..12]).to_le_bytes());
        assert_eq!(&out[16..19], b"abc");
        assert_eq!(&out[19..23], &crc32c::crc32c(b"abc").to_le_bytes());
    }

    #[test]
    fn verified_oversized_length_is_rejected() {
        let len = MAX_PAYLOAD_BYTES as u32 + 1;
        let mut buf = encode_header(7, len).to_vec();
        buf.extend_from_slice(&[0u8; 8]);
        assert_eq!(decode_record(&buf).unwrap_err(), BadRecord::TooLong(len));
    }

    proptest! {
        #[test]
        fn round_trip(seq: u64, payload in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut out = vec![0xAA]; // encoding appends after existing bytes
            encode_record(seq, &payload, &mut out);
            let (h, p) = decode_record(&out[1..]).unwrap();
            prop_assert_eq!(h.seq, seq);
            prop_assert_eq!(p, &payload[..]);
            prop_assert_eq!(h.record_len() as usize, out.len() - 1);
        }

        #[test]
        fn every_prefix_is_short_and_every_flip_is_caught(
            seq: u64,
            payload in proptest::collection::vec(any::<u8>(), 0..256),
            flip_at: prop::sample::Index,
            flip_bits in 1u8..=255,
        ) {
            let mut rec = Vec::new();
            encode_record(seq, &payload, &mut rec);
            for cut in 0..rec.len() {
                let err = decode_record(&rec[..cut]).unwrap_err();
                prop_assert!(matches!(err, BadRecord::ShortHeader | BadRecord::ShortRecord));
            }
            let i = flip_at.index(rec.len());
            rec[i] ^= flip_bits;
            // A flip may shrink the length so the bytes still decode as a shorter record;
            // that only happens if the header crc also matched, which crc32c rules out
            // for a single damaged byte.
            prop_assert!(decode_record(&rec).is_err());
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = decode_record(&bytes);
        }
    }
}
