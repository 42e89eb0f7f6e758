//! Row mutations: what a writer asks for ([`RowMutation`]), how it is checked against
//! the limits, and the resolved cells that go into the WAL and memstore.
//!
//! All operations of one `RowMutation` touch one row and are applied atomically: they
//! share one sequence id and one WAL record.

use bytes::{Buf, BufMut, Bytes};

use crate::error::{Error, Result};
use crate::key::CellType;
use crate::options::{MAX_QUALIFIER_BYTES, MAX_ROW_KEY_BYTES, validate_family_name};

/// One operation on a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// Writes a value; `timestamp: None` means "now" (server time in ms).
    Put {
        /// Column family.
        family: Bytes,
        /// Column qualifier.
        qualifier: Bytes,
        /// Cell timestamp.
        timestamp: Option<u64>,
        /// The value.
        value: Bytes,
    },
    /// Deletes one version: the one at `timestamp`, or with `None` the latest visible
    /// version at the time of the delete (HBase's `Delete.addColumn`).
    Delete {
        /// Column family.
        family: Bytes,
        /// Column qualifier.
        qualifier: Bytes,
        /// Version to delete.
        timestamp: Option<u64>,
    },
    /// Deletes all versions of a column with timestamp `<=` the given one (default now).
    DeleteColumn {
        /// Column family.
        family: Bytes,
        /// Column qualifier.
        qualifier: Bytes,
        /// Upper bound (inclusive).
        timestamp: Option<u64>,
    },
    /// Deletes all columns of a family in the row with timestamp `<=` the given one.
    DeleteFamily {
        /// Column family.
        family: Bytes,
        /// Upper bound (inclusive).
        timestamp: Option<u64>,
    },
    /// Deletes every family of the row (HBase's `deleteall`): expands to DeleteFamily
    /// markers for all families of the region.
    DeleteRow {
        /// Upper bound (inclusive).
        timestamp: Option<u64>,
    },
}

impl Mutation {
    /// The family this operation names (`None` for `DeleteRow`).
    pub fn family(&self) -> Option<&Bytes> {
        match self {
            Mutation::Put { family, .. }
            | Mutation::Delete { family, .. }
            | Mutation::DeleteColumn { family, .. }
            | Mutation::DeleteFamily { family, .. } => Some(family),
            Mutation::DeleteRow { .. } => None,
        }
    }
}

/// Operations on one row, applied atomically.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowMutation {
    /// The row.
    pub row: Bytes,
    /// Operations in order (a later put of the same cell and timestamp wins).
    pub ops: Vec<Mutation>,
}

impl RowMutation {
    /// An empty mutation of `row`.
    pub fn new(row: impl Into<Bytes>) -> Self {
        RowMutation {
            row: row.into(),
            ops: Vec::new(),
        }
    }

    /// Adds a put with the server's timestamp.
    pub fn put(
        mut self,
        family: impl Into<Bytes>,
        qualifier: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Self {
        self.ops.push(Mutation::Put {
            family: family.into(),
            qualifier: qualifier.into(),
            timestamp: None,
            value: value.into(),
        });
        self
    }

    /// Adds a put at an explicit timestamp.
    pub fn put_at(
        mut self,
        family: impl Into<Bytes>,
        qualifier: impl Into<Bytes>,
        timestamp: u64,
        value: impl Into<Bytes>,
    ) -> Self {
        self.ops.push(Mutation::Put {
            family: family.into(),
            qualifier: qualifier.into(),
            timestamp: Some(timestamp),
            value: value.into(),
        });
        self
    }

    /// Adds any operation.
    pub fn push(mut self, op: Mutation) -> Self {
        self.ops.push(op);
        self
    }
}

/// Checks a row key against `1..=MAX_ROW_KEY_BYTES`.
pub fn validate_row(row: &[u8]) -> Result<()> {
    if row.is_empty() {
        return Err(Error::InvalidArgument("row key must not be empty".into()));
    }
    if row.len() > MAX_ROW_KEY_BYTES {
        return Err(Error::LimitExceeded {
            what: "row key",
            limit_name: "MAX_ROW_KEY_BYTES",
            limit: MAX_ROW_KEY_BYTES as u64,
            actual: row.len() as u64,
        });
    }
    Ok(())
}

/// Checks a qualifier against `MAX_QUALIFIER_BYTES`.
pub fn validate_qualifier(q: &[u8]) -> Result<()> {
    if q.len() > MAX_QUALIFIER_BYTES {
        return Err(Error::LimitExceeded {
            what: "qualifier",
            limit_name: "MAX_QUALIFIER_BYTES",
            limit: MAX_QUALIFIER_BYTES as u64,
            actual: q.len() as u64,
        });
    }
    Ok(())
}

/// Timestamps at or above this are reserved (`u64::MAX` means "latest" in queries).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Checks the shape of a mutation (not whether families exist: the region does that).
pub fn validate_mutation(m: &RowMutation, max_value_bytes: usize) -> Result<()> {
    validate_row(&m.row)?;
    if m.ops.is_empty() {
        return Err(Error::InvalidArgument(
            "row mutation has no operations".into(),
        ));
    }
    for op in &m.ops {
        if let Some(f) = op.family() {
            validate_family_name(f)?;
        }
        let (qualifier, ts) = match op {
            Mutation::Put {
                qualifier,
                timestamp,
                value,
                ..
            } => {
                if value.len() > max_value_bytes {
                    return Err(Error::LimitExceeded {
                        what: "value",
                        limit_name: "max_value_bytes",
                        limit: max_value_bytes as u64,
                        actual: value.len() as u64,
                    });
                }
                (Some(qualifier), *timestamp)
            }
            Mutation::Delete {
                qualifier,
                timestamp,
                ..
            }
            | Mutation::DeleteColumn {
                qualifier,
                timestamp,
                ..
            } => (Some(qualifier), *timestamp),
            Mutation::DeleteFamily { timestamp, .. } | Mutation::DeleteRow { timestamp } => {
                (None, *timestamp)
            }
        };
        if let Some(q) = qualifier {
            validate_qualifier(q)?;
        }
        if let Some(ts) = ts
            && ts >= MAX_TIMESTAMP
        {
            return Err(Error::InvalidArgument(format!(
                "timestamp {ts} must be below {MAX_TIMESTAMP}"
            )));
        }
    }
    Ok(())
}

/// A cell with its timestamp resolved, ready for the WAL and memstore. `family` is the
/// index of the family in the region's schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResolvedCell {
    pub family: Bytes,
    pub qualifier: Bytes,
    pub timestamp: u64,
    pub kind: CellType,
    pub value: Bytes,
}

/// Encodes a resolved row mutation as a WAL payload (format in FORMAT.md, "WAL payload").
pub(crate) fn encode_payload(row: &[u8], cells: &[ResolvedCell]) -> Vec<u8> {
    let size: usize = cells
        .iter()
        .map(|c| c.family.len() + c.qualifier.len() + c.value.len() + 24)
        .sum();
    let mut buf = Vec::with_capacity(row.len() + 8 + size);
    buf.put_u32_le(row.len() as u32);
    buf.put_slice(row);
    buf.put_u32_le(cells.len() as u32);
    for c in cells {
        buf.put_u8(c.family.len() as u8);
        buf.put_slice(&c.family);
        buf.put_u8(c.kind as u8);
        buf.put_u64_le(c.timestamp);
        buf.put_u32_le(c.qualifier.len() as u32);
        buf.put_slice(&c.qualifier);
        buf.put_u32_le(c.value.len() as u32);
        buf.put_slice(&c.value);
    }
    buf
}

/// Decodes a WAL payload; `None` if malformed (the caller names file and offset).
pub(crate) fn decode_payload(payload: &[u8]) -> Option<(Bytes, Vec<ResolvedCell>)> {
    let mut b = Bytes::copy_from_slice(payload);
    let take =
        |b: &mut Bytes, n: usize| -> Option<Bytes> { (b.remaining() >= n).then(|| b.split_to(n)) };
    if b.remaining() < 4 {
        return None;
    }
    let row_len = b.get_u32_le() as usize;
    let row = take(&mut b, row_len)?;
    if b.remaining() < 4 {
        return None;
    }
    let n = b.get_u32_le() as usize;
    let mut cells = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        if b.remaining() < 1 {
            return None;
        }
        let flen = b.get_u8() as usize;
        let family = take(&mut b, flen)?;
        if b.remaining() < 1 + 8 + 4 {
            return None;
        }
        let kind = CellType::from_u8(b.get_u8())?;
        let timestamp = b.get_u64_le();
        let qlen = b.get_u32_le() as usize;
        let qualifier = take(&mut b, qlen)?;
        if b.remaining() < 4 {
            return None;
        }
        let vlen = b.get_u32_le() as usize;
        let value = take(&mut b, vlen)?;
        cells.push(ResolvedCell {
            family,
            qualifier,
            timestamp,
            kind,
            value,
        });
    }
    if b.has_remaining() {
        return None;
    }
    Some((row, cells))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_cell() -> impl Strategy<Value = ResolvedCell> {
        (
            "[a-z]{1,8}",
            prop::collection::vec(any::<u8>(), 0..20),
            any::<u64>(),
            1u8..=4,
            prop::collection::vec(any::<u8>(), 0..50),
        )
            .prop_map(|(f, q, ts, k, v)| ResolvedCell {
                family: Bytes::from(f),
                qualifier: Bytes::from(q),
                timestamp: ts,
                kind: CellType::from_u8(k).unwrap(),
                value: Bytes::from(v),
            })
    }

    proptest! {
        #[test]
        fn payload_round_trip(row in prop::collection::vec(any::<u8>(), 1..40), cells in prop::collection::vec(arb_cell(), 0..8)) {
            let p = encode_payload(&row, &cells);
            let (r, c) = decode_payload(&p).unwrap();
            prop_assert_eq!(&r[..], &row[..]);
            prop_assert_eq!(c, cells);
        }

        #[test]
        fn payload_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_payload(&bytes);
        }
    }

    #[test]
    fn limits_are_named() {
        let m = RowMutation::new(vec![b'x'; MAX_ROW_KEY_BYTES + 1]).put("f", "q", "v");
        let e = validate_mutation(&m, 100).unwrap_err().to_string();
        assert!(e.contains("MAX_ROW_KEY_BYTES"), "{e}");
        let m = RowMutation::new("r").put("f", "q", vec![0u8; 101]);
        let e = validate_mutation(&m, 100).unwrap_err().to_string();
        assert!(e.contains("max_value_bytes") && e.contains("101"), "{e}");
        let m = RowMutation::new("").put("f", "q", "v");
        assert!(validate_mutation(&m, 100).is_err());
        let m = RowMutation::new("r").put("bad:family", "q", "v");
        assert!(validate_mutation(&m, 100).is_err());
        let m = RowMutation::new("r");
        assert!(validate_mutation(&m, 100).is_err());
    }
}
