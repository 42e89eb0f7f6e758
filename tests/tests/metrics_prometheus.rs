//! `/metrics` on the status port: the text parses strictly as Prometheus exposition,
//! and counters move by what a known workload did: N gets add exactly N to the get
//! counters (per RPC and per table, and to both latency histograms), repeated gets of
//! one flushed row hit the block cache, gets of absent rows inside the file's key range
//! probe the bloom filter, a request for an unknown table counts as a NOT_FOUND error,
//! and puts and a flush show up in the WAL, flush and store-file figures.

use strata_client::admin::FamilyDescriptor;
use strata_client::{Get, Put};
use strata_proto::v1 as pb;
use strata_proto::v1::region_service_client::RegionServiceClient;
use strata_tests::prom::Exposition;
use strata_tests::{TestServer, create_table};

const TABLE: &str = "metrics_t";
const ROWS: usize = 20;
const GETS: usize = 30;
const ABSENT_GETS: usize = 10;

async fn scrape(server: &TestServer) -> Exposition {
    server.scrape().await
}

fn delta(before: &Exposition, after: &Exposition, name: &str, labels: &[(&str, &str)]) -> f64 {
    after.value_or_zero(name, labels) - before.value_or_zero(name, labels)
}

#[tokio::test]
async fn metrics_parse_and_follow_a_known_workload() {
    let server = TestServer::start().await;
    let client = server.quick_client().await;
    let t = create_table(&client, TABLE, vec![FamilyDescriptor::new("f")], &[]).await;
    for i in 0..ROWS {
        t.put(Put::new(format!("row-{i:02}")).add("f", "q", format!("value-{i}")))
            .await
            .expect("put");
    }
    client.admin().flush(TABLE).await.expect("flush");

    let m0 = scrape(&server).await;
    for _ in 0..GETS {
        let row = t.get(Get::new("row-05")).await.expect("get");
        assert!(row.is_some());
    }
    for i in 0..ABSENT_GETS {
        // Inside the file's key range, so only the bloom filter can rule the file out.
        let row = t
            .get(Get::new(format!("row-05-absent-{i}")))
            .await
            .expect("get");
        assert!(row.is_none());
    }
    // A request naming a table that does not exist: NOT_FOUND from the region server.
    let mut raw = RegionServiceClient::connect(server.url().to_string())
        .await
        .expect("raw gRPC client");
    let err = raw
        .get(pb::GetRequest {
            region: Some(pb::RegionRef {
                table: "no_such_table".into(),
                region_id: "r".into(),
                epoch: 0,
            }),
            row: "x".into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown table");
    assert_eq!(err.code(), tonic::Code::NotFound);
    let m1 = scrape(&server).await;

    let gets = (GETS + ABSENT_GETS + 1) as f64;
    let get = [("rpc", "get")];
    assert_eq!(delta(&m0, &m1, "strata_rpc_requests_total", &get), gets);
    assert_eq!(
        delta(&m0, &m1, "strata_rpc_duration_seconds_count", &get),
        gets
    );
    assert_eq!(
        delta(
            &m0,
            &m1,
            "strata_rpc_errors_total",
            &[("rpc", "get"), ("code", "not_found")]
        ),
        1.0
    );
    let reads = [("table", TABLE), ("kind", "read")];
    let located = (GETS + ABSENT_GETS) as f64;
    assert_eq!(
        delta(&m0, &m1, "strata_table_requests_total", &reads),
        located
    );
    assert_eq!(
        delta(
            &m0,
            &m1,
            "strata_table_request_duration_seconds_count",
            &reads
        ),
        located
    );
    // Batches: their items count per table, their latency once per table they touched.
    let rows = t
        .multi_get((0..5).map(|i| Get::new(format!("row-{i:02}"))).collect())
        .await
        .expect("multi_get");
    assert!(rows.iter().all(Option::is_some));
    let results = t
        .batch(
            (0..4)
                .map(|i| Put::new(format!("batch-{i}")).add("f", "q", "v"))
                .collect(),
        )
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let m2 = scrape(&server).await;
    let writes = [("table", TABLE), ("kind", "write")];
    assert_eq!(delta(&m1, &m2, "strata_table_requests_total", &reads), 5.0);
    assert_eq!(
        delta(
            &m1,
            &m2,
            "strata_table_request_duration_seconds_count",
            &reads
        ),
        1.0,
        "one MultiGet"
    );
    assert_eq!(delta(&m1, &m2, "strata_table_requests_total", &writes), 4.0);
    assert_eq!(
        delta(
            &m1,
            &m2,
            "strata_table_request_duration_seconds_count",
            &writes
        ),
        1.0,
        "one MultiMutate"
    );

    // One block read over and over: all but (at most) the first are cache hits.
    let hits = delta(&m0, &m1, "strata_block_cache_hits_total", &[]);
    assert!(
        hits >= (GETS - 1) as f64,
        "block cache hits moved by {hits}"
    );
    assert!(m1.value("strata_block_cache_size_bytes", &[]) > 0.0);
    assert!(m1.value("strata_block_cache_hit_ratio", &[]) > 0.0);
    // Exported (one block, kept by the cache: nothing to reuse yet).
    assert!(m1.value("strata_block_cache_buffers_reused_total", &[]) >= 0.0);
    let checks = delta(&m0, &m1, "strata_bloom_checks_total", &[]);
    let useful = delta(&m0, &m1, "strata_bloom_useful_total", &[]);
    assert!(
        checks >= (GETS + ABSENT_GETS) as f64,
        "bloom checks {checks}"
    );
    // A 1 % false-positive filter: at least half of 10 absent rows are ruled out.
    assert!(useful >= (ABSENT_GETS / 2) as f64, "bloom useful {useful}");

    // The writes and the flush.
    let puts = m1.value("strata_rpc_requests_total", &[("rpc", "mutate")]);
    assert_eq!(puts, ROWS as f64);
    assert!(m1.value("strata_wal_records_total", &[]) >= ROWS as f64);
    assert!(m1.value("strata_flushes_total", &[]) >= 1.0);
    assert!(m1.value("strata_flush_duration_seconds_count", &[]) >= 1.0);
    assert!(m1.value("strata_flush_bytes_total", &[]) > 0.0);
    assert!(m1.value("strata_store_files", &[("table", TABLE), ("family", "f")]) >= 1.0);
    assert_eq!(
        m1.value("strata_region_memstore_bytes", &[("table", TABLE)]),
        0.0,
        "flushed, no writes since"
    );
    assert!(m1.value("strata_open_regions", &[]) >= 1.0);
    assert!(m1.value("strata_memstore_global_high_bytes", &[]) > 0.0);
    assert!(m1.value("process_resident_memory_bytes", &[]) > 0.0);
    assert_eq!(
        m1.types
            .get("strata_wal_sync_duration_seconds")
            .map(String::as_str),
        Some("histogram")
    );
    server.stop().await;
}
