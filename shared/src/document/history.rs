//! Who changed which field of a document, and when.

use std::collections::{HashMap, HashSet};

use automerge::{ChangeHash, ReadDoc};
use chrono::{DateTime, Utc};

use super::{Action, ChangeNote, Document, DocumentError};
use crate::ids::UserId;

/// One change in a document's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The change's hash.
    pub change: ChangeHash,
    /// The user whose device wrote it, if the writer registered (every Doorstep writer does).
    pub user: Option<UserId>,
    /// The writing device's actor id, in hex.
    pub actor: String,
    /// When, by the writing device's clock.
    pub at: DateTime<Utc>,
    /// The user action, if the change says.
    pub action: Option<Action>,
    /// The fields it touched.
    pub fields: Vec<String>,
    /// Whether it came after the sign-off: an amendment to a signed record. The sign-off's
    /// own change is not one.
    pub after_signoff: bool,
}

/// The history of a document in causal order: a change always comes after the changes it
/// builds on.
pub fn history(document: &mut Document) -> Result<Vec<HistoryEntry>, DocumentError> {
    let authors: HashMap<String, UserId> = document.authors()?.into_iter().collect();
    let signed_heads = document.signed_heads()?;
    let doc = document.automerge();
    // The sign-off's own change is the one holding the operation that made the sign-off,
    // whatever its note says.
    let signoff_op = match doc.get(automerge::ROOT, "signoff")? {
        Some((_, automerge::ObjId::Id(counter, actor, _))) => Some((counter, actor)),
        _ => None,
    };
    let after_signoff: HashSet<ChangeHash> = match &signed_heads {
        Some(heads) => doc.get_changes(heads).iter().map(|c| c.hash()).collect(),
        None => HashSet::new(),
    };
    let entries = doc
        .get_changes(&[])
        .into_iter()
        .map(|change| {
            let note: Option<ChangeNote> = change
                .message()
                .and_then(|message| serde_json::from_str(message).ok());
            let actor = change.actor_id().to_hex_string();
            let action = note.as_ref().map(|note| note.action);
            HistoryEntry {
                change: change.hash(),
                user: authors.get(&actor).cloned(),
                at: DateTime::from_timestamp_millis(change.timestamp()).unwrap_or_default(),
                after_signoff: after_signoff.contains(&change.hash())
                    && !signoff_op.as_ref().is_some_and(|(counter, actor)| {
                        change.actor_id() == actor
                            && (change.start_op().get()..=change.max_op()).contains(counter)
                    }),
                action,
                fields: note.map(|note| note.fields).unwrap_or_default(),
                actor,
            }
        })
        .collect();
    Ok(entries)
}
