//! Bloom filter probe micro-benchmarks through `SsTable::may_contain_row` (the filter
//! type itself has no public constructor): a 100k-row table with a row filter at the
//! fp rate kvbench uses for 10 bits/key, probed with present and with absent rows.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata_benches::fixtures::{build_sstable, open_sstable, random_numbers, row, scratch_dir};
use strata_storage::key::row_start_key;
use strata_storage::sstable::SsTableWriteOptions;
use strata_storage::{BloomType, Compression};

/// Rows per table.
const ROWS: u64 = 100_000;
/// False-positive rate of 10 bits per key with optimal hashing.
const FP_RATE: f64 = 0.0082;

fn probe(c: &mut Criterion) {
    let dir = scratch_dir();
    let opts = SsTableWriteOptions {
        compression: Compression::Lz4,
        bloom: BloomType::Row,
        bloom_fp_rate: FP_RATE,
        ..SsTableWriteOptions::default()
    };
    let path = build_sstable(dir.path(), "bloom.sst", ROWS, opts);
    let (table, _cache) = open_sstable(&path, 0);
    let present: Vec<Vec<u8>> = random_numbers(4096, ROWS, 5)
        .into_iter()
        .map(|r| row_start_key(&row(r)))
        .collect();
    // Absent rows inside the key range: an existing row with '.' appended.
    let absent: Vec<Vec<u8>> = random_numbers(4096, ROWS, 6)
        .into_iter()
        .map(|r| {
            let mut k = row(r);
            k.push(b'.');
            row_start_key(&k)
        })
        .collect();
    let mut g = c.benchmark_group("bloom");
    g.throughput(Throughput::Elements(1));
    for (name, keys) in [("probe_present", &present), ("probe_absent", &absent)] {
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                black_box(table.may_contain_row(&keys[i & 4095]))
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = probe
}
criterion_main!(benches);
