//! Writer tests: round trip through rolled segments, group commit, async syncing,
//! backpressure, segment deletion, reopen after a torn tail, and the failed-WAL rule.

use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};

use super::*;
use crate::wal::{replay, segment_file_name, test_dir};

type Records = Vec<(u64, Vec<u8>)>;

fn opts() -> WalOptions {
    WalOptions {
        segment_size_bytes: 1 << 20,
        async_sync_interval: Duration::from_secs(3600),
        max_pending_bytes: 1 << 20,
    }
}

fn open(dir: &Path, next_seq: u64, opts: WalOptions) -> (Arc<Wal>, Arc<Stats>) {
    let stats = Arc::new(Stats::default());
    let existing = replay(dir, 0, |_, _| Ok(())).unwrap().segments;
    (
        Wal::open(dir, next_seq, existing, opts, Arc::clone(&stats)).unwrap(),
        stats,
    )
}

fn read_all(dir: &Path, after_seq: u64) -> Records {
    let mut got = Vec::new();
    replay(dir, after_seq, |seq, p| {
        got.push((seq, p.to_vec()));
        Ok(())
    })
    .unwrap();
    got
}

/// Polls `cond` until it holds or `limit` passes.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(2));
    }
    cond()
}

fn failing_hook(at: FaultPoint) -> Option<Arc<FaultHook>> {
    Some(Arc::new(move |p: FaultPoint| {
        if p == at {
            Err(io::Error::other("injected fault"))
        } else {
            Ok(())
        }
    }))
}

#[test]
fn random_records_round_trip_through_rolled_segments() {
    let dir = test_dir();
    let wal_dir = dir.path().join("wal");
    let small = WalOptions {
        segment_size_bytes: 2048,
        ..opts()
    };
    let (wal, stats) = open(&wal_dir, 1, small);
    let mut rng = StdRng::seed_from_u64(0x5EED);
    let mut written = Vec::new();
    let mut seq = 0;
    for i in 0..300 {
        seq += rng.random_range(1..3u64); // seqs may skip (Skip-durability writes)
        let mut p = vec![0u8; rng.random_range(0..200usize)];
        rng.fill_bytes(&mut p);
        wal.append(seq, &p).unwrap();
        written.push((seq, p));
        let durability = if i % 3 == 0 {
            Durability::Fsync
        } else {
            Durability::Flush
        };
        wal.sync(seq, durability).unwrap();
    }
    wal.close().unwrap();
    assert!(
        wal.segment_count() > 5,
        "only {} segments",
        wal.segment_count()
    );
    assert_eq!(stats.snapshot().wal_records, 300);
    assert_eq!(read_all(&wal_dir, 0), written);
    let cut = written[150].0;
    let tail: Records = written.iter().filter(|r| r.0 > cut).cloned().collect();
    assert_eq!(read_all(&wal_dir, cut), tail);
    let out = replay(&wal_dir, 0, |_, _| Ok(())).unwrap();
    assert_eq!(out.segments.len(), wal.segment_count());
    assert_eq!(out.last_seq, Some(seq));
}

/// On the real disk (fsync costs milliseconds), so concurrent writers must share fsyncs.
#[test]
fn concurrent_fsync_writers_share_fsyncs() {
    const THREADS: u64 = 16;
    const PER_THREAD: u64 = 50;
    let dir = tempfile::tempdir().unwrap();
    let (wal, stats) = open(dir.path(), 1, opts());
    let syncs_at_open = stats.snapshot().wal_syncs;
    // Stands in for the region write lock: seqs are assigned and appended under it.
    let region_lock = Arc::new(Mutex::new(0u64));
    let start = Arc::new(Barrier::new(THREADS as usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (wal, region_lock, start) = (wal.clone(), region_lock.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                for i in 0..PER_THREAD {
                    let seq = {
                        let mut next = region_lock.lock();
                        *next += 1;
                        wal.append(*next, format!("t{t} i{i}").as_bytes()).unwrap();
                        *next
                    };
                    wal.sync(seq, Durability::Fsync).unwrap();
                    assert!(wal.durable_seq() >= seq);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let total = THREADS * PER_THREAD;
    assert_eq!(wal.durable_seq(), total);
    let syncs = stats.snapshot().wal_syncs - syncs_at_open;
    assert!(
        syncs < total,
        "{syncs} fsyncs for {total} records: no group commit"
    );
    wal.close().unwrap();
    let got = read_all(dir.path(), 0);
    assert_eq!(
        got.iter().map(|r| r.0).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
}

#[test]
fn async_records_become_durable_without_sync_and_close_syncs_the_rest() {
    let dir = test_dir();
    let fast = WalOptions {
        async_sync_interval: Duration::from_millis(20),
        ..opts()
    };
    let (wal, _) = open(dir.path(), 1, fast);
    for seq in 1..=10 {
        wal.append(seq, b"async").unwrap();
        wal.sync(seq, Durability::Async).unwrap();
    }
    assert!(eventually(Duration::from_secs(10), || wal.durable_seq() == 10));
    for seq in 11..=15 {
        wal.append(seq, b"async").unwrap();
        wal.sync(seq, Durability::Async).unwrap();
    }
    wal.close().unwrap();
    assert_eq!(wal.durable_seq(), 15);
    assert_eq!(read_all(dir.path(), 0).len(), 15);
    wal.close().unwrap(); // idempotent
    assert!(matches!(wal.append(16, b"x"), Err(Error::Closed(_))));
}

#[test]
fn dropping_the_wal_stops_its_syncer_and_syncs() {
    let dir = test_dir();
    let (wal, _) = open(dir.path(), 1, opts());
    wal.append(1, b"a").unwrap();
    wal.sync(1, Durability::Async).unwrap(); // starts the syncer (interval: 1 hour)
    let inner = Arc::downgrade(&wal.inner);
    drop(wal);
    // The syncer thread held the only other reference: it must have exited.
    assert!(inner.upgrade().is_none(), "syncer thread still alive");
    assert_eq!(read_all(dir.path(), 0).len(), 1);
}

#[test]
fn flush_writes_without_fsync() {
    let dir = test_dir();
    let (wal, stats) = open(dir.path(), 1, opts());
    let before = stats.snapshot();
    wal.append(1, b"flushed").unwrap();
    wal.sync(1, Durability::Flush).unwrap();
    wal.sync(1, Durability::Skip).unwrap();
    let after = stats.snapshot();
    assert_eq!(after.wal_syncs, before.wal_syncs);
    assert_eq!(
        after.wal_bytes - before.wal_bytes,
        (RECORD_OVERHEAD + 7) as u64
    );
    assert_eq!(wal.durable_seq(), 0);
    wal.sync(1, Durability::Fsync).unwrap();
    assert_eq!(wal.durable_seq(), 1);
    assert_eq!(stats.snapshot().wal_syncs, before.wal_syncs + 1);
    wal.sync(1, Durability::Fsync).unwrap(); // already durable: no second fsync
    assert_eq!(stats.snapshot().wal_syncs, before.wal_syncs + 1);
}

#[test]
fn backpressure_bounds_the_buffer() {
    let dir = test_dir();
    let tight = WalOptions {
        max_pending_bytes: 1000,
        ..opts()
    };
    let (wal, stats) = open(dir.path(), 1, tight);
    let syncs = stats.snapshot().wal_syncs;
    for seq in 1..=200 {
        wal.append(seq, &[seq as u8; 100]).unwrap();
        assert!(
            wal.pending_bytes() <= 1000,
            "{} pending",
            wal.pending_bytes()
        );
    }
    assert!(stats.snapshot().wal_bytes > 0, "backpressure never wrote");
    assert_eq!(
        stats.snapshot().wal_syncs,
        syncs,
        "backpressure should write, not fsync"
    );
    // One record over the limit is still accepted on its own.
    wal.append(201, &[7; 5000]).unwrap();
    wal.close().unwrap();
    assert_eq!(read_all(dir.path(), 0).len(), 201);
}

#[test]
fn mark_flushed_deletes_exactly_the_covered_segments() {
    let dir = test_dir();
    let small = WalOptions {
        segment_size_bytes: 512,
        ..opts()
    };
    let (wal, _) = open(dir.path(), 1, small);
    for seq in 1..=60 {
        wal.append(seq, &[seq as u8; 90]).unwrap();
        wal.sync(seq, Durability::Flush).unwrap();
    }
    wal.sync(60, Durability::Fsync).unwrap();
    let segments = replay(dir.path(), 0, |_, _| Ok(())).unwrap().segments;
    assert!(segments.len() >= 6, "{segments:?}");
    let current = segments.last().unwrap().path.clone();
    for flushed in [0, 3, segments[2].max_seq.unwrap(), 41, 60, 100] {
        wal.mark_flushed(flushed).unwrap();
        let mut on_disk: Vec<PathBuf> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        on_disk.sort();
        let expected: Vec<PathBuf> = segments
            .iter()
            .filter(|s| s.path == current || s.max_seq.is_none_or(|m| m > flushed))
            .map(|s| s.path.clone())
            .collect();
        assert_eq!(on_disk, expected, "after mark_flushed({flushed})");
        assert_eq!(wal.segment_count(), expected.len());
        let remaining = read_all(dir.path(), flushed);
        assert_eq!(remaining.len() as u64, 60 - flushed.min(60));
        let first_kept = read_all(dir.path(), 0).first().map(|r| r.0);
        assert!(first_kept.is_none_or(|s| s <= flushed + 1));
    }
    wal.close().unwrap();
}

#[test]
fn roll_starts_a_new_segment_only_when_needed() {
    let dir = test_dir();
    let (wal, _) = open(dir.path(), 1, opts());
    wal.roll().unwrap();
    assert_eq!(
        wal.segment_count(),
        1,
        "rolling an empty segment is a no-op"
    );
    for seq in 1..=3 {
        wal.append(seq, b"r").unwrap();
    }
    wal.roll().unwrap();
    assert_eq!(wal.segment_count(), 2);
    assert_eq!(wal.durable_seq(), 3, "a rolled segment is fsynced");
    assert!(dir.path().join(segment_file_name(4)).exists());
    wal.mark_flushed(3).unwrap();
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    wal.append(4, b"after roll").unwrap();
    wal.close().unwrap();
    assert_eq!(read_all(dir.path(), 0), vec![(4, b"after roll".to_vec())]);
}

#[test]
fn reopen_after_torn_tail_continues_cleanly() {
    let dir = test_dir();
    let (wal, _) = open(dir.path(), 1, opts());
    for seq in 1..=20 {
        wal.append(seq, b"before").unwrap();
    }
    wal.close().unwrap();
    drop(wal);
    // A writer that died mid-record: half a header at the end of the last segment.
    let last = dir.path().join(segment_file_name(1));
    let mut f = fs::OpenOptions::new().append(true).open(&last).unwrap();
    f.write_all(&encode_header(21, 100)[..9]).unwrap();
    drop(f);
    let out = replay(dir.path(), 0, |_, _| Ok(())).unwrap();
    assert!(out.torn_tail_dropped);
    assert_eq!(out.last_seq, Some(20));
    for round in 0..2 {
        // Round 1 reopens with nothing appended: the empty segment 21 is replaced.
        let out = replay(dir.path(), 0, |_, _| Ok(())).unwrap();
        let next = out.last_seq.unwrap() + 1;
        let wal = Wal::open(dir.path(), next, out.segments, opts(), Arc::default()).unwrap();
        if round == 0 {
            for seq in 21..=30 {
                wal.append(seq, b"after").unwrap();
            }
        }
        wal.close().unwrap();
    }
    let out = replay(dir.path(), 0, |_, _| Ok(())).unwrap();
    assert!(!out.torn_tail_dropped);
    assert_eq!(out.records, 30);
}

#[test]
fn bad_arguments_are_rejected() {
    let dir = test_dir();
    assert!(matches!(
        Wal::open(dir.path(), 0, Vec::new(), opts(), Arc::default()),
        Err(Error::InvalidArgument(_))
    ));
    let (wal, _) = open(dir.path(), 5, opts());
    let huge = vec![0u8; MAX_PAYLOAD_BYTES + 1];
    assert!(matches!(
        wal.append(5, &huge),
        Err(Error::LimitExceeded { .. })
    ));
    assert!(matches!(
        wal.append(4, b"old"),
        Err(Error::InvalidArgument(_))
    ));
    wal.append(5, b"ok").unwrap();
    assert!(matches!(
        wal.append(5, b"again"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        wal.sync(6, Durability::Fsync),
        Err(Error::InvalidArgument(_))
    ));
    wal.close().unwrap();
    // A segment with records at or above next_seq must not be overwritten.
    let existing = replay(dir.path(), 0, |_, _| Ok(())).unwrap().segments;
    let reopened = Wal::open(dir.path(), 5, existing.clone(), opts(), Arc::default());
    assert!(matches!(reopened, Err(Error::InvalidArgument(_))));
    assert!(matches!(
        Wal::open(dir.path(), 5, Vec::new(), opts(), Arc::default()),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn failed_fsync_fails_the_batch_and_everything_after() {
    let dir = test_dir();
    let (wal, _) = open(dir.path(), 1, opts());
    wal.append(1, b"durable").unwrap();
    wal.sync(1, Durability::Fsync).unwrap();
    for seq in 2..=9 {
        wal.append(seq, b"doomed").unwrap();
    }
    wal.set_fault_hook(failing_hook(FaultPoint::Sync));
    let waiters: Vec<_> = (2..=9)
        .map(|seq| {
            let wal = wal.clone();
            thread::spawn(move || wal.sync(seq, Durability::Fsync))
        })
        .collect();
    for w in waiters {
        assert!(matches!(w.join().unwrap(), Err(Error::Io { .. })));
    }
    wal.set_fault_hook(None);
    assert_eq!(wal.durable_seq(), 1);
    assert!(matches!(wal.append(10, b"later"), Err(Error::Io { .. })));
    assert!(wal.sync(9, Durability::Flush).is_err());
    assert!(wal.sync(9, Durability::Async).is_err());
    assert!(wal.roll().is_err());
    wal.sync(1, Durability::Fsync).unwrap(); // fsynced before the failure: still durable
    assert!(wal.close().is_err());
    assert!(wal.close().is_err());
}

#[test]
fn failed_write_is_never_acknowledged() {
    let dir = test_dir();
    let (wal, _) = open(dir.path(), 1, opts());
    wal.append(1, b"lost").unwrap();
    wal.set_fault_hook(failing_hook(FaultPoint::Write));
    let err = wal.sync(1, Durability::Flush).unwrap_err();
    assert!(err.to_string().contains("injected fault"), "{err}");
    let err = wal.sync(1, Durability::Fsync).unwrap_err();
    assert!(err.to_string().contains("WAL failed"), "{err}");
    drop(wal);
    assert!(read_all(dir.path(), 0).is_empty());
}

#[test]
fn append_does_not_wait_for_an_fsync_in_progress() {
    let dir = test_dir();
    let (wal, _) = open(dir.path(), 1, opts());
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let gate = Mutex::new(Some((entered_tx, release_rx)));
    wal.set_fault_hook(Some(Arc::new(move |p: FaultPoint| {
        if p == FaultPoint::Sync
            && let Some((entered, release)) = gate.lock().take()
        {
            entered.send(()).unwrap();
            release.recv().unwrap();
        }
        Ok(())
    })));
    wal.append(1, b"first").unwrap();
    let leader = {
        let wal = wal.clone();
        thread::spawn(move || wal.sync(1, Durability::Fsync))
    };
    entered_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    // The leader is inside its fsync now; appends must still go through.
    let (done_tx, done_rx) = mpsc::channel();
    let appender = {
        let wal = wal.clone();
        thread::spawn(move || {
            wal.append(2, b"second").unwrap();
            wal.append(3, b"third").unwrap();
            done_tx.send(()).unwrap();
        })
    };
    let appended = done_rx.recv_timeout(Duration::from_secs(10));
    release_tx.send(()).unwrap();
    appended.expect("append blocked behind an fsync");
    appender.join().unwrap();
    leader.join().unwrap().unwrap();
    assert_eq!(
        wal.durable_seq(),
        1,
        "records 2 and 3 were not in the leader's batch"
    );
    wal.sync(3, Durability::Fsync).unwrap();
    assert_eq!(wal.durable_seq(), 3);
}

/// Writers with mixed durabilities race with size rolls, forced rolls and segment
/// deletion: no deadlock, every acknowledged Fsync is durable, nothing unflushed is lost.
#[test]
fn mixed_durability_writers_race_with_roll_and_mark_flushed() {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 400;
    let dir = test_dir();
    let small = WalOptions {
        segment_size_bytes: 4096,
        async_sync_interval: Duration::from_millis(5),
        max_pending_bytes: 2048,
    };
    let (wal, _) = open(dir.path(), 1, small);
    let region_lock = Arc::new(Mutex::new(0u64));
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (wal, region_lock) = (wal.clone(), region_lock.clone());
            thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(t);
                for _ in 0..PER_THREAD {
                    let durability = match rng.random_range(0..3) {
                        0 => Durability::Async,
                        1 => Durability::Flush,
                        _ => Durability::Fsync,
                    };
                    let seq = {
                        let mut next = region_lock.lock();
                        *next += 1;
                        wal.append(*next, &vec![t as u8; rng.random_range(1..300)])
                            .unwrap();
                        *next
                    };
                    wal.sync(seq, durability).unwrap();
                    if durability == Durability::Fsync {
                        assert!(wal.durable_seq() >= seq);
                    }
                }
            })
        })
        .collect();
    // The flusher stands in for memstore flushes: roll, then drop covered segments.
    let mut flushed = 0;
    let mut rounds = 0;
    while !writers.iter().all(|w| w.is_finished()) || rounds < 20 {
        wal.roll().unwrap();
        flushed = wal.durable_seq() / 2;
        wal.mark_flushed(flushed).unwrap();
        rounds += 1;
    }
    for w in writers {
        w.join().unwrap();
    }
    wal.close().unwrap();
    let total = THREADS * PER_THREAD;
    let got: Vec<u64> = read_all(dir.path(), flushed).iter().map(|r| r.0).collect();
    assert_eq!(got, (flushed + 1..=total).collect::<Vec<_>>());
}
