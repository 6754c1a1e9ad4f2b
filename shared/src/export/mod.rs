//! A record as it leaves Doorstep: for a court, a client's subject access request or an
//! inspector. [`record_sheet`] reads a record's document into a [`RecordSheet`]: the record as
//! signed, field by field under the form's labels, then each addendum, the attachments, the
//! review trail, the timeliness lines and the history. The server renders the sheet as a PDF
//! and embeds it, as JSON against `docs/export-schema.json`, in that PDF.
//!
//! Two hashes let two copies be compared without trusting either: the SHA-256 of the heads
//! bound at sign-off ([`signed_heads_sha256`]), and of each addendum ([`addendum_sha256`]).
//! Both are computed from what the document holds, so any copy of the document gives them.
//!
//! Every time is UTC and every text is fixed by the document: the same record gives the same
//! sheet, whoever exports it, wherever, whenever.

use automerge::ChangeHash;
use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::attachments::Attachment;
use crate::document::{Document, DocumentError, ReadableEntry, name_references, readable_history};
use crate::ids::CaseId;
use crate::model::timeliness::timeliness;
use crate::model::{Addendum, Case, RecordStatus, ReviewAction};
use crate::template::{FieldKind, FieldSpec, Template, capitalised, choice_label, entry_noun};

mod case;
pub mod redact;

pub use case::{CASE_SCHEMA, CaseSheet, DisclosureLine, EventLine, TeamLine, case_sheet};

#[cfg(test)]
mod tests;

/// The schema a [`RecordSheet`]'s JSON follows (`docs/export-schema.json`), by its `$id`. A
/// change to the sheet that a reader could notice changes the number.
pub const RECORD_SCHEMA: &str = "urn:doorstep:export:record:1";

/// An instant, for a machine (RFC 3339, UTC, to the millisecond) and for a reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stamp {
    /// "2026-03-03T14:00:00.000Z".
    pub utc: String,
    /// "Tue 3 Mar 2026, 14:00 UTC".
    pub text: String,
}

impl Stamp {
    /// The stamp of `at`.
    pub fn of(at: DateTime<Utc>) -> Stamp {
        Stamp {
            utc: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            text: format!("{} UTC", at.format("%a %-d %b %Y, %H:%M")),
        }
    }
}

/// One field of the form and what it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldLine {
    /// The field's key in the document ("observed_home"), which the kind's template lays out
    /// by; the timeliness lines have none.
    pub name: String,
    /// The form's label.
    pub label: String,
    /// The value in words; empty when the field was left empty.
    pub value: String,
    /// Whether the value is prose, to be set as paragraphs rather than on one line.
    pub narrative: bool,
}

/// One entry of a list (a decision, a quote, an exchange).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntrySheet {
    /// "Decision 2".
    pub title: String,
    /// Its fields.
    pub fields: Vec<FieldLine>,
}

/// A list of the form and its entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListSheet {
    /// The list's key in the document ("decisions").
    pub name: String,
    /// The form's label ("Decisions").
    pub label: String,
    /// Its entries, in the form's order.
    pub entries: Vec<EntrySheet>,
}

/// The sign-off: who, when, and the hash of what they signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedSheet {
    /// Who signed.
    pub by: String,
    /// When, by the signer's clock.
    pub at: Stamp,
    /// The heads bound at sign-off, as hexadecimal change hashes, sorted.
    pub heads: Vec<String>,
    /// [`signed_heads_sha256`] of those heads.
    pub heads_sha256: String,
}

/// An addendum, with its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddendumSheet {
    /// Its id in the document.
    pub id: String,
    /// Who wrote it.
    pub author: String,
    /// When, by the author's clock.
    pub at: Stamp,
    /// Why the record needed amending.
    pub reason: String,
    /// The amendment.
    pub text: String,
    /// [`addendum_sha256`] of it.
    pub sha256: String,
}

/// An attachment, shown (a picture) or listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentSheet {
    /// "photo", "document" or "signature".
    pub kind: String,
    /// Its caption.
    pub caption: String,
    /// The media type of its blob.
    pub media_type: String,
    /// Its blob's size in bytes.
    pub size: u64,
    /// The SHA-256 of its blob, which names it.
    pub sha256: String,
    /// Who attached it.
    pub by: String,
    /// When.
    pub at: Stamp,
    /// For a signature: the consent's wording hash it is bound to, and when it was signed.
    pub signs: Option<String>,
    /// Why it is no longer there, if it was erased.
    pub erased: Option<String>,
}

impl AttachmentSheet {
    /// The sheet line of `attachment`.
    pub fn of(attachment: &Attachment) -> AttachmentSheet {
        AttachmentSheet {
            kind: attachment.kind.noun().to_owned(),
            caption: attachment.caption.clone(),
            media_type: attachment.media_type.clone(),
            size: attachment.size,
            sha256: attachment.hash.to_string(),
            by: attachment.by.to_string(),
            at: Stamp::of(attachment.at),
            signs: attachment.signs.as_ref().map(|binding| {
                format!(
                    "the consent worded with SHA-256 {}, signed {}",
                    binding.wording,
                    Stamp::of(binding.signed_at).text
                )
            }),
            erased: attachment.erased.as_ref().map(|erasure| erasure.describe()),
        }
    }

    /// Whether its picture may be drawn on the page: an image (a photo, a signature, a scan
    /// kept as a picture) that has not been erased.
    pub fn is_picture(attachment: &Attachment) -> bool {
        attachment.erased.is_none() && attachment.is_image()
    }
}

/// One step of the review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewLine {
    /// Who.
    pub by: String,
    /// When.
    pub at: Stamp,
    /// "Commented", "Returned to the author", "Approved".
    pub action: String,
    /// The comment or the reason.
    pub text: String,
}

/// What one history entry changed in one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeLine {
    /// The field, by the form's labels.
    pub label: String,
    /// Runs of words added.
    pub added: Vec<String>,
    /// Runs of words taken out.
    pub removed: Vec<String>,
    /// What a single value became.
    pub now: Option<String>,
}

/// One entry of the history: an action, or a burst of typing by one writer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryLine {
    /// When its first change was made.
    pub from: Stamp,
    /// When its last one was.
    pub to: Stamp,
    /// "Edited by amara", "Signed by grace".
    pub summary: String,
    /// Whether it came after the sign-off.
    pub after_signoff: bool,
    /// What it changed.
    pub changes: Vec<ChangeLine>,
}

/// A record as it leaves: everything the PDF shows, and the JSON embedded in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordSheet {
    /// [`RECORD_SCHEMA`].
    pub schema: String,
    /// The record's id.
    pub record: String,
    /// The id of the case it belongs to.
    pub case: String,
    /// The client's name (or the group's, for a group session).
    pub client: String,
    /// The record's kind (`home_visit`).
    pub kind: String,
    /// The form's name ("Home visit").
    pub kind_label: String,
    /// Who wrote it.
    pub author: String,
    /// Where it is in review: draft, submitted, returned or finalised.
    pub status: String,
    /// When the visit or session began, if entered.
    pub occurred_start: Option<Stamp>,
    /// When it ended, if entered.
    pub occurred_end: Option<Stamp>,
    /// When writing began.
    pub writing_began: Stamp,
    /// The sign-off, once signed. The fields are then as signed; before, as they stand.
    pub signed: Option<SignedSheet>,
    /// The form's fields.
    pub fields: Vec<FieldLine>,
    /// The form's lists.
    pub lists: Vec<ListSheet>,
    /// Amendments after sign-off, oldest first.
    pub addenda: Vec<AddendumSheet>,
    /// Photos, documents and signatures.
    pub attachments: Vec<AttachmentSheet>,
    /// The review's steps.
    pub review: Vec<ReviewLine>,
    /// When the visit ended, writing began and the record was finalised.
    pub timeliness: Vec<FieldLine>,
    /// Who wrote what and when.
    pub history: Vec<HistoryLine>,
}

impl RecordSheet {
    /// The latest instant the sheet shows: the document date of its PDF, so that the same
    /// record gives the same bytes.
    pub fn latest(&self) -> DateTime<Utc> {
        let stamps = [Some(&self.writing_began), self.occurred_end.as_ref()]
            .into_iter()
            .flatten()
            .chain(self.history.iter().map(|line| &line.to))
            .chain(self.addenda.iter().map(|addendum| &addendum.at))
            .chain(self.signed.iter().map(|signed| &signed.at));
        stamps
            .filter_map(|stamp| DateTime::parse_from_rfc3339(&stamp.utc).ok())
            .map(|at| at.with_timezone(&Utc))
            .max()
            .unwrap_or(DateTime::UNIX_EPOCH)
    }
}

/// Names the clients of other cases, for a field that names one (a group's member who is a
/// client); `None` where the case is not known.
pub trait Names {
    /// The client's name of `case`.
    fn client_name(&mut self, case: CaseId) -> Option<String>;
}

impl<F: FnMut(CaseId) -> Option<String>> Names for F {
    fn client_name(&mut self, case: CaseId) -> Option<String> {
        self(case)
    }
}

/// The sheet of the record `document`, which belongs to `case`. Its fields are as signed
/// once the record is signed, and as they stand before.
pub fn record_sheet(
    document: &mut Document,
    case: &Case,
    names: &mut dyn Names,
) -> Result<RecordSheet, DocumentError> {
    let record = document.record()?;
    let template = document.template()?;
    let signed_heads = document.signed_heads()?;
    let body = document
        .fields_to_json(&["body"], signed_heads.as_deref())?
        .get("body")
        .cloned()
        .unwrap_or(Value::Null);
    let (fields, lists) = form_lines(template, &body, &mut namer(case, names));
    let signed = match (&record.signoff, &signed_heads) {
        (Some(signoff), Some(heads)) => {
            let mut hex: Vec<String> = heads.iter().map(ToString::to_string).collect();
            hex.sort();
            Some(SignedSheet {
                by: signoff.by.to_string(),
                at: Stamp::of(signoff.at),
                heads: hex,
                heads_sha256: signed_heads_sha256(heads),
            })
        }
        _ => None,
    };
    let utc = FixedOffset::east_opt(0).expect("UTC is an offset");
    // Timeliness as it stands at the latest moment the record knows, never at the time of
    // export: the overdue line, which depends on the moment, is left out.
    let timeliness = timeliness(&record, record.writing_began, chrono::Duration::MAX, utc)
        .lines
        .into_iter()
        .map(|(label, value)| FieldLine {
            name: String::new(),
            label,
            value: utc_words(&value),
            narrative: false,
        })
        .collect();
    let mut entries = readable_history(document)?;
    name_references(
        &mut entries,
        case,
        |client| names.client_name(client),
        "one no longer on the case",
    );
    Ok(RecordSheet {
        schema: RECORD_SCHEMA.to_owned(),
        record: record.id.to_string(),
        case: record.case_id.to_string(),
        client: case.profile.client_name.clone(),
        kind: template.kind.to_owned(),
        kind_label: template.label.to_owned(),
        author: record.author.to_string(),
        status: status_words(record.status).to_owned(),
        occurred_start: record.occurred_start.map(Stamp::of),
        occurred_end: record.occurred_end.map(Stamp::of),
        writing_began: Stamp::of(record.writing_began),
        signed,
        fields,
        lists,
        addenda: record.addenda.iter().map(addendum_sheet).collect(),
        attachments: record.attachments.iter().map(AttachmentSheet::of).collect(),
        review: record
            .review
            .iter()
            .map(|step| ReviewLine {
                by: step.by.to_string(),
                at: Stamp::of(step.at),
                action: match step.action {
                    ReviewAction::Comment => "Commented",
                    ReviewAction::Returned => "Returned to the author",
                    ReviewAction::Approved => "Approved",
                }
                .to_owned(),
                text: step.text.clone(),
            })
            .collect(),
        timeliness,
        history: entries.into_iter().map(history_line).collect(),
    })
}

/// Names what a field refers to by its id: a goal or a group's member of `case`, or another
/// case's client through `names`.
fn namer<'a>(
    case: &'a Case,
    names: &'a mut dyn Names,
) -> impl FnMut(FieldKind, &str) -> String + 'a {
    move |kind: FieldKind, value: &str| -> String {
        let found = match kind {
            FieldKind::Goal => case
                .profile
                .goals
                .iter()
                .find(|goal| goal.id.to_string() == value)
                .map(|goal| goal.goal.clone()),
            FieldKind::Member => case.group.as_ref().and_then(|group| {
                group
                    .members
                    .iter()
                    .find(|member| member.id.to_string() == value)
                    .map(|member| member.name.clone())
            }),
            _ => value
                .parse()
                .ok()
                .and_then(|client| names.client_name(client)),
        };
        found.unwrap_or_else(|| "one no longer on the case".to_owned())
    }
}

/// A form's fields and lists, under its labels, from its body's JSON.
fn form_lines(
    template: &Template,
    body: &Value,
    name_of: &mut impl FnMut(FieldKind, &str) -> String,
) -> (Vec<FieldLine>, Vec<ListSheet>) {
    let fields = template
        .fields
        .iter()
        .map(|spec| field_line(spec, body.get(spec.name), name_of))
        .collect();
    let lists = template
        .lists
        .iter()
        .map(|list| {
            let noun = capitalised(entry_noun(list.name));
            let entries = body
                .get(list.name)
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(|(index, entry)| EntrySheet {
                    title: format!("{noun} {}", index + 1),
                    fields: list
                        .fields
                        .iter()
                        .map(|spec| field_line(spec, entry.get(spec.name), name_of))
                        .collect(),
                })
                .collect();
            ListSheet {
                name: list.name.to_owned(),
                label: list.label.to_owned(),
                entries,
            }
        })
        .collect();
    (fields, lists)
}

/// The SHA-256 of the heads bound at sign-off: the 32-byte change hashes, sorted, one after
/// the other. Any copy of the document that holds the signed record gives the same.
pub fn signed_heads_sha256(heads: &[ChangeHash]) -> String {
    let mut sorted: Vec<&ChangeHash> = heads.iter().collect();
    sorted.sort();
    let mut hasher = Sha256::new();
    for head in sorted {
        hasher.update(head.0);
    }
    hex::encode(hasher.finalize())
}

/// The SHA-256 of an addendum: its id, author, time (RFC 3339 in UTC, to the millisecond),
/// reason and text, each followed by a line feed.
pub fn addendum_sha256(addendum: &Addendum) -> String {
    let mut hasher = Sha256::new();
    for part in [
        addendum.id.to_string(),
        addendum.author.to_string(),
        addendum.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        addendum.reason.clone(),
        addendum.text.clone(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

fn addendum_sheet(addendum: &Addendum) -> AddendumSheet {
    AddendumSheet {
        id: addendum.id.to_string(),
        author: addendum.author.to_string(),
        at: Stamp::of(addendum.at),
        reason: addendum.reason.clone(),
        text: addendum.text.clone(),
        sha256: addendum_sha256(addendum),
    }
}

fn history_line(entry: ReadableEntry) -> HistoryLine {
    HistoryLine {
        from: Stamp::of(entry.from),
        to: Stamp::of(entry.to),
        summary: entry.summary,
        after_signoff: entry.after_signoff,
        changes: entry
            .fields
            .into_iter()
            .map(|field| ChangeLine {
                label: field.label,
                added: field.added,
                removed: field.removed,
                now: field.now,
            })
            .collect(),
    }
}

fn status_words(status: RecordStatus) -> &'static str {
    match status {
        RecordStatus::Draft => "Draft: not submitted, not signed",
        RecordStatus::Submitted => "Submitted: waiting for review, not signed",
        RecordStatus::Returned => "Returned to the author: not signed",
        RecordStatus::Finalised => "Finalised and signed",
    }
}

/// A timeliness line's value, whose times are in UTC, saying so.
fn utc_words(value: &str) -> String {
    match value.find(" (") {
        Some(at) if value.contains(':') => format!("{} UTC{}", &value[..at], &value[at..]),
        None if value.contains(':') => format!("{value} UTC"),
        _ => value.to_owned(),
    }
}

/// One field's line, its value in words.
fn field_line(
    spec: &FieldSpec,
    value: Option<&Value>,
    name_of: &mut impl FnMut(FieldKind, &str) -> String,
) -> FieldLine {
    let text = match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) if text.is_empty() => String::new(),
        Some(value) => match (spec.kind, value) {
            (FieldKind::Flag, Value::Bool(flag)) => (if *flag { "Yes" } else { "No" }).to_owned(),
            (FieldKind::Date, Value::String(date)) => date.parse::<NaiveDate>().map_or_else(
                |_| date.clone(),
                |day| day.format("%a %-d %b %Y").to_string(),
            ),
            (FieldKind::Time, Value::String(at)) => DateTime::parse_from_rfc3339(at)
                .map_or_else(|_| at.clone(), |at| Stamp::of(at.with_timezone(&Utc)).text),
            (FieldKind::Scale { max, .. }, Value::Number(rating)) => format!("{rating} of {max}"),
            (FieldKind::Choice(_), Value::String(option)) => choice_label(option),
            (FieldKind::Goal | FieldKind::Member | FieldKind::Case, Value::String(id)) => {
                name_of(spec.kind, id)
            }
            (_, Value::String(text)) => text.clone(),
            (_, other) => other.to_string(),
        },
    };
    FieldLine {
        name: spec.name.to_owned(),
        label: spec.label.to_owned(),
        value: text,
        narrative: spec.kind.is_narrative(),
    }
}
