//! A region server that fenced itself while the master still counts it as live (its
//! heartbeats reached the master but the answers came back after its lease ran out, as
//! on an overloaded machine) must not leave its regions stranded: it registers again
//! reporting no regions, and the master reassigns them under new epochs. Runs the master
//! and two region servers in this process, and fences one by hand.

use std::time::Duration;

use strata_client::admin::{FamilyDescriptor, SplitAlgorithm, TableDescriptor};
use strata_client::{Client, ClientConfig};
use strata_server::cluster;
use strata_server::config::ServerConfig;
use strata_tests::cluster::{missing_rows, spread_key, wait_all_open};

fn config(root: &std::path::Path) -> ServerConfig {
    let mut c = ServerConfig::for_tests(root);
    c.master.heartbeat_interval = Duration::from_millis(200);
    c.master.server_timeout = Duration::from_secs(2);
    c.master.balance_interval = Duration::ZERO;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fenced_server_reregisters_and_its_regions_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let master = cluster::start_master(config(dir.path()))
        .await
        .expect("master");
    let url = master.url().to_string();
    let rs0 = cluster::start_region_server(config(dir.path()), &url)
        .await
        .expect("rs0");
    let rs1 = cluster::start_region_server(config(dir.path()), &url)
        .await
        .expect("rs1");
    let client = Client::connect_with(
        &url,
        ClientConfig::default().operation_timeout(Duration::from_secs(20)),
    )
    .await
    .expect("client");
    strata_tests::poll_until(Duration::from_secs(10), "two servers", || async {
        let d = client.admin().cluster_detail().await.ok()?;
        (d.servers.len() == 2).then_some(())
    })
    .await;
    let d = TableDescriptor::new("t").family(FamilyDescriptor::new("f"));
    client
        .admin()
        .create_table_pre_split(d, 4, SplitAlgorithm::HexString)
        .await
        .expect("create");
    let before = wait_all_open(&client, "t", None, Duration::from_secs(10)).await;
    let t = client.table("t");
    let keys: Vec<String> = (0..100).map(|i| spread_key(1, i)).collect();
    for k in &keys {
        t.put(strata_client::Put::new(k.clone()).add("f", "q", k.clone()))
            .await
            .expect("put");
    }

    // Fence rs0 as its watchdog would (its lease is fine: the master never declared it
    // dead, so only its re-registration can tell the master).
    assert_eq!(rs0.region_server().fence(), 2);
    assert_eq!(rs0.region_server().online_count(), 0);

    let rs0_url = rs0.url().to_string();
    let after = strata_tests::poll_until(Duration::from_secs(10), "regions reassigned", || {
        let (client, before, rs0_url) = (&client, &before, &rs0_url);
        async move {
            let now = client.admin().list_regions("t").await.ok()?;
            let moved_on = before.iter().filter(|b| b.server == *rs0_url).all(|b| {
                now.iter()
                    .any(|n| n.region_id == b.region_id && n.epoch > b.epoch && n.is_open())
            });
            (moved_on && now.iter().all(|r| r.is_open())).then_some(now)
        }
    })
    .await;
    assert_eq!(after.len(), 4);
    assert!(missing_rows(&client, "t", &keys).await.is_empty());

    rs0.shutdown().await.expect("rs0 shutdown");
    rs1.shutdown().await.expect("rs1 shutdown");
    master.shutdown().await.expect("master shutdown");
}
