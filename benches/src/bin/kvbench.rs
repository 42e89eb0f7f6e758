//! `kvbench`: db_bench-style benchmarks of Strata and its peers.
//!
//! ```text
//! cargo run --release -p strata-benches --bin kvbench -- \
//!     --benchmarks fillseq,fillrandom,readrandom,readseq,seekrandom --num 1000000
//! ```
//!
//! Runs the listed benchmarks in order, engine by engine (`--engine all` = every engine
//! compiled in; `--interleave`: benchmark by benchmark, every engine in turn), one benchmark thread (two for `readwhilewriting` and
//! `readwhilecompacting`), and prints one db_bench-like line per benchmark, preceded by
//! `#` lines: flush-and-wait summaries, write amplification, peak RSS. See
//! `benches/README.md` for what each benchmark does and the per-engine settings.
//!
//! Byte-size options take an integer or a unit (`64MiB`, `1GiB`, Strata's `ByteSize`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use strata_benches::keys::KeyFormat;
use strata_benches::kv::{CompressionMode, StoreConfig, WalMode, available_engines};
use strata_benches::report::BenchResult;
use strata_benches::workload::{BENCHMARKS, Runner, Workload};
use strata_storage::ByteSize;

/// mimalloc, the allocator `strata-server` runs on. The Rust engines (Strata, fjall) both
/// allocate through it; RocksDB's C++ keeps glibc's `new`. Under glibc malloc, a flush
/// thread freeing the memstore the writer allocated contends on the arena lock (futex
/// wake-ups were ~5% of a fillrandom profile).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Parses a byte size (`4096`, `64MiB`).
fn size(s: &str) -> Result<u64, String> {
    ByteSize::parse(s).map(|b| b.0)
}

/// Command-line options (db_bench's names where it has one).
#[derive(Debug, Parser)]
#[command(
    name = "kvbench",
    about = "db_bench-style benchmarks of Strata and its peers"
)]
struct Args {
    /// Comma-separated benchmarks, run in order: fillseq, fillrandom, overwrite,
    /// readwhilewriting, readwhilecompacting, readrandom, readmissing, seekrandom,
    /// readseq, scan100k.
    #[arg(long, default_value = "fillrandom,readrandom", value_delimiter = ',')]
    benchmarks: Vec<String>,
    /// Number of keys (and puts per fill).
    #[arg(long, default_value_t = 1_000_000)]
    num: u64,
    /// Operations of readrandom, readmissing and seekrandom (default: --num).
    #[arg(long)]
    reads: Option<u64>,
    /// Key size in bytes (decimal key number, zero-padded).
    #[arg(long = "key_size", default_value_t = 16)]
    key_size: usize,
    /// Value size in bytes.
    #[arg(long = "value_size", default_value_t = 100)]
    value_size: usize,
    /// Values compress to about this fraction of their size.
    #[arg(long = "compression_ratio", default_value_t = 0.5)]
    compression_ratio: f64,
    /// Write durability: none (no WAL), async, flush (WAL to the OS, no fsync), fsync.
    #[arg(long, value_enum, default_value_t = WalMode::Flush)]
    wal: WalMode,
    /// Block cache capacity.
    #[arg(long = "cache_size", default_value = "64MiB", value_parser = size)]
    cache_size: u64,
    /// Memstore / memtable size that triggers a flush.
    #[arg(long = "write_buffer_size", default_value = "64MiB", value_parser = size)]
    write_buffer_size: u64,
    /// Strata's server.memory_limit (memstore.global_high = 40% of it); peak RSS is
    /// compared with it. Default: the engine's 2 GiB.
    #[arg(long = "memory_limit", value_parser = size)]
    memory_limit: Option<u64>,
    /// Strata's memstore.stall_timeout in ms: how long a write waits at a memory limit
    /// before WriteStall (which kvbench retries and counts). Default: the engine's 10 s.
    #[arg(long = "stall_timeout_ms")]
    stall_timeout_ms: Option<u64>,
    /// Compaction IO budget per second, 0 = unlimited (Strata: read + written bytes;
    /// RocksDB: rate limiter on flush and compaction writes; fjall: not supported).
    #[arg(long = "compaction_max_bytes_per_sec", default_value = "0", value_parser = size)]
    compaction_max_bytes_per_sec: u64,
    /// Uncompressed data block size in bytes.
    #[arg(long = "block_size", default_value_t = 64 * 1024)]
    block_size: usize,
    /// Block compression.
    #[arg(long, value_enum, default_value_t = CompressionMode::Lz4)]
    compression: CompressionMode,
    /// Bloom filter bits per key (Strata gets the matching fp rate, 0.0082 for 10).
    #[arg(long = "bloom_bits", default_value_t = 10.0)]
    bloom_bits: f64,
    /// strata, fjall, rocksdb, a comma list of them (run in that order) or all (peers
    /// only when built with their feature).
    #[arg(long, default_value = "strata")]
    engine: String,
    /// Seed of the key and value generators.
    #[arg(long, default_value_t = 301)]
    seed: u64,
    /// Extra rows read after each seek in seekrandom.
    #[arg(long = "seek_nexts", default_value_t = 0)]
    seek_nexts: usize,
    /// Scans run by scan100k.
    #[arg(long, default_value_t = 20)]
    scans: u64,
    /// Rows per scan100k scan.
    #[arg(long = "scan_rows", default_value_t = 100_000)]
    scan_rows: usize,
    /// Directory under which each fill creates a fresh database (default: system temp).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Also write every result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Keep every engine's database open and run each benchmark on all engines before
    /// the next benchmark, rotating which engine goes first, so that the engines' turns
    /// at one benchmark are minutes apart at most and a swing of the host's load falls
    /// on all of them alike. Peak RSS lines then count every open engine.
    #[arg(long)]
    interleave: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    for b in &args.benchmarks {
        if !BENCHMARKS.contains(&b.as_str()) {
            bail!("unknown benchmark {b:?} (known: {})", BENCHMARKS.join(","));
        }
    }
    let engines: Vec<String> = match args.engine.as_str() {
        "all" => available_engines().iter().map(|s| s.to_string()).collect(),
        // A list runs in its order: rotate it between runs so that no engine always
        // gets the host's first (or last) minutes.
        list => list.split(',').map(|s| s.trim().to_string()).collect(),
    };
    for e in &engines {
        if !available_engines().contains(&e.as_str()) {
            bail!(
                "unknown or unbuilt engine {e:?} (this build has: {})",
                available_engines().join(",")
            );
        }
    }
    let cfg = StoreConfig {
        cache_size_bytes: args.cache_size,
        write_buffer_size_bytes: args.write_buffer_size,
        block_size_bytes: args.block_size,
        compression: args.compression,
        bloom_bits_per_key: args.bloom_bits,
        wal: args.wal,
        memory_limit_bytes: args.memory_limit,
        stall_timeout: args.stall_timeout_ms.map(Duration::from_millis),
        compaction_bytes_per_sec: args.compaction_max_bytes_per_sec,
    };
    let work = Workload {
        num: args.num,
        reads: args.reads.unwrap_or(args.num),
        keys: KeyFormat::new(args.key_size, args.num).map_err(anyhow::Error::msg)?,
        value_size: args.value_size,
        compression_ratio: args.compression_ratio,
        seed: args.seed,
        seek_nexts: args.seek_nexts,
        scans: args.scans,
        scan_rows: args.scan_rows,
    };
    let root = args.db.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    println!(
        "kvbench: keys {} bytes, values {} bytes (compressible to {:.0}%), num {}, reads {}, wal {:?}, \
         cache {} bytes, write buffer {} bytes, block {} bytes, {:?}, bloom {} bits/key (fp {:.4}), \
         memory limit {}, stall timeout {}, compaction IO limit {} bytes/s (0 = none), 1 benchmark thread",
        args.key_size,
        args.value_size,
        args.compression_ratio * 100.0,
        work.num,
        work.reads,
        cfg.wal,
        cfg.cache_size_bytes,
        cfg.write_buffer_size_bytes,
        cfg.block_size_bytes,
        cfg.compression,
        cfg.bloom_bits_per_key,
        cfg.bloom_fp_rate(),
        cfg.memory_limit_bytes
            .map_or("engine default".into(), |b| ByteSize(b).to_string()),
        args.stall_timeout_ms
            .map_or("engine default".into(), |ms| format!("{ms} ms")),
        cfg.compaction_bytes_per_sec
    );
    let mut results: Vec<BenchResult> = Vec::new();
    if args.interleave {
        let mut runners: Vec<Runner> = engines
            .iter()
            .map(|e| Runner::new(e, cfg.clone(), work.clone(), &root))
            .collect();
        let n = runners.len();
        for (i, bench) in args.benchmarks.iter().enumerate() {
            for j in 0..n {
                let k = (i + j) % n;
                if let (Some(engine), Some(runner)) = (engines.get(k), runners.get_mut(k)) {
                    println!("== {engine}");
                    let r = runner.run(bench)?;
                    println!("{r}");
                    results.push(r);
                }
            }
        }
    } else {
        for engine in &engines {
            println!("== {engine}");
            let mut runner = Runner::new(engine, cfg.clone(), work.clone(), &root);
            for bench in &args.benchmarks {
                let r = runner.run(bench)?;
                println!("{r}");
                results.push(r);
            }
        }
    }
    if let Some(path) = &args.json {
        let doc = serde_json::json!({ "config": cfg, "num": work.num, "reads": work.reads, "results": results });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
