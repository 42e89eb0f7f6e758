//! The real `strata` binary against the real in-process server: a script piped to
//! `strata shell -n` (create with SPLITS, put, get, scan with STARTROW/LIMIT, delete,
//! deleteall, incr, count, describe, list, disable, drop) prints the expected rows,
//! cells and counts; a failing command stops `-n` with exit status 1 and the server's
//! message; and `--json exec` prints JSON documents with the expected rows.

use std::time::Duration;

use strata_client::admin::FamilyDescriptor;
use strata_client::{Get, Put};
use strata_tests::process::{self, Output};
use strata_tests::{TestServer, binaries, create_table};

/// Longest one run of the shell may take.
const SHELL_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `strata --master <url> <args...>` with `stdin`, off the async runtime (the
/// in-process server keeps serving meanwhile).
async fn strata(url: &str, args: &[&str], stdin: &str) -> Output {
    let mut all = vec!["--master".to_string(), url.to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    let stdin = stdin.to_string();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        process::run(
            &binaries::path(binaries::SHELL),
            &args,
            &stdin,
            SHELL_TIMEOUT,
        )
    })
    .await
    .expect("shell run")
}

/// The lines of `out` that mention row `key` in a scan or get listing, trimmed.
fn cell_lines<'a>(out: &'a str, key: &str) -> Vec<&'a str> {
    let prefix = format!("{key} ");
    out.lines()
        .map(str::trim)
        .filter(|l| l.starts_with(&prefix) && l.contains("column="))
        .collect()
}

const SCRIPT: &str = r#"
create 'shop', {NAME => 'f', VERSIONS => 2}, 'g', SPLITS => ['h', 'p']
list
describe 'shop'
put 'shop', 'apple', 'f:price', '3'
put 'shop', 'apple', 'f:color', 'red'
put 'shop', 'kiwi', 'f:price', '5'
put 'shop', 'kiwi', 'g:origin', 'nz'
put 'shop', 'pear', 'f:price', '4'
put 'shop', 'zucchini', 'f:price', "\x01\xff"
get 'shop', 'apple'
scan 'shop', {STARTROW => 'b', LIMIT => 2}
delete 'shop', 'kiwi', 'g:origin'
deleteall 'shop', 'pear'
incr 'shop', 'visits', 'g:n', 5
incr 'shop', 'visits', 'g:n'
get_counter 'shop', 'visits', 'g:n'
count 'shop'
scan 'shop'
disable 'shop'
drop 'shop'
list
"#;

#[tokio::test]
async fn script_on_stdin_prints_rows_and_counts() {
    let server = TestServer::start().await;
    let out = strata(server.url(), &["shell", "-n"], SCRIPT).await;
    let text = &out.stdout;
    assert!(out.status.success(), "{out:?}");
    assert!(!text.contains("ERROR"), "{text}");

    assert!(
        text.contains("Created table shop with 3 region(s)"),
        "{text}"
    );
    assert!(text.contains("TABLE\nshop\n1 row(s)"), "{text}");
    assert!(text.contains("Table shop is ENABLED"), "{text}");
    assert!(text.contains("{NAME => 'f', VERSIONS => '2',"), "{text}");
    assert!(text.contains("{NAME => 'g', VERSIONS => '1',"), "{text}");
    assert!(text.contains("3 REGION(S)"), "{text}");
    for bounds in ["[-inf, 'h')", "['h', 'p')", "['p', +inf)"] {
        assert!(text.contains(bounds), "{bounds} in {text}");
    }

    // get: one line per cell, then the row count.
    let get_lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("f:") && l.contains("timestamp="))
        .collect();
    assert_eq!(get_lines.len(), 2, "{text}");
    assert!(get_lines[0].starts_with("f:color") && get_lines[0].ends_with("value=red"));
    assert!(get_lines[1].starts_with("f:price") && get_lines[1].ends_with("value=3"));

    // The first scan (STARTROW 'b', LIMIT 2) crosses the 'h' and 'p' splits: kiwi and
    // pear. The second one, after the deletes, lists every row left.
    let kiwi = cell_lines(text, "kiwi");
    assert_eq!(
        kiwi.len(),
        3,
        "kiwi twice with two cells, then once: {text}"
    );
    assert!(kiwi[0].contains("column=f:price,") && kiwi[0].ends_with("value=5"));
    assert!(kiwi[1].contains("column=g:origin,") && kiwi[1].ends_with("value=nz"));
    assert!(
        kiwi[2].contains("column=f:price,"),
        "g:origin deleted: {text}"
    );
    assert_eq!(
        cell_lines(text, "pear").len(),
        1,
        "pear only before deleteall"
    );
    let zucchini = cell_lines(text, "zucchini");
    assert_eq!(zucchini.len(), 1);
    assert!(zucchini[0].ends_with(r"value=\x01\xFF"), "{text}");
    assert_eq!(cell_lines(text, "apple").len(), 2, "apple in the last scan");
    let visits = cell_lines(text, "visits");
    assert_eq!(visits.len(), 1);
    assert!(visits[0].ends_with(r"value=\x00\x00\x00\x00\x00\x00\x00\x06"));

    assert!(text.contains("COUNTER VALUE = 5\n"), "{text}");
    assert_eq!(text.matches("COUNTER VALUE = 6\n").count(), 2, "{text}");
    // get: 1 row; scans: 2 rows, then 4; count: 4; the last list: 0.
    let counts: Vec<&str> = text.lines().filter(|l| l.ends_with(" row(s)")).collect();
    assert_eq!(
        counts,
        [
            "1 row(s)", "1 row(s)", "2 row(s)", "4 row(s)", "4 row(s)", "0 row(s)"
        ],
        "{text}"
    );
    assert!(text.contains("Disabled table shop\n") && text.contains("Dropped table shop\n"));
    assert!(text.contains("TABLE\n0 row(s)"), "{text}");
    let client = server.quick_client().await;
    assert!(client.admin().list_tables().await.unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn failing_command_stops_with_n_and_exit_status_1() {
    let server = TestServer::start().await;
    let client = server.quick_client().await;
    let t = create_table(&client, "t", vec![FamilyDescriptor::new("f")], &[]).await;
    let script =
        "put 't', 'r1', 'f:q', 'v'\nput 't', 'r2', 'nope:q', 'v'\nput 't', 'r3', 'f:q', 'v'\n";

    let out = strata(server.url(), &["shell", "-n"], script).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let error = out.stdout.lines().find(|l| l.starts_with("ERROR: "));
    let error = error.unwrap_or_else(|| panic!("no ERROR line: {out:?}"));
    assert!(error.contains("nope"), "{error}");
    assert!(t.get(Get::new("r1")).await.unwrap().is_some());
    assert!(t.get(Get::new("r3")).await.unwrap().is_none(), "-n stops");

    // Without -n the script goes on, and the exit status still reports the failure.
    let out = strata(server.url(), &["shell"], script).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(t.get(Get::new("r3")).await.unwrap().is_some(), "went on");

    // A syntax error and an unknown table fail the same way.
    let out = strata(server.url(), &["shell", "-n"], "get 't', 'r1\n").await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.contains("ERROR: "), "{out:?}");
    let out = strata(server.url(), &["exec", "get 'missing', 'r'"], "").await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.contains("ERROR: ") && out.stdout.contains("missing"));
    server.stop().await;
}

#[tokio::test]
async fn json_exec_prints_parsable_documents() {
    let server = TestServer::start().await;
    let client = server.quick_client().await;
    let t = create_table(&client, "j", vec![FamilyDescriptor::new("f")], &["m"]).await;
    for (row, value) in [("a", &b"1"[..]), ("k", b"\xff"), ("q", b"3"), ("z", b"4")] {
        t.put(Put::new(row).add("f", "q", value.to_vec()))
            .await
            .unwrap();
    }

    let out = strata(
        server.url(),
        &["--json", "exec", "scan 'j', {LIMIT => 3}"],
        "",
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let doc: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("one document");
    assert_eq!(doc["count"], 3);
    let rows = doc["rows"].as_array().expect("rows");
    let keys: Vec<&str> = rows.iter().map(|r| r["row"].as_str().unwrap()).collect();
    assert_eq!(keys, ["a", "k", "q"]);
    let cell = &rows[1]["cells"][0];
    assert_eq!(cell["family"], "f");
    assert_eq!(cell["qualifier"], "q");
    assert_eq!(cell["value"], r"\xFF");
    assert!(cell["timestamp"].as_u64().unwrap() > 0);

    // Several commands: one document each, on its own line; an error is a document too.
    let commands = "count 'j'; get 'j', 'z'; get 'nope', 'a'";
    let out = strata(server.url(), &["--json", "exec", commands], "").await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let docs: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(docs.len(), 3, "{out:?}");
    assert_eq!(docs[0]["count"], 4);
    assert_eq!(docs[1]["row"], "z");
    assert_eq!(docs[1]["cells"][0]["value"], "4");
    assert_eq!(docs[2]["error"]["kind"], "not_found");
    assert!(
        docs[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope")
    );
    server.stop().await;
}
