//! A stalled region server (SIGSTOP past `master.server_timeout`, then SIGCONT) fences
//! itself: its lease from the master lapsed while it was stopped, so when it runs again
//! it acknowledges nothing — not the write that was in flight when it froze, not the
//! writes queued on its socket — and stops serving its regions by itself. Meanwhile the
//! master reassigns those regions (the new owner can open them once the stalled server
//! let go of them), and the writers going through the client see no error.
//!
//! The probe writes go straight to the stalled server over gRPC, naming the region and
//! epoch it served before the stall, so the test sees exactly what that server answers.

use std::time::{Duration, Instant};

use strata_client::admin::{FamilyDescriptor, SplitAlgorithm, TableDescriptor};
use strata_proto::v1 as pb;
use strata_proto::v1::region_service_client::RegionServiceClient;
use strata_tests::cluster::{Cluster, FAST, Writers, missing_rows, wait_all_open};

/// One raw write to the stalled server.
struct Probe {
    row: String,
    sent: Instant,
    done: Instant,
    result: Result<(), String>,
}

fn put(region: &pb::RegionRef, row: &str) -> pb::MutateRequest {
    pb::MutateRequest {
        region: Some(region.clone()),
        row: row.as_bytes().to_vec().into(),
        mutations: vec![pb::Mutation {
            op: Some(pb::mutation::Op::Put(pb::Put {
                family: "f".into(),
                qualifier: "q".into(),
                timestamp: None,
                value: row.as_bytes().to_vec().into(),
            })),
        }],
        durability: 0,
    }
}

async fn send(
    client: &mut RegionServiceClient<tonic::transport::Channel>,
    region: &pb::RegionRef,
    row: &str,
) -> Result<(), String> {
    let mut req = tonic::Request::new(put(region, row));
    req.set_timeout(Duration::from_secs(20));
    client
        .mutate(req)
        .await
        .map(drop)
        .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_server_fences_itself_and_acknowledges_nothing_late() {
    let cluster = Cluster::start(3, FAST).await;
    let client = cluster.client().await;
    let d = TableDescriptor::new("t").family(FamilyDescriptor::new("f"));
    client
        .admin()
        .create_table_pre_split(d, 12, SplitAlgorithm::HexString)
        .await
        .expect("create");
    let regions = wait_all_open(&client, "t", None, Duration::from_secs(20)).await;

    let stalled_url = cluster.server_url(0);
    let target = regions
        .iter()
        .find(|r| r.server == stalled_url && !r.start_row.is_empty())
        .expect("a region with a start row on server 0")
        .clone();
    let region_ref = pb::RegionRef {
        table: "t".into(),
        region_id: target.region_id.clone(),
        epoch: target.epoch,
    };
    let prefix = String::from_utf8_lossy(&target.start_row).into_owned();
    let mut raw = RegionServiceClient::connect(stalled_url.clone())
        .await
        .expect("connect to server 0");
    send(&mut raw, &region_ref, &format!("{prefix}-probe-warmup"))
        .await
        .expect("server 0 serves the region before the stall");

    let writers = Writers::start(&client, "t", 3, 100_000);
    writers.wait_more(100, Duration::from_secs(30)).await;

    // Probes: one after another, each waiting for its answer (up to 20 s).
    let (probe_stop_tx, probe_stop) = tokio::sync::watch::channel(false);
    let probe_ref = region_ref.clone();
    let probe_prefix = prefix.clone();
    let mut probe_client = raw.clone();
    let prober = tokio::spawn(async move {
        let mut probes = Vec::new();
        for i in 0..10_000 {
            if *probe_stop.borrow() {
                break;
            }
            let row = format!("{probe_prefix}-probe-{i:05}");
            let sent = Instant::now();
            let result = send(&mut probe_client, &probe_ref, &row).await;
            probes.push(Probe {
                row,
                sent,
                done: Instant::now(),
                result,
            });
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        probes
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    // From when the signal is delivered (`kill` has returned): a probe sent while the
    // `kill` process was still starting may be answered by a server that is running
    // normally, with its lease intact.
    cluster.servers[0].as_ref().unwrap().signal("STOP");
    let stopped_at = Instant::now();
    // Past the timeout: the master declares it dead and tries to reassign its regions
    // (their opens fail while the frozen server still holds the directory locks).
    let admin = client.admin();
    strata_tests::poll_until(
        Duration::from_secs(30),
        "the master declares server 0 dead",
        || {
            let (admin, url) = (&admin, &stalled_url);
            async move {
                let d = admin.cluster_detail().await.ok()?;
                d.dead_servers.contains(url).then_some(())
            }
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let continued_at = Instant::now();
    cluster.servers[0].as_ref().unwrap().signal("CONT");

    // Every region is served again (possibly by server 0 after it re-registered, but
    // then under a new epoch).
    let after = wait_all_open(&client, "t", None, Duration::from_secs(30)).await;
    writers.wait_more(100, Duration::from_secs(30)).await;
    let _ = probe_stop_tx.send(true);
    let probes = prober.await.expect("prober");
    let (acked, errors) = writers.finish().await;

    // 1. Nothing server 0 handled after its lease lapsed was acknowledged: every probe
    //    sent after the stop, or answered after the continue, failed.
    let late: Vec<&Probe> = probes
        .iter()
        .filter(|p| p.sent >= stopped_at || p.done >= continued_at)
        .collect();
    assert!(
        !late.is_empty(),
        "some probes were in flight during the stall"
    );
    for p in &late {
        assert!(
            p.result.is_err(),
            "probe {} acknowledged after the lease lapsed",
            p.row
        );
    }
    eprintln!("first late probe answer: {:?}", late[0].result);

    // 2. It stopped serving the region at its old epoch by itself: asked again now, it
    //    refuses.
    let again = send(&mut raw, &region_ref, &format!("{prefix}-probe-after")).await;
    assert!(
        again.is_err(),
        "server 0 still serves epoch {}",
        region_ref.epoch
    );
    let now = after
        .iter()
        .find(|r| r.region_id == target.region_id)
        .unwrap();
    assert!(
        now.epoch > target.epoch,
        "the region was reassigned under a new epoch"
    );

    // 3. The writers saw no error, and every acknowledged write (theirs and the probes
    //    acknowledged before the stall) reads back.
    assert!(
        errors.is_empty(),
        "callers saw errors: {:?}",
        &errors[..errors.len().min(5)]
    );
    let mut expect = acked;
    expect.extend(
        probes
            .iter()
            .filter(|p| p.result.is_ok())
            .map(|p| p.row.clone()),
    );
    let missing = missing_rows(&client, "t", &expect).await;
    assert!(
        missing.is_empty(),
        "acked rows missing: {:?}",
        &missing[..missing.len().min(5)]
    );
}
