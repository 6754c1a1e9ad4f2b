//! The server's check of what a device pushes, against the document it claims to change.
//!
//! Every push is inflated and counted within its limits ([`limits`]), parsed as Automerge
//! changes and applied to the server's copy of the document; the result must still be a
//! Doorstep document of the same id and case, and every change new to the server must be
//! one its pusher may make ([`authority`]). Only then are those changes stored. Nothing here
//! touches storage: the server calls it inside its writing transaction, with what it knows of
//! the pusher, and the fuzzer calls it on any bytes.

pub mod authority;
pub mod limits;

use std::collections::BTreeSet;

use automerge::ActorId;

pub use authority::Pusher;
pub use limits::PushLimits;

use crate::document::Document;
use crate::sync::protocol::Push;
use crate::{CaseId, DocId};

/// Why a push was refused. The message names the document, never its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The bytes are not Automerge changes, or do not apply.
    #[error("{doc}: not valid Automerge changes: {reason}")]
    NotAutomerge {
        /// The document.
        doc: DocId,
        /// What Automerge said.
        reason: String,
    },
    /// The changes make the document something other than what it claims to be.
    #[error("{doc}: {reason}")]
    WrongDocument {
        /// The document.
        doc: DocId,
        /// What is wrong.
        reason: String,
    },
    /// The heads the device says it pushed are not all in the result.
    #[error("{doc}: the pushed changes do not reach the heads sent with them")]
    HeadsMissing {
        /// The document.
        doc: DocId,
    },
    /// The push is over a limit of [`PushLimits`].
    #[error("{doc}: the push is too large: {reason}")]
    TooLarge {
        /// The document.
        doc: DocId,
        /// Which limit.
        reason: String,
    },
    /// The push names another case than the one the server filed the document under, or
    /// would move it.
    #[error("{doc}: the document belongs to another case")]
    WrongCase {
        /// The document.
        doc: DocId,
    },
    /// The pusher may not read the case.
    #[error("{doc}: no access to its case")]
    Forbidden {
        /// The document.
        doc: DocId,
    },
    /// A new case from a user on no team, which has nowhere to go.
    #[error("{doc}: the signed-in user is on no team, so a new case has nowhere to go")]
    NoTeam {
        /// The document.
        doc: DocId,
    },
    /// A change is written by, or names as its author, a user other than the pusher.
    #[error("{doc}: {reason}")]
    ForgedAuthor {
        /// The document.
        doc: DocId,
        /// What was wrong.
        reason: String,
    },
    /// The change needs a supervisor of the case's team.
    #[error("{doc}: only a supervisor of the case's team may {action}")]
    NotASupervisor {
        /// The document.
        doc: DocId,
        /// What was attempted.
        action: &'static str,
    },
    /// A supervisor tried to approve or sign a record they wrote part of.
    #[error("{doc}: a record is approved and signed by a supervisor who wrote no part of it")]
    OwnRecord {
        /// The document.
        doc: DocId,
    },
    /// A change made after the sign-off, knowing of it, that is not an addendum.
    #[error("{doc}: the record is signed: only addenda are added to it")]
    RecordSigned {
        /// The document.
        doc: DocId,
    },
    /// The sign-off is not a true one.
    #[error("{doc}: {reason}")]
    BadSignOff {
        /// The document.
        doc: DocId,
        /// What was wrong.
        reason: String,
    },
    /// Any other change the rules do not allow.
    #[error("{doc}: {reason}")]
    NotAllowed {
        /// The document.
        doc: DocId,
        /// What was wrong.
        reason: String,
    },
}

impl Rejection {
    /// The stable code of the refusal, as the README's error table lists it.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::NotAutomerge { .. }
            | Rejection::WrongDocument { .. }
            | Rejection::HeadsMissing { .. } => "invalid_changes",
            Rejection::TooLarge { .. } => "too_large",
            Rejection::WrongCase { .. } => "wrong_case",
            Rejection::Forbidden { .. } => "forbidden",
            Rejection::NoTeam { .. } => "no_team",
            Rejection::ForgedAuthor { .. } => "forged_author",
            Rejection::NotASupervisor { .. } => "not_a_supervisor",
            Rejection::OwnRecord { .. } => "own_record",
            Rejection::RecordSigned { .. } => "record_signed",
            Rejection::BadSignOff { .. } => "bad_signoff",
            Rejection::NotAllowed { .. } => "not_allowed",
        }
    }

    /// What was wrong, for the worker whose words were refused: the message without the
    /// document's id, which the worker sees the refusal on.
    pub fn reason(&self) -> String {
        let message = self.to_string();
        let reason = message
            .strip_prefix(&format!("{}: ", self.doc()))
            .unwrap_or(&message);
        let mut chars = reason.chars();
        chars.next().map_or_else(String::new, |first| {
            first.to_uppercase().chain(chars).collect()
        })
    }

    /// The document refused.
    pub fn doc(&self) -> DocId {
        match self {
            Rejection::NotAutomerge { doc, .. }
            | Rejection::WrongDocument { doc, .. }
            | Rejection::HeadsMissing { doc }
            | Rejection::TooLarge { doc, .. }
            | Rejection::WrongCase { doc }
            | Rejection::Forbidden { doc }
            | Rejection::NoTeam { doc }
            | Rejection::ForgedAuthor { doc, .. }
            | Rejection::NotASupervisor { doc, .. }
            | Rejection::OwnRecord { doc }
            | Rejection::RecordSigned { doc }
            | Rejection::BadSignOff { doc, .. }
            | Rejection::NotAllowed { doc, .. } => *doc,
        }
    }
}

/// What the server knows of a push beyond its bytes.
#[derive(Debug, Clone, Copy)]
pub struct PushContext<'a> {
    /// Who pushes, and their role on the case's team.
    pub pusher: Pusher<'a>,
    /// How much the push may hold.
    pub limits: PushLimits,
}

/// The outcome of a valid push.
#[derive(Debug)]
pub struct Accepted {
    /// Concatenated changes new to the server (empty if it had them all), to append to the
    /// log.
    pub new_changes: Vec<u8>,
    /// The server's copy of the document with the push applied: what the log holds once
    /// `new_changes` is appended.
    pub document: Document,
    /// The actors that wrote the new changes: the server binds each to the pusher, or
    /// refuses the push if one is bound to someone else.
    pub actors: BTreeSet<ActorId>,
}

/// Applies `push` to the server's log of the document (`log`, in order; empty for a new
/// document) and checks the result.
pub fn check_push(
    log: &[Vec<u8>],
    push: &Push,
    context: &PushContext<'_>,
) -> Result<Accepted, Rejection> {
    check_push_onto(load_log(log, push.changes.doc)?, push, context)
}

/// Loads the server's copy of a document from its log (`None` for a document it has not
/// seen).
pub fn load_log(log: &[Vec<u8>], doc: DocId) -> Result<Option<Document>, Rejection> {
    if log.is_empty() {
        return Ok(None);
    }
    let parts: Vec<&[u8]> = log.iter().map(Vec::as_slice).collect();
    Document::load(&[], &parts)
        .map(Some)
        .map_err(|error| Rejection::NotAutomerge {
            doc,
            reason: error.to_string(),
        })
}

/// Applies `push` to the server's copy of the document (`None` for a new document), already
/// loaded, and checks the result.
pub fn check_push_onto(
    current: Option<Document>,
    push: &Push,
    context: &PushContext<'_>,
) -> Result<Accepted, Rejection> {
    let doc = push.changes.doc;
    // Automerge asserts on some malformed changes (an operation on an object that is not
    // one, a change numbered after changes its actor never made) instead of returning an
    // error: that is a refusal of this document, not the end of everyone else's sync.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check(current, push, context)
    }))
    .unwrap_or_else(|_| {
        Err(Rejection::NotAutomerge {
            doc,
            reason: "changes Automerge cannot apply".into(),
        })
    })
}

fn check(
    current: Option<Document>,
    push: &Push,
    context: &PushContext<'_>,
) -> Result<Accepted, Rejection> {
    let doc = push.changes.doc;
    let not_automerge = |error: crate::document::DocumentError| Rejection::NotAutomerge {
        doc,
        reason: error.to_string(),
    };
    let wrong = |reason: String| Rejection::WrongDocument { doc, reason };
    let inflated = limits::inflate_within(&push.changes.changes, &context.limits).map_err(
        |unfit| match unfit {
            limits::Unfit::Malformed(reason) => Rejection::NotAutomerge { doc, reason },
            limits::Unfit::TooLarge(reason) => Rejection::TooLarge { doc, reason },
        },
    )?;
    let existed = current.is_some();
    // A change numbered after changes its writer never made makes Automerge assert rather
    // than refuse: the writer must be known to the document, or write earlier in the push.
    let mut writers: std::collections::HashSet<String> = match &current {
        Some(document) => document
            .authors()
            .map_err(not_automerge)?
            .into_iter()
            .map(|(actor, _)| actor)
            .collect(),
        None => Default::default(),
    };
    for change in &inflated.changes {
        let actor = change.actor_id().to_hex_string();
        if change.seq() > 1 && !writers.contains(&actor) {
            return Err(Rejection::NotAutomerge {
                doc,
                reason: "a change numbered after changes its writer never made".into(),
            });
        }
        writers.insert(actor);
    }
    // The changes were parsed whole while they were counted: applied as parsed.
    let (mut document, before) = match current {
        None => {
            let document = Document::from_parsed(inflated.changes).map_err(not_automerge)?;
            (document, Vec::new())
        }
        Some(mut document) => {
            let before = document.heads();
            document
                .apply_parsed(inflated.changes)
                .map_err(not_automerge)?;
            (document, before)
        }
    };
    let new_changes = document.changes_after(&before);
    let actual = document
        .doc_id()
        .map_err(|error| wrong(error.to_string()))?;
    if actual != doc {
        return Err(wrong(format!("the changes belong to {actual}")));
    }
    let new = document.automerge().get_changes(&before);
    authority::check_changes(document.automerge(), doc, &new, existed, context.pusher)?;
    if existed {
        authority::check_preserved(&mut document, doc, &before)?;
    }
    let case = case_of(&document).map_err(wrong)?;
    if case != push.changes.case_id {
        return Err(Rejection::WrongCase { doc });
    }
    let automerge = document.automerge();
    if !push
        .heads
        .to_hashes()
        .iter()
        .all(|head| automerge.get_change_by_hash(head).is_some())
    {
        return Err(Rejection::HeadsMissing { doc });
    }
    let actors = new.iter().map(|change| change.actor_id().clone()).collect();
    Ok(Accepted {
        new_changes,
        document,
        actors,
    })
}

/// The case a document belongs to, reading the document whole, which also proves that it
/// reads as its kind.
fn case_of(document: &Document) -> Result<CaseId, String> {
    match document.doc_id().map_err(|error| error.to_string())? {
        DocId::Case(id) => {
            document.case().map_err(|error| error.to_string())?;
            Ok(id)
        }
        DocId::Record(_) => Ok(document
            .record()
            .map_err(|error| error.to_string())?
            .case_id),
    }
}

#[cfg(test)]
mod tests {
    use crate::RecordId;
    use crate::document::{Edit, Occurrence, Writer};
    use crate::model::RecordKind;
    use crate::sync::protocol::{DocChanges, Heads};
    use chrono::Utc;

    use super::*;

    fn push_of(
        document: &mut Document,
        doc: DocId,
        case: CaseId,
        after: &[automerge::ChangeHash],
    ) -> Push {
        Push {
            changes: DocChanges {
                doc,
                case_id: case,
                changes: document.changes_after(after),
            },
            heads: Heads::from_hashes(&document.heads()),
        }
    }

    fn amara() -> PushContext<'static> {
        static AMARA: std::sync::LazyLock<crate::UserId> =
            std::sync::LazyLock::new(|| "amara".parse().unwrap());
        PushContext {
            pusher: Pusher {
                user: &AMARA,
                role: crate::model::TeamRole::Worker,
            },
            limits: PushLimits::default(),
        }
    }

    fn record() -> (Writer, Document, DocId, CaseId) {
        let writer = Writer::new_device("amara".parse().unwrap());
        let (id, case) = (RecordId::random(), CaseId::random());
        let document = Document::new_record(
            &writer,
            id,
            case,
            RecordKind::HomeVisit,
            Occurrence::default(),
            Utc::now(),
        )
        .unwrap();
        (writer, document, DocId::Record(id), case)
    }

    #[test]
    fn a_new_document_and_then_its_edits_are_accepted_once() {
        let (writer, mut document, doc, case) = record();
        let first = push_of(&mut document, doc, case, &[]);
        let accepted = check_push(&[], &first, &amara()).unwrap();
        let log = vec![accepted.new_changes];
        let base = document.heads();
        document
            .edit(&writer, &Edit::text("plan", "Call back"), Utc::now())
            .unwrap();
        let second = push_of(&mut document, doc, case, &base);
        assert!(
            !check_push(&log, &second, &amara())
                .unwrap()
                .new_changes
                .is_empty()
        );
        assert!(
            check_push(&log, &first, &amara())
                .unwrap()
                .new_changes
                .is_empty(),
            "a repeat is nothing new"
        );
    }

    #[test]
    fn a_push_checked_onto_the_kept_document_is_the_push_checked_onto_the_log() {
        let (writer, mut document, doc, case) = record();
        let first = check_push(&[], &push_of(&mut document, doc, case, &[]), &amara()).unwrap();
        let mut log = vec![first.new_changes];
        let mut kept = first.document;
        for words in ["Call back", " on Tuesday", " with the interpreter"] {
            let base = document.heads();
            document
                .edit(&writer, &Edit::text("plan", words), Utc::now())
                .unwrap();
            let push = push_of(&mut document, doc, case, &base);
            let from_log = check_push(&log, &push, &amara()).unwrap();
            let onto_kept = check_push_onto(Some(kept), &push, &amara()).unwrap();
            assert_eq!(onto_kept.new_changes, from_log.new_changes);
            log.push(onto_kept.new_changes);
            kept = onto_kept.document;
            assert_eq!(kept.heads(), document.heads());
        }
        assert_eq!(kept.record().unwrap(), document.record().unwrap());
    }

    #[test]
    fn garbage_and_misdirected_changes_are_rejected() {
        let (_, mut document, doc, case) = record();
        let mut push = push_of(&mut document, doc, case, &[]);
        let good = push.clone();
        push.changes.changes = b"garbage".to_vec();
        assert!(matches!(
            check_push(&[], &push, &amara()),
            Err(Rejection::NotAutomerge { .. })
        ));

        let mut elsewhere = good.clone();
        elsewhere.changes.doc = DocId::Record(RecordId::random());
        assert!(matches!(
            check_push(&[], &elsewhere, &amara()),
            Err(Rejection::WrongDocument { .. })
        ));

        let mut other_case = good.clone();
        other_case.changes.case_id = CaseId::random();
        assert!(matches!(
            check_push(&[], &other_case, &amara()),
            Err(Rejection::WrongCase { .. })
        ));

        assert_eq!(
            Rejection::RecordSigned { doc }.reason(),
            "The record is signed: only addenda are added to it"
        );

        let mut phantom = good;
        phantom.heads = Heads(vec![[3; 32]]);
        assert!(matches!(
            check_push(&[], &phantom, &amara()),
            Err(Rejection::HeadsMissing { .. })
        ));
    }

    #[test]
    fn a_plain_automerge_document_is_not_a_doorstep_document() {
        let mut plain = automerge::AutoCommit::new();
        automerge::transaction::Transactable::put(&mut plain, automerge::ROOT, "x", 1).unwrap();
        let case = CaseId::random();
        let push = Push {
            changes: DocChanges {
                doc: DocId::Case(case),
                case_id: case,
                changes: plain.save(),
            },
            heads: Heads::default(),
        };
        assert!(check_push(&[], &push, &amara()).is_err());
    }
}
