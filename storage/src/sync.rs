//! Synchronization primitives of the engine's own concurrency code. Under
//! `--cfg strata_loom` they come from loom so the model checker can explore every
//! interleaving; otherwise from std.

#[cfg(strata_loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(strata_loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};

#[cfg(not(strata_loom))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(strata_loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};

/// Locks a mutex, treating poisoning as "the holder panicked; the data is still the
/// best we have" (the engine never leaves shared state half-updated across a panic point).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Waits on a condvar with the same poisoning policy as [`lock`].
pub(crate) fn wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    match cv.wait(g) {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
