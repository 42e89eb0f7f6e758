//! The Strata side: the table, its preload, and the timed client calls.
//!
//! Table `rpcbench`, one region (no split keys), family `f` with the defaults (bloom
//! `row`, no compression, 64 KiB blocks), one cell `f:v` per row. [`preload`] writes
//! rows `0..rows` with 100-byte values in `batch` calls of 1,000 rows, four at a time
//! (`SkipWal`: the flush that follows makes them durable), flushes the table to an
//! SSTable, then reads every row back once with `multi_get` so the point reads that
//! follow are block-cache hits (512 MiB cache, ~15 MB of data).
//!
//! Timed calls ([`Workload`]), each through `strata_client::Table` (location cache,
//! retry loop and deadline included, as an application would call it):
//! - `get`: `Get::new(key)` of a uniformly random preloaded row; the row must be found
//!   with a 100-byte value.
//! - `multi_get`: 16 random rows in one `multi_get`, all found (one MultiGet RPC: one
//!   region, one server).
//! - `put_fsync` / `put_async`: a put of a 100-byte value to a random preloaded row with
//!   `Durability::FsyncWal` (acknowledged after the WAL is fsynced; concurrent writers
//!   share fsyncs through group commit) or `Durability::AsyncWal` (acknowledged once in
//!   the memstore; the WAL is synced every `wal.async_sync_interval`).

use std::sync::Arc;

use bytes::Bytes;
use futures::future::try_join_all;
use strata_client::admin::{FamilyDescriptor, TableDescriptor};
use strata_client::{Client, ClientConfig, Durability, Get, Put, Table};
use strata_storage::stats::StatsSnapshot;

use super::load::Op;
use super::{SplitMix64, VALUE_SIZE, key, value};

/// The benchmark table.
pub const TABLE: &str = "rpcbench";
/// Rows per MultiGet.
pub const MULTI_GET_ROWS: usize = 16;
const FAMILY: &str = "f";
const QUALIFIER: &str = "v";
const PRELOAD_BATCH: u64 = 1000;
const PRELOAD_PARALLEL: u64 = 4;

/// A timed Strata call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Point get.
    Get,
    /// MultiGet of [`MULTI_GET_ROWS`] rows.
    MultiGet,
    /// Put, fsync durability.
    PutFsync,
    /// Put, async durability.
    PutAsync,
}

impl Workload {
    /// Whether the call writes.
    pub fn is_write(self) -> bool {
        matches!(self, Workload::PutFsync | Workload::PutAsync)
    }

    /// Rows one call reads or writes.
    pub fn rows_per_call(self) -> u64 {
        match self {
            Workload::MultiGet => MULTI_GET_ROWS as u64,
            _ => 1,
        }
    }
}

/// Creates the table, writes `rows` rows, flushes and warms the block cache. Returns a
/// line describing the region afterwards.
pub async fn preload(client: &Client, rows: u64) -> anyhow::Result<String> {
    let admin = client.admin();
    let descriptor = TableDescriptor::new(TABLE).family(FamilyDescriptor::new(FAMILY));
    admin.create_table(descriptor, Vec::new()).await?;
    let table = client.table(TABLE);
    let chunks: Vec<u64> = (0..rows.div_ceil(PRELOAD_BATCH)).collect();
    for group in chunks.chunks(PRELOAD_PARALLEL as usize) {
        try_join_all(group.iter().map(|&c| {
            let table = table.clone();
            async move {
                let (lo, hi) = (c * PRELOAD_BATCH, ((c + 1) * PRELOAD_BATCH).min(rows));
                let puts: Vec<Put> = (lo..hi)
                    .map(|n| {
                        Put::new(key(n))
                            .add(FAMILY, QUALIFIER, value(n))
                            .durability(Durability::SkipWal)
                    })
                    .collect();
                for r in table.batch(puts).await {
                    r?;
                }
                anyhow::Ok(())
            }
        }))
        .await?;
    }
    admin.flush(TABLE).await?;
    for c in 0..rows.div_ceil(PRELOAD_BATCH) {
        let (lo, hi) = (c * PRELOAD_BATCH, ((c + 1) * PRELOAD_BATCH).min(rows));
        let gets = (lo..hi).map(|n| Get::new(key(n))).collect();
        let found = table.multi_get(gets).await?;
        anyhow::ensure!(
            found.iter().all(Option::is_some),
            "preloaded rows {lo}..{hi} not all found"
        );
    }
    let status = admin.server_status(client.master_address()).await?;
    let region = status
        .iter()
        .find(|r| r.table == TABLE)
        .ok_or_else(|| anyhow::anyhow!("region of {TABLE} not listed"))?;
    Ok(format!(
        "{rows} rows preloaded and flushed: {} store file(s), {} bytes on disk, {} bytes in memstore",
        region.store_files, region.store_file_bytes, region.memstore_bytes
    ))
}

/// `clients` independent clients of `url` (each with its own channel pool, so its own
/// HTTP/2 connection) with `config`, each with its location cache filled.
pub async fn connect(
    url: &str,
    clients: usize,
    config: &ClientConfig,
) -> anyhow::Result<Vec<Table>> {
    let mut tables = Vec::with_capacity(clients);
    for _ in 0..clients {
        let client = Client::connect_with(url, config.clone()).await?;
        let table = client.table(TABLE);
        table.get(Get::new(key(0))).await?;
        tables.push(table);
    }
    Ok(tables)
}

/// What the engine counted during a case (summed over its slices when cases take turns):
/// gets and blocks read from files (0 = every read hit the block cache) for reads; WAL
/// records, syncs and sync time for writes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    gets: u64,
    blocks_read: u64,
    wal_records: u64,
    wal_syncs: u64,
    wal_sync_micros: u64,
}

impl Counters {
    /// The counts between two snapshots.
    pub fn between(before: &StatsSnapshot, after: &StatsSnapshot) -> Counters {
        let d = |f: fn(&StatsSnapshot) -> u64| f(after).saturating_sub(f(before));
        Counters {
            gets: d(|s| s.gets),
            blocks_read: d(|s| s.blocks_read),
            wal_records: d(|s| s.wal_records),
            wal_syncs: d(|s| s.wal_syncs),
            wal_sync_micros: d(|s| s.wal_sync_micros),
        }
    }

    /// Adds another slice's counts.
    pub fn add(&mut self, o: Counters) {
        self.gets += o.gets;
        self.blocks_read += o.blocks_read;
        self.wal_records += o.wal_records;
        self.wal_syncs += o.wal_syncs;
        self.wal_sync_micros += o.wal_sync_micros;
    }

    /// The counts that matter for `workload`, as text.
    pub fn describe(&self, workload: Workload) -> String {
        match workload {
            Workload::Get | Workload::MultiGet => format!(
                "{} gets, {} blocks read from files",
                self.gets, self.blocks_read
            ),
            Workload::PutFsync | Workload::PutAsync => format!(
                "{} WAL records, {} syncs ({:.1} records/sync, {:.0} µs/sync)",
                self.wal_records,
                self.wal_syncs,
                self.wal_records as f64 / self.wal_syncs.max(1) as f64,
                self.wal_sync_micros as f64 / self.wal_syncs.max(1) as f64
            ),
        }
    }
}

/// (memstore bytes the engine accounts for `TABLE`, resident bytes of this process).
pub async fn memory(client: &Client) -> anyhow::Result<(u64, u64)> {
    let status = client
        .admin()
        .server_status(client.master_address())
        .await?;
    let memstore = status
        .iter()
        .filter(|r| r.table == TABLE)
        .map(|r| r.memstore_bytes)
        .sum();
    let rss_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .unwrap_or(0);
    Ok((memstore, rss_kib * 1024))
}

/// How much the memstore (as accounted) and the process (resident) grew during a
/// write case, given as byte deltas: writes that pin more memory than they account for
/// show here.
pub fn memory_note(growth: (i64, i64)) -> String {
    let mib = |d: i64| d as f64 / (1024.0 * 1024.0);
    format!(
        "; memstore {:+.1} MiB accounted, process RSS {:+.1} MiB",
        mib(growth.0),
        mib(growth.1)
    )
}

fn check_row(row: Option<strata_client::Row>) -> anyhow::Result<()> {
    let row = row.ok_or_else(|| anyhow::anyhow!("row not found"))?;
    let n = row.value(FAMILY, QUALIFIER).map_or(0, Bytes::len);
    anyhow::ensure!(n == VALUE_SIZE, "value has {n} bytes");
    Ok(())
}

/// The call of `workload` over `rows` preloaded rows; task `i` uses `tables[i % n]`.
pub fn op(workload: Workload, tables: Vec<Table>, rows: u64) -> Op {
    let tables: Arc<[Table]> = tables.into();
    let value = value(0x7654_3210);
    Arc::new(move |task, random| {
        let table = tables[task % tables.len()].clone();
        let value = value.clone();
        Box::pin(async move {
            let mut rng = SplitMix64::new(random);
            match workload {
                Workload::Get => check_row(table.get(Get::new(key(rng.below(rows)))).await?),
                Workload::MultiGet => {
                    let gets = (0..MULTI_GET_ROWS)
                        .map(|_| Get::new(key(rng.below(rows))))
                        .collect();
                    table
                        .multi_get(gets)
                        .await?
                        .into_iter()
                        .try_for_each(check_row)
                }
                Workload::PutFsync | Workload::PutAsync => {
                    let durability = if workload == Workload::PutFsync {
                        Durability::FsyncWal
                    } else {
                        Durability::AsyncWal
                    };
                    let put = Put::new(key(rng.below(rows)))
                        .add(FAMILY, QUALIFIER, value)
                        .durability(durability);
                    Ok(table.put(put).await?)
                }
            }
        })
    })
}
