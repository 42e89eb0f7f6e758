//! The engine's one error type. Callers match on the variant: `is_retryable()` tells a
//! server whether to map it to a retryable status; `Corruption` names the file and offset.

use std::io;
use std::path::PathBuf;

/// Engine result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the storage engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Malformed input from the caller (bad family name, empty row, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An input is larger than a documented limit; the message names the limit.
    #[error("{what} is {actual} bytes, over the limit {limit_name} = {limit}")]
    LimitExceeded {
        /// What was too large ("row key", "value", ...).
        what: &'static str,
        /// The limit's documented name.
        limit_name: &'static str,
        /// The limit.
        limit: u64,
        /// What the caller sent.
        actual: u64,
    },
    /// The row is not inside this region's key range.
    #[error("row {row:?} is outside region {region} [{start:?}, {end:?})")]
    RowOutOfRange {
        /// Region name.
        region: String,
        /// The offending row (lossy UTF-8, truncated).
        row: String,
        /// Region start row (lossy UTF-8).
        start: String,
        /// Region end row (lossy UTF-8, empty = unbounded).
        end: String,
    },
    /// The family is not part of the region's schema.
    #[error("unknown column family {family:?} in region {region}")]
    UnknownFamily {
        /// Region name.
        region: String,
        /// Requested family (lossy UTF-8).
        family: String,
    },
    /// Stored bytes failed a checksum or could not be decoded.
    #[error("corruption in {file} at offset {offset}: {reason}")]
    Corruption {
        /// The file holding the bad bytes.
        file: PathBuf,
        /// Byte offset of the bad record or block.
        offset: u64,
        /// What check failed.
        reason: String,
    },
    /// An operating-system I/O error on a named path.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// File or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Writes are held back by memory or flush pressure; retry after a backoff.
    #[error("write stalled: {0}")]
    WriteStall(String),
    /// The region was closed (or failed) and serves nothing more.
    #[error("region {0} is closed")]
    Closed(String),
    /// The region directory or its options are not usable.
    #[error("invalid region: {0}")]
    InvalidRegion(String),
    /// A cache-only read ([`crate::Region::try_get_cached`]) needed a block that is not
    /// in the block cache. Never returned by the normal read calls.
    #[error("block not in the block cache")]
    NotCached,
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// True when the same request may succeed if retried later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::WriteStall(_))
    }
}

/// Attaches a path to `std::io::Result`s.
pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}
