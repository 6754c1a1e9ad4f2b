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
    /// Information shared with other agencies, oldest first.
    #[serde(default)]
    pub disclosures: Vec<Disclosure>,
    /// Photos, scans and signatures on the case file (a consent's signature among them).
    #[serde(default, deserialize_with = "crate::attachments::read_list")]
    pub attachments: Vec<crate::attachments::Attachment>,
    /// Everything known about the client (for a group, only its name, as `client_name`).
    pub profile: CaseProfile,
    /// A client's case or a group's.
    #[serde(default, rename = "case_kind")]
    pub kind: CaseKind,
    /// For a group: what it is for, its members and objectives.
    #[serde(default)]
    pub group: Option<crate::model::GroupProfile>,
    /// For a client who is a member of groups: each session's day and their attendance,
    /// written by the server, keyed `<session>/<member>`.
    #[serde(default)]
    pub group_attendance: BTreeMap<String, crate::model::GroupAttendance>,
}

/// Whose file a case document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// A client's.
    #[default]
    Client,
    /// A group's.
    Group,
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
    /// A court hearing about the client or their family.
    CourtHearing,
    /// The client went into hospital.
    HospitalAdmission,
    /// A concern for someone's safety was raised.
    SafeguardingConcern,
    /// Anything else worth a place on the chronology, under its own label.
    Other,
}

impl CaseEventKind {
    /// Every kind, in the order the app offers them.
    pub const ALL: [CaseEventKind; 8] = [
        CaseEventKind::CourtHearing,
        CaseEventKind::HospitalAdmission,
        CaseEventKind::SafeguardingConcern,
        CaseEventKind::Referral,
        CaseEventKind::Transfer,
        CaseEventKind::Closure,
        CaseEventKind::Reopening,
        CaseEventKind::Other,
    ];

    /// The kind's key, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseEventKind::Referral => "referral",
            CaseEventKind::Transfer => "transfer",
            CaseEventKind::Closure => "closure",
            CaseEventKind::Reopening => "reopening",
            CaseEventKind::CourtHearing => "court_hearing",
            CaseEventKind::HospitalAdmission => "hospital_admission",
            CaseEventKind::SafeguardingConcern => "safeguarding_concern",
            CaseEventKind::Other => "other",
        }
    }

    /// The state a case is in after this event, for the events that move it.
    pub fn resulting_state(self) -> Option<CaseState> {
        match self {
            CaseEventKind::Referral => Some(CaseState::Referred),
            CaseEventKind::Transfer => Some(CaseState::Transferred),
            CaseEventKind::Closure => Some(CaseState::Closed),
            CaseEventKind::Reopening => Some(CaseState::Open),
            CaseEventKind::CourtHearing
            | CaseEventKind::HospitalAdmission
            | CaseEventKind::SafeguardingConcern
            | CaseEventKind::Other => None,
        }
    }
}

/// Something that happened to the case, dated when it happened, with its reason and outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEvent {
    /// The event's id.
    pub id: ItemId,
    /// What happened.
    pub kind: CaseEventKind,
    /// For `Other`: what the worker calls it.
    #[serde(default)]
    pub label: String,
    /// The day it happened, as the worker entered it (events recorded before days were
    /// asked for have none: their day is when they were recorded).
    #[serde(default)]
    pub on: Option<NaiveDate>,
    /// When it was recorded, by the recording device's clock.
    pub at: DateTime<Utc>,
    /// Who recorded it.
    pub by: UserId,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// With what result.
    #[serde(default)]
    pub outcome: String,
    /// For a closure or a transfer: the closing or handover summary it rests on.
    #[serde(default)]
    pub summary: Option<crate::ids::RecordId>,
    /// For a closure: what was still open, and why it could stay so.
    #[serde(default)]
    pub acknowledged: Vec<crate::model::Acknowledgement>,
    /// For a transfer within the agency: the team that takes the case on.
    #[serde(default)]
    pub to_team: String,
}

impl CaseEvent {
    /// The day it happened: as entered, else the day it was recorded.
    pub fn day(&self) -> NaiveDate {
        self.on.unwrap_or_else(|| self.at.date_naive())
    }

    /// What the chronology calls it: the label of an `Other`, else its kind.
    pub fn title(&self) -> String {
        if self.kind == CaseEventKind::Other && !self.label.trim().is_empty() {
            self.label.trim().to_owned()
        } else {
            crate::template::choice_label(self.kind.as_str())
        }
    }
}

/// A case event as the worker describes it, before it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseEventDraft {
    /// What happened.
    pub kind: CaseEventKind,
    /// For `Other`: what to call it.
    pub label: String,
    /// The day it happened.
    pub on: NaiveDate,
    /// Why, or what it was about.
    pub reason: String,
    /// With what result.
    pub outcome: String,
    /// For a closure or a transfer: its summary record.
    pub summary: Option<crate::ids::RecordId>,
    /// For a closure: the open items acknowledged.
    pub acknowledged: Vec<crate::model::Acknowledgement>,
    /// For a transfer within the agency: the receiving team.
    pub to_team: String,
}

impl CaseEventDraft {
    /// An event of `kind` on `on`, with its reason: no summary, label or team.
    pub fn new(kind: CaseEventKind, on: NaiveDate, reason: &str) -> CaseEventDraft {
        CaseEventDraft {
            kind,
            label: String::new(),
            on,
            reason: reason.to_owned(),
            outcome: String::new(),
            summary: None,
            acknowledged: Vec::new(),
            to_team: String::new(),
        }
    }
}

/// Information from the case shared with another agency: to whom, what, when, and on what
/// basis. Recorded once and never changed, like a case event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disclosure {
    /// The disclosure's id.
    pub id: ItemId,
    /// Who received it: the agency, and the person there.
    pub to: String,
    /// What was shared.
    pub what: String,
    /// When it was shared.
    pub on: NaiveDate,
    /// The client's consent it was shared under, if any.
    #[serde(default)]
    pub consent: Option<ItemId>,
    /// Why it was shared without consent (a safeguarding duty, a court order...).
    #[serde(default)]
    pub basis: String,
    /// Who recorded it.
    pub by: UserId,
    /// When it was recorded, by the recording device's clock.
    pub recorded_at: DateTime<Utc>,
}

/// A disclosure as the worker describes it, before it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureDraft {
    /// Who received it.
    pub to: String,
    /// What was shared.
    pub what: String,
    /// When.
    pub on: NaiveDate,
    /// The consent it was shared under, if any.
    pub consent: Option<ItemId>,
    /// Why it was shared without consent, if it was.
    pub basis: String,
}

/// Why a disclosure cannot be recorded as described.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DisclosureError {
    /// Nobody named as the recipient, or nothing as what was shared.
    #[error("say to whom it went and what was shared")]
    Incomplete,
    /// Neither a consent nor a reason.
    #[error("choose the consent it was shared under, or give the reason for sharing without it")]
    NoBasis,
    /// The consent named does not cover sharing with other agencies on that day.
    #[error("that consent does not cover sharing with other agencies on that day")]
    ConsentDoesNotCover,
}

impl CaseProfile {
    /// Checks a disclosure against this profile: a recipient and a content, and either a
    /// consent to share with other agencies that held on the day or a reason.
    pub fn check_disclosure(&self, draft: &DisclosureDraft) -> Result<(), DisclosureError> {
        if draft.to.trim().is_empty() || draft.what.trim().is_empty() {
            return Err(DisclosureError::Incomplete);
        }
        match draft.consent {
            Some(id) => {
                let covers = self.consents.iter().any(|consent| {
                    consent.id == id
                        && consent.scope == Some(ConsentScope::ShareWithAgencies)
                        && consent.holds_on(draft.on)
                });
                if covers {
                    Ok(())
                } else {
                    Err(DisclosureError::ConsentDoesNotCover)
                }
            }
            None if draft.basis.trim().is_empty() => Err(DisclosureError::NoBasis),
            None => Ok(()),
        }
    }

    /// The consents to share with other agencies that hold on `day`.
    pub fn consents_to_share_on(&self, day: NaiveDate) -> Vec<&Consent> {
        self.consents
            .iter()
            .filter(|consent| {
                consent.scope == Some(ConsentScope::ShareWithAgencies) && consent.holds_on(day)
            })
            .collect()
    }
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
    pub phone: String,
    pub email: String,
    pub social_economic: String,
    pub earlier_involvement: String,
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
    pub progress: Vec<GoalProgressEntry>,
    pub decisions: Vec<crate::model::Decision>,
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
    /// To information from the record being shared with other agencies.
    ShareWithAgencies,
    /// To the record being used in the worker's supervision and in training.
    SupervisionAndTraining,
}

/// Whether a client's consent of one scope stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentStanding {
    /// A consent of that scope holds: given on or before the day, not withdrawn by it.
    Current {
        /// When it was given.
        given_on: NaiveDate,
    },
    /// Every consent of that scope given by the day had been withdrawn by it.
    Withdrawn {
        /// The latest withdrawal.
        on: NaiveDate,
    },
    /// None was given by that day.
    NotRecorded,
}

impl ConsentStanding {
    /// Whether consent holds.
    pub fn holds(self) -> bool {
        matches!(self, ConsentStanding::Current { .. })
    }
}

impl CaseProfile {
    /// Whether the client's consent of `scope` stands on `day`.
    pub fn consent_on(&self, scope: ConsentScope, day: NaiveDate) -> ConsentStanding {
        let of_scope = self
            .consents
            .iter()
            .filter(|consent| consent.scope == Some(scope));
        let mut withdrawn = None;
        for consent in of_scope {
            if consent.holds_on(day) {
                return ConsentStanding::Current {
                    given_on: consent.given_on.expect("a consent that holds was given"),
                };
            }
            if consent.given_on.is_some_and(|given| given <= day)
                && let Some(on) = consent.withdrawn_on
            {
                withdrawn = withdrawn.max(Some(on));
            }
        }
        withdrawn.map_or(ConsentStanding::NotRecorded, |on| {
            ConsentStanding::Withdrawn { on }
        })
    }
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
    /// When it should be reached.
    #[serde(default)]
    pub target_date: Option<NaiveDate>,
    /// When it is next reviewed with the client.
    #[serde(default)]
    pub review_date: Option<NaiveDate>,
}

impl Goal {
    /// Whether its review is overdue on `day`: an active goal whose review date has passed.
    pub fn review_overdue_on(&self, day: NaiveDate) -> bool {
        self.state == GoalState::Active && self.review_date.is_some_and(|review| review < day)
    }
}

/// Progress on a goal noted on the case file itself (at a review, say), dated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct GoalProgressEntry {
    pub id: ItemId,
    #[serde(default)]
    pub goal: Option<ItemId>,
    #[serde(default)]
    pub on: Option<NaiveDate>,
    /// From 1 (none) to 5 (achieved).
    #[serde(default)]
    pub rating: Option<i64>,
    #[serde(default)]
    pub note: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consent(scope: ConsentScope, given: Option<u32>, withdrawn: Option<u32>) -> Consent {
        let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
        Consent {
            id: ItemId::random(),
            scope: Some(scope),
            details: String::new(),
            given_on: given.map(day),
            obtained: Some("verbal".into()),
            withdrawn_on: withdrawn.map(day),
        }
    }

    #[test]
    fn consent_to_record_is_read_for_the_day_of_the_visit() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
        let mut profile = CaseProfile::default();
        assert_eq!(
            profile.consent_on(ConsentScope::Record, day(5)),
            ConsentStanding::NotRecorded
        );
        // Consent to share is not consent to record.
        profile
            .consents
            .push(consent(ConsentScope::ShareWithAgencies, Some(1), None));
        assert!(!profile.consent_on(ConsentScope::Record, day(5)).holds());
        profile
            .consents
            .push(consent(ConsentScope::Record, Some(2), Some(10)));
        assert_eq!(
            profile.consent_on(ConsentScope::Record, day(1)),
            ConsentStanding::NotRecorded
        );
        assert_eq!(
            profile.consent_on(ConsentScope::Record, day(5)),
            ConsentStanding::Current { given_on: day(2) }
        );
        assert_eq!(
            profile.consent_on(ConsentScope::Record, day(12)),
            ConsentStanding::Withdrawn { on: day(10) }
        );
        // Given again after the withdrawal, it holds again.
        profile
            .consents
            .push(consent(ConsentScope::Record, Some(14), None));
        assert_eq!(
            profile.consent_on(ConsentScope::Record, day(12)),
            ConsentStanding::Withdrawn { on: day(10) }
        );
        assert!(profile.consent_on(ConsentScope::Record, day(14)).holds());
        // An entry with no date given is not consent.
        let mut undated = CaseProfile::default();
        undated
            .consents
            .push(consent(ConsentScope::Record, None, None));
        assert!(!undated.consent_on(ConsentScope::Record, day(5)).holds());
    }

    #[test]
    fn a_disclosure_rests_on_a_consent_that_covers_it_or_on_a_reason() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
        let mut profile = CaseProfile::default();
        let to_record = consent(ConsentScope::Record, Some(1), None);
        let to_share = consent(ConsentScope::ShareWithAgencies, Some(2), Some(20));
        profile.consents = vec![to_record.clone(), to_share.clone()];
        let draft = |consent: Option<ItemId>, basis: &str, on| DisclosureDraft {
            to: "Housing office, Mr Lee".into(),
            what: "The state of the heating".into(),
            on: day(on),
            consent,
            basis: basis.into(),
        };
        assert_eq!(
            profile.check_disclosure(&draft(Some(to_share.id), "", 5)),
            Ok(())
        );
        assert_eq!(
            profile.check_disclosure(&draft(Some(to_share.id), "", 25)),
            Err(DisclosureError::ConsentDoesNotCover),
            "withdrawn by then"
        );
        assert_eq!(
            profile.check_disclosure(&draft(Some(to_record.id), "", 5)),
            Err(DisclosureError::ConsentDoesNotCover),
            "consent to be recorded is not consent to share"
        );
        assert_eq!(
            profile.check_disclosure(&draft(None, "  ", 25)),
            Err(DisclosureError::NoBasis)
        );
        assert_eq!(
            profile.check_disclosure(&draft(None, "Safeguarding duty: risk of harm", 25)),
            Ok(())
        );
        let mut nobody = draft(None, "Court order", 5);
        nobody.to = " ".into();
        assert_eq!(
            profile.check_disclosure(&nobody),
            Err(DisclosureError::Incomplete)
        );
        assert_eq!(profile.consents_to_share_on(day(5)), vec![&to_share]);
        assert!(profile.consents_to_share_on(day(25)).is_empty());
    }

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
