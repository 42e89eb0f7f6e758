//! Whether a byte range of an SSTable's mapping is in memory (the OS page cache), so
//! reading it cannot wait for the disk.
//!
//! Lets a cache-only get ([`crate::Region::try_get_cached`]) read a block the block cache
//! does not hold from its file's mapping when every page of the block is resident: the
//! read then costs page-table work (minor faults at most), not IO, and the caller's async
//! thread may do it instead of handing the request to a blocking pool. On Linux this asks
//! `mincore(2)`; elsewhere the answer is always "not known to be resident".
//!
//! Best effort by design: a page can be evicted between the check and the read, and that
//! read then waits for the disk on the caller's thread (one block, as a page fault would
//! anywhere else). Under memory pressure most checks say "not resident" and reads take
//! the blocking path as before.

/// True if every page of `bytes` is resident in memory.
#[cfg(target_os = "linux")]
pub(crate) fn is_resident(bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return true;
    }
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let Ok(page) = usize::try_from(page) else {
        return false;
    };
    if page == 0 || !page.is_power_of_two() {
        return false;
    }
    let start = bytes.as_ptr() as usize;
    let aligned = start & !(page - 1);
    let len = start - aligned + bytes.len();
    let pages = len.div_ceil(page);
    // A 64 KiB block spans at most 17 pages of 4 KiB: on the stack unless it is large.
    let mut small = [0u8; 64];
    let mut large = Vec::new();
    let vec: &mut [u8] = match small.get_mut(..pages) {
        Some(v) => v,
        None => {
            large.resize(pages, 0);
            &mut large
        }
    };
    // SAFETY: `aligned..aligned + len` lies within the pages that hold `bytes`, which
    // are mapped while `bytes` is borrowed (a file mapping or heap memory); mincore only
    // reads the page tables and writes one byte per page into `vec`, which has exactly
    // `pages` bytes.
    let rc = unsafe { libc::mincore(aligned as *mut libc::c_void, len, vec.as_mut_ptr()) };
    rc == 0 && vec.iter().all(|b| b & 1 == 1)
}

/// True if every page of `bytes` is resident in memory (unknown here: false).
#[cfg(not(target_os = "linux"))]
pub(crate) fn is_resident(_bytes: &[u8]) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn touched_memory_is_resident() {
        let v = vec![7u8; 3 * 4096 + 100];
        assert!(is_resident(&v[10..]));
        assert!(is_resident(&v[..1]));
        assert!(is_resident(&[]));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_file_read_once_is_resident_in_its_mapping() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&vec![1u8; 64 * 1024]).unwrap();
        f.sync_all().unwrap();
        drop(f);
        // Reading the file puts its pages in the page cache.
        assert_eq!(std::fs::read(&path).unwrap().len(), 64 * 1024);
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: the file is not modified while mapped.
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        assert!(is_resident(&map[..]));
        assert!(is_resident(&map[5000..9000]));
    }
}
