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

/// Whether and when a region compacts its memstores in memory (HBase's
/// `hbase.hregion.compacting.memstore.type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InMemoryCompaction {
    /// Never: memstores grow until they are flushed (HBase's NONE).
    None,
    /// Every time the active memstore passes the in-memory flush threshold (HBase's
    /// EAGER).
    Eager,
    /// As `eager`, but after a compaction that left out under 10% of the entries frozen
    /// for it, the next one waits for twice as much active data (again after each such
    /// one; a compaction that drops more starts over, a flush takes one step back): new
    /// rows without overwritten versions are not copied over and over (in the spirit of
    /// HBase's ADAPTIVE).
    #[default]
    Adaptive,
}

/// Largest row key in bytes (HBase's limit is `Short.MAX_VALUE`).
pub const MAX_ROW_KEY_BYTES: usize = 32_767;
/// Largest qualifier in bytes.
pub const MAX_QUALIFIER_BYTES: usize = 64 * 1024;
/// Hard ceiling of `max_value_bytes`.
pub const MAX_VALUE_BYTES_CEILING: usize = 10 * 1024 * 1024;
/// Ceiling of `max_mutation_bytes`: one WAL record holds a whole row mutation, and WAL
/// payloads stop at 128 MiB; the margin covers the payload's framing.
pub const MAX_MUTATION_BYTES_CEILING: usize = 120 * 1024 * 1024;
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
    /// Load every data block of a file into the block cache when the file appears (a
    /// region opens, a flush or a compaction writes it), while the cache has free room
    /// (`PREFETCH_BLOCKS_ON_OPEN`, default false). For read-mostly families whose data
    /// fits the cache: reads then never wait for a cold block.
    pub prefetch_blocks_on_open: bool,
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
            prefetch_blocks_on_open: false,
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
    // A family is a directory inside the region directory: no "." / ".." / hidden names,
    // and not the name of the region's own WAL directory.
    if name.starts_with(b".") || name == RESERVED_FAMILY_NAME {
        return Err(Error::InvalidArgument(format!(
            "family name {:?} is reserved (names may not start with '.' or be \"wal\")",
            String::from_utf8_lossy(name)
        )));
    }
    Ok(())
}

/// The WAL directory's name, which no family may take.
const RESERVED_FAMILY_NAME: &[u8] = b"wal";

/// A byte count that reads from TOML as an integer or a string with a unit
/// (`"64MiB"`, `"1 GiB"`, `"512k"`; k/m/g/t and KiB/MiB/GiB/TiB are powers of 1024,
/// KB/MB/GB/TB powers of 1000).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// `n` KiB.
    pub const fn kib(n: u64) -> Self {
        ByteSize(n * 1024)
    }
    /// `n` MiB.
    pub const fn mib(n: u64) -> Self {
        ByteSize(n * 1024 * 1024)
    }
    /// `n` GiB.
    pub const fn gib(n: u64) -> Self {
        ByteSize(n * 1024 * 1024 * 1024)
    }

    /// Parses `"64MiB"` and friends.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let num: f64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a byte size (e.g. 4096, \"64MiB\", \"2GiB\")"))?;
        let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => 1 << 10,
            "m" | "mib" => 1 << 20,
            "g" | "gib" => 1 << 30,
            "t" | "tib" => 1 << 40,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "tb" => 1_000_000_000_000,
            other => return Err(format!("unknown byte unit {other:?} in {s:?}")),
        };
        let v = num * mult as f64;
        if !(0.0..1.8e19).contains(&v) {
            return Err(format!("byte size {s:?} out of range"));
        }
        Ok(ByteSize(v as u64))
    }
}

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        for (unit, size) in [
            ("TiB", 1u64 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
        ] {
            if v >= size && v.is_multiple_of(size) {
                return write!(f, "{}{unit}", v / size);
            }
        }
        write!(f, "{v}")
    }
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => ByteSize::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// `[server]`: process-wide memory budget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerMemoryOptions {
    /// Memory the process may use (HBase: the region server heap, `-Xmx`). Default 2 GiB.
    pub memory_limit: ByteSize,
}

impl Default for ServerMemoryOptions {
    fn default() -> Self {
        ServerMemoryOptions {
            memory_limit: ByteSize::gib(2),
        }
    }
}

/// `[block_cache]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockCacheOptions {
    /// Capacity (HBase `hfile.block.cache.size`, as bytes rather than a heap fraction).
    /// Default 512 MiB.
    pub size: ByteSize,
}

impl Default for BlockCacheOptions {
    fn default() -> Self {
        BlockCacheOptions {
            size: ByteSize::mib(512),
        }
    }
}

/// `[memstore]`: flush sizes and the global memory limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemstoreOptions {
    /// A region flushes when its memstores pass this (`hbase.hregion.memstore.flush.size`,
    /// default 128 MiB).
    pub flush_size: ByteSize,
    /// A region blocks writes at `block_multiplier x flush_size` until its flush catches
    /// up (`hbase.hregion.memstore.block.multiplier`, default 4; HBase's RegionTooBusy).
    pub block_multiplier: u32,
    /// All memstores of the process together: writes stall here
    /// (`hbase.regionserver.global.memstore.size`, HBase's upperLimit). Default 40 % of
    /// `server.memory_limit`.
    pub global_high: Option<ByteSize>,
    /// Above this the largest memstores are flushed while writes continue
    /// (`...global.memstore.size.lower.limit`, HBase's lowerLimit). Default 95 % of high.
    pub global_low: Option<ByteSize>,
    /// Memstores holding edits older than this are flushed so WALs do not grow forever
    /// (`hbase.regionserver.optionalcacheflushinterval`, default 1 h; 0 = never).
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// How long a write waits at a memory limit before failing with a retryable
    /// `WriteStall` (HBase blocks up to `hbase.hstore.blockingWaitTime`). Default 10 s.
    #[serde(with = "humantime_serde")]
    pub stall_timeout: Duration,
    /// A flush leaves out the puts no reader can see: those hidden by the memstore's own
    /// delete markers, older writes at the same timestamp, and (while the store holds
    /// no delete marker elsewhere) versions past the family's `max_versions`. HBase's
    /// flush does the same. Default true; false keeps every version until a major
    /// compaction.
    pub drop_hidden_versions: bool,
    /// In-memory compaction of memstores (HBase's `hbase.hregion.compacting.memstore.type`,
    /// whose default is BASIC since HBase 2.0): `adaptive` (default), `eager` or `none`.
    /// When the active memstore passes `in_memory_flush_factor x flush_size`, it is
    /// frozen and merged with the region's earlier compacted memstore into one read-only
    /// sorted array, leaving out what a flush would leave out (see
    /// `drop_hidden_versions`, which must be on for it to run). Rows updated over and over
    /// then hold one version per column in memory instead of thousands, so their reads
    /// stop stepping over dead versions, and the memstore fills (and flushes) more slowly.
    /// Costs a background copy of the memstore's entry headers (not of keys or values).
    pub in_memory_compaction: InMemoryCompaction,
    /// The active memstore size, as a fraction of `flush_size`, at which an in-memory
    /// compaction starts (HBase's `hbase.memstore.inmemoryflush.threshold.factor`, same
    /// default 0.014: 1.8 MiB of a 128 MiB flush size); in (0, 1]. Smaller keeps the
    /// skiplist that reads search small and hot rows lean, at the price of more frequent
    /// merges (each copies the flat memstore's entry headers).
    pub in_memory_flush_factor: f64,
}

impl MemstoreOptions {
    /// Active memstore bytes at which an in-memory compaction starts; `None` when they
    /// are off (`in_memory_compaction = none` or `drop_hidden_versions = false`).
    pub fn in_memory_flush_bytes(&self) -> Option<u64> {
        if self.in_memory_compaction == InMemoryCompaction::None || !self.drop_hidden_versions {
            return None;
        }
        Some(((self.flush_size.0 as f64 * self.in_memory_flush_factor) as u64).max(1))
    }
}

impl Default for MemstoreOptions {
    fn default() -> Self {
        MemstoreOptions {
            flush_size: ByteSize::mib(128),
            block_multiplier: 4,
            global_high: None,
            global_low: None,
            flush_interval: Duration::from_secs(3600),
            stall_timeout: Duration::from_secs(10),
            drop_hidden_versions: true,
            in_memory_compaction: InMemoryCompaction::Adaptive,
            in_memory_flush_factor: 0.014,
        }
    }
}

/// `[wal]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WalConfig {
    /// Segment size that rolls to a new file (`hbase.regionserver.logroll.multiplier` x
    /// block size in HBase; default 64 MiB).
    pub segment_size: ByteSize,
    /// Durability of writes that do not name one (default fsync).
    pub durability: Durability,
    /// Background sync period for `async` durability
    /// (`hbase.regionserver.optionallogflushinterval`, default 1 s).
    #[serde(with = "humantime_serde")]
    pub async_sync_interval: Duration,
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            segment_size: ByteSize::mib(64),
            durability: Durability::Fsync,
            async_sync_interval: Duration::from_secs(1),
        }
    }
}

/// `[compaction]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompactionOptions {
    /// A store with this many SSTables is compacted (`hbase.hstore.compaction.min`, 3).
    pub min_files: usize,
    /// Most files merged by one minor compaction (`hbase.hstore.compaction.max`, 10).
    pub max_files: usize,
    /// A file joins a selection only if it is at most `ratio` x the sum of the others
    /// (`hbase.hstore.compaction.ratio`, 1.2).
    pub ratio: f64,
    /// Compactions running at once in the process (HBase's small+large threads; 1).
    pub threads: usize,
    /// Cap on compaction IO (read + written bytes per second); 0 = unlimited
    /// (HBase's `hbase.hstore.compaction.throughput.higher.bound`). Default 32 MiB/s:
    /// measured here, an unthrottled major compaction on 2 cores pushed read p99 up to
    /// 15-50x; at 32 MiB/s it stayed at 1x (benches/README.md, "Compaction and memory").
    pub max_bytes_per_sec: ByteSize,
    /// Period of scheduled major compactions (`hbase.hregion.majorcompaction`, 7 days;
    /// 0 = never).
    #[serde(with = "humantime_serde")]
    pub major_period: Duration,
    /// Spread of the schedule: each region's period is `major_period x (1 +- jitter)`
    /// (`hbase.hregion.majorcompaction.jitter`, 0.5).
    pub major_jitter: f64,
    /// Scheduled major compactions only start inside this local hour range, e.g. "1-5"
    /// means 01:00 to 04:59 (`hbase.offpeak.start.hour`/`end.hour`); none = any time.
    pub offpeak_hours: Option<String>,
    /// Past this many SSTables in a store, flushes wait for compaction
    /// (`hbase.hstore.blockingStoreFiles`, 16).
    pub blocking_files: usize,
    /// The longest a flush waits for it (`hbase.hstore.blockingWaitTime`, 90 s).
    #[serde(with = "humantime_serde")]
    pub blocking_wait: Duration,
    /// How often the background chore checks schedules and periodic flushes (10 s;
    /// HBase's `hbase.server.thread.wakefrequency`).
    #[serde(with = "humantime_serde")]
    pub check_interval: Duration,
}

impl Default for CompactionOptions {
    fn default() -> Self {
        CompactionOptions {
            min_files: 3,
            max_files: 10,
            ratio: 1.2,
            threads: 1,
            max_bytes_per_sec: ByteSize::mib(32),
            major_period: Duration::from_secs(7 * 24 * 3600),
            major_jitter: 0.5,
            offpeak_hours: None,
            blocking_files: 16,
            blocking_wait: Duration::from_secs(90),
            check_interval: Duration::from_secs(10),
        }
    }
}

impl CompactionOptions {
    /// The off-peak window as `(start_hour, end_hour)`, end exclusive, may wrap midnight.
    pub fn offpeak_window(&self) -> Result<Option<(u32, u32)>> {
        let Some(s) = &self.offpeak_hours else {
            return Ok(None);
        };
        let bad = || {
            Error::InvalidArgument(format!(
                "compaction.offpeak_hours = {s:?}: expected \"START-END\" with hours 0-23, e.g. \"1-5\""
            ))
        };
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let a: u32 = a.trim().parse().map_err(|_| bad())?;
        let b: u32 = b.trim().parse().map_err(|_| bad())?;
        if a > 23 || b > 23 || a == b {
            return Err(bad());
        }
        Ok(Some((a, b)))
    }
}

/// `[limits]`: per-request size limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitOptions {
    /// Largest value (`hbase.client.keyvalue.maxsize`; default and ceiling 10 MiB).
    pub max_value_bytes: usize,
    /// Largest row mutation, all cells of one row write together (default 64 MiB).
    pub max_mutation_bytes: usize,
}

impl Default for LimitOptions {
    fn default() -> Self {
        LimitOptions {
            max_value_bytes: MAX_VALUE_BYTES_CEILING,
            max_mutation_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Process-wide engine options, one nested section per concern (the TOML layout).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineOptions {
    /// Memory budget.
    pub server: ServerMemoryOptions,
    /// Block cache.
    pub block_cache: BlockCacheOptions,
    /// Memstores and global memory limits.
    pub memstore: MemstoreOptions,
    /// Write-ahead log.
    pub wal: WalConfig,
    /// Compaction.
    pub compaction: CompactionOptions,
    /// Request size limits.
    pub limits: LimitOptions,
    /// Background flush threads (`hbase.hstore.flusher.count`, default 2).
    #[serde(default = "default_flush_threads")]
    pub flush_threads: usize,
    /// Region size and splits.
    pub region: RegionOptions,
}

/// `[region]`: when regions split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegionOptions {
    /// A region whose store files pass this splits at its middle row
    /// (`hbase.hregion.max.filesize`, default 10 GiB).
    pub max_size: ByteSize,
    /// How often the master checks region sizes (and removes split parents no daughter
    /// references any more).
    #[serde(with = "humantime_serde")]
    pub split_check_interval: Duration,
}

/// Smallest `region.max_size` (tests use tiny values; production ones are GiB).
pub const MIN_REGION_MAX_SIZE: u64 = 4096;

impl Default for RegionOptions {
    fn default() -> Self {
        RegionOptions {
            max_size: ByteSize::gib(10),
            split_check_interval: Duration::from_secs(10),
        }
    }
}

fn default_flush_threads() -> usize {
    2
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            server: ServerMemoryOptions::default(),
            block_cache: BlockCacheOptions::default(),
            memstore: MemstoreOptions::default(),
            wal: WalConfig::default(),
            compaction: CompactionOptions::default(),
            limits: LimitOptions::default(),
            flush_threads: default_flush_threads(),
            region: RegionOptions::default(),
        }
    }
}

impl EngineOptions {
    /// Global memstore high-water mark in bytes (default 40 % of the memory limit).
    pub fn global_high_bytes(&self) -> u64 {
        self.memstore
            .global_high
            .map(|b| b.0)
            .unwrap_or(self.server.memory_limit.0 / 10 * 4)
    }

    /// Global memstore low-water mark in bytes (default 95 % of high).
    pub fn global_low_bytes(&self) -> u64 {
        self.memstore
            .global_low
            .map(|b| b.0)
            .unwrap_or(self.global_high_bytes() / 100 * 95)
    }

    /// A region's memstore size at which its writes block.
    pub fn region_block_bytes(&self) -> u64 {
        self.memstore
            .flush_size
            .0
            .saturating_mul(u64::from(self.memstore.block_multiplier))
    }

    /// Small settings for tests: tiny flushes, no fsync, no background schedule.
    pub fn for_tests() -> Self {
        let mut o = EngineOptions::default();
        o.block_cache.size = ByteSize::mib(8);
        o.memstore.flush_size = ByteSize::kib(256);
        o.wal.durability = Durability::Flush;
        o.compaction.max_bytes_per_sec = ByteSize(0);
        o.compaction.major_period = Duration::ZERO;
        o
    }

    /// Checks every field and their relations; the message names the keys and values.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        let l = &self.limits;
        if l.max_value_bytes == 0 || l.max_value_bytes > MAX_VALUE_BYTES_CEILING {
            return bad(format!(
                "limits.max_value_bytes must be in 1..={MAX_VALUE_BYTES_CEILING}, got {}",
                l.max_value_bytes
            ));
        }
        if l.max_mutation_bytes > MAX_MUTATION_BYTES_CEILING {
            return bad(format!(
                "limits.max_mutation_bytes ({}) must be <= {MAX_MUTATION_BYTES_CEILING} (a row mutation is one WAL record)",
                l.max_mutation_bytes
            ));
        }
        if l.max_mutation_bytes < l.max_value_bytes {
            return bad(format!(
                "limits.max_mutation_bytes ({}) must be >= limits.max_value_bytes ({})",
                l.max_mutation_bytes, l.max_value_bytes
            ));
        }
        let m = &self.memstore;
        if m.flush_size.0 < 1024 {
            return bad(format!(
                "memstore.flush_size must be >= 1KiB, got {}",
                m.flush_size
            ));
        }
        if m.block_multiplier < 1 {
            return bad("memstore.block_multiplier must be >= 1".into());
        }
        if !(m.in_memory_flush_factor > 0.0 && m.in_memory_flush_factor <= 1.0) {
            return bad(format!(
                "memstore.in_memory_flush_factor must be in (0, 1], got {}",
                m.in_memory_flush_factor
            ));
        }
        let (high, low) = (self.global_high_bytes(), self.global_low_bytes());
        if low > high {
            return bad(format!(
                "memstore.global_low ({}) must not exceed memstore.global_high ({})",
                ByteSize(low),
                ByteSize(high)
            ));
        }
        if high < m.flush_size.0 {
            return bad(format!(
                "memstore.global_high ({}) must be >= memstore.flush_size ({})",
                ByteSize(high),
                m.flush_size
            ));
        }
        let limit = self.server.memory_limit.0;
        let used = self.block_cache.size.0.saturating_add(high);
        if used > limit / 10 * 8 {
            return bad(format!(
                "block_cache.size ({}) + memstore.global_high ({}) = {} exceeds 80% of server.memory_limit ({}); \
                 lower one of them or raise the limit (HBase refuses to start in the same case)",
                self.block_cache.size,
                ByteSize(high),
                ByteSize(used),
                self.server.memory_limit
            ));
        }
        if self.wal.segment_size.0 < 4096 {
            return bad(format!(
                "wal.segment_size must be >= 4KiB, got {}",
                self.wal.segment_size
            ));
        }
        if self.wal.async_sync_interval.is_zero() {
            return bad("wal.async_sync_interval must be > 0".into());
        }
        if self.flush_threads == 0 || self.flush_threads > 64 {
            return bad(format!(
                "flush_threads must be in 1..=64, got {}",
                self.flush_threads
            ));
        }
        if self.region.max_size.0 < MIN_REGION_MAX_SIZE {
            return bad(format!(
                "region.max_size must be >= {}, got {}",
                ByteSize(MIN_REGION_MAX_SIZE),
                self.region.max_size
            ));
        }
        if self.region.split_check_interval < Duration::from_millis(10) {
            return bad(format!(
                "region.split_check_interval must be >= 10ms, got {:?}",
                self.region.split_check_interval
            ));
        }
        let c = &self.compaction;
        if c.min_files < 2 || c.max_files < c.min_files {
            return bad(format!(
                "compaction.min_files ({}) must be >= 2 and <= compaction.max_files ({})",
                c.min_files, c.max_files
            ));
        }
        if !(c.ratio > 0.0 && c.ratio.is_finite()) {
            return bad(format!("compaction.ratio must be > 0, got {}", c.ratio));
        }
        if c.threads == 0 || c.threads > 64 {
            return bad(format!(
                "compaction.threads must be in 1..=64, got {}",
                c.threads
            ));
        }
        if !(0.0..1.0).contains(&c.major_jitter) {
            return bad(format!(
                "compaction.major_jitter must be in [0, 1), got {}",
                c.major_jitter
            ));
        }
        if c.blocking_files < c.min_files {
            return bad(format!(
                "compaction.blocking_files ({}) must be >= compaction.min_files ({})",
                c.blocking_files, c.min_files
            ));
        }
        if c.check_interval.is_zero() {
            return bad("compaction.check_interval must be > 0".into());
        }
        c.offpeak_window()?;
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
        assert!(validate_family_name(b"..").is_err());
        assert!(validate_family_name(b".hidden").is_err());
        assert!(validate_family_name(b"wal").is_err());
    }

    #[test]
    fn defaults_validate() {
        EngineOptions::default().validate().unwrap();
        EngineOptions::for_tests().validate().unwrap();
        FamilyOptions::new("f").validate().unwrap();
        let mut f = FamilyOptions::new("f");
        f.min_versions = 2;
        let err = f.validate().unwrap_err().to_string();
        assert!(err.contains("min_versions"), "{err}");
    }
}

#[cfg(test)]
mod engine_option_tests {
    use super::*;

    #[test]
    fn byte_sizes_parse() {
        assert_eq!(ByteSize::parse("4096").unwrap(), ByteSize(4096));
        assert_eq!(ByteSize::parse("64MiB").unwrap(), ByteSize::mib(64));
        assert_eq!(ByteSize::parse("1 GiB").unwrap(), ByteSize::gib(1));
        assert_eq!(ByteSize::parse("512k").unwrap(), ByteSize::kib(512));
        assert_eq!(ByteSize::parse("2MB").unwrap(), ByteSize(2_000_000));
        assert!(ByteSize::parse("lots").is_err());
        assert!(ByteSize::parse("3 parsecs").is_err());
        assert_eq!(ByteSize::mib(64).to_string(), "64MiB");
    }

    #[test]
    fn memory_budget_is_enforced_with_named_keys() {
        let mut o = EngineOptions::default();
        o.server.memory_limit = ByteSize::mib(256);
        o.memstore.flush_size = ByteSize::mib(32);
        o.block_cache.size = ByteSize::mib(200);
        let e = o.validate().unwrap_err().to_string();
        assert!(
            e.contains("block_cache.size")
                && e.contains("memstore.global_high")
                && e.contains("80%"),
            "{e}"
        );
        o.block_cache.size = ByteSize::mib(64);
        o.validate().unwrap();
        assert_eq!(o.global_high_bytes(), ByteSize::mib(256).0 / 10 * 4);
    }

    #[test]
    fn offpeak_window_parses() {
        let mut c = CompactionOptions {
            offpeak_hours: Some("1-5".into()),
            ..Default::default()
        };
        assert_eq!(c.offpeak_window().unwrap(), Some((1, 5)));
        c.offpeak_hours = Some("22-3".into());
        assert_eq!(c.offpeak_window().unwrap(), Some((22, 3)));
        c.offpeak_hours = Some("25-3".into());
        assert!(
            c.offpeak_window()
                .unwrap_err()
                .to_string()
                .contains("compaction.offpeak_hours")
        );
    }
}
