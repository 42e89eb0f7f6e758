//! Bad input over gRPC gets the documented codes and changes nothing; a full server
//! turns requests away with RESOURCE_EXHAUSTED.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use strata_proto::v1 as pb;
use strata_server::region_server::TestHooks;
use strata_storage::ByteSize;
use tonic::Code;

#[tokio::test]
async fn bad_requests_get_clear_codes_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = start_in(
        dir.path(),
        |c| {
            c.engine.limits.max_value_bytes = 64 * 1024;
            c.server.max_message_size = ByteSize::mib(1);
        },
        Default::default(),
    )
    .await;
    create_table(&mut t.master, "t", &["f"], &[]).await;
    let r = locate(&mut t.master, "t", "a").await;
    put_cell(&mut t, "t", "good", "f", "q", "v").await;

    let mutate = |row: Bytes, family: &str, value: Bytes| pb::MutateRequest {
        region: Some(r.clone()),
        row,
        mutations: vec![pb::Mutation {
            op: Some(pb::mutation::Op::Put(pb::Put {
                family: b(family),
                qualifier: b("q"),
                timestamp: None,
                value,
            })),
        }],
        durability: 0,
    };
    let cases = [
        (
            "empty row",
            mutate(Bytes::new(), "f", b("v")),
            Code::InvalidArgument,
            "empty",
        ),
        (
            "40 KB row",
            mutate(Bytes::from(vec![b'r'; 40_000]), "f", b("v")),
            Code::InvalidArgument,
            "MAX_ROW_KEY_BYTES",
        ),
        (
            "unknown family",
            mutate(b("x"), "nope", b("v")),
            Code::NotFound,
            "nope",
        ),
        (
            "oversized value",
            mutate(b("x"), "f", Bytes::from(vec![0; 100_000])),
            Code::InvalidArgument,
            "max_value_bytes",
        ),
    ];
    for (what, req, code, needle) in cases {
        let e = t.region.mutate(req).await.unwrap_err();
        assert_eq!(e.code(), code, "{what}: {e:?}");
        assert!(e.message().contains(needle), "{what}: {}", e.message());
    }
    let no_op = pb::MutateRequest {
        mutations: vec![pb::Mutation { op: None }],
        ..mutate(b("x"), "f", b("v"))
    };
    assert_eq!(
        t.region.mutate(no_op).await.unwrap_err().code(),
        Code::InvalidArgument
    );

    // Reads.
    let e = t.region.get(get_req(&r, "")).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let mut g = get_req(&r, "good");
    g.columns = vec![pb::ColumnSpec {
        family: b("nope"),
        qualifiers: vec![],
    }];
    assert_eq!(t.region.get(g).await.unwrap_err().code(), Code::NotFound);
    let mut unknown = r.clone();
    unknown.table = "no_such_table".into();
    let e = t.region.get(get_req(&unknown, "a")).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    let e = t
        .master
        .locate_region(pb::LocateRegionRequest {
            table: "no_such_table".into(),
            row: b("a"),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = t
        .region
        .get(pb::GetRequest {
            region: None,
            ..get_req(&r, "a")
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    // A message over server.max_message_size (1 MiB) is refused by tonic before it
    // reaches the engine.
    let big: Vec<_> = (0..40)
        .map(|i| mutate(b(&format!("big{i}")), "f", Bytes::from(vec![1; 60_000])))
        .collect();
    let e = t
        .region
        .multi_mutate(pb::MultiMutateRequest { mutations: big })
        .await
        .unwrap_err();
    // tonic 0.14 answers OUT_OF_RANGE ("decoded message length too large").
    assert_eq!(e.code(), Code::OutOfRange, "over max_message_size: {e:?}");
    assert!(e.message().contains("too large"), "{e:?}");

    // Bad schemas.
    let bad_family = pb::CreateTableRequest {
        schema: Some(pb::TableSchema {
            name: "u".into(),
            families: vec![pb::FamilySchema {
                name: "bad:name".into(),
                ..Default::default()
            }],
        }),
        split_keys: vec![],
    };
    assert_eq!(
        t.master.create_table(bad_family).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let unsorted = pb::CreateTableRequest {
        schema: Some(pb::TableSchema {
            name: "u".into(),
            families: vec![pb::FamilySchema {
                name: "f".into(),
                ..Default::default()
            }],
        }),
        split_keys: vec![b("m"), b("c")],
    };
    let e = t.master.create_table(unsorted).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("sorted"), "{e:?}");

    // Nothing changed.
    let rows = scan_table(&mut t, "t").await;
    assert_eq!(row_keys(&rows), ["good"]);
    let names = t
        .master
        .list_tables(pb::ListTablesRequest {})
        .await
        .unwrap()
        .into_inner()
        .names;
    assert_eq!(names, ["t"]);
    t.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn full_server_answers_resource_exhausted() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = TestHooks {
        get_delay: Duration::from_secs(2),
        ..TestHooks::default()
    };
    let mut t = start_in(
        dir.path(),
        |c| {
            c.server.max_inflight = 1;
            c.server.max_queue = 0;
        },
        hooks,
    )
    .await;
    create_table(&mut t.master, "t", &["f"], &[]).await;
    let r = locate(&mut t.master, "t", "a").await;

    let mut slow_client = t.region.clone();
    let slow_req = get_req(&r, "a");
    let slow = tokio::spawn(async move { slow_client.get(slow_req).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.handle.region_server().admission().inflight() == 0 {
        assert!(Instant::now() < deadline, "the slow get never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let e = t
        .region
        .mutate(mutate_req(&r, "a", vec![put("f", "q", "v")]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(
        e.message().contains("max_inflight=1") && e.message().contains("retry"),
        "{}",
        e.message()
    );
    assert_eq!(t.handle.region_server().admission().rejected(), 1);

    slow.await.unwrap().unwrap();
    t.region
        .mutate(mutate_req(&r, "a", vec![put("f", "q", "v")]))
        .await
        .unwrap();
    t.handle.shutdown().await.unwrap();
}
