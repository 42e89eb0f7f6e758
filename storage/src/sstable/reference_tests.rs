//! References: a reference opened over a parent SSTable exposes exactly its half, for
//! full iteration, seeks, first/last key, key-range pruning and bloom probes, over
//! random files and split rows (proptest).

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::tests::{opts, read_all, sample_entries, write};
use super::*;
use crate::block_cache::BlockCache;
use crate::iterator::InternalIterator;
use crate::key;
use crate::manifest::Manifest;
use crate::options::{BloomType, Compression};
use crate::stats::Stats;

fn open_half(daughter: &std::path::Path, id: u64, half: Half, split_row: &[u8]) -> Arc<SsTable> {
    let r = Reference {
        parent_region: "p".into(),
        family: "f".into(),
        file_id: 1,
        half,
        split_row: split_row.to_vec(),
    };
    let path = Reference::path(daughter, "f", id);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    r.save(&path).unwrap();
    SsTable::open_reference(&path, BlockCache::new(1 << 20), Arc::new(Stats::default())).unwrap()
}

fn check_half(
    t: &Arc<SsTable>,
    full: &Arc<SsTable>,
    want: &[(Vec<u8>, Vec<u8>)],
    probes: &[Vec<u8>],
) {
    assert!(t.is_reference());
    assert_eq!(read_all(t).unwrap(), want);
    let map: BTreeMap<_, _> = want.iter().cloned().collect();
    let mut it = t.iter(false);
    for p in probes {
        it.seek(p).unwrap();
        match map.range(p.clone()..).next() {
            Some((k, v)) => {
                assert!(it.valid());
                assert_eq!((it.key(), it.value()), (&k[..], &v[..]));
            }
            None => assert!(!it.valid(), "seek past the half must find nothing"),
        }
    }
    match (want.first(), want.last()) {
        (Some((first, _)), Some((last, _))) => {
            assert_eq!(&t.meta().first_key, first);
            assert_eq!(&t.meta().last_key, last);
            assert!(t.overlaps_rows(first, None));
            assert!(!t.index().is_empty());
            assert!(t.index().len() <= full.index().len());
            assert!(t.index().last().unwrap().last_key >= *last);
        }
        _ => {
            assert!(
                !t.overlaps_rows(b"", None),
                "an empty half overlaps nothing"
            );
            assert_eq!(t.meta().entry_count, 0);
        }
    }
    assert!(t.file_size() <= full.file_size());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn halves_partition_the_parent(
        rows in 1u32..120,
        split in 0u32..140,
        block_size in prop::sample::select(vec![256usize, 512, 4096]),
        probes in prop::collection::vec(0u32..140, 0..12),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let parent = dir.path().join("t").join("p");
        let daughter = dir.path().join("t").join("d");
        let entries = sample_entries(rows);
        let path = Manifest::sstable_path(&parent, "f", 1);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write(&path, &entries, opts(block_size, Compression::Lz4, BloomType::Row));
        let full = super::tests::open(&path);
        let split_row = format!("row{split:05}").into_bytes();
        let split_key = key::row_start_key(&split_row);
        let bottom = open_half(&daughter, 1, Half::Bottom, &split_row);
        let top = open_half(&daughter, 2, Half::Top, &split_row);
        let (below, above): (Vec<_>, Vec<_>) =
            entries.iter().cloned().partition(|(k, _)| k.as_slice() < split_key.as_slice());
        let probes: Vec<Vec<u8>> = probes
            .iter()
            .map(|p| key::row_start_key(format!("row{p:05}").as_bytes()))
            .chain([Vec::new(), split_key.clone()])
            .collect();
        check_half(&bottom, &full, &below, &probes);
        check_half(&top, &full, &above, &probes);
        // Bloom probes: a row of the other half is absent; rows of the half are found.
        for (k, _) in &entries {
            let row = key::row_part(k).unwrap();
            let in_bottom = row < split_key.as_slice();
            prop_assert_eq!(bottom.may_contain_row(row), in_bottom);
            prop_assert_eq!(top.may_contain_row(row), !in_bottom);
            let col = key::column_part(k).unwrap();
            prop_assert!(!(in_bottom && top.may_contain_column(col)));
            prop_assert!(in_bottom || !bottom.may_contain_column(col));
        }
        // Deleting the reference (compacted) leaves the parent's file alone.
        bottom.mark_obsolete();
        drop(bottom);
        prop_assert!(!Reference::path(&daughter, "f", 1).exists());
        prop_assert!(path.exists());
        prop_assert_eq!(read_all(&top).unwrap(), above);
    }
}

#[test]
fn a_reference_to_a_missing_parent_file_fails_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let daughter = dir.path().join("t").join("d");
    let r = Reference {
        parent_region: "p".into(),
        family: "f".into(),
        file_id: 9,
        half: Half::Top,
        split_row: b"m".to_vec(),
    };
    let path = Reference::path(&daughter, "f", 1);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    r.save(&path).unwrap();
    let e = SsTable::open_reference(&path, BlockCache::new(1 << 20), Arc::new(Stats::default()))
        .unwrap_err();
    assert!(e.to_string().contains("00000000000000000009.sst"), "{e}");
}
