//! The data path through gRPC: create a table with split keys, locate rows into the
//! right regions, write, read, scan, the atomic row operations, batches, admin calls
//! and table lifecycle (disable, enable, delete).

mod common;

use common::*;
use strata_proto::v1 as pb;
use strata_server::error::not_serving_details;
use tonic::Code;

#[tokio::test]
async fn rows_land_in_their_regions_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = start_in(dir.path(), |_| {}, Default::default()).await;
    let regions = create_table(&mut t.master, "users", &["info", "stats"], &["g", "p"]).await;
    assert_eq!(regions.len(), 3);
    assert!(
        regions
            .iter()
            .all(|r| r.server == t.handle.url() && r.state == "open")
    );
    assert_eq!(
        (s(&regions[1].start_row), s(&regions[1].end_row)),
        ("g".into(), "p".into())
    );

    for row in ["alice", "bob", "grace", "mallory", "peggy", "zed"] {
        put_cell(&mut t, "users", row, "info", "name", &row.to_uppercase()).await;
    }
    for (row, region) in [("alice", 0), ("grace", 1), ("p", 2), ("zed", 2)] {
        let r = locate(&mut t.master, "users", row).await;
        assert_eq!(r.region_id, regions[region].region_id, "{row}");
    }
    assert_eq!(
        get_value(&mut t, "users", "grace", "info", "name")
            .await
            .as_deref(),
        Some("GRACE")
    );
    assert_eq!(
        get_value(&mut t, "users", "nobody", "info", "name").await,
        None
    );

    // Each region scans only its own rows; stitched together they are the table.
    let middle = locate(&mut t.master, "users", "h").await;
    let (rows, _) = scan_all(&mut t.region, scan_req(&middle)).await.unwrap();
    assert_eq!(row_keys(&rows), ["grace", "mallory"]);
    // A scan starting outside the region: the client's location is stale.
    let mut req = scan_req(&middle);
    req.start_row = b("zzz");
    let e = scan_all(&mut t.region, req).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(not_serving_details(&e).is_some());
    let all = scan_table(&mut t, "users").await;
    assert_eq!(
        row_keys(&all),
        ["alice", "bob", "grace", "mallory", "peggy", "zed"]
    );

    // A row sent to the wrong region: FAILED_PRECONDITION with decodable details.
    let first = locate(&mut t.master, "users", "a").await;
    let e = t.region.get(get_req(&first, "zed")).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    let d = not_serving_details(&e).expect("NotServingRegion details");
    assert_eq!(
        (d.table.as_str(), d.region_id.as_str()),
        ("users", first.region_id.as_str())
    );
    // ...and to a region id that does not exist, or at a stale epoch.
    let mut bogus = first.clone();
    bogus.region_id = "nope".into();
    let e = t.region.get(get_req(&bogus, "a")).await.unwrap_err();
    assert_eq!(not_serving_details(&e).unwrap().region_id, "nope");
    let mut stale = first.clone();
    stale.epoch += 7;
    let e = t.region.get(get_req(&stale, "a")).await.unwrap_err();
    assert!(e.message().contains("epoch"), "{e:?}");
    t.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn scans_page_resume_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = start_in(dir.path(), |_| {}, Default::default()).await;
    create_table(&mut t.master, "t", &["f"], &[]).await;
    let r = locate(&mut t.master, "t", "a").await;
    let items: Vec<_> = (0..250)
        .map(|i| {
            mutate_req(
                &r,
                &format!("row{i:04}"),
                vec![put("f", "q", &i.to_string())],
            )
        })
        .collect();
    let resp = t
        .region
        .multi_mutate(pb::MultiMutateRequest { mutations: items })
        .await
        .unwrap()
        .into_inner();
    assert!(resp.statuses.iter().all(|s| s.code == 0));

    let (rows, messages) = scan_all(&mut t.region, scan_req(&r)).await.unwrap();
    assert_eq!(
        (rows.len(), messages),
        (250, 3),
        "default batches of 100 rows"
    );
    let mut req = scan_req(&r);
    req.batch_rows = 40;
    req.limit = 90;
    let (rows, messages) = scan_all(&mut t.region, req).await.unwrap();
    assert_eq!((rows.len(), messages), (90, 3));
    let mut req = scan_req(&r);
    req.start_row = b("row0100");
    req.start_after = true;
    req.stop_row = b("row0105");
    let (rows, _) = scan_all(&mut t.region, req).await.unwrap();
    assert_eq!(
        row_keys(&rows),
        ["row0101", "row0102", "row0103", "row0104"]
    );
    let mut req = scan_req(&r);
    req.no_cache = true;
    req.columns = vec![pb::ColumnSpec {
        family: b("f"),
        qualifiers: vec![b("q")],
    }];
    assert_eq!(scan_all(&mut t.region, req).await.unwrap().0.len(), 250);
    t.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn atomic_row_operations_and_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = start_in(dir.path(), |_| {}, Default::default()).await;
    create_table(&mut t.master, "t", &["f"], &["m"]).await;
    let a = locate(&mut t.master, "t", "a").await;
    let z = locate(&mut t.master, "t", "z").await;

    let cam = |value: Option<&str>, v: &str| pb::CheckAndMutateRequest {
        region: Some(a.clone()),
        row: b("a"),
        family: b("f"),
        qualifier: b("lock"),
        op: pb::CompareOp::Equal as i32,
        value: value.map(b),
        mutations: vec![put("f", "lock", v)],
        durability: pb::Durability::Fsync as i32,
    };
    assert!(
        t.region
            .check_and_mutate(cam(None, "one"))
            .await
            .unwrap()
            .into_inner()
            .applied
    );
    assert!(
        !t.region
            .check_and_mutate(cam(None, "two"))
            .await
            .unwrap()
            .into_inner()
            .applied
    );
    assert!(
        t.region
            .check_and_mutate(cam(Some("one"), "three"))
            .await
            .unwrap()
            .into_inner()
            .applied
    );

    let inc = |delta| pb::IncrementRequest {
        region: Some(a.clone()),
        row: b("a"),
        columns: vec![pb::ColumnIncrement {
            family: b("f"),
            qualifier: b("n"),
            delta,
        }],
        durability: 0,
    };
    t.region.increment(inc(5)).await.unwrap();
    assert_eq!(
        t.region
            .increment(inc(-2))
            .await
            .unwrap()
            .into_inner()
            .values,
        [3]
    );
    let app = pb::AppendRequest {
        region: Some(a.clone()),
        row: b("a"),
        columns: vec![pb::ColumnAppend {
            family: b("f"),
            qualifier: b("log"),
            value: b("x"),
        }],
        durability: 0,
    };
    t.region.append(app.clone()).await.unwrap();
    assert_eq!(
        t.region.append(app).await.unwrap().into_inner().values,
        [b("xx")]
    );

    // Deletes.
    let del = pb::Mutation {
        op: Some(pb::mutation::Op::DeleteColumn(pb::DeleteColumn {
            family: b("f"),
            qualifier: b("log"),
            timestamp: None,
        })),
    };
    t.region
        .mutate(mutate_req(&a, "a", vec![del]))
        .await
        .unwrap();
    assert_eq!(get_value(&mut t, "t", "a", "f", "log").await, None);
    assert_eq!(
        get_value(&mut t, "t", "a", "f", "lock").await.as_deref(),
        Some("three")
    );

    // MultiGet across regions with a per-item error (the row is in the other region).
    put_cell(&mut t, "t", "z", "f", "q", "zv").await;
    let resp = t
        .region
        .multi_get(pb::MultiGetRequest {
            gets: vec![
                get_req(&a, "a"),
                get_req(&z, "z"),
                get_req(&a, "z"),
                get_req(&a, "b"),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    let codes: Vec<i32> = resp.statuses.iter().map(|s| s.code).collect();
    assert_eq!(codes, [0, 0, Code::FailedPrecondition as i32, 0]);
    assert!(resp.results[0].row.is_some() && resp.results[1].row.is_some());
    assert!(resp.results[3].row.is_none());

    // Admin calls.
    t.region
        .flush(pb::FlushRequest {
            region: Some(a.clone()),
        })
        .await
        .unwrap();
    let status = t
        .region
        .region_status(pb::RegionStatusRequest { table: "t".into() })
        .await
        .unwrap()
        .into_inner()
        .regions;
    assert_eq!(status.len(), 2);
    assert_eq!(status[0].region_id, a.region_id);
    assert!(status[0].store_files >= 1 && status[0].memstore_bytes == 0);
    t.region
        .compact(pb::CompactRequest {
            region: Some(a.clone()),
            major: true,
        })
        .await
        .unwrap();
    assert_eq!(
        get_value(&mut t, "t", "a", "f", "n").await.map(|v| v.len()),
        Some(8)
    );
    t.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn table_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = start_in(dir.path(), |_| {}, Default::default()).await;
    create_table(&mut t.master, "t", &["f"], &["k"]).await;
    let e = t
        .master
        .create_table(pb::CreateTableRequest {
            schema: Some(pb::TableSchema {
                name: "t".into(),
                families: vec![pb::FamilySchema {
                    name: "f".into(),
                    ..Default::default()
                }],
            }),
            split_keys: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);
    put_cell(&mut t, "t", "a", "f", "q", "v").await;
    let r = locate(&mut t.master, "t", "a").await;
    let names = t
        .master
        .list_tables(pb::ListTablesRequest {})
        .await
        .unwrap()
        .into_inner()
        .names;
    assert_eq!(names, ["t"]);

    let e = t
        .master
        .delete_table(pb::DeleteTableRequest { name: "t".into() })
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Code::FailedPrecondition,
        "must disable first: {e:?}"
    );
    t.master
        .disable_table(pb::DisableTableRequest { name: "t".into() })
        .await
        .unwrap();
    let e = t.region.get(get_req(&r, "a")).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("disabled"), "{e:?}");
    let e = t
        .master
        .locate_region(pb::LocateRegionRequest {
            table: "t".into(),
            row: b("a"),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let d = t
        .master
        .describe_table(pb::DescribeTableRequest { name: "t".into() })
        .await
        .unwrap()
        .into_inner();
    assert!(!d.enabled && d.regions.iter().all(|r| r.state == "offline"));

    t.master
        .enable_table(pb::EnableTableRequest { name: "t".into() })
        .await
        .unwrap();
    assert_eq!(
        get_value(&mut t, "t", "a", "f", "q").await.as_deref(),
        Some("v")
    );
    let e = t.region.get(get_req(&r, "a")).await.unwrap_err();
    assert!(e.message().contains("epoch"), "old epoch refused: {e:?}");

    t.master
        .disable_table(pb::DisableTableRequest { name: "t".into() })
        .await
        .unwrap();
    t.master
        .delete_table(pb::DeleteTableRequest { name: "t".into() })
        .await
        .unwrap();
    assert!(!dir.path().join("tables/t").exists());
    let e = t.region.get(get_req(&r, "a")).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    create_table(&mut t.master, "t", &["f"], &[]).await;
    assert_eq!(
        get_value(&mut t, "t", "a", "f", "q").await,
        None,
        "a new, empty table"
    );
    t.handle.shutdown().await.unwrap();
}

/// A MultiMutate whose items mix fast-path writes with one that must run on the
/// blocking pool (a Delete of the latest version reads first) on the same row, with
/// fsync durability: no item waits on the batch itself, each sees the ones before it,
/// and a second batch of 200 rows is acknowledged after group commits.
#[tokio::test]
async fn multi_mutate_mixes_fast_and_deferred_items_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = start_in(dir.path(), |_| {}, Default::default()).await;
    create_table(&mut t.master, "t", &["f"], &[]).await;
    let r = locate(&mut t.master, "t", "a").await;
    let delete_latest = pb::Mutation {
        op: Some(pb::mutation::Op::Delete(pb::Delete {
            family: b("f"),
            qualifier: b("q"),
            timestamp: None,
        })),
    };
    let fsync = |mut m: pb::MutateRequest| {
        m.durability = pb::Durability::Fsync as i32;
        m
    };
    let items = vec![
        fsync(mutate_req(&r, "row", vec![put("f", "q", "v1")])),
        fsync(mutate_req(&r, "row", vec![delete_latest])),
        fsync(mutate_req(&r, "row", vec![put("f", "q2", "v2")])),
        fsync(mutate_req(&r, "other", vec![put("f", "q", "x")])),
    ];
    let resp = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        t.region
            .multi_mutate(pb::MultiMutateRequest { mutations: items }),
    )
    .await
    .expect("the batch never waits on itself")
    .unwrap()
    .into_inner();
    assert!(
        resp.statuses.iter().all(|s| s.code == 0),
        "{:?}",
        resp.statuses
    );
    assert_eq!(
        get_value(&mut t, "t", "row", "f", "q").await,
        None,
        "deleted"
    );
    assert_eq!(
        get_value(&mut t, "t", "row", "f", "q2").await.as_deref(),
        Some("v2")
    );
    assert_eq!(
        get_value(&mut t, "t", "other", "f", "q").await.as_deref(),
        Some("x")
    );

    let many: Vec<_> = (0..200)
        .map(|i| {
            fsync(mutate_req(
                &r,
                &format!("m{i:03}"),
                vec![put("f", "q", &i.to_string())],
            ))
        })
        .collect();
    let resp = t
        .region
        .multi_mutate(pb::MultiMutateRequest { mutations: many })
        .await
        .unwrap()
        .into_inner();
    assert!(resp.statuses.iter().all(|s| s.code == 0));
    for i in [0, 77, 199] {
        assert_eq!(
            get_value(&mut t, "t", &format!("m{i:03}"), "f", "q").await,
            Some(i.to_string())
        );
    }
    t.handle.shutdown().await.unwrap();
}
