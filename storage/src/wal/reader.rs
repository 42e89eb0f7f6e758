//! WAL replay: reads every segment of a WAL directory in seq order, verifies every byte,
//! hands records to the caller, and repairs a torn tail.
//!
//! Torn tail versus corruption. Only the last segment can be torn, because the writer
//! fsyncs a segment before it creates the next one. In the last segment, a bad record at
//! offset `X` is a *torn tail* (the writer died mid-write) when no valid record exists
//! anywhere after `X`: the bytes from `X` on are a short header, a record that runs past
//! the end of the file, or damaged/zero bytes with nothing verifiable behind them. It is
//! *corruption* when a valid record (both checksums, a seq above the last good one)
//! follows, because then bytes the writer had finished were damaged afterwards. Since the
//! length field is covered by the header checksum, a damaged length is never trusted to
//! "explain" the rest of the file. Everything wrong outside that rule is corruption too:
//! a bad or short segment header, any bad record in an earlier segment, a verified length
//! over `MAX_PAYLOAD_BYTES`, a seq that does not increase.
//!
//! Repair. A torn tail is cut off (`set_len` to the end of the last good record) and the
//! last segment is fsynced, also when nothing was cut: records replayed from the page
//! cache after a process crash must be durable before a new writer adds later records in
//! a new segment, or a machine crash could later leave a hole in the middle of the log.
//!
//! Replay is single-threaded and must not run while a writer is appending to `dir`.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::record::{
    BadRecord, MAX_PAYLOAD_BYTES, RECORD_HEADER_LEN, RECORD_TRAILER_LEN, RecordHeader,
    decode_header, payload_matches,
};
use super::segment::{SEGMENT_HEADER_LEN, SegmentInfo, check_segment_header, list_segments};
use crate::error::{Error, IoContext, Result};

/// What [`replay`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayOutcome {
    /// Highest seq of any valid record (including those at or below `after_seq`).
    pub last_seq: Option<u64>,
    /// Records handed to the callback (those with seq above `after_seq`).
    pub records: u64,
    /// True if a torn tail was found in the last segment and cut off.
    pub torn_tail_dropped: bool,
    /// Every segment, in seq order; pass them to `Wal::open` for later deletion.
    pub segments: Vec<SegmentInfo>,
}

/// Replays every record with seq > `after_seq` in seq order, calling `f(seq, payload)`.
///
/// `dir` is the WAL directory itself (`<region_dir>/wal`); a missing directory is an empty
/// log. Before returning, cuts a torn tail of the last segment to the end of its last good
/// record and fsyncs that segment (see the module doc), so later writers, which start a
/// new segment, never leave a torn record in the middle of the log.
///
/// Errors: `Error::Corruption` naming the segment and the byte offset of the first bad
/// record (or 0 for a bad segment header); `Error::Io`; or the first error `f` returns,
/// after which replay stops. `f` only ever sees records whose checksums verified.
pub fn replay(
    dir: &Path,
    after_seq: u64,
    mut f: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<ReplayOutcome> {
    let listed = list_segments(dir)?;
    let count = listed.len();
    let mut out = ReplayOutcome::default();
    for (i, (name_seq, path)) in listed.into_iter().enumerate() {
        let mut seg = SegmentReplay {
            path: &path,
            name_seq,
            is_last: i + 1 == count,
            after_seq,
        };
        let max_seq = seg.run(&mut out, &mut f)?;
        out.segments.push(SegmentInfo {
            path,
            first_seq: name_seq,
            max_seq,
        });
    }
    Ok(out)
}

/// Replay of one segment file.
struct SegmentReplay<'a> {
    path: &'a Path,
    name_seq: u64,
    is_last: bool,
    after_seq: u64,
}

/// A record that did not verify, with where a scan for later valid records starts.
struct Bad {
    kind: BadRecord,
    scan_from: u64,
}

impl SegmentReplay<'_> {
    /// Replays the segment; returns its highest seq.
    fn run(
        &mut self,
        out: &mut ReplayOutcome,
        f: &mut impl FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<Option<u64>> {
        // The last segment is opened writable: it may need a truncate and an fsync.
        let file = if self.is_last {
            OpenOptions::new().read(true).write(true).open(self.path)
        } else {
            File::open(self.path)
        }
        .at(self.path)?;
        let file_len = file.metadata().at(self.path)?.len();
        let mut reader = BufReader::with_capacity(256 * 1024, &file);
        self.check_header(&mut reader, file_len, out.last_seq)?;

        let mut off = SEGMENT_HEADER_LEN as u64;
        let mut payload = Vec::new();
        let mut max_seq = None;
        while off < file_len {
            let header = match self.read_record(&mut reader, off, file_len, &mut payload)? {
                Ok(header) => header,
                Err(bad) => {
                    self.on_bad_record(&file, off, file_len, bad, out.last_seq)?;
                    // A torn tail: cut it off.
                    file.set_len(off).at(self.path)?;
                    out.torn_tail_dropped = true;
                    break;
                }
            };
            let seq = header.seq;
            if seq < self.name_seq || out.last_seq.is_some_and(|last| seq <= last) {
                return Err(self.corrupt(
                    off,
                    format!(
                        "record seq {seq} does not increase (previous {:?}, segment first_seq {})",
                        out.last_seq, self.name_seq
                    ),
                ));
            }
            out.last_seq = Some(seq);
            max_seq = Some(seq);
            if seq > self.after_seq {
                f(seq, &payload)?;
                out.records += 1;
            }
            off += header.record_len();
        }
        if self.is_last {
            file.sync_all().at(self.path)?;
        }
        Ok(max_seq)
    }

    fn corrupt(&self, offset: u64, reason: String) -> Error {
        Error::Corruption {
            file: self.path.to_path_buf(),
            offset,
            reason,
        }
    }

    fn check_header(
        &self,
        reader: &mut impl Read,
        file_len: u64,
        last_seq: Option<u64>,
    ) -> Result<()> {
        if file_len < SEGMENT_HEADER_LEN as u64 {
            return Err(self.corrupt(0, format!("file of {file_len} bytes has no segment header")));
        }
        let mut h = [0u8; SEGMENT_HEADER_LEN];
        reader.read_exact(&mut h).at(self.path)?;
        check_segment_header(&h, self.name_seq).map_err(|reason| self.corrupt(0, reason))?;
        if let Some(last) = last_seq.filter(|&last| self.name_seq <= last) {
            return Err(self.corrupt(
                0,
                format!(
                    "segment first_seq {} is not above seq {last} of an earlier segment",
                    self.name_seq
                ),
            ));
        }
        Ok(())
    }

    /// Reads the record at `off` (the reader's position) into `payload`.
    fn read_record(
        &self,
        reader: &mut impl Read,
        off: u64,
        file_len: u64,
        payload: &mut Vec<u8>,
    ) -> Result<Result<RecordHeader, Bad>> {
        let left = file_len - off;
        let bad = |kind, scan_from| Ok(Err(Bad { kind, scan_from }));
        if left < RECORD_HEADER_LEN as u64 {
            return bad(BadRecord::ShortHeader, file_len);
        }
        let mut h = [0u8; RECORD_HEADER_LEN];
        reader.read_exact(&mut h).at(self.path)?;
        let Some(header) = decode_header(&h) else {
            return bad(BadRecord::HeaderCrc, off + 1);
        };
        if header.payload_len as usize > MAX_PAYLOAD_BYTES {
            return bad(BadRecord::TooLong(header.payload_len), off + 1);
        }
        if header.record_len() > left {
            return bad(BadRecord::ShortRecord, file_len);
        }
        // Bounded by MAX_PAYLOAD_BYTES and by the file length checked above.
        payload.resize(header.payload_len as usize, 0);
        reader.read_exact(payload).at(self.path)?;
        let mut trailer = [0u8; RECORD_TRAILER_LEN];
        reader.read_exact(&mut trailer).at(self.path)?;
        if !payload_matches(payload, trailer) {
            return bad(BadRecord::PayloadCrc, off + header.record_len());
        }
        Ok(Ok(header))
    }

    /// Decides whether the bad record at `off` is a torn tail (`Ok`) or corruption.
    fn on_bad_record(
        &self,
        file: &File,
        off: u64,
        file_len: u64,
        bad: Bad,
        last_seq: Option<u64>,
    ) -> Result<()> {
        let reason = bad.kind.reason();
        if !self.is_last {
            return Err(self.corrupt(off, format!("{reason} in a sealed (not last) segment")));
        }
        if let BadRecord::TooLong(_) = bad.kind {
            return Err(self.corrupt(off, reason));
        }
        if let Some(at) = find_valid_record(file, self.path, bad.scan_from, file_len, last_seq)? {
            return Err(self.corrupt(
                off,
                format!("{reason}, followed by a valid record at offset {at}"),
            ));
        }
        Ok(())
    }
}

/// Offset of the first valid record (both checksums, length within limits and within the
/// file, seq above `last_seq`) starting at or after `from`, trying every byte offset.
/// Runs only on the error path; cost is one 12-byte crc per byte scanned.
fn find_valid_record(
    file: &File,
    path: &Path,
    from: u64,
    file_len: u64,
    last_seq: Option<u64>,
) -> Result<Option<u64>> {
    const WINDOW_BYTES: usize = 1 << 20;
    let mut window = vec![0u8; WINDOW_BYTES + RECORD_HEADER_LEN];
    let mut pos = from;
    while file_len.saturating_sub(pos) >= RECORD_HEADER_LEN as u64 {
        let n = usize::try_from(file_len - pos).map_or(window.len(), |left| left.min(window.len()));
        let buf = &mut window[..n];
        read_at(file, path, pos, buf)?;
        for (i, h) in buf.windows(RECORD_HEADER_LEN).enumerate() {
            let at = pos + i as u64;
            let Some(header) = h.try_into().ok().and_then(decode_header) else {
                continue;
            };
            let plausible = header.payload_len as usize <= MAX_PAYLOAD_BYTES
                && last_seq.is_none_or(|last| header.seq > last)
                && at + header.record_len() <= file_len;
            if plausible && payload_verifies(file, path, at, header)? {
                return Ok(Some(at));
            }
        }
        // Windows overlap by a header length minus one so no offset is skipped.
        pos += (n - RECORD_HEADER_LEN + 1) as u64;
    }
    Ok(None)
}

fn payload_verifies(file: &File, path: &Path, at: u64, header: RecordHeader) -> Result<bool> {
    let mut rest = vec![0u8; header.payload_len as usize + RECORD_TRAILER_LEN];
    read_at(file, path, at + RECORD_HEADER_LEN as u64, &mut rest)?;
    let (payload, trailer) = rest.split_at(header.payload_len as usize);
    Ok(trailer
        .try_into()
        .is_ok_and(|t| payload_matches(payload, t)))
}

fn read_at(mut file: &File, path: &Path, pos: u64, buf: &mut [u8]) -> Result<()> {
    file.seek(SeekFrom::Start(pos)).at(path)?;
    file.read_exact(buf).at(path)
}

#[cfg(test)]
mod tests;
