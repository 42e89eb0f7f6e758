//! Real processes: the `strata-server standalone` binary as a child ([`ServerProcess`]),
//! and one-shot runs of a binary with stdin and a deadline ([`run`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::binaries;

/// Longest a server process may take to print its status line (start-up and recovery).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// `strata-server standalone` running as a child process; killed on drop so a failing
/// test leaves nothing behind.
pub struct ServerProcess {
    child: Child,
    url: String,
    status_url: Option<String>,
}

impl ServerProcess {
    /// Starts the binary on `listen` (e.g. `127.0.0.1:0`) with data in `root`, and waits
    /// for its status line, which names the bound address. The server answers once that
    /// line is out: it is printed after the listener is bound and recovery is done.
    pub fn spawn(root: &Path, listen: &str) -> ServerProcess {
        ServerProcess::try_spawn(root, listen).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`spawn`](Self::spawn), with a failure to start (e.g. the port is taken) as an
    /// error.
    pub fn try_spawn(root: &Path, listen: &str) -> Result<ServerProcess, String> {
        ServerProcess::try_spawn_with(root, listen, &["--set", "server.status_listen=127.0.0.1:0"])
    }

    /// [`try_spawn`](Self::try_spawn) with more arguments (e.g. `--set key=value`).
    pub fn try_spawn_with(
        root: &Path,
        listen: &str,
        extra: &[&str],
    ) -> Result<ServerProcess, String> {
        let mut child = Command::new(binaries::path(binaries::SERVER))
            .args(["standalone", "--listen", listen, "--log-level", "warn"])
            .args(extra)
            .arg("--root-dir")
            .arg(root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn strata-server: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            let _ = tx.send(line);
            // Keep the pipe open and drained: a later print must not hit a closed pipe.
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let mut urls = line
            .split_whitespace()
            .filter(|w| w.starts_with("http://"))
            .map(|w| w.trim_end_matches(',').trim_end_matches('/').to_string());
        let url = urls.next();
        let status_url = urls.next();
        match url {
            Some(url) => Ok(ServerProcess {
                child,
                url,
                status_url,
            }),
            None => {
                let _ = child.kill();
                let status = child.wait();
                Err(format!(
                    "strata-server on {listen} printed no status line within {START_TIMEOUT:?} \
                     (got {line:?}, exit {status:?}); its stderr above says why"
                ))
            }
        }
    }

    /// The URL the server printed.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The status port's URL, as the status line names it.
    pub fn status_url(&self) -> Option<&str> {
        self.status_url.as_deref()
    }

    /// The `host:port` it listens on.
    pub fn listen_addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// SIGKILL (no flush, no clean close), then waits for the exit.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL strata-server");
        self.child.wait().expect("reap strata-server");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a finished process left.
#[derive(Debug)]
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

/// Runs `program` with `args`, `stdin` as its input, for at most `timeout` (then it is
/// killed and the call panics). Blocking: call it from `spawn_blocking` in async tests.
pub fn run(program: &Path, args: &[&str], stdin: &str, timeout: Duration) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
    let mut input = child.stdin.take().expect("piped stdin");
    let stdin = stdin.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes()); // dropping `input` closes it
    });
    let stdout = reader(child.stdout.take().expect("piped stdout"));
    let stderr = reader(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} {args:?} still running after {timeout:?}",
                program.display()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Reads a pipe to its end on a thread, so a full pipe never blocks the child.
fn reader(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = pipe.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
}
