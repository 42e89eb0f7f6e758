//! The `strata` shell against a real 1-master, 2-region-server cluster: `create` with
//! `NUMREGIONS`/`SPLITALGO`, `scan 'meta'`, `status 'detailed'`, `move`, `balance`,
//! `unassign`/`assign` print what an operator expects, and bad input is refused with a
//! clear message.

use std::time::Duration;

use strata_tests::cluster::{Cluster, FAST};
use strata_tests::{binaries, process};

async fn strata(url: &str, stdin: &str) -> process::Output {
    let args = [
        "--master".to_string(),
        url.to_string(),
        "shell".into(),
        "-n".into(),
    ];
    let stdin = stdin.to_string();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        process::run(
            &binaries::path(binaries::SHELL),
            &args,
            &stdin,
            Duration::from_secs(60),
        )
    })
    .await
    .expect("shell run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_cluster_commands() {
    let cluster = Cluster::start(2, FAST).await;
    let url = cluster.master_url();
    let out = strata(
        &url,
        "create 't', 'f', NUMREGIONS => 4, SPLITALGO => 'HexStringSplit'\n\
         put 't', '50000000', 'f:q', 'v'\n\
         scan 'meta'\n\
         status 'detailed'\n",
    )
    .await;
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    let meta: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("t,")).collect();
    assert_eq!(meta.len(), 4, "{}", out.stdout);
    assert!(meta[0].contains("[-inf, 40000000)"), "{}", meta[0]);
    assert!(meta[3].contains("[c0000000, +inf)"), "{}", meta[3]);
    assert!(meta.iter().all(|l| l.contains("state=open")));
    assert!(out.stdout.contains("4 region(s)"));
    assert!(out.stdout.contains("2 live server(s)"), "{}", out.stdout);
    assert!(out.stdout.contains("requests_per_second="));

    // Move the first region to the other server, then balance it back.
    let region = meta[0].split_whitespace().next().unwrap().to_string(); // "t,<id>"
    let on = meta[0]
        .split_whitespace()
        .find_map(|w| w.strip_prefix("server="))
        .unwrap()
        .to_string();
    let other = [cluster.server_url(0), cluster.server_url(1)]
        .into_iter()
        .find(|s| *s != on)
        .unwrap();
    let script = format!(
        "move '{region}', '{other}'\nbalance\nunassign '{region}'\nlist_regions 't'\nassign '{region}'\nget 't', '10000000'\n"
    );
    let out = strata(&url, &script).await;
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("Moved {region} to {other}")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Balancer moved 1 region(s)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(&format!("Unassigned {region}")));
    assert!(
        out.stdout.contains("server=- epoch="),
        "unassigned region listed offline: {}",
        out.stdout
    );
    assert!(out.stdout.contains("state=offline"));
    assert!(
        out.stdout
            .contains(&format!("Assigned {region} to http://"))
    );

    // Bad input: a clear message, nothing changed.
    let out = strata(
        &url,
        "create 'u', 'f', NUMREGIONS => 4, SPLITALGO => 'Nope'\n",
    )
    .await;
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(!out.status.success());
    assert!(
        all.contains("unknown SPLITALGO") && all.contains("HexStringSplit"),
        "{all}"
    );
    let out = strata(&url, "move 'no-such-region'\n").await;
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(!out.status.success());
    assert!(all.contains("no region"), "{all}");
}
