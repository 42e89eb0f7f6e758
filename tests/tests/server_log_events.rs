//! The server's log, from a real `strata-server standalone` process run with
//! `--log-level info` and `server.stats_interval=1s`: the periodic stats line (block
//! cache size and hit ratio, evictions, memstore against its limits, compaction queue)
//! and one line per event: region opened, memstore flushed, compaction start and end.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use strata_client::Client;
use strata_client::Put;
use strata_client::admin::FamilyDescriptor;
use strata_tests::{binaries, create_table};

const WAIT: Duration = Duration::from_secs(30);

/// Kills the child when the test ends, however it ends.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn stats_line_and_event_lines_reach_the_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(binaries::path(binaries::SERVER))
        .args([
            "standalone",
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "info",
        ])
        .args(["--set", "server.status_listen=127.0.0.1:0"])
        .args(["--set", "server.stats_interval=1s"])
        .arg("--root-dir")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn strata-server");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let _guard = Kill(child);
    let (tx, rx) = mpsc::channel::<String>();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx2.send(format!("OUT {line}"));
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen: Vec<String> = Vec::new();
    let wait_for = |what: &str, seen: &mut Vec<String>| -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(l) = seen.iter().find(|l| l.contains(what)) {
                return l.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => seen.push(l),
                Err(_) => panic!(
                    "no log line with {what:?} within {WAIT:?}; got:\n{}",
                    seen.join("\n")
                ),
            }
        }
    };
    let status = wait_for("OUT strata standalone listening on", &mut seen);
    let url = status
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .map(|w| w.trim_end_matches(',').to_string())
        .expect("url in the status line");

    let client = Client::connect(&url).await.expect("client");
    let t = create_table(&client, "logged", vec![FamilyDescriptor::new("f")], &[]).await;
    for round in 0..3 {
        t.put(Put::new(format!("r{round}")).add("f", "q", "v"))
            .await
            .expect("put");
        client.admin().flush("logged").await.expect("flush");
    }
    client
        .admin()
        .major_compact("logged")
        .await
        .expect("major compact");

    let opened = wait_for("region opened", &mut seen);
    assert!(
        opened.contains("logged/") && opened.contains("replayed="),
        "{opened}"
    );
    let serving = wait_for("serving region", &mut seen);
    assert!(serving.contains("logged/"), "{serving}");
    let flushed = wait_for("flushed memstore", &mut seen);
    assert!(flushed.contains("bytes="), "{flushed}");
    let start = wait_for("compaction starts", &mut seen);
    assert!(
        start.contains("input_files=") && start.contains("input_bytes="),
        "{start}"
    );
    let end = wait_for("compaction ends", &mut seen);
    assert!(end.contains("read=") && end.contains("written="), "{end}");
    let stats = wait_for("stats: block_cache", &mut seen);
    for field in [
        "hit_ratio=",
        "evictions=",
        "memstore global=",
        "high=",
        "compaction queue=",
    ] {
        assert!(stats.contains(field), "{field} missing from {stats}");
    }
}
