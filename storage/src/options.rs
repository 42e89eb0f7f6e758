//! Options: per column family (the table schema) and per engine (the process), each with
//! its default and the HBase setting it corresponds to.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How far a write must get before it is acknowledged (HBase's `Durability`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// No WAL record at all: a crash loses everything since the last flush (SKIP_WAL).
    Skip,
    /// The record is buffered and synced by a background thread every
    /// `wal_async_sync_interval` (ASYNC_WAL): a crash loses up to one interval.
    Async,
    /// The record is written to the OS before the ack (no fsync): survives a process
    /// crash, not a machine crash (HBase's hflush / SYNC_WAL on HDFS).
    Flush,
    /// The record is fsynced (group commit) before the ack (FSYNC_WAL). The default.
    #[default]
    Fsync,
}

/// Bloom filter kind per family (HBase's `BLOOMFILTER`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BloomType {
    /// No filter.
    None,
    /// Keyed by row: helps gets of whole rows or any column (HBase default ROW).
    #[default]
    Row,
    /// Keyed by row and qualifier: helps gets of named columns only.
    RowCol,
}

/// Block compression per family (HBase's `COMPRESSION`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Blocks stored as is (HBase default NONE); read zero-copy from the mapping.
    #[default]
    None,
    /// lz4 block compression.
    Lz4,
}

/// Largest row key in bytes (HBase's limit is `Short.MAX_VALUE`).
pub const MAX_ROW_KEY_BYTES: usize = 32_767;
/// Largest qualifier in bytes.
pub const MAX_QUALIFIER_BYTES: usize = 64 * 1024;
/// Hard ceiling of `max_value_bytes`.
pub const MAX_VALUE_BYTES_CEILING: usize = 10 * 1024 * 1024;
/// Longest family name.
pub const MAX_FAMILY_NAME_BYTES: usize = 64;
/// Largest `block_size_bytes` a family may ask for.
pub const MAX_BLOCK_SIZE_BYTES: usize = 16 * 1024 * 1024;
/// Smallest `block_size_bytes`.
pub const MIN_BLOCK_SIZE_BYTES: usize = 256;

/// Options of one column family, fixed at table creation (HBase's ColumnFamilyDescriptor).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FamilyOptions {
    /// Family name, `[A-Za-z0-9_.-]{1,64}`.
    pub name: String,
    /// Versions kept per column (`VERSIONS`, default 1).
    pub max_versions: u32,
    /// Versions kept even past the TTL (`MIN_VERSIONS`, default 0).
    pub min_versions: u32,
    /// Cells older than this are hidden and dropped by major compaction (`TTL`, seconds;
    /// `None` = forever).
    pub ttl_seconds: Option<u64>,
    /// Bloom filter kind (`BLOOMFILTER`, default row).
    pub bloom: BloomType,
    /// Target false-positive rate of the bloom filter (default 0.01, about 10 bits/key).
    pub bloom_fp_rate: f64,
    /// Block compression (`COMPRESSION`, default none).
    pub compression: Compression,
    /// Uncompressed data block size (`BLOCKSIZE`, default 64 KiB).
    pub block_size_bytes: usize,
    /// Cache priority hint (`IN_MEMORY`, default false).
    pub in_memory: bool,
}

impl Default for FamilyOptions {
    fn default() -> Self {
        FamilyOptions {
            name: String::new(),
            max_versions: 1,
            min_versions: 0,
            ttl_seconds: None,
            bloom: BloomType::Row,
            bloom_fp_rate: 0.01,
            compression: Compression::None,
            block_size_bytes: 64 * 1024,
            in_memory: false,
        }
    }
}

impl FamilyOptions {
    /// A family with default options.
    pub fn new(name: impl Into<String>) -> Self {
        FamilyOptions {
            name: name.into(),
            ..Default::default()
        }
    }

    /// TTL as a duration.
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl_seconds.map(Duration::from_secs)
    }

    /// Checks every field; the error names the field and its limit.
    pub fn validate(&self) -> Result<()> {
        validate_family_name(self.name.as_bytes())?;
        if self.max_versions == 0 {
            return Err(Error::InvalidArgument(format!(
                "family {}: max_versions must be >= 1",
                self.name
            )));
        }
        if self.min_versions > self.max_versions {
            return Err(Error::InvalidArgument(format!(
                "family {}: min_versions ({}) must not exceed max_versions ({})",
                self.name, self.min_versions, self.max_versions
            )));
        }
        if self.ttl_seconds == Some(0) {
            return Err(Error::InvalidArgument(format!(
                "family {}: ttl_seconds must be > 0 (omit it for no TTL)",
                self.name
            )));
        }
        if !(self.bloom_fp_rate > 0.0 && self.bloom_fp_rate < 1.0) {
            return Err(Error::InvalidArgument(format!(
                "family {}: bloom_fp_rate must be in (0, 1), got {}",
                self.name, self.bloom_fp_rate
            )));
        }
        if !(MIN_BLOCK_SIZE_BYTES..=MAX_BLOCK_SIZE_BYTES).contains(&self.block_size_bytes) {
            return Err(Error::InvalidArgument(format!(
                "family {}: block_size_bytes must be in {MIN_BLOCK_SIZE_BYTES}..={MAX_BLOCK_SIZE_BYTES}, got {}",
                self.name, self.block_size_bytes
            )));
        }
        Ok(())
    }
}

/// Checks a family name against `[A-Za-z0-9_.-]{1,64}`.
pub fn validate_family_name(name: &[u8]) -> Result<()> {
    let ok_char = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    if name.is_empty() || name.len() > MAX_FAMILY_NAME_BYTES || !name.iter().all(ok_char) {
        return Err(Error::InvalidArgument(format!(
            "family name {:?} must match [A-Za-z0-9_.-]{{1,{MAX_FAMILY_NAME_BYTES}}}",
            String::from_utf8_lossy(name)
        )));
    }
    Ok(())
}

/// Process-wide engine options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineOptions {
    /// Block cache capacity in bytes (`hfile.block.cache.size`, as bytes; default 256 MiB).
    pub block_cache_size_bytes: u64,
    /// Memstore size that triggers a flush (`hbase.hregion.memstore.flush.size`, 128 MiB).
    pub memstore_flush_size_bytes: u64,
    /// WAL segment size that rolls to a new file (`hbase.regionserver.logroll` size, 64 MiB).
    pub wal_segment_size_bytes: u64,
    /// Durability of writes that do not name one (default fsync).
    pub default_durability: Durability,
    /// Background sync period for `Durability::Async`
    /// (`hbase.regionserver.optionallogflushinterval`, default 1000 ms).
    pub wal_async_sync_interval_ms: u64,
    /// Largest value in bytes (`hbase.client.keyvalue.maxsize`; default and ceiling 10 MiB).
    pub max_value_bytes: usize,
    /// Largest encoded row mutation (all cells of one row write) in bytes (default 64 MiB).
    pub max_mutation_bytes: usize,
    /// Background flush threads (`hbase.hstore.flusher.count`, default 2).
    pub flush_threads: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            block_cache_size_bytes: 256 * 1024 * 1024,
            memstore_flush_size_bytes: 128 * 1024 * 1024,
            wal_segment_size_bytes: 64 * 1024 * 1024,
            default_durability: Durability::Fsync,
            wal_async_sync_interval_ms: 1000,
            max_value_bytes: MAX_VALUE_BYTES_CEILING,
            max_mutation_bytes: 64 * 1024 * 1024,
            flush_threads: 2,
        }
    }
}

impl EngineOptions {
    /// Checks every field; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if self.max_value_bytes == 0 || self.max_value_bytes > MAX_VALUE_BYTES_CEILING {
            return bad(format!(
                "max_value_bytes must be in 1..={MAX_VALUE_BYTES_CEILING}, got {}",
                self.max_value_bytes
            ));
        }
        if self.memstore_flush_size_bytes < 1024 {
            return bad(format!(
                "memstore_flush_size_bytes must be >= 1024, got {}",
                self.memstore_flush_size_bytes
            ));
        }
        if self.wal_segment_size_bytes < 4096 {
            return bad(format!(
                "wal_segment_size_bytes must be >= 4096, got {}",
                self.wal_segment_size_bytes
            ));
        }
        if self.wal_async_sync_interval_ms == 0 {
            return bad("wal_async_sync_interval_ms must be > 0".into());
        }
        if self.flush_threads == 0 || self.flush_threads > 64 {
            return bad(format!(
                "flush_threads must be in 1..=64, got {}",
                self.flush_threads
            ));
        }
        if self.max_mutation_bytes < self.max_value_bytes {
            return bad(format!(
                "max_mutation_bytes ({}) must be >= max_value_bytes ({})",
                self.max_mutation_bytes, self.max_value_bytes
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_names() {
        assert!(validate_family_name(b"info").is_ok());
        assert!(validate_family_name(b"a.b-c_9").is_ok());
        assert!(validate_family_name(b"").is_err());
        assert!(validate_family_name(b"a:b").is_err());
        assert!(validate_family_name(&[b'a'; 65]).is_err());
        assert!(validate_family_name(&[b'a'; 64]).is_ok());
    }

    #[test]
    fn defaults_validate() {
        EngineOptions::default().validate().unwrap();
        FamilyOptions::new("f").validate().unwrap();
        let mut f = FamilyOptions::new("f");
        f.min_versions = 2;
        let err = f.validate().unwrap_err().to_string();
        assert!(err.contains("min_versions"), "{err}");
    }
}
