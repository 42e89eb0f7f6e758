//! The one iterator trait over sorted internal entries (encoded key -> value), shared by
//! memstores, SSTables and the merging iterator.

use crate::error::Result;

/// A cursor over entries sorted by encoded internal key (see `key.rs`).
///
/// After `seek`/`seek_to_first`/`next` return `Ok`, `valid()` says whether the cursor
/// is on an entry; `key()`/`value()` may only be called while it is valid. An `Err`
/// leaves the cursor invalid.
pub trait InternalIterator {
    /// Positions at the first entry whose key is `>= target`.
    fn seek(&mut self, target: &[u8]) -> Result<()>;
    /// Positions at the first entry.
    fn seek_to_first(&mut self) -> Result<()>;
    /// Moves to the next entry.
    fn next(&mut self) -> Result<()>;
    /// True while positioned on an entry.
    fn valid(&self) -> bool;
    /// The current encoded key.
    fn key(&self) -> &[u8];
    /// The current value.
    fn value(&self) -> &[u8];

    /// The current value as `Bytes`; sources that hold values in shared buffers
    /// (memstores, cached blocks) return a slice without copying.
    fn value_bytes(&self) -> bytes::Bytes {
        bytes::Bytes::copy_from_slice(self.value())
    }
}

impl<I: InternalIterator + ?Sized> InternalIterator for Box<I> {
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        (**self).seek(target)
    }
    fn seek_to_first(&mut self) -> Result<()> {
        (**self).seek_to_first()
    }
    fn next(&mut self) -> Result<()> {
        (**self).next()
    }
    fn valid(&self) -> bool {
        (**self).valid()
    }
    fn key(&self) -> &[u8] {
        (**self).key()
    }
    fn value(&self) -> &[u8] {
        (**self).value()
    }
    fn value_bytes(&self) -> bytes::Bytes {
        (**self).value_bytes()
    }
}
