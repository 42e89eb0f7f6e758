//! Async row mutations: durable and visible only when resolved, grouped into one
//! fsync, never stuck when dropped, stepping aside to the blocking path when they would
//! wait, and failing the region when the WAL fails.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::engine::Engine;
use crate::mutation::{Mutation, RowMutation};
use crate::options::{ByteSize, Durability, EngineOptions, FamilyOptions};
use crate::query::Get;
use crate::region::{Region, RegionDescriptor};
use crate::wal::writer::FaultPoint;

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives `f` on this thread (the engine needs no runtime); bounded at 30 s.
fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        assert!(Instant::now() < deadline, "future did not resolve in 30 s");
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

fn open(dir: &std::path::Path) -> (Engine, Arc<Region>) {
    let mut opts = EngineOptions::for_tests();
    opts.wal.durability = Durability::Fsync;
    opts.memstore.flush_size = ByteSize::mib(64);
    let engine = Engine::open(opts).unwrap();
    let path = dir.join("t").join("r1");
    let region = if path.exists() {
        engine.open_region(&path).unwrap()
    } else {
        let desc = RegionDescriptor::whole_table("t", "r1", vec![FamilyOptions::new("f")]);
        engine.create_region(&path, desc).unwrap()
    };
    (engine, region)
}

fn put(row: &str, value: &str) -> RowMutation {
    RowMutation::new(row.to_owned()).put("f", "q", value.to_owned())
}

fn value(region: &Region, row: &str) -> Option<String> {
    let r = region.get(&Get::new(row.to_owned())).unwrap()?;
    r.value(b"f", b"q")
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
}

#[test]
fn writes_share_one_fsync_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, region) = open(dir.path());
    let before = engine.stats().wal_syncs;
    let pending: Vec<_> = (0..10)
        .map(|i| {
            region
                .try_mutate_start(&put(&format!("r{i}"), &format!("v{i}")), None)
                .unwrap()
                .expect("nothing to wait for")
        })
        .collect();
    let seqs: Vec<u64> = pending.into_iter().map(|p| block_on(p).unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(
        engine.stats().wal_syncs - before,
        1,
        "the first poll led one batch holding all ten records"
    );
    for i in 0..10 {
        assert_eq!(value(&region, &format!("r{i}")), Some(format!("v{i}")));
    }
    region.close(false).unwrap();
    drop(region);
    drop(engine);
    let (_engine, region) = open(dir.path());
    for i in 0..10 {
        assert_eq!(
            value(&region, &format!("r{i}")),
            Some(format!("v{i}")),
            "replayed"
        );
    }
}

#[test]
fn a_pending_write_is_invisible_until_it_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, region) = open(dir.path());
    let mut p = region
        .try_mutate_start(&put("row", "new"), None)
        .unwrap()
        .unwrap();
    let waker = Waker::noop();
    let first = std::pin::Pin::new(&mut p).poll(&mut Context::from_waker(waker));
    assert!(first.is_pending(), "not durable at the first poll");
    // Durable or not by now, it completes only in its own poll: readers cannot see it.
    assert_eq!(value(&region, "row"), None);
    block_on(p).unwrap();
    assert_eq!(value(&region, "row"), Some("new".into()));
}

#[test]
fn a_dropped_pending_write_completes_and_later_writes_are_visible() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, region) = open(dir.path());
    let p = region
        .try_mutate_start(&put("a", "1"), None)
        .unwrap()
        .unwrap();
    drop(p);
    region.mutate(&put("b", "2"), None).unwrap();
    assert_eq!(value(&region, "a"), Some("1".into()));
    assert_eq!(value(&region, "b"), Some("2".into()));
    let p = region
        .try_mutate_start(&put("c", "3"), None)
        .unwrap()
        .unwrap();
    assert_eq!(p.wait().unwrap(), 3);
    assert_eq!(value(&region, "c"), Some("3".into()));
}

#[test]
fn dropping_a_later_write_does_not_wait_for_an_earlier_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, region) = open(dir.path());
    let first = region
        .try_mutate_start(&put("x", "1"), None)
        .unwrap()
        .unwrap();
    let second = region
        .try_mutate_start(&put("y", "2"), None)
        .unwrap()
        .unwrap();
    // As a runtime dropping its tasks at shutdown might: the later one first. Waiting
    // for visibility here would wait for `first` forever.
    drop(second);
    assert_eq!(
        value(&region, "y"),
        None,
        "not visible before the earlier write"
    );
    block_on(first).unwrap();
    assert_eq!(value(&region, "x"), Some("1".into()));
    assert_eq!(value(&region, "y"), Some("2".into()));
}

#[test]
fn the_fast_path_steps_aside_when_it_would_wait_or_read() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, region) = open(dir.path());
    {
        let _held = region.row_lock(b"busy");
        assert!(
            region
                .try_mutate_start(&put("busy", "x"), None)
                .unwrap()
                .is_none()
        );
    }
    let latest = RowMutation {
        row: "busy".into(),
        ops: vec![Mutation::Delete {
            family: "f".into(),
            qualifier: "q".into(),
            timestamp: None,
        }],
    };
    assert!(region.try_mutate_start(&latest, None).unwrap().is_none());
    // Bad input is reported as by `mutate`, and changes nothing.
    let bad = RowMutation::new("busy").put("nope", "q", "v");
    assert!(region.try_mutate_start(&bad, None).is_err());
    assert!(
        region
            .try_mutate_start(&put("busy", "x"), None)
            .unwrap()
            .is_some()
    );
}

#[test]
fn a_failed_wal_fails_the_write_and_the_region() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, region) = open(dir.path());
    region.wal.set_fault_hook(Some(Arc::new(|p| {
        if p == FaultPoint::Sync {
            Err(std::io::Error::other("injected fsync failure"))
        } else {
            Ok(())
        }
    })));
    let p = region
        .try_mutate_start(&put("row", "v"), None)
        .unwrap()
        .unwrap();
    let err = block_on(p).unwrap_err();
    assert!(err.to_string().contains("injected fsync failure"), "{err}");
    assert!(
        region.mutate(&put("other", "v"), None).is_err(),
        "region failed"
    );
    assert!(region.try_mutate_start(&put("other", "v"), None).is_err());
}
