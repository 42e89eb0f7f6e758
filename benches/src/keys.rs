//! Deterministic keys and values, the same for every engine.
//!
//! - [`SplitMix64`]: Steele, Lea and Flood's 64-bit mixer (a Weyl sequence through a
//!   two-round xor-shift-multiply finalizer). Tiny, fast, and every seed gives a
//!   full-period stream, so a run is reproducible from `--seed` alone.
//! - Keys: the key number in decimal, left-padded with `'0'` to `key_size` bytes
//!   (`0000000000000042` for 16 bytes), so byte order is numeric order and `fillseq`
//!   writes in key order, as db_bench's keys do.
//! - Values: db_bench-style, compressible to about `compression_ratio`: each value's
//!   first `ceil(value_size * ratio)` bytes are random printable ASCII and the rest
//!   repeats them, so lz4 finds the repeat. Values come from a 1 MiB pool of such
//!   pieces, taken in turn.
//!
//! Not thread-safe by design: each benchmark thread owns its generators.

/// SplitMix64 pseudo-random generator (see the module docs).
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift; the bias is below 2^-32 for `n` < 2^32).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A random permutation of `0..n` (Fisher-Yates).
    pub fn permutation(&mut self, n: u64) -> Vec<u64> {
        let mut v: Vec<u64> = (0..n).collect();
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
        v
    }
}

/// Decimal digits needed to print `n`.
pub fn decimal_digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// Formats key numbers into fixed-width decimal keys.
#[derive(Clone, Debug)]
pub struct KeyFormat {
    key_size: usize,
}

impl KeyFormat {
    /// Keys of `key_size` bytes for numbers below `num`; fails if they do not fit.
    pub fn new(key_size: usize, num: u64) -> Result<Self, String> {
        let digits = decimal_digits(num.saturating_sub(1));
        if key_size < digits {
            return Err(format!(
                "--key_size {key_size} is too small for {num} keys ({digits} digits needed)"
            ));
        }
        Ok(KeyFormat { key_size })
    }

    /// Key size in bytes.
    pub fn key_size(&self) -> usize {
        self.key_size
    }

    /// Writes the key of number `n` into `buf` (resized to the key size).
    pub fn write(&self, n: u64, buf: &mut Vec<u8>) {
        buf.clear();
        buf.resize(self.key_size, b'0');
        let mut rest = n;
        for slot in buf.iter_mut().rev() {
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
    }

    /// The key of number `n`, allocated.
    pub fn key(&self, n: u64) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.key_size);
        self.write(n, &mut buf);
        buf
    }
}

/// Bytes in the value pool.
const VALUE_POOL_BYTES: usize = 1 << 20;

/// A pool of compressible values, handed out in turn (see the module docs).
#[derive(Clone, Debug)]
pub struct ValuePool {
    pool: Vec<u8>,
    value_size: usize,
    pieces: usize,
    next: usize,
}

impl ValuePool {
    /// Values of `value_size` bytes compressible to about `ratio` (0 < ratio <= 1).
    pub fn new(value_size: usize, ratio: f64, rng: &mut SplitMix64) -> Self {
        let pieces = (VALUE_POOL_BYTES / value_size.max(1)).max(1);
        let random_len = ((value_size as f64 * ratio.clamp(0.0, 1.0)).ceil() as usize)
            .clamp(1.min(value_size), value_size);
        let mut pool = Vec::with_capacity(pieces * value_size);
        for _ in 0..pieces {
            let start = pool.len();
            for _ in 0..random_len {
                pool.push(b' ' + rng.below(95) as u8);
            }
            for i in random_len..value_size {
                let b = pool[start + (i - random_len) % random_len];
                pool.push(b);
            }
        }
        ValuePool {
            pool,
            value_size,
            pieces,
            next: 0,
        }
    }

    /// The next value.
    pub fn next_value(&mut self) -> &[u8] {
        let at = self.next * self.value_size;
        self.next = (self.next + 1) % self.pieces;
        &self.pool[at..at + self.value_size]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_deterministic_and_spread() {
        let (mut a, mut b) = (SplitMix64::new(7), SplitMix64::new(7));
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let mut r = SplitMix64::new(1);
        let mut counts = [0u32; 10];
        for _ in 0..10_000 {
            counts[r.below(10) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn permutation_holds_every_number_once() {
        let mut p = SplitMix64::new(3).permutation(1000);
        assert_ne!(p[..10], (0..10).collect::<Vec<u64>>()[..]);
        p.sort_unstable();
        assert_eq!(p, (0..1000).collect::<Vec<u64>>());
    }

    #[test]
    fn keys_are_fixed_width_and_ordered() {
        let f = KeyFormat::new(16, 1_000_000).unwrap();
        assert_eq!(f.key(42), b"0000000000000042");
        assert!(f.key(999) < f.key(1000));
        assert!(KeyFormat::new(6, 1_000_001).is_err());
        assert!(KeyFormat::new(6, 1_000_000).is_ok());
    }

    #[test]
    fn values_repeat_their_random_half() {
        let mut pool = ValuePool::new(100, 0.5, &mut SplitMix64::new(9));
        let v = pool.next_value().to_vec();
        assert_eq!(v.len(), 100);
        assert_eq!(v[..50], v[50..]);
        assert_ne!(pool.next_value(), &v[..]);
    }
}
