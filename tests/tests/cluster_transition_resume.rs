//! Region transitions are persisted and resumed by a restarted master: the master is
//! stopped, its catalog is rewritten as if it had crashed in the middle of three
//! transitions (a region `closing`, one `opening`, one `offline` though still open on
//! its server), and the restarted master drives every region back to `open` without
//! losing data: the `opening` region its server still holds at that epoch is kept, the
//! `closing` one is closed and reopened, the orphan is closed on its server and
//! assigned again. In process: master and two region servers.

use std::time::Duration;

use strata_client::admin::{FamilyDescriptor, SplitAlgorithm, TableDescriptor};
use strata_client::{Client, ClientConfig};
use strata_server::cluster;
use strata_server::config::ServerConfig;
use strata_server::master::catalog::{CATALOG_FILE, Catalog, RegionState};
use strata_tests::cluster::{missing_rows, spread_key, wait_all_open};
use strata_tests::poll_until;

fn config(root: &std::path::Path) -> ServerConfig {
    let mut c = ServerConfig::for_tests(root);
    c.master.heartbeat_interval = Duration::from_millis(200);
    c.master.server_timeout = Duration::from_secs(2);
    c.master.balance_interval = Duration::ZERO;
    c
}

async fn client(url: &str) -> Client {
    let config = ClientConfig::default().operation_timeout(Duration::from_secs(20));
    poll_until(Duration::from_secs(10), "client connects", || {
        let config = config.clone();
        async move { Client::connect_with(url, config).await.ok() }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_master_resumes_interrupted_transitions() {
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
    let c = client(&url).await;
    poll_until(Duration::from_secs(10), "two servers", || async {
        let d = c.admin().cluster_detail().await.ok()?;
        (d.servers.len() == 2).then_some(())
    })
    .await;
    let d = TableDescriptor::new("t").family(FamilyDescriptor::new("f"));
    c.admin()
        .create_table_pre_split(d, 4, SplitAlgorithm::HexString)
        .await
        .expect("create");
    let before = wait_all_open(&c, "t", None, Duration::from_secs(10)).await;
    let keys: Vec<String> = (0..100).map(|i| spread_key(2, i)).collect();
    let t = c.table("t");
    for k in &keys {
        t.put(strata_client::Put::new(k.clone()).add("f", "q", k.clone()))
            .await
            .expect("put");
    }

    // Stop the master and rewrite its catalog as a crash mid-transition would leave it.
    let addr = master.local_addr();
    master.shutdown().await.expect("master stops");
    let path = dir.path().join("master").join(CATALOG_FILE);
    let mut catalog = Catalog::load(&path).unwrap().expect("catalog");
    let regions = &mut catalog.tables.get_mut("t").unwrap().regions;
    regions[0].state = RegionState::Closing;
    regions[1].state = RegionState::Opening;
    regions[2].state = RegionState::Offline;
    regions[2].server.clear();
    catalog.save(&path).unwrap();

    let mut cfg = config(dir.path());
    cfg.server.listen = addr;
    let master = poll_until(
        Duration::from_secs(10),
        "master restarts on its port",
        || {
            let cfg = cfg.clone();
            async move { cluster::start_master(cfg).await.ok() }
        },
    )
    .await;
    let c = client(&url).await;
    let after = poll_until(Duration::from_secs(20), "every region open again", || {
        let (c, before) = (&c, &before);
        async move {
            let now = c.admin().list_regions("t").await.ok()?;
            let ok = now.iter().all(|r| r.is_open())
                && now[0].epoch > before[0].epoch
                && now[2].epoch > before[2].epoch;
            ok.then_some(now)
        }
    })
    .await;
    assert_eq!(
        after[1].epoch, before[1].epoch,
        "the opening region its server held is kept"
    );
    assert_eq!(after[1].server, before[1].server);
    assert_eq!(
        after[3].epoch, before[3].epoch,
        "the untouched region is kept"
    );
    assert!(missing_rows(&c, "t", &keys).await.is_empty());
    let online = rs0.region_server().online_count() + rs1.region_server().online_count();
    assert_eq!(online, 4, "each region open exactly once");

    rs0.shutdown().await.expect("rs0 shutdown");
    rs1.shutdown().await.expect("rs1 shutdown");
    master.shutdown().await.expect("master shutdown");
}
