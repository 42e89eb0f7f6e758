//! The slow-request log: a Get delayed past `server.slow_request_threshold` inside its
//! read step (a test-only hook, reachable only through the in-process test entry point)
//! is recorded with its table, region, row and phases, and shows up in `/status.json`,
//! on the status page and in the shell's `slowlog`; fast requests are not recorded.
//! With a zero threshold every request is recorded, and an fsync'd put shows its WAL
//! sync phase.

use std::time::Duration;

use strata_client::admin::FamilyDescriptor;
use strata_client::{Get, Put};
use strata_server::region_server::TestHooks;
use strata_storage::Durability;
use strata_tests::process::{self, Output};
use strata_tests::{TestServer, binaries, create_table, http};

const THRESHOLD: Duration = Duration::from_millis(100);
const READ_DELAY: Duration = Duration::from_millis(150);

async fn shell(url: &str, args: &[&str]) -> Output {
    let mut all = vec!["--master".to_string(), url.to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        process::run(
            &binaries::path(binaries::SHELL),
            &args,
            "",
            Duration::from_secs(60),
        )
    })
    .await
    .expect("shell run")
}

async fn fetch(url: String) -> http::Response {
    tokio::task::spawn_blocking(move || http::get(&url))
        .await
        .expect("fetch task")
        .expect("GET")
}

#[tokio::test]
async fn a_delayed_get_is_logged_with_its_phases() {
    let hooks = TestHooks {
        get_read_delay: READ_DELAY,
        ..TestHooks::default()
    };
    let server = TestServer::start_with_hooks(
        |c| {
            c.server.slow_request_threshold = THRESHOLD;
            c.server.slow_log_entries = 4;
        },
        hooks,
    )
    .await;
    let client = server.quick_client().await;
    let t = create_table(&client, "slow_t", vec![FamilyDescriptor::new("f")], &[]).await;
    t.put(Put::new("slow-row").add("f", "q", "v"))
        .await
        .expect("put");
    let row = t.get(Get::new("slow-row")).await.expect("get");
    assert!(row.is_some());

    let logs = client.admin().slow_log(0).await.expect("slow log");
    assert_eq!(logs.len(), 1, "{logs:?}");
    let gets: Vec<_> = logs[0]
        .entries
        .iter()
        .filter(|e| e.operation == "get")
        .collect();
    assert_eq!(gets.len(), 1, "{logs:?}");
    let e = gets[0];
    assert_eq!(
        (e.table.as_str(), e.row.as_str(), e.status.as_str()),
        ("slow_t", "slow-row", "ok")
    );
    assert!(!e.region_id.is_empty());
    let delay_us = READ_DELAY.as_micros() as u64;
    assert!(
        e.read_us >= delay_us,
        "read phase {} µs < the {delay_us} µs delay",
        e.read_us
    );
    assert!(e.duration_us >= e.read_us + e.queue_us, "{e:?}");
    assert_eq!((e.write_us, e.wal_sync_us, e.stall_us), (0, 0, 0));
    assert_eq!(logs[0].threshold_ms, 100);
    // Nothing but the delayed get passed the threshold (a put's fsync rarely might).
    assert!(
        logs[0]
            .entries
            .iter()
            .all(|e| e.operation == "get" || e.operation == "mutate")
    );

    // The ring keeps the newest slow_log_entries = 4.
    for _ in 0..5 {
        t.get(Get::new("slow-row")).await.expect("get");
    }
    let logs = client.admin().slow_log(0).await.expect("slow log");
    assert_eq!(logs[0].entries.len(), 4);
    assert!(logs[0].recorded >= 6, "{}", logs[0].recorded);
    let newest_two = client.admin().slow_log(2).await.expect("slow log");
    assert_eq!(newest_two[0].entries.len(), 2);

    // The same entries in /status.json and on the page.
    let json = fetch(format!("{}/status.json", server.status_url())).await;
    let v: serde_json::Value = serde_json::from_str(&json.body).expect("JSON");
    let slow = v["region_server"]["slow_requests"]
        .as_array()
        .expect("slow_requests");
    assert_eq!(slow.len(), 4);
    assert_eq!(slow[0]["row"], "slow-row");
    assert!(slow[0]["read_us"].as_u64() >= Some(delay_us));
    let page = fetch(format!("{}/", server.status_url())).await;
    let table = page
        .body
        .split("<table id=\"slow-requests\">")
        .nth(1)
        .expect("slow table");
    assert!(table.contains("<td>slow-row</td>") && table.contains("<td>get</td>"));

    // And in the shell.
    let out = shell(server.url(), &["exec", "slowlog 3"]).await;
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("slow request(s) over 100 ms"),
        "{}",
        out.stdout
    );
    let lines: Vec<_> = out
        .stdout
        .lines()
        .filter(|l| l.contains(" get table=slow_t"))
        .collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(
        lines[0].contains("row=\"slow-row\"") && lines[0].contains("read="),
        "{}",
        lines[0]
    );
    server.stop().await;
}

#[tokio::test]
async fn zero_threshold_records_a_put_with_its_wal_sync() {
    let server = TestServer::start_with(|c| {
        c.server.slow_request_threshold = Duration::ZERO;
        c.engine.wal.durability = Durability::Fsync;
    })
    .await;
    let client = server.quick_client().await;
    let t = create_table(&client, "sync_t", vec![FamilyDescriptor::new("f")], &[]).await;
    t.put(Put::new("synced").add("f", "q", "v"))
        .await
        .expect("put");
    let logs = client.admin().slow_log(0).await.expect("slow log");
    let put = logs[0]
        .entries
        .iter()
        .find(|e| e.operation == "mutate")
        .unwrap_or_else(|| panic!("no mutate entry: {logs:?}"));
    assert_eq!(put.row, "synced");
    assert!(
        put.wal_sync_us > 0,
        "an fsync'd put waits for its sync: {put:?}"
    );
    assert_eq!(put.read_us, 0);
    server.stop().await;
}
