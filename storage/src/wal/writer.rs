//! The WAL writer: buffered appends, group commit, segment rolling and the async syncer.
//!
//! Appends copy an encoded record into an in-memory buffer under a short mutex. A caller
//! of [`Wal::sync`] that finds no write in progress becomes the *leader*: it swaps the
//! buffer out (appends continue into a fresh one), writes the whole batch, fsyncs if
//! asked, publishes the new written/durable seq and wakes every waiter; the others are
//! *followers* waiting on a condvar. One fsync thus covers every record appended before
//! the leader took the buffer. Async callers ([`Wal::poll_sync`]) register a `Waker`
//! instead of waiting, and the syncer thread leads their batch; every leader wakes the
//! waiters its batch satisfied. See the `wal` module doc for the invariants.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::record::{MAX_PAYLOAD_BYTES, RECORD_OVERHEAD, checked_len, encode_header};
use super::segment::{
    ActiveSegment, SegmentInfo, check_existing_segments, create_segment, remove_temp_files,
    sync_dir, timed_sync,
};
use crate::error::{Error, IoContext, Result};
use crate::options::{Durability, EngineOptions};
use crate::stats::Stats;

/// A batch buffer kept for reuse only up to this capacity, so one burst does not pin a
/// large allocation for the life of the region.
const SPARE_BUFFER_MAX_BYTES: usize = 4 * 1024 * 1024;

/// Writer options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalOptions {
    /// A segment rolls once it holds at least this many bytes (default 64 MiB).
    pub segment_size_bytes: u64,
    /// Period of the background sync for `Durability::Async` (default 1 s).
    pub async_sync_interval: Duration,
    /// Appended bytes not yet written to the file (buffered plus in flight) above which
    /// `append` waits and writes them itself (default 64 MiB). Bounds memory, not the
    /// amount of unsynced data in the OS page cache. A single record larger than this is
    /// still accepted once the buffer is empty.
    pub max_pending_bytes: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_size_bytes: 64 * 1024 * 1024,
            async_sync_interval: Duration::from_secs(1),
            max_pending_bytes: 64 * 1024 * 1024,
        }
    }
}

impl WalOptions {
    /// The WAL options of an engine configuration.
    pub fn from_engine(opts: &EngineOptions) -> Self {
        WalOptions {
            segment_size_bytes: opts.wal.segment_size.0,
            async_sync_interval: opts.wal.async_sync_interval,
            ..WalOptions::default()
        }
    }

    fn validate(&self) -> Result<()> {
        if self.segment_size_bytes == 0
            || self.max_pending_bytes == 0
            || self.async_sync_interval.is_zero()
        {
            return Err(Error::InvalidArgument(format!(
                "WAL options must all be > 0: {self:?}"
            )));
        }
        Ok(())
    }
}

/// A region's write-ahead log, open for appending. `Send + Sync`; share it in an `Arc`.
pub struct Wal {
    inner: Arc<Inner>,
    /// The async syncer, started by the first `sync(_, Async)`; joined by `close`.
    syncer: Mutex<Option<JoinHandle<()>>>,
    /// Set once the syncer thread is started: spares async writers two locks per poll.
    syncer_started: std::sync::atomic::AtomicBool,
}

// `Wal` is shared by every writer thread of a region.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Wal>();
};

struct Inner {
    dir: PathBuf,
    opts: WalOptions,
    stats: Arc<Stats>,
    state: Mutex<State>,
    /// Notified whenever a leader finishes and on close.
    done: Condvar,
    /// Wakes the async syncer early (close).
    tick: Condvar,
    /// The segment being written. Locked only by the leader, and there is at most one
    /// leader (`State::leader_active`), so this lock is never contended; it exists so the
    /// file is reachable without holding `state` during I/O.
    segment: Mutex<Option<ActiveSegment>>,
    #[cfg(test)]
    fault_hook: Mutex<Option<Arc<FaultHook>>>,
}

/// Everything shared between appenders, leaders, followers and the syncer.
struct State {
    /// Encoded records with seq in `(taken by the last leader, last_appended]`.
    buf: Vec<u8>,
    /// An empty buffer to swap in for `buf`.
    spare: Vec<u8>,
    /// Bytes the active leader is writing.
    inflight_bytes: usize,
    last_appended: u64,
    /// Highest seq handed to `write` (`Durability::Flush`).
    written_seq: u64,
    /// Highest seq written and fsynced. `durable_seq <= written_seq <= last_appended`.
    durable_seq: u64,
    leader_active: bool,
    /// Set by the first failed write/fsync/roll; every later call fails with it.
    failure: Option<Failure>,
    closed: bool,
    /// Segments no longer written, in seq order, until `mark_flushed` deletes them.
    sealed: Vec<SegmentInfo>,
    /// Async callers of [`Wal::poll_sync`] waiting for their record (bounded by the
    /// writes in flight: one entry per pending record).
    waiters: Vec<SyncWaiter>,
    /// An async caller wants a batch led: the syncer thread leads it.
    sync_wanted: bool,
}

/// An async caller of [`Wal::poll_sync`] waiting for `seq` to be written (`fsync`
/// false) or fsynced.
struct SyncWaiter {
    seq: u64,
    fsync: bool,
    waker: Waker,
}

impl State {
    fn satisfied(&self, seq: u64, fsync: bool) -> bool {
        self.durable_seq >= seq || (!fsync && self.written_seq >= seq && self.failure.is_none())
    }

    /// Wakes the async waiters whose record is now as durable as they asked, and all of
    /// them once the WAL has failed or closed (their next poll reports it).
    fn wake_waiters(&mut self) {
        if self.waiters.is_empty() {
            return;
        }
        let all = self.failure.is_some() || self.closed;
        let mut i = 0;
        while i < self.waiters.len() {
            let w = &self.waiters[i];
            if all || self.satisfied(w.seq, w.fsync) {
                self.waiters.swap_remove(i).waker.wake();
            } else {
                i += 1;
            }
        }
    }
}

/// A remembered I/O failure (`io::Error` is not `Clone`).
#[derive(Clone, Debug)]
struct Failure {
    path: PathBuf,
    kind: io::ErrorKind,
    message: String,
}

impl Failure {
    fn of(err: &Error, dir: &Path) -> Failure {
        match err {
            Error::Io { path, source } => Failure {
                path: path.clone(),
                kind: source.kind(),
                message: source.to_string(),
            },
            other => Failure {
                path: dir.to_path_buf(),
                kind: io::ErrorKind::Other,
                message: other.to_string(),
            },
        }
    }

    fn to_error(&self) -> Error {
        let msg = format!("WAL failed, nothing more is acknowledged: {}", self.message);
        Error::io(&self.path, io::Error::new(self.kind, msg))
    }
}

/// What a leader does besides writing the buffer.
#[derive(Clone, Copy)]
struct Want {
    fsync: bool,
    roll: bool,
}

impl Want {
    /// Write the buffer (Flush, backpressure).
    const WRITE: Want = Want {
        fsync: false,
        roll: false,
    };
    /// Write and fsync (Fsync, async syncer, close).
    const FSYNC: Want = Want {
        fsync: true,
        roll: false,
    };
    /// Write, fsync and start a new segment (`roll`).
    const ROLL: Want = Want {
        fsync: false,
        roll: true,
    };
}

struct BatchDone {
    durable: bool,
    sealed: Option<SegmentInfo>,
}

/// Test-only fault injection: called before each write and fsync of a batch.
#[cfg(test)]
pub(crate) type FaultHook = dyn Fn(FaultPoint) -> io::Result<()> + Send + Sync;

/// Where a test fault hook runs (a no-op in normal builds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FaultPoint {
    Write,
    Sync,
}

impl Wal {
    /// Opens `dir` (`<region_dir>/wal`, created if missing) for writing after replay:
    /// starts a NEW segment named after `next_seq` (>= 1, above every seq in `existing`).
    /// `existing` are the segments replay found, kept until `mark_flushed` covers them; an
    /// empty one named `next_seq` is replaced.
    pub fn open(
        dir: &Path,
        next_seq: u64,
        existing: Vec<SegmentInfo>,
        opts: WalOptions,
        stats: Arc<Stats>,
    ) -> Result<Arc<Wal>> {
        opts.validate()?;
        let sealed = check_existing_segments(dir, next_seq, existing)?;
        if !dir.is_dir() {
            fs::create_dir_all(dir).at(dir)?;
            if let Some(parent) = dir.parent() {
                sync_dir(parent, &stats)?;
            }
        }
        remove_temp_files(dir)?;
        let (file, path) = create_segment(dir, next_seq, &stats)?;
        let inner = Inner {
            dir: dir.to_path_buf(),
            opts,
            stats,
            state: Mutex::new(State {
                buf: Vec::new(),
                spare: Vec::new(),
                inflight_bytes: 0,
                last_appended: next_seq - 1,
                written_seq: next_seq - 1,
                durable_seq: next_seq - 1,
                leader_active: false,
                failure: None,
                closed: false,
                sealed,
                waiters: Vec::new(),
                sync_wanted: false,
            }),
            done: Condvar::new(),
            tick: Condvar::new(),
            segment: Mutex::new(Some(ActiveSegment::new(file, path, next_seq))),
            #[cfg(test)]
            fault_hook: Mutex::new(None),
        };
        Ok(Arc::new(Wal {
            inner: Arc::new(inner),
            syncer: Mutex::new(None),
            syncer_started: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    /// Buffers a record; it reaches the file at the next [`Wal::sync`] (or async tick).
    /// The caller guarantees strictly increasing `seq` (it appends under the region's
    /// write lock); a non-increasing seq is `InvalidArgument`. Waits (writing the buffer
    /// itself if no leader is) while more than `max_pending_bytes` are pending.
    pub fn append(&self, seq: u64, payload: &[u8]) -> Result<()> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(Error::LimitExceeded {
                what: "WAL record payload",
                limit_name: "wal::MAX_PAYLOAD_BYTES",
                limit: MAX_PAYLOAD_BYTES as u64,
                actual: payload.len() as u64,
            });
        }
        // Checksums are computed before taking the lock.
        let header = encode_header(seq, checked_len(payload));
        let crc = crc32c::crc32c(payload).to_le_bytes();
        let record_len = RECORD_OVERHEAD + payload.len();
        let inner = &*self.inner;
        let mut st = inner.state.lock();
        loop {
            inner.check_open(&st)?;
            if seq <= st.last_appended {
                return Err(Error::InvalidArgument(format!(
                    "WAL append of seq {seq} after seq {}: seqs must increase",
                    st.last_appended
                )));
            }
            let pending = st.buf.len() + st.inflight_bytes;
            if pending == 0 || (pending + record_len) as u64 <= inner.opts.max_pending_bytes {
                break;
            }
            if st.leader_active {
                inner.done.wait(&mut st);
            } else {
                inner.lead(&mut st, Want::WRITE)?;
            }
        }
        st.buf.extend_from_slice(&header);
        st.buf.extend_from_slice(payload);
        st.buf.extend_from_slice(&crc);
        st.last_appended = seq;
        drop(st);
        Stats::add(&inner.stats.wal_records, 1);
        Ok(())
    }

    /// Waits until record `seq` (already appended) is as durable as `durability` asks:
    /// - `Fsync`: written and fdatasync'd; concurrent callers share one fsync;
    /// - `Flush`: handed to the OS with `write` (no fsync), also grouped;
    /// - `Async`: returns at once; the Wal's background thread writes and fsyncs every
    ///   `async_sync_interval`;
    /// - `Skip`: returns at once; with Skip the caller does not append at all.
    ///
    /// Once the WAL has failed, every call returns the failure, except that a record
    /// already fsynced is reported durable.
    pub fn sync(&self, seq: u64, durability: Durability) -> Result<()> {
        let fsync = match durability {
            Durability::Skip => return Ok(()),
            Durability::Async => return self.ensure_syncer(),
            Durability::Flush => false,
            Durability::Fsync => true,
        };
        let inner = &*self.inner;
        let mut st = inner.state.lock();
        if seq > st.last_appended {
            return Err(Error::InvalidArgument(format!(
                "WAL sync of seq {seq}, but the last appended seq is {}",
                st.last_appended
            )));
        }
        loop {
            if st.satisfied(seq, fsync) {
                return Ok(());
            }
            inner.check_open(&st)?;
            if st.leader_active {
                inner.done.wait(&mut st);
            } else {
                inner.lead(&mut st, if fsync { Want::FSYNC } else { Want::WRITE })?;
            }
        }
    }

    /// The non-blocking form of [`Wal::sync`] for async callers: `Ready` once record
    /// `seq` is as durable as `durability` asks (or with the WAL's failure); otherwise
    /// registers `waker` and has the WAL's syncer thread lead a batch, so concurrent
    /// async writers share one write and fsync (group commit) without a thread each.
    /// Blocking [`Wal::sync`] callers and async ones join the same batches.
    pub fn poll_sync(&self, seq: u64, durability: Durability, waker: &Waker) -> Poll<Result<()>> {
        let fsync = match durability {
            Durability::Skip => return Poll::Ready(Ok(())),
            Durability::Async => return Poll::Ready(self.ensure_syncer()),
            Durability::Flush => false,
            Durability::Fsync => true,
        };
        // Started before `state` is locked (it locks `syncer`, then `state`); once it
        // runs, the open check below is all that is needed.
        if !self
            .syncer_started
            .load(std::sync::atomic::Ordering::Acquire)
            && let Err(e) = self.ensure_syncer()
        {
            return Poll::Ready(Err(e));
        }
        let inner = &*self.inner;
        let mut st = inner.state.lock();
        if seq > st.last_appended {
            return Poll::Ready(Err(Error::InvalidArgument(format!(
                "WAL sync of seq {seq}, but the last appended seq is {}",
                st.last_appended
            ))));
        }
        if st.satisfied(seq, fsync) {
            return Poll::Ready(Ok(()));
        }
        if let Err(e) = inner.check_open(&st) {
            return Poll::Ready(Err(e));
        }
        match st.waiters.iter_mut().find(|w| w.seq == seq) {
            Some(w) => {
                w.fsync |= fsync;
                if !w.waker.will_wake(waker) {
                    w.waker = waker.clone();
                }
            }
            None => st.waiters.push(SyncWaiter {
                seq,
                fsync,
                waker: waker.clone(),
            }),
        }
        if !st.sync_wanted {
            st.sync_wanted = true;
            inner.tick.notify_all();
        }
        Poll::Pending
    }

    /// True if appending `record_len` more bytes would wait for the buffer to drain
    /// (`max_pending_bytes`). Appends happen under the region's write lock, so for a
    /// caller holding it the answer only changes from true to false.
    pub fn append_would_wait(&self, payload_len: usize) -> bool {
        let st = self.inner.state.lock();
        let pending = st.buf.len() + st.inflight_bytes;
        pending != 0
            && (pending + RECORD_OVERHEAD + payload_len) as u64 > self.inner.opts.max_pending_bytes
    }

    /// Highest seq known fsynced.
    pub fn durable_seq(&self) -> u64 {
        self.inner.state.lock().durable_seq
    }

    /// Deletes sealed segments whose records are all `<= flushed_seq` (never the segment
    /// being written), then fsyncs the directory. Works after `close` too.
    pub fn mark_flushed(&self, flushed_seq: u64) -> Result<()> {
        let inner = &*self.inner;
        let doomed: Vec<SegmentInfo> = {
            let mut st = inner.state.lock();
            let (doomed, keep) = std::mem::take(&mut st.sealed)
                .into_iter()
                .partition(|s| s.max_seq.is_none_or(|max| max <= flushed_seq));
            st.sealed = keep;
            doomed
        };
        if doomed.is_empty() {
            return Ok(());
        }
        let mut first_err = None;
        let mut kept = Vec::new();
        for seg in doomed {
            match fs::remove_file(&seg.path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    first_err.get_or_insert(Error::io(&seg.path, e));
                    kept.push(seg);
                }
            }
        }
        if !kept.is_empty() {
            let mut st = inner.state.lock();
            st.sealed.extend(kept);
            st.sealed.sort_by_key(|s| s.first_seq);
        }
        sync_dir(&inner.dir, &inner.stats)?;
        first_err.map_or(Ok(()), Err)
    }

    /// Writes what is buffered, fsyncs the current segment and starts a new one, so the
    /// old one can be deleted once flushed. A no-op if the current segment is empty.
    pub fn roll(&self) -> Result<()> {
        let inner = &*self.inner;
        let mut st = inner.state.lock();
        loop {
            inner.check_open(&st)?;
            if !st.leader_active {
                return inner.lead(&mut st, Want::ROLL);
            }
            inner.done.wait(&mut st);
        }
    }

    /// Writes and fsyncs everything buffered, stops the background thread and closes the
    /// segment file. Idempotent: later calls return `Ok` (or the failure, if the WAL
    /// failed). Appends and syncs of records not yet durable fail afterwards.
    pub fn close(&self) -> Result<()> {
        let inner = &*self.inner;
        let result = {
            let mut st = inner.state.lock();
            let result = loop {
                if let Some(f) = &st.failure {
                    break Err(f.to_error());
                }
                if st.closed || (st.durable_seq >= st.last_appended && !st.leader_active) {
                    break Ok(());
                }
                if st.leader_active {
                    inner.done.wait(&mut st);
                } else if let Err(e) = inner.lead(&mut st, Want::FSYNC) {
                    break Err(e);
                }
            };
            st.closed = true;
            st.wake_waiters();
            result
        };
        inner.tick.notify_all();
        inner.done.notify_all();
        if let Some(handle) = self.syncer.lock().take() {
            // The syncer returns as soon as it sees `closed`; it cannot panic on its own.
            let _ = handle.join();
        }
        inner.segment.lock().take();
        result
    }

    /// Segment files this WAL knows: sealed ones plus the one being written.
    pub fn segment_count(&self) -> usize {
        self.inner.state.lock().sealed.len() + 1
    }

    /// Appended bytes not yet written to the file.
    #[cfg(test)]
    pub(crate) fn pending_bytes(&self) -> usize {
        let st = self.inner.state.lock();
        st.buf.len() + st.inflight_bytes
    }

    /// Installs a fault hook called before each batch write and fsync.
    #[cfg(test)]
    pub(crate) fn set_fault_hook(&self, hook: Option<Arc<FaultHook>>) {
        *self.inner.fault_hook.lock() = hook;
    }

    /// Starts the async syncer once. Holding `syncer` while checking `closed` makes a
    /// racing `close` either see the handle (and join it) or be seen here.
    fn ensure_syncer(&self) -> Result<()> {
        let mut handle = self.syncer.lock();
        self.inner.check_open(&self.inner.state.lock())?;
        if handle.is_none() {
            let inner = Arc::clone(&self.inner);
            let spawned = std::thread::Builder::new()
                .name("strata-wal-sync".into())
                .spawn(move || inner.run_syncer())
                .at(&self.inner.dir)?;
            *handle = Some(spawned);
            self.syncer_started
                .store(true, std::sync::atomic::Ordering::Release);
        }
        Ok(())
    }
}

impl Drop for Wal {
    /// Best effort: syncs what is buffered and always stops the syncer thread.
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl Inner {
    fn check_open(&self, st: &State) -> Result<()> {
        if let Some(f) = &st.failure {
            return Err(f.to_error());
        }
        if st.closed {
            return Err(Error::Closed(format!("WAL {}", self.dir.display())));
        }
        Ok(())
    }

    /// Runs one batch as the leader. Called with `state` locked and no leader active;
    /// unlocks `state` for the I/O and relocks it to publish the outcome.
    fn lead(&self, st: &mut MutexGuard<'_, State>, want: Want) -> Result<()> {
        debug_assert!(!st.leader_active && st.failure.is_none() && !st.closed);
        st.leader_active = true;
        let fresh = std::mem::take(&mut st.spare);
        let mut batch = std::mem::replace(&mut st.buf, fresh);
        let target = st.last_appended;
        st.inflight_bytes = batch.len();
        let result = MutexGuard::unlocked(st, || self.write_batch(&batch, target, want));
        st.leader_active = false;
        st.inflight_bytes = 0;
        batch.clear();
        if batch.capacity() <= SPARE_BUFFER_MAX_BYTES && batch.capacity() > st.spare.capacity() {
            st.spare = batch;
        }
        let result = match result {
            Ok(done) => {
                st.written_seq = target;
                if done.durable {
                    st.durable_seq = target;
                }
                st.sealed.extend(done.sealed);
                Ok(())
            }
            Err(e) => {
                st.failure = Some(Failure::of(&e, &self.dir));
                Err(e)
            }
        };
        st.wake_waiters();
        self.done.notify_all();
        result
    }

    /// Writes `batch` (records up to seq `target`), fsyncs if asked or when rolling, and
    /// rolls if asked or if the segment is full. Only the leader calls this.
    fn write_batch(&self, batch: &[u8], target: u64, want: Want) -> Result<BatchDone> {
        let mut guard = self.segment.lock();
        let Some(seg) = guard.as_mut() else {
            return Err(Error::Closed(format!("WAL {}", self.dir.display())));
        };
        if !batch.is_empty() {
            self.fault(FaultPoint::Write).at(&seg.path)?;
            seg.file.write_all(batch).at(&seg.path)?;
            seg.len += batch.len() as u64;
            seg.max_seq = Some(target);
            Stats::add(&self.stats.wal_bytes, batch.len() as u64);
        }
        let roll = seg.max_seq.is_some() && (want.roll || seg.len >= self.opts.segment_size_bytes);
        let durable = want.fsync || roll;
        if durable && seg.synced_len < seg.len {
            self.fault(FaultPoint::Sync).at(&seg.path)?;
            timed_sync(&self.stats, || seg.file.sync_data()).at(&seg.path)?;
            seg.synced_len = seg.len;
        }
        let mut sealed = None;
        if roll {
            // The old segment is fsynced above, so only the last segment can be torn.
            let first_seq = target.saturating_add(1);
            let (file, path) = create_segment(&self.dir, first_seq, &self.stats)?;
            let old = std::mem::replace(seg, ActiveSegment::new(file, path, first_seq));
            sealed = Some(old.info());
        }
        Ok(BatchDone { durable, sealed })
    }

    /// Test builds: runs the installed fault hook.
    #[cfg(test)]
    fn fault(&self, point: FaultPoint) -> io::Result<()> {
        let hook = self.fault_hook.lock().clone();
        hook.map_or(Ok(()), |h| h(point))
    }

    #[cfg(not(test))]
    #[inline(always)]
    fn fault(&self, _point: FaultPoint) -> io::Result<()> {
        Ok(())
    }

    /// The syncer thread: every `async_sync_interval`, makes everything appended durable
    /// (`Durability::Async`), and leads a batch at once whenever an async
    /// [`Wal::poll_sync`] caller asks (`sync_wanted`); records appended while a batch is
    /// being written go in the next one. Exits when the WAL is closed (or dropped, which
    /// closes it) or has failed.
    fn run_syncer(&self) {
        let interval = self.opts.async_sync_interval;
        let mut st = self.state.lock();
        let mut next_periodic = Instant::now() + interval;
        loop {
            while !st.closed
                && st.failure.is_none()
                && !st.sync_wanted
                && Instant::now() < next_periodic
            {
                self.tick.wait_until(&mut st, next_periodic);
            }
            while st.leader_active {
                self.done.wait(&mut st);
            }
            if st.closed || st.failure.is_some() {
                st.wake_waiters();
                return;
            }
            st.sync_wanted = false;
            let now = Instant::now();
            let periodic = now >= next_periodic;
            if periodic {
                next_periodic = now + interval;
            }
            let need_fsync = periodic
                || st
                    .waiters
                    .iter()
                    .any(|w| w.fsync && !st.satisfied(w.seq, true));
            let need_write = st.waiters.iter().any(|w| !st.satisfied(w.seq, false));
            // A failure is recorded in `st.failure`; the next iteration exits.
            if need_fsync && st.durable_seq < st.last_appended {
                let _ = self.lead(&mut st, Want::FSYNC);
            } else if need_write && st.written_seq < st.last_appended {
                let _ = self.lead(&mut st, Want::WRITE);
            } else {
                st.wake_waiters();
            }
        }
    }
}

#[cfg(test)]
mod tests;
