//! Every command form the shell accepts, and its usage errors.

use super::super::parser::parse;
use super::*;

fn cmd(input: &str) -> Command {
    let mut statements = parse(input).unwrap();
    assert_eq!(statements.len(), 1);
    command(statements.remove(0)).unwrap_or_else(|e| panic!("{input}: {e}"))
}

fn usage(input: &str) -> String {
    let mut statements = parse(input).unwrap();
    command(statements.remove(0)).unwrap_err().0
}

#[test]
fn create_forms() {
    let expected = TableDescriptor::new("users")
        .family(FamilyDescriptor::new("info"))
        .family(FamilyDescriptor::new("stats"));
    assert_eq!(
        cmd("create 'users', 'info', 'stats'"),
        Command::Create {
            descriptor: expected,
            splits: vec![]
        }
    );
    let c = cmd(
        "create 't', {NAME => 'f', VERSIONS => 3, MIN_VERSIONS => '1', TTL => 86400, \
         BLOOMFILTER => 'ROWCOL', COMPRESSION => 'lz4', BLOCKSIZE => 4096, IN_MEMORY => 'true', \
         PREFETCH_BLOCKS_ON_OPEN => true}, {NAME => 'g', TTL => 'FOREVER'}, SPLITS => ['g', 'n']",
    );
    let f = FamilyDescriptor::new("f")
        .max_versions(3)
        .min_versions(1)
        .ttl(Duration::from_secs(86400))
        .bloom(BloomType::RowCol)
        .compression(Compression::Lz4)
        .block_size(4096)
        .in_memory(true)
        .prefetch_blocks_on_open(true);
    let descriptor = TableDescriptor::new("t")
        .family(f)
        .family(FamilyDescriptor::new("g"));
    assert_eq!(
        c,
        Command::Create {
            descriptor,
            splits: vec!["g".into(), "n".into()]
        }
    );
    // HBase also takes the splits inside a hash of their own.
    assert!(
        matches!(cmd("create 't', 'f', {SPLITS => ['m']}"), Command::Create { splits, .. } if splits.len() == 1)
    );
}

#[test]
fn data_commands() {
    assert_eq!(
        cmd("put 'users','row1','info:name','Ada'"),
        Command::Put("users".into(), Put::new("row1").add("info", "name", "Ada"))
    );
    assert_eq!(
        cmd("put 't', \"r\\x00\", 'f:q', 5, 1700"),
        Command::Put(
            "t".into(),
            Put::new(&b"r\0"[..]).add_at("f", "q", 1700, "5")
        )
    );
    assert_eq!(
        cmd("get 'users','row1'"),
        Command::Get("users".into(), Get::new("row1"))
    );
    assert_eq!(
        cmd("get 't', 'r', {COLUMN => 'info:name', VERSIONS => 3, TIMERANGE => [1, 9]}"),
        Command::Get(
            "t".into(),
            Get::new("r")
                .column("info", "name")
                .versions(3)
                .time_range(1, 9)
        )
    );
    assert_eq!(
        cmd("get 't', 'r', 'f:a', ['g', 'f:b'], {TIMESTAMP => 4}"),
        Command::Get(
            "t".into(),
            Get::new("r")
                .column("f", "a")
                .family("g")
                .column("f", "b")
                .timestamp(4)
        )
    );
    assert_eq!(
        cmd("incr 'users','row1','stats:visits', 1"),
        Command::Incr {
            table: "users".into(),
            row: "row1".into(),
            family: "stats".into(),
            qualifier: "visits".into(),
            delta: 1
        }
    );
    assert!(matches!(
        cmd("incr 't','r','f:c'"),
        Command::Incr { delta: 1, .. }
    ));
    assert!(matches!(
        cmd("incr 't','r','f:c', -3"),
        Command::Incr { delta: -3, .. }
    ));
    assert!(matches!(
        cmd("get_counter 't','r','f:c'"),
        Command::GetCounter(..)
    ));
}

#[test]
fn scan_and_count_options() {
    assert_eq!(
        cmd("scan 'users'"),
        Command::Scan("users".into(), Scan::new())
    );
    let c = cmd(
        "scan 'users', {STARTROW => 'a', STOPROW => 'm', LIMIT => 10, VERSIONS => 2, \
         COLUMNS => ['info:name', 'stats'], CACHE => 50, CACHE_BLOCKS => false, TIMERANGE => [0, 99]}",
    );
    let expected = Scan::new()
        .start("a")
        .stop("m")
        .column("info", "name")
        .family("stats")
        .limit(10)
        .versions(2)
        .time_range(0, 99)
        .batch_rows(50)
        .cache_blocks(false);
    assert_eq!(c, Command::Scan("users".into(), expected));
    assert_eq!(
        cmd("scan 't', {ROWPREFIXFILTER => 'u1'}"),
        Command::Scan("t".into(), Scan::new().prefix("u1"))
    );
    assert_eq!(
        cmd("scan 't', {ENDROW => 'z'}"),
        Command::Scan("t".into(), Scan::new().stop("z"))
    );
    assert_eq!(
        cmd("count 'users'"),
        Command::Count("users".into(), Scan::new())
    );
    assert_eq!(
        cmd("count 't', {STARTROW => 'b', INTERVAL => 1000, CACHE => 10}"),
        Command::Count("t".into(), Scan::new().start("b").batch_rows(10))
    );
}

#[test]
fn delete_forms() {
    assert_eq!(
        cmd("delete 'users','row1','info:name'"),
        Command::Delete("users".into(), Delete::new("row1").columns("info", "name"))
    );
    assert_eq!(
        cmd("delete 't','r','f:q', 77"),
        Command::Delete("t".into(), Delete::new("r").columns_up_to("f", "q", 77))
    );
    assert_eq!(
        cmd("delete 't','r','f'"),
        Command::Delete("t".into(), Delete::new("r").family("f"))
    );
    assert_eq!(
        cmd("deleteall 'users','row1'"),
        Command::Delete("users".into(), Delete::new("row1"))
    );
    assert_eq!(
        cmd("deleteall 't','r','f:q'"),
        Command::Delete("t".into(), Delete::new("r").columns("f", "q"))
    );
}

#[test]
fn admin_and_shell_commands() {
    let t = || "users".to_string();
    assert_eq!(cmd("list"), Command::List { pattern: None });
    assert_eq!(
        cmd("list 'us.*'"),
        Command::List {
            pattern: Some("us.*".into())
        }
    );
    assert_eq!(cmd("describe 'users'"), Command::Describe(t()));
    assert_eq!(cmd("desc 'users'"), Command::Describe(t()));
    assert_eq!(cmd("exists 'users'"), Command::Exists(t()));
    assert_eq!(cmd("is_enabled 'users'"), Command::IsEnabled(t()));
    assert_eq!(cmd("disable 'users'"), Command::Disable(t()));
    assert_eq!(cmd("enable 'users'"), Command::Enable(t()));
    assert_eq!(cmd("drop 'users'"), Command::Drop(t()));
    assert_eq!(cmd("truncate 'users'"), Command::Truncate(t()));
    assert_eq!(cmd("flush 'users'"), Command::Flush(t()));
    assert_eq!(cmd("compact 'users'"), Command::Compact(t()));
    assert_eq!(cmd("major_compact 'users'"), Command::MajorCompact(t()));
    assert_eq!(cmd("split 'users'"), Command::Split(t(), None));
    assert_eq!(
        cmd("split 'users', 'm'"),
        Command::Split(t(), Some(Bytes::from("m")))
    );
    assert_eq!(
        cmd("split '1700000000000-00001'"),
        Command::Split("1700000000000-00001".into(), None)
    );
    assert!(usage("split").contains("split 'table'"));
    assert!(usage("split 'a', 'b', 'c'").contains("split"));
    assert_eq!(cmd("status"), Command::Status);
    assert_eq!(cmd("slowlog"), Command::SlowLog(20));
    assert_eq!(cmd("slowlog 5"), Command::SlowLog(5));
    assert_eq!(cmd("slowlog 0"), Command::SlowLog(0));
    assert_eq!(cmd("status 'simple'"), Command::Status);
    use crate::shell::cluster::ClusterCommand as C;
    assert_eq!(
        cmd("status 'detailed'"),
        Command::Cluster(C::StatusDetailed)
    );
    assert_eq!(cmd("scan 'meta'"), Command::Cluster(C::Meta(None)));
    assert_eq!(cmd("scan 'hbase:meta'"), Command::Cluster(C::Meta(None)));
    assert_eq!(
        cmd("list_regions 'users'"),
        Command::Cluster(C::Meta(Some("users".into())))
    );
    assert_eq!(
        cmd("move 'r1', 'http://h:1'"),
        Command::Cluster(C::Move("r1".into(), Some("http://h:1".into())))
    );
    assert_eq!(
        cmd("move 't,r1'"),
        Command::Cluster(C::Move("t,r1".into(), None))
    );
    assert_eq!(cmd("assign 'r1'"), Command::Cluster(C::Assign("r1".into())));
    assert_eq!(
        cmd("unassign 'r1', true"),
        Command::Cluster(C::Unassign("r1".into()))
    );
    assert_eq!(cmd("balance"), Command::Cluster(C::Balance));
    assert_eq!(cmd("balancer"), Command::Cluster(C::Balance));
    match cmd("create 'p', 'f', NUMREGIONS => 4, SPLITALGO => 'HexStringSplit'") {
        Command::Create { splits, .. } => assert_eq!(
            splits,
            vec![
                Bytes::from("40000000"),
                Bytes::from("80000000"),
                Bytes::from("c0000000")
            ]
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(cmd("help"), Command::Help(None));
    assert_eq!(cmd("help 'get'"), Command::Help(Some("get".into())));
    assert_eq!(cmd("exit"), Command::Exit);
    assert_eq!(cmd("quit"), Command::Exit);
}

#[test]
fn usage_errors_name_the_problem_and_show_the_usage() {
    let cases = [
        ("frobnicate 't'", "unknown command 'frobnicate'"),
        (
            "create 't', 'f', NUMREGIONS => 4",
            "NUMREGIONS and SPLITALGO go together",
        ),
        (
            "create 't', 'f', NUMREGIONS => 1, SPLITALGO => 'UniformSplit'",
            "NUMREGIONS must be in 2..=1001",
        ),
        ("move", "missing a region"),
        ("put 't', 'r', 'f:q'", "missing a value"),
        ("put 't', 'r', ':q', 'v'", "family is empty"),
        ("put 't', 'r', 'f:q', 'v', -1", "negative"),
        ("put 't', 'r', 'f:q', 'v', 'soon'", "non-numeric"),
        ("get 't'", "missing a row key"),
        ("get 't', 'r', 5", "expected a column name"),
        (
            "scan 't', {LIMT => 1}",
            "unknown option LIMT; known: STARTROW",
        ),
        ("scan 't', {LIMIT => -1}", "non-negative number"),
        (
            "scan 't', {VERSIONS => 5000000000}",
            "over the limit 4294967295",
        ),
        (
            "scan 't', {FILTER => \"PrefixFilter('a')\"}",
            "FILTER strings are not supported",
        ),
        ("scan 't', {TIMERANGE => [1]}", "[min, max]"),
        ("scan 't', 'extra'", "expected {KEY => value} options"),
        ("count 't', {LIMIT => 1}", "unknown option LIMIT"),
        ("create 't'", "at least one column family"),
        (
            "create 't', {NAME => 'f', BLOOMFILTER => 'MAYBE'}",
            "NONE, ROW or ROWCOL",
        ),
        (
            "create 't', {NAME => 'f', COMPRESSION => 'zstd'}",
            "NONE or LZ4",
        ),
        (
            "create 't', {NAME => 'f', COLOR => 'red'}",
            "unknown option COLOR",
        ),
        ("create 't', 5", "expected a family name"),
        ("describe", "missing a table name"),
        ("drop 'a', 'b'", "too many arguments"),
        ("disable ['t']", "expected a table name, found an array"),
        ("list 'a', 'b'", "too many arguments"),
    ];
    for (input, expected) in cases {
        let message = usage(input);
        assert!(message.contains(expected), "{input}: {message}");
        if !expected.starts_with("unknown command") {
            assert!(message.contains("\nUsage: "), "{input}: {message}");
        }
    }
}
