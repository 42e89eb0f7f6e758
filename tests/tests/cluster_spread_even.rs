//! A 1-master, 3-region-server cluster of real processes: a table pre-split into 12
//! regions (`NUMREGIONS => 12, SPLITALGO => 'HexStringSplit'`) is spread 4/4/4, reads
//! through the client are correct, and the operator commands work: the meta listing,
//! `move`, `balance` (minimal moves), `unassign`/`assign`, `status 'detailed'`.

use std::collections::BTreeMap;
use std::time::Duration;

use strata_client::admin::{FamilyDescriptor, SplitAlgorithm, TableDescriptor};
use strata_client::{Get, Scan};
use strata_tests::cluster::{Cluster, FAST, missing_rows, spread_key, wait_all_open};
use strata_tests::scan_rows;

fn per_server(regions: &[strata_client::RegionInfo]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in regions {
        *m.entry(r.server.clone()).or_insert(0) += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_split_table_spreads_evenly_and_reads_back() {
    let cluster = Cluster::start(3, FAST).await;
    let client = cluster.client().await;
    let admin = client.admin();
    let d = TableDescriptor::new("t").family(FamilyDescriptor::new("f"));
    let created = admin
        .create_table_pre_split(d, 12, SplitAlgorithm::HexString)
        .await
        .expect("create pre-split table");
    assert_eq!(created.len(), 12);

    let regions = wait_all_open(&client, "t", None, Duration::from_secs(20)).await;
    assert_eq!(regions.len(), 12);
    let counts = per_server(&regions);
    assert_eq!(counts.len(), 3, "every server got regions: {counts:?}");
    assert!(
        counts.values().all(|&n| n == 4),
        "4 regions each: {counts:?}"
    );

    // Writes and reads through the client land in the right regions.
    let t = client.table("t");
    let keys: Vec<String> = (0..300).map(|i| spread_key(0, i)).collect();
    for k in &keys {
        t.put(strata_client::Put::new(k.clone()).add("f", "q", k.clone()))
            .await
            .expect("put");
    }
    assert!(missing_rows(&client, "t", &keys).await.is_empty());
    let rows = scan_rows(&t, Scan::new()).await.expect("scan");
    let mut sorted = keys.clone();
    sorted.sort();
    let scanned: Vec<String> = rows
        .iter()
        .map(|r| String::from_utf8_lossy(&r.row).into_owned())
        .collect();
    assert_eq!(scanned, sorted, "full scan across 12 regions on 3 servers");

    // Balanced already: nothing moves.
    assert_eq!(admin.balance().await.expect("balance"), 0);

    // Move one region to another server: it is served there, reads still work.
    let r0 = regions[0].clone();
    let target = regions
        .iter()
        .map(|r| r.server.clone())
        .find(|s| *s != r0.server)
        .expect("another server");
    let moved = admin
        .move_region("t", &r0.region_id, &target)
        .await
        .expect("move");
    assert_eq!(moved.server, target);
    assert!(moved.epoch > r0.epoch, "a move bumps the epoch");
    assert!(missing_rows(&client, "t", &keys).await.is_empty());
    let counts = per_server(&admin.list_regions("t").await.unwrap());
    let mut sizes: Vec<usize> = counts.values().copied().collect();
    sizes.sort();
    assert_eq!(sizes, vec![3, 4, 5]);

    // The balancer undoes it with exactly one move.
    assert_eq!(admin.balance().await.expect("balance"), 1);
    let counts = per_server(&admin.list_regions("t").await.unwrap());
    assert!(counts.values().all(|&n| n == 4), "{counts:?}");

    // Unassign keeps a region offline (reads of its rows fail within the deadline);
    // assign brings it back.
    let r1 = admin.list_regions("t").await.unwrap()[1].clone();
    admin
        .unassign_region("t", &r1.region_id)
        .await
        .expect("unassign");
    let listed = admin.list_regions("t").await.unwrap();
    let r1_now = listed.iter().find(|r| r.region_id == r1.region_id).unwrap();
    assert_eq!(r1_now.state, "offline");
    assert!(r1_now.server.is_empty());
    let back = admin
        .assign_region("t", &r1.region_id)
        .await
        .expect("assign");
    assert_eq!(back.state, "open");
    assert!(missing_rows(&client, "t", &keys).await.is_empty());

    // status 'detailed': three live servers, 12 regions, none in transition.
    let detail = admin.cluster_detail().await.expect("status");
    assert_eq!(detail.servers.len(), 3);
    assert_eq!(detail.regions, 12);
    assert_eq!(detail.regions_in_transition, 0);
    assert_eq!(detail.servers.iter().map(|s| s.regions).sum::<u64>(), 12);
    assert!(detail.servers.iter().any(|s| s.requests > 0));

    // A get through a fresh client works too (locates from the master).
    let fresh = cluster.client().await;
    let row = fresh
        .table("t")
        .get(Get::new(keys[7].clone()))
        .await
        .expect("get")
        .expect("row exists");
    assert_eq!(row.value("f", "q").unwrap(), keys[7].as_bytes());
}
