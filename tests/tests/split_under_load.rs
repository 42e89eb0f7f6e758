//! Split under load (standalone server over loopback): writers keep putting rows while
//! regions split (manually through the admin API, and automatically past a tiny
//! `region.max_size`); the writers see no error (the client follows the daughters by
//! re-locating), and afterwards a full scan holds every acknowledged row exactly once,
//! also after a restart.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use strata_client::admin::FamilyDescriptor;
use strata_client::{Client, Get, Put, Scan};
use strata_storage::ByteSize;
use strata_tests::{TestServer, create_table, poll_until, scan_keys};

const TABLE: &str = "load";
/// Most rows one writer puts (bounds the test if the stop flag never comes).
const MAX_ROWS_PER_WRITER: u32 = 200_000;
/// Longest a writer runs.
const MAX_WRITE_TIME: Duration = Duration::from_secs(90);

/// Row keys spread over the key space (so every region gets writes): a scrambled
/// prefix, then the writer and sequence number.
fn key(writer: u32, i: u32) -> String {
    let h = (u64::from(writer) << 32 | u64::from(i)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{:04x}-{writer}-{i:06}", h >> 48)
}

/// What a writer saw: acknowledged keys, errors, its slowest batch.
type WriterOutcome = (Vec<String>, Vec<String>, Duration);

struct Writers {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<WriterOutcome>>,
}

/// Starts `n` writers, each putting its rows one by one (10 at a time in a batch),
/// recording acknowledged keys and errors.
fn start_writers(client: &Client, n: u32) -> Writers {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = (0..n)
        .map(|w| {
            let table = client.table(TABLE);
            let stop = stop.clone();
            tokio::spawn(async move {
                let (mut acked, mut errors) = (Vec::new(), Vec::new());
                let mut slowest = Duration::ZERO;
                let started = Instant::now();
                let mut i = 0;
                while i < MAX_ROWS_PER_WRITER
                    && !stop.load(Ordering::Relaxed)
                    && started.elapsed() < MAX_WRITE_TIME
                {
                    let keys: Vec<String> = (i..i + 10).map(|j| key(w, j)).collect();
                    let puts: Vec<Put> = keys
                        .iter()
                        .map(|k| Put::new(k.clone()).add("f", "q", vec![b'x'; 200]))
                        .collect();
                    let sent = Instant::now();
                    let results = table.batch(puts).await;
                    slowest = slowest.max(sent.elapsed());
                    for (k, r) in keys.into_iter().zip(results) {
                        match r {
                            Ok(()) => acked.push(k),
                            Err(e) => errors.push(format!("{k}: {e}")),
                        }
                    }
                    i += 10;
                }
                (acked, errors, slowest)
            })
        })
        .collect();
    Writers { stop, tasks }
}

impl Writers {
    /// Stops the writers; returns every acknowledged key. Fails on any writer error.
    async fn finish(self) -> BTreeSet<String> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = BTreeSet::new();
        let mut slowest = Duration::ZERO;
        for t in self.tasks {
            let (acked, errors, slow) = t.await.expect("writer task");
            slowest = slowest.max(slow);
            assert!(
                errors.is_empty(),
                "writers saw errors: {:?}",
                &errors[..errors.len().min(5)]
            );
            all.extend(acked);
        }
        // A figure, not an assertion: the longest a batch of 10 puts waited (retries
        // while a region was offline included).
        eprintln!("{} rows acknowledged; slowest batch {slowest:?}", all.len());
        all
    }
}

/// Every acknowledged row is in a full scan exactly once (the scan is sorted: a
/// duplicate would be two equal neighbours).
async fn check_scan(client: &Client, acked: &BTreeSet<String>, what: &str) {
    let keys = scan_keys(&client.table(TABLE), Scan::new()).await;
    let unique: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "{what}: a row came back twice");
    let missing: Vec<&String> = acked.iter().filter(|k| !unique.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "{what}: {} acknowledged rows lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // Writers saw no error, so nothing was written without an acknowledgement.
    assert_eq!(keys.len(), acked.len(), "{what}: unexpected extra rows");
}

/// Regions of the table: contiguous, covering every row.
async fn regions(client: &Client) -> Vec<(Bytes, Bytes)> {
    let d = client.admin().describe_table(TABLE).await.unwrap();
    let ranges: Vec<(Bytes, Bytes)> = d
        .regions
        .iter()
        .map(|r| (r.start_row.clone(), r.end_row.clone()))
        .collect();
    assert!(ranges.first().is_some_and(|r| r.0.is_empty()));
    assert!(ranges.last().is_some_and(|r| r.1.is_empty()));
    for w in ranges.windows(2) {
        assert_eq!(w[0].1, w[1].0, "regions must be contiguous: {ranges:?}");
    }
    ranges
}

async fn wait_for_rows(writers: &Writers, client: &Client, at_least: usize) {
    let _ = writers;
    let table = client.table(TABLE);
    poll_until(Duration::from_secs(30), "writers to make progress", || {
        let table = table.clone();
        async move {
            let n = table.count(Scan::new()).await.ok()?;
            (n as usize >= at_least).then_some(())
        }
    })
    .await;
}

/// True while some region directory of the table holds a split marker (a parent not
/// yet removed).
fn split_parents_left(server: &TestServer) -> usize {
    let dir = server.root_dir().join("tables").join(TABLE);
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().join("SPLIT").exists())
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_splits_under_load_lose_nothing() {
    let mut server = TestServer::start_with(|c| {
        c.engine.memstore.flush_size = ByteSize::kib(64);
        c.engine.region.split_check_interval = Duration::from_millis(100);
        c.server.shutdown_timeout = Duration::from_secs(5);
    })
    .await;
    let client = server.quick_client().await;
    create_table(&client, TABLE, vec![FamilyDescriptor::new("f")], &[]).await;
    let writers = start_writers(&client, 3);
    wait_for_rows(&writers, &client, 600).await;
    // A client whose cache names the original region, which will no longer exist.
    let stale = server.quick_client().await;
    let probe = key(0, 0);
    assert!(
        stale
            .table(TABLE)
            .get(Get::new(probe.clone()))
            .await
            .unwrap()
            .is_some()
    );

    // The whole table at its middle row, then one daughter at a given row, then a
    // region by id: all while the writers run.
    let admin = client.admin();
    let began = Instant::now();
    let daughters = admin.split(TABLE, None).await.expect("split table");
    // A figure for the docs, not an assertion: how long a split under load takes.
    eprintln!(
        "split of the whole table under load took {:?}",
        began.elapsed()
    );
    assert_eq!(daughters.len(), 2);
    assert_eq!(daughters[0].end_row, daughters[1].start_row);
    let row = Bytes::from_static(b"c000");
    let began = Instant::now();
    let d2 = admin
        .split(TABLE, Some(row.clone()))
        .await
        .expect("split at a row");
    eprintln!(
        "split of a daughter (compacting its references first) took {:?}",
        began.elapsed()
    );
    assert!(d2.iter().any(|d| d.start_row == row));
    wait_for_rows(&writers, &client, 1500).await;
    let first = regions(&client).await;
    assert_eq!(first.len(), 3, "{first:?}");
    let d = admin.describe_table(TABLE).await.unwrap();
    let by_id = admin
        .split_region(&d.regions[0].region_id, None)
        .await
        .expect("split a region by id");
    assert_eq!(by_id.len(), 2);
    // Bad requests change nothing: a row outside the region, an unknown region.
    let outside = admin
        .split_region(&by_id[0].region_id, Some(Bytes::from_static(b"ffff")))
        .await;
    assert!(outside.is_err(), "{outside:?}");
    assert!(admin.split_region("no-such-region", None).await.is_err());
    wait_for_rows(&writers, &client, 2500).await;
    let acked = writers.finish().await;
    assert_eq!(regions(&client).await.len(), 4);
    check_scan(&client, &acked, "after splits").await;

    // A fresh client (empty location cache) and a client whose cache names the parent
    // both read everything.
    check_scan(&server.quick_client().await, &acked, "fresh client").await;

    // The daughters compact their references away in the background; then the
    // janitor removes the parents.
    poll_until(
        Duration::from_secs(60),
        "split parents to be removed",
        || {
            let n = split_parents_left(&server);
            async move { (n == 0).then_some(()) }
        },
    )
    .await;
    check_scan(&client, &acked, "after parents were removed").await;
    // The stale client's first calls name a region that is gone: it re-locates.
    let st = stale.table(TABLE);
    assert!(st.get(Get::new(probe.clone())).await.unwrap().is_some());
    let last = acked.iter().next_back().unwrap().clone();
    assert!(st.get(Get::new(last)).await.unwrap().is_some());
    st.put(Put::new(probe).add("f", "q", "again"))
        .await
        .unwrap();
    check_scan(&stale, &acked, "stale client").await;

    server.restart().await;
    let after = server.quick_client().await;
    assert_eq!(regions(&after).await.len(), 4);
    check_scan(&after, &acked, "after restart").await;
    // The old client re-locates after the restart too.
    check_scan(&client, &acked, "old client after restart").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_split_past_region_max_size() {
    let mut server = TestServer::start_with(|c| {
        c.engine.memstore.flush_size = ByteSize::kib(64);
        c.engine.region.max_size = ByteSize::kib(256);
        c.engine.region.split_check_interval = Duration::from_millis(100);
        c.server.shutdown_timeout = Duration::from_secs(5);
    })
    .await;
    let client = server.quick_client().await;
    create_table(&client, TABLE, vec![FamilyDescriptor::new("f")], &[]).await;
    let writers = start_writers(&client, 2);
    let admin = client.admin();
    poll_until(Duration::from_secs(90), "an automatic split", || {
        let admin = admin.clone();
        async move {
            let d = admin.describe_table(TABLE).await.ok()?;
            (d.regions.len() >= 3).then_some(())
        }
    })
    .await;
    let acked = writers.finish().await;
    let n = regions(&client).await.len();
    assert!(n >= 3, "{n} regions");
    check_scan(&client, &acked, "after automatic splits").await;
    server.restart().await;
    check_scan(&server.quick_client().await, &acked, "after restart").await;
    server.stop().await;
}
