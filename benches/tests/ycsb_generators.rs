//! strata-bench's generators against YCSB's definitions: pinned key hashes, and the
//! shape of each distribution (fixed seeds, so every run draws the same numbers).

use std::collections::HashMap;

use strata_benches::ycsb::generator::{
    AcknowledgedCounter, Discrete, Exponential, Hotspot, Rng, SCRAMBLED_ZETAN, ScrambledZipfian,
    SkewedLatest, Uniform, ZIPFIAN_CONSTANT, Zipfian, fnv_hash64, key_name,
};
use strata_benches::ycsb::properties::Properties;
use strata_benches::ycsb::workload::CoreWorkload;

#[test]
fn fnv_hash_and_key_names_match_ycsb() {
    // Computed from the definition (FNV-1a over the 8 little-endian bytes of a Java
    // long, wrapping, then Math.abs) by an independent implementation.
    assert_eq!(fnv_hash64(0), 6_284_781_860_667_377_211);
    assert_eq!(fnv_hash64(1), 8_517_097_267_634_966_620);
    assert_eq!(fnv_hash64(2), 1_820_151_046_732_198_393);
    assert_eq!(fnv_hash64(42), 55_488_592_825_689_361);
    assert_eq!(fnv_hash64(999), 2_071_219_101_098_386_137);
    assert_eq!(fnv_hash64(1_000_000), 1_011_632_231_655_643_464);
    assert_eq!(fnv_hash64(-1), 8_289_690_350_564_177_859);
    assert_eq!(key_name(0, false, 1), "user6284781860667377211");
    assert_eq!(key_name(42, false, 1), "user55488592825689361");
    assert_eq!(key_name(42, true, 1), "user42");
    assert_eq!(key_name(42, true, 6), "user000042");
    // Deterministic: the same number always gives the same key.
    assert_eq!(key_name(123_456, false, 1), key_name(123_456, false, 1));
}

/// Pearson's chi-square statistic of `observed` counts against `expected` counts.
fn chi_square(observed: &[u64], expected: &[f64]) -> f64 {
    observed
        .iter()
        .zip(expected)
        .map(|(&o, &e)| (o as f64 - e).powi(2) / e)
        .sum()
}

#[test]
fn uniform_passes_chi_square() {
    let u = Uniform::new(10, 29);
    let mut rng = Rng::new(7);
    let mut counts = [0u64; 20];
    let n = 100_000;
    for _ in 0..n {
        let v = u.next(&mut rng);
        assert!((10..=29).contains(&v));
        counts[(v - 10) as usize] += 1;
    }
    let expected = [n as f64 / 20.0; 20];
    // 19 degrees of freedom: 43.8 is the 0.1% critical value.
    let chi = chi_square(&counts, &expected);
    assert!(chi < 43.8, "chi-square {chi}");
}

#[test]
fn zipfian_rank_frequency_follows_the_power_law() {
    let items = 1000u64;
    let z = Zipfian::new(0, items - 1, ZIPFIAN_CONSTANT);
    let mut rng = Rng::new(11);
    let n = 400_000;
    let mut counts = vec![0u64; items as usize];
    for _ in 0..n {
        let v = z.next(&mut rng);
        assert!(v < items);
        counts[v as usize] += 1;
    }
    let zetan: f64 = (1..=items)
        .map(|i| 1.0 / (i as f64).powf(ZIPFIAN_CONSTANT))
        .sum();
    // Items 0 and 1 are exact in YCSB's algorithm: 1/zeta(n) and 0.5^theta/zeta(n).
    let p0 = counts[0] as f64 / n as f64;
    let p1 = counts[1] as f64 / n as f64;
    assert!((p0 * zetan - 1.0).abs() < 0.03, "p0 {p0}");
    assert!(
        (p1 * zetan / 0.5f64.powf(ZIPFIAN_CONSTANT) - 1.0).abs() < 0.05,
        "p1 {p1}"
    );
    // Rank-frequency over ranks 1..100 (bucketed by decades): the log-log slope is
    // about -theta.
    let bucket =
        |lo: usize, hi: usize| counts[lo..hi].iter().sum::<u64>() as f64 / (hi - lo) as f64;
    let (f_lo, f_hi) = (bucket(2, 10), bucket(50, 150));
    let slope = (f_hi.ln() - f_lo.ln()) / ((100f64).ln() - (6f64).ln());
    assert!((slope + ZIPFIAN_CONSTANT).abs() < 0.2, "slope {slope}");
    // Popularity falls with rank.
    assert!(counts[0] > counts[1] && counts[1] > counts[5] && counts[5] > counts[100]);
}

#[test]
fn scrambled_zipfian_scatters_a_hot_key() {
    let z = ScrambledZipfian::new(0, 9999);
    let mut rng = Rng::new(5);
    let n = 200_000;
    let mut counts: HashMap<u64, u64> = HashMap::new();
    for _ in 0..n {
        let v = z.next(&mut rng);
        assert!(v <= 9999);
        *counts.entry(v).or_insert(0) += 1;
    }
    let mut by_count: Vec<(u64, u64)> = counts.into_iter().collect();
    by_count.sort_by_key(|e| std::cmp::Reverse(e.1));
    // The most popular key gets 1/zeta ~ 3.8% of the draws, and it is item 0 hashed.
    let top = by_count[0];
    let p = top.1 as f64 / n as f64;
    assert!(
        (p * SCRAMBLED_ZETAN - 1.0).abs() < 0.05,
        "top key share {p}"
    );
    assert_eq!(top.0, fnv_hash64(0).unsigned_abs() % 10_000);
    // The next hottest keys are not its neighbours.
    assert!(by_count[1].0.abs_diff(top.0) > 1);
}

#[test]
fn latest_favours_the_newest_acknowledged_keys() {
    let counter = AcknowledgedCounter::new(1000);
    let latest = SkewedLatest::new(&counter);
    let mut rng = Rng::new(3);
    let mut newest = 0;
    for _ in 0..50_000 {
        let v = latest.next(&mut rng, &counter);
        assert!(v <= 999);
        if v == 999 {
            newest += 1;
        }
    }
    // P(last) = 1/zeta(999) ~ 13%.
    let p = newest as f64 / 50_000.0;
    assert!(p > 0.11 && p < 0.15, "share of the newest key {p}");
    // Inserts acknowledged out of order move the window only when contiguous.
    let (a, b) = (counter.next(), counter.next());
    assert_eq!((a, b), (1000, 1001));
    counter.acknowledge(b);
    assert_eq!(counter.last(), 999);
    counter.acknowledge(a);
    assert_eq!(counter.last(), 1001);
    let top = (0..10_000)
        .filter(|_| latest.next(&mut rng, &counter) == 1001)
        .count();
    assert!(top > 1000, "newest key drawn {top} times");
}

#[test]
fn hotspot_exponential_and_operation_mix() {
    let h = Hotspot::new(0, 999, 0.2, 0.8);
    let mut rng = Rng::new(9);
    let hot = (0..100_000).filter(|_| h.next(&mut rng) < 200).count();
    assert!(
        (hot as f64 / 100_000.0 - 0.8).abs() < 0.01,
        "hot share {hot}"
    );

    let e = Exponential::new(95.0, 1000.0);
    let below = (0..100_000).filter(|_| e.next(&mut rng) < 1000).count();
    assert!(
        (below as f64 / 100_000.0 - 0.95).abs() < 0.005,
        "below {below}"
    );

    let d = Discrete::new(vec![(0.5, 'r'), (0.5, 'u'), (0.0, 's')]);
    let reads = (0..100_000)
        .filter(|_| d.next(&mut rng) == Some('r'))
        .count();
    assert!((reads as f64 / 100_000.0 - 0.5).abs() < 0.01);
}

#[test]
fn workload_keys_are_deterministic_and_loaded() {
    let mut p = Properties::workload("b").unwrap();
    p.merge_setting("recordcount=500").unwrap();
    p.merge_setting("operationcount=100").unwrap();
    let w = CoreWorkload::new(&p).unwrap();
    let mut r1 = Rng::new(1);
    let mut r2 = Rng::new(1);
    for _ in 0..1000 {
        let (a, b) = (w.next_keynum(&mut r1), w.next_keynum(&mut r2));
        assert_eq!(a, b);
        assert!(a < 500, "key {a} beyond the loaded records");
    }
    assert_eq!(w.key(0), "user6284781860667377211");
    p.merge_setting("fieldcount=0").unwrap();
    let err = CoreWorkload::new(&p).err().unwrap().to_string();
    assert!(err.contains("fieldcount"), "{err}");
}
