//! Concurrent gets through one client share MultiGet calls once `coalesce_gets_after`
//! get calls are in flight, and each caller still gets exactly its own row: present,
//! absent, a column selection, several versions. The server's own counters show the
//! calls that were made (a few Gets, then MultiGets carrying the rest). Callers that
//! give up while queued or in flight leave nothing stranded: the next round completes.
//! A MultiGet whose answer is too large for the client fails as a whole, and each of
//! its gets is then resent alone and succeeds, as a plain Get would.
//!
//! The server's test hook holds every plain Get for `HOLD`, so the first gets are still
//! in flight when the others arrive; MultiGets are not held.

use std::time::Duration;

use strata_client::admin::FamilyDescriptor;
use strata_client::{Client, ClientConfig, Get, Put, Row};
use strata_server::region_server::TestHooks;
use strata_tests::prom::Exposition;
use strata_tests::{TestServer, create_table};

const TABLE: &str = "coalesce_t";
const ROWS: usize = 12;
/// How long the server holds each plain Get.
const HOLD: Duration = Duration::from_millis(400);
/// Get calls in flight before gets queue.
const AFTER: usize = 3;
/// Concurrent gets per round.
const GETS: usize = 24;

fn requests(m: &Exposition, rpc: &str) -> f64 {
    m.value_or_zero("strata_rpc_requests_total", &[("rpc", rpc)])
}

/// What a get must return.
type Check = Box<dyn Fn(Option<Row>) + Send + Sync>;

/// Get number `i` of a round, and what it must return.
fn nth_get(i: usize) -> (Get, Check) {
    let n = i % ROWS;
    let row = format!("row-{n:02}");
    match i % 4 {
        // The whole row, newest versions: two columns.
        0 => (
            Get::new(row.clone()),
            Box::new(move |r: Option<Row>| {
                let r = r.unwrap_or_else(|| panic!("{row} missing"));
                assert_eq!(r.row, row.as_bytes());
                assert_eq!(r.value("f", "a").unwrap(), format!("a{n}-v2").as_bytes());
                assert_eq!(r.value("f", "b").unwrap(), format!("b{n}").as_bytes());
                assert_eq!(r.cells.len(), 2, "{r:?}");
            }),
        ),
        // One column.
        1 => (
            Get::new(row.clone()).column("f", "b"),
            Box::new(move |r: Option<Row>| {
                let r = r.unwrap_or_else(|| panic!("{row} missing"));
                assert_eq!(r.cells.len(), 1, "{r:?}");
                assert_eq!(r.value("f", "b").unwrap(), format!("b{n}").as_bytes());
            }),
        ),
        // Two versions of one column, newest first.
        2 => (
            Get::new(row.clone()).column("f", "a").versions(2),
            Box::new(move |r: Option<Row>| {
                let r = r.unwrap_or_else(|| panic!("{row} missing"));
                let values: Vec<&[u8]> = r.cells.iter().map(|c| &c.value[..]).collect();
                assert_eq!(
                    values,
                    vec![format!("a{n}-v2").as_bytes(), format!("a{n}-v1").as_bytes()]
                );
            }),
        ),
        // A row that was never written.
        _ => (
            Get::new(format!("absent-{i}")),
            Box::new(move |r: Option<Row>| assert!(r.is_none(), "absent row found: {r:?}")),
        ),
    }
}

/// Runs `GETS` gets at once through `client` and checks each answer.
async fn round(client: &Client) {
    let table = client.table(TABLE);
    let tasks: Vec<_> = (0..GETS)
        .map(|i| {
            let table = table.clone();
            let (get, check) = nth_get(i);
            tokio::spawn(async move {
                let row = table.get(get).await.expect("get");
                check(row)
            })
        })
        .collect();
    let all = futures::future::join_all(tasks);
    for r in tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("round finished in time")
    {
        r.expect("get task");
    }
}

/// A server whose plain Gets are held for `HOLD`, with `ROWS` rows of two columns
/// (`f:a` in two versions, `f:b` in one) in `TABLE`.
async fn start_with_rows() -> TestServer {
    let hooks = TestHooks {
        get_read_delay: HOLD,
        ..TestHooks::default()
    };
    let server = TestServer::start_with_hooks(|_| {}, hooks).await;
    let admin = server.quick_client().await;
    let family = FamilyDescriptor::new("f").max_versions(3);
    let t = create_table(&admin, TABLE, vec![family], &[]).await;
    for n in 0..ROWS {
        let row = format!("row-{n:02}");
        t.put(Put::new(row.clone()).add_at("f", "a", 1, format!("a{n}-v1")))
            .await
            .expect("put");
        t.put(
            Put::new(row)
                .add_at("f", "a", 2, format!("a{n}-v2"))
                .add("f", "b", format!("b{n}")),
        )
        .await
        .expect("put");
    }
    server
}

fn config() -> ClientConfig {
    ClientConfig::default()
        .operation_timeout(Duration::from_secs(20))
        .rpc_timeout(Duration::from_secs(10))
        .coalesce_gets(AFTER, 64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_gets_share_multi_gets_and_each_gets_its_own_row() {
    let server = start_with_rows().await;

    let client = Client::connect_with(server.url(), config())
        .await
        .expect("client");
    // Fill the location cache, so the round's gets all reach the coalescer at once.
    client
        .table(TABLE)
        .get(Get::new("row-00"))
        .await
        .expect("warm-up get");
    let before = server.scrape().await;
    round(&client).await;
    let after = server.scrape().await;

    let gets = requests(&after, "get") - requests(&before, "get");
    let multi_gets = requests(&after, "multi_get") - requests(&before, "multi_get");
    // The first AFTER gets went alone and were held; everything else queued behind
    // them and left in MultiGets.
    assert!(multi_gets >= 1.0, "no MultiGet was sent ({gets} Gets)");
    assert!(
        gets >= AFTER as f64 && gets < GETS as f64,
        "{gets} Gets for {GETS} concurrent gets"
    );
    let items = after.value_or_zero(
        "strata_table_requests_total",
        &[("table", TABLE), ("kind", "read")],
    ) - before.value_or_zero(
        "strata_table_requests_total",
        &[("table", TABLE), ("kind", "read")],
    );
    assert_eq!(
        items, GETS as f64,
        "every get reached the table exactly once"
    );

    // With coalescing off, every get is its own call.
    let single = Client::connect_with(server.url(), config().coalesce_gets(0, 1))
        .await
        .expect("client");
    single
        .table(TABLE)
        .get(Get::new("row-00"))
        .await
        .expect("warm-up get");
    let before = server.scrape().await;
    round(&single).await;
    let after = server.scrape().await;
    assert_eq!(
        requests(&after, "get") - requests(&before, "get"),
        GETS as f64
    );
    assert_eq!(
        requests(&after, "multi_get") - requests(&before, "multi_get"),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_that_give_up_strand_nothing() {
    let server = start_with_rows().await;
    let client = Client::connect_with(server.url(), config())
        .await
        .expect("client");
    let table = client.table(TABLE);
    table.get(Get::new("row-00")).await.expect("warm-up get");

    // Callers with a deadline shorter than the server's hold: the in-flight Gets are
    // abandoned, and so may be the gets queued behind them.
    let impatient = table.clone();
    let tasks: Vec<_> = (0..GETS)
        .map(|i| {
            let table = impatient.clone();
            tokio::spawn(async move {
                let get = Get::new(format!("row-{:02}", i % ROWS));
                tokio::time::timeout(HOLD / 4, table.get(get)).await
            })
        })
        .collect();
    let outcomes = futures::future::join_all(tasks).await;
    let gave_up = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Err(_elapsed))))
        .count();
    assert!(gave_up >= AFTER, "{gave_up} callers gave up");

    // The abandoned calls handed their slots on: a full round still completes, with
    // the right rows.
    round(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_too_large_for_the_client_is_resent_get_by_get() {
    let server = start_with_rows().await;
    // A plain Get (its request and its answer, ~100 bytes each) fits the client's
    // 1 KiB message limit; a MultiGet of the ~20 queued gets does not, so it fails as
    // a whole, on the client, before the server sees it.
    let client = Client::connect_with(server.url(), config().max_message_bytes(1024))
        .await
        .expect("client");
    client
        .table(TABLE)
        .get(Get::new("row-00"))
        .await
        .expect("warm-up get");
    let before = server.scrape().await;
    // Every get still returns its own row (`round` checks each).
    round(&client).await;
    let after = server.scrape().await;
    // Each get of the failed batch went out again on its own: the server saw one Get
    // per get (coalescing, when it works, sends fewer; see the first test).
    assert_eq!(
        requests(&after, "get") - requests(&before, "get"),
        GETS as f64
    );
    assert_eq!(
        requests(&after, "multi_get") - requests(&before, "multi_get"),
        0.0
    );
}
