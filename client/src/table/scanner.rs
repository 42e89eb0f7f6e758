//! [`Table::scan`]: a stream of rows stitched across regions in key order.
//!
//! The scanner locates the region holding its position (first the scan's start row),
//! streams that region up to the scan's stop or the region's end, then continues at the
//! region's end row in the next region. When a stream fails with a retryable error it
//! drops what is stale (location, channel), backs off, locates again and resumes strictly
//! after the last row it received (`start_after`), so no row is returned twice or
//! skipped. The stream is pulled: the next batch is asked for only when the caller has
//! consumed the previous one, and dropping the stream cancels the server-side scan.
//!
//! Deadlines: each wait for a batch is bounded by `rpc_timeout`; the retries after a
//! failure (until rows flow again) are bounded by `operation_timeout`. The stream as a
//! whole has no deadline: a full-table scan may run for hours.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use strata_proto::v1 as pb;
use tonic::codec::Streaming;

use super::Table;
use crate::cell::Row;
use crate::client::Inner;
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::location::RegionInfo;
use crate::retry::{Idempotency, Retrier};
use crate::scan::Scan;

impl Table {
    /// Streams the rows of `scan` in key order across regions.
    ///
    /// ```no_run
    /// # async fn demo(table: strata_client::Table) -> strata_client::Result<()> {
    /// use futures::StreamExt;
    /// let mut rows = std::pin::pin!(table.scan(strata_client::Scan::new().prefix("user")));
    /// while let Some(row) = rows.next().await {
    ///     println!("{:?}", row?.row);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn scan(&self, scan: Scan) -> impl Stream<Item = Result<Row>> + Send + 'static {
        let scanner = Scanner {
            inner: Arc::clone(&self.inner),
            table: Arc::clone(&self.name),
            position: scan.start.clone(),
            start_after: false,
            received: 0,
            buffer: VecDeque::new(),
            current: None,
            retrier: None,
            done: false,
            invalid: scan.validate().err(),
            scan,
        };
        futures::stream::unfold(scanner, |mut s| async move {
            s.next_row().await.map(|r| (r, s))
        })
    }

    /// Counts the rows of `scan`. Without a filter of its own, the scan is narrowed to
    /// the first key of each row (as HBase's `count` does) so values do not travel.
    pub async fn count(&self, scan: Scan) -> Result<u64> {
        let scan = match scan.filter_ref() {
            Some(_) => scan,
            None => scan.filter(Filter::all([Filter::first_key_only(), Filter::key_only()])),
        };
        let mut rows = std::pin::pin!(self.scan(scan));
        let mut count = 0;
        while let Some(row) = rows.next().await {
            row?;
            count += 1;
        }
        Ok(count)
    }
}

/// The state of one scan.
struct Scanner {
    inner: Arc<Inner>,
    table: Arc<str>,
    scan: Scan,
    /// The last row received (or the start row before any).
    position: Bytes,
    /// Resume strictly after `position`.
    start_after: bool,
    /// Rows received so far (returned or buffered), against `scan.limit`.
    received: u64,
    buffer: VecDeque<Row>,
    /// The region being streamed.
    current: Option<(Arc<RegionInfo>, Streaming<pb::ScanResponse>)>,
    /// Present from the first failure (or open) until rows flow again.
    retrier: Option<Retrier>,
    done: bool,
    invalid: Option<Error>,
}

impl Scanner {
    async fn next_row(&mut self) -> Option<Result<Row>> {
        if let Some(err) = self.invalid.take() {
            self.done = true;
            return Some(Err(err));
        }
        loop {
            if let Some(row) = self.buffer.pop_front() {
                return Some(Ok(row));
            }
            if self.done {
                return None;
            }
            if let Err(err) = self.fill().await {
                self.done = true;
                self.current = None;
                return Some(Err(err));
            }
        }
    }

    /// Buffers the next batch, or sets `done` when the scan is complete.
    async fn fill(&mut self) -> Result<()> {
        loop {
            if self.current.is_none() {
                self.open().await?;
            }
            let Some((region, stream)) = self.current.as_mut() else {
                continue;
            };
            let wait = self.inner.config.rpc_timeout;
            let err = match tokio::time::timeout(wait, stream.message()).await {
                Ok(Ok(Some(response))) => {
                    if self.accept(response.rows) {
                        return Ok(());
                    }
                    continue;
                }
                Ok(Ok(None)) => {
                    let end = region.end_row.clone();
                    self.region_done(end);
                    return Ok(());
                }
                Ok(Err(status)) => Error::from_region_status(&status),
                Err(_) => Error::Timeout {
                    elapsed: wait,
                    attempts: 1,
                    message: format!("scan of table {}: no batch within {wait:?}", self.table),
                },
            };
            let region = Arc::clone(region);
            self.failed(&region, err).await?;
        }
    }

    /// Opens the stream of the region holding the position, retrying as needed.
    async fn open(&mut self) -> Result<()> {
        let inner = Arc::clone(&self.inner);
        loop {
            let timeout = self.retrier_mut().begin_attempt("scan")?;
            let region = match inner.locate(&self.table, &self.position, timeout).await {
                Ok(region) => region,
                Err(e) => {
                    self.retrier_mut().backoff(e).await?;
                    continue;
                }
            };
            let remaining = match self.scan.limit {
                0 => 0,
                limit => limit - self.received,
            };
            let message = self.scan.to_request(
                region.region_ref(),
                &region.end_row,
                &self.position,
                self.start_after,
                remaining,
                inner.config.scan_batch_rows,
            );
            let opened = match inner.region_server(&region.server).await {
                Ok(mut client) => match tokio::time::timeout(timeout, client.scan(message)).await {
                    Ok(result) => result.map_err(|s| Error::from_region_status(&s)),
                    Err(_) => Err(self.retrier_mut().attempt_timed_out("scan", timeout)),
                },
                Err(e) => Err(e),
            };
            match opened {
                Ok(response) => {
                    self.current = Some((region, response.into_inner()));
                    return Ok(());
                }
                Err(e) => self.failed(&region, e).await?,
            }
        }
    }

    /// Takes a batch; false if it held no new row.
    fn accept(&mut self, rows: Vec<pb::Row>) -> bool {
        let before = self.buffer.len();
        for row in rows {
            // Never return a row twice, whatever a server resends after a resume.
            if self.start_after && row.row <= self.position {
                continue;
            }
            self.position = row.row.clone();
            self.start_after = true;
            self.received += 1;
            self.buffer.push_back(Row::from(row));
            if self.scan.limit != 0 && self.received >= self.scan.limit {
                self.finish();
                break;
            }
        }
        if self.buffer.len() > before {
            self.retrier = None;
            return true;
        }
        false
    }

    /// The current region is exhausted: move to the next one or finish.
    fn region_done(&mut self, region_end: Bytes) {
        self.current = None;
        self.retrier = None;
        let stop = &self.scan.stop;
        if region_end.is_empty() || (!stop.is_empty() && *stop <= region_end) {
            self.finish();
        } else {
            self.position = region_end;
            self.start_after = false;
        }
    }

    /// After a failed attempt: drop what is stale, then back off or give up.
    async fn failed(&mut self, region: &RegionInfo, err: Error) -> Result<()> {
        self.current = None;
        self.inner.region_failed(region, &err);
        self.retrier_mut().backoff(err).await
    }

    fn retrier_mut(&mut self) -> &mut Retrier {
        let config = &self.inner.config;
        self.retrier
            .get_or_insert_with(|| Retrier::new(config, Idempotency::Idempotent))
    }

    fn finish(&mut self) {
        self.done = true;
        self.current = None; // cancels the server-side stream
    }
}
