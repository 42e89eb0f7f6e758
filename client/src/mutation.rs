//! Writes to one row: [`Put`], [`Delete`], [`Increment`], [`Append`], and
//! [`Mutation`], the either-of used by batches. Every builder names its row once; the
//! changes it collects are applied atomically by the region holding the row.

use bytes::Bytes;
use strata_proto::v1 as pb;
use strata_proto::v1::mutation::Op;

use crate::cell::{check_family, check_row};
use crate::error::{Error, Result};

/// How a write reaches the WAL (HBase's `Durability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// The server's `wal.durability` setting (USE_DEFAULT).
    #[default]
    Default,
    /// No WAL entry: lost if the server crashes before a flush (SKIP_WAL).
    SkipWal,
    /// WAL written in the background (ASYNC_WAL).
    AsyncWal,
    /// WAL written to the OS before the ack (SYNC_WAL).
    SyncWal,
    /// WAL fsynced before the ack (FSYNC_WAL).
    FsyncWal,
}

impl From<Durability> for pb::Durability {
    fn from(d: Durability) -> Self {
        match d {
            Durability::Default => pb::Durability::Default,
            Durability::SkipWal => pb::Durability::Skip,
            Durability::AsyncWal => pb::Durability::Async,
            Durability::SyncWal => pb::Durability::Flush,
            Durability::FsyncWal => pb::Durability::Fsync,
        }
    }
}

/// Cells to write to one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Put {
    row: Bytes,
    cells: Vec<pb::Put>,
    durability: Durability,
}

impl Put {
    /// A put to `row` with no cells yet.
    pub fn new(row: impl Into<Bytes>) -> Put {
        Put {
            row: row.into(),
            cells: Vec::new(),
            durability: Durability::Default,
        }
    }

    /// Writes `value` at `family:qualifier`, timestamped by the server (ms).
    pub fn add(
        mut self,
        family: impl Into<Bytes>,
        qualifier: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Put {
        self.cells.push(pb::Put {
            family: family.into(),
            qualifier: qualifier.into(),
            timestamp: None,
            value: value.into(),
        });
        self
    }

    /// Writes `value` at `family:qualifier` with an explicit timestamp.
    pub fn add_at(
        mut self,
        family: impl Into<Bytes>,
        qualifier: impl Into<Bytes>,
        timestamp: u64,
        value: impl Into<Bytes>,
    ) -> Put {
        self.cells.push(pb::Put {
            family: family.into(),
            qualifier: qualifier.into(),
            timestamp: Some(timestamp),
            value: value.into(),
        });
        self
    }

    /// Sets how the write reaches the WAL.
    pub fn durability(mut self, durability: Durability) -> Put {
        self.durability = durability;
        self
    }

    /// The row.
    pub fn row(&self) -> &Bytes {
        &self.row
    }

    fn validate(&self) -> Result<()> {
        check_row(&self.row)?;
        if self.cells.is_empty() {
            return Err(Error::InvalidArgument(
                "put has no columns: add at least one cell".into(),
            ));
        }
        self.cells.iter().try_for_each(|c| check_family(&c.family))
    }

    fn ops(&self) -> Vec<pb::Mutation> {
        let op = |p: &pb::Put| pb::Mutation {
            op: Some(Op::Put(p.clone())),
        };
        self.cells.iter().map(op).collect()
    }
}

/// Deletes in one row. With nothing added it deletes the whole row (HBase's
/// `deleteall`).
#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    row: Bytes,
    ops: Vec<Op>,
    row_timestamp: Option<u64>,
    durability: Durability,
}

impl Delete {
    /// A delete of `row`; whole-row unless columns or families are added.
    pub fn new(row: impl Into<Bytes>) -> Delete {
        Delete {
            row: row.into(),
            ops: Vec::new(),
            row_timestamp: None,
            durability: Durability::Default,
        }
    }

    /// The latest version of `family:qualifier` (HBase's `addColumn`). Not idempotent:
    /// run twice it deletes two versions, so the client does not retry it blindly.
    pub fn column(mut self, family: impl Into<Bytes>, qualifier: impl Into<Bytes>) -> Delete {
        self.ops.push(Op::Delete(pb::Delete {
            family: family.into(),
            qualifier: qualifier.into(),
            timestamp: None,
        }));
        self
    }

    /// The version of `family:qualifier` at exactly `timestamp`.
    pub fn column_at(
        mut self,
        family: impl Into<Bytes>,
        qualifier: impl Into<Bytes>,
        timestamp: u64,
    ) -> Delete {
        self.ops.push(Op::Delete(pb::Delete {
            family: family.into(),
            qualifier: qualifier.into(),
            timestamp: Some(timestamp),
        }));
        self
    }

    /// Every version of `family:qualifier` (HBase's `addColumns`).
    pub fn columns(mut self, family: impl Into<Bytes>, qualifier: impl Into<Bytes>) -> Delete {
        self.ops.push(Op::DeleteColumn(pb::DeleteColumn {
            family: family.into(),
            qualifier: qualifier.into(),
            timestamp: None,
        }));
        self
    }

    /// Every version of `family:qualifier` at or before `timestamp`.
    pub fn columns_up_to(
        mut self,
        family: impl Into<Bytes>,
        qualifier: impl Into<Bytes>,
        timestamp: u64,
    ) -> Delete {
        self.ops.push(Op::DeleteColumn(pb::DeleteColumn {
            family: family.into(),
            qualifier: qualifier.into(),
            timestamp: Some(timestamp),
        }));
        self
    }

    /// Every column of `family` (HBase's `addFamily`).
    pub fn family(mut self, family: impl Into<Bytes>) -> Delete {
        self.ops.push(Op::DeleteFamily(pb::DeleteFamily {
            family: family.into(),
            timestamp: None,
        }));
        self
    }

    /// Every column of `family` at or before `timestamp`.
    pub fn family_up_to(mut self, family: impl Into<Bytes>, timestamp: u64) -> Delete {
        self.ops.push(Op::DeleteFamily(pb::DeleteFamily {
            family: family.into(),
            timestamp: Some(timestamp),
        }));
        self
    }

    /// For a whole-row delete: only cells at or before `timestamp`.
    pub fn timestamp(mut self, timestamp: u64) -> Delete {
        self.row_timestamp = Some(timestamp);
        self
    }

    /// Sets how the delete reaches the WAL.
    pub fn durability(mut self, durability: Durability) -> Delete {
        self.durability = durability;
        self
    }

    /// The row.
    pub fn row(&self) -> &Bytes {
        &self.row
    }

    /// False if the delete removes "the latest version", which moves on each run.
    pub(crate) fn is_idempotent(&self) -> bool {
        !self
            .ops
            .iter()
            .any(|op| matches!(op, Op::Delete(d) if d.timestamp.is_none()))
    }

    fn validate(&self) -> Result<()> {
        check_row(&self.row)?;
        self.ops.iter().try_for_each(|op| match op {
            Op::Delete(d) => check_family(&d.family),
            Op::DeleteColumn(d) => check_family(&d.family),
            Op::DeleteFamily(d) => check_family(&d.family),
            Op::Put(_) | Op::DeleteRow(_) => Ok(()),
        })
    }

    fn ops(&self) -> Vec<pb::Mutation> {
        if self.ops.is_empty() {
            let op = Op::DeleteRow(pb::DeleteRow {
                timestamp: self.row_timestamp,
            });
            return vec![pb::Mutation { op: Some(op) }];
        }
        let wrap = |op: &Op| pb::Mutation {
            op: Some(op.clone()),
        };
        self.ops.iter().map(wrap).collect()
    }
}

/// A put or a delete, for [`Table::batch`](crate::Table::batch) and
/// [`CheckAndMutate`](crate::CheckAndMutate).
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    /// Cells to write.
    Put(Put),
    /// Cells to delete.
    Delete(Delete),
}

impl From<Put> for Mutation {
    fn from(p: Put) -> Self {
        Mutation::Put(p)
    }
}

impl From<Delete> for Mutation {
    fn from(d: Delete) -> Self {
        Mutation::Delete(d)
    }
}

impl Mutation {
    /// The row it changes.
    pub fn row(&self) -> &Bytes {
        match self {
            Mutation::Put(p) => p.row(),
            Mutation::Delete(d) => d.row(),
        }
    }

    /// Checks the row and families before anything is sent.
    pub(crate) fn validate(&self) -> Result<()> {
        match self {
            Mutation::Put(p) => p.validate(),
            Mutation::Delete(d) => d.validate(),
        }
    }

    /// True if applying it twice equals applying it once.
    pub(crate) fn is_idempotent(&self) -> bool {
        match self {
            Mutation::Put(_) => true,
            Mutation::Delete(d) => d.is_idempotent(),
        }
    }

    pub(crate) fn durability(&self) -> Durability {
        match self {
            Mutation::Put(p) => p.durability,
            Mutation::Delete(d) => d.durability,
        }
    }

    /// The protocol mutations, in the order they were added.
    pub(crate) fn ops(&self) -> Vec<pb::Mutation> {
        match self {
            Mutation::Put(p) => p.ops(),
            Mutation::Delete(d) => d.ops(),
        }
    }

    /// The MutateRequest for the region holding the row.
    pub(crate) fn to_request(&self, region: pb::RegionRef) -> pb::MutateRequest {
        pb::MutateRequest {
            region: Some(region),
            row: self.row().clone(),
            mutations: self.ops(),
            durability: pb::Durability::from(self.durability()) as i32,
        }
    }
}

#[cfg(test)]
#[path = "mutation/tests.rs"]
mod tests;
