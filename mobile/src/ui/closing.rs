//! Closing a case and handing it over: each needs its summary record, signed like any
//! other; closing first lists what is still open, each item to resolve or acknowledge.

use std::collections::BTreeMap;

use chrono::{Local, NaiveDate};
use dioxus::prelude::*;
use doorstep_shared::document::Occurrence;
use doorstep_shared::ids::CaseId;
use doorstep_shared::model::{Acknowledgement, Closure, RecordKind, TeamRole};
use doorstep_shared::store::RecordSummary;

use crate::platform;
use crate::session::Session;
use crate::ui::Route;

use super::humanize;

/// The newest record of `kind` among a case's records.
fn newest(records: &[RecordSummary], kind: RecordKind) -> Option<&RecordSummary> {
    records
        .iter()
        .filter(|record| record.kind == kind)
        .max_by_key(|record| record.writing_began)
}

/// The summary a closure or transfer rests on: open it, or start it.
#[component]
fn SummaryStep(case_id: CaseId, kind: RecordKind, summary: Option<RecordSummary>) -> Element {
    let mut session = Session::get();
    let label = kind.template().label;
    let start = move |_| {
        let started = session.write(|store| {
            store.create_record(case_id, kind, Occurrence::default(), platform::now())
        });
        if let Some(record) = started {
            session.open(Route::RecordView { id: record });
        }
    };
    rsx! {
        fieldset { class: "list summary-step",
            legend { "1. {label}" }
            match summary {
                Some(summary) => rsx! {
                    p { "{label}: {humanize(summary.status.as_str())}. It is reviewed and signed like any record." }
                    button { class: "secondary", onclick: move |_| session.open(Route::RecordView { id: summary.id }), "Open the {label.to_lowercase()}" }
                },
                None => rsx! {
                    p { class: "meta", "Not written yet." }
                    button { class: "primary", onclick: start, "Write the {label.to_lowercase()}" }
                },
            }
        }
    }
}

#[component]
pub fn CloseCase(id: CaseId) -> Element {
    let mut session = Session::get();
    let _ = session.revision.read();
    let zone = *Local::now().offset();
    let mut reasons = use_signal(BTreeMap::<String, String>::new);
    let mut day = use_signal(String::new);
    let mut outcome = use_signal(String::new);
    let mut problem = use_signal(|| None::<String>);
    let loaded = session.read(|store| {
        Ok((
            store.case(id)?,
            store.records_of_case(id)?,
            store.closing_checklist(id, zone)?,
        ))
    });
    let Some(Ok((case, records, open))) = loaded else {
        return rsx! { p { class: "empty", "This case is not on this device." } };
    };
    let summary = newest(&records, RecordKind::ClosingSummary).cloned();
    let summary_id = summary.as_ref().map(|summary| summary.id);
    let items = open.clone();
    let close = move |event: FormEvent| {
        event.prevent_default();
        let Some(summary) = summary_id else {
            problem.set(Some("Write the closing summary first.".into()));
            return;
        };
        let Ok(on) = NaiveDate::parse_from_str(&day.peek(), "%Y-%m-%d") else {
            problem.set(Some("Enter the day the case closed.".into()));
            return;
        };
        let acknowledged: Vec<Acknowledgement> = items
            .iter()
            .filter_map(|item| {
                let why = reasons.peek().get(&item.key)?.trim().to_owned();
                (!why.is_empty()).then(|| Acknowledgement {
                    item: item.key.clone(),
                    description: item.description.clone(),
                    why,
                })
            })
            .collect();
        problem.set(None);
        let outcome = outcome.peek().clone();
        let closure = Closure {
            summary,
            acknowledged,
            on,
            outcome,
        };
        let closed = session.write(|store| store.close_case(id, closure, platform::now(), zone));
        if closed.is_some() {
            session.replace_with(Route::CaseView { id });
        }
    };
    rsx! {
        section { class: "closing",
            h2 { "Close the case of {case.profile.client_name}" }
            SummaryStep { case_id: id, kind: RecordKind::ClosingSummary, summary }
            fieldset { class: "list checklist",
                legend { "2. Still open" }
                if open.is_empty() {
                    p { class: "meta", "Nothing: every record is signed and every task done." }
                }
                ul { class: "plain",
                    for item in open {
                        li { key: "{item.key}", class: "outstanding",
                            p { "{item.description}" }
                            button { class: "text-button", onclick: move |_| session.open(Route::RecordView { id: item.record }), "Open it to resolve" }
                            label {
                                "Or: why it can stay open"
                                input {
                                    name: "acknowledge",
                                    autocomplete: "off",
                                    oninput: {
                                        let key = item.key.clone();
                                        move |event: FormEvent| {
                                            reasons.write().insert(key.clone(), event.value());
                                        }
                                    },
                                }
                            }
                        }
                    }
                }
            }
            form { class: "close-case", onsubmit: close,
                legend { "3. Close" }
                label {
                    "Day the case closed"
                    input { r#type: "date", name: "closed_on", oninput: move |event| day.set(event.value()) }
                }
                label {
                    "Outcome"
                    input { name: "closing_outcome", autocomplete: "off", oninput: move |event| outcome.set(event.value()) }
                }
                if let Some(problem) = problem() {
                    p { class: "error", role: "alert", "{problem}" }
                }
                button { class: "primary", r#type: "submit", "Close the case" }
            }
        }
    }
}

#[component]
pub fn TransferCase(id: CaseId) -> Element {
    let mut session = Session::get();
    let _ = session.revision.read();
    let mut team = use_signal(String::new);
    let mut day = use_signal(String::new);
    let mut reason = use_signal(String::new);
    let mut problem = use_signal(|| None::<String>);
    let loaded = session.read(|store| Ok((store.case(id)?, store.records_of_case(id)?)));
    let Some(Ok((case, records))) = loaded else {
        return rsx! { p { class: "empty", "This case is not on this device." } };
    };
    let summary = newest(&records, RecordKind::HandoverSummary).cloned();
    let summary_id = summary.as_ref().map(|summary| summary.id);
    let supervises = session
        .user()
        .is_some_and(|user| case.team.get(&user) == Some(&TeamRole::Supervisor));
    let transfer = move |event: FormEvent| {
        event.prevent_default();
        let Some(summary) = summary_id else {
            problem.set(Some("Write the handover summary first.".into()));
            return;
        };
        let Ok(on) = NaiveDate::parse_from_str(&day.peek(), "%Y-%m-%d") else {
            problem.set(Some("Enter the day of the transfer.".into()));
            return;
        };
        problem.set(None);
        let (to_team, why) = (team.peek().clone(), reason.peek().clone());
        let transferred = session
            .write(|store| store.transfer_case(id, summary, &to_team, on, &why, platform::now()));
        if transferred.is_some() {
            session.replace_with(Route::CaseView { id });
        }
    };
    rsx! {
        section { class: "transfer",
            h2 { "Transfer the case of {case.profile.client_name}" }
            SummaryStep { case_id: id, kind: RecordKind::HandoverSummary, summary }
            form { class: "transfer-case", onsubmit: transfer,
                legend { "2. Transfer" }
                if supervises {
                    label {
                        "Receiving team (blank for another agency)"
                        input { name: "to_team", autocomplete: "off", oninput: move |event| team.set(event.value()) }
                    }
                } else {
                    p { class: "meta", "Moving the case to another team is for the team's supervisor; you can record a transfer to another agency." }
                }
                label {
                    "Day of the transfer"
                    input { r#type: "date", name: "transfer_on", oninput: move |event| day.set(event.value()) }
                }
                label {
                    "Reason"
                    input { name: "transfer_reason", autocomplete: "off", oninput: move |event| reason.set(event.value()) }
                }
                if let Some(problem) = problem() {
                    p { class: "error", role: "alert", "{problem}" }
                }
                button { class: "primary", r#type: "submit", "Transfer the case" }
            }
        }
    }
}
