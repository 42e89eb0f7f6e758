//! The write-ahead log of one region: checksummed records in rolling segment files under
//! `<region_dir>/wal/`, group commit, and replay with torn-tail repair.
//!
//! # Use
//!
//! At open the region calls [`replay`] (records above its flushed seq go back into the
//! memstore), then [`Wal::open`] with the next seq and the segments replay found. For each
//! row mutation it assigns a seq and calls [`Wal::append`] while holding its write lock, so
//! seqs arrive strictly increasing; after releasing the lock it calls [`Wal::sync`] with
//! the write's [`Durability`](crate::Durability). After a memstore flush up to seq `s` it
//! calls [`Wal::roll`] and [`Wal::mark_flushed`]`(s)` to delete covered segments.
//!
//! # Invariants
//!
//! - Records in the log have strictly increasing seqs, across segments too; a segment's
//!   name is a lower bound of its seqs and above every seq of earlier segments.
//! - A segment is fsynced before the next one is created, so only the last segment can
//!   end in a torn record; replay cuts that tail off and fsyncs the segment before a new
//!   writer starts its own new segment. Every other bad byte is `Error::Corruption`
//!   naming the file and offset (see `reader.rs` for the exact rule).
//! - A record is reported durable only after the bytes holding it were written and
//!   fsynced. After any failed write, fsync or roll the WAL is *failed*: that batch's
//!   waiters and every later append/sync get the error (the region must be reopened,
//!   which replays what really reached the disk).
//! - Memory is bounded: at most `max_pending_bytes` (plus one record) of appended,
//!   unwritten bytes; payloads are at most [`MAX_PAYLOAD_BYTES`].
//!
//! # Thread safety and synchronization (loom-friendly by construction)
//!
//! [`Wal`] is `Send + Sync`. All shared variables live in ONE `Mutex<State>`: the append
//! buffer, `last_appended`, `written_seq`, `durable_seq`, `leader_active`, `failure`,
//! `closed`, the sealed segment list. Two condvars go with that mutex: `done` (a leader
//! finished, or close) and `tick` (wakes the async syncer). No atomics carry meaning
//! (the `Stats` counters are statistics only). The protocol:
//!
//! 1. `append` locks, copies the record into `buf`, bumps `last_appended`, unlocks. It
//!    waits on `done` only for backpressure.
//! 2. `sync(seq)` locks and loops: done if `durable_seq >= seq` (or `written_seq` for
//!    Flush); error if failed; else if `leader_active` wait on `done`; else become leader.
//! 3. The leader sets `leader_active`, swaps `buf` with an empty buffer, notes
//!    `target = last_appended`, and unlocks for the I/O (the segment file sits behind a
//!    second mutex that only the single leader takes, so it is never contended). It then
//!    relocks, publishes `written_seq`/`durable_seq = target` or `failure`, clears
//!    `leader_active` and `notify_all`s `done`.
//!
//! Every wait is inside a loop that re-checks its predicate under the mutex, and every
//! change to a predicate is followed by `notify_all`, so there are no lost wakeups and
//! spurious ones are harmless. At most one leader exists because `leader_active` is only
//! tested and set under the mutex. A loom model would swap `parking_lot` for
//! `loom::sync::{Mutex, Condvar}` behind a small shim and the segment file for an
//! in-memory sink, then check with 2 appender/syncer threads plus the syncer that no
//! `sync` returns before its bytes were "synced" and that nothing deadlocks.

mod reader;
mod record;
mod segment;
pub(crate) mod writer;

pub use reader::{ReplayOutcome, replay};
pub use record::{
    MAX_PAYLOAD_BYTES, RECORD_HEADER_LEN, RECORD_OVERHEAD, RECORD_TRAILER_LEN, encode_record,
};
pub use segment::{
    SEGMENT_FORMAT_VERSION, SEGMENT_HEADER_LEN, SEGMENT_MAGIC, SegmentInfo, segment_file_name,
};
pub use writer::{Wal, WalOptions};

/// A temporary directory for tests: on tmpfs when available, where fsync is free, so
/// tests that replay hundreds of copies of a log stay fast.
#[cfg(test)]
pub(crate) fn test_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().expect("create a temp dir")
}
