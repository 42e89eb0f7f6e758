//! [`Scan`]: a read of a range of rows, in key order, across regions.

use bytes::Bytes;
use strata_proto::v1 as pb;

use crate::error::{Error, Result};
use crate::filter::{Filter, and_filter};
use crate::get::{Columns, time_range};

/// A range read. Rows come back in key order from `start` (inclusive) to `stop`
/// (exclusive); empty bounds are unbounded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scan {
    pub(crate) start: Bytes,
    pub(crate) stop: Bytes,
    columns: Columns,
    versions: u32,
    time_range: Option<(u64, u64)>,
    filter: Option<Filter>,
    pub(crate) limit: u64,
    batch_rows: u32,
    no_cache: bool,
}

impl Scan {
    /// A scan of the whole table, newest version of every column.
    pub fn new() -> Scan {
        Scan {
            versions: 1,
            ..Scan::default()
        }
    }

    /// First row to return (inclusive).
    pub fn start(mut self, row: impl Into<Bytes>) -> Scan {
        self.start = row.into();
        self
    }

    /// Row to stop before (exclusive); empty = the end of the table.
    pub fn stop(mut self, row: impl Into<Bytes>) -> Scan {
        self.stop = row.into();
        self
    }

    /// Rows starting with `prefix`: sets start and stop around the prefix and adds a
    /// row-prefix filter (HBase's `setRowPrefixFilter`).
    pub fn prefix(mut self, prefix: impl Into<Bytes>) -> Scan {
        let prefix = prefix.into();
        self.stop = prefix_successor(&prefix);
        self.start = prefix.clone();
        self.filter = Some(and_filter(self.filter.take(), Filter::row_prefix(prefix)));
        self
    }

    /// Adds a whole column family.
    pub fn family(mut self, family: impl Into<Bytes>) -> Scan {
        self.columns.family(family.into());
        self
    }

    /// Adds one column.
    pub fn column(mut self, family: impl Into<Bytes>, qualifier: impl Into<Bytes>) -> Scan {
        self.columns.column(family.into(), qualifier.into());
        self
    }

    /// Adds several columns of one family.
    pub fn columns<Q: Into<Bytes>>(
        mut self,
        family: impl Into<Bytes>,
        qualifiers: impl IntoIterator<Item = Q>,
    ) -> Scan {
        let family = family.into();
        for q in qualifiers {
            self.columns.column(family.clone(), q.into());
        }
        self
    }

    /// Returns up to `versions` versions of each column (default 1).
    pub fn versions(mut self, versions: u32) -> Scan {
        self.versions = versions.max(1);
        self
    }

    /// Only versions with `min <= timestamp < max`; `max` 0 means unbounded.
    pub fn time_range(mut self, min: u64, max: u64) -> Scan {
        self.time_range = Some((min, max));
        self
    }

    /// Applies a server-side filter; combined (AND) with a prefix set by `prefix`.
    pub fn filter(mut self, filter: Filter) -> Scan {
        self.filter = Some(and_filter(self.filter.take(), filter));
        self
    }

    /// Returns at most `rows` rows in all (0 = no limit).
    pub fn limit(mut self, rows: u64) -> Scan {
        self.limit = rows;
        self
    }

    /// Rows per streamed message (HBase's scanner caching); 0 = server default.
    pub fn batch_rows(mut self, rows: u32) -> Scan {
        self.batch_rows = rows;
        self
    }

    /// Whether the blocks read fill the server's block cache (default true; turn off
    /// for one-off full scans so they do not evict the hot set).
    pub fn cache_blocks(mut self, cache: bool) -> Scan {
        self.no_cache = !cache;
        self
    }

    pub(crate) fn filter_ref(&self) -> Option<&Filter> {
        self.filter.as_ref()
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if !self.stop.is_empty() && self.start > self.stop {
            return Err(Error::InvalidArgument(format!(
                "scan start row {:?} is after its stop row {:?}",
                self.start, self.stop
            )));
        }
        self.columns.validate()
    }

    /// The request for one region: rows from `position` (after it if `start_after`) up
    /// to the scan's stop or the region's end, whichever comes first.
    pub(crate) fn to_request(
        &self,
        region: pb::RegionRef,
        region_end: &Bytes,
        position: &Bytes,
        start_after: bool,
        limit: u64,
        default_batch_rows: u32,
    ) -> pb::ScanRequest {
        let stop = match (self.stop.is_empty(), region_end.is_empty()) {
            (true, _) => region_end.clone(),
            (false, true) => self.stop.clone(),
            (false, false) => self.stop.clone().min(region_end.clone()),
        };
        pb::ScanRequest {
            region: Some(region),
            start_row: position.clone(),
            stop_row: stop,
            start_after,
            columns: self.columns.to_proto(),
            time_range: time_range(self.time_range),
            max_versions: self.versions,
            filter: self.filter.as_ref().map(Filter::to_proto),
            limit,
            batch_rows: if self.batch_rows == 0 {
                default_batch_rows
            } else {
                self.batch_rows
            },
            no_cache: self.no_cache,
        }
    }
}

/// The first row after every row starting with `prefix`; empty (unbounded) if the prefix
/// is empty or all 0xff.
pub(crate) fn prefix_successor(prefix: &[u8]) -> Bytes {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Bytes::from(end);
        }
    }
    Bytes::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> pb::RegionRef {
        pb::RegionRef {
            table: "t".into(),
            region_id: "r".into(),
            epoch: 0,
        }
    }

    #[test]
    fn prefix_sets_bounds_and_filter() {
        assert_eq!(prefix_successor(b"ab"), Bytes::from("ac"));
        assert_eq!(prefix_successor(b"a\xff\xff"), Bytes::from("b"));
        assert_eq!(prefix_successor(b"\xff"), Bytes::new());
        assert_eq!(prefix_successor(b""), Bytes::new());
        let scan = Scan::new().prefix("user1").filter(Filter::key_only());
        assert_eq!(
            (&scan.start[..], &scan.stop[..]),
            (&b"user1"[..], &b"user2"[..])
        );
        assert_eq!(
            scan.filter_ref(),
            Some(&Filter::all([
                Filter::row_prefix("user1"),
                Filter::key_only()
            ]))
        );
    }

    #[test]
    fn request_is_clamped_to_the_region() {
        let scan = Scan::new()
            .start("b")
            .stop("x")
            .columns("info", ["name", "email"])
            .versions(2)
            .time_range(1, 0)
            .limit(10)
            .cache_blocks(false);
        scan.validate().unwrap();
        let req = scan.to_request(region(), &Bytes::from("m"), &Bytes::from("c"), true, 7, 50);
        assert_eq!(req.start_row, "c");
        assert!(req.start_after);
        assert_eq!(req.stop_row, "m");
        assert_eq!(req.limit, 7);
        assert_eq!(req.batch_rows, 50);
        assert_eq!(req.max_versions, 2);
        assert!(req.no_cache);
        assert_eq!(req.columns[0].qualifiers.len(), 2);
        // Last region: the scan's own stop.
        let req = scan.to_request(region(), &Bytes::new(), &Bytes::from("n"), false, 0, 0);
        assert_eq!(req.stop_row, "x");
        // Unbounded scan in the last region: unbounded.
        let req = Scan::new().batch_rows(5).to_request(
            region(),
            &Bytes::new(),
            &Bytes::new(),
            false,
            0,
            50,
        );
        assert_eq!((req.stop_row.len(), req.batch_rows), (0, 5));
    }

    #[test]
    fn start_after_stop_is_refused() {
        let err = Scan::new().start("z").stop("a").validate().unwrap_err();
        assert!(err.to_string().contains("after its stop row"));
    }
}
