//! Conditional and read-modify-write operations on one row: [`CheckAndMutate`],
//! [`Increment`] and [`Append`]. None of them is idempotent, so the client retries them
//! only after failures that prove the server did not run them (see `retry`).

use bytes::Bytes;
use strata_proto::v1 as pb;

use crate::cell::{check_family, check_row};
use crate::error::{Error, Result};
use crate::filter::CompareOp;
use crate::mutation::{Delete, Durability, Mutation, Put};

/// Applies mutations to a row only if one of its cells passes a check (HBase's
/// `checkAndMutate`). Build with a condition, then one or more `then_*` mutations of the
/// same row:
///
/// ```
/// use strata_client::{CheckAndMutate, Put};
/// let cam = CheckAndMutate::new("row1")
///     .if_absent("info", "owner")
///     .then_put(Put::new("row1").add("info", "owner", "ada"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CheckAndMutate {
    row: Bytes,
    check: Option<(Bytes, Bytes, CompareOp, Option<Bytes>)>,
    mutations: Vec<Mutation>,
}

impl CheckAndMutate {
    /// A check on `row`.
    pub fn new(row: impl Into<Bytes>) -> CheckAndMutate {
        CheckAndMutate {
            row: row.into(),
            check: None,
            mutations: Vec::new(),
        }
    }

    /// Passes if the newest value of `family:qualifier` equals `value`.
    pub fn if_equals(
        self,
        family: impl Into<Bytes>,
        qualifier: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> CheckAndMutate {
        self.if_matches(family, qualifier, CompareOp::Equal, value)
    }

    /// Passes if `family:qualifier` has no visible value.
    pub fn if_absent(
        mut self,
        family: impl Into<Bytes>,
        qualifier: impl Into<Bytes>,
    ) -> CheckAndMutate {
        self.check = Some((family.into(), qualifier.into(), CompareOp::Equal, None));
        self
    }

    /// Passes if `current_value <op> value` holds for the newest value of
    /// `family:qualifier` (a missing cell fails every comparison).
    pub fn if_matches(
        mut self,
        family: impl Into<Bytes>,
        qualifier: impl Into<Bytes>,
        op: CompareOp,
        value: impl Into<Bytes>,
    ) -> CheckAndMutate {
        self.check = Some((family.into(), qualifier.into(), op, Some(value.into())));
        self
    }

    /// Writes `put` if the check passes.
    pub fn then_put(mut self, put: Put) -> CheckAndMutate {
        self.mutations.push(Mutation::Put(put));
        self
    }

    /// Deletes `delete` if the check passes.
    pub fn then_delete(mut self, delete: Delete) -> CheckAndMutate {
        self.mutations.push(Mutation::Delete(delete));
        self
    }

    /// The row.
    pub fn row(&self) -> &Bytes {
        &self.row
    }

    pub(crate) fn validate(&self) -> Result<()> {
        check_row(&self.row)?;
        let Some((family, ..)) = &self.check else {
            return Err(Error::InvalidArgument(
                "check_and_mutate has no condition: call if_equals, if_absent or if_matches".into(),
            ));
        };
        check_family(family)?;
        if self.mutations.is_empty() {
            return Err(Error::InvalidArgument(
                "check_and_mutate has no mutation: call then_put or then_delete".into(),
            ));
        }
        for m in &self.mutations {
            m.validate()?;
            if m.row() != &self.row {
                return Err(Error::InvalidArgument(format!(
                    "check_and_mutate on row {:?} holds a mutation of row {:?}; \
                     all must be of the checked row",
                    self.row,
                    m.row()
                )));
            }
        }
        Ok(())
    }

    /// The request; call after `validate`. The strongest durability asked for by any of
    /// the mutations is used.
    pub(crate) fn to_request(&self, region: pb::RegionRef) -> pb::CheckAndMutateRequest {
        let (family, qualifier, op, value) = self.check.clone().unwrap_or_else(|| {
            (Bytes::new(), Bytes::new(), CompareOp::Equal, None) // refused by validate
        });
        let durability = self
            .mutations
            .iter()
            .map(|m| pb::Durability::from(m.durability()))
            .max()
            .unwrap_or(pb::Durability::Default);
        pb::CheckAndMutateRequest {
            region: Some(region),
            row: self.row.clone(),
            family,
            qualifier,
            op: pb::CompareOp::from(op) as i32,
            value,
            mutations: self.mutations.iter().flat_map(Mutation::ops).collect(),
            durability: durability as i32,
        }
    }
}

/// Adds to 8-byte big-endian counters of one row (HBase's `Increment`).
#[derive(Debug, Clone, PartialEq)]
pub struct Increment {
    pub(crate) row: Bytes,
    columns: Vec<pb::ColumnIncrement>,
    durability: Durability,
}

impl Increment {
    /// An increment of `row`.
    pub fn new(row: impl Into<Bytes>) -> Increment {
        Increment {
            row: row.into(),
            columns: Vec::new(),
            durability: Durability::Default,
        }
    }

    /// Adds `delta` to `family:qualifier` (a missing counter counts as 0).
    pub fn add(
        mut self,
        family: impl Into<Bytes>,
        qualifier: impl Into<Bytes>,
        delta: i64,
    ) -> Increment {
        self.columns.push(pb::ColumnIncrement {
            family: family.into(),
            qualifier: qualifier.into(),
            delta,
        });
        self
    }

    /// Sets how the write reaches the WAL.
    pub fn durability(mut self, durability: Durability) -> Increment {
        self.durability = durability;
        self
    }

    pub(crate) fn validate(&self) -> Result<usize> {
        check_row(&self.row)?;
        if self.columns.is_empty() {
            return Err(Error::InvalidArgument("increment has no columns".into()));
        }
        self.columns
            .iter()
            .try_for_each(|c| check_family(&c.family))?;
        Ok(self.columns.len())
    }

    pub(crate) fn to_request(&self, region: pb::RegionRef) -> pb::IncrementRequest {
        pb::IncrementRequest {
            region: Some(region),
            row: self.row.clone(),
            columns: self.columns.clone(),
            durability: pb::Durability::from(self.durability) as i32,
        }
    }
}

/// Appends bytes to values of one row (HBase's `Append`).
#[derive(Debug, Clone, PartialEq)]
pub struct Append {
    pub(crate) row: Bytes,
    columns: Vec<pb::ColumnAppend>,
    durability: Durability,
}

impl Append {
    /// An append to `row`.
    pub fn new(row: impl Into<Bytes>) -> Append {
        Append {
            row: row.into(),
            columns: Vec::new(),
            durability: Durability::Default,
        }
    }

    /// Appends `value` to `family:qualifier` (a missing value counts as empty).
    pub fn add(
        mut self,
        family: impl Into<Bytes>,
        qualifier: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Append {
        self.columns.push(pb::ColumnAppend {
            family: family.into(),
            qualifier: qualifier.into(),
            value: value.into(),
        });
        self
    }

    /// Sets how the write reaches the WAL.
    pub fn durability(mut self, durability: Durability) -> Append {
        self.durability = durability;
        self
    }

    pub(crate) fn validate(&self) -> Result<usize> {
        check_row(&self.row)?;
        if self.columns.is_empty() {
            return Err(Error::InvalidArgument("append has no columns".into()));
        }
        self.columns
            .iter()
            .try_for_each(|c| check_family(&c.family))?;
        Ok(self.columns.len())
    }

    pub(crate) fn to_request(&self, region: pb::RegionRef) -> pb::AppendRequest {
        pb::AppendRequest {
            region: Some(region),
            row: self.row.clone(),
            columns: self.columns.clone(),
            durability: pb::Durability::from(self.durability) as i32,
        }
    }
}

#[cfg(test)]
#[path = "check_and_mutate/tests.rs"]
mod tests;
