//! Writes one SSTable from entries given in key order.
//!
//! Layout: data blocks, then the index, bloom (if any) and meta blocks, then the footer.
//! Bytes go to `<path>.tmp` through a `BufWriter`; [`SsTableBuilder::finish`] fsyncs that
//! file, renames it to `path` and fsyncs the directory, so a crash leaves either no file
//! or a complete one. Dropping an unfinished builder removes the temporary file.
//!
//! A builder is used by one thread (flush or compaction); it is `Send`, not shared.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::block::BlockBuilder;
use super::bloom::{BloomBuilder, random_seed};
use super::codec::BlockHandle;
use super::footer::Footer;
use super::footer::{FORMAT_VERSION, data_layout};
use super::frame::{MAX_UNCOMPRESSED_BLOCK_BYTES, encode_frame};
use super::index::{IndexEntry, encode_index};
use super::meta::SsTableMeta;
use crate::error::{Error, IoContext, Result};
use crate::key;
use crate::options::{BloomType, Compression, MAX_BLOCK_SIZE_BYTES, MIN_BLOCK_SIZE_BYTES};

/// Largest single entry (key + value) the builder accepts. A block holds whole entries,
/// so this keeps every block under the reader's decompression cap
/// ([`MAX_UNCOMPRESSED_BLOCK_BYTES`]) together with [`MAX_BLOCK_SIZE_BYTES`].
pub const MAX_ENTRY_BYTES: usize = 32 * 1024 * 1024;

const _: () = assert!(MAX_BLOCK_SIZE_BYTES + MAX_ENTRY_BYTES + 1024 < MAX_UNCOMPRESSED_BLOCK_BYTES);

/// How to write one SSTable (normally derived from the family's options).
#[derive(Clone, Debug, PartialEq)]
pub struct SsTableWriteOptions {
    /// Target uncompressed size of a data block; a block is cut once it reaches this.
    pub block_size: usize,
    /// Data block compression.
    pub compression: Compression,
    /// Bloom filter kind.
    pub bloom: BloomType,
    /// Bloom false-positive rate, in (0, 1).
    pub bloom_fp_rate: f64,
    /// Entries the caller expects to add (memstore entries for a flush, the sum of input
    /// entries for a compaction). The bloom filter is sized for this many keys, an upper
    /// bound on distinct rows or columns; fewer is fine, more raises the false-positive
    /// rate. 0 means unknown and sizes the filter for 1 key.
    pub expected_entries: usize,
}

impl Default for SsTableWriteOptions {
    fn default() -> Self {
        SsTableWriteOptions {
            block_size: 64 * 1024,
            compression: Compression::None,
            bloom: BloomType::Row,
            bloom_fp_rate: 0.01,
            expected_entries: 0,
        }
    }
}

impl SsTableWriteOptions {
    fn validate(&self) -> Result<()> {
        if !(MIN_BLOCK_SIZE_BYTES..=MAX_BLOCK_SIZE_BYTES).contains(&self.block_size) {
            return Err(Error::InvalidArgument(format!(
                "block_size must be in {MIN_BLOCK_SIZE_BYTES}..={MAX_BLOCK_SIZE_BYTES}, got {}",
                self.block_size
            )));
        }
        if !(self.bloom_fp_rate > 0.0 && self.bloom_fp_rate < 1.0) {
            return Err(Error::InvalidArgument(format!(
                "bloom_fp_rate must be in (0, 1), got {}",
                self.bloom_fp_rate
            )));
        }
        Ok(())
    }
}

/// What [`SsTableBuilder::finish`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsTableInfo {
    /// The file's meta block.
    pub meta: SsTableMeta,
    /// Size of the finished file in bytes.
    pub file_size: u64,
}

/// Writes one SSTable. See the module docs.
pub struct SsTableBuilder {
    path: PathBuf,
    tmp_path: PathBuf,
    /// `None` once `finish` has flushed it or after a failed write (the builder is then
    /// unusable and only cleans up on drop).
    out: Option<BufWriter<File>>,
    /// Set once the file has its final name: `Drop` then leaves it alone.
    renamed: bool,
    opts: SsTableWriteOptions,
    /// Bytes written so far.
    offset: u64,
    block: BlockBuilder,
    /// The format version written (always [`FORMAT_VERSION`] outside tests).
    version: u32,
    /// Reused buffer for a framed block.
    frame: Vec<u8>,
    index: Vec<IndexEntry>,
    bloom: Option<BloomBuilder>,
    meta: SsTableMeta,
}

impl std::fmt::Debug for SsTableBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsTableBuilder")
            .field("path", &self.path)
            .field("entries", &self.meta.entry_count)
            .field("bytes", &self.offset)
            .finish()
    }
}

impl SsTableBuilder {
    /// Starts writing `path`; bytes go to `<path>.tmp` until [`finish`](Self::finish).
    /// Refuses to replace an existing file at `path` (SSTables are never rewritten: a
    /// reader may have it mapped).
    pub fn create(path: &Path, opts: SsTableWriteOptions) -> Result<Self> {
        opts.validate()?;
        if path.exists() {
            return Err(Error::io(
                path,
                std::io::Error::new(ErrorKind::AlreadyExists, "SSTable already exists"),
            ));
        }
        let tmp_path = tmp_path_for(path);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp_path)
            .at(&tmp_path)?;
        let bloom = match opts.bloom {
            BloomType::None => None,
            BloomType::Row | BloomType::RowCol => Some(BloomBuilder::new(
                opts.expected_entries,
                opts.bloom_fp_rate,
                &random_seed(),
            )),
        };
        let meta = SsTableMeta {
            min_timestamp: u64::MAX,
            bloom: opts.bloom,
            compression: opts.compression,
            ..SsTableMeta::default()
        };
        Ok(SsTableBuilder {
            path: path.to_path_buf(),
            tmp_path,
            out: Some(BufWriter::with_capacity(256 * 1024, file)),
            renamed: false,
            opts,
            offset: 0,
            block: BlockBuilder::new(data_layout(FORMAT_VERSION)),
            version: FORMAT_VERSION,
            frame: Vec::new(),
            index: Vec::new(),
            bloom,
            meta,
        })
    }

    /// Writes an older format version (to test that files of that version stay readable).
    #[cfg(test)]
    pub(crate) fn with_format_version(mut self, version: u32) -> Self {
        assert!(
            self.meta.entry_count == 0,
            "set the version before adding entries"
        );
        self.block = BlockBuilder::new(data_layout(version));
        self.version = version;
        self
    }

    /// Adds an entry. `key` must be a well-formed internal key (see `key.rs`) strictly
    /// greater than the previous one; out-of-order keys are a programmer error
    /// (debug assertion) and an `InvalidArgument` in release builds.
    pub fn add(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if self.out.is_none() {
            return Err(self.broken());
        }
        let ordered = self.meta.entry_count == 0 || key > self.meta.last_key.as_slice();
        debug_assert!(ordered, "SSTable keys must be strictly increasing");
        if !ordered {
            return Err(Error::InvalidArgument(
                "SSTable keys must be strictly increasing".into(),
            ));
        }
        let Some((timestamp, kind, seq)) =
            key::parse_key(key).map(|k| (k.timestamp, k.kind, k.seq))
        else {
            return Err(Error::InvalidArgument(
                "not an internal key (see key.rs)".into(),
            ));
        };
        let entry_bytes = BlockBuilder::entry_size_bound(key, value);
        if entry_bytes > MAX_ENTRY_BYTES {
            return Err(Error::LimitExceeded {
                what: "SSTable entry",
                limit_name: "MAX_ENTRY_BYTES",
                limit: MAX_ENTRY_BYTES as u64,
                actual: entry_bytes as u64,
            });
        }
        if let Some(bloom) = &mut self.bloom {
            let bloom_key = match self.opts.bloom {
                BloomType::RowCol => key::column_part(key),
                _ => key::row_part(key),
            };
            // parse_key succeeded, so both parts exist.
            bloom.add(bloom_key.unwrap_or(key));
        }
        let m = &mut self.meta;
        if m.entry_count == 0 {
            m.first_key = key.to_vec();
        }
        m.last_key.clear();
        m.last_key.extend_from_slice(key);
        m.entry_count += 1;
        if kind.is_delete() {
            m.delete_marker_count += 1;
        } else {
            m.put_count += 1;
        }
        m.min_timestamp = m.min_timestamp.min(timestamp);
        m.max_timestamp = m.max_timestamp.max(timestamp);
        m.max_seq = m.max_seq.max(seq);
        self.block.add(key, value);
        if self.block.estimated_size() >= self.opts.block_size {
            self.flush_block()?;
        }
        Ok(())
    }

    /// Entries added so far.
    pub fn entry_count(&self) -> u64 {
        self.meta.entry_count
    }

    /// Bytes of the file so far, counting the open block uncompressed (for cutting
    /// compaction outputs at a target size).
    pub fn estimated_size(&self) -> u64 {
        self.offset + self.block.estimated_size() as u64
    }

    /// Writes the index, bloom and meta blocks and the footer, fsyncs, renames the file
    /// to its final name and fsyncs the directory. A file needs at least one entry.
    pub fn finish(mut self) -> Result<SsTableInfo> {
        if self.meta.entry_count == 0 {
            return Err(Error::InvalidArgument(
                "an SSTable needs at least one entry".into(),
            ));
        }
        self.flush_block()?;
        let index = self.write_block(&encode_index(&self.index), Compression::None)?;
        let bloom = match self.bloom.take() {
            Some(b) => self.write_block(&b.finish(), Compression::None)?,
            None => BlockHandle::default(),
        };
        self.meta.created_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let meta = self.write_block(&self.meta.encode(), Compression::None)?;
        let footer = Footer {
            index,
            bloom,
            meta,
            version: self.version,
        }
        .encode();
        self.write_all(&footer)?;
        let file_size = self.offset;

        let out = self.out.take().ok_or_else(|| self.broken())?;
        let file = out
            .into_inner()
            .map_err(|e| Error::io(&self.tmp_path, e.into_error()))?;
        file.sync_all().at(&self.tmp_path)?;
        drop(file);
        std::fs::rename(&self.tmp_path, &self.path).at(&self.path)?;
        self.renamed = true;
        sync_parent_dir(&self.path)?;
        Ok(SsTableInfo {
            meta: std::mem::take(&mut self.meta),
            file_size,
        })
    }

    fn flush_block(&mut self) -> Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let last_key = self.block.last_key().to_vec();
        let raw = self.block.finish();
        let handle = self.write_block(&raw, self.opts.compression)?;
        self.meta.raw_data_bytes += raw.len() as u64;
        self.meta.data_block_count += 1;
        self.index.push(IndexEntry { last_key, handle });
        Ok(())
    }

    /// Frames, writes and returns the handle of one block.
    fn write_block(&mut self, payload: &[u8], compression: Compression) -> Result<BlockHandle> {
        let mut frame = std::mem::take(&mut self.frame);
        frame.clear();
        let size = encode_frame(payload, compression, &mut frame) as u64;
        let handle = BlockHandle {
            offset: self.offset,
            size,
        };
        let written = self.write_all(&frame);
        self.frame = frame;
        written.map(|()| handle)
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let Some(out) = self.out.as_mut() else {
            return Err(self.broken());
        };
        if let Err(e) = out.write_all(bytes) {
            // A partial write leaves the file unusable: refuse everything after it.
            self.out = None;
            return Err(Error::io(&self.tmp_path, e));
        }
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn broken(&self) -> Error {
        Error::io(
            &self.tmp_path,
            std::io::Error::other("an earlier write to this SSTable failed; drop the builder"),
        )
    }
}

impl Drop for SsTableBuilder {
    fn drop(&mut self) {
        if !self.renamed {
            drop(self.out.take());
            // Best effort: a leftover .tmp is garbage that recovery may also remove.
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

/// `<path>.tmp`, beside the final file so the rename stays in one directory.
pub(crate) fn tmp_path_for(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Makes a rename in `path`'s directory durable.
fn sync_parent_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|d| d.sync_all()).at(dir)
}
