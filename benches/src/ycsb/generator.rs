//! YCSB's number generators, written from the definitions in YCSB's core package so that
//! a key drawn here is the key YCSB would draw for the same counter state.
//!
//! - [`fnv_hash64`]: YCSB's `Utils.fnvhash64` (FNV-1a over the 8 little-endian bytes of
//!   a Java `long`, then `Math.abs`), used for key names and scrambling.
//! - [`Counter`] / [`AcknowledgedCounter`]: the insert key sequences of the load and run
//!   phases; the latter exposes only keys whose insert has been acknowledged, so reads
//!   never ask for a key that is still being written.
//! - [`Zipfian`]: Gray et al.'s "Quickly generating billion-record synthetic databases"
//!   algorithm with YCSB's constants (0.99); [`ScrambledZipfian`] spreads its popular
//!   items over the key space with the FNV hash; [`SkewedLatest`] favours the newest keys.
//! - [`Uniform`], [`Hotspot`], [`Exponential`], [`Discrete`] (the operation chooser).
//!
//! Randomness comes from the caller's [`Rng`] (one per worker, seeded), so a run is
//! reproducible for a seed and a worker count; generators that keep state between
//! calls (counters, the latest generator's growing item count) are thread safe.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// YCSB's FNV-64 offset basis.
pub const FNV_OFFSET_BASIS_64: u64 = 0xCBF2_9CE4_8422_2325;
/// YCSB's FNV-64 prime.
pub const FNV_PRIME_64: u64 = 1_099_511_628_211;
/// The zipfian exponent of YCSB's core workloads.
pub const ZIPFIAN_CONSTANT: f64 = 0.99;
/// Item count of the zipfian generator under [`ScrambledZipfian`] (YCSB's `ITEM_COUNT`).
pub const SCRAMBLED_ITEM_COUNT: u64 = 10_000_000_000;
/// zeta(`SCRAMBLED_ITEM_COUNT` + 1, 0.99), precomputed by YCSB (`ZETAN`).
pub const SCRAMBLED_ZETAN: f64 = 26.469_028_201_783_02;

/// YCSB's `Utils.fnvhash64(long)`: FNV-1a over the value's 8 bytes, low byte first, with
/// Java's signed 64-bit arithmetic, then `Math.abs` (which leaves `i64::MIN` negative).
pub fn fnv_hash64(value: i64) -> i64 {
    let mut val = value as u64;
    let mut hash = FNV_OFFSET_BASIS_64;
    for _ in 0..8 {
        let octet = val & 0xff;
        val >>= 8;
        hash ^= octet;
        hash = hash.wrapping_mul(FNV_PRIME_64);
    }
    (hash as i64).wrapping_abs()
}

/// YCSB's `CoreWorkload.buildKeyName`: `user` followed by the key number, hashed with
/// [`fnv_hash64`] unless inserts are ordered, left-padded with zeros to `zero_padding`
/// digits.
pub fn key_name(keynum: u64, ordered: bool, zero_padding: usize) -> String {
    let n = if ordered {
        keynum as i64
    } else {
        fnv_hash64(keynum as i64)
    };
    let digits = n.to_string();
    let fill = zero_padding.saturating_sub(digits.len());
    format!("user{}{digits}", "0".repeat(fill))
}

/// SplitMix64: a fast, seedable source of random bits (one per worker).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting at `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 bits (as Java's `nextDouble`).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Uniform over `lb..=ub` (YCSB's `UniformLongGenerator`).
#[derive(Clone, Debug)]
pub struct Uniform {
    lb: u64,
    span: u64,
}

impl Uniform {
    /// Over `lb..=ub`; `ub` >= `lb`.
    pub fn new(lb: u64, ub: u64) -> Uniform {
        Uniform {
            lb,
            span: ub.saturating_sub(lb).saturating_add(1),
        }
    }

    /// The next value.
    pub fn next(&self, rng: &mut Rng) -> u64 {
        self.lb + rng.below(self.span)
    }
}

/// zeta(n, theta) continued from `st` with `initial` = zeta(st, theta)
/// (YCSB's `zetastatic`).
fn zeta_from(st: u64, n: u64, theta: f64, initial: f64) -> f64 {
    (st..n).fold(initial, |sum, i| sum + 1.0 / ((i + 1) as f64).powf(theta))
}

#[derive(Clone, Debug)]
struct ZipfState {
    items: u64,
    zetan: f64,
    eta: f64,
}

/// Zipfian over `base..base + items` (YCSB's `ZipfianGenerator`): item `base` is the most
/// popular, `base + 1` the next, and so on. The item count may grow
/// ([`next_with_count`](Self::next_with_count)); zeta is then extended incrementally, as
/// YCSB does.
#[derive(Debug)]
pub struct Zipfian {
    base: u64,
    theta: f64,
    alpha: f64,
    zeta2theta: f64,
    state: Mutex<ZipfState>,
}

impl Zipfian {
    /// Over `min..=max` with exponent `theta` (YCSB default [`ZIPFIAN_CONSTANT`]).
    pub fn new(min: u64, max: u64, theta: f64) -> Zipfian {
        let items = max - min + 1;
        Zipfian::with_zetan(min, items, theta, zeta_from(0, items, theta, 0.0))
    }

    /// Over `min..min + items` with a precomputed zeta(items, theta).
    pub fn with_zetan(min: u64, items: u64, theta: f64, zetan: f64) -> Zipfian {
        let zeta2theta = zeta_from(0, 2, theta, 0.0);
        let eta = Self::eta(items, theta, zeta2theta, zetan);
        Zipfian {
            base: min,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zeta2theta,
            state: Mutex::new(ZipfState { items, zetan, eta }),
        }
    }

    fn eta(items: u64, theta: f64, zeta2theta: f64, zetan: f64) -> f64 {
        (1.0 - (2.0 / items as f64).powf(1.0 - theta)) / (1.0 - zeta2theta / zetan)
    }

    /// The next value over the item count given at construction.
    pub fn next(&self, rng: &mut Rng) -> u64 {
        let items = self.state.lock().items;
        self.next_with_count(rng, items)
    }

    /// The next value over `items` items; a larger count than before extends zeta (a
    /// smaller one is recomputed from scratch, which YCSB also allows).
    pub fn next_with_count(&self, rng: &mut Rng, items: u64) -> u64 {
        let (zetan, eta) = {
            let mut s = self.state.lock();
            if items != s.items {
                s.zetan = if items > s.items {
                    zeta_from(s.items, items, self.theta, s.zetan)
                } else {
                    zeta_from(0, items, self.theta, 0.0)
                };
                s.items = items;
                s.eta = Self::eta(items, self.theta, self.zeta2theta, s.zetan);
            }
            (s.zetan, s.eta)
        };
        let u = rng.next_f64();
        let uz = u * zetan;
        if uz < 1.0 {
            return self.base;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return self.base + 1;
        }
        let offset = (items as f64 * (eta * u - eta + 1.0).powf(self.alpha)) as u64;
        self.base + offset.min(items.saturating_sub(1))
    }
}

/// YCSB's `ScrambledZipfianGenerator`: zipfian popularity over `min..=max`, with the
/// popular items scattered by hashing so they are not adjacent keys.
#[derive(Debug)]
pub struct ScrambledZipfian {
    min: u64,
    item_count: u64,
    zipf: Zipfian,
}

impl ScrambledZipfian {
    /// Over `min..=max` with YCSB's constant 0.99 (and its precomputed zeta).
    pub fn new(min: u64, max: u64) -> ScrambledZipfian {
        ScrambledZipfian {
            min,
            item_count: max - min + 1,
            zipf: Zipfian::with_zetan(
                0,
                SCRAMBLED_ITEM_COUNT + 1,
                ZIPFIAN_CONSTANT,
                SCRAMBLED_ZETAN,
            ),
        }
    }

    /// The next value.
    pub fn next(&self, rng: &mut Rng) -> u64 {
        let z = self.zipf.next(rng);
        self.min + (fnv_hash64(z as i64).unsigned_abs() % self.item_count)
    }
}

/// A counter of key numbers (YCSB's `CounterGenerator`).
#[derive(Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Starting at `start`.
    pub fn new(start: u64) -> Counter {
        Counter(AtomicU64::new(start))
    }

    /// The next number.
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// YCSB's `AcknowledgedCounterGenerator`: hands out insert key numbers, and reports as
/// [`last`](Self::last) the highest number below which every insert was acknowledged.
#[derive(Debug)]
pub struct AcknowledgedCounter {
    next: AtomicU64,
    limit: AtomicU64,
    pending: Mutex<BTreeSet<u64>>,
}

impl AcknowledgedCounter {
    /// Starting at `start` (the record count: keys `0..start` exist).
    pub fn new(start: u64) -> AcknowledgedCounter {
        AcknowledgedCounter {
            next: AtomicU64::new(start),
            limit: AtomicU64::new(start.saturating_sub(1)),
            pending: Mutex::new(BTreeSet::new()),
        }
    }

    /// The next number to insert.
    pub fn next(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// The highest key number below which all inserts are acknowledged.
    pub fn last(&self) -> u64 {
        self.limit.load(Ordering::Acquire)
    }

    /// Marks the insert of `value` done (successful or not: YCSB acknowledges both, so a
    /// failed insert does not stall the window). The pending set holds at most one entry
    /// per insert in flight.
    pub fn acknowledge(&self, value: u64) {
        let mut pending = self.pending.lock();
        pending.insert(value);
        let mut limit = self.limit.load(Ordering::Acquire);
        while pending.remove(&(limit + 1)) {
            limit += 1;
        }
        self.limit.store(limit, Ordering::Release);
    }
}

/// YCSB's `SkewedLatestGenerator`: zipfian over the distance back from the newest
/// acknowledged key, so recent inserts are the most popular.
#[derive(Debug)]
pub struct SkewedLatest {
    zipf: Zipfian,
}

impl SkewedLatest {
    /// Over the keys `0..=basis.last()` as they grow.
    pub fn new(basis: &AcknowledgedCounter) -> SkewedLatest {
        let items = basis.last().max(1);
        SkewedLatest {
            zipf: Zipfian::new(0, items - 1, ZIPFIAN_CONSTANT),
        }
    }

    /// The next value: `last - zipf(last)`.
    pub fn next(&self, rng: &mut Rng, basis: &AcknowledgedCounter) -> u64 {
        let max = basis.last();
        max - self.zipf.next_with_count(rng, max.max(1)).min(max)
    }
}

/// YCSB's `HotspotIntegerGenerator`: `hot_op_fraction` of the draws fall uniformly in
/// the first `hot_set_fraction` of `lb..=ub`, the rest in the remainder.
#[derive(Clone, Debug)]
pub struct Hotspot {
    lb: u64,
    hot: u64,
    cold: u64,
    hot_op_fraction: f64,
}

impl Hotspot {
    /// Over `lb..=ub`.
    pub fn new(lb: u64, ub: u64, hot_set_fraction: f64, hot_op_fraction: f64) -> Hotspot {
        let interval = ub - lb + 1;
        let hot = ((interval as f64 * hot_set_fraction.clamp(0.0, 1.0)) as u64).max(1);
        Hotspot {
            lb,
            hot: hot.min(interval),
            cold: interval - hot.min(interval),
            hot_op_fraction,
        }
    }

    /// The next value.
    pub fn next(&self, rng: &mut Rng) -> u64 {
        if self.cold == 0 || rng.next_f64() < self.hot_op_fraction {
            self.lb + rng.below(self.hot)
        } else {
            self.lb + self.hot + rng.below(self.cold)
        }
    }
}

/// YCSB's `ExponentialGenerator`: `percentile` % of the draws fall below `range`.
#[derive(Clone, Debug)]
pub struct Exponential {
    gamma: f64,
}

impl Exponential {
    /// With `percentile` (0..100) of values below `range`.
    pub fn new(percentile: f64, range: f64) -> Exponential {
        Exponential {
            gamma: -(1.0 - percentile / 100.0).ln() / range,
        }
    }

    /// The next value.
    pub fn next(&self, rng: &mut Rng) -> u64 {
        let u = 1.0 - rng.next_f64(); // (0, 1]
        (-u.ln() / self.gamma) as u64
    }
}

/// YCSB's `DiscreteGenerator`: one of several values with given weights.
#[derive(Clone, Debug)]
pub struct Discrete<T: Copy> {
    choices: Vec<(f64, T)>,
    sum: f64,
}

impl<T: Copy> Discrete<T> {
    /// From (weight, value) pairs; zero weights are never drawn.
    pub fn new(choices: Vec<(f64, T)>) -> Discrete<T> {
        let choices: Vec<_> = choices.into_iter().filter(|(w, _)| *w > 0.0).collect();
        let sum = choices.iter().map(|(w, _)| w).sum();
        Discrete { choices, sum }
    }

    /// True when no value has a positive weight.
    pub fn is_empty(&self) -> bool {
        self.choices.is_empty()
    }

    /// The next value (`None` if empty).
    pub fn next(&self, rng: &mut Rng) -> Option<T> {
        let mut val = rng.next_f64();
        for (w, v) in &self.choices {
            let p = w / self.sum;
            if val < p {
                return Some(*v);
            }
            val -= p;
        }
        self.choices.last().map(|(_, v)| *v)
    }
}
