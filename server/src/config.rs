//! The server's configuration: one TOML file plus `--set key=value` overrides, merged as a
//! `toml::Value` tree over the defaults, then split into the server's own `[server]` keys
//! ([`ServerSection`]) and the engine's sections ([`EngineOptions`]).
//!
//! The `[server]` table holds both: `memory_limit` belongs to the engine
//! (`EngineOptions.server`), every other key to [`ServerSection`]. Unknown keys are
//! rejected with their dotted name; [`ServerConfig::validate`] checks values and relations
//! (the engine's own `validate()` names its keys). Each key's origin (default, file,
//! `--set`) is kept in [`ServerConfig::sources`] for status pages.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use strata_storage::{ByteSize, EngineOptions};

/// Keys of the `[server]` table that belong to the engine, not to [`ServerSection`].
const ENGINE_SERVER_KEYS: &[&str] = &["memory_limit"];
/// Largest `server.max_inflight`.
pub const MAX_INFLIGHT_CEILING: usize = 65_536;
/// Largest `server.max_queue`.
pub const MAX_QUEUE_CEILING: usize = 1_000_000;
/// Bounds of `server.max_message_size`.
pub const MESSAGE_SIZE_RANGE: (u64, u64) = (64 * 1024, 1 << 30);

/// Which tokio runtime the binary runs the server on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeKind {
    /// Worker threads, one per core (tokio's default).
    #[default]
    MultiThread,
    /// One thread runs every task; engine calls still go to blocking threads. Measured
    /// at half the server CPU per RPC of `multi_thread` on 2 cores (BENCHMARKS-ANCHORS).
    CurrentThread,
}

/// The server's own keys of the `[server]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on; port 0 picks a free port (`hbase.regionserver.port`).
    pub listen: SocketAddr,
    /// Address clients are told to use (`RegionLocation.server`), e.g.
    /// `http://db1:16020`. Default: `http://` + the bound address.
    pub advertise: Option<String>,
    /// Directory of all data: `master/` and `tables/` (`hbase.rootdir`).
    pub root_dir: PathBuf,
    /// Requests executing at once (`hbase.regionserver.handler.count`).
    pub max_inflight: usize,
    /// Requests waiting for a slot beyond `max_inflight`
    /// (`hbase.ipc.server.max.callqueue.length`); past it requests fail at once.
    pub max_queue: usize,
    /// Longest a request waits in the queue before failing with RESOURCE_EXHAUSTED.
    #[serde(with = "humantime_serde")]
    pub queue_timeout: Duration,
    /// Largest gRPC message either way (`hbase.ipc.max.request.size`).
    pub max_message_size: ByteSize,
    /// Tokio runtime of the binary.
    pub runtime: RuntimeKind,
    /// How long a graceful shutdown waits for in-flight calls.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// HTTP status port: `/metrics`, status pages, `/status.json`
    /// (`hbase.regionserver.info.port`, `hbase.master.info.port`); port 0 picks one.
    pub status_listen: SocketAddr,
    /// Requests slower than this go to the slow-request log
    /// (`hbase.ipc.warn.response.time`).
    #[serde(with = "humantime_serde")]
    pub slow_request_threshold: Duration,
    /// Entries kept by the slow-request log, oldest dropped first; 0 turns it off
    /// (`hbase.regionserver.slowlog.ringbuffer.size`).
    pub slow_log_entries: usize,
    /// Period of the stats line in the log; 0 turns it off
    /// (`hbase.regionserver.statistics.period`-like: HBase's block cache line every 5 min).
    #[serde(with = "humantime_serde")]
    pub stats_interval: Duration,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: SocketAddr::from(([127, 0, 0, 1], 16020)),
            advertise: None,
            root_dir: PathBuf::from("./strata-data"),
            max_inflight: 256,
            max_queue: 1024,
            queue_timeout: Duration::from_millis(100),
            max_message_size: ByteSize::mib(64),
            runtime: RuntimeKind::MultiThread,
            shutdown_timeout: Duration::from_secs(30),
            status_listen: SocketAddr::from(([127, 0, 0, 1], 16030)),
            slow_request_threshold: Duration::from_millis(100),
            slow_log_entries: 256,
            stats_interval: Duration::from_secs(300),
        }
    }
}

/// The `[master]` table: membership, failover and balancing (cluster mode; standalone
/// mode reads `balance_interval` only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MasterSection {
    /// How often a region server heartbeats to the master
    /// (`hbase.regionserver.msginterval`).
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// A region server silent this long is dead and its regions are reassigned; it stops
    /// serving by itself once it has not reached the master for this long
    /// (`zookeeper.session.timeout`).
    #[serde(with = "humantime_serde")]
    pub server_timeout: Duration,
    /// How often the balancer evens region counts; 0 = only on demand
    /// (`hbase.balancer.period`).
    #[serde(with = "humantime_serde")]
    pub balance_interval: Duration,
}

impl Default for MasterSection {
    fn default() -> Self {
        MasterSection {
            heartbeat_interval: Duration::from_secs(1),
            server_timeout: Duration::from_secs(6),
            balance_interval: Duration::from_secs(300),
        }
    }
}

/// Where a key's value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigSource {
    /// The built-in default.
    Default,
    /// The configuration file.
    File,
    /// A `--set key=value` override (or a flag such as `--listen`).
    Set,
}

/// The whole configuration of a server process.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    /// `[server]` keys of the server itself.
    pub server: ServerSection,
    /// The engine's sections (`server.memory_limit`, `block_cache`, `memstore`, ...).
    pub engine: EngineOptions,
    /// `[master]` keys (cluster membership and balancing).
    pub master: MasterSection,
    /// Origin of every key that has a value, by dotted name.
    pub sources: BTreeMap<String, ConfigSource>,
}

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Default for ServerConfig {
    fn default() -> Self {
        let mut c = ServerConfig {
            server: ServerSection::default(),
            engine: EngineOptions::default(),
            master: MasterSection::default(),
            sources: BTreeMap::new(),
        };
        if let Ok(tree) = c.to_value() {
            for key in leaf_keys(&tree) {
                c.sources.insert(key, ConfigSource::Default);
            }
        }
        c
    }
}

impl ServerConfig {
    /// Small settings for tests: `root_dir`, a free loopback port, the engine's test
    /// options (tiny flushes, no fsync).
    pub fn for_tests(root_dir: impl Into<PathBuf>) -> Self {
        let mut c = ServerConfig::default();
        c.server.root_dir = root_dir.into();
        c.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        c.server.status_listen = SocketAddr::from(([127, 0, 0, 1], 0));
        c.engine = EngineOptions::for_tests();
        c
    }

    /// Loads `file` (if any), applies `sets` (`"key=value"`, later ones win), checks
    /// every key and value.
    pub fn load(file: Option<&Path>, sets: &[String]) -> Result<Self, ConfigError> {
        let text = match file {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
                ConfigError(format!("cannot read config file {}: {e}", p.display()))
            })?),
            None => None,
        };
        Self::from_parts(text.as_deref(), sets)
    }

    /// Like [`load`](Self::load) with the file's text given directly.
    pub fn from_parts(file_text: Option<&str>, sets: &[String]) -> Result<Self, ConfigError> {
        let defaults = ServerConfig::default();
        let mut tree = defaults.to_value()?;
        let mut sources = defaults.sources;
        if let Some(text) = file_text {
            let file: toml::Table = toml::from_str(text)
                .map_err(|e| ConfigError(format!("config file is not valid TOML: {e}")))?;
            let file = toml::Value::Table(file);
            for key in leaf_keys(&file) {
                sources.insert(key, ConfigSource::File);
            }
            merge(&mut tree, file);
        }
        for set in sets {
            let (key, value) = parse_set(set)?;
            set_path(&mut tree, &key, value)?;
            sources.insert(key, ConfigSource::Set);
        }
        let mut config = Self::from_value(tree)?;
        config.sources = sources;
        config.validate()?;
        Ok(config)
    }

    /// Checks the server keys and the engine options; the message names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        let bad = |m: String| Err(ConfigError(m));
        if s.max_inflight == 0 || s.max_inflight > MAX_INFLIGHT_CEILING {
            return bad(format!(
                "server.max_inflight must be in 1..={MAX_INFLIGHT_CEILING}, got {}",
                s.max_inflight
            ));
        }
        if s.max_queue > MAX_QUEUE_CEILING {
            return bad(format!(
                "server.max_queue must be <= {MAX_QUEUE_CEILING}, got {}",
                s.max_queue
            ));
        }
        if s.queue_timeout > Duration::from_secs(60) {
            return bad(format!(
                "server.queue_timeout must be <= 60s, got {:?}",
                s.queue_timeout
            ));
        }
        let (lo, hi) = MESSAGE_SIZE_RANGE;
        if !(lo..=hi).contains(&s.max_message_size.0) {
            return bad(format!(
                "server.max_message_size must be in {}..={}, got {}",
                ByteSize(lo),
                ByteSize(hi),
                s.max_message_size
            ));
        }
        if s.slow_log_entries > crate::slowlog::MAX_ENTRIES_CEILING {
            return bad(format!(
                "server.slow_log_entries must be <= {}, got {}",
                crate::slowlog::MAX_ENTRIES_CEILING,
                s.slow_log_entries
            ));
        }
        if !s.stats_interval.is_zero() && s.stats_interval < Duration::from_secs(1) {
            return bad(format!(
                "server.stats_interval must be 0 (off) or >= 1s, got {:?}",
                s.stats_interval
            ));
        }
        if s.status_listen.port() != 0 && s.status_listen == s.listen {
            return bad(format!(
                "server.status_listen must differ from server.listen ({})",
                s.listen
            ));
        }
        if s.root_dir.as_os_str().is_empty() {
            return bad("server.root_dir must not be empty".into());
        }
        if let Some(a) = &s.advertise
            && !(a.starts_with("http://") || a.starts_with("https://"))
        {
            return bad(format!(
                "server.advertise must be a URL such as http://host:16020, got {a:?}"
            ));
        }
        self.master.validate().map_err(ConfigError)?;
        self.engine
            .validate()
            .map_err(|e| ConfigError(e.to_string()))
    }

    /// True if `key` was given in the file or by `--set` (not left at its default).
    pub fn is_set(&self, key: &str) -> bool {
        matches!(
            self.sources.get(key),
            Some(ConfigSource::File | ConfigSource::Set)
        )
    }

    /// The configuration as one TOML tree (the `[server]` table merged).
    pub fn to_value(&self) -> Result<toml::Value, ConfigError> {
        let enc = |e: toml::ser::Error| ConfigError(format!("cannot encode config: {e}"));
        let mut engine = toml::Value::try_from(&self.engine).map_err(enc)?;
        let server = toml::Value::try_from(&self.server).map_err(enc)?;
        let master = toml::Value::try_from(&self.master).map_err(enc)?;
        merge(
            &mut engine,
            toml::Value::Table(toml::Table::from_iter([
                ("server".to_string(), server),
                ("master".to_string(), master),
            ])),
        );
        Ok(engine)
    }

    fn from_value(tree: toml::Value) -> Result<Self, ConfigError> {
        check_known_keys(&tree)?;
        let toml::Value::Table(mut root) = tree else {
            return Err(ConfigError("config must be a table".into()));
        };
        let mut server = match root.remove("server") {
            Some(toml::Value::Table(t)) => t,
            Some(_) => return Err(ConfigError("[server] must be a table".into())),
            None => toml::Table::new(),
        };
        let master: MasterSection = match root.remove("master") {
            Some(v @ toml::Value::Table(_)) => v
                .try_into()
                .map_err(|e| ConfigError(format!("[master]: {e}")))?,
            Some(_) => return Err(ConfigError("[master] must be a table".into())),
            None => MasterSection::default(),
        };
        let mut engine_server = toml::Table::new();
        for k in ENGINE_SERVER_KEYS {
            if let Some(v) = server.remove(*k) {
                engine_server.insert((*k).to_string(), v);
            }
        }
        root.insert("server".into(), toml::Value::Table(engine_server));
        let section: ServerSection = toml::Value::Table(server)
            .try_into()
            .map_err(|e| ConfigError(format!("[server]: {e}")))?;
        let engine: EngineOptions = toml::Value::Table(root)
            .try_into()
            .map_err(|e| ConfigError(format!("engine options: {e}")))?;
        Ok(ServerConfig {
            server: section,
            engine,
            master,
            sources: BTreeMap::new(),
        })
    }
}

/// Every key the configuration knows, as dotted names: the defaults' keys plus the
/// optional ones that are absent by default.
fn known_keys() -> Vec<String> {
    let mut full = ServerConfig::default();
    full.server.advertise = Some("http://x".into());
    full.engine.memstore.global_high = Some(ByteSize(1));
    full.engine.memstore.global_low = Some(ByteSize(1));
    full.engine.compaction.offpeak_hours = Some("1-5".into());
    full.to_value().map(|v| leaf_keys(&v)).unwrap_or_default()
}

fn check_known_keys(tree: &toml::Value) -> Result<(), ConfigError> {
    let known = known_keys();
    for key in leaf_keys(tree) {
        if !known.contains(&key) {
            let section = key.split('.').next().unwrap_or_default();
            let mut close: Vec<&str> = known
                .iter()
                .filter(|k| k.starts_with(section) && k.contains('.'))
                .map(String::as_str)
                .collect();
            close.truncate(16);
            let hint = if close.is_empty() {
                String::new()
            } else {
                format!(" (known keys here: {})", close.join(", "))
            };
            return Err(ConfigError(format!(
                "unknown configuration key {key}{hint}"
            )));
        }
    }
    Ok(())
}

/// Dotted names of every non-table value in `v`.
fn leaf_keys(v: &toml::Value) -> Vec<String> {
    fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out);
    out
}

/// Overlays `top` onto `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut toml::Value, top: toml::Value) {
    match (base, top) {
        (toml::Value::Table(b), toml::Value::Table(t)) => {
            for (k, v) in t {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, t) => *b = t,
    }
}

/// Splits `key=value`; the value is read as a TOML value (`64`, `true`, `"x"`) and
/// otherwise taken as a plain string (`64MiB`, `127.0.0.1:0`, `100ms`).
fn parse_set(set: &str) -> Result<(String, toml::Value), ConfigError> {
    let (key, raw) = set.split_once('=').ok_or_else(|| {
        ConfigError(format!(
            "--set {set:?}: expected key=value, e.g. memstore.flush_size=64MiB"
        ))
    })?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(ConfigError(format!("--set {set:?}: bad key {key:?}")));
    }
    let raw = raw.trim();
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    Ok((key.to_string(), value))
}

fn set_path(tree: &mut toml::Value, key: &str, value: toml::Value) -> Result<(), ConfigError> {
    let mut node = tree;
    let parts: Vec<&str> = key.split('.').collect();
    let (last, parents) = parts
        .split_last()
        .ok_or_else(|| ConfigError(format!("bad key {key:?}")))?;
    for p in parents {
        let toml::Value::Table(t) = node else {
            return Err(ConfigError(format!("{key}: {p} is not a table")));
        };
        node = t
            .entry((*p).to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    }
    let toml::Value::Table(t) = node else {
        return Err(ConfigError(format!("{key}: parent is not a table")));
    };
    t.insert((*last).to_string(), value);
    Ok(())
}

mod master;

#[cfg(test)]
mod tests;
