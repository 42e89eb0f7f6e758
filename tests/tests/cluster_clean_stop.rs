//! A region server stopped cleanly (SIGTERM) flushes and closes its regions and tells
//! the master, which reassigns them at once: with `master.server_timeout` at 60 s, every
//! region is open on the other server long before the master could have declared the
//! stopped one dead, the stopped server is not listed as dead, and every row reads back.

use std::time::{Duration, Instant};

use strata_client::admin::{FamilyDescriptor, SplitAlgorithm, TableDescriptor};
use strata_tests::cluster::{Cluster, missing_rows, spread_key, wait_all_open};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleanly_stopped_server_hands_its_regions_over_at_once() {
    let sets = [
        "master.heartbeat_interval=\"200ms\"",
        "master.server_timeout=\"60s\"",
        "master.balance_interval=\"0s\"",
    ];
    let mut cluster = Cluster::start(2, &sets).await;
    let client = cluster.client().await;
    let d = TableDescriptor::new("t").family(FamilyDescriptor::new("f"));
    client
        .admin()
        .create_table_pre_split(d, 4, SplitAlgorithm::HexString)
        .await
        .expect("create");
    let regions = wait_all_open(&client, "t", None, Duration::from_secs(20)).await;
    let leaving = cluster.server_url(1);
    assert!(
        regions.iter().any(|r| r.server == leaving),
        "server 1 holds regions: {regions:?}"
    );
    let t = client.table("t");
    let keys: Vec<String> = (0..200).map(|i| spread_key(0, i)).collect();
    for k in &keys {
        t.put(strata_client::Put::new(k.clone()).add("f", "q", k.clone()))
            .await
            .expect("put");
    }

    let stopped = Instant::now();
    let proc = cluster.servers[1].as_mut().expect("server 1 runs");
    proc.signal("TERM");
    let status = tokio::task::block_in_place(|| proc.wait_exit(Duration::from_secs(30)))
        .expect("server 1 exits after SIGTERM");
    assert!(status.success(), "clean exit: {status:?}");
    let moved = wait_all_open(&client, "t", Some(&leaving), Duration::from_secs(30)).await;
    let took = stopped.elapsed();
    assert!(
        took < Duration::from_secs(30),
        "regions reassigned in {took:?}, long before the 60 s server timeout"
    );
    assert_eq!(moved.len(), 4);
    let detail = client
        .admin()
        .cluster_detail()
        .await
        .expect("cluster status");
    assert_eq!(detail.servers.len(), 1, "{detail:?}");
    assert!(
        !detail.dead_servers.contains(&leaving),
        "left, not dead: {detail:?}"
    );
    assert!(missing_rows(&client, "t", &keys).await.is_empty());
    eprintln!("regions reassigned {took:?} after SIGTERM");
}
