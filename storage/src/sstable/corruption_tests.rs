//! Corruption of real files on disk: every damaged byte must surface as
//! `Error::Corruption` naming the file and the offset of the block (or footer) that
//! holds it, at open or when the block is read; never a panic, never wrong data.

use std::path::Path;
use std::sync::Arc;

use super::codec::BlockHandle;
use super::footer::{FOOTER_LEN, Footer};
use super::tests::{Entries, opts, read_all, sample_entries, write};
use super::*;
use crate::block_cache::BlockCache;
use crate::error::Error;
use crate::iterator::InternalIterator;
use crate::options::{BloomType, Compression};
use crate::stats::Stats;

/// Opens with a disabled cache so every read goes to the (damaged) file.
fn open_uncached(path: &Path) -> crate::Result<Arc<SsTable>> {
    SsTable::open(path, BlockCache::new(0), Arc::new(Stats::default()))
}

/// Opens and reads everything; the first error, if any.
fn open_and_read(path: &Path) -> crate::Result<Entries> {
    let t = open_uncached(path)?;
    read_all(&t)
}

/// `(start, end)` of every region of the file, each a block or the footer.
fn regions(bytes: &[u8], t: &SsTable) -> Vec<(u64, u64)> {
    let footer_at = bytes.len() - FOOTER_LEN;
    let footer = Footer::decode(&bytes[footer_at..], footer_at as u64).unwrap();
    let mut out: Vec<(u64, u64)> = t
        .index()
        .iter()
        .map(|e| (e.handle.offset, e.handle.end().unwrap()))
        .collect();
    for h in [footer.index, footer.bloom, footer.meta] {
        if !h.is_null() {
            out.push((h.offset, h.end().unwrap()));
        }
    }
    out.push((footer_at as u64, bytes.len() as u64));
    out.sort();
    // The regions tile the file: every byte belongs to exactly one.
    let mut next = 0;
    for &(s, e) in &out {
        assert_eq!(s, next, "gap or overlap in the layout");
        next = e;
    }
    assert_eq!(next, bytes.len() as u64);
    out
}

fn assert_corruption_at(r: crate::Result<Entries>, path: &Path, offset: u64, what: &str) {
    match r {
        Err(Error::Corruption {
            file,
            offset: o,
            reason,
        }) => {
            assert_eq!(file, path, "{what}: wrong file ({reason})");
            assert_eq!(o, offset, "{what}: wrong offset ({reason})");
        }
        Err(e) => panic!("{what}: expected Corruption, got {e}"),
        Ok(_) => panic!("{what}: damage was not detected"),
    }
}

/// Flips one bit in every byte of a small file, one at a time, for each layout variant.
#[test]
fn every_flipped_byte_is_reported_at_its_block() {
    for (compression, bloom) in [
        (Compression::None, BloomType::Row),
        (Compression::Lz4, BloomType::None),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("7.sst");
        let entries = sample_entries(12);
        write(&path, &entries, opts(256, compression, bloom));
        let good = std::fs::read(&path).unwrap();
        let regions = regions(&good, &open_uncached(&path).unwrap());
        assert!(regions.len() >= 5, "want several data blocks: {regions:?}");
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            std::fs::write(&path, &bad).unwrap();
            let region = regions
                .iter()
                .find(|(s, e)| (*s..*e).contains(&(i as u64)))
                .unwrap();
            assert_corruption_at(open_and_read(&path), &path, region.0, &format!("byte {i}"));
        }
    }
}

#[test]
fn damage_to_each_block_kind_names_that_block() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("8.sst");
    let entries = sample_entries(200);
    write(
        &path,
        &entries,
        opts(1024, Compression::Lz4, BloomType::Row),
    );
    let good = std::fs::read(&path).unwrap();
    let footer_at = good.len() - FOOTER_LEN;
    let footer = Footer::decode(&good[footer_at..], footer_at as u64).unwrap();
    let t = open_uncached(&path).unwrap();
    let data = t.index()[t.index().len() / 2].handle;

    let mut cases: Vec<(&str, BlockHandle)> = vec![
        ("data", data),
        ("index", footer.index),
        ("bloom", footer.bloom),
        ("meta", footer.meta),
    ];
    cases.push((
        "footer",
        BlockHandle {
            offset: footer_at as u64,
            size: FOOTER_LEN as u64,
        },
    ));
    for (what, h) in cases {
        let mut bad = good.clone();
        bad[(h.offset + h.size / 2) as usize] ^= 0xFF;
        std::fs::write(&path, &bad).unwrap();
        if what == "data" {
            // The data block is only checked when read: open succeeds, the scan fails,
            // and so does a seek into that block.
            let t = open_uncached(&path).unwrap();
            assert_corruption_at(read_all(&t), &path, h.offset, what);
            let mut it = t.iter(true);
            let err = it
                .seek(&t.index()[t.index().len() / 2].last_key)
                .unwrap_err();
            assert!(matches!(err, Error::Corruption { offset, .. } if offset == h.offset));
            assert!(!it.valid());
        } else {
            assert_corruption_at(open_and_read(&path), &path, h.offset, what);
        }
    }
}

/// A block with a valid checksum but a nonsensical trailer is caught by the decoder.
#[test]
fn bad_block_contents_under_a_valid_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("9.sst");
    write(
        &path,
        &sample_entries(50),
        opts(256, Compression::None, BloomType::None),
    );
    let mut bytes = std::fs::read(&path).unwrap();
    let h = open_uncached(&path).unwrap().index()[1].handle;
    let (start, end) = (h.offset as usize, h.end().unwrap() as usize);
    // Restart count (last 4 payload bytes, before type and crc) set huge; re-checksum.
    bytes[end - 9..end - 5].copy_from_slice(&u32::MAX.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[start..end - 4]);
    bytes[end - 4..end].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    assert_corruption_at(open_and_read(&path), &path, h.offset, "restart count");
}

#[test]
fn truncated_files_fail_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("10.sst");
    write(
        &path,
        &sample_entries(100),
        opts(512, Compression::None, BloomType::Row),
    );
    let good = std::fs::read(&path).unwrap();
    let n = good.len();
    for len in [
        0,
        1,
        FOOTER_LEN - 1,
        FOOTER_LEN,
        FOOTER_LEN + 1,
        n / 2,
        n - FOOTER_LEN,
        n - 8,
        n - 1,
    ] {
        std::fs::write(&path, &good[..len]).unwrap();
        let expected_offset = len.saturating_sub(FOOTER_LEN) as u64;
        assert_corruption_at(
            open_and_read(&path),
            &path,
            expected_offset,
            &format!("truncated to {len}"),
        );
    }
    // Trailing garbage after the footer is also rejected (the footer is not at the end).
    let mut longer = good.clone();
    longer.extend_from_slice(&[0; 3]);
    std::fs::write(&path, &longer).unwrap();
    assert_corruption_at(
        open_and_read(&path),
        &path,
        (longer.len() - FOOTER_LEN) as u64,
        "extended",
    );
}
