//! Documents the server loaded to check a push, kept for the next push of the same document.
//!
//! Checking a push means applying it to the server's copy of the document, and that copy
//! would otherwise be loaded from the document's whole log every time, though a worker
//! typing syncs the same record every few seconds. So the copy a checked push leaves is
//! kept, marked with the log position of its newest row, and the next push uses it only if
//! that is still the document's newest row in the log: a row written since by another
//! server process (several may share one PostgreSQL database) makes it stale, and it is
//! loaded again. Compaction keeps the newest row's position and the document's content, so
//! it leaves a kept copy valid.
//!
//! A copy is kept only after the transaction that wrote its rows committed: a refused push,
//! a rolled-back group, or a failed commit leaves nothing behind, and a position handed out
//! again after a rollback never marks a copy. A copy is taken out while a push uses it, so
//! two syncs never share one. Positions are only compared within one epoch: a database
//! restored from a backup repeats positions with other content.

use std::sync::Mutex;

use doorstep_shared::document::Document;
use hashlink::LinkedHashMap;

/// How much the kept documents may weigh by default, counted as the bytes of their encoded
/// changes (a document in memory takes several times that).
pub const DEFAULT_BUDGET_BYTES: usize = 16 << 20;

/// Recently checked documents, least recently used first, within a byte budget.
#[derive(Debug)]
pub struct DocumentCache {
    budget_bytes: usize,
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    /// By document key, least recently kept first.
    documents: LinkedHashMap<String, KeptDocument>,
    /// The sum of the documents' weights.
    bytes: usize,
}

#[derive(Debug)]
struct KeptDocument {
    epoch: u64,
    seq: i64,
    weight: usize,
    document: Document,
}

/// A document a sync checked, to keep once its transaction commits.
#[derive(Debug)]
pub struct Checked {
    /// Its key in the log.
    pub doc_key: String,
    /// The epoch of the log it was checked against.
    pub epoch: u64,
    /// The position of its newest row in the log, the one this sync may have written.
    pub seq: i64,
    /// About how many bytes it holds, encoded.
    pub weight: usize,
    /// The server's copy, with everything up to `seq` applied.
    pub document: Document,
}

impl DocumentCache {
    /// A cache that keeps documents up to `budget_bytes` of encoded changes.
    pub fn new(budget_bytes: usize) -> DocumentCache {
        DocumentCache {
            budget_bytes,
            kept: Mutex::new(Kept::default()),
        }
    }

    /// Takes out the kept copy of `doc_key` if it is the document as of `newest_seq`, its
    /// newest row in the log now, with its weight. A stale copy is dropped.
    pub fn take(&self, doc_key: &str, epoch: u64, newest_seq: i64) -> Option<(Document, usize)> {
        let mut kept = self.lock();
        let entry = kept.documents.remove(doc_key)?;
        kept.bytes -= entry.weight;
        (entry.epoch == epoch && entry.seq == newest_seq).then_some((entry.document, entry.weight))
    }

    /// Keeps documents whose transaction committed, in the order they were written (a later
    /// copy of the same document replaces an earlier one), dropping the least recently kept
    /// beyond the budget.
    pub fn keep(&self, checked: impl IntoIterator<Item = Checked>) {
        let mut kept = self.lock();
        for checked in checked {
            if checked.weight > self.budget_bytes {
                continue;
            }
            let entry = KeptDocument {
                epoch: checked.epoch,
                seq: checked.seq,
                weight: checked.weight,
                document: checked.document,
            };
            kept.bytes += entry.weight;
            if let Some(replaced) = kept.documents.insert(checked.doc_key, entry) {
                kept.bytes -= replaced.weight;
            }
        }
        while kept.bytes > self.budget_bytes {
            let Some((_, dropped)) = kept.documents.pop_front() else {
                break;
            };
            kept.bytes -= dropped.weight;
        }
    }

    /// How many documents are kept, and their weight.
    #[cfg(test)]
    pub fn len_and_bytes(&self) -> (usize, usize) {
        let kept = self.lock();
        (kept.documents.len(), kept.bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // Nothing in here is left half-done by a panic: a poisoned lock is still usable.
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use doorstep_shared::document::{Occurrence, Writer};
    use doorstep_shared::model::RecordKind;
    use doorstep_shared::{CaseId, RecordId};

    use super::*;

    fn checked(doc_key: &str, seq: i64, weight: usize) -> Checked {
        let writer = Writer::new_device("amara".parse().unwrap());
        let document = Document::new_record(
            &writer,
            RecordId::random(),
            CaseId::random(),
            RecordKind::CaseNote,
            Occurrence::default(),
            Utc::now(),
        )
        .unwrap();
        Checked {
            doc_key: doc_key.to_owned(),
            epoch: 7,
            seq,
            weight,
            document,
        }
    }

    #[test]
    fn a_kept_document_is_used_only_while_its_row_is_the_newest() {
        let cache = DocumentCache::new(1000);
        cache.keep([checked("a", 5, 10)]);
        assert!(
            cache.take("a", 7, 6).is_none(),
            "a newer row makes it stale"
        );
        assert_eq!(
            cache.len_and_bytes(),
            (0, 0),
            "and the stale copy is dropped"
        );

        cache.keep([checked("a", 5, 10)]);
        assert!(
            cache.take("a", 8, 5).is_none(),
            "another epoch is another history"
        );

        cache.keep([checked("a", 5, 10)]);
        assert_eq!(cache.take("a", 7, 5).map(|(_, weight)| weight), Some(10));
        assert!(cache.take("a", 7, 5).is_none(), "taken out while in use");
    }

    #[test]
    fn a_later_copy_replaces_an_earlier_one() {
        let cache = DocumentCache::new(1000);
        cache.keep([checked("a", 5, 10), checked("a", 9, 30)]);
        assert_eq!(cache.len_and_bytes(), (1, 30));
        assert!(cache.take("a", 7, 5).is_none());
        cache.keep([checked("a", 9, 30)]);
        assert!(cache.take("a", 7, 9).is_some());
    }

    #[test]
    fn the_least_recently_kept_go_first_beyond_the_budget() {
        let cache = DocumentCache::new(100);
        cache.keep([checked("a", 1, 40), checked("b", 2, 40)]);
        cache.keep([checked("c", 3, 40)]);
        assert_eq!(cache.len_and_bytes(), (2, 80));
        assert!(cache.take("a", 7, 1).is_none());
        assert!(cache.take("b", 7, 2).is_some());
        assert!(cache.take("c", 7, 3).is_some());
        cache.keep([checked("huge", 4, 101)]);
        assert_eq!(
            cache.len_and_bytes(),
            (0, 0),
            "one over the budget is not kept"
        );
    }
}
