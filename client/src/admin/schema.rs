//! Table schemas as the admin API takes and returns them: [`TableDescriptor`] with its
//! [`FamilyDescriptor`]s, and [`TableDescription`] (schema, regions, enabled flag).

use std::time::Duration;

use strata_proto::v1 as pb;

use crate::error::{Error, Result};
use crate::location::RegionInfo;

/// Which bloom filter a family's SSTables keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BloomType {
    /// No bloom filter.
    None,
    /// Keyed by row (the default): helps gets of whole rows.
    #[default]
    Row,
    /// Keyed by row and column: helps gets of single columns.
    RowCol,
}

/// Block compression of a family's SSTables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Uncompressed (the default).
    #[default]
    None,
    /// LZ4.
    Lz4,
}

/// A column family's settings. Zero values mean the server's defaults.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FamilyDescriptor {
    /// Family name: non-empty, no `:`.
    pub name: String,
    /// Versions kept per column (HBase VERSIONS); default 1.
    pub max_versions: u32,
    /// Versions kept even past the TTL (MIN_VERSIONS); default 0.
    pub min_versions: u32,
    /// Cells older than this expire (TTL), whole seconds; `None` = never.
    pub ttl: Option<Duration>,
    /// Bloom filter kind (BLOOMFILTER); default ROW.
    pub bloom: BloomType,
    /// Block compression (COMPRESSION); default NONE.
    pub compression: Compression,
    /// SSTable block size in bytes (BLOCKSIZE); 0 = 64 KiB.
    pub block_size: u32,
    /// Favour this family's blocks in the block cache (IN_MEMORY).
    pub in_memory: bool,
    /// Bloom filter false-positive rate; 0 = 0.01.
    pub bloom_fp_rate: f64,
    /// Load each new file's blocks into the block cache while it has room
    /// (PREFETCH_BLOCKS_ON_OPEN); default false.
    pub prefetch_blocks_on_open: bool,
}

impl FamilyDescriptor {
    /// A family with default settings.
    pub fn new(name: impl Into<String>) -> FamilyDescriptor {
        FamilyDescriptor {
            name: name.into(),
            max_versions: 1,
            min_versions: 0,
            ttl: None,
            bloom: BloomType::Row,
            compression: Compression::None,
            block_size: 0,
            in_memory: false,
            bloom_fp_rate: 0.0,
            prefetch_blocks_on_open: false,
        }
    }

    /// Versions kept per column.
    pub fn max_versions(mut self, versions: u32) -> Self {
        self.max_versions = versions;
        self
    }

    /// Versions kept even when expired by the TTL.
    pub fn min_versions(mut self, versions: u32) -> Self {
        self.min_versions = versions;
        self
    }

    /// Time to live of cells; rounded up to whole seconds.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Bloom filter kind.
    pub fn bloom(mut self, bloom: BloomType) -> Self {
        self.bloom = bloom;
        self
    }

    /// Block compression.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// SSTable block size in bytes.
    pub fn block_size(mut self, bytes: u32) -> Self {
        self.block_size = bytes;
        self
    }

    /// Block cache priority.
    pub fn in_memory(mut self, in_memory: bool) -> Self {
        self.in_memory = in_memory;
        self
    }

    /// Loads every data block of a file into the block cache when a region opens it or
    /// a flush or compaction writes it, while the cache has free room (HBase's
    /// PREFETCH_BLOCKS_ON_OPEN): for read-mostly families whose data fits the cache.
    pub fn prefetch_blocks_on_open(mut self, prefetch: bool) -> Self {
        self.prefetch_blocks_on_open = prefetch;
        self
    }

    /// Bloom filter false-positive rate, in (0, 1).
    pub fn bloom_fp_rate(mut self, rate: f64) -> Self {
        self.bloom_fp_rate = rate;
        self
    }

    fn validate(&self) -> Result<()> {
        if self.name.is_empty() || self.name.contains(':') {
            return Err(Error::InvalidArgument(format!(
                "bad column family name {:?}: it must be non-empty and hold no ':'",
                self.name
            )));
        }
        if !(0.0..1.0).contains(&self.bloom_fp_rate) {
            return Err(Error::InvalidArgument(format!(
                "bloom_fp_rate of family {} is {}; it must be in (0, 1), or 0 for the default",
                self.name, self.bloom_fp_rate
            )));
        }
        Ok(())
    }

    pub(crate) fn to_proto(&self) -> pb::FamilySchema {
        pb::FamilySchema {
            name: self.name.clone(),
            max_versions: self.max_versions,
            min_versions: self.min_versions,
            ttl_seconds: self
                .ttl
                .map_or(0, |t| t.as_secs() + u64::from(t.subsec_nanos() > 0)),
            bloom: match self.bloom {
                BloomType::None => pb::BloomType::BloomNone,
                BloomType::Row => pb::BloomType::BloomRow,
                BloomType::RowCol => pb::BloomType::BloomRowcol,
            } as i32,
            compression: match self.compression {
                Compression::None => pb::Compression::None,
                Compression::Lz4 => pb::Compression::Lz4,
            } as i32,
            block_size: self.block_size,
            in_memory: self.in_memory,
            bloom_fp_rate: self.bloom_fp_rate,
            prefetch_blocks_on_open: self.prefetch_blocks_on_open,
        }
    }

    /// From the master's answer, with zero values replaced by the defaults they mean.
    pub(crate) fn from_proto(f: pb::FamilySchema) -> FamilyDescriptor {
        let bloom = match pb::BloomType::try_from(f.bloom) {
            Ok(pb::BloomType::BloomNone) => BloomType::None,
            Ok(pb::BloomType::BloomRowcol) => BloomType::RowCol,
            _ => BloomType::Row,
        };
        let compression = match pb::Compression::try_from(f.compression) {
            Ok(pb::Compression::Lz4) => Compression::Lz4,
            _ => Compression::None,
        };
        FamilyDescriptor {
            name: f.name,
            max_versions: f.max_versions.max(1),
            min_versions: f.min_versions,
            ttl: (f.ttl_seconds > 0).then(|| Duration::from_secs(f.ttl_seconds)),
            bloom,
            compression,
            block_size: if f.block_size == 0 {
                64 << 10
            } else {
                f.block_size
            },
            in_memory: f.in_memory,
            bloom_fp_rate: if f.bloom_fp_rate == 0.0 {
                0.01
            } else {
                f.bloom_fp_rate
            },
            prefetch_blocks_on_open: f.prefetch_blocks_on_open,
        }
    }
}

/// A table's name and column families.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TableDescriptor {
    /// Table name.
    pub name: String,
    /// Column families, in the order given.
    pub families: Vec<FamilyDescriptor>,
}

impl TableDescriptor {
    /// A table with no families yet.
    pub fn new(name: impl Into<String>) -> TableDescriptor {
        TableDescriptor {
            name: name.into(),
            families: Vec::new(),
        }
    }

    /// Adds a column family.
    pub fn family(mut self, family: FamilyDescriptor) -> TableDescriptor {
        self.families.push(family);
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::InvalidArgument("table name is empty".into()));
        }
        if self.families.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "table {} has no column family: add at least one",
                self.name
            )));
        }
        for (i, f) in self.families.iter().enumerate() {
            f.validate()?;
            if self.families[..i].iter().any(|g| g.name == f.name) {
                return Err(Error::InvalidArgument(format!(
                    "column family {} is given twice",
                    f.name
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn to_proto(&self) -> pb::TableSchema {
        pb::TableSchema {
            name: self.name.clone(),
            families: self
                .families
                .iter()
                .map(FamilyDescriptor::to_proto)
                .collect(),
        }
    }

    pub(crate) fn from_proto(t: pb::TableSchema) -> TableDescriptor {
        TableDescriptor {
            name: t.name,
            families: t
                .families
                .into_iter()
                .map(FamilyDescriptor::from_proto)
                .collect(),
        }
    }
}

/// What the master knows of a table.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TableDescription {
    /// The schema.
    pub descriptor: TableDescriptor,
    /// Its regions in key order, with their servers.
    pub regions: Vec<RegionInfo>,
    /// False after `disable_table`.
    pub enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_round_trips_through_the_proto() {
        let family = FamilyDescriptor::new("info")
            .max_versions(3)
            .min_versions(1)
            .ttl(Duration::from_millis(1500))
            .bloom(BloomType::RowCol)
            .compression(Compression::Lz4)
            .block_size(4096)
            .in_memory(true)
            .bloom_fp_rate(0.001);
        let table = TableDescriptor::new("users").family(family.clone());
        table.validate().unwrap();
        let proto = table.to_proto();
        let f = &proto.families[0];
        assert_eq!(f.ttl_seconds, 2, "sub-second TTLs round up");
        assert_eq!(f.bloom, pb::BloomType::BloomRowcol as i32);
        assert_eq!(f.compression, pb::Compression::Lz4 as i32);
        let back = TableDescriptor::from_proto(proto);
        assert_eq!(back.families[0].ttl, Some(Duration::from_secs(2)));
        assert_eq!(back.families[0].max_versions, 3);
        assert_eq!(back.families[0].bloom, BloomType::RowCol);
    }

    #[test]
    fn zero_values_read_back_as_defaults() {
        let f = FamilyDescriptor::from_proto(pb::FamilySchema {
            name: "f".into(),
            ..Default::default()
        });
        assert_eq!((f.max_versions, f.block_size, f.ttl), (1, 65536, None));
        assert_eq!(
            (f.bloom, f.compression),
            (BloomType::Row, Compression::None)
        );
    }

    #[test]
    fn bad_schemas_are_refused() {
        assert!(TableDescriptor::new("t").validate().is_err());
        assert!(
            TableDescriptor::new("")
                .family(FamilyDescriptor::new("f"))
                .validate()
                .is_err()
        );
        let dup = TableDescriptor::new("t")
            .family(FamilyDescriptor::new("f"))
            .family(FamilyDescriptor::new("f"));
        assert!(dup.validate().unwrap_err().to_string().contains("twice"));
        let colon = TableDescriptor::new("t").family(FamilyDescriptor::new("a:b"));
        assert!(colon.validate().is_err());
        let rate = TableDescriptor::new("t").family(FamilyDescriptor::new("f").bloom_fp_rate(1.5));
        assert!(rate.validate().is_err());
    }
}
