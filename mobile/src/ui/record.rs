//! A record: timeliness, the editor for its kind, review, finalising and addenda.

use chrono::Local;
use dioxus::prelude::*;
use doorstep_shared::ids::{DocId, RecordId};
use doorstep_shared::model::{Record, RecordBody, RecordStatus, ReviewAction, TeamRole};
use serde_json::Value;

use crate::platform;
use crate::presenters::timeliness::{timeliness, when};
use crate::session::Session;
use crate::ui::Route;

use super::form::{Editable, TemplateForm};
use super::humanize;

/// A record's body as the form reads it: field names as in its template.
pub fn body_values(body: &RecordBody) -> Value {
    match body {
        RecordBody::HomeVisit(body) => serde_json::to_value(body),
        RecordBody::ProcessRecording(body) => serde_json::to_value(body),
        RecordBody::CaseNote(body) => serde_json::to_value(body),
        RecordBody::GroupSession(body) => serde_json::to_value(body),
    }
    .unwrap_or_default()
}

#[component]
pub fn RecordView(id: RecordId) -> Element {
    let mut session = Session::get();
    let _ = session.revision.read();
    let now = platform::now();
    let zone = *Local::now().offset();
    let loaded = session.read(|store| {
        let record = store.record(id)?;
        let case = store.case(record.case_id)?;
        Ok((record, case, store.overdue_after()?))
    });
    let Some(Ok((record, case, threshold))) = loaded else {
        return rsx! { p { class: "empty", "This record is not on this device." } };
    };
    let me = session.user();
    let supervises = me
        .as_ref()
        .is_some_and(|me| case.team.get(me) == Some(&TeamRole::Supervisor));
    let reviews = record.status == RecordStatus::Submitted
        && (supervises || me.as_ref() != Some(&record.author));
    let editable = if record.status.author_may_edit() {
        Editable::Author
    } else if reviews {
        Editable::Review
    } else {
        Editable::None
    };
    let timely = timeliness(&record, now, threshold, zone);
    let template = record.kind().template();
    let values = body_values(&record.body);
    let save_label = session.save.read().label();

    rsx! {
        section { class: "record", "data-kind": template.kind,
            div { class: "record-head",
                h2 { "{template.label}" }
                span { class: "meta", "{case.profile.client_name} · by {record.author}" }
                span { class: "status status-{record.status.as_str()}", "{humanize(record.status.as_str())}" }
            }
            dl { class: "timeliness",
                for (what, at) in timely.lines {
                    div { key: "{what}",
                        dt { "{what}" }
                        dd { "{at}" }
                    }
                }
            }
            if let Some(overdue) = timely.overdue {
                p { class: "badge overdue", "{overdue}" }
            }
            p { class: "save-status", role: "status", "aria-live": "polite", "{save_label}" }
            TemplateForm { key: "{id}", doc: DocId::Record(id), template, values, editable }
            Addenda { record: record.clone() }
            Review { record: record.clone(), reviews }
            button { class: "secondary", onclick: move |_| session.open(Route::History { id }), "History" }
        }
    }
}

/// A step of the review cycle.
#[derive(Debug, Clone, Copy)]
enum Step {
    Submit,
    Comment,
    Return,
    Approve,
}

/// The review trail and what the worker or reviewer may do next.
#[component]
fn Review(record: Record, reviews: bool) -> Element {
    let mut session = Session::get();
    let mut comment = use_signal(String::new);
    // Bumped to give the comment box a fresh, empty textarea (see "Typed text" in `ui`).
    let mut comments = use_signal(|| 0u32);
    let zone = *Local::now().offset();
    let id = record.id;
    let mut act = move |step: Step| {
        let text = comment.peek().trim().to_owned();
        let now = platform::now();
        let done = session.write(|store| match step {
            Step::Submit => store.submit(id, now),
            Step::Comment => store.comment(id, &text, now),
            Step::Return => store.return_to_author(id, &text, now),
            Step::Approve => store.finalise(id, now),
        });
        if done.is_some() {
            comment.set(String::new());
            comments += 1;
        }
    };
    rsx! {
        fieldset { class: "list review",
            legend { "Review" }
            ul { class: "plain",
                for entry in record.review.iter() {
                    li { key: "{entry.id}",
                        strong {
                            match entry.action {
                                ReviewAction::Comment => "Comment",
                                ReviewAction::Returned => "Returned",
                                ReviewAction::Approved => "Approved",
                            }
                        }
                        " by {entry.by}, {when(entry.at, zone)}"
                        if !entry.text.is_empty() {
                            p { "{entry.text}" }
                        }
                    }
                }
            }
            if record.status.author_may_edit() {
                button { class: "primary", onclick: move |_| act(Step::Submit), "Submit for review" }
            }
            if reviews {
                label {
                    "Comment or reason for returning"
                    for generation in [comments()] {
                        textarea { key: "{generation}", name: "review_comment", autocomplete: "off", rows: 3, oninput: move |event| comment.set(event.value()) }
                    }
                }
                div { class: "row",
                    button { class: "secondary", onclick: move |_| act(Step::Comment), "Comment" }
                    button { class: "secondary", onclick: move |_| act(Step::Return), "Return to author" }
                }
                button { class: "primary", onclick: move |_| act(Step::Approve), "Approve and sign" }
            }
        }
    }
}

/// Amendments after sign-off, and the form to add one.
#[component]
fn Addenda(record: Record) -> Element {
    let mut session = Session::get();
    let mut reason = use_signal(String::new);
    let mut text = use_signal(String::new);
    // Bumped to give a submitted form fresh, empty inputs (see "Typed text" in `ui`).
    let mut forms = use_signal(|| 0u32);
    let zone = *Local::now().offset();
    let id = record.id;
    if record.status != RecordStatus::Finalised {
        return rsx! {};
    }
    let add = move |event: FormEvent| {
        event.prevent_default();
        let (why, body) = (reason.peek().clone(), text.peek().clone());
        if session
            .write(|store| store.add_addendum(id, &why, &body, platform::now()))
            .is_some()
        {
            reason.set(String::new());
            text.set(String::new());
            forms += 1;
        }
    };
    rsx! {
        fieldset { class: "list addenda",
            legend { "Addenda" }
            if let Some(signoff) = &record.signoff {
                p { class: "meta", "Signed by {signoff.by}, {when(signoff.at, zone)}. Changes now go in addenda." }
            }
            for addendum in record.addenda.iter() {
                div { key: "{addendum.id}", class: "entry amendment",
                    p { class: "meta", "Addendum by {addendum.author}, {when(addendum.at, zone)}. Reason: {addendum.reason}" }
                    p { "{addendum.text}" }
                }
            }
            for generation in [forms()] {
            form { key: "{generation}", onsubmit: add,
                label {
                    "Reason for the addendum"
                    input { name: "addendum_reason", autocomplete: "off", oninput: move |event| reason.set(event.value()) }
                }
                label {
                    "Addendum"
                    textarea { name: "addendum_text", autocomplete: "off", rows: 3, oninput: move |event| text.set(event.value()) }
                }
                button { class: "primary", r#type: "submit", "Add addendum" }
            }
            }
        }
    }
}
