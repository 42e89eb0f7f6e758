//! Region micro-benchmarks through the public API: a put with `Durability::Skip` (row
//! lock, sequence id, memstore insert, MVCC publish), and gets of a 100k-row region
//! served from its memstore, from one flushed SSTable (block cache warm), of absent
//! rows (bloom filter), and of a hot row with hundreds of versions per column in the
//! memstore; scans of 1,000 rows of the flushed region, as owned rows
//! (`Scanner::next_batch`) and as lent cells (`Scanner::next_batch_with`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata_benches::fixtures::{random_numbers, row, scratch_dir, values};
use strata_storage::{
    ByteSize, Compression, Durability, Engine, EngineOptions, FamilyOptions, Get, Region,
    RegionDescriptor, RowMutation, Scan,
};

/// Rows in the regions the gets read.
const ROWS: u64 = 100_000;

fn open(dir: &std::path::Path, name: &str) -> (Engine, Arc<Region>) {
    let mut opts = EngineOptions::default();
    opts.block_cache.size = ByteSize::mib(64);
    opts.memstore.flush_size = ByteSize::mib(64);
    opts.wal.durability = Durability::Skip;
    let engine = Engine::open(opts).expect("engine");
    let family = FamilyOptions {
        compression: Compression::Lz4,
        bloom_fp_rate: 0.0082,
        ..FamilyOptions::new("f")
    };
    let desc = RegionDescriptor::whole_table("bench", name, vec![family]);
    let region = engine.create_region(&dir.join(name), desc).expect("region");
    (engine, region)
}

fn put(region: &Region, n: u64, value: &[u8]) {
    let m = RowMutation::new(row(n)).put(
        Bytes::from_static(b"f"),
        Bytes::from_static(b"v"),
        Bytes::copy_from_slice(value),
    );
    region.mutate(&m, None).expect("put");
}

fn filled(dir: &std::path::Path, name: &str, flush: bool) -> (Engine, Arc<Region>) {
    let (engine, region) = open(dir, name);
    let mut vals = values();
    for n in 0..ROWS {
        put(&region, n, vals.next_value());
    }
    if flush {
        region.flush().expect("flush");
    }
    (engine, region)
}

fn puts(c: &mut Criterion) {
    let dir = scratch_dir();
    let (_engine, region) = open(dir.path(), "puts");
    let rows = random_numbers(1 << 16, 1_000_000, 9);
    let mut vals = values();
    let mut g = c.benchmark_group("region");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("put_skip_wal", |b| {
        b.iter(|| {
            i += 1;
            put(&region, rows[i & 0xFFFF], vals.next_value());
        })
    });
    g.finish();
}

fn gets(c: &mut Criterion) {
    let dir = scratch_dir();
    let present = random_numbers(4096, ROWS, 13);
    let mut g = c.benchmark_group("region");
    g.throughput(Throughput::Elements(1));
    for (name, flush, absent) in [
        ("get_memstore", false, false),
        ("get_sstable", true, false),
        ("get_absent_sstable", true, true),
    ] {
        let (_engine, region) = filled(dir.path(), name, flush);
        let gets: Vec<Get> = present
            .iter()
            .map(|&n| {
                let mut k = row(n);
                if absent {
                    k.push(b'.');
                }
                Get::new(k)
            })
            .collect();
        for get in &gets {
            region.get(get).expect("warm-up get");
        }
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                black_box(region.get(&gets[i & 4095]).expect("get"))
            })
        });
    }
    g.finish();
}

/// Columns of the hot row, and versions of each left in the memstore by updates.
const HOT_COLUMNS: u64 = 10;
const HOT_VERSIONS: u64 = 300;

/// A get of a row whose ten columns were each updated 300 times since the last flush
/// (YCSB A's zipfian hot rows): the read returns one version per column and steps over
/// or seeks past the rest, in the memstore, with the row's flushed copy underneath.
fn hot_row_get(c: &mut Criterion) {
    let dir = scratch_dir();
    let (_engine, region) = filled(dir.path(), "hot", true);
    let hot = row(ROWS / 2);
    let mut vals = values();
    for _ in 0..HOT_VERSIONS {
        for q in 0..HOT_COLUMNS {
            let m = RowMutation::new(hot.clone()).put(
                Bytes::from_static(b"f"),
                Bytes::from(format!("field{q}")),
                Bytes::copy_from_slice(vals.next_value()),
            );
            region.mutate(&m, None).expect("update");
        }
    }
    let get = Get::new(hot);
    let n = region.get(&get).expect("get").map_or(0, |r| r.cells.len());
    assert_eq!(n as u64, HOT_COLUMNS + 1, "one version per column");
    let mut g = c.benchmark_group("region");
    g.throughput(Throughput::Elements(1));
    g.bench_function("get_hot_row_300_versions", |b| {
        b.iter(|| black_box(region.get(&get).expect("get")))
    });
    g.finish();
}

/// Rows per scan of [`scans`].
const SCAN_ROWS: u64 = 1000;

/// Scans of 1,000 rows from random starts in a region of one flushed file (blocks
/// cached): the same rows read as owned `Row`s and as cells lent to a callback.
fn scans(c: &mut Criterion) {
    let dir = scratch_dir();
    let (_engine, region) = filled(dir.path(), "scans", true);
    let starts: Vec<Scan> = random_numbers(4096, ROWS - SCAN_ROWS, 17)
        .into_iter()
        .map(|n| Scan::new().start(row(n)).limit(SCAN_ROWS))
        .collect();
    let mut g = c.benchmark_group("region");
    g.throughput(Throughput::Elements(SCAN_ROWS));
    let mut i = 0;
    g.bench_function("scan_1000_rows_owned", |b| {
        b.iter(|| {
            i += 1;
            let mut s = region.scan(&starts[i & 4095]).expect("scan");
            let rows = s.next_batch(SCAN_ROWS as usize, 1 << 22).expect("batch");
            assert_eq!(rows.len() as u64, SCAN_ROWS);
            black_box(rows)
        })
    });
    g.bench_function("scan_1000_rows_lent", |b| {
        b.iter(|| {
            i += 1;
            let mut s = region.scan(&starts[i & 4095]).expect("scan");
            let mut bytes = 0;
            let rows = s
                .next_batch_with(SCAN_ROWS as usize, 1 << 22, &mut |c| bytes += c.value.len())
                .expect("batch");
            assert_eq!(rows as u64, SCAN_ROWS);
            black_box(bytes)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = puts, gets, hot_row_get, scans
}
criterion_main!(benches);
