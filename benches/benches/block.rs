//! Block encode and decode micro-benchmarks.
//!
//! `Block`'s builder and decoder are crate-private in `strata-storage`, so both are
//! measured through the public SSTable API:
//! - encode: `SsTableBuilder::add` of 64 KiB worth of entries, which includes prefix
//!   compression, and per cut block lz4 (or none), CRC32C framing and a buffered write to
//!   a tmpfs file;
//! - decode: a seek to the first key of a random block of a table without a block cache
//!   (frame check, CRC32C, lz4 decompression, `Block::decode`), then `next` through all of
//!   the block's entries.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata_benches::fixtures::{
    block_starts, build_sstable, entry_key, open_sstable, scratch_dir, values,
};
use strata_storage::Compression;
use strata_storage::iterator::InternalIterator;
use strata_storage::sstable::{SsTableBuilder, SsTableWriteOptions};

/// Uncompressed data block size.
const BLOCK_BYTES: usize = 64 * 1024;
/// Blocks written per builder before a fresh file is started (untimed).
const BLOCKS_PER_FILE: u64 = 64;

fn options(compression: Compression) -> SsTableWriteOptions {
    SsTableWriteOptions {
        block_size: BLOCK_BYTES,
        compression,
        ..SsTableWriteOptions::default()
    }
}

fn encode(c: &mut Criterion) {
    let dir = scratch_dir();
    // Entries that fill one block: key + value + 3 one-byte varints each.
    let entry_bytes = entry_key(0).len() + 100 + 3;
    let per_block = (BLOCK_BYTES / entry_bytes + 1) as u64;
    let mut g = c.benchmark_group("block");
    // Throughput in key + value bytes added (about one block's worth per iteration).
    g.throughput(Throughput::Bytes(
        per_block * (entry_key(0).len() as u64 + 100),
    ));
    for (name, comp) in [
        ("encode_64k_lz4", Compression::Lz4),
        ("encode_64k_none", Compression::None),
    ] {
        let mut file_no = 0;
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let blocks = (iters - done).min(BLOCKS_PER_FILE);
                    file_no += 1;
                    let path = dir.path().join(format!("{name}-{file_no}.sst"));
                    let mut builder = SsTableBuilder::create(&path, options(comp)).expect("create");
                    let mut vals = values();
                    let keys: Vec<Vec<u8>> = (0..blocks * per_block).map(entry_key).collect();
                    let t = Instant::now();
                    for k in &keys {
                        builder.add(k, vals.next_value()).expect("add");
                    }
                    total += t.elapsed();
                    // Dropping the unfinished builder deletes its temporary file.
                    drop(builder);
                    done += blocks;
                }
                total
            })
        });
    }
    g.finish();
}

fn decode(c: &mut Criterion) {
    let dir = scratch_dir();
    let mut g = c.benchmark_group("block");
    g.throughput(Throughput::Bytes(BLOCK_BYTES as u64));
    for (name, comp) in [
        ("decode_iterate_64k_lz4", Compression::Lz4),
        ("decode_iterate_64k_none", Compression::None),
    ] {
        let path = build_sstable(dir.path(), &format!("{name}.sst"), 100_000, options(comp));
        let (table, _cache) = open_sstable(&path, 0);
        let starts = block_starts(&table);
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                let (first, entries) = &starts[i % starts.len()];
                i += 7;
                let mut it = table.iter(false);
                it.seek(first).expect("seek");
                for _ in 1..*entries {
                    it.next().expect("next");
                }
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
    targets = encode, decode
}
criterion_main!(benches);
