//! Replay tests on hand-built segment files: round trip, every-offset truncation,
//! every-byte corruption, ordering and header checks.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::wal::record::{RECORD_OVERHEAD, encode_header, encode_record};
use crate::wal::segment::{encode_segment_header, segment_file_name};
use crate::wal::test_dir;

type Records = Vec<(u64, Vec<u8>)>;

/// Deterministic payload of varying length (0..=40 bytes) for `seq`.
fn payload(seq: u64) -> Vec<u8> {
    let len = (seq * 7 % 41) as usize;
    (0..len)
        .map(|i| (seq as u8).wrapping_mul(31) ^ i as u8)
        .collect()
}

fn records(seqs: impl IntoIterator<Item = u64>) -> Records {
    seqs.into_iter().map(|s| (s, payload(s))).collect()
}

/// Writes a segment file directly (no fsync); returns its path and each record's offset.
fn write_segment(dir: &Path, first_seq: u64, recs: &[(u64, Vec<u8>)]) -> (PathBuf, Vec<u64>) {
    let mut bytes = encode_segment_header(first_seq).to_vec();
    let mut offsets = Vec::new();
    for (seq, p) in recs {
        offsets.push(bytes.len() as u64);
        encode_record(*seq, p, &mut bytes);
    }
    let path = dir.join(segment_file_name(first_seq));
    fs::write(&path, bytes).unwrap();
    (path, offsets)
}

/// Replays `dir`, checking every payload handed over against `payload(seq)`.
fn collect(dir: &Path, after_seq: u64) -> Result<(Records, ReplayOutcome)> {
    let mut got = Vec::new();
    let outcome = replay(dir, after_seq, |seq, p| {
        assert_eq!(p, payload(seq), "wrong payload handed over for seq {seq}");
        got.push((seq, p.to_vec()));
        Ok(())
    })?;
    Ok((got, outcome))
}

/// Copies the segment files of `src` into a fresh directory.
fn copy_log(src: &Path) -> tempfile::TempDir {
    let dst = test_dir();
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dst.path().join(entry.file_name())).unwrap();
    }
    dst
}

fn expect_corruption(res: Result<(Records, ReplayOutcome)>, file: &Path) -> u64 {
    match res {
        Err(Error::Corruption {
            file: f, offset, ..
        }) => {
            assert_eq!(f, file);
            offset
        }
        other => panic!("expected corruption in {}, got {other:?}", file.display()),
    }
}

#[test]
fn missing_dir_is_an_empty_log() {
    let dir = test_dir();
    let (got, out) = collect(&dir.path().join("wal"), 0).unwrap();
    assert!(got.is_empty());
    assert_eq!(out, ReplayOutcome::default());
}

#[test]
fn round_trip_across_segments_with_after_seq() {
    let dir = test_dir();
    let all = records((1..=5).chain(6..=9).chain(12..=20));
    let (a, _) = write_segment(dir.path(), 1, &all[0..5]);
    let (b, _) = write_segment(dir.path(), 6, &all[5..9]);
    let (empty, _) = write_segment(dir.path(), 10, &[]);
    let (c, _) = write_segment(dir.path(), 11, &all[9..]);
    let (got, out) = collect(dir.path(), 0).unwrap();
    assert_eq!(got, all);
    assert_eq!(out.last_seq, Some(20));
    assert_eq!(out.records, all.len() as u64);
    assert!(!out.torn_tail_dropped);
    let infos = vec![
        SegmentInfo {
            path: a,
            first_seq: 1,
            max_seq: Some(5),
        },
        SegmentInfo {
            path: b,
            first_seq: 6,
            max_seq: Some(9),
        },
        SegmentInfo {
            path: empty,
            first_seq: 10,
            max_seq: None,
        },
        SegmentInfo {
            path: c,
            first_seq: 11,
            max_seq: Some(20),
        },
    ];
    assert_eq!(out.segments, infos);
    for after in [0, 4, 5, 9, 10, 13, 20, 99] {
        let (got, out) = collect(dir.path(), after).unwrap();
        let want: Records = all.iter().filter(|r| r.0 > after).cloned().collect();
        assert_eq!(got, want, "after_seq {after}");
        assert_eq!(out.records, want.len() as u64);
        assert_eq!(out.last_seq, Some(20));
    }
}

/// Cuts the last segment at every byte offset of its last three records, with and
/// without a zero-filled or garbage tail after the cut: replay must return exactly the
/// records that end at or before the cut, cut the file there, and be clean afterwards.
#[test]
fn torn_tail_at_every_offset_is_a_clean_prefix() {
    let src = test_dir();
    let all = records(1..=30);
    write_segment(src.path(), 1, &all[..10]);
    let (last, offsets) = write_segment(src.path(), 11, &all[10..]);
    let file_len = fs::metadata(&last).unwrap().len();
    let ends: Vec<u64> = offsets.iter().skip(1).copied().chain([file_len]).collect();
    let first_cut = offsets[offsets.len() - 3];
    let tails: [&[u8]; 3] = [
        &[],
        &[0u8; 5000],
        &[0x5A, 0xC3, 0x01, 0x99, 0x00, 0x7F, 0xE0],
    ];
    for cut in first_cut..=file_len {
        for tail in tails {
            let dir = copy_log(src.path());
            let seg = dir.path().join(last.file_name().unwrap());
            let mut bytes = fs::read(&seg).unwrap();
            bytes.truncate(cut as usize);
            bytes.extend_from_slice(tail);
            fs::write(&seg, &bytes).unwrap();

            let complete = ends.iter().filter(|&&e| e <= cut).count();
            let good_end = ends
                .get(complete.wrapping_sub(1))
                .copied()
                .unwrap_or(first_cut);
            let ctx = format!("cut at {cut} with a {}-byte tail", tail.len());
            let (got, out) = collect(dir.path(), 0).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert_eq!(got, all[..10 + complete].to_vec(), "{ctx}");
            assert_eq!(
                out.torn_tail_dropped,
                bytes.len() as u64 > good_end,
                "{ctx}"
            );
            assert_eq!(fs::metadata(&seg).unwrap().len(), good_end, "{ctx}");

            let (again, out) = collect(dir.path(), 0).unwrap();
            assert_eq!(again, got, "{ctx}: second replay");
            assert!(!out.torn_tail_dropped, "{ctx}: second replay");
        }
    }
}

/// Damages each byte of some middle records: replay must stop with `Corruption` at the
/// damaged record (never hand over a wrong payload: `collect` checks every payload).
#[test]
fn damaged_middle_record_is_corruption_at_its_offset() {
    let src = test_dir();
    let all = records(1..=20);
    let (first, first_offsets) = write_segment(src.path(), 1, &all[..10]);
    let (last, offsets) = write_segment(src.path(), 11, &all[10..]);
    let first_len = fs::metadata(&first).unwrap().len();
    // Middle records of the last segment, plus the last record of the sealed segment.
    let cases = [
        (&last, &offsets, 12usize, 16usize),
        (&first, &first_offsets, 8, 10),
    ];
    for (path, offs, from, to) in cases {
        let seg_start = if path == &first { 0 } else { 10 };
        let start = offs[from - seg_start];
        let end = offs.get(to - seg_start).copied().unwrap_or(first_len);
        for pos in start..end {
            let dir = copy_log(src.path());
            let seg = dir.path().join(path.file_name().unwrap());
            let mut bytes = fs::read(&seg).unwrap();
            bytes[pos as usize] ^= 0x5A;
            fs::write(&seg, &bytes).unwrap();
            let mut got = Vec::new();
            let res = replay(dir.path(), 0, |seq, p| {
                assert_eq!(
                    p,
                    payload(seq),
                    "wrong payload for seq {seq} (flip at {pos})"
                );
                got.push(seq);
                Ok(())
            });
            let offset = expect_corruption(res.map(|o| (Vec::new(), o)), &seg);
            let bad_index = offs.iter().rposition(|&o| o <= pos).unwrap();
            assert_eq!(offset, offs[bad_index], "flip at {pos}");
            let before: Vec<u64> = all[..seg_start + bad_index].iter().map(|r| r.0).collect();
            assert_eq!(got, before, "flip at {pos}");
        }
    }
}

#[test]
fn damaged_or_foreign_segment_header_is_corruption() {
    let src = test_dir();
    let all = records(1..=6);
    write_segment(src.path(), 1, &all[..3]);
    let (last, _) = write_segment(src.path(), 4, &all[3..]);
    for pos in 0..SEGMENT_HEADER_LEN {
        let dir = copy_log(src.path());
        let seg = dir.path().join(last.file_name().unwrap());
        let mut bytes = fs::read(&seg).unwrap();
        bytes[pos] ^= 0x01;
        fs::write(&seg, &bytes).unwrap();
        assert_eq!(expect_corruption(collect(dir.path(), 0), &seg), 0);
    }
    for content in [
        &b""[..],
        b"STRATAWL",
        b"hello, this is not a WAL segment file!!",
    ] {
        let dir = test_dir();
        let seg = dir.path().join(segment_file_name(1));
        fs::write(&seg, content).unwrap();
        assert_eq!(expect_corruption(collect(dir.path(), 0), &seg), 0);
    }
}

#[test]
fn truncated_sealed_segment_is_corruption() {
    let dir = test_dir();
    let all = records(1..=6);
    let (first, offsets) = write_segment(dir.path(), 1, &all[..3]);
    write_segment(dir.path(), 4, &all[3..]);
    let len = fs::metadata(&first).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&first)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    assert_eq!(
        expect_corruption(collect(dir.path(), 0), &first),
        offsets[2]
    );
}

#[test]
fn seqs_must_increase() {
    // Backwards inside a segment.
    let dir = test_dir();
    let (seg, offs) = write_segment(dir.path(), 5, &records([5, 7, 6, 8]));
    assert_eq!(expect_corruption(collect(dir.path(), 0), &seg), offs[2]);
    // Repeated seq.
    let dir = test_dir();
    let (seg, offs) = write_segment(dir.path(), 5, &records([5, 6, 6]));
    assert_eq!(expect_corruption(collect(dir.path(), 0), &seg), offs[2]);
    // Below the segment's first_seq.
    let dir = test_dir();
    let (seg, offs) = write_segment(dir.path(), 10, &records([9]));
    assert_eq!(expect_corruption(collect(dir.path(), 0), &seg), offs[0]);
    // A segment whose name is not above the previous segment's records.
    let dir = test_dir();
    write_segment(dir.path(), 1, &records(1..=5));
    let (seg, _) = write_segment(dir.path(), 4, &records([6]));
    assert_eq!(expect_corruption(collect(dir.path(), 0), &seg), 0);
}

#[test]
fn verified_oversized_length_is_corruption_even_at_the_tail() {
    let dir = test_dir();
    let (seg, offs) = write_segment(dir.path(), 1, &records(1..=3));
    let mut bytes = fs::read(&seg).unwrap();
    let at = bytes.len() as u64;
    bytes.extend_from_slice(&encode_header(4, MAX_PAYLOAD_BYTES as u32 + 1));
    fs::write(&seg, &bytes).unwrap();
    assert!(at > offs[2]);
    assert_eq!(expect_corruption(collect(dir.path(), 0), &seg), at);
}

#[test]
fn valid_record_after_garbage_in_last_segment_is_corruption() {
    let dir = test_dir();
    let (seg, _) = write_segment(dir.path(), 1, &records(1..=3));
    let mut bytes = fs::read(&seg).unwrap();
    let bad_at = bytes.len() as u64;
    bytes.extend_from_slice(&[0xEE; 37]); // a damaged region...
    encode_record(9, &payload(9), &mut bytes); // ...with a good record behind it
    fs::write(&seg, &bytes).unwrap();
    assert_eq!(expect_corruption(collect(dir.path(), 0), &seg), bad_at);
    // The same good record behind zeros is also not a torn tail.
    let dir = test_dir();
    let (seg, _) = write_segment(dir.path(), 1, &records(1..=3));
    let mut bytes = fs::read(&seg).unwrap();
    bytes.extend_from_slice(&[0; RECORD_OVERHEAD + 3]);
    encode_record(9, &payload(9), &mut bytes);
    fs::write(&seg, &bytes).unwrap();
    expect_corruption(collect(dir.path(), 0), &seg);
}

/// Two damaged records at the end, the second with a good header but a bad payload: a
/// header alone is not "valid-looking data", so this is still a torn tail.
#[test]
fn good_header_with_bad_payload_after_damage_is_still_torn() {
    let dir = test_dir();
    let (seg, offs) = write_segment(dir.path(), 1, &records(1..=5));
    let mut bytes = fs::read(&seg).unwrap();
    bytes[offs[3] as usize + 2] ^= 0x40; // header of seq 4
    let last_payload = offs[4] as usize + RECORD_HEADER_LEN;
    bytes[last_payload] ^= 0x40; // payload of seq 5 (payload(5) is 35 bytes)
    fs::write(&seg, &bytes).unwrap();
    let (got, out) = collect(dir.path(), 0).unwrap();
    assert_eq!(got, records(1..=3));
    assert!(out.torn_tail_dropped);
    assert_eq!(fs::metadata(&seg).unwrap().len(), offs[3]);
}

#[test]
fn callback_error_stops_replay() {
    let dir = test_dir();
    write_segment(dir.path(), 1, &records(1..=5));
    let mut seen = Vec::new();
    let err = replay(dir.path(), 0, |seq, _| {
        seen.push(seq);
        if seq == 3 {
            return Err(Error::InvalidArgument("stop".into()));
        }
        Ok(())
    })
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument(ref m) if m == "stop"),
        "{err}"
    );
    assert_eq!(seen, vec![1, 2, 3]);
}
