//! When a region's next major compaction is due: `major_period` after the last one (or
//! after the region was created), stretched or shrunk by a per-region jitter so regions
//! created together do not all compact at once, and only inside the off-peak window if
//! one is set. Pure functions of the clock's reading, so tests inject time.

use crate::options::CompactionOptions;

/// A deterministic number in `[-1, 1)` for a region, stable across restarts.
fn jitter_unit(region_name: &str) -> f64 {
    let h = crc32c::crc32c(region_name.as_bytes());
    (h as f64 / u32::MAX as f64) * 2.0 - 1.0
}

/// The time (ms) at which the region's next scheduled major compaction is due, or
/// `None` when scheduling is off (`major_period` = 0).
pub fn next_major_due_ms(
    opts: &CompactionOptions,
    region_name: &str,
    last_major_or_created_ms: u64,
) -> Option<u64> {
    let period_ms = opts.major_period.as_millis() as f64;
    if period_ms == 0.0 {
        return None;
    }
    let stretched = period_ms * (1.0 + opts.major_jitter * jitter_unit(region_name));
    Some(last_major_or_created_ms.saturating_add(stretched.max(0.0) as u64))
}

/// True if `hour` (0-23, local) is inside the window `[start, end)`, which may wrap
/// past midnight; no window means always.
pub fn in_offpeak(window: Option<(u32, u32)>, hour: u32) -> bool {
    match window {
        None => true,
        Some((start, end)) if start < end => (start..end).contains(&hour),
        Some((start, end)) => hour >= start || hour < end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn due_time_stays_within_the_jitter() {
        let opts = CompactionOptions {
            major_period: Duration::from_secs(1000),
            major_jitter: 0.5,
            ..Default::default()
        };
        for i in 0..200 {
            let due = next_major_due_ms(&opts, &format!("t/r{i}"), 10_000).unwrap();
            assert!(
                (10_000 + 500_000..10_000 + 1_500_000).contains(&due),
                "{due}"
            );
        }
        let a = next_major_due_ms(&opts, "t/a", 0).unwrap();
        let b = next_major_due_ms(&opts, "t/b", 0).unwrap();
        assert_ne!(a, b, "regions spread out");
        assert_eq!(a, next_major_due_ms(&opts, "t/a", 0).unwrap(), "stable");
        let off = CompactionOptions {
            major_period: Duration::ZERO,
            ..Default::default()
        };
        assert_eq!(next_major_due_ms(&off, "t/a", 0), None);
    }

    #[test]
    fn offpeak_windows() {
        assert!(in_offpeak(None, 13));
        assert!(in_offpeak(Some((1, 5)), 1) && in_offpeak(Some((1, 5)), 4));
        assert!(!in_offpeak(Some((1, 5)), 5) && !in_offpeak(Some((1, 5)), 0));
        assert!(in_offpeak(Some((22, 3)), 23) && in_offpeak(Some((22, 3)), 2));
        assert!(!in_offpeak(Some((22, 3)), 12));
    }
}
