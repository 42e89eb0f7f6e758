//! The client against a tiny fake master + region server, in process, on 127.0.0.1:0.
//!
//! This fake exists ONLY to check what needs a server to misbehave on cue: relocation
//! after "not serving region" and retries, per-row outcomes of batches across regions,
//! and scans stitched across two regions and resumed after a broken stream. It is not a
//! model of the real server. End-to-end tests against the real `strata-server` live in
//! the workspace's `tests/` crate (written once the server lands).

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use prost::Message;
use strata_client::{Client, ClientConfig, Error, Get, Put, Scan};
use strata_proto::v1 as pb;
use strata_proto::v1::master_service_server::{MasterService, MasterServiceServer};
use strata_proto::v1::region_service_server::{RegionService, RegionServiceServer};
use tonic::{Code, Request, Response, Status};

/// What the fake holds and what it was asked.
#[derive(Default)]
struct State {
    address: String,
    rows: BTreeMap<Bytes, Bytes>,
    /// The truth: (region id, start, end); the master answers from it and the region
    /// server refuses requests naming any other region.
    regions: Vec<(String, Bytes, Bytes)>,
    locates: u32,
    scans: Vec<pb::ScanRequest>,
    /// Break the first stream of this region after its first batch.
    break_scan_of: Option<String>,
    /// Codes the next increments fail with, in order.
    increment_failures: Vec<Code>,
    increments: u32,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<State>>);

impl Fake {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    /// The region `r` if it is served, else FAILED_PRECONDITION with details.
    fn check(&self, r: &Option<pb::RegionRef>) -> Result<(Bytes, Bytes), Status> {
        let r = r.clone().unwrap_or_default();
        let state = self.state();
        match state.regions.iter().find(|(id, ..)| *id == r.region_id) {
            Some((_, start, end)) => Ok((start.clone(), end.clone())),
            None => {
                let details = pb::NotServingRegion {
                    table: r.table,
                    region_id: r.region_id,
                    reason: "region moved".into(),
                };
                Err(Status::with_details(
                    Code::FailedPrecondition,
                    "not serving",
                    details.encode_to_vec().into(),
                ))
            }
        }
    }

    fn row(&self, row: &Bytes) -> Option<pb::Row> {
        let value = self.state().rows.get(row)?.clone();
        Some(pb::Row {
            row: row.clone(),
            cells: vec![pb::Cell {
                family: "f".into(),
                qualifier: "q".into(),
                timestamp: 1,
                value,
            }],
        })
    }
}

fn in_range(row: &[u8], start: &[u8], end: &[u8]) -> bool {
    row >= start && (end.is_empty() || row < end)
}

#[tonic::async_trait]
impl MasterService for Fake {
    async fn locate_region(
        &self,
        request: Request<pb::LocateRegionRequest>,
    ) -> Result<Response<pb::LocateRegionResponse>, Status> {
        let request = request.into_inner();
        let mut state = self.state();
        state.locates += 1;
        let (id, start, end) = state
            .regions
            .iter()
            .find(|(_, s, e)| in_range(&request.row, s, e))
            .cloned()
            .ok_or_else(|| Status::not_found("no region"))?;
        let location = pb::RegionLocation {
            table: request.table,
            region_id: id,
            start_row: start,
            end_row: end,
            server: state.address.clone(),
            epoch: 1,
            state: "open".into(),
        };
        Ok(Response::new(pb::LocateRegionResponse {
            location: Some(location),
        }))
    }

    async fn create_table(
        &self,
        _: Request<pb::CreateTableRequest>,
    ) -> Result<Response<pb::CreateTableResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn delete_table(
        &self,
        _: Request<pb::DeleteTableRequest>,
    ) -> Result<Response<pb::DeleteTableResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn disable_table(
        &self,
        _: Request<pb::DisableTableRequest>,
    ) -> Result<Response<pb::DisableTableResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn enable_table(
        &self,
        _: Request<pb::EnableTableRequest>,
    ) -> Result<Response<pb::EnableTableResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn list_tables(
        &self,
        _: Request<pb::ListTablesRequest>,
    ) -> Result<Response<pb::ListTablesResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn describe_table(
        &self,
        _: Request<pb::DescribeTableRequest>,
    ) -> Result<Response<pb::DescribeTableResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn split_region(
        &self,
        _: Request<pb::SplitRegionRequest>,
    ) -> Result<Response<pb::SplitRegionResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn register_server(
        &self,
        _: Request<pb::RegisterServerRequest>,
    ) -> Result<Response<pb::RegisterServerResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn heartbeat(
        &self,
        _: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn report_server_stopped(
        &self,
        _: Request<pb::ReportServerStoppedRequest>,
    ) -> Result<Response<pb::ReportServerStoppedResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn cluster_status(
        &self,
        _: Request<pb::ClusterStatusRequest>,
    ) -> Result<Response<pb::ClusterStatusResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn list_regions(
        &self,
        _: Request<pb::ListRegionsRequest>,
    ) -> Result<Response<pb::ListRegionsResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn move_region(
        &self,
        _: Request<pb::MoveRegionRequest>,
    ) -> Result<Response<pb::MoveRegionResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn assign_region(
        &self,
        _: Request<pb::AssignRegionRequest>,
    ) -> Result<Response<pb::AssignRegionResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn unassign_region(
        &self,
        _: Request<pb::UnassignRegionRequest>,
    ) -> Result<Response<pb::UnassignRegionResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn balance(
        &self,
        _: Request<pb::BalanceRequest>,
    ) -> Result<Response<pb::BalanceResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

type ScanStream = Pin<Box<dyn Stream<Item = Result<pb::ScanResponse, Status>> + Send>>;

#[tonic::async_trait]
impl RegionService for Fake {
    async fn get(
        &self,
        request: Request<pb::GetRequest>,
    ) -> Result<Response<pb::GetResponse>, Status> {
        let request = request.into_inner();
        self.check(&request.region)?;
        Ok(Response::new(pb::GetResponse {
            row: self.row(&request.row),
        }))
    }

    async fn multi_get(
        &self,
        request: Request<pb::MultiGetRequest>,
    ) -> Result<Response<pb::MultiGetResponse>, Status> {
        let mut response = pb::MultiGetResponse::default();
        for get in request.into_inner().gets {
            let (row, status) = match self.check(&get.region) {
                Ok(_) => (self.row(&get.row), pb::ItemStatus::default()),
                Err(s) => (None, item_status(&s)),
            };
            response.results.push(pb::GetResponse { row });
            response.statuses.push(status);
        }
        Ok(Response::new(response))
    }

    async fn mutate(
        &self,
        request: Request<pb::MutateRequest>,
    ) -> Result<Response<pb::MutateResponse>, Status> {
        let request = request.into_inner();
        self.check(&request.region)?;
        apply(&mut self.state(), &request);
        Ok(Response::new(pb::MutateResponse {}))
    }

    async fn multi_mutate(
        &self,
        request: Request<pb::MultiMutateRequest>,
    ) -> Result<Response<pb::MultiMutateResponse>, Status> {
        let mut statuses = Vec::new();
        for m in request.into_inner().mutations {
            statuses.push(match self.check(&m.region) {
                Ok(_) => {
                    apply(&mut self.state(), &m);
                    pb::ItemStatus::default()
                }
                Err(s) => item_status(&s),
            });
        }
        Ok(Response::new(pb::MultiMutateResponse { statuses }))
    }

    async fn increment(
        &self,
        request: Request<pb::IncrementRequest>,
    ) -> Result<Response<pb::IncrementResponse>, Status> {
        let request = request.into_inner();
        self.check(&request.region)?;
        let mut state = self.state();
        state.increments += 1;
        if !state.increment_failures.is_empty() {
            let code = state.increment_failures.remove(0);
            return Err(Status::new(code, "injected"));
        }
        Ok(Response::new(pb::IncrementResponse {
            values: vec![request.columns[0].delta],
        }))
    }

    type ScanStream = ScanStream;

    async fn scan(
        &self,
        request: Request<pb::ScanRequest>,
    ) -> Result<Response<ScanStream>, Status> {
        let request = request.into_inner();
        let (start, end) = self.check(&request.region)?;
        let mut state = self.state();
        state.scans.push(request.clone());
        let stop = if request.stop_row.is_empty() {
            end.clone()
        } else {
            request.stop_row.clone()
        };
        assert!(request.start_row >= start, "scan starts before its region");
        assert!(
            end.is_empty() || (!stop.is_empty() && stop <= end),
            "scan runs past its region"
        );
        let rows: Vec<pb::Row> = state
            .rows
            .iter()
            .filter(|(k, _)| in_range(k, &request.start_row, &stop))
            .filter(|(k, _)| !(request.start_after && **k == request.start_row))
            .take(if request.limit == 0 {
                usize::MAX
            } else {
                request.limit as usize
            })
            .map(|(k, v)| pb::Row {
                row: k.clone(),
                cells: vec![pb::Cell {
                    family: "f".into(),
                    qualifier: "q".into(),
                    timestamp: 1,
                    value: v.clone(),
                }],
            })
            .collect();
        let mut batches: Vec<Result<pb::ScanResponse, Status>> = rows
            .chunks(2)
            .map(|c| Ok(pb::ScanResponse { rows: c.to_vec() }))
            .collect();
        let region_id = request.region.unwrap_or_default().region_id;
        if state.break_scan_of.as_deref() == Some(region_id.as_str()) {
            state.break_scan_of = None;
            batches.truncate(1);
            batches.push(Err(Status::unavailable("shutting down")));
        }
        Ok(Response::new(Box::pin(futures::stream::iter(batches))))
    }

    async fn check_and_mutate(
        &self,
        _: Request<pb::CheckAndMutateRequest>,
    ) -> Result<Response<pb::CheckAndMutateResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn append(
        &self,
        _: Request<pb::AppendRequest>,
    ) -> Result<Response<pb::AppendResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn flush(
        &self,
        _: Request<pb::FlushRequest>,
    ) -> Result<Response<pb::FlushResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn compact(
        &self,
        _: Request<pb::CompactRequest>,
    ) -> Result<Response<pb::CompactResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn region_status(
        &self,
        _: Request<pb::RegionStatusRequest>,
    ) -> Result<Response<pb::RegionStatusResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn slow_log(
        &self,
        _: Request<pb::SlowLogRequest>,
    ) -> Result<Response<pb::SlowLogResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn split(
        &self,
        _: Request<pb::SplitRequest>,
    ) -> Result<Response<pb::SplitResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn open_region(
        &self,
        _: Request<pb::OpenRegionRequest>,
    ) -> Result<Response<pb::OpenRegionResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn close_region(
        &self,
        _: Request<pb::CloseRegionRequest>,
    ) -> Result<Response<pb::CloseRegionResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

fn item_status(s: &Status) -> pb::ItemStatus {
    pb::ItemStatus {
        code: s.code() as i32,
        message: s.message().to_owned(),
    }
}

fn apply(state: &mut State, m: &pb::MutateRequest) {
    for op in &m.mutations {
        if let Some(pb::mutation::Op::Put(p)) = &op.op {
            state.rows.insert(m.row.clone(), p.value.clone());
        }
    }
}

fn region(id: &str, start: &str, end: &str) -> (String, Bytes, Bytes) {
    (
        id.into(),
        Bytes::copy_from_slice(start.as_bytes()),
        Bytes::copy_from_slice(end.as_bytes()),
    )
}

/// Starts the fake (master and region server on one address) and a client of it.
async fn start(regions: Vec<(String, Bytes, Bytes)>) -> (Fake, Client) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let fake = Fake::default();
    {
        let mut state = fake.state();
        state.address = address.clone();
        state.regions = regions;
        for c in b'a'..=b'z' {
            state.rows.insert(
                Bytes::copy_from_slice(&[c]),
                Bytes::from(vec![c.to_ascii_uppercase()]),
            );
        }
    }
    let server = tonic::transport::Server::builder()
        .add_service(MasterServiceServer::new(fake.clone()))
        .add_service(RegionServiceServer::new(fake.clone()))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);
    let config = ClientConfig::default()
        .operation_timeout(Duration::from_secs(10))
        .backoff(Duration::from_millis(1), Duration::from_millis(20));
    let client = Client::connect_with(&address, config).await.unwrap();
    (fake, client)
}

#[tokio::test]
async fn get_relocates_after_not_serving_region() {
    let (fake, client) = start(vec![region("old", "", "")]).await;
    let table = client.table("t");
    let row = table.get(Get::new("c")).await.unwrap().unwrap();
    assert_eq!(row.value("f", "q").unwrap(), "C");
    assert_eq!(fake.state().locates, 1);
    table.get(Get::new("d")).await.unwrap();
    assert_eq!(fake.state().locates, 1, "the location is cached");

    // The region moves: the server refuses the old id, the master knows the new one.
    fake.state().regions = vec![region("new", "", "")];
    let row = table.get(Get::new("e")).await.unwrap().unwrap();
    assert_eq!(row.value("f", "q").unwrap(), "E");
    assert_eq!(
        fake.state().locates,
        2,
        "one re-locate after NotServingRegion"
    );
}

#[tokio::test]
async fn scan_stitches_two_regions_and_resumes_after_a_broken_stream() {
    let (fake, client) = start(vec![region("r1", "", "m"), region("r2", "m", "")]).await;
    fake.state().break_scan_of = Some("r2".into());
    let table = client.table("t");
    let rows: Vec<_> = table
        .scan(Scan::new())
        .map(|r| r.unwrap().row)
        .collect()
        .await;
    let expected: Vec<Bytes> = (b'a'..=b'z')
        .map(|c| Bytes::copy_from_slice(&[c]))
        .collect();
    assert_eq!(rows, expected, "every row once, in key order");
    let scans = std::mem::take(&mut fake.state().scans);
    let summary: Vec<(String, Bytes, bool)> = scans
        .iter()
        .map(|s| {
            (
                s.region.clone().unwrap().region_id,
                s.start_row.clone(),
                s.start_after,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("r1".into(), Bytes::new(), false),
            ("r2".into(), Bytes::from("m"), false),
            // Broken after the batch [m, n]: resumed strictly after n.
            ("r2".into(), Bytes::from("n"), true),
        ]
    );

    // A bounded scan across the boundary, with a limit.
    let scan = Scan::new().start("l").stop("p").limit(3);
    let rows: Vec<_> = table.scan(scan).map(|r| r.unwrap().row).collect().await;
    assert_eq!(
        rows,
        vec![Bytes::from("l"), Bytes::from("m"), Bytes::from("n")]
    );
    let scans = std::mem::take(&mut fake.state().scans);
    assert_eq!(
        (scans[0].stop_row.clone(), scans[0].limit),
        (Bytes::from("m"), 3)
    );
    assert_eq!(
        (scans[1].stop_row.clone(), scans[1].limit),
        (Bytes::from("p"), 2)
    );
    assert_eq!(table.count(Scan::new().start("x")).await.unwrap(), 3);
}

#[tokio::test]
async fn batch_and_multi_get_retry_only_the_rows_of_a_moved_region() {
    let (fake, client) = start(vec![region("r1", "", "m"), region("r2", "m", "")]).await;
    let table = client.table("t");
    table.get(Get::new("a")).await.unwrap();
    table.get(Get::new("z")).await.unwrap();
    fake.state().regions = vec![region("r1", "", "m"), region("r2b", "m", "")];

    let puts = ["b", "x", "c", "y"].map(|r| Put::new(r).add("f", "q", format!("{r}2")));
    let results = table.batch(puts.to_vec()).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(fake.state().locates, 3, "only r2 was located again");
    let bad = table.batch(vec![Put::new("")]).await;
    assert!(matches!(bad[0], Err(Error::InvalidArgument(_))));

    let gets = ["y", "b", "nothing-here"].map(Get::new).to_vec();
    let rows = table.multi_get(gets).await.unwrap();
    assert_eq!(rows[0].as_ref().unwrap().value("f", "q").unwrap(), "y2");
    assert_eq!(rows[1].as_ref().unwrap().value("f", "q").unwrap(), "b2");
    assert!(rows[2].is_none());
}

#[tokio::test]
async fn increments_are_retried_only_when_not_executed() {
    let (fake, client) = start(vec![region("r1", "", "")]).await;
    let table = client.table("t");
    fake.state().increment_failures = vec![Code::ResourceExhausted];
    assert_eq!(table.increment("a", "f", "n", 5).await.unwrap(), 5);
    assert_eq!(fake.state().increments, 2, "busy: refused, so retried");

    fake.state().increment_failures = vec![Code::Unavailable];
    let err = table.increment("a", "f", "n", 5).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    assert_eq!(
        fake.state().increments,
        3,
        "unavailable: maybe applied, not retried"
    );
}
