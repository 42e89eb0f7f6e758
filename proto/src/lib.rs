//! Strata's wire protocol: the `.proto` files under `proto/` and the code tonic and
//! prost generate from them. Nothing else lives here.
//!
//! Byte fields are `bytes::Bytes`, so rows and values move without copies.

/// Version 1 of the protocol (`strata.v1`).
pub mod v1 {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("strata.v1");
}
