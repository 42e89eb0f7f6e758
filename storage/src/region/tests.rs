//! Unit tests of the region: write and read paths, deletes, versions, TTL, flush,
//! reopen, atomic operations and limits.

use std::sync::Arc;

use bytes::Bytes;

use crate::clock::ManualClock;
use crate::engine::Engine;
use crate::error::Error;
use crate::key::Cell;
use crate::mutation::{Mutation, RowMutation};
use crate::options::{BloomType, ByteSize, Compression, Durability, EngineOptions, FamilyOptions};
use crate::query::{Get, Scan};
use crate::region::{CellRef, Check, CompareOp, Region, RegionDescriptor};

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    engine: Engine,
    clock: Arc<ManualClock>,
}

fn families() -> Vec<FamilyOptions> {
    let mut a = FamilyOptions::new("a");
    a.max_versions = 3;
    let mut b = FamilyOptions::new("b");
    b.bloom = BloomType::RowCol;
    b.compression = Compression::Lz4;
    b.ttl_seconds = Some(10);
    vec![a, b]
}

fn fixture() -> (Fixture, Arc<Region>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t").join("r1");
    let clock = ManualClock::new(1_000_000);
    let opts = EngineOptions::for_tests();
    let engine = Engine::open_with_clock(opts, clock.clone()).unwrap();
    let region = engine
        .create_region(&path, RegionDescriptor::whole_table("t", "r1", families()))
        .unwrap();
    (
        Fixture {
            _dir: dir,
            path,
            engine,
            clock,
        },
        region,
    )
}

fn val(region: &Region, row: &str, fam: &str, q: &str) -> Option<String> {
    let r = region
        .get(&Get::new(row.to_owned()).column(fam.to_owned(), q.to_owned()))
        .unwrap()?;
    r.value(fam.as_bytes(), q.as_bytes())
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
}

#[test]
fn put_get_across_flush_and_reopen() {
    let (fx, region) = fixture();
    region
        .mutate(
            &RowMutation::new("r1").put("a", "x", "1").put("b", "y", "2"),
            None,
        )
        .unwrap();
    assert_eq!(val(&region, "r1", "a", "x").as_deref(), Some("1"));
    region.flush().unwrap();
    region
        .mutate(&RowMutation::new("r2").put("a", "x", "3"), None)
        .unwrap();
    assert_eq!(val(&region, "r1", "b", "y").as_deref(), Some("2"));
    assert_eq!(region.status().store_files["a"], 1);
    region.close(false).unwrap();
    let region = fx.engine.open_region(&fx.path).unwrap();
    assert_eq!(val(&region, "r1", "a", "x").as_deref(), Some("1"));
    assert_eq!(
        val(&region, "r2", "a", "x").as_deref(),
        Some("3"),
        "replayed from the WAL"
    );
    assert_eq!(val(&region, "r3", "a", "x"), None);
}

#[test]
fn versions_and_time_range() {
    let (_fx, region) = fixture();
    put_versions(&region, "r", "a", "q", 1..=5);
    let r = region.get(&Get::new("r").versions(10)).unwrap().unwrap();
    let ts: Vec<u64> = r.cells.iter().map(|c| c.timestamp).collect();
    assert_eq!(ts, vec![5, 4, 3], "family keeps 3 versions");
    region.flush().unwrap();
    let r = region
        .get(&Get::new("r").versions(2).time_range(2, 5))
        .unwrap()
        .unwrap();
    let ts: Vec<u64> = r.cells.iter().map(|c| c.timestamp).collect();
    assert_eq!(ts, vec![4, 3], "range [2,5) within the 3 kept versions");
    // Same timestamp again: the newer write wins.
    region
        .mutate(&RowMutation::new("r").put_at("a", "q", 5, "again"), None)
        .unwrap();
    assert_eq!(val(&region, "r", "a", "q").as_deref(), Some("again"));
}

/// Applies one operation to `row`.
fn mutate_one(region: &Region, row: &str, op: Mutation) -> u64 {
    region
        .mutate(&RowMutation::new(row.to_owned()).push(op), None)
        .unwrap()
}

/// (qualifier, timestamps) of family `a` in a row, in order.
fn columns_of(row: &crate::query::Row) -> Vec<(String, Vec<u64>)> {
    let mut out: Vec<(String, Vec<u64>)> = Vec::new();
    for c in row.cells.iter().filter(|c| &c.family[..] == b"a") {
        let q = String::from_utf8(c.qualifier.to_vec()).unwrap();
        match out.last_mut() {
            Some((last, ts)) if *last == q => ts.push(c.timestamp),
            _ => out.push((q, vec![c.timestamp])),
        }
    }
    out
}

#[test]
fn hot_rows_with_many_versions_per_column_read_like_any_other() {
    // Many versions per column in the memstore make a read seek past each column's
    // rest (after the first such column, at once); the cells returned must not change:
    // the newest three (family `a` keeps 3) of every column, version deletes and
    // column deletes applied, the rows around untouched.
    let (_fx, region) = fixture();
    // Versions `tss` of columns q0..q5 of row `hot`, written column by column per version.
    let put_hot = |tss: std::ops::RangeInclusive<u64>| {
        for ts in tss {
            for q in ["q0", "q1", "q2", "q3", "q4", "q5"] {
                let m = RowMutation::new("hot").put_at("a", q, ts, format!("{q}-{ts}"));
                region.mutate(&m, None).unwrap();
            }
        }
    };
    put_versions(&region, "cold0", "a", "q0", [7]);
    put_hot(1..=40);
    put_versions(&region, "hot", "a", "q6", [5]);
    put_versions(&region, "hot1", "a", "q0", [9]);
    let del = |op| mutate_one(&region, "hot", op);
    del(Mutation::Delete {
        family: "a".into(),
        qualifier: "q2".into(),
        timestamp: Some(40),
    });
    del(Mutation::DeleteColumn {
        family: "a".into(),
        qualifier: "q3".into(),
        timestamp: Some(39),
    });
    let expected = |newest: u64| {
        let top = vec![newest, newest - 1, newest - 2];
        vec![
            ("q0".to_string(), top.clone()),
            ("q1".to_string(), top.clone()),
            ("q2".to_string(), vec![39, 38, 37]),
            ("q3".to_string(), vec![newest]),
            ("q4".to_string(), top.clone()),
            ("q5".to_string(), top),
            ("q6".to_string(), vec![5]),
        ]
    };
    let check = |newest: u64, when: &str| {
        let r = region.get(&Get::new("hot").versions(10)).unwrap().unwrap();
        assert_eq!(columns_of(&r), expected(newest), "get, {when}");
        let one = region.get(&Get::new("hot")).unwrap().unwrap();
        let latest: Vec<u64> = columns_of(&one).iter().map(|(_, ts)| ts[0]).collect();
        assert_eq!(
            latest,
            vec![newest, newest, 39, newest, newest, newest, 5],
            "{when}"
        );
        let rows = region.scan_all(&Scan::new().versions(10)).unwrap();
        let names: Vec<&[u8]> = rows.iter().map(|r| &r.row[..]).collect();
        assert_eq!(names, vec![&b"cold0"[..], b"hot", b"hot1"], "scan, {when}");
        assert_eq!(columns_of(&rows[1]), expected(newest), "scan, {when}");
        assert_eq!(columns_of(&rows[2]), vec![("q0".to_string(), vec![9])]);
    };
    check(40, "all in the memstore");
    region.flush().unwrap();
    check(40, "flushed");
    // More versions over the flushed ones: the memstore's and the file's merge.
    put_hot(41..=60);
    let r = region.get(&Get::new("hot").versions(10)).unwrap().unwrap();
    let got = columns_of(&r);
    assert_eq!(got[0], ("q0".to_string(), vec![60, 59, 58]));
    assert_eq!(got[2], ("q2".to_string(), vec![60, 59, 58]));
    assert_eq!(got[3], ("q3".to_string(), vec![60, 59, 58]));
    assert_eq!(got[6], ("q6".to_string(), vec![5]));
}

#[test]
fn delete_markers() {
    let (_fx, region) = fixture();
    let m = RowMutation::new("r")
        .put_at("a", "q", 10, "ten")
        .put_at("a", "q", 20, "twenty")
        .put_at("a", "p", 10, "p10")
        .put_at("b", "z", 999_990, "z");
    region.mutate(&m, None).unwrap();
    let del = |op| mutate_one(&region, "r", op);
    // Delete without timestamp removes the latest version only.
    del(Mutation::Delete {
        family: "a".into(),
        qualifier: "q".into(),
        timestamp: None,
    });
    assert_eq!(val(&region, "r", "a", "q").as_deref(), Some("ten"));
    region.flush().unwrap();
    del(Mutation::DeleteColumn {
        family: "a".into(),
        qualifier: "q".into(),
        timestamp: Some(10),
    });
    assert_eq!(val(&region, "r", "a", "q"), None);
    assert_eq!(val(&region, "r", "a", "p").as_deref(), Some("p10"));
    del(Mutation::DeleteFamily {
        family: "a".into(),
        timestamp: None,
    });
    assert_eq!(val(&region, "r", "a", "p"), None);
    assert_eq!(
        val(&region, "r", "b", "z").as_deref(),
        Some("z"),
        "other family untouched"
    );
    // A put newer than the family marker is visible again.
    region
        .mutate(
            &RowMutation::new("r").put_at("a", "p", 2_000_000, "new"),
            None,
        )
        .unwrap();
    assert_eq!(val(&region, "r", "a", "p").as_deref(), Some("new"));
    del(Mutation::DeleteRow {
        timestamp: Some(3_000_000),
    });
    assert!(region.get(&Get::new("r")).unwrap().is_none());
}

#[test]
fn ttl_hides_expired_cells() {
    let (fx, region) = fixture();
    region
        .mutate(&RowMutation::new("r").put("b", "q", "v"), None)
        .unwrap();
    assert!(val(&region, "r", "b", "q").is_some());
    fx.clock.advance(10_001);
    assert!(val(&region, "r", "b", "q").is_none(), "ttl is 10 s");
}

#[test]
fn scan_ranges_columns_and_limits() {
    let (_fx, region) = fixture();
    for i in 0..50u32 {
        let row = format!("row{i:03}");
        region
            .mutate(
                &RowMutation::new(row)
                    .put("a", "x", i.to_string())
                    .put("b", "y", "b"),
                None,
            )
            .unwrap();
        if i == 25 {
            region.flush().unwrap();
        }
    }
    let rows = region
        .scan_all(&Scan::new().start("row010").stop("row020"))
        .unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(&rows[0].row[..], b"row010");
    assert_eq!(rows[0].cells.len(), 2);
    let rows = region.scan_all(&Scan::new().family("b").limit(7)).unwrap();
    assert_eq!(rows.len(), 7);
    assert!(
        rows.iter()
            .all(|r| r.cells.len() == 1 && &r.cells[0].family[..] == b"b")
    );
    // Batches resume where they stopped.
    let mut s = region.scan(&Scan::new()).unwrap();
    let mut n = 0;
    let mut last: Option<Bytes> = None;
    while !s.is_done() {
        for r in s.next_batch(7, 1 << 20).unwrap() {
            assert!(last.as_ref().is_none_or(|l| l < &r.row));
            last = Some(r.row);
            n += 1;
        }
    }
    assert_eq!(n, 50);
}

#[test]
fn borrowed_scan_visits_the_cells_next_batch_returns() {
    let (_fx, region) = fixture();
    for i in 0..40u32 {
        let row = format!("row{i:03}");
        let mut m = RowMutation::new(row.clone()).put("a", "x", i.to_string());
        if i % 3 == 0 {
            m = m.put("b", "y", "b").put("a", "z", "second");
        }
        region.mutate(&m, None).unwrap();
        if i == 20 {
            region.flush().unwrap();
        }
    }
    // Rows with nothing visible left are neither visited nor counted.
    for i in [5u32, 6, 30] {
        let m =
            RowMutation::new(format!("row{i:03}")).push(Mutation::DeleteRow { timestamp: None });
        region.mutate(&m, None).unwrap();
    }
    // Rows whose first visible cell is in the second family.
    region
        .mutate(&RowMutation::new("row010b").put("b", "y", "only b"), None)
        .unwrap();
    let m = RowMutation::new("row012").push(Mutation::DeleteFamily {
        family: "a".into(),
        timestamp: None,
    });
    region.mutate(&m, None).unwrap();
    let want_rows = region
        .scan_all(&Scan::new().start("row002").limit(30))
        .unwrap();
    let b_first = want_rows
        .iter()
        .filter(|r| &r.cells[0].family[..] == b"b")
        .count();
    assert_eq!(b_first, 2, "row010b and row012 start with family b");
    let want: Vec<_> = want_rows.into_iter().flat_map(|r| r.cells).collect();
    let mut s = region.scan(&Scan::new().start("row002").limit(30)).unwrap();
    let (mut got, mut rows, mut calls) = (Vec::new(), 0, 0);
    while !s.is_done() {
        let mut visit = |c: CellRef<'_>| {
            let new_row = got.last().is_none_or(|l: &Cell| l.row[..] != *c.row);
            assert_eq!(c.first_in_row, new_row, "{c:?}");
            got.push(c.to_cell());
        };
        let n = s.next_batch_with(7, 1 << 20, &mut visit).unwrap();
        assert!(n <= 7);
        rows += n;
        calls += 1;
    }
    assert_eq!(got, want);
    assert_eq!(rows, 30);
    assert!(calls >= 5, "batches of at most 7 rows");
    assert_eq!(s.next_batch_with(7, 1 << 20, &mut |_| panic!()).unwrap(), 0);
    // A byte bound ends a batch after the row that reaches it, counted alike by both.
    let sizes: Vec<usize> = region.scan_all(&Scan::new()).unwrap()[..4]
        .iter()
        .map(|r| r.size_bytes())
        .collect();
    for max_bytes in 1..=sizes.iter().sum::<usize>() + 1 {
        let lent = region
            .scan(&Scan::new())
            .unwrap()
            .next_batch_with(100, max_bytes, &mut |_| {})
            .unwrap();
        let owned = region
            .scan(&Scan::new())
            .unwrap()
            .next_batch(100, max_bytes)
            .unwrap();
        assert_eq!(lent, owned.len(), "max_bytes {max_bytes}");
        let reach = sizes.iter().scan(0, |t, s| {
            *t += s;
            Some(*t)
        });
        let expect = 1 + reach.take_while(|t| *t < max_bytes).count();
        assert_eq!(lent, expect, "max_bytes {max_bytes}, row sizes {sizes:?}");
    }
}

#[test]
fn scanner_keeps_its_read_point() {
    let (_fx, region) = fixture();
    region
        .mutate(&RowMutation::new("a").put("a", "q", "1"), None)
        .unwrap();
    let mut s = region.scan(&Scan::new()).unwrap();
    region
        .mutate(&RowMutation::new("b").put("a", "q", "2"), None)
        .unwrap();
    region.flush().unwrap();
    let rows = s.next_batch(100, 1 << 20).unwrap();
    assert_eq!(
        rows.len(),
        1,
        "row written after the scan started is not seen"
    );
}

#[test]
fn check_and_mutate_and_increment() {
    let (_fx, region) = fixture();
    let m = RowMutation::new("r").put("a", "q", "v1");
    let absent = Check {
        family: "a".into(),
        qualifier: "q".into(),
        expect: None,
    };
    assert!(region.check_and_mutate(&absent, &m, None).unwrap());
    assert!(!region.check_and_mutate(&absent, &m, None).unwrap());
    let eq = Check {
        family: "a".into(),
        qualifier: "q".into(),
        expect: Some((CompareOp::Equal, "v1".into())),
    };
    assert!(
        region
            .check_and_mutate(&eq, &RowMutation::new("r").put("a", "q", "v2"), None)
            .unwrap()
    );
    assert_eq!(val(&region, "r", "a", "q").as_deref(), Some("v2"));

    let row = Bytes::from("c");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (region, row) = (region.clone(), row.clone());
            std::thread::spawn(move || {
                for _ in 0..25 {
                    region
                        .increment(&row, &[("a".into(), "n".into(), 1)], None)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let v = region
        .increment(&row, &[("a".into(), "n".into(), 0)], None)
        .unwrap();
    assert_eq!(v, vec![200]);
    let err = region
        .increment(&Bytes::from("r"), &[("a".into(), "q".into(), 1)], None)
        .unwrap_err();
    assert!(err.to_string().contains("8-byte counter"), "{err}");
    let v = region
        .append(
            &Bytes::from("s"),
            &[("a".into(), "t".into(), "ab".into())],
            None,
        )
        .unwrap();
    let v2 = region
        .append(
            &Bytes::from("s"),
            &[("a".into(), "t".into(), "cd".into())],
            None,
        )
        .unwrap();
    assert_eq!((&v[0][..], &v2[0][..]), (&b"ab"[..], &b"abcd"[..]));
}

#[test]
fn bad_input_is_rejected_and_changes_nothing() {
    let (fx, region) = fixture();
    let before = region.status().read_point;
    let e = region
        .mutate(&RowMutation::new("r").put("nope", "q", "v"), None)
        .unwrap_err();
    assert!(matches!(e, Error::UnknownFamily { .. }), "{e}");
    let e = region
        .mutate(
            &RowMutation::new(vec![b'x'; 40_000]).put("a", "q", "v"),
            None,
        )
        .unwrap_err();
    assert!(e.to_string().contains("MAX_ROW_KEY_BYTES"), "{e}");
    let big = vec![0u8; fx.engine.options().limits.max_value_bytes + 1];
    let e = region
        .mutate(&RowMutation::new("r").put("a", "q", big), None)
        .unwrap_err();
    assert!(e.to_string().contains("max_value_bytes"), "{e}");
    assert!(region.get(&Get::new("")).is_err());
    assert!(region.get(&Get::new("r").versions(0)).is_err());
    assert_eq!(region.status().read_point, before);
    assert!(region.get(&Get::new("r")).unwrap().is_none());
}

#[test]
fn rows_outside_the_range_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EngineOptions::for_tests();
    opts.wal.durability = Durability::Skip;
    let engine = Engine::open(opts).unwrap();
    let mut desc = RegionDescriptor::whole_table("t", "mid", vec![FamilyOptions::new("f")]);
    desc.start_row = b"g".to_vec();
    desc.end_row = b"n".to_vec();
    let region = engine.create_region(&dir.path().join("mid"), desc).unwrap();
    region
        .mutate(&RowMutation::new("h").put("f", "q", "v"), None)
        .unwrap();
    let e = region
        .mutate(&RowMutation::new("n").put("f", "q", "v"), None)
        .unwrap_err();
    assert!(matches!(e, Error::RowOutOfRange { .. }), "{e}");
    assert!(region.get(&Get::new("a")).is_err());
    assert_eq!(region.scan_all(&Scan::new()).unwrap().len(), 1);
}

#[test]
fn background_flush_triggers_and_wal_segments_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EngineOptions::for_tests();
    opts.memstore.flush_size = ByteSize::kib(64);
    opts.wal.segment_size = ByteSize::kib(16);
    let engine = Engine::open(opts).unwrap();
    let path = dir.path().join("r");
    let region = engine
        .create_region(
            &path,
            RegionDescriptor::whole_table("t", "r", vec![FamilyOptions::new("f")]),
        )
        .unwrap();
    for i in 0..2000u32 {
        region
            .mutate(
                &RowMutation::new(format!("{i:08}")).put("f", "q", vec![b'v'; 100]),
                None,
            )
            .unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while engine.stats().flushes == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(engine.stats().flushes > 0, "a background flush ran");
    region.flush().unwrap();
    let st = region.status();
    assert_eq!(st.memstore_bytes, 0);
    assert!(
        st.wal_segments <= 2,
        "covered segments deleted, {} left",
        st.wal_segments
    );
    region.close(false).unwrap();
    let region = engine.open_region(&path).unwrap();
    assert_eq!(region.scan_all(&Scan::new()).unwrap().len(), 2000);
}

#[test]
fn flush_recovers_after_a_failed_attempt() {
    let (fx, region) = fixture();
    region
        .mutate(&RowMutation::new("r1").put("a", "x", "1"), None)
        .unwrap();
    // A directory where the manifest's temporary file goes makes the manifest write fail.
    let blocker = fx.path.join("MANIFEST.tmp");
    std::fs::create_dir(&blocker).unwrap();
    assert!(region.flush().is_err());
    std::fs::remove_dir(&blocker).unwrap();
    region
        .mutate(&RowMutation::new("r2").put("a", "x", "2"), None)
        .unwrap();
    // The generation the failed attempt left frozen and the new one go into one file.
    region.flush().unwrap();
    let st = region.status();
    assert_eq!(
        (st.frozen_memstores, st.store_files["a"], st.memstore_bytes),
        (0, 1, 0),
        "{st:?}"
    );
    region.close(false).unwrap();
    drop(region);
    let region = fx.engine.open_region(&fx.path).unwrap();
    assert_eq!(val(&region, "r1", "a", "x").as_deref(), Some("1"));
    assert_eq!(val(&region, "r2", "a", "x").as_deref(), Some("2"));
}

#[test]
fn a_region_cannot_be_opened_twice() {
    let (fx, region) = fixture();
    let e = fx.engine.open_region(&fx.path).unwrap_err();
    assert!(e.to_string().contains("already open"), "{e}");
    region.close(false).unwrap();
    drop(region);
    fx.engine.open_region(&fx.path).unwrap();
}

#[test]
fn oversized_read_modify_write_is_refused_without_failing_the_region() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EngineOptions::for_tests();
    opts.limits.max_value_bytes = 16 * 1024;
    opts.limits.max_mutation_bytes = 64 * 1024;
    let engine = Engine::open(opts).unwrap();
    let region = engine
        .create_region(
            &dir.path().join("r"),
            RegionDescriptor::whole_table("t", "r", families()),
        )
        .unwrap();
    let chunk = Bytes::from(vec![b'x'; 15 * 1024]);
    let cols: Vec<_> = (0..5)
        .map(|i| {
            (
                Bytes::from("a"),
                Bytes::from(format!("q{i}")),
                chunk.clone(),
            )
        })
        .collect();
    let e = region.append(&Bytes::from("r"), &cols, None).unwrap_err();
    assert!(e.to_string().contains("max_mutation_bytes"), "{e}");
    region
        .mutate(&RowMutation::new("r").put("a", "q", "still works"), None)
        .unwrap();
    let dup = [
        (Bytes::from("a"), Bytes::from("n"), 1i64),
        (Bytes::from("a"), Bytes::from("n"), 10),
    ];
    let e = region.increment(&Bytes::from("c"), &dup, None).unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
}

#[test]
fn gets_skip_old_versions_of_a_hot_column() {
    // Family "a" keeps 3 versions; 200 versions of one column in the memstore and the
    // same in a file. A get returns the newest ones and the columns around it.
    let (fx, region) = fixture();
    let write = |from: u64| {
        for ts in from..from + 200 {
            let m = RowMutation::new("r")
                .put_at("a", "hot", ts, format!("v{ts}"))
                .put_at("a", "cold0", 1, "c0")
                .put_at("a", "hot\u{0}", 1, "next");
            region.mutate(&m, None).unwrap();
        }
    };
    write(1000);
    region.flush().unwrap();
    write(2000);
    let _ = &fx;
    let get = Get::new("r").family("a").versions(3);
    let row = region.get(&get).unwrap().unwrap();
    let got: Vec<(String, u64)> = row
        .cells
        .iter()
        .map(|c| {
            (
                String::from_utf8_lossy(&c.qualifier).into_owned(),
                c.timestamp,
            )
        })
        .collect();
    let expect = vec![
        ("cold0".to_string(), 1),
        ("hot".to_string(), 2199),
        ("hot".to_string(), 2198),
        ("hot".to_string(), 2197),
        ("hot\u{0}".to_string(), 1),
    ];
    assert_eq!(got, expect);
    let one = region
        .get(&Get::new("r").column("a", "hot").versions(1))
        .unwrap()
        .unwrap();
    assert_eq!(one.value(b"a", b"hot").map(|v| &v[..]), Some(&b"v2199"[..]));
    assert_eq!(one.cells.len(), 1);
}

#[test]
fn an_older_family_delete_still_hides_cells_after_a_newer_empty_qualifier_put() {
    // The empty qualifier's column holds puts and DeleteFamily markers: a newer put there
    // must not make the read skip an older marker that hides the other columns.
    let (_fx, region) = fixture();
    region
        .mutate(&RowMutation::new("r").put_at("a", "q", 5, "hidden"), None)
        .unwrap();
    region
        .mutate(
            &RowMutation::new("r").push(Mutation::DeleteFamily {
                family: Bytes::from("a"),
                timestamp: Some(10),
            }),
            None,
        )
        .unwrap();
    for ts in 20..40 {
        region
            .mutate(&RowMutation::new("r").put_at("a", "", ts, "empty"), None)
            .unwrap();
    }
    let row = region.get(&Get::new("r").family("a")).unwrap().unwrap();
    assert_eq!(row.cells.len(), 1, "{:?}", row.cells);
    assert!(row.cells[0].qualifier.is_empty());
}

#[test]
fn cache_only_gets_step_aside_without_a_block_cache() {
    // With no block cache nothing read from a file may be kept, so a cache-only get
    // never reads a file, resident or not.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t").join("r1");
    let mut opts = EngineOptions::for_tests();
    opts.block_cache.size = crate::options::ByteSize(0);
    let engine = Engine::open(opts).unwrap();
    let desc = RegionDescriptor::whole_table("t", "r1", families());
    let region = engine.create_region(&path, desc).unwrap();
    region
        .mutate(&RowMutation::new("r1").put("a", "x", "1"), None)
        .unwrap();
    region.flush().unwrap();
    let get = Get::new("r1").column("a", "x");
    assert!(region.try_get_cached(&get).unwrap().is_none());
    assert!(region.get(&get).unwrap().is_some());
    assert_eq!(engine.stats().blocks_read_resident, 0);
}

#[test]
fn cache_only_gets_leave_large_blocks_to_the_blocking_path() {
    // A block over MAX_RESIDENT_READ_BYTES is not read by a cache-only get even when its
    // pages are in memory: verifying and copying it would hold an async thread too long.
    let (fx, region) = fixture();
    let big = "v".repeat(40 * 1024);
    region
        .mutate(&RowMutation::new("r1").put("a", "x", big.clone()), None)
        .unwrap();
    region.flush().unwrap();
    region.close(false).unwrap();
    let region = fx.engine.open_region(&fx.path).unwrap();
    let get = Get::new("r1").column("a", "x");
    assert!(region.try_get_cached(&get).unwrap().is_none());
    assert_eq!(fx.engine.stats().blocks_read_resident, 0);
    let read = region.get(&get).unwrap().expect("the row is there");
    assert_eq!(read.value(b"a", b"x").map(|v| v.len()), Some(big.len()));
    assert!(region.try_get_cached(&get).unwrap().is_some(), "now cached");
}

#[test]
fn cache_only_gets_answer_from_memory_or_step_aside() {
    let (fx, region) = fixture();
    region
        .mutate(&RowMutation::new("r1").put("a", "x", "1"), None)
        .unwrap();
    region.flush().unwrap();
    region.close(false).unwrap();
    // Reopened: the file's blocks are not in the block cache yet. The file was just
    // written, so its pages are normally still in the OS page cache: then the
    // cache-only get reads the block from memory and counts it; otherwise it steps aside.
    let region = fx.engine.open_region(&fx.path).unwrap();
    let get = Get::new("r1").column("a", "x");
    let first = region.try_get_cached(&get).unwrap();
    let resident = fx.engine.stats().blocks_read_resident;
    assert_eq!(
        first.is_some(),
        resident == 1,
        "{first:?}, {resident} resident reads"
    );
    if !cfg!(target_os = "linux") {
        assert!(first.is_none(), "residency is only known on Linux");
    }
    let read = region.get(&get).unwrap();
    assert!(read.is_some());
    if let Some(first) = first {
        assert_eq!(first, read);
    }
    assert_eq!(region.try_get_cached(&get).unwrap(), Some(read));
    assert_eq!(
        fx.engine.stats().blocks_read_resident,
        resident,
        "now a cache hit"
    );

    region
        .mutate(&RowMutation::new("r2").put("a", "x", "2"), None)
        .unwrap();
    let in_memstore = region
        .try_get_cached(&Get::new("r2").column("a", "x"))
        .unwrap()
        .expect("a memstore row needs no block")
        .expect("the row is there");
    assert_eq!(
        in_memstore.value(b"a", b"x").map(|v| &v[..]),
        Some(&b"2"[..])
    );
    // Errors are still errors.
    assert!(matches!(
        region.try_get_cached(&Get::new("")),
        Err(Error::InvalidArgument(_))
    ));
}

/// A region of one family `p` with `prefetch_blocks_on_open` as given, 1 KiB blocks,
/// and `rows` rows of 200-byte values flushed into one file; returns the engine, the
/// region and its directory.
fn prefetch_fixture(
    prefetch: bool,
    cache_bytes: u64,
    rows: usize,
) -> (tempfile::TempDir, Engine, Arc<Region>, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t").join("r1");
    let mut opts = EngineOptions::for_tests();
    opts.block_cache.size = ByteSize(cache_bytes);
    let engine = Engine::open(opts).unwrap();
    let mut family = FamilyOptions::new("p");
    family.block_size_bytes = 1024;
    family.prefetch_blocks_on_open = prefetch;
    let desc = RegionDescriptor::whole_table("t", "r1", vec![family]);
    let region = engine.create_region(&path, desc).unwrap();
    for i in 0..rows {
        let m = RowMutation::new(format!("row-{i:05}")).put("p", "q", "v".repeat(200));
        region.mutate(&m, None).unwrap();
    }
    region.flush().unwrap();
    (dir, engine, region, path)
}

#[test]
fn a_prefetching_family_has_its_flushed_blocks_cached() {
    const ROWS: usize = 400;
    let (_dir, engine, region, _) = prefetch_fixture(true, 8 << 20, ROWS);
    let cached = engine.block_cache_stats();
    // 400 rows of ~230 bytes in 1 KiB blocks: ~100 blocks, all loaded by the flush.
    assert!(cached.entries >= 50, "{cached:?}");
    assert_eq!((cached.hits, cached.misses), (0, 0), "{cached:?}");
    for i in (0..ROWS).step_by(7) {
        let get = Get::new(format!("row-{i:05}")).column("p", "q");
        assert!(region.get(&get).unwrap().is_some());
    }
    let after = engine.block_cache_stats();
    assert_eq!(after.misses, 0, "every block was prefetched: {after:?}");
    assert!(after.hits > 0);

    // Without the option the flush leaves the cache alone.
    let (_dir, engine, _region, _) = prefetch_fixture(false, 8 << 20, ROWS);
    assert_eq!(engine.block_cache_stats().entries, 0);
}

#[test]
fn prefetch_fills_only_the_free_room_of_the_cache() {
    // A 64 KiB cache and ~100 KiB of blocks: the prefetch stops at 90% of the capacity.
    let (_dir, engine, _region, _) = prefetch_fixture(true, 64 << 10, 400);
    let s = engine.block_cache_stats();
    assert!(s.entries > 0, "{s:?}");
    let limit = s.capacity_bytes as f64 * crate::block_cache::PREFETCH_FILL_LIMIT;
    // One block past the limit at most (the check is made before each block).
    assert!(
        (s.size_bytes as f64) < limit + 2048.0,
        "{} bytes cached, limit {limit}",
        s.size_bytes
    );
    assert_eq!(s.evictions, 0, "a prefetch never pushes blocks out: {s:?}");
}

#[test]
fn a_reopened_prefetching_region_warms_the_cache_in_the_background() {
    const ROWS: usize = 400;
    let (_dir, engine, region, path) = prefetch_fixture(true, 8 << 20, ROWS);
    region.close(false).unwrap();
    // A fresh engine (an empty cache), as after a restart.
    drop(engine);
    let mut opts = EngineOptions::for_tests();
    opts.block_cache.size = ByteSize(8 << 20);
    let engine = Engine::open(opts).unwrap();
    let region = engine.open_region(&path).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while engine.block_cache_stats().entries < 50 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let warmed = engine.block_cache_stats();
    assert!(
        warmed.entries >= 50,
        "not prefetched after open: {warmed:?}"
    );
    let get = Get::new(format!("row-{:05}", ROWS - 1)).column("p", "q");
    assert!(region.get(&get).unwrap().is_some());
}

#[test]
fn a_compaction_leaves_only_its_output_in_the_cache() {
    // Two flushes of the same 400 rows (each ~100 blocks, both prefetched), then a
    // major compaction keeping one version: the inputs' blocks leave the cache with the
    // inputs, and the output's are prefetched.
    let (_dir, engine, region, _) = prefetch_fixture(true, 8 << 20, 400);
    for i in 0..400 {
        let m = RowMutation::new(format!("row-{i:05}")).put("p", "q", "w".repeat(200));
        region.mutate(&m, None).unwrap();
    }
    region.flush().unwrap();
    let two_files = engine.block_cache_stats().entries;
    region
        .compact(crate::compaction::CompactionKind::Major)
        .unwrap();
    let after = engine.block_cache_stats();
    assert!(
        after.entries * 3 < two_files * 2,
        "{two_files} blocks cached before, {} after",
        after.entries
    );
    assert!(
        after.entries * 3 > two_files,
        "output prefetched: {after:?}"
    );
    let get = Get::new("row-00007").column("p", "q");
    let row = region.get(&get).unwrap().unwrap();
    assert_eq!(row.value(b"p", b"q").unwrap().len(), 200);
    assert_eq!(engine.block_cache_stats().misses, 0);
}

fn timestamps(region: &Region, row: &str) -> Vec<u64> {
    region
        .get(&Get::new(row.to_owned()).versions(10))
        .unwrap()
        .map(|r| r.cells.iter().map(|c| c.timestamp).collect())
        .unwrap_or_default()
}

fn put_versions(
    region: &Region,
    row: &str,
    fam: &'static str,
    q: &'static str,
    tss: impl IntoIterator<Item = u64>,
) {
    for ts in tss {
        region
            .mutate(
                &RowMutation::new(row.to_owned()).put_at(fam, q, ts, format!("v{ts}")),
                None,
            )
            .unwrap();
    }
}

fn delete_version(row: &str, fam: &str, q: &str, ts: u64) -> RowMutation {
    RowMutation::new(row.to_owned()).push(Mutation::Delete {
        family: Bytes::copy_from_slice(fam.as_bytes()),
        qualifier: Bytes::copy_from_slice(q.as_bytes()),
        timestamp: Some(ts),
    })
}

#[test]
fn a_flush_writes_only_what_readers_can_see() {
    let (fx, region) = fixture();
    // Family `a` keeps 3 versions: ten versions of one column, two writes at ts 10,
    // and ts 9 deleted by a marker in the same memstore.
    put_versions(&region, "hot", "a", "q", 1..=10);
    region
        .mutate(&RowMutation::new("hot").put_at("a", "q", 10, "v10b"), None)
        .unwrap();
    region
        .mutate(&delete_version("hot", "a", "q", 9), None)
        .unwrap();
    let before = timestamps(&region, "hot");
    assert_eq!(before, vec![10, 8, 7]);
    let dropped_before = fx.engine.stats().flush_dropped_entries;
    region.flush().unwrap();
    // Kept: the marker, ts 10 (newest write), 8 and 7. Left out: the older write at
    // ts 10, ts 9 (deleted) and ts 1-6 (past 3 versions).
    assert_eq!(region.status().store_file_entries, 4);
    assert_eq!(fx.engine.stats().flush_dropped_entries - dropped_before, 8);
    assert_eq!(timestamps(&region, "hot"), before);
    assert_eq!(val(&region, "hot", "a", "q").as_deref(), Some("v10b"));
    region.close(false).unwrap();
    let region = fx.engine.open_region(&fx.path).unwrap();
    assert_eq!(timestamps(&region, "hot"), before);
}

#[test]
fn a_marker_in_another_file_keeps_every_version_of_a_flush() {
    let (_fx, region) = fixture();
    // A marker flushed first that hides a later put at ts 10 (markers mask by timestamp,
    // whatever the write order).
    region
        .mutate(&delete_version("r", "a", "q", 10), None)
        .unwrap();
    region.flush().unwrap();
    put_versions(&region, "r", "a", "q", [7, 8, 9, 10]);
    assert_eq!(timestamps(&region, "r"), vec![9, 8, 7]);
    region.flush().unwrap();
    // Counting versions within the memstore alone would drop ts 7 (three newer puts).
    assert_eq!(timestamps(&region, "r"), vec![9, 8, 7]);
}

#[test]
fn without_drop_hidden_versions_a_flush_keeps_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EngineOptions::for_tests();
    opts.memstore.drop_hidden_versions = false;
    let engine = Engine::open_with_clock(opts, ManualClock::new(1_000_000)).unwrap();
    let region = engine
        .create_region(
            &dir.path().join("r"),
            RegionDescriptor::whole_table("t", "r1", families()),
        )
        .unwrap();
    put_versions(&region, "hot", "a", "q", 1..=10);
    region.flush().unwrap();
    assert_eq!(region.status().store_file_entries, 10);
    assert_eq!(timestamps(&region, "hot"), vec![10, 9, 8]);
}

#[test]
fn a_version_left_out_by_a_flush_stays_gone_after_a_newer_one_is_deleted() {
    let (_fx, region) = fixture();
    put_versions(&region, "r", "a", "q", 1..=5);
    // Family `a` keeps 3 versions: the flush leaves out ts 1 and 2.
    region.flush().unwrap();
    assert_eq!(timestamps(&region, "r"), vec![5, 4, 3]);
    region
        .mutate(&delete_version("r", "a", "q", 5), None)
        .unwrap();
    // Before the flush this delete would have shown ts 2 again (as it does with
    // `memstore.drop_hidden_versions = false` until a major compaction).
    assert_eq!(timestamps(&region, "r"), vec![4, 3]);
}

/// The format version a file's footer records (the footer's last 16 bytes start with it).
fn sstable_format_version(path: &std::path::Path) -> u32 {
    let bytes = std::fs::read(path).unwrap();
    u32::from_le_bytes(
        bytes[bytes.len() - 16..bytes.len() - 12]
            .try_into()
            .unwrap(),
    )
}

/// A region whose files were written by an older build (SSTable format 1) opens, reads
/// the same, and a major compaction rewrites its files in the current format.
#[test]
fn a_region_with_format_1_files_reads_the_same_and_compacts_to_the_current_format() {
    use crate::block_cache::BlockCache;
    use crate::compaction::CompactionKind;
    use crate::iterator::InternalIterator;
    use crate::manifest::Manifest;
    use crate::sstable::{FORMAT_VERSION, SsTable, SsTableBuilder, SsTableWriteOptions};
    use crate::stats::Stats;

    let (fx, region) = fixture();
    for i in 0..300u32 {
        let mut m = RowMutation::new(format!("row{i:04}")).put("a", "x", format!("v{i}"));
        if i % 4 == 0 {
            m = m.put("b", "y", vec![b'z'; 200]);
        }
        region.mutate(&m, None).unwrap();
        if i == 150 {
            region.flush().unwrap();
        }
    }
    for i in (0..300u32).step_by(7) {
        let m = RowMutation::new(format!("row{i:04}")).push(Mutation::DeleteColumn {
            family: "a".into(),
            qualifier: "x".into(),
            timestamp: None,
        });
        region.mutate(&m, None).unwrap();
    }
    region.flush().unwrap();
    let before = region.scan_all(&Scan::new()).unwrap();
    assert!(before.len() > 200, "{} rows", before.len());
    region.close(false).unwrap();

    // Rewrite every live file as format 1, entry for entry, under its own name.
    let manifest = Manifest::load(&fx.path).unwrap();
    let mut rewritten = 0;
    for family in families() {
        for id in &manifest.files[family.name.as_str()] {
            let path = Manifest::sstable_path(&fx.path, &family.name, *id);
            let table =
                SsTable::open(&path, BlockCache::new(1 << 20), Arc::new(Stats::default())).unwrap();
            let mut it = table.iter(false);
            it.seek_to_first().unwrap();
            let mut entries = Vec::new();
            while it.valid() {
                entries.push((it.key().to_vec(), it.value().to_vec()));
                it.next().unwrap();
            }
            drop((it, table));
            let tmp = path.with_extension("format1");
            let opts = SsTableWriteOptions {
                block_size: 512,
                compression: family.compression,
                bloom: family.bloom,
                bloom_fp_rate: family.bloom_fp_rate,
                expected_entries: entries.len(),
            };
            let mut b = SsTableBuilder::create(&tmp, opts)
                .unwrap()
                .with_format_version(1);
            for (k, v) in &entries {
                b.add(k, v).unwrap();
            }
            b.finish().unwrap();
            std::fs::rename(&tmp, &path).unwrap();
            assert_eq!(sstable_format_version(&path), 1);
            rewritten += 1;
        }
    }
    assert_eq!(rewritten, 4, "two flushes of two families");

    let region = fx.engine.open_region(&fx.path).unwrap();
    assert_eq!(region.scan_all(&Scan::new()).unwrap(), before);
    for r in before.iter().step_by(5) {
        let got = region.get(&Get::new(r.row.clone())).unwrap();
        assert_eq!(got.as_ref(), Some(r));
    }
    assert_eq!(val(&region, "row0007", "a", "x"), None, "deleted column");
    region.compact(CompactionKind::Major).unwrap();
    let manifest = Manifest::load(&fx.path).unwrap();
    for family in families() {
        let ids = &manifest.files[family.name.as_str()];
        assert_eq!(
            ids.len(),
            1,
            "{}: one file after a major compaction",
            family.name
        );
        let path = Manifest::sstable_path(&fx.path, &family.name, ids[0]);
        assert_eq!(sstable_format_version(&path), FORMAT_VERSION);
    }
    assert_eq!(region.scan_all(&Scan::new()).unwrap(), before);
}
