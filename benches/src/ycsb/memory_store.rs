//! An in-process [`Store`] over a `BTreeMap`: the smallest example of a store binding,
//! and the harness's own test double. It can delay operations (every one, or only the
//! first) to stand in for a slow or stalled server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use super::store::{Record, Store, StoreError, StoreResult};

/// Largest number of records the memory store holds (past it, inserts fail with
/// `RESOURCE_EXHAUSTED`).
pub const MAX_RECORDS: usize = 10_000_000;

type Tables = BTreeMap<String, BTreeMap<String, Record>>;

/// Records in memory, shared by all workers.
#[derive(Clone, Default)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
    delay: Duration,
    stall_first: Option<Duration>,
    stalled: Arc<AtomicBool>,
}

impl MemoryStore {
    /// Empty, no delays.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Every operation sleeps `delay` before it runs.
    pub fn with_delay(mut self, delay: Duration) -> MemoryStore {
        self.delay = delay;
        self
    }

    /// The first operation (across all workers) sleeps `stall` before it runs.
    pub fn with_first_stall(mut self, stall: Duration) -> MemoryStore {
        self.stall_first = Some(stall);
        self
    }

    /// Records in `table`.
    pub fn len(&self, table: &str) -> usize {
        self.tables.lock().get(table).map_or(0, BTreeMap::len)
    }

    /// True if `table` has no records.
    pub fn is_empty(&self, table: &str) -> bool {
        self.len(table) == 0
    }

    /// The keys of `table`, sorted.
    pub fn keys(&self, table: &str) -> Vec<String> {
        self.tables
            .lock()
            .get(table)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    }

    async fn wait(&self) {
        if let Some(stall) = self.stall_first
            && !self.stalled.swap(true, Ordering::AcqRel)
        {
            tokio::time::sleep(stall).await;
        }
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
    }
}

fn pick(record: &Record, fields: Option<&[String]>) -> Record {
    match fields {
        None => record.clone(),
        Some(f) => record
            .iter()
            .filter(|(name, _)| f.contains(name))
            .cloned()
            .collect(),
    }
}

impl Store for MemoryStore {
    fn name(&self) -> &str {
        "memory"
    }

    async fn worker(&self) -> StoreResult<MemoryStore> {
        Ok(self.clone())
    }

    async fn read(&self, table: &str, key: &str, fields: Option<&[String]>) -> StoreResult<Record> {
        self.wait().await;
        let tables = self.tables.lock();
        let record = tables
            .get(table)
            .and_then(|t| t.get(key))
            .ok_or_else(|| StoreError::not_found(key))?;
        Ok(pick(record, fields))
    }

    async fn scan(
        &self,
        table: &str,
        start_key: &str,
        count: usize,
        fields: Option<&[String]>,
    ) -> StoreResult<Vec<(String, Record)>> {
        self.wait().await;
        let tables = self.tables.lock();
        let Some(t) = tables.get(table) else {
            return Ok(Vec::new());
        };
        Ok(t.range(start_key.to_string()..)
            .take(count)
            .map(|(k, r)| (k.clone(), pick(r, fields)))
            .collect())
    }

    async fn update(&self, table: &str, key: &str, values: &Record) -> StoreResult<()> {
        self.wait().await;
        let mut tables = self.tables.lock();
        let record = tables
            .get_mut(table)
            .and_then(|t| t.get_mut(key))
            .ok_or_else(|| StoreError::not_found(key))?;
        for (f, v) in values {
            match record.iter_mut().find(|(name, _)| name == f) {
                Some(slot) => slot.1 = v.clone(),
                None => record.push((f.clone(), v.clone())),
            }
        }
        Ok(())
    }

    async fn insert(&self, table: &str, key: &str, values: &Record) -> StoreResult<()> {
        self.wait().await;
        let mut tables = self.tables.lock();
        let t = tables.entry(table.to_string()).or_default();
        if t.len() >= MAX_RECORDS && !t.contains_key(key) {
            return Err(StoreError::new(
                "RESOURCE_EXHAUSTED",
                format!("memory store holds at most {MAX_RECORDS} records"),
            ));
        }
        t.insert(key.to_string(), values.clone());
        Ok(())
    }

    async fn delete(&self, table: &str, key: &str) -> StoreResult<()> {
        self.wait().await;
        let mut tables = self.tables.lock();
        tables
            .get_mut(table)
            .and_then(|t| t.remove(key))
            .map(|_| ())
            .ok_or_else(|| StoreError::not_found(key))
    }
}
