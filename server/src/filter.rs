//! Server-side filters (HBase's `Filter`s), applied to each row a get or scan reads.
//!
//! A filter narrows a row's cells: [`RowFilter::select`] takes the indices of the cells
//! still in play and returns those that pass. Row-level filters (row prefix, single
//! column value, page) keep all or none; column filters keep matching cells;
//! first-key-only keeps the first. `MUST_PASS_ALL` feeds each filter what the previous
//! ones kept (so `ALL(column_prefix "b", first_key_only)` returns the first `b` cell, as
//! in HBase); `MUST_PASS_ONE` keeps what any of them keeps. A row with no cell left is
//! dropped. `key_only` anywhere in the tree empties every returned value.
//!
//! Single column value: the column is read even when the request selects other columns
//! ([`FilterPlan::extra_columns`] lists what to add to the selection), decided on its
//! newest version in the read, and stripped again from the result if it was not asked
//! for. A missing column passes the row unless `filter_if_missing`.
//!
//! Page counts rows per region, as HBase's PageFilter does per region server: the client
//! enforces the total across regions.

use bytes::Bytes;
use strata_proto::v1 as pb;
use strata_storage::query::ColumnSelection;
use strata_storage::{CompareOp, Row};
use tonic::Status;

use crate::convert::{compare, compare_op};
use crate::error::invalid;

/// Deepest nesting of filter lists.
pub const MAX_FILTER_DEPTH: usize = 8;
/// Most filters in one tree.
pub const MAX_FILTER_NODES: usize = 256;

/// A validated filter tree.
#[derive(Clone, Debug, PartialEq)]
pub enum RowFilter {
    /// Rows whose key starts with the prefix.
    RowPrefix(Bytes),
    /// Cells whose qualifier starts with the prefix.
    ColumnPrefix(Bytes),
    /// Cells whose qualifier is inside the range (empty bound = unbounded).
    ColumnRange(pb::ColumnRange),
    /// Rows whose column compares as asked.
    SingleColumnValue {
        /// Family of the tested column.
        family: Bytes,
        /// Qualifier of the tested column.
        qualifier: Bytes,
        /// `current <op> value`.
        op: CompareOp,
        /// Operand.
        value: Bytes,
        /// Drop rows without the column.
        filter_if_missing: bool,
    },
    /// Values stripped.
    KeyOnly,
    /// First cell of each row.
    FirstKeyOnly,
    /// At most this many rows (per region).
    Page {
        /// Page size.
        size: u64,
        /// Rows passed so far.
        passed: u64,
    },
    /// AND (`all`) or OR of the children.
    List {
        /// True for MUST_PASS_ALL.
        all: bool,
        /// Children, evaluated in order.
        filters: Vec<RowFilter>,
    },
    /// Passes everything (`key_only: false`, `first_key_only: false`).
    Pass,
}

impl RowFilter {
    /// Validates a wire filter: INVALID_ARGUMENT for an empty list, page 0, a missing
    /// kind, an unknown operator, nesting deeper than [`MAX_FILTER_DEPTH`] or more than
    /// [`MAX_FILTER_NODES`] filters.
    pub fn from_proto(f: pb::Filter) -> Result<RowFilter, Status> {
        let mut nodes = 0;
        Self::build(f, 1, &mut nodes)
    }

    fn build(f: pb::Filter, depth: usize, nodes: &mut usize) -> Result<RowFilter, Status> {
        use pb::filter::Kind;
        *nodes += 1;
        if *nodes > MAX_FILTER_NODES {
            return Err(invalid(format!(
                "filter has more than MAX_FILTER_NODES = {MAX_FILTER_NODES} filters"
            )));
        }
        let kind = f.kind.ok_or_else(|| invalid("filter has no kind set"))?;
        Ok(match kind {
            Kind::RowPrefix(p) => RowFilter::RowPrefix(p),
            Kind::ColumnPrefix(p) => RowFilter::ColumnPrefix(p),
            Kind::ColumnRange(r) => RowFilter::ColumnRange(r),
            Kind::SingleColumnValue(s) => {
                if s.family.is_empty() {
                    return Err(invalid("single_column_value filter needs a family"));
                }
                RowFilter::SingleColumnValue {
                    family: s.family,
                    qualifier: s.qualifier,
                    op: compare_op(s.op)?,
                    value: s.value,
                    filter_if_missing: s.filter_if_missing,
                }
            }
            Kind::KeyOnly(true) => RowFilter::KeyOnly,
            Kind::FirstKeyOnly(true) => RowFilter::FirstKeyOnly,
            Kind::KeyOnly(false) | Kind::FirstKeyOnly(false) => RowFilter::Pass,
            Kind::Page(0) => return Err(invalid("page filter size must be >= 1")),
            Kind::Page(size) => RowFilter::Page { size, passed: 0 },
            Kind::List(list) => {
                if depth >= MAX_FILTER_DEPTH {
                    return Err(invalid(format!(
                        "filter lists nest deeper than MAX_FILTER_DEPTH = {MAX_FILTER_DEPTH}"
                    )));
                }
                if list.filters.is_empty() {
                    return Err(invalid("filter list is empty"));
                }
                let all = match pb::filter_list::Operator::try_from(list.op) {
                    Ok(pb::filter_list::Operator::MustPassAll) => true,
                    Ok(pb::filter_list::Operator::MustPassOne) => false,
                    Err(_) => return Err(invalid(format!("unknown filter list op {}", list.op))),
                };
                let filters = list
                    .filters
                    .into_iter()
                    .map(|f| Self::build(f, depth + 1, nodes))
                    .collect::<Result<_, _>>()?;
                RowFilter::List { all, filters }
            }
        })
    }

    /// The cells of `row` (indices into `row.cells`, in order) among `candidates` that
    /// pass this filter. Page filters count the rows they pass.
    pub fn select(&mut self, row: &Row, candidates: &[usize]) -> Vec<usize> {
        if candidates.is_empty() {
            return Vec::new();
        }
        let keep_if = |pass: bool| {
            if pass {
                candidates.to_vec()
            } else {
                Vec::new()
            }
        };
        match self {
            RowFilter::RowPrefix(p) => keep_if(row.row.starts_with(p)),
            RowFilter::ColumnPrefix(p) => candidates
                .iter()
                .copied()
                .filter(|&i| row.cells[i].qualifier.starts_with(p))
                .collect(),
            RowFilter::ColumnRange(r) => candidates
                .iter()
                .copied()
                .filter(|&i| in_range(r, &row.cells[i].qualifier))
                .collect(),
            RowFilter::SingleColumnValue {
                family,
                qualifier,
                op,
                value,
                filter_if_missing,
            } => {
                let current = row
                    .cells
                    .iter()
                    .find(|c| c.family == *family && c.qualifier == *qualifier);
                keep_if(match current {
                    None => !*filter_if_missing,
                    Some(c) => compare(*op, &c.value, value),
                })
            }
            RowFilter::KeyOnly | RowFilter::Pass => candidates.to_vec(),
            RowFilter::FirstKeyOnly => candidates[..1].to_vec(),
            RowFilter::Page { size, passed } => {
                let pass = *passed < *size;
                if pass {
                    *passed += 1;
                }
                keep_if(pass)
            }
            RowFilter::List { all: true, filters } => {
                let mut kept = candidates.to_vec();
                for f in filters {
                    kept = f.select(row, &kept);
                    if kept.is_empty() {
                        break;
                    }
                }
                kept
            }
            RowFilter::List {
                all: false,
                filters,
            } => {
                let mut keep = vec![false; row.cells.len()];
                for f in filters {
                    for i in f.select(row, candidates) {
                        keep[i] = true;
                    }
                }
                candidates.iter().copied().filter(|&i| keep[i]).collect()
            }
        }
    }

    /// True when no later row can pass (a page filter is full): the scan may stop.
    pub fn exhausted(&self) -> bool {
        match self {
            RowFilter::Page { size, passed } => passed >= size,
            RowFilter::List { all: true, filters } => filters.iter().any(Self::exhausted),
            RowFilter::List {
                all: false,
                filters,
            } => filters.iter().all(Self::exhausted),
            _ => false,
        }
    }

    fn key_only(&self) -> bool {
        match self {
            RowFilter::KeyOnly => true,
            RowFilter::List { filters, .. } => filters.iter().any(Self::key_only),
            _ => false,
        }
    }

    /// A row prefix every passing row must have (top level or inside an AND), which
    /// narrows the scanned range.
    pub fn required_prefix(&self) -> Option<&Bytes> {
        match self {
            RowFilter::RowPrefix(p) => Some(p),
            RowFilter::List { all: true, filters } => {
                filters.iter().find_map(Self::required_prefix)
            }
            _ => None,
        }
    }

    fn value_columns<'a>(&'a self, out: &mut Vec<(&'a Bytes, &'a Bytes)>) {
        match self {
            RowFilter::SingleColumnValue {
                family, qualifier, ..
            } => out.push((family, qualifier)),
            RowFilter::List { filters, .. } => filters.iter().for_each(|f| f.value_columns(out)),
            _ => {}
        }
    }
}

fn in_range(r: &pb::ColumnRange, q: &[u8]) -> bool {
    let above_min = r.min.is_empty()
        || if r.min_inclusive {
            q >= &r.min[..]
        } else {
            q > &r.min[..]
        };
    let below_max = r.max.is_empty()
        || if r.max_inclusive {
            q <= &r.max[..]
        } else {
            q < &r.max[..]
        };
    above_min && below_max
}

/// A filter prepared for one read: the tree, and the columns added to the read only so
/// single-column-value filters can see them.
#[derive(Debug)]
pub struct FilterPlan {
    filter: RowFilter,
    key_only: bool,
    /// (family, qualifier) read only for the filter, stripped from results.
    extra_columns: Vec<(Bytes, Bytes)>,
}

impl FilterPlan {
    /// Prepares `filter` for a read of `columns`, adding the single-column-value
    /// columns the selection does not cover.
    pub fn new(filter: RowFilter, columns: &mut ColumnSelection) -> FilterPlan {
        let mut tested = Vec::new();
        filter.value_columns(&mut tested);
        let mut extra_columns = Vec::new();
        if !columns.is_empty() {
            for (family, qualifier) in tested {
                let covered = columns
                    .get(family)
                    .is_some_and(|qs| qs.is_empty() || qs.contains(qualifier));
                let pair = (family.clone(), qualifier.clone());
                if !covered && !extra_columns.contains(&pair) {
                    columns
                        .entry(family.clone())
                        .or_default()
                        .push(qualifier.clone());
                    extra_columns.push(pair);
                }
            }
        }
        FilterPlan {
            key_only: filter.key_only(),
            filter,
            extra_columns,
        }
    }

    /// The row as the client should see it, or `None` if the filter drops it.
    pub fn apply(&mut self, mut row: Row) -> Option<Row> {
        let extra = |c: &strata_storage::Cell| {
            self.extra_columns
                .iter()
                .any(|(f, q)| c.family == *f && c.qualifier == *q)
        };
        let candidates: Vec<usize> = (0..row.cells.len())
            .filter(|&i| !extra(&row.cells[i]))
            .collect();
        let kept = self.filter.select(&row, &candidates);
        if kept.is_empty() {
            return None;
        }
        let mut keep = vec![false; row.cells.len()];
        for i in kept {
            keep[i] = true;
        }
        let mut i = 0;
        row.cells.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        if self.key_only {
            for c in &mut row.cells {
                c.value = Bytes::new();
            }
        }
        Some(row)
    }

    /// True when no later row can pass.
    pub fn exhausted(&self) -> bool {
        self.filter.exhausted()
    }

    /// See [`RowFilter::required_prefix`].
    pub fn required_prefix(&self) -> Option<&Bytes> {
        self.filter.required_prefix()
    }
}

#[cfg(test)]
mod tests;
