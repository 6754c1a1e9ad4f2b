//! A file held in memory in fixed-size chunks, which the browser store's VFS keeps and
//! writes to IndexedDB chunk by chunk. Plain Rust, so it is tested on every target.

use std::collections::BTreeSet;

use super::key;

/// Bytes per stored chunk: one SQLCipher page, so a page write touches one chunk.
pub(super) const CHUNK: usize = 4096;

/// A write past what memory can address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("file too large")]
pub(super) struct TooLarge;

/// A file held in memory in fixed-size chunks, remembering which chunks changed since they
/// were last written to IndexedDB.
#[derive(Debug, Default)]
pub(super) struct ChunkedFile {
    pub(super) chunks: Vec<Box<[u8]>>,
    pub(super) len: u64,
    pub(super) dirty: BTreeSet<usize>,
    /// Chunks IndexedDB holds, so that chunks beyond a truncation are deleted there too.
    pub(super) stored_chunks: usize,
}

impl ChunkedFile {
    pub(super) fn read(&self, buf: &mut [u8], offset: u64) -> usize {
        if offset >= self.len {
            return 0;
        }
        let available = usize::try_from(self.len - offset).unwrap_or(usize::MAX);
        let wanted = buf.len().min(available);
        let mut done = 0;
        while done < wanted {
            let position = offset as usize + done;
            let (index, within) = (position / CHUNK, position % CHUNK);
            let take = (CHUNK - within).min(wanted - done);
            buf[done..done + take].copy_from_slice(&self.chunks[index][within..within + take]);
            done += take;
        }
        wanted
    }

    pub(super) fn write(&mut self, buf: &[u8], offset: u64) -> Result<(), TooLarge> {
        let start = usize::try_from(offset).map_err(|_| TooLarge)?;
        let end = start.checked_add(buf.len()).ok_or(TooLarge)?;
        while self.chunks.len() * CHUNK < end {
            self.chunks.push(vec![0; CHUNK].into_boxed_slice());
        }
        let mut done = 0;
        while done < buf.len() {
            let position = start + done;
            let (index, within) = (position / CHUNK, position % CHUNK);
            let take = (CHUNK - within).min(buf.len() - done);
            self.chunks[index][within..within + take].copy_from_slice(&buf[done..done + take]);
            self.dirty.insert(index);
            done += take;
        }
        self.len = self.len.max(end as u64);
        Ok(())
    }

    pub(super) fn truncate(&mut self, len: u64) {
        if len >= self.len {
            return;
        }
        let len_usize = len as usize;
        self.chunks.truncate(len_usize.div_ceil(CHUNK));
        // Zero the cut-off tail, so that growing the file again reads zeros there.
        if let Some(last) = self.chunks.last_mut()
            && !len_usize.is_multiple_of(CHUNK)
        {
            last[len_usize % CHUNK..].fill(0);
            self.dirty.insert(self.chunks.len() - 1);
        }
        self.dirty.retain(|&index| index < self.chunks.len());
        self.len = len;
    }

    pub(super) fn is_dirty(&self) -> bool {
        !self.dirty.is_empty() || self.stored_chunks > self.chunks.len()
    }

    /// The first 16 bytes, SQLCipher's salt, or `None` for an empty file.
    pub(super) fn salt(&self) -> Option<[u8; key::SALT_LEN]> {
        let mut salt = [0; key::SALT_LEN];
        (self.read(&mut salt, 0) == key::SALT_LEN).then_some(salt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(file: &ChunkedFile) -> Vec<u8> {
        let mut bytes = vec![0; file.len as usize];
        assert_eq!(file.read(&mut bytes, 0), bytes.len());
        bytes
    }

    #[test]
    fn writes_across_chunk_boundaries_read_back_and_mark_their_chunks() {
        let mut file = ChunkedFile::default();
        let page: Vec<u8> = (0..8192).map(|i| (i % 251) as u8).collect();
        file.write(&page, 4096 * 3 - 100).unwrap();
        assert_eq!(file.len, 4096 * 3 - 100 + 8192);
        assert_eq!(file.dirty, BTreeSet::from([2, 3, 4]));
        let mut back = vec![0; 8192];
        assert_eq!(file.read(&mut back, 4096 * 3 - 100), 8192);
        assert_eq!(back, page);
        // The gap before the write reads as zeros.
        assert!(read_all(&file)[..4096 * 3 - 100].iter().all(|&b| b == 0));
    }

    #[test]
    fn reads_past_the_end_are_short() {
        let mut file = ChunkedFile::default();
        file.write(b"hello", 0).unwrap();
        let mut buf = [9u8; 10];
        assert_eq!(file.read(&mut buf, 2), 3);
        assert_eq!(&buf[..3], b"llo");
        assert_eq!(file.read(&mut buf, 5), 0);
        assert_eq!(file.read(&mut buf, 500), 0);
    }

    #[test]
    fn truncation_drops_chunks_and_zeros_the_cut_tail() {
        let mut file = ChunkedFile::default();
        file.write(&[7u8; 4096 * 3], 0).unwrap();
        file.dirty.clear();
        file.stored_chunks = 3;
        file.truncate(4096 + 10);
        assert_eq!(file.len, 4096 + 10);
        assert_eq!(file.chunks.len(), 2);
        assert_eq!(file.dirty, BTreeSet::from([1]));
        assert!(
            file.is_dirty(),
            "the third chunk must be deleted from storage"
        );
        // Growing again reads zeros where the old bytes were cut.
        file.write(&[1], 4096 * 2).unwrap();
        let bytes = read_all(&file);
        assert!(bytes[4096 + 10..4096 * 2].iter().all(|&b| b == 0));
        assert_eq!(bytes[4096 * 2], 1);
    }

    #[test]
    fn the_salt_is_the_first_sixteen_bytes() {
        let mut file = ChunkedFile::default();
        assert_eq!(file.salt(), None);
        file.write(&[3u8; 10], 0).unwrap();
        assert_eq!(
            file.salt(),
            None,
            "a file shorter than its header has no salt"
        );
        file.write(&[4u8; 100], 10).unwrap();
        let mut expected = [3u8; 16];
        expected[10..].fill(4);
        assert_eq!(file.salt(), Some(expected));
    }

    #[test]
    fn a_write_beyond_addressable_memory_is_refused() {
        let mut file = ChunkedFile::default();
        assert_eq!(file.write(b"x", u64::MAX), Err(TooLarge));
        assert_eq!(file.len, 0);
    }
}
