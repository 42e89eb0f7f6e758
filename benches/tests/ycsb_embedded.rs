//! Short runs of every core workload against an embedded standalone Strata server: no
//! errors, a JSON report that parses back with counts that add up, workload E's scans
//! returning exactly the rows that exist from their start key, and a paced run.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use strata_benches::ycsb::Embedded;
use strata_benches::ycsb::properties::Properties;
use strata_benches::ycsb::report::Report;
use strata_benches::ycsb::runner::{Phase, RunOptions, execute};
use strata_benches::ycsb::store::{Record, Store, StoreResult};
use strata_benches::ycsb::strata_store::{BLOCK_SIZE_PROPERTY, StrataStore};
use strata_benches::ycsb::workload::CoreWorkload;

const RECORDS: u64 = 200;
const OPS: u64 = 300;

fn props(workload: &str, table: &str) -> Properties {
    let mut p = Properties::workload(workload).unwrap();
    p.set("table", table);
    p.set("recordcount", &RECORDS.to_string());
    p.set("operationcount", &OPS.to_string());
    p.set("fieldcount", "4");
    p.set("fieldlength", "20");
    p
}

async fn load_and_run<S: Store>(
    store: &S,
    p: &Properties,
    name: &str,
    threads: usize,
    target: Option<f64>,
) -> Report {
    let load = RunOptions {
        threads: 4,
        ..RunOptions::default()
    };
    let w = Arc::new(CoreWorkload::new(p).unwrap());
    let loaded = execute(store, w, Phase::Load, &load).await.unwrap();
    assert_eq!(loaded.summary.overall.operations, RECORDS);
    assert_eq!(
        loaded.summary.ops[0].errors(),
        0,
        "{:?}",
        loaded.summary.ops
    );
    let run = RunOptions {
        threads,
        target,
        seed: 42,
        ..RunOptions::default()
    };
    let w = Arc::new(CoreWorkload::new(p).unwrap());
    let result = execute(store, w, Phase::Run, &run).await.unwrap();
    let props = p.iter().map(|(k, v)| (k.into(), v.into())).collect();
    let report = Report::new(store.name(), name, "run", threads, target, &result, props);
    // The JSON report parses back to the same counts (floats may differ in the last
    // digit after a decimal round trip).
    let json = serde_json::to_string(&report).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back.transactions, report.transactions);
    assert_eq!(back.overall.operations, report.overall.operations);
    let counts = |r: &Report| -> Vec<(String, u64, u64)> {
        r.ops
            .iter()
            .map(|o| (o.name.clone(), o.operations, o.p99_us))
            .collect()
    };
    assert_eq!(counts(&back), counts(&report));
    back
}

fn check_counts(r: &Report) {
    assert_eq!(r.errors(), 0, "{}", r.text());
    assert_eq!(r.overall.operations, OPS);
    assert_eq!(
        r.transactions.values().sum::<u64>(),
        OPS,
        "{:?}",
        r.transactions
    );
    let tx = |k: &str| r.transactions.get(k).copied().unwrap_or(0);
    let ops = |k: &str| r.op(k).map_or(0, |o| o.operations);
    // A read-modify-write also counts as a read and an update.
    let rmw = tx("READ-MODIFY-WRITE");
    assert_eq!(ops("READ"), tx("READ") + rmw);
    assert_eq!(ops("UPDATE"), tx("UPDATE") + rmw);
    assert_eq!(ops("INSERT"), tx("INSERT"));
    assert_eq!(ops("SCAN"), tx("SCAN"));
    assert_eq!(ops("READ-MODIFY-WRITE"), rmw);
    for o in &r.ops {
        assert_eq!(
            o.returns.get("OK").copied().unwrap_or(0),
            o.operations,
            "{o:?}"
        );
        assert!(o.min_us <= o.p50_us && o.p50_us <= o.p99_us && o.p99_us <= o.max_us);
    }
}

/// Strata, with a model of its keys: each scan must return exactly the first `count`
/// keys at or after its start key.
#[derive(Clone)]
struct CheckedStore {
    inner: StrataStore,
    keys: Arc<Mutex<BTreeSet<String>>>,
    scans: Arc<AtomicU64>,
    wrong: Arc<Mutex<Vec<String>>>,
}

impl Store for CheckedStore {
    fn name(&self) -> &str {
        "strata"
    }
    async fn worker(&self) -> StoreResult<Self> {
        Ok(self.clone())
    }
    async fn read(&self, t: &str, k: &str, f: Option<&[String]>) -> StoreResult<Record> {
        self.inner.read(t, k, f).await
    }
    async fn scan(
        &self,
        t: &str,
        start: &str,
        count: usize,
        f: Option<&[String]>,
    ) -> StoreResult<Vec<(String, Record)>> {
        let rows = self.inner.scan(t, start, count, f).await?;
        let expected: Vec<String> = self
            .keys
            .lock()
            .range(start.to_string()..)
            .take(count)
            .cloned()
            .collect();
        let got: Vec<String> = rows.iter().map(|(k, _)| k.clone()).collect();
        self.scans.fetch_add(1, Ordering::Relaxed);
        if got != expected || rows.iter().any(|(_, r)| r.len() != 4) {
            self.wrong.lock().push(format!(
                "scan {start} x{count}: got {} rows, expected {}",
                got.len(),
                expected.len()
            ));
        }
        Ok(rows)
    }
    async fn update(&self, t: &str, k: &str, v: &Record) -> StoreResult<()> {
        self.inner.update(t, k, v).await
    }
    async fn insert(&self, t: &str, k: &str, v: &Record) -> StoreResult<()> {
        self.inner.insert(t, k, v).await?;
        self.keys.lock().insert(k.to_string());
        Ok(())
    }
    async fn delete(&self, t: &str, k: &str) -> StoreResult<()> {
        self.inner.delete(t, k).await?;
        self.keys.lock().remove(k);
        Ok(())
    }
}

#[test]
fn every_core_workload_runs_clean_against_embedded_strata() {
    let server = Embedded::start(None, &[]).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for w in ["a", "b", "c", "d", "f"] {
            let table = format!("usertable_{w}");
            let mut p = props(w, &table);
            if w == "c" {
                // The binding's table option: HBase's BLOCKSIZE.
                p.set(BLOCK_SIZE_PROPERTY, "8192");
            }
            let store = StrataStore::connect(server.url(), &table, &p)
                .await
                .unwrap();
            store.create_table(Vec::new(), &p).await.unwrap();
            let described = store.client().admin().describe_table(&table).await.unwrap();
            let block_size = described.descriptor.families[0].block_size;
            let default = strata_storage::FamilyOptions::default().block_size_bytes as u32;
            assert_eq!(block_size, if w == "c" { 8192 } else { default }, "{w}");
            let r = load_and_run(&store, &p, w, 4, None).await;
            check_counts(&r);
            match w {
                "c" => assert_eq!(r.transactions.get("READ"), Some(&OPS)),
                "d" => assert!(
                    r.transactions.contains_key("INSERT"),
                    "{:?}",
                    r.transactions
                ),
                "f" => assert!(r.transactions.contains_key("READ-MODIFY-WRITE")),
                _ => {}
            }
        }

        // Workload E, one worker so the key model is exact at every scan.
        let p = props("e", "usertable_e");
        let inner = StrataStore::connect(server.url(), "usertable_e", &p)
            .await
            .unwrap();
        inner.create_table(Vec::new(), &p).await.unwrap();
        let store = CheckedStore {
            inner,
            keys: Arc::default(),
            scans: Arc::default(),
            wrong: Arc::default(),
        };
        let r = load_and_run(&store, &p, "e", 1, None).await;
        check_counts(&r);
        let scans = r.op("SCAN").map_or(0, |o| o.operations);
        assert!(scans > 200, "{scans} scans");
        assert_eq!(store.scans.load(Ordering::Relaxed), scans);
        let wrong = store.wrong.lock().clone();
        assert!(
            wrong.is_empty(),
            "{} wrong scans, e.g. {:?}",
            wrong.len(),
            &wrong[..1]
        );
        assert!(r.scan_rows_returned > 0 && r.scan_rows_returned <= r.scan_rows_requested);

        // Paced: 300 transactions at 150 ops/s take ~2 s. The schedule cannot be beaten;
        // it can be missed only if this process is starved of CPU, so up to three
        // attempts, one of which must land within 10% of the target.
        let mut rates = Vec::new();
        for attempt in 0..3 {
            let table = format!("usertable_paced{attempt}");
            let p = props("b", &table);
            let store = StrataStore::connect(server.url(), &table, &p)
                .await
                .unwrap();
            store.create_table(Vec::new(), &p).await.unwrap();
            let r = load_and_run(&store, &p, "b", 4, Some(150.0)).await;
            check_counts(&r);
            let rate = r.throughput_ops_per_sec;
            assert!(rate <= 165.0, "achieved {rate:.1} ops/s, above the target");
            rates.push(rate);
            if (rate / 150.0 - 1.0).abs() <= 0.10 {
                break;
            }
        }
        let last = rates.last().copied().unwrap_or(0.0);
        assert!(
            (last / 150.0 - 1.0).abs() <= 0.10,
            "achieved {rates:.1?} ops/s"
        );
    });
    drop(runtime);
    server.stop().unwrap();
}
