//! Pushes the server refused, and the words the worker wrote that it did not take.
//!
//! A refusal with the server's copy of the document sets the device's copy back to it, so
//! the document syncs again and no refused change is pushed for ever; the worker's own words
//! that the server's copy lacks are kept beside it, in the encrypted store, for the worker to
//! read and copy into an addendum or a new record. A refusal without the server's copy (a
//! document the server does not hold, or one of a case the worker may not read) leaves the
//! document as it is, to be pushed again at the next sync.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Store, StoreError, case_of, format_heads, insert_document, load_document, queries};
use crate::document::Document;
use crate::ids::{CaseId, DocId};
use crate::sync::protocol::Refusal;
use crate::template;

/// Words the worker wrote that the server did not take, with the field they were written in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedText {
    /// What the form calls the field ("Plan", "Quotes: Words").
    pub field: String,
    /// The words.
    pub text: String,
}

/// A push the server refused, as the device keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Its row, for dismissing it.
    pub id: i64,
    /// The document.
    pub doc: DocId,
    /// Its case.
    pub case_id: CaseId,
    /// The server's code (`record_signed`, `not_a_supervisor`...).
    pub code: String,
    /// The server's reason.
    pub message: String,
    /// When the answer came.
    pub refused_at: DateTime<Utc>,
    /// Whether the document was set back to the server's copy; if not, it stays as the
    /// worker left it and is pushed again at the next sync.
    pub set_back: bool,
    /// The words the server's copy lacks, by field.
    pub texts: Vec<RefusedText>,
}

impl Store {
    /// The refusals kept for a document, newest first.
    pub fn refusals(&self, doc: DocId) -> Result<Vec<Refused>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT id, case_id, code, message, refused_at, set_back, texts FROM refusals
             WHERE doc_key = ?1 ORDER BY id DESC",
        )?;
        let rows = statement.query_map([doc.key()], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, bool>(5)?,
                row.get::<_, String>(6)?,
            ))
        })?;
        let mut refusals = Vec::new();
        for row in rows {
            let (id, case_id, code, message, refused_at, set_back, texts) = row?;
            refusals.push(Refused {
                id,
                doc,
                case_id: case_id
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("refusal {id}: case id")))?,
                code,
                message,
                refused_at: DateTime::parse_from_rfc3339(&refused_at)
                    .map_err(|_| StoreError::Corrupt(format!("refusal {id}: time")))?
                    .with_timezone(&Utc),
                set_back,
                texts: serde_json::from_str(&texts)
                    .map_err(|_| StoreError::Corrupt(format!("refusal {id}: texts")))?,
            });
        }
        Ok(refusals)
    }

    /// Forgets a refusal the worker has dealt with.
    pub fn dismiss_refusal(&mut self, id: i64) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM refusals WHERE id = ?1", [id])?;
        Ok(())
    }
}

/// Keeps a refusal inside the transaction applying the server's answer, setting the document
/// back to the server's copy when the answer carries one.
pub(super) fn apply_refusal(
    tx: &Transaction<'_>,
    refusal: &Refusal,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let doc = refusal.doc;
    let Ok(local) = load_document(tx, doc) else {
        // Not on this device (a purge in the same answer, say): nothing to keep.
        return Ok(());
    };
    let case_id = case_of(&local)?;
    let texts = if refusal.server_copy.is_empty() {
        // The document stays as it is, and is pushed again: keep one such refusal at a time.
        tx.execute(
            "DELETE FROM refusals WHERE doc_key = ?1 AND NOT set_back",
            [doc.key()],
        )?;
        Vec::new()
    } else {
        let mut server = Document::load(&refusal.server_copy, &[])?;
        if server.doc_id()? != doc {
            return Err(StoreError::Corrupt(format!(
                "the server's copy of {doc} holds another document"
            )));
        }
        let texts = refused_texts(&local, &server)?;
        // The device's copy becomes the server's: what the server refused is no longer
        // pushed, and the words are kept below.
        tx.execute("DELETE FROM changes WHERE doc_key = ?1", [doc.key()])?;
        tx.execute("DELETE FROM documents WHERE doc_key = ?1", [doc.key()])?;
        insert_document(tx, doc, case_id, &mut server, Some(&refusal.server_copy))?;
        tx.execute(
            "UPDATE documents SET acked_heads = ?2 WHERE doc_key = ?1",
            params![doc.key(), format_heads(&server.heads())],
        )?;
        queries::reindex(tx, doc, &server, now)?;
        texts
    };
    tx.execute(
        "INSERT INTO refusals (doc_key, case_id, code, message, refused_at, set_back, texts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            doc.key(),
            case_id.to_string(),
            refusal.code,
            refusal.message,
            now.to_rfc3339(),
            !refusal.server_copy.is_empty(),
            serde_json::to_string(&texts).expect("texts serialise"),
        ],
    )?;
    Ok(())
}

/// The words in `local` that `server` does not hold, field by field.
pub fn refused_texts(local: &Document, server: &Document) -> Result<Vec<RefusedText>, StoreError> {
    let template = local.template()?;
    let mut theirs = BTreeMap::new();
    leaves(&server.to_json()?, &mut Vec::new(), &mut theirs);
    let mut ours = BTreeMap::new();
    leaves(&local.to_json()?, &mut Vec::new(), &mut ours);
    Ok(ours
        .into_iter()
        .filter(|(path, text)| {
            !text.trim().is_empty() && theirs.get(path) != Some(text) && is_words(path)
        })
        .map(|(path, text)| RefusedText {
            field: label(template, &path),
            text,
        })
        .collect())
}

/// Whether a path holds words a worker wrote (not an id, a time or a status).
fn is_words(path: &[String]) -> bool {
    match path.first().map(String::as_str) {
        Some("body") => path.last().is_some_and(|last| last != "id"),
        Some("addenda" | "review") => {
            matches!(path.last().map(String::as_str), Some("text" | "reason"))
        }
        _ => false,
    }
}

/// Every string in a JSON value, by its path; list entries are keyed by their ids, so that
/// an entry is compared with the same entry whatever its position.
fn leaves(value: &Value, path: &mut Vec<String>, out: &mut BTreeMap<Vec<String>, String>) {
    match value {
        Value::String(text) => {
            out.insert(path.clone(), text.clone());
        }
        Value::Object(map) => {
            for (key, value) in map {
                path.push(key.clone());
                leaves(value, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let key = item
                    .get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| index.to_string(), str::to_owned);
                path.push(key);
                leaves(item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// What the form calls the field at `path`.
fn label(template: &template::Template, path: &[String]) -> String {
    match path {
        [body, field] if body == "body" => template
            .field(field)
            .map_or_else(|| field.clone(), |spec| spec.label.to_owned()),
        [body, list, _, field] if body == "body" => match template.list(list) {
            Some(spec) => {
                let field = spec
                    .field(field)
                    .map_or(field.as_str(), |field| field.label);
                format!("{}: {field}", spec.label)
            }
            None => format!("{list}: {field}"),
        },
        [addenda, _, field] if addenda == "addenda" => if field == "reason" {
            "Addendum: reason"
        } else {
            "Addendum"
        }
        .to_owned(),
        [review, ..] if review == "review" => "Review comment".to_owned(),
        _ => path.join("/"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::document::{Edit, Occurrence, Writer};
    use crate::ids::RecordId;
    use crate::model::RecordKind;

    #[test]
    fn the_words_the_server_lacks_are_kept_by_field() {
        let amara = Writer::new_device("amara".parse().unwrap());
        let mut local = Document::new_record(
            &amara,
            RecordId::random(),
            CaseId::random(),
            RecordKind::HomeVisit,
            Occurrence::default(),
            Utc::now(),
        )
        .unwrap();
        local
            .edit(
                &amara,
                &Edit::text("plan", "Call the landlord."),
                Utc::now(),
            )
            .unwrap();
        let server = Document::load(&local.save(), &[]).unwrap();
        local
            .edit(
                &amara,
                &Edit::text("plan", "Call the landlord on Monday."),
                Utc::now(),
            )
            .unwrap();
        local
            .edit(
                &amara,
                &Edit::text("assessment", "Coping, but tired."),
                Utc::now(),
            )
            .unwrap();
        let texts = refused_texts(&local, &server).unwrap();
        assert_eq!(
            texts,
            vec![
                RefusedText {
                    field: "Assessment (your interpretation)".into(),
                    text: "Coping, but tired.".into()
                },
                RefusedText {
                    field: "Plan".into(),
                    text: "Call the landlord on Monday.".into()
                },
            ]
        );
        assert!(refused_texts(&server, &server).unwrap().is_empty());
    }
}
