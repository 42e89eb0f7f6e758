//! Turns a store's sorted entries for one row into the cells a reader sees: applies the
//! MVCC read point, delete markers, duplicate timestamps, the family's max versions,
//! TTL and min versions, then the request's columns, time range and version count.
//!
//! Rule order (documented in docs and mirrored by the model test's oracle):
//! 1. entries with `seq > read_point` do not exist for this reader;
//! 2. a `DeleteFamily` at T hides every cell of the row's family with ts <= T; a
//!    `DeleteColumn` at T hides the column's cells with ts <= T; a `Delete` at T hides
//!    the column's cell with ts == T (markers mask regardless of write order, as HBase);
//! 3. of several puts at one timestamp the newest write (highest seq) is the version;
//! 4. versions are numbered newest first; those past the family's `max_versions` are
//!    hidden; those older than the TTL are hidden unless numbered below `min_versions`;
//! 5. only then the request's time range and version count apply, so the answer does
//!    not depend on whether a compaction has already dropped hidden cells.
//!
//! Because the order is timestamp-descending with markers first, every marker that can
//! hide a put is met before it. DeleteFamily markers carry the empty qualifier, the
//! smallest column, so they come first in the row.

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::iterator::InternalIterator;
use crate::key::{self, CellType};
use crate::options::FamilyOptions;
use crate::query::TimeRange;

/// What one read asks of one store.
pub(crate) struct StoreQuery<'a> {
    pub family: &'a FamilyOptions,
    pub read_point: u64,
    pub now_ms: u64,
    pub time_range: TimeRange,
    pub max_versions: u32,
    /// Selected qualifiers, sorted and deduplicated; `None` = all.
    pub qualifiers: Option<&'a [Bytes]>,
}

impl StoreQuery<'_> {
    fn selected(&self, qualifier: &[u8]) -> bool {
        self.qualifiers
            .is_none_or(|qs| qs.binary_search_by(|q| q[..].cmp(qualifier)).is_ok())
    }
}

/// Buffers reused across rows of one read, so walking a row allocates little.
#[derive(Default)]
pub(crate) struct RowScratch {
    col_key: Vec<u8>,
    last_qualifier: Bytes,
}

/// Per-column state while walking a row.
#[derive(Default)]
struct ColumnState {
    delete_column_ts: Option<u64>,
    deleted: Vec<u64>,
    last_put_ts: Option<u64>,
    versions_seen: u32,
    returned: u32,
}

fn corrupt(reason: &str) -> Error {
    Error::Corruption {
        file: "<store iterator>".into(),
        offset: 0,
        reason: reason.into(),
    }
}

/// Reads the row the iterator is positioned in (its key's row part must equal
/// `row_part`), calling `emit(qualifier, timestamp, iter)` for each visible cell in
/// order while the iterator sits on it (so the value can be borrowed or sliced), and
/// leaves the iterator at the first entry past the row.
pub(crate) fn collect_row<I, F>(
    iter: &mut I,
    row: &[u8],
    row_part: &[u8],
    q: &StoreQuery<'_>,
    scratch: &mut RowScratch,
    emit: &mut F,
) -> Result<()>
where
    I: InternalIterator + ?Sized,
    F: FnMut(&Bytes, u64, &I),
{
    let max_versions = q.max_versions.min(q.family.max_versions).max(1);
    let mut family_delete_ts: Option<u64> = None;
    let RowScratch {
        col_key,
        last_qualifier: qualifier,
    } = scratch;
    col_key.clear();
    let mut col = ColumnState::default();
    let mut col_selected = false;
    // Set once a column of this row needed a seek to get past its versions: the row is
    // a hot one (many versions per column in a memstore), so later columns seek after
    // one step instead of stepping over several first.
    let mut hot_row = false;
    while iter.valid() {
        let k = iter.key();
        // `row_part` ends with the row terminator, so a prefix match is an exact row match.
        if !k.starts_with(row_part) {
            break;
        }
        let (ts, kind, seq) = key::parse_trailer(k).ok_or_else(|| corrupt("bad key trailer"))?;
        if seq > q.read_point {
            iter.next()?;
            continue;
        }
        let this_col = key::column_part(k).ok_or_else(|| corrupt("bad column"))?;
        if this_col != col_key.as_slice() {
            col_key.clear();
            col_key.extend_from_slice(this_col);
            col = ColumnState::default();
            let parsed = key::qualifier_of_column(this_col, row_part.len())
                .ok_or_else(|| corrupt("unparsable key"))?;
            col_selected = q.selected(&parsed);
            // Rows of a table tend to share column names: reuse the last qualifier.
            if qualifier[..] != parsed[..] {
                *qualifier = Bytes::copy_from_slice(&parsed);
            }
            if !col_selected && !parsed.is_empty() {
                // Nothing to read in this column: jump to the next selected one or the row end.
                let current = parsed.into_owned();
                skip_to_next_selected(iter, row, &current, q)?;
                continue;
            }
        }
        match kind {
            CellType::DeleteFamily => family_delete_ts = family_delete_ts.max(Some(ts)),
            CellType::DeleteColumn => col.delete_column_ts = col.delete_column_ts.max(Some(ts)),
            CellType::Delete => col.deleted.push(ts),
            CellType::Put => {
                if let Some(cell) = visit_put(
                    ts,
                    &mut col,
                    family_delete_ts,
                    max_versions,
                    q,
                    col_selected,
                ) {
                    emit(qualifier, cell, iter);
                    // Older entries of the column can neither be returned nor hide
                    // anything returned: skip them (a memstore holds every version
                    // written since its flush, thousands for a hot row). Not in the
                    // empty qualifier's column, whose older DeleteFamily markers hide
                    // cells of the other columns.
                    if col.returned >= max_versions && !qualifier.is_empty() {
                        let steps = if hot_row { 1 } else { MAX_SEQUENTIAL_SKIPS };
                        hot_row |= skip_rest_of_column(iter, col_key, steps)?;
                        continue;
                    }
                }
            }
        }
        iter.next()?;
    }
    Ok(())
}

/// Entries stepped over one by one before [`skip_rest_of_column`] seeks instead (a seek
/// repositions every merged source; RocksDB's `max_sequential_skip_in_iterations`).
const MAX_SEQUENTIAL_SKIPS: usize = 8;

/// Moves the iterator, positioned at an entry of `column` (a [`key::column_part`]), to
/// the first entry past that column: up to `steps` entries one by one, then a seek.
/// Returns true if it seeked.
fn skip_rest_of_column<I: InternalIterator + ?Sized>(
    iter: &mut I,
    column: &[u8],
    steps: usize,
) -> Result<bool> {
    for _ in 0..steps {
        iter.next()?;
        if !iter.valid() || key::column_part(iter.key()) != Some(column) {
            return Ok(false);
        }
    }
    iter.seek(&key::column_end_key(column))?;
    Ok(true)
}

/// Applies rules 2-5 to a put at `ts`; returns `Some(ts)` if the reader gets it.
fn visit_put(
    ts: u64,
    col: &mut ColumnState,
    family_delete_ts: Option<u64>,
    max_versions: u32,
    q: &StoreQuery<'_>,
    col_selected: bool,
) -> Option<u64> {
    classify_put(ts, col, family_delete_ts, q.family, q.now_ms)?;
    if !col_selected || !q.time_range.contains(ts) || col.returned >= max_versions {
        return None;
    }
    col.returned += 1;
    Some(ts)
}

/// Rules 2-4 (what the family's data says, whatever the request): `Some(version)`
/// if the put at `ts` is part of the column's visible history, newest version 0.
fn classify_put(
    ts: u64,
    col: &mut ColumnState,
    family_delete_ts: Option<u64>,
    family: &FamilyOptions,
    now_ms: u64,
) -> Option<u32> {
    let version = number_put(ts, col, family_delete_ts)?;
    if version >= family.max_versions {
        return None;
    }
    if expired(family, now_ms, ts) && version >= family.min_versions {
        return None;
    }
    Some(version)
}

/// Rules 2-3: the put at `ts`'s version number in its column (newest 0), or `None` if a
/// marker met so far hides it or a newer write at the same timestamp shadows it.
fn number_put(ts: u64, col: &mut ColumnState, family_delete_ts: Option<u64>) -> Option<u32> {
    if family_delete_ts.is_some_and(|d| ts <= d)
        || col.delete_column_ts.is_some_and(|d| ts <= d)
        || col.deleted.contains(&ts)
        || col.last_put_ts == Some(ts)
    {
        return None;
    }
    col.last_put_ts = Some(ts);
    let version = col.versions_seen;
    col.versions_seen += 1;
    Some(version)
}

/// Follows a store's entries in key order for the compaction and flush filters: resets
/// the row's and the column's marker state at their boundaries and records each marker.
#[derive(Default)]
struct MarkerWalk {
    row: Vec<u8>,
    column: Vec<u8>,
    family_delete_ts: Option<u64>,
    col: ColumnState,
}

impl MarkerWalk {
    /// Takes the next entry: `Ok(None)` for a marker (recorded), `Ok(Some(ts))` for a put.
    fn step(&mut self, key: &[u8]) -> Result<Option<u64>> {
        let row = key::row_part(key).ok_or_else(|| corrupt("bad row"))?;
        if row != self.row.as_slice() {
            self.row.clear();
            self.row.extend_from_slice(row);
            self.family_delete_ts = None;
            self.column.clear();
        }
        let column = key::column_part(key).ok_or_else(|| corrupt("bad column"))?;
        if column != self.column.as_slice() {
            self.column.clear();
            self.column.extend_from_slice(column);
            self.col = ColumnState::default();
        }
        let (ts, kind, _seq) = key::parse_trailer(key).ok_or_else(|| corrupt("bad key trailer"))?;
        match kind {
            CellType::DeleteFamily => self.family_delete_ts = self.family_delete_ts.max(Some(ts)),
            CellType::DeleteColumn => {
                self.col.delete_column_ts = self.col.delete_column_ts.max(Some(ts))
            }
            CellType::Delete => self.col.deleted.push(ts),
            CellType::Put => return Ok(Some(ts)),
        }
        Ok(None)
    }
}

fn expired(family: &FamilyOptions, now_ms: u64, ts: u64) -> bool {
    match family.ttl_seconds {
        Some(ttl) => ts < now_ms.saturating_sub(ttl.saturating_mul(1000)),
        None => false,
    }
}

/// Decides, entry by entry in key order, what a major compaction keeps: exactly the
/// puts a reader could still see (rules 2-4 with every entry visible). Markers, hidden,
/// surplus and expired cells are dropped, so reads give the same answers afterwards.
pub(crate) struct RetentionFilter<'a> {
    family: &'a FamilyOptions,
    now_ms: u64,
    walk: MarkerWalk,
}

impl<'a> RetentionFilter<'a> {
    pub(crate) fn new(family: &'a FamilyOptions, now_ms: u64) -> Self {
        RetentionFilter {
            family,
            now_ms,
            walk: MarkerWalk::default(),
        }
    }

    /// True if the entry with this encoded key survives a major compaction.
    pub(crate) fn keep(&mut self, key: &[u8]) -> Result<bool> {
        let Some(ts) = self.walk.step(key)? else {
            return Ok(false);
        };
        let w = &mut self.walk;
        Ok(classify_put(ts, &mut w.col, w.family_delete_ts, self.family, self.now_ms).is_some())
    }
}

/// Decides, entry by entry in key order, what a flush writes of one memstore. Every
/// delete marker is kept (the files it does not read may hold puts it hides). Of the
/// puts, those no reader can see from now on are left out: a put hidden by one of the
/// memstore's own markers (markers go only with a major compaction, which drops what
/// they hide too), an older write at the same timestamp, and, when `count_versions`,
/// a put with `max_versions` newer versions in this memstore. That last rule holds
/// while no other source of the store has a marker that could hide one of those newer
/// versions, which the caller checks; a `Delete` of one exact version written later
/// does not bring such a put back (HBase's flush behaves the same way: only a major
/// compaction, or no compaction at all, gives the full history back).
pub(crate) struct FlushFilter<'a> {
    family: &'a FamilyOptions,
    count_versions: bool,
    walk: MarkerWalk,
}

impl<'a> FlushFilter<'a> {
    pub(crate) fn new(family: &'a FamilyOptions, count_versions: bool) -> Self {
        FlushFilter {
            family,
            count_versions,
            walk: MarkerWalk::default(),
        }
    }

    /// True if the entry with this encoded key is kept by `filter`, or there is none.
    pub(crate) fn keeps(filter: Option<&mut Self>, key: &[u8]) -> Result<bool> {
        filter.map_or(Ok(true), |f| f.keep(key))
    }

    /// True if the entry with this encoded key goes into the flushed file.
    pub(crate) fn keep(&mut self, key: &[u8]) -> Result<bool> {
        let Some(ts) = self.walk.step(key)? else {
            return Ok(true);
        };
        let w = &mut self.walk;
        Ok(match number_put(ts, &mut w.col, w.family_delete_ts) {
            None => false,
            Some(version) => !self.count_versions || version < self.family.max_versions,
        })
    }
}

/// Seeks past an unselected column to the next selected qualifier of the row, or to
/// the row's end when none is left.
fn skip_to_next_selected<I: InternalIterator + ?Sized>(
    iter: &mut I,
    row: &[u8],
    current: &[u8],
    q: &StoreQuery<'_>,
) -> Result<()> {
    let next = q
        .qualifiers
        .and_then(|qs| qs.iter().find(|s| s[..] > *current));
    match next {
        Some(s) => iter.seek(&key::column_start_key(row, s)),
        None => iter.seek(&key::row_end_key(row)),
    }
}
