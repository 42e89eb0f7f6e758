//! Binary search over sorted keys that mostly compares integers held in one array.
//!
//! A point read binary-searches a file's block index and then a block's restart points.
//! Each probe of a plain search reads a key somewhere else in memory (a heap `Vec` in the
//! index, an entry in a 64 KiB block), and with blocks spread over the block cache almost
//! every probe is a cache miss: in a profile of all-cached gets, the first byte of the
//! probed entries took ~40% of the time. [`KeyHeads`] keeps, for every key, the 8 bytes
//! that follow the prefix all the keys share, as a big-endian `u64` in one contiguous
//! array. A probe compares those integers and reads the key itself only when the heads
//! tie (keys that agree on those 8 bytes too).
//!
//! The order is exactly byte order. The keys are sorted, so they all share the prefix
//! their first and last keys share. Heads are zero-padded, and padded heads that differ
//! order their keys as the keys themselves compare (a shorter key and one extending it
//! with zeros pad alike, tie, and are compared in full).

use std::cmp::Ordering;

/// Bytes of a key that a head holds.
const HEAD_BYTES: usize = 8;

/// The search structure of one sorted list of keys.
#[derive(Clone, Debug, Default)]
pub(crate) struct KeyHeads {
    prefix: Vec<u8>,
    heads: Vec<u64>,
}

/// Length of the longest common prefix of `a` and `b`.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The [`HEAD_BYTES`] bytes of `key` from `at`, zero-padded, as a big-endian integer.
fn head_at(key: &[u8], at: usize) -> u64 {
    let mut head = [0u8; HEAD_BYTES];
    let rest = key.get(at..).unwrap_or_default();
    let n = rest.len().min(HEAD_BYTES);
    if let (Some(dst), Some(src)) = (head.get_mut(..n), rest.get(..n)) {
        dst.copy_from_slice(src);
    }
    u64::from_be_bytes(head)
}

impl KeyHeads {
    /// Builds the heads of `keys`, which must be sorted (as the writer sorts them; a
    /// corrupt, unsorted list gives wrong positions, never a panic).
    pub(crate) fn new(keys: &[&[u8]]) -> KeyHeads {
        let prefix = match (keys.first(), keys.last()) {
            (Some(first), Some(last)) => first
                .get(..common_prefix(first, last))
                .unwrap_or_default()
                .to_vec(),
            _ => Vec::new(),
        };
        let heads = keys.iter().map(|k| head_at(k, prefix.len())).collect();
        KeyHeads { prefix, heads }
    }

    /// Number of keys.
    pub(crate) fn len(&self) -> usize {
        self.heads.len()
    }

    /// Heap bytes held.
    pub(crate) fn size_bytes(&self) -> usize {
        self.prefix.len() + self.heads.len() * std::mem::size_of::<u64>()
    }

    /// How many keys are `< target`. `key(i)` returns key `i`; it is called only for
    /// keys whose head ties with the target's.
    pub(crate) fn count_less<'k, E>(
        &self,
        target: &[u8],
        key: impl Fn(usize) -> Result<&'k [u8], E>,
    ) -> Result<usize, E> {
        let n = self.heads.len();
        let shared = target.len().min(self.prefix.len());
        match target
            .get(..shared)
            .unwrap_or_default()
            .cmp(self.prefix.get(..shared).unwrap_or_default())
        {
            Ordering::Less => return Ok(0),
            Ordering::Greater => return Ok(n),
            // A target that is a proper prefix of the shared prefix is below every key.
            Ordering::Equal if target.len() < self.prefix.len() => return Ok(0),
            Ordering::Equal => {}
        }
        let want = head_at(target, self.prefix.len());
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let head = self.heads.get(mid).copied().unwrap_or(u64::MAX);
            let less = match head.cmp(&want) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => key(mid)? < target,
            };
            if less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn count(keys: &[Vec<u8>], target: &[u8]) -> usize {
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let heads = KeyHeads::new(&refs);
        heads.count_less(target, |i| Ok::<_, ()>(refs[i])).unwrap()
    }

    proptest! {
        // A tiny alphabet with zeros and long shared prefixes, so ties, keys that
        // prefix each other and zero padding all come up.
        #[test]
        fn counts_like_a_plain_search(
            mut keys in prop::collection::vec(
                (0usize..14, prop::collection::vec(prop::sample::select(vec![0u8, 1, 0xFF]), 0..12)),
                0..40),
            target_tail in prop::collection::vec(prop::sample::select(vec![0u8, 1, 2, 0xFF]), 0..14),
            target_prefix in 0usize..16,
        ) {
            let base = b"0000000000user".to_vec();
            let mut keys: Vec<Vec<u8>> = keys
                .drain(..)
                .map(|(p, tail)| [&base[..p], &tail[..]].concat())
                .collect();
            keys.sort();
            keys.dedup();
            let target = [&base[..target_prefix.min(base.len())], &target_tail[..]].concat();
            let expected = keys.partition_point(|k| k.as_slice() < target.as_slice());
            prop_assert_eq!(count(&keys, &target), expected);
            for k in &keys {
                let expected = keys.partition_point(|x| x < k);
                prop_assert_eq!(count(&keys, k), expected);
            }
        }
    }

    #[test]
    fn edges() {
        assert_eq!(count(&[], b"x"), 0);
        let keys = vec![b"abc".to_vec(), b"abd".to_vec(), b"abd\0".to_vec()];
        assert_eq!(count(&keys, b""), 0);
        assert_eq!(count(&keys, b"a"), 0);
        assert_eq!(count(&keys, b"abd"), 1);
        assert_eq!(count(&keys, b"abd\0"), 2);
        assert_eq!(count(&keys, b"abd\0\0"), 3);
        assert_eq!(count(&keys, b"b"), 3);
        assert_eq!(count(&keys, b"aa"), 0);
    }
}
