//! Runs shell commands against a cluster through the client, printing with a
//! [`Printer`]. The connection is made on the first command that needs the cluster, so
//! `help` and syntax errors work with no server running, and a failed connection is tried
//! again by the next command.

use std::io::Write;
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;

use super::command::{Command, UsageError};
use super::help;
use super::output::Printer;
use super::parser::ParseError;
use crate::admin::Admin;
use crate::{Client, ClientConfig, Error, Scan};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// The input did not parse.
    #[error("{0}")]
    Syntax(ParseError),
    /// The command's arguments are wrong.
    #[error("{0}")]
    Usage(UsageError),
    /// The cluster refused or failed the command.
    #[error("{0}")]
    Client(#[from] Error),
    /// Printing failed (e.g. a closed pipe).
    #[error("output: {0}")]
    Io(#[from] std::io::Error),
    /// A failure already printed as part of the command's output.
    #[error("{0}")]
    Printed(Box<ShellError>),
}

impl ShellError {
    /// A short kind for `--json` error documents.
    pub fn kind(&self) -> &'static str {
        match self {
            ShellError::Syntax(_) => "syntax",
            ShellError::Usage(_) => "usage",
            ShellError::Io(_) => "io",
            ShellError::Printed(e) => e.kind(),
            ShellError::Client(e) => match e {
                Error::NotFound(_) => "not_found",
                Error::AlreadyExists(_) => "already_exists",
                Error::InvalidArgument(_) => "invalid_argument",
                Error::FailedPrecondition(_) => "failed_precondition",
                Error::NotServingRegion { .. } => "not_serving_region",
                Error::Busy(_) => "busy",
                Error::Unavailable(_) => "unavailable",
                Error::Transport { .. } => "transport",
                Error::Timeout { .. } => "timeout",
                _ => "internal",
            },
        }
    }
}

/// What the shell does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// Leave the shell.
    Exit,
}

/// A shell's connection to one cluster.
pub struct Session {
    master: String,
    config: ClientConfig,
    client: Option<Client>,
}

impl Session {
    /// A session with the master at `master`; nothing is connected yet.
    pub fn new(master: impl Into<String>, config: ClientConfig) -> Session {
        Session {
            master: master.into(),
            config,
            client: None,
        }
    }

    async fn client(&mut self) -> Result<Client, ShellError> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let c = Client::connect_with(&self.master, self.config.clone()).await?;
        self.client = Some(c.clone());
        Ok(c)
    }

    /// Runs one command, printing its result (errors are returned, not printed).
    pub async fn run<W: Write>(
        &mut self,
        cmd: Command,
        p: &mut Printer<W>,
    ) -> Result<Flow, ShellError> {
        let started = Instant::now();
        match cmd {
            Command::Help(topic) => {
                let text =
                    help::text(topic.as_deref()).map_err(|m| ShellError::Usage(UsageError(m)))?;
                p.help(&text)?;
                return Ok(Flow::Continue);
            }
            Command::Exit => return Ok(Flow::Exit),
            cmd => self.run_on_cluster(cmd, p).await?,
        }
        p.took(started.elapsed())?;
        Ok(Flow::Continue)
    }

    async fn run_on_cluster<W: Write>(
        &mut self,
        cmd: Command,
        p: &mut Printer<W>,
    ) -> Result<(), ShellError> {
        let client = self.client().await?;
        let admin = client.admin();
        match cmd {
            Command::Create { descriptor, splits } => {
                let name = descriptor.name.clone();
                let regions = admin.create_table(descriptor, splits).await?;
                let text = format!("Created table {name} with {} region(s)", regions.len());
                p.done(&text, json!({"created": name, "regions": regions.len()}))?;
            }
            Command::List { pattern } => {
                let mut names = admin.list_tables().await?;
                if let Some(pattern) = pattern {
                    names.retain(|n| wildcard_match(&pattern, n));
                }
                p.tables(&names)?;
            }
            Command::Describe(t) => p.describe(&admin.describe_table(&t).await?)?,
            Command::Exists(t) => {
                let exists = admin.table_exists(&t).await?;
                let text = format!(
                    "Table {t} {} exist",
                    if exists { "does" } else { "does not" }
                );
                p.done(&text, json!({ "exists": exists }))?;
            }
            Command::IsEnabled(t) => {
                let enabled = admin.describe_table(&t).await?.enabled;
                p.done(&enabled.to_string(), json!({ "enabled": enabled }))?;
            }
            Command::Disable(t) => {
                admin.disable_table(&t).await?;
                p.done(&format!("Disabled table {t}"), json!({"ok": true}))?;
            }
            Command::Enable(t) => {
                admin.enable_table(&t).await?;
                p.done(&format!("Enabled table {t}"), json!({"ok": true}))?;
            }
            Command::Drop(t) => {
                admin.delete_table(&t).await?;
                p.done(&format!("Dropped table {t}"), json!({"ok": true}))?;
            }
            Command::Truncate(t) => {
                let d = admin.describe_table(&t).await?;
                let splits: Vec<Bytes> = d
                    .regions
                    .iter()
                    .skip(1)
                    .map(|r| r.start_row.clone())
                    .collect();
                if d.enabled {
                    admin.disable_table(&t).await?;
                }
                admin.delete_table(&t).await?;
                admin.create_table(d.descriptor, splits).await?;
                p.done(&format!("Truncated table {t}"), json!({"ok": true}))?;
            }
            Command::Put(t, put) => {
                client.table(t).put(put).await?;
                p.done("", json!({"ok": true}))?;
            }
            Command::Get(t, get) => p.get(client.table(t).get(get).await?.as_ref())?,
            Command::GetCounter(t, get, family, qualifier) => {
                let row = client.table(t).get(get).await?;
                let value = row.as_ref().and_then(|r| r.value(&family, &qualifier));
                let counter = match value {
                    None => None,
                    Some(v) => Some(i64::from_be_bytes(v[..].try_into().map_err(|_| {
                        Error::InvalidArgument(format!(
                            "the value is {} bytes, not an 8-byte counter",
                            v.len()
                        ))
                    })?)),
                };
                p.counter(counter)?;
            }
            Command::Scan(t, scan) => scan_rows(&client, &t, scan, p).await?,
            Command::Count(t, scan) => p.count(client.table(t).count(scan).await?)?,
            Command::Delete(t, delete) => {
                client.table(t).delete(delete).await?;
                p.done("", json!({"ok": true}))?;
            }
            Command::Incr {
                table,
                row,
                family,
                qualifier,
                delta,
            } => {
                let value = client
                    .table(table)
                    .increment(row, family, qualifier, delta)
                    .await?;
                p.counter(Some(value))?;
            }
            Command::Flush(t) => {
                admin.flush(&t).await?;
                p.done(&format!("Flushed table {t}"), json!({"ok": true}))?;
            }
            Command::Compact(t) => compact(&admin, &t, false, p).await?,
            Command::MajorCompact(t) => compact(&admin, &t, true, p).await?,
            Command::Split(name, row) => split(&admin, &name, row, p).await?,
            Command::Status => p.status(&admin.status().await?)?,
            Command::SlowLog(limit) => p.slow_log(&admin.slow_log(limit).await?)?,
            Command::Cluster(c) => super::cluster::run(&admin, c, p).await?,
            Command::Help(_) | Command::Exit => {}
        }
        Ok(())
    }
}

/// Runs a (major) compaction of every region of `table`.
async fn compact<W: Write>(
    admin: &Admin,
    table: &str,
    major: bool,
    p: &mut Printer<W>,
) -> Result<(), ShellError> {
    let s = if major {
        admin.major_compact(table).await?
    } else {
        admin.compact(table).await?
    };
    let text = format!(
        "Compacted {} region(s) of table {table}: read {} bytes, wrote {} bytes",
        s.regions, s.bytes_read, s.bytes_written
    );
    let doc =
        json!({"regions": s.regions, "bytes_read": s.bytes_read, "bytes_written": s.bytes_written});
    Ok(p.done(&text, doc)?)
}

/// Splits a table or, if no table has that name, the region with that id.
async fn split<W: Write>(
    admin: &Admin,
    name: &str,
    row: Option<Bytes>,
    p: &mut Printer<W>,
) -> Result<(), ShellError> {
    let daughters = if admin.table_exists(name).await? {
        admin.split(name, row).await?
    } else {
        admin.split_region(name, row).await?
    };
    let show = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    let mut text = format!("Split into {} region(s):", daughters.len());
    for d in &daughters {
        text.push_str(&format!(
            "\n  {}/{} [{:?}, {:?})",
            d.table,
            d.region_id,
            show(&d.start_row),
            show(&d.end_row)
        ));
    }
    let doc: Vec<_> = daughters
        .iter()
        .map(|d| {
            json!({"table": d.table, "region_id": d.region_id,
                "start_row": show(&d.start_row), "end_row": show(&d.end_row)})
        })
        .collect();
    Ok(p.done(&text, json!({ "daughters": doc }))?)
}

/// Streams a scan to the printer as rows arrive.
async fn scan_rows<W: Write>(
    client: &Client,
    table: &str,
    scan: Scan,
    p: &mut Printer<W>,
) -> Result<(), ShellError> {
    let mut rows = std::pin::pin!(client.table(table).scan(scan));
    p.begin_scan()?;
    let mut count = 0;
    while let Some(row) = rows.next().await {
        match row {
            Ok(row) => {
                p.scan_row(&row, count)?;
                count += 1;
            }
            Err(e) => {
                let e = ShellError::Client(e);
                p.end_scan(count, Some((e.kind(), e.to_string())))?;
                if p.is_json() {
                    // The error went inside the scan's one document.
                    return Err(ShellError::Printed(Box::new(e)));
                }
                return Err(e);
            }
        }
    }
    p.end_scan(count, None)?;
    Ok(())
}

/// `list` patterns: HBase takes a regex; here `.*` and `*` are wildcards and the rest
/// matches literally.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let pattern = pattern.replace(".*", "*");
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}
