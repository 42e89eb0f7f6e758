//! Helpers for the server's integration tests: an in-process standalone server on a free
//! loopback port with data in a temp dir, the generated gRPC clients, and small request
//! builders.
#![allow(dead_code)]

use bytes::Bytes;
use strata_proto::v1 as pb;
use strata_proto::v1::master_service_client::MasterServiceClient;
use strata_proto::v1::region_service_client::RegionServiceClient;
use strata_server::config::ServerConfig;
use strata_server::region_server::TestHooks;
use strata_server::standalone::{self, StandaloneHandle};
use tonic::transport::Channel;

pub type Region = RegionServiceClient<Channel>;
pub type Master = MasterServiceClient<Channel>;

pub struct TestServer {
    pub handle: StandaloneHandle,
    pub region: Region,
    pub master: Master,
}

/// Starts a server on `dir` with test settings, adjusted by `tweak`.
pub async fn start_in(
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut ServerConfig),
    hooks: TestHooks,
) -> TestServer {
    let mut cfg = ServerConfig::for_tests(dir);
    tweak(&mut cfg);
    let handle = standalone::start_with_hooks(cfg, hooks)
        .await
        .expect("server starts");
    let (region, master) = connect(handle.url()).await;
    TestServer {
        handle,
        region,
        master,
    }
}

pub async fn connect(url: &str) -> (Region, Master) {
    let channel = Channel::from_shared(url.to_string())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let limit = 256 << 20;
    (
        RegionServiceClient::new(channel.clone())
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
        MasterServiceClient::new(channel)
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    )
}

pub fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

pub fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub async fn create_table(
    m: &mut Master,
    name: &str,
    families: &[&str],
    splits: &[&str],
) -> Vec<pb::RegionLocation> {
    let schema = pb::TableSchema {
        name: name.into(),
        families: families
            .iter()
            .map(|f| pb::FamilySchema {
                name: (*f).into(),
                max_versions: 3,
                ..Default::default()
            })
            .collect(),
    };
    m.create_table(pb::CreateTableRequest {
        schema: Some(schema),
        split_keys: splits.iter().map(|k| b(k)).collect(),
    })
    .await
    .expect("create table")
    .into_inner()
    .regions
}

pub async fn locate(m: &mut Master, table: &str, row: &str) -> pb::RegionRef {
    let loc = m
        .locate_region(pb::LocateRegionRequest {
            table: table.into(),
            row: b(row),
        })
        .await
        .expect("locate")
        .into_inner()
        .location
        .expect("location");
    pb::RegionRef {
        table: loc.table,
        region_id: loc.region_id,
        epoch: loc.epoch,
    }
}

pub fn put(family: &str, q: &str, v: &str) -> pb::Mutation {
    pb::Mutation {
        op: Some(pb::mutation::Op::Put(pb::Put {
            family: b(family),
            qualifier: b(q),
            timestamp: None,
            value: b(v),
        })),
    }
}

pub fn mutate_req(region: &pb::RegionRef, row: &str, ops: Vec<pb::Mutation>) -> pb::MutateRequest {
    pb::MutateRequest {
        region: Some(region.clone()),
        row: b(row),
        mutations: ops,
        durability: 0,
    }
}

/// Locates `row` and puts one cell there.
pub async fn put_cell(t: &mut TestServer, table: &str, row: &str, f: &str, q: &str, v: &str) {
    let r = locate(&mut t.master, table, row).await;
    t.region
        .mutate(mutate_req(&r, row, vec![put(f, q, v)]))
        .await
        .expect("put");
}

pub fn get_req(region: &pb::RegionRef, row: &str) -> pb::GetRequest {
    pb::GetRequest {
        region: Some(region.clone()),
        row: b(row),
        ..Default::default()
    }
}

/// Locates `row` and reads one value.
pub async fn get_value(
    t: &mut TestServer,
    table: &str,
    row: &str,
    f: &str,
    q: &str,
) -> Option<String> {
    let r = locate(&mut t.master, table, row).await;
    let resp = t
        .region
        .get(get_req(&r, row))
        .await
        .expect("get")
        .into_inner();
    resp.row.and_then(|row| {
        row.cells
            .into_iter()
            .find(|c| c.family == f.as_bytes() && c.qualifier == q.as_bytes())
            .map(|c| s(&c.value))
    })
}

pub fn scan_req(region: &pb::RegionRef) -> pb::ScanRequest {
    pb::ScanRequest {
        region: Some(region.clone()),
        ..Default::default()
    }
}

/// Runs a scan to its end; returns the rows and the number of messages.
pub async fn scan_all(
    c: &mut Region,
    req: pb::ScanRequest,
) -> Result<(Vec<pb::Row>, usize), tonic::Status> {
    let mut stream = c.scan(req).await?.into_inner();
    let (mut rows, mut messages) = (Vec::new(), 0);
    while let Some(msg) = stream.message().await? {
        messages += 1;
        rows.extend(msg.rows);
    }
    Ok((rows, messages))
}

pub fn row_keys(rows: &[pb::Row]) -> Vec<String> {
    rows.iter().map(|r| s(&r.row)).collect()
}

/// Scans every region of `table` in order (the client stitches regions the same way).
pub async fn scan_table(t: &mut TestServer, table: &str) -> Vec<pb::Row> {
    let regions = t
        .master
        .describe_table(pb::DescribeTableRequest { name: table.into() })
        .await
        .expect("describe")
        .into_inner()
        .regions;
    let mut rows = Vec::new();
    for loc in regions {
        let r = pb::RegionRef {
            table: loc.table,
            region_id: loc.region_id,
            epoch: loc.epoch,
        };
        rows.extend(scan_all(&mut t.region, scan_req(&r)).await.expect("scan").0);
    }
    rows
}
