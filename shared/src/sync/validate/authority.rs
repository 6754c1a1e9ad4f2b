//! Who may write what (DESIGN §10), checked change by change.
//!
//! Each change a push brings is judged against the document as its writer saw it, the state
//! at the change's dependencies, and against the pushing user's role on the case's team as
//! the server records it. Judging against what the writer saw is what keeps a change written
//! offline, concurrently with a sign-off, while refusing one written after seeing it.
//!
//! What a change touched is read from its operations, never from the note the client wrote
//! beside it: each operation's object is traced up to the top-level field it belongs to.

use std::collections::{BTreeSet, HashMap};

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{ActorId, AutoCommit, Change, ChangeHash, ObjId, Prop, ROOT, ReadDoc, ScalarValue};
use serde_json::Value;

use super::Rejection;
use crate::attachments::AttachmentKind;
use crate::document::{Document, DocumentError};
use crate::ids::{DocId, UserId};
use crate::model::{RecordKind, RecordStatus, TeamRole};
use crate::template::{self, Template};

/// The user pushing, as the server knows them.
#[derive(Debug, Clone, Copy)]
pub struct Pusher<'a> {
    /// The signed-in user.
    pub user: &'a UserId,
    /// Their role on the case's team.
    pub role: TeamRole,
}

/// Record fields written once, when the record is created.
const RECORD_FIXED: &[&str] = &[
    "schema",
    "doc_type",
    "id",
    "case_id",
    "kind",
    "author",
    "created_at",
    "writing_began",
    "authors",
    "body",
    "review",
    "addenda",
];

/// Record fields that change after the record is created, each by its own rule.
const RECORD_CHANGING: &[&str] = &[
    "status",
    "submitted_at",
    "finalised_at",
    "signoff",
    "occurred_start",
    "occurred_end",
    "attachments",
];

/// Case fields written once, when the case is created.
const CASE_FIXED: &[&str] = &[
    "schema",
    "doc_type",
    "id",
    "author",
    "created_at",
    "authors",
    "body",
    "team",
    "events",
    "status",
    "case_kind",
];

/// Case fields that change after the case is created, each by its own rule: disclosures and
/// attachments are added, never changed (cases opened before they were recorded gain the
/// list later).
const CASE_CHANGING: &[&str] = &["disclosures", "group_attendance", "attachments"];

/// Checks every change in `new` (the changes the push brings that the server lacked, in
/// causal order) against the rules; `document` is the server's copy with them applied, and
/// `existed` whether the server had the document before.
pub fn check_changes(
    document: &mut AutoCommit,
    doc: DocId,
    new: &[Change],
    existed: bool,
    pusher: Pusher<'_>,
) -> Result<(), Rejection> {
    let template = match doc {
        DocId::Case(_)
            if matches!(
                document.get(ROOT, "case_kind"),
                Ok(Some((value, _))) if value.as_str() == Some("group")
            ) =>
        {
            &template::GROUP
        }
        DocId::Case(_) => &template::CASE,
        DocId::Record(_) => match document.get(ROOT, "kind") {
            Ok(Some((value, _))) => value
                .as_str()
                .and_then(|kind| kind.parse::<RecordKind>().ok())
                .map(RecordKind::template),
            _ => None,
        }
        .ok_or_else(|| Rejection::WrongDocument {
            doc,
            reason: "the record has no kind".into(),
        })?,
    };
    let mut judge = Judge {
        doc,
        pusher,
        layout: Layout {
            template,
            paths: HashMap::new(),
        },
        writers: None,
    };
    if new.iter().filter(|change| change.deps().is_empty()).count() > 1 {
        return Err(judge.not_allowed("a document is created once"));
    }
    for change in new {
        judge.check(document, change, existed)?;
    }
    Ok(())
}

/// What no push may take away, whatever its operations: checked on the result, so that no
/// trick of Automerge's (an operation's predecessors naming other keys' values, an operation
/// id chosen to win a conflict) gets round the rules on operations. `before` is the server's
/// heads before the push.
///
/// - the header fields fixed at creation keep their values, with no rival value beside them;
/// - every entry of `authors`, `addenda`, `review` and the case's `events` is still there, as
///   it was: entries are only added;
/// - a case's team is what the server wrote;
/// - a signed record stays signed, as it was, and finalised, with no rival status.
pub fn check_preserved(
    document: &mut Document,
    doc: DocId,
    before: &[ChangeHash],
) -> Result<(), Rejection> {
    let not_allowed = |reason: &str| Rejection::NotAllowed {
        doc,
        reason: reason.to_owned(),
    };
    let unreadable = |_| not_allowed("the document does not read");
    let fixed: &[&str] = match doc {
        DocId::Record(_) => RECORD_FIXED,
        DocId::Case(_) => CASE_FIXED,
    };
    // Everything but the body, which is for the rules on operations.
    let kept: Vec<&str> = fixed
        .iter()
        .chain(RECORD_CHANGING)
        .chain(CASE_CHANGING)
        .copied()
        .filter(|key| *key != "body")
        .collect();
    let was = document
        .fields_to_json(&kept, Some(before))
        .map_err(unreadable)?;
    let is = document.fields_to_json(&kept, None).map_err(unreadable)?;
    let automerge = document.automerge();
    for key in fixed.iter().filter(|key| {
        was.get(**key)
            .is_some_and(|value| !value.is_object() && !value.is_array())
    }) {
        let values = automerge
            .get_all(ROOT, *key)
            .map_err(|_| not_allowed("a header does not read"))?;
        if values.len() != 1 || was.get(*key) != is.get(*key) {
            return Err(not_allowed(&format!(
                "{key} is fixed when the document is created"
            )));
        }
    }
    let entries: &[&str] = match doc {
        DocId::Record(_) => &["addenda", "review"],
        DocId::Case(_) => &["events", "disclosures", "attachments"],
    };
    for list in entries {
        if !kept_entries(was.get(*list), is.get(*list)) {
            return Err(not_allowed(&format!("{list} are only added to")));
        }
    }
    // A record's attachment may be taken off while it is written, never changed.
    if matches!(doc, DocId::Record(_))
        && !kept_or_removed(was.get("attachments"), is.get("attachments"))
    {
        return Err(not_allowed("an attachment is never changed once attached"));
    }
    let kept_authors = match (was.get("authors"), is.get("authors")) {
        (Some(Value::Object(was)), Some(Value::Object(is))) => {
            was.iter().all(|(actor, user)| is.get(actor) == Some(user))
        }
        _ => false,
    };
    if !kept_authors {
        return Err(Rejection::ForgedAuthor {
            doc,
            reason: "a writer once registered stays registered".into(),
        });
    }
    if matches!(doc, DocId::Case(_)) && was.get("team") != is.get("team") {
        return Err(not_allowed(
            "the case's team is kept by the server: ask the team's supervisor or an administrator",
        ));
    }
    if was.get("signoff").is_some() {
        let one = |key: &str| automerge.get_all(ROOT, key).map(|values| values.len() == 1);
        let signed = was.get("signoff") == is.get("signoff")
            && one("signoff").unwrap_or(false)
            && one("status").unwrap_or(false)
            && is.get("status").and_then(Value::as_str) == Some(RecordStatus::Finalised.as_str());
        if !signed {
            return Err(Rejection::RecordSigned { doc });
        }
    }
    Ok(())
}

/// Whether every entry of a list (by its id) is still in it, unchanged.
fn kept_entries(was: Option<&Value>, is: Option<&Value>) -> bool {
    let is = entries_by_id(is);
    entries_by_id(was)
        .iter()
        .all(|(id, entry)| is.get(id) == Some(entry))
}

/// Whether every entry of a list (by its id) is either still in it, unchanged, or gone.
fn kept_or_removed(was: Option<&Value>, is: Option<&Value>) -> bool {
    let is = entries_by_id(is);
    entries_by_id(was)
        .iter()
        .all(|(id, entry)| is.get(id).is_none_or(|now| now == entry))
}

fn entries_by_id(list: Option<&Value>) -> HashMap<String, Value> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| Some((entry.get("id")?.as_str()?.to_owned(), entry.clone())))
        .collect()
}

/// The users who wrote part of a record: its creator, and whoever changed its body beyond
/// reviewers' fields. Only a supervisor who is none of them may approve and sign it; the app
/// asks this to offer signing to those the server will accept.
pub fn record_writers(document: &mut Document) -> Result<BTreeSet<UserId>, DocumentError> {
    let template = document.template()?;
    let mut layout = Layout {
        template,
        paths: HashMap::new(),
    };
    layout
        .writers(document.automerge())
        .into_iter()
        .map(|user| user.parse().map_err(DocumentError::from))
        .collect()
}

struct Judge<'a> {
    doc: DocId,
    pusher: Pusher<'a>,
    layout: Layout,
    /// The users who wrote part of the record ([`Layout::writers`]), once asked for.
    writers: Option<BTreeSet<String>>,
}

/// Whether an operation on an append-only list (addenda, disclosures) only adds: it inserts
/// a new entry into the list, or writes inside an entry made by the same change.
fn only_appends(path: &[String], op: &automerge::legacy::Op, made_here: bool) -> bool {
    let inserts_entry = path.len() == 1 && op.insert;
    !matches!(op.action, OpType::Delete) && (inserts_entry || made_here)
}

/// Where in a document's layout an operation falls.
struct Layout {
    template: &'static Template,
    /// Each object's path from the root, as map keys ("*" for a list position).
    paths: HashMap<ObjectId, Vec<String>>,
}

/// What one change did, gathered from its operations.
#[derive(Default)]
struct Touched {
    /// The status it put, if it put one.
    status: Option<String>,
    /// It put `submitted_at` or `finalised_at`.
    status_time: bool,
    /// It entered or changed when the visit took place.
    visit_times: bool,
    /// It recorded a disclosure.
    disclosures: bool,
    /// It attached (or, on a record, took off) a photo, scan or signature.
    attachments: bool,
    /// It recorded a case event.
    events: bool,
    body: bool,
    /// It touched body fields other than reviewers' ones.
    body_beyond_review: bool,
    review: bool,
    signoff: bool,
    addenda: bool,
    /// Fields of a record fixed at creation, or other fields no change may touch.
    fixed: Option<String>,
    team: bool,
}

impl Judge<'_> {
    fn not_allowed(&self, reason: impl Into<String>) -> Rejection {
        Rejection::NotAllowed {
            doc: self.doc,
            reason: reason.into(),
        }
    }

    fn forged(&self, reason: impl Into<String>) -> Rejection {
        Rejection::ForgedAuthor {
            doc: self.doc,
            reason: reason.into(),
        }
    }

    fn check(
        &mut self,
        document: &mut AutoCommit,
        change: &Change,
        existed: bool,
    ) -> Result<(), Rejection> {
        let actor = change.actor_id().clone();
        if actor == crate::document::Writer::server().actor {
            return Err(self.forged("only the server writes as the administrator"));
        }
        let creation = change.deps().is_empty();
        if creation && existed {
            return Err(self.not_allowed("a document is created once"));
        }
        self.check_registered(document, &actor)?;
        let expanded = change.decode();
        let start_op = change.start_op().get();
        let mut touched = Touched::default();
        for op in &expanded.operations {
            let mut path = self.path_of(document, &op.obj)?;
            if let Key::Map(key) = &op.key {
                path.push(key.to_string());
            }
            let Some(area) = path.first().cloned() else {
                return Err(self.not_allowed("an operation on the document's root itself"));
            };
            let on_root = op.obj == ObjectId::Root;
            let made_here = match &op.obj {
                ObjectId::Root => false,
                ObjectId::Id(id) => {
                    id.actor() == &actor
                        && (start_op..start_op + change.len() as u64).contains(&id.counter())
                }
            };
            if matches!(
                op.action,
                OpType::Increment(_) | OpType::MarkBegin(_) | OpType::MarkEnd(_)
            ) {
                return Err(self.not_allowed("counters and marks are not part of a record"));
            }
            let value = match &op.action {
                OpType::Put(ScalarValue::Str(text)) => Some(text.to_string()),
                _ => None,
            };
            match area.as_str() {
                "authors" => {
                    let own = actor.to_hex_string();
                    let registers_self = path.len() == 2
                        && path[1] == own
                        && value.as_deref() == Some(self.pusher.user.as_str());
                    let makes_map = creation && path.len() == 1;
                    if !(registers_self || makes_map) {
                        return Err(self.forged(format!(
                            "a change registers an author other than {}",
                            self.pusher.user
                        )));
                    }
                }
                "author" if on_root => {
                    self.expect_pusher(value.as_deref(), "the document's author")?;
                }
                _ => {}
            }
            if on_root && !creation && self.fixed_fields().contains(&area.as_str()) {
                touched.fixed = Some(area.clone());
            }
            let changing = match self.doc {
                DocId::Record(_) => RECORD_CHANGING,
                DocId::Case(_) => CASE_CHANGING,
            };
            let known =
                self.fixed_fields().contains(&area.as_str()) || changing.contains(&area.as_str());
            if !known {
                return Err(self.not_allowed(format!("{area:?} is not part of this document")));
            }
            if matches!(self.doc, DocId::Record(_)) {
                self.note_record_op(&mut touched, &path, value, made_here, op)?;
            } else {
                self.note_case_op(&mut touched, &path, value, made_here, op)?;
            }
        }
        if let Some(field) = touched.fixed {
            return Err(self.not_allowed(format!("{field} is fixed when the document is created")));
        }
        if creation {
            if touched.attachments {
                self.check_attachments(document, change)?;
            }
            return self.check_creation(&touched);
        }
        match self.doc {
            DocId::Record(_) => self.check_record_change(document, change, &touched),
            DocId::Case(_) if touched.team => Err(self.not_allowed(
                "the case's team is kept by the server: ask the team's supervisor or an \
                 administrator",
            )),
            DocId::Case(_) => {
                if touched.attachments {
                    self.check_attachments(document, change)?;
                }
                if touched.disclosures {
                    self.check_disclosures(document, change)?;
                }
                if touched.events {
                    self.check_new_events(document, change)?;
                }
                Ok(())
            }
        }
    }

    /// A closure or a transfer this change records rests on its summary record, and a
    /// transfer to another team is the supervisor's.
    fn check_new_events(&self, document: &AutoCommit, change: &Change) -> Result<(), Rejection> {
        let deps = change.deps().to_vec();
        let at = [change.hash()];
        let text = |entry: &ObjId, key: &str, heads: &[ChangeHash]| {
            document
                .get_at(entry, key, heads)
                .ok()
                .flatten()
                .and_then(|(value, _)| value.as_str().map(|text| text.trim().to_owned()))
                .unwrap_or_default()
        };
        let ids = |heads: &[ChangeHash]| -> Vec<(String, ObjId)> {
            let Ok(Some((_, list))) = document.get_at(ROOT, "events", heads) else {
                return Vec::new();
            };
            (0..document.length_at(&list, heads))
                .filter_map(|index| document.get_at(&list, index, heads).ok().flatten())
                .map(|(_, entry)| (text(&entry, "id", heads), entry))
                .collect()
        };
        let before: BTreeSet<String> = ids(&deps).into_iter().map(|(id, _)| id).collect();
        for (id, entry) in ids(&at) {
            if before.contains(&id) {
                continue;
            }
            let kind = text(&entry, "kind", &at);
            if matches!(kind.as_str(), "closure" | "transfer")
                && text(&entry, "summary", &at).is_empty()
            {
                return Err(self.not_allowed(format!(
                    "a {kind} rests on its summary record: write it first"
                )));
            }
            if kind == "transfer"
                && !text(&entry, "to_team", &at).is_empty()
                && self.pusher.role != TeamRole::Supervisor
            {
                return Err(Rejection::NotASupervisor {
                    doc: self.doc,
                    action: "transfer a case to another team",
                });
            }
        }
        Ok(())
    }

    /// Every disclosure, as of this change, names its recipient and what was shared, and
    /// rests on a consent or a reason.
    fn check_disclosures(&self, document: &AutoCommit, change: &Change) -> Result<(), Rejection> {
        let at = [change.hash()];
        let Ok(Some((_, list))) = document.get_at(ROOT, "disclosures", &at) else {
            return Err(self.not_allowed("disclosures are a list"));
        };
        let text = |entry: &ObjId, key: &str| {
            document
                .get_at(entry, key, &at)
                .ok()
                .flatten()
                .and_then(|(value, _)| value.as_str().map(|text| text.trim().to_owned()))
                .unwrap_or_default()
        };
        for index in 0..document.length_at(&list, &at) {
            let Ok(Some((_, entry))) = document.get_at(&list, index, &at) else {
                return Err(self.not_allowed("a disclosure does not read"));
            };
            if text(&entry, "to").is_empty() || text(&entry, "what").is_empty() {
                return Err(self.not_allowed("a disclosure says to whom it went and what"));
            }
            if text(&entry, "consent").is_empty() && text(&entry, "basis").is_empty() {
                return Err(self.not_allowed(
                    "a disclosure rests on a consent or on a reason for sharing without one",
                ));
            }
        }
        Ok(())
    }

    fn fixed_fields(&self) -> &'static [&'static str] {
        match self.doc {
            DocId::Record(_) => RECORD_FIXED,
            DocId::Case(_) => CASE_FIXED,
        }
    }

    /// The change's actor must be registered to the pusher, and only to them: an honest
    /// writer registers itself in its first change of a document.
    fn check_registered(&self, document: &AutoCommit, actor: &ActorId) -> Result<(), Rejection> {
        let authors = match document.get(ROOT, "authors") {
            Ok(Some((_, authors))) => authors,
            _ => return Err(self.not_allowed("the document has no authors")),
        };
        let values = document
            .get_all(&authors, actor.to_hex_string())
            .unwrap_or_default();
        let all_pusher = values
            .iter()
            .all(|(value, _)| value.as_str() == Some(self.pusher.user.as_str()));
        if values.is_empty() || !all_pusher {
            return Err(self.forged(format!(
                "a change's writer is not registered to {}",
                self.pusher.user
            )));
        }
        Ok(())
    }

    fn expect_pusher(&self, value: Option<&str>, what: &str) -> Result<(), Rejection> {
        if value == Some(self.pusher.user.as_str()) {
            Ok(())
        } else {
            Err(self.forged(format!(
                "{what} must be the signed-in user, {}",
                self.pusher.user
            )))
        }
    }

    fn note_record_op(
        &mut self,
        touched: &mut Touched,
        path: &[String],
        value: Option<String>,
        made_here: bool,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        let on_root = op.obj == ObjectId::Root;
        if on_root && matches!(path[0].as_str(), "review" | "addenda" | "body") {
            // The lists and the body themselves: fixed when the record is created.
            return Ok(());
        }
        match path[0].as_str() {
            "status" if path.len() == 1 => {
                touched.status = Some(value.unwrap_or_default());
            }
            "submitted_at" | "finalised_at" if path.len() == 1 => touched.status_time = true,
            "occurred_start" | "occurred_end" => touched.visit_times = true,
            "signoff" => {
                touched.signoff = true;
                if path.get(1).map(String::as_str) == Some("by") && path.len() == 2 {
                    self.expect_pusher(value.as_deref(), "the sign-off's signer")?;
                }
            }
            "review" => {
                touched.review = true;
                if path.len() == 3 && path[2] == "by" {
                    self.expect_pusher(value.as_deref(), "a review entry's reviewer")?;
                }
            }
            "addenda" => {
                touched.addenda = true;
                if !only_appends(path, op, made_here) {
                    return Err(
                        self.not_allowed("addenda are added; nothing already there is changed")
                    );
                }
                if path.len() == 3 && path[2] == "author" {
                    self.expect_pusher(value.as_deref(), "an addendum's author")?;
                }
            }
            "attachments" => {
                touched.attachments = true;
                self.check_attachment_op(path, value.as_deref(), made_here, op, true)?;
            }
            "body" => {
                touched.body = true;
                if !self.is_review_field(path) {
                    touched.body_beyond_review = true;
                }
                self.check_on_scale(path, op)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// A rating put into a field with a scale lies on it.
    fn check_on_scale(&self, path: &[String], op: &automerge::legacy::Op) -> Result<(), Rejection> {
        let template = self.layout.template;
        let spec = match path {
            [_, field] => template.field(field),
            [_, list, _, field] => template.list(list).and_then(|list| list.field(field)),
            _ => None,
        };
        let Some(crate::template::FieldSpec {
            kind: crate::template::FieldKind::Scale { min, max },
            label,
            ..
        }) = spec
        else {
            return Ok(());
        };
        let on_scale = match &op.action {
            OpType::Put(ScalarValue::Int(number)) => (*min..=*max).contains(number),
            OpType::Put(ScalarValue::Uint(number)) => {
                i64::try_from(*number).is_ok_and(|number| (*min..=*max).contains(&number))
            }
            OpType::Delete => true,
            _ => false,
        };
        if on_scale {
            Ok(())
        } else {
            Err(self.not_allowed(format!("{label} is rated from {min} to {max}")))
        }
    }

    fn note_case_op(
        &self,
        touched: &mut Touched,
        path: &[String],
        value: Option<String>,
        made_here: bool,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        match path[0].as_str() {
            "team" => touched.team = true,
            "group_attendance" => {
                return Err(self.not_allowed(
                    "a member's group attendance is written by the server, from the group's \
                     session records",
                ));
            }
            "disclosures" => {
                touched.disclosures = true;
                let on_root = op.obj == ObjectId::Root;
                // Cases opened before disclosures were recorded gain the list on the first.
                let makes_list =
                    on_root && matches!(op.action, OpType::Make(automerge::ObjType::List));
                if !(makes_list || (!on_root && only_appends(path, op, made_here))) {
                    return Err(
                        self.not_allowed("disclosures are added; nothing already there is changed")
                    );
                }
                if path.len() == 3 && path[2] == "by" {
                    self.expect_pusher(value.as_deref(), "a disclosure's recorder")?;
                }
            }
            "events" => {
                touched.events = true;
                if path.len() == 3 && path[2] == "by" {
                    self.expect_pusher(value.as_deref(), "a case event's recorder")?;
                }
            }
            "attachments" => {
                touched.attachments = true;
                self.check_attachment_op(path, value.as_deref(), made_here, op, false)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// An operation on a document's attachments: the list made (by documents made before
    /// attachments existed), an entry added with its attacher the pusher, or (on a record,
    /// `removable`) an entry taken off. An entry is never changed, and its tombstone is the
    /// server's alone to write.
    fn check_attachment_op(
        &self,
        path: &[String],
        value: Option<&str>,
        made_here: bool,
        op: &automerge::legacy::Op,
        removable: bool,
    ) -> Result<(), Rejection> {
        if op.obj == ObjectId::Root {
            return match op.action {
                OpType::Make(automerge::ObjType::List) => Ok(()),
                _ => Err(self.not_allowed("attachments are a list")),
            };
        }
        if path.get(2).map(String::as_str) == Some("erased") {
            return Err(self.not_allowed(
                "an attachment is erased by an administrator, on the server: ask one",
            ));
        }
        let removes = path.len() == 1 && matches!(op.action, OpType::Delete) && !op.insert;
        if removes && removable {
            return Ok(());
        }
        if !only_appends(path, op, made_here) {
            return Err(self.not_allowed("attachments are added; nothing already there is changed"));
        }
        if path.len() == 3 && path[2] == "by" {
            self.expect_pusher(value, "an attachment's attacher")?;
        }
        Ok(())
    }

    /// Every attachment, as of this change, reads as a reference to a blob of a media type
    /// the app can show, and none is erased but by the server.
    fn check_attachments(&self, document: &AutoCommit, change: &Change) -> Result<(), Rejection> {
        let json = crate::document::render_keys_at(document, &[change.hash()], &["attachments"])
            .map_err(|_| self.not_allowed("attachments do not read"))?;
        let entries = json
            .get("attachments")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for entry in entries {
            let attachment: crate::attachments::Attachment = serde_json::from_value(entry)
                .map_err(|error| {
                    self.not_allowed(format!("an attachment does not read: {error}"))
                })?;
            crate::attachments::check_media_type(&attachment.media_type)
                .map_err(|error| self.not_allowed(error.to_string()))?;
            if attachment.strokes.is_some() != (attachment.kind == AttachmentKind::Signature) {
                return Err(self.not_allowed("a signature, and only a signature, has strokes"));
            }
        }
        Ok(())
    }

    fn check_creation(&self, touched: &Touched) -> Result<(), Rejection> {
        let draft = touched
            .status
            .as_deref()
            .is_none_or(|status| status == RecordStatus::Draft.as_str());
        if touched.signoff || touched.review || touched.addenda || touched.status_time || !draft {
            return Err(self.not_allowed("a record is created as an empty draft"));
        }
        Ok(())
    }

    fn check_record_change(
        &mut self,
        document: &mut AutoCommit,
        change: &Change,
        touched: &Touched,
    ) -> Result<(), Rejection> {
        let deps = change.deps().to_vec();
        let signed_before = matches!(document.get_at(ROOT, "signoff", &deps), Ok(Some(_)));
        let status_before: RecordStatus = match document.get_at(ROOT, "status", &deps) {
            Ok(Some((value, _))) => value
                .as_str()
                .and_then(|status| status.parse().ok())
                .ok_or_else(|| self.not_allowed("the record's status does not read"))?,
            _ => return Err(self.not_allowed("the record's status does not read")),
        };
        let finalised_before = signed_before || status_before == RecordStatus::Finalised;
        let role = self.pusher.role;
        let user = self.pusher.user.as_str();

        if touched.attachments {
            if finalised_before {
                return Err(Rejection::RecordSigned { doc: self.doc });
            }
            if !status_before.author_may_edit() {
                return Err(self.not_allowed(
                    "a submitted record waits for review: return it to the author to attach to it",
                ));
            }
            self.check_attachments(document, change)?;
        }

        if finalised_before {
            let beyond_addenda = touched.body
                || touched.visit_times
                || touched.review
                || touched.status.is_some()
                || touched.status_time
                || (touched.signoff && signed_before);
            if beyond_addenda {
                return Err(Rejection::RecordSigned { doc: self.doc });
            }
        } else if touched.addenda {
            return Err(self.not_allowed("addenda are added to a signed record"));
        }

        if touched.body && status_before == RecordStatus::Submitted {
            if touched.body_beyond_review {
                return Err(self.not_allowed(
                    "a submitted record waits for review: return it to the author to change it",
                ));
            }
            if role != TeamRole::Supervisor {
                return Err(Rejection::NotASupervisor {
                    doc: self.doc,
                    action: "comment on a submitted record",
                });
            }
        }
        if touched.visit_times && !status_before.author_may_edit() {
            return Err(self.not_allowed(
                "the visit's times are changed while the record is a draft or returned to its \
                 author",
            ));
        }
        if touched.status_time && touched.status.is_none() {
            return Err(self.not_allowed("a review time is set only with the status it marks"));
        }
        if touched.review && status_before != RecordStatus::Submitted {
            return Err(self.not_allowed("only a submitted record is reviewed"));
        }
        if touched.review && role != TeamRole::Supervisor {
            return Err(Rejection::NotASupervisor {
                doc: self.doc,
                action: "review a record",
            });
        }
        if let Some(status) = &touched.status {
            let next: RecordStatus = status
                .parse()
                .map_err(|_| self.not_allowed(format!("{status:?} is not a status")))?;
            if !status_before.may_become(next) {
                return Err(self.not_allowed(format!(
                    "a {} record does not become {}",
                    status_before.as_str(),
                    next.as_str()
                )));
            }
            match next {
                RecordStatus::Submitted => {
                    let at = [change.hash()];
                    let entered =
                        |key: &str| matches!(document.get_at(ROOT, key, &at), Ok(Some(_)));
                    let has_occasion = self.layout.template.kind != template::CLOSING_SUMMARY.kind
                        && self.layout.template.kind != template::HANDOVER_SUMMARY.kind;
                    if has_occasion && !(entered("occurred_start") && entered("occurred_end")) {
                        return Err(self.not_allowed(
                            "a record is submitted with the times of the visit or session",
                        ));
                    }
                    if !touched.body_beyond_review && !self.writers(document)?.contains(user) {
                        return Err(self
                            .not_allowed("a record is submitted by someone who wrote part of it"));
                    }
                }
                RecordStatus::Returned | RecordStatus::Finalised => {
                    if role != TeamRole::Supervisor {
                        return Err(Rejection::NotASupervisor {
                            doc: self.doc,
                            action: if next == RecordStatus::Returned {
                                "return a record"
                            } else {
                                "approve and sign a record"
                            },
                        });
                    }
                    if next == RecordStatus::Finalised && self.writers(document)?.contains(user) {
                        return Err(Rejection::OwnRecord { doc: self.doc });
                    }
                }
                RecordStatus::Draft => {}
            }
        }
        if touched.signoff {
            self.check_signoff(document, change, status_before)?;
        }
        Ok(())
    }

    fn check_signoff(
        &mut self,
        document: &mut AutoCommit,
        change: &Change,
        status_before: RecordStatus,
    ) -> Result<(), Rejection> {
        let doc = self.doc;
        let bad = |reason: &str| Rejection::BadSignOff {
            doc,
            reason: reason.to_owned(),
        };
        if status_before != RecordStatus::Finalised {
            return Err(bad("a record is signed once it is approved"));
        }
        if self.pusher.role != TeamRole::Supervisor {
            return Err(Rejection::NotASupervisor {
                doc: self.doc,
                action: "approve and sign a record",
            });
        }
        let user = self.pusher.user;
        if self.writers(document)?.contains(user.as_str()) {
            return Err(Rejection::OwnRecord { doc });
        }
        let at = [change.hash()];
        let signoff = match document.get_at(ROOT, "signoff", &at) {
            Ok(Some((_, signoff))) => signoff,
            _ => return Err(bad("the sign-off is not a map")),
        };
        let by = document
            .get_at(&signoff, "by", &at)
            .ok()
            .flatten()
            .and_then(|(value, _)| value.as_str().map(str::to_owned));
        if by.as_deref() != Some(self.pusher.user.as_str()) {
            return Err(self.forged("the sign-off's signer must be the signed-in user"));
        }
        let heads = match document.get_at(&signoff, "heads", &at) {
            Ok(Some((_, heads))) => heads,
            _ => return Err(bad("the sign-off holds no heads")),
        };
        let mut signed: Vec<ChangeHash> = Vec::new();
        for index in 0..document.length_at(&heads, &at) {
            let head = document
                .get_at(&heads, index, &at)
                .ok()
                .flatten()
                .and_then(|(value, _)| value.as_str().and_then(|text| text.parse().ok()))
                .ok_or_else(|| bad("a sign-off head does not read"))?;
            signed.push(head);
        }
        let signed: BTreeSet<ChangeHash> = signed.into_iter().collect();
        let deps: BTreeSet<ChangeHash> = change.deps().iter().copied().collect();
        if signed != deps {
            return Err(bad(
                "the sign-off's heads must be the record's heads when it was approved",
            ));
        }
        Ok(())
    }

    fn writers(&mut self, document: &mut AutoCommit) -> Result<&BTreeSet<String>, Rejection> {
        if self.writers.is_none() {
            self.writers = Some(self.layout.writers(document));
        }
        Ok(self.writers.as_ref().expect("filled above"))
    }

    fn path_of(&mut self, document: &AutoCommit, obj: &ObjectId) -> Result<Vec<String>, Rejection> {
        self.layout
            .path_of(document, obj)
            .ok_or_else(|| self.not_allowed("an operation on an object the document lacks"))
    }

    fn is_review_field(&self, path: &[String]) -> bool {
        self.layout.is_review_field(path)
    }
}

impl Layout {
    /// The users who wrote part of the record: who created it, and whoever changed any of
    /// its body beyond reviewers' fields, by the document's (checked) register of authors.
    fn writers(&mut self, document: &mut AutoCommit) -> BTreeSet<String> {
        let mut authors: HashMap<String, String> = HashMap::new();
        if let Ok(Some((_, map))) = document.get(ROOT, "authors") {
            for actor in document.keys(&map) {
                if let Ok(Some((value, _))) = document.get(&map, &actor)
                    && let Some(user) = value.as_str()
                {
                    authors.insert(actor.clone(), user.to_owned());
                }
            }
        }
        let mut writers = BTreeSet::new();
        // Whoever created it, by the header no change may alter.
        if let Ok(Some((value, _))) = document.get(ROOT, "author")
            && let Some(author) = value.as_str()
        {
            writers.insert(author.to_owned());
        }
        for change in document.get_changes(&[]) {
            let Some(user) = authors.get(&change.actor_id().to_hex_string()) else {
                continue;
            };
            if writers.contains(user) {
                continue;
            }
            let wrote = change.deps().is_empty()
                || change.decode().operations.iter().any(|op| {
                    let mut path = self.path_of(document, &op.obj).unwrap_or_default();
                    if let Key::Map(key) = &op.key {
                        path.push(key.to_string());
                    }
                    path.first().map(String::as_str) == Some("body") && !self.is_review_field(&path)
                });
            if wrote {
                writers.insert(user.clone());
            }
        }
        writers
    }

    /// Whether a body path is within a reviewer's field (a supervisor's comment).
    fn is_review_field(&self, path: &[String]) -> bool {
        let template = self.template;
        match path {
            [_, field, ..] if template.field(field).is_some() => {
                template.field(field).is_some_and(|spec| spec.review)
            }
            [_, list, _, field, ..] => template
                .list(list)
                .and_then(|list| list.field(field))
                .is_some_and(|spec| spec.review),
            _ => false,
        }
    }

    /// An object's path from the root, cached; `None` for an object the document lacks.
    fn path_of(&mut self, document: &AutoCommit, obj: &ObjectId) -> Option<Vec<String>> {
        let ObjectId::Id(id) = obj else {
            return Some(Vec::new());
        };
        if let Some(path) = self.paths.get(obj) {
            return Some(path.clone());
        }
        // The actor's index is looked up by its id when the one given does not match.
        let exid = ObjId::Id(id.counter(), id.actor().clone(), usize::MAX);
        let mut path: Vec<String> = document
            .parents(&exid)
            .ok()?
            .map(|parent| match parent.prop {
                Prop::Map(key) => key,
                Prop::Seq(_) => "*".to_owned(),
            })
            .collect();
        path.reverse();
        self.paths.insert(obj.clone(), path.clone());
        Some(path)
    }
}

#[cfg(test)]
mod tests {
    use automerge::ObjType;
    use automerge::transaction::Transactable;
    use chrono::Utc;

    use super::*;
    use crate::document::{Document, Edit, Occurrence, Writer};
    use crate::ids::{CaseId, RecordId};
    use crate::sync::protocol::{DocChanges, Heads, Push};
    use crate::sync::validate::{PushContext, PushLimits, check_push};

    /// The server's side of one document: its log, and the check each push goes through.
    struct Server {
        log: Vec<Vec<u8>>,
        doc: DocId,
        case: CaseId,
    }

    impl Server {
        fn push(
            &mut self,
            device: &mut Document,
            user: &str,
            role: TeamRole,
        ) -> Result<(), Rejection> {
            let known = self.heads();
            let changes = device.changes_after(&known);
            let heads = device.heads();
            self.push_bytes(changes, &heads, user, role)
        }

        /// Pushes changes as they are, however they were made.
        fn push_bytes(
            &mut self,
            changes: Vec<u8>,
            heads: &[ChangeHash],
            user: &str,
            role: TeamRole,
        ) -> Result<(), Rejection> {
            let push = Push {
                changes: DocChanges {
                    doc: self.doc,
                    case_id: self.case,
                    changes,
                },
                heads: Heads::from_hashes(heads),
            };
            let user: UserId = user.parse().unwrap();
            let context = PushContext {
                pusher: Pusher { user: &user, role },
                limits: PushLimits::default(),
            };
            let accepted = check_push(&self.log, &push, &context)?;
            if !accepted.new_changes.is_empty() {
                self.log.push(accepted.new_changes);
            }
            Ok(())
        }

        fn heads(&self) -> Vec<ChangeHash> {
            self.copy().map_or_else(Vec::new, |mut copy| copy.heads())
        }

        fn copy(&self) -> Option<Document> {
            let parts: Vec<&[u8]> = self.log.iter().map(Vec::as_slice).collect();
            (!parts.is_empty()).then(|| Document::load(&[], &parts).unwrap())
        }

        /// A device that has everything the server has, writing as `user`.
        fn device(&self, user: &str) -> (Document, Writer) {
            let parts: Vec<&[u8]> = self.log.iter().map(Vec::as_slice).collect();
            let document = Document::load(&[], &parts).unwrap();
            (document, Writer::new_device(user.parse().unwrap()))
        }

        fn pull(&self, device: &mut Document) {
            device.apply_remote(&self.log.concat()).unwrap();
        }
    }

    /// One action a device might try on a record.
    type Attempt = fn(&mut Document, &Writer) -> Result<(), crate::document::DocumentError>;

    const WORKER: TeamRole = TeamRole::Worker;
    const COLLEAGUE: TeamRole = TeamRole::Colleague;
    const SUPERVISOR: TeamRole = TeamRole::Supervisor;

    /// When amara's visit took place: the hour before last.
    fn visit_times() -> Occurrence {
        let now = Utc::now();
        Occurrence::between(
            now - chrono::Duration::hours(2),
            now - chrono::Duration::hours(1),
        )
    }

    /// Amara's record with her first words, accepted by the server.
    fn amaras_record() -> (Server, Document, Writer) {
        let amara = Writer::new_device("amara".parse().unwrap());
        let (id, case) = (RecordId::random(), CaseId::random());
        let mut record = Document::new_record(
            &amara,
            id,
            case,
            RecordKind::HomeVisit,
            visit_times(),
            Utc::now(),
        )
        .unwrap();
        record
            .edit(
                &amara,
                &Edit::text("observed_home", "Cold flat, heater broken."),
                Utc::now(),
            )
            .unwrap();
        let mut server = Server {
            log: Vec::new(),
            doc: DocId::Record(id),
            case,
        };
        server.push(&mut record, "amara", WORKER).unwrap();
        (server, record, amara)
    }

    /// Amara's record, co-written by grace (a supervisor) and submitted by amara; returns
    /// amara's and grace's writers.
    fn co_written_and_submitted() -> (Server, Writer, Writer) {
        let (mut server, mut record, amara) = amaras_record();
        let (mut grace_copy, grace) = server.device("grace");
        grace_copy
            .edit(
                &grace,
                &Edit::text("plan", "Chase the landlord."),
                Utc::now(),
            )
            .unwrap();
        server.push(&mut grace_copy, "grace", SUPERVISOR).unwrap();
        server.pull(&mut record);
        record.submit(&amara, Utc::now()).unwrap();
        server.push(&mut record, "amara", WORKER).unwrap();
        (server, amara, grace)
    }

    /// Amara's record, submitted.
    fn submitted() -> (Server, Document, Writer) {
        let (mut server, mut record, amara) = amaras_record();
        record.submit(&amara, Utc::now()).unwrap();
        server.push(&mut record, "amara", WORKER).unwrap();
        (server, record, amara)
    }

    /// Amara's record, approved and signed by grace.
    fn signed() -> (Server, Document, Writer) {
        let (mut server, record, amara) = submitted();
        let (mut grace_copy, grace) = server.device("grace");
        grace_copy.finalise(&grace, Utc::now()).unwrap();
        server.push(&mut grace_copy, "grace", SUPERVISOR).unwrap();
        (server, record, amara)
    }

    /// Makes one change on the raw document, registering the writer as `as_user`.
    fn raw_change(
        document: &mut Document,
        writer: &Writer,
        as_user: &str,
        change: impl FnOnce(&mut AutoCommit),
    ) {
        let doc = document.automerge();
        doc.set_actor(writer.actor.clone());
        let (_, authors) = doc.get(ROOT, "authors").unwrap().unwrap();
        doc.put(&authors, writer.actor.to_hex_string(), as_user)
            .unwrap();
        change(doc);
        doc.commit();
    }

    /// The newest change a device made, rewritten as an attacker would, as bytes to push.
    fn rewritten(
        device: &mut Document,
        edit: impl FnOnce(&mut automerge::ExpandedChange),
    ) -> (Vec<u8>, ChangeHash) {
        let heads = device.heads();
        let change = device.automerge().get_change_by_hash(&heads[0]).unwrap();
        let mut expanded = change.decode();
        edit(&mut expanded);
        expanded.hash = None;
        let forged = Change::from(expanded);
        (forged.raw_bytes().to_vec(), forged.hash())
    }

    /// The operation that put the value of `key` in `obj`, as a predecessor names it.
    fn op_of(document: &mut Document, obj: &ObjId, key: &str) -> automerge::legacy::OpId {
        match document.automerge().get(obj, key).unwrap().unwrap().1 {
            ObjId::Id(counter, actor, _) => automerge::legacy::OpId(counter, actor),
            ObjId::Root => unreachable!(),
        }
    }

    fn op_id(id: ObjId) -> automerge::legacy::OpId {
        match id {
            ObjId::Id(counter, actor, _) => automerge::legacy::OpId(counter, actor),
            ObjId::Root => unreachable!(),
        }
    }

    #[test]
    fn a_stale_change_that_overwrites_the_sign_off_is_refused() {
        let (mut server, _, amara) = amaras_record();
        // Amara's copy from while it was a draft.
        let (mut stale, _) = server.device("amara");
        let mut submitted = server.copy().unwrap();
        submitted.submit(&amara, Utc::now()).unwrap();
        server.push(&mut submitted, "amara", WORKER).unwrap();
        let (mut grace_copy, grace) = server.device("grace");
        grace_copy.finalise(&grace, Utc::now()).unwrap();
        server.push(&mut grace_copy, "grace", SUPERVISOR).unwrap();
        let mut signed = server.copy().unwrap();
        let signoff = op_of(&mut signed, &ROOT, "signoff");
        let status = op_of(&mut signed, &ROOT, "status");

        // A submit written on the draft (on her other device), whose predecessors name the
        // sign-off and the supervisor's status, so that Automerge would take both away.
        let tablet = Writer::new_device(amara.user.clone());
        stale.submit(&tablet, Utc::now()).unwrap();
        let (bytes, hash) = rewritten(&mut stale, |change| {
            for op in &mut change.operations {
                if op.key == Key::Map("status".into()) {
                    let mut pred: Vec<_> = op.pred.iter().cloned().collect();
                    pred.extend([signoff.clone(), status.clone()]);
                    op.pred = pred.into();
                }
            }
        });
        let refused = server
            .push_bytes(bytes, &[hash], "amara", WORKER)
            .unwrap_err();
        assert!(
            ["record_signed", "invalid_changes"].contains(&refused.code()),
            "{refused}"
        );

        // The same status written with an operation number chosen to win the conflict.
        let mut stale = Document::load(&[], &[&server.log[0]]).unwrap();
        stale
            .submit(&Writer::new_device(amara.user.clone()), Utc::now())
            .unwrap();
        let (bytes, hash) = rewritten(&mut stale, |change| {
            change.start_op = std::num::NonZeroU64::new(1_000_000).unwrap();
        });
        let refused = server
            .push_bytes(bytes, &[hash], "amara", WORKER)
            .unwrap_err();
        assert_eq!(refused.code(), "record_signed", "{refused}");
    }

    #[test]
    fn an_addendum_that_overwrites_another_is_refused() {
        let (mut server, _, _) = signed();
        let (mut ben_copy, ben) = server.device("ben");
        ben_copy
            .add_addendum(
                &ben,
                "Late information",
                "The son left at noon.",
                Utc::now(),
            )
            .unwrap();
        server.push(&mut ben_copy, "ben", COLLEAGUE).unwrap();
        let mut current = server.copy().unwrap();
        let addenda = current.automerge().get(ROOT, "addenda").unwrap().unwrap().1;
        let bens = op_id(current.automerge().get(&addenda, 0).unwrap().unwrap().1);
        let (mut amara_copy, amara) = server.device("amara");
        amara_copy
            .add_addendum(&amara, "Correction", "He stayed all day.", Utc::now())
            .unwrap();
        let (bytes, hash) = rewritten(&mut amara_copy, |change| {
            for op in change.operations.iter_mut().filter(|op| op.insert) {
                op.pred = vec![bens.clone()].into();
            }
        });
        let refused = server
            .push_bytes(bytes, &[hash], "amara", WORKER)
            .unwrap_err();
        assert!(
            ["not_allowed", "invalid_changes"].contains(&refused.code()),
            "{refused}"
        );
    }

    #[test]
    fn a_writer_cannot_unregister_to_sign_what_they_wrote() {
        let (mut server, _, grace) = co_written_and_submitted();
        // From a new writer, grace registers herself over her old writer's entry, then signs.
        let mut copy = server.copy().unwrap();
        let authors = copy.automerge().get(ROOT, "authors").unwrap().unwrap().1;
        let old_entry = op_of(&mut copy, &authors, &grace.actor.to_hex_string());
        // A writer whose id sorts after every other, so that Automerge walks past the old entry.
        let fresh = Writer {
            user: "grace".parse().unwrap(),
            actor: ActorId::from([0xff; 16].as_slice()),
        };
        copy.finalise(&fresh, Utc::now()).unwrap();
        let base = server.heads();
        let mut changes = copy.automerge().get_changes(&base);
        let mut expanded = changes.remove(0).decode();
        for op in &mut expanded.operations {
            if op.key == Key::Map(fresh.actor.to_hex_string().into()) {
                op.pred = vec![old_entry.clone()].into();
            }
        }
        expanded.hash = None;
        let first = Change::from(expanded);
        // The sign-off change, rebuilt to depend on the rewritten first change.
        let mut second = changes.remove(0).decode();
        second.deps = vec![first.hash()];
        second.hash = None;
        let mut signoff_heads = 0;
        for op in &mut second.operations {
            if let OpType::Put(ScalarValue::Str(head)) = &op.action
                && head.len() == 64
            {
                op.action = OpType::Put(ScalarValue::Str(first.hash().to_string().into()));
                signoff_heads += 1;
            }
        }
        let second = Change::from(second);
        let bytes = [first.raw_bytes(), second.raw_bytes()].concat();
        let refused = server
            .push_bytes(bytes, &[second.hash()], "grace", SUPERVISOR)
            .unwrap_err();
        assert!(
            ["forged_author", "own_record", "invalid_changes"].contains(&refused.code()),
            "{refused}"
        );
        assert_eq!(
            signoff_heads, 1,
            "the sign-off's head follows the rewritten change"
        );
    }

    #[test]
    fn widening_a_colleagues_sign_off_is_refused() {
        let (mut server, _, _) = submitted();
        let (mut grace_copy, grace) = server.device("grace");
        grace_copy.finalise(&grace, Utc::now()).unwrap();
        let approval = {
            let changes = grace_copy.automerge().get_changes(&[]);
            changes[changes.len() - 2].hash()
        };
        server.push(&mut grace_copy, "grace", SUPERVISOR).unwrap();
        let mut signed = server.copy().unwrap();
        let signoff = signed.automerge().get(ROOT, "signoff").unwrap().unwrap().1;
        let graces_heads = op_id(
            signed
                .automerge()
                .get(&signoff, "heads")
                .unwrap()
                .unwrap()
                .1,
        );

        // Hana signs too, from the approval (not knowing grace's sign-off), and in the same
        // change slips a head of her choice into grace's.
        let hana = Writer::new_device("hana".parse().unwrap());
        let at_approval = signed.automerge().fork_at(&[approval]).unwrap();
        let mut hanas =
            Document::from_automerge(at_approval.with_actor(hana.actor.clone())).unwrap();
        let raw = hanas.automerge();
        let (_, authors) = raw.get(ROOT, "authors").unwrap().unwrap();
        raw.put(&authors, hana.actor.to_hex_string(), "hana")
            .unwrap();
        let own = raw.put_object(ROOT, "signoff", ObjType::Map).unwrap();
        let heads = raw.put_object(&own, "heads", ObjType::List).unwrap();
        raw.insert(&heads, 0, approval.to_string()).unwrap();
        raw.put(&own, "by", "hana").unwrap();
        raw.put(&own, "at", ScalarValue::Timestamp(0)).unwrap();
        raw.commit();
        let (bytes, hash) = rewritten(&mut hanas, |change| {
            change.operations.push(automerge::legacy::Op {
                action: OpType::Put(ScalarValue::Str(approval.to_string().into())),
                obj: ObjectId::Id(graces_heads.clone()),
                key: Key::Seq(automerge::legacy::ElementId::Head),
                pred: Vec::new().into(),
                insert: true,
            });
        });
        let refused = server
            .push_bytes(bytes, &[hash], "hana", SUPERVISOR)
            .unwrap_err();
        assert_eq!(refused.code(), "record_signed", "{refused}");
    }

    #[test]
    fn nobody_writes_as_the_server() {
        let (mut server, mut record, _) = amaras_record();
        let as_server = Writer {
            user: "amara".parse().unwrap(),
            actor: Writer::server().actor,
        };
        record
            .edit(&as_server, &Edit::text("plan", "Close it."), Utc::now())
            .unwrap();
        let refused = server.push(&mut record, "amara", WORKER).unwrap_err();
        assert_eq!(refused.code(), "forged_author");
    }

    #[test]
    fn a_change_automerge_cannot_apply_is_refused_not_a_crash() {
        let (mut server, mut record, amara) = amaras_record();
        record
            .edit(&amara, &Edit::text("plan", "Call."), Utc::now())
            .unwrap();
        // The second change of an actor the document has never seen.
        let (bytes, hash) = rewritten(&mut record, |change| {
            change.actor_id = ActorId::random();
            change.seq = 2;
        });
        let refused = server
            .push_bytes(bytes, &[hash], "amara", WORKER)
            .unwrap_err();
        assert_eq!(refused.code(), "invalid_changes", "{refused}");
    }

    #[test]
    fn history_marks_every_change_after_the_sign_off_whatever_its_note_says() {
        let (mut server, _, _) = amaras_record();
        let (mut stale, ben) = server.device("ben");
        let mut submitted = server.copy().unwrap();
        let amara = Writer {
            user: "amara".parse().unwrap(),
            actor: submitted.authors().unwrap()[0].0.parse().unwrap(),
        };
        submitted.submit(&amara, Utc::now()).unwrap();
        server.push(&mut submitted, "amara", WORKER).unwrap();
        let (mut grace_copy, grace) = server.device("grace");
        grace_copy.finalise(&grace, Utc::now()).unwrap();
        server.push(&mut grace_copy, "grace", SUPERVISOR).unwrap();
        // Ben's edit, written beside the sign-off, whose note claims to be the sign-off.
        stale
            .edit(
                &ben,
                &Edit::text("interventions", "Gave the number."),
                Utc::now(),
            )
            .unwrap();
        let (bytes, hash) = rewritten(&mut stale, |change| {
            change.message = Some(r#"{"action":"sign_off","fields":["signoff"]}"#.into());
        });
        server.push_bytes(bytes, &[hash], "ben", COLLEAGUE).unwrap();
        let mut record = server.copy().unwrap();
        let entries = crate::document::history(&mut record).unwrap();
        let bens = entries.iter().find(|entry| entry.change == hash).unwrap();
        assert!(bens.after_signoff, "shown as an amendment");
        let signoffs = entries
            .iter()
            .filter(|entry| entry.action == Some(crate::document::Action::SignOff))
            .count();
        assert_eq!(signoffs, 2, "the real one and the claim");
        assert_eq!(
            entries.iter().filter(|entry| entry.after_signoff).count(),
            1,
            "only ben's"
        );
    }

    #[test]
    fn the_review_cycle_done_honestly_is_accepted() {
        let (mut server, mut record, amara) = submitted();
        let (mut grace_copy, grace) = server.device("grace");
        grace_copy
            .comment(&grace, "Say who else was there.", Utc::now())
            .unwrap();
        grace_copy
            .return_to_author(&grace, "Add who was there.", Utc::now())
            .unwrap();
        server.push(&mut grace_copy, "grace", SUPERVISOR).unwrap();
        server.pull(&mut record);
        record
            .edit(
                &amara,
                &Edit::text("people_present", "Client and her son."),
                Utc::now(),
            )
            .unwrap();
        record.submit(&amara, Utc::now()).unwrap();
        server.push(&mut record, "amara", WORKER).unwrap();
        server.pull(&mut grace_copy);
        grace_copy.finalise(&grace, Utc::now()).unwrap();
        server.push(&mut grace_copy, "grace", SUPERVISOR).unwrap();
        let (mut ben_copy, ben) = server.device("ben");
        ben_copy
            .add_addendum(
                &ben,
                "Late information",
                "The son left at noon.",
                Utc::now(),
            )
            .unwrap();
        server.push(&mut ben_copy, "ben", COLLEAGUE).unwrap();
    }

    #[test]
    fn a_colleague_neither_approves_nor_returns_nor_comments() {
        let (server, _, _) = submitted();
        let attempts: [Attempt; 3] = [
            |doc, ben| doc.finalise(ben, Utc::now()),
            |doc, ben| doc.return_to_author(ben, "Redo it.", Utc::now()),
            |doc, ben| doc.comment(ben, "Looks fine.", Utc::now()),
        ];
        for attempt in attempts {
            let mut server = Server {
                log: server.log.clone(),
                ..server
            };
            let (mut ben_copy, ben) = server.device("ben");
            attempt(&mut ben_copy, &ben).unwrap();
            let refused = server.push(&mut ben_copy, "ben", COLLEAGUE).unwrap_err();
            assert_eq!(refused.code(), "not_a_supervisor", "{refused}");
        }
    }

    #[test]
    fn a_supervisor_does_not_sign_a_record_they_wrote_part_of() {
        let (mut server, amara, grace) = co_written_and_submitted();
        let mut grace_copy = server.copy().unwrap();
        grace_copy.finalise(&grace, Utc::now()).unwrap();
        let refused = server
            .push(&mut grace_copy, "grace", SUPERVISOR)
            .unwrap_err();
        assert_eq!(refused.code(), "own_record");

        // Nor does the author, even as a supervisor on the team.
        let (mut own_copy, _) = server.device("amara");
        own_copy.finalise(&amara, Utc::now()).unwrap();
        let refused = server.push(&mut own_copy, "amara", SUPERVISOR).unwrap_err();
        assert_eq!(refused.code(), "own_record");

        // Another supervisor may.
        let (mut hana_copy, hana) = server.device("hana");
        hana_copy.finalise(&hana, Utc::now()).unwrap();
        server.push(&mut hana_copy, "hana", SUPERVISOR).unwrap();
    }

    #[test]
    fn writing_in_another_users_name_is_refused() {
        let (mut server, _, _) = amaras_record();
        let (mut ben_copy, _) = server.device("ben");
        let as_grace = Writer::new_device("grace".parse().unwrap());
        ben_copy
            .edit(
                &as_grace,
                &Edit::text("plan", "Close the case."),
                Utc::now(),
            )
            .unwrap();
        let refused = server.push(&mut ben_copy, "ben", COLLEAGUE).unwrap_err();
        assert_eq!(refused.code(), "forged_author");

        // Registering his own writer to grace is the same forgery.
        let (mut ben_copy, ben) = server.device("ben");
        raw_change(&mut ben_copy, &ben, "grace", |_| {});
        let refused = server.push(&mut ben_copy, "ben", COLLEAGUE).unwrap_err();
        assert_eq!(refused.code(), "forged_author");
    }

    #[test]
    fn a_sign_off_in_another_name_or_at_other_heads_is_refused() {
        let (server, _, _) = submitted();
        for (signer, heads_kept, code) in [
            ("grace", true, "forged_author"),
            ("ben", false, "bad_signoff"),
        ] {
            let mut server = Server {
                log: server.log.clone(),
                ..server
            };
            let (mut ben_copy, ben) = server.device("ben");
            let now = Utc::now().timestamp_millis();
            raw_change(&mut ben_copy, &ben, "ben", |doc| {
                doc.put(ROOT, "status", "finalised").unwrap();
                doc.put(ROOT, "finalised_at", ScalarValue::Timestamp(now))
                    .unwrap();
            });
            let finalised = ben_copy.heads();
            raw_change(&mut ben_copy, &ben, "ben", |doc| {
                let signoff = doc.put_object(ROOT, "signoff", ObjType::Map).unwrap();
                let heads = doc.put_object(&signoff, "heads", ObjType::List).unwrap();
                if heads_kept {
                    for (index, head) in finalised.iter().enumerate() {
                        doc.insert(&heads, index, head.to_string()).unwrap();
                    }
                }
                doc.put(&signoff, "by", signer).unwrap();
                doc.put(&signoff, "at", ScalarValue::Timestamp(now))
                    .unwrap();
            });
            let refused = server.push(&mut ben_copy, "ben", SUPERVISOR).unwrap_err();
            assert_eq!(refused.code(), code, "{refused}");
        }
    }

    /// A record whose visit times were never entered, accepted as a draft.
    fn record_without_times() -> (Server, Document, Writer) {
        let amara = Writer::new_device("amara".parse().unwrap());
        let (id, case) = (RecordId::random(), CaseId::random());
        let kind = RecordKind::HomeVisit;
        let mut record =
            Document::new_record(&amara, id, case, kind, Occurrence::default(), Utc::now())
                .unwrap();
        let mut server = Server {
            log: Vec::new(),
            doc: DocId::Record(id),
            case,
        };
        server.push(&mut record, "amara", WORKER).unwrap();
        (server, record, amara)
    }

    #[test]
    fn a_record_is_submitted_only_with_the_visits_times() {
        let (mut server, mut record, amara) = record_without_times();
        let refused = record.submit(&amara, Utc::now()).unwrap_err();
        assert!(
            matches!(refused, crate::document::DocumentError::VisitTimes(_)),
            "{refused}"
        );
        // A modified client submits anyway.
        let now = Utc::now().timestamp_millis();
        raw_change(&mut record, &amara, "amara", |doc| {
            doc.put(ROOT, "status", "submitted").unwrap();
            doc.put(ROOT, "submitted_at", ScalarValue::Timestamp(now))
                .unwrap();
        });
        let refused = server.push(&mut record, "amara", WORKER).unwrap_err();
        assert_eq!(refused.code(), "not_allowed", "{refused}");
        assert!(refused.to_string().contains("times"), "{refused}");

        // Entered, they are a change of their own, and the submission goes through.
        let (mut fresh, _) = server.device("amara");
        assert!(
            fresh
                .set_occurrence(&amara, visit_times(), Utc::now())
                .unwrap()
        );
        fresh.submit(&amara, Utc::now()).unwrap();
        server.push(&mut fresh, "amara", WORKER).unwrap();
    }

    #[test]
    fn visit_times_change_only_while_the_author_may_edit() {
        let (mut server, mut draft, amara) = amaras_record();
        let earlier = Occurrence::between(
            Utc::now() - chrono::Duration::hours(5),
            Utc::now() - chrono::Duration::hours(4),
        );
        draft.set_occurrence(&amara, earlier, Utc::now()).unwrap();
        server.push(&mut draft, "amara", WORKER).unwrap();

        let move_end = |record: &mut Document, server: &mut Server, expected: &str| {
            server.pull(record);
            let now = Utc::now().timestamp_millis();
            raw_change(record, &amara, "amara", |doc| {
                doc.put(ROOT, "occurred_end", ScalarValue::Timestamp(now))
                    .unwrap();
            });
            let refused = server.push(record, "amara", WORKER).unwrap_err();
            assert_eq!(refused.code(), expected, "{refused}");
        };
        let (mut server, mut record, _) = submitted();
        assert!(matches!(
            record.set_occurrence(&amara, earlier, Utc::now()),
            Err(crate::document::DocumentError::NotAllowed { .. })
        ));
        move_end(&mut record, &mut server, "not_allowed");
        let (mut server, mut record, _) = signed();
        move_end(&mut record, &mut server, "record_signed");
    }

    #[test]
    fn after_the_sign_off_only_addenda_are_added() {
        let (mut server, mut record, amara) = signed();
        server.pull(&mut record);
        let body = record.automerge().get(ROOT, "body").unwrap().unwrap().1;
        raw_change(&mut record, &amara, "amara", |doc| {
            doc.put(&body, "place", "Somewhere else").unwrap();
        });
        let refused = server.push(&mut record, "amara", WORKER).unwrap_err();
        assert_eq!(refused.code(), "record_signed");

        let (mut fresh, _) = server.device("amara");
        fresh
            .add_addendum(
                &amara,
                "Correction",
                "The visit was at the day centre.",
                Utc::now(),
            )
            .unwrap();
        server.push(&mut fresh, "amara", WORKER).unwrap();
    }

    #[test]
    fn an_edit_written_offline_beside_the_sign_off_is_kept() {
        let (mut server, _, _) = amaras_record();
        let (mut ben_copy, ben) = server.device("ben");
        let (mut record, amara) = server.device("amara");
        let amara = Writer {
            user: amara.user,
            actor: record.automerge().get_actor().clone(),
        };
        record.submit(&amara, Utc::now()).unwrap();
        server.push(&mut record, "amara", WORKER).unwrap();
        let (mut grace_copy, grace) = server.device("grace");
        grace_copy.finalise(&grace, Utc::now()).unwrap();
        server.push(&mut grace_copy, "grace", SUPERVISOR).unwrap();
        // Ben, offline since the draft, adds to it.
        ben_copy
            .edit(
                &ben,
                &Edit::text("interventions", "Gave the fuel-bank number."),
                Utc::now(),
            )
            .unwrap();
        server.push(&mut ben_copy, "ben", COLLEAGUE).unwrap();
    }

    #[test]
    fn a_records_case_and_creation_are_fixed() {
        let (mut server, mut record, amara) = amaras_record();
        raw_change(&mut record, &amara, "amara", |doc| {
            doc.put(ROOT, "case_id", CaseId::random().to_string())
                .unwrap();
        });
        let refused = server.push(&mut record, "amara", WORKER).unwrap_err();
        assert_eq!(refused.code(), "not_allowed");

        // A second "creation" under another case, to outrank the first by merge order.
        let DocId::Record(id) = server.doc else {
            unreachable!()
        };
        let other = Writer::new_device("amara".parse().unwrap());
        let mut rival = Document::new_record(
            &other,
            id,
            CaseId::random(),
            RecordKind::HomeVisit,
            Occurrence::default(),
            Utc::now(),
        )
        .unwrap();
        let refused = server.push(&mut rival, "amara", WORKER).unwrap_err();
        assert_eq!(refused.code(), "not_allowed", "{refused}");
    }

    #[test]
    fn the_writers_of_a_record_leave_out_its_reviewers() {
        let amara = Writer::new_device("amara".parse().unwrap());
        let mut record = Document::new_record(
            &amara,
            RecordId::random(),
            CaseId::random(),
            RecordKind::ProcessRecording,
            visit_times(),
            Utc::now(),
        )
        .unwrap();
        let (add, exchange) = Edit::append("exchanges");
        record.edit(&amara, &add, Utc::now()).unwrap();
        record.submit(&amara, Utc::now()).unwrap();
        let grace = Writer::new_device("grace".parse().unwrap());
        let comment = crate::document::FieldValue::Text("Good.".into());
        record
            .edit(
                &grace,
                &Edit::set_in("exchanges", exchange, "supervisor_comment", comment),
                Utc::now(),
            )
            .unwrap();
        record
            .edit(
                &grace,
                &Edit::text("supervisor_overall", "Careful work."),
                Utc::now(),
            )
            .unwrap();
        let writers = |record: &mut Document| -> Vec<String> {
            record_writers(record)
                .unwrap()
                .into_iter()
                .map(String::from)
                .collect()
        };
        assert_eq!(writers(&mut record), ["amara"]);
        record
            .return_to_author(&grace, "More detail.", Utc::now())
            .unwrap();
        let ben = Writer::new_device("ben".parse().unwrap());
        record
            .edit(
                &ben,
                &Edit::text("purpose", "Bereavement support."),
                Utc::now(),
            )
            .unwrap();
        assert_eq!(writers(&mut record), ["amara", "ben"]);
    }

    #[test]
    fn fields_outside_the_layout_are_refused() {
        let (mut server, mut record, amara) = amaras_record();
        raw_change(&mut record, &amara, "amara", |doc| {
            doc.put(ROOT, "shadow_status", "finalised").unwrap();
        });
        let refused = server.push(&mut record, "amara", WORKER).unwrap_err();
        assert_eq!(refused.code(), "not_allowed");
    }

    #[test]
    fn a_case_team_is_not_changed_by_a_device() {
        let amara = Writer::new_device("amara".parse().unwrap());
        let id = CaseId::random();
        let mut case = Document::new_case(&amara, id, "Client A", Utc::now()).unwrap();
        let mut server = Server {
            log: Vec::new(),
            doc: DocId::Case(id),
            case: id,
        };
        server.push(&mut case, "amara", WORKER).unwrap();
        case.edit(&amara, &Edit::text("client_name", "Client B"), Utc::now())
            .unwrap();
        server.push(&mut case, "amara", WORKER).unwrap();
        let roster = [
            ("amara".parse().unwrap(), WORKER),
            ("ben".parse().unwrap(), SUPERVISOR),
        ];
        case.set_team(&amara, &roster.into_iter().collect(), Utc::now())
            .unwrap();
        let refused = server.push(&mut case, "amara", WORKER).unwrap_err();
        assert_eq!(refused.code(), "not_allowed");
    }

    /// Amara's case with a consent to share with other agencies, accepted by the server.
    fn case_with_consent_to_share() -> (Server, Document, Writer, crate::ids::ItemId) {
        let amara = Writer::new_device("amara".parse().unwrap());
        let id = CaseId::random();
        let mut case = Document::new_case(&amara, id, "Client A", Utc::now()).unwrap();
        let consent = crate::ids::ItemId::random();
        let today = Utc::now().date_naive();
        let edits = [
            Edit::AddEntry {
                list: "consents".into(),
                id: consent,
                after: None,
            },
            Edit::set_in(
                "consents",
                consent,
                "scope",
                crate::document::FieldValue::Text("share_with_agencies".into()),
            ),
            Edit::set_in(
                "consents",
                consent,
                "given_on",
                crate::document::FieldValue::Date(today),
            ),
        ];
        case.edit_all(&amara, &edits, Utc::now()).unwrap();
        let mut server = Server {
            log: Vec::new(),
            doc: DocId::Case(id),
            case: id,
        };
        server.push(&mut case, "amara", WORKER).unwrap();
        (server, case, amara, consent)
    }

    fn disclosure(
        consent: Option<crate::ids::ItemId>,
        basis: &str,
    ) -> crate::model::DisclosureDraft {
        crate::model::DisclosureDraft {
            to: "Housing office, Mr Lee".into(),
            what: "The state of the heating".into(),
            on: Utc::now().date_naive(),
            consent,
            basis: basis.into(),
        }
    }

    #[test]
    fn a_disclosure_is_recorded_once_with_its_basis_and_never_changed() {
        let (mut server, mut case, amara, consent) = case_with_consent_to_share();
        case.record_disclosure(&amara, &disclosure(Some(consent), ""), Utc::now())
            .unwrap();
        case.record_disclosure(&amara, &disclosure(None, "Safeguarding duty"), Utc::now())
            .unwrap();
        server.push(&mut case, "amara", WORKER).unwrap();
        // The honest client refuses a disclosure with no basis...
        assert!(matches!(
            case.record_disclosure(&amara, &disclosure(None, ""), Utc::now()),
            Err(crate::document::DocumentError::Disclosure(_))
        ));
        // ...and so does the server, from a modified one.
        let (mut forged, _) = server.device("amara");
        let now = Utc::now().timestamp_millis();
        raw_change(&mut forged, &amara, "amara", |doc| {
            let (_, list) = doc.get(ROOT, "disclosures").unwrap().unwrap();
            let entry = doc.insert_object(&list, 2, ObjType::Map).unwrap();
            doc.put(&entry, "id", crate::ids::ItemId::random().to_string())
                .unwrap();
            doc.put(&entry, "to", "A journalist").unwrap();
            doc.put(&entry, "what", "Everything").unwrap();
            doc.put(&entry, "on", "2026-11-30").unwrap();
            doc.put(&entry, "basis", "").unwrap();
            doc.put(&entry, "by", "amara").unwrap();
            doc.put(&entry, "recorded_at", ScalarValue::Timestamp(now))
                .unwrap();
        });
        let refused = server.push(&mut forged, "amara", WORKER).unwrap_err();
        assert_eq!(refused.code(), "not_allowed", "{refused}");

        // Nor is one rewritten, removed, or recorded in another's name.
        type Tamper = fn(&mut AutoCommit, &ObjId);
        let tampering: [(Tamper, &str); 3] = [
            (
                |doc, list| {
                    let (_, entry) = doc.get(list, 0).unwrap().unwrap();
                    doc.put(&entry, "basis", "No reason").unwrap();
                },
                "not_allowed",
            ),
            (|doc, list| doc.delete(list, 1).unwrap(), "not_allowed"),
            (
                |doc, list| {
                    let (_, entry) = doc.get(list, 1).unwrap().unwrap();
                    let copy = doc.insert_object(list, 2, ObjType::Map).unwrap();
                    for key in ["to", "what", "on", "basis"] {
                        let (value, _) = doc.get(&entry, key).unwrap().unwrap();
                        doc.put(&copy, key, value.as_str().unwrap_or_default().to_owned())
                            .unwrap();
                    }
                    doc.put(&copy, "id", crate::ids::ItemId::random().to_string())
                        .unwrap();
                    doc.put(&copy, "by", "ben").unwrap();
                },
                "forged_author",
            ),
        ];
        for (tamper, code) in tampering {
            let (mut forged, _) = server.device("amara");
            raw_change(&mut forged, &amara, "amara", |doc| {
                let (_, list) = doc.get(ROOT, "disclosures").unwrap().unwrap();
                tamper(doc, &list);
            });
            let refused = server.push(&mut forged, "amara", WORKER).unwrap_err();
            assert_eq!(refused.code(), code, "{refused}");
        }
    }

    #[test]
    fn a_rating_off_its_scale_is_refused() {
        let amara = Writer::new_device("amara".parse().unwrap());
        let (id, case) = (RecordId::random(), CaseId::random());
        let kind = RecordKind::GroupSession;
        let mut record =
            Document::new_record(&amara, id, case, kind, visit_times(), Utc::now()).unwrap();
        let (add, member) = Edit::append("members");
        record.edit(&amara, &add, Utc::now()).unwrap();
        let rating = |value| {
            Edit::set_in(
                "members",
                member,
                "rating",
                crate::document::FieldValue::Number(value),
            )
        };
        record.edit(&amara, &rating(4), Utc::now()).unwrap();
        let mut server = Server {
            log: Vec::new(),
            doc: DocId::Record(id),
            case,
        };
        server.push(&mut record, "amara", WORKER).unwrap();
        for off in [
            ScalarValue::Int(11),
            ScalarValue::Int(0),
            ScalarValue::Str("5".into()),
        ] {
            let (mut forged, _) = server.device("amara");
            raw_change(&mut forged, &amara, "amara", |doc| {
                let (_, body) = doc.get(ROOT, "body").unwrap().unwrap();
                let (_, members) = doc.get(&body, "members").unwrap().unwrap();
                let (_, entry) = doc.get(&members, 0).unwrap().unwrap();
                doc.put(&entry, "rating", off.clone()).unwrap();
            });
            let refused = server.push(&mut forged, "amara", WORKER).unwrap_err();
            assert_eq!(refused.code(), "not_allowed", "{refused}");
            assert!(refused.to_string().contains("from 1 to 5"), "{refused}");
        }
    }

    fn photo() -> crate::attachments::AttachmentDraft {
        crate::attachments::AttachmentDraft {
            kind: crate::attachments::AttachmentKind::Photo,
            media_type: "image/jpeg".into(),
            dimensions: Some((2048, 1536)),
            caption: "The broken heater".into(),
            signs: None,
        }
    }

    fn attach_photo(
        document: &mut Document,
        writer: &Writer,
    ) -> Result<crate::attachments::Attachment, crate::document::DocumentError> {
        let hash = crate::attachments::BlobHash::of(b"the heater's photo");
        document.attach(writer, hash, 18, None, &photo(), Utc::now())
    }

    #[test]
    fn a_record_takes_attachments_while_it_is_written_and_never_after() {
        let (mut server, mut record, amara) = amaras_record();
        let attached = attach_photo(&mut record, &amara).unwrap();
        server.push(&mut record, "amara", WORKER).unwrap();
        // A colleague co-writing it attaches too, and the worker takes her own one off.
        let (mut ben_copy, ben) = server.device("ben");
        attach_photo(&mut ben_copy, &ben).unwrap();
        server.push(&mut ben_copy, "ben", COLLEAGUE).unwrap();
        server.pull(&mut record);
        record.detach(&amara, attached.id, Utc::now()).unwrap();
        server.push(&mut record, "amara", WORKER).unwrap();
        assert_eq!(server.copy().unwrap().attachments().unwrap().len(), 1);

        // Submitted: the document layer will not, and a modified client is refused.
        record.submit(&amara, Utc::now()).unwrap();
        server.push(&mut record, "amara", WORKER).unwrap();
        assert!(attach_photo(&mut record, &amara).is_err());
        let mut forced = server.copy().unwrap();
        raw_change(&mut forced, &amara, "amara", |doc| {
            let (_, list) = doc.get(ROOT, "attachments").unwrap().unwrap();
            let entry = doc.insert_object(&list, 0, ObjType::Map).unwrap();
            doc.put(&entry, "id", crate::ids::ItemId::random().to_string())
                .unwrap();
        });
        let refused = server.push(&mut forced, "amara", WORKER).unwrap_err();
        assert_eq!(refused.code(), "not_allowed");
    }

    #[test]
    fn a_signed_records_attachments_are_fixed() {
        let (mut server, _, amara) = signed();
        let (mut copy, _) = server.device("amara");
        let id = copy.attachments().unwrap();
        assert!(id.is_empty());
        raw_change(&mut copy, &amara, "amara", |doc| {
            let (_, list) = doc.get(ROOT, "attachments").unwrap().unwrap();
            let entry = doc.insert_object(&list, 0, ObjType::Map).unwrap();
            doc.put(&entry, "id", crate::ids::ItemId::random().to_string())
                .unwrap();
        });
        let refused = server.push(&mut copy, "amara", WORKER).unwrap_err();
        assert_eq!(refused.code(), "record_signed");
    }

    #[test]
    fn nobody_but_the_server_erases_and_nobody_attaches_in_anothers_name() {
        let (mut server, mut record, amara) = amaras_record();
        attach_photo(&mut record, &amara).unwrap();
        server.push(&mut record, "amara", WORKER).unwrap();

        // A device writing a tombstone of its own.
        let (mut copy, _) = server.device("amara");
        let erasure = crate::attachments::Erasure {
            at: Utc::now(),
            by: "admin".into(),
            reason: "asked for".into(),
        };
        let hash = crate::attachments::BlobHash::of(b"the heater's photo");
        assert!(copy.erase_blob(&amara, hash, &erasure, Utc::now()).unwrap());
        let refused = server.push(&mut copy, "amara", WORKER).unwrap_err();
        assert_eq!(refused.code(), "not_allowed");

        // The server's own erasure is what devices receive.
        let mut servers = server.copy().unwrap();
        assert!(
            servers
                .erase_blob(&Writer::server(), hash, &erasure, Utc::now())
                .unwrap()
        );
        let erased = servers.attachments().unwrap();
        let tombstone = erased[0].erased.as_ref().unwrap();
        assert_eq!(
            (tombstone.by.as_str(), tombstone.reason.as_str()),
            ("admin", "asked for")
        );
        assert!(
            !servers
                .erase_blob(&Writer::server(), hash, &erasure, Utc::now())
                .unwrap()
        );

        // Attaching with ben named as the attacher.
        let (mut forged, _) = server.device("amara");
        let ben = Writer {
            user: "ben".parse().unwrap(),
            actor: amara.actor.clone(),
        };
        let mut draft = photo();
        draft.caption = "Not ben's".into();
        forged
            .attach(
                &ben,
                crate::attachments::BlobHash::of(b"x"),
                1,
                None,
                &draft,
                Utc::now(),
            )
            .unwrap();
        let refused = server.push(&mut forged, "amara", WORKER).unwrap_err();
        assert_eq!(refused.code(), "forged_author");
    }

    #[test]
    fn an_attachment_that_does_not_name_a_blob_is_refused() {
        let (mut server, mut record, amara) = amaras_record();
        raw_change(&mut record, &amara, "amara", |doc| {
            let (_, list) = doc.get(ROOT, "attachments").unwrap().unwrap();
            let entry = doc.insert_object(&list, 0, ObjType::Map).unwrap();
            doc.put(&entry, "id", crate::ids::ItemId::random().to_string())
                .unwrap();
            doc.put(&entry, "hash", "../../etc/passwd").unwrap();
            doc.put(&entry, "kind", "photo").unwrap();
            doc.put(&entry, "media_type", "image/jpeg").unwrap();
            doc.put(&entry, "size", 1_u64).unwrap();
            doc.put(&entry, "caption", "").unwrap();
            doc.put(&entry, "by", "amara").unwrap();
            doc.put(&entry, "at", ScalarValue::Timestamp(0)).unwrap();
        });
        let refused = server.push(&mut record, "amara", WORKER).unwrap_err();
        assert_eq!(refused.code(), "not_allowed");
        assert!(refused.to_string().contains("does not read"), "{refused}");
    }

    #[test]
    fn a_case_files_attachments_are_added_and_never_taken_off() {
        let (mut server, mut case, amara, _) = case_with_consent_to_share();
        let attached = attach_photo(&mut case, &amara).unwrap();
        server.push(&mut case, "amara", WORKER).unwrap();
        assert!(case.detach(&amara, attached.id, Utc::now()).is_err());
        raw_change(&mut case, &amara, "amara", |doc| {
            let (_, list) = doc.get(ROOT, "attachments").unwrap().unwrap();
            doc.delete(&list, 0).unwrap();
        });
        let refused = server.push(&mut case, "amara", WORKER).unwrap_err();
        assert_eq!(refused.code(), "not_allowed");
    }
}
