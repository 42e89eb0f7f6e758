//! Acknowledged writes survive a crash: the real `strata-server` binary takes puts,
//! batches, an increment and deletes through the Rust client with the default (fsync)
//! durability, is killed with SIGKILL (no flush, no clean close), and restarted on the
//! same port and root dir. Everything acknowledged reads back, through a fresh client
//! and through the client that talked to the dead process (its cached locations name
//! old epochs and a dead connection, so it must re-locate).

use std::time::Duration;

use strata_client::admin::FamilyDescriptor;
use strata_client::{Client, ClientConfig, Delete, Get, Put, Scan};
use strata_tests::process::ServerProcess;
use strata_tests::{create_table, poll_until, scan_rows, text};

/// Rows written one put at a time, and then as one batch.
const SINGLE_PUTS: usize = 60;
const BATCHED: usize = 100;

async fn connect(url: &str) -> Client {
    let config = ClientConfig::default()
        .operation_timeout(Duration::from_secs(20))
        .rpc_timeout(Duration::from_secs(5));
    poll_until(Duration::from_secs(30), "the server to answer", || {
        let config = config.clone();
        async move {
            let client = Client::connect_with(url, config).await.ok()?;
            client.admin().list_tables().await.ok().map(|_| client)
        }
    })
    .await
}

/// The rows the test expects after the crash: key and value.
fn expected() -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = (0..SINGLE_PUTS)
        .filter(|i| i % 10 != 3) // deleted before the crash
        .map(|i| (format!("row{i:04}"), format!("single-{i}")))
        .chain((0..BATCHED).map(|i| (format!("zbatch{i:04}"), format!("batched-{i}"))))
        .collect();
    rows.push(("counter".into(), String::new()));
    rows.sort();
    rows
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(dir.path(), "127.0.0.1:0");
    let listen = server.listen_addr().to_string();
    let old_client = connect(server.url()).await;
    let families = vec![FamilyDescriptor::new("f"), FamilyDescriptor::new("c")];
    let t = create_table(&old_client, "durable", families, &["row0030", "zbatch0050"]).await;

    for i in 0..SINGLE_PUTS {
        let put = Put::new(format!("row{i:04}")).add("f", "q", format!("single-{i}"));
        t.put(put).await.expect("put acknowledged");
    }
    let batch: Vec<Put> = (0..BATCHED)
        .map(|i| Put::new(format!("zbatch{i:04}")).add("f", "q", format!("batched-{i}")))
        .collect();
    for result in t.batch(batch).await {
        result.expect("batched put acknowledged");
    }
    for _ in 0..7 {
        t.increment("counter", "c", "n", 6)
            .await
            .expect("increment");
    }
    for i in (3..SINGLE_PUTS).step_by(10) {
        t.delete(Delete::new(format!("row{i:04}")))
            .await
            .expect("delete acknowledged");
    }

    server.kill(); // SIGKILL: nothing flushed, the WAL is all there is
    let server = poll_until(
        Duration::from_secs(30),
        "a restart on the same port",
        || {
            let (root, listen) = (dir.path().to_path_buf(), listen.clone());
            async move { ServerProcess::try_spawn(&root, &listen).ok() }
        },
    )
    .await;
    assert_eq!(server.listen_addr(), listen);

    let fresh = connect(server.url()).await;
    for (who, client) in [
        ("fresh client", &fresh),
        ("client from before the crash", &old_client),
    ] {
        let t = client.table("durable");
        let rows = scan_rows(&t, Scan::new())
            .await
            .expect("scan after restart");
        let got: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                let value = r.value("f", "q").map(|v| text(v)).unwrap_or_default();
                (text(&r.row), value)
            })
            .collect();
        assert_eq!(got, expected(), "{who}");
        let counter = t.get(Get::new("counter")).await.unwrap().unwrap();
        assert_eq!(counter.counter("c", "n"), Some(42), "{who}");
        assert_eq!(t.get(Get::new("row0013")).await.unwrap(), None, "{who}");
        let one = t.get(Get::new("row0029")).await.unwrap().unwrap();
        assert_eq!(one.value("f", "q").unwrap(), "single-29", "{who}");
    }
    // The restarted server takes new writes as usual.
    let t = old_client.table("durable");
    t.put(Put::new("row0013").add("f", "q", "again"))
        .await
        .unwrap();
    let row = fresh
        .table("durable")
        .get(Get::new("row0013"))
        .await
        .unwrap();
    assert_eq!(row.unwrap().value("f", "q").unwrap(), "again");
    drop(server); // SIGKILL again; the temp dir goes next
}
