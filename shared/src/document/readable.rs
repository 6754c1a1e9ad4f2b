//! A document's history as a supervisor or a court reads it: the form's own labels rather
//! than field paths, the words each change added and removed, a burst of typing by one
//! writer as one entry, and the actions in plain words ("Signed by grace").

use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc};
use chrono::{DateTime, Duration, Utc};

use super::{Action, Document, DocumentError, HistoryEntry, history};
use crate::ids::{CaseId, UserId};
use crate::model::Case;
use crate::template::{FieldKind, Template, capitalised, choice_label, entry_noun};

/// How far apart two edits by one writer may be and still read as one burst of typing.
const BURST: Duration = Duration::minutes(5);

/// One entry of the readable history: one action, or a burst of edits by one writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadableEntry {
    /// Who, if the writer registered (every Doorstep writer does).
    pub user: Option<UserId>,
    /// When the first change of the entry was made, by the writing device's clock.
    pub from: DateTime<Utc>,
    /// When the last one was.
    pub to: DateTime<Utc>,
    /// The action in plain words, with who: "Edited by amara", "Signed by grace".
    pub summary: String,
    /// What changed in each field, by the form's labels.
    pub fields: Vec<FieldChange>,
    /// Whether it came after the sign-off: an amendment.
    pub after_signoff: bool,
    /// How many changes it gathers.
    pub changes: usize,
    /// The action of its first change, where the change says.
    pub action: Option<Action>,
}

/// What one entry changed in one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// "Decisions › Decision 1 › Why".
    pub label: String,
    /// For text: the runs of words added, in order.
    pub added: Vec<String>,
    /// For text: the runs of words taken out, in order.
    pub removed: Vec<String>,
    /// For a single value (a date, a choice, a flag): what it became, in words; `None` when
    /// it was cleared, or for text.
    pub now: Option<String>,
    /// For a field naming something in another document (a goal, a group's member, a client's
    /// case): which, so that the store can put its name in `now` in place of its id.
    pub refers_to: Option<FieldKind>,
}

/// The readable history of `document`, in the order the changes were made.
pub fn readable_history(document: &mut Document) -> Result<Vec<ReadableEntry>, DocumentError> {
    let template = document.template()?;
    let entries = history(document)?;
    let doc = document.automerge();
    let mut groups: Vec<Vec<HistoryEntry>> = Vec::new();
    for entry in entries {
        if let Some(group) = groups.last_mut()
            && continues_burst(group.last().expect("groups are not empty"), &entry)
        {
            group.push(entry);
        } else {
            groups.push(vec![entry]);
        }
    }
    Ok(groups
        .into_iter()
        .map(|group| {
            let before: Vec<ChangeHash> = doc
                .get_change_by_hash(&group[0].change)
                .map(|change| change.deps().to_vec())
                .unwrap_or_default();
            describe(doc, template, &group, &before)
        })
        .collect())
}

/// Puts names in place of the ids that `entries` refer to: a goal of `case`, a member of its
/// group, a client's case named by `client_name`. An id whose name cannot be found reads as
/// `missing`.
pub fn name_references(
    entries: &mut [ReadableEntry],
    case: &Case,
    mut client_name: impl FnMut(CaseId) -> Option<String>,
    missing: &str,
) {
    for field in entries.iter_mut().flat_map(|entry| entry.fields.iter_mut()) {
        let (Some(kind), Some(id)) = (field.refers_to, field.now.as_deref()) else {
            continue;
        };
        let name = match kind {
            FieldKind::Goal => case
                .profile
                .goals
                .iter()
                .find(|goal| goal.id.to_string() == id)
                .map(|goal| goal.goal.clone()),
            FieldKind::Member => case.group.as_ref().and_then(|group| {
                group
                    .members
                    .iter()
                    .find(|member| member.id.to_string() == id)
                    .map(|member| member.name.clone())
            }),
            _ => id.parse().ok().and_then(&mut client_name),
        };
        field.now = Some(name.unwrap_or_else(|| missing.to_owned()));
    }
}

/// Whether `next` is more typing in the burst `last` belongs to: an edit by the same writer,
/// soon after, on the same side of the sign-off.
fn continues_burst(last: &HistoryEntry, next: &HistoryEntry) -> bool {
    last.action == Some(Action::Edit)
        && next.action == Some(Action::Edit)
        && last.user.is_some()
        && last.user == next.user
        && last.after_signoff == next.after_signoff
        && next.at >= last.at
        && next.at - last.at <= BURST
}

/// The entry for `group`, whose first change builds on `before`.
fn describe(
    doc: &AutoCommit,
    template: &Template,
    group: &[HistoryEntry],
    before: &[ChangeHash],
) -> ReadableEntry {
    let first = &group[0];
    let last = group.last().expect("groups are not empty");
    let who = first
        .user
        .as_ref()
        .map_or_else(|| "an unknown device".to_owned(), |user| user.to_string());
    let mut paths: Vec<&str> = Vec::new();
    for entry in group {
        for path in &entry.fields {
            if !paths.contains(&path.as_str()) {
                paths.push(path);
            }
        }
    }
    let after = [last.change];
    let fields = paths
        .iter()
        .filter_map(|path| field_change(doc, template, path, before, &after))
        .collect();
    ReadableEntry {
        user: first.user.clone(),
        from: first.at,
        to: last.at,
        summary: format!("{} by {who}", action_words(first, template)),
        fields,
        after_signoff: first.after_signoff,
        changes: group.len(),
        action: first.action,
    }
}

/// The action in plain words.
fn action_words(entry: &HistoryEntry, template: &Template) -> String {
    let noun = entry
        .fields
        .first()
        .and_then(|path| path.split('/').next())
        .map(entry_noun)
        .unwrap_or("entry");
    match entry.action {
        Some(Action::Create) if template.kind == "case" => "Case opened".to_owned(),
        Some(Action::Create) if template.kind == "group" => "Group started".to_owned(),
        Some(Action::Create) => format!("{} started", template.label),
        Some(Action::Edit) => "Edited".to_owned(),
        Some(Action::AddEntry) => format!("{} added", capitalised(noun)),
        Some(Action::RemoveEntry) => format!("{} removed", capitalised(noun)),
        Some(Action::Submit) => "Submitted for review".to_owned(),
        Some(Action::Comment) => "Commented".to_owned(),
        Some(Action::Return) => "Returned to the author".to_owned(),
        Some(Action::Finalise) => "Approved".to_owned(),
        Some(Action::SignOff) => "Signed".to_owned(),
        Some(Action::Addendum) => "Addendum added".to_owned(),
        Some(Action::Team) => "Team changed".to_owned(),
        Some(Action::CaseEvent) => "Case event recorded".to_owned(),
        Some(Action::VisitTimes) => "Times of the visit entered".to_owned(),
        Some(Action::Disclosure) => "Sharing with another agency recorded".to_owned(),
        Some(Action::GroupAttendance) => "Group attendance written".to_owned(),
        Some(Action::Attach) => "Attachment added".to_owned(),
        Some(Action::Detach) => "Attachment taken off".to_owned(),
        Some(Action::Erase) => "Attachment erased".to_owned(),
        None => "Changed".to_owned(),
    }
}

/// What a path changed between `before` and `after`, under the form's labels; `None` for
/// paths with nothing to show beyond the action itself (a sign-off's heads).
fn field_change(
    doc: &AutoCommit,
    template: &Template,
    path: &str,
    before: &[ChangeHash],
    after: &[ChangeHash],
) -> Option<FieldChange> {
    let parts: Vec<&str> = path.split('/').collect();
    let (label, kind) = match parts.as_slice() {
        ["occurred_start"] => ("Visit started".to_owned(), Some(FieldKind::Time)),
        ["occurred_end"] => ("Visit ended".to_owned(), Some(FieldKind::Time)),
        ["status"] => ("Status".to_owned(), Some(FieldKind::Line)),
        ["signoff" | "review"] => return None,
        [
            "addenda" | "events" | "disclosures" | "group_attendance" | "attachments",
            ..,
        ] => return None,
        ["team", user] => (format!("Team › {user}"), Some(FieldKind::Line)),
        [field] => {
            let spec = template.field(field)?;
            (spec.label.to_owned(), Some(spec.kind))
        }
        [list, id] => {
            let spec = template.list(list)?;
            let position = entry_position(doc, list, id, after)
                .or_else(|| entry_position(doc, list, id, before))?;
            let noun = capitalised(entry_noun(list));
            (format!("{} › {noun} {position}", spec.label), None)
        }
        [list, id, field] => {
            let spec = template.list(list)?;
            let field_spec = spec.field(field)?;
            let position = entry_position(doc, list, id, after)?;
            let noun = capitalised(entry_noun(list));
            (
                format!("{} › {noun} {position} › {}", spec.label, field_spec.label),
                Some(field_spec.kind),
            )
        }
        _ => return None,
    };
    let Some(kind) = kind else {
        return Some(FieldChange {
            label,
            added: Vec::new(),
            removed: Vec::new(),
            now: None,
            refers_to: None,
        });
    };
    let was = value_at(doc, &parts, before);
    let is = value_at(doc, &parts, after);
    if kind.is_narrative() {
        let (added, removed) = words_changed(&was.unwrap_or_default(), &is.unwrap_or_default());
        Some(FieldChange {
            label,
            added,
            removed,
            now: None,
            refers_to: None,
        })
    } else {
        let now = is.map(|value| match kind {
            FieldKind::Choice(_) => choice_label(&value),
            FieldKind::Flag if value == "true" => "yes".to_owned(),
            FieldKind::Flag => "no".to_owned(),
            _ => value,
        });
        let refers_to =
            matches!(kind, FieldKind::Goal | FieldKind::Member | FieldKind::Case).then_some(kind);
        Some(FieldChange {
            label,
            added: Vec::new(),
            removed: Vec::new(),
            now,
            refers_to,
        })
    }
}

/// The runs of words added and removed from `was` to `is`, in order, each trimmed. Whole
/// words: a changed word shows as the old word removed and the new one added, never as a
/// few letters.
pub fn words_changed(was: &str, is: &str) -> (Vec<String>, Vec<String>) {
    // Each distinct word (or run of spaces) stands for one character from the private-use
    // planes, and the character diff of those strings is the word diff.
    let mut vocabulary: Vec<&str> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let (Some(old), Some(new)) = (
        encode(was, &mut vocabulary, &mut index),
        encode(is, &mut vocabulary, &mut index),
    ) else {
        // More distinct words than the private-use planes hold: the texts whole.
        return (vec![is.trim().to_owned()], vec![was.trim().to_owned()]);
    };
    let decode = |encoded: &str| -> String {
        encoded
            .chars()
            .map(|symbol| vocabulary[from_private_use(symbol)])
            .collect()
    };
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    for chunk in dissimilar::diff(&old, &new) {
        let (run, into) = match chunk {
            dissimilar::Chunk::Insert(run) => (decode(run), &mut added),
            dissimilar::Chunk::Delete(run) => (decode(run), &mut removed),
            dissimilar::Chunk::Equal(_) => continue,
        };
        if !run.trim().is_empty() {
            into.push(run.trim().to_owned());
        }
    }
    (added, removed)
}

/// `text` as one symbol per word, each word's symbol its place in `vocabulary`; `None` once
/// the symbols run out.
fn encode<'a>(
    text: &'a str,
    vocabulary: &mut Vec<&'a str>,
    index: &mut std::collections::HashMap<&'a str, usize>,
) -> Option<String> {
    let mut encoded = String::new();
    for token in tokens(text) {
        let next = vocabulary.len();
        let position = *index.entry(token).or_insert_with(|| {
            vocabulary.push(token);
            next
        });
        encoded.push(private_use(position)?);
    }
    Some(encoded)
}

/// Words and the runs of white space between them, in order.
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let space = first.is_whitespace();
        let end = rest
            .char_indices()
            .find(|(_, c)| c.is_whitespace() != space)
            .map_or(rest.len(), |(at, _)| at);
        let (token, tail) = rest.split_at(end);
        rest = tail;
        Some(token)
    })
}

/// The private-use planes (15 and 16) hold 131,068 symbols.
const PRIVATE_USE: u32 = 0xF0000;

fn private_use(position: usize) -> Option<char> {
    let offset = u32::try_from(position)
        .ok()
        .filter(|offset| *offset < 0x1FFFE)?;
    char::from_u32(PRIVATE_USE + offset)
}

fn from_private_use(symbol: char) -> usize {
    (u32::from(symbol) - PRIVATE_USE) as usize
}

/// The value at a field's path at `heads`, as text: a narrative's words, a scalar's value.
fn value_at(doc: &AutoCommit, parts: &[&str], heads: &[ChangeHash]) -> Option<String> {
    let (parent, key) = match parts {
        [key] if ["occurred_start", "occurred_end", "status"].contains(key) => (ROOT, *key),
        ["team", user] => (child(doc, &ROOT, "team", heads)?, *user),
        [field] => (child(doc, &ROOT, "body", heads)?, *field),
        [list, id, field] => (entry(doc, list, id, heads)?, *field),
        _ => return None,
    };
    match doc.get_at(&parent, key, heads).ok()?? {
        (automerge::Value::Object(ObjType::Text), text) => doc.text_at(&text, heads).ok(),
        (automerge::Value::Scalar(value), _) => Some(match value.as_ref() {
            automerge::ScalarValue::Str(text) => text.to_string(),
            automerge::ScalarValue::Timestamp(millis) => DateTime::from_timestamp_millis(*millis)
                .map_or_else(String::new, |at| {
                    at.format("%-d %b %Y, %H:%M UTC").to_string()
                }),
            other => other.to_string(),
        }),
        _ => None,
    }
}

fn child(doc: &AutoCommit, parent: &ObjId, key: &str, heads: &[ChangeHash]) -> Option<ObjId> {
    match doc.get_at(parent, key, heads).ok()?? {
        (automerge::Value::Object(_), id) => Some(id),
        _ => None,
    }
}

/// The entry `id` of the body's list `list` at `heads`, and its 1-based position.
fn find_entry(
    doc: &AutoCommit,
    list: &str,
    id: &str,
    heads: &[ChangeHash],
) -> Option<(usize, ObjId)> {
    if heads.is_empty() {
        return None;
    }
    let body = child(doc, &ROOT, "body", heads)?;
    let list = child(doc, &body, list, heads)?;
    (0..doc.length_at(&list, heads)).find_map(|index| {
        let (_, entry) = doc.get_at(&list, index, heads).ok()??;
        let entry_id = match doc.get_at(&entry, "id", heads).ok()?? {
            (automerge::Value::Scalar(value), _) => match value.as_ref() {
                automerge::ScalarValue::Str(text) => Some(text.to_string()),
                _ => None,
            },
            _ => None,
        }?;
        (entry_id == id).then_some((index + 1, entry))
    })
}

fn entry(doc: &AutoCommit, list: &str, id: &str, heads: &[ChangeHash]) -> Option<ObjId> {
    find_entry(doc, list, id, heads).map(|(_, entry)| entry)
}

fn entry_position(doc: &AutoCommit, list: &str, id: &str, heads: &[ChangeHash]) -> Option<usize> {
    find_entry(doc, list, id, heads).map(|(position, _)| position)
}
