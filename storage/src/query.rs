//! Read requests ([`Get`], [`Scan`]) and their results ([`Row`]).

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::key::Cell;

/// Half-open timestamp range `[min, max)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// Smallest included timestamp.
    pub min: u64,
    /// First excluded timestamp.
    pub max: u64,
}

impl Default for TimeRange {
    fn default() -> Self {
        TimeRange {
            min: 0,
            max: u64::MAX,
        }
    }
}

impl TimeRange {
    /// True if `ts` is inside.
    pub fn contains(&self, ts: u64) -> bool {
        self.min <= ts && ts < self.max
    }
}

/// Which columns a read returns: empty = every family; a family mapped to an empty list
/// = every column of that family; otherwise the listed qualifiers.
pub type ColumnSelection = BTreeMap<Bytes, Vec<Bytes>>;

/// Reads one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Get {
    /// The row.
    pub row: Bytes,
    /// Columns to return.
    pub columns: ColumnSelection,
    /// Only versions inside this range.
    pub time_range: TimeRange,
    /// Versions per column (capped by the family's `max_versions`; default 1).
    pub max_versions: u32,
}

impl Get {
    /// Latest version of every column of `row`.
    pub fn new(row: impl Into<Bytes>) -> Self {
        Get {
            row: row.into(),
            columns: BTreeMap::new(),
            time_range: TimeRange::default(),
            max_versions: 1,
        }
    }

    /// Adds a whole family.
    pub fn family(mut self, family: impl Into<Bytes>) -> Self {
        self.columns.insert(family.into(), Vec::new());
        self
    }

    /// Adds one column.
    pub fn column(mut self, family: impl Into<Bytes>, qualifier: impl Into<Bytes>) -> Self {
        self.columns
            .entry(family.into())
            .or_default()
            .push(qualifier.into());
        self
    }

    /// Returns up to `n` versions per column.
    pub fn versions(mut self, n: u32) -> Self {
        self.max_versions = n;
        self
    }

    /// Restricts to `[min, max)`.
    pub fn time_range(mut self, min: u64, max: u64) -> Self {
        self.time_range = TimeRange { min, max };
        self
    }
}

/// Reads a range of rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    /// First row (inclusive); empty = from the region start.
    pub start_row: Bytes,
    /// Row to stop before (exclusive); empty = to the region end.
    pub stop_row: Bytes,
    /// Columns to return.
    pub columns: ColumnSelection,
    /// Only versions inside this range.
    pub time_range: TimeRange,
    /// Versions per column (default 1).
    pub max_versions: u32,
    /// Most rows to return in total.
    pub limit: Option<u64>,
    /// False: blocks read by this scan do not enter the block cache (HBase's
    /// `setCacheBlocks(false)`), so a one-off full scan leaves the hot set alone.
    pub fill_cache: bool,
}

impl Default for Scan {
    fn default() -> Self {
        Scan {
            start_row: Bytes::new(),
            stop_row: Bytes::new(),
            columns: BTreeMap::new(),
            time_range: TimeRange::default(),
            max_versions: 1,
            limit: None,
            fill_cache: true,
        }
    }
}

impl Scan {
    /// Every row of the region.
    pub fn new() -> Self {
        Scan::default()
    }

    /// Starts at `row` (inclusive).
    pub fn start(mut self, row: impl Into<Bytes>) -> Self {
        self.start_row = row.into();
        self
    }

    /// Stops before `row`.
    pub fn stop(mut self, row: impl Into<Bytes>) -> Self {
        self.stop_row = row.into();
        self
    }

    /// Adds a whole family.
    pub fn family(mut self, family: impl Into<Bytes>) -> Self {
        self.columns.insert(family.into(), Vec::new());
        self
    }

    /// Adds one column.
    pub fn column(mut self, family: impl Into<Bytes>, qualifier: impl Into<Bytes>) -> Self {
        self.columns
            .entry(family.into())
            .or_default()
            .push(qualifier.into());
        self
    }

    /// Returns up to `n` versions per column.
    pub fn versions(mut self, n: u32) -> Self {
        self.max_versions = n;
        self
    }

    /// Restricts to `[min, max)`.
    pub fn time_range(mut self, min: u64, max: u64) -> Self {
        self.time_range = TimeRange { min, max };
        self
    }

    /// Returns at most `n` rows.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Whether read blocks enter the block cache.
    pub fn fill_cache(mut self, fill: bool) -> Self {
        self.fill_cache = fill;
        self
    }
}

/// One row of a result: its cells sorted by family, qualifier, timestamp desc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Row key.
    pub row: Bytes,
    /// Cells (puts only).
    pub cells: Vec<Cell>,
}

impl Row {
    /// The newest value of a column, if present.
    pub fn value(&self, family: &[u8], qualifier: &[u8]) -> Option<&Bytes> {
        self.cells
            .iter()
            .find(|c| &c.family[..] == family && &c.qualifier[..] == qualifier)
            .map(|c| &c.value)
    }

    /// Approximate bytes of the row (for batch size limits).
    pub fn size_bytes(&self) -> usize {
        self.cells
            .iter()
            .map(|c| cell_size_bytes(&c.row, &c.family, &c.qualifier, &c.value))
            .sum()
    }
}

/// Approximate bytes of one cell, as [`Row::size_bytes`] counts them (the parts plus 16
/// for the timestamp and type).
pub(crate) fn cell_size_bytes(row: &[u8], family: &[u8], qualifier: &[u8], value: &[u8]) -> usize {
    row.len() + family.len() + qualifier.len() + value.len() + 16
}
