//! Split in a real cluster (1 master, 2 region servers): the master splits a region on
//! the server hosting it through `RegionService.Split` while writers run; afterwards a
//! full scan holds every acknowledged row exactly once, the daughters are listed on
//! that server, and one daughter can be moved to the other server and still reads back.

use std::collections::BTreeSet;
use std::time::Duration;

use strata_client::Scan;
use strata_client::admin::{FamilyDescriptor, TableDescriptor};
use strata_tests::cluster::{Cluster, FAST, Writers, missing_rows, wait_all_open};
use strata_tests::scan_rows;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_under_load_in_a_cluster_and_move_a_daughter() {
    let cluster = Cluster::start(2, FAST).await;
    let client = cluster.client().await;
    let admin = client.admin();
    admin
        .create_table(
            TableDescriptor::new("t").family(FamilyDescriptor::new("f")),
            Vec::new(),
        )
        .await
        .expect("create table");
    let before = wait_all_open(&client, "t", None, Duration::from_secs(20)).await;
    assert_eq!(before.len(), 1);
    let host = before[0].server.clone();

    let writers = Writers::start(&client, "t", 3, 400);
    writers.wait_more(150, Duration::from_secs(60)).await;
    let daughters = admin.split("t", None).await.expect("split in the cluster");
    assert_eq!(daughters.len(), 2, "{daughters:?}");
    writers.wait_more(60, Duration::from_secs(60)).await;
    let (acked, errors) = writers.finish().await;
    assert!(errors.is_empty(), "writers saw errors: {errors:?}");

    let regions = wait_all_open(&client, "t", None, Duration::from_secs(20)).await;
    assert_eq!(regions.len(), 2, "the parent is replaced: {regions:?}");
    assert!(
        regions.iter().all(|r| r.server == host),
        "daughters open on the parent's server: {regions:?}"
    );
    assert_eq!(regions[0].end_row, regions[1].start_row);

    let t = client.table("t");
    let rows = scan_rows(&t, Scan::new()).await.expect("full scan");
    let scanned: Vec<String> = rows
        .iter()
        .map(|r| String::from_utf8_lossy(&r.row).into_owned())
        .collect();
    let unique: BTreeSet<&String> = scanned.iter().collect();
    assert_eq!(unique.len(), scanned.len(), "no row twice");
    let acked_set: BTreeSet<&String> = acked.iter().collect();
    assert!(
        acked_set.is_subset(&unique),
        "every acknowledged row is scanned"
    );

    // The master may move a daughter: it is served elsewhere and still reads back.
    let other = (0..2)
        .map(|i| cluster.server_url(i))
        .find(|u| *u != host)
        .expect("a second server");
    let moved = admin
        .move_region("t", &regions[1].region_id, &other)
        .await
        .expect("move a daughter");
    assert_eq!(moved.server, other);
    assert!(missing_rows(&client, "t", &acked).await.is_empty());
}

/// Automatic split in a cluster: region servers report their regions' store sizes in
/// heartbeats, and the master's split chore splits the region that passed
/// `region.max_size` on the server hosting it. Every acknowledged row reads back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_past_max_size_splits_automatically_in_a_cluster() {
    let mut sets = FAST.to_vec();
    sets.extend([
        "memstore.flush_size=\"64KiB\"",
        "region.max_size=\"256KiB\"",
        "region.split_check_interval=\"100ms\"",
    ]);
    let cluster = Cluster::start(2, &sets).await;
    let client = cluster.client().await;
    let admin = client.admin();
    admin
        .create_table(
            TableDescriptor::new("auto").family(FamilyDescriptor::new("f")),
            Vec::new(),
        )
        .await
        .expect("create table");
    wait_all_open(&client, "auto", None, Duration::from_secs(20)).await;

    // 1 KiB values that lz4 cannot shrink much: 1,500 rows are ~1.5 MiB of files.
    const WRITERS: usize = 4;
    const ROWS_PER_WRITER: usize = 375;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let t = client.table("auto");
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in 0..ROWS_PER_WRITER {
                    let key = strata_tests::cluster::spread_key(w, i);
                    let value: String = (0..64u64)
                        .map(|j| {
                            let h = (i as u64 * 64 + j)
                                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                                .wrapping_add(w as u64);
                            format!("{:016x}", h)
                        })
                        .collect();
                    t.put(strata_client::Put::new(key.clone()).add("f", "q", value.clone()))
                        .await
                        .unwrap_or_else(|e| panic!("put {key}: {e}"));
                    acked.push((key, value));
                }
                acked
            })
        })
        .collect();
    let mut acked = std::collections::BTreeMap::new();
    for t in tasks {
        acked.extend(t.await.expect("writer"));
    }
    client.admin().flush("auto").await.expect("flush");
    let regions = strata_tests::poll_until(Duration::from_secs(60), "an automatic split", || {
        let admin = admin.clone();
        async move {
            let d = admin.describe_table("auto").await.ok()?;
            (d.regions.len() >= 2).then_some(d.regions)
        }
    })
    .await;
    assert!(regions.len() >= 2, "{regions:?}");
    wait_all_open(&client, "auto", None, Duration::from_secs(20)).await;
    let rows = scan_rows(&client.table("auto"), Scan::new())
        .await
        .expect("scan");
    let scanned: std::collections::BTreeMap<String, String> = rows
        .iter()
        .map(|r| {
            let v = r.value("f", "q").expect("the column");
            (
                String::from_utf8_lossy(&r.row).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect();
    assert_eq!(rows.len(), scanned.len(), "no row twice");
    assert!(
        scanned == acked,
        "every acknowledged row reads back with its value"
    );
}
