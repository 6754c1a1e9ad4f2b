//! A case: opening one, its page (summary, new records, timeline) and its full profile.

use chrono::{DateTime, Duration, Local, Utc};
use dioxus::prelude::*;
use doorstep_shared::document::Occurrence;
use doorstep_shared::ids::{CaseId, DocId};
use doorstep_shared::model::{CaseEventKind, RecordKind};
use doorstep_shared::template;

use crate::platform;
use crate::presenters::timeliness::when;
use crate::session::Session;
use crate::ui::Route;

use super::form::{Editable, TemplateForm, parse_local_time};
use super::{CardLink, humanize};

#[component]
pub fn NewCase() -> Element {
    let mut session = Session::get();
    let mut name = use_signal(String::new);
    let open = move |event: FormEvent| {
        event.prevent_default();
        let client = name.peek().trim().to_owned();
        if client.is_empty() {
            session.notice.set(Some("Enter the client's name.".into()));
            return;
        }
        if let Some(id) = session.write(|store| store.create_case(&client, platform::now())) {
            // The new case takes the place of the form that opened it.
            session.replace_with(Route::CaseView { id });
        }
    };
    rsx! {
        section {
            form { onsubmit: open,
                label {
                    "Client's name"
                    input { name: "client_name", autocomplete: "off", oninput: move |event| name.set(event.value()) }
                }
                button { class: "primary", r#type: "submit", "Open case" }
            }
        }
    }
}

/// One line of a case's timeline.
struct TimelineEntry {
    at: DateTime<Utc>,
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
    let mut timeline: Vec<TimelineEntry> = records
        .iter()
        .map(|record| TimelineEntry {
            at: record.occurred_start.unwrap_or(record.due_from),
            title: record.kind.template().label.to_owned(),
            detail: format!(
                "{} · by {}",
                humanize(record.status.as_str()),
                record.author
            ),
            record: Some(record.id),
        })
        .collect();
    timeline.extend(case.events.iter().map(|event| TimelineEntry {
        at: event.at,
        title: humanize(event.kind.as_str()),
        detail: event.reason.clone(),
        record: None,
    }));
    timeline.extend(team_changes.iter().map(|change| TimelineEntry {
        at: change.at,
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

    rsx! {
        section { class: "case",
            div { class: "case-head",
                h2 { "{case.profile.client_name}" }
                span { class: "meta", "{humanize(case.status.state.as_str())}" }
                button { class: "secondary", onclick: move |_| session.open(Route::Profile { id }), "Profile, consents, goals, team" }
            }
            h3 { "New record" }
            div { class: "kinds",
                for kind in RecordKind::ALL {
                    button {
                        class: if choosing() == Some(kind) { "kind selected" } else { "kind" },
                        onclick: move |_| choosing.set(Some(kind)),
                        "{kind.template().label}"
                    }
                }
            }
            if let Some(kind) = choosing() {
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
                                meta: format!("{} · {}", when(entry.at, zone), entry.detail),
                            }
                        } else {
                            div { class: "card event",
                                span { class: "title", "{entry.title}" }
                                span { class: "meta", "{when(entry.at, zone)} · {entry.detail}" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// When the visit or session took place, then start writing.
#[component]
fn NewRecord(case_id: CaseId, kind: RecordKind) -> Element {
    let mut session = Session::get();
    let now = Local::now();
    let format = |at: DateTime<Local>| at.format("%Y-%m-%dT%H:%M").to_string();
    let mut ended = use_signal(|| format(now));
    let mut started = use_signal(|| format(now - Duration::hours(1)));
    let start = move |event: FormEvent| {
        event.prevent_default();
        let occurred = Occurrence {
            start: parse_local_time(&started.peek()),
            end: parse_local_time(&ended.peek()),
        };
        if let (Some(start), Some(end)) = (occurred.start, occurred.end)
            && start > end
        {
            session
                .notice
                .set(Some("The visit must end after it starts.".into()));
            return;
        }
        if let Some(record) =
            session.write(|store| store.create_record(case_id, kind, occurred, platform::now()))
        {
            session.open(Route::RecordView { id: record });
        }
    };
    rsx! {
        form { class: "new-record", onsubmit: start,
            label {
                "Started"
                input { r#type: "datetime-local", name: "started", initial_value: "{started.peek()}", oninput: move |event| started.set(event.value()) }
            }
            label {
                "Ended"
                input { r#type: "datetime-local", name: "ended", initial_value: "{ended.peek()}", oninput: move |event| ended.set(event.value()) }
            }
            button { class: "primary", r#type: "submit", "Start {kind.template().label.to_lowercase()}" }
        }
    }
}

#[component]
pub fn Profile(id: CaseId) -> Element {
    let mut session = Session::get();
    let _ = session.revision.read();
    let mut event_kind = use_signal(|| CaseEventKind::Closure);
    let mut reason = use_signal(String::new);
    let mut outcome = use_signal(String::new);
    // Bumped to give a submitted form fresh, empty inputs (see "Typed text" in `ui`).
    let mut event_forms = use_signal(|| 0u32);
    let zone = *Local::now().offset();
    let Some(Ok((case, refusals))) =
        session.read(|store| Ok((store.case(id)?, store.refusals(DocId::Case(id))?)))
    else {
        return rsx! { p { class: "empty", "This case is not on this device." } };
    };
    let values = serde_json::to_value(&case.profile).unwrap_or_default();

    let record_event = move |event: FormEvent| {
        event.prevent_default();
        let (kind, why, result) = (
            *event_kind.peek(),
            reason.peek().clone(),
            outcome.peek().clone(),
        );
        if session
            .write(|store| store.record_case_event(id, kind, &why, &result, platform::now()))
            .is_some()
        {
            reason.set(String::new());
            outcome.set(String::new());
            event_forms += 1;
        }
    };

    rsx! {
        section { class: "profile",
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
            TemplateForm { doc: DocId::Case(id), template: &template::CASE, values, editable: Editable::Author }
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
                        li { key: "{event.id}", "{when(event.at, zone)}: {humanize(event.kind.as_str())}. {event.reason}" }
                    }
                }
                for generation in [event_forms()] {
                form { key: "{generation}", onsubmit: record_event,
                    div { class: "choices",
                        for option in [CaseEventKind::Referral, CaseEventKind::Transfer, CaseEventKind::Closure, CaseEventKind::Reopening] {
                            button {
                                r#type: "button",
                                class: if event_kind() == option { "choice selected" } else { "choice" },
                                onclick: move |_| event_kind.set(option),
                                "{humanize(option.as_str())}"
                            }
                        }
                    }
                    label {
                        "Reason"
                        input { name: "reason", autocomplete: "off", oninput: move |event| reason.set(event.value()) }
                    }
                    label {
                        "Outcome"
                        input { name: "outcome", autocomplete: "off", oninput: move |event| outcome.set(event.value()) }
                    }
                    button { class: "secondary", r#type: "submit", "Record {humanize(event_kind().as_str()).to_lowercase()}" }
                }
                }
            }
        }
    }
}
