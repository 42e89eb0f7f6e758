//! What the request metrics add to each request, measured alone: the per-RPC record
//! (counter, histogram, error slot), the region and table counters, and the
//! thread-local phase reset/read around an engine call, together with the two
//! `Instant::now()` reads a request makes. Single-threaded, so it is the uncontended
//! cost; rpcbench (docs/benchmarks-rpc.md) measures the whole server before and after.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use strata_server::metrics::{Rpc, ServerMetrics};
use strata_storage::histogram::Histogram;
use strata_storage::request_phases;

fn per_request(c: &mut Criterion) {
    let metrics = ServerMetrics::default();
    let region = metrics.region_counters("usertable");
    let histogram = Histogram::default();
    c.bench_function("histogram_observe", |b| {
        b.iter(|| histogram.observe(black_box(Duration::from_micros(240))))
    });
    c.bench_function("request_bookkeeping", |b| {
        b.iter(|| {
            let started = Instant::now();
            request_phases::reset();
            black_box(request_phases::take());
            let elapsed = started.elapsed();
            metrics.record(Rpc::Get, black_box(elapsed), None);
            region.observe(Rpc::Get, elapsed);
        })
    });
}

criterion_group!(benches, per_request);
criterion_main!(benches);
