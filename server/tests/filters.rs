//! Server-side filters over gRPC on a small table: each kind, AND/OR lists, filters on
//! gets, and malformed filters rejected with INVALID_ARGUMENT.

mod common;

use common::*;
use pb::filter::Kind;
use strata_proto::v1 as pb;
use tonic::Code;

fn f(kind: Kind) -> pb::Filter {
    pb::Filter { kind: Some(kind) }
}

fn list(all: bool, filters: Vec<pb::Filter>) -> pb::Filter {
    let op = if all {
        pb::filter_list::Operator::MustPassAll
    } else {
        pb::filter_list::Operator::MustPassOne
    };
    f(Kind::List(pb::FilterList {
        op: op as i32,
        filters,
    }))
}

fn age(op: pb::CompareOp, v: &str, missing: bool) -> pb::Filter {
    f(Kind::SingleColumnValue(pb::SingleColumnValue {
        family: b("p"),
        qualifier: b("age"),
        op: op as i32,
        value: b(v),
        filter_if_missing: missing,
    }))
}

/// users: ann (age 31), bob (age 25), cat (no age), dan (age 40); each with name, a1, b1, b2.
async fn setup() -> (tempfile::TempDir, TestServer, pb::RegionRef) {
    let dir = tempfile::tempdir().unwrap();
    let mut t = start_in(dir.path(), |_| {}, Default::default()).await;
    create_table(&mut t.master, "users", &["p"], &[]).await;
    let r = locate(&mut t.master, "users", "a").await;
    for (row, age) in [
        ("user:ann", Some("31")),
        ("user:bob", Some("25")),
        ("user:cat", None),
        ("zz:dan", Some("40")),
    ] {
        let mut ops = vec![
            put("p", "name", row),
            put("p", "a1", "1"),
            put("p", "b1", "2"),
            put("p", "b2", "3"),
        ];
        if let Some(a) = age {
            ops.push(put("p", "age", a));
        }
        t.region.mutate(mutate_req(&r, row, ops)).await.unwrap();
    }
    (dir, t, r)
}

async fn scan(
    t: &mut TestServer,
    r: &pb::RegionRef,
    filter: pb::Filter,
    cols: Option<&[&str]>,
) -> Vec<(String, Vec<String>)> {
    let mut req = scan_req(r);
    req.filter = Some(filter);
    if let Some(qs) = cols {
        req.columns = vec![pb::ColumnSpec {
            family: b("p"),
            qualifiers: qs.iter().map(|q| b(q)).collect(),
        }];
    }
    let (rows, _) = scan_all(&mut t.region, req).await.unwrap();
    rows.into_iter()
        .map(|r| (s(&r.row), r.cells.iter().map(|c| s(&c.qualifier)).collect()))
        .collect()
}

fn keys(rows: &[(String, Vec<String>)]) -> Vec<&str> {
    rows.iter().map(|(k, _)| k.as_str()).collect()
}

#[tokio::test]
async fn each_filter_kind() {
    let (_dir, mut t, r) = setup().await;
    let rows = scan(&mut t, &r, f(Kind::RowPrefix(b("user:"))), None).await;
    assert_eq!(keys(&rows), ["user:ann", "user:bob", "user:cat"]);

    let rows = scan(&mut t, &r, f(Kind::ColumnPrefix(b("b"))), None).await;
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|(_, q)| q == &["b1", "b2"]));

    let range = pb::ColumnRange {
        min: b("a1"),
        min_inclusive: true,
        max: b("b1"),
        max_inclusive: false,
    };
    let rows = scan(&mut t, &r, f(Kind::ColumnRange(range)), None).await;
    assert!(
        rows.iter()
            .all(|(_, q)| q == &["a1", "age"] || q == &["a1"]),
        "{rows:?}"
    );

    // Single column value: HBase semantics, a missing column passes unless filter_if_missing.
    let rows = scan(&mut t, &r, age(pb::CompareOp::Greater, "30", false), None).await;
    assert_eq!(keys(&rows), ["user:ann", "user:cat", "zz:dan"]);
    let rows = scan(&mut t, &r, age(pb::CompareOp::Greater, "30", true), None).await;
    assert_eq!(keys(&rows), ["user:ann", "zz:dan"]);
    // The tested column is read though not selected, and not returned.
    let rows = scan(
        &mut t,
        &r,
        age(pb::CompareOp::LessOrEqual, "30", true),
        Some(&["name"]),
    )
    .await;
    assert_eq!(rows, [("user:bob".to_string(), vec!["name".to_string()])]);

    let mut req = scan_req(&r);
    req.filter = Some(f(Kind::KeyOnly(true)));
    let (rows, _) = scan_all(&mut t.region, req).await.unwrap();
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter()
            .flat_map(|r| &r.cells)
            .all(|c| c.value.is_empty())
    );

    let rows = scan(&mut t, &r, f(Kind::FirstKeyOnly(true)), None).await;
    assert!(rows.iter().all(|(_, q)| q.len() == 1), "{rows:?}");

    let rows = scan(&mut t, &r, f(Kind::Page(2)), None).await;
    assert_eq!(keys(&rows), ["user:ann", "user:bob"]);
    t.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn filter_lists_and_gets() {
    let (_dir, mut t, r) = setup().await;
    let and = list(
        true,
        vec![
            f(Kind::RowPrefix(b("user:"))),
            age(pb::CompareOp::Less, "30", true),
        ],
    );
    assert_eq!(keys(&scan(&mut t, &r, and, None).await), ["user:bob"]);

    let or = list(
        false,
        vec![
            age(pb::CompareOp::Equal, "40", true),
            f(Kind::RowPrefix(b("user:c"))),
        ],
    );
    assert_eq!(
        keys(&scan(&mut t, &r, or, None).await),
        ["user:cat", "zz:dan"]
    );

    let nested = list(
        true,
        vec![
            list(
                false,
                vec![f(Kind::ColumnPrefix(b("a"))), f(Kind::ColumnPrefix(b("n")))],
            ),
            f(Kind::Page(3)),
        ],
    );
    let rows = scan(&mut t, &r, nested, None).await;
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|(_, q)| q.iter().all(|q| q.starts_with('a') || q == "name"))
    );

    // A filter on a get: the row is returned filtered, or not at all.
    let mut g = get_req(&r, "user:bob");
    g.filter = Some(f(Kind::ColumnPrefix(b("b"))));
    let row = t
        .region
        .get(g.clone())
        .await
        .unwrap()
        .into_inner()
        .row
        .unwrap();
    assert_eq!(row.cells.len(), 2);
    g.filter = Some(age(pb::CompareOp::Greater, "30", true));
    assert!(t.region.get(g).await.unwrap().into_inner().row.is_none());
    t.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn malformed_filters_are_invalid_argument() {
    let (_dir, mut t, r) = setup().await;
    let mut deep = f(Kind::Page(1));
    for _ in 0..9 {
        deep = list(true, vec![deep]);
    }
    let bad_op = f(Kind::SingleColumnValue(pb::SingleColumnValue {
        family: b("p"),
        qualifier: b("age"),
        op: 99,
        value: b("1"),
        filter_if_missing: false,
    }));
    for bad in [
        list(true, vec![]),
        f(Kind::Page(0)),
        pb::Filter { kind: None },
        deep,
        bad_op,
    ] {
        let mut req = scan_req(&r);
        req.filter = Some(bad.clone());
        let e = scan_all(&mut t.region, req).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{bad:?}: {e:?}");
        let mut g = get_req(&r, "user:ann");
        g.filter = Some(bad);
        assert_eq!(
            t.region.get(g).await.unwrap_err().code(),
            Code::InvalidArgument
        );
    }
    t.handle.shutdown().await.unwrap();
}
