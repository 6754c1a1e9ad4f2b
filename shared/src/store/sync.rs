//! The store's side of sync: what to push, and applying what the server answered.
//!
//! A response is applied in one transaction — its pulled changes, acknowledgements, purges
//! and the new cursor together — so a sync cut off at any point either happened whole or
//! not at all, and the next one resends at most what was in flight.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use automerge::ChangeHash;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::{
    Store, StoreError, append_changes, case_of, format_heads, insert_document, load_document,
    parse_doc_key, parse_heads, queries, refusals,
};
use crate::document::Document;
use crate::ids::{CaseId, DocId};
use crate::sync::protocol::{Cursor, DocChanges, Heads, Push, SyncResponse};

impl Store {
    /// The documents holding changes the server has not acknowledged.
    pub fn unacknowledged_docs(&self) -> Result<Vec<DocId>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT doc_key FROM documents WHERE heads != acked_heads")?;
        let keys = statement.query_map([], |row| row.get::<_, String>(0))?;
        keys.map(|key| parse_doc_key(&key?)).collect()
    }

    /// How many documents hold changes the server has not acknowledged: what the app shows
    /// as waiting to sync, counted without reading the documents' keys.
    pub fn unacknowledged_count(&self) -> Result<usize, StoreError> {
        let count: i64 = self.conn.query_row(
            "SELECT count(*) FROM documents WHERE heads != acked_heads",
            [],
            |row| row.get(0),
        )?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// The heads of a document that the server has acknowledged (empty if none).
    pub fn acked_heads(&self, doc: DocId) -> Result<Vec<ChangeHash>, StoreError> {
        let heads: String = self
            .conn
            .query_row(
                "SELECT acked_heads FROM documents WHERE doc_key = ?1",
                [doc.key()],
                |row| row.get(0),
            )
            .optional()?
            .ok_or(StoreError::NotFound(doc))?;
        parse_heads(&heads)
    }

    /// The changes of a document the server has not acknowledged, encoded for sending.
    pub fn unacknowledged_changes(&mut self, doc: DocId) -> Result<Vec<u8>, StoreError> {
        let acked = self.acked_heads(doc)?;
        Ok(self.document(doc)?.changes_after(&acked))
    }

    /// Everything to push: per document, the changes after its acknowledged heads and the
    /// heads they lead to.
    pub fn pending_pushes(&mut self) -> Result<Vec<Push>, StoreError> {
        let mut pushes = Vec::new();
        for doc in self.unacknowledged_docs()? {
            let changes = self.unacknowledged_changes(doc)?;
            let document = self.document(doc)?;
            let heads = Heads::from_hashes(&document.heads());
            let case_id = case_of(document)?;
            pushes.push(Push {
                changes: DocChanges {
                    doc,
                    case_id,
                    changes,
                },
                heads,
            });
        }
        Ok(pushes)
    }

    /// The whole document, compacted: for export, backup, or a peer that has nothing of it.
    pub fn export(&mut self, doc: DocId) -> Result<Vec<u8>, StoreError> {
        Ok(self.document(doc)?.save())
    }

    /// Records that the server has every change of `doc` up to `heads`.
    pub fn acknowledge(&mut self, doc: DocId, heads: &[ChangeHash]) -> Result<(), StoreError> {
        let updated = self.conn.execute(
            "UPDATE documents SET acked_heads = ?2 WHERE doc_key = ?1",
            params![doc.key(), format_heads(heads)],
        )?;
        if updated == 0 {
            return Err(StoreError::NotFound(doc));
        }
        Ok(())
    }

    /// Forgets what the server was known to hold: its cursor and every acknowledgement. The
    /// next sync sends every document whole and reads the server's log from its start. A
    /// device does this when the server was restored from a backup, which may lack changes it
    /// had acknowledged. Nothing of the device's own records changes.
    pub fn forget_server_state(&mut self) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("UPDATE documents SET acked_heads = ?1", [format_heads(&[])])?;
        tx.execute("DELETE FROM settings WHERE key = 'sync_cursor'", [])?;
        tx.commit()?;
        Ok(())
    }

    /// The cursor the server gave at the last sync (empty before the first).
    pub fn sync_cursor(&self) -> Result<Cursor, StoreError> {
        let cursor: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE key = 'sync_cursor'",
                [],
                |row| row.get::<_, String>(0),
            )
            .optional()?
            .map(|text| hex::decode(text).unwrap_or_default());
        Ok(Cursor(cursor.unwrap_or_default()))
    }

    /// Merges changes to `doc` from another device, creating the document if it is new here.
    /// Applying changes the store already has changes nothing. Returns whether anything new
    /// was stored.
    pub fn apply_remote(
        &mut self,
        doc: DocId,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = (|| {
            let tx = self.conn.transaction()?;
            let changed = merge_remote(&tx, &mut self.open_docs, doc, bytes, now)?;
            tx.commit()?;
            Ok(changed)
        })();
        if result.is_err() {
            self.open_docs.remove(&doc);
        }
        result
    }

    /// Applies a server's answer in one transaction: its pulled changes, its
    /// acknowledgements, its refusals, its purges and the new cursor. If anything in it is refused, none of
    /// it is stored.
    pub fn apply_sync_response(
        &mut self,
        response: &SyncResponse,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let touched: Vec<DocId> = response
            .pulls
            .iter()
            .map(|pull| pull.doc)
            .chain(response.refused.iter().map(|refusal| refusal.doc))
            .collect();
        let result = (|| {
            let tx = self.conn.transaction()?;
            for ack in &response.acks {
                tx.execute(
                    "UPDATE documents SET acked_heads = ?2 WHERE doc_key = ?1",
                    params![ack.doc.key(), format_heads(&ack.heads.to_hashes())],
                )?;
            }
            for refusal in &response.refused {
                // Out of memory first: the copy on disk may be set back to the server's.
                self.open_docs.remove(&refusal.doc);
                refusals::apply_refusal(&tx, refusal, now)?;
            }
            for pull in &response.pulls {
                let nothing_pending =
                    heads_and_acked(&tx, pull.doc)?.is_none_or(|(heads, acked)| heads == acked);
                merge_remote(&tx, &mut self.open_docs, pull.doc, &pull.changes, now)?;
                // Nothing of ours was waiting: the server now has exactly what we have.
                if nothing_pending {
                    tx.execute(
                        "UPDATE documents SET acked_heads = heads WHERE doc_key = ?1",
                        [pull.doc.key()],
                    )?;
                }
            }
            for case in &response.purge {
                purge_case(&tx, *case)?;
            }
            tx.execute(
                "INSERT INTO settings (key, value) VALUES ('sync_cursor', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [hex::encode(&response.cursor.0)],
            )?;
            tx.commit()?;
            Ok(())
        })();
        match &result {
            // Half-merged documents must not linger in memory, ahead of the disk.
            Err(_) => touched.iter().for_each(|doc| {
                self.open_docs.remove(doc);
            }),
            Ok(()) if !response.purge.is_empty() => {
                self.open_docs.retain(|_, document| {
                    !case_of(document).is_ok_and(|case| response.purge.contains(&case))
                });
                // A case the worker may no longer read leaves nothing on the disk.
                self.clear_deleted()?;
            }
            Ok(()) => {}
        }
        if result.is_ok() {
            self.clear_erased()?;
        }
        result
    }

    /// Deletes everything of every case on this device, from the disk too: what a revoked
    /// device, and one signing out, does.
    pub fn wipe(&mut self) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "DELETE FROM changes; DELETE FROM documents; DELETE FROM cases;
             DELETE FROM records; DELETE FROM search; DELETE FROM search_rows;
             DELETE FROM goal_reviews; DELETE FROM refusals; DELETE FROM settings WHERE key = 'sync_cursor';
             DELETE FROM blob_refs; DELETE FROM blob_chunks; DELETE FROM blobs;",
        )?;
        tx.commit()?;
        self.open_docs.clear();
        self.clear_deleted()
    }
}

/// A document's current and acknowledged heads, if the device has the document.
fn heads_and_acked(
    tx: &Transaction<'_>,
    doc: DocId,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(tx
        .query_row(
            "SELECT heads, acked_heads FROM documents WHERE doc_key = ?1",
            [doc.key()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?)
}

/// Merges remote changes into a document inside `tx`, loading or creating it.
fn merge_remote(
    tx: &Transaction<'_>,
    open_docs: &mut HashMap<DocId, Document>,
    doc: DocId,
    bytes: &[u8],
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let known = open_docs.contains_key(&doc)
        || tx
            .query_row(
                "SELECT 1 FROM documents WHERE doc_key = ?1",
                [doc.key()],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
    if !known {
        let mut document = Document::load(bytes, &[])?;
        if document.doc_id()? != doc {
            return Err(StoreError::Corrupt(format!(
                "changes for {doc} hold another document"
            )));
        }
        let case_id = case_of(&document)?;
        insert_document(tx, doc, case_id, &mut document, Some(bytes))?;
        queries::reindex(tx, doc, &document, now)?;
        // Not kept in memory: a first sync brings thousands of documents nobody opened.
        return Ok(true);
    }
    let document = match open_docs.entry(doc) {
        Entry::Occupied(entry) => entry.into_mut(),
        Entry::Vacant(entry) => entry.insert(load_document(tx, doc)?),
    };
    let before = document.heads();
    document.apply_remote(bytes)?;
    let new_changes = document.changes_after(&before);
    if new_changes.is_empty() {
        return Ok(false);
    }
    append_changes(tx, doc, document, &[new_changes], now)?;
    Ok(true)
}

fn purge_case(tx: &Transaction<'_>, case: CaseId) -> Result<(), StoreError> {
    let case = case.to_string();
    tx.execute(
        "DELETE FROM search WHERE rowid IN (SELECT s.row_id FROM search_rows s
             JOIN documents d ON d.doc_key = s.doc_key WHERE d.case_id = ?1)",
        [&case],
    )?;
    tx.execute(
        "DELETE FROM search_rows WHERE doc_key IN
             (SELECT doc_key FROM documents WHERE case_id = ?1)",
        [&case],
    )?;
    tx.execute("DELETE FROM records WHERE case_id = ?1", [&case])?;
    tx.execute("DELETE FROM refusals WHERE case_id = ?1", [&case])?;
    tx.execute("DELETE FROM goal_reviews WHERE case_id = ?1", [&case])?;
    tx.execute("DELETE FROM cases WHERE case_id = ?1", [&case])?;
    tx.execute(
        "DELETE FROM changes WHERE doc_key IN (SELECT doc_key FROM documents WHERE case_id = ?1)",
        [&case],
    )?;
    tx.execute("DELETE FROM documents WHERE case_id = ?1", [&case])?;
    // The case's photos, scans and signatures go with it, unless another case names them.
    tx.execute("DELETE FROM blob_refs WHERE case_id = ?1", [&case])?;
    super::blobs::let_go_of_unreferenced(tx)?;
    Ok(())
}
