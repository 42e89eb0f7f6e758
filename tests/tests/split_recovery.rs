//! The master's split transaction after a crash: the server stopped with a split
//! recorded as `splitting` in the catalog is restarted; recovery reads the parent's
//! split marker and rolls the split forward (marker committed: the daughters replace
//! the parent) or back (marker started or absent: the parent serves again, the
//! daughters' directories are gone). Crash states are staged on disk with the storage
//! engine, between a clean stop and the restart.

use std::path::{Path, PathBuf};

use strata_client::admin::FamilyDescriptor;
use strata_client::{Put, Scan};
use strata_server::master::catalog::{CATALOG_FILE, Catalog};
use strata_server::master::split::{SplitTxn, SplitTxnState};
use strata_storage::{Engine, EngineOptions, SplitMarker, SplitState};
use strata_tests::{TestServer, create_table, scan_keys};

const ROWS: usize = 200;

fn key(i: usize) -> String {
    format!("k{i:04}")
}

/// A stopped server's data with one table of one region holding ROWS rows; returns the
/// server (stopped, restartable) and the region's directory.
async fn staged() -> (TestServer, PathBuf) {
    let mut server = TestServer::start_with(|c| {
        c.engine.region.split_check_interval = std::time::Duration::from_millis(200);
    })
    .await;
    let client = server.quick_client().await;
    let t = create_table(&client, "t", vec![FamilyDescriptor::new("f")], &[]).await;
    let puts: Vec<Put> = (0..ROWS)
        .map(|i| Put::new(key(i)).add("f", "q", "v"))
        .collect();
    for r in t.batch(puts).await {
        r.unwrap();
    }
    server.stop_keep_data().await;
    let table_dir = server.root_dir().join("tables").join("t");
    let region_dir = std::fs::read_dir(&table_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("region.meta").exists())
        .unwrap();
    (server, region_dir)
}

/// Splits the region on disk (as the host would) and records the `splitting`
/// transaction in the catalog, as if the master crashed right after the host's commit.
fn split_on_disk(root: &Path, region_dir: &Path) {
    let engine = Engine::open(EngineOptions::for_tests()).unwrap();
    let region = engine.open_region(region_dir).unwrap();
    region.split(Some(b"k0100"), "left", "right").unwrap();
    engine.shutdown();
    let path = root.join("master").join(CATALOG_FILE);
    let mut catalog = Catalog::load(&path).unwrap().unwrap();
    let parent = catalog.tables["t"].regions[0].clone();
    catalog.splits.push(SplitTxn {
        table: "t".into(),
        parent,
        left_id: "left".into(),
        right_id: "right".into(),
        state: SplitTxnState::Splitting,
    });
    catalog.save(&path).unwrap();
}

#[tokio::test]
async fn committed_split_rolls_forward() {
    let (mut server, region_dir) = staged().await;
    split_on_disk(server.root_dir(), &region_dir);
    server.start_again().await;
    let client = server.quick_client().await;
    let d = client.admin().describe_table("t").await.unwrap();
    let ids: Vec<&str> = d.regions.iter().map(|r| r.region_id.as_str()).collect();
    assert_eq!(ids, ["left", "right"]);
    assert_eq!(&d.regions[0].end_row[..], b"k0100");
    let keys: Vec<String> = (0..ROWS).map(key).collect();
    assert_eq!(scan_keys(&client.table("t"), Scan::new()).await, keys);
    // Writes land in the daughters; the parent goes once they compacted.
    let t = client.table("t");
    t.put(Put::new("k0050x").add("f", "q", "new"))
        .await
        .unwrap();
    client.admin().major_compact("t").await.unwrap();
    strata_tests::poll_until(std::time::Duration::from_secs(30), "parent removal", || {
        let gone = !region_dir.exists();
        async move { gone.then_some(()) }
    })
    .await;
    assert_eq!(scan_keys(&t, Scan::new()).await.len(), ROWS + 1);
    server.stop().await;
}

#[tokio::test]
async fn uncommitted_split_rolls_back() {
    let (mut server, region_dir) = staged().await;
    split_on_disk(server.root_dir(), &region_dir);
    // The crash came before the commit point.
    let mut marker = SplitMarker::load(&region_dir).unwrap().unwrap();
    marker.state = SplitState::Started;
    marker.save(&region_dir).unwrap();
    server.start_again().await;
    let client = server.quick_client().await;
    let d = client.admin().describe_table("t").await.unwrap();
    assert_eq!(d.regions.len(), 1);
    let table_dir = region_dir.parent().unwrap();
    assert!(!table_dir.join("left").exists() && !table_dir.join("right").exists());
    let keys: Vec<String> = (0..ROWS).map(key).collect();
    assert_eq!(scan_keys(&client.table("t"), Scan::new()).await, keys);
    // The catalog forgot the transaction; a new split works.
    let daughters = client.admin().split("t", None).await.unwrap();
    assert_eq!(daughters.len(), 2);
    assert_eq!(scan_keys(&client.table("t"), Scan::new()).await, keys);
    server.stop().await;
}
