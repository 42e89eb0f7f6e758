//! YCSB-style properties: the built-in core workloads `a`..`f` (the same keys and values
//! as YCSB's `workloads/workload[a-f]` files), `-P file` (Java `.properties` syntax:
//! `key=value` or `key: value`, `#`/`!` comments) and `-p key=value` overrides, applied
//! in that order, later wins.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, anyhow, bail};

const WORKLOAD_A: &str = "
# Update heavy: 50/50 reads and updates (session store recording recent actions).
recordcount=1000
operationcount=1000
readallfields=true
readproportion=0.5
updateproportion=0.5
scanproportion=0
insertproportion=0
requestdistribution=zipfian
";

const WORKLOAD_B: &str = "
# Read mostly: 95/5 reads and updates (photo tagging).
recordcount=1000
operationcount=1000
readallfields=true
readproportion=0.95
updateproportion=0.05
scanproportion=0
insertproportion=0
requestdistribution=zipfian
";

const WORKLOAD_C: &str = "
# Read only (user profile cache).
recordcount=1000
operationcount=1000
readallfields=true
readproportion=1
updateproportion=0
scanproportion=0
insertproportion=0
requestdistribution=zipfian
";

const WORKLOAD_D: &str = "
# Read latest: 95% reads of recently inserted records, 5% inserts (status updates).
recordcount=1000
operationcount=1000
readallfields=true
readproportion=0.95
updateproportion=0
scanproportion=0
insertproportion=0.05
requestdistribution=latest
";

const WORKLOAD_E: &str = "
# Short ranges: 95% scans of up to 100 records, 5% inserts (threaded conversations).
recordcount=1000
operationcount=1000
readallfields=true
readproportion=0
updateproportion=0
scanproportion=0.95
insertproportion=0.05
requestdistribution=zipfian
maxscanlength=100
scanlengthdistribution=uniform
";

const WORKLOAD_F: &str = "
# Read-modify-write: 50% reads, 50% read-modify-writes (user database).
recordcount=1000
operationcount=1000
readallfields=true
readproportion=0.5
updateproportion=0
scanproportion=0
insertproportion=0
readmodifywriteproportion=0.5
requestdistribution=zipfian
";

/// The text of built-in workload `name` (`a`..`f`, or `workloada`..`workloadf`).
pub fn builtin(name: &str) -> Option<&'static str> {
    let short = name.strip_prefix("workload").unwrap_or(name);
    match short.to_ascii_lowercase().as_str() {
        "a" => Some(WORKLOAD_A),
        "b" => Some(WORKLOAD_B),
        "c" => Some(WORKLOAD_C),
        "d" => Some(WORKLOAD_D),
        "e" => Some(WORKLOAD_E),
        "f" => Some(WORKLOAD_F),
        _ => None,
    }
}

/// A set of properties, later settings overriding earlier ones.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Properties(BTreeMap<String, String>);

impl Properties {
    /// Empty.
    pub fn new() -> Properties {
        Properties::default()
    }

    /// Built-in workload `name`.
    pub fn workload(name: &str) -> anyhow::Result<Properties> {
        let text = builtin(name)
            .ok_or_else(|| anyhow!("unknown workload {name:?}: use a, b, c, d, e or f"))?;
        let mut p = Properties::new();
        p.merge_text(text, &format!("workload {name}"))?;
        Ok(p)
    }

    /// Adds the properties of a file.
    pub fn merge_file(&mut self, path: &Path) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read properties file {}", path.display()))?;
        self.merge_text(&text, &path.display().to_string())
    }

    /// Adds the properties in `text` (`origin` names it in errors).
    pub fn merge_text(&mut self, text: &str, origin: &str) -> anyhow::Result<()> {
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let split = line
                .find(['=', ':'])
                .ok_or_else(|| anyhow!("{origin} line {}: expected key=value: {raw:?}", i + 1))?;
            let (key, value) = (line[..split].trim(), line[split + 1..].trim());
            if key.is_empty() {
                bail!("{origin} line {}: empty key: {raw:?}", i + 1);
            }
            self.set(key, value);
        }
        Ok(())
    }

    /// Adds one `key=value` setting (`-p`).
    pub fn merge_setting(&mut self, setting: &str) -> anyhow::Result<()> {
        let (key, value) = setting
            .split_once('=')
            .ok_or_else(|| anyhow!("-p {setting:?}: expected key=value"))?;
        if key.trim().is_empty() {
            bail!("-p {setting:?}: empty key");
        }
        self.set(key.trim(), value.trim());
        Ok(())
    }

    /// Sets `key` to `value`.
    pub fn set(&mut self, key: &str, value: &str) {
        self.0.insert(key.to_string(), value.to_string());
    }

    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// `key` as a string, or `default`.
    pub fn string(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or(default).to_string()
    }

    /// `key` parsed as a `T`, or `default`; a value that does not parse is an error
    /// naming the key.
    pub fn parse<T: std::str::FromStr>(&self, key: &str, default: T) -> anyhow::Result<T>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|e| anyhow!("property {key}={v:?} is not valid: {e}")),
        }
    }

    /// All settings, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_match_the_core_workloads() {
        let a = Properties::workload("a").unwrap();
        assert_eq!(a.get("readproportion"), Some("0.5"));
        assert_eq!(a.get("requestdistribution"), Some("zipfian"));
        let d = Properties::workload("workloadd").unwrap();
        assert_eq!(d.get("requestdistribution"), Some("latest"));
        let e = Properties::workload("E").unwrap();
        assert_eq!(e.get("maxscanlength"), Some("100"));
        let f = Properties::workload("f").unwrap();
        assert_eq!(f.get("readmodifywriteproportion"), Some("0.5"));
        assert!(Properties::workload("g").is_err());
    }

    #[test]
    fn files_then_settings_override() {
        let mut p = Properties::workload("a").unwrap();
        p.merge_text("# comment\n! also\nrecordcount : 50\n\nfieldcount=3\n", "t")
            .unwrap();
        p.merge_setting("recordcount=70").unwrap();
        assert_eq!(p.parse::<u64>("recordcount", 0).unwrap(), 70);
        assert_eq!(p.parse::<u64>("fieldcount", 10).unwrap(), 3);
        assert!(p.merge_text("novalue\n", "t").is_err());
        assert!(p.merge_setting("x").is_err());
        p.set("fieldlength", "ten");
        let err = p.parse::<u64>("fieldlength", 100).unwrap_err().to_string();
        assert!(err.contains("fieldlength"), "{err}");
    }
}
