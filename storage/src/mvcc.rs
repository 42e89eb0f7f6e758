//! Multi-version concurrency control: sequence ids and the read point.
//!
//! Every row mutation gets the next sequence id from [`Mvcc::begin`] (called under the
//! region's write lock, so ids enter the WAL and memstore in order). Its entries go into
//! the memstore at once but stay invisible: readers only see entries whose seq is
//! `<= read_point`. When the mutation is durable, [`Mvcc::complete`] marks it done and the
//! read point advances over the longest prefix of completed ids. So a reader never sees
//! half of a row mutation (all its cells share one seq), nor a write that is not yet
//! acknowledged-durable, nor a later write while an earlier one is still pending.
//!
//! Invariant: `read_point` = largest `s` such that every id `<= s` has completed.
//! Thread safety: one mutex guards the pending queue; `read_point` is an atomic that is
//! only written under that mutex and read lock-free by readers (Acquire/Release).
//! Waiting for visibility: threads block in [`Mvcc::wait_for`]; async writers register a
//! `Waker` with [`Mvcc::poll_visible`]. Both are woken by the `complete` that advances
//! the read point past their id, and both check and register under the same mutex, so
//! no wake-up is lost.

use std::collections::VecDeque;
use std::task::{Poll, Waker};

use crate::sync::{AtomicU64, Condvar, Mutex, Ordering, lock, wait};

#[derive(Debug)]
struct Pending {
    /// Sequence id of `done[0]`.
    first: u64,
    /// Completion flags of ids `first..first + done.len()`.
    done: VecDeque<bool>,
    /// Next id to hand out.
    next: u64,
    /// Async writers waiting until the read point reaches their id (at most one entry
    /// per id: a writer polled again replaces its waker).
    wakers: Vec<(u64, Waker)>,
    /// Threads blocked in [`Mvcc::wait_for`]. A condvar notify is a system call whether
    /// or not anyone waits (~5% of a single writer's CPU in a kvbench fillrandom
    /// profile), so `complete` notifies only when this is not zero.
    sleepers: usize,
}

/// Sequence ids and the read point of one region.
#[derive(Debug)]
pub(crate) struct Mvcc {
    read_point: AtomicU64,
    pending: Mutex<Pending>,
    advanced: Condvar,
}

impl Mvcc {
    /// Starts with every id `<= last_seq` already complete.
    pub(crate) fn new(last_seq: u64) -> Self {
        Mvcc {
            read_point: AtomicU64::new(last_seq),
            pending: Mutex::new(Pending {
                first: last_seq + 1,
                done: VecDeque::new(),
                next: last_seq + 1,
                wakers: Vec::new(),
                sleepers: 0,
            }),
            advanced: Condvar::new(),
        }
    }

    /// Hands out the next sequence id.
    pub(crate) fn begin(&self) -> u64 {
        let mut p = lock(&self.pending);
        let seq = p.next;
        p.next += 1;
        p.done.push_back(false);
        seq
    }

    /// The last id handed out (complete or not).
    pub(crate) fn last_assigned(&self) -> u64 {
        lock(&self.pending).next - 1
    }

    /// Marks `seq` complete and advances the read point as far as possible.
    pub(crate) fn complete(&self, seq: u64) {
        let mut p = lock(&self.pending);
        let Some(idx) = seq.checked_sub(p.first) else {
            return;
        };
        let Ok(idx) = usize::try_from(idx) else {
            return;
        };
        if let Some(flag) = p.done.get_mut(idx) {
            *flag = true;
        }
        let mut advanced = false;
        while p.done.front() == Some(&true) {
            p.done.pop_front();
            p.first += 1;
            advanced = true;
        }
        if advanced {
            let visible = p.first - 1;
            self.read_point.store(visible, Ordering::Release);
            let mut ready = Vec::new();
            if !p.wakers.is_empty() {
                let (now, later) = std::mem::take(&mut p.wakers)
                    .into_iter()
                    .partition(|(s, _)| *s <= visible);
                p.wakers = later;
                ready = now;
            }
            let notify = p.sleepers > 0;
            drop(p);
            if notify {
                self.advanced.notify_all();
            }
            for (_, w) in ready {
                w.wake();
            }
        }
    }

    /// `Ready` once the read point has reached `seq`; otherwise registers `waker`, which
    /// the `complete` that gets it there wakes.
    pub(crate) fn poll_visible(&self, seq: u64, waker: &Waker) -> Poll<()> {
        if self.read_point() >= seq {
            return Poll::Ready(());
        }
        let mut p = lock(&self.pending);
        if p.first > seq {
            return Poll::Ready(());
        }
        match p.wakers.iter_mut().find(|(s, _)| *s == seq) {
            Some((_, w)) => {
                if !w.will_wake(waker) {
                    *w = waker.clone();
                }
            }
            None => p.wakers.push((seq, waker.clone())),
        }
        Poll::Pending
    }

    /// Entries with seq `<=` this are visible.
    pub(crate) fn read_point(&self) -> u64 {
        self.read_point.load(Ordering::Acquire)
    }

    /// Blocks until the read point reaches `seq`.
    pub(crate) fn wait_for(&self, seq: u64) {
        if self.read_point() >= seq {
            return;
        }
        let mut p = lock(&self.pending);
        p.sleepers += 1;
        while p.first <= seq {
            p = wait(&self.advanced, p);
        }
        p.sleepers -= 1;
    }
}

#[cfg(all(test, not(strata_loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn read_point_waits_for_gaps() {
        let m = Mvcc::new(10);
        let a = m.begin();
        let b = m.begin();
        assert_eq!((a, b), (11, 12));
        m.complete(b);
        assert_eq!(m.read_point(), 10, "12 done but 11 pending");
        m.complete(a);
        assert_eq!(m.read_point(), 12);
        assert_eq!(m.last_assigned(), 12);
    }

    #[test]
    fn poll_visible_wakes_when_the_gap_closes() {
        use std::sync::atomic::{AtomicUsize, Ordering as O};
        use std::task::Wake;
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, O::SeqCst);
            }
        }
        let m = Mvcc::new(0);
        let (a, b) = (m.begin(), m.begin());
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        m.complete(b);
        assert!(m.poll_visible(b, &waker).is_pending(), "a is still pending");
        assert!(
            m.poll_visible(b, &waker).is_pending(),
            "polled twice: one entry"
        );
        assert_eq!(count.0.load(O::SeqCst), 0);
        m.complete(a);
        assert_eq!(count.0.load(O::SeqCst), 1, "woken once by the completion");
        assert!(m.poll_visible(b, &waker).is_ready());
        assert!(lock(&m.pending).wakers.is_empty());
    }

    #[test]
    fn wait_for_returns_after_completion() {
        let m = Arc::new(Mvcc::new(0));
        let s = m.begin();
        let m2 = m.clone();
        let t = std::thread::spawn(move || m2.wait_for(s));
        m.complete(s);
        t.join().unwrap();
        assert_eq!(m.read_point(), s);
    }
}

#[cfg(all(test, strata_loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicBool;

    /// Two writers complete out of order while a reader samples the read point: the
    /// reader must never observe a read point covering an id whose "data" (a flag set
    /// before `complete`) is not yet visible.
    #[test]
    fn read_point_never_exposes_incomplete_writes() {
        loom::model(|| {
            let m = Arc::new(Mvcc::new(0));
            let data: Arc<[AtomicBool; 3]> = Arc::new([
                AtomicBool::new(false),
                AtomicBool::new(false),
                AtomicBool::new(false),
            ]);
            let s1 = m.begin();
            let s2 = m.begin();
            let writers: Vec<_> = [s1, s2]
                .into_iter()
                .map(|s| {
                    let (m, data) = (m.clone(), data.clone());
                    loom::thread::spawn(move || {
                        data[s as usize].store(true, Ordering::Relaxed);
                        m.complete(s);
                    })
                })
                .collect();
            let rp = m.read_point();
            for s in 1..=rp {
                assert!(
                    data[s as usize].load(Ordering::Relaxed),
                    "read point {rp} exposes incomplete {s}"
                );
            }
            for w in writers {
                w.join().unwrap();
            }
            assert_eq!(m.read_point(), 2);
        });
    }

    /// An async writer that polls while its id completes on another thread is either
    /// ready at once or woken: the wake-up is never lost.
    #[test]
    fn poll_visible_never_loses_a_wake_up() {
        struct Flag(AtomicBool);
        impl std::task::Wake for Flag {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        loom::model(|| {
            let m = Arc::new(Mvcc::new(0));
            let s = m.begin();
            let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
            let waker = Waker::from(flag.clone());
            let m2 = m.clone();
            let t = loom::thread::spawn(move || m2.complete(s));
            let ready = m.poll_visible(s, &waker).is_ready();
            t.join().unwrap();
            assert!(
                ready || flag.0.load(Ordering::SeqCst),
                "a registered waiter was never woken"
            );
        });
    }

    /// Two threads wait for different ids that complete out of order (the first
    /// completion moves nothing, the second moves the read point past both): both wake,
    /// however their waits and the completions interleave.
    #[test]
    fn two_waiters_on_different_ids_are_both_woken() {
        loom::model(|| {
            let m = Arc::new(Mvcc::new(0));
            let (s1, s2) = (m.begin(), m.begin());
            let waiters: Vec<_> = [s1, s2]
                .into_iter()
                .map(|s| {
                    let m = m.clone();
                    loom::thread::spawn(move || m.wait_for(s))
                })
                .collect();
            m.complete(s2);
            m.complete(s1);
            for w in waiters {
                w.join().unwrap();
            }
        });
    }

    /// A waiter blocked in `wait_for` is always woken once its id completes.
    #[test]
    fn wait_for_is_woken() {
        loom::model(|| {
            let m = Arc::new(Mvcc::new(0));
            let s = m.begin();
            let m2 = m.clone();
            let w = loom::thread::spawn(move || m2.wait_for(s));
            m.complete(s);
            w.join().unwrap();
        });
    }
}
