//! Merging iterator: one sorted view over several sorted sources (memstores and
//! SSTables of a store). Sources are few (one active memstore, rarely a frozen one, a
//! handful of files), so the smallest key is found by a linear pass rather than a heap.
//! An entry present in several sources (same encoded key, which includes the unique
//! sequence id) is yielded once.

use crate::error::Result;
use crate::iterator::InternalIterator;
use crate::memstore::MemstoreIter;
use crate::sstable::SsTableIter;

/// A merged source. The two kinds a store holds are variants of their own, so the
/// merge's calls per entry (`valid`, `key`, `next`, several per row of a scan) are
/// direct and can be inlined rather than going through a vtable; anything else is
/// boxed.
pub enum Source<'a> {
    /// A memstore's cursor.
    Memstore(MemstoreIter<'a>),
    /// An SSTable's cursor.
    Table(SsTableIter),
    /// Any other sorted source.
    Other(Box<dyn InternalIterator + 'a>),
}

impl<'a> From<MemstoreIter<'a>> for Source<'a> {
    fn from(it: MemstoreIter<'a>) -> Self {
        Source::Memstore(it)
    }
}

impl From<SsTableIter> for Source<'_> {
    fn from(it: SsTableIter) -> Self {
        Source::Table(it)
    }
}

impl<'a> From<Box<dyn InternalIterator + 'a>> for Source<'a> {
    fn from(it: Box<dyn InternalIterator + 'a>) -> Self {
        Source::Other(it)
    }
}

macro_rules! each_source {
    ($self:expr, $it:ident => $e:expr) => {
        match $self {
            Source::Memstore($it) => $e,
            Source::Table($it) => $e,
            Source::Other($it) => $e,
        }
    };
}

impl InternalIterator for Source<'_> {
    #[inline]
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        each_source!(self, it => it.seek(target))
    }
    #[inline]
    fn seek_to_first(&mut self) -> Result<()> {
        each_source!(self, it => it.seek_to_first())
    }
    #[inline]
    fn next(&mut self) -> Result<()> {
        each_source!(self, it => it.next())
    }
    #[inline]
    fn valid(&self) -> bool {
        each_source!(self, it => it.valid())
    }
    #[inline]
    fn key(&self) -> &[u8] {
        each_source!(self, it => it.key())
    }
    #[inline]
    fn value(&self) -> &[u8] {
        each_source!(self, it => it.value())
    }
    #[inline]
    fn value_bytes(&self) -> bytes::Bytes {
        each_source!(self, it => it.value_bytes())
    }
}

/// Merges sorted sources into one sorted cursor.
pub struct MergingIterator<'a> {
    children: Vec<Source<'a>>,
    current: Option<usize>,
    /// Other children sitting on the current key (duplicates, advanced with it): bit `i`
    /// for child `i < 64`, the rest in `dups_extra`. Found by the same pass that picks the
    /// current child.
    dups: u64,
    dups_extra: Vec<usize>,
}

impl<'a> MergingIterator<'a> {
    /// Merges `children`; call a seek before reading.
    pub fn new(children: Vec<Source<'a>>) -> Self {
        MergingIterator {
            children,
            current: None,
            dups: 0,
            dups_extra: Vec::new(),
        }
    }

    /// The source the merge is positioned on, if any (an in-memory compaction takes the
    /// memstore's own buffers from it instead of copying).
    pub(crate) fn current_source(&self) -> Option<&Source<'a>> {
        self.current.and_then(|i| self.children.get(i))
    }

    /// Merges children that are already positioned (seeked); readable at once.
    pub fn new_positioned(children: Vec<Source<'a>>) -> Self {
        let mut m = MergingIterator::new(children);
        m.pick_smallest();
        m
    }

    fn pick_smallest(&mut self) {
        let mut best: Option<usize> = None;
        self.dups = 0;
        self.dups_extra.clear();
        for (i, c) in self.children.iter().enumerate() {
            if !c.valid() {
                continue;
            }
            let Some(b) = best else {
                best = Some(i);
                continue;
            };
            match c.key().cmp(self.children[b].key()) {
                std::cmp::Ordering::Less => {
                    best = Some(i);
                    self.dups = 0;
                    self.dups_extra.clear();
                }
                std::cmp::Ordering::Equal if i < 64 => self.dups |= 1 << i,
                std::cmp::Ordering::Equal => self.dups_extra.push(i),
                std::cmp::Ordering::Greater => {}
            }
        }
        self.current = best;
    }
}

impl MergingIterator<'_> {
    fn seek_children(&mut self, target: &[u8]) -> Result<()> {
        // A forward seek (past the current key) moves only the children behind the
        // target. Every child sits on its first entry at or after the current key (seeks
        // and `next` keep that true), so one already at or past the target, or
        // exhausted, has no entry between the target and where it is. Skipping them
        // matters when a read steps over a hot column's versions in the memstore: the
        // files' cursors, already past that column, keep their blocks.
        let forward = self
            .current
            .is_some_and(|i| self.children[i].key() < target);
        for c in &mut self.children {
            if forward && (!c.valid() || c.key() >= target) {
                continue;
            }
            c.seek(target)?;
        }
        self.pick_smallest();
        Ok(())
    }

    fn next_children(&mut self, cur: usize) -> Result<()> {
        // Sources sitting on the same key as the current one hold duplicates: advance
        // them too.
        self.children[cur].next()?;
        let mut dups = self.dups;
        while dups != 0 {
            let i = dups.trailing_zeros() as usize;
            dups &= dups - 1;
            self.children[i].next()?;
        }
        for k in 0..self.dups_extra.len() {
            let i = self.dups_extra[k];
            self.children[i].next()?;
        }
        self.pick_smallest();
        Ok(())
    }

    /// After an error the merge is unpositioned, so the next seek repositions every
    /// child (a failed child is invalid, and must not pass for an exhausted one).
    fn unpositioned_on_error(&mut self, r: Result<()>) -> Result<()> {
        if r.is_err() {
            self.current = None;
        }
        r
    }
}

impl InternalIterator for MergingIterator<'_> {
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        let r = self.seek_children(target);
        self.unpositioned_on_error(r)
    }

    fn seek_to_first(&mut self) -> Result<()> {
        let mut r = Ok(());
        for c in &mut self.children {
            r = c.seek_to_first();
            if r.is_err() {
                break;
            }
        }
        if r.is_ok() {
            self.pick_smallest();
        }
        self.unpositioned_on_error(r)
    }

    fn next(&mut self) -> Result<()> {
        let Some(cur) = self.current else {
            return Ok(());
        };
        let r = self.next_children(cur);
        self.unpositioned_on_error(r)
    }

    fn valid(&self) -> bool {
        self.current.is_some()
    }

    fn key(&self) -> &[u8] {
        self.current
            .map(|i| self.children[i].key())
            .unwrap_or_default()
    }

    fn value(&self) -> &[u8] {
        self.current
            .map(|i| self.children[i].value())
            .unwrap_or_default()
    }

    fn value_bytes(&self) -> bytes::Bytes {
        self.current
            .map(|i| self.children[i].value_bytes())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::memstore::Memstore;
    use bytes::Bytes;
    use proptest::prelude::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// A sorted in-memory source that counts its seeks and can fail the next one.
    struct Counted {
        keys: Vec<Vec<u8>>,
        pos: usize,
        seeks: Rc<Cell<usize>>,
        fail_next_seek: Rc<Cell<bool>>,
    }

    impl Counted {
        fn new(mut keys: Vec<Vec<u8>>) -> (Counted, Rc<Cell<usize>>, Rc<Cell<bool>>) {
            keys.sort();
            keys.dedup();
            let (seeks, fail) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(false)));
            let c = Counted {
                pos: keys.len(),
                keys,
                seeks: seeks.clone(),
                fail_next_seek: fail.clone(),
            };
            (c, seeks, fail)
        }
    }

    impl InternalIterator for Counted {
        fn seek(&mut self, target: &[u8]) -> Result<()> {
            self.seeks.set(self.seeks.get() + 1);
            if self.fail_next_seek.replace(false) {
                self.pos = self.keys.len();
                return Err(Error::NotCached);
            }
            self.pos = self.keys.partition_point(|k| k.as_slice() < target);
            Ok(())
        }
        fn seek_to_first(&mut self) -> Result<()> {
            self.pos = 0;
            Ok(())
        }
        fn next(&mut self) -> Result<()> {
            self.pos = (self.pos + 1).min(self.keys.len());
            Ok(())
        }
        fn valid(&self) -> bool {
            self.pos < self.keys.len()
        }
        fn key(&self) -> &[u8] {
            &self.keys[self.pos]
        }
        fn value(&self) -> &[u8] {
            &[]
        }
    }

    fn counted<'a>(keys: &[&str]) -> (Source<'a>, Rc<Cell<usize>>, Rc<Cell<bool>>) {
        let (c, seeks, fail) = Counted::new(keys.iter().map(|k| k.as_bytes().to_vec()).collect());
        (Source::Other(Box::new(c)), seeks, fail)
    }

    #[test]
    fn a_forward_seek_leaves_children_already_past_the_target() {
        let (a, a_seeks, _) = counted(&["a", "b", "c", "x"]);
        let (b, b_seeks, _) = counted(&["m", "n"]);
        let (e, e_seeks, _) = counted(&[]);
        let mut it = MergingIterator::new(vec![a, b, e]);
        it.seek(b"a").unwrap();
        assert_eq!((a_seeks.get(), b_seeks.get(), e_seeks.get()), (1, 1, 1));
        // Forward to "c": only `a` is behind it; `b` (at "m") and the empty one stay.
        it.seek(b"c").unwrap();
        assert_eq!(it.key(), b"c");
        assert_eq!((a_seeks.get(), b_seeks.get(), e_seeks.get()), (2, 1, 1));
        // Forward to "n": both are behind it.
        it.seek(b"n").unwrap();
        assert_eq!(it.key(), b"n");
        assert_eq!((a_seeks.get(), b_seeks.get(), e_seeks.get()), (3, 2, 1));
        it.next().unwrap();
        assert_eq!(it.key(), b"x");
        // Backward: every child moves.
        it.seek(b"b").unwrap();
        assert_eq!(it.key(), b"b");
        assert_eq!((a_seeks.get(), b_seeks.get(), e_seeks.get()), (4, 3, 2));
        // A seek to the current key itself is not forward either.
        it.seek(b"b").unwrap();
        assert_eq!((a_seeks.get(), b_seeks.get(), e_seeks.get()), (5, 4, 3));
    }

    #[test]
    fn after_an_error_the_next_seek_moves_every_child() {
        let (a, a_seeks, a_fail) = counted(&["a", "b", "y"]);
        let (b, b_seeks, _) = counted(&["c", "z"]);
        let mut it = MergingIterator::new(vec![a, b]);
        it.seek(b"a").unwrap();
        a_fail.set(true);
        assert!(it.seek(b"b").is_err());
        assert!(!it.valid());
        // `a` failed and is invalid: it must not be taken for exhausted. The next
        // (forward-looking) seek repositions both children and finds "y".
        it.seek(b"x").unwrap();
        assert_eq!(it.key(), b"y");
        assert_eq!((a_seeks.get(), b_seeks.get()), (3, 2));
    }

    proptest! {
        /// Seeks in any direction and nexts over random sources give the same keys as
        /// one sorted set.
        #[test]
        fn seeks_and_nexts_match_a_sorted_set(
            sources in prop::collection::vec(prop::collection::vec(0u8..40, 0..12), 1..5),
            ops in prop::collection::vec(prop_oneof![(0u8..42).prop_map(Some), Just(None)], 1..40),
        ) {
            let all: std::collections::BTreeSet<Vec<u8>> =
                sources.iter().flatten().map(|&k| vec![k]).collect();
            let children = sources
                .iter()
                .map(|s| Source::Other(Box::new(Counted::new(s.iter().map(|&k| vec![k]).collect()).0)))
                .collect();
            let mut it = MergingIterator::new(children);
            it.seek(&[0]).unwrap();
            let mut model = all.iter().next().cloned();
            for op in ops {
                match op {
                    Some(t) => {
                        it.seek(&[t]).unwrap();
                        model = all.range(vec![t]..).next().cloned();
                    }
                    None => {
                        it.next().unwrap();
                        model = model.and_then(|k| {
                            all.range((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))
                                .next()
                                .cloned()
                        });
                    }
                }
                let got = it.valid().then(|| it.key().to_vec());
                prop_assert_eq!(got, model.clone());
            }
        }
    }

    fn ms(keys: &[&[u8]]) -> Memstore {
        let m = Memstore::new();
        for k in keys {
            m.insert(Bytes::copy_from_slice(k), Bytes::new(), 0);
        }
        m
    }

    #[test]
    fn merges_in_order_without_duplicates() {
        let a = ms(&[b"a", b"c", b"e"]);
        let b = ms(&[b"b", b"c", b"f"]);
        let c = ms(&[]);
        let mut it = MergingIterator::new(vec![a.iter().into(), b.iter().into(), c.iter().into()]);
        it.seek_to_first().unwrap();
        let mut out = vec![];
        while it.valid() {
            out.push(it.key().to_vec());
            it.next().unwrap();
        }
        assert_eq!(
            out,
            vec![
                b"a".to_vec(),
                b"b".to_vec(),
                b"c".to_vec(),
                b"e".to_vec(),
                b"f".to_vec()
            ]
        );
        it.seek(b"d").unwrap();
        assert_eq!(it.key(), b"e");
    }
}
