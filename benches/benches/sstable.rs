//! SSTable point-get micro-benchmarks: seek to a random row of a 100k-row table (64 KiB
//! blocks) with every block cached, and with no block cache at all (each get reads,
//! checks and decodes its block from the mapped file), for lz4 and uncompressed blocks,
//! and with 4 KiB blocks.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata_benches::fixtures::{
    build_sstable, open_sstable, random_numbers, row, scratch_dir, warm,
};
use strata_storage::Compression;
use strata_storage::iterator::InternalIterator;
use strata_storage::key::row_start_key;
use strata_storage::sstable::SsTableWriteOptions;

/// Rows per table.
const ROWS: u64 = 100_000;

fn get(c: &mut Criterion) {
    let dir = scratch_dir();
    let targets: Vec<Vec<u8>> = random_numbers(4096, ROWS, 11)
        .into_iter()
        .map(|r| row_start_key(&row(r)))
        .collect();
    let cases = [
        (
            "get_cache_hit_64k_lz4",
            Compression::Lz4,
            64 * 1024,
            64 << 20,
        ),
        ("get_cache_miss_64k_lz4", Compression::Lz4, 64 * 1024, 0),
        ("get_cache_miss_64k_none", Compression::None, 64 * 1024, 0),
        ("get_cache_hit_4k_lz4", Compression::Lz4, 4 * 1024, 64 << 20),
        ("get_cache_miss_4k_lz4", Compression::Lz4, 4 * 1024, 0),
    ];
    let mut g = c.benchmark_group("sstable");
    g.throughput(Throughput::Elements(1));
    for (name, compression, block_size, cache_bytes) in cases {
        let opts = SsTableWriteOptions {
            block_size,
            compression,
            ..SsTableWriteOptions::default()
        };
        let path = build_sstable(dir.path(), &format!("{name}.sst"), ROWS, opts);
        let (table, _cache) = open_sstable(&path, cache_bytes);
        warm(&table);
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut it = table.iter(true);
                it.seek(&targets[i & 4095]).expect("seek");
                i += 1;
                assert!(it.valid());
                black_box(it.value());
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
    targets = get
}
criterion_main!(benches);
