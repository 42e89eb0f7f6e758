//! `split` in the real `strata` shell against the in-process server: a table at its
//! middle row, the region holding a given row, a region by id, and the errors for a
//! row outside the region and an unknown name; the rows stay readable throughout.

use std::time::Duration;

use strata_client::admin::FamilyDescriptor;
use strata_client::{Put, Scan};
use strata_tests::process::{self, Output};
use strata_tests::{TestServer, binaries, create_table, scan_keys};

const SHELL_TIMEOUT: Duration = Duration::from_secs(60);

async fn strata(url: &str, args: &[&str]) -> Output {
    let mut all = vec!["--master".to_string(), url.to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        process::run(&binaries::path(binaries::SHELL), &args, "", SHELL_TIMEOUT)
    })
    .await
    .expect("shell run")
}

#[tokio::test]
async fn shell_splits_tables_and_regions() {
    let server = TestServer::start().await;
    let client = server.quick_client().await;
    let t = create_table(&client, "s", vec![FamilyDescriptor::new("f")], &[]).await;
    let keys: Vec<String> = (0..300).map(|i| format!("r{i:03}")).collect();
    let puts: Vec<Put> = keys
        .iter()
        .map(|k| Put::new(k.clone()).add("f", "q", "v"))
        .collect();
    for r in t.batch(puts).await {
        r.unwrap();
    }

    let out = strata(server.url(), &["exec", "split 's'"]).await;
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("Split into 2 region(s)"), "{out:?}");

    let out = strata(server.url(), &["exec", "split 's', 'r250'"]).await;
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("\"r250\", \"\")"), "{out:?}");

    let first = client.admin().describe_table("s").await.unwrap().regions[0]
        .region_id
        .clone();
    let out = strata(
        server.url(),
        &["--json", "exec", &format!("split '{first}', 'r010'")],
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let doc: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("one JSON doc");
    assert_eq!(doc["daughters"][1]["start_row"], "r010", "{doc}");
    assert_eq!(
        client
            .admin()
            .describe_table("s")
            .await
            .unwrap()
            .regions
            .len(),
        4
    );

    // A row outside the region and an unknown name fail with the server's reason.
    let out = strata(server.url(), &["exec", &format!("split '{first}', 'zzz'")]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stdout.contains("not found")
            || out.stdout.contains("outside")
            || out.stdout.contains("inside"),
        "{out:?}"
    );
    let out = strata(server.url(), &["exec", "split 'nosuch'"]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    assert_eq!(scan_keys(&client.table("s"), Scan::new()).await, keys);
    server.stop().await;
}
