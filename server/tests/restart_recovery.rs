//! Restarts: a graceful in-process restart, the real binary killed with SIGKILL and
//! restarted (WAL replay), the binary stopped with SIGTERM (exit 0, everything flushed),
//! and the binary refusing an invalid configuration (exit 2).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use strata_proto::v1 as pb;

const BIN: &str = env!("CARGO_BIN_EXE_strata-server");

/// The binary running on a free port; killed on drop so a failing test leaks nothing.
struct ServerProcess {
    child: Child,
    url: String,
}

impl ServerProcess {
    fn spawn(root: &Path, extra: &[&str]) -> ServerProcess {
        let mut child = Command::new(BIN)
            .args([
                "standalone",
                "--listen",
                "127.0.0.1:0",
                "--log-level",
                "warn",
                "--set",
                "server.status_listen=127.0.0.1:0",
            ])
            .arg("--root-dir")
            .arg(root)
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn strata-server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("status line");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .trim_end_matches(',')
            .to_string();
        ServerProcess { child, url }
    }

    /// Polls for the exit without blocking the runtime: the test's client connections
    /// must stay able to answer the server's GOAWAY during a graceful shutdown.
    async fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "server did not exit");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn write_rows(region: &mut Region, master: &mut Master, table: &str, n: usize) {
    for i in 0..n {
        let row = format!("row{i:04}");
        let r = locate(master, table, &row).await;
        region
            .mutate(mutate_req(&r, &row, vec![put("f", "q", &format!("v{i}"))]))
            .await
            .expect("put");
    }
}

async fn read_rows(region: &mut Region, master: &mut Master, table: &str, n: usize) {
    for i in 0..n {
        let row = format!("row{i:04}");
        let r = locate(master, table, &row).await;
        let got = region
            .get(get_req(&r, &row))
            .await
            .expect("get")
            .into_inner();
        let v = got
            .row
            .and_then(|r| r.cells.into_iter().next())
            .map(|c| s(&c.value));
        assert_eq!(v, Some(format!("v{i}")), "{row}");
    }
}

async fn region_status(region: &mut Region) -> Vec<pb::RegionStatus> {
    region
        .region_status(pb::RegionStatusRequest {
            table: String::new(),
        })
        .await
        .expect("status")
        .into_inner()
        .regions
}

#[tokio::test]
async fn graceful_restart_in_process_finds_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = start_in(dir.path(), |_| {}, Default::default()).await;
    create_table(&mut t.master, "t", &["f"], &["row0050"]).await;
    let before = locate(&mut t.master, "t", "row0001").await;
    write_rows(&mut t.region, &mut t.master, "t", 100).await;
    t.handle.shutdown().await.unwrap();

    let mut t = start_in(dir.path(), |_| {}, Default::default()).await;
    assert!(
        t.handle.status_line().contains("(1 tables, 2 regions)"),
        "{}",
        t.handle.status_line()
    );
    read_rows(&mut t.region, &mut t.master, "t", 100).await;
    let after = locate(&mut t.master, "t", "row0001").await;
    assert_eq!(after.region_id, before.region_id);
    assert!(after.epoch > before.epoch, "a new assignment epoch");
    let status = region_status(&mut t.region).await;
    assert_eq!(status.len(), 2);
    assert!(
        status
            .iter()
            .all(|s| s.memstore_bytes == 0 && s.store_files == 1),
        "{status:?}"
    );
    t.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn binary_killed_with_sigkill_recovers_acknowledged_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = ServerProcess::spawn(dir.path(), &[]);
    let (mut region, mut master) = connect(&p.url).await;
    create_table(&mut master, "t", &["f"], &["row0100"]).await;
    write_rows(&mut region, &mut master, "t", 200).await;
    p.child.kill().unwrap(); // SIGKILL: no flush, no clean close
    p.wait_exit().await;
    drop(p);

    // The restart also runs the current_thread runtime.
    let p = ServerProcess::spawn(dir.path(), &["--set", "server.runtime=current_thread"]);
    let (mut region, mut master) = connect(&p.url).await;
    read_rows(&mut region, &mut master, "t", 200).await;
    let status = region_status(&mut region).await;
    assert!(
        status.iter().all(|s| s.memstore_bytes > 0),
        "WAL replayed into memstores: {status:?}"
    );
}

#[tokio::test]
async fn binary_sigterm_exits_zero_with_everything_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = ServerProcess::spawn(dir.path(), &[]);
    let (mut region, mut master) = connect(&p.url).await;
    create_table(&mut master, "t", &["f"], &[]).await;
    write_rows(&mut region, &mut master, "t", 50).await;
    drop((region, master));
    let started = std::time::Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = p.wait_exit().await;
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "shutdown took {:?}",
        started.elapsed()
    );
    drop(p);

    // Reopened in-process: the data is in store files, nothing left to replay.
    let mut t = start_in(dir.path(), |_| {}, Default::default()).await;
    let status = region_status(&mut t.region).await;
    assert!(
        status
            .iter()
            .all(|s| s.memstore_bytes == 0 && s.store_files >= 1),
        "{status:?}"
    );
    read_rows(&mut t.region, &mut t.master, "t", 50).await;
    t.handle.shutdown().await.unwrap();
}

#[test]
fn binary_refuses_invalid_configuration_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("strata.toml");
    std::fs::write(
        &config,
        "[server]\nmemory_limit = \"1GiB\"\n[block_cache]\nsize = \"600MiB\"\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(BIN)
            .args(["standalone", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--root-dir")
            .arg(dir.path().join("data"))
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("block_cache.size") && err.contains("memstore.global_high"),
        "{err}"
    );
    let (code, err) = run(&[
        "--set",
        "block_cache.size=64MiB",
        "--set",
        "memstore.flush_sise=1MiB",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("memstore.flush_sise"), "{err}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing written for a refused config"
    );
}

#[tokio::test]
async fn graceful_shutdown_lets_inflight_calls_finish() {
    use strata_server::region_server::TestHooks;
    let dir = tempfile::tempdir().unwrap();
    let hooks = TestHooks {
        get_delay: Duration::from_millis(500),
        ..TestHooks::default()
    };
    let mut t = start_in(dir.path(), |_| {}, hooks).await;
    create_table(&mut t.master, "t", &["f"], &[]).await;
    write_rows(&mut t.region, &mut t.master, "t", 1).await;
    let r = locate(&mut t.master, "t", "row0000").await;
    let mut slow_client = t.region.clone();
    let slow = tokio::spawn(async move { slow_client.get(get_req(&r, "row0000")).await });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while t.handle.region_server().admission().inflight() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the slow get never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rs = t.handle.region_server().clone();
    t.handle.shutdown().await.unwrap();
    let row = slow
        .await
        .unwrap()
        .expect("in-flight get completes")
        .into_inner()
        .row;
    assert!(row.is_some());
    assert_eq!(rs.online_count(), 0, "every region closed");
    let e = t
        .region
        .get(get_req(&locate_ref("t"), "row0000"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
}

fn locate_ref(table: &str) -> pb::RegionRef {
    pb::RegionRef {
        table: table.into(),
        region_id: "any".into(),
        epoch: 0,
    }
}

/// Interrupted master operations roll forward at start: a table deleted from the
/// catalog but whose directory survived a crash is removed, and a created table whose
/// region directories were never made gets them.
#[tokio::test]
async fn recovery_rolls_interrupted_master_operations_forward() {
    use strata_server::master::catalog::{CATALOG_FILE, Catalog};
    let dir = tempfile::tempdir().unwrap();
    let mut t = start_in(dir.path(), |_| {}, Default::default()).await;
    create_table(&mut t.master, "gone", &["f"], &[]).await;
    create_table(&mut t.master, "fresh", &["f"], &["m"]).await;
    create_table(&mut t.master, "off", &["f"], &[]).await;
    write_rows(&mut t.region, &mut t.master, "off", 3).await;
    t.master
        .disable_table(pb::DisableTableRequest { name: "off".into() })
        .await
        .unwrap();
    t.handle.shutdown().await.unwrap();

    // Simulate crashes: "gone" deleted in the catalog only; "fresh" in the catalog only.
    let path = dir.path().join("master").join(CATALOG_FILE);
    let mut c = Catalog::load(&path).unwrap().unwrap();
    c.tables.remove("gone");
    c.pending_deletes.push("gone".into());
    c.save(&path).unwrap();
    std::fs::remove_dir_all(dir.path().join("tables/fresh")).unwrap();

    let mut t = start_in(dir.path(), |_| {}, Default::default()).await;
    assert!(!dir.path().join("tables/gone").exists());
    assert!(
        Catalog::load(&path)
            .unwrap()
            .unwrap()
            .pending_deletes
            .is_empty()
    );
    put_cell(&mut t, "fresh", "z", "f", "q", "v").await;
    assert_eq!(
        get_value(&mut t, "fresh", "z", "f", "q").await.as_deref(),
        Some("v")
    );
    // A disabled table stays disabled, and its data is there once enabled.
    let e = t
        .master
        .locate_region(pb::LocateRegionRequest {
            table: "off".into(),
            row: b("a"),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
    t.master
        .enable_table(pb::EnableTableRequest { name: "off".into() })
        .await
        .unwrap();
    read_rows(&mut t.region, &mut t.master, "off", 3).await;
    t.handle.shutdown().await.unwrap();
}
