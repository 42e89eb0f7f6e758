//! Cluster figures (not CI tests: `#[ignore]`, run on demand, they print numbers and
//! assert only that the cluster behaved):
//!
//! - `mttr_sigkill_default_settings`: SIGKILL a region server hosting 20 regions, time
//!   until every one of them answers a read again; 10 kills, median and max, with the
//!   default `master.heartbeat_interval` (1 s) and `master.server_timeout` (6 s).
//! - `master_requests_per_10k_ops`: requests a client sends to the master per 10,000
//!   data operations after warm-up.
//! - `write_throughput_three_servers_vs_one`: the same write workload against a cluster
//!   of 3 region servers and of 1.
//!
//! ```text
//! cargo test -p strata-tests --release --test cluster_figures -- --ignored --nocapture --test-threads 1
//! ```

use std::time::{Duration, Instant};

use strata_client::admin::{FamilyDescriptor, SplitAlgorithm, TableDescriptor};
use strata_client::{Client, ClientConfig, Get, Put};
use strata_tests::cluster::{Cluster, FAST, Writers, spread_key, wait_all_open};
use strata_tests::poll_until;

async fn create(client: &Client, regions: u32) {
    let d = TableDescriptor::new("t").family(FamilyDescriptor::new("f"));
    client
        .admin()
        .create_table_pre_split(d, regions, SplitAlgorithm::HexString)
        .await
        .expect("create");
    wait_all_open(client, "t", None, Duration::from_secs(60)).await;
}

/// One row in every region (the row is the region's start, or "0" for the first).
fn region_rows(regions: &[strata_client::RegionInfo]) -> Vec<(String, String)> {
    regions
        .iter()
        .map(|r| {
            let start = String::from_utf8_lossy(&r.start_row).into_owned();
            (r.region_id.clone(), format!("{start}-probe"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "figure: takes ~2 minutes; run with --ignored --nocapture"]
async fn mttr_sigkill_default_settings() {
    const KILLS: usize = 10;
    let mut cluster = Cluster::start(3, &[]).await;
    let client = cluster.client().await;
    create(&client, 60).await;
    let probe = Client::connect_with(
        cluster.master_url(),
        ClientConfig::default()
            .operation_timeout(Duration::from_secs(60))
            .rpc_timeout(Duration::from_secs(1))
            .backoff(Duration::from_millis(10), Duration::from_millis(50))
            .max_retries(100_000),
    )
    .await
    .expect("probe client");
    // Data in every region's WAL, so the reopen replays something.
    let writers = Writers::start(&client, "t", 4, 500);
    let (acked, errors) = writers.join().await;
    assert!(errors.is_empty());
    eprintln!("{} rows written before the kills", acked.len());

    let mut mttr = Vec::new();
    let mut next_victim = 0;
    for kill in 0..KILLS {
        let regions = wait_all_open(&client, "t", None, Duration::from_secs(60)).await;
        let victim_url = cluster.server_url(next_victim);
        let hosted: Vec<_> = regions
            .iter()
            .filter(|r| r.server == victim_url)
            .cloned()
            .collect();
        assert_eq!(hosted.len(), 20, "victim hosts 20 regions");
        let rows = region_rows(&hosted);
        // Warm the probe client's cache so it names the victim, as a running client would.
        for (_, row) in &rows {
            probe
                .table("t")
                .put(Put::new(row.clone()).add("f", "q", "v"))
                .await
                .expect("warm");
        }
        let t0 = Instant::now();
        cluster.kill_server(next_victim);
        let reads = rows.iter().map(|(_, row)| {
            let t = probe.table("t");
            let row = row.clone();
            async move {
                t.get(Get::new(row))
                    .await
                    .expect("read after failover")
                    .expect("row");
                t0.elapsed()
            }
        });
        let times = futures::future::join_all(reads).await;
        let worst = times.into_iter().max().unwrap_or_default();
        eprintln!(
            "kill {}: all 20 regions served again after {:.2} s",
            kill + 1,
            worst.as_secs_f64()
        );
        mttr.push(worst);
        // Replace the dead server and rebalance to 20/20/20 for the next kill.
        let new = cluster.add_server();
        cluster.wait_live(3).await;
        poll_until(Duration::from_secs(120), "rebalanced", || async {
            client.admin().balance().await.ok()?;
            let regions = client.admin().list_regions("t").await.ok()?;
            let url = cluster.server_url(new);
            (regions
                .iter()
                .filter(|r| r.server == url && r.is_open())
                .count()
                == 20)
                .then_some(())
        })
        .await;
        next_victim = new;
    }
    mttr.sort();
    let median = (mttr[KILLS / 2 - 1] + mttr[KILLS / 2]) / 2;
    eprintln!(
        "MTTR over {KILLS} SIGKILLs (20 regions, default settings): median {:.2} s, max {:.2} s, min {:.2} s",
        median.as_secs_f64(),
        mttr[KILLS - 1].as_secs_f64(),
        mttr[0].as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "figure: run with --ignored --nocapture"]
async fn master_requests_per_10k_ops() {
    let cluster = Cluster::start(3, FAST).await;
    let client = cluster.client().await;
    create(&client, 12).await;
    let warm = Writers::start(&client, "t", 8, 250);
    let (_, errors) = warm.join().await;
    assert!(errors.is_empty());
    let before = client.master_request_count();
    let t = client.table("t");
    let ops = (0..10_000).map(|i| {
        let t = t.clone();
        async move {
            let key = spread_key(9, i);
            if i % 2 == 0 {
                t.put(Put::new(key.clone()).add("f", "q", key))
                    .await
                    .map(drop)
            } else {
                t.get(Get::new(key)).await.map(drop)
            }
        }
    });
    let results: Vec<_> = futures::stream::iter(ops)
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(results.iter().all(Result::is_ok));
    let master = client.master_request_count() - before;
    eprintln!("master requests per 10,000 data operations after warm-up: {master}");
}

async fn write_rate(servers: usize, rows_per_task: usize, tasks: usize) -> f64 {
    let cluster = Cluster::start(servers, FAST).await;
    let client = cluster.client().await;
    create(&client, 12).await;
    let warm = Writers::start(&client, "t", tasks, 100);
    let _ = warm.join().await;
    let start = Instant::now();
    let t = client.table("t");
    let ops = (0..tasks * rows_per_task).map(|i| {
        let t = t.clone();
        async move {
            let key = spread_key(7, i);
            t.put(Put::new(key.clone()).add("f", "q", key)).await
        }
    });
    let results: Vec<_> = futures::stream::iter(ops)
        .buffer_unordered(tasks)
        .collect()
        .await;
    assert!(results.iter().all(Result::is_ok));
    (tasks * rows_per_task) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "figure: run with --ignored --nocapture"]
async fn write_throughput_three_servers_vs_one() {
    const ROUNDS: usize = 3;
    let (mut one, mut three) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        one.push(write_rate(1, 1_000, 16).await);
        three.push(write_rate(3, 1_000, 16).await);
    }
    one.sort_by(f64::total_cmp);
    three.sort_by(f64::total_cmp);
    let (m1, m3) = (one[ROUNDS / 2], three[ROUNDS / 2]);
    eprintln!(
        "16 writers, 16,000 puts of ~40 B into 12 regions: 1 region server {m1:.0} puts/s {one:.0?}; \
         3 region servers {m3:.0} puts/s {three:.0?}; ratio {:.2}",
        m3 / m1
    );
}

use futures::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "figure: run with --ignored --nocapture"]
async fn move_unavailability() {
    const MOVES: usize = 10;
    let cluster = Cluster::start(2, FAST).await;
    let client = cluster.client().await;
    create(&client, 4).await;
    // Some memstore data in every region, so each close flushes.
    let (_, errors) = Writers::start(&client, "t", 4, 250).join().await;
    assert!(errors.is_empty());
    let mut took = Vec::new();
    for i in 0..MOVES {
        let regions = client.admin().list_regions("t").await.expect("meta");
        let r = &regions[i % regions.len()];
        let t0 = Instant::now();
        let moved = client
            .admin()
            .move_region("t", &r.region_id, "")
            .await
            .expect("move");
        took.push(t0.elapsed());
        assert_ne!(moved.server, r.server);
        // Refill the memstore a little for the next move of this region.
        let (_, errors) = Writers::start(&client, "t", 2, 50).join().await;
        assert!(errors.is_empty());
    }
    took.sort();
    eprintln!(
        "move (close with flush + open elsewhere), {MOVES} moves: median {:.0} ms, max {:.0} ms",
        took[MOVES / 2].as_secs_f64() * 1000.0,
        took[MOVES - 1].as_secs_f64() * 1000.0
    );
}
