//! Bad input through the Rust client gets the error kind a caller can act on
//! (`InvalidArgument`, `NotFound`, `AlreadyExists`, `FailedPrecondition`), at once and
//! without retries, with a message naming the limit, table or family; and it changes
//! nothing: afterwards the store holds exactly the good rows.

use std::time::{Duration, Instant};

use bytes::Bytes;
use strata_client::admin::{FamilyDescriptor, TableDescriptor};
use strata_client::{Error, Filter, Get, Put, Result, Scan};
use strata_storage::ByteSize;
use strata_tests::{TestServer, create_table, scan_keys, scan_rows};

/// Far below the client's 10 s deadline: a refused request is not retried.
const PROMPT: Duration = Duration::from_secs(3);

fn invalid<T: std::fmt::Debug>(what: &str, result: Result<T>, needle: &str) {
    match result {
        Err(Error::InvalidArgument(m)) => assert!(m.contains(needle), "{what}: {m}"),
        other => panic!("{what}: expected InvalidArgument naming {needle:?}, got {other:?}"),
    }
}

fn not_found<T: std::fmt::Debug>(what: &str, result: Result<T>, needle: &str) {
    match result {
        Err(Error::NotFound(m)) => assert!(m.contains(needle), "{what}: {m}"),
        other => panic!("{what}: expected NotFound naming {needle:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_data_calls_are_refused_and_change_nothing() {
    let server = TestServer::start_with(|c| {
        c.engine.limits.max_value_bytes = 64 * 1024;
        c.server.max_message_size = ByteSize::mib(1);
    })
    .await;
    let client = server.quick_client().await;
    let t = create_table(&client, "t", vec![FamilyDescriptor::new("f")], &["m"]).await;
    t.put(Put::new("good").add("f", "q", "v")).await.unwrap();
    t.put(Put::new("zgood").add("f", "q", "v")).await.unwrap();
    let started = Instant::now();

    // Row keys.
    invalid(
        "empty row put",
        t.put(Put::new("").add("f", "q", "v")).await,
        "empty",
    );
    invalid("empty row get", t.get(Get::new("")).await, "empty");
    let long_row = Bytes::from(vec![b'r'; 40_000]);
    let put = Put::new(long_row.clone()).add("f", "q", "v");
    invalid("40 KB row put", t.put(put).await, "MAX_ROW_KEY_BYTES");
    invalid(
        "40 KB row get",
        t.get(Get::new(long_row)).await,
        "MAX_ROW_KEY_BYTES",
    );

    // Unknown table and family.
    let missing = client.table("no_such_table");
    not_found(
        "unknown table get",
        missing.get(Get::new("a")).await,
        "no_such_table",
    );
    let put = Put::new("a").add("f", "q", "v");
    not_found("unknown table put", missing.put(put).await, "no_such_table");
    let scan = scan_rows(&missing, Scan::new()).await;
    not_found("unknown table scan", scan, "no_such_table");
    let put = Put::new("x").add("nope", "q", "v");
    not_found("unknown family put", t.put(put).await, "nope");
    let get = Get::new("good").family("nope");
    not_found("unknown family get", t.get(get).await, "nope");
    let scan = scan_rows(&t, Scan::new().column("nope", "q")).await;
    not_found("unknown family scan", scan, "nope");

    // A value over limits.max_value_bytes (64 KiB).
    let put = Put::new("x").add("f", "q", vec![7u8; 100_000]);
    invalid("oversized value", t.put(put).await, "max_value_bytes");

    // A message over server.max_message_size (1 MiB): a 2 MiB batch of values each
    // under the value limit. tonic refuses it before the engine sees it (OUT_OF_RANGE,
    // which the client reports as InvalidArgument), and every row gets that error.
    let big: Vec<Put> = (0..40)
        .map(|i| Put::new(format!("big{i:02}")).add("f", "q", vec![1u8; 50_000]))
        .collect();
    let results = t.batch(big).await;
    assert_eq!(results.len(), 40);
    for (i, r) in results.into_iter().enumerate() {
        // tonic names the limit by its value: "... the limit is: 1048576 bytes".
        invalid(&format!("2 MiB batch, row {i}"), r, "1048576");
    }

    // Malformed filters.
    let empty_and = Scan::new().filter(Filter::all([]));
    invalid("empty AND list", scan_rows(&t, empty_and).await, "empty");
    let page_zero = Scan::new().filter(Filter::page(0));
    invalid("page 0", scan_rows(&t, page_zero).await, "page");
    let get = Get::new("good").filter(Filter::any([]));
    invalid("empty OR list on a get", t.get(get).await, "empty");

    // A counter that is not 8 bytes. The message is the engine's reason alone: the
    // client's Display adds "invalid argument: " once.
    let incr = t.increment("good", "f", "q", 1).await;
    invalid(
        "increment of a 1-byte value",
        incr.clone(),
        "8-byte counter",
    );
    let shown = incr.unwrap_err().to_string();
    assert_eq!(shown.matches("invalid argument").count(), 1, "{shown}");
    assert!(
        started.elapsed() < PROMPT,
        "refusals were retried: {:?}",
        started.elapsed()
    );

    // Nothing changed.
    assert_eq!(scan_keys(&t, Scan::new()).await, ["good", "zgood"]);
    let good = t.get(Get::new("good")).await.unwrap().unwrap();
    assert_eq!(good.cells.len(), 1);
    assert_eq!(good.value("f", "q").unwrap(), "v");
    assert_eq!(client.admin().list_tables().await.unwrap(), ["t"]);
    server.stop().await;
}

#[tokio::test]
async fn bad_admin_calls_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let client = server.quick_client().await;
    let admin = client.admin();
    let t = create_table(&client, "t", vec![FamilyDescriptor::new("f")], &[]).await;
    t.put(Put::new("r").add("f", "q", "v")).await.unwrap();

    let again = TableDescriptor::new("t").family(FamilyDescriptor::new("f"));
    let result = admin.create_table(again, vec![]).await;
    assert!(
        matches!(&result, Err(Error::AlreadyExists(m)) if m.contains('t')),
        "{result:?}"
    );
    let bad_family = TableDescriptor::new("u").family(FamilyDescriptor::new("a:b"));
    invalid(
        "family with ':'",
        admin.create_table(bad_family, vec![]).await,
        "a:b",
    );
    let no_family = TableDescriptor::new("u");
    invalid(
        "no family",
        admin.create_table(no_family, vec![]).await,
        "family",
    );
    let bad_name = TableDescriptor::new("bad name!").family(FamilyDescriptor::new("f"));
    invalid(
        "bad table name",
        admin.create_table(bad_name, vec![]).await,
        "bad name!",
    );
    let dup = vec![Bytes::from("k"), Bytes::from("k")];
    let dup_splits = TableDescriptor::new("u").family(FamilyDescriptor::new("f"));
    invalid(
        "repeated split key",
        admin.create_table(dup_splits, dup).await,
        "twice",
    );

    let result = admin.delete_table("t").await;
    assert!(
        matches!(&result, Err(Error::FailedPrecondition(m)) if m.contains("disable")),
        "dropping an enabled table: {result:?}"
    );
    not_found("drop unknown", admin.delete_table("nope").await, "nope");
    not_found(
        "describe unknown",
        admin.describe_table("nope").await,
        "nope",
    );

    // A disabled table refuses data calls with a message saying so, not a retry loop,
    // also for a client that still has the table's location cached.
    let other = server.quick_client().await;
    let cached = other.table("t");
    assert!(cached.get(Get::new("r")).await.unwrap().is_some());
    admin.disable_table("t").await.unwrap();
    let started = Instant::now();
    for (who, table) in [
        ("disabling client", &t),
        ("client with a cached location", &cached),
    ] {
        let result = table.get(Get::new("r")).await;
        assert!(
            matches!(&result, Err(Error::FailedPrecondition(m)) if m.contains("disabled")),
            "{who}: get from a disabled table: {result:?}"
        );
        let result = table.put(Put::new("r2").add("f", "q", "v")).await;
        assert!(
            matches!(&result, Err(Error::FailedPrecondition(m)) if m.contains("disabled")),
            "{who}: put to a disabled table: {result:?}"
        );
    }
    assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
    admin.enable_table("t").await.unwrap();

    assert_eq!(admin.list_tables().await.unwrap(), ["t"]);
    assert_eq!(scan_keys(&t, Scan::new()).await, ["r"]);
    server.stop().await;
}
