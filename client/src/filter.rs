//! Server-side filters, built like HBase's: [`Filter::row_prefix`],
//! [`Filter::single_column_value`], [`Filter::all`] (a MUST_PASS_ALL list) and so on. A
//! `Filter` is a thin, typed wrapper over the protocol's `Filter` message.

use std::ops::Bound;

use bytes::Bytes;
use strata_proto::v1 as pb;
use strata_proto::v1::filter::Kind;

/// A comparison, read as `current_value <op> operand`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
}

impl From<CompareOp> for pb::CompareOp {
    fn from(op: CompareOp) -> Self {
        match op {
            CompareOp::Equal => pb::CompareOp::Equal,
            CompareOp::NotEqual => pb::CompareOp::NotEqual,
            CompareOp::Less => pb::CompareOp::Less,
            CompareOp::LessOrEqual => pb::CompareOp::LessOrEqual,
            CompareOp::Greater => pb::CompareOp::Greater,
            CompareOp::GreaterOrEqual => pb::CompareOp::GreaterOrEqual,
        }
    }
}

/// A server-side filter for gets and scans.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(pub(crate) pb::Filter);

impl Filter {
    fn of(kind: Kind) -> Filter {
        Filter(pb::Filter { kind: Some(kind) })
    }

    /// Rows whose key starts with `prefix` (HBase's PrefixFilter).
    pub fn row_prefix(prefix: impl Into<Bytes>) -> Filter {
        Filter::of(Kind::RowPrefix(prefix.into()))
    }

    /// Cells whose qualifier starts with `prefix` (ColumnPrefixFilter).
    pub fn column_prefix(prefix: impl Into<Bytes>) -> Filter {
        Filter::of(Kind::ColumnPrefix(prefix.into()))
    }

    /// Cells whose qualifier lies within the bounds (ColumnRangeFilter). An unbounded
    /// side is written `Bound::Unbounded`; an empty qualifier as a bound also means
    /// unbounded, as in the protocol.
    pub fn column_range(min: Bound<Bytes>, max: Bound<Bytes>) -> Filter {
        let split = |b: Bound<Bytes>| match b {
            Bound::Included(v) => (v, true),
            Bound::Excluded(v) => (v, false),
            Bound::Unbounded => (Bytes::new(), false),
        };
        let ((min, min_inclusive), (max, max_inclusive)) = (split(min), split(max));
        Filter::of(Kind::ColumnRange(pb::ColumnRange {
            min,
            min_inclusive,
            max,
            max_inclusive,
        }))
    }

    /// Rows whose newest `family:qualifier` value satisfies `value <op> operand`
    /// (SingleColumnValueFilter). Rows without the column pass unless
    /// [`filter_if_missing`](Self::filter_if_missing) is set.
    pub fn single_column_value(
        family: impl Into<Bytes>,
        qualifier: impl Into<Bytes>,
        op: CompareOp,
        operand: impl Into<Bytes>,
    ) -> Filter {
        Filter::of(Kind::SingleColumnValue(pb::SingleColumnValue {
            family: family.into(),
            qualifier: qualifier.into(),
            op: pb::CompareOp::from(op) as i32,
            value: operand.into(),
            filter_if_missing: false,
        }))
    }

    /// For a single-column-value filter: drop rows that lack the column (HBase's
    /// `setFilterIfMissing`). Other filters are returned unchanged.
    pub fn filter_if_missing(mut self, drop_missing: bool) -> Filter {
        if let Some(Kind::SingleColumnValue(scv)) = &mut self.0.kind {
            scv.filter_if_missing = drop_missing;
        }
        self
    }

    /// Strips values, keeping keys (KeyOnlyFilter).
    pub fn key_only() -> Filter {
        Filter::of(Kind::KeyOnly(true))
    }

    /// Only the first cell of each row (FirstKeyOnlyFilter).
    pub fn first_key_only() -> Filter {
        Filter::of(Kind::FirstKeyOnly(true))
    }

    /// At most `rows` rows per region scanned (PageFilter; like HBase's, it is applied
    /// by each region separately, so use [`Scan::limit`](crate::Scan::limit) for a
    /// global bound).
    pub fn page(rows: u64) -> Filter {
        Filter::of(Kind::Page(rows))
    }

    /// Passes what passes every filter (FilterList MUST_PASS_ALL).
    pub fn all(filters: impl IntoIterator<Item = Filter>) -> Filter {
        Filter::list(pb::filter_list::Operator::MustPassAll, filters)
    }

    /// Passes what passes any filter (FilterList MUST_PASS_ONE).
    pub fn any(filters: impl IntoIterator<Item = Filter>) -> Filter {
        Filter::list(pb::filter_list::Operator::MustPassOne, filters)
    }

    fn list(op: pb::filter_list::Operator, filters: impl IntoIterator<Item = Filter>) -> Filter {
        Filter::of(Kind::List(pb::FilterList {
            op: op as i32,
            filters: filters.into_iter().map(|f| f.0).collect(),
        }))
    }

    /// `self AND other`, without nesting lists needlessly.
    pub(crate) fn and(self, other: Filter) -> Filter {
        match self.0.kind {
            Some(Kind::List(mut list))
                if list.op == pb::filter_list::Operator::MustPassAll as i32 =>
            {
                list.filters.push(other.0);
                Filter::of(Kind::List(list))
            }
            _ => Filter::all([self, other]),
        }
    }

    /// The protocol message.
    pub fn to_proto(&self) -> pb::Filter {
        self.0.clone()
    }
}

/// Combines an optional filter with another one.
pub(crate) fn and_filter(existing: Option<Filter>, extra: Filter) -> Filter {
    match existing {
        Some(f) => f.and(extra),
        None => extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_fill_the_proto() {
        assert_eq!(
            Filter::row_prefix("ab").0.kind,
            Some(Kind::RowPrefix(Bytes::from("ab")))
        );
        let range = Filter::column_range(Bound::Included("a".into()), Bound::Unbounded);
        assert_eq!(
            range.0.kind,
            Some(Kind::ColumnRange(pb::ColumnRange {
                min: "a".into(),
                min_inclusive: true,
                max: Bytes::new(),
                max_inclusive: false,
            }))
        );
        let scv = Filter::single_column_value("f", "q", CompareOp::GreaterOrEqual, "5")
            .filter_if_missing(true);
        match scv.0.kind {
            Some(Kind::SingleColumnValue(s)) => {
                assert_eq!(s.op, pb::CompareOp::GreaterOrEqual as i32);
                assert!(s.filter_if_missing);
                assert_eq!(s.value, "5");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(Filter::page(3).0.kind, Some(Kind::Page(3)));
        assert_eq!(Filter::key_only().0.kind, Some(Kind::KeyOnly(true)));
        assert_eq!(
            Filter::first_key_only().0.kind,
            Some(Kind::FirstKeyOnly(true))
        );
    }

    #[test]
    fn lists_nest_and_flatten() {
        let any = Filter::any([Filter::row_prefix("a"), Filter::row_prefix("b")]);
        match &any.0.kind {
            Some(Kind::List(l)) => {
                assert_eq!(l.op, pb::filter_list::Operator::MustPassOne as i32);
                assert_eq!(l.filters.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        let all = Filter::all([Filter::key_only()]).and(Filter::page(1));
        match &all.0.kind {
            Some(Kind::List(l)) => assert_eq!(l.filters.len(), 2),
            other => panic!("{other:?}"),
        }
        let nested = any.and(Filter::page(1));
        match &nested.0.kind {
            Some(Kind::List(l)) => {
                assert_eq!(l.op, pb::filter_list::Operator::MustPassAll as i32);
                assert_eq!(l.filters.len(), 2);
            }
            other => panic!("{other:?}"),
        }
    }
}
