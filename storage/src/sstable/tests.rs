//! Whole-file tests: build -> open -> read, seeks, blooms, cache use, builder misuse.
//! Corruption of real files is tested in `tests_corruption.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::block_cache::BlockCache;
use crate::error::Error;
use crate::iterator::InternalIterator;
use crate::key::{self, CellType, encode_key};
use crate::options::{BloomType, Compression};
use crate::stats::Stats;

pub(super) type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// `rows` rows of up to 3 columns and 2 versions each, some markers, some rows with
/// 0x00 bytes, values of varying size; sorted by encoded key.
pub(super) fn sample_entries(rows: u32) -> Entries {
    let mut map = BTreeMap::new();
    let mut seq = 1u64;
    for r in 0..rows {
        let row = if r % 7 == 3 {
            format!("row\0{r:05}").into_bytes()
        } else {
            format!("row{r:05}").into_bytes()
        };
        for c in 0..(r % 3 + 1) {
            let q = format!("q{c}").into_bytes();
            for v in 0..(1 + r % 2) {
                let ts = 1000 + u64::from(r) * 10 + u64::from(v);
                let kind = if (r + c + v) % 11 == 0 {
                    CellType::Delete
                } else {
                    CellType::Put
                };
                seq += 1;
                let value = if kind == CellType::Put {
                    vec![(r % 251) as u8; (r * 7 + c) as usize % 90]
                } else {
                    Vec::new()
                };
                map.insert(encode_key(&row, &q, ts, kind, seq), value);
            }
        }
    }
    map.into_iter().collect()
}

pub(super) fn opts(
    block_size: usize,
    compression: Compression,
    bloom: BloomType,
) -> SsTableWriteOptions {
    SsTableWriteOptions {
        block_size,
        compression,
        bloom,
        bloom_fp_rate: 0.01,
        expected_entries: 1000,
    }
}

pub(super) fn write(path: &Path, entries: &Entries, opts: SsTableWriteOptions) -> SsTableInfo {
    let mut b = SsTableBuilder::create(path, opts).unwrap();
    for (k, v) in entries {
        b.add(k, v).unwrap();
    }
    assert_eq!(b.entry_count(), entries.len() as u64);
    b.finish().unwrap()
}

pub(super) fn open(path: &Path) -> Arc<SsTable> {
    SsTable::open(path, BlockCache::new(1 << 20), Arc::new(Stats::default())).unwrap()
}

pub(super) fn read_all(t: &Arc<SsTable>) -> crate::Result<Entries> {
    let mut it = t.iter(true);
    it.seek_to_first()?;
    let mut out = Vec::new();
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.next()?;
    }
    Ok(out)
}

fn check_seeks(t: &Arc<SsTable>, entries: &Entries, targets: &[Vec<u8>]) {
    let map: BTreeMap<_, _> = entries.iter().cloned().collect();
    let mut it = t.iter(false);
    for target in targets {
        it.seek(target).unwrap();
        match map.range(target.clone()..).next() {
            Some((k, v)) => {
                assert!(it.valid(), "seek {target:?} found nothing");
                assert_eq!((it.key(), it.value()), (&k[..], &v[..]));
            }
            None => assert!(!it.valid()),
        }
    }
}

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("1.sst");
    (dir, path)
}

#[test]
fn round_trip_across_block_sizes_and_compressions() {
    let entries = sample_entries(300);
    for block_size in [256, 1024, 64 * 1024] {
        for compression in [Compression::None, Compression::Lz4] {
            let (_dir, path) = tmp();
            let info = write(
                &path,
                &entries,
                opts(block_size, compression, BloomType::Row),
            );
            let t = open(&path);
            assert_eq!(
                read_all(&t).unwrap(),
                entries,
                "block_size {block_size}, {compression:?}"
            );
            assert_eq!(t.meta(), &info.meta);
            assert_eq!(t.file_size(), info.file_size);
            assert_eq!(std::fs::metadata(&path).unwrap().len(), info.file_size);
            let m = &info.meta;
            assert_eq!(m.entry_count, entries.len() as u64);
            assert_eq!(
                (m.first_key.as_slice(), m.last_key.as_slice()),
                (&entries[0].0[..], &entries[entries.len() - 1].0[..])
            );
            let markers = entries
                .iter()
                .filter(|(k, _)| key::parse_trailer(k).unwrap().1.is_delete())
                .count();
            assert_eq!(m.delete_marker_count, markers as u64);
            assert_eq!(m.put_count + m.delete_marker_count, m.entry_count);
            assert_eq!(
                (m.min_timestamp, m.max_timestamp),
                (1000, 1000 + 299 * 10 + 1)
            );
            assert_eq!(
                m.max_seq,
                entries
                    .iter()
                    .map(|(k, _)| key::parse_trailer(k).unwrap().2)
                    .max()
                    .unwrap()
            );
            assert_eq!(m.data_block_count, t.index().len() as u64);
            assert!(m.created_ms > 1_600_000_000_000);
            if block_size == 256 {
                assert!(
                    m.data_block_count > 20,
                    "tiny blocks should make many: {}",
                    m.data_block_count
                );
            }
            if compression == Compression::Lz4 {
                assert!(
                    info.file_size < m.raw_data_bytes,
                    "repetitive values should compress"
                );
            }
        }
    }
}

#[test]
fn format_1_files_stay_readable_and_format_2_data_is_smaller() {
    let entries = sample_entries(400);
    let mut raw = Vec::new();
    for version in [1, FORMAT_VERSION] {
        for compression in [Compression::None, Compression::Lz4] {
            let (_dir, path) = tmp();
            let mut b = SsTableBuilder::create(&path, opts(1024, compression, BloomType::RowCol))
                .unwrap()
                .with_format_version(version);
            for (k, v) in &entries {
                b.add(k, v).unwrap();
            }
            let info = b.finish().unwrap();
            let bytes = std::fs::read(&path).unwrap();
            let stored = u32::from_le_bytes(
                bytes[bytes.len() - 16..bytes.len() - 12]
                    .try_into()
                    .unwrap(),
            );
            assert_eq!(stored, version);
            let t = open(&path);
            assert_eq!(
                read_all(&t).unwrap(),
                entries,
                "format {version}, {compression:?}"
            );
            let mut targets: Vec<Vec<u8>> = t.index().iter().map(|e| e.last_key.clone()).collect();
            for (k, _) in entries.iter().step_by(3) {
                let p = key::parse_key(k).unwrap();
                targets.push(k.clone());
                targets.push(key::row_start_key(&p.row));
                targets.push(key::column_seek_key(&p.row, &p.qualifier, p.timestamp + 1));
            }
            check_seeks(&t, &entries, &targets);
            if compression == Compression::None {
                raw.push(info.meta.raw_data_bytes);
            }
        }
    }
    // Version 2 stores most trailers in a few bytes instead of 17.
    let (v1, v2) = (raw[0], raw[1]);
    assert!(
        v2 + 6 * entries.len() as u64 <= v1,
        "format 1: {v1} bytes of data blocks, format 2: {v2}, {} entries",
        entries.len()
    );
}

#[test]
fn seeks_at_block_boundaries_and_between_keys() {
    let entries = sample_entries(200);
    let (_dir, path) = tmp();
    write(&path, &entries, opts(256, Compression::Lz4, BloomType::Row));
    let t = open(&path);
    let mut targets: Vec<Vec<u8>> = vec![Vec::new(), vec![0xFF; 4]];
    for e in t.index() {
        // The block's last key, just before and just after it (the next block's first key).
        targets.push(e.last_key.clone());
        let mut after = e.last_key.clone();
        after.push(0);
        targets.push(after);
        let mut before = e.last_key.clone();
        before.pop();
        targets.push(before);
    }
    for (k, _) in &entries {
        targets.push(k.clone());
        let p = key::parse_key(k).unwrap();
        targets.push(key::row_start_key(&p.row));
        targets.push(key::row_end_key(&p.row));
        targets.push(key::column_seek_key(&p.row, &p.qualifier, p.timestamp - 1));
    }
    check_seeks(&t, &entries, &targets);
    // `next` after a seek crosses blocks in order.
    let mut it = t.iter(true);
    it.seek(&t.index()[0].last_key).unwrap();
    let mut seen = 0;
    while it.valid() {
        seen += 1;
        it.next().unwrap();
    }
    let first_block_len = entries
        .iter()
        .position(|(k, _)| *k == t.index()[0].last_key)
        .unwrap();
    assert_eq!(seen, entries.len() - first_block_len);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_tables_round_trip(
        cells in prop::collection::btree_map(
            (prop::collection::vec(prop_oneof![Just(0u8), Just(b'r'), any::<u8>()], 0..6),
             prop::collection::vec(any::<u8>(), 0..3), 0u64..4, 1u8..5, 0u64..1000),
            prop::collection::vec(any::<u8>(), 0..300), 1..150),
        block_size in prop_oneof![Just(256usize), Just(512), Just(4096)],
        lz4 in any::<bool>(),
        bloom in prop_oneof![Just(BloomType::None), Just(BloomType::Row), Just(BloomType::RowCol)],
        probes in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 0..10),
    ) {
        let entries: BTreeMap<Vec<u8>, Vec<u8>> = cells.into_iter()
            .map(|((row, q, ts, kind, seq), v)| (encode_key(&row, &q, ts, CellType::from_u8(kind).unwrap(), seq), v))
            .collect();
        let entries: Entries = entries.into_iter().collect();
        let (_dir, path) = tmp();
        let compression = if lz4 { Compression::Lz4 } else { Compression::None };
        write(&path, &entries, opts(block_size, compression, bloom));
        let t = open(&path);
        prop_assert_eq!(read_all(&t).unwrap(), entries.clone());
        let mut targets: Vec<Vec<u8>> = entries.iter().map(|(k, _)| k.clone()).collect();
        targets.extend(probes);
        check_seeks(&t, &entries, &targets);
        for (k, _) in &entries {
            prop_assert!(t.may_contain_row(key::row_part(k).unwrap()));
            prop_assert!(t.may_contain_column(key::column_part(k).unwrap()));
        }
    }
}

#[test]
fn one_entry_file() {
    let k = encode_key(b"only", b"q", 5, CellType::Put, 9);
    let entries = vec![(k.clone(), b"v".to_vec())];
    let (_dir, path) = tmp();
    let info = write(
        &path,
        &entries,
        opts(256, Compression::Lz4, BloomType::RowCol),
    );
    assert_eq!(
        (
            info.meta.first_key.as_slice(),
            info.meta.last_key.as_slice()
        ),
        (&k[..], &k[..])
    );
    let t = open(&path);
    assert_eq!(read_all(&t).unwrap(), entries);
    check_seeks(
        &t,
        &entries,
        &[
            Vec::new(),
            k.clone(),
            key::row_end_key(b"only"),
            key::row_start_key(b"onl"),
        ],
    );
}

#[test]
fn bloom_probes_by_type() {
    let entries = sample_entries(400);
    let absent: Vec<Vec<u8>> = (0..2000)
        .map(|i| format!("absent{i}").into_bytes())
        .collect();
    for bloom in [BloomType::None, BloomType::Row, BloomType::RowCol] {
        let (_dir, path) = tmp();
        write(&path, &entries, opts(4096, Compression::None, bloom));
        let stats = Arc::new(Stats::default());
        let t = SsTable::open(&path, BlockCache::new(0), stats.clone()).unwrap();
        assert_eq!(t.bloom_type(), bloom);
        for (k, _) in &entries {
            assert!(t.may_contain_row(key::row_part(k).unwrap()));
            assert!(t.may_contain_column(key::column_part(k).unwrap()));
        }
        let rows_hit = absent
            .iter()
            .filter(|r| t.may_contain_row(&key::row_start_key(r)))
            .count();
        let cols_hit = absent
            .iter()
            .filter(|r| t.may_contain_column(&key::column_start_key(r, b"q0")))
            .count();
        match bloom {
            BloomType::None => assert_eq!((rows_hit, cols_hit), (2000, 2000)),
            // Row filter: column probes fall back to the row part.
            BloomType::Row => assert!(rows_hit < 60 && cols_hit < 60, "{rows_hit} {cols_hit}"),
            // Row+column filter cannot answer for a row alone.
            BloomType::RowCol => {
                assert!(rows_hit == 2000 && cols_hit < 60, "{rows_hit} {cols_hit}")
            }
        }
        let s = stats.snapshot();
        if bloom == BloomType::None {
            assert_eq!(s.bloom_checks, 0);
        } else {
            assert!(s.bloom_checks > 0 && s.bloom_useful > 1900, "{s:?}");
        }
    }
}

#[test]
fn overlaps_rows_uses_the_key_range() {
    let entries: Entries = [b"b".as_slice(), b"d"]
        .iter()
        .map(|r| (encode_key(r, b"q", 1, CellType::Put, 1), Vec::new()))
        .collect();
    let (_dir, path) = tmp();
    write(
        &path,
        &entries,
        opts(256, Compression::None, BloomType::None),
    );
    let t = open(&path);
    let s = key::row_start_key;
    let e = key::row_end_key;
    assert!(t.overlaps_rows(&s(b"a"), None));
    assert!(t.overlaps_rows(&s(b"d"), None));
    assert!(!t.overlaps_rows(&s(b"d\0"), None));
    assert!(!t.overlaps_rows(&s(b"e"), None));
    assert!(t.overlaps_rows(&s(b"a"), Some(&e(b"b"))));
    assert!(
        !t.overlaps_rows(&s(b"a"), Some(&s(b"b"))),
        "end is exclusive"
    );
    assert!(
        t.overlaps_rows(&s(b"c"), Some(&s(b"c\0"))),
        "inside the range, between keys"
    );
}

/// 200 sample rows in 512-byte lz4 blocks (many blocks), row bloom.
fn small_block_table() -> (Entries, tempfile::TempDir, PathBuf) {
    let entries = sample_entries(200);
    let (dir, path) = tmp();
    write(&path, &entries, opts(512, Compression::Lz4, BloomType::Row));
    (entries, dir, path)
}

#[test]
fn cache_fill_and_read_counters() {
    let (_entries, _dir, path) = small_block_table();
    let cache = BlockCache::new(1 << 20);
    let stats = Arc::new(Stats::default());
    let t = SsTable::open(&path, cache.clone(), stats.clone()).unwrap();
    let blocks = t.index().len() as u64;
    let on_disk: u64 = t.index().iter().map(|e| e.handle.size).sum();

    let scan = |fill: bool| {
        let mut it = t.iter(fill);
        it.seek_to_first().unwrap();
        while it.valid() {
            it.next().unwrap();
        }
    };
    scan(false);
    assert_eq!(cache.stats().entries, 0, "fill_cache=false must not insert");
    assert_eq!(stats.snapshot().blocks_read, blocks);
    assert_eq!(stats.snapshot().block_bytes_read, on_disk);
    scan(true);
    assert_eq!(cache.stats().entries, blocks);
    assert_eq!(stats.snapshot().blocks_read, 2 * blocks);
    scan(false);
    scan(true);
    assert_eq!(
        stats.snapshot().blocks_read,
        2 * blocks,
        "cached blocks are not read again"
    );
    assert_eq!(cache.stats().hits, 2 * blocks);
    // Two opens of one file never share cache entries.
    let t2 = SsTable::open(&path, cache.clone(), stats.clone()).unwrap();
    assert_ne!(t.cache_id(), t2.cache_id());
}

#[test]
fn dropped_blocks_lend_their_buffers_and_reads_stay_exact() {
    for compression in [Compression::Lz4, Compression::None] {
        let entries = sample_entries(300);
        let (_dir, path) = tmp();
        write(&path, &entries, opts(512, compression, BloomType::Row));
        // Room for about four blocks: reads evict as they go.
        let cache = BlockCache::new(4 * (600 + crate::block_cache::ENTRY_OVERHEAD_BYTES));
        let t = SsTable::open(&path, cache.clone(), Arc::new(Stats::default())).unwrap();
        let blocks = t.index().len() as u64;
        assert!(blocks > 20, "{blocks}");
        // A scan that does not fill the cache drops each block as it moves on.
        let mut it = t.iter(false);
        it.seek_to_first().unwrap();
        let mut seen = Vec::new();
        while it.valid() {
            seen.push((it.key().to_vec(), it.value().to_vec()));
            it.next().unwrap();
        }
        drop(it);
        assert_eq!(seen, entries, "{compression:?}");
        let after_scan = cache.stats().buffers_reused;
        if compression == Compression::Lz4 {
            // Blocks of 512 bytes differ by up to an entry, more than a buffer's spare
            // capacity: most fit, not all.
            assert!(
                4 * after_scan >= 3 * blocks,
                "{after_scan} of {blocks} blocks"
            );
        } else {
            // Raw blocks read without filling the cache are slices of the mapping.
            assert_eq!(after_scan, 0);
        }
        // Seeks all over the file through the small cache: evicted blocks' buffers are
        // overwritten by other blocks, and every answer is still exact.
        let targets: Vec<Vec<u8>> = entries
            .iter()
            .rev()
            .step_by(7)
            .map(|(k, _)| k.clone())
            .collect();
        check_seeks(&t, &entries, &targets);
        let mut it = t.iter(true);
        for target in &targets {
            it.seek(target).unwrap();
            let want = entries.iter().find(|(k, _)| k >= target).unwrap();
            assert_eq!((it.key(), it.value()), (&want.0[..], &want.1[..]));
        }
        assert!(cache.stats().evictions > 0);
        assert!(cache.stats().buffers_reused > after_scan, "{compression:?}");
        // A value sliced out of a block keeps its buffer from being lent.
        let mut it = t.iter(false);
        it.seek_to_first().unwrap();
        while it.valid() && it.value().is_empty() {
            it.next().unwrap();
        }
        let held = it.value_bytes();
        let copy = held.to_vec();
        while it.valid() {
            it.next().unwrap();
        }
        drop(it);
        check_seeks(&t, &entries, &targets);
        assert_eq!(held, copy, "a held value never changes");
    }
}

#[test]
fn point_reads_copy_small_values_only_out_of_blocks_the_cache_did_not_keep() {
    let (entries, _dir, path) = small_block_table();
    let (key, want) = entries.iter().find(|(_, v)| !v.is_empty()).unwrap();
    for (capacity, copied) in [(0, true), (1 << 20, false)] {
        let cache = BlockCache::new(capacity);
        let t = SsTable::open(&path, cache, Arc::new(Stats::default())).unwrap();
        for limit in [0, 4096] {
            let mut it = t.iter(true).copy_values_below(limit);
            it.seek(key).unwrap();
            let value = it.value_bytes();
            assert_eq!(&value[..], &want[..]);
            // A slice points into the block the cursor reads; a copy does not.
            let is_copy = value.as_ptr() != it.value().as_ptr();
            assert_eq!(
                is_copy,
                copied && limit > 0,
                "capacity {capacity}, limit {limit}"
            );
        }
    }
}

#[test]
fn a_seek_within_the_held_block_needs_no_cache_lookup() {
    let (entries, _dir, path) = small_block_table();
    let cache = BlockCache::new(1 << 20);
    let t = SsTable::open(&path, cache.clone(), Arc::new(Stats::default())).unwrap();
    let lookups = || cache.stats().hits + cache.stats().misses;
    let first_block_last = t.index()[0].last_key.clone();
    let in_first: Vec<&Vec<u8>> = entries
        .iter()
        .map(|(k, _)| k)
        .filter(|k| **k <= first_block_last)
        .collect();
    assert!(in_first.len() >= 3, "the first block holds several entries");

    let mut it = t.iter(true);
    it.seek(in_first[0]).unwrap();
    let after_load = lookups();
    // Forward, backward and onto the block's last key: all in the held block.
    for k in [in_first[2], in_first[1], &first_block_last, in_first[0]] {
        it.seek(k).unwrap();
        assert_eq!(it.key(), k.as_slice());
    }
    assert_eq!(lookups(), after_load, "seeks inside the held block");
    // Past the block's last key: the next block is looked up, and positions agree with
    // a fresh iterator's.
    let mut after = first_block_last.clone();
    after.push(0);
    it.seek(&after).unwrap();
    assert_eq!(lookups(), after_load + 1);
    let mut fresh = t.iter(true);
    fresh.seek(&after).unwrap();
    assert_eq!(it.key(), fresh.key());
    // Back into the first block: looked up again (the fresh iterator's seek was one).
    it.seek(in_first[1]).unwrap();
    assert_eq!(it.key(), in_first[1].as_slice());
    assert_eq!(lookups(), after_load + 3);
}

#[test]
fn builder_rejects_misuse() {
    let (dir, path) = tmp();
    let k1 = encode_key(b"a", b"q", 1, CellType::Put, 1);
    let mut b =
        SsTableBuilder::create(&path, opts(256, Compression::None, BloomType::Row)).unwrap();
    let tmp_path = builder::tmp_path_for(&path);
    assert!(tmp_path.exists());
    assert!(matches!(
        b.add(b"not a key", b""),
        Err(Error::InvalidArgument(_))
    ));
    b.add(&k1, b"v").unwrap();
    assert!(b.estimated_size() > 0);
    drop(b);
    assert!(
        !tmp_path.exists(),
        "dropping an unfinished builder removes its temp file"
    );
    assert!(!path.exists());

    let b = SsTableBuilder::create(&path, opts(256, Compression::None, BloomType::Row)).unwrap();
    assert!(matches!(b.finish(), Err(Error::InvalidArgument(_))));
    assert!(!tmp_path.exists());

    assert!(SsTableBuilder::create(&path, opts(10, Compression::None, BloomType::Row)).is_err());
    let mut bad_fp = opts(256, Compression::None, BloomType::Row);
    bad_fp.bloom_fp_rate = 1.0;
    assert!(SsTableBuilder::create(&path, bad_fp).is_err());

    write(
        &path,
        &vec![(k1, Vec::new())],
        opts(256, Compression::None, BloomType::Row),
    );
    let err =
        SsTableBuilder::create(&path, opts(256, Compression::None, BloomType::Row)).unwrap_err();
    assert!(
        matches!(err, Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists)
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("1.sst")]);
}

#[test]
#[cfg_attr(debug_assertions, should_panic(expected = "strictly increasing"))]
fn builder_rejects_unordered_keys() {
    let (_dir, path) = tmp();
    let mut b =
        SsTableBuilder::create(&path, opts(256, Compression::None, BloomType::Row)).unwrap();
    b.add(&encode_key(b"b", b"q", 1, CellType::Put, 1), b"")
        .unwrap();
    // Release builds return an error instead of panicking.
    let err = b
        .add(&encode_key(b"a", b"q", 1, CellType::Put, 1), b"")
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
}

#[test]
fn iterators_and_tables_can_be_shared_and_sent() {
    fn send_static<T: Send + 'static>() {}
    fn send_sync<T: Send + Sync + 'static>() {}
    send_static::<SsTableIter>();
    send_sync::<SsTable>();
    send_sync::<BlockCache>();
    send_static::<SsTableBuilder>();
}
