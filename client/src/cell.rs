//! What reads return: a [`Row`] of [`Cell`]s, sorted by family, qualifier and timestamp
//! (newest first), as the server sends them.

use bytes::Bytes;
use strata_proto::v1 as pb;

/// One version of one column of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Column family.
    pub family: Bytes,
    /// Column qualifier.
    pub qualifier: Bytes,
    /// Version timestamp, milliseconds since the Unix epoch unless the writer chose
    /// otherwise.
    pub timestamp: u64,
    /// The value (empty with a key-only filter).
    pub value: Bytes,
}

/// The visible cells of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The row key.
    pub row: Bytes,
    /// Cells sorted by family, qualifier, then timestamp descending.
    pub cells: Vec<Cell>,
}

impl Row {
    /// The newest value of `family:qualifier`, if the row has one.
    pub fn value(&self, family: impl AsRef<[u8]>, qualifier: impl AsRef<[u8]>) -> Option<&Bytes> {
        self.versions(family, qualifier).next().map(|c| &c.value)
    }

    /// Every returned version of `family:qualifier`, newest first.
    pub fn versions(
        &self,
        family: impl AsRef<[u8]>,
        qualifier: impl AsRef<[u8]>,
    ) -> impl Iterator<Item = &Cell> {
        let (family, qualifier) = (family.as_ref().to_vec(), qualifier.as_ref().to_vec());
        self.cells
            .iter()
            .filter(move |c| c.family[..] == family[..] && c.qualifier[..] == qualifier[..])
    }

    /// The newest value of an 8-byte big-endian counter written by `increment`.
    pub fn counter(&self, family: impl AsRef<[u8]>, qualifier: impl AsRef<[u8]>) -> Option<i64> {
        let value = self.value(family, qualifier)?;
        Some(i64::from_be_bytes(value[..].try_into().ok()?))
    }

    /// True if the row has no cells.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}

impl From<pb::Cell> for Cell {
    fn from(c: pb::Cell) -> Self {
        Cell {
            family: c.family,
            qualifier: c.qualifier,
            timestamp: c.timestamp,
            value: c.value,
        }
    }
}

impl From<pb::Row> for Row {
    fn from(r: pb::Row) -> Self {
        Row {
            row: r.row,
            cells: r.cells.into_iter().map(Cell::from).collect(),
        }
    }
}

/// Rejects an empty row key before it reaches the network (HBase: "Row length is 0").
pub(crate) fn check_row(row: &[u8]) -> crate::Result<()> {
    if row.is_empty() {
        return Err(crate::Error::InvalidArgument("row key is empty".into()));
    }
    Ok(())
}

/// Rejects an empty family name.
pub(crate) fn check_family(family: &[u8]) -> crate::Result<()> {
    if family.is_empty() {
        return Err(crate::Error::InvalidArgument(
            "column family name is empty".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(f: &'static str, q: &'static str, ts: u64, v: &[u8]) -> Cell {
        Cell {
            family: Bytes::from(f),
            qualifier: Bytes::from(q),
            timestamp: ts,
            value: Bytes::copy_from_slice(v),
        }
    }

    #[test]
    fn value_is_the_newest_version() {
        let row = Row {
            row: Bytes::from("r"),
            cells: vec![
                cell("info", "name", 9, b"new"),
                cell("info", "name", 3, b"old"),
                cell("stats", "visits", 5, &7i64.to_be_bytes()),
            ],
        };
        assert_eq!(row.value("info", "name").unwrap(), "new");
        assert_eq!(row.versions("info", "name").count(), 2);
        assert_eq!(row.value("info", "missing"), None);
        assert_eq!(row.counter("stats", "visits"), Some(7));
        assert_eq!(row.counter("info", "name"), None);
    }
}
