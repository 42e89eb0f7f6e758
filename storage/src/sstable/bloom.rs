//! Per-file bloom filters over row keys or row+column keys, built on the `bloomfilter`
//! crate and persisted with its own `to_bytes` format (which carries the seed and the
//! number of hash functions, so a reloaded filter answers exactly as the written one).
//!
//! Two traps from `DEPENDENCIES.md` shape this file:
//! - keys are hashed through [`KeyBytes`], whose `Hash` calls only `write(bytes)`: hashing
//!   a `&[u8]` directly would also hash a length prefix whose encoding std does not
//!   promise, and a change there would make old filters answer "absent" for present keys.
//!   `fixed_seed_bytes_are_stable` pins the bytes.
//! - every file gets a fresh random 32-byte seed whose two 16-byte halves differ (equal
//!   halves make both SipHash keys equal and triple the false-positive rate).

use std::hash::{Hash, Hasher};

use bloomfilter::Bloom;

use super::codec::{DecodeError, DecodeResult};

/// Most keys a filter is sized for; beyond it the false-positive rate degrades instead of
/// the filter growing without bound (at 1 % this is about 120 MiB).
pub const MAX_BLOOM_KEYS: usize = 100_000_000;

/// Most hash functions a stored filter may declare (a corrupt count would make every
/// probe loop for a long time). Rates down to 1e-18 need fewer than 64.
const MAX_HASH_FUNCTIONS: u32 = 64;

/// A filter key as `Hash` sees it: only its bytes, no length prefix.
pub(crate) struct KeyBytes<B>(B);

impl<B: AsRef<[u8]>> Hash for KeyBytes<B> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0.as_ref());
    }
}

/// Draws a random seed whose halves differ.
pub(crate) fn random_seed() -> [u8; 32] {
    loop {
        let seed: [u8; 32] = rand::random();
        if seed[..16] != seed[16..] {
            return seed;
        }
    }
}

/// Builds a filter from keys fed in sorted order; consecutive duplicates are inserted once.
pub(crate) struct BloomBuilder {
    filter: Bloom<KeyBytes<Vec<u8>>>,
    /// The last key inserted, kept to skip repeats (keys arrive sorted).
    last: Option<KeyBytes<Vec<u8>>>,
    keys: u64,
}

impl BloomBuilder {
    /// A filter for up to `expected_keys` distinct keys at false-positive rate `fp_rate`,
    /// which must be in (0, 1) (the caller validates it: the crate panics otherwise).
    pub(crate) fn new(expected_keys: usize, fp_rate: f64, seed: &[u8; 32]) -> Self {
        let n = expected_keys.clamp(1, MAX_BLOOM_KEYS);
        let filter = Bloom::new_for_fp_rate_with_seed(n, fp_rate, seed)
            // Only fails for a zero-sized bitmap, which n >= 1 and fp < 1 rule out.
            .unwrap_or_else(|e| unreachable!("bloom sizing failed for n={n}, p={fp_rate}: {e}"));
        BloomBuilder {
            filter,
            last: None,
            keys: 0,
        }
    }

    /// Inserts `key` unless it equals the previous key.
    pub(crate) fn add(&mut self, key: &[u8]) {
        match &mut self.last {
            Some(last) if last.0 == key => return,
            Some(last) => {
                last.0.clear();
                last.0.extend_from_slice(key);
            }
            None => self.last = Some(KeyBytes(key.to_vec())),
        }
        if let Some(last) = &self.last {
            self.filter.set(last);
            self.keys += 1;
        }
    }

    /// Distinct keys inserted so far.
    #[cfg(test)]
    pub(crate) fn key_count(&self) -> u64 {
        self.keys
    }

    /// The bytes to store in the bloom block.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.filter.into_bytes()
    }
}

/// A filter loaded from a bloom block.
pub struct BloomFilter {
    /// `'static` here only names the key type; see [`BloomFilter::may_contain`].
    filter: Bloom<KeyBytes<&'static [u8]>>,
}

impl std::fmt::Debug for BloomFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BloomFilter")
            .field("bits", &self.filter.len())
            .field("hashes", &self.filter.number_of_hash_functions())
            .finish()
    }
}

impl BloomFilter {
    /// Reloads a filter from the bytes [`BloomBuilder::finish`] produced.
    pub(crate) fn decode(bytes: &[u8]) -> DecodeResult<BloomFilter> {
        let filter =
            Bloom::from_slice(bytes).map_err(|e| DecodeError::new(format!("bloom filter: {e}")))?;
        // `check` computes `hash % bits`: zero bits would divide by zero.
        #[expect(
            clippy::len_zero,
            reason = "Bloom::is_empty means no bit set, not zero bits"
        )]
        if filter.len() == 0 {
            return Err(DecodeError::new("bloom filter has no bits"));
        }
        let k = filter.number_of_hash_functions();
        if k > MAX_HASH_FUNCTIONS {
            return Err(DecodeError::new(format!(
                "bloom filter declares {k} hash functions, over {MAX_HASH_FUNCTIONS}"
            )));
        }
        Ok(BloomFilter { filter })
    }

    /// False only if `key` was certainly never inserted.
    pub fn may_contain(&self, key: &[u8]) -> bool {
        // `Bloom<T>` holds `T` only as `PhantomData`, so it is covariant in `T`: a filter
        // typed for `'static` keys can be viewed as one for keys borrowed for less.
        let filter: &Bloom<KeyBytes<&[u8]>> = &self.filter;
        filter.check(&KeyBytes(key))
    }

    /// Size of the bitmap in bits.
    pub fn bits(&self) -> u64 {
        self.filter.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn to_hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    proptest! {
        #[test]
        fn every_inserted_key_is_found_after_reload(
            keys in prop::collection::btree_set(prop::collection::vec(any::<u8>(), 0..24), 1..300),
            fp in prop_oneof![Just(0.01), Just(0.1), Just(0.5)],
        ) {
            let mut b = BloomBuilder::new(keys.len(), fp, &random_seed());
            for k in &keys {
                b.add(k);
                b.add(k); // repeats are skipped
            }
            prop_assert_eq!(b.key_count(), keys.len() as u64);
            let f = BloomFilter::decode(&b.finish()).unwrap();
            for k in &keys {
                prop_assert!(f.may_contain(k));
            }
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..120)) {
            if let Ok(f) = BloomFilter::decode(&bytes) {
                let _ = f.may_contain(b"x");
            }
        }
    }

    /// Pins the hashing of keys: if a dependency or std change alters the bytes a filter
    /// produces, filters already on disk would answer wrongly, so this must fail first.
    #[test]
    fn fixed_seed_bytes_are_stable() {
        let mut seed = [0u8; 32];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = i as u8 * 7 + 1;
        }
        let mut b = BloomBuilder::new(10, 0.01, &seed);
        for k in [&b"row-a"[..], b"row-b", b"row-c", b"", &[0, 1, 2, 0xFF]] {
            b.add(k);
        }
        let bytes = b.finish();
        assert_eq!(to_hex(&bytes), SAVED_FILTER_HEX);

        // The test is sensitive to the trap it guards: hashing `&[u8]` through its own
        // `Hash` impl (with a length prefix) gives different bits.
        let mut plain: Bloom<[u8]> = Bloom::new_for_fp_rate_with_seed(10, 0.01, &seed).unwrap();
        for k in [&b"row-a"[..], b"row-b", b"row-c", b"", &[0, 1, 2, 0xFF]] {
            plain.set(k);
        }
        assert_ne!(plain.to_bytes(), bytes);
    }

    /// Header (version 1, 12 bitmap bytes, 7 hash functions, the seed) and bitmap, as
    /// produced by bloomfilter 3.0.2 when this test was written.
    const SAVED_FILTER_HEX: &str = concat!(
        "01",
        "0c00000000000000",
        "07000000",
        "01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da",
        "048184d88d1c80f0e44908a4",
    );

    #[test]
    fn seeds_are_random_with_distinct_halves() {
        let a = random_seed();
        let b = random_seed();
        assert_ne!(a, b);
        assert_ne!(a[..16], a[16..]);
    }

    #[test]
    fn absent_keys_are_mostly_rejected() {
        let mut b = BloomBuilder::new(2000, 0.01, &random_seed());
        for i in 0..2000u32 {
            b.add(format!("present-{i:06}").as_bytes());
        }
        let f = BloomFilter::decode(&b.finish()).unwrap();
        let fps = (0..10_000u32)
            .filter(|i| f.may_contain(format!("absent-{i:06}").as_bytes()))
            .count();
        // Target 1 %; allow generous slack, but equal-half seeds (about 3 %) would be caught.
        assert!(fps < 250, "{fps} false positives in 10000 probes");
    }

    #[test]
    fn corrupt_headers_are_rejected() {
        let mut b = BloomBuilder::new(10, 0.01, &random_seed());
        b.add(b"k");
        let good = b.finish();
        let mut many_hashes = good.clone();
        many_hashes[9..13].copy_from_slice(&1000u32.to_le_bytes());
        assert!(BloomFilter::decode(&many_hashes).is_err());
        assert!(BloomFilter::decode(&good[..good.len() - 1]).is_err());
        assert!(BloomFilter::decode(&good[..10]).is_err());
    }
}
