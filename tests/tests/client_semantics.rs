//! The data model through the Rust client against the real in-process server: versions
//! and time ranges, the three delete kinds and whole-row deletes, TTL expiry, scans that
//! stitch a table of three regions (ranges, limits, prefixes), server-side filters,
//! batches with per-row outcomes and multi-gets across regions.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use strata_client::admin::FamilyDescriptor;
use strata_client::{CompareOp, Delete, Error, Filter, Get, Mutation, Put, Row, Scan, Table};
use strata_tests::{TestServer, create_table, poll_until, scan_keys, scan_rows, text};

fn timestamps(row: &Row, family: &str, qualifier: &str) -> Vec<u64> {
    row.versions(family, qualifier)
        .map(|c| c.timestamp)
        .collect()
}

fn values_empty(rows: &[Row]) -> bool {
    rows.iter()
        .flat_map(|r| &r.cells)
        .all(|c| c.value.is_empty())
}

async fn get_row(table: &Table, get: Get) -> Row {
    table.get(get).await.expect("get").expect("row exists")
}

#[tokio::test]
async fn versions_and_time_ranges() {
    let server = TestServer::start().await;
    let client = server.quick_client().await;
    let families = vec![FamilyDescriptor::new("f").max_versions(3)];
    let t = create_table(&client, "versioned", families, &[]).await;
    for ts in [100, 200, 300, 400] {
        t.put(Put::new("r").add_at("f", "q", ts, format!("v{ts}")))
            .await
            .unwrap();
    }
    let newest = get_row(&t, Get::new("r")).await;
    assert_eq!(newest.value("f", "q").unwrap(), "v400");
    assert_eq!(timestamps(&newest, "f", "q"), [400]);

    let two = get_row(&t, Get::new("r").column("f", "q").versions(2)).await;
    assert_eq!(timestamps(&two, "f", "q"), [400, 300]);
    // VERSIONS => 3: the fourth version is gone even before any compaction.
    let all = get_row(&t, Get::new("r").versions(10)).await;
    assert_eq!(timestamps(&all, "f", "q"), [400, 300, 200]);

    let range = Get::new("r").versions(3).time_range(150, 350);
    assert_eq!(timestamps(&get_row(&t, range).await, "f", "q"), [300, 200]);
    let newest_in_range = get_row(&t, Get::new("r").time_range(150, 350)).await;
    assert_eq!(newest_in_range.value("f", "q").unwrap(), "v300");
    let exact = get_row(&t, Get::new("r").timestamp(200)).await;
    assert_eq!(timestamps(&exact, "f", "q"), [200]);
    let unbounded_max = get_row(&t, Get::new("r").versions(3).time_range(300, 0)).await;
    assert_eq!(timestamps(&unbounded_max, "f", "q"), [400, 300]);
    assert_eq!(t.get(Get::new("r").time_range(500, 0)).await.unwrap(), None);

    // Scans take versions and time ranges too.
    t.put(Put::new("s").add_at("f", "q", 250, "s250"))
        .await
        .unwrap();
    let rows = scan_rows(&t, Scan::new().versions(2).time_range(200, 300))
        .await
        .unwrap();
    let seen: Vec<(String, Vec<u64>)> = rows
        .iter()
        .map(|r| (text(&r.row), timestamps(r, "f", "q")))
        .collect();
    assert_eq!(
        seen,
        [("r".to_string(), vec![200]), ("s".to_string(), vec![250])]
    );
    server.stop().await;
}

#[tokio::test]
async fn delete_kinds_and_whole_rows() {
    let server = TestServer::start().await;
    let client = server.quick_client().await;
    let families = vec![
        FamilyDescriptor::new("f").max_versions(3),
        FamilyDescriptor::new("g"),
    ];
    let t = create_table(&client, "deletes", families, &[]).await;
    let put = Put::new("r")
        .add_at("f", "a", 10, "a10")
        .add_at("f", "a", 20, "a20")
        .add_at("f", "a", 30, "a30")
        .add_at("f", "b", 10, "b10")
        .add_at("f", "b", 20, "b20")
        .add_at("g", "c", 10, "c10");
    t.put(put).await.unwrap();
    t.put(Put::new("other").add("f", "a", "keep"))
        .await
        .unwrap();

    // Delete::column: only the latest version of the column.
    t.delete(Delete::new("r").column("f", "a")).await.unwrap();
    let row = get_row(&t, Get::new("r").versions(3)).await;
    assert_eq!(timestamps(&row, "f", "a"), [20, 10]);
    assert_eq!(row.value("f", "a").unwrap(), "a20");
    assert_eq!(timestamps(&row, "f", "b"), [20, 10]);

    // Delete::columns: every version of the column.
    t.delete(Delete::new("r").columns("f", "b")).await.unwrap();
    let row = get_row(&t, Get::new("r").versions(3)).await;
    assert_eq!(timestamps(&row, "f", "b"), Vec::<u64>::new());
    assert_eq!(timestamps(&row, "f", "a"), [20, 10]);

    // Delete::family: every column of the family, the other family untouched.
    t.delete(Delete::new("r").family("f")).await.unwrap();
    let row = get_row(&t, Get::new("r").versions(3)).await;
    assert_eq!(row.cells.len(), 1, "{row:?}");
    assert_eq!(row.value("g", "c").unwrap(), "c10");

    // Delete with nothing added: the whole row (deleteall).
    t.delete(Delete::new("r")).await.unwrap();
    assert_eq!(t.get(Get::new("r").versions(3)).await.unwrap(), None);
    assert_eq!(scan_keys(&t, Scan::new()).await, ["other"]);
    let other = get_row(&t, Get::new("other")).await;
    assert_eq!(other.value("f", "a").unwrap(), "keep");
    server.stop().await;
}

#[tokio::test]
async fn ttl_expires_cells() {
    let server = TestServer::start().await;
    let client = server.quick_client().await;
    let families = vec![
        FamilyDescriptor::new("short").ttl(Duration::from_secs(2)),
        FamilyDescriptor::new("forever"),
    ];
    let t = create_table(&client, "ttl", families, &[]).await;

    // A cell stamped an hour ago is past the TTL from the start.
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let old = Put::new("old").add_at("short", "q", now_ms - 3_600_000, "stale");
    t.put(old).await.unwrap();
    assert_eq!(t.get(Get::new("old")).await.unwrap(), None);

    let written = Instant::now();
    let put = Put::new("r")
        .add("short", "q", "brief")
        .add("forever", "q", "stays");
    t.put(put).await.unwrap();
    let row = get_row(&t, Get::new("r")).await;
    assert_eq!(row.value("short", "q").unwrap(), "brief");

    poll_until(
        Duration::from_secs(15),
        "the TTL to expire the cell",
        || {
            let t = t.clone();
            async move {
                let row = t.get(Get::new("r")).await.unwrap()?;
                row.value("short", "q").is_none().then_some(row)
            }
        },
    )
    .await;
    let gone_after = written.elapsed();
    assert!(
        gone_after >= Duration::from_millis(1_900),
        "expired after {gone_after:?}, before the 2 s TTL"
    );
    let row = get_row(&t, Get::new("r")).await;
    assert_eq!(row.value("forever", "q").unwrap(), "stays");
    assert_eq!(
        scan_rows(&t, Scan::new().family("short")).await.unwrap(),
        []
    );
    server.stop().await;
}

/// Rows a1, a2, b1, ..., z2 in a table split at "g" and "n" (three regions).
async fn lettered_table(client: &strata_client::Client, name: &str) -> (Table, Vec<String>) {
    let t = create_table(client, name, vec![FamilyDescriptor::new("f")], &["g", "n"]).await;
    let keys: Vec<String> = ('a'..='z')
        .flat_map(|c| [format!("{c}1"), format!("{c}2")])
        .collect();
    let puts: Vec<Put> = keys
        .iter()
        .map(|k| Put::new(k.clone()).add("f", "q", format!("v-{k}")))
        .collect();
    for result in t.batch(puts).await {
        result.expect("batch put");
    }
    (t, keys)
}

fn from(keys: &[String], first: &str, stop: &str) -> Vec<String> {
    let in_range = |k: &&String| k.as_str() >= first && (stop.is_empty() || k.as_str() < stop);
    keys.iter().filter(in_range).cloned().collect()
}

#[tokio::test]
async fn scans_stitch_regions_with_ranges_limits_and_prefixes() {
    let server = TestServer::start().await;
    let client = server.quick_client().await;
    let (t, keys) = lettered_table(&client, "letters").await;
    let regions = client.admin().describe_table("letters").await.unwrap();
    assert_eq!(regions.regions.len(), 3);

    assert_eq!(scan_keys(&t, Scan::new()).await, keys);
    // Several messages per region.
    assert_eq!(scan_keys(&t, Scan::new().batch_rows(3)).await, keys);
    let crossing = Scan::new().start("c").stop("p");
    assert_eq!(scan_keys(&t, crossing).await, from(&keys, "c", "p"));
    let around_split = Scan::new().start("f2").stop("h1");
    assert_eq!(scan_keys(&t, around_split).await, ["f2", "g1", "g2"]);
    let open_end = Scan::new().start("x");
    assert_eq!(scan_keys(&t, open_end).await, from(&keys, "x", ""));
    assert!(
        scan_keys(&t, Scan::new().start("g1").stop("g1"))
            .await
            .is_empty()
    );

    // The limit is global across regions.
    let limited = Scan::new().start("e").limit(5);
    assert_eq!(scan_keys(&t, limited).await, ["e1", "e2", "f1", "f2", "g1"]);
    assert_eq!(scan_keys(&t, Scan::new().limit(30)).await, keys[..30]);
    let limited_small_batches = Scan::new().start("l").limit(7).batch_rows(2);
    assert_eq!(
        scan_keys(&t, limited_small_batches).await,
        keys[22..29].to_vec()
    );

    assert_eq!(scan_keys(&t, Scan::new().prefix("m")).await, ["m1", "m2"]);
    assert_eq!(scan_keys(&t, Scan::new().prefix("g2")).await, ["g2"]);
    assert_eq!(
        scan_keys(&t, Scan::new().prefix("zz")).await,
        Vec::<String>::new()
    );

    assert_eq!(t.count(Scan::new()).await.unwrap(), 52);
    assert_eq!(t.count(Scan::new().start("g").stop("n")).await.unwrap(), 14);
    let reversed = scan_rows(&t, Scan::new().start("z").stop("a")).await;
    assert!(
        matches!(reversed, Err(Error::InvalidArgument(ref m)) if m.contains("after its stop row")),
        "{reversed:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn filters_through_the_client() {
    let server = TestServer::start().await;
    let client = server.quick_client().await;
    let t = create_table(
        &client,
        "people",
        vec![FamilyDescriptor::new("info")],
        &["g", "n"],
    )
    .await;
    let people = [
        ("alice", Some("30"), "paris"),
        ("bob", Some("25"), "berlin"),
        ("carol", Some("41"), "cairo"),
        ("dave", None, "dublin"),
        ("heidi", Some("35"), "hanoi"),
        ("ivan", Some("28"), "izmir"),
        ("oscar", Some("50"), "oslo"),
        ("peggy", Some("22"), "perth"),
    ];
    for (name, age, city) in people {
        let mut put = Put::new(name)
            .add("info", "city", city)
            .add("info", "country", "xx")
            .add("info", "name", name.to_uppercase());
        if let Some(age) = age {
            put = put.add("info", "age", age);
        }
        t.put(put).await.unwrap();
    }
    let keys = |f: Filter| scan_keys(&t, Scan::new().filter(f));

    assert_eq!(keys(Filter::row_prefix("c")).await, ["carol"]);
    let by_column = scan_rows(&t, Scan::new().filter(Filter::column_prefix("c")))
        .await
        .unwrap();
    assert_eq!(by_column.len(), people.len());
    for row in &by_column {
        let qualifiers: Vec<String> = row.cells.iter().map(|c| text(&c.qualifier)).collect();
        assert_eq!(qualifiers, ["city", "country"], "{}", text(&row.row));
    }

    let at_least_30 =
        || Filter::single_column_value("info", "age", CompareOp::GreaterOrEqual, "30");
    // A row without the column passes unless filter_if_missing.
    assert_eq!(
        keys(at_least_30()).await,
        ["alice", "carol", "dave", "heidi", "oscar"]
    );
    let strict = scan_rows(
        &t,
        Scan::new().filter(at_least_30().filter_if_missing(true)),
    )
    .await
    .unwrap();
    let strict_keys: Vec<String> = strict.iter().map(|r| text(&r.row)).collect();
    assert_eq!(strict_keys, ["alice", "carol", "heidi", "oscar"]);
    assert_eq!(strict[0].cells.len(), 4, "the whole row comes back");

    let key_only = scan_rows(&t, Scan::new().filter(Filter::key_only()))
        .await
        .unwrap();
    assert_eq!(key_only.len(), people.len());
    assert!(values_empty(&key_only));

    // PageFilter counts per region, as in HBase: 2 rows from each of the 3 regions.
    assert_eq!(
        keys(Filter::page(2)).await,
        ["alice", "bob", "heidi", "ivan", "oscar", "peggy"]
    );
    assert_eq!(
        scan_keys(&t, Scan::new().filter(Filter::page(2)).limit(3)).await,
        ["alice", "bob", "heidi"]
    );

    let and = Filter::all([at_least_30().filter_if_missing(true), Filter::key_only()]);
    let rows = scan_rows(&t, Scan::new().filter(and)).await.unwrap();
    let and_keys: Vec<String> = rows.iter().map(|r| text(&r.row)).collect();
    assert_eq!(and_keys, ["alice", "carol", "heidi", "oscar"]);
    assert!(values_empty(&rows));
    let or = Filter::any([Filter::row_prefix("b"), Filter::row_prefix("o")]);
    assert_eq!(keys(or).await, ["bob", "oscar"]);
    // A prefix scan ANDs its own row-prefix filter with the one given.
    let prefixed = Scan::new().prefix("i").filter(Filter::column_prefix("n"));
    let rows = scan_rows(&t, prefixed).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].value("info", "name").unwrap(), "IVAN");
    assert_eq!(rows[0].cells.len(), 1);

    // Filters on gets.
    let row = get_row(&t, Get::new("bob").filter(Filter::column_prefix("n"))).await;
    assert_eq!(row.cells.len(), 1);
    let too_young = Filter::single_column_value("info", "age", CompareOp::Greater, "40");
    assert_eq!(
        t.get(Get::new("bob").filter(too_young)).await.unwrap(),
        None
    );
    server.stop().await;
}

#[tokio::test]
async fn batch_reports_per_row_results() {
    let server = TestServer::start().await;
    let client = server.quick_client().await;
    let t = create_table(&client, "batched", vec![FamilyDescriptor::new("f")], &["m"]).await;
    t.put(Put::new("pre").add("f", "q", "old")).await.unwrap();
    let mutations: Vec<Mutation> = vec![
        Put::new("a").add("f", "q", "1").into(),
        Put::new("b").add("nope", "q", "2").into(),
        Put::new("x").add("f", "q", "3").into(),
        Delete::new("pre").into(),
        Put::new("").add("f", "q", "4").into(),
        Put::new("y").add("f", "q", "5").into(),
    ];
    let results = t.batch(mutations).await;
    assert_eq!(results.len(), 6);
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(
        matches!(&results[1], Err(Error::NotFound(m)) if m.contains("nope")),
        "{:?}",
        results[1]
    );
    assert!(results[2].is_ok() && results[3].is_ok() && results[5].is_ok());
    assert!(
        matches!(&results[4], Err(Error::InvalidArgument(m)) if m.contains("empty")),
        "{:?}",
        results[4]
    );
    assert_eq!(scan_keys(&t, Scan::new()).await, ["a", "x", "y"]);
    server.stop().await;
}

#[tokio::test]
async fn multi_get_across_regions() {
    let server = TestServer::start().await;
    let client = server.quick_client().await;
    let (t, _) = lettered_table(&client, "multi").await;
    let wanted = ["p1", "a2", "zz", "h1", "n1", "a2"];
    let rows = t.multi_get(wanted.map(Get::new).to_vec()).await.unwrap();
    let values: Vec<Option<String>> = rows
        .iter()
        .map(|r| r.as_ref().map(|r| text(r.value("f", "q").unwrap())))
        .collect();
    let expected = wanted.map(|k| (k != "zz").then(|| format!("v-{k}")));
    assert_eq!(values, expected, "in input order, None for the missing row");
    assert_eq!(
        t.multi_get(Vec::new()).await.unwrap(),
        Vec::<Option<Row>>::new()
    );
    let bad = t
        .multi_get(vec![Get::new("a1"), Get::new("p1").family("nope")])
        .await;
    assert!(
        matches!(bad, Err(Error::NotFound(ref m)) if m.contains("nope")),
        "{bad:?}"
    );
    server.stop().await;
}
