//! A client keeps working across restarts of the in-process server on the same port and
//! root dir. Its cached locations name the old epochs (and its connections the old
//! process), so its next calls are refused (FAILED_PRECONDITION) or fail to connect; it
//! must drop the stale entries, re-locate and retry transparently, including for an
//! increment, which is retried only when the server provably did not run it, and for a
//! scan interrupted half-way, which resumes after its last row.

use std::time::Duration;

use futures::StreamExt;
use strata_client::admin::FamilyDescriptor;
use strata_client::{Client, Get, Put, Scan};
use strata_tests::{TestServer, create_table, scan_keys, text};

const ROWS: usize = 30;

fn key(i: usize) -> String {
    format!("k{i:03}")
}

/// Epochs of the table's regions, in key order.
async fn epochs(client: &Client, table: &str) -> Vec<u64> {
    let description = client.admin().describe_table(table).await.unwrap();
    description.regions.iter().map(|r| r.epoch).collect()
}

async fn start() -> (TestServer, Client) {
    // A paused scan stream is an in-flight call: do not wait 30 s for it at shutdown.
    let server =
        TestServer::start_with(|c| c.server.shutdown_timeout = Duration::from_millis(500)).await;
    let client = server.quick_client().await;
    let t = create_table(
        &client,
        "moving",
        vec![FamilyDescriptor::new("f")],
        &["k010", "k020"],
    )
    .await;
    let puts: Vec<Put> = (0..ROWS)
        .map(|i| Put::new(key(i)).add("f", "q", format!("v{i}")))
        .collect();
    for r in t.batch(puts).await {
        r.unwrap();
    }
    (server, client)
}

#[tokio::test]
async fn cached_locations_are_refreshed_after_a_restart() {
    let (mut server, client) = start().await;
    let t = client.table("moving");
    // Fill the cache: one call per region.
    for i in [0, 10, 20] {
        assert!(t.get(Get::new(key(i))).await.unwrap().is_some());
    }
    let before = epochs(&client, "moving").await;

    server.restart().await;
    let observer = server.quick_client().await;
    let after = epochs(&observer, "moving").await;
    assert_eq!(after.len(), 3);
    assert!(
        before.iter().zip(&after).all(|(b, a)| a > b),
        "a restart reassigns every region with a new epoch: {before:?} -> {after:?}"
    );

    // The first call after the restart is one that is not idempotent.
    let n = t.increment(key(15), "f", "n", 1).await.expect("increment");
    assert_eq!(n, 1);
    for i in 0..ROWS {
        let row = t.get(Get::new(key(i))).await.unwrap().expect("row");
        assert_eq!(text(row.value("f", "q").unwrap()), format!("v{i}"));
    }
    let keys: Vec<String> = (0..ROWS).map(key).collect();
    assert_eq!(scan_keys(&t, Scan::new()).await, keys);
    let rows = t
        .multi_get(vec![Get::new(key(29)), Get::new(key(1))])
        .await
        .unwrap();
    assert!(rows.iter().all(Option::is_some));

    // A second restart, then a batch spanning every region first.
    server.restart().await;
    let puts: Vec<Put> = [5, 15, 25]
        .map(|i| Put::new(key(i)).add("f", "q", "new"))
        .to_vec();
    for r in t.batch(puts).await {
        r.expect("batch after restart");
    }
    let row = observer.table("moving").get(Get::new(key(25))).await;
    assert_eq!(row.unwrap().unwrap().value("f", "q").unwrap(), "new");
    server.stop().await;
}

/// Rows of the scanned table and the size of each value: together well beyond what
/// HTTP/2 flow control lets the server push ahead, so the restart cuts the stream while
/// the server is still producing it.
const WIDE_ROWS: usize = 40;
const WIDE_VALUE_BYTES: usize = 48 * 1024;

#[tokio::test]
async fn a_scan_resumes_after_a_restart_without_repeats_or_gaps() {
    let (mut server, client) = start().await;
    let t = create_table(&client, "wide", vec![FamilyDescriptor::new("f")], &[]).await;
    let puts: Vec<Put> = (0..WIDE_ROWS)
        .map(|i| Put::new(key(i)).add("f", "q", vec![i as u8; WIDE_VALUE_BYTES]))
        .collect();
    for r in t.batch(puts).await {
        r.unwrap();
    }
    let mut stream = std::pin::pin!(t.scan(Scan::new().batch_rows(1)));
    let mut seen = Vec::new();
    for _ in 0..3 {
        let row = stream.next().await.expect("a row").expect("row ok");
        seen.push(text(&row.row));
    }

    server.restart().await;
    // Bounded: at most the table's rows, then the end.
    for _ in 0..=WIDE_ROWS {
        match stream.next().await {
            Some(row) => {
                let row = row.expect("the scan resumes");
                let i = seen.len();
                assert_eq!(
                    row.value("f", "q").unwrap()[..],
                    vec![i as u8; WIDE_VALUE_BYTES]
                );
                seen.push(text(&row.row));
            }
            None => break,
        }
    }
    let keys: Vec<String> = (0..WIDE_ROWS).map(key).collect();
    assert_eq!(seen, keys);
    server.stop().await;
}
