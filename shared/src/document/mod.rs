//! The Automerge document schema: one document per case and one per record.
//!
//! A [`Document`] wraps an `AutoCommit` and is the only code that writes to one. Every user
//! action becomes exactly one Automerge change (two for a sign-off), with a [`ChangeNote`] as
//! its message saying what the action was and which fields it touched, and the writer's
//! actor id registered against their user id inside the document itself, so that any device
//! holding the document can say who wrote which words.
//!
//! Layout of a record's document (a case's is alike, with `team`, `status` and `events`
//! instead of the review fields):
//!
//! ```text
//! { schema: 1, doc_type: "record", id, case_id, kind, author, created_at,
//!   status, occurred_start?, occurred_end?, writing_began, submitted_at?, finalised_at?,
//!   signoff?: { heads: [hex], by, at },
//!   addenda: [ { id, author, at, reason, text: Text } ],
//!   review:  [ { id, by, at, action, text: Text } ],
//!   attachments: [ { id, hash, kind, media_type, size, width?, height?, caption, by, at,
//!                    signs?: { consent, wording, signed_at }, strokes?,
//!                    erased?: { at, by, reason } } ],
//!   authors: { <actor hex>: <user id> },
//!   body:    { <narrative field>: Text, <scalar field>: value,
//!              <list>: [ { id, <field>: ... } ] } }
//! ```
//!
//! Narrative fields and the entries' narrative fields are created, empty, together with the
//! document or the entry. Creating them later, on first edit, would let two devices create
//! the same field concurrently, and Automerge would keep only one of the two objects: the
//! other device's words would be lost.

mod history;
mod json;
mod readable;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, AutoCommit, Automerge, AutomergeError, ChangeHash, LoadOptions, ObjId, ObjType,
    OnPartialLoad, ROOT, ReadDoc, VerificationMode,
};
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use history::{HistoryEntry, history};
pub use readable::{FieldChange, ReadableEntry, name_references, readable_history, words_changed};

use crate::attachments::{Attachment, AttachmentDraft, BlobHash, Erasure};
use crate::ids::{CaseId, DocId, IdError, ItemId, RecordId, UserId};
use crate::model::{
    Case, CaseEventKind, Record, RecordBody, RecordKind, RecordStatus, ReviewAction, TeamRole,
    UnknownValue,
};
use crate::template::{self, FieldKind, FieldSpec, ListSpec, Template};

/// The layout version written into every document.
pub const SCHEMA_VERSION: i64 = 1;

/// Why an edit or a read of a document failed.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The template has no such field or list.
    #[error("{template} has no field or list called {name:?}")]
    UnknownField {
        /// The document's kind.
        template: &'static str,
        /// The name asked for.
        name: String,
    },
    /// The list has no entry with that id (it may have been removed on another device).
    #[error("{list} has no entry {id}")]
    UnknownItem {
        /// The list.
        list: String,
        /// The entry asked for.
        id: ItemId,
    },
    /// The value does not fit the field.
    #[error("{field} takes {expected}")]
    WrongValue {
        /// The field.
        field: String,
        /// What it takes.
        expected: String,
    },
    /// The record's status does not allow this.
    #[error("the record is {status}: {action} is not allowed")]
    NotAllowed {
        /// The record's status.
        status: RecordStatus,
        /// What was attempted.
        action: &'static str,
    },
    /// The operation needs a document of the other type.
    #[error("this is not a {expected} document")]
    WrongDocType {
        /// What the operation needs.
        expected: &'static str,
    },
    /// A field a text is required in was left empty.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// A disclosure lacks its recipient, its content or its basis.
    #[error("{0}")]
    Disclosure(#[from] crate::model::DisclosureError),
    /// The visit's or session's times are missing or do not make sense.
    #[error("{0}")]
    VisitTimes(VisitTimesError),
    /// The document does not have the layout this version writes.
    #[error("malformed document: {0}")]
    Malformed(String),
    /// Remote changes build on changes this document does not have.
    #[error("{0} changes this document depends on are missing")]
    MissingDependencies(usize),
    /// Automerge refused the operation or the bytes.
    #[error("automerge: {0}")]
    Automerge(#[from] AutomergeError),
}

impl From<IdError> for DocumentError {
    fn from(error: IdError) -> Self {
        DocumentError::Malformed(error.to_string())
    }
}

impl From<UnknownValue> for DocumentError {
    fn from(error: UnknownValue) -> Self {
        DocumentError::Malformed(error.to_string())
    }
}

/// Who is writing: the user, and the actor id of the device they write on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    /// The signed-in user.
    pub user: UserId,
    /// This device's actor id for that user.
    pub actor: ActorId,
}

/// The actor id of the server's own changes.
const SERVER_ACTOR: [u8; 16] = *b"doorstep-server!";

impl Writer {
    /// The server's writer, for the changes it makes itself (a case's team). The server
    /// binds its actor id to [`UserId::ADMINISTRATOR`], so no device can write with it.
    pub fn server() -> Self {
        Writer {
            user: UserId::administrator(),
            actor: ActorId::from(SERVER_ACTOR.as_slice()),
        }
    }

    /// A writer with a fresh random actor id.
    pub fn new_device(user: UserId) -> Self {
        Writer {
            user,
            actor: ActorId::random(),
        }
    }
}

/// What one change did, stored as the change's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeNote {
    /// The user action.
    pub action: Action,
    /// The fields it touched, as paths such as `assessment` or `exchanges/<id>/content`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// The user actions that make changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The document was created.
    Create,
    /// A field was edited.
    Edit,
    /// An entry was added to a list.
    AddEntry,
    /// An entry was removed from a list.
    RemoveEntry,
    /// Submitted for review.
    Submit,
    /// A reviewer commented.
    Comment,
    /// Returned to the author.
    Return,
    /// Approved and finalised.
    Finalise,
    /// The heads of a finalised record were bound as signed.
    SignOff,
    /// An addendum was added after sign-off.
    Addendum,
    /// The case team changed.
    Team,
    /// A case event (referral, transfer, closure, reopening) was recorded.
    CaseEvent,
    /// Information shared with another agency was recorded.
    Disclosure,
    /// The server wrote a group session's day and attendance into a member's own case.
    GroupAttendance,
    /// The worker entered or changed when the visit or session took place.
    VisitTimes,
    /// A photo, scan or signature was attached.
    Attach,
    /// An attachment was taken off a record still being written.
    Detach,
    /// An administrator erased an attachment's bytes, leaving its tombstone.
    Erase,
}

/// A value to put into a field; which ones a field takes depends on its [`FieldKind`].
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// For narrative and line fields, and choices.
    Text(String),
    /// For narrative and line fields: the worker turned `base`, the text as their screen
    /// last had it, into `text`. Whatever reached the field since (a colleague's words, by
    /// sync) is kept beside theirs ([`crate::text::merge`]), where `Text` would take it out.
    Typed {
        /// The field's text when the worker's screen last had it from the document.
        base: String,
        /// The text on the worker's screen.
        text: String,
    },
    /// For flags.
    Flag(bool),
    /// For numbers.
    Number(i64),
    /// For dates.
    Date(NaiveDate),
    /// For instants.
    Time(DateTime<Utc>),
    /// Clears a date, time, number or choice.
    Empty,
}

/// One user action on a document's body.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Put `value` into `field`, of the list entry `item` if given.
    Set {
        /// The entry, as (list, id), for a field of a list entry.
        item: Option<(String, ItemId)>,
        /// The field's name.
        field: String,
        /// The new value. For a narrative field, the whole new text: it is stored as the
        /// smallest character edit from the old one, so that concurrent edits merge.
        value: FieldValue,
    },
    /// Add an entry with the given id to a list, after the entry `after` or at the end.
    AddEntry {
        /// The list's name.
        list: String,
        /// The new entry's id, chosen by the caller so it can edit the entry next.
        id: ItemId,
        /// The entry to insert after; `None` appends.
        after: Option<ItemId>,
    },
    /// Remove an entry from a list.
    RemoveEntry {
        /// The list's name.
        list: String,
        /// The entry's id.
        id: ItemId,
    },
}

impl Edit {
    /// Put `value` into a top-level field.
    pub fn set(field: &str, value: FieldValue) -> Edit {
        Edit::Set {
            item: None,
            field: field.to_owned(),
            value,
        }
    }

    /// Replace a top-level narrative or line field's text.
    pub fn text(field: &str, text: &str) -> Edit {
        Edit::set(field, FieldValue::Text(text.to_owned()))
    }

    /// Put `value` into a field of a list entry.
    pub fn set_in(list: &str, id: ItemId, field: &str, value: FieldValue) -> Edit {
        Edit::Set {
            item: Some((list.to_owned(), id)),
            field: field.to_owned(),
            value,
        }
    }

    /// Append a new entry to a list; returns the edit and the entry's id.
    pub fn append(list: &str) -> (Edit, ItemId) {
        let id = ItemId::random();
        let edit = Edit::AddEntry {
            list: list.to_owned(),
            id,
            after: None,
        };
        (edit, id)
    }

    /// The field paths the edit touches, for the history.
    fn paths(&self) -> Vec<String> {
        vec![match self {
            Edit::Set {
                item: None, field, ..
            } => field.clone(),
            Edit::Set {
                item: Some((list, id)),
                field,
                ..
            } => format!("{list}/{id}/{field}"),
            Edit::AddEntry { list, id, .. } | Edit::RemoveEntry { list, id } => {
                format!("{list}/{id}")
            }
        }]
    }

    fn action(&self) -> Action {
        match self {
            Edit::Set { .. } => Action::Edit,
            Edit::AddEntry { .. } => Action::AddEntry,
            Edit::RemoveEntry { .. } => Action::RemoveEntry,
        }
    }
}

/// When the visit or session took place, as the worker entered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Occurrence {
    /// When it began.
    pub start: Option<DateTime<Utc>>,
    /// When it ended.
    pub end: Option<DateTime<Utc>>,
}

/// How far a visit's end may lie ahead of the writing device's clock: clocks drift, and a
/// worker rounds "just now" up to the next five minutes.
const VISIT_END_SLACK_MINUTES: i64 = 10;

/// Why a visit's times are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VisitTimesError {
    /// One of the two is missing.
    #[error("enter both when it started and when it ended")]
    Incomplete,
    /// The end comes before the start.
    #[error("it must end after it starts")]
    EndsBeforeStart,
    /// The end lies in the future: records are written about what took place.
    #[error("it cannot end in the future")]
    EndsInFuture,
    /// A record goes for review only with its times.
    #[error("enter when it started and ended before submitting")]
    MissingAtSubmission,
}

impl Occurrence {
    /// From `start` to `end`.
    pub fn between(start: DateTime<Utc>, end: DateTime<Utc>) -> Occurrence {
        Occurrence {
            start: Some(start),
            end: Some(end),
        }
    }

    /// Whether neither time is entered.
    pub fn is_empty(&self) -> bool {
        self.start.is_none() && self.end.is_none()
    }

    /// Whether both times are entered.
    pub fn is_complete(&self) -> bool {
        self.start.is_some() && self.end.is_some()
    }

    /// Checks times a worker entered at `now`: both of them, the end after the start and not
    /// in the future.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), VisitTimesError> {
        let (Some(start), Some(end)) = (self.start, self.end) else {
            return Err(VisitTimesError::Incomplete);
        };
        if end < start {
            return Err(VisitTimesError::EndsBeforeStart);
        }
        if end > now + chrono::Duration::minutes(VISIT_END_SLACK_MINUTES) {
            return Err(VisitTimesError::EndsInFuture);
        }
        Ok(())
    }
}

/// A case or record document, and the changes this device made to it that have not been
/// taken for storage yet.
#[derive(Debug)]
pub struct Document {
    doc: AutoCommit,
    unsaved: Vec<ChangeHash>,
}

impl Document {
    /// Starts a new case for the client called `client_name`, with the writer on its team
    /// as its worker.
    pub fn new_case(
        writer: &Writer,
        id: CaseId,
        client_name: &str,
        now: DateTime<Utc>,
    ) -> Result<Document, DocumentError> {
        let mut document = Document::blank(writer);
        let doc = &mut document.doc;
        put_case_header(doc, id, writer, now)?;
        let body = put_body(doc, &template::CASE)?;
        doc.put(&body, "client_name", client_name)?;
        document.commit(Action::Create, Vec::new(), now);
        Ok(document)
    }

    /// Starts a new group called `name`, with the writer on its team (its facilitators) as
    /// its worker. A group is a case document of the kind `group`: its team, sessions,
    /// sync and access are a case's.
    pub fn new_group(
        writer: &Writer,
        id: CaseId,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Document, DocumentError> {
        let mut document = Document::blank(writer);
        let doc = &mut document.doc;
        put_case_header(doc, id, writer, now)?;
        doc.put(ROOT, "case_kind", "group")?;
        let body = put_body(doc, &template::GROUP)?;
        doc.put(&body, "name", name)?;
        document.commit(Action::Create, Vec::new(), now);
        Ok(document)
    }

    /// Whether this is a group's document.
    pub fn is_group(&self) -> bool {
        read_str(&self.doc, &ROOT, "case_kind").is_ok_and(|kind| kind == "group")
    }

    /// Writes into a member's own case one group session's day and their attendance, under
    /// `key` (`<session>/<member>`), or takes it out with `None`; returns whether it changed.
    /// The server writes this, as it reads the group's session records: no device's change
    /// to it is accepted.
    pub fn set_group_attendance(
        &mut self,
        writer: &Writer,
        key: &str,
        entry: Option<&crate::model::GroupAttendance>,
        now: DateTime<Utc>,
    ) -> Result<bool, DocumentError> {
        self.expect_doc_type("case")?;
        let current = self.case()?.group_attendance.get(key).cloned();
        if current.as_ref() == entry {
            return Ok(false);
        }
        self.prepare(writer)?;
        let result = (|| {
            let map = match self.doc.get(ROOT, "group_attendance")? {
                Some((automerge::Value::Object(ObjType::Map), map)) => map,
                _ => self
                    .doc
                    .put_object(ROOT, "group_attendance", ObjType::Map)?,
            };
            match entry {
                None => self.doc.delete(&map, key)?,
                Some(entry) => {
                    let item = self.doc.put_object(&map, key, ObjType::Map)?;
                    self.doc.put(&item, "group", entry.group.as_str())?;
                    self.doc.put(&item, "on", entry.on.to_string())?;
                    if let Some(attendance) = entry.attendance {
                        self.doc.put(&item, "attendance", attendance.as_str())?;
                    }
                }
            }
            Ok(())
        })();
        let path = vec![format!("group_attendance/{key}")];
        self.finish(result, Action::GroupAttendance, path, now)?;
        Ok(true)
    }

    /// Starts a new record of `kind` on a case, in draft, with writing begun `now`. The visit's
    /// times are what the worker entered, or empty until they do ([`Document::set_occurrence`]).
    pub fn new_record(
        writer: &Writer,
        id: RecordId,
        case_id: CaseId,
        kind: RecordKind,
        occurred: Occurrence,
        now: DateTime<Utc>,
    ) -> Result<Document, DocumentError> {
        if !occurred.is_empty() {
            occurred.check(now).map_err(DocumentError::VisitTimes)?;
        }
        let mut document = Document::blank(writer);
        let doc = &mut document.doc;
        put_header(doc, "record", &id.to_string(), writer, now)?;
        doc.put(ROOT, "case_id", case_id.to_string())?;
        doc.put(ROOT, "kind", kind.as_str())?;
        doc.put(ROOT, "status", RecordStatus::Draft.as_str())?;
        if let Some(start) = occurred.start {
            doc.put(ROOT, "occurred_start", timestamp(start))?;
        }
        if let Some(end) = occurred.end {
            doc.put(ROOT, "occurred_end", timestamp(end))?;
        }
        doc.put(ROOT, "writing_began", timestamp(now))?;
        doc.put_object(ROOT, "addenda", ObjType::List)?;
        doc.put_object(ROOT, "review", ObjType::List)?;
        doc.put_object(ROOT, "attachments", ObjType::List)?;
        put_body(doc, kind.template())?;
        document.commit(Action::Create, Vec::new(), now);
        Ok(document)
    }

    fn blank(writer: &Writer) -> Document {
        Document {
            doc: AutoCommit::new().with_actor(writer.actor.clone()),
            unsaved: Vec::new(),
        }
    }

    /// Loads a document from a snapshot (empty if there is none yet) followed by any number
    /// of incremental changes.
    pub fn load(snapshot: &[u8], changes: &[&[u8]]) -> Result<Document, DocumentError> {
        // One call for all changes: applying them one call at a time costs a pass over the
        // document each, which made a record with 2,000 edits take seconds to open.
        let changes = changes.concat();
        let doc = match (snapshot.is_empty(), changes.is_empty()) {
            (true, true) => AutoCommit::new(),
            (true, false) => AutoCommit::load(&changes)?,
            (false, _) => {
                let mut doc = AutoCommit::load(snapshot)?;
                if !changes.is_empty() {
                    doc.load_incremental(&changes)?;
                }
                doc
            }
        };
        let document = Document {
            doc,
            unsaved: Vec::new(),
        };
        document.check_layout()?;
        Ok(document)
    }

    /// Wraps a document received whole, checking that it has this schema's layout.
    pub fn from_automerge(doc: AutoCommit) -> Result<Document, DocumentError> {
        let document = Document {
            doc,
            unsaved: Vec::new(),
        };
        document.check_layout()?;
        Ok(document)
    }

    fn check_layout(&self) -> Result<(), DocumentError> {
        match self.doc.get(ROOT, "schema")? {
            Some((automerge::Value::Scalar(value), _))
                if value.as_i64() == Some(SCHEMA_VERSION) =>
            {
                self.doc_id().map(|_| ())
            }
            _ => Err(DocumentError::Malformed(
                "no Doorstep schema version".into(),
            )),
        }
    }

    /// Which case or record this document holds.
    pub fn doc_id(&self) -> Result<DocId, DocumentError> {
        let id = read_str(&self.doc, &ROOT, "id")?;
        match read_str(&self.doc, &ROOT, "doc_type")?.as_str() {
            "case" => Ok(DocId::Case(id.parse()?)),
            "record" => Ok(DocId::Record(id.parse()?)),
            other => Err(DocumentError::Malformed(format!("doc_type {other:?}"))),
        }
    }

    /// The case this document belongs to: the case itself, or the record's case.
    pub fn case_id(&self) -> Result<CaseId, DocumentError> {
        match self.doc_id()? {
            DocId::Case(id) => Ok(id),
            DocId::Record(_) => Ok(read_str(&self.doc, &ROOT, "case_id")?.parse()?),
        }
    }

    /// The underlying Automerge document, for sync and storage.
    pub fn automerge(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    /// The document's current heads.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// The compacted whole document.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// Everything the document holds that is not a dependency of `heads`: what a peer that
    /// has `heads` lacks.
    pub fn changes_after(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        self.doc.save_after(heads)
    }

    /// Merges changes from another device (the output of [`Document::changes_after`] or of
    /// a save). Applying the same changes twice changes nothing.
    ///
    /// The bytes must parse whole: Automerge on its own would apply the chunks it can parse
    /// and drop the rest with a warning. Changes whose dependencies this document lacks are
    /// refused too, since Automerge would hold them in memory only, where a restart loses
    /// them.
    pub fn apply_remote(&mut self, bytes: &[u8]) -> Result<(), DocumentError> {
        let strict = LoadOptions::new()
            .on_partial_load(OnPartialLoad::Error)
            .verification_mode(VerificationMode::DontCheck);
        // Loading on its own parses every chunk before applying any; missing dependencies
        // are expected there, since the bytes build on this document.
        match Automerge::load_with_options(bytes, strict) {
            Ok(_) | Err(AutomergeError::MissingDeps) => {}
            Err(error) => return Err(error.into()),
        }
        self.doc.load_incremental(bytes)?;
        self.refuse_missing_dependencies()
    }

    /// Refuses changes whose dependencies the document lacks, undoing them by reloading what
    /// it had: Automerge queues them in memory only, where a restart loses them.
    fn refuse_missing_dependencies(&mut self) -> Result<(), DocumentError> {
        let missing = self.doc.get_missing_deps(&[]);
        if !missing.is_empty() {
            let saved = self.doc.save_nocompress();
            let actor = self.doc.get_actor().clone();
            self.doc = AutoCommit::load(&saved)?.with_actor(actor);
            return Err(DocumentError::MissingDependencies(missing.len()));
        }
        Ok(())
    }

    /// Merges changes already parsed whole (as the server's check of a push parses them),
    /// refusing them, and leaving the document as it was, if they build on changes it lacks.
    pub fn apply_parsed(&mut self, changes: Vec<automerge::Change>) -> Result<(), DocumentError> {
        self.doc.apply_changes(changes)?;
        self.refuse_missing_dependencies()
    }

    /// A document made of changes already parsed whole, checked to have this schema's
    /// layout.
    pub fn from_parsed(changes: Vec<automerge::Change>) -> Result<Document, DocumentError> {
        let mut document = Document {
            doc: AutoCommit::new(),
            unsaved: Vec::new(),
        };
        document.apply_parsed(changes)?;
        document.check_layout()?;
        Ok(document)
    }

    /// The encoded changes this device made since the last call, oldest first, for the store
    /// to append.
    pub fn take_unsaved_changes(&mut self) -> Vec<Vec<u8>> {
        let hashes = std::mem::take(&mut self.unsaved);
        hashes
            .iter()
            .filter_map(|hash| self.doc.get_change_by_hash(hash))
            .map(|mut change| change.bytes().into_owned())
            .collect()
    }

    /// Applies one user edit to the body, as one change.
    pub fn edit(
        &mut self,
        writer: &Writer,
        edit: &Edit,
        now: DateTime<Utc>,
    ) -> Result<(), DocumentError> {
        let template = self.template()?;
        let spec = self.check_edit(template, edit)?;
        // Adding and removing entries is the author's; setting a field is open to whoever
        // the field is for.
        self.check_may_edit(spec.is_some_and(|spec| spec.review))?;
        self.prepare(writer)?;
        let result = apply_edit(&mut self.doc, template, edit);
        self.finish(result, edit.action(), edit.paths(), now)
    }

    /// Applies several edits as one user action, in one change: recording a consent sets its
    /// scope, date and manner together.
    pub fn edit_all(
        &mut self,
        writer: &Writer,
        edits: &[Edit],
        now: DateTime<Utc>,
    ) -> Result<(), DocumentError> {
        let template = self.template()?;
        for edit in edits {
            let spec = self.check_edit(template, edit)?;
            self.check_may_edit(spec.is_some_and(|spec| spec.review))?;
        }
        self.prepare(writer)?;
        let mut paths = Vec::new();
        let result = edits.iter().try_for_each(|edit| {
            paths.extend(edit.paths());
            apply_edit(&mut self.doc, template, edit)
        });
        let action = edits.first().map_or(Action::Edit, Edit::action);
        self.finish(result, action, paths, now)
    }

    /// Submits a draft or returned record for review.
    pub fn submit(&mut self, writer: &Writer, now: DateTime<Utc>) -> Result<(), DocumentError> {
        self.move_status(RecordStatus::Submitted, "submit")?;
        let kind: RecordKind = read_str(&self.doc, &ROOT, "kind")?.parse()?;
        if kind.occasion().is_some() && !self.occurrence()?.is_complete() {
            return Err(DocumentError::VisitTimes(
                VisitTimesError::MissingAtSubmission,
            ));
        }
        self.prepare(writer)?;
        let result = (|| {
            self.doc
                .put(ROOT, "status", RecordStatus::Submitted.as_str())?;
            self.doc.put(ROOT, "submitted_at", timestamp(now))?;
            Ok(())
        })();
        self.finish(result, Action::Submit, vec!["status".into()], now)
    }

    /// Enters or corrects when the visit or session took place, while the author may still
    /// edit the record; returns whether anything changed. The change is its own entry in the
    /// history, so a correction made later shows, with its time and writer.
    pub fn set_occurrence(
        &mut self,
        writer: &Writer,
        occurred: Occurrence,
        now: DateTime<Utc>,
    ) -> Result<bool, DocumentError> {
        occurred.check(now).map_err(DocumentError::VisitTimes)?;
        self.check_may_edit(false)?;
        if self.occurrence()? == occurred {
            return Ok(false);
        }
        let (Some(start), Some(end)) = (occurred.start, occurred.end) else {
            unreachable!("checked complete above");
        };
        self.prepare(writer)?;
        let result = (|| {
            self.doc.put(ROOT, "occurred_start", timestamp(start))?;
            self.doc.put(ROOT, "occurred_end", timestamp(end))?;
            Ok(())
        })();
        let fields = vec!["occurred_start".into(), "occurred_end".into()];
        self.finish(result, Action::VisitTimes, fields, now)?;
        Ok(true)
    }

    /// When the visit or session took place, as entered so far.
    pub fn occurrence(&self) -> Result<Occurrence, DocumentError> {
        self.expect_doc_type("record")?;
        let read = |key: &str| -> Result<Option<DateTime<Utc>>, DocumentError> {
            match self.doc.get(ROOT, key)? {
                Some((automerge::Value::Scalar(value), _)) => match value.as_ref() {
                    automerge::ScalarValue::Timestamp(millis) => {
                        Ok(DateTime::from_timestamp_millis(*millis))
                    }
                    _ => Err(DocumentError::Malformed(format!("{key} is not a time"))),
                },
                _ => Ok(None),
            }
        };
        Ok(Occurrence {
            start: read("occurred_start")?,
            end: read("occurred_end")?,
        })
    }

    /// Adds a reviewer's comment on the whole record.
    pub fn comment(
        &mut self,
        writer: &Writer,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DocumentError> {
        if text.trim().is_empty() {
            return Err(DocumentError::Empty("a comment"));
        }
        if self.status()? == RecordStatus::Finalised {
            return Err(DocumentError::NotAllowed {
                status: RecordStatus::Finalised,
                action: "comment",
            });
        }
        self.prepare(writer)?;
        let result = push_review(&mut self.doc, writer, ReviewAction::Comment, text, now);
        self.finish(result, Action::Comment, vec!["review".into()], now)
    }

    /// Sends a submitted record back to its author, with the reason.
    pub fn return_to_author(
        &mut self,
        writer: &Writer,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DocumentError> {
        if reason.trim().is_empty() {
            return Err(DocumentError::Empty("the reason for returning"));
        }
        self.move_status(RecordStatus::Returned, "return")?;
        self.prepare(writer)?;
        let result = (|| {
            self.doc
                .put(ROOT, "status", RecordStatus::Returned.as_str())?;
            push_review(&mut self.doc, writer, ReviewAction::Returned, reason, now)
        })();
        self.finish(result, Action::Return, vec!["status".into()], now)
    }

    /// Approves and finalises a submitted record, then binds it as signed: the sign-off holds
    /// the heads that include the finalisation, so the as-signed view shows it finalised.
    pub fn finalise(&mut self, writer: &Writer, now: DateTime<Utc>) -> Result<(), DocumentError> {
        self.move_status(RecordStatus::Finalised, "finalise")?;
        self.prepare(writer)?;
        let result = (|| {
            self.doc
                .put(ROOT, "status", RecordStatus::Finalised.as_str())?;
            self.doc.put(ROOT, "finalised_at", timestamp(now))?;
            push_review(&mut self.doc, writer, ReviewAction::Approved, "", now)
        })();
        self.finish(result, Action::Finalise, vec!["status".into()], now)?;
        let signed_heads = self.doc.get_heads();
        let result = (|| {
            let signoff = self.doc.put_object(ROOT, "signoff", ObjType::Map)?;
            let heads = self.doc.put_object(&signoff, "heads", ObjType::List)?;
            for (index, head) in signed_heads.iter().enumerate() {
                self.doc.insert(&heads, index, head.to_string())?;
            }
            self.doc.put(&signoff, "by", writer.user.as_str())?;
            self.doc.put(&signoff, "at", timestamp(now))?;
            Ok(())
        })();
        self.finish(result, Action::SignOff, vec!["signoff".into()], now)
    }

    /// Adds an addendum to a finalised record.
    pub fn add_addendum(
        &mut self,
        writer: &Writer,
        reason: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<ItemId, DocumentError> {
        if reason.trim().is_empty() {
            return Err(DocumentError::Empty("the reason for an addendum"));
        }
        if text.trim().is_empty() {
            return Err(DocumentError::Empty("an addendum"));
        }
        let status = self.status()?;
        if status != RecordStatus::Finalised {
            return Err(DocumentError::NotAllowed {
                status,
                action: "an addendum (edit the record itself until it is finalised)",
            });
        }
        self.prepare(writer)?;
        let id = ItemId::random();
        let result = (|| {
            let addenda = object(&self.doc, &ROOT, "addenda")?;
            let index = self.doc.length(&addenda);
            let entry = self.doc.insert_object(&addenda, index, ObjType::Map)?;
            self.doc.put(&entry, "id", id.to_string())?;
            self.doc.put(&entry, "author", writer.user.as_str())?;
            self.doc.put(&entry, "at", timestamp(now))?;
            self.doc.put(&entry, "reason", reason)?;
            let body = self.doc.put_object(&entry, "text", ObjType::Text)?;
            self.doc.update_text(&body, text)?;
            Ok(())
        })();
        let path = vec![format!("addenda/{id}")];
        self.finish(result, Action::Addendum, path, now)?;
        Ok(id)
    }

    /// Makes the case's team `roster`, in one change, if it is not that already; returns
    /// whether it changed. The server writes this, as its word on who is on the team: no
    /// device's change to the team is accepted.
    pub fn set_team(
        &mut self,
        writer: &Writer,
        roster: &BTreeMap<UserId, TeamRole>,
        now: DateTime<Utc>,
    ) -> Result<bool, DocumentError> {
        let current = self.case()?.team;
        if &current == roster {
            return Ok(false);
        }
        self.prepare(writer)?;
        let mut paths = Vec::new();
        let result = (|| {
            let team = object(&self.doc, &ROOT, "team")?;
            for user in current.keys().filter(|user| !roster.contains_key(*user)) {
                self.doc.delete(&team, user.as_str())?;
                paths.push(format!("team/{user}"));
            }
            for (user, role) in roster {
                if current.get(user) != Some(role) {
                    self.doc.put(&team, user.as_str(), role.as_str())?;
                    paths.push(format!("team/{user}"));
                }
            }
            Ok(())
        })();
        self.finish(result, Action::Team, paths, now)?;
        Ok(true)
    }

    /// Every change to the case's team, oldest first: who joined, changed role or left, when,
    /// and who made the change (the server's administrator, for the server's roster).
    pub fn team_changes(&mut self) -> Result<Vec<TeamChange>, DocumentError> {
        self.expect_doc_type("case")?;
        let team = object(&self.doc, &ROOT, "team")?;
        let mut changes = Vec::new();
        for entry in history(self)? {
            if entry.action != Some(Action::Team) {
                continue;
            }
            for field in &entry.fields {
                let Some(member) = field.strip_prefix("team/") else {
                    continue;
                };
                let role = match self.doc.get_at(&team, member, &[entry.change])? {
                    Some((automerge::Value::Scalar(value), _)) => {
                        value.as_str().and_then(|role| role.parse().ok())
                    }
                    _ => None,
                };
                changes.push(TeamChange {
                    at: entry.at,
                    by: entry.user.clone(),
                    member: member.parse()?,
                    role,
                });
            }
        }
        Ok(changes)
    }

    /// Records something that happened to the case, on the day it happened; a referral,
    /// transfer, closure or reopening also moves the case's status.
    pub fn record_case_event(
        &mut self,
        writer: &Writer,
        event: &crate::model::CaseEventDraft,
        now: DateTime<Utc>,
    ) -> Result<ItemId, DocumentError> {
        self.expect_doc_type("case")?;
        if event.reason.trim().is_empty() {
            return Err(DocumentError::Empty("the reason"));
        }
        if event.kind == CaseEventKind::Other && event.label.trim().is_empty() {
            return Err(DocumentError::Empty("what to call the event"));
        }
        if event.summary.is_none() {
            match event.kind {
                CaseEventKind::Closure => return Err(DocumentError::Empty("the closing summary")),
                CaseEventKind::Transfer => {
                    return Err(DocumentError::Empty("the handover summary"));
                }
                _ => {}
            }
        }
        self.prepare(writer)?;
        let id = ItemId::random();
        let result = (|| {
            let events = object(&self.doc, &ROOT, "events")?;
            let index = self.doc.length(&events);
            let entry = self.doc.insert_object(&events, index, ObjType::Map)?;
            self.doc.put(&entry, "id", id.to_string())?;
            self.doc.put(&entry, "kind", event.kind.as_str())?;
            if event.kind == CaseEventKind::Other {
                self.doc.put(&entry, "label", event.label.trim())?;
            }
            self.doc.put(&entry, "on", event.on.to_string())?;
            self.doc.put(&entry, "at", timestamp(now))?;
            self.doc.put(&entry, "by", writer.user.as_str())?;
            self.doc.put(&entry, "reason", event.reason.as_str())?;
            self.doc.put(&entry, "outcome", event.outcome.as_str())?;
            if let Some(summary) = event.summary {
                self.doc.put(&entry, "summary", summary.to_string())?;
            }
            if !event.to_team.trim().is_empty() {
                self.doc.put(&entry, "to_team", event.to_team.trim())?;
            }
            if !event.acknowledged.is_empty() {
                let list = self.doc.put_object(&entry, "acknowledged", ObjType::List)?;
                for (index, ack) in event.acknowledged.iter().enumerate() {
                    let item = self.doc.insert_object(&list, index, ObjType::Map)?;
                    self.doc.put(&item, "item", ack.item.as_str())?;
                    self.doc
                        .put(&item, "description", ack.description.as_str())?;
                    self.doc.put(&item, "why", ack.why.trim())?;
                }
            }
            if let Some(state) = event.kind.resulting_state() {
                let status = object(&self.doc, &ROOT, "status")?;
                self.doc.put(&status, "state", state.as_str())?;
                self.doc.put(&status, "reason", event.reason.as_str())?;
                self.doc.put(&status, "outcome", event.outcome.as_str())?;
            }
            Ok(())
        })();
        let mut path = vec![format!("events/{id}")];
        if event.kind.resulting_state().is_some() {
            path.push("status".into());
        }
        self.finish(result, Action::CaseEvent, path, now)?;
        Ok(id)
    }

    /// Records that information from the case was shared with another agency. Checked
    /// against the case's consents: it rests on a consent to share that held on the day, or
    /// on a reason given for sharing without one.
    pub fn record_disclosure(
        &mut self,
        writer: &Writer,
        draft: &crate::model::DisclosureDraft,
        now: DateTime<Utc>,
    ) -> Result<ItemId, DocumentError> {
        self.case()?.profile.check_disclosure(draft)?;
        self.prepare(writer)?;
        let id = ItemId::random();
        let result = (|| {
            let disclosures = match self.doc.get(ROOT, "disclosures")? {
                Some((automerge::Value::Object(ObjType::List), list)) => list,
                // Only cases opened before disclosures were recorded lack the list.
                _ => self.doc.put_object(ROOT, "disclosures", ObjType::List)?,
            };
            let index = self.doc.length(&disclosures);
            let entry = self.doc.insert_object(&disclosures, index, ObjType::Map)?;
            self.doc.put(&entry, "id", id.to_string())?;
            self.doc.put(&entry, "to", draft.to.trim())?;
            self.doc.put(&entry, "what", draft.what.trim())?;
            self.doc.put(&entry, "on", draft.on.to_string())?;
            if let Some(consent) = draft.consent {
                self.doc.put(&entry, "consent", consent.to_string())?;
            }
            self.doc.put(&entry, "basis", draft.basis.trim())?;
            self.doc.put(&entry, "by", writer.user.as_str())?;
            self.doc.put(&entry, "recorded_at", timestamp(now))?;
            Ok(())
        })();
        let path = vec![format!("disclosures/{id}")];
        self.finish(result, Action::Disclosure, path, now)?;
        Ok(id)
    }

    /// Adds a reference to a blob the caller has stored: a record takes attachments while
    /// its author may edit it, a case file at any time. Returns the reference as written.
    pub fn attach(
        &mut self,
        writer: &Writer,
        hash: BlobHash,
        size: u64,
        strokes: Option<BlobHash>,
        draft: &AttachmentDraft,
        now: DateTime<Utc>,
    ) -> Result<Attachment, DocumentError> {
        self.check_may_edit(false)?;
        crate::attachments::check_media_type(&draft.media_type)
            .map_err(|error| DocumentError::Malformed(error.to_string()))?;
        let attachment = Attachment {
            id: ItemId::random(),
            hash,
            kind: draft.kind,
            media_type: draft.media_type.clone(),
            size,
            width: draft.dimensions.map(|(width, _)| width),
            height: draft.dimensions.map(|(_, height)| height),
            caption: draft.caption.trim().to_owned(),
            by: writer.user.clone(),
            // As the document keeps times: to the millisecond.
            at: DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now),
            signs: draft.signs.clone(),
            strokes,
            erased: None,
        };
        self.prepare(writer)?;
        let result = (|| {
            let list = match self.doc.get(ROOT, "attachments")? {
                Some((automerge::Value::Object(ObjType::List), list)) => list,
                // Only documents made before attachments existed lack the list.
                _ => self.doc.put_object(ROOT, "attachments", ObjType::List)?,
            };
            let index = self.doc.length(&list);
            let entry = self.doc.insert_object(&list, index, ObjType::Map)?;
            put_attachment(&mut self.doc, &entry, &attachment)
        })();
        let path = vec![format!("attachments/{}", attachment.id)];
        self.finish(result, Action::Attach, path, now)?;
        Ok(attachment)
    }

    /// Takes an attachment off a record its author may still edit. The blob stays until no
    /// document refers to it (the server lets it go after a grace period).
    pub fn detach(
        &mut self,
        writer: &Writer,
        id: ItemId,
        now: DateTime<Utc>,
    ) -> Result<(), DocumentError> {
        self.expect_doc_type("record")?;
        self.check_may_edit(false)?;
        self.prepare(writer)?;
        let result = (|| {
            let list = object(&self.doc, &ROOT, "attachments")?;
            let index = entry_index(&self.doc, &list, "attachments", id)?;
            self.doc.delete(&list, index)?;
            Ok(())
        })();
        self.finish(
            result,
            Action::Detach,
            vec![format!("attachments/{id}")],
            now,
        )
    }

    /// Marks every reference to `hash` (as an attachment or as a signature's strokes) erased,
    /// with its tombstone; returns whether any was not already. Only the server writes this,
    /// when an administrator erases a blob.
    pub fn erase_blob(
        &mut self,
        writer: &Writer,
        hash: BlobHash,
        erasure: &Erasure,
        now: DateTime<Utc>,
    ) -> Result<bool, DocumentError> {
        let targets: Vec<ItemId> = self
            .attachments()?
            .into_iter()
            .filter(|attachment| {
                attachment.erased.is_none() && attachment.blobs().any(|blob| blob == hash)
            })
            .map(|attachment| attachment.id)
            .collect();
        if targets.is_empty() {
            return Ok(false);
        }
        self.prepare(writer)?;
        let result = (|| {
            let list = object(&self.doc, &ROOT, "attachments")?;
            for id in &targets {
                let index = entry_index(&self.doc, &list, "attachments", *id)?;
                let Some((_, entry)) = self.doc.get(&list, index)? else {
                    continue;
                };
                let erased = self.doc.put_object(&entry, "erased", ObjType::Map)?;
                self.doc.put(&erased, "at", timestamp(erasure.at))?;
                self.doc.put(&erased, "by", erasure.by.as_str())?;
                self.doc.put(&erased, "reason", erasure.reason.as_str())?;
            }
            Ok(())
        })();
        let paths = targets
            .iter()
            .map(|id| format!("attachments/{id}/erased"))
            .collect();
        self.finish(result, Action::Erase, paths, now)?;
        Ok(true)
    }

    /// The document's attachments, as it is now.
    pub fn attachments(&self) -> Result<Vec<Attachment>, DocumentError> {
        let json = json::render_keys(&self.doc, None, &["attachments"])?;
        #[derive(Deserialize)]
        struct List {
            #[serde(default, deserialize_with = "crate::attachments::read_list")]
            attachments: Vec<Attachment>,
        }
        serde_json::from_value::<List>(json)
            .map(|list| list.attachments)
            .map_err(|error| DocumentError::Malformed(error.to_string()))
    }

    /// Reads the record as it is now.
    pub fn record(&self) -> Result<Record, DocumentError> {
        self.record_at(None)
    }

    /// Reads the record exactly as it was signed, or `None` if it has not been signed.
    pub fn record_as_signed(&self) -> Result<Option<Record>, DocumentError> {
        match self.signed_heads()? {
            Some(heads) => self.record_at(Some(&heads)).map(Some),
            None => Ok(None),
        }
    }

    /// The heads bound at sign-off, if the record has been signed.
    pub fn signed_heads(&self) -> Result<Option<Vec<ChangeHash>>, DocumentError> {
        let Some((_, signoff)) = self.doc.get(ROOT, "signoff")? else {
            return Ok(None);
        };
        let heads = object(&self.doc, &signoff, "heads")?;
        let mut parsed = Vec::new();
        for index in 0..self.doc.length(&heads) {
            let text = match self.doc.get(&heads, index)? {
                Some((automerge::Value::Scalar(value), _)) => value.as_str().map(str::to_owned),
                _ => None,
            };
            let head = text
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| DocumentError::Malformed("sign-off heads".into()))?;
            parsed.push(head);
        }
        Ok(Some(parsed))
    }

    fn record_at(&self, heads: Option<&[ChangeHash]>) -> Result<Record, DocumentError> {
        self.expect_doc_type("record")?;
        let json = json::render(&self.doc, heads)?;
        record_from_json(json)
    }

    /// Reads the case.
    pub fn case(&self) -> Result<Case, DocumentError> {
        self.expect_doc_type("case")?;
        case_from_json(json::render(&self.doc, None)?)
    }

    /// The template this document follows.
    pub fn template(&self) -> Result<&'static Template, DocumentError> {
        match read_str(&self.doc, &ROOT, "doc_type")?.as_str() {
            "case" if self.is_group() => Ok(&template::GROUP),
            "case" => Ok(&template::CASE),
            _ => Ok(read_str(&self.doc, &ROOT, "kind")?
                .parse::<RecordKind>()?
                .template()),
        }
    }

    /// All narrative and line text of the body, entries and addenda included, for the
    /// search index.
    pub fn searchable_text(&self) -> Result<String, DocumentError> {
        Ok(searchable_text(&json::render(&self.doc, None)?))
    }

    /// The whole document as JSON, as it is now: lists of entries as arrays, narrative text
    /// as strings.
    pub fn to_json(&self) -> Result<serde_json::Value, DocumentError> {
        json::render(&self.doc, None)
    }

    /// The root fields `keys` as JSON, as they were at `heads` or are now.
    pub fn fields_to_json(
        &self,
        keys: &[&str],
        heads: Option<&[ChangeHash]>,
    ) -> Result<serde_json::Value, DocumentError> {
        json::render_keys(&self.doc, heads, keys)
    }

    /// What the store's index rows are made of, read in one pass over the document.
    pub fn index_view(&self) -> Result<IndexView, DocumentError> {
        let json = json::render(&self.doc, None)?;
        let text = searchable_text(&json);
        let content = match self.doc_id()? {
            DocId::Case(_) => IndexedContent::Case(Box::new(case_from_json(json)?)),
            DocId::Record(_) => IndexedContent::Record(Box::new(record_from_json(json)?)),
        };
        Ok(IndexView { content, text })
    }

    /// The user each actor id writes for, as registered in the document.
    pub fn authors(&self) -> Result<Vec<(String, UserId)>, DocumentError> {
        let authors = object(&self.doc, &ROOT, "authors")?;
        let mut out = Vec::new();
        for key in self.doc.keys(&authors) {
            out.push((key.clone(), read_str(&self.doc, &authors, &key)?.parse()?));
        }
        Ok(out)
    }

    fn status(&self) -> Result<RecordStatus, DocumentError> {
        self.expect_doc_type("record")?;
        Ok(read_str(&self.doc, &ROOT, "status")?.parse()?)
    }

    fn expect_doc_type(&self, expected: &'static str) -> Result<(), DocumentError> {
        if read_str(&self.doc, &ROOT, "doc_type")? == expected {
            Ok(())
        } else {
            Err(DocumentError::WrongDocType { expected })
        }
    }

    fn move_status(&self, next: RecordStatus, action: &'static str) -> Result<(), DocumentError> {
        let status = self.status()?;
        if status.may_become(next) {
            Ok(())
        } else {
            Err(DocumentError::NotAllowed { status, action })
        }
    }

    fn check_may_edit(&self, review_field: bool) -> Result<(), DocumentError> {
        if read_str(&self.doc, &ROOT, "doc_type")? == "case" {
            return Ok(());
        }
        let status = self.status()?;
        let open = status.author_may_edit() || (review_field && status == RecordStatus::Submitted);
        if open {
            Ok(())
        } else {
            Err(DocumentError::NotAllowed {
                status,
                action: "editing",
            })
        }
    }

    /// Checks an edit against the template; returns the field it sets, if it sets one.
    fn check_edit(
        &self,
        template: &'static Template,
        edit: &Edit,
    ) -> Result<Option<&'static FieldSpec>, DocumentError> {
        match edit {
            Edit::Set { item, field, value } => {
                let spec = match item {
                    None => template.field(field),
                    Some((list, _)) => find_list(template, list)?.field(field),
                };
                let spec = spec.ok_or_else(|| DocumentError::UnknownField {
                    template: template.kind,
                    name: field.clone(),
                })?;
                check_value(spec, value)?;
                Ok(Some(spec))
            }
            Edit::AddEntry { list, .. } | Edit::RemoveEntry { list, .. } => {
                find_list(template, list)?;
                Ok(None)
            }
        }
    }

    /// Sets the writer's actor and registers it against the user in the document, inside the
    /// change about to be made.
    fn prepare(&mut self, writer: &Writer) -> Result<(), DocumentError> {
        self.doc.set_actor(writer.actor.clone());
        let authors = object(&self.doc, &ROOT, "authors")?;
        let key = writer.actor.to_hex_string();
        if read_str(&self.doc, &authors, &key).ok().as_deref() != Some(writer.user.as_str()) {
            self.doc.put(&authors, key, writer.user.as_str())?;
        }
        Ok(())
    }

    /// Commits the ops of one action, or rolls them back if the action failed half-way.
    fn finish(
        &mut self,
        result: Result<(), DocumentError>,
        action: Action,
        fields: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<(), DocumentError> {
        match result {
            Ok(()) => {
                self.commit(action, fields, now);
                Ok(())
            }
            Err(error) => {
                self.doc.rollback();
                Err(error)
            }
        }
    }

    fn commit(&mut self, action: Action, fields: Vec<String>, now: DateTime<Utc>) {
        let note = ChangeNote { action, fields };
        let message = serde_json::to_string(&note).expect("a change note serialises");
        let options = CommitOptions::default()
            .with_message(message)
            .with_time(now.timestamp_millis());
        if let Some(hash) = self.doc.commit_with(options) {
            self.unsaved.push(hash);
        }
    }
}

fn put_header(
    doc: &mut AutoCommit,
    doc_type: &str,
    id: &str,
    writer: &Writer,
    now: DateTime<Utc>,
) -> Result<(), DocumentError> {
    doc.put(ROOT, "schema", SCHEMA_VERSION)?;
    doc.put(ROOT, "doc_type", doc_type)?;
    doc.put(ROOT, "id", id)?;
    doc.put(ROOT, "author", writer.user.as_str())?;
    doc.put(ROOT, "created_at", timestamp(now))?;
    let authors = doc.put_object(ROOT, "authors", ObjType::Map)?;
    doc.put(&authors, writer.actor.to_hex_string(), writer.user.as_str())?;
    Ok(())
}

/// A case's (or a group's) header: open, the writer on its team as its worker, no events and
/// no disclosures yet.
fn put_case_header(
    doc: &mut AutoCommit,
    id: CaseId,
    writer: &Writer,
    now: DateTime<Utc>,
) -> Result<(), DocumentError> {
    put_header(doc, "case", &id.to_string(), writer, now)?;
    let status = doc.put_object(ROOT, "status", ObjType::Map)?;
    doc.put(&status, "state", "open")?;
    doc.put(&status, "reason", "")?;
    doc.put(&status, "outcome", "")?;
    let team = doc.put_object(ROOT, "team", ObjType::Map)?;
    doc.put(&team, writer.user.as_str(), TeamRole::Worker.as_str())?;
    doc.put_object(ROOT, "events", ObjType::List)?;
    doc.put_object(ROOT, "disclosures", ObjType::List)?;
    doc.put_object(ROOT, "attachments", ObjType::List)?;
    Ok(())
}

/// Creates the body with every narrative field and every list, empty.
fn put_body(doc: &mut AutoCommit, template: &Template) -> Result<ObjId, DocumentError> {
    let body = doc.put_object(ROOT, "body", ObjType::Map)?;
    put_narratives(doc, &body, template.fields)?;
    for list in template.lists {
        doc.put_object(&body, list.name, ObjType::List)?;
    }
    Ok(body)
}

fn put_narratives(
    doc: &mut AutoCommit,
    obj: &ObjId,
    fields: &[FieldSpec],
) -> Result<(), DocumentError> {
    for field in fields.iter().filter(|field| field.kind.is_narrative()) {
        doc.put_object(obj, field.name, ObjType::Text)?;
    }
    Ok(())
}

fn apply_edit(
    doc: &mut AutoCommit,
    template: &'static Template,
    edit: &Edit,
) -> Result<(), DocumentError> {
    let body = object(doc, &ROOT, "body")?;
    match edit {
        Edit::Set { item, field, value } => {
            let (target, spec) = match item {
                None => (body, template.field(field)),
                Some((list_name, id)) => {
                    let list = find_list(template, list_name)?;
                    let list_obj = object(doc, &body, list.name)?;
                    let index = entry_index(doc, &list_obj, list_name, *id)?;
                    let (_, entry) = doc
                        .get(&list_obj, index)?
                        .ok_or_else(|| DocumentError::Malformed("list entry vanished".into()))?;
                    (entry, list.field(field))
                }
            };
            let spec = spec.expect("checked against the template before");
            put_value(doc, &target, spec, value)
        }
        Edit::AddEntry { list, id, after } => {
            let spec = find_list(template, list)?;
            let list_obj = match doc.get(&body, spec.name)? {
                Some((automerge::Value::Object(ObjType::List), list_obj)) => list_obj,
                // Only documents written before the template gained this list lack it.
                _ => doc.put_object(&body, spec.name, ObjType::List)?,
            };
            let index = match after {
                Some(after) => entry_index(doc, &list_obj, list, *after)? + 1,
                None => doc.length(&list_obj),
            };
            let entry = doc.insert_object(&list_obj, index, ObjType::Map)?;
            doc.put(&entry, "id", id.to_string())?;
            put_narratives(doc, &entry, spec.fields)
        }
        Edit::RemoveEntry { list, id } => {
            let list_obj = object(doc, &body, find_list(template, list)?.name)?;
            let index = entry_index(doc, &list_obj, list, *id)?;
            doc.delete(&list_obj, index)?;
            Ok(())
        }
    }
}

fn put_value(
    doc: &mut AutoCommit,
    obj: &ObjId,
    spec: &FieldSpec,
    value: &FieldValue,
) -> Result<(), DocumentError> {
    let name = spec.name;
    match (spec.kind, value) {
        (FieldKind::Narrative, FieldValue::Text(_) | FieldValue::Typed { .. }) => {
            let text_obj = match doc.get(obj, name)? {
                Some((automerge::Value::Object(ObjType::Text), text_obj)) => text_obj,
                // Only documents written before the template gained this field lack it.
                _ => doc.put_object(obj, name, ObjType::Text)?,
            };
            let now = doc.text(&text_obj)?;
            doc.update_text(&text_obj, new_text(value, &now))?;
        }
        (FieldKind::Line, FieldValue::Typed { .. }) => {
            let now = read_str(doc, obj, name).unwrap_or_default();
            doc.put(obj, name, new_text(value, &now))?;
        }
        (FieldKind::Line | FieldKind::Choice(_), FieldValue::Text(text)) => {
            doc.put(obj, name, text.as_str())?;
        }
        (FieldKind::Flag, FieldValue::Flag(flag)) => doc.put(obj, name, *flag)?,
        (FieldKind::Number | FieldKind::Scale { .. }, FieldValue::Number(number)) => {
            doc.put(obj, name, *number)?
        }
        (FieldKind::Goal | FieldKind::Case | FieldKind::Member, FieldValue::Text(id)) => {
            doc.put(obj, name, id.as_str())?
        }
        (FieldKind::Date, FieldValue::Date(date)) => doc.put(obj, name, date.to_string())?,
        (FieldKind::Time, FieldValue::Time(time)) => doc.put(obj, name, timestamp(*time))?,
        (_, FieldValue::Empty) => doc.delete(obj, name)?,
        _ => unreachable!("checked against the template before"),
    }
    Ok(())
}

/// The text to store for a text value when the field holds `now`: the whole new text, or the
/// worker's typing made onto `now` when their screen had `base`.
fn new_text(value: &FieldValue, now: &str) -> String {
    match value {
        FieldValue::Typed { base, text } if base != now => crate::text::merge(base, text, now).text,
        FieldValue::Typed { text, .. } | FieldValue::Text(text) => text.clone(),
        _ => unreachable!("only text values are stored as text"),
    }
}

fn check_value(spec: &FieldSpec, value: &FieldValue) -> Result<(), DocumentError> {
    let expected = match (spec.kind, value) {
        (
            FieldKind::Narrative | FieldKind::Line,
            FieldValue::Text(_) | FieldValue::Typed { .. },
        )
        | (FieldKind::Flag, FieldValue::Flag(_))
        | (FieldKind::Number, FieldValue::Number(_))
        | (FieldKind::Date, FieldValue::Date(_))
        | (FieldKind::Time, FieldValue::Time(_))
        | (
            FieldKind::Date
            | FieldKind::Time
            | FieldKind::Number
            | FieldKind::Scale { .. }
            | FieldKind::Goal
            | FieldKind::Case
            | FieldKind::Member
            | FieldKind::Choice(_),
            FieldValue::Empty,
        ) => return Ok(()),
        (FieldKind::Choice(options), FieldValue::Text(text))
            if options.contains(&text.as_str()) =>
        {
            return Ok(());
        }
        (FieldKind::Scale { min, max }, FieldValue::Number(number))
            if (min..=max).contains(number) =>
        {
            return Ok(());
        }
        (FieldKind::Goal | FieldKind::Member, FieldValue::Text(text))
            if text.parse::<ItemId>().is_ok() =>
        {
            return Ok(());
        }
        (FieldKind::Case, FieldValue::Text(text)) if text.parse::<CaseId>().is_ok() => {
            return Ok(());
        }
        (FieldKind::Narrative | FieldKind::Line, _) => "text".to_owned(),
        (FieldKind::Flag, _) => "yes or no".to_owned(),
        (FieldKind::Number, _) => "a whole number".to_owned(),
        (FieldKind::Scale { min, max }, _) => format!("a whole number from {min} to {max}"),
        (FieldKind::Goal, _) => "one of the case's goals".to_owned(),
        (FieldKind::Case, _) => "a client's case".to_owned(),
        (FieldKind::Member, _) => "one of the group's members".to_owned(),
        (FieldKind::Date, _) => "a date".to_owned(),
        (FieldKind::Time, _) => "a date and time".to_owned(),
        (FieldKind::Choice(_), _) => "one of its choices".to_owned(),
    };
    Err(DocumentError::WrongValue {
        field: spec.name.to_owned(),
        expected,
    })
}

fn find_list(template: &'static Template, name: &str) -> Result<&'static ListSpec, DocumentError> {
    template
        .list(name)
        .ok_or_else(|| DocumentError::UnknownField {
            template: template.kind,
            name: name.to_owned(),
        })
}

fn entry_index(
    doc: &AutoCommit,
    list: &ObjId,
    list_name: &str,
    id: ItemId,
) -> Result<usize, DocumentError> {
    let wanted = id.to_string();
    for index in 0..doc.length(list) {
        if let Some((_, entry)) = doc.get(list, index)?
            && read_str(doc, &entry, "id").ok().as_deref() == Some(wanted.as_str())
        {
            return Ok(index);
        }
    }
    Err(DocumentError::UnknownItem {
        list: list_name.to_owned(),
        id,
    })
}

fn put_attachment(
    doc: &mut AutoCommit,
    entry: &ObjId,
    attachment: &Attachment,
) -> Result<(), DocumentError> {
    doc.put(entry, "id", attachment.id.to_string())?;
    doc.put(entry, "hash", attachment.hash.to_string())?;
    doc.put(entry, "kind", attachment.kind.noun())?;
    doc.put(entry, "media_type", attachment.media_type.as_str())?;
    doc.put(entry, "size", attachment.size)?;
    if let Some(width) = attachment.width {
        doc.put(entry, "width", u64::from(width))?;
    }
    if let Some(height) = attachment.height {
        doc.put(entry, "height", u64::from(height))?;
    }
    doc.put(entry, "caption", attachment.caption.as_str())?;
    doc.put(entry, "by", attachment.by.as_str())?;
    doc.put(entry, "at", timestamp(attachment.at))?;
    if let Some(signs) = &attachment.signs {
        let binding = doc.put_object(entry, "signs", ObjType::Map)?;
        doc.put(&binding, "consent", signs.consent.to_string())?;
        doc.put(&binding, "wording", signs.wording.as_str())?;
        doc.put(&binding, "signed_at", timestamp(signs.signed_at))?;
    }
    if let Some(strokes) = attachment.strokes {
        doc.put(entry, "strokes", strokes.to_string())?;
    }
    Ok(())
}

fn push_review(
    doc: &mut AutoCommit,
    writer: &Writer,
    action: ReviewAction,
    text: &str,
    now: DateTime<Utc>,
) -> Result<(), DocumentError> {
    let review = object(doc, &ROOT, "review")?;
    let index = doc.length(&review);
    let entry = doc.insert_object(&review, index, ObjType::Map)?;
    let action = match action {
        ReviewAction::Comment => "comment",
        ReviewAction::Returned => "returned",
        ReviewAction::Approved => "approved",
    };
    doc.put(&entry, "id", ItemId::random().to_string())?;
    doc.put(&entry, "by", writer.user.as_str())?;
    doc.put(&entry, "at", timestamp(now))?;
    doc.put(&entry, "action", action)?;
    let text_obj = doc.put_object(&entry, "text", ObjType::Text)?;
    doc.update_text(&text_obj, text)?;
    Ok(())
}

/// One change to a case's team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamChange {
    /// When, by the writing device's (or the server's) clock.
    pub at: DateTime<Utc>,
    /// Who made it.
    pub by: Option<UserId>,
    /// The member.
    pub member: UserId,
    /// Their role from then on; `None` when they left the team.
    pub role: Option<TeamRole>,
}

/// A case or record with its searchable text, for the store's index rows.
#[derive(Debug)]
pub struct IndexView {
    /// The case or record.
    pub content: IndexedContent,
    /// Its searchable text.
    pub text: String,
}

/// The content of an [`IndexView`].
#[derive(Debug)]
pub enum IndexedContent {
    /// A case document.
    Case(Box<Case>),
    /// A record document.
    Record(Box<Record>),
}

fn searchable_text(json: &serde_json::Value) -> String {
    let mut text = String::new();
    for part in ["body", "addenda"] {
        if let Some(value) = json.get(part) {
            json::collect_strings(value, &mut text);
        }
    }
    text
}

fn case_from_json(mut json: serde_json::Value) -> Result<Case, DocumentError> {
    if let Some(root) = json.as_object_mut()
        && let Some(body) = root.remove("body")
    {
        if root.get("case_kind").and_then(|kind| kind.as_str()) == Some("group") {
            // A group's name stands where a client's would, in every list of cases.
            let name = body.get("name").cloned().unwrap_or_default();
            root.insert("profile".into(), serde_json::json!({ "client_name": name }));
            root.insert("group".into(), body);
        } else {
            root.insert("profile".into(), body);
        }
    }
    serde_json::from_value(json).map_err(|error| DocumentError::Malformed(error.to_string()))
}

fn record_from_json(mut json: serde_json::Value) -> Result<Record, DocumentError> {
    #[derive(Deserialize)]
    struct Header {
        id: RecordId,
        case_id: CaseId,
        kind: RecordKind,
        author: UserId,
        status: RecordStatus,
        occurred_start: Option<DateTime<Utc>>,
        occurred_end: Option<DateTime<Utc>>,
        writing_began: DateTime<Utc>,
        submitted_at: Option<DateTime<Utc>>,
        finalised_at: Option<DateTime<Utc>>,
        signoff: Option<crate::model::SignOff>,
        #[serde(default)]
        addenda: Vec<crate::model::Addendum>,
        #[serde(default)]
        review: Vec<crate::model::ReviewEntry>,
        #[serde(default, deserialize_with = "crate::attachments::read_list")]
        attachments: Vec<crate::attachments::Attachment>,
    }
    let malformed = |error: serde_json::Error| DocumentError::Malformed(error.to_string());
    let body = json
        .as_object_mut()
        .and_then(|root| root.remove("body"))
        .ok_or_else(|| DocumentError::Malformed("no body".into()))?;
    let header: Header = serde_json::from_value(json).map_err(malformed)?;
    Ok(Record {
        id: header.id,
        case_id: header.case_id,
        author: header.author,
        status: header.status,
        occurred_start: header.occurred_start,
        occurred_end: header.occurred_end,
        writing_began: header.writing_began,
        submitted_at: header.submitted_at,
        finalised_at: header.finalised_at,
        signoff: header.signoff,
        addenda: header.addenda,
        review: header.review,
        attachments: header.attachments,
        body: RecordBody::from_json(header.kind, body).map_err(malformed)?,
    })
}

/// The root fields `keys` of a raw Automerge document as they were at `heads`, as JSON: for
/// the server's checks, which read documents part-way through a push.
pub fn render_keys_at(
    doc: &AutoCommit,
    heads: &[ChangeHash],
    keys: &[&str],
) -> Result<serde_json::Value, DocumentError> {
    json::render_keys(doc, Some(heads), keys)
}

fn object(doc: &AutoCommit, parent: &ObjId, key: &str) -> Result<ObjId, DocumentError> {
    match doc.get(parent, key)? {
        Some((automerge::Value::Object(_), id)) => Ok(id),
        _ => Err(DocumentError::Malformed(format!("no object {key:?}"))),
    }
}

fn read_str(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<String, DocumentError> {
    match doc.get(obj, key)? {
        Some((automerge::Value::Scalar(value), _)) => value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| DocumentError::Malformed(format!("{key:?} is not text"))),
        _ => Err(DocumentError::Malformed(format!("no {key:?}"))),
    }
}

fn timestamp(time: DateTime<Utc>) -> automerge::ScalarValue {
    automerge::ScalarValue::Timestamp(time.timestamp_millis())
}

#[cfg(test)]
mod tests;
