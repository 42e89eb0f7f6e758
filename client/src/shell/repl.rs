//! The shell's loops: interactive (rustyline, with history in `~/.strata_history`) when
//! stdin is a terminal, line by line from stdin otherwise (`strata shell < script`), and
//! one-shot (`strata exec "..."`).
//!
//! A command may span lines while a string or bracket is open, or after a trailing `,`
//! or `=>`. Exit status: 0 if every command succeeded, 1 otherwise; with
//! `exit_on_error` (`-n`, as `hbase shell -n`) the shell stops at the first failure.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;
use tokio::runtime::Runtime;

use super::command::command;
use super::exec::{Flow, Session, ShellError};
use super::output::Printer;
use super::parser::{ParseError, parse};

/// Prompt for a new command.
const PROMPT: &str = "strata> ";
/// Prompt for the continuation of an open command.
const CONTINUE_PROMPT: &str = "strata* ";

/// A shell: a session, where it prints, and how it treats failures.
pub struct Shell<W: Write> {
    runtime: Runtime,
    session: Session,
    printer: Printer<W>,
    exit_on_error: bool,
    failed: bool,
}

impl<W: Write> Shell<W> {
    /// A shell running commands of `session` on `runtime`, printing with `printer`.
    pub fn new(
        runtime: Runtime,
        session: Session,
        printer: Printer<W>,
        exit_on_error: bool,
    ) -> Shell<W> {
        Shell {
            runtime,
            session,
            printer,
            exit_on_error,
            failed: false,
        }
    }

    /// 0 if every command succeeded, else 1.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.failed)
    }

    /// The printer (tests read what was printed).
    pub fn into_printer(self) -> Printer<W> {
        self.printer
    }

    /// Runs every command of `text`; stops early on `exit`, or on a failure with
    /// `exit_on_error`.
    pub fn run_text(&mut self, text: &str) -> Flow {
        match parse(text) {
            Ok(statements) => {
                for statement in statements {
                    let result = command(statement)
                        .map_err(ShellError::Usage)
                        .and_then(|cmd| {
                            let (session, printer) = (&mut self.session, &mut self.printer);
                            self.runtime.block_on(session.run(cmd, printer))
                        });
                    if let Flow::Exit = self.settle(result) {
                        return Flow::Exit;
                    }
                }
                Flow::Continue
            }
            Err(e) => self.settle(Err(ShellError::Syntax(e))),
        }
    }

    /// Prints a failure; decides whether to go on.
    fn settle(&mut self, result: Result<Flow, ShellError>) -> Flow {
        let flow = match result {
            Ok(flow) => flow,
            Err(e) => {
                self.failed = true;
                if !matches!(e, ShellError::Printed(_)) {
                    // A printer that cannot print the error has nowhere else to say it.
                    let _ = self.printer.error(e.kind(), &e.to_string());
                }
                if self.exit_on_error {
                    Flow::Exit
                } else {
                    Flow::Continue
                }
            }
        };
        let _ = self.printer.flush();
        flow
    }

    /// Reads commands from `input` line by line until its end or `exit`.
    pub fn run_lines(&mut self, input: impl BufRead) -> i32 {
        let mut pending = String::new();
        for line in input.lines() {
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    let _ = self.settle(Err(ShellError::Io(e)));
                    return 1;
                }
            };
            pending.push_str(&line);
            pending.push('\n');
            if matches!(parse(&pending), Err(ParseError::Incomplete(_))) {
                continue;
            }
            let text = std::mem::take(&mut pending);
            if self.run_text(&text) == Flow::Exit {
                return self.exit_code();
            }
        }
        if !pending.trim().is_empty() {
            self.run_text(&pending); // reports what is incomplete
        }
        self.exit_code()
    }

    /// The interactive loop, with line editing and history.
    pub fn run_interactive(&mut self) -> i32 {
        let mut editor = match DefaultEditor::new() {
            Ok(editor) => editor,
            Err(e) => {
                eprintln!("cannot start line editing ({e}); reading stdin line by line");
                return self.run_lines(std::io::stdin().lock());
            }
        };
        // A person at a terminal keeps the shell after a failure, even with -n.
        self.exit_on_error = false;
        let history = history_file();
        if let Some(path) = &history {
            let _ = editor.load_history(path); // absent on first use
        }
        println!("Strata shell; type 'help' for the commands, 'exit' to leave.");
        let mut pending = String::new();
        loop {
            let prompt = if pending.is_empty() {
                PROMPT
            } else {
                CONTINUE_PROMPT
            };
            match editor.readline(prompt) {
                Ok(line) => {
                    pending.push_str(&line);
                    pending.push('\n');
                    if matches!(parse(&pending), Err(ParseError::Incomplete(_))) {
                        continue;
                    }
                    let text = std::mem::take(&mut pending);
                    if !text.trim().is_empty() {
                        let _ = editor.add_history_entry(text.trim_end());
                    }
                    if self.run_text(&text) == Flow::Exit {
                        break;
                    }
                }
                Err(ReadlineError::Interrupted) => pending.clear(),
                Err(ReadlineError::Eof) => break,
                Err(e) => {
                    eprintln!("input error: {e}");
                    self.failed = true;
                    break;
                }
            }
        }
        if let Some(path) = &history {
            let _ = editor.save_history(path);
        }
        self.exit_code()
    }
}

/// `~/.strata_history`, if the home directory is known.
fn history_file() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".strata_history"))
}

#[cfg(test)]
#[path = "repl/tests.rs"]
mod tests;
