//! Buffers of dropped data blocks, kept for the next block read from a file.
//!
//! A block read from a file is decompressed (or, raw, copied) into a heap buffer that
//! the block cache then holds. lz4's safe decoder writes into initialized memory only,
//! so a fresh buffer must be zeroed first, and in a profile of random gets over a table
//! twice the size of the block cache, zeroing them (`memset` and the allocator's zeroed
//! pages) took ~17% of a get. Once the cache is full, every block it admits pushes out
//! another of about the same size, and a large scan that does not fill the cache drops
//! each block as it moves on. So a [`Block`](super::Block) made from one of these
//! buffers hands its buffer back here when it is dropped, and the next read of a block
//! takes it and overwrites every byte (a decompression that does not fill the block
//! exactly is corruption, see `frame.rs`).
//!
//! Only buffers nothing else references are kept (a value sliced out of a block and
//! still held by a caller keeps the whole buffer alive, and it is then freed as usual),
//! at most [`KEPT_BUFFERS`] of them (the oldest goes first), each at most
//! [`MAX_KEPT_BUFFER_BYTES`]. One pool
//! belongs to each block cache; all methods take `&self` and are safe from any thread.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;

/// Buffers kept at most: a block read frees about one, so a few cover the concurrent
/// readers of a small machine.
pub const KEPT_BUFFERS: usize = 8;

/// Largest buffer kept; bigger ones (blocks of huge cells) are freed.
pub const MAX_KEPT_BUFFER_BYTES: usize = 1024 * 1024;

/// The pool. See the module docs.
#[derive(Debug, Default)]
pub struct BlockBuffers {
    kept: Mutex<VecDeque<BytesMut>>,
    reused: AtomicU64,
}

impl BlockBuffers {
    /// A buffer of exactly `len` initialized bytes of arbitrary value: a kept one whose
    /// capacity fits (at least `len`, at most a quarter more), else a new zeroed one with
    /// 1/32 spare capacity, so that it fits the next, slightly larger block of its
    /// family (a block closes once it passes the block size, so their lengths differ
    /// by up to an entry).
    pub fn take(&self, len: usize) -> BytesMut {
        let fits = |b: &BytesMut| b.capacity() >= len && b.capacity() - len <= len / 4;
        let kept = {
            let mut kept = self.kept.lock();
            // The most recent first: it is the likeliest to be of the family read now.
            kept.iter().rposition(fits).and_then(|i| kept.remove(i))
        };
        let mut buf = match kept {
            Some(buf) => {
                self.reused.fetch_add(1, Ordering::Relaxed);
                buf
            }
            None => BytesMut::with_capacity(len.saturating_add(len / 32)),
        };
        // Shrinking keeps initialized bytes; growing zeroes only the new tail.
        buf.resize(len, 0);
        buf
    }

    /// Keeps `data`'s buffer for [`Self::take`] if nothing else references it, it is
    /// not too large and the pool has room; else drops it.
    pub fn put(&self, data: Bytes) {
        let Ok(buf) = data.try_into_mut() else {
            return;
        };
        if buf.capacity() > MAX_KEPT_BUFFER_BYTES {
            return;
        }
        // When full, the oldest goes: a buffer no block fits (a family's odd last
        // block, a family no longer read) must not hold a place for ever.
        let oldest = {
            let mut kept = self.kept.lock();
            let oldest = (kept.len() >= KEPT_BUFFERS).then(|| kept.pop_front());
            kept.push_back(buf);
            oldest
        };
        drop(oldest);
    }

    /// Buffers [`Self::take`] reused instead of allocating and zeroing.
    pub fn reused(&self) -> u64 {
        self.reused.load(Ordering::Relaxed)
    }

    /// Buffers kept now.
    pub fn kept(&self) -> usize {
        self.kept.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_a_dropped_buffer_of_a_fitting_size() {
        let pool = BlockBuffers::default();
        let mut a = pool.take(1000);
        assert_eq!(a.len(), 1000);
        assert!(a.iter().all(|&b| b == 0));
        a.fill(7);
        let ptr = a.as_ptr();
        pool.put(a.freeze());
        assert_eq!(pool.kept(), 1);
        // A slightly larger block fits the spare capacity; it is the same memory, with
        // the old bytes (every one is overwritten by the reader).
        let b = pool.take(1010);
        assert_eq!((b.len(), b.as_ptr(), pool.reused()), (1010, ptr, 1));
        assert_eq!(b.get(..1000), Some(&[7u8; 1000][..]));
        pool.put(b.freeze());
        // Too small for it, or much smaller than it: a new buffer.
        assert_ne!(pool.take(2000).as_ptr(), ptr);
        assert_ne!(pool.take(100).as_ptr(), ptr);
        assert_eq!(pool.reused(), 1);
        assert_eq!(pool.kept(), 1);
    }

    #[test]
    fn keeps_only_unreferenced_bounded_buffers() {
        let pool = BlockBuffers::default();
        let data = pool.take(512).freeze();
        let held = data.slice(10..20);
        pool.put(data);
        assert_eq!(pool.kept(), 0, "a slice still references the buffer");
        drop(held);
        pool.put(pool.take(MAX_KEPT_BUFFER_BYTES + 1).freeze());
        assert_eq!(pool.kept(), 0, "too large to keep");
        pool.put(Bytes::from_static(b"static"));
        assert_eq!(pool.kept(), 0);
        // When full, the oldest buffer goes: here the one of 100 bytes.
        pool.put(Bytes::from(vec![1u8; 100]));
        for _ in 0..KEPT_BUFFERS + 3 {
            pool.put(Bytes::from(vec![1u8; 64]));
        }
        assert_eq!(pool.kept(), KEPT_BUFFERS);
        assert_eq!(pool.take(100).capacity(), 100 + 100 / 32);
        assert_eq!(pool.reused(), 0);
        assert_eq!(pool.take(64).len(), 64);
        assert_eq!(pool.reused(), 1);
    }
}
