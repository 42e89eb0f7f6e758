//! The read path: point gets (with bloom and key-range pruning) and scanners (batches of
//! rows at one MVCC read point).

use std::sync::Arc;

use bytes::Bytes;

use super::{Region, RegionState, StoreState};
use crate::engine::EngineShared;
use crate::error::{Error, Result};
use crate::iterator::InternalIterator;
use crate::key::{self, Cell, CellType};
use crate::merge::{MergingIterator, Source};
use crate::options::{BloomType, FamilyOptions};
use crate::query::{ColumnSelection, Get, Row, Scan, TimeRange};
use crate::sstable::SsTable;
use crate::stats::Stats;
use crate::visibility::{RowScratch, StoreQuery, collect_row};

/// Most rows a scanner returns per batch, whatever the caller asks.
pub const MAX_SCAN_BATCH_ROWS: usize = 10_000;
/// Most bytes a scanner puts in one batch (HBase's `hbase.server.scanner.max.result.size`
/// is 100 MiB; batches here are smaller so streaming stays smooth). A single row larger
/// than this is still returned whole.
pub const MAX_SCAN_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// A get copies values shorter than this out of an SSTable block the cache did not keep
/// rather than returning a slice of it, which would keep the whole block buffer (64 KiB
/// by default) alive as long as the caller keeps the value: past the block cache's
/// accounting, and out of reach of the buffer recycling of `sstable/buffers.rs`. Values
/// in cached blocks are sliced (no copy), and so are scans' values: their batches are
/// short-lived and bounded, and copying each of many small values costs them more.
pub const POINT_READ_COPY_BELOW: usize = 4096;

/// Size of the buffer the row keys of a scan batch are packed into.
const ROW_ARENA_BYTES: usize = 64 * 1024;

/// Which stores a read touches and which qualifiers of each.
struct StorePlan {
    family: Bytes,
    options: Arc<FamilyOptions>,
    qualifiers: Option<Vec<Bytes>>,
}

fn plan(region: &Region, st: &RegionState, columns: &ColumnSelection) -> Result<Vec<StorePlan>> {
    if columns.is_empty() {
        return Ok(st
            .stores
            .iter()
            .map(|(f, s)| StorePlan {
                family: f.clone(),
                options: s.options.clone(),
                qualifiers: None,
            })
            .collect());
    }
    columns
        .iter()
        .map(|(f, qs)| {
            let store = region.family(st, f)?;
            // The store's own (interned) name, not the request's copy.
            let family = st
                .stores
                .get_key_value(&f[..])
                .map_or_else(|| f.clone(), |(name, _)| name.clone());
            for q in qs {
                crate::mutation::validate_qualifier(q)?;
            }
            let qualifiers = (!qs.is_empty()).then(|| {
                let mut qs = qs.clone();
                qs.sort();
                qs.dedup();
                qs
            });
            Ok(StorePlan {
                family,
                options: store.options.clone(),
                qualifiers,
            })
        })
        .collect()
}

fn check_versions(v: u32) -> Result<()> {
    if v == 0 {
        return Err(Error::InvalidArgument("max_versions must be >= 1".into()));
    }
    Ok(())
}

impl Region {
    /// Reads one row. `Ok(None)` if nothing in it is visible.
    pub fn get(&self, g: &Get) -> Result<Option<Row>> {
        self.get_inner(g, false)
    }

    /// Reads one row if it can be done from memory alone: the memstores and blocks
    /// already in the block cache. Returns `Ok(None)` when a block would have to be read
    /// from a file; the caller then calls [`Region::get`] where blocking is allowed. Lets
    /// a server answer cache hits on its async threads without a hop to a blocking pool.
    pub fn try_get_cached(&self, g: &Get) -> Result<Option<Option<Row>>> {
        match self.get_inner(g, true) {
            Ok(row) => Ok(Some(row)),
            Err(Error::NotCached) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn get_inner(&self, g: &Get, cache_only: bool) -> Result<Option<Row>> {
        self.check_open()?;
        self.check_row(&g.row)?;
        check_versions(g.max_versions)?;
        let st = self.snapshot();
        let plans = plan(self, &st, &g.columns)?;
        let read_point = self.mvcc.read_point();
        // A write that failed after taking its id completes in MVCC only after failing
        // the region: checking again here keeps its entries from ever being read.
        self.check_open()?;
        let now_ms = self.engine.clock.now_ms();
        let row_part = key::row_start_key(&g.row);
        let mut scratch = RowScratch::default();
        let mut cells: Vec<Cell> = Vec::new();
        for p in &plans {
            let store = &st.stores[&p.family];
            let mut children: Vec<Source<'_>> =
                Vec::with_capacity(1 + store.frozen.len() + store.files.len());
            for m in std::iter::once(&store.active).chain(store.frozen.iter()) {
                let mut it = m.iter();
                it.seek(&row_part)?;
                if it.valid() && it.key().starts_with(&row_part) {
                    children.push(it.into());
                }
            }
            for f in &store.files {
                let qualifiers = p.qualifiers.as_deref();
                if let Some(it) = self.probe_file(f, &g.row, &row_part, qualifiers, cache_only)? {
                    children.push(it.into());
                }
            }
            if children.is_empty() {
                continue;
            }
            let mut merged = MergingIterator::new_positioned(children);
            let q = StoreQuery {
                family: &p.options,
                read_point,
                now_ms,
                time_range: g.time_range,
                max_versions: g.max_versions,
                qualifiers: p.qualifiers.as_deref(),
            };
            let mut emit = |qualifier: &Bytes, timestamp, it: &MergingIterator<'_>| {
                cells.push(Cell {
                    row: g.row.clone(),
                    family: p.family.clone(),
                    qualifier: qualifier.clone(),
                    timestamp,
                    kind: CellType::Put,
                    value: it.value_bytes(),
                })
            };
            collect_row(&mut merged, &g.row, &row_part, &q, &mut scratch, &mut emit)?;
        }
        Stats::add(&self.engine.stats.gets, 1);
        Ok((!cells.is_empty()).then(|| Row {
            row: g.row.clone(),
            cells,
        }))
    }

    /// Positions an iterator of `file` at the row, unless the key range or the bloom
    /// filter rules the file out (counting bloom outcomes).
    fn probe_file(
        &self,
        file: &Arc<SsTable>,
        row: &[u8],
        row_part: &[u8],
        qualifiers: Option<&[Bytes]>,
        cache_only: bool,
    ) -> Result<Option<crate::sstable::SsTableIter>> {
        let stats = &self.engine.stats;
        if !file.overlaps_rows(row_part, Some(&key::row_end_key(row))) {
            return Ok(None);
        }
        let consulted = match file.bloom_type() {
            BloomType::None => None,
            BloomType::Row => Some(file.may_contain_row(row_part)),
            BloomType::RowCol => qualifiers.map(|qs| {
                // DeleteFamily markers live under the empty qualifier: probe it too.
                std::iter::once(&Bytes::new())
                    .chain(qs.iter())
                    .any(|q| file.may_contain_column(&key::column_start_key(row, q)))
            }),
        };
        // `may_contain_*` count bloom checks and useful negatives themselves.
        if consulted == Some(false) {
            return Ok(None);
        }
        let mut it = if cache_only {
            file.iter_cache_only()
        } else {
            file.iter(true)
        }
        .copy_values_below(POINT_READ_COPY_BELOW);
        it.seek(row_part)?;
        if it.valid() && it.key().starts_with(row_part) {
            return Ok(Some(it));
        }
        if consulted.is_some() {
            Stats::add(&stats.bloom_false_positives, 1);
        }
        Ok(None)
    }

    /// Starts a scan at the current read point.
    pub fn scan(&self, s: &Scan) -> Result<Scanner> {
        self.check_open()?;
        check_versions(s.max_versions)?;
        let st = self.snapshot();
        let plans = plan(self, &st, &s.columns)?;
        let start = if s.start_row[..] > self.desc.start_row[..] {
            &s.start_row[..]
        } else {
            &self.desc.start_row[..]
        };
        let stop = match (s.stop_row.is_empty(), self.desc.end_row.is_empty()) {
            (true, _) => self.desc.end_row.clone(),
            (false, true) => s.stop_row.to_vec(),
            (false, false) => std::cmp::min(&s.stop_row[..], &self.desc.end_row[..]).to_vec(),
        };
        let read_point = self.mvcc.read_point();
        self.check_open()?;
        Ok(Scanner {
            engine: self.engine.clone(),
            state: st,
            plans,
            read_point,
            now_ms: self.engine.clock.now_ms(),
            cursor: key::row_start_key(start),
            stop_key: (!stop.is_empty()).then(|| key::row_start_key(&stop)),
            time_range: s.time_range,
            max_versions: s.max_versions,
            remaining: s.limit,
            fill_cache: s.fill_cache,
            done: s.limit == Some(0),
            scratch: RowScratch::default(),
            last_batch_rows: 0,
        })
    }

    /// Runs a scan to the end and returns every row (tests and small tables; servers
    /// stream batches instead).
    pub fn scan_all(&self, s: &Scan) -> Result<Vec<Row>> {
        let mut scanner = self.scan(s)?;
        let mut rows = Vec::new();
        while !scanner.is_done() {
            rows.extend(scanner.next_batch(MAX_SCAN_BATCH_ROWS, MAX_SCAN_BATCH_BYTES)?);
        }
        Ok(rows)
    }
}

/// A scan in progress: a snapshot of the region's stores and a read point, returning
/// rows in order batch by batch. Rows written after it started are not seen. It holds
/// memstores and files alive while it exists, so drop it when done.
pub struct Scanner {
    engine: Arc<EngineShared>,
    state: Arc<RegionState>,
    plans: Vec<StorePlan>,
    read_point: u64,
    now_ms: u64,
    /// Encoded key to resume from (the start of the next row to read).
    cursor: Vec<u8>,
    stop_key: Option<Vec<u8>>,
    time_range: TimeRange,
    max_versions: u32,
    remaining: Option<u64>,
    fill_cache: bool,
    done: bool,
    scratch: RowScratch,
    /// Rows the previous `next_batch` returned: the next one's vector starts that large
    /// (growing a 10,000-row batch from empty cost ~2% of a long scan's CPU).
    last_batch_rows: usize,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("read_point", &self.read_point)
            .field("done", &self.done)
            .finish()
    }
}

fn store_iter<'a>(
    store: &'a StoreState,
    cursor: &[u8],
    stop: Option<&[u8]>,
    fill: bool,
) -> MergingIterator<'a> {
    let mut children: Vec<Source<'a>> =
        Vec::with_capacity(1 + store.frozen.len() + store.files.len());
    children.push(store.active.iter().into());
    for m in &store.frozen {
        children.push(m.iter().into());
    }
    for f in &store.files {
        if f.overlaps_rows(cursor, stop) {
            children.push(f.iter(fill).into());
        }
    }
    MergingIterator::new(children)
}

impl Scanner {
    /// True once every row has been returned.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Returns the next rows: at most `max_rows` (capped at [`MAX_SCAN_BATCH_ROWS`]) and
    /// about `max_bytes` (capped at [`MAX_SCAN_BATCH_BYTES`]). An empty batch means done.
    /// On error the scanner's position is unchanged, so no row is skipped.
    pub fn next_batch(&mut self, max_rows: usize, max_bytes: usize) -> Result<Vec<Row>> {
        let mut sink = RowSink {
            rows: Vec::with_capacity(self.last_batch_rows.max(16).min(max_rows)),
            arena: bytes::BytesMut::new(),
            row: Bytes::new(),
            cells: Vec::new(),
            row_cells: 1,
        };
        self.run_batch(max_rows, max_bytes, &mut sink)?;
        self.last_batch_rows = sink.rows.len();
        Ok(sink.rows)
    }

    /// Like [`Scanner::next_batch`], but lends each cell of the next rows to `visit`
    /// instead of building [`Row`]s: no vector per row, no `Cell`, no reference counts
    /// (a qualifier is copied only when it differs from the previous cell's, a row key
    /// only when it holds a `0x00` byte). That is what an embedded reader that consumes
    /// cells as they come (a long scan, an export) wants. Cells come in scan
    /// order; [`CellRef::first_in_row`] marks where a row starts. Returns the number of
    /// rows visited (0 means done), within the same `max_rows` and `max_bytes` bounds.
    ///
    /// On error the scanner's position is unchanged, as with `next_batch`: a retry
    /// visits again the cells this call had already passed to `visit`.
    pub fn next_batch_with(
        &mut self,
        max_rows: usize,
        max_bytes: usize,
        visit: &mut dyn FnMut(CellRef<'_>),
    ) -> Result<usize> {
        let mut sink = VisitSink {
            visit,
            cells: 0,
            bytes: 0,
        };
        self.run_batch(max_rows, max_bytes, &mut sink)
    }

    /// Reads the next rows into `sink`; returns how many rows had visible cells.
    fn run_batch<S: BatchSink>(
        &mut self,
        max_rows: usize,
        max_bytes: usize,
        sink: &mut S,
    ) -> Result<usize> {
        let max_rows = max_rows.clamp(1, MAX_SCAN_BATCH_ROWS);
        let max_bytes = max_bytes.clamp(1, MAX_SCAN_BATCH_BYTES);
        if self.done {
            return Ok(0);
        }
        let (mut cursor, mut remaining, mut done) = (self.cursor.clone(), self.remaining, false);
        let state = self.state.clone();
        let mut iters: Vec<(usize, MergingIterator<'_>)> = Vec::with_capacity(self.plans.len());
        for (i, p) in self.plans.iter().enumerate() {
            let mut it = store_iter(
                &state.stores[&p.family],
                &cursor,
                self.stop_key.as_deref(),
                self.fill_cache,
            );
            it.seek(&cursor)?;
            iters.push((i, it));
        }
        let (mut rows, mut bytes) = (0, 0);
        let mut row_part: Vec<u8> = Vec::new();
        // `row_part` holds the last row read once this is set.
        let mut read_any = false;
        loop {
            let mut smallest: Option<&[u8]> = None;
            for (_, it) in iters.iter().filter(|(_, it)| it.valid()) {
                let part =
                    key::row_part(it.key()).ok_or_else(|| scan_corruption("key without a row"))?;
                if smallest.is_none_or(|s| part < s) {
                    smallest = Some(part);
                }
            }
            let Some(smallest) = smallest else {
                done = true;
                break;
            };
            row_part.clear();
            row_part.extend_from_slice(smallest);
            if self
                .stop_key
                .as_deref()
                .is_some_and(|stop| row_part.as_slice() >= stop)
            {
                done = true;
                break;
            }
            let row =
                key::row_of_part(&row_part).ok_or_else(|| scan_corruption("unparsable key"))?;
            sink.start_row(&row);
            for (i, it) in iters.iter_mut() {
                if !(it.valid() && it.key().starts_with(&row_part)) {
                    continue;
                }
                let p = &self.plans[*i];
                let q = StoreQuery {
                    family: &p.options,
                    read_point: self.read_point,
                    now_ms: self.now_ms,
                    time_range: self.time_range,
                    max_versions: self.max_versions,
                    qualifiers: p.qualifiers.as_deref(),
                };
                let mut emit = |qualifier: &Bytes, timestamp, it: &MergingIterator<'_>| {
                    sink.cell(&row, &p.family, qualifier, timestamp, it)
                };
                collect_row(it, &row, &row_part, &q, &mut self.scratch, &mut emit)?;
            }
            read_any = true;
            let Some(size) = sink.end_row() else {
                continue;
            };
            rows += 1;
            bytes += size;
            if let Some(n) = remaining.as_mut() {
                *n -= 1;
                if *n == 0 {
                    done = true;
                    break;
                }
            }
            if rows >= max_rows || bytes >= max_bytes {
                break;
            }
        }
        drop(iters);
        if read_any {
            cursor = key::row_end_of_part(&row_part);
        }
        self.cursor = cursor;
        self.remaining = remaining;
        self.done = done;
        Stats::add(&self.engine.stats.scan_rows, rows as u64);
        Ok(rows)
    }
}

/// One cell of a scan, lent to the callback of [`Scanner::next_batch_with`] and valid
/// only during the call: `value` points into the memstore entry or cached block that
/// holds it, the other slices into the scanner's own buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellRef<'a> {
    /// Row key.
    pub row: &'a [u8],
    /// Column family name.
    pub family: &'a [u8],
    /// Column qualifier.
    pub qualifier: &'a [u8],
    /// Timestamp in milliseconds.
    pub timestamp: u64,
    /// Value.
    pub value: &'a [u8],
    /// True for the first cell of its row (rows come whole and in order).
    pub first_in_row: bool,
}

impl CellRef<'_> {
    /// An owned copy of the cell.
    pub fn to_cell(&self) -> Cell {
        Cell {
            row: Bytes::copy_from_slice(self.row),
            family: Bytes::copy_from_slice(self.family),
            qualifier: Bytes::copy_from_slice(self.qualifier),
            timestamp: self.timestamp,
            kind: CellType::Put,
            value: Bytes::copy_from_slice(self.value),
        }
    }
}

/// Where a scan batch's visible cells go, row by row.
trait BatchSink {
    /// A row starts (it may turn out to have no visible cell).
    fn start_row(&mut self, row: &[u8]);
    /// A visible cell of the current row; `it` sits on it.
    fn cell(
        &mut self,
        row: &[u8],
        family: &Bytes,
        qualifier: &Bytes,
        ts: u64,
        it: &MergingIterator<'_>,
    );
    /// The row ends: its approximate size in bytes if it had a visible cell.
    fn end_row(&mut self) -> Option<usize>;
}

/// Builds owned [`Row`]s.
struct RowSink {
    rows: Vec<Row>,
    /// Row keys of a batch share buffers of [`ROW_ARENA_BYTES`]: one allocation per
    /// ~64 KiB of keys.
    arena: bytes::BytesMut,
    row: Bytes,
    cells: Vec<Cell>,
    /// Cells of the previous row: the next row's vector is reserved this large (rows of
    /// a table tend to have the same columns; growing from empty would reserve four).
    row_cells: usize,
}

impl BatchSink for RowSink {
    fn start_row(&mut self, row: &[u8]) {
        if self.arena.capacity() < row.len() {
            self.arena.reserve(ROW_ARENA_BYTES.max(row.len()));
        }
        self.arena.extend_from_slice(row);
        self.row = self.arena.split().freeze();
    }

    fn cell(
        &mut self,
        _row: &[u8],
        family: &Bytes,
        qualifier: &Bytes,
        ts: u64,
        it: &MergingIterator<'_>,
    ) {
        if self.cells.capacity() == 0 {
            self.cells.reserve_exact(self.row_cells);
        }
        self.cells.push(Cell {
            row: self.row.clone(),
            family: family.clone(),
            qualifier: qualifier.clone(),
            timestamp: ts,
            kind: CellType::Put,
            value: it.value_bytes(),
        });
    }

    fn end_row(&mut self) -> Option<usize> {
        if self.cells.is_empty() {
            return None;
        }
        self.row_cells = self.cells.len();
        let r = Row {
            row: std::mem::take(&mut self.row),
            cells: std::mem::take(&mut self.cells),
        };
        let size = r.size_bytes();
        self.rows.push(r);
        Some(size)
    }
}

/// Lends each cell to a callback.
struct VisitSink<'f> {
    visit: &'f mut dyn FnMut(CellRef<'_>),
    /// Cells of the current row so far.
    cells: usize,
    /// Bytes of the current row so far (counted as [`Row::size_bytes`] does).
    bytes: usize,
}

impl BatchSink for VisitSink<'_> {
    fn start_row(&mut self, _row: &[u8]) {
        self.cells = 0;
        self.bytes = 0;
    }

    fn cell(
        &mut self,
        row: &[u8],
        family: &Bytes,
        qualifier: &Bytes,
        ts: u64,
        it: &MergingIterator<'_>,
    ) {
        let value = it.value();
        self.bytes += crate::query::cell_size_bytes(row, family, qualifier, value);
        (self.visit)(CellRef {
            row,
            family,
            qualifier,
            timestamp: ts,
            value,
            first_in_row: self.cells == 0,
        });
        self.cells += 1;
    }

    fn end_row(&mut self) -> Option<usize> {
        (self.cells > 0).then_some(self.bytes)
    }
}

fn scan_corruption(reason: &str) -> Error {
    Error::Corruption {
        file: "<scan>".into(),
        offset: 0,
        reason: reason.into(),
    }
}
