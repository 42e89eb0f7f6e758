//! The region descriptor (`region.meta`): which table and key range a region holds and
//! the options of its column families. Written once when the region is created, so a
//! region directory is self-describing and any server can open it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::fs_util::{self, hex_bytes};
use crate::options::FamilyOptions;

/// File name of the descriptor inside a region directory.
pub const DESCRIPTOR_FILE: &str = "region.meta";
const MAGIC: u64 = u64::from_le_bytes(*b"STRREGN1");
const VERSION: u32 = 1;

/// Identity, key range and schema of a region.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegionDescriptor {
    /// Table name.
    pub table: String,
    /// Region id, unique within the table (also the directory name).
    pub region_id: String,
    /// First row of the range (inclusive); empty = unbounded.
    #[serde(with = "hex_bytes")]
    pub start_row: Vec<u8>,
    /// Row the range stops before (exclusive); empty = unbounded.
    #[serde(with = "hex_bytes")]
    pub end_row: Vec<u8>,
    /// Column families, with options.
    pub families: Vec<FamilyOptions>,
    /// The region this one was split from, if any.
    #[serde(default)]
    pub parent: Option<String>,
}

impl RegionDescriptor {
    /// A region covering all rows of `table`.
    pub fn whole_table(
        table: impl Into<String>,
        region_id: impl Into<String>,
        families: Vec<FamilyOptions>,
    ) -> Self {
        RegionDescriptor {
            table: table.into(),
            region_id: region_id.into(),
            start_row: Vec::new(),
            end_row: Vec::new(),
            families,
            parent: None,
        }
    }

    /// `table/region_id`, used in errors and logs.
    pub fn name(&self) -> String {
        format!("{}/{}", self.table, self.region_id)
    }

    /// True if `row` is inside `[start_row, end_row)`.
    pub fn contains_row(&self, row: &[u8]) -> bool {
        row >= self.start_row.as_slice()
            && (self.end_row.is_empty() || row < self.end_row.as_slice())
    }

    /// Checks names, options and the range.
    pub fn validate(&self) -> Result<()> {
        if self.families.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "region {} needs at least one column family",
                self.name()
            )));
        }
        let mut names: Vec<&str> = self.families.iter().map(|f| f.name.as_str()).collect();
        for f in &self.families {
            f.validate()?;
        }
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::InvalidArgument(format!(
                "region {} declares a family twice",
                self.name()
            )));
        }
        if !self.end_row.is_empty() && self.end_row <= self.start_row {
            return Err(Error::InvalidArgument(format!(
                "region {}: end_row must be above start_row",
                self.name()
            )));
        }
        if self.region_id.is_empty()
            || self.region_id.contains(['/', '\\'])
            || self.region_id.starts_with('.')
        {
            return Err(Error::InvalidArgument(format!(
                "bad region id {:?}",
                self.region_id
            )));
        }
        Ok(())
    }

    /// Writes `region.meta` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let body = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::InvalidArgument(format!("cannot encode region descriptor: {e}")))?;
        fs_util::write_atomic(
            &dir.join(DESCRIPTOR_FILE),
            &fs_util::seal(MAGIC, VERSION, &body),
        )
    }

    /// Reads and checks `region.meta`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(DESCRIPTOR_FILE);
        let bytes = std::fs::read(&path).at(&path)?;
        let body = fs_util::unseal(&path, MAGIC, VERSION, &bytes)?;
        let desc: RegionDescriptor =
            serde_json::from_slice(body).map_err(|e| Error::Corruption {
                file: path.clone(),
                offset: 16,
                reason: format!("bad descriptor: {e}"),
            })?;
        desc.validate()?;
        Ok(desc)
    }
}
