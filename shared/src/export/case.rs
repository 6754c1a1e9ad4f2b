//! A case file as it leaves, for a subject access request: the case's own form (the client's
//! details, contacts, household, consents, goals), its team, its chronology of events, what
//! was shared with other agencies, its attachments and its history.

use serde::Serialize;
use serde_json::Value;

use super::{
    AttachmentSheet, FieldLine, HistoryLine, ListSheet, Names, Stamp, form_lines, history_line,
    namer,
};
use crate::document::{Document, DocumentError, name_references, readable_history};
use crate::model::{Case, CaseKind};
use crate::template::capitalised;

/// The schema a [`CaseSheet`]'s JSON follows, in `docs/export-schema.json`'s `$defs`.
pub const CASE_SCHEMA: &str = "urn:doorstep:export:case:1";

/// A member of the case's team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamLine {
    /// The user.
    pub user: String,
    /// worker, colleague or supervisor.
    pub role: String,
}

/// An event on the case's chronology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventLine {
    /// The day it happened, in words ("Mon 2 Mar 2026").
    pub day: String,
    /// What happened ("Court hearing").
    pub what: String,
    /// Why.
    pub reason: String,
    /// With what result.
    pub outcome: String,
    /// Who recorded it.
    pub by: String,
    /// When it was recorded.
    pub at: Stamp,
}

/// Information shared with another agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DisclosureLine {
    /// The day it was shared.
    pub day: String,
    /// Who received it.
    pub to: String,
    /// What was shared.
    pub what: String,
    /// On what footing: the client's consent, or the reason given without it.
    pub basis: String,
    /// Who recorded it.
    pub by: String,
    /// When it was recorded.
    pub at: Stamp,
}

/// A case file as it leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseSheet {
    /// [`CASE_SCHEMA`].
    pub schema: String,
    /// The case's id.
    pub case: String,
    /// The client's name, or the group's.
    pub client: String,
    /// `case` or `group`.
    pub kind: String,
    /// "Case file" or "Group".
    pub kind_label: String,
    /// Who opened it.
    pub opened_by: String,
    /// When.
    pub opened: Stamp,
    /// Open, referred, transferred or closed, with the reason.
    pub status: String,
    /// The team that holds it, as the server wrote it.
    pub team: Vec<TeamLine>,
    /// The form's fields.
    pub fields: Vec<FieldLine>,
    /// The form's lists.
    pub lists: Vec<ListSheet>,
    /// The chronology.
    pub events: Vec<EventLine>,
    /// What was shared with other agencies.
    pub disclosures: Vec<DisclosureLine>,
    /// Photos, documents and signatures on the case file.
    pub attachments: Vec<AttachmentSheet>,
    /// Who wrote what and when.
    pub history: Vec<HistoryLine>,
}

impl CaseSheet {
    /// The latest instant the sheet shows.
    pub fn latest(&self) -> chrono::DateTime<chrono::Utc> {
        std::iter::once(&self.opened)
            .chain(self.history.iter().map(|line| &line.to))
            .filter_map(|stamp| chrono::DateTime::parse_from_rfc3339(&stamp.utc).ok())
            .map(|at| at.with_timezone(&chrono::Utc))
            .max()
            .unwrap_or(chrono::DateTime::UNIX_EPOCH)
    }
}

/// The sheet of the case file `document`.
pub fn case_sheet(
    document: &mut Document,
    names: &mut dyn Names,
) -> Result<CaseSheet, DocumentError> {
    let case: Case = document.case()?;
    let template = document.template()?;
    let body = document
        .fields_to_json(&["body"], None)?
        .get("body")
        .cloned()
        .unwrap_or(Value::Null);
    let (fields, lists) = form_lines(template, &body, &mut namer(&case, names));
    let day = |on: chrono::NaiveDate| on.format("%a %-d %b %Y").to_string();
    let events = case
        .events
        .iter()
        .map(|event| EventLine {
            day: day(event.on.unwrap_or_else(|| event.at.date_naive())),
            what: if event.label.is_empty() {
                capitalised(&event.kind.as_str().replace('_', " "))
            } else {
                event.label.clone()
            },
            reason: event.reason.clone(),
            outcome: event.outcome.clone(),
            by: event.by.to_string(),
            at: Stamp::of(event.at),
        })
        .collect();
    let disclosures = case
        .disclosures
        .iter()
        .map(|disclosure| DisclosureLine {
            day: day(disclosure.on),
            to: disclosure.to.clone(),
            what: disclosure.what.clone(),
            basis: match disclosure.consent {
                Some(_) => "with the client's consent".to_owned(),
                None => format!("without consent: {}", disclosure.basis),
            },
            by: disclosure.by.to_string(),
            at: Stamp::of(disclosure.recorded_at),
        })
        .collect();
    let mut entries = readable_history(document)?;
    name_references(
        &mut entries,
        &case,
        |client| names.client_name(client),
        "one no longer on the case",
    );
    let status = {
        let state = capitalised(case.status.state.as_str());
        match case.status.reason.as_str() {
            "" => state,
            reason => format!("{state}: {reason}"),
        }
    };
    let (kind, kind_label, client) = match case.kind {
        CaseKind::Group => (
            "group",
            "Group",
            case.group
                .as_ref()
                .map(|group| group.name.clone())
                .unwrap_or_default(),
        ),
        CaseKind::Client => ("case", "Case file", case.profile.client_name.clone()),
    };
    Ok(CaseSheet {
        schema: CASE_SCHEMA.to_owned(),
        case: case.id.to_string(),
        client,
        kind: kind.to_owned(),
        kind_label: kind_label.to_owned(),
        opened_by: case.author.to_string(),
        opened: Stamp::of(case.created_at),
        status,
        team: case
            .team
            .iter()
            .map(|(user, role)| TeamLine {
                user: user.to_string(),
                role: role.as_str().to_owned(),
            })
            .collect(),
        fields,
        lists,
        events,
        disclosures,
        attachments: case.attachments.iter().map(AttachmentSheet::of).collect(),
        history: entries.into_iter().map(history_line).collect(),
    })
}
