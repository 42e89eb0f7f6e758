//! Conversions between the wire types (`strata_proto::v1`) and the engine's types. Pure
//! functions: a malformed message becomes INVALID_ARGUMENT naming the field.

use bytes::Bytes;
use strata_proto::v1 as pb;
use strata_storage::query::ColumnSelection;
use strata_storage::{CompareOp, Durability, Mutation, Row, RowMutation, TimeRange};
use tonic::Status;

use crate::error::invalid;

/// Builds the engine's row mutation from a request's operations.
pub fn row_mutation(row: Bytes, ops: Vec<pb::Mutation>) -> Result<RowMutation, Status> {
    let ops = ops
        .into_iter()
        .enumerate()
        .map(|(i, m)| mutation(m).ok_or_else(|| invalid(format!("mutations[{i}] has no op set"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RowMutation { row, ops })
}

fn mutation(m: pb::Mutation) -> Option<Mutation> {
    use pb::mutation::Op;
    Some(match m.op? {
        Op::Put(p) => Mutation::Put {
            family: p.family,
            qualifier: p.qualifier,
            timestamp: p.timestamp,
            value: p.value,
        },
        Op::Delete(d) => Mutation::Delete {
            family: d.family,
            qualifier: d.qualifier,
            timestamp: d.timestamp,
        },
        Op::DeleteColumn(d) => Mutation::DeleteColumn {
            family: d.family,
            qualifier: d.qualifier,
            timestamp: d.timestamp,
        },
        Op::DeleteFamily(d) => Mutation::DeleteFamily {
            family: d.family,
            timestamp: d.timestamp,
        },
        Op::DeleteRow(d) => Mutation::DeleteRow {
            timestamp: d.timestamp,
        },
    })
}

/// `DURABILITY_DEFAULT` is `None`: the server's `wal.durability`.
pub fn durability(d: i32) -> Result<Option<Durability>, Status> {
    Ok(match pb::Durability::try_from(d) {
        Ok(pb::Durability::Default) => None,
        Ok(pb::Durability::Skip) => Some(Durability::Skip),
        Ok(pb::Durability::Async) => Some(Durability::Async),
        Ok(pb::Durability::Flush) => Some(Durability::Flush),
        Ok(pb::Durability::Fsync) => Some(Durability::Fsync),
        Err(_) => return Err(invalid(format!("unknown durability {d}"))),
    })
}

/// A comparison operator of a check or filter.
pub fn compare_op(op: i32) -> Result<CompareOp, Status> {
    Ok(match pb::CompareOp::try_from(op) {
        Ok(pb::CompareOp::Equal) => CompareOp::Equal,
        Ok(pb::CompareOp::NotEqual) => CompareOp::NotEqual,
        Ok(pb::CompareOp::Less) => CompareOp::Less,
        Ok(pb::CompareOp::LessOrEqual) => CompareOp::LessOrEqual,
        Ok(pb::CompareOp::Greater) => CompareOp::Greater,
        Ok(pb::CompareOp::GreaterOrEqual) => CompareOp::GreaterOrEqual,
        Err(_) => return Err(invalid(format!("unknown compare op {op}"))),
    })
}

/// `current <op> expected`, bytewise (as the engine's check-and-mutate).
pub fn compare(op: CompareOp, current: &[u8], expected: &[u8]) -> bool {
    let ord = current.cmp(expected);
    match op {
        CompareOp::Equal => ord.is_eq(),
        CompareOp::NotEqual => ord.is_ne(),
        CompareOp::Less => ord.is_lt(),
        CompareOp::LessOrEqual => ord.is_le(),
        CompareOp::Greater => ord.is_gt(),
        CompareOp::GreaterOrEqual => ord.is_ge(),
    }
}

/// The column selection of a read; a family listed twice merges (a whole-family entry
/// wins over qualifiers).
pub fn columns(specs: Vec<pb::ColumnSpec>) -> ColumnSelection {
    let mut sel = ColumnSelection::new();
    let mut whole = Vec::new();
    for spec in specs {
        if spec.qualifiers.is_empty() {
            whole.push(spec.family.clone());
        }
        sel.entry(spec.family).or_default().extend(spec.qualifiers);
    }
    for f in whole {
        sel.insert(f, Vec::new());
    }
    sel
}

/// `[min, max)` with `max = 0` meaning unbounded; absent = all versions.
pub fn time_range(tr: Option<pb::TimeRange>) -> Result<TimeRange, Status> {
    let Some(tr) = tr else {
        return Ok(TimeRange::default());
    };
    let max = if tr.max == 0 { u64::MAX } else { tr.max };
    if tr.min > max {
        return Err(invalid(format!(
            "time_range min {} is above max {}",
            tr.min, tr.max
        )));
    }
    Ok(TimeRange { min: tr.min, max })
}

/// `0` means 1 version.
pub fn max_versions(v: u32) -> u32 {
    v.max(1)
}

/// An engine row as a wire row.
pub fn row_to_proto(row: Row) -> pb::Row {
    pb::Row {
        row: row.row,
        cells: row
            .cells
            .into_iter()
            .map(|c| pb::Cell {
                family: c.family,
                qualifier: c.qualifier,
                timestamp: c.timestamp,
                value: c.value,
            })
            .collect(),
    }
}

/// The smallest row strictly after `row` (for `start_after`).
pub fn row_after(row: &[u8]) -> Bytes {
    let mut v = Vec::with_capacity(row.len() + 1);
    v.extend_from_slice(row);
    v.push(0);
    Bytes::from(v)
}

/// The smallest row above every row starting with `prefix`; empty = unbounded.
pub fn prefix_end(prefix: &[u8]) -> Bytes {
    let mut v = prefix.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xFF {
            v.push(last + 1);
            return Bytes::from(v);
        }
    }
    Bytes::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_and_row_after() {
        assert_eq!(&prefix_end(b"ab")[..], b"ac");
        assert_eq!(&prefix_end(b"a\xff")[..], b"b");
        assert!(prefix_end(b"\xff\xff").is_empty());
        assert!(prefix_end(b"").is_empty());
        assert_eq!(&row_after(b"a")[..], b"a\0");
    }

    #[test]
    fn columns_merge() {
        let spec = |f: &str, qs: &[&str]| pb::ColumnSpec {
            family: Bytes::copy_from_slice(f.as_bytes()),
            qualifiers: qs
                .iter()
                .map(|q| Bytes::copy_from_slice(q.as_bytes()))
                .collect(),
        };
        let sel = columns(vec![
            spec("a", &["x"]),
            spec("a", &["y"]),
            spec("b", &["z"]),
            spec("b", &[]),
        ]);
        assert_eq!(sel[&Bytes::from_static(b"a")].len(), 2);
        assert!(sel[&Bytes::from_static(b"b")].is_empty());
    }

    #[test]
    fn time_ranges() {
        assert_eq!(time_range(None).unwrap(), TimeRange::default());
        let tr = time_range(Some(pb::TimeRange { min: 5, max: 0 })).unwrap();
        assert_eq!((tr.min, tr.max), (5, u64::MAX));
        assert!(time_range(Some(pb::TimeRange { min: 9, max: 3 })).is_err());
    }
}
