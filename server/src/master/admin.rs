//! Table administration: create, delete, enable, disable, describe. Each operation
//! holds the master's operation lock and does its disk work on the blocking pool, in
//! the order that lets recovery roll it forward (see the module docs of `master`).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use strata_proto::v1 as pb;
use strata_storage::{Error, Result};
use tonic::Status;

use super::Master;
use super::catalog::{RegionEntry, RegionState, TableEntry};
use super::schema::{family_schema, region_ranges, validate_schema, validate_table_name};
use crate::error::{internal, storage_status, unknown_table};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Runs blocking master work, mapping engine errors to statuses.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal(format!("master task failed: {e}")))?
        .map_err(|e| storage_status(&e))
}

impl Master {
    /// Creates a table with one region per split-key interval and opens them.
    pub async fn create_table(
        self: &Arc<Self>,
        schema: pb::TableSchema,
        split_keys: Vec<Bytes>,
    ) -> Result<Vec<pb::RegionLocation>, Status> {
        let families = validate_schema(&schema)?;
        let ranges = region_ranges(&split_keys)?;
        let name = schema.name;
        let _op = self.ops.lock().await;
        if self.catalog.table(&name).is_some() {
            return Err(Status::already_exists(format!(
                "table {name:?} already exists"
            )));
        }
        if self.catalog.read(|c| c.pending_deletes.contains(&name)) {
            return Err(Status::failed_precondition(format!(
                "table {name:?} is still being deleted; retry later"
            )));
        }
        let created_ms = now_ms();
        let entry = TableEntry {
            families,
            enabled: true,
            regions: ranges
                .into_iter()
                .enumerate()
                .map(|(i, (start_row, end_row))| RegionEntry {
                    region_id: format!("{created_ms:013}-{i:05}"),
                    start_row,
                    end_row,
                    epoch: 0,
                    server: String::new(),
                    state: RegionState::Offline,
                    pinned_offline: false,
                })
                .collect(),
            created_ms,
        };
        let me = self.clone();
        let (n, e) = (name.clone(), entry.clone());
        blocking(move || me.create_blocking(&n, e)).await?;
        tracing::info!(table = %name, regions = entry.regions.len(), "table created");
        let entry = self.catalog.table(&name).unwrap_or(entry);
        Ok(entry
            .regions
            .iter()
            .map(|r| self.location(&name, &entry, r))
            .collect())
    }

    fn create_blocking(&self, name: &str, entry: TableEntry) -> Result<()> {
        self.catalog.update(|c| {
            c.tables.insert(name.to_string(), entry.clone());
            Ok(())
        })?;
        let ids = entry
            .regions
            .iter()
            .map(|r| (name.to_string(), r.region_id.clone()))
            .collect();
        let errors = self.assign_many(self.place(ids));
        let Some(e) = errors.into_iter().next() else {
            return Ok(());
        };
        if !self.standalone {
            // A cluster retries failed opens in its repair pass.
            tracing::warn!(table = %name, error = %e, "some regions did not open yet; retrying");
            return Ok(());
        }
        // Standalone: undo (close what opened, forget the table, remove its directory).
        self.close_table_regions(name);
        let undo = self.catalog.update(|c| {
            c.tables.remove(name);
            c.pending_deletes.push(name.to_string());
            Ok(())
        });
        if undo.is_ok() {
            let _ = self.finish_delete(name);
        }
        Err(e)
    }

    /// Closes every assigned region of a table; returns the first error.
    fn close_table_regions(&self, name: &str) -> Option<Error> {
        let t = self.catalog.table(name)?;
        let mut first_err = None;
        for r in t.regions.iter().filter(|r| !r.server.is_empty()) {
            if let Err(e) = self.unassign_region(name, &r.region_id, false) {
                tracing::error!(table = %name, region = %r.region_id, error = %e, "close failed");
                first_err.get_or_insert(e);
            }
        }
        first_err
    }

    /// Deletes a disabled table and its files.
    pub async fn delete_table(self: &Arc<Self>, name: String) -> Result<(), Status> {
        let (_op, t) = self.begin(&name).await?;
        if t.enabled {
            return Err(Status::failed_precondition(format!(
                "table {name:?} is enabled: disable it before deleting it"
            )));
        }
        let me = self.clone();
        let n = name.clone();
        blocking(move || {
            me.catalog.update(|c| {
                c.tables.remove(&n);
                c.pending_deletes.push(n.clone());
                Ok(())
            })?;
            me.finish_delete(&n)
        })
        .await?;
        tracing::info!(table = %name, "table deleted");
        Ok(())
    }

    /// Closes (flushing) every region of the table; data calls then fail with
    /// FAILED_PRECONDITION saying the table is disabled. Disabling a disabled table
    /// does nothing.
    pub async fn disable_table(self: &Arc<Self>, name: String) -> Result<(), Status> {
        let (_op, t) = self.begin(&name).await?;
        if !t.enabled {
            return Ok(());
        }
        let me = self.clone();
        let n = name.clone();
        blocking(move || {
            me.set_enabled(&n, false)?;
            me.close_table_regions(&n).map_or(Ok(()), Err)
        })
        .await?;
        tracing::info!(table = %name, "table disabled");
        Ok(())
    }

    /// Opens every region of the table under a new epoch. Enabling an enabled table
    /// does nothing.
    pub async fn enable_table(self: &Arc<Self>, name: String) -> Result<(), Status> {
        let (_op, t) = self.begin(&name).await?;
        if t.enabled {
            return Ok(());
        }
        let me = self.clone();
        let n = name.clone();
        blocking(move || me.enable_blocking(&n)).await?;
        tracing::info!(table = %name, "table enabled");
        Ok(())
    }

    fn enable_blocking(&self, name: &str) -> Result<()> {
        self.set_enabled(name, true)?;
        let t = self
            .catalog
            .table(name)
            .ok_or_else(|| Error::InvalidArgument(format!("table {name:?} vanished")))?;
        let ids = t
            .regions
            .iter()
            .map(|r| (name.to_string(), r.region_id.clone()))
            .collect();
        let Some(e) = self.assign_many(self.place(ids)).into_iter().next() else {
            return Ok(());
        };
        if self.standalone {
            self.close_table_regions(name);
            self.set_enabled(name, false)?;
            return Err(e);
        }
        tracing::warn!(table = %name, error = %e, "some regions did not open yet; retrying");
        Ok(())
    }

    fn set_enabled(&self, name: &str, enabled: bool) -> Result<()> {
        self.catalog.update(|c| {
            if let Some(t) = c.tables.get_mut(name) {
                t.enabled = enabled;
            }
            Ok(())
        })
    }

    /// Takes the operation lock and reads the table's entry (NOT_FOUND if none).
    async fn begin(
        &self,
        name: &str,
    ) -> Result<(tokio::sync::MutexGuard<'_, ()>, TableEntry), Status> {
        let op = self.ops.lock().await;
        let t = self
            .catalog
            .table(name)
            .ok_or_else(|| unknown_table(name))?;
        Ok((op, t))
    }

    /// Table names, sorted.
    pub fn list_tables(&self) -> Vec<String> {
        self.catalog.read(|c| c.tables.keys().cloned().collect())
    }

    /// Schema, regions and enabled flag of a table.
    pub fn describe_table(&self, name: &str) -> Result<pb::DescribeTableResponse, Status> {
        validate_table_name(name)?;
        let t = self
            .catalog
            .table(name)
            .ok_or_else(|| unknown_table(name))?;
        Ok(pb::DescribeTableResponse {
            schema: Some(pb::TableSchema {
                name: name.to_string(),
                families: t.families.iter().map(family_schema).collect(),
            }),
            regions: t
                .regions
                .iter()
                .map(|r| self.location(name, &t, r))
                .collect(),
            enabled: t.enabled,
        })
    }
}
