//! Finds the `strata-server` and `strata` binaries the process tests run, building them
//! if they are missing or older than the sources.
//!
//! Cargo gives a test `CARGO_BIN_EXE_<name>` only for its own package's binaries, so
//! this crate looks for them where cargo put them:
//! 1. the profile directory of the running test executable (`<target>/debug`, from
//!    `<target>/debug/deps/<test>-<hash>`): `cargo test --workspace` builds both
//!    binaries there before any test runs, since their packages have integration tests;
//! 2. `$CARGO_TARGET_DIR/debug`, then `<workspace>/target/debug`.
//!
//! A candidate is used only if both binaries exist and are newer than every source file
//! they are built from (so `cargo test -p strata-tests` after an edit does not test an
//! old server). Otherwise they are built once per process (a `OnceLock`) with
//! `cargo build -p strata-server -p strata-client --bins` into `<target>/e2e-bins`. A
//! separate target directory is needed because the `cargo test` that runs us holds the
//! lock of its own target directory until the tests end: building there would wait for
//! ever. Cargo's lock on `e2e-bins` serialises test processes building at once.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

/// The server binary.
pub const SERVER: &str = "strata-server";
/// The shell binary.
pub const SHELL: &str = "strata";

/// Longest the fallback build may take (a clean debug build on 2 cores takes ~5 min).
const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Most files looked at when deciding whether binaries are older than the sources.
const MAX_SOURCE_FILES: usize = 20_000;

/// The path of binary `name` ([`SERVER`] or [`SHELL`]); builds them on first use if
/// needed. Panics with the reason if they cannot be found or built.
pub fn path(name: &str) -> PathBuf {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR.get_or_init(find_or_build);
    match dir {
        Ok(dir) => dir.join(name),
        Err(e) => panic!("cannot provide the {name} binary: {e}"),
    }
}

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// `<target>/<profile>` of the running test executable, if it sits in `deps/`.
fn own_profile_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    (deps.file_name()? == "deps").then(|| deps.parent().map(Path::to_path_buf))?
}

fn candidates() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    dirs.extend(own_profile_dir());
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        dirs.push(PathBuf::from(target).join("debug"));
    }
    dirs.push(workspace_root().join("target").join("debug"));
    let mut unique: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        if !unique.contains(&dir) {
            unique.push(dir);
        }
    }
    unique
}

fn find_or_build() -> Result<PathBuf, String> {
    let newest_source = newest_source_mtime();
    for dir in candidates() {
        if fresh(&dir, newest_source) {
            return Ok(dir);
        }
    }
    build()
}

/// True if both binaries are in `dir` and newer than the newest source.
fn fresh(dir: &Path, newest_source: SystemTime) -> bool {
    [SERVER, SHELL].iter().all(|name| {
        std::fs::metadata(dir.join(name))
            .and_then(|m| m.modified())
            .is_ok_and(|built| built >= newest_source)
    })
}

/// The newest modification time of what the binaries are built from.
fn newest_source_mtime() -> SystemTime {
    let root = workspace_root();
    let mut newest = SystemTime::UNIX_EPOCH;
    let mut seen = 0;
    let mut pending: Vec<PathBuf> = vec![root.join("Cargo.toml"), root.join("Cargo.lock")];
    for krate in ["proto", "storage", "server", "client"] {
        pending.push(root.join(krate).join("Cargo.toml"));
        pending.push(root.join(krate).join("src"));
    }
    pending.push(root.join("proto").join("proto"));
    pending.push(root.join("proto").join("build.rs"));
    while let Some(path) = pending.pop() {
        seen += 1;
        if seen > MAX_SOURCE_FILES {
            break;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
            }
        } else if let Ok(modified) = meta.modified() {
            newest = newest.max(modified);
        }
    }
    newest
}

/// Builds both binaries into `<target>/e2e-bins`; returns their directory.
fn build() -> Result<PathBuf, String> {
    let target = own_profile_dir()
        .and_then(|d| d.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| workspace_root().join("target"));
    let target = target.join("e2e-bins");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Straight to stderr: the test harness captures `eprintln!`, and a build of minutes
    // should not look like a hang.
    let _ = writeln!(
        std::io::stderr(),
        "strata-tests: building strata-server and strata into {} (missing or older than the sources)",
        target.display()
    );
    let mut child = Command::new(cargo)
        .args([
            "build",
            "-p",
            "strata-server",
            "-p",
            "strata-client",
            "--bins",
        ])
        .current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", &target)
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let deadline = Instant::now() + BUILD_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("cargo build took longer than {BUILD_TIMEOUT:?}"));
            }
            Err(e) => return Err(format!("waiting for cargo build: {e}")),
        }
    };
    if !status.success() {
        return Err(format!("cargo build failed: {status}"));
    }
    let dir = target.join("debug");
    if [SERVER, SHELL].iter().all(|n| dir.join(n).is_file()) {
        Ok(dir)
    } else {
        Err(format!("cargo build left no binaries in {}", dir.display()))
    }
}
