//! The balancer: evens region counts across live servers with as few moves as possible.
//!
//! With `n` regions on `s` servers every server should end with `floor(n/s)` or
//! `ceil(n/s)` regions. [`plan`] repeatedly moves one region from the most loaded server
//! to the least loaded one until they differ by at most one; each move lowers the
//! spread, and no region moves twice, so the number of moves is the minimum: the sum
//! of each server's excess over its target.

use std::collections::BTreeMap;

use strata_storage::Result;

use super::Master;

/// One planned move: (table, region id, from, to).
pub type Move = (String, String, String, String);

/// The moves that even out `load` (server -> its regions).
pub fn plan(load: &BTreeMap<String, Vec<(String, String)>>) -> Vec<Move> {
    let mut load: Vec<(String, Vec<(String, String)>)> =
        load.iter().map(|(a, v)| (a.clone(), v.clone())).collect();
    let mut moves = Vec::new();
    if load.len() < 2 {
        return moves;
    }
    // Bounded: each move takes a region from a server above its ceiling or to one
    // below its floor, at most n moves.
    let n: usize = load.iter().map(|(_, v)| v.len()).sum();
    for _ in 0..=n {
        load.sort_by(|a, b| a.1.len().cmp(&b.1.len()).then(a.0.cmp(&b.0)));
        let (min, max) = (load[0].1.len(), load[load.len() - 1].1.len());
        if max <= min + 1 {
            break;
        }
        let last = load.len() - 1;
        let Some(region) = load[last].1.pop() else {
            break;
        };
        let (from, to) = (load[last].0.clone(), load[0].0.clone());
        load[0].1.push(region.clone());
        moves.push((region.0, region.1, from, to));
    }
    moves
}

impl Master {
    /// Runs the balancer now: plans and performs the moves; returns how many were done.
    pub(crate) fn balance_blocking(&self) -> Result<usize> {
        *self.last_balance.lock() = std::time::Instant::now();
        let moves = plan(&self.load_by_server());
        let mut done = 0;
        for (table, id, from, to) in moves {
            match self.move_region_blocking(&table, &id, &to) {
                Ok(()) => {
                    done += 1;
                    tracing::info!(%table, region = %id, %from, %to, "balancer moved region");
                }
                Err(e) => tracing::warn!(%table, region = %id, error = %e, "balancer move failed"),
            }
        }
        Ok(done)
    }

    /// True when `master.balance_interval` (non-zero) has passed since the last run.
    pub(crate) fn balance_due(&self) -> bool {
        let every = self.settings.balance_interval;
        !every.is_zero() && self.last_balance.lock().elapsed() >= every
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(counts: &[(&str, usize)]) -> BTreeMap<String, Vec<(String, String)>> {
        counts
            .iter()
            .map(|(a, n)| {
                let regions = (0..*n)
                    .map(|i| ("t".to_string(), format!("{a}{i}")))
                    .collect();
                (a.to_string(), regions)
            })
            .collect()
    }

    fn after(l: &BTreeMap<String, Vec<(String, String)>>, moves: &[Move]) -> Vec<usize> {
        let mut counts: BTreeMap<String, usize> =
            l.iter().map(|(a, v)| (a.clone(), v.len())).collect();
        for (_, _, from, to) in moves {
            *counts.get_mut(from).unwrap() -= 1;
            *counts.get_mut(to).unwrap() += 1;
        }
        counts.into_values().collect()
    }

    #[test]
    fn balanced_load_moves_nothing() {
        assert!(plan(&load(&[("a", 4), ("b", 4), ("c", 5)])).is_empty());
        assert!(plan(&load(&[("a", 7)])).is_empty());
        assert!(plan(&BTreeMap::new()).is_empty());
    }

    #[test]
    fn moves_are_minimal_and_even_out() {
        // 12 regions on a, a new server b and c joined: 4 each, 8 moves.
        let l = load(&[("a", 12), ("b", 0), ("c", 0)]);
        let m = plan(&l);
        assert_eq!(m.len(), 8);
        assert_eq!(after(&l, &m), vec![4, 4, 4]);
        // 10 on 3: 4/3/3; from 6/4/0 the excess is 2 (a) => 3 moves (a->c twice... ).
        let l = load(&[("a", 6), ("b", 4), ("c", 0)]);
        let m = plan(&l);
        let mut counts = after(&l, &m);
        counts.sort();
        assert_eq!(counts, vec![3, 3, 4]);
        assert_eq!(m.len(), 3);
        // No region moves twice.
        let mut ids: Vec<_> = m.iter().map(|x| x.1.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), m.len());
    }
}
