//! The shell's cluster commands: `status 'detailed'`, `move`, `balance` (alias
//! `balancer`), `assign`, `unassign`, and the meta listing (`scan 'meta'`, also
//! `scan 'hbase:meta'` and `list_regions ['table']`).
//!
//! A region is named by its id (as `scan 'meta'` shows it), or as `'table,region-id'`
//! when the id alone is ambiguous across tables.

use std::io::Write;

use serde_json::json;

use super::args::Args;
use super::command::UsageError;
use super::exec::ShellError;
use super::output::Printer;
use crate::Error;
use crate::admin::Admin;
use crate::location::RegionInfo;

/// A cluster command, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterCommand {
    /// `status 'detailed'`
    StatusDetailed,
    /// `scan 'meta'` / `list_regions ['table']`
    Meta(Option<String>),
    /// `move 'region'[, 'server']`
    Move(String, Option<String>),
    /// `assign 'region'`
    Assign(String),
    /// `unassign 'region'`
    Unassign(String),
    /// `balance`
    Balance,
}

/// Names of the meta table the shell accepts in `scan`.
pub fn is_meta(table: &[u8]) -> bool {
    table == b"meta" || table == b"hbase:meta"
}

/// Parses the cluster command `name` (already known to be one).
pub(crate) fn parse(a: &mut Args) -> Result<ClusterCommand, UsageError> {
    Ok(match a.name() {
        "move" => {
            let region = a
                .opt_string("a region")?
                .ok_or_else(|| a.error("missing a region"))?;
            ClusterCommand::Move(region, a.opt_string("a server URL")?)
        }
        "assign" => ClusterCommand::Assign(
            a.opt_string("a region")?
                .ok_or_else(|| a.error("missing a region"))?,
        ),
        "unassign" => {
            let region = a
                .opt_string("a region")?
                .ok_or_else(|| a.error("missing a region"))?;
            a.skip_rest(); // HBase's optional 'force' flag: closing is always clean here
            ClusterCommand::Unassign(region)
        }
        "balance" | "balancer" => ClusterCommand::Balance,
        "list_regions" => ClusterCommand::Meta(a.opt_string("a table name")?),
        other => return Err(a.error(format!("{other} is not a cluster command"))),
    })
}

/// Finds the table of `region` (`id` or `table,id`) in the meta listing.
async fn resolve(admin: &Admin, region: &str) -> Result<(String, String), Error> {
    if let Some((table, id)) = region.split_once(',') {
        return Ok((table.to_string(), id.to_string()));
    }
    let all = admin.list_regions("").await?;
    let found: Vec<&RegionInfo> = all.iter().filter(|r| r.region_id == region).collect();
    match found.as_slice() {
        [one] => Ok((one.table.clone(), one.region_id.clone())),
        [] => Err(Error::NotFound(format!(
            "no region {region:?}; see scan 'meta' for the region ids"
        ))),
        _ => Err(Error::InvalidArgument(format!(
            "region id {region:?} is in several tables: name it as 'table,{region}'"
        ))),
    }
}

fn bound(b: &[u8], unbounded: &str) -> String {
    if b.is_empty() {
        unbounded.to_string()
    } else {
        String::from_utf8_lossy(b).into_owned()
    }
}

/// Runs a cluster command.
pub(crate) async fn run<W: Write>(
    admin: &Admin,
    cmd: ClusterCommand,
    p: &mut Printer<W>,
) -> Result<(), ShellError> {
    match cmd {
        ClusterCommand::StatusDetailed => {
            let d = admin.cluster_detail().await?;
            let mut text = format!(
                "{} live server(s), {} dead, {} table(s), {} region(s), {} in transition",
                d.servers.len(),
                d.dead_servers.len(),
                d.tables,
                d.regions,
                d.regions_in_transition
            );
            for s in &d.servers {
                text.push_str(&format!(
                    "\n {}: regions={}, requests_per_second={:.1}, requests={}, memstore_bytes={}, \
                     block_cache_bytes={}, block_cache_hits={}, block_cache_misses={}, last_heartbeat_ms_ago={}",
                    s.address,
                    s.regions,
                    s.requests_per_second,
                    s.requests,
                    s.memstore_bytes,
                    s.block_cache_bytes,
                    s.block_cache_hits,
                    s.block_cache_misses,
                    s.ms_since_heartbeat
                ));
            }
            for dead in &d.dead_servers {
                text.push_str(&format!("\n dead: {dead}"));
            }
            let servers: Vec<_> = d
                .servers
                .iter()
                .map(|s| {
                    json!({"address": s.address, "regions": s.regions,
                           "requests_per_second": s.requests_per_second, "requests": s.requests,
                           "memstore_bytes": s.memstore_bytes, "block_cache_bytes": s.block_cache_bytes,
                           "block_cache_hits": s.block_cache_hits, "block_cache_misses": s.block_cache_misses,
                           "ms_since_heartbeat": s.ms_since_heartbeat})
                })
                .collect();
            let doc = json!({"servers": servers, "dead_servers": d.dead_servers, "tables": d.tables,
                             "regions": d.regions, "regions_in_transition": d.regions_in_transition});
            p.done(&text, doc)?;
        }
        ClusterCommand::Meta(table) => {
            let regions = admin.list_regions(table.as_deref().unwrap_or("")).await?;
            let mut text = String::new();
            for r in &regions {
                text.push_str(&format!(
                    "{},{} [{}, {}) server={} epoch={} state={}\n",
                    r.table,
                    r.region_id,
                    bound(&r.start_row, "-inf"),
                    bound(&r.end_row, "+inf"),
                    if r.server.is_empty() { "-" } else { &r.server },
                    r.epoch,
                    r.state
                ));
            }
            text.push_str(&format!("{} region(s)", regions.len()));
            let rows: Vec<_> = regions
                .iter()
                .map(|r| {
                    json!({"table": r.table, "region_id": r.region_id,
                           "start_row": String::from_utf8_lossy(&r.start_row),
                           "end_row": String::from_utf8_lossy(&r.end_row),
                           "server": r.server, "epoch": r.epoch, "state": r.state})
                })
                .collect();
            p.done(&text, json!({ "regions": rows }))?;
        }
        ClusterCommand::Move(region, server) => {
            let (table, id) = resolve(admin, &region).await?;
            let r = admin
                .move_region(&table, &id, server.as_deref().unwrap_or(""))
                .await?;
            p.done(
                &format!("Moved {table},{id} to {} (epoch {})", r.server, r.epoch),
                json!({"server": r.server, "epoch": r.epoch}),
            )?;
        }
        ClusterCommand::Assign(region) => {
            let (table, id) = resolve(admin, &region).await?;
            let r = admin.assign_region(&table, &id).await?;
            p.done(
                &format!("Assigned {table},{id} to {}", r.server),
                json!({"server": r.server, "epoch": r.epoch}),
            )?;
        }
        ClusterCommand::Unassign(region) => {
            let (table, id) = resolve(admin, &region).await?;
            admin.unassign_region(&table, &id).await?;
            p.done(&format!("Unassigned {table},{id}"), json!({"ok": true}))?;
        }
        ClusterCommand::Balance => {
            let moves = admin.balance().await?;
            p.done(
                &format!("Balancer moved {moves} region(s)"),
                json!({ "moves": moves }),
            )?;
        }
    }
    Ok(())
}
