//! What the printer writes, in text and JSON mode.

use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::Cell;
use crate::admin::{FamilyDescriptor, TableDescriptor};

fn row(key: &'static [u8], cells: &[(&'static str, &'static str, u64, &'static [u8])]) -> Row {
    Row {
        row: Bytes::from_static(key),
        cells: cells
            .iter()
            .map(|&(f, q, ts, v)| Cell {
                family: Bytes::from(f),
                qualifier: Bytes::from(q),
                timestamp: ts,
                value: Bytes::from_static(v),
            })
            .collect(),
    }
}

fn printed(json: bool, f: impl FnOnce(&mut Printer<Vec<u8>>) -> io::Result<()>) -> String {
    let mut p = Printer::new(Vec::new(), json);
    f(&mut p).unwrap();
    String::from_utf8(p.into_inner()).unwrap()
}

#[test]
fn binary_escaping_matches_hbase() {
    assert_eq!(binary(b"row1"), "row1");
    assert_eq!(binary(b"a\x00b\xff\\ ~"), "a\\x00b\\xFF\\x5C ~");
    assert_eq!(binary("é".as_bytes()), "\\xC3\\xA9");
}

#[test]
fn scan_text_and_json() {
    let rows = [
        row(
            b"a",
            &[("info", "name", 5, b"Ada"), ("info", "name", 3, b"Ad")],
        ),
        row(
            b"b\x01",
            &[("stats", "n", 1, b"\x00\x00\x00\x00\x00\x00\x00\x07")],
        ),
    ];
    let text = printed(false, |p| {
        p.begin_scan()?;
        for (i, r) in rows.iter().enumerate() {
            p.scan_row(r, i as u64)?;
        }
        p.end_scan(2, None)?;
        p.took(Duration::from_millis(12))
    });
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ROW ") && lines[0].ends_with(" COLUMN+CELL"));
    assert!(lines[1].starts_with(" a "));
    assert!(
        lines[1].ends_with("column=info:name, timestamp=5, value=Ada"),
        "{}",
        lines[1]
    );
    assert!(lines[3].starts_with(" b\\x01 "));
    assert!(lines[3].ends_with("value=\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x07"));
    assert_eq!(lines[4], "2 row(s)");
    assert_eq!(lines[5], "Took 0.0120 seconds");

    // A scan that fails at once prints only its error; one cut short keeps its rows.
    assert_eq!(
        printed(false, |p| {
            p.begin_scan()?;
            p.end_scan(0, Some(("busy", "x".into())))
        }),
        ""
    );
    let partial = printed(false, |p| {
        p.begin_scan()?;
        p.scan_row(&rows[0], 0)?;
        p.end_scan(1, Some(("busy", "x".into())))
    });
    assert!(
        partial.starts_with("ROW ") && partial.ends_with("1 row(s)\n"),
        "{partial}"
    );
    assert_eq!(
        printed(false, |p| {
            p.begin_scan()?;
            p.end_scan(0, None)
        }),
        format!("{:<34} COLUMN+CELL\n0 row(s)\n", "ROW")
    );

    let json = printed(true, |p| {
        p.begin_scan()?;
        p.scan_row(&rows[0], 0)?;
        p.scan_row(&rows[1], 1)?;
        p.end_scan(2, Some(("timeout", "slow".into())))?;
        p.took(Duration::from_millis(12))
    });
    assert_eq!(json.lines().count(), 1, "one document per command");
    let doc: Json = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["count"], 2);
    assert_eq!(doc["rows"][0]["cells"][1]["value"], "Ad");
    assert_eq!(doc["rows"][1]["row"], "b\\x01");
    assert_eq!(doc["error"]["kind"], "timeout");
}

#[test]
fn get_counter_and_errors() {
    let r = row(b"r", &[("f", "q", 9, b"v")]);
    let text = printed(false, |p| p.get(Some(&r)));
    assert!(text.starts_with("COLUMN "));
    assert!(text.contains(" f:q ") && text.contains("timestamp=9, value=v"));
    assert!(text.ends_with("1 row(s)\n"));
    assert!(printed(false, |p| p.get(None)).ends_with("0 row(s)\n"));
    let doc: Json = serde_json::from_str(&printed(true, |p| p.get(None))).unwrap();
    assert_eq!(doc["row"], Json::Null);

    assert_eq!(
        printed(false, |p| p.counter(Some(7))),
        "COUNTER VALUE = 7\n"
    );
    assert_eq!(printed(true, |p| p.counter(Some(7))), "{\"counter\":7}\n");
    assert_eq!(
        printed(false, |p| p.error("not_found", "table t")),
        "ERROR: table t\n"
    );
    let doc: Json =
        serde_json::from_str(&printed(true, |p| p.error("not_found", "table t"))).unwrap();
    assert_eq!(doc["error"]["kind"], "not_found");
    assert_eq!(printed(true, |p| p.took(Duration::ZERO)), "");
}

#[test]
fn list_and_describe() {
    let names = vec!["a".to_string(), "users".to_string()];
    assert_eq!(
        printed(false, |p| p.tables(&names)),
        "TABLE\na\nusers\n2 row(s)\n"
    );
    assert_eq!(
        printed(true, |p| p.tables(&names)),
        "{\"tables\":[\"a\",\"users\"]}\n"
    );

    let d = TableDescription {
        descriptor: TableDescriptor::new("users")
            .family(FamilyDescriptor::new("info").max_versions(3)),
        regions: vec![crate::RegionInfo {
            table: "users".into(),
            region_id: "r1".into(),
            start_row: Bytes::new(),
            end_row: Bytes::from("m"),
            server: "http://127.0.0.1:16020".into(),
            epoch: 1,
            state: "open".into(),
        }],
        enabled: true,
    };
    let text = printed(false, |p| p.describe(&d));
    assert!(text.starts_with("Table users is ENABLED\n"), "{text}");
    assert!(text.contains("{NAME => 'info', VERSIONS => '3', MIN_VERSIONS => '0', TTL => 'FOREVER', BLOOMFILTER => 'ROW'"), "{text}");
    assert!(
        text.contains(" r1 [-inf, 'm') on http://127.0.0.1:16020 (open)"),
        "{text}"
    );
    let doc: Json = serde_json::from_str(&printed(true, |p| p.describe(&d))).unwrap();
    assert_eq!(doc["families"][0]["VERSIONS"], 3);
    assert_eq!(doc["regions"][0]["end_row"], "m");
}
