//! What the admin reports about servers and regions: [`ClusterStatus`],
//! [`ServerStatus`], [`RegionStatus`], and the [`CompactionSummary`] of a table-wide
//! flush or compaction.

use bytes::Bytes;
use strata_proto::v1 as pb;

/// Load of one region, as its server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegionStatus {
    /// Table of the region.
    pub table: String,
    /// The region.
    pub region_id: String,
    /// First row (inclusive); empty = unbounded.
    pub start_row: Bytes,
    /// End row (exclusive); empty = unbounded.
    pub end_row: Bytes,
    /// Bytes in memstores, not yet flushed.
    pub memstore_bytes: u64,
    /// SSTables of all its stores.
    pub store_files: u64,
    /// Bytes of those SSTables.
    pub store_file_bytes: u64,
    /// MVCC read point (highest visible sequence id).
    pub read_point: u64,
    /// When the last major compaction ended, ms since the epoch; 0 = never.
    pub last_major_compaction_ms: u64,
}

impl From<pb::RegionStatus> for RegionStatus {
    fn from(r: pb::RegionStatus) -> Self {
        RegionStatus {
            table: r.table,
            region_id: r.region_id,
            start_row: r.start_row,
            end_row: r.end_row,
            memstore_bytes: r.memstore_bytes,
            store_files: r.store_files,
            store_file_bytes: r.store_file_bytes,
            read_point: r.read_point,
            last_major_compaction_ms: r.last_major_compaction_ms,
        }
    }
}

/// One region server and its regions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStatus {
    /// Its address.
    pub address: String,
    /// The regions it serves.
    pub regions: Vec<RegionStatus>,
}

/// The cluster as seen from the master and the region servers it names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterStatus {
    /// The master's address.
    pub master: String,
    /// Number of tables.
    pub tables: usize,
    /// Region servers that answered.
    pub servers: Vec<ServerStatus>,
}

/// Totals of a table-wide flush or compaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompactionSummary {
    /// Regions compacted.
    pub regions: u64,
    /// Bytes read by the compactions.
    pub bytes_read: u64,
    /// Bytes written by the compactions.
    pub bytes_written: u64,
}

impl CompactionSummary {
    pub(crate) fn add(self, other: CompactionSummary) -> CompactionSummary {
        CompactionSummary {
            regions: self.regions + other.regions,
            bytes_read: self.bytes_read + other.bytes_read,
            bytes_written: self.bytes_written + other.bytes_written,
        }
    }
}
