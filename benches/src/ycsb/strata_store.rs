//! Strata as a YCSB [`Store`], through `strata-client` (location cache, retries and
//! deadlines included, as an application calls it).
//!
//! Mapping, as YCSB's HBase binding does it: one row per record (row key = YCSB key),
//! one column family `f` (HBase binding's `columnfamily` property, default here `f`),
//! one column per field (qualifier = field name). Writes use the server's default
//! durability (`wal.durability`, `fsync` by default: acknowledged after the WAL fsync,
//! shared by concurrent writers through group commit). A scan asks for `count` rows from
//! the start key in one streamed RPC batch. All workers share one client (its gRPC
//! channel multiplexes requests over HTTP/2), as HBase's binding shares a connection.
//!
//! Errors are reported by gRPC status code name (`UNAVAILABLE`, `RESOURCE_EXHAUSTED`,
//! ...), plus `TRANSPORT` for network failures.

use bytes::Bytes;
use futures::StreamExt;
use strata_client::admin::{FamilyDescriptor, TableDescriptor};
use strata_client::{Client, ClientConfig, Delete, Error, Get, Put, Row, Scan, Table};

use super::properties::Properties;
use super::store::{Record, Store, StoreError, StoreResult};

/// The column family holding the fields.
pub const FAMILY: &str = "f";

/// Property: SSTable block size in bytes of the table's family when the binding creates
/// the table (HBase's `BLOCKSIZE`); unset = the server's default (64 KiB).
pub const BLOCK_SIZE_PROPERTY: &str = "strata.blocksize";

/// Property: `true` creates the table's family with `PREFETCH_BLOCKS_ON_OPEN` (each new
/// file's blocks loaded into the block cache while it has room); unset = false.
pub const PREFETCH_PROPERTY: &str = "strata.prefetch";

/// Property: the client's `coalesce_gets_after` (get calls in flight to one server
/// before concurrent gets share MultiGet calls; 0 = one call per get); unset = the
/// client's default.
pub const COALESCE_PROPERTY: &str = "strata.coalesce_gets";

/// A Strata client as a YCSB store.
#[derive(Clone)]
pub struct StrataStore {
    client: Client,
    table: Table,
}

impl StrataStore {
    /// Connects to the master (or standalone server) at `url`; operations go to `table`.
    /// `props` may set [`COALESCE_PROPERTY`].
    pub async fn connect(
        url: &str,
        table: &str,
        props: &Properties,
    ) -> anyhow::Result<StrataStore> {
        let mut config = ClientConfig::default();
        if props.get(COALESCE_PROPERTY).is_some() {
            let after = props.parse(COALESCE_PROPERTY, config.coalesce_gets_after)?;
            let max_batch = config.max_coalesced_gets;
            config = config.coalesce_gets(after, max_batch);
        }
        let client = Client::connect_with(url, config).await?;
        let table = client.table(table);
        Ok(StrataStore { client, table })
    }

    /// Creates the table with family [`FAMILY`] and `split_keys` if it does not exist.
    /// The family has Strata's defaults (HBase's: 64 KiB blocks, row bloom, no
    /// compression) unless `props` sets [`BLOCK_SIZE_PROPERTY`] (as an HBase user
    /// creates `usertable` with `BLOCKSIZE => ...` in the shell before running YCSB).
    pub async fn create_table(
        &self,
        split_keys: Vec<Bytes>,
        props: &Properties,
    ) -> anyhow::Result<()> {
        let admin = self.client.admin();
        let name = self.table.name().to_string();
        if admin.table_exists(&name).await? {
            return Ok(());
        }
        let mut family = FamilyDescriptor::new(FAMILY);
        if props.get(BLOCK_SIZE_PROPERTY).is_some() {
            family = family.block_size(props.parse(BLOCK_SIZE_PROPERTY, 0u32)?);
        }
        if props.parse(PREFETCH_PROPERTY, false)? {
            family = family.prefetch_blocks_on_open(true);
        }
        let descriptor = TableDescriptor::new(name).family(family);
        admin.create_table(descriptor, split_keys).await?;
        Ok(())
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// The status code name of a client error.
pub fn code(e: &Error) -> &'static str {
    match e {
        Error::NotFound(_) => "NOT_FOUND",
        Error::AlreadyExists(_) => "ALREADY_EXISTS",
        Error::InvalidArgument(_) => "INVALID_ARGUMENT",
        Error::FailedPrecondition(_) | Error::NotServingRegion { .. } => "FAILED_PRECONDITION",
        Error::Busy(_) => "RESOURCE_EXHAUSTED",
        Error::Unavailable(_) => "UNAVAILABLE",
        Error::Aborted(_) => "ABORTED",
        Error::Transport { .. } => "TRANSPORT",
        Error::Timeout { .. } => "DEADLINE_EXCEEDED",
        Error::Internal { code, .. } => match code {
            tonic::Code::DataLoss => "DATA_LOSS",
            tonic::Code::Unimplemented => "UNIMPLEMENTED",
            tonic::Code::Unknown => "UNKNOWN",
            _ => "INTERNAL",
        },
        _ => "UNKNOWN",
    }
}

fn error(e: Error) -> StoreError {
    StoreError::new(code(&e), e.to_string())
}

fn record(row: &Row) -> Record {
    row.cells
        .iter()
        .map(|c| {
            (
                String::from_utf8_lossy(&c.qualifier).into_owned(),
                c.value.clone(),
            )
        })
        .collect()
}

fn put(key: &str, values: &Record) -> Put {
    values.iter().fold(
        Put::new(Bytes::copy_from_slice(key.as_bytes())),
        |p, (f, v)| p.add(FAMILY, Bytes::copy_from_slice(f.as_bytes()), v.clone()),
    )
}

impl Store for StrataStore {
    fn name(&self) -> &str {
        "strata"
    }

    async fn worker(&self) -> StoreResult<StrataStore> {
        Ok(self.clone())
    }

    async fn read(
        &self,
        _table: &str,
        key: &str,
        fields: Option<&[String]>,
    ) -> StoreResult<Record> {
        let mut get = Get::new(Bytes::copy_from_slice(key.as_bytes()));
        match fields {
            None => get = get.family(FAMILY),
            Some(fields) => {
                for f in fields {
                    get = get.column(FAMILY, Bytes::copy_from_slice(f.as_bytes()));
                }
            }
        }
        match self.table.get(get).await.map_err(error)? {
            Some(row) if !row.is_empty() => Ok(record(&row)),
            _ => Err(StoreError::not_found(key)),
        }
    }

    async fn scan(
        &self,
        _table: &str,
        start_key: &str,
        count: usize,
        fields: Option<&[String]>,
    ) -> StoreResult<Vec<(String, Record)>> {
        let mut scan = Scan::new()
            .start(Bytes::copy_from_slice(start_key.as_bytes()))
            .limit(count as u64)
            .batch_rows(u32::try_from(count).unwrap_or(u32::MAX).max(1));
        scan = match fields {
            None => scan.family(FAMILY),
            Some(fields) => fields.iter().fold(scan, |s, f| {
                s.column(FAMILY, Bytes::copy_from_slice(f.as_bytes()))
            }),
        };
        let mut rows = std::pin::pin!(self.table.scan(scan));
        let mut out = Vec::with_capacity(count);
        while let Some(row) = rows.next().await {
            let row = row.map_err(error)?;
            out.push((String::from_utf8_lossy(&row.row).into_owned(), record(&row)));
            if out.len() >= count {
                break;
            }
        }
        Ok(out)
    }

    async fn update(&self, _table: &str, key: &str, values: &Record) -> StoreResult<()> {
        self.table.put(put(key, values)).await.map_err(error)
    }

    async fn insert(&self, _table: &str, key: &str, values: &Record) -> StoreResult<()> {
        self.table.put(put(key, values)).await.map_err(error)
    }

    async fn delete(&self, _table: &str, key: &str) -> StoreResult<()> {
        let delete = Delete::new(Bytes::copy_from_slice(key.as_bytes()));
        self.table.delete(delete).await.map_err(error)
    }
}
