//! Attachments' blobs on the server: what both backends share.
//!
//! A blob is kept under its SHA-256. Which documents name it (`blob_refs`) is rewritten with
//! every push that stores a document's changes, in the push's transaction, and is what access
//! to a blob follows: a user's device may send or fetch a blob only if a document of a case
//! the user may read names it. The bytes arrive in pieces, each stored as it comes, so an
//! upload cut half-way resumes from what arrived; once the last byte is in, the whole is
//! checked against its hash, and a blob that does not match is thrown away.
//!
//! The embedded default keeps the bytes as files beside its database ([`FileBlobs`]);
//! PostgreSQL keeps them in a table of pieces.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use doorstep_shared::attachments::{BlobHash, Erasure};
use doorstep_shared::document::Document;
use sha2::{Digest, Sha256};

use super::StorageError;

/// A blob as the server holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// Its length once whole.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
    /// The bytes held so far: an upload resumes from here.
    pub received: u64,
    /// Its tombstone, if an administrator erased it.
    pub erased: Option<Erasure>,
}

impl BlobInfo {
    /// Whether every byte is held (and was checked against the hash).
    pub fn is_whole(&self) -> bool {
        self.erased.is_none() && self.received == self.size
    }
}

/// What storing a piece of a blob came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobAppend {
    /// Stored: this many bytes are held now, fewer than the blob's size.
    Stored(u64),
    /// The blob is whole and checked (now, or already before).
    Whole,
    /// The piece does not start where what is held ends, at this many bytes.
    WrongOffset(u64),
    /// The size given is not the blob's, or the piece runs past it.
    WrongSize,
    /// The whole does not have the hash: nothing of it is kept.
    Mismatch,
    /// The blob was erased: it is not taken again.
    Erased,
}

/// The blobs a document names, as hex hashes with the media type it gives each: its
/// attachments' and their strokes'.
pub fn named_by(document: &Document) -> Vec<(String, String)> {
    let mut named: Vec<(String, String)> = document
        .attachments()
        .unwrap_or_default()
        .iter()
        .flat_map(|attachment| {
            let strokes = attachment.strokes.map(|strokes| {
                (
                    strokes.to_string(),
                    doorstep_shared::attachments::STROKES_MEDIA_TYPE.to_owned(),
                )
            });
            std::iter::once((attachment.hash.to_string(), attachment.media_type.clone()))
                .chain(strokes)
        })
        .collect();
    named.sort();
    named.dedup_by(|a, b| a.0 == b.0);
    named
}

/// Blobs as files in a folder beside the embedded database: `<hash>` once whole and checked,
/// `partial/<hash>` while it arrives. The file's length is what is held.
#[derive(Debug, Clone)]
pub struct FileBlobs {
    dir: PathBuf,
}

impl FileBlobs {
    /// Blobs in `dir`, created (readable by the server's user alone) if missing.
    pub fn open(dir: &Path) -> Result<FileBlobs, StorageError> {
        for folder in [dir.to_owned(), dir.join("partial")] {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder
                .create(&folder)
                .map_err(|error| io(&folder, error))?;
        }
        Ok(FileBlobs {
            dir: dir.to_owned(),
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn whole_path(&self, hash: &BlobHash) -> PathBuf {
        self.dir.join(hash.to_string())
    }

    fn partial_path(&self, hash: &BlobHash) -> PathBuf {
        self.dir.join("partial").join(hash.to_string())
    }

    /// Whether the blob is held whole.
    pub fn is_whole(&self, hash: &BlobHash) -> bool {
        self.whole_path(hash).is_file()
    }

    /// The bytes held of the blob.
    pub fn received(&self, hash: &BlobHash) -> Result<u64, StorageError> {
        for path in [self.whole_path(hash), self.partial_path(hash)] {
            match std::fs::metadata(&path) {
                Ok(metadata) => return Ok(metadata.len()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(io(&path, error)),
            }
        }
        Ok(0)
    }

    /// Appends a piece to a blob still arriving, `size` bytes long once whole.
    pub fn append(
        &self,
        hash: &BlobHash,
        size: u64,
        offset: u64,
        bytes: &[u8],
    ) -> Result<BlobAppend, StorageError> {
        if self.is_whole(hash) {
            return Ok(BlobAppend::Whole);
        }
        let path = self.partial_path(hash);
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).map_err(|error| io(&path, error))?;
        let received = file.metadata().map_err(|error| io(&path, error))?.len();
        if offset != received {
            return Ok(BlobAppend::WrongOffset(received));
        }
        if offset + bytes.len() as u64 > size {
            return Ok(BlobAppend::WrongSize);
        }
        file.write_all(bytes).map_err(|error| io(&path, error))?;
        let received = offset + bytes.len() as u64;
        if received < size {
            return Ok(BlobAppend::Stored(received));
        }
        file.sync_all().map_err(|error| io(&path, error))?;
        drop(file);
        if hash_of_file(&path)? != *hash {
            std::fs::remove_file(&path).map_err(|error| io(&path, error))?;
            return Ok(BlobAppend::Mismatch);
        }
        let whole = self.whole_path(hash);
        std::fs::rename(&path, &whole).map_err(|error| io(&whole, error))?;
        sync_dir(&self.dir)?;
        Ok(BlobAppend::Whole)
    }

    /// Up to `length` bytes of a whole blob, from `offset`.
    pub fn read(&self, hash: &BlobHash, offset: u64, length: u64) -> Result<Vec<u8>, StorageError> {
        let path = self.whole_path(hash);
        let mut file = File::open(&path).map_err(|error| io(&path, error))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|error| io(&path, error))?;
        let mut out = Vec::new();
        file.take(length)
            .read_to_end(&mut out)
            .map_err(|error| io(&path, error))?;
        Ok(out)
    }

    /// Deletes whatever is held of the blob.
    pub fn delete(&self, hash: &BlobHash) -> Result<(), StorageError> {
        for path in [self.whole_path(hash), self.partial_path(hash)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(io(&path, error)),
            }
        }
        Ok(())
    }

    /// Copies every whole blob into `to`, a new folder: the blobs of a backup.
    pub fn copy_to(&self, to: &Path) -> Result<usize, StorageError> {
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(to).map_err(|error| io(to, error))?;
        let mut copied = 0;
        for entry in std::fs::read_dir(&self.dir).map_err(|error| io(&self.dir, error))? {
            let entry = entry.map_err(|error| io(&self.dir, error))?;
            let name = entry.file_name();
            let Some(hash) = name.to_str().and_then(|name| name.parse::<BlobHash>().ok()) else {
                continue;
            };
            let target = to.join(hash.to_string());
            std::fs::copy(entry.path(), &target).map_err(|error| io(&target, error))?;
            copied += 1;
        }
        Ok(copied)
    }
}

/// The SHA-256 of a file's bytes, read in pieces.
pub fn hash_of_file(path: &Path) -> Result<BlobHash, StorageError> {
    let mut file = File::open(path).map_err(|error| io(path, error))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buffer).map_err(|error| io(path, error))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    let digest: [u8; 32] = hasher.finalize().into();
    Ok(hex::encode(digest)
        .parse()
        .expect("a SHA-256 is a blob hash"))
}

fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|folder| folder.sync_all())
        .map_err(|error| io(dir, error))?;
    Ok(())
}

fn io(path: &Path, error: std::io::Error) -> StorageError {
    StorageError::Database(format!("{}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_arrives_in_pieces_resumes_and_is_checked() {
        let dir = tempfile::TempDir::new().unwrap();
        let blobs = FileBlobs::open(&dir.path().join("blobs")).unwrap();
        let bytes: Vec<u8> = (0..100_000u32).map(|n| (n % 253) as u8).collect();
        let hash = BlobHash::of(&bytes);
        let size = bytes.len() as u64;
        assert_eq!(
            blobs.append(&hash, size, 0, &bytes[..40_000]).unwrap(),
            BlobAppend::Stored(40_000)
        );
        assert_eq!(
            blobs.append(&hash, size, 0, &bytes[..10]).unwrap(),
            BlobAppend::WrongOffset(40_000)
        );
        assert_eq!(blobs.received(&hash).unwrap(), 40_000);
        assert_eq!(
            blobs.append(&hash, size, 40_000, &bytes[40_000..]).unwrap(),
            BlobAppend::Whole
        );
        assert!(blobs.is_whole(&hash));
        assert_eq!(blobs.read(&hash, 99_990, 100).unwrap(), bytes[99_990..]);
        assert_eq!(
            blobs.append(&hash, size, 0, &bytes).unwrap(),
            BlobAppend::Whole,
            "the same blob sent again is stored once"
        );

        let forged = BlobHash::of(b"something else");
        assert_eq!(
            blobs.append(&forged, size, 0, &bytes).unwrap(),
            BlobAppend::Mismatch
        );
        assert_eq!(blobs.received(&forged).unwrap(), 0, "nothing of it is kept");
        blobs.delete(&hash).unwrap();
        assert!(!blobs.is_whole(&hash));
    }
}
