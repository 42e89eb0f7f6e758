//! Streaming scans of one region. The scanner runs on the blocking pool one batch at a
//! time, each batch holding an admission slot; batches go to the client through a
//! bounded channel of [`SCAN_CHANNEL_BATCHES`], so a slow reader pauses the scan instead
//! of buffering the region in memory. Between batches no slot is held.
//!
//! Range rules: `start_row`, when set, must fall inside the region (else
//! FAILED_PRECONDITION: the client's location is stale); `stop_row` is clipped to the
//! region; `start_after` starts strictly after `start_row`; a row prefix filter narrows
//! the range. Filters and `limit` apply after the engine's visibility rules; an empty
//! filtered batch is not sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strata_proto::v1 as pb;
use strata_storage::region::Scanner;
use strata_storage::{Region, Scan};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::observe::{self, Outcome};
use super::{OnlineRegion, RegionServer, storage};
use crate::convert::{columns, max_versions, prefix_end, row_after, row_to_proto, time_range};
use crate::error::{internal, not_serving, shutting_down};
use crate::filter::{FilterPlan, RowFilter};
use crate::metrics::{CallTimes, Rpc};

/// Batches buffered between the scanner and the client.
pub const SCAN_CHANNEL_BATCHES: usize = 2;
/// Rows per streamed message when the request says 0.
pub const DEFAULT_SCAN_BATCH_ROWS: usize = 100;
/// Most rows per streamed message.
pub const MAX_SCAN_BATCH_ROWS: usize = 10_000;
/// Most bytes per streamed message, about (a single larger row is still sent whole, up
/// to `server.max_message_size`). 2 MiB, as HBase's
/// `hbase.client.scanner.max.result.size`, keeps batches (which may pass the cap by one
/// row) under tonic's default 4 MiB decode limit of clients that did not raise it.
pub const MAX_SCAN_BATCH_BYTES: usize = 2 * 1024 * 1024;
/// Longest one blocking step of a filtered scan runs before yielding its slot.
const STEP_TIME_BUDGET: Duration = Duration::from_millis(50);

/// The response stream of a scan.
pub type ScanStream = ReceiverStream<Result<pb::ScanResponse, Status>>;

/// A scan between batches: the engine scanner plus what the server applies on top.
struct ScanState {
    scanner: Scanner,
    filter: Option<FilterPlan>,
    remaining: Option<u64>,
    batch_rows: usize,
    batch_bytes: usize,
    done: bool,
}

impl ScanState {
    /// The next non-empty batch of rows for the client, or an empty one when done or
    /// when the time budget ran out first.
    fn step(&mut self) -> Result<Vec<pb::Row>, Status> {
        let started = Instant::now();
        let mut out = Vec::new();
        let mut bytes = 0;
        while !self.done && out.len() < self.batch_rows && bytes < self.batch_bytes {
            let want = self.batch_rows - out.len();
            let rows = storage(self.scanner.next_batch(want, self.batch_bytes - bytes))?;
            if rows.is_empty() && self.scanner.is_done() {
                self.done = true;
            }
            for row in rows {
                if self.done {
                    break;
                }
                let row = match self.filter.as_mut() {
                    Some(f) => match f.apply(row) {
                        Some(r) => r,
                        None => {
                            self.done = f.exhausted();
                            continue;
                        }
                    },
                    None => row,
                };
                bytes += row.size_bytes();
                out.push(row_to_proto(row));
                if let Some(n) = self.remaining.as_mut() {
                    *n -= 1;
                    self.done = *n == 0;
                }
                if self.filter.as_ref().is_some_and(FilterPlan::exhausted) {
                    self.done = true;
                }
            }
            if self.scanner.is_done() {
                self.done = true;
            }
            if started.elapsed() > STEP_TIME_BUDGET {
                break;
            }
        }
        Ok(out)
    }
}

/// Validates the request against the region and opens the scanner.
fn open(region: &Region, req: pb::ScanRequest, max_message: usize) -> Result<ScanState, Status> {
    let d = region.descriptor();
    if !req.start_row.is_empty() && !d.contains_row(&req.start_row) {
        return Err(not_serving(
            &d.table,
            &d.region_id,
            "scan start_row is outside the region; re-locate",
        ));
    }
    let mut scan = Scan::new();
    scan.columns = columns(req.columns);
    scan.time_range = time_range(req.time_range)?;
    scan.max_versions = max_versions(req.max_versions);
    scan.fill_cache = !req.no_cache;
    scan.start_row = if req.start_after {
        row_after(&req.start_row)
    } else {
        req.start_row
    };
    scan.stop_row = req.stop_row;
    let filter = match req.filter {
        Some(f) => Some(FilterPlan::new(
            RowFilter::from_proto(f)?,
            &mut scan.columns,
        )),
        None => None,
    };
    if let Some(prefix) = filter.as_ref().and_then(FilterPlan::required_prefix) {
        narrow(&mut scan, prefix);
    }
    let remaining = (req.limit > 0).then_some(req.limit);
    if filter.is_none() {
        scan.limit = remaining;
    }
    let batch_rows = match req.batch_rows {
        0 => DEFAULT_SCAN_BATCH_ROWS,
        n => (n as usize).min(MAX_SCAN_BATCH_ROWS),
    };
    Ok(ScanState {
        scanner: storage(region.scan(&scan))?,
        filter,
        remaining,
        batch_rows,
        batch_bytes: MAX_SCAN_BATCH_BYTES.min(max_message / 2),
        done: false,
    })
}

/// Keeps the scan inside `[prefix, prefix_end(prefix))`.
fn narrow(scan: &mut Scan, prefix: &Bytes) {
    if scan.start_row < *prefix {
        scan.start_row = prefix.clone();
    }
    let end = prefix_end(prefix);
    if !end.is_empty() && (scan.stop_row.is_empty() || end < scan.stop_row) {
        scan.stop_row = end;
    }
}

/// What the scan reports to the metrics and slow log when it ends. Its duration is
/// server-side time only (queue waits plus engine steps), not the time the client took
/// to read the stream.
struct ScanRecord {
    region: Option<pb::RegionRef>,
    start_row: Bytes,
    times: CallTimes,
    rows: u64,
}

impl ScanRecord {
    fn finish(&self, rs: &RegionServer, online: Option<&OnlineRegion>, code: tonic::Code) {
        rs.finish(Outcome {
            rpc: Rpc::Scan,
            region: self.region.as_ref(),
            located: online,
            row: &self.start_row,
            duration: self.times.queue + self.times.engine,
            times: self.times,
            items: self.rows,
            code,
            tables: Vec::new(),
        });
    }
}

/// Admits the scan, opens it, and streams its batches from a background task.
pub(super) async fn start(
    rs: Arc<RegionServer>,
    req: pb::ScanRequest,
) -> Result<ScanStream, Status> {
    let mut record = ScanRecord {
        region: req.region.clone(),
        start_row: req.start_row.clone(),
        times: CallTimes::default(),
        rows: 0,
    };
    let started = Instant::now();
    let (online, state) = match open_steps(&rs, req, started, &mut record.times).await {
        Ok(v) => v,
        Err(s) => {
            record.finish(&rs, None, s.code());
            return Err(s);
        }
    };
    let (tx, rx) = mpsc::channel(SCAN_CHANNEL_BATCHES);
    tokio::spawn(async move {
        let code = pump(&rs, &online, state, tx, &mut record).await;
        record.finish(&rs, Some(&online), code);
    });
    Ok(ReceiverStream::new(rx))
}

async fn open_steps(
    rs: &Arc<RegionServer>,
    req: pb::ScanRequest,
    started: Instant,
    times: &mut CallTimes,
) -> Result<(Arc<OnlineRegion>, ScanState), Status> {
    let permit = rs.admit().await;
    times.queue = started.elapsed();
    let permit = permit?;
    let online = rs.locate(req.region.as_ref())?;
    let max_message = rs.max_message_size;
    let state = rs
        .run(permit, online.clone(), times, move |r| {
            open(r, req, max_message)
        })
        .await?;
    Ok((online, state))
}

type Sender = mpsc::Sender<Result<pb::ScanResponse, Status>>;

/// Streams the batches; returns the scan's outcome code.
async fn pump(
    rs: &RegionServer,
    online: &OnlineRegion,
    mut state: ScanState,
    tx: Sender,
    record: &mut ScanRecord,
) -> tonic::Code {
    while !state.done {
        if rs.is_shutting_down() {
            let s = shutting_down();
            let code = s.code();
            let _ = tx.send(Err(s)).await;
            return code;
        }
        let waited = Instant::now();
        let permit = match rs.admission.continue_with().await {
            Ok(p) => p,
            Err(s) => {
                let code = s.code();
                let _ = tx.send(Err(s)).await;
                return code;
            }
        };
        record.times.queue += waited.elapsed();
        let step = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let (r, t) = observe::timed(|| state.step());
            (state, r, t)
        })
        .await;
        let rows = match step {
            Ok((s, Ok(rows), t)) => {
                record.times.add(t);
                if let Err(status) = rs.check_still_serving(online) {
                    let code = status.code();
                    let _ = tx.send(Err(status)).await;
                    return code;
                }
                state = s;
                rows
            }
            Ok((_, Err(status), t)) => {
                record.times.add(t);
                let status = rs.refine(online, status);
                let code = status.code();
                let _ = tx.send(Err(status)).await;
                return code;
            }
            Err(e) => {
                let _ = tx
                    .send(Err(internal(format!("scan task failed: {e}"))))
                    .await;
                return tonic::Code::Internal;
            }
        };
        record.rows += rows.len() as u64;
        if !rows.is_empty() && tx.send(Ok(pb::ScanResponse { rows })).await.is_err() {
            return tonic::Code::Cancelled; // the client went away: drop the scanner
        }
    }
    tonic::Code::Ok
}
