//! Builder -> protocol conversion of puts and deletes.

use super::*;

fn region() -> pb::RegionRef {
    pb::RegionRef {
        table: "users".into(),
        region_id: "r1".into(),
        epoch: 4,
    }
}

#[test]
fn put_becomes_one_mutate_request() {
    let put = Put::new("row1")
        .add("info", "name", "Ada")
        .add_at("info", "born", 1815, "1815")
        .durability(Durability::FsyncWal);
    let m = Mutation::from(put);
    m.validate().unwrap();
    assert!(m.is_idempotent());
    let req = m.to_request(region());
    assert_eq!(req.row, "row1");
    assert_eq!(req.region, Some(region()));
    assert_eq!(req.durability, pb::Durability::Fsync as i32);
    assert_eq!(
        req.mutations,
        vec![
            pb::Mutation {
                op: Some(Op::Put(pb::Put {
                    family: "info".into(),
                    qualifier: "name".into(),
                    timestamp: None,
                    value: "Ada".into(),
                })),
            },
            pb::Mutation {
                op: Some(Op::Put(pb::Put {
                    family: "info".into(),
                    qualifier: "born".into(),
                    timestamp: Some(1815),
                    value: "1815".into(),
                })),
            },
        ]
    );
}

#[test]
fn bad_puts_are_refused_before_sending() {
    let empty = Mutation::from(Put::new("r"));
    assert!(matches!(empty.validate(), Err(Error::InvalidArgument(m)) if m.contains("no columns")));
    let no_row = Mutation::from(Put::new("").add("f", "q", "v"));
    assert!(matches!(no_row.validate(), Err(Error::InvalidArgument(m)) if m.contains("row")));
    let no_family = Mutation::from(Put::new("r").add("", "q", "v"));
    assert!(no_family.validate().is_err());
}

#[test]
fn delete_kinds_map_to_markers() {
    let d = Delete::new("r")
        .column_at("f", "a", 5)
        .columns("f", "b")
        .columns_up_to("f", "c", 9)
        .family("g")
        .family_up_to("h", 3);
    assert!(d.is_idempotent());
    let ops: Vec<Op> = Mutation::from(d)
        .ops()
        .into_iter()
        .map(|m| m.op.unwrap())
        .collect();
    assert_eq!(
        ops,
        vec![
            Op::Delete(pb::Delete {
                family: "f".into(),
                qualifier: "a".into(),
                timestamp: Some(5),
            }),
            Op::DeleteColumn(pb::DeleteColumn {
                family: "f".into(),
                qualifier: "b".into(),
                timestamp: None,
            }),
            Op::DeleteColumn(pb::DeleteColumn {
                family: "f".into(),
                qualifier: "c".into(),
                timestamp: Some(9),
            }),
            Op::DeleteFamily(pb::DeleteFamily {
                family: "g".into(),
                timestamp: None,
            }),
            Op::DeleteFamily(pb::DeleteFamily {
                family: "h".into(),
                timestamp: Some(3),
            }),
        ]
    );
}

#[test]
fn empty_delete_is_a_row_delete_and_latest_version_is_not_idempotent() {
    let all = Mutation::from(Delete::new("r").timestamp(42));
    assert_eq!(
        all.ops(),
        vec![pb::Mutation {
            op: Some(Op::DeleteRow(pb::DeleteRow {
                timestamp: Some(42)
            })),
        }]
    );
    assert!(all.is_idempotent());
    assert!(!Mutation::from(Delete::new("r").column("f", "q")).is_idempotent());
    assert!(
        Mutation::from(Delete::new("r").column("", "q"))
            .validate()
            .is_err()
    );
}
