//! Crash-safe file helpers: atomic replace (temp name, fsync, rename, fsync the
//! directory) and a checksummed envelope for small metadata files.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::{Error, IoContext, Result};

/// Fsyncs a directory so a rename or unlink inside it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).at(dir)
}

/// Replaces `path` with `bytes` atomically: a crash leaves the old or the new content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::InvalidArgument(format!("{} has no parent", path.display())))?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .at(&tmp)?;
        f.write_all(bytes).at(&tmp)?;
        f.sync_all().at(&tmp)?;
    }
    fs::rename(&tmp, path).at(path)?;
    sync_dir(dir)
}

/// Creates a directory (and parents) and fsyncs it and its parent.
pub fn create_dir_durable(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).at(dir)?;
    sync_dir(dir)?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Wraps `body` as `magic u64 | version u32 | len u32 | body | crc32c(body) u32` (LE).
pub fn seal(magic: u64, version: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 20);
    out.extend_from_slice(&magic.to_le_bytes());
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    out
}

/// Checks an envelope written by [`seal`] and returns its body.
pub fn unseal<'a>(path: &Path, magic: u64, version: u32, bytes: &'a [u8]) -> Result<&'a [u8]> {
    let corrupt = |offset: u64, reason: String| Error::Corruption {
        file: path.to_path_buf(),
        offset,
        reason,
    };
    if bytes.len() < 20 {
        return Err(corrupt(
            0,
            format!(
                "file is {} bytes, shorter than the 20-byte envelope",
                bytes.len()
            ),
        ));
    }
    let got_magic = u64::from_le_bytes(bytes[0..8].try_into().unwrap_or_default());
    if got_magic != magic {
        return Err(corrupt(
            0,
            format!("bad magic {got_magic:#x}, expected {magic:#x}"),
        ));
    }
    let got_version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
    if got_version != version {
        return Err(corrupt(
            8,
            format!("unsupported format version {got_version}, expected {version}"),
        ));
    }
    let len = u32::from_le_bytes(bytes[12..16].try_into().unwrap_or_default()) as usize;
    if bytes.len() != 20 + len {
        return Err(corrupt(
            12,
            format!("body length {len} does not match file size {}", bytes.len()),
        ));
    }
    let body = &bytes[16..16 + len];
    let crc = u32::from_le_bytes(bytes[16 + len..20 + len].try_into().unwrap_or_default());
    if crc32c::crc32c(body) != crc {
        return Err(corrupt(16, "checksum mismatch".into()));
    }
    Ok(body)
}

/// Lower-case hex, for byte strings inside JSON metadata.
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes bytes as a hex string.
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let mut out = String::with_capacity(v.len() * 2);
        for b in v {
            out.push_str(&format!("{b:02x}"));
        }
        s.serialize_str(&out)
    }

    /// Parses a hex string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        let digit = |c: u8| -> Result<u8, D::Error> {
            (c as char)
                .to_digit(16)
                .map(|v| v as u8)
                .ok_or_else(|| serde::de::Error::custom("bad hex digit"))
        };
        s.as_bytes()
            .chunks(2)
            .map(|pair| match pair {
                [hi, lo] => Ok(digit(*hi)? << 4 | digit(*lo)?),
                _ => Err(serde::de::Error::custom("odd-length hex string")),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_corruption() {
        let p = Path::new("x");
        let sealed = seal(7, 1, b"hello");
        assert_eq!(unseal(p, 7, 1, &sealed).unwrap(), b"hello");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x40;
            assert!(unseal(p, 7, 1, &bad).is_err(), "flip at {i} undetected");
        }
        assert!(unseal(p, 7, 1, &sealed[..sealed.len() - 1]).is_err());
    }

    #[test]
    fn write_atomic_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert!(!p.with_extension("tmp").exists());
    }
}
