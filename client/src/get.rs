//! [`Get`]: a read of one row, and the column selection it shares with scans.

use std::collections::BTreeMap;

use bytes::Bytes;
use strata_proto::v1 as pb;

use crate::cell::{check_family, check_row};
use crate::error::Result;
use crate::filter::Filter;

/// Which columns a read returns. A family asked for whole wins over columns of it asked
/// for one by one; nothing asked for means every family.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Columns {
    // family -> qualifiers; `None` = the whole family.
    families: BTreeMap<Bytes, Option<Vec<Bytes>>>,
}

impl Columns {
    pub(crate) fn family(&mut self, family: Bytes) {
        self.families.insert(family, None);
    }

    pub(crate) fn column(&mut self, family: Bytes, qualifier: Bytes) {
        let entry = self
            .families
            .entry(family)
            .or_insert_with(|| Some(Vec::new()));
        if let Some(qualifiers) = entry
            && !qualifiers.contains(&qualifier)
        {
            qualifiers.push(qualifier);
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        self.families.keys().try_for_each(|f| check_family(f))
    }

    pub(crate) fn to_proto(&self) -> Vec<pb::ColumnSpec> {
        let spec = |(family, qualifiers): (&Bytes, &Option<Vec<Bytes>>)| pb::ColumnSpec {
            family: family.clone(),
            qualifiers: qualifiers.clone().unwrap_or_default(),
        };
        self.families.iter().map(spec).collect()
    }
}

/// `[min, max)` in the protocol's form, where max 0 means unbounded.
pub(crate) fn time_range(range: Option<(u64, u64)>) -> Option<pb::TimeRange> {
    range.map(|(min, max)| pb::TimeRange { min, max })
}

/// A read of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Get {
    pub(crate) row: Bytes,
    columns: Columns,
    versions: u32,
    time_range: Option<(u64, u64)>,
    filter: Option<Filter>,
}

impl Get {
    /// Reads the newest version of every column of `row`.
    pub fn new(row: impl Into<Bytes>) -> Get {
        Get {
            row: row.into(),
            columns: Columns::default(),
            versions: 1,
            time_range: None,
            filter: None,
        }
    }

    /// Adds a whole column family.
    pub fn family(mut self, family: impl Into<Bytes>) -> Get {
        self.columns.family(family.into());
        self
    }

    /// Adds one column.
    pub fn column(mut self, family: impl Into<Bytes>, qualifier: impl Into<Bytes>) -> Get {
        self.columns.column(family.into(), qualifier.into());
        self
    }

    /// Returns up to `versions` versions of each column, newest first (default 1).
    pub fn versions(mut self, versions: u32) -> Get {
        self.versions = versions.max(1);
        self
    }

    /// Only versions with `min <= timestamp < max`; `max` 0 means unbounded.
    pub fn time_range(mut self, min: u64, max: u64) -> Get {
        self.time_range = Some((min, max));
        self
    }

    /// Only the version at exactly `timestamp`.
    pub fn timestamp(self, timestamp: u64) -> Get {
        self.time_range(timestamp, timestamp.saturating_add(1))
    }

    /// Applies a server-side filter to the row.
    pub fn filter(mut self, filter: Filter) -> Get {
        self.filter = Some(filter);
        self
    }

    /// The row.
    pub fn row(&self) -> &Bytes {
        &self.row
    }

    pub(crate) fn validate(&self) -> Result<()> {
        check_row(&self.row)?;
        self.columns.validate()
    }

    /// The GetRequest for the region holding the row.
    pub(crate) fn to_request(&self, region: Option<pb::RegionRef>) -> pb::GetRequest {
        pb::GetRequest {
            region,
            row: self.row.clone(),
            columns: self.columns.to_proto(),
            time_range: time_range(self.time_range),
            max_versions: self.versions,
            filter: self.filter.as_ref().map(Filter::to_proto),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_becomes_a_request() {
        let get = Get::new("r1")
            .column("info", "name")
            .column("info", "email")
            .column("info", "name")
            .family("stats")
            .column("stats", "visits")
            .versions(3)
            .time_range(10, 20)
            .filter(Filter::key_only());
        get.validate().unwrap();
        let req = get.to_request(None);
        assert_eq!(req.row, "r1");
        assert_eq!(req.max_versions, 3);
        assert_eq!(req.time_range, Some(pb::TimeRange { min: 10, max: 20 }));
        assert_eq!(req.filter, Some(Filter::key_only().to_proto()));
        assert_eq!(
            req.columns,
            vec![
                pb::ColumnSpec {
                    family: "info".into(),
                    qualifiers: vec!["name".into(), "email".into()],
                },
                // The whole family wins over a column of it.
                pb::ColumnSpec {
                    family: "stats".into(),
                    qualifiers: vec![],
                },
            ]
        );
    }

    #[test]
    fn defaults_and_validation() {
        let req = Get::new("r").versions(0).to_request(None);
        assert_eq!(req.max_versions, 1);
        assert!(req.columns.is_empty() && req.time_range.is_none() && req.filter.is_none());
        assert_eq!(
            Get::new("r").timestamp(7).to_request(None).time_range,
            Some(pb::TimeRange { min: 7, max: 8 })
        );
        assert!(Get::new("").validate().is_err());
        assert!(Get::new("r").family("").validate().is_err());
    }
}
