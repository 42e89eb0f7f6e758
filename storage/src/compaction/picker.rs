//! Minor compaction selection, after HBase's ExploringCompactionPolicy: look at every
//! contiguous window of a store's files (oldest first) holding `min_files..=max_files`
//! files in which no file is larger than `ratio` times the sum of the others; prefer the
//! window with the most files, then the smallest total size. Merging files of similar
//! size keeps write amplification logarithmic (size-tiered).

use std::ops::Range;

use crate::options::CompactionOptions;

/// Chooses files to merge. `sizes` are file sizes, oldest first. Returns the window to
/// merge, or `None` when no window qualifies. With `force` (the store is at its
/// blocking file count) the smallest window of `min_files` files is taken when nothing
/// qualifies, so the store cannot stay blocked.
pub fn select(sizes: &[u64], opts: &CompactionOptions, force: bool) -> Option<Range<usize>> {
    let n = sizes.len();
    if n < opts.min_files {
        return None;
    }
    let mut best: Option<(Range<usize>, u64)> = None;
    for start in 0..n {
        for end in (start + opts.min_files)..=n.min(start + opts.max_files) {
            let window = &sizes[start..end];
            if !in_ratio(window, opts.ratio) {
                continue;
            }
            let total: u64 = window.iter().sum();
            let better = match &best {
                None => true,
                Some((r, t)) => window.len() > r.len() || (window.len() == r.len() && total < *t),
            };
            if better {
                best = Some((start..end, total));
            }
        }
    }
    if best.is_none() && force {
        best = (0..=n - opts.min_files)
            .map(|s| {
                (
                    s..s + opts.min_files,
                    sizes[s..s + opts.min_files].iter().sum::<u64>(),
                )
            })
            .min_by_key(|(_, t)| *t);
    }
    best.map(|(r, _)| r)
}

fn in_ratio(window: &[u64], ratio: f64) -> bool {
    let total: u64 = window.iter().sum();
    window
        .iter()
        .all(|&s| s as f64 <= ratio * (total - s) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CompactionOptions {
        CompactionOptions::default()
    }

    #[test]
    fn too_few_files() {
        assert_eq!(select(&[10, 10], &opts(), false), None);
    }

    #[test]
    fn similar_sizes_are_merged_together() {
        assert_eq!(select(&[10, 11, 12, 9], &opts(), false), Some(0..4));
    }

    #[test]
    fn a_huge_old_file_is_left_alone() {
        // The 1000-byte file is far above 1.2 x the sum of the small ones.
        assert_eq!(select(&[1000, 10, 11, 12], &opts(), false), Some(1..4));
    }

    #[test]
    fn window_is_capped_at_max_files() {
        let sizes = vec![10; 25];
        let r = select(&sizes, &opts(), false).unwrap();
        assert_eq!(r.len(), 10);
    }

    #[test]
    fn force_picks_the_cheapest_window() {
        // Geometric sizes: no window is in ratio.
        let sizes = [10_000, 1_000, 100, 10];
        assert_eq!(select(&sizes, &opts(), false), None);
        assert_eq!(select(&sizes, &opts(), true), Some(1..4));
    }
}
