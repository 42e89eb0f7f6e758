//! Tests of in-memory compaction: what readers see before and after, what it frees, how
//! it meets flushes and reopens, and when the background trigger runs it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::engine::Engine;
use crate::mutation::{Mutation, RowMutation};
use crate::options::{ByteSize, EngineOptions, FamilyOptions, InMemoryCompaction};
use crate::query::{Get, Row, Scan};
use crate::region::{Region, RegionDescriptor};

fn open(policy: InMemoryCompaction) -> (tempfile::TempDir, Engine, Arc<Region>) {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EngineOptions::for_tests();
    opts.memstore.flush_size = ByteSize::kib(256);
    opts.memstore.in_memory_compaction = policy;
    opts.memstore.in_memory_flush_factor = 0.0625; // 16 KiB
    let engine = Engine::open(opts).unwrap();
    let mut a = FamilyOptions::new("a");
    a.max_versions = 2;
    let b = FamilyOptions::new("b");
    let desc = RegionDescriptor::whole_table("t", "r1", vec![a, b]);
    let region = engine
        .create_region(&dir.path().join("t").join("r1"), desc)
        .unwrap();
    (dir, engine, region)
}

/// Every row, every version, as (row, family, qualifier, timestamp, value) tuples.
fn everything(region: &Region) -> Vec<(String, String, String, u64, String)> {
    let rows = region.scan_all(&Scan::new().versions(100)).unwrap();
    flatten(&rows)
}

fn flatten(rows: &[Row]) -> Vec<(String, String, String, u64, String)> {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    rows.iter()
        .flat_map(|r| {
            r.cells.iter().map(|c| {
                (
                    s(&r.row),
                    s(&c.family),
                    s(&c.qualifier),
                    c.timestamp,
                    s(&c.value),
                )
            })
        })
        .collect()
}

/// Addresses of the key buffers of every memstore entry.
fn key_addresses(region: &Region) -> Vec<usize> {
    use crate::iterator::InternalIterator;
    let st = region.snapshot();
    let mut out = Vec::new();
    for store in st.stores.values() {
        for m in std::iter::once(&store.active).chain(store.frozen.iter()) {
            let mut it = m.iter();
            it.seek_to_first().unwrap();
            while it.valid() {
                out.push(it.key().as_ptr() as usize);
                it.next().unwrap();
            }
        }
    }
    out
}

/// 30 versions of 3 columns of row `hot` in both families, one cold row, and a column
/// delete and a version delete among the hot columns.
fn write_hot_rows(region: &Region, first_ts: u64) {
    for ts in first_ts..first_ts + 30 {
        for q in ["q0", "q1", "q2"] {
            let m = RowMutation::new("hot")
                .put_at("a", q, ts, format!("a{q}-{ts}"))
                .put_at("b", q, ts, format!("b{q}-{ts}"));
            region.mutate(&m, None).unwrap();
        }
    }
    let cold = RowMutation::new(format!("cold{first_ts}")).put_at("a", "q0", 1, "c");
    region.mutate(&cold, None).unwrap();
    let deletes = RowMutation::new("hot")
        .push(Mutation::DeleteColumn {
            family: "a".into(),
            qualifier: "q1".into(),
            timestamp: Some(first_ts + 10),
        })
        .push(Mutation::Delete {
            family: "b".into(),
            qualifier: "q2".into(),
            timestamp: Some(first_ts + 29),
        });
    region.mutate(&deletes, None).unwrap();
}

#[test]
fn readers_see_the_same_cells_and_the_dead_versions_are_freed() {
    let (_dir, engine, region) = open(InMemoryCompaction::None);
    write_hot_rows(&region, 100);
    let before = everything(&region);
    let latest_before = region.get(&Get::new("hot")).unwrap();
    let bytes_before = region.memstore_bytes();
    // A scanner opened now keeps the memstores it found.
    let mut early = region.scan(&Scan::new().versions(100)).unwrap();
    let keys_before = key_addresses(&region);

    let done = region
        .compact_memstore()
        .unwrap()
        .expect("something to compact");
    // 181 puts and 2 markers in. Out: in `a` (2 versions) the newest 2 of each column
    // and the column delete (it hides only older versions), the cold row's put; in `b`
    // (1 version) the newest of q0 and q1, and of q2 the version delete and the version
    // below the one it hides.
    assert_eq!(done.entries_in, 30 * 3 * 2 + 1 + 2);
    assert_eq!(done.entries_new, done.entries_in);
    assert_eq!(
        done.entries_out,
        (2 + 2 + 1 + 2) + 1 + (1 + 1 + 2),
        "{done:?}"
    );
    assert_eq!(engine.stats().memstore_compactions, 1);
    assert_eq!(
        engine.stats().memstore_compaction_dropped_entries,
        done.dropped()
    );
    assert!(region.memstore_bytes() * 5 < bytes_before, "{done:?}");
    assert_eq!(region.memstore_bytes(), done.bytes_after);
    assert_eq!(region.status().frozen_memstores, 1);
    // The flat memstore holds the same key buffers, not copies.
    let keys_after = key_addresses(&region);
    assert_eq!(keys_after.len() as u64, done.entries_out);
    assert!(keys_after.iter().all(|v| keys_before.contains(v)));

    assert_eq!(everything(&region), before);
    assert_eq!(region.get(&Get::new("hot")).unwrap(), latest_before);
    assert_eq!(flatten(&early.next_batch(100, 1 << 20).unwrap()), before);

    // More writes, then a second compaction: still one flat memstore.
    write_hot_rows(&region, 200);
    let before = everything(&region);
    let done = region.compact_memstore().unwrap().expect("new writes");
    assert_eq!(done.entries_new, 30 * 3 * 2 + 2 + 1);
    assert_eq!(region.status().frozen_memstores, 1);
    assert_eq!(everything(&region), before);
    // Nothing new: nothing to do.
    assert_eq!(region.compact_memstore().unwrap(), None);
}

#[test]
fn a_flush_after_compactions_writes_one_file_and_a_replay_reads_the_same() {
    let (dir, engine, region) = open(InMemoryCompaction::None);
    write_hot_rows(&region, 100);
    region.compact_memstore().unwrap();
    write_hot_rows(&region, 200);
    let expected = everything(&region);

    // Reopened without a flush: the WAL replays every write, the dropped ones too, and
    // readers see the same cells.
    region.close(false).unwrap();
    drop(region);
    let path = dir.path().join("t").join("r1");
    let region = engine.open_region(&path).unwrap();
    assert_eq!(everything(&region), expected);

    region.compact_memstore().unwrap();
    write_hot_rows(&region, 300);
    let expected = everything(&region);
    region.flush().unwrap();
    let st = region.status();
    assert_eq!(st.frozen_memstores, 0);
    assert_eq!(st.memstore_bytes, 0);
    assert_eq!(st.store_files.values().copied().collect::<Vec<_>>(), [1, 1]);
    assert_eq!(everything(&region), expected);
    region.close(false).unwrap();
    drop(region);
    let region = engine.open_region(&path).unwrap();
    assert_eq!(everything(&region), expected);
}

/// Writes rows until `bytes` more are in the active memstores, or until an in-memory
/// compaction empties them; `hot` rewrites one row.
fn write_until(region: &Region, bytes: u64, hot: bool, next: &mut u64) {
    let start = region.unflushed_bytes().0;
    let mut last = start;
    while last < start + bytes {
        let row = if hot {
            "hot".to_owned()
        } else {
            format!("row{next:08}")
        };
        let m = RowMutation::new(row).put("b", "q", vec![b'v'; 200]);
        region.mutate(&m, None).unwrap();
        *next += 1;
        let now = region.unflushed_bytes().0;
        if now < last {
            break;
        }
        last = now;
    }
}

fn wait_for_compactions(engine: &Engine, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while engine.stats().memstore_compactions < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        engine.stats().memstore_compactions >= n,
        "{n} in-memory compactions expected: {:?}",
        engine.stats()
    );
}

/// Waits until the region's requested work (if any) is done.
fn wait_idle(region: &Region) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while region.memstore_compaction_requested.load(Ordering::Acquire) && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let _manifest = region.manifest.lock();
}

#[test]
fn the_background_trigger_compacts_rewritten_rows() {
    let (_dir, engine, region) = open(InMemoryCompaction::Adaptive);
    let mut n = 0;
    for round in 1..=3 {
        write_until(&region, 20 * 1024, true, &mut n);
        wait_for_compactions(&engine, round);
    }
    wait_idle(&region);
    let stats = engine.stats();
    assert!(
        stats.memstore_compaction_dropped_entries * 10 > n * 9,
        "nearly every rewrite of the row dropped: {stats:?} after {n} writes"
    );
    assert_eq!(backoff(&region), 0);
    assert_eq!(stats.flushes, 0, "the memstore stayed under the flush size");
    let row = region.get(&Get::new("hot")).unwrap().unwrap();
    assert_eq!(row.cells.len(), 1);
}

fn backoff(region: &Region) -> u32 {
    region.memstore_compaction_backoff.load(Ordering::Acquire)
}

#[test]
fn adaptive_waits_longer_after_each_compaction_of_new_rows_and_eager_does_not() {
    for policy in [InMemoryCompaction::Adaptive, InMemoryCompaction::Eager] {
        let adaptive = policy == InMemoryCompaction::Adaptive;
        let (_dir, engine, region) = open(policy);
        let mut n = 0;
        // New rows only: nothing to drop.
        write_until(&region, 20 * 1024, false, &mut n);
        wait_for_compactions(&engine, 1);
        wait_idle(&region);
        assert_eq!(engine.stats().memstore_compaction_dropped_entries, 0);
        assert_eq!(backoff(&region), u32::from(adaptive), "{policy:?}");
        write_until(&region, 20 * 1024, false, &mut n);
        if !adaptive {
            wait_for_compactions(&engine, 2);
            assert_eq!(backoff(&region), 0);
            continue;
        }
        // 20 KiB is under the doubled 32 KiB: no compaction; past it, one.
        wait_idle(&region);
        assert_eq!(engine.stats().memstore_compactions, 1, "backed off");
        write_until(&region, 16 * 1024, false, &mut n);
        wait_for_compactions(&engine, 2);
        wait_idle(&region);
        assert_eq!(backoff(&region), 2);
        // A flush takes one step back: the next waits for 32 KiB again.
        region.flush().unwrap();
        assert_eq!(backoff(&region), 1);
        write_until(&region, 36 * 1024, false, &mut n);
        wait_for_compactions(&engine, 3);
        let rows = region.scan_all(&Scan::new()).unwrap();
        assert_eq!(rows.len() as u64, n);
    }
}

#[test]
fn no_background_compaction_when_off_or_when_flushes_keep_every_version() {
    let (_dir, engine, region) = open(InMemoryCompaction::None);
    let mut n = 0;
    write_until(&region, 40 * 1024, true, &mut n);
    wait_idle(&region);
    assert_eq!(engine.stats().memstore_compactions, 0);

    let mut opts = EngineOptions::for_tests();
    opts.memstore.drop_hidden_versions = false;
    assert_eq!(opts.memstore.in_memory_flush_bytes(), None);
    opts.memstore.drop_hidden_versions = true;
    opts.memstore.in_memory_flush_factor = 0.0625;
    assert_eq!(opts.memstore.in_memory_flush_bytes(), Some(16 * 1024));
    opts.memstore.in_memory_flush_factor = 0.0;
    let err = opts.validate().unwrap_err().to_string();
    assert!(err.contains("memstore.in_memory_flush_factor"), "{err}");
}
