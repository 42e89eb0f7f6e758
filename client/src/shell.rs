//! The `strata` shell: HBase shell syntax over the Rust client.
//!
//! Text is split into tokens ([`lexer`]), then statements of a command name and Ruby-like
//! arguments ([`parser`]), then typed commands holding the client's builders
//! ([`command`]), which a [`Session`](exec::Session) runs against the cluster, printing
//! with a [`Printer`](output::Printer) as text or JSON. [`repl`] holds the interactive,
//! piped and one-shot loops the `strata` binary uses.
//!
//! This module is public for the binary only; it is not a stable API.

mod args;
pub mod cluster;
pub mod command;
pub mod exec;
pub mod help;
pub mod lexer;
pub mod output;
pub mod parser;
pub mod repl;
