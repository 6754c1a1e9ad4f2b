//! The domain model: what practitioners record, as plain Rust values.
//!
//! These types are read out of the Automerge documents (see [`crate::document`]); they are
//! snapshots for display and checks, not the place where edits happen. Edits go through
//! [`crate::document::Edit`] so that they merge.

mod case;
mod closing;
mod goals;
mod groups;
mod records;
pub mod timeliness;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub use case::{
    Case, CaseEvent, CaseEventDraft, CaseEventKind, CaseKind, CaseProfile, CaseState, CaseStatus,
    Consent, ConsentScope, ConsentStanding, Contact, Disclosure, DisclosureDraft, DisclosureError,
    Goal, GoalProgressEntry, GoalState, HouseholdMember, TeamRole,
};
pub use closing::{
    Acknowledgement, ClosingError, Closure, Outstanding, check_closing, outstanding,
};
pub use goals::{GoalTrail, ProgressPoint, goal_trails};
pub use groups::{
    GroupAttendance, GroupMemberEntry, GroupObjective, GroupProfile, Register, RegisterRow,
    attendance_for_cases, register, session_day,
};
pub use records::{
    Attendance, CaseNote, CaseNoteSection, ClosingSummary, ContactKind, Decision, Exchange,
    ExchangeMode, GoalOutcome, GoalProgress, GroupMember, GroupSession, HandoverSummary, HomeVisit,
    ProcessRecording, Quote, Task,
};

use crate::ids::{CaseId, ItemId, RecordId, UserId};
use crate::template::{self, Template};

/// The kinds of record, one template each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A note written after a home visit.
    HomeVisit,
    /// A session written out exchange by exchange.
    ProcessRecording,
    /// An interview, phone or collateral contact under topical headings.
    CaseNote,
    /// One meeting of a group.
    GroupSession,
    /// The summary a case closes with: reason, outcomes against each goal, services referred
    /// to, what the client was told.
    ClosingSummary,
    /// The summary a case is transferred with, for the receiving worker.
    HandoverSummary,
}

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 6] = [
        RecordKind::HomeVisit,
        RecordKind::ProcessRecording,
        RecordKind::CaseNote,
        RecordKind::GroupSession,
        RecordKind::ClosingSummary,
        RecordKind::HandoverSummary,
    ];

    /// The kinds a worker starts from a client's case, in the order the app offers them; a
    /// group session is started from its group, the summaries by closing or transferring.
    pub const EVERYDAY: [RecordKind; 3] = [
        RecordKind::HomeVisit,
        RecordKind::ProcessRecording,
        RecordKind::CaseNote,
    ];

    /// The form of this kind of record.
    pub fn template(self) -> &'static Template {
        match self {
            RecordKind::HomeVisit => &template::HOME_VISIT,
            RecordKind::ProcessRecording => &template::PROCESS_RECORDING,
            RecordKind::CaseNote => &template::CASE_NOTE,
            RecordKind::GroupSession => &template::GROUP_SESSION,
            RecordKind::ClosingSummary => &template::CLOSING_SUMMARY,
            RecordKind::HandoverSummary => &template::HANDOVER_SUMMARY,
        }
    }

    /// The kind's key, as stored (`home_visit`...).
    pub fn as_str(self) -> &'static str {
        self.template().kind
    }

    /// What the record is about, in a worker's words: "visit", "session" or "contact"; `None`
    /// for the summaries, which record no meeting and have no visit times.
    pub fn occasion(self) -> Option<&'static str> {
        match self {
            RecordKind::HomeVisit => Some("visit"),
            RecordKind::ProcessRecording | RecordKind::GroupSession => Some("session"),
            RecordKind::CaseNote => Some("contact"),
            RecordKind::ClosingSummary | RecordKind::HandoverSummary => None,
        }
    }
}

impl FromStr for RecordKind {
    type Err = UnknownValue;
    fn from_str(text: &str) -> Result<Self, UnknownValue> {
        RecordKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| UnknownValue::new("record kind", text))
    }
}

/// Where a record is in its review cycle.
///
/// Draft → Submitted → (Returned → Submitted)* → Finalised. A finalised record is bound as
/// signed: it takes addenda, never silent rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Being written.
    #[default]
    Draft,
    /// Waiting for the supervisor's review.
    Submitted,
    /// Sent back to the author with comments.
    Returned,
    /// Approved and signed; closed to edits except addenda.
    Finalised,
}

impl RecordStatus {
    /// Every status, in the order of the review cycle.
    pub const ALL: [RecordStatus; 4] = [
        RecordStatus::Draft,
        RecordStatus::Submitted,
        RecordStatus::Returned,
        RecordStatus::Finalised,
    ];

    /// The status's key, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Draft => "draft",
            RecordStatus::Submitted => "submitted",
            RecordStatus::Returned => "returned",
            RecordStatus::Finalised => "finalised",
        }
    }

    /// Whether the review cycle allows moving from this status to `next`.
    pub fn may_become(self, next: RecordStatus) -> bool {
        use RecordStatus::*;
        matches!(
            (self, next),
            (Draft | Returned, Submitted) | (Submitted, Returned | Finalised)
        )
    }

    /// Whether the author's own fields are open to edits in this status. Reviewer fields
    /// (supervisor comments) are also open while the record is submitted.
    pub fn author_may_edit(self) -> bool {
        matches!(self, RecordStatus::Draft | RecordStatus::Returned)
    }

    /// Whether the record still waits for its author: these are the records that become
    /// overdue.
    pub fn awaits_author(self) -> bool {
        self.author_may_edit()
    }
}

impl FromStr for RecordStatus {
    type Err = UnknownValue;
    fn from_str(text: &str) -> Result<Self, UnknownValue> {
        RecordStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| UnknownValue::new("record status", text))
    }
}

impl fmt::Display for RecordStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that is not one of those its field allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what}: {value:?}")]
pub struct UnknownValue {
    what: &'static str,
    value: String,
}

impl UnknownValue {
    pub(crate) fn new(what: &'static str, value: &str) -> Self {
        // Keep the message short: this can be user or network input.
        let value = value.chars().take(40).collect();
        UnknownValue { what, value }
    }
}

/// The sign-off of a finalised record: the document's heads at that moment, so the record
/// can always be read exactly as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOff {
    /// The Automerge heads (hex change hashes) the signer saw.
    pub heads: Vec<String>,
    /// Who signed.
    pub by: UserId,
    /// When, by the signer's clock.
    pub at: DateTime<Utc>,
}

/// A later amendment to a finalised record, with the reason for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addendum {
    /// The addendum's id.
    pub id: ItemId,
    /// Who added it.
    pub author: UserId,
    /// When, by the author's clock.
    pub at: DateTime<Utc>,
    /// Why the record needed amending.
    pub reason: String,
    /// The amendment itself.
    pub text: String,
}

/// What a reviewer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewAction {
    /// A comment, on the whole record or on one entry.
    Comment,
    /// Sent back to the author.
    Returned,
    /// Approved and finalised.
    Approved,
}

/// One step of a record's review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewEntry {
    /// The entry's id.
    pub id: ItemId,
    /// The reviewer, or the author when submitting.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
    /// What was done.
    pub action: ReviewAction,
    /// The comment or the reason.
    #[serde(default)]
    pub text: String,
}

/// A record: its workflow header and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The record's id.
    pub id: RecordId,
    /// The case it belongs to.
    pub case_id: CaseId,
    /// Who created it.
    pub author: UserId,
    /// Where it is in review.
    pub status: RecordStatus,
    /// When the visit or session began, by the device's clock.
    pub occurred_start: Option<DateTime<Utc>>,
    /// When the visit or session ended.
    pub occurred_end: Option<DateTime<Utc>>,
    /// When the worker began writing.
    pub writing_began: DateTime<Utc>,
    /// When it was last submitted for review.
    pub submitted_at: Option<DateTime<Utc>>,
    /// When it was finalised.
    pub finalised_at: Option<DateTime<Utc>>,
    /// The sign-off, once finalised.
    pub signoff: Option<SignOff>,
    /// Amendments after sign-off, oldest first.
    pub addenda: Vec<Addendum>,
    /// The review's steps, oldest first.
    pub review: Vec<ReviewEntry>,
    /// Photos, scans and signatures: references to blobs kept beside the document.
    pub attachments: Vec<crate::attachments::Attachment>,
    /// The kind-specific content.
    pub body: RecordBody,
}

impl Record {
    /// The kind of record.
    pub fn kind(&self) -> RecordKind {
        self.body.kind()
    }

    /// The time the record is due from: the end of the visit or session if known, else
    /// its start, else when writing began.
    pub fn due_from(&self) -> DateTime<Utc> {
        self.occurred_end
            .or(self.occurred_start)
            .unwrap_or(self.writing_began)
    }

    /// Whether the record is overdue at `now`: still waiting for its author longer than
    /// `threshold` after the visit.
    pub fn is_overdue(&self, now: DateTime<Utc>, threshold: Duration) -> bool {
        self.status.awaits_author() && now - self.due_from() > threshold
    }
}

/// The kind-specific content of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordBody {
    /// A home-visit note.
    HomeVisit(HomeVisit),
    /// A process recording.
    ProcessRecording(ProcessRecording),
    /// A case note.
    CaseNote(CaseNote),
    /// A group session record.
    GroupSession(GroupSession),
    /// A closing summary.
    ClosingSummary(ClosingSummary),
    /// A handover summary.
    HandoverSummary(HandoverSummary),
}

impl RecordBody {
    /// The kind of record this body belongs to.
    pub fn kind(&self) -> RecordKind {
        match self {
            RecordBody::HomeVisit(_) => RecordKind::HomeVisit,
            RecordBody::ProcessRecording(_) => RecordKind::ProcessRecording,
            RecordBody::CaseNote(_) => RecordKind::CaseNote,
            RecordBody::GroupSession(_) => RecordKind::GroupSession,
            RecordBody::ClosingSummary(_) => RecordKind::ClosingSummary,
            RecordBody::HandoverSummary(_) => RecordKind::HandoverSummary,
        }
    }

    /// Reads a body of `kind` from its JSON rendering.
    pub(crate) fn from_json(
        kind: RecordKind,
        json: serde_json::Value,
    ) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            RecordKind::HomeVisit => RecordBody::HomeVisit(serde_json::from_value(json)?),
            RecordKind::ProcessRecording => {
                RecordBody::ProcessRecording(serde_json::from_value(json)?)
            }
            RecordKind::CaseNote => RecordBody::CaseNote(serde_json::from_value(json)?),
            RecordKind::GroupSession => RecordBody::GroupSession(serde_json::from_value(json)?),
            RecordKind::ClosingSummary => RecordBody::ClosingSummary(serde_json::from_value(json)?),
            RecordKind::HandoverSummary => {
                RecordBody::HandoverSummary(serde_json::from_value(json)?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_review_cycle_allows_only_its_own_steps() {
        use RecordStatus::*;
        let allowed: Vec<_> = RecordStatus::ALL
            .iter()
            .flat_map(|from| RecordStatus::ALL.iter().map(move |to| (*from, *to)))
            .filter(|(from, to)| from.may_become(*to))
            .collect();
        assert_eq!(
            allowed,
            [
                (Draft, Submitted),
                (Submitted, Returned),
                (Submitted, Finalised),
                (Returned, Submitted)
            ]
        );
    }

    #[test]
    fn kinds_and_statuses_round_trip_through_their_keys() {
        for kind in RecordKind::ALL {
            assert_eq!(kind.as_str().parse::<RecordKind>().unwrap(), kind);
        }
        for status in RecordStatus::ALL {
            assert_eq!(status.as_str().parse::<RecordStatus>().unwrap(), status);
        }
        assert!("diary".parse::<RecordKind>().is_err());
    }
}
