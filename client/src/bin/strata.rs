//! `strata`: Strata's command-line shell.
//!
//! ```text
//! strata [--master ADDR] [--json] [--timeout SECS] shell [-n]   # interactive, or a script on stdin
//! strata [--master ADDR] [--json] [--timeout SECS] exec "<commands>"
//! ```
//!
//! `exec` takes one argument holding one or more commands (separated by `;` or line
//! breaks) and stops at the first failure. The exit status is 0 if every command
//! succeeded and 1 otherwise.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use strata_client::ClientConfig;
use strata_client::shell::exec::Session;
use strata_client::shell::output::Printer;
use strata_client::shell::repl::Shell;

/// Strata's shell: HBase shell commands against a Strata cluster.
#[derive(Debug, Parser)]
#[command(name = "strata", version)]
struct Cli {
    /// Address of the master (in standalone mode, the server's address).
    #[arg(long, global = true, default_value = "http://127.0.0.1:16020")]
    master: String,
    /// Print one JSON document per command instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Deadline of each command in seconds, retries included (admin work such as
    /// compaction gets 20 times as long).
    #[arg(long, global = true, default_value_t = 30)]
    timeout: u64,
    #[command(subcommand)]
    command: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Read commands from the terminal, or from stdin when it is not one.
    Shell {
        /// Non-interactive: exit with status 1 at the first failed command.
        #[arg(short = 'n', long = "noninteractive")]
        exit_on_error: bool,
    },
    /// Run the commands in one argument, e.g. "put 't', 'r', 'f:q', 'v'", and exit.
    Exec {
        /// One or more commands, separated by ';' or line breaks.
        commands: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("strata: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let config = ClientConfig::default()
        .operation_timeout(timeout)
        .rpc_timeout(timeout.min(Duration::from_secs(10)))
        .admin_timeout(timeout * 20);
    let session = Session::new(cli.master, config);
    let printer = Printer::new(std::io::stdout().lock(), cli.json);
    let code = match cli.command {
        Mode::Exec { commands } => {
            let mut shell = Shell::new(runtime, session, printer, true);
            shell.run_text(&commands);
            shell.exit_code()
        }
        Mode::Shell { exit_on_error } => {
            let mut shell = Shell::new(runtime, session, printer, exit_on_error);
            if std::io::stdin().is_terminal() {
                shell.run_interactive()
            } else {
                shell.run_lines(std::io::stdin().lock())
            }
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
