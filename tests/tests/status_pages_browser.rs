//! The status pages loaded in a real headless browser (Debian's `chromium`, see
//! [`strata_tests::browser`]), for a `strata-server standalone` process and for a small
//! cluster of real processes (a master and two region servers).
//!
//! Standalone: the region server page lists the table's regions with their figures, the
//! block cache, memstore, compaction, request and configuration tables; the master page
//! lists the server, the tables and every region with its server and state. Cluster:
//! the master's own status port lists both servers (linked to their pages) with their
//! heartbeat figures, every region with the server the catalog names and the figures
//! that server reported, and a killed server among the dead ones; each region server's
//! page lists the regions it serves. The rendered DOM is checked and a screenshot of
//! each page is saved under `target/status-pages/` (a CI artifact).

use std::time::Duration;

use strata_client::admin::FamilyDescriptor;
use strata_client::{Client, Get, Put};
use strata_tests::browser::{self, href, rows, table, text};
use strata_tests::cluster::{Cluster, FAST, wait_all_open};
use strata_tests::process::ServerProcess;
use strata_tests::{create_table, http, poll_until};

const TABLE: &str = "browse_t";

async fn workload(url: &str) {
    let client = Client::connect(url).await.expect("client connects");
    let t = create_table(&client, TABLE, vec![FamilyDescriptor::new("f")], &["m"]).await;
    for key in ["apple", "kiwi", "melon", "zucchini"] {
        t.put(Put::new(key).add("f", "q", "v")).await.expect("put");
        t.get(Get::new(key)).await.expect("get");
    }
    client.admin().flush(TABLE).await.expect("flush");
}

#[tokio::test]
async fn status_pages_render_in_a_headless_browser() {
    let Some(browser) = browser::find() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_path_buf();
    let server = tokio::task::spawn_blocking(move || ServerProcess::spawn(&root, "127.0.0.1:0"))
        .await
        .expect("spawn task");
    let status = server
        .status_url()
        .expect("status line names the status port")
        .to_string();
    workload(server.url()).await;

    let out_dir = browser::artifacts_dir();
    let (rs_dom, master_dom, json) = tokio::task::spawn_blocking({
        let status = status.clone();
        move || {
            let rs = browser::render(
                &browser,
                &format!("{status}/"),
                &out_dir.join("region-server.png"),
            );
            let master = browser::render(
                &browser,
                &format!("{status}/master"),
                &out_dir.join("master.png"),
            );
            let json = http::get(&format!("{status}/status.json")).expect("GET /status.json");
            (rs, master, json)
        }
    })
    .await
    .expect("browser task");

    // Region server page: both regions of the table, with their figures.
    let regions = rows(table(&rs_dom, "regions"));
    let ours: Vec<_> = regions.iter().filter(|r| r[0] == TABLE).collect();
    assert_eq!(ours.len(), 2, "two regions of {TABLE}: {regions:?}");
    assert_eq!(
        (ours[0][3].as_str(), ours[1][2].as_str()),
        ("m", "m"),
        "{ours:?}"
    );
    for r in &ours {
        assert_eq!(r[5], "1", "one store file each after the flush: {r:?}");
        assert_eq!(r[8], "2", "two writes each: {r:?}");
    }
    for id in [
        "block-cache",
        "memstore",
        "compaction",
        "requests",
        "slow-requests",
    ] {
        assert!(!rows(table(&rs_dom, id)).is_empty(), "#{id}");
    }
    let requests = rows(table(&rs_dom, "requests"));
    assert!(
        requests.iter().any(|r| r[0] == "mutate" && r[1] == "4"),
        "{requests:?}"
    );
    let config = rows(table(&rs_dom, "config"));
    let status_key = config
        .iter()
        .find(|r| r[0] == "server.status_listen")
        .expect("config lists server.status_listen");
    assert_eq!(status_key[2], "set", "{status_key:?}");
    let cache = config
        .iter()
        .find(|r| r[0] == "block_cache.size")
        .expect("block_cache.size");
    assert_eq!(cache[2], "default", "{cache:?}");

    // Master page: the server, the table, its regions and where they are served.
    let servers = rows(table(&master_dom, "servers"));
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert_eq!(servers[0][0], server.url());
    let tables = rows(table(&master_dom, "tables"));
    assert!(
        tables
            .iter()
            .any(|t| t[0] == TABLE && t[1] == "enabled" && t[3] == "2"),
        "{tables:?}"
    );
    let mregions = rows(table(&master_dom, "table-regions"));
    let ours: Vec<_> = mregions.iter().filter(|r| r[0] == TABLE).collect();
    assert_eq!(ours.len(), 2, "{mregions:?}");
    for r in &ours {
        assert_eq!(
            (r[4].as_str(), r[5].as_str()),
            (server.url(), "open"),
            "{r:?}"
        );
    }
    let rit = rows(table(&master_dom, "regions-in-transition"));
    assert!(rit.len() == 1 && rit[0][0].contains("none"), "{rit:?}");

    // The same data as JSON.
    assert_eq!(json.status, 200);
    let v: serde_json::Value = serde_json::from_str(&json.body).expect("status.json is JSON");
    let regions = v["region_server"]["regions"].as_array().expect("regions");
    assert_eq!(regions.iter().filter(|r| r["table"] == TABLE).count(), 2);
    assert_eq!(v["master"]["servers"].as_array().map(Vec::len), Some(1));
    assert!(v["region_server"]["block_cache"]["capacity_bytes"].as_u64() > Some(0));
    server.kill();
}

/// Polls the master's `/status.json` until every region of [`TABLE`] shows one store
/// file, as reported by its server's heartbeats; returns the JSON.
async fn wait_reported(status: &str) -> serde_json::Value {
    let url = format!("{status}/status.json");
    poll_until(
        Duration::from_secs(20),
        "heartbeats report the flushed files",
        || {
            let url = url.clone();
            async move {
                let body = tokio::task::spawn_blocking(move || http::get(&url))
                    .await
                    .ok()?
                    .ok()?
                    .body;
                let v: serde_json::Value = serde_json::from_str(&body).ok()?;
                let t = v["master"]["tables"]
                    .as_array()?
                    .iter()
                    .find(|t| t["name"] == TABLE)?
                    .clone();
                let regions = t["regions"].as_array()?;
                let all = regions.len() == 2 && regions.iter().all(|r| r["store_files"] == 1);
                all.then_some(v)
            }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_status_pages_render_in_a_headless_browser() {
    let Some(browser) = browser::find() else {
        return;
    };
    let mut cluster = Cluster::start(2, FAST).await;
    let master = cluster.master.as_ref().expect("master runs");
    let master_status = master
        .status_url()
        .expect("the master's status line names its status port")
        .to_string();
    let servers: Vec<(String, String)> = (0..2)
        .map(|i| {
            let p = cluster.servers[i].as_ref().expect("server runs");
            let status = p.status_url().expect("status port").to_string();
            (p.url().to_string(), status)
        })
        .collect();
    workload(&cluster.master_url()).await;
    let client = cluster.client().await;
    let placed = wait_all_open(&client, TABLE, None, Duration::from_secs(20)).await;
    assert_eq!(placed.len(), 2, "{placed:?}");
    let json = wait_reported(&master_status).await;

    let out_dir = browser::artifacts_dir();
    let (master_dom, index_dom, rs_doms) = tokio::task::spawn_blocking({
        let (master_status, servers) = (master_status.clone(), servers.clone());
        move || {
            let master = browser::render(
                &browser,
                &format!("{master_status}/master"),
                &out_dir.join("cluster-master.png"),
            );
            // A master-only process shows the master page at `/` too.
            let index = http::get(&format!("{master_status}/")).expect("GET /").body;
            let rs: Vec<String> = servers
                .iter()
                .enumerate()
                .map(|(i, (_, status))| {
                    browser::render(
                        &browser,
                        &format!("{status}/"),
                        &out_dir.join(format!("cluster-region-server-{i}.png")),
                    )
                })
                .collect();
            (master, index, rs)
        }
    })
    .await
    .expect("browser task");

    // Both servers, each linked to its own status page, with heartbeat figures.
    let rows_s = rows(table(&master_dom, "servers"));
    assert_eq!(rows_s.len(), 2, "{rows_s:?}");
    for (url, status) in &servers {
        let row = rows_s
            .iter()
            .find(|r| text(&r[0]) == *url)
            .unwrap_or_else(|| panic!("server {url} listed: {rows_s:?}"));
        assert_eq!(href(&row[0]), Some(format!("{status}/")), "{row:?}");
        assert_eq!(row[1], "1", "one region each: {row:?}");
        assert!(row[7].ends_with("ms ago"), "{row:?}");
        assert_ne!(row[3], "?", "RSS reported by heartbeat: {row:?}");
    }
    assert!(index_dom.contains("<table id=\"servers\">"), "{index_dom}");

    // Every region where the catalog says, with what its server reported.
    let tables = rows(table(&master_dom, "tables"));
    assert!(
        tables
            .iter()
            .any(|t| t[0] == TABLE && t[1] == "enabled" && t[3] == "2"),
        "{tables:?}"
    );
    let mregions = rows(table(&master_dom, "table-regions"));
    let ours: Vec<_> = mregions.iter().filter(|r| r[0] == TABLE).collect();
    assert_eq!(ours.len(), 2, "{mregions:?}");
    for (r, p) in ours.iter().zip(&placed) {
        assert_eq!(r[1], p.region_id, "{r:?}");
        assert_eq!(
            (r[4].as_str(), r[5].as_str()),
            (p.server.as_str(), "open"),
            "{r:?}"
        );
        assert_eq!(r[7], "1", "one store file after the flush: {r:?}");
        assert_ne!(r[6], "0 B", "size reported: {r:?}");
    }
    assert_ne!(
        ours[0][4], ours[1][4],
        "one region on each server: {ours:?}"
    );
    let rit = rows(table(&master_dom, "regions-in-transition"));
    assert!(rit.len() == 1 && rit[0][0].contains("none"), "{rit:?}");
    let dead = rows(table(&master_dom, "dead-servers"));
    assert!(dead.len() == 1 && dead[0][0].contains("none"), "{dead:?}");
    assert_eq!(json["master"]["servers"].as_array().map(Vec::len), Some(2));
    assert!(
        json["region_server"].is_null(),
        "a master alone has no region server view"
    );

    // Each region server's own page lists the region it serves.
    for ((url, _), dom) in servers.iter().zip(&rs_doms) {
        let regions = rows(table(dom, "regions"));
        let mine: Vec<_> = regions.iter().filter(|r| r[0] == TABLE).collect();
        let expected = placed
            .iter()
            .find(|p| p.server == *url)
            .expect("placed here");
        assert_eq!(mine.len(), 1, "{url}: {regions:?}");
        assert_eq!(mine[0][1], expected.region_id, "{url}: {mine:?}");
        assert_eq!(mine[0][5], "1", "{url}: {mine:?}");
        assert!(dom.contains(&format!("Server <b>{url}</b>")), "{url}");
    }

    // The master's /metrics; then a killed server shows up among the dead ones.
    let metrics = http::get(&format!("{master_status}/metrics")).expect("GET /metrics");
    assert!(
        metrics.body.contains("strata_master_region_servers 2"),
        "{}",
        metrics.body
    );
    cluster.kill_server(1);
    let dead_url = servers[1].0.clone();
    let page = poll_until(
        Duration::from_secs(20),
        "the killed server is declared dead",
        || {
            let url = format!("{master_status}/master");
            let dead_url = dead_url.clone();
            async move {
                let body = tokio::task::spawn_blocking(move || http::get(&url))
                    .await
                    .ok()?
                    .ok()?
                    .body;
                let dead = rows(table(&body, "dead-servers"));
                dead.iter().any(|r| r[0] == dead_url).then_some(body)
            }
        },
    )
    .await;
    let rows_s = rows(table(&page, "servers"));
    assert_eq!(rows_s.len(), 1, "only the live server remains: {rows_s:?}");
}
