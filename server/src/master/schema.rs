//! Table schemas on the wire (`TableSchema`, `FamilySchema`) and in the catalog
//! (`FamilyOptions`), and the checks a new table must pass: name, families, split keys.

use bytes::Bytes;
use strata_proto::v1 as pb;
use strata_storage::options::MAX_ROW_KEY_BYTES;
use strata_storage::{BloomType, Compression, FamilyOptions};
use tonic::Status;

use crate::error::invalid;

/// Longest table name.
pub const MAX_TABLE_NAME_BYTES: usize = 128;
/// Most split keys of one CreateTable (regions = split keys + 1).
pub const MAX_SPLIT_KEYS: usize = 1_000;
/// Most column families of a table.
pub const MAX_FAMILIES: usize = 64;

/// Checks a table name against `[A-Za-z0-9_.-]{1,128}`, not starting with `.` (a table
/// is a directory under `root_dir/tables/`).
pub fn validate_table_name(name: &str) -> Result<(), Status> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if name.is_empty()
        || name.len() > MAX_TABLE_NAME_BYTES
        || !name.chars().all(ok_char)
        || name.starts_with('.')
    {
        return Err(invalid(format!(
            "table name {name:?} must match [A-Za-z0-9_.-]{{1,{MAX_TABLE_NAME_BYTES}}} and not start with '.'"
        )));
    }
    Ok(())
}

/// The engine's options of a wire family; zero values take the defaults.
pub fn family_options(f: &pb::FamilySchema) -> Result<FamilyOptions, Status> {
    let d = FamilyOptions::default();
    let bloom = match pb::BloomType::try_from(f.bloom) {
        Ok(pb::BloomType::BloomRow) => BloomType::Row,
        Ok(pb::BloomType::BloomNone) => BloomType::None,
        Ok(pb::BloomType::BloomRowcol) => BloomType::RowCol,
        Err(_) => {
            return Err(invalid(format!(
                "family {}: unknown bloom type {}",
                f.name, f.bloom
            )));
        }
    };
    let compression = match pb::Compression::try_from(f.compression) {
        Ok(pb::Compression::None) => Compression::None,
        Ok(pb::Compression::Lz4) => Compression::Lz4,
        Err(_) => {
            return Err(invalid(format!(
                "family {}: unknown compression {}",
                f.name, f.compression
            )));
        }
    };
    let opts = FamilyOptions {
        name: f.name.clone(),
        max_versions: if f.max_versions == 0 {
            d.max_versions
        } else {
            f.max_versions
        },
        min_versions: f.min_versions,
        ttl_seconds: (f.ttl_seconds > 0).then_some(f.ttl_seconds),
        bloom,
        bloom_fp_rate: if f.bloom_fp_rate == 0.0 {
            d.bloom_fp_rate
        } else {
            f.bloom_fp_rate
        },
        compression,
        block_size_bytes: if f.block_size == 0 {
            d.block_size_bytes
        } else {
            f.block_size as usize
        },
        in_memory: f.in_memory,
        prefetch_blocks_on_open: f.prefetch_blocks_on_open,
    };
    opts.validate().map_err(|e| invalid(e.to_string()))?;
    Ok(opts)
}

/// The wire form of a family.
pub fn family_schema(o: &FamilyOptions) -> pb::FamilySchema {
    let bloom = match o.bloom {
        BloomType::Row => pb::BloomType::BloomRow,
        BloomType::None => pb::BloomType::BloomNone,
        BloomType::RowCol => pb::BloomType::BloomRowcol,
    };
    let compression = match o.compression {
        Compression::None => pb::Compression::None,
        Compression::Lz4 => pb::Compression::Lz4,
    };
    pb::FamilySchema {
        name: o.name.clone(),
        max_versions: o.max_versions,
        min_versions: o.min_versions,
        ttl_seconds: o.ttl_seconds.unwrap_or(0),
        bloom: bloom as i32,
        compression: compression as i32,
        block_size: u32::try_from(o.block_size_bytes).unwrap_or(u32::MAX),
        in_memory: o.in_memory,
        bloom_fp_rate: o.bloom_fp_rate,
        prefetch_blocks_on_open: o.prefetch_blocks_on_open,
    }
}

/// Checks a schema and returns its families.
pub fn validate_schema(schema: &pb::TableSchema) -> Result<Vec<FamilyOptions>, Status> {
    validate_table_name(&schema.name)?;
    if schema.families.is_empty() {
        return Err(invalid(format!(
            "table {}: at least one column family is required",
            schema.name
        )));
    }
    if schema.families.len() > MAX_FAMILIES {
        return Err(invalid(format!(
            "table {}: {} families, over the limit MAX_FAMILIES = {MAX_FAMILIES}",
            schema.name,
            schema.families.len()
        )));
    }
    let families = schema
        .families
        .iter()
        .map(family_options)
        .collect::<Result<Vec<_>, _>>()?;
    let mut names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(invalid(format!(
            "table {}: family {} is declared twice",
            schema.name, w[0]
        )));
    }
    Ok(families)
}

/// A region's `(start_row, end_row)`; empty = unbounded.
pub type RowRange = (Vec<u8>, Vec<u8>);

/// Region key ranges for `split_keys`: `[.., k1), [k1, k2), ..., [kn, ..)`. Keys must be
/// non-empty, valid row keys, strictly increasing.
pub fn region_ranges(split_keys: &[Bytes]) -> Result<Vec<RowRange>, Status> {
    if split_keys.len() > MAX_SPLIT_KEYS {
        return Err(invalid(format!(
            "{} split keys, over the limit MAX_SPLIT_KEYS = {MAX_SPLIT_KEYS}",
            split_keys.len()
        )));
    }
    for (i, k) in split_keys.iter().enumerate() {
        if k.is_empty() {
            return Err(invalid(format!("split_keys[{i}] is empty")));
        }
        if k.len() > MAX_ROW_KEY_BYTES {
            return Err(invalid(format!(
                "split_keys[{i}] is {} bytes, over the limit MAX_ROW_KEY_BYTES = {MAX_ROW_KEY_BYTES}",
                k.len()
            )));
        }
        if i > 0 && split_keys[i - 1] >= *k {
            return Err(invalid(format!(
                "split_keys must be sorted and unique: split_keys[{}] >= split_keys[{i}]",
                i - 1
            )));
        }
    }
    let mut bounds: Vec<Vec<u8>> = vec![Vec::new()];
    bounds.extend(split_keys.iter().map(|k| k.to_vec()));
    bounds.push(Vec::new());
    Ok(bounds
        .windows(2)
        .map(|w| (w[0].clone(), w[1].clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_splits() {
        assert!(validate_table_name("users_v2.x-1").is_ok());
        for bad in ["", ".hidden", "a/b", "a b", &"x".repeat(129)] {
            assert!(validate_table_name(bad).is_err(), "{bad}");
        }
        let k = |s: &'static str| Bytes::from_static(s.as_bytes());
        let r = region_ranges(&[k("g"), k("p")]).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[1], (b"g".to_vec(), b"p".to_vec()));
        assert!(region_ranges(&[k("p"), k("g")]).is_err());
        assert!(region_ranges(&[k("g"), k("g")]).is_err());
        assert!(region_ranges(&[k("")]).is_err());
        assert_eq!(region_ranges(&[]).unwrap(), vec![(vec![], vec![])]);
    }

    #[test]
    fn family_round_trip_and_defaults() {
        let wire = pb::FamilySchema {
            name: "f".into(),
            ..Default::default()
        };
        let o = family_options(&wire).unwrap();
        assert_eq!(o, FamilyOptions::new("f"));
        assert_eq!(family_options(&family_schema(&o)).unwrap(), o);
        let bad = pb::FamilySchema {
            name: "wal".into(),
            ..Default::default()
        };
        assert!(family_options(&bad).is_err());
    }
}
