//! `strata-server`: runs Strata.
//!
//! `strata-server standalone [--root-dir DIR] [--listen ADDR] [--config FILE]
//! [--set key=value]... [--log-level LEVEL]` runs the master and a region server in one
//! process. `strata-server master ...` runs a cluster master alone, and
//! `strata-server regionserver --master URL ...` a region server that registers with it
//! (same flags; all share one `root_dir`). Exit codes: 0 after a clean shutdown (SIGTERM or SIGINT), 1 when the server
//! fails, 2 for an invalid command line or configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use strata_server::config::{RuntimeKind, ServerConfig};
use strata_server::{cluster, standalone};
use tracing_subscriber::EnvFilter;

/// mimalloc for the server: glibc malloc, with its `malloc_consolidate`, cost ~10% of the
/// CPU per RPC in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "strata-server",
    version,
    about = "Strata, an HBase-style wide-column store"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the master and one region server in one process on a local root_dir.
    Standalone(StandaloneArgs),
    /// Run a cluster master (region servers register with it).
    Master(StandaloneArgs),
    /// Run a region server of a cluster.
    Regionserver(RegionServerArgs),
}

#[derive(clap::Args, Debug)]
struct RegionServerArgs {
    /// The master's URL, e.g. http://127.0.0.1:16000.
    #[arg(long)]
    master: String,
    #[command(flatten)]
    common: StandaloneArgs,
}

#[derive(clap::Args, Debug)]
struct StandaloneArgs {
    /// Data directory (server.root_dir) [default: ./strata-data].
    #[arg(long)]
    root_dir: Option<PathBuf>,
    /// Address to listen on (server.listen); port 0 picks one [default: 127.0.0.1:16020].
    #[arg(long)]
    listen: Option<String>,
    /// TOML configuration file (see docs/configuration.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override one key, e.g. --set memstore.flush_size=64MiB (repeatable; applied after the file).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Log filter (e.g. info, debug, strata_storage=debug); default: RUST_LOG, else info.
    #[arg(long)]
    log_level: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Standalone(args) => run(args, Mode::Standalone),
        Command::Master(args) => run(args, Mode::Master),
        Command::Regionserver(args) => run(args.common, Mode::RegionServer(args.master)),
    }
}

/// Which server the process runs.
enum Mode {
    Standalone,
    Master,
    RegionServer(String),
}

fn init_logs(level: Option<&str>) {
    let filter = match level {
        Some(l) => EnvFilter::try_new(l),
        None => EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new("info")),
    }
    .unwrap_or_else(|e| {
        eprintln!("strata-server: bad log filter ({e}); using info");
        EnvFilter::new("info")
    });
    // Colours only on a terminal: log files and pipes get plain `key=value` text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}

fn run(args: StandaloneArgs, mode: Mode) -> ExitCode {
    init_logs(args.log_level.as_deref());
    let mut sets = args.sets;
    // Flags are overrides too, quoted so any path or address reads as a string.
    if let Some(dir) = &args.root_dir {
        let dir = toml::Value::String(dir.display().to_string());
        sets.push(format!("server.root_dir={dir}"));
    }
    if let Some(listen) = &args.listen {
        sets.push(format!(
            "server.listen={}",
            toml::Value::String(listen.clone())
        ));
    }
    let config = match ServerConfig::load(args.config.as_deref(), &sets) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("strata-server: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match config.server.runtime {
        RuntimeKind::MultiThread => tokio::runtime::Builder::new_multi_thread(),
        RuntimeKind::CurrentThread => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .thread_name("strata-rpc")
    .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("strata-server: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(config, mode)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "strata-server failed");
            eprintln!("strata-server: {e}");
            ExitCode::from(1)
        }
    }
}

async fn serve(config: ServerConfig, mode: Mode) -> anyhow::Result<()> {
    match mode {
        Mode::Standalone => {
            let handle = standalone::start(config).await?;
            println!("{}", handle.status_line());
            wait_for_signal().await?;
            handle.shutdown().await?;
        }
        Mode::Master => {
            let handle = cluster::start_master(config).await?;
            println!("{}", handle.status_line());
            wait_for_signal().await?;
            handle.shutdown().await?;
        }
        Mode::RegionServer(master) => {
            let handle = cluster::start_region_server(config, &master).await?;
            println!("{}", handle.status_line());
            wait_for_signal().await?;
            handle.shutdown().await?;
        }
    }
    Ok(())
}

/// Waits for SIGTERM or SIGINT.
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    Ok(())
}
