//! [`Table`]: data operations on one table. Each single-row call locates the row's
//! region (cache first, then the master), calls its server, and on a retryable failure
//! drops what is stale and tries again under the operation's deadline (see `retry`).
//! Multi-row calls live in `table/multi.rs`, scans in `table/scanner.rs`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::cell::Row;
use crate::check_and_mutate::{Append, CheckAndMutate, Increment};
use crate::client::Inner;
use crate::connection::{RegionClient, request};
use crate::error::{Error, Result};
use crate::get::Get;
use crate::location::RegionInfo;
use crate::mutation::{Delete, Mutation, Put};
use crate::retry::{self, Idempotency};

mod multi;
mod scanner;

/// A handle on one table. Cheap to clone; share it across tasks.
#[derive(Debug, Clone)]
pub struct Table {
    inner: Arc<Inner>,
    name: Arc<str>,
}

impl Table {
    pub(crate) fn new(inner: Arc<Inner>, name: String) -> Table {
        Table {
            inner,
            name: name.into(),
        }
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads one row; `None` if nothing in it is visible. Under load, gets to one server
    /// share MultiGet calls (see [`ClientConfig::coalesce_gets_after`]).
    ///
    /// [`ClientConfig::coalesce_gets_after`]: crate::ClientConfig::coalesce_gets_after
    pub async fn get(&self, get: Get) -> Result<Option<Row>> {
        get.validate()?;
        let (inner, table, get) = (&*self.inner, &*self.name, &get);
        retry::run(&inner.config, Idempotency::Idempotent, "get", move |t| {
            inner.get_row(table, get, t)
        })
        .await
        .map(|row| row.map(Row::from))
    }

    /// Writes the cells of `put` atomically.
    pub async fn put(&self, put: Put) -> Result<()> {
        self.mutate(Mutation::Put(put)).await
    }

    /// Applies `delete` atomically. A delete of "the latest version" of a column is not
    /// idempotent and is retried only when the server provably did not run it.
    pub async fn delete(&self, delete: Delete) -> Result<()> {
        self.mutate(Mutation::Delete(delete)).await
    }

    /// Applies one put or delete.
    pub async fn mutate(&self, mutation: Mutation) -> Result<()> {
        mutation.validate()?;
        let mode = idempotency(mutation.is_idempotent());
        let m = &mutation;
        self.on_row(m.row(), mode, "mutate", |mut c, region, t| {
            let message = m.to_request(region.region_ref());
            async move { c.mutate(request(message, t)).await.map(drop) }
        })
        .await
    }

    /// Applies the mutations if the check passes; returns whether they were applied.
    /// Retried only when the server provably did not run it.
    pub async fn check_and_mutate(&self, cam: CheckAndMutate) -> Result<bool> {
        cam.validate()?;
        let cam = &cam;
        let mode = Idempotency::AtMostOnce;
        self.on_row(cam.row(), mode, "check_and_mutate", |mut c, region, t| {
            let message = cam.to_request(region.region_ref());
            async move {
                Ok(c.check_and_mutate(request(message, t))
                    .await?
                    .into_inner()
                    .applied)
            }
        })
        .await
    }

    /// Adds `delta` to the counter `family:qualifier` of `row` and returns the new value.
    /// Retried only when the server provably did not run it.
    pub async fn increment(
        &self,
        row: impl Into<Bytes>,
        family: impl Into<Bytes>,
        qualifier: impl Into<Bytes>,
        delta: i64,
    ) -> Result<i64> {
        let values = self
            .increment_columns(Increment::new(row).add(family, qualifier, delta))
            .await?;
        Ok(values[0])
    }

    /// Adds to several counters of one row atomically; returns the new values in the
    /// order the columns were added.
    pub async fn increment_columns(&self, increment: Increment) -> Result<Vec<i64>> {
        let expected = increment.validate()?;
        let inc = &increment;
        let values = self
            .on_row(
                &inc.row,
                Idempotency::AtMostOnce,
                "increment",
                |mut c, region, t| {
                    let message = inc.to_request(region.region_ref());
                    async move { Ok(c.increment(request(message, t)).await?.into_inner().values) }
                },
            )
            .await?;
        check_len("increment", values, expected)
    }

    /// Appends `value` to `family:qualifier` of `row` and returns the new value.
    pub async fn append(
        &self,
        row: impl Into<Bytes>,
        family: impl Into<Bytes>,
        qualifier: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<Bytes> {
        let mut values = self
            .append_columns(Append::new(row).add(family, qualifier, value))
            .await?;
        Ok(values.swap_remove(0))
    }

    /// Appends to several columns of one row atomically; returns the new values in the
    /// order the columns were added.
    pub async fn append_columns(&self, append: Append) -> Result<Vec<Bytes>> {
        let expected = append.validate()?;
        let app = &append;
        let values = self
            .on_row(
                &app.row,
                Idempotency::AtMostOnce,
                "append",
                |mut c, region, t| {
                    let message = app.to_request(region.region_ref());
                    async move { Ok(c.append(request(message, t)).await?.into_inner().values) }
                },
            )
            .await?;
        check_len("append", values, expected)
    }

    /// Runs `call` against the server of the region holding `row`, with locating,
    /// relocation and retries.
    async fn on_row<T, F, Fut>(
        &self,
        row: &Bytes,
        mode: Idempotency,
        what: &str,
        call: F,
    ) -> Result<T>
    where
        F: Fn(RegionClient, Arc<RegionInfo>, Duration) -> Fut,
        Fut: Future<Output = Result<T, tonic::Status>>,
    {
        let (inner, table, call) = (&*self.inner, &*self.name, &call);
        retry::run(&inner.config, mode, what, move |timeout| {
            inner.on_region(table, row, timeout, move |c, r| call(c, r, timeout))
        })
        .await
    }
}

pub(crate) fn idempotency(idempotent: bool) -> Idempotency {
    if idempotent {
        Idempotency::Idempotent
    } else {
        Idempotency::AtMostOnce
    }
}

fn check_len<T>(what: &str, values: Vec<T>, expected: usize) -> Result<Vec<T>> {
    if values.len() != expected {
        return Err(Error::protocol(format!(
            "{what} returned {} values for {expected} columns",
            values.len()
        )));
    }
    Ok(values)
}
