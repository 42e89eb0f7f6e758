use super::*;
use pb::filter::Kind;
use strata_storage::{Cell, CellType};

fn row(key: &str, cells: &[(&str, &str, &str)]) -> Row {
    Row {
        row: Bytes::copy_from_slice(key.as_bytes()),
        cells: cells
            .iter()
            .map(|(f, q, v)| Cell {
                row: Bytes::copy_from_slice(key.as_bytes()),
                family: Bytes::copy_from_slice(f.as_bytes()),
                qualifier: Bytes::copy_from_slice(q.as_bytes()),
                timestamp: 1,
                kind: CellType::Put,
                value: Bytes::copy_from_slice(v.as_bytes()),
            })
            .collect(),
    }
}

fn f(kind: Kind) -> pb::Filter {
    pb::Filter { kind: Some(kind) }
}

fn list(all: bool, filters: Vec<pb::Filter>) -> pb::Filter {
    let op = if all {
        pb::filter_list::Operator::MustPassAll
    } else {
        pb::filter_list::Operator::MustPassOne
    };
    f(Kind::List(pb::FilterList {
        op: op as i32,
        filters,
    }))
}

fn quals(r: &Option<Row>) -> Vec<String> {
    r.as_ref()
        .map(|r| {
            r.cells
                .iter()
                .map(|c| String::from_utf8_lossy(&c.qualifier).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn plan(filter: pb::Filter) -> FilterPlan {
    FilterPlan::new(
        RowFilter::from_proto(filter).unwrap(),
        &mut ColumnSelection::new(),
    )
}

#[test]
fn malformed_filters_are_rejected() {
    let empty = list(true, vec![]);
    let mut deep = f(Kind::Page(1));
    for _ in 0..MAX_FILTER_DEPTH {
        deep = list(true, vec![deep]);
    }
    let mut ok = f(Kind::Page(1));
    for _ in 0..MAX_FILTER_DEPTH - 1 {
        ok = list(true, vec![ok]);
    }
    for bad in [empty, f(Kind::Page(0)), pb::Filter { kind: None }, deep] {
        let e = RowFilter::from_proto(bad).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
    }
    RowFilter::from_proto(ok).unwrap();
    let wide = list(false, vec![f(Kind::KeyOnly(true)); MAX_FILTER_NODES]);
    assert!(RowFilter::from_proto(wide).is_err());
}

#[test]
fn column_filters_and_first_key_only_compose() {
    let r = row("r", &[("f", "a1", "x"), ("f", "b1", "y"), ("f", "b2", "z")]);
    let mut p = plan(f(Kind::ColumnPrefix(Bytes::from_static(b"b"))));
    assert_eq!(quals(&p.apply(r.clone())), ["b1", "b2"]);
    let mut p = plan(list(
        true,
        vec![
            f(Kind::ColumnPrefix(Bytes::from_static(b"b"))),
            f(Kind::FirstKeyOnly(true)),
        ],
    ));
    assert_eq!(quals(&p.apply(r.clone())), ["b1"]);
    let mut p = plan(f(Kind::ColumnRange(pb::ColumnRange {
        min: Bytes::from_static(b"a1"),
        min_inclusive: false,
        max: Bytes::from_static(b"b2"),
        max_inclusive: true,
    })));
    assert_eq!(quals(&p.apply(r.clone())), ["b1", "b2"]);
    let mut p = plan(list(
        false,
        vec![
            f(Kind::ColumnPrefix(Bytes::from_static(b"a"))),
            f(Kind::ColumnPrefix(Bytes::from_static(b"b2"))),
        ],
    ));
    assert_eq!(quals(&p.apply(r)), ["a1", "b2"]);
}

#[test]
fn single_column_value_reads_and_strips_its_column() {
    let scv = |op: pb::CompareOp, v: &'static [u8], missing: bool| {
        f(Kind::SingleColumnValue(pb::SingleColumnValue {
            family: Bytes::from_static(b"f"),
            qualifier: Bytes::from_static(b"age"),
            op: op as i32,
            value: Bytes::from_static(v),
            filter_if_missing: missing,
        }))
    };
    let mut sel = ColumnSelection::new();
    sel.insert(Bytes::from_static(b"f"), vec![Bytes::from_static(b"name")]);
    let mut p = FilterPlan::new(
        RowFilter::from_proto(scv(pb::CompareOp::Greater, b"30", false)).unwrap(),
        &mut sel,
    );
    assert_eq!(
        sel[&Bytes::from_static(b"f")].len(),
        2,
        "age added to the read"
    );
    let old = row("a", &[("f", "age", "40"), ("f", "name", "Ada")]);
    let young = row("b", &[("f", "age", "20"), ("f", "name", "Bob")]);
    let unknown = row("c", &[("f", "name", "Cy")]);
    assert_eq!(quals(&p.apply(old)), ["name"], "age stripped again");
    assert!(p.apply(young).is_none());
    assert_eq!(quals(&p.apply(unknown.clone())), ["name"]);
    let mut p = plan(scv(pb::CompareOp::Greater, b"30", true));
    assert!(p.apply(unknown).is_none(), "filter_if_missing drops it");
}

#[test]
fn page_key_only_and_prefix() {
    let mut p = plan(list(
        true,
        vec![
            f(Kind::RowPrefix(Bytes::from_static(b"u"))),
            f(Kind::Page(2)),
            f(Kind::KeyOnly(true)),
        ],
    ));
    assert_eq!(p.required_prefix().map(|b| &b[..]), Some(&b"u"[..]));
    assert!(p.apply(row("a", &[("f", "q", "v")])).is_none());
    let r = p.apply(row("u1", &[("f", "q", "v")])).unwrap();
    assert!(r.cells[0].value.is_empty());
    assert!(!p.exhausted());
    assert!(p.apply(row("u2", &[("f", "q", "v")])).is_some());
    assert!(p.exhausted());
    assert!(p.apply(row("u3", &[("f", "q", "v")])).is_none());
    let p = plan(list(
        false,
        vec![
            f(Kind::RowPrefix(Bytes::from_static(b"u"))),
            f(Kind::Page(1)),
        ],
    ));
    assert!(
        p.required_prefix().is_none(),
        "OR does not narrow the range"
    );
}
