//! Statements from text: arguments, implicit trailing hashes, parentheses, several
//! commands per input, and incomplete or wrong input.

use super::*;

fn s(v: &str) -> Value {
    Value::Str(Bytes::copy_from_slice(v.as_bytes()))
}

fn one(input: &str) -> Statement {
    let mut statements = parse(input).unwrap();
    assert_eq!(statements.len(), 1, "{statements:?}");
    statements.remove(0)
}

#[test]
fn plain_arguments() {
    let st = one("put 'users','row1','info:name','Ada', 42");
    assert_eq!(st.name, "put");
    assert_eq!(
        st.args,
        vec![
            s("users"),
            s("row1"),
            s("info:name"),
            s("Ada"),
            Value::Int(42)
        ]
    );
    assert_eq!(one("LIST").name, "list");
    assert_eq!(one("list").args, vec![]);
}

#[test]
fn hashes_arrays_and_trailing_options() {
    let st =
        one("create 't', {NAME => 'f', VERSIONS => 3, IN_MEMORY => true}, SPLITS => ['g', 'n']");
    assert_eq!(
        st.args,
        vec![
            s("t"),
            Value::Hash(vec![
                ("NAME".into(), s("f")),
                ("VERSIONS".into(), Value::Int(3)),
                ("IN_MEMORY".into(), Value::Bool(true)),
            ]),
            Value::Hash(vec![("SPLITS".into(), Value::Array(vec![s("g"), s("n")]))]),
        ]
    );
    let st = one("scan 't', {'limit' => 1, COLUMNS => ['a', 'b',], }");
    assert_eq!(
        st.args[1],
        Value::Hash(vec![
            ("LIMIT".into(), Value::Int(1)),
            ("COLUMNS".into(), Value::Array(vec![s("a"), s("b")])),
        ])
    );
    assert_eq!(
        one("x 'a', BLOOMFILTER => ROW").args[1],
        Value::Hash(vec![("BLOOMFILTER".into(), Value::Ident("ROW".into()))])
    );
}

#[test]
fn parentheses_and_several_commands() {
    assert_eq!(one("get('t', 'r')").args, vec![s("t"), s("r")]);
    let statements = parse("put 't','r','f:q','v'; get 't','r'\n\nlist # tables\n").unwrap();
    let names: Vec<&str> = statements.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["put", "get", "list"]);
    assert!(parse("  \n # only a comment\n;").unwrap().is_empty());
}

#[test]
fn multi_line_input_is_incomplete_until_closed() {
    for partial in [
        "scan 't', {LIMIT => 1,",
        "put 't',",
        "create 't', {NAME =>",
        "get 't', 'r",
        "get('t'",
    ] {
        assert!(
            matches!(parse(partial), Err(ParseError::Incomplete(_))),
            "{partial}"
        );
    }
    let st = one("create 't',\n  {NAME => 'f',\n   VERSIONS => 2}\n");
    assert_eq!(st.args.len(), 2);
}

#[test]
fn bad_syntax_is_explained() {
    let cases = [
        ("'t', 'r'", "expected a command name"),
        ("put 't' 'r'", "expected ',' between arguments"),
        ("scan 't', {LIMIT 1}", "expected '=>'"),
        ("scan 't', {1 => 2}", "expected an option name"),
        ("create 't', SPLITS => ['a'], 'f'", "put options last"),
        ("get('t') 'r'", "after ')'"),
        ("put 't', => 'x'", "expected a value"),
        ("scan 't', [1 2]", "expected ',' or ']'"),
        ("get 't')", "expected ',' between arguments"),
    ];
    for (input, expected) in cases {
        match parse(input) {
            Err(ParseError::Invalid(m)) => assert!(m.contains(expected), "{input}: {m}"),
            other => panic!("{input}: {other:?}"),
        }
    }
}
