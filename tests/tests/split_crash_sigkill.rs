//! SIGKILL of a real `strata-server standalone` process at different moments around a
//! split under write load (before it starts, during the host's split, after the
//! commit): after each restart the catalog is consistent (regions contiguous) and a
//! full scan holds every acknowledged row exactly once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use strata_client::admin::{FamilyDescriptor, TableDescriptor};
use strata_client::{Client, ClientConfig, Put, Scan};
use strata_tests::process::ServerProcess;
use strata_tests::scan_keys;

const TABLE: &str = "c";
/// Delay between starting a split and SIGKILL, per round; the split rows per round
/// (None = the middle row).
const ROUNDS: [(u64, Option<&str>); 5] = [
    (0, None),
    (30, Some("4000")),
    (150, Some("c000")),
    (600, Some("2000")),
    (3000, Some("e000")),
];
/// Most rows one background writer puts in a round.
const MAX_ROWS_PER_ROUND: u32 = 5_000;

fn key(round: usize, i: u32) -> String {
    let h = ((round as u64) << 32 | u64::from(i)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{:04x}-{round}-{i:05}", h >> 48)
}

async fn connect(url: &str) -> Client {
    let config = ClientConfig::default()
        .operation_timeout(Duration::from_secs(3))
        .rpc_timeout(Duration::from_secs(2));
    Client::connect_with(url, config).await.expect("connect")
}

async fn spawn_server(root: std::path::PathBuf) -> ServerProcess {
    tokio::task::spawn_blocking(move || ServerProcess::spawn(&root, "127.0.0.1:0"))
        .await
        .expect("spawn task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_around_splits_loses_no_acknowledged_row() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let mut server = spawn_server(root.clone()).await;
    let client = connect(server.url()).await;
    client
        .admin()
        .create_table(
            TableDescriptor::new(TABLE).family(FamilyDescriptor::new("f")),
            vec![],
        )
        .await
        .unwrap();
    let mut acked: BTreeSet<String> = BTreeSet::new();
    let mut attempted: BTreeSet<String> = BTreeSet::new();
    for (round, (delay_ms, split_row)) in ROUNDS.iter().enumerate() {
        let client = connect(server.url()).await;
        // A base of rows, then a writer that runs until the kill.
        let base: Vec<String> = (0..300).map(|i| key(round, i)).collect();
        let puts: Vec<Put> = base
            .iter()
            .map(|k| Put::new(k.clone()).add("f", "q", vec![b'v'; 100]))
            .collect();
        for (k, r) in base.iter().zip(client.table(TABLE).batch(puts).await) {
            r.unwrap_or_else(|e| panic!("round {round}: base put {k}: {e}"));
            acked.insert(k.clone());
            attempted.insert(k.clone());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (table, stop) = (client.table(TABLE), stop.clone());
            tokio::spawn(async move {
                let (mut ok, mut tried) = (Vec::new(), Vec::new());
                for i in 300..300 + MAX_ROWS_PER_ROUND {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let k = key(round, i);
                    tried.push(k.clone());
                    match table.put(Put::new(k.clone()).add("f", "q", "w")).await {
                        Ok(()) => ok.push(k),
                        Err(_) => break,
                    }
                }
                (ok, tried)
            })
        };
        let admin = client.admin();
        let row = split_row.map(|r| Bytes::from(r.to_string()));
        let began = std::time::Instant::now();
        let split = tokio::spawn(async move {
            let r = admin.split(TABLE, row).await;
            (r, began.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(*delay_ms)).await;
        stop.store(true, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || server.kill())
            .await
            .unwrap();
        let (ok, tried) = writer.await.unwrap();
        acked.extend(ok);
        attempted.extend(tried);
        let (outcome, took) = split.await.unwrap();
        match outcome {
            Ok(_) => eprintln!(
                "round {round}: killed {delay_ms} ms after the split began; it had answered after {took:?}"
            ),
            Err(_) => eprintln!(
                "round {round}: killed {delay_ms} ms after the split began, before it answered"
            ),
        }

        server = spawn_server(root.clone()).await;
        let client = connect(server.url()).await;
        let d = client.admin().describe_table(TABLE).await.unwrap();
        let ranges: Vec<(Bytes, Bytes)> = d
            .regions
            .iter()
            .map(|r| (r.start_row.clone(), r.end_row.clone()))
            .collect();
        assert!(ranges.first().is_some_and(|r| r.0.is_empty()), "{ranges:?}");
        assert!(ranges.last().is_some_and(|r| r.1.is_empty()), "{ranges:?}");
        for w in ranges.windows(2) {
            assert_eq!(w[0].1, w[1].0, "round {round}: regions not contiguous");
        }
        let keys = scan_keys(&client.table(TABLE), Scan::new()).await;
        let unique: BTreeSet<String> = keys.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            keys.len(),
            "round {round}: a row came back twice"
        );
        let lost: Vec<&String> = acked.difference(&unique).collect();
        assert!(
            lost.is_empty(),
            "round {round}: lost acknowledged rows {lost:?}"
        );
        assert!(
            unique.is_subset(&attempted),
            "round {round}: rows nobody wrote"
        );
        // Later rounds only need what was acknowledged; unacknowledged rows that made
        // it are kept as attempted.
    }
    let regions = connect(server.url())
        .await
        .admin()
        .describe_table(TABLE)
        .await
        .unwrap()
        .regions
        .len();
    eprintln!("{regions} regions after {} rounds", ROUNDS.len());
    assert!(regions >= 2, "at least one split completed");
    server.kill();
}
