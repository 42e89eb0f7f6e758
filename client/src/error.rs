//! The client's one error type, coarse on purpose: callers decide what to do from the
//! variant (or from [`Error::is_retryable`] and [`Error::needs_relocate`]), and read the
//! server's message, which names the limit or the region, from `Display`.
//!
//! The mapping from gRPC statuses follows the header of `strata.proto`. A status means
//! different things depending on who sent it: FAILED_PRECONDITION from a region server is
//! "region not served here, re-locate" ([`Error::NotServingRegion`]), from the master it is
//! a plain refusal such as "table is disabled" ([`Error::FailedPrecondition`]). So statuses
//! are converted with [`Error::from_region_status`] or [`Error::from_master_status`].

use std::time::Duration;

use prost::Message;
use strata_proto::v1 as pb;
use tonic::{Code, Status};

/// Client result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a Strata call can fail with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Unknown table or column family (NOT_FOUND).
    #[error("not found: {0}")]
    NotFound(String),
    /// The table (or another named thing) exists already (ALREADY_EXISTS).
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// Bad input; the message names the limit or the field (INVALID_ARGUMENT, or checked
    /// by the client before sending).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The master refused the request in the table's current state, e.g. a write to a
    /// disabled table or dropping an enabled one (FAILED_PRECONDITION from the master).
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    /// The region server does not (or no longer) serve the region: the client drops the
    /// cached location, asks the master again and retries (FAILED_PRECONDITION from a
    /// region server, with `NotServingRegion` details when the server sends them).
    #[error("region {region_id} of table {table} is not served there: {message}")]
    NotServingRegion {
        /// Table of the region (empty if the server sent no details).
        table: String,
        /// The region (empty if the server sent no details).
        region_id: String,
        /// The server's message or reason.
        message: String,
    },
    /// The server is overloaded: memstore pressure, a write stall or too many requests in
    /// flight. Retry after a backoff (RESOURCE_EXHAUSTED).
    #[error("server busy: {0}")]
    Busy(String),
    /// The server is shutting down, or the region is not online yet (UNAVAILABLE).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The server gave up on the request because of a conflict; retry (ABORTED).
    #[error("aborted: {0}")]
    Aborted(String),
    /// The network failed. With `connect_failed` the connection could not be set up, so
    /// the request was certainly not sent; otherwise it may or may not have arrived.
    #[error("transport error: {message}")]
    Transport {
        /// What failed, as tonic or the OS said it.
        message: String,
        /// True when no connection existed, so the server never saw the request.
        connect_failed: bool,
    },
    /// The operation did not complete within its deadline
    /// (`ClientConfig::operation_timeout`, or DEADLINE_EXCEEDED from the server).
    #[error("timed out after {elapsed:?} ({attempts} attempt(s)): {message}")]
    Timeout {
        /// Time spent on the operation.
        elapsed: Duration,
        /// RPC attempts made.
        attempts: u32,
        /// The last error seen, or what was being waited for.
        message: String,
    },
    /// Anything else the server or tonic reported (INTERNAL, UNKNOWN, UNIMPLEMENTED,
    /// DATA_LOSS, ...), and malformed responses.
    #[error("internal error ({code:?}): {message}")]
    Internal {
        /// The gRPC code.
        code: Code,
        /// The message.
        message: String,
    },
}

impl Error {
    /// Converts a status returned by a region server (data calls, flush, compact).
    pub fn from_region_status(status: &Status) -> Error {
        if status.code() == Code::FailedPrecondition {
            return not_serving(status);
        }
        from_status_common(status)
    }

    /// Converts a status returned by the master.
    pub fn from_master_status(status: &Status) -> Error {
        if status.code() == Code::FailedPrecondition {
            return Error::FailedPrecondition(status.message().to_owned());
        }
        from_status_common(status)
    }

    /// Converts a per-item status of MultiGet/MultiMutate (a region server's answer).
    pub(crate) fn from_item_status(item: &pb::ItemStatus) -> Error {
        let status = Status::new(Code::from_i32(item.code), item.message.clone());
        Error::from_region_status(&status)
    }

    /// A malformed response (a server bug, or a protocol mismatch).
    pub(crate) fn protocol(message: impl Into<String>) -> Error {
        Error::Internal {
            code: Code::Internal,
            message: message.into(),
        }
    }

    /// True if trying the same operation again later may succeed: the failure was
    /// transient (overload, a region moving, a server restarting, the network).
    ///
    /// Retrying is safe for gets, scans, puts with explicit timestamps and most deletes;
    /// the client itself retries increments, appends and check-and-mutate only when
    /// [`Error::proves_not_executed`] holds.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::NotServingRegion { .. }
                | Error::Busy(_)
                | Error::Unavailable(_)
                | Error::Aborted(_)
                | Error::Transport { .. }
        )
    }

    /// True if the cached location of the region is stale (or its server unreachable):
    /// ask the master where the region lives before the next attempt.
    pub fn needs_relocate(&self) -> bool {
        matches!(
            self,
            Error::NotServingRegion { .. } | Error::Unavailable(_) | Error::Transport { .. }
        )
    }

    /// True if the failure proves the server did not execute the request: it refused the
    /// region, refused the load, or no connection could be made. Only such failures are
    /// retried for operations that are not idempotent.
    pub fn proves_not_executed(&self) -> bool {
        matches!(
            self,
            Error::NotServingRegion { .. }
                | Error::Busy(_)
                | Error::Transport {
                    connect_failed: true,
                    ..
                }
        )
    }

    /// Converts a tonic transport error from setting up a connection (the request was not
    /// sent).
    pub(crate) fn connect(address: &str, err: &tonic::transport::Error) -> Error {
        Error::Transport {
            message: format!(
                "cannot connect to {address}: {}",
                error_chain(err).trim_start_matches("transport error: ")
            ),
            connect_failed: true,
        }
    }
}

fn not_serving(status: &Status) -> Error {
    // The server may attach a prost-encoded NotServingRegion as the status details.
    match pb::NotServingRegion::decode(status.details()) {
        Ok(d) if !d.region_id.is_empty() => Error::NotServingRegion {
            table: d.table,
            region_id: d.region_id,
            message: if d.reason.is_empty() {
                status.message().to_owned()
            } else {
                d.reason
            },
        },
        _ => Error::NotServingRegion {
            table: String::new(),
            region_id: String::new(),
            message: status.message().to_owned(),
        },
    }
}

fn from_status_common(status: &Status) -> Error {
    let message = status.message().to_owned();
    match status.code() {
        Code::NotFound => Error::NotFound(message),
        Code::AlreadyExists => Error::AlreadyExists(message),
        Code::InvalidArgument | Code::OutOfRange => Error::InvalidArgument(message),
        Code::FailedPrecondition => Error::FailedPrecondition(message),
        Code::ResourceExhausted => Error::Busy(message),
        Code::Aborted => Error::Aborted(message),
        Code::DeadlineExceeded => Error::Timeout {
            elapsed: Duration::ZERO,
            attempts: 1,
            message,
        },
        Code::Unavailable if is_connect_failure(status) => Error::Transport {
            message,
            connect_failed: true,
        },
        Code::Unavailable if std::error::Error::source(status).is_some() => Error::Transport {
            message: error_chain(status),
            connect_failed: false,
        },
        Code::Unavailable => Error::Unavailable(message),
        // tonic reports a connection that could not be made ready as UNKNOWN.
        Code::Unknown if message.starts_with("Service was not ready") => Error::Transport {
            message,
            connect_failed: true,
        },
        Code::Unknown | Code::Internal | Code::Cancelled
            if std::error::Error::source(status).is_some() =>
        {
            Error::Transport {
                message: error_chain(status),
                connect_failed: false,
            }
        }
        code => Error::Internal { code, message },
    }
}

/// tonic turns a failed connection attempt (lazy or re-connecting channel) into
/// UNAVAILABLE with hyper-util's connector message and no source; a server never sends
/// these messages, so they identify a request that was not sent.
fn is_connect_failure(status: &Status) -> bool {
    const CONNECT_MESSAGES: [&str; 3] = ["tcp connect error", "tcp open error", "dns error"];
    let message = status.message();
    if CONNECT_MESSAGES.iter().any(|m| message.starts_with(m)) {
        return true;
    }
    let mut source = std::error::Error::source(status);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = err.source();
    }
    false
}

/// "outer: inner: innermost", so a transport error shows its cause.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        source = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_precondition_depends_on_the_sender() {
        let details = pb::NotServingRegion {
            table: "users".into(),
            region_id: "r7".into(),
            reason: "closing".into(),
        }
        .encode_to_vec();
        let status = Status::with_details(Code::FailedPrecondition, "moved", details.into());
        match Error::from_region_status(&status) {
            Error::NotServingRegion {
                table,
                region_id,
                message,
            } => {
                assert_eq!((table.as_str(), region_id.as_str()), ("users", "r7"));
                assert_eq!(message, "closing");
            }
            other => panic!("{other:?}"),
        }
        let plain = Status::failed_precondition("table users is disabled");
        assert!(Error::from_region_status(&plain).needs_relocate());
        let master = Error::from_master_status(&plain);
        assert_eq!(
            master,
            Error::FailedPrecondition("table users is disabled".into())
        );
        assert!(!master.is_retryable());
    }

    #[test]
    fn codes_map_to_kinds() {
        let busy = Error::from_region_status(&Status::resource_exhausted("memstore.global_high"));
        assert!(busy.is_retryable() && busy.proves_not_executed() && !busy.needs_relocate());
        assert!(busy.to_string().contains("memstore.global_high"));
        let down = Error::from_region_status(&Status::unavailable("shutting down"));
        assert_eq!(down, Error::Unavailable("shutting down".into()));
        assert!(down.is_retryable() && down.needs_relocate() && !down.proves_not_executed());
        let bad = Error::from_region_status(&Status::invalid_argument("value over max_value"));
        assert!(!bad.is_retryable());
        let nf = Error::from_master_status(&Status::not_found("table t"));
        assert_eq!(nf, Error::NotFound("table t".into()));
        let internal = Error::from_region_status(&Status::internal("boom"));
        assert!(matches!(
            internal,
            Error::Internal {
                code: Code::Internal,
                ..
            }
        ));
        assert!(!internal.is_retryable());
    }

    #[test]
    fn connect_failures_prove_the_request_was_not_sent() {
        let refused = Error::from_region_status(&Status::unavailable("tcp connect error"));
        assert!(refused.proves_not_executed() && refused.needs_relocate());
        let item = pb::ItemStatus {
            code: Code::FailedPrecondition as i32,
            message: "split".into(),
        };
        assert!(Error::from_item_status(&item).needs_relocate());
    }
}
