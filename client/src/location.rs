//! Where regions live: [`RegionInfo`] as the master reports it, and the client's
//! per-table cache of them.
//!
//! The cache maps each table to its known regions keyed by start row (a `BTreeMap`), so
//! the region of a row is the last entry whose start is `<= row`, provided the row is
//! below its end (an empty end row is unbounded). Inserting a region first drops every
//! cached region it overlaps: after a split or a move the newest answer from the master
//! wins. Entries are dropped when a server says it does not serve the region
//! (FAILED_PRECONDITION) or cannot be reached (UNAVAILABLE, transport errors).
//!
//! Thread safety: one `RwLock` around the map; lookups take the read lock and clone an
//! `Arc`, so no lock is held across an RPC.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;
use strata_proto::v1 as pb;

/// One region of a table and the server that serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionInfo {
    /// The table.
    pub table: String,
    /// The region's id, unique within the table.
    pub region_id: String,
    /// First row of the region (inclusive); empty = the table's first row.
    pub start_row: Bytes,
    /// First row after the region (exclusive); empty = unbounded.
    pub end_row: Bytes,
    /// Address of the region server, e.g. `http://127.0.0.1:16020`.
    pub server: String,
    /// Assignment epoch; sent back with each request so a server can refuse stale ones.
    pub epoch: u64,
    /// "open", "opening", "closing" or "offline", as the master reports it.
    pub state: String,
}

impl RegionInfo {
    /// True if `row` falls in `[start_row, end_row)`.
    pub fn contains(&self, row: &[u8]) -> bool {
        row >= &self.start_row[..] && (self.end_row.is_empty() || row < &self.end_row[..])
    }

    /// True if the master reports the region as served (an empty state counts as open).
    pub fn is_open(&self) -> bool {
        self.state.is_empty() || self.state.eq_ignore_ascii_case("open")
    }

    /// The reference data requests carry.
    pub(crate) fn region_ref(&self) -> pb::RegionRef {
        pb::RegionRef {
            table: self.table.clone(),
            region_id: self.region_id.clone(),
            epoch: self.epoch,
        }
    }
}

impl From<pb::RegionLocation> for RegionInfo {
    fn from(l: pb::RegionLocation) -> Self {
        RegionInfo {
            table: l.table,
            region_id: l.region_id,
            start_row: l.start_row,
            end_row: l.end_row,
            server: l.server,
            epoch: l.epoch,
            state: l.state,
        }
    }
}

/// Cached region locations of every table the client has used.
#[derive(Debug, Default)]
pub(crate) struct LocationCache {
    tables: RwLock<HashMap<String, BTreeMap<Bytes, Arc<RegionInfo>>>>,
}

impl LocationCache {
    /// The cached region of `table` holding `row`, if any.
    pub(crate) fn lookup(&self, table: &str, row: &[u8]) -> Option<Arc<RegionInfo>> {
        let tables = self.tables.read();
        let regions = tables.get(table)?;
        let (_, region) = regions
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(row)))
            .next_back()?;
        region.contains(row).then(|| Arc::clone(region))
    }

    /// Caches `region`, dropping the cached regions it overlaps. Returns the shared copy.
    pub(crate) fn insert(&self, region: RegionInfo) -> Arc<RegionInfo> {
        let region = Arc::new(region);
        let mut tables = self.tables.write();
        let regions = tables.entry(region.table.clone()).or_default();
        let start = &region.start_row[..];
        let mut overlapping: Vec<Bytes> = regions
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(start)))
            .next_back()
            .filter(|(_, r)| overlaps(r, &region))
            .map(|(k, _)| k.clone())
            .into_iter()
            .collect();
        let upper = match &region.end_row[..] {
            [] => Bound::Unbounded,
            end => Bound::Excluded(end),
        };
        overlapping.extend(
            regions
                .range::<[u8], _>((Bound::Excluded(start), upper))
                .map(|(k, _)| k.clone()),
        );
        for start in overlapping {
            regions.remove(&start);
        }
        regions.insert(region.start_row.clone(), Arc::clone(&region));
        region
    }

    /// Drops `region` if it is still the cached entry for its start row.
    pub(crate) fn invalidate(&self, region: &RegionInfo) {
        let mut tables = self.tables.write();
        if let Some(regions) = tables.get_mut(&region.table)
            && regions
                .get(&region.start_row)
                .is_some_and(|r| r.region_id == region.region_id)
        {
            regions.remove(&region.start_row);
        }
    }

    /// Drops every cached region of `table` (after it was dropped or re-created).
    pub(crate) fn invalidate_table(&self, table: &str) {
        self.tables.write().remove(table);
    }

    /// Number of cached regions of `table`.
    #[cfg(test)]
    pub(crate) fn len(&self, table: &str) -> usize {
        self.tables.read().get(table).map_or(0, BTreeMap::len)
    }
}

/// True if the ranges `[a.start, a.end)` and `[b.start, b.end)` intersect.
fn overlaps(a: &RegionInfo, b: &RegionInfo) -> bool {
    let a_before_b_ends = b.end_row.is_empty() || a.start_row < b.end_row;
    let b_before_a_ends = a.end_row.is_empty() || b.start_row < a.end_row;
    a_before_b_ends && b_before_a_ends
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(id: &str, start: &str, end: &str) -> RegionInfo {
        RegionInfo {
            table: "t".into(),
            region_id: id.into(),
            start_row: Bytes::copy_from_slice(start.as_bytes()),
            end_row: Bytes::copy_from_slice(end.as_bytes()),
            server: "http://127.0.0.1:1".into(),
            epoch: 1,
            state: "open".into(),
        }
    }

    fn id(found: Option<Arc<RegionInfo>>) -> Option<String> {
        found.map(|r| r.region_id.clone())
    }

    #[test]
    fn lookup_respects_key_ranges() {
        let cache = LocationCache::default();
        cache.insert(region("a", "", "g"));
        cache.insert(region("c", "n", ""));
        assert_eq!(id(cache.lookup("t", b"")), Some("a".into()));
        assert_eq!(id(cache.lookup("t", b"f\xff")), Some("a".into()));
        // [g, n) is not cached: the end row is exclusive.
        assert_eq!(id(cache.lookup("t", b"g")), None);
        assert_eq!(id(cache.lookup("t", b"m")), None);
        assert_eq!(id(cache.lookup("t", b"n")), Some("c".into()));
        // An empty end row is unbounded.
        assert_eq!(id(cache.lookup("t", b"\xff\xff\xff")), Some("c".into()));
        assert_eq!(id(cache.lookup("other", b"a")), None);
    }

    #[test]
    fn insert_replaces_overlapping_regions() {
        let cache = LocationCache::default();
        cache.insert(region("whole", "", ""));
        // The region split: the daughters replace the parent.
        cache.insert(region("left", "", "m"));
        assert_eq!(cache.len("t"), 1);
        assert_eq!(id(cache.lookup("t", b"z")), None);
        cache.insert(region("right", "m", ""));
        assert_eq!(cache.len("t"), 2);
        assert_eq!(id(cache.lookup("t", b"a")), Some("left".into()));
        assert_eq!(id(cache.lookup("t", b"m")), Some("right".into()));
        // The daughters merged again.
        cache.insert(region("merged", "", ""));
        assert_eq!(cache.len("t"), 1);
        assert_eq!(id(cache.lookup("t", b"m")), Some("merged".into()));
    }

    #[test]
    fn invalidation_drops_only_the_named_region() {
        let cache = LocationCache::default();
        let left = cache.insert(region("left", "", "m"));
        cache.insert(region("right", "m", ""));
        cache.invalidate(&left);
        assert_eq!(id(cache.lookup("t", b"a")), None);
        assert_eq!(id(cache.lookup("t", b"x")), Some("right".into()));
        // A stale handle does not drop a newer entry at the same start row.
        cache.insert(region("left2", "", "m"));
        cache.invalidate(&left);
        assert_eq!(id(cache.lookup("t", b"a")), Some("left2".into()));
        cache.invalidate_table("t");
        assert_eq!(cache.len("t"), 0);
    }

    #[test]
    fn overlap_edges() {
        assert!(!overlaps(&region("a", "", "g"), &region("b", "g", "")));
        assert!(overlaps(&region("a", "", "h"), &region("b", "g", "")));
        assert!(overlaps(&region("a", "c", "d"), &region("b", "", "")));
        assert!(!overlaps(&region("a", "c", "d"), &region("b", "d", "e")));
    }
}
