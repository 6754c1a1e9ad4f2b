//! A case: opening one, its page (summary, new records, timeline) and its full profile.

use chrono::{DateTime, Local, Utc};
use dioxus::prelude::*;
use doorstep_shared::document::Occurrence;
use doorstep_shared::ids::{CaseId, DocId};
use doorstep_shared::model::{
    CaseEventDraft, CaseEventKind, CaseKind, ConsentScope, RecordKind, TeamRole,
};
use doorstep_shared::template;

use crate::platform;
use crate::presenters::timeliness::when;
use crate::session::Session;
use crate::ui::Route;

use super::attachments::{Attachments, ConsentSignatures};
use super::consent::{ConsentWarning, Disclosures};
use super::form::{Editable, TemplateForm};
use super::goals::GoalTrails;
use super::groups::{GroupView, GroupsAttended};
use super::visit_times::VisitTimesForm;
use super::{CardLink, humanize};

#[component]
pub fn NewCase() -> Element {
    let mut session = Session::get();
    let mut name = use_signal(String::new);
    let mut group = use_signal(|| false);
    let open = move |event: FormEvent| {
        event.prevent_default();
        let named = name.peek().trim().to_owned();
        if named.is_empty() {
            let missing = if group() {
                "Enter the group's name."
            } else {
                "Enter the client's name."
            };
            session.notice.set(Some(missing.into()));
            return;
        }
        let opened = session.write(|store| {
            if group() {
                store.create_group(&named, platform::now())
            } else {
                store.create_case(&named, platform::now())
            }
        });
        if let Some(id) = opened {
            // The new case takes the place of the form that opened it.
            session.replace_with(Route::CaseView { id });
        }
    };
    rsx! {
        section {
            form { onsubmit: open,
                div { class: "choices", role: "group", "aria-label": "Whose file",
                    button { r#type: "button", class: if group() { "choice" } else { "choice selected" }, "aria-pressed": "{!group()}", onclick: move |_| { group.set(false); name.set(String::new()); }, "A client" }
                    button { r#type: "button", class: if group() { "choice selected" } else { "choice" }, "aria-pressed": "{group()}", onclick: move |_| { group.set(true); name.set(String::new()); }, "A group" }
                }
                if group() {
                    label {
                        "Group's name"
                        input { name: "group_name", autocomplete: "off", oninput: move |event| name.set(event.value()) }
                    }
                    button { class: "primary", r#type: "submit", "Start the group" }
                } else {
                    label {
                        "Client's name"
                        input { name: "client_name", autocomplete: "off", oninput: move |event| name.set(event.value()) }
                    }
                    button { class: "primary", r#type: "submit", "Open case" }
                }
            }
        }
    }
}

/// One line of a case's timeline.
struct TimelineEntry {
    /// For the order: when it happened.
    at: DateTime<Utc>,
    /// When it happened, as shown.
    shown: String,
    title: String,
    detail: String,
    record: Option<doorstep_shared::ids::RecordId>,
}

#[component]
pub fn CaseView(id: CaseId) -> Element {
    let mut session = Session::get();
    let _ = session.revision.read();
    let mut choosing = use_signal(|| None::<RecordKind>);
    let zone = *Local::now().offset();
    let Some(Ok((case, records, team_changes))) = session.read(|store| {
        Ok((
            store.case(id)?,
            store.records_of_case(id)?,
            store.team_changes(id)?,
        ))
    }) else {
        return rsx! { p { class: "empty", "This case is not on this device." } };
    };
    if case.kind == CaseKind::Group {
        return rsx! { GroupView { id, case } };
    }
    let mut timeline: Vec<TimelineEntry> = records
        .iter()
        .map(|record| TimelineEntry {
            at: record.occurred_start.unwrap_or(record.due_from),
            shown: when(record.occurred_start.unwrap_or(record.due_from), zone),
            title: record.kind.template().label.to_owned(),
            detail: format!(
                "{} · by {}",
                humanize(record.status.as_str()),
                record.author
            ),
            record: Some(record.id),
        })
        .collect();
    timeline.extend(case.events.iter().map(|event| {
        TimelineEntry {
            // An event's day, placed at noon so it sorts among the records of that day.
            at: event
                .on
                .and_then(|day| day.and_hms_opt(12, 0, 0))
                .map_or(event.at, |noon| noon.and_utc()),
            shown: event.day().format("%a %-d %b %Y").to_string(),
            title: event.title(),
            detail: event.reason.clone(),
            record: None,
        }
    }));
    timeline.extend(team_changes.iter().map(|change| TimelineEntry {
        at: change.at,
        shown: when(change.at, zone),
        title: "Team".to_owned(),
        detail: match change.role {
            Some(role) => format!(
                "{} on the team as {}",
                change.member,
                humanize(role.as_str()).to_lowercase()
            ),
            None => format!("{} left the team", change.member),
        },
        record: None,
    }));
    timeline.sort_by_key(|entry| std::cmp::Reverse(entry.at));
    let supervises = session
        .user()
        .is_some_and(|user| case.team.get(&user) == Some(&TeamRole::Supervisor));

    rsx! {
        section { class: "case",
            div { class: "case-head",
                h2 { "{case.profile.client_name}" }
                span { class: "meta", "{humanize(case.status.state.as_str())}" }
                button { class: "secondary", onclick: move |_| session.open(Route::Profile { id }), "Profile, consents, goals, team" }
            }
            GoalTrails { id }
            GroupsAttended { attendance: case.group_attendance.clone() }
            h3 { "New record" }
            div { class: "kinds",
                for kind in RecordKind::EVERYDAY {
                    button {
                        class: if choosing() == Some(kind) { "kind selected" } else { "kind" },
                        onclick: move |_| choosing.set(Some(kind)),
                        "{kind.template().label}"
                    }
                }
            }
            if let Some(kind) = choosing() {
                ConsentWarning {
                    case_id: id,
                    client: case.profile.client_name.clone(),
                    standing: case.profile.consent_on(ConsentScope::Record, platform::now().with_timezone(&Local).date_naive()),
                    when: "today".to_owned(),
                }
                NewRecord { case_id: id, kind }
            }
            h3 { "Timeline" }
            if timeline.is_empty() {
                p { class: "empty", "No records yet." }
            }
            ol { class: "timeline",
                for (index, entry) in timeline.into_iter().enumerate() {
                    li { key: "{index}",
                        if let Some(record) = entry.record {
                            CardLink {
                                to: Route::RecordView { id: record },
                                title: entry.title.clone(),
                                meta: format!("{} · {}", entry.shown, entry.detail),
                            }
                        } else {
                            div { class: "card event",
                                span { class: "title", "{entry.title}" }
                                span { class: "meta", "{entry.shown} · {entry.detail}" }
                            }
                        }
                    }
                }
            }
            if supervises {
                SubjectAccess { id }
            }
        }
    }
}

/// A supervisor's answer to a subject access request: the case as a zip (the case file and
/// every record as PDFs and JSON, the attachments, a manifest of hashes), made by the server
/// from what has synced, with third parties' names redacted.
#[component]
fn SubjectAccess(id: CaseId) -> Element {
    let mut session = Session::get();
    let mut names = use_signal(String::new);
    let mut making = use_signal(|| false);
    let download = move |_| async move {
        if !platform::online() {
            session.notice.set(Some(
                "The archive is made by the server: connect, then try again.".into(),
            ));
            return;
        }
        let Some(client) = crate::sync_engine::client(&session) else {
            session.notice.set(Some(
                "Sign in to your agency's server under Sync first: it makes the archive.".into(),
            ));
            return;
        };
        let redact: Vec<String> = names
            .peek()
            .lines()
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect();
        making.set(true);
        let made = client.case_archive(id, &redact).await;
        making.set(false);
        let message = match made {
            Ok(bytes) => {
                match platform::save_file(&format!("case-{id}.zip"), &bytes, "application/zip") {
                    Ok(place) => format!("The case's archive is saved: {place}."),
                    Err(problem) => format!("The archive was made but not saved: {problem}."),
                }
            }
            Err(error) => format!(
                "The archive could not be made: {}.",
                crate::sync_engine::describe(&error)
            ),
        };
        session.notice.set(Some(message));
    };
    rsx! {
        details { class: "subject-access",
            summary { "Subject access request" }
            p { class: "meta",
                "A zip of the case file and every record, each as a PDF and as data, with the attachments and a list of every file's hash. The server makes it from what has synced."
            }
            label { r#for: "redact-names", "Other people's names to redact, one a line" }
            textarea {
                id: "redact-names",
                rows: 3,
                value: "{names}",
                oninput: move |event| names.set(event.value()),
            }
            button {
                class: "secondary",
                disabled: making(),
                onclick: download,
                if making() { "Making the archive…" } else { "Download the archive" }
            }
        }
    }
}

/// When the visit or session took place, then start writing.
#[component]
fn NewRecord(case_id: CaseId, kind: RecordKind) -> Element {
    let mut session = Session::get();
    let mut start = move |occurred: Occurrence| {
        if let Some(record) =
            session.write(|store| store.create_record(case_id, kind, occurred, platform::now()))
        {
            session.open(Route::RecordView { id: record });
        }
    };
    let Some(occasion) = kind.occasion() else {
        return rsx! {
            div { class: "new-record",
                button { class: "primary", onclick: move |_| start(Occurrence::default()), "Start {kind.template().label.to_lowercase()}" }
            }
        };
    };
    rsx! {
        div { class: "new-record",
            VisitTimesForm {
                key: "{kind.as_str()}",
                occasion,
                submit_label: format!("Start {}", kind.template().label.to_lowercase()),
                on_times: start,
                on_later: move |_| start(Occurrence::default()),
            }
        }
    }
}

#[component]
pub fn Profile(id: CaseId) -> Element {
    let mut session = Session::get();
    let _ = session.revision.read();
    let mut event_kind = use_signal(|| None::<CaseEventKind>);
    let mut label = use_signal(String::new);
    let mut day = use_signal(String::new);
    let mut reason = use_signal(String::new);
    let mut outcome = use_signal(String::new);
    // Bumped to give a submitted form fresh, empty inputs (see "Typed text" in `ui`).
    let mut event_forms = use_signal(|| 0u32);
    let Some(Ok((case, refusals))) =
        session.read(|store| Ok((store.case(id)?, store.refusals(DocId::Case(id))?)))
    else {
        return rsx! { p { class: "empty", "This case is not on this device." } };
    };
    let (template, values) = match &case.group {
        Some(group) => (
            &template::GROUP,
            serde_json::to_value(group).unwrap_or_default(),
        ),
        None => (
            &template::CASE,
            serde_json::to_value(&case.profile).unwrap_or_default(),
        ),
    };

    let record_event = move |event: FormEvent| {
        event.prevent_default();
        let Some(kind) = *event_kind.peek() else {
            session.notice.set(Some("Choose what happened.".into()));
            return;
        };
        let Ok(on) = chrono::NaiveDate::parse_from_str(&day.peek(), "%Y-%m-%d") else {
            session
                .notice
                .set(Some("Enter the day it happened.".into()));
            return;
        };
        let draft = CaseEventDraft {
            label: label.peek().clone(),
            outcome: outcome.peek().clone(),
            ..CaseEventDraft::new(kind, on, &reason.peek())
        };
        if session
            .write(|store| store.record_case_event(id, &draft, platform::now()))
            .is_some()
        {
            for mut field in [label, day, reason, outcome] {
                field.set(String::new());
            }
            event_kind.set(None);
            event_forms += 1;
        }
    };

    let save_label = session.save.read().label();
    rsx! {
        section { class: "profile",
            p { class: "save-status", role: "status", "aria-live": "polite", "{save_label}" }
            for refused in refusals {
                div { key: "{refused.id}", class: "banner warning not-accepted", role: "alert",
                    p { strong { "Not accepted by the server: " } "{refused.message}" }
                    for text in refused.texts.iter() {
                        div { key: "{text.field}", class: "refused-text",
                            span { class: "meta", "{text.field}" }
                            p { "{text.text}" }
                        }
                    }
                    button {
                        class: "text-button",
                        onclick: move |_| {
                            session.write(|store| store.dismiss_refusal(refused.id));
                        },
                        "Dismiss"
                    }
                }
            }
            button { class: "secondary", onclick: move |_| session.open(Route::CaseHistory { id }), "History of the case file" }
            TemplateForm { doc: DocId::Case(id), template, values, editable: Editable::Author }
            ConsentSignatures { case_id: id, case: case.clone() }
            Attachments { doc: DocId::Case(id), attachments: case.attachments.clone(), editable: true }
            Disclosures { case_id: id, case: case.clone() }
            fieldset { class: "list team",
                legend { "Team" }
                ul { class: "plain",
                    for (user, member_role) in case.team.clone() {
                        li { key: "{user}", "{user} · {humanize(member_role.as_str())}" }
                    }
                }
                p { class: "meta", "The team is kept by the server: an administrator adds and removes members, and every change shows on the case's timeline and in its history." }
            }
            fieldset { class: "list",
                legend { "Status: {humanize(case.status.state.as_str())}" }
                if !case.status.reason.is_empty() {
                    p { "Reason: {case.status.reason}" }
                }
                if !case.status.outcome.is_empty() {
                    p { "Outcome: {case.status.outcome}" }
                }
                ul { class: "plain",
                    for event in case.events.iter() {
                        li { key: "{event.id}", "{event.day().format(\"%-d %b %Y\")}: {event.title()}. {event.reason}" }
                    }
                }
                for generation in [event_forms()] {
                form { key: "{generation}", class: "case-event", onsubmit: record_event,
                    div { class: "choices", role: "group", "aria-label": "What happened",
                        for option in CaseEventKind::ALL.into_iter().filter(|kind| !matches!(kind, CaseEventKind::Closure | CaseEventKind::Transfer)) {
                            button {
                                r#type: "button",
                                class: if event_kind() == Some(option) { "choice selected" } else { "choice" },
                                "aria-pressed": "{event_kind() == Some(option)}",
                                onclick: move |_| event_kind.set(Some(option)),
                                "{template::choice_label(option.as_str())}"
                            }
                        }
                    }
                    if event_kind() == Some(CaseEventKind::Other) {
                        label {
                            "What to call it"
                            input { name: "event_label", autocomplete: "off", oninput: move |event| label.set(event.value()) }
                        }
                    }
                    label {
                        "Day it happened"
                        input { r#type: "date", name: "event_day", oninput: move |event| day.set(event.value()) }
                    }
                    label {
                        "Reason, or what it was about"
                        input { name: "reason", autocomplete: "off", oninput: move |event| reason.set(event.value()) }
                    }
                    label {
                        "Outcome"
                        input { name: "outcome", autocomplete: "off", oninput: move |event| outcome.set(event.value()) }
                    }
                    button { class: "secondary", r#type: "submit", "Record the event" }
                }
                }
                div { class: "row",
                    button { class: "secondary", onclick: move |_| session.open(Route::CloseCase { id }), "Close the case…" }
                    button { class: "secondary", onclick: move |_| session.open(Route::TransferCase { id }), "Transfer the case…" }
                }
            }
        }
    }
}
