//! Builder -> protocol conversion of check-and-mutate, increment and append.

use super::*;

fn region() -> pb::RegionRef {
    pb::RegionRef {
        table: "t".into(),
        region_id: "r".into(),
        epoch: 2,
    }
}

#[test]
fn check_and_put() {
    let cam = CheckAndMutate::new("r1")
        .if_equals("info", "state", "new")
        .then_put(
            Put::new("r1")
                .add("info", "state", "done")
                .durability(Durability::FsyncWal),
        )
        .then_delete(Delete::new("r1").columns("info", "lock"));
    cam.validate().unwrap();
    let req = cam.to_request(region());
    assert_eq!(req.row, "r1");
    assert_eq!(
        (&req.family[..], &req.qualifier[..]),
        (&b"info"[..], &b"state"[..])
    );
    assert_eq!(req.op, pb::CompareOp::Equal as i32);
    assert_eq!(req.value, Some(Bytes::from("new")));
    assert_eq!(req.mutations.len(), 2);
    assert_eq!(req.durability, pb::Durability::Fsync as i32);
}

#[test]
fn absent_check_leaves_the_value_unset() {
    let req = CheckAndMutate::new("r")
        .if_absent("f", "q")
        .then_put(Put::new("r").add("f", "q", "v"))
        .to_request(region());
    assert_eq!(req.value, None);
    let req = CheckAndMutate::new("r")
        .if_matches("f", "q", CompareOp::Less, "5")
        .then_delete(Delete::new("r"))
        .to_request(region());
    assert_eq!(req.op, pb::CompareOp::Less as i32);
    assert_eq!(req.value, Some(Bytes::from("5")));
}

#[test]
fn incomplete_or_cross_row_checks_are_refused() {
    let no_check = CheckAndMutate::new("r").then_put(Put::new("r").add("f", "q", "v"));
    assert!(
        no_check
            .validate()
            .unwrap_err()
            .to_string()
            .contains("no condition")
    );
    let no_mutation = CheckAndMutate::new("r").if_absent("f", "q");
    assert!(
        no_mutation
            .validate()
            .unwrap_err()
            .to_string()
            .contains("no mutation")
    );
    let other_row = CheckAndMutate::new("r")
        .if_absent("f", "q")
        .then_put(Put::new("s").add("f", "q", "v"));
    assert!(
        other_row
            .validate()
            .unwrap_err()
            .to_string()
            .contains("row")
    );
}

#[test]
fn increment_and_append_requests() {
    let inc = Increment::new("r").add("s", "a", 1).add("s", "b", -2);
    assert_eq!(inc.validate(), Ok(2));
    let req = inc.to_request(region());
    assert_eq!(req.columns[1].delta, -2);
    assert!(Increment::new("r").validate().is_err());
    let app = Append::new("r")
        .add("f", "log", "x")
        .durability(Durability::SkipWal);
    assert_eq!(app.validate(), Ok(1));
    let req = app.to_request(region());
    assert_eq!(req.columns[0].value, "x");
    assert_eq!(req.durability, pb::Durability::Skip as i32);
}
