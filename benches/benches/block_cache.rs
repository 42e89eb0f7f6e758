//! Block cache micro-benchmarks on `BlockCache::get_or_load` itself.
//!
//! `Block` has no public constructor, so the cache is filled the way the engine fills it:
//! a table with 4 KiB blocks is read once through its cache, then lookups use the real
//! keys (`SsTable::cache_id()`, block offsets from the index). A hit never calls the
//! loader; the miss case looks up blocks that were never cached, with a loader that
//! fails at once so only the cache's own cost is timed.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata_benches::fixtures::{build_sstable, open_sstable, random_numbers, scratch_dir, warm};
use strata_storage::sstable::SsTableWriteOptions;
use strata_storage::{Compression, Error};

/// Rows in the table whose blocks fill the cache.
const ROWS: u64 = 100_000;

fn lookups(c: &mut Criterion) {
    let dir = scratch_dir();
    let opts = SsTableWriteOptions {
        block_size: 4 * 1024,
        compression: Compression::Lz4,
        ..SsTableWriteOptions::default()
    };
    let path = build_sstable(dir.path(), "cache.sst", ROWS, opts);
    let (table, cache) = open_sstable(&path, 64 << 20);
    warm(&table);
    let offsets: Vec<u64> = table.index().iter().map(|e| e.handle.offset).collect();
    let picks: Vec<u64> = random_numbers(4096, offsets.len() as u64, 3)
        .into_iter()
        .map(|i| offsets[i as usize])
        .collect();
    let file = table.cache_id();
    let never_cached = file + 1_000_000;
    let fail = || Err(Error::InvalidArgument("not cached".into()));
    let mut g = c.benchmark_group("block_cache");
    g.throughput(Throughput::Elements(1));
    let cases = [
        ("hit", file, true),
        ("hit_no_fill", file, false),
        ("miss_no_fill", never_cached, false),
    ];
    for (name, id, fill) in cases {
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                black_box(cache.get_or_load(id, picks[i & 4095], fill, fail).is_ok())
            })
        });
    }
    g.finish();
    let s = cache.stats();
    println!(
        "block_cache: {} blocks cached, {} bytes, {} hits, {} misses",
        s.entries, s.size_bytes, s.hits, s.misses
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = lookups
}
criterion_main!(benches);
