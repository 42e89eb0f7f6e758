//! Compaction and memory governance behaviour: what major compaction drops and keeps,
//! readers during compactions, the major schedule under an injected clock, blocking
//! store files, and write stalls under a tiny memory budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use strata_storage::compaction::schedule;
use strata_storage::{
    ByteSize, CompactionKind, Engine, EngineOptions, Error, FamilyOptions, Get, ManualClock,
    Mutation, Region, RegionDescriptor, RowMutation, Scan,
};

fn poll_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn region_with(engine: &Engine, dir: &std::path::Path, family: FamilyOptions) -> Arc<Region> {
    engine
        .create_region(
            &dir.join("r"),
            RegionDescriptor::whole_table("t", "r", vec![family]),
        )
        .unwrap()
}

type RowCells = (Bytes, Vec<(Bytes, u64, Bytes)>);

fn all_rows(region: &Region) -> Vec<RowCells> {
    region
        .scan_all(&Scan::new().versions(10))
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.row,
                r.cells
                    .into_iter()
                    .map(|c| (c.qualifier, c.timestamp, c.value))
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn major_compaction_drops_deleted_expired_and_surplus_versions() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_000_000_000);
    // Flushes write every entry, so the compaction is what drops them.
    let mut opts = EngineOptions::for_tests();
    opts.memstore.drop_hidden_versions = false;
    let engine = Engine::open_with_clock(opts, clock.clone()).unwrap();
    let mut f = FamilyOptions::new("f");
    f.max_versions = 2;
    f.min_versions = 1;
    f.ttl_seconds = Some(100);
    let region = region_with(&engine, dir.path(), f);
    let now = 1_000_000_000u64;
    let put = |row: &str, ts: u64| {
        region
            .mutate(
                &RowMutation::new(row.to_owned()).put_at("f", "q", ts, "v"),
                None,
            )
            .unwrap()
    };
    // a: five versions, two survive (max_versions).
    for i in 0..5 {
        put("a", now - 10 + i);
    }
    region.flush().unwrap();
    // b: deleted column; c: deleted family; d: old versions past the TTL, one kept (min_versions).
    put("b", now - 5);
    let del = |row: &str, op| {
        region
            .mutate(&RowMutation::new(row.to_owned()).push(op), None)
            .unwrap()
    };
    del(
        "b",
        Mutation::DeleteColumn {
            family: "f".into(),
            qualifier: "q".into(),
            timestamp: None,
        },
    );
    region.flush().unwrap();
    put("c", now - 5);
    del(
        "c",
        Mutation::DeleteFamily {
            family: "f".into(),
            timestamp: None,
        },
    );
    put("d", now - 500_000);
    put("d", now - 400_000);
    put("d", now - 300_000);
    region.flush().unwrap();
    let before = all_rows(&region);
    let st = region.status();
    assert_eq!(st.store_files["f"], 3);
    assert_eq!(st.store_file_entries, 5 + 2 + 2 + 3);

    let report = region.compact(CompactionKind::Major).unwrap();
    let after = all_rows(&region);
    assert_eq!(before, after, "reads are unchanged by the compaction");
    let st = region.status();
    assert_eq!(st.store_files["f"], 1);
    // a: 2 versions, d: 1 version kept by min_versions; b, c and all markers gone.
    assert_eq!(st.store_file_entries, 3, "{report:?}");
    assert!(report.bytes_written() < report.bytes_read(), "{report:?}");
    assert_eq!(
        after.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>(),
        vec![Bytes::from("a"), Bytes::from("d")]
    );
    assert_eq!(
        after[1].1.len(),
        1,
        "min_versions keeps one expired version of d"
    );
    assert_eq!(region.status().last_major_compaction_ms, Some(now));
    // Everything expired and min_versions 0: the store empties.
    drop(region);
}

#[test]
fn minor_compaction_keeps_markers_and_merges_files() {
    let dir = tempfile::tempdir().unwrap();
    // Flushes write every entry (the put hidden by its marker too).
    let mut opts = EngineOptions::for_tests();
    opts.memstore.drop_hidden_versions = false;
    let engine = Engine::open(opts).unwrap();
    let region = region_with(&engine, dir.path(), FamilyOptions::new("f"));
    for i in 0..3 {
        region
            .mutate(&RowMutation::new(format!("r{i}")).put("f", "q", "v"), None)
            .unwrap();
        region
            .mutate(
                &RowMutation::new(format!("r{i}")).push(Mutation::DeleteColumn {
                    family: "f".into(),
                    qualifier: "q".into(),
                    timestamp: None,
                }),
                None,
            )
            .unwrap();
        region.flush().unwrap();
    }
    // The flushes queued a background minor compaction; run one explicitly as well.
    let _ = region.compact(CompactionKind::Minor).unwrap();
    poll_until("minor compaction", Duration::from_secs(20), || {
        region.status().store_files["f"] == 1
    });
    assert_eq!(
        region.status().store_file_entries,
        6,
        "minor compaction keeps markers and puts"
    );
    assert!(region.scan_all(&Scan::new()).unwrap().is_empty());
}

#[test]
fn readers_see_each_row_exactly_once_across_compactions() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::for_tests()).unwrap();
    let mut f = FamilyOptions::new("f");
    f.block_size_bytes = 512;
    let region = region_with(&engine, dir.path(), f);
    const ROWS: usize = 3000;
    for i in 0..ROWS {
        region
            .mutate(
                &RowMutation::new(format!("row{i:06}")).put("f", "q", format!("{i}")),
                None,
            )
            .unwrap();
        if i % 500 == 499 {
            region.flush().unwrap();
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let compactor = {
        let (region, stop) = (region.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 200 {
                region
                    .mutate(
                        &RowMutation::new(format!("row{:06}", n % ROWS)).put(
                            "f",
                            "q",
                            format!("{}", n % ROWS),
                        ),
                        None,
                    )
                    .unwrap();
                region
                    .compact(if n % 2 == 0 {
                        CompactionKind::Major
                    } else {
                        CompactionKind::Minor
                    })
                    .unwrap();
                n += 1;
            }
            n
        })
    };
    for round in 0..20 {
        let mut scanner = region.scan(&Scan::new()).unwrap();
        let mut seen = 0;
        let mut last: Option<Bytes> = None;
        while !scanner.is_done() {
            for r in scanner.next_batch(97, 1 << 20).unwrap() {
                assert!(
                    last.as_ref().is_none_or(|l| *l < r.row),
                    "round {round}: order or duplicate at {:?}",
                    r.row
                );
                assert_eq!(r.cells.len(), 1);
                last = Some(r.row);
                seen += 1;
            }
        }
        assert_eq!(seen, ROWS, "round {round}: every row exactly once");
    }
    stop.store(true, Ordering::Relaxed);
    assert!(compactor.join().unwrap() > 0);
}

#[test]
fn major_compaction_schedule_follows_the_clock_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_700_000_000_000u64 - (1_700_000_000_000u64 % 86_400_000); // midnight UTC
    let clock = ManualClock::new(t0 + 12 * 3_600_000); // noon
    let mut opts = EngineOptions::for_tests();
    opts.compaction.major_period = Duration::from_secs(24 * 3600);
    opts.compaction.major_jitter = 0.5;
    opts.compaction.check_interval = Duration::from_secs(3600); // the chore thread stays out of the way
    opts.compaction.offpeak_hours = Some("1-5".into());
    let engine = Engine::open_with_clock(opts.clone(), clock.clone()).unwrap();
    let region = region_with(&engine, dir.path(), FamilyOptions::new("f"));
    region
        .mutate(&RowMutation::new("r").put("f", "q", "v"), None)
        .unwrap();
    region.flush().unwrap();
    let created = t0 + 12 * 3_600_000;
    let due = schedule::next_major_due_ms(&opts.compaction, region.name(), created).unwrap();
    let period = 24 * 3_600_000u64;
    assert!(
        due >= created + period / 2 && due < created + period * 3 / 2,
        "due within period +- jitter"
    );

    let majors = |r: &Region| r.status().last_major_compaction_ms;
    // Before the due time, nothing happens even inside the window.
    clock.set(due - 1);
    engine.run_chores();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(majors(&region), None);
    // After it, but outside the off-peak window: still nothing.
    let mut t = due;
    while schedule::in_offpeak(Some((1, 5)), ((t / 3_600_000) % 24) as u32) {
        t += 3_600_000;
    }
    clock.set(t);
    engine.run_chores();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(majors(&region), None, "not outside the off-peak window");
    // Inside the window after the due time: it runs.
    while !schedule::in_offpeak(Some((1, 5)), ((t / 3_600_000) % 24) as u32) {
        t += 3_600_000;
    }
    clock.set(t);
    engine.run_chores();
    poll_until(
        "scheduled major compaction",
        Duration::from_secs(20),
        || majors(&region) == Some(t),
    );

    // Restart: the time of the last major compaction is persisted, so the next one is a
    // full period away.
    region.close(true).unwrap();
    drop(region);
    drop(engine);
    let engine = Engine::open_with_clock(opts.clone(), clock.clone()).unwrap();
    let region = engine.open_region(&dir.path().join("r")).unwrap();
    assert_eq!(majors(&region), Some(t));
    clock.set(t + 3_600_000);
    engine.run_chores();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        majors(&region),
        Some(t),
        "no early compaction after restart"
    );
    assert_eq!(engine.compaction_stats().completed, 0);
}

#[test]
fn flushes_wait_for_compaction_past_blocking_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EngineOptions::for_tests();
    opts.memstore.flush_size = ByteSize::kib(16);
    opts.compaction.min_files = 3;
    opts.compaction.blocking_files = 4;
    opts.compaction.blocking_wait = Duration::from_secs(30);
    // Slow compactions, so flushes really have to wait for them.
    opts.compaction.max_bytes_per_sec = ByteSize::kib(512);
    let engine = Engine::open(opts).unwrap();
    let region = region_with(&engine, dir.path(), FamilyOptions::new("f"));
    let mut max_files = 0;
    for i in 0..3000u32 {
        region
            .mutate(
                &RowMutation::new(format!("row{i:06}")).put("f", "q", vec![b'x'; 100]),
                None,
            )
            .unwrap();
        max_files = max_files.max(region.status().store_files["f"]);
    }
    region.flush().unwrap();
    assert!(
        max_files <= 5,
        "store files reached {max_files}, blocking_files is 4"
    );
    assert!(
        engine.stats().flush_blocked_micros > 0,
        "some flush waited for compaction"
    );
    assert_eq!(region.scan_all(&Scan::new()).unwrap().len(), 3000);
}

#[test]
fn write_stalls_are_retryable_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EngineOptions::for_tests();
    opts.memstore.flush_size = ByteSize::kib(64);
    opts.memstore.global_high = Some(ByteSize::kib(256));
    opts.memstore.global_low = Some(ByteSize::kib(192));
    opts.memstore.stall_timeout = Duration::from_millis(20);
    let engine = Arc::new(Engine::open(opts).unwrap());
    let region = region_with(&engine, dir.path(), FamilyOptions::new("f"));
    engine.pause_background_flushes(true);
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let region = region.clone();
            std::thread::spawn(move || {
                let (mut acked, mut stalls) = (Vec::new(), 0);
                for i in 0..2000u32 {
                    let row = format!("w{t}-{i:05}");
                    match region.mutate(
                        &RowMutation::new(row.clone()).put("f", "q", vec![b'v'; 200]),
                        None,
                    ) {
                        Ok(_) => acked.push(row),
                        Err(e @ Error::WriteStall(_)) => {
                            assert!(e.is_retryable());
                            assert!(e.to_string().contains("memstore."), "{e}");
                            stalls += 1;
                            if stalls > 20 {
                                break;
                            }
                        }
                        Err(e) => panic!("unexpected error {e}"),
                    }
                }
                (acked, stalls)
            })
        })
        .collect();
    let results: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let stalls: usize = results.iter().map(|r| r.1).sum();
    assert!(stalls > 0, "writers hit the memory limit");
    let m = engine.memory_stats();
    // Bounded: at most one mutation per writer past the high-water mark.
    assert!(
        m.global_memstore_bytes <= 256 * 1024 + 8 * 1024,
        "memstores grew to {}",
        m.global_memstore_bytes
    );
    assert!(m.stall_rejections > 0);

    // Flushes resume: writes succeed again.
    engine.pause_background_flushes(false);
    let mut ok_again = false;
    for i in 0..200 {
        match region.mutate(
            &RowMutation::new(format!("after{i}")).put("f", "q", "v"),
            None,
        ) {
            Ok(_) => {
                ok_again = true;
                break;
            }
            Err(e) => assert!(e.is_retryable(), "{e}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ok_again, "writes succeed once flushes catch up");
    for (acked, _) in &results {
        for row in acked {
            assert!(
                region.get(&Get::new(row.clone())).unwrap().is_some(),
                "acknowledged {row} lost"
            );
        }
    }
}
