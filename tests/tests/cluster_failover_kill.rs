//! Kill -9 one of three region servers under a running write load: the master notices
//! the missed heartbeats, reopens the dead server's regions on the other two (replaying
//! their WALs), the writers' calls re-locate and retry inside their deadline so the
//! callers see no error, and every acknowledged write reads back afterwards.

use std::time::{Duration, Instant};

use strata_client::admin::{FamilyDescriptor, SplitAlgorithm, TableDescriptor};
use strata_tests::cluster::{Cluster, FAST, Writers, missing_rows, wait_all_open};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_a_region_server_under_load_loses_nothing() {
    let mut cluster = Cluster::start(3, FAST).await;
    let client = cluster.client().await;
    let d = TableDescriptor::new("t").family(FamilyDescriptor::new("f"));
    client
        .admin()
        .create_table_pre_split(d, 12, SplitAlgorithm::HexString)
        .await
        .expect("create");
    wait_all_open(&client, "t", None, Duration::from_secs(20)).await;

    let writers = Writers::start(&client, "t", 4, 100_000);
    writers.wait_more(200, Duration::from_secs(30)).await;

    let victim = cluster.server_url(0);
    let killed_at = Instant::now();
    cluster.kill_server(0);
    let regions = wait_all_open(&client, "t", Some(&victim), Duration::from_secs(30)).await;
    let recovered_in = killed_at.elapsed();
    assert_eq!(regions.len(), 12);
    eprintln!("regions served again {recovered_in:?} after SIGKILL (server_timeout 2 s)");

    // Writes continue on the survivors.
    writers.wait_more(200, Duration::from_secs(30)).await;
    let (acked, errors) = writers.finish().await;
    assert!(
        errors.is_empty(),
        "callers saw errors: {:?}",
        &errors[..errors.len().min(5)]
    );
    assert!(acked.len() >= 400);

    // Every acknowledged write reads back (through a fresh client too).
    let missing = missing_rows(&client, "t", &acked).await;
    assert!(
        missing.is_empty(),
        "{} acked rows missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let fresh = cluster.client().await;
    assert!(missing_rows(&fresh, "t", &acked).await.is_empty());

    let detail = client.admin().cluster_detail().await.expect("status");
    assert_eq!(detail.servers.len(), 2);
    assert_eq!(detail.dead_servers, vec![victim]);
}
