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

impl InternalIterator for MergingIterator<'_> {
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        for c in &mut self.children {
            c.seek(target)?;
        }
        self.pick_smallest();
        Ok(())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        for c in &mut self.children {
            c.seek_to_first()?;
        }
        self.pick_smallest();
        Ok(())
    }

    fn next(&mut self) -> Result<()> {
        let Some(cur) = self.current else {
            return Ok(());
        };
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
    use crate::memstore::Memstore;
    use bytes::Bytes;

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
