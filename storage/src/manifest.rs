//! The region manifest (`MANIFEST`): the live SSTables of each store and how far the
//! memstore has been flushed. Rewritten whole and replaced atomically on every change
//! (flush, compaction), so a crash at any point leaves the old or the new file set.
//! Files on disk that the manifest does not list are leftovers of an interrupted flush
//! or compaction and are deleted when the region opens.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::fs_util;

/// File name inside a region directory.
pub const MANIFEST_FILE: &str = "MANIFEST";
const MAGIC: u64 = u64::from_le_bytes(*b"STRMANI1");
const VERSION: u32 = 1;

/// The persisted file set of a region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Every WAL record with seq <= this is in an SSTable.
    pub flushed_seq: u64,
    /// Next SSTable file id to hand out.
    pub next_file_id: u64,
    /// Live SSTable ids per family, newest first.
    pub files: BTreeMap<String, Vec<u64>>,
    /// When the last major compaction finished (ms since epoch), if ever.
    #[serde(default)]
    pub last_major_compaction_ms: Option<u64>,
    /// When the region was created (ms since epoch): the major schedule starts here.
    #[serde(default)]
    pub created_ms: Option<u64>,
}

impl Manifest {
    /// Path of SSTable `id` of `family`.
    pub fn sstable_path(region_dir: &Path, family: &str, id: u64) -> std::path::PathBuf {
        region_dir.join(family).join(format!("{id:020}.sst"))
    }

    /// Writes the manifest atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let body = serde_json::to_vec(self)
            .map_err(|e| Error::InvalidArgument(format!("cannot encode manifest: {e}")))?;
        fs_util::write_atomic(
            &dir.join(MANIFEST_FILE),
            &fs_util::seal(MAGIC, VERSION, &body),
        )
    }

    /// Reads and checks the manifest.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = std::fs::read(&path).at(&path)?;
        let body = fs_util::unseal(&path, MAGIC, VERSION, &bytes)?;
        serde_json::from_slice(body).map_err(|e| Error::Corruption {
            file: path.clone(),
            offset: 16,
            reason: format!("bad manifest: {e}"),
        })
    }
}
