//! The store interface: YCSB's `DB` operations (read, scan, update, insert, delete) on
//! records of named fields.
//!
//! To benchmark another store, implement [`Store`] for a client of it and pass it to
//! [`runner::load`](super::runner::load) / [`runner::run`](super::runner::run) (see
//! `docs/benchmarks.md`). [`Store::worker`] is YCSB's per-thread `DB.init()`: the runner
//! calls it once per in-flight worker, so a store whose client allows one request at a
//! time per connection (Redis) opens a connection there, and one that multiplexes
//! (Strata's gRPC client) returns a clone.
//!
//! Outcomes: `Ok(..)` is YCSB's `Status.OK`; a missing record is
//! [`StoreError::not_found`] (`NOT_FOUND`, counted as an error, as YCSB does); any other
//! failure carries the store's status code name (`UNAVAILABLE`, `RESOURCE_EXHAUSTED`,
//! `IO`, ...), and the report counts each code separately.

use std::future::Future;

use bytes::Bytes;

/// A record's fields, in field order (`field0`, `field1`, ...).
pub type Record = Vec<(String, Bytes)>;

/// A failed operation: a status code name and the store's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError {
    /// Status code name, e.g. `NOT_FOUND`, `UNAVAILABLE`; the report's `Return=` key.
    pub code: String,
    /// What the store said.
    pub message: String,
}

impl StoreError {
    /// An error with `code`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> StoreError {
        StoreError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The record does not exist.
    pub fn not_found(key: &str) -> StoreError {
        StoreError::new("NOT_FOUND", format!("record {key} not found"))
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for StoreError {}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// YCSB's `DB`: one client of a store. All operations name the table; `fields` = `None`
/// means all fields.
pub trait Store: Send + Sync + Sized + 'static {
    /// Short name for reports (`strata`, `redis`).
    fn name(&self) -> &str;

    /// A client for one worker (YCSB's per-thread `init()`).
    fn worker(&self) -> impl Future<Output = StoreResult<Self>> + Send;

    /// Reads one record (the requested fields, or all).
    fn read(
        &self,
        table: &str,
        key: &str,
        fields: Option<&[String]>,
    ) -> impl Future<Output = StoreResult<Record>> + Send;

    /// Reads up to `count` records in key order starting at `start_key` (inclusive).
    /// Returns the keys read, with their records.
    fn scan(
        &self,
        table: &str,
        start_key: &str,
        count: usize,
        fields: Option<&[String]>,
    ) -> impl Future<Output = StoreResult<Vec<(String, Record)>>> + Send;

    /// Overwrites the given fields of a record.
    fn update(
        &self,
        table: &str,
        key: &str,
        values: &Record,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Inserts a record.
    fn insert(
        &self,
        table: &str,
        key: &str,
        values: &Record,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Deletes a record.
    fn delete(&self, table: &str, key: &str) -> impl Future<Output = StoreResult<()>> + Send;
}
