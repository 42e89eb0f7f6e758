//! Memstore micro-benchmarks: insert into a skiplist already holding 50k entries, and a
//! point seek (the memstore half of a get) in one holding 100k rows, as a skiplist and
//! as the flat memstore an in-memory compaction makes of it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata_benches::fixtures::{entry_key, random_numbers, row, values};
use strata_storage::iterator::InternalIterator;
use strata_storage::key::{CellType, encode_key, row_start_key};
use strata_storage::memstore::Memstore;

/// Entries in the memstore before timed inserts start.
const PREFILL: u64 = 50_000;
/// Timed inserts per memstore; a fresh one is built (untimed) past this.
const CHUNK: u64 = 50_000;
/// Rows in the memstore the seek benchmark reads.
const ROWS: u64 = 100_000;

fn prefilled(n: u64) -> Memstore {
    let m = Memstore::new();
    let mut vals = values();
    for i in 0..n {
        m.insert(
            Bytes::from(entry_key(i)),
            Bytes::copy_from_slice(vals.next_value()),
            i + 1,
        );
    }
    m
}

fn insert(c: &mut Criterion) {
    let mut g = c.benchmark_group("memstore");
    g.throughput(Throughput::Elements(1));
    let value = Bytes::copy_from_slice(values().next_value());
    let mut seed = 0;
    g.bench_function("insert_random_row", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let chunk = (iters - done).min(CHUNK);
                seed += 1;
                let m = prefilled(PREFILL);
                // Random rows among 1M; unique sequence ids make every key new.
                let keys: Vec<Bytes> = random_numbers(chunk as usize, 1_000_000, seed)
                    .into_iter()
                    .enumerate()
                    .map(|(i, r)| {
                        Bytes::from(encode_key(
                            &row(r),
                            b"v",
                            2,
                            CellType::Put,
                            PREFILL + 1 + i as u64,
                        ))
                    })
                    .collect();
                let t = Instant::now();
                for (i, k) in keys.into_iter().enumerate() {
                    m.insert(k, value.clone(), PREFILL + 1 + i as u64);
                }
                total += t.elapsed();
                done += chunk;
            }
            total
        })
    });
    g.finish();
}

fn seek(c: &mut Criterion) {
    let m = prefilled(ROWS);
    let targets: Vec<Vec<u8>> = random_numbers(4096, ROWS, 7)
        .into_iter()
        .map(|r| row_start_key(&row(r)))
        .collect();
    let flat = {
        let mut entries = Vec::with_capacity(ROWS as usize);
        let mut it = m.iter();
        it.seek_to_first().expect("seek");
        while it.valid() {
            entries.push((Bytes::copy_from_slice(it.key()), it.value_bytes()));
            it.next().expect("next");
        }
        Memstore::flat(entries, 1)
    };
    let mut g = c.benchmark_group("memstore");
    g.throughput(Throughput::Elements(1));
    for (name, mem) in [
        ("get_seek_100k_rows", &m),
        ("flat_get_seek_100k_rows", &flat),
    ] {
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut it = mem.iter();
                it.seek(&targets[i & 4095]).expect("seek");
                i += 1;
                black_box((it.key(), it.value()));
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
    targets = insert, seek
}
criterion_main!(benches);
