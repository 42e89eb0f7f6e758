//! Crash test: a child process writes with fsync durability from several threads and
//! reports every acknowledged write on stdout; the parent SIGKILLs it at a random moment,
//! reopens the region and checks that every acknowledged write is there, and that
//! nothing appears that was never written. Repeated over several rounds on one region,
//! with a small flush size so kills also land mid-flush.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use strata_storage::{
    ByteSize, Durability, Engine, EngineOptions, FamilyOptions, Get, RegionDescriptor, RowMutation,
    Scan,
};

const CHILD_ENV: &str = "STRATA_CRASH_CHILD_DIR";
const THREADS: usize = 4;

fn engine_options() -> EngineOptions {
    let mut o = EngineOptions::for_tests();
    o.wal.durability = Durability::Fsync;
    o.memstore.flush_size = ByteSize::kib(48);
    o.wal.segment_size = ByteSize::kib(32);
    o
}

fn value_for(thread: usize, i: u64) -> String {
    format!("value-{thread}-{i}-{}", "x".repeat((i % 50) as usize))
}

fn open_or_create(engine: &Engine, dir: &Path) -> Arc<strata_storage::Region> {
    if dir.join("region.meta").exists() {
        engine.open_region(dir).expect("reopen region")
    } else {
        let desc = RegionDescriptor::whole_table("crash", "r", vec![FamilyOptions::new("f")]);
        engine.create_region(dir, desc).expect("create region")
    }
}

/// Runs only inside the child process: writes until killed.
#[test]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let start: u64 = std::env::var("STRATA_CRASH_START")
        .unwrap()
        .parse()
        .unwrap();
    let engine = Engine::open(engine_options()).unwrap();
    let region = open_or_create(&engine, Path::new(&dir));
    println!("READY");
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let region = region.clone();
            std::thread::spawn(move || {
                for i in start.. {
                    let m = RowMutation::new(format!("t{t}-{i:08}")).put("f", "v", value_for(t, i));
                    region.mutate(&m, None).unwrap();
                    println!("ACK {t} {i}");
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("region");
    let exe = std::env::current_exe().unwrap();
    // Deterministic "random" kill delays; vary per round.
    let delays_ms = [150u64, 420, 90, 700, 260, 530];
    let mut next_start = 0u64;
    let mut total_acked = 0;
    for (round, delay) in delays_ms.iter().enumerate() {
        let mut child = Command::new(&exe)
            .args([
                "crash_child_writer",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &dir)
            .env("STRATA_CRASH_START", next_start.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acked = [None::<u64>; THREADS];
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut parts = line.split_whitespace();
                if parts.next() != Some("ACK") {
                    continue;
                }
                let t: usize = parts.next().unwrap().parse().unwrap();
                let i: u64 = parts.next().unwrap().parse().unwrap();
                acked[t] = Some(acked[t].map_or(i, |a: u64| a.max(i)));
            }
            acked
        });
        std::thread::sleep(Duration::from_millis(*delay));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let acked = reader.join().unwrap();

        let engine = Engine::open(engine_options()).unwrap();
        let region = open_or_create(&engine, &dir);
        let mut max_present = 0;
        for (t, a) in acked.iter().enumerate() {
            if let Some(a) = a {
                for i in next_start..=*a {
                    let row = region.get(&Get::new(format!("t{t}-{i:08}"))).unwrap();
                    let row =
                        row.unwrap_or_else(|| panic!("round {round}: acknowledged t{t}-{i} lost"));
                    assert_eq!(
                        &row.value(b"f", b"v").unwrap()[..],
                        value_for(t, i).as_bytes()
                    );
                }
            }
        }
        // Nothing that was never written: every row present decodes to its own value and
        // was at most one past the acknowledged ones (in flight when killed).
        for r in region.scan_all(&Scan::new()).unwrap() {
            let name = String::from_utf8(r.row.to_vec()).unwrap();
            let (t, i) = name[1..].split_once('-').unwrap();
            let (t, i): (usize, u64) = (t.parse().unwrap(), i.parse().unwrap());
            assert_eq!(
                &r.value(b"f", b"v").unwrap()[..],
                value_for(t, i).as_bytes()
            );
            max_present = max_present.max(i);
        }
        let total: u64 = acked
            .iter()
            .flatten()
            .map(|a| a + 1 - next_start.min(a + 1))
            .sum();
        eprintln!("round {round}: killed after {delay} ms, {total} acknowledged writes checked");
        region.close(false).unwrap();
        next_start = max_present + 1;
        total_acked += total;
    }
    assert!(
        total_acked > 100,
        "the child acknowledged only {total_acked} writes: the test checked too little"
    );
}
