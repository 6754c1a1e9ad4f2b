//! The client's file.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CaseId, ItemId, UserId};

/// A case: the client's profile, the team that works it, its status and its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// The case's id.
    pub id: CaseId,
    /// Who opened it on a device.
    pub author: UserId,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// Open, referred, transferred or closed, with reason and outcome.
    pub status: CaseStatus,
    /// The case team and each member's role.
    #[serde(default)]
    pub team: BTreeMap<UserId, TeamRole>,
    /// Referrals, transfers, closures and reopenings, oldest first.
    #[serde(default)]
    pub events: Vec<CaseEvent>,
    /// Everything known about the client.
    pub profile: CaseProfile,
}

/// A member's role on a case team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamRole {
    /// The worker who holds the case.
    Worker,
    /// A colleague who also visits or covers.
    Colleague,
    /// The supervisor who reviews and signs off records.
    Supervisor,
}

impl TeamRole {
    /// Every role.
    pub const ALL: [TeamRole; 3] = [TeamRole::Worker, TeamRole::Colleague, TeamRole::Supervisor];

    /// The role's key, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TeamRole::Worker => "worker",
            TeamRole::Colleague => "colleague",
            TeamRole::Supervisor => "supervisor",
        }
    }
}

impl std::str::FromStr for TeamRole {
    type Err = super::UnknownValue;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        TeamRole::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| super::UnknownValue::new("team role", text))
    }
}

/// Whether a case is being worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Being worked.
    #[default]
    Open,
    /// Referred to another service.
    Referred,
    /// Transferred to another worker or agency.
    Transferred,
    /// Closed.
    Closed,
}

impl CaseState {
    /// The state's key, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Open => "open",
            CaseState::Referred => "referred",
            CaseState::Transferred => "transferred",
            CaseState::Closed => "closed",
        }
    }
}

/// A case's status with the reason and outcome of its last change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CaseStatus {
    /// The state.
    #[serde(default)]
    pub state: CaseState,
    /// Why it is in this state (empty while open since intake).
    #[serde(default)]
    pub reason: String,
    /// The outcome, for referrals, transfers and closures.
    #[serde(default)]
    pub outcome: String,
}

/// What happened to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseEventKind {
    /// The client was referred in, or on to another service.
    Referral,
    /// The case moved to another worker or agency.
    Transfer,
    /// The case was closed.
    Closure,
    /// A referred, transferred or closed case was opened again.
    Reopening,
}

impl CaseEventKind {
    /// The kind's key, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseEventKind::Referral => "referral",
            CaseEventKind::Transfer => "transfer",
            CaseEventKind::Closure => "closure",
            CaseEventKind::Reopening => "reopening",
        }
    }

    /// The state a case is in after this event.
    pub fn resulting_state(self) -> CaseState {
        match self {
            CaseEventKind::Referral => CaseState::Referred,
            CaseEventKind::Transfer => CaseState::Transferred,
            CaseEventKind::Closure => CaseState::Closed,
            CaseEventKind::Reopening => CaseState::Open,
        }
    }
}

/// A referral, transfer, closure or reopening, with its reason and outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEvent {
    /// The event's id.
    pub id: ItemId,
    /// What happened.
    pub kind: CaseEventKind,
    /// When, by the recording device's clock.
    pub at: DateTime<Utc>,
    /// Who recorded it.
    pub by: UserId,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// With what result.
    #[serde(default)]
    pub outcome: String,
}

/// Everything known about the client, as in the case template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
#[allow(missing_docs)] // The template's labels describe each field.
pub struct CaseProfile {
    pub client_name: String,
    pub date_of_birth: Option<NaiveDate>,
    pub age: Option<i64>,
    pub gender: String,
    pub address: String,
    pub family_history: String,
    pub health_history: String,
    pub referral_source: String,
    pub presenting_problem: String,
    pub contract_terms: String,
    pub initial_assessment: String,
    pub contacts: Vec<Contact>,
    pub household: Vec<HouseholdMember>,
    pub consents: Vec<Consent>,
    pub goals: Vec<Goal>,
}

/// Someone to contact about the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Contact {
    pub id: ItemId,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub relationship: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub notes: String,
}

/// Someone who lives with the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct HouseholdMember {
    pub id: ItemId,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub relationship: String,
    #[serde(default)]
    pub age: Option<i64>,
}

/// What the client consented to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentScope {
    /// To being recorded.
    Record,
    /// To the record being shared within the case team.
    ShareWithTeam,
    /// To the record being shared with other agencies.
    ShareWithAgencies,
}

/// Informed consent, with its scope, date, how it was obtained and any withdrawal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The consent's id.
    pub id: ItemId,
    /// What it covers.
    #[serde(default)]
    pub scope: Option<ConsentScope>,
    /// Details of the scope, in the client's terms.
    #[serde(default)]
    pub details: String,
    /// When it was given.
    #[serde(default)]
    pub given_on: Option<NaiveDate>,
    /// How it was obtained: written, verbal or electronic.
    #[serde(default)]
    pub obtained: Option<String>,
    /// When it was withdrawn, if it was.
    #[serde(default)]
    pub withdrawn_on: Option<NaiveDate>,
}

impl Consent {
    /// Whether the consent holds on `day`.
    pub fn holds_on(&self, day: NaiveDate) -> bool {
        self.given_on.is_some_and(|given| given <= day)
            && self.withdrawn_on.is_none_or(|withdrawn| day < withdrawn)
    }
}

/// How far a goal has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GoalState {
    /// Being worked towards.
    #[default]
    Active,
    /// Reached.
    Achieved,
    /// Given up.
    Dropped,
}

/// A goal agreed with the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Goal {
    pub id: ItemId,
    #[serde(default)]
    pub goal: String,
    #[serde(default)]
    pub state: GoalState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_withdrawn_consent_stops_holding_on_the_day_it_is_withdrawn() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
        let consent = Consent {
            id: ItemId::random(),
            scope: Some(ConsentScope::Record),
            details: String::new(),
            given_on: Some(day(2)),
            obtained: Some("written".into()),
            withdrawn_on: Some(day(10)),
        };
        assert!(!consent.holds_on(day(1)));
        assert!(consent.holds_on(day(2)));
        assert!(consent.holds_on(day(9)));
        assert!(!consent.holds_on(day(10)));
    }
}
