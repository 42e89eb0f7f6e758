//! Restart the master during a write load: the region servers keep serving (clients
//! hold cached locations, the master is not in the data path), they re-register with the
//! new master reporting their regions, and the master recovers its state from
//! `root_dir/master/`: the same assignments at the same epochs, nothing reassigned.

use std::time::Duration;

use strata_client::admin::{FamilyDescriptor, SplitAlgorithm, TableDescriptor};
use strata_tests::cluster::{Cluster, Writers, missing_rows, wait_all_open};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_restart_does_not_interrupt_data_traffic() {
    // The default 6 s timeout (lease 5.4 s): the master's restart must fit in the lease,
    // and starting a process on a 2-core machine loaded by parallel builds can take
    // seconds. A longer outage makes servers fence themselves (docs/cluster.md).
    let sets = [
        "master.heartbeat_interval=\"200ms\"",
        "master.server_timeout=\"6s\"",
        "master.balance_interval=\"0s\"",
    ];
    let mut cluster = Cluster::start(3, &sets).await;
    let client = cluster.client().await;
    let d = TableDescriptor::new("t").family(FamilyDescriptor::new("f"));
    client
        .admin()
        .create_table_pre_split(d, 12, SplitAlgorithm::HexString)
        .await
        .expect("create");
    let before = wait_all_open(&client, "t", None, Duration::from_secs(20)).await;

    let writers = Writers::start(&client, "t", 4, 100_000);
    writers.wait_more(200, Duration::from_secs(30)).await;

    cluster.kill_master();
    // With the master down, writes keep being acknowledged.
    writers.wait_more(100, Duration::from_secs(10)).await;
    cluster.start_master().await;
    cluster.wait_live(3).await;
    writers.wait_more(200, Duration::from_secs(30)).await;

    let after = wait_all_open(&client, "t", None, Duration::from_secs(20)).await;
    let key = |r: &strata_client::RegionInfo| (r.region_id.clone(), r.server.clone(), r.epoch);
    assert_eq!(
        before.iter().map(key).collect::<Vec<_>>(),
        after.iter().map(key).collect::<Vec<_>>(),
        "the restarted master kept every assignment and epoch"
    );

    let (acked, errors) = writers.finish().await;
    assert!(
        errors.is_empty(),
        "callers saw errors: {:?}",
        &errors[..errors.len().min(5)]
    );
    assert!(missing_rows(&client, "t", &acked).await.is_empty());
    // A new client locates everything through the restarted master.
    let fresh = cluster.client().await;
    assert!(missing_rows(&fresh, "t", &acked).await.is_empty());
}
