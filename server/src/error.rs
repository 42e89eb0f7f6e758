//! gRPC statuses of the server: the one mapping from storage errors ([`storage_status`])
//! and the statuses the server itself raises (region not served here, busy, shutting
//! down). Codes follow the contract at the top of `strata.proto`:
//!
//! | storage error | code |
//! |---|---|
//! | `InvalidArgument`, `LimitExceeded` | INVALID_ARGUMENT (the message names the limit) |
//! | `UnknownFamily` | NOT_FOUND |
//! | `RowOutOfRange` | FAILED_PRECONDITION + `NotServingRegion` details (re-locate) |
//! | `WriteStall` | RESOURCE_EXHAUSTED (retry after backoff) |
//! | `Closed` | UNAVAILABLE (the service layer turns it into FAILED_PRECONDITION when the region was moved or disabled meanwhile) |
//! | `Corruption` | DATA_LOSS |
//! | `Io`, `InvalidRegion`, anything else | INTERNAL |
//!
//! FAILED_PRECONDITION statuses about regions carry a prost-encoded
//! `strata.v1.NotServingRegion` as their binary details (`Status::details()`).

use prost::Message;
use strata_proto::v1::NotServingRegion;
use strata_storage::Error;
use tonic::{Code, Status};

/// Maps a storage error to the status a client sees.
pub fn storage_status(e: &Error) -> Status {
    match e {
        // The code already says "invalid argument"; the message is the engine's reason
        // alone, so clients that print "invalid argument: {message}" do not repeat it.
        Error::InvalidArgument(reason) => Status::invalid_argument(reason.clone()),
        Error::LimitExceeded { .. } => Status::invalid_argument(e.to_string()),
        Error::UnknownFamily { .. } => Status::not_found(e.to_string()),
        Error::RowOutOfRange { region, .. } => {
            let (table, region_id) = region.split_once('/').unwrap_or((region, ""));
            not_serving(
                table,
                region_id,
                &format!("{e}; re-locate the row's region"),
            )
        }
        Error::WriteStall(_) => Status::resource_exhausted(format!("{e}; retry after a backoff")),
        Error::Closed(_) => Status::unavailable(format!("{e}; retry later or re-locate")),
        Error::Corruption { .. } => Status::data_loss(e.to_string()),
        _ => Status::internal(e.to_string()),
    }
}

/// FAILED_PRECONDITION with `NotServingRegion` details: the client should re-locate.
pub fn not_serving(table: &str, region_id: &str, reason: &str) -> Status {
    let details = NotServingRegion {
        table: table.to_string(),
        region_id: region_id.to_string(),
        reason: reason.to_string(),
    };
    Status::with_details(
        Code::FailedPrecondition,
        format!("region {table}/{region_id} is not served here: {reason}"),
        details.encode_to_vec().into(),
    )
}

/// Decodes the `NotServingRegion` details of a status, if it carries them.
pub fn not_serving_details(status: &Status) -> Option<NotServingRegion> {
    if status.code() != Code::FailedPrecondition || status.details().is_empty() {
        return None;
    }
    NotServingRegion::decode(status.details()).ok()
}

/// NOT_FOUND for a table the master does not know.
pub fn unknown_table(table: &str) -> Status {
    Status::not_found(format!("table {table:?} does not exist"))
}

/// UNAVAILABLE while the server shuts down.
pub fn shutting_down() -> Status {
    Status::unavailable("server is shutting down; retry on another server or later")
}

/// INVALID_ARGUMENT for a malformed request field.
pub fn invalid(msg: impl Into<String>) -> Status {
    Status::invalid_argument(msg.into())
}

/// INTERNAL for a failure of the server's own machinery (a lost blocking task).
pub fn internal(msg: impl std::fmt::Display) -> Status {
    Status::internal(msg.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_contract() {
        let cases: Vec<(Error, Code)> = vec![
            (Error::InvalidArgument("x".into()), Code::InvalidArgument),
            (
                Error::LimitExceeded {
                    what: "value",
                    limit_name: "max_value_bytes",
                    limit: 1,
                    actual: 2,
                },
                Code::InvalidArgument,
            ),
            (
                Error::UnknownFamily {
                    region: "t/r".into(),
                    family: "f".into(),
                },
                Code::NotFound,
            ),
            (Error::WriteStall("x".into()), Code::ResourceExhausted),
            (Error::Closed("t/r".into()), Code::Unavailable),
            (
                Error::Corruption {
                    file: "f".into(),
                    offset: 1,
                    reason: "x".into(),
                },
                Code::DataLoss,
            ),
            (
                Error::io("p", std::io::Error::other("disk")),
                Code::Internal,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(storage_status(&e).code(), code, "{e}");
        }
    }

    #[test]
    fn out_of_range_carries_not_serving_details() {
        let e = Error::RowOutOfRange {
            region: "users/r00001".into(),
            row: "zz".into(),
            start: "a".into(),
            end: "m".into(),
        };
        let s = storage_status(&e);
        assert_eq!(s.code(), Code::FailedPrecondition);
        let d = not_serving_details(&s).unwrap();
        assert_eq!(
            (d.table.as_str(), d.region_id.as_str()),
            ("users", "r00001")
        );
        assert!(s.message().contains("re-locate"), "{}", s.message());
    }
}
