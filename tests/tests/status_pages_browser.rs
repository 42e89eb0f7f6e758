//! The status pages of a running `strata-server standalone` process, loaded in a real
//! headless browser (Debian's `chromium`): the region server page lists the table's
//! regions with their figures, the block cache, memstore, compaction, request and
//! configuration tables; the master page lists the server, the tables and every region
//! with its server and state. The rendered DOM is checked and a screenshot of each
//! page is saved under `target/status-pages/` (a CI artifact).
//!
//! Without a browser the test prints a note and passes, unless `STRATA_REQUIRE_BROWSER`
//! is set (CI sets it), in which case a missing browser fails it. `STRATA_CHROMIUM`
//! names the browser binary if it is not `chromium` on the PATH.

use std::path::{Path, PathBuf};
use std::time::Duration;

use strata_client::admin::FamilyDescriptor;
use strata_client::{Client, Get, Put};
use strata_tests::process::{self, ServerProcess};
use strata_tests::{create_table, http};

const TABLE: &str = "browse_t";
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

fn browser() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("STRATA_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

fn artifacts_dir() -> PathBuf {
    // The workspace's target/ (CI keeps it), whatever CARGO_TARGET_DIR says.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("status-pages")
}

/// Runs headless chromium on `url`: its DOM after rendering, and a screenshot.
fn render(browser: &Path, url: &str, screenshot: &Path) -> String {
    let profile = tempfile::tempdir().expect("browser profile dir");
    let profile_arg = format!("--user-data-dir={}", profile.path().display());
    let common = [
        "--headless",
        "--no-sandbox", // CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        profile_arg.as_str(),
    ];
    let mut dump: Vec<&str> = common.to_vec();
    dump.extend(["--dump-dom", url]);
    let out = process::run(browser, &dump, "", BROWSER_TIMEOUT);
    assert!(
        out.status.success() && out.stdout.contains("</html>"),
        "chromium --dump-dom {url} failed ({}):\n{}",
        out.status,
        out.stderr
    );
    let shot_arg = format!("--screenshot={}", screenshot.display());
    let mut shot: Vec<&str> = common.to_vec();
    shot.extend(["--window-size=1280,1800", shot_arg.as_str(), url]);
    let s = process::run(browser, &shot, "", BROWSER_TIMEOUT);
    let png = std::fs::read(screenshot).unwrap_or_default();
    assert!(
        png.starts_with(b"\x89PNG"),
        "no screenshot at {} ({}):\n{}",
        screenshot.display(),
        s.status,
        s.stderr
    );
    out.stdout
}

/// The `<table id="...">` element's HTML.
fn table<'a>(dom: &'a str, id: &str) -> &'a str {
    let open = format!("<table id=\"{id}\">");
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no table #{id} in the page:\n{dom}"));
    let end = dom[start..].find("</table>").expect("table is closed") + start;
    &dom[start..end]
}

/// Body rows of a table, each as its cells' text.
fn rows(table_html: &str) -> Vec<Vec<String>> {
    let body = table_html.split("<tbody>").nth(1).unwrap_or_default();
    body.split("<tr>")
        .skip(1)
        .map(|tr| {
            tr.split("<td")
                .skip(1)
                .map(|td| {
                    let inner = td.split_once('>').map_or("", |(_, r)| r);
                    inner.split("</td>").next().unwrap_or_default().to_string()
                })
                .collect()
        })
        .collect()
}

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
    let required = std::env::var_os("STRATA_REQUIRE_BROWSER").is_some();
    let Some(browser) = browser() else {
        assert!(
            !required,
            "STRATA_REQUIRE_BROWSER is set but no chromium was found on the PATH \
             (apt-get install -y chromium, or set STRATA_CHROMIUM)"
        );
        eprintln!("NOTE: no chromium on the PATH: status page browser check skipped");
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

    let out_dir = artifacts_dir();
    std::fs::create_dir_all(&out_dir).expect("create target/status-pages");
    let (rs_dom, master_dom, json) = tokio::task::spawn_blocking({
        let status = status.clone();
        move || {
            let rs = render(
                &browser,
                &format!("{status}/"),
                &out_dir.join("region-server.png"),
            );
            let master = render(
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
