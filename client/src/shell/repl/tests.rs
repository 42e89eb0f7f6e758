//! The loops without a cluster: help, syntax and usage errors, multi-line input, `-n`,
//! and a master that cannot be reached (a closed port on 127.0.0.1).

use std::time::Duration;

use super::*;
use crate::ClientConfig;

/// A shell whose master is a port nothing listens on.
fn shell(json: bool, exit_on_error: bool) -> Shell<Vec<u8>> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let master = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    drop(listener);
    let config = ClientConfig::default().operation_timeout(Duration::from_secs(2));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    Shell::new(
        runtime,
        Session::new(master, config),
        Printer::new(Vec::new(), json),
        exit_on_error,
    )
}

fn output(shell: Shell<Vec<u8>>) -> String {
    String::from_utf8(shell.into_printer().into_inner()).unwrap()
}

#[test]
fn help_and_errors_need_no_cluster() {
    let mut sh = shell(false, false);
    let script = "help 'incr'\nincr 't'\nget 't', 'r\n   ', {VERSIONS => 1}\nexit\nlist\n";
    let code = sh.run_lines(script.as_bytes());
    assert_eq!(code, 1);
    let out = output(sh);
    assert!(out.starts_with("incr: add to an 8-byte counter"), "{out}");
    assert!(
        out.contains("ERROR: incr: missing a row key\nUsage: incr"),
        "{out}"
    );
    // The string spans two lines, then the command goes to the (absent) cluster.
    assert!(
        out.contains("ERROR: transport error: cannot connect to http://127.0.0.1:"),
        "{out}"
    );
    assert!(!out.contains("TABLE"), "nothing runs after exit: {out}");
}

#[test]
fn exit_on_error_stops_at_the_first_failure() {
    let mut sh = shell(false, true);
    let code = sh.run_lines("help 'get'\nbogus\nhelp 'put'\n".as_bytes());
    assert_eq!(code, 1);
    let out = output(sh);
    assert!(out.contains("get: read a row"));
    assert!(out.contains("ERROR: unknown command 'bogus'"));
    assert!(!out.contains("put: write a cell"), "{out}");
}

#[test]
fn json_mode_prints_one_document_per_command() {
    let mut sh = shell(true, false);
    let code =
        sh.run_lines("help 'list'; nope\nscan 't', {LIMIT => 'x'}\nput 't', 'r'\n".as_bytes());
    assert_eq!(code, 1);
    let out = output(sh);
    let docs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 4, "{out}");
    assert!(docs[0]["help"].as_str().unwrap().starts_with("list"));
    assert_eq!(docs[1]["error"]["kind"], "usage");
    assert_eq!(docs[2]["error"]["kind"], "usage");
    assert_eq!(docs[3]["error"]["kind"], "usage");
}

#[test]
fn unfinished_input_is_reported_at_the_end() {
    let mut sh = shell(false, false);
    assert_eq!(sh.run_lines("scan 't', {LIMIT => 1,\n".as_bytes()), 1);
    assert!(output(sh).contains("ERROR: incomplete input: unclosed bracket"));
    let mut sh = shell(false, false);
    assert_eq!(sh.run_text("help; help 'exit'"), Flow::Continue);
    assert_eq!(sh.run_text("exit; help"), Flow::Exit);
    assert_eq!(sh.exit_code(), 0);
    let out = output(sh);
    assert_eq!(out.matches("Strata shell.").count(), 1, "{out}");
}

#[test]
fn list_patterns() {
    use super::super::exec::wildcard_match;
    assert!(wildcard_match("us.*", "users"));
    assert!(wildcard_match("*ers", "users"));
    assert!(wildcard_match("u*r*s", "users"));
    assert!(wildcard_match("users", "users"));
    assert!(!wildcard_match("user", "users"));
    assert!(!wildcard_match("a*b", "ab_a"));
    assert!(!wildcard_match("ab*ba", "aba"));
}
