//! rpcbench's parts: Strata over gRPC against the floors of this machine.
//!
//! - [`servers`]: a server on its own tokio runtime and threads, built exactly as the
//!   `strata-server` binary builds its runtime (`multi_thread` or `current_thread`, named
//!   `strata-rpc`); the Strata standalone server and the echo server both run this way.
//! - [`echo`]: the reference, a bare tonic unary echo (16-byte key in, 100-byte value
//!   out) with the same server and channel settings as Strata.
//! - [`strata`]: the table, its preload, and the timed Strata client calls.
//! - [`load`]: the closed-loop driver (N tasks, one call in flight each) and its HDR
//!   latency histograms.
//! - [`cpu`]: CPU time of the server's and the client's threads per call.
//! - [`redis`]: `redis-benchmark` against a `redis-server` the tool starts.
//! - [`report`]: the results table, the ratios and the targets.
//!
//! Keys are the key number in decimal, zero-padded to 16 bytes; values are 100 bytes of
//! random printable ASCII; random numbers come from [`SplitMix64`].

pub mod cpu;
pub mod echo;
pub mod load;
pub mod redis;
pub mod report;
pub mod servers;
pub mod strata;

/// Key size in bytes (the 16-byte keys).
pub const KEY_SIZE: usize = 16;
/// Value size in bytes (the 100-byte values).
pub const VALUE_SIZE: usize = 100;

/// SplitMix64 (Steele, Lea and Flood): a Weyl sequence through a xor-shift-multiply
/// finalizer. Each task owns one, seeded from `--seed` and its index.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting at `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Key number `n` as a 16-byte key (`0000000000000042`).
pub fn key(n: u64) -> bytes::Bytes {
    bytes::Bytes::from(format!("{n:0KEY_SIZE$}"))
}

/// A [`VALUE_SIZE`]-byte value of printable ASCII drawn from `seed`.
pub fn value(seed: u64) -> bytes::Bytes {
    let mut rng = SplitMix64::new(seed);
    let v: Vec<u8> = (0..VALUE_SIZE)
        .map(|_| b' ' + rng.below(95) as u8)
        .collect();
    bytes::Bytes::from(v)
}
