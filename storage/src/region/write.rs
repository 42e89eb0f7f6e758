//! The write path: validate, resolve timestamps, then under the region write lock take
//! a sequence id, append to the WAL and insert into the memstores; outside it, wait for
//! the WAL sync (group commit) and publish through MVCC. Also the atomic
//! read-modify-write operations (check-and-mutate, increment, append).

use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::MutexGuard;

use super::Region;
use crate::error::{Error, Result};
use crate::key::{self, CellType};
use crate::mutation::{self, Mutation, ResolvedCell, RowMutation};
use crate::options::Durability;
use crate::query::Get;
use crate::stats::Stats;

/// Per-operation bytes added to a mutation's size estimate (keys, headers).
const OP_OVERHEAD_BYTES: usize = 32;

/// How check-and-mutate compares the current value with the expected one:
/// `current <op> expected`, bytewise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    /// current == expected
    Equal,
    /// current != expected
    NotEqual,
    /// current < expected
    Less,
    /// current <= expected
    LessOrEqual,
    /// current > expected
    Greater,
    /// current >= expected
    GreaterOrEqual,
}

/// The condition of a check-and-mutate on one cell (its newest version).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Column family.
    pub family: Bytes,
    /// Column qualifier.
    pub qualifier: Bytes,
    /// `None`: the cell must be absent. `Some((op, v))`: the cell must exist and
    /// compare as asked (an absent cell fails every comparison).
    pub expect: Option<(CompareOp, Bytes)>,
}

impl Check {
    fn matches(&self, current: Option<&Bytes>) -> bool {
        match (&self.expect, current) {
            (None, None) => true,
            (None, Some(_)) | (Some(_), None) => false,
            (Some((op, want)), Some(cur)) => {
                let ord = cur[..].cmp(&want[..]);
                match op {
                    CompareOp::Equal => ord.is_eq(),
                    CompareOp::NotEqual => ord.is_ne(),
                    CompareOp::Less => ord.is_lt(),
                    CompareOp::LessOrEqual => ord.is_le(),
                    CompareOp::Greater => ord.is_gt(),
                    CompareOp::GreaterOrEqual => ord.is_ge(),
                }
            }
        }
    }
}

impl Region {
    /// Applies a row mutation atomically. Returns its sequence id once it is as durable
    /// as `durability` (default: the engine's) and visible to readers.
    pub fn mutate(&self, m: &RowMutation, durability: Option<Durability>) -> Result<u64> {
        self.check_mutation(m)?;
        let guard = self.row_lock(&m.row);
        let cells = self.resolve(m)?;
        self.apply(guard, &m.row, cells, durability)
    }

    /// Atomically reads one cell, compares it, and applies `m` (same row) if the check
    /// passes. Returns whether it was applied.
    pub fn check_and_mutate(
        &self,
        check: &Check,
        m: &RowMutation,
        durability: Option<Durability>,
    ) -> Result<bool> {
        self.check_mutation(m)?;
        self.family(&self.snapshot(), &check.family)?;
        mutation::validate_qualifier(&check.qualifier)?;
        let guard = self.row_lock(&m.row);
        let current = self.read_latest_locked(&m.row, &check.family, &check.qualifier)?;
        if !check.matches(current.as_ref().map(|(v, _)| v)) {
            return Ok(false);
        }
        let cells = self.resolve(m)?;
        self.apply(guard, &m.row, cells, durability)?;
        Ok(true)
    }

    /// Atomically adds `delta` to 8-byte big-endian counters (HBase's format; an absent
    /// cell counts as 0). Returns the new values in order.
    pub fn increment(
        &self,
        row: &Bytes,
        columns: &[(Bytes, Bytes, i64)],
        durability: Option<Durability>,
    ) -> Result<Vec<i64>> {
        self.read_modify_write(row, columns, durability, |cur, delta| {
            let old = match cur {
                None => 0,
                Some(v) => {
                    let arr: [u8; 8] = v[..].try_into().map_err(|_| {
                        Error::InvalidArgument(format!(
                            "cell holds {} bytes, not an 8-byte counter",
                            v.len()
                        ))
                    })?;
                    i64::from_be_bytes(arr)
                }
            };
            let new = old.checked_add(*delta).ok_or_else(|| {
                Error::InvalidArgument(format!("counter overflow: {old} + {delta}"))
            })?;
            Ok((Bytes::copy_from_slice(&new.to_be_bytes()), new))
        })
    }

    /// Atomically appends bytes to cells (an absent cell counts as empty). Returns the
    /// new values.
    pub fn append(
        &self,
        row: &Bytes,
        columns: &[(Bytes, Bytes, Bytes)],
        durability: Option<Durability>,
    ) -> Result<Vec<Bytes>> {
        self.read_modify_write(row, columns, durability, |cur, suffix| {
            let mut v = cur.map(|b| b.to_vec()).unwrap_or_default();
            v.extend_from_slice(suffix);
            let v = Bytes::from(v);
            Ok((v.clone(), v))
        })
    }

    fn read_modify_write<A, R>(
        &self,
        row: &Bytes,
        columns: &[(Bytes, Bytes, A)],
        durability: Option<Durability>,
        mut f: impl FnMut(Option<&Bytes>, &A) -> Result<(Bytes, R)>,
    ) -> Result<Vec<R>> {
        let probe = RowMutation {
            row: row.clone(),
            ops: columns
                .iter()
                .map(|(fam, q, _)| Mutation::Put {
                    family: fam.clone(),
                    qualifier: q.clone(),
                    timestamp: None,
                    value: Bytes::new(),
                })
                .collect(),
        };
        self.check_mutation(&probe)?;
        let mut seen = std::collections::HashSet::with_capacity(columns.len());
        if let Some((f, q, _)) = columns.iter().find(|(f, q, _)| !seen.insert((f, q))) {
            return Err(Error::InvalidArgument(format!(
                "column {}:{} appears twice in one request",
                String::from_utf8_lossy(f),
                String::from_utf8_lossy(q)
            )));
        }
        let guard = self.row_lock(row);
        let now = self.engine.clock.now_ms();
        let mut cells = Vec::with_capacity(columns.len());
        let mut results = Vec::with_capacity(columns.len());
        for (family, qualifier, arg) in columns {
            let current = self.read_latest_locked(row, family, qualifier)?;
            let (value, result) = f(current.as_ref().map(|(v, _)| v), arg)?;
            if value.len() > self.engine.opts.limits.max_value_bytes {
                return Err(Error::LimitExceeded {
                    what: "value",
                    limit_name: "max_value_bytes",
                    limit: self.engine.opts.limits.max_value_bytes as u64,
                    actual: value.len() as u64,
                });
            }
            // Never write below the current version's timestamp, or the new value would hide behind it.
            let ts = current.map(|(_, ts)| ts.max(now)).unwrap_or(now);
            cells.push(ResolvedCell {
                family: family.clone(),
                qualifier: qualifier.clone(),
                timestamp: ts,
                kind: CellType::Put,
                value,
            });
            results.push(result);
        }
        self.apply(guard, row, cells, durability)?;
        Ok(results)
    }

    /// The newest visible value and timestamp of a cell. The caller holds the row lock;
    /// this waits until every write already assigned a sequence id is visible, so no
    /// earlier write to the row can be missed.
    fn read_latest_locked(
        &self,
        row: &Bytes,
        family: &Bytes,
        qualifier: &Bytes,
    ) -> Result<Option<(Bytes, u64)>> {
        self.mvcc.wait_for(self.mvcc.last_assigned());
        let get = Get::new(row.clone()).column(family.clone(), qualifier.clone());
        let found = self.get(&get)?;
        Ok(found
            .and_then(|r| r.cells.into_iter().next())
            .map(|c| (c.value, c.timestamp)))
    }

    pub(super) fn check_mutation(&self, m: &RowMutation) -> Result<()> {
        self.check_open()?;
        self.admit_write()?;
        self.validate_request(m)
    }

    /// The checks of [`Self::check_mutation`] that never wait: input, limits, families.
    pub(super) fn validate_request(&self, m: &RowMutation) -> Result<()> {
        mutation::validate_mutation(m, self.engine.opts.limits.max_value_bytes)?;
        self.check_row(&m.row)?;
        let st = self.snapshot();
        let mut size = m.row.len();
        for op in &m.ops {
            if let Some(f) = op.family() {
                self.family(&st, f)?;
            }
            size += OP_OVERHEAD_BYTES
                + match op {
                    Mutation::Put {
                        family,
                        qualifier,
                        value,
                        ..
                    } => family.len() + qualifier.len() + value.len(),
                    Mutation::Delete {
                        family, qualifier, ..
                    }
                    | Mutation::DeleteColumn {
                        family, qualifier, ..
                    } => family.len() + qualifier.len(),
                    Mutation::DeleteFamily { family, .. } => family.len(),
                    Mutation::DeleteRow { .. } => {
                        st.stores.keys().map(|f| f.len() + OP_OVERHEAD_BYTES).sum()
                    }
                };
        }
        let limit = self.engine.opts.limits.max_mutation_bytes;
        if size > limit {
            return Err(Error::LimitExceeded {
                what: "row mutation",
                limit_name: "max_mutation_bytes",
                limit: limit as u64,
                actual: size as u64,
            });
        }
        Ok(())
    }

    /// Turns operations into cells with concrete timestamps (row lock held).
    pub(super) fn resolve(&self, m: &RowMutation) -> Result<Vec<ResolvedCell>> {
        let now = self.engine.clock.now_ms();
        let mut cells = Vec::with_capacity(m.ops.len());
        let marker = |family: &Bytes, qualifier: &Bytes, ts: u64, kind| ResolvedCell {
            family: family.clone(),
            qualifier: qualifier.clone(),
            timestamp: ts,
            kind,
            value: Bytes::new(),
        };
        for op in &m.ops {
            match op {
                Mutation::Put {
                    family,
                    qualifier,
                    timestamp,
                    value,
                } => cells.push(ResolvedCell {
                    family: family.clone(),
                    qualifier: qualifier.clone(),
                    timestamp: timestamp.unwrap_or(now),
                    kind: CellType::Put,
                    value: value.clone(),
                }),
                Mutation::Delete {
                    family,
                    qualifier,
                    timestamp: Some(ts),
                } => cells.push(marker(family, qualifier, *ts, CellType::Delete)),
                Mutation::Delete {
                    family,
                    qualifier,
                    timestamp: None,
                } => {
                    // "Delete the latest version": find it now; nothing to delete is a no-op.
                    if let Some((_, ts)) = self.read_latest_locked(&m.row, family, qualifier)? {
                        cells.push(marker(family, qualifier, ts, CellType::Delete));
                    }
                }
                Mutation::DeleteColumn {
                    family,
                    qualifier,
                    timestamp,
                } => cells.push(marker(
                    family,
                    qualifier,
                    timestamp.unwrap_or(now),
                    CellType::DeleteColumn,
                )),
                Mutation::DeleteFamily { family, timestamp } => cells.push(marker(
                    family,
                    &Bytes::new(),
                    timestamp.unwrap_or(now),
                    CellType::DeleteFamily,
                )),
                Mutation::DeleteRow { timestamp } => {
                    for family in self.desc.families.iter() {
                        let f = Bytes::copy_from_slice(family.name.as_bytes());
                        cells.push(marker(
                            &f,
                            &Bytes::new(),
                            timestamp.unwrap_or(now),
                            CellType::DeleteFamily,
                        ));
                    }
                }
            }
        }
        dedup_same_key(&mut cells);
        Ok(cells)
    }

    /// Sequences, logs and inserts resolved cells, then waits for durability and
    /// visibility. Releases the row lock before waiting so writers to one row still
    /// share group commits.
    fn apply(
        &self,
        row_guard: MutexGuard<'_, ()>,
        row: &Bytes,
        cells: Vec<ResolvedCell>,
        durability: Option<Durability>,
    ) -> Result<u64> {
        if cells.is_empty() {
            return Ok(self.mvcc.read_point());
        }
        let durability = durability.unwrap_or(self.engine.opts.wal.durability);
        // Checked here too because increment and append grow values after the request
        // was checked; a refused write must not reach the WAL (or fail the region).
        self.check_cells_size(row, &cells)?;
        let payload =
            (durability != Durability::Skip).then(|| mutation::encode_payload(row, &cells));
        let seq = {
            let w = self.write_lock.lock();
            self.check_writable()?;
            self.log_and_insert(&w, row, &cells, payload.as_deref())?
        };
        drop(row_guard);
        Stats::add(&self.engine.stats.mutations, 1);
        let synced = if payload.is_some() {
            let sync_started = Instant::now();
            let r = self.wal.sync(seq, durability);
            crate::request_phases::add_wal_sync(sync_started.elapsed());
            r
        } else {
            Ok(())
        };
        // Complete even on failure so later readers are not stuck behind this id; the
        // region is failed first, so nothing reads the unlogged entries.
        if let Err(e) = synced {
            self.fail(&e);
            self.mvcc.complete(seq);
            return Err(e);
        }
        self.mvcc.complete(seq);
        self.mvcc.wait_for(seq);
        self.maybe_request_flush();
        Ok(seq)
    }

    /// With the region write lock held (`_write`): takes the next sequence id, appends
    /// `payload` (the encoded mutation, `None` for `Durability::Skip`) to the WAL buffer
    /// and inserts the cells. A failed append fails the region.
    pub(super) fn log_and_insert(
        &self,
        _write: &MutexGuard<'_, ()>,
        row: &[u8],
        cells: &[ResolvedCell],
        payload: Option<&[u8]>,
    ) -> Result<u64> {
        let seq = self.mvcc.begin();
        if let Some(p) = payload
            && let Err(e) = self.wal.append(seq, p)
        {
            self.mvcc.complete(seq);
            self.fail(&e);
            return Err(e);
        }
        self.insert_cells(row, cells, seq);
        Ok(seq)
    }

    /// Inserts cells into the active memstores (write lock held, or during replay).
    pub(crate) fn insert_cells(&self, row: &[u8], cells: &[ResolvedCell], seq: u64) {
        let st = self.snapshot();
        // The clock is read only for a memstore's first edit (its age starts there).
        let mut now = None;
        let mut added = 0;
        for c in cells {
            let Some(store) = st.stores.get(&c.family) else {
                continue;
            };
            let now_ms = match store.active.first_insert_ms() {
                Some(_) => 0,
                None => *now.get_or_insert_with(|| self.engine.clock.now_ms()),
            };
            // Exact capacity: `Bytes::from` then reuses the buffer instead of boxing a header.
            let mut k = Vec::with_capacity(key::encoded_len(row, &c.qualifier));
            key::encode_key_into(&mut k, row, &c.qualifier, c.timestamp, c.kind, seq);
            added += store
                .active
                .insert_at(Bytes::from(k), c.value.clone(), seq, now_ms);
        }
        self.charge_memstore(added);
    }

    /// Holds a write back while this region's memstores are at
    /// `flush_size x block_multiplier` or the process is at `memstore.global_high`,
    /// asking for flushes meanwhile; after `memstore.stall_timeout` it gives up with a
    /// retryable `WriteStall` that names the limit.
    /// True if a write may go ahead without waiting for memstore room (below both the
    /// region's blocking size and `memstore.global_high`).
    pub(super) fn memstore_has_room(&self) -> bool {
        let opts = &self.engine.opts;
        self.memstore_bytes() < opts.region_block_bytes()
            && self.engine.memory.global_bytes() < opts.global_high_bytes()
    }

    fn admit_write(&self) -> Result<()> {
        let opts = &self.engine.opts;
        let memory = &self.engine.memory;
        let region_limit = opts.region_block_bytes();
        let high = opts.global_high_bytes();
        if self.memstore_has_room() {
            return Ok(());
        }
        let started = Instant::now();
        let deadline = started + opts.memstore.stall_timeout;
        Stats::add(&memory.stalls, 1);
        if memory.enter_stall() {
            tracing::info!(region = %self.name, region_memstore_bytes = self.memstore_bytes(),
                region_limit, global_memstore_bytes = memory.global_bytes(), global_high = high,
                "write stall begins");
        }
        tracing::debug!(region = %self.name, "write waits for memstore room");
        let outcome = loop {
            let region_bytes = self.memstore_bytes();
            let global = memory.global_bytes();
            let region_over = region_bytes >= region_limit;
            let global_over = global >= high;
            if !region_over && !global_over {
                break Ok(());
            }
            if region_over {
                self.request_flush();
            }
            if global_over {
                self.engine.flush_largest();
            }
            let now = Instant::now();
            if now >= deadline {
                Stats::add(&memory.stall_rejections, 1);
                break Err(Error::WriteStall(if region_over {
                    format!(
                        "region {} memstore is {} bytes, at memstore.flush_size x memstore.block_multiplier = {} \
                         (waited {:?} for flushes); retry after a backoff",
                        self.name, region_bytes, region_limit, opts.memstore.stall_timeout
                    )
                } else {
                    format!(
                        "process memstores hold {global} bytes, at memstore.global_high = {high} \
                         (waited {:?} for flushes); retry after a backoff",
                        opts.memstore.stall_timeout
                    )
                }));
            }
            memory.wait_freed((deadline - now).min(Duration::from_millis(50)));
        };
        Stats::add(&memory.stall_micros, started.elapsed().as_micros() as u64);
        crate::request_phases::add_stall(started.elapsed());
        tracing::debug!(region = %self.name, ms = started.elapsed().as_millis() as u64, ok = outcome.is_ok(), "write done waiting");
        if memory.leave_stall() {
            tracing::info!(region = %self.name, last_wait_ms = started.elapsed().as_millis() as u64,
                total_stalls = memory.stalls.load(std::sync::atomic::Ordering::Relaxed),
                rejected = memory.stall_rejections.load(std::sync::atomic::Ordering::Relaxed),
                "write stall ends");
        }
        outcome
    }
}

/// Within one mutation, two operations on the same cell, timestamp and type would share
/// one internal key (same seq); the later operation wins, as it would across mutations.
/// Keeping keys unique also keeps memstore inserts from replacing entries.
fn dedup_same_key(cells: &mut Vec<ResolvedCell>) {
    if cells.len() < 2 {
        return;
    }
    let mut seen = std::collections::HashSet::with_capacity(cells.len());
    let mut keep: Vec<ResolvedCell> = Vec::with_capacity(cells.len());
    for c in cells.drain(..).rev() {
        if seen.insert((c.family.clone(), c.qualifier.clone(), c.timestamp, c.kind)) {
            keep.push(c);
        }
    }
    keep.reverse();
    *cells = keep;
}
