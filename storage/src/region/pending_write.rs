//! Row mutations for async callers: [`Region::try_mutate_start`] does the part of
//! [`Region::mutate`] that never blocks (checks, sequence id, WAL append, memstore
//! insert) and returns a [`PendingWrite`], a `Future` that resolves once the write is
//! durable (the WAL's syncer thread leads the group commit and wakes it) and visible
//! (the MVCC read point passed it). So an async server waits for an fsync without
//! holding a thread, and many such writers share one fsync.
//!
//! The engine stays runtime-agnostic: this is `std::future` and `std::task::Waker`
//! only. Whenever the fast path would have to wait (the row's lock stripe is held, the
//! memstore is past a limit, the WAL buffer is full) or needs a read first (a Delete of
//! the latest version), `try_mutate_start` returns `Ok(None)` and the caller uses the
//! blocking [`Region::mutate`], which waits or stalls as the limits say.
//!
//! Dropping a `PendingWrite` before it resolves syncs and completes it in place
//! (blocking for one WAL sync), since its sequence id must complete or every later write
//! would stay invisible; a caller on an async runtime should drive it to the end (e.g. in
//! a spawned task) instead.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::Region;
use crate::error::{Error, Result};
use crate::mutation::{self, Mutation, RowMutation};
use crate::options::Durability;
use crate::stats::Stats;

/// A row mutation in the WAL buffer and the memstore, not yet acknowledged: resolves
/// to its sequence id once it is as durable as asked and visible to readers.
#[must_use = "a write is acknowledged only when its PendingWrite resolves"]
#[derive(Debug)]
pub struct PendingWrite {
    region: Arc<Region>,
    seq: u64,
    durability: Durability,
    /// A WAL record was appended (not `Durability::Skip`).
    logged: bool,
    step: Step,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Waiting for the WAL.
    Sync,
    /// Durable (MVCC completed); waiting for the read point.
    Visible,
    /// Resolved (or failed): nothing left to do on drop.
    Done,
}

impl Region {
    /// The non-blocking start of [`Region::mutate`]: `Ok(Some(pending))` once the
    /// mutation is sequenced, logged (buffered) and in the memstore; `Ok(None)` if that
    /// would mean waiting or reading (then call `mutate`); `Err` for bad input or a
    /// closed or failed region, exactly as `mutate` reports them.
    pub fn try_mutate_start(
        self: &Arc<Self>,
        m: &RowMutation,
        durability: Option<Durability>,
    ) -> Result<Option<PendingWrite>> {
        if m.ops.iter().any(|op| {
            matches!(
                op,
                Mutation::Delete {
                    timestamp: None,
                    ..
                }
            )
        }) {
            return Ok(None);
        }
        self.check_open()?;
        if !self.memstore_has_room() {
            return Ok(None);
        }
        self.validate_request(m)?;
        let Some(row_guard) = self.try_row_lock(&m.row) else {
            return Ok(None);
        };
        let cells = self.resolve(m)?;
        let durability = durability.unwrap_or(self.engine.opts.wal.durability);
        if cells.is_empty() {
            drop(row_guard);
            return Ok(Some(PendingWrite {
                region: self.clone(),
                seq: self.mvcc.read_point(),
                durability,
                logged: false,
                step: Step::Done,
            }));
        }
        self.check_cells_size(&m.row, &cells)?;
        let payload =
            (durability != Durability::Skip).then(|| mutation::encode_payload(&m.row, &cells));
        let seq = {
            let w = self.write_lock.lock();
            self.check_writable()?;
            if let Some(p) = &payload
                && self.wal.append_would_wait(p.len())
            {
                return Ok(None);
            }
            self.log_and_insert(&w, &m.row, &cells, payload.as_deref())?
        };
        drop(row_guard);
        Stats::add(&self.engine.stats.mutations, 1);
        Ok(Some(PendingWrite {
            region: self.clone(),
            seq,
            durability,
            logged: payload.is_some(),
            step: Step::Sync,
        }))
    }

    pub(super) fn check_cells_size(
        &self,
        row: &Bytes,
        cells: &[mutation::ResolvedCell],
    ) -> Result<()> {
        let size: usize = cells
            .iter()
            .map(|c| c.family.len() + c.qualifier.len() + c.value.len() + 24)
            .sum();
        let limit = self.engine.opts.limits.max_mutation_bytes;
        if size + row.len() > limit {
            return Err(Error::LimitExceeded {
                what: "row mutation",
                limit_name: "max_mutation_bytes",
                limit: limit as u64,
                actual: (size + row.len()) as u64,
            });
        }
        Ok(())
    }
}

impl PendingWrite {
    /// The write's sequence id.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Blocks until the write resolves (for callers on plain threads).
    pub fn wait(mut self) -> Result<u64> {
        self.finish_blocking()
    }

    fn finish_blocking(&mut self) -> Result<u64> {
        let r = &self.region;
        match self.step {
            Step::Done => return Ok(self.seq),
            Step::Sync => {
                self.step = Step::Done;
                if self.logged
                    && let Err(e) = r.wal.sync(self.seq, self.durability)
                {
                    r.fail(&e);
                    r.mvcc.complete(self.seq);
                    return Err(e);
                }
                r.mvcc.complete(self.seq);
            }
            Step::Visible => self.step = Step::Done,
        }
        r.mvcc.wait_for(self.seq);
        r.maybe_request_flush();
        Ok(self.seq)
    }
}

impl Future for PendingWrite {
    type Output = Result<u64>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<u64>> {
        let this = &mut *self;
        let r = &this.region;
        if this.step == Step::Sync {
            if this.logged {
                match r.wal.poll_sync(this.seq, this.durability, cx.waker()) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => {
                        // As in `mutate`: fail the region first, so nothing reads the
                        // unlogged entries, then complete so later ids are not stuck.
                        this.step = Step::Done;
                        r.fail(&e);
                        r.mvcc.complete(this.seq);
                        return Poll::Ready(Err(e));
                    }
                    Poll::Ready(Ok(())) => {}
                }
            }
            r.mvcc.complete(this.seq);
            this.step = Step::Visible;
        }
        if this.step == Step::Visible {
            if r.mvcc.poll_visible(this.seq, cx.waker()).is_pending() {
                return Poll::Pending;
            }
            this.step = Step::Done;
            r.maybe_request_flush();
        }
        Poll::Ready(Ok(this.seq))
    }
}

impl Drop for PendingWrite {
    /// Never leaves a sequence id incomplete (see the module doc): a write dropped while
    /// waiting for the WAL is synced (blocking) and completed. It does not wait for the
    /// read point, which may depend on other writers' futures (e.g. ones a runtime is
    /// dropping at shutdown): nobody is left to acknowledge this write anyway.
    fn drop(&mut self) {
        if self.step == Step::Sync {
            self.step = Step::Done;
            let r = &self.region;
            if self.logged
                && let Err(e) = r.wal.sync(self.seq, self.durability)
            {
                r.fail(&e);
            }
            r.mvcc.complete(self.seq);
        }
    }
}

#[cfg(test)]
mod tests;
