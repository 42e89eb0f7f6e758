//! WAL segment files: names, the 24-byte segment header, listing and creation.
//!
//! A segment is `<first_seq as 20 zero-padded decimal digits>.log` and starts with
//!
//! ```text
//! +-------------------+-------------+---------------+-----------+
//! | magic "STRATAWL"  | version u32 | first_seq u64 | crc32c u32|   24 bytes
//! +-------------------+-------------+---------------+-----------+
//! ```
//!
//! followed by records (see `record.rs`). `first_seq` repeats the name so a renamed or
//! foreign file is caught; it is a lower bound of the seqs inside (the first record may
//! have a larger seq) and above every seq of earlier segments.
//!
//! Invariant: a file carrying a segment name always has a complete, fsynced header,
//! because [`create_segment`] writes it under a `.log.tmp` name, fsyncs, renames, and
//! fsyncs the directory. So a short or bad header is corruption, never a torn write.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{Error, IoContext, Result};
use crate::stats::Stats;

/// Identifies a WAL segment file (bytes 0..8 of every segment).
pub const SEGMENT_MAGIC: [u8; 8] = *b"STRATAWL";
/// Current segment format version.
pub const SEGMENT_FORMAT_VERSION: u32 = 1;
/// Bytes of the segment header.
pub const SEGMENT_HEADER_LEN: usize = 8 + 4 + 8 + 4;

const SEGMENT_SUFFIX: &str = ".log";
const TEMP_SUFFIX: &str = ".log.tmp";
const SEQ_DIGITS: usize = 20;

/// A segment found on disk or sealed by the writer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Full path of the segment file.
    pub path: PathBuf,
    /// Seq in the name: no record of this segment is below it.
    pub first_seq: u64,
    /// Highest seq of a record in the segment; `None` if it holds no record.
    pub max_seq: Option<u64>,
}

/// File name of the segment whose records start at `first_seq`.
pub fn segment_file_name(first_seq: u64) -> String {
    format!("{first_seq:0width$}{SEGMENT_SUFFIX}", width = SEQ_DIGITS)
}

/// Parses a segment file name; `None` for any other name.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != SEQ_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Encodes the header of a segment starting at `first_seq`.
pub(crate) fn encode_segment_header(first_seq: u64) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[0..8].copy_from_slice(&SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&SEGMENT_FORMAT_VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32c::crc32c(&h[0..20]);
    h[20..24].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks a segment header against the seq in its file name; the error says what failed.
pub(crate) fn check_segment_header(
    h: &[u8; SEGMENT_HEADER_LEN],
    name_seq: u64,
) -> Result<(), String> {
    let [m @ .., c0, c1, c2, c3] = *h;
    if m[0..8] != SEGMENT_MAGIC {
        return Err("not a WAL segment (bad magic)".into());
    }
    if crc32c::crc32c(&m) != u32::from_le_bytes([c0, c1, c2, c3]) {
        return Err("segment header checksum mismatch".into());
    }
    let version = u32::from_le_bytes([m[8], m[9], m[10], m[11]]);
    if version != SEGMENT_FORMAT_VERSION {
        return Err(format!(
            "unsupported WAL segment format version {version} (this build reads {SEGMENT_FORMAT_VERSION})"
        ));
    }
    let first_seq = u64::from_le_bytes([m[12], m[13], m[14], m[15], m[16], m[17], m[18], m[19]]);
    if first_seq != name_seq {
        return Err(format!(
            "segment header says first_seq {first_seq} but the file name says {name_seq}"
        ));
    }
    Ok(())
}

/// Segment files of `dir` sorted by first seq, as `(first_seq, path)`. A missing
/// directory is an empty log. Files with other names (including `.log.tmp` leftovers of
/// an interrupted [`create_segment`]) are not segments and are skipped.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.at(dir)?;
        if let Some(seq) = entry.file_name().to_str().and_then(parse_segment_name) {
            segments.push((seq, entry.path()));
        }
    }
    segments.sort();
    Ok(segments)
}

/// Deletes `.log.tmp` leftovers of interrupted segment creations.
pub(crate) fn remove_temp_files(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let is_temp = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.ends_with(TEMP_SUFFIX));
        if is_temp {
            let path = entry.path();
            fs::remove_file(&path).at(&path)?;
        }
    }
    Ok(())
}

/// Creates the segment `first_seq` in `dir` (temp file, header, fsync, rename, directory
/// fsync) and returns it open for appending right after the header. An existing segment
/// of the same name is replaced: callers only do that to an empty one.
pub(crate) fn create_segment(dir: &Path, first_seq: u64, stats: &Stats) -> Result<(File, PathBuf)> {
    let path = dir.join(segment_file_name(first_seq));
    let tmp = dir.join(format!("{}{TEMP_SUFFIX}", segment_file_name(first_seq)));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .at(&tmp)?;
    file.write_all(&encode_segment_header(first_seq)).at(&tmp)?;
    timed_sync(stats, || file.sync_all()).at(&tmp)?;
    fs::rename(&tmp, &path).at(&path)?;
    sync_dir(dir, stats)?;
    Ok((file, path))
}

/// Fsyncs a directory so entries created, renamed or removed in it are durable.
pub(crate) fn sync_dir(dir: &Path, stats: &Stats) -> Result<()> {
    let d = File::open(dir).at(dir)?;
    timed_sync(stats, || d.sync_all()).at(dir)
}

/// Runs one fsync-like call and counts it in `wal_syncs` / `wal_sync_micros`.
pub(crate) fn timed_sync(
    stats: &Stats,
    f: impl FnOnce() -> std::io::Result<()>,
) -> std::io::Result<()> {
    let start = Instant::now();
    let res = f();
    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    Stats::add(&stats.wal_syncs, 1);
    Stats::add(&stats.wal_sync_micros, micros);
    stats.latency.wal_sync.observe_micros(micros);
    res
}

/// The segment a writer appends to. Only the WAL's single leader touches it.
pub(crate) struct ActiveSegment {
    pub file: File,
    pub path: PathBuf,
    pub first_seq: u64,
    /// Bytes in the file, header included.
    pub len: u64,
    /// Bytes known fsynced.
    pub synced_len: u64,
    /// Highest seq written to it.
    pub max_seq: Option<u64>,
}

impl ActiveSegment {
    pub(crate) fn new(file: File, path: PathBuf, first_seq: u64) -> ActiveSegment {
        let len = SEGMENT_HEADER_LEN as u64;
        ActiveSegment {
            file,
            path,
            first_seq,
            len,
            synced_len: len,
            max_seq: None,
        }
    }

    pub(crate) fn info(&self) -> SegmentInfo {
        SegmentInfo {
            path: self.path.clone(),
            first_seq: self.first_seq,
            max_seq: self.max_seq,
        }
    }
}

/// Validates the segments replay found against a writer's `next_seq`; drops an empty one
/// named `next_seq`, which the writer's new segment replaces.
pub(crate) fn check_existing_segments(
    dir: &Path,
    next_seq: u64,
    existing: Vec<SegmentInfo>,
) -> Result<Vec<SegmentInfo>> {
    if next_seq == 0 {
        return Err(Error::InvalidArgument("WAL next_seq must be >= 1".into()));
    }
    let mut sealed = Vec::with_capacity(existing.len());
    let mut replaces_empty = false;
    for seg in existing {
        if seg.first_seq == next_seq && seg.max_seq.is_none() {
            replaces_empty = true;
            continue;
        }
        if seg.first_seq >= next_seq || seg.max_seq.is_some_and(|max| max >= next_seq) {
            return Err(Error::InvalidArgument(format!(
                "WAL next_seq {next_seq} is not above segment {} (first_seq {}, max_seq {:?})",
                seg.path.display(),
                seg.first_seq,
                seg.max_seq
            )));
        }
        sealed.push(seg);
    }
    let target = dir.join(segment_file_name(next_seq));
    if !replaces_empty && target.exists() {
        return Err(Error::InvalidArgument(format!(
            "WAL segment {} already exists and was not reported empty by replay",
            target.display()
        )));
    }
    sealed.sort_by_key(|s| s.first_seq);
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_numerically() {
        assert_eq!(segment_file_name(42), "00000000000000000042.log");
        assert_eq!(segment_file_name(u64::MAX), "18446744073709551615.log");
        assert_eq!(
            parse_segment_name(&segment_file_name(u64::MAX)),
            Some(u64::MAX)
        );
        assert_eq!(parse_segment_name("42.log"), None);
        assert_eq!(parse_segment_name("0000000000000000004x.log"), None);
        assert_eq!(parse_segment_name("00000000000000000042.log.tmp"), None);
        assert_eq!(parse_segment_name("99999999999999999999.log"), None); // > u64::MAX
        assert!(segment_file_name(9) < segment_file_name(10));
    }

    #[test]
    fn header_layout_is_byte_exact() {
        let h = encode_segment_header(0x0102_0304_0506_0708);
        assert_eq!(&h[0..8], &[0x53, 0x54, 0x52, 0x41, 0x54, 0x41, 0x57, 0x4C]);
        assert_eq!(&h[8..12], &1u32.to_le_bytes());
        assert_eq!(&h[12..20], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(&h[20..24], &crc32c::crc32c(&h[0..20]).to_le_bytes());
    }

    #[test]
    fn header_checks() {
        let h = encode_segment_header(7);
        assert_eq!(check_segment_header(&h, 7), Ok(()));
        assert!(
            check_segment_header(&h, 8)
                .unwrap_err()
                .contains("first_seq")
        );
        for i in 0..SEGMENT_HEADER_LEN {
            let mut bad = h;
            bad[i] ^= 0x10;
            assert!(check_segment_header(&bad, 7).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn create_then_list() {
        let dir = crate::wal::test_dir();
        let stats = Stats::default();
        assert!(
            list_segments(&dir.path().join("missing"))
                .unwrap()
                .is_empty()
        );
        let (_f, p) = create_segment(dir.path(), 10, &stats).unwrap();
        create_segment(dir.path(), 9, &stats).unwrap();
        fs::write(dir.path().join("README"), b"x").unwrap();
        fs::write(dir.path().join("00000000000000000001.log.tmp"), b"x").unwrap();
        let found = list_segments(dir.path()).unwrap();
        assert_eq!(found.iter().map(|s| s.0).collect::<Vec<_>>(), vec![9, 10]);
        assert_eq!(found[1].1, p);
        assert_eq!(fs::read(&p).unwrap(), encode_segment_header(10));
        remove_temp_files(dir.path()).unwrap();
        assert!(!dir.path().join("00000000000000000001.log.tmp").exists());
        assert!(stats.snapshot().wal_syncs >= 4);
    }
}
