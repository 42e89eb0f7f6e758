//! Reference files (`<id>.ref`): how a daughter region reads half of a parent region's
//! SSTable without copying it (HBase's `Reference`).
//!
//! When a region splits at row `S`, each daughter gets, per parent SSTable that holds
//! rows of its half, a small reference file naming the parent region, the family, the
//! parent file id and the half: `Bottom` (rows `< S`) or `Top` (rows `>= S`). Opening
//! one maps the parent's file and clips every read to the half (see
//! [`SsTable::open_reference`](super::SsTable::open_reference)). A compaction of the
//! daughter reads through the reference and writes a real SSTable; the reference is
//! then deleted like any compacted input. The parent's files are deleted only when no
//! daughter lists a reference any more (`region::split`).
//!
//! Bytes: the storage crate's checksummed envelope (magic `STRREFR1`, version 1) around
//! a JSON body; `storage/FORMAT.md` has the details.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::fs_util::{self, hex_bytes};
use crate::manifest::Manifest;

const MAGIC: u64 = u64::from_le_bytes(*b"STRREFR1");
const VERSION: u32 = 1;
/// Extension of reference files inside a family directory.
pub const REFERENCE_EXT: &str = "ref";

/// Which half of the parent file a reference exposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Half {
    /// Rows below the split row (the left daughter).
    Bottom,
    /// Rows at or above the split row (the right daughter).
    Top,
}

/// The content of a reference file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// Region id of the parent (a sibling directory of the daughter's).
    pub parent_region: String,
    /// Column family (the same directory name in the parent).
    pub family: String,
    /// The parent SSTable's id.
    pub file_id: u64,
    /// The half this reference exposes.
    pub half: Half,
    /// The split row: the boundary between the halves.
    #[serde(with = "hex_bytes")]
    pub split_row: Vec<u8>,
}

impl Reference {
    /// Path of reference `id` of `family` inside a region directory.
    pub fn path(region_dir: &Path, family: &str, id: u64) -> PathBuf {
        region_dir
            .join(family)
            .join(format!("{id:020}.{REFERENCE_EXT}"))
    }

    /// The parent SSTable this reference reads, given the daughter's directory (parent
    /// and daughters are siblings under the table directory).
    pub fn parent_file(&self, daughter_dir: &Path) -> Result<PathBuf> {
        let table_dir = daughter_dir.parent().ok_or_else(|| {
            Error::InvalidRegion(format!("{} has no parent", daughter_dir.display()))
        })?;
        if self.parent_region.is_empty()
            || self.parent_region.contains(['/', '\\'])
            || self.parent_region.starts_with('.')
            || self.family.is_empty()
            || self.family.contains(['/', '\\'])
            || self.family.starts_with('.')
        {
            return Err(Error::InvalidRegion(format!(
                "reference names a bad parent {:?}/{:?}",
                self.parent_region, self.family
            )));
        }
        Ok(Manifest::sstable_path(
            &table_dir.join(&self.parent_region),
            &self.family,
            self.file_id,
        ))
    }

    /// Writes the reference durably (temp name, fsync, rename, directory fsync).
    pub fn save(&self, path: &Path) -> Result<()> {
        let body = serde_json::to_vec(self)
            .map_err(|e| Error::InvalidArgument(format!("cannot encode reference: {e}")))?;
        fs_util::write_atomic(path, &fs_util::seal(MAGIC, VERSION, &body))
    }

    /// Reads and checks a reference file.
    pub fn load(path: &Path) -> Result<Reference> {
        let bytes = std::fs::read(path).at(path)?;
        let body = fs_util::unseal(path, MAGIC, VERSION, &bytes)?;
        serde_json::from_slice(body).map_err(|e| Error::Corruption {
            file: path.to_path_buf(),
            offset: 16,
            reason: format!("bad reference: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("1.ref");
        let r = Reference {
            parent_region: "p".into(),
            family: "f".into(),
            file_id: 7,
            half: Half::Top,
            split_row: b"m\x00".to_vec(),
        };
        r.save(&p).unwrap();
        assert_eq!(Reference::load(&p).unwrap(), r);
        let mut bytes = std::fs::read(&p).unwrap();
        let n = bytes.len();
        bytes[n - 6] ^= 1;
        std::fs::write(&p, bytes).unwrap();
        assert!(matches!(Reference::load(&p), Err(Error::Corruption { .. })));
        let bad = Reference {
            parent_region: "../x".into(),
            ..r
        };
        assert!(bad.parent_file(&d.path().join("daughter")).is_err());
    }
}
