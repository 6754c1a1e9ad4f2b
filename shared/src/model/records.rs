//! The bodies of the four kinds of record, field for field as in their templates
//! ([`crate::template`]), whose labels describe each field.
#![allow(missing_docs)]

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::ItemId;

/// A decision with the reason for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub id: ItemId,
    #[serde(default)]
    pub decision: String,
    #[serde(default)]
    pub rationale: String,
}

/// The client's own words, attributed to whoever said them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub id: ItemId,
    #[serde(default)]
    pub speaker: String,
    #[serde(default)]
    pub words: String,
}

/// Progress seen on one of the case's goals during the visit or session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoalProgress {
    pub id: ItemId,
    #[serde(default)]
    pub goal: Option<ItemId>,
    /// From 1 (none) to 5 (achieved).
    #[serde(default)]
    pub rating: Option<i64>,
    #[serde(default)]
    pub note: String,
}

/// Something to do after the visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: ItemId,
    #[serde(default)]
    pub task: String,
    #[serde(default)]
    pub due: Option<NaiveDate>,
    #[serde(default)]
    pub done: bool,
}

/// A home-visit note. Observations and assessment are separate fields and stay separate:
/// what was seen and heard is evidence, the worker's interpretation is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct HomeVisit {
    pub place: String,
    pub people_present: String,
    pub purpose: String,
    pub observed_home: String,
    pub observed_client: String,
    pub interventions: String,
    pub assessment: String,
    pub risk: bool,
    pub risk_details: String,
    pub plan: String,
    pub next_visit: Option<NaiveDate>,
    pub quotes: Vec<Quote>,
    pub decisions: Vec<Decision>,
    pub goal_progress: Vec<GoalProgress>,
    pub tasks: Vec<Task>,
}

/// Whether an exchange records words or behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeMode {
    #[default]
    Dialogue,
    Behaviour,
}

/// One turn of a process recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    pub id: ItemId,
    #[serde(default)]
    pub speaker: String,
    #[serde(default)]
    pub mode: ExchangeMode,
    #[serde(default)]
    pub content: String,
    /// What the client seemed to feel and how they behaved, beside the worker's own feelings.
    #[serde(default)]
    pub client_feelings: String,
    #[serde(default)]
    pub feelings: String,
    #[serde(default)]
    pub analysis: String,
    #[serde(default)]
    pub supervisor_comment: String,
}

/// A session written out exchange by exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ProcessRecording {
    pub purpose: String,
    pub summary: String,
    pub reflection: String,
    pub learning_goals: String,
    pub supervisor_overall: String,
    pub exchanges: Vec<Exchange>,
    pub decisions: Vec<Decision>,
    pub goal_progress: Vec<GoalProgress>,
}

/// How the worker was in contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    Interview,
    Phone,
    Collateral,
}

/// Narrative under one topical heading (Interviews, Home visits, Collateral contacts...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseNoteSection {
    pub id: ItemId,
    #[serde(default)]
    pub heading: String,
    #[serde(default)]
    pub text: String,
}

/// A case note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct CaseNote {
    pub contact: Option<ContactKind>,
    pub observations: String,
    pub assessment: String,
    pub sections: Vec<CaseNoteSection>,
    pub quotes: Vec<Quote>,
    pub decisions: Vec<Decision>,
    pub goal_progress: Vec<GoalProgress>,
    pub plan: String,
}

/// Whether a member came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attendance {
    Present,
    Absent,
    Late,
    Excused,
}

/// One member's attendance and participation in a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    pub id: ItemId,
    /// The member of the group this entry is about ([`crate::model::GroupMemberEntry`]).
    #[serde(default)]
    pub member: Option<ItemId>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub attendance: Option<Attendance>,
    /// Participation from 1 (withdrawn) to 5 (fully engaged).
    #[serde(default)]
    pub rating: Option<i64>,
    #[serde(default)]
    pub note: String,
}

/// A group session record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct GroupSession {
    pub group_name: String,
    pub session_number: Option<i64>,
    pub facilitators: String,
    pub topics: String,
    pub observations: String,
    pub assessment: String,
    pub dynamics: String,
    pub conflicts: String,
    pub progress: String,
    pub next_session: String,
    pub members: Vec<GroupMember>,
    pub quotes: Vec<Quote>,
    pub decisions: Vec<Decision>,
}

/// How a goal ended when the case closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoalOutcome {
    pub id: ItemId,
    #[serde(default)]
    pub goal: Option<ItemId>,
    /// `achieved`, `partly_achieved`, `not_achieved` or `dropped`.
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// The summary a case closes with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ClosingSummary {
    pub reason: String,
    pub work_done: String,
    pub services_referred: String,
    pub client_told: String,
    pub goal_outcomes: Vec<GoalOutcome>,
}

/// The summary a case is transferred with, for the receiving worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct HandoverSummary {
    pub receiving_worker: String,
    pub situation: String,
    pub risks: String,
    pub work_in_progress: String,
    pub next_steps: String,
    pub client_views: String,
    pub goal_progress: Vec<GoalProgress>,
}
