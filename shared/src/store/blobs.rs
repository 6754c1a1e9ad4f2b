//! Attachments' blobs in the store: encrypted with the notes, stored once under their hash,
//! kept in pieces so that a download resumes where it stopped.
//!
//! A blob attached here is written in the same transaction as the reference to it, so a
//! document never names a blob the device lost, and the blob is never kept without the
//! reference that explains it. A blob received from the server arrives in pieces; it is whole
//! once every byte is held and its hash checked ([`Store::receive_blob_part`]). A reference
//! whose tombstone says the blob was erased takes the bytes with it, in the transaction that
//! brought the tombstone ([`reindex_refs`]).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

use super::{Store, StoreError};
use crate::attachments::{
    self, Attachment, AttachmentDraft, AttachmentError, AttachmentKind, BlobHash,
    DEFAULT_DEVICE_BUDGET_BYTES, DEFAULT_MAX_ATTACHMENT_BYTES, DEFAULT_PHOTO_LONGEST_SIDE,
    STROKES_MEDIA_TYPE,
};
use crate::document::Document;
use crate::ids::{CaseId, DocId, ItemId, RecordId};

/// The longest piece a blob is stored in: pieces are read and written whole.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// How much this device takes of attachments, from its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentLimits {
    /// The largest one attachment may be.
    pub max_attachment_bytes: u64,
    /// What all attachments kept on the device may take together.
    pub device_budget_bytes: u64,
    /// The longest side, in pixels, a photo is downscaled to when it is taken.
    pub photo_longest_side: u32,
}

impl Default for AttachmentLimits {
    fn default() -> Self {
        AttachmentLimits {
            max_attachment_bytes: DEFAULT_MAX_ATTACHMENT_BYTES,
            device_budget_bytes: DEFAULT_DEVICE_BUDGET_BYTES,
            photo_longest_side: DEFAULT_PHOTO_LONGEST_SIDE,
        }
    }
}

/// Where a blob an attachment names stands on this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobState {
    /// Whole and checked: it can be shown.
    Here,
    /// Not downloaded yet, or only part of it (`received` bytes).
    NotDownloaded {
        /// The bytes held so far.
        received: u64,
    },
    /// An administrator erased it; the reference's tombstone says when and why.
    Erased,
}

/// A blob the server lacks: attached here and not yet uploaded whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobToSend {
    /// The blob.
    pub hash: BlobHash,
    /// Its media type.
    pub media_type: String,
    /// Its length.
    pub size: u64,
}

/// A blob a document here names that the device does not hold whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobToFetch {
    /// The blob.
    pub hash: BlobHash,
    /// Its media type.
    pub media_type: String,
    /// The bytes already held: the download resumes from here.
    pub received: u64,
}

const MAX_ATTACHMENT_SETTING: &str = "max_attachment_bytes";
const DEVICE_BUDGET_SETTING: &str = "attachment_budget_bytes";
const PHOTO_SIDE_SETTING: &str = "photo_longest_side";

impl Store {
    /// Attaches a photo or a document to a case or record: the bytes are stored once under
    /// their hash, and the reference added to the document, in one transaction.
    pub fn attach(
        &mut self,
        doc: impl Into<DocId>,
        bytes: &[u8],
        draft: &AttachmentDraft,
        now: DateTime<Utc>,
    ) -> Result<Attachment, StoreError> {
        self.attach_blobs(doc.into(), bytes, None, draft, now)
    }

    /// Attaches a signature drawn on the device to the consent it signs, on the case file:
    /// its picture (PNG) and its strokes ([`STROKES_MEDIA_TYPE`]) stored as two blobs.
    pub fn attach_signature(
        &mut self,
        case: CaseId,
        png: &[u8],
        strokes: &[u8],
        draft: &AttachmentDraft,
        now: DateTime<Utc>,
    ) -> Result<Attachment, StoreError> {
        if draft.kind != AttachmentKind::Signature || draft.signs.is_none() {
            return Err(StoreError::Corrupt(
                "a signature is attached with the consent it signs".into(),
            ));
        }
        self.attach_blobs(DocId::Case(case), png, Some(strokes), draft, now)
    }

    fn attach_blobs(
        &mut self,
        doc: DocId,
        bytes: &[u8],
        strokes: Option<&[u8]>,
        draft: &AttachmentDraft,
        now: DateTime<Utc>,
    ) -> Result<Attachment, StoreError> {
        attachments::check_media_type(&draft.media_type)?;
        if bytes.is_empty() {
            return Err(AttachmentError::Empty.into());
        }
        let limits = self.attachment_limits()?;
        let size = bytes.len() as u64;
        if size > limits.max_attachment_bytes {
            return Err(AttachmentError::TooLarge {
                size,
                limit: limits.max_attachment_bytes,
            }
            .into());
        }
        let hash = BlobHash::of(bytes);
        let strokes_hash = strokes.map(BlobHash::of);
        let mut new_bytes = if self.holds(hash)? { 0 } else { size };
        if let (Some(strokes), Some(strokes_hash)) = (strokes, strokes_hash)
            && !self.holds(strokes_hash)?
        {
            new_bytes += strokes.len() as u64;
        }
        let used = self.attachment_bytes_used()?;
        if used + new_bytes > limits.device_budget_bytes {
            return Err(AttachmentError::DeviceFull {
                used,
                budget: limits.device_budget_bytes,
            }
            .into());
        }
        let writer = self.writer()?;
        let document = self.document(doc)?;
        let attachment = match document.attach(&writer, hash, size, strokes_hash, draft, now) {
            Ok(attachment) => attachment,
            Err(error) => {
                self.open_docs.remove(&doc);
                return Err(error.into());
            }
        };
        let changes = document.take_unsaved_changes();
        self.persist_with(doc, &changes, now, |tx| {
            store_whole(tx, hash, &draft.media_type, bytes)?;
            if let (Some(strokes), Some(strokes_hash)) = (strokes, strokes_hash) {
                store_whole(tx, strokes_hash, STROKES_MEDIA_TYPE, strokes)?;
            }
            Ok(())
        })?;
        Ok(attachment)
    }

    /// Takes an attachment off a record its author may still edit.
    pub fn detach(
        &mut self,
        record: RecordId,
        id: ItemId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(DocId::Record(record), now, |document, writer| {
            document.detach(writer, id, now)
        })?;
        let tx = self.conn.transaction()?;
        let freed = let_go_of_unreferenced(&tx)?;
        tx.commit()?;
        if freed > 0 {
            self.clear_deleted()?;
        }
        Ok(())
    }

    /// A blob's bytes, if the device holds it whole.
    pub fn blob(&self, hash: BlobHash) -> Result<Option<Vec<u8>>, StoreError> {
        if !self.holds(hash)? {
            return Ok(None);
        }
        Ok(Some(read_range(&self.conn, hash, 0, u64::MAX)?))
    }

    /// Up to `length` bytes of a blob held here, from `offset`: what an upload sends.
    pub fn blob_range(
        &self,
        hash: BlobHash,
        offset: u64,
        length: u64,
    ) -> Result<Vec<u8>, StoreError> {
        read_range(&self.conn, hash, offset, length)
    }

    /// The media type a document here gives a blob.
    pub fn blob_media_type(&self, hash: BlobHash) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT media_type FROM blob_refs WHERE hash = ?1 LIMIT 1",
                [hash.to_string()],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Where a blob stands on this device.
    pub fn blob_state(&self, hash: BlobHash) -> Result<BlobState, StoreError> {
        let erased: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM blob_refs WHERE hash = ?1 AND erased)",
            [hash.to_string()],
            |row| row.get(0),
        )?;
        if erased {
            return Ok(BlobState::Erased);
        }
        let row: Option<(i64, i64)> = self
            .conn
            .query_row(
                "SELECT size, received FROM blobs WHERE hash = ?1",
                [hash.to_string()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        Ok(match row {
            Some((size, received)) if size == received => BlobState::Here,
            Some((_, received)) => BlobState::NotDownloaded {
                received: received as u64,
            },
            None => BlobState::NotDownloaded { received: 0 },
        })
    }

    /// The blobs attached here that the server does not hold yet. Each is sent
    /// after the document that names it ([`Store::unacknowledged_docs`] first), since the
    /// server takes only a blob one of the device's cases names.
    pub fn blobs_to_send(&self) -> Result<Vec<BlobToSend>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT hash, media_type, size FROM blobs
             WHERE NOT uploaded AND received = size ORDER BY hash",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (hash, media_type, size) = row?;
            out.push(BlobToSend {
                hash: parse_hash(&hash)?,
                media_type,
                size: size as u64,
            });
        }
        Ok(out)
    }

    /// The server holds the blob whole.
    pub fn mark_sent(&mut self, hash: BlobHash) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE blobs SET uploaded = 1 WHERE hash = ?1",
            [hash.to_string()],
        )?;
        Ok(())
    }

    /// The blobs documents here name, not erased, that the device does not hold whole.
    pub fn blobs_to_fetch(&self) -> Result<Vec<BlobToFetch>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT r.hash, min(r.media_type), coalesce(max(b.received), 0)
             FROM blob_refs r LEFT JOIN blobs b ON b.hash = r.hash
             WHERE b.hash IS NULL OR b.received < b.size
             GROUP BY r.hash HAVING max(r.erased) = 0 ORDER BY r.hash",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (hash, media_type, received) = row?;
            out.push(BlobToFetch {
                hash: parse_hash(&hash)?,
                media_type,
                received: received as u64,
            });
        }
        Ok(out)
    }

    /// Stores a piece of a blob being downloaded: `bytes` from `offset`, of a blob `size`
    /// bytes long. Returns whether the blob is now whole; a whole blob whose bytes do not
    /// have its hash is thrown away ([`StoreError::BlobMismatch`]), to be fetched again.
    pub fn receive_blob_part(
        &mut self,
        hash: BlobHash,
        offset: u64,
        bytes: &[u8],
        size: u64,
    ) -> Result<bool, StoreError> {
        let media_type: Option<String> = self
            .conn
            .query_row(
                "SELECT media_type FROM blob_refs WHERE hash = ?1 AND NOT erased LIMIT 1",
                [hash.to_string()],
                |row| row.get(0),
            )
            .optional()?;
        let Some(media_type) = media_type else {
            // No document here names it (any longer): nothing to keep it for.
            return Ok(false);
        };
        let limits = self.attachment_limits()?;
        let tx = self.conn.transaction()?;
        let held: Option<(i64, i64)> = tx
            .query_row(
                "SELECT size, received FROM blobs WHERE hash = ?1",
                [hash.to_string()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let received = match held {
            Some((held_size, received)) if held_size as u64 == size => received as u64,
            Some((_, received)) if received as u64 == size => return Ok(true),
            _ => {
                let used = bytes_used(&tx)?;
                if used + size > limits.device_budget_bytes {
                    return Err(AttachmentError::DeviceFull {
                        used,
                        budget: limits.device_budget_bytes,
                    }
                    .into());
                }
                tx.execute(
                    "DELETE FROM blob_chunks WHERE hash = ?1",
                    [hash.to_string()],
                )?;
                tx.execute(
                    "INSERT INTO blobs (hash, media_type, size, received, uploaded)
                     VALUES (?1, ?2, ?3, 0, 1)
                     ON CONFLICT (hash) DO UPDATE SET size = excluded.size, received = 0",
                    params![hash.to_string(), media_type, size as i64],
                )?;
                0
            }
        };
        if offset != received || offset + bytes.len() as u64 > size {
            return Err(StoreError::Corrupt(format!(
                "a piece of a blob from {offset} when {received} bytes of {size} are held"
            )));
        }
        for (index, piece) in bytes.chunks(CHUNK_BYTES).enumerate() {
            tx.execute(
                "INSERT INTO blob_chunks (hash, offset, bytes) VALUES (?1, ?2, ?3)",
                params![
                    hash.to_string(),
                    (offset + (index * CHUNK_BYTES) as u64) as i64,
                    piece
                ],
            )?;
        }
        let received = offset + bytes.len() as u64;
        tx.execute(
            "UPDATE blobs SET received = ?2 WHERE hash = ?1",
            params![hash.to_string(), received as i64],
        )?;
        if received < size {
            tx.commit()?;
            return Ok(false);
        }
        let mut hasher = Sha256::new();
        for_each_chunk(&tx, hash, |piece| hasher.update(piece))?;
        if <[u8; 32]>::from(hasher.finalize()) != *hash.as_bytes() {
            tx.execute(
                "DELETE FROM blob_chunks WHERE hash = ?1",
                [hash.to_string()],
            )?;
            tx.execute("DELETE FROM blobs WHERE hash = ?1", [hash.to_string()])?;
            tx.commit()?;
            return Err(StoreError::BlobMismatch);
        }
        tx.commit()?;
        Ok(true)
    }

    /// This device's attachment limits.
    pub fn attachment_limits(&self) -> Result<AttachmentLimits, StoreError> {
        let read = |key: &str, default: u64| -> Result<u64, StoreError> {
            Ok(self
                .setting(key)?
                .and_then(|value| value.parse().ok())
                .unwrap_or(default))
        };
        let defaults = AttachmentLimits::default();
        let side = read(PHOTO_SIDE_SETTING, u64::from(defaults.photo_longest_side))?;
        Ok(AttachmentLimits {
            max_attachment_bytes: read(MAX_ATTACHMENT_SETTING, defaults.max_attachment_bytes)?,
            device_budget_bytes: read(DEVICE_BUDGET_SETTING, defaults.device_budget_bytes)?,
            photo_longest_side: u32::try_from(side).unwrap_or(defaults.photo_longest_side),
        })
    }

    /// Changes this device's attachment limits.
    pub fn set_attachment_limits(&mut self, limits: AttachmentLimits) -> Result<(), StoreError> {
        let max = limits.max_attachment_bytes.to_string();
        let budget = limits.device_budget_bytes.to_string();
        let side = limits.photo_longest_side.max(64).to_string();
        self.set_setting(MAX_ATTACHMENT_SETTING, Some(&max))?;
        self.set_setting(DEVICE_BUDGET_SETTING, Some(&budget))?;
        self.set_setting(PHOTO_SIDE_SETTING, Some(&side))
    }

    /// What the attachments held on this device take.
    pub fn attachment_bytes_used(&self) -> Result<u64, StoreError> {
        let used: i64 =
            self.conn
                .query_row("SELECT coalesce(sum(received), 0) FROM blobs", [], |row| {
                    row.get(0)
                })?;
        Ok(used as u64)
    }

    fn holds(&self, hash: BlobHash) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT size = received FROM blobs WHERE hash = ?1",
                [hash.to_string()],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or(false))
    }
}

fn bytes_used(tx: &Transaction<'_>) -> Result<u64, StoreError> {
    let used: i64 = tx.query_row("SELECT coalesce(sum(received), 0) FROM blobs", [], |row| {
        row.get(0)
    })?;
    Ok(used as u64)
}

/// Stores a blob attached on this device, whole, unless it is held already.
fn store_whole(
    tx: &Transaction<'_>,
    hash: BlobHash,
    media_type: &str,
    bytes: &[u8],
) -> Result<(), StoreError> {
    let whole: Option<bool> = tx
        .query_row(
            "SELECT size = received FROM blobs WHERE hash = ?1",
            [hash.to_string()],
            |row| row.get(0),
        )
        .optional()?;
    if whole == Some(true) {
        return Ok(());
    }
    tx.execute(
        "DELETE FROM blob_chunks WHERE hash = ?1",
        [hash.to_string()],
    )?;
    tx.execute(
        "INSERT INTO blobs (hash, media_type, size, received, uploaded) VALUES (?1, ?2, ?3, ?3, 0)
         ON CONFLICT (hash) DO UPDATE SET size = excluded.size, received = excluded.received",
        params![hash.to_string(), media_type, bytes.len() as i64],
    )?;
    for (index, piece) in bytes.chunks(CHUNK_BYTES).enumerate() {
        tx.execute(
            "INSERT INTO blob_chunks (hash, offset, bytes) VALUES (?1, ?2, ?3)",
            params![hash.to_string(), (index * CHUNK_BYTES) as i64, piece],
        )?;
    }
    Ok(())
}

fn read_range(
    conn: &rusqlite::Connection,
    hash: BlobHash,
    offset: u64,
    length: u64,
) -> Result<Vec<u8>, StoreError> {
    let end = offset.saturating_add(length);
    let mut statement = conn
        .prepare_cached("SELECT offset, bytes FROM blob_chunks WHERE hash = ?1 ORDER BY offset")?;
    let mut rows = statement.query([hash.to_string()])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let start: i64 = row.get(0)?;
        let start = start as u64;
        let bytes = row.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
        let stop = start + bytes.len() as u64;
        if stop <= offset || start >= end {
            continue;
        }
        let from = offset.saturating_sub(start) as usize;
        let to = (end.min(stop) - start) as usize;
        out.extend_from_slice(&bytes[from..to]);
    }
    Ok(out)
}

fn for_each_chunk(
    tx: &Transaction<'_>,
    hash: BlobHash,
    mut each: impl FnMut(&[u8]),
) -> Result<(), StoreError> {
    let mut statement =
        tx.prepare_cached("SELECT bytes FROM blob_chunks WHERE hash = ?1 ORDER BY offset")?;
    let mut rows = statement.query([hash.to_string()])?;
    while let Some(row) = rows.next()? {
        each(row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?);
    }
    Ok(())
}

/// Rewrites which blobs a document names, and lets go of the bytes of any whose tombstone it
/// now carries: the erasure reaches the device in the same transaction as the tombstone.
pub(super) fn reindex_refs(
    tx: &Transaction<'_>,
    doc: DocId,
    case: CaseId,
    document: &Document,
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM blob_refs WHERE doc_key = ?1", [doc.key()])?;
    let mut erased_any = false;
    for attachment in document.attachments()? {
        let erased = attachment.erased.is_some();
        erased_any |= erased;
        let mut named = vec![(
            attachment.hash,
            attachment.media_type.as_str(),
            Some(attachment.size as i64),
        )];
        if let Some(strokes) = attachment.strokes {
            named.push((strokes, STROKES_MEDIA_TYPE, None));
        }
        for (hash, media_type, size) in named {
            tx.execute(
                "INSERT INTO blob_refs (doc_key, hash, case_id, media_type, size, erased)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (doc_key, hash) DO UPDATE SET erased = max(erased, excluded.erased)",
                params![
                    doc.key(),
                    hash.to_string(),
                    case.to_string(),
                    media_type,
                    size,
                    erased
                ],
            )?;
        }
    }
    if erased_any {
        let deleted = tx.execute(
            "DELETE FROM blob_chunks WHERE hash IN (SELECT hash FROM blob_refs WHERE erased)",
            [],
        )?;
        tx.execute(
            "DELETE FROM blobs WHERE hash IN (SELECT hash FROM blob_refs WHERE erased)",
            [],
        )?;
        if deleted > 0 {
            // The pages are overwritten (secure_delete), but the log still holds their old
            // images until it is checkpointed: the store does that once this commits
            // ([`Store::clear_erased`]), or at its next opening if it stops first.
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, '1')
                 ON CONFLICT (key) DO NOTHING",
                [ERASED_IN_LOG],
            )?;
        }
    }
    Ok(())
}

/// The setting that says erased bytes may still be in the write-ahead log.
const ERASED_IN_LOG: &str = "erased_blobs_in_log";

impl Store {
    /// Checkpoints the write-ahead log if erased blobs' old pages may still be in it, so that
    /// the bytes are gone from the disk and not only from the tables.
    pub(super) fn clear_erased(&mut self) -> Result<(), StoreError> {
        if self.setting(ERASED_IN_LOG)?.is_some() {
            self.clear_deleted()?;
            self.set_setting(ERASED_IN_LOG, None)?;
            self.clear_deleted()?;
        }
        Ok(())
    }
}

/// Deletes the blobs no document here names any longer (after a case is purged, or an
/// attachment taken off a draft); returns how many.
pub(super) fn let_go_of_unreferenced(tx: &Transaction<'_>) -> Result<usize, StoreError> {
    tx.execute(
        "DELETE FROM blob_chunks WHERE hash NOT IN (SELECT hash FROM blob_refs)",
        [],
    )?;
    Ok(tx.execute(
        "DELETE FROM blobs WHERE hash NOT IN (SELECT hash FROM blob_refs)",
        [],
    )?)
}

fn parse_hash(text: &str) -> Result<BlobHash, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad blob hash {text:?}")))
}
