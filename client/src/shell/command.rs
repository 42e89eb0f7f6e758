//! From a parsed [`Statement`] to a typed [`Command`] holding the client's own builders,
//! with usage errors that name the argument and show the usage line.

use std::time::Duration;

use bytes::Bytes;

use super::args::{Args, Options, column, parse_bool};
use super::parser::{Statement, Value};
use crate::admin::{BloomType, Compression, FamilyDescriptor, TableDescriptor};
use crate::{Delete, Get, Put, Scan};

/// A shell command, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `create`
    Create {
        /// Schema.
        descriptor: TableDescriptor,
        /// Split keys.
        splits: Vec<Bytes>,
    },
    /// `list`
    List {
        /// Optional name pattern.
        pattern: Option<String>,
    },
    /// `describe`
    Describe(String),
    /// `exists`
    Exists(String),
    /// `is_enabled`
    IsEnabled(String),
    /// `disable`
    Disable(String),
    /// `enable`
    Enable(String),
    /// `drop`
    Drop(String),
    /// `truncate`
    Truncate(String),
    /// `put`
    Put(String, Put),
    /// `get`
    Get(String, Get),
    /// `get_counter`
    GetCounter(String, Get, Bytes, Bytes),
    /// `scan`
    Scan(String, Scan),
    /// `count`
    Count(String, Scan),
    /// `delete` and `deleteall`
    Delete(String, Delete),
    /// `incr`
    Incr {
        /// Table.
        table: String,
        /// Row.
        row: Bytes,
        /// Family.
        family: Bytes,
        /// Qualifier.
        qualifier: Bytes,
        /// Amount added.
        delta: i64,
    },
    /// `flush`
    Flush(String),
    /// `compact`
    Compact(String),
    /// `major_compact`
    MajorCompact(String),
    /// `split 'table' [, 'row']` or `split 'region_id' [, 'row']`: a name that is a
    /// table splits the table, any other a region.
    Split(String, Option<Bytes>),
    /// `status`
    Status,
    /// `slowlog [limit]`: the region servers' slow-request logs (0 = all kept).
    SlowLog(u32),
    /// Cluster administration (`status 'detailed'`, `move`, `balance`, `assign`,
    /// `unassign`, `scan 'meta'`).
    Cluster(super::cluster::ClusterCommand),
    /// `help`
    Help(Option<String>),
    /// `exit`
    Exit,
}

/// A statement that is not a valid command; the message names the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Converts a statement into a command.
pub fn command(statement: Statement) -> Result<Command, UsageError> {
    let mut a = Args::new(&statement.name, statement.args)?;
    let cmd = match a.name() {
        "create" => create(&mut a)?,
        "list" => Command::List {
            pattern: a.opt_string("a table name pattern")?,
        },
        "describe" | "desc" => Command::Describe(a.table()?),
        "exists" => Command::Exists(a.table()?),
        "is_enabled" => Command::IsEnabled(a.table()?),
        "disable" => Command::Disable(a.table()?),
        "enable" => Command::Enable(a.table()?),
        "drop" => Command::Drop(a.table()?),
        "truncate" => Command::Truncate(a.table()?),
        "put" => put(&mut a)?,
        "get" => get(&mut a)?,
        "get_counter" => {
            let (table, row) = (a.table()?, a.bytes("a row key")?);
            let (family, qualifier) = a.column()?;
            let get = Get::new(row).column(family.clone(), qualifier.clone());
            Command::GetCounter(table, get, family, qualifier)
        }
        "scan" => {
            let table = a.table()?;
            if super::cluster::is_meta(table.as_bytes()) {
                a.skip_rest();
                Command::Cluster(super::cluster::ClusterCommand::Meta(None))
            } else {
                Command::Scan(table, scan(a.options()?)?)
            }
        }
        "move" | "assign" | "unassign" | "balance" | "balancer" | "list_regions" => {
            Command::Cluster(super::cluster::parse(&mut a)?)
        }
        "count" => count(&mut a)?,
        "delete" => delete(&mut a)?,
        "deleteall" => deleteall(&mut a)?,
        "incr" => incr(&mut a)?,
        "flush" => Command::Flush(a.table()?),
        "compact" => Command::Compact(a.table()?),
        "major_compact" => Command::MajorCompact(a.table()?),
        "split" => Command::Split(a.table()?, a.opt_bytes("a split row")?),
        "status" => match a.opt_string("'simple' or 'detailed'")?.as_deref() {
            Some("detailed") => Command::Cluster(super::cluster::ClusterCommand::StatusDetailed),
            _ => {
                a.skip_rest();
                Command::Status
            }
        },
        "slowlog" => {
            let limit = a.opt_int("an entry count")?.unwrap_or(20);
            let max = i64::from(crate::admin::MAX_SLOW_LOG_LIMIT);
            if !(0..=max).contains(&limit) {
                return Err(a.error(format!(
                    "the entry count must be in 0..={max} (0 = all kept), got {limit}"
                )));
            }
            Command::SlowLog(u32::try_from(limit).unwrap_or(0))
        }
        "help" => Command::Help(a.opt_string("a command name")?),
        "exit" | "quit" => Command::Exit,
        _ => unreachable!("Args::new accepts known commands only"),
    };
    a.finish()?;
    Ok(cmd)
}

fn create(a: &mut Args) -> Result<Command, UsageError> {
    let mut descriptor = TableDescriptor::new(a.table()?);
    let mut splits = Vec::new();
    while let Some(v) = a.next_value() {
        match v {
            Value::Str(name) => {
                descriptor = descriptor.family(FamilyDescriptor::new(a.utf8(&name)?))
            }
            Value::Hash(pairs) if pairs.iter().any(|(k, _)| k == "NAME") => {
                descriptor = descriptor.family(family(a.options_of(pairs))?);
            }
            Value::Hash(pairs) => {
                let mut o = a.options_of(pairs);
                if let Some(keys) = o.take("SPLITS") {
                    splits = o.bytes_list("SPLITS", keys)?;
                }
                let regions = o
                    .take("NUMREGIONS")
                    .map(|v| o.u32("NUMREGIONS", v))
                    .transpose()?;
                let algo = o
                    .take("SPLITALGO")
                    .map(|v| o.string("SPLITALGO", v))
                    .transpose()?;
                match (regions, algo) {
                    (Some(n), Some(algo)) => {
                        let algo = crate::admin::SplitAlgorithm::parse(&algo)
                            .map_err(|e| a.error(e.to_string()))?;
                        splits = algo.split_keys(n).map_err(|e| a.error(e.to_string()))?;
                    }
                    (None, None) => {}
                    _ => return Err(a.error("NUMREGIONS and SPLITALGO go together")),
                }
                o.finish(&["SPLITS", "NUMREGIONS", "SPLITALGO"])?;
            }
            other => return Err(a.wrong("a family name or {NAME => ...}", &other)),
        }
    }
    if descriptor.families.is_empty() {
        return Err(a.error("at least one column family is needed"));
    }
    Ok(Command::Create { descriptor, splits })
}

fn family(mut o: Options) -> Result<FamilyDescriptor, UsageError> {
    let name = o
        .take("NAME")
        .map(|v| o.string("NAME", v))
        .transpose()?
        .unwrap_or_default();
    let mut f = FamilyDescriptor::new(name);
    if let Some(v) = o.take("VERSIONS") {
        f = f.max_versions(o.u32("VERSIONS", v)?);
    }
    if let Some(v) = o.take("MIN_VERSIONS") {
        f = f.min_versions(o.u32("MIN_VERSIONS", v)?);
    }
    if let Some(v) = o.take("TTL") {
        let forever = matches!(&v, Value::Str(s) if s.eq_ignore_ascii_case(b"FOREVER"))
            || matches!(&v, Value::Ident(s) if s.eq_ignore_ascii_case("FOREVER"));
        if !forever {
            f = f.ttl(Duration::from_secs(o.u64("TTL", v)?));
        }
    }
    if let Some(v) = o.take("BLOOMFILTER") {
        f = f.bloom(
            match o.string("BLOOMFILTER", v)?.to_ascii_uppercase().as_str() {
                "NONE" => BloomType::None,
                "ROW" => BloomType::Row,
                "ROWCOL" => BloomType::RowCol,
                other => {
                    return Err(
                        o.error(format!("BLOOMFILTER is NONE, ROW or ROWCOL, not {other:?}"))
                    );
                }
            },
        );
    }
    if let Some(v) = o.take("COMPRESSION") {
        f = f.compression(
            match o.string("COMPRESSION", v)?.to_ascii_uppercase().as_str() {
                "NONE" => Compression::None,
                "LZ4" => Compression::Lz4,
                other => return Err(o.error(format!("COMPRESSION is NONE or LZ4, not {other:?}"))),
            },
        );
    }
    if let Some(v) = o.take("BLOCKSIZE") {
        f = f.block_size(o.u32("BLOCKSIZE", v)?);
    }
    if let Some(v) = o.take("IN_MEMORY") {
        f = f.in_memory(parse_bool(&v).ok_or_else(|| o.error("IN_MEMORY is true or false"))?);
    }
    if let Some(v) = o.take("PREFETCH_BLOCKS_ON_OPEN") {
        let prefetch =
            parse_bool(&v).ok_or_else(|| o.error("PREFETCH_BLOCKS_ON_OPEN is true or false"))?;
        f = f.prefetch_blocks_on_open(prefetch);
    }
    o.finish(&[
        "NAME",
        "VERSIONS",
        "MIN_VERSIONS",
        "TTL",
        "BLOOMFILTER",
        "COMPRESSION",
        "BLOCKSIZE",
        "IN_MEMORY",
        "PREFETCH_BLOCKS_ON_OPEN",
    ])?;
    Ok(f)
}

fn put(a: &mut Args) -> Result<Command, UsageError> {
    let (table, row) = (a.table()?, a.bytes("a row key")?);
    let (family, qualifier) = a.column()?;
    let value = a.bytes("a value")?;
    let put = match a.opt_int("a timestamp")? {
        Some(ts) => Put::new(row).add_at(family, qualifier, a.timestamp(ts)?, value),
        None => Put::new(row).add(family, qualifier, value),
    };
    Ok(Command::Put(table, put))
}

fn get(a: &mut Args) -> Result<Command, UsageError> {
    let (table, row) = (a.table()?, a.bytes("a row key")?);
    let mut get = Get::new(row);
    while let Some(v) = a.next_value() {
        match v {
            Value::Hash(pairs) => {
                let mut o = a.options_of(pairs);
                for (f, q) in columns_option(&mut o)? {
                    get = add_column(get, f, q, Get::family, Get::column);
                }
                if let Some(v) = o.take("VERSIONS") {
                    get = get.versions(o.u32("VERSIONS", v)?);
                }
                if let Some(v) = o.take("TIMESTAMP") {
                    get = get.timestamp(o.u64("TIMESTAMP", v)?);
                }
                if let Some(v) = o.take("TIMERANGE") {
                    let (min, max) = o.range("TIMERANGE", v)?;
                    get = get.time_range(min, max);
                }
                o.finish(&["COLUMN", "COLUMNS", "VERSIONS", "TIMESTAMP", "TIMERANGE"])?;
            }
            other => {
                for c in a.column_list(other)? {
                    let (f, q) = column(&c);
                    get = add_column(get, f, q, Get::family, Get::column);
                }
            }
        }
    }
    Ok(Command::Get(table, get))
}

/// `COLUMN => 'f:q'` or `COLUMNS => ['f:q', 'g']` as (family, optional qualifier).
fn columns_option(o: &mut Options) -> Result<Vec<(Bytes, Option<Bytes>)>, UsageError> {
    let mut out = Vec::new();
    for key in ["COLUMN", "COLUMNS"] {
        if let Some(v) = o.take(key) {
            for c in o.bytes_list(key, v)? {
                out.push(column(&c));
            }
        }
    }
    Ok(out)
}

fn add_column<T>(
    target: T,
    family: Bytes,
    qualifier: Option<Bytes>,
    whole: fn(T, Bytes) -> T,
    one: fn(T, Bytes, Bytes) -> T,
) -> T {
    match qualifier {
        Some(q) => one(target, family, q),
        None => whole(target, family),
    }
}

/// The options of `scan` (and the subset `count` takes).
pub(crate) fn scan(o: Option<Options>) -> Result<Scan, UsageError> {
    let mut scan = Scan::new();
    let Some(mut o) = o else { return Ok(scan) };
    if let Some(v) = o.take("ROWPREFIXFILTER") {
        scan = scan.prefix(o.bytes("ROWPREFIXFILTER", v)?);
    }
    for key in ["STARTROW", "STOPROW", "ENDROW"] {
        if let Some(v) = o.take(key) {
            let row = o.bytes(key, v)?;
            scan = if key == "STARTROW" {
                scan.start(row)
            } else {
                scan.stop(row)
            };
        }
    }
    for (f, q) in columns_option(&mut o)? {
        scan = add_column(scan, f, q, Scan::family, Scan::column);
    }
    if let Some(v) = o.take("LIMIT") {
        scan = scan.limit(o.u64("LIMIT", v)?);
    }
    if let Some(v) = o.take("VERSIONS") {
        scan = scan.versions(o.u32("VERSIONS", v)?);
    }
    if let Some(v) = o.take("TIMERANGE") {
        let (min, max) = o.range("TIMERANGE", v)?;
        scan = scan.time_range(min, max);
    }
    if let Some(v) = o.take("CACHE") {
        scan = scan.batch_rows(o.u32("CACHE", v)?);
    }
    if let Some(v) = o.take("CACHE_BLOCKS") {
        scan = scan
            .cache_blocks(parse_bool(&v).ok_or_else(|| o.error("CACHE_BLOCKS is true or false"))?);
    }
    if o.take("FILTER").is_some() {
        return Err(o.error(
            "FILTER strings are not supported by this shell; use ROWPREFIXFILTER, COLUMNS or \
             the Rust client's Filter",
        ));
    }
    o.finish(&[
        "STARTROW",
        "STOPROW",
        "ENDROW",
        "ROWPREFIXFILTER",
        "COLUMN",
        "COLUMNS",
        "LIMIT",
        "VERSIONS",
        "TIMERANGE",
        "CACHE",
        "CACHE_BLOCKS",
    ])?;
    Ok(scan)
}

fn count(a: &mut Args) -> Result<Command, UsageError> {
    let table = a.table()?;
    let mut o = a.options()?;
    if let Some(o) = &mut o {
        o.take("INTERVAL"); // progress lines every N rows in HBase; not printed here
        o.check_only(&[
            "STARTROW",
            "STOPROW",
            "ENDROW",
            "ROWPREFIXFILTER",
            "CACHE",
            "INTERVAL",
        ])?;
    }
    Ok(Command::Count(table, scan(o)?))
}

fn incr(a: &mut Args) -> Result<Command, UsageError> {
    let (table, row) = (a.table()?, a.bytes("a row key")?);
    let (family, qualifier) = a.column()?;
    let delta = a.opt_int("a delta")?.unwrap_or(1);
    Ok(Command::Incr {
        table,
        row,
        family,
        qualifier,
        delta,
    })
}

fn delete(a: &mut Args) -> Result<Command, UsageError> {
    let (table, row) = (a.table()?, a.bytes("a row key")?);
    let c = a.bytes("a column 'family:qualifier'")?;
    let ts = a
        .opt_int("a timestamp")?
        .map(|t| a.timestamp(t))
        .transpose()?;
    Ok(Command::Delete(
        table,
        column_delete(Delete::new(row), &c, ts),
    ))
}

fn deleteall(a: &mut Args) -> Result<Command, UsageError> {
    let (table, row) = (a.table()?, a.bytes("a row key")?);
    let c = a.opt_bytes("a column 'family:qualifier'")?;
    let ts = a
        .opt_int("a timestamp")?
        .map(|t| a.timestamp(t))
        .transpose()?;
    let delete = match (c, ts) {
        (Some(c), ts) => column_delete(Delete::new(row), &c, ts),
        (None, Some(ts)) => Delete::new(row).timestamp(ts),
        (None, None) => Delete::new(row),
    };
    Ok(Command::Delete(table, delete))
}

/// Every version of a column (or a family) at or before `ts`, as HBase's shell deletes.
fn column_delete(d: Delete, c: &Bytes, ts: Option<u64>) -> Delete {
    match (column(c), ts) {
        ((f, Some(q)), Some(ts)) => d.columns_up_to(f, q, ts),
        ((f, Some(q)), None) => d.columns(f, q),
        ((f, None), Some(ts)) => d.family_up_to(f, ts),
        ((f, None), None) => d.family(f),
    }
}

#[cfg(test)]
#[path = "command/tests.rs"]
mod tests;
