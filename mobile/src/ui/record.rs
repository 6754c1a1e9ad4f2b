//! A record: timeliness, the editor for its kind, review, finalising and addenda.

use chrono::Local;
use dioxus::prelude::*;
use doorstep_shared::ids::{DocId, RecordId};
use doorstep_shared::model::{ConsentScope, Record, RecordBody, RecordStatus, ReviewAction};
use doorstep_shared::store::Refused;
use doorstep_shared::sync::http::SyncError;
use serde_json::Value;

use crate::platform;
use crate::presenters::review::{ReviewRights, review_rights};
use crate::presenters::timeliness::{timeliness, when};
use crate::session::Session;
use crate::ui::Route;

use super::attachments::Attachments;
use super::consent::ConsentWarning;
use super::form::{Editable, TemplateForm};
use super::humanize;
use super::visit_times::VisitTimesPanel;

/// A record's body as the form reads it: field names as in its template.
pub fn body_values(body: &RecordBody) -> Value {
    match body {
        RecordBody::HomeVisit(body) => serde_json::to_value(body),
        RecordBody::ProcessRecording(body) => serde_json::to_value(body),
        RecordBody::CaseNote(body) => serde_json::to_value(body),
        RecordBody::GroupSession(body) => serde_json::to_value(body),
        RecordBody::ClosingSummary(body) => serde_json::to_value(body),
        RecordBody::HandoverSummary(body) => serde_json::to_value(body),
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
        let writers = store.record_writers(id)?;
        let refusals = store.refusals(DocId::Record(id))?;
        Ok((record, case, writers, refusals, store.overdue_after()?))
    });
    let Some(Ok((record, case, writers, refusals, threshold))) = loaded else {
        return rsx! { p { class: "empty", "This record is not on this device." } };
    };
    let rights = review_rights(session.user().as_ref(), record.status, &case.team, &writers);
    let editable = if rights.edit {
        Editable::Author
    } else if rights.review {
        Editable::Review
    } else {
        Editable::None
    };
    let timely = timeliness(&record, now, threshold, zone);
    let visit_day = record
        .occurred_start
        .unwrap_or(record.writing_began)
        .with_timezone(&zone)
        .date_naive();
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
            VisitTimesPanel { record: record.clone(), editable: rights.edit }
            if record.status.author_may_edit() {
                ConsentWarning {
                    case_id: record.case_id,
                    client: case.profile.client_name.clone(),
                    standing: case.profile.consent_on(ConsentScope::Record, visit_day),
                    when: record.kind().occasion().map_or_else(
                        || "on the day it was written".to_owned(),
                        |occasion| format!("on the day of the {occasion}"),
                    ),
                }
            }
            p { class: "save-status", role: "status", "aria-live": "polite", "{save_label}" }
            for refused in refusals {
                NotAccepted { key: "{refused.id}", record: record.clone(), refused, may_add_addendum: rights.add_addendum }
            }
            TemplateForm { key: "{id}", doc: DocId::Record(id), template, values, editable }
            Attachments { doc: DocId::Record(id), attachments: record.attachments.clone(), editable: rights.edit }
            Addenda { record: record.clone(), may_add: rights.add_addendum }
            Review { record: record.clone(), rights }
            div { class: "record-actions",
                button { class: "secondary", onclick: move |_| session.open(Route::History { id }), "History" }
                PdfButton { id }
            }
        }
    }
}

/// "PDF for the file": the record as the server holds it, as signed, with its addenda,
/// history and hashes, for a court, the client or the paper file. The server makes it, so
/// it needs a connection; the record itself stays on the device either way.
#[component]
fn PdfButton(id: RecordId) -> Element {
    let mut session = Session::get();
    let mut making = use_signal(|| false);
    let download = move |_| async move {
        if !platform::online() {
            session.notice.set(Some(
                "A record's PDF is made by the server: connect, then try again. The record is \
                 safe on this device."
                    .into(),
            ));
            return;
        }
        let Some(client) = crate::sync_engine::client(&session) else {
            session.notice.set(Some(
                "Sign in to your agency's server under Sync first: it makes the PDF.".into(),
            ));
            return;
        };
        making.set(true);
        let made = client.record_pdf(id).await;
        making.set(false);
        let message = match made {
            Ok(bytes) => {
                let name = format!("record-{id}.pdf");
                match platform::save_file(&name, &bytes, "application/pdf") {
                    Ok(place) => format!("The record's PDF is saved: {place}."),
                    Err(problem) => format!("The PDF was made but not saved: {problem}."),
                }
            }
            Err(SyncError::Server { status: 404, .. }) => {
                "The server does not have this record yet: sync, then try again.".into()
            }
            Err(error) => format!(
                "The PDF could not be made: {}.",
                crate::sync_engine::describe(&error)
            ),
        };
        session.notice.set(Some(message));
    };
    rsx! {
        button {
            class: "secondary pdf",
            disabled: making(),
            title: "Made by the server from what has synced: the record as signed, its addenda and history, with their hashes",
            onclick: download,
            if making() { "Making the PDF…" } else { "PDF for the file" }
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
fn Review(record: Record, rights: ReviewRights) -> Element {
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
            if let Some(note) = &rights.note {
                p { class: "meta signers", "{note}" }
            }
            if rights.submit {
                button { class: "primary", onclick: move |_| act(Step::Submit), "Submit for review" }
            }
            if rights.review {
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
            }
            if rights.approve {
                button { class: "primary", onclick: move |_| act(Step::Approve), "Approve and sign" }
            }
        }
    }
}

/// Amendments after sign-off, and the form to add one.
#[component]
fn Addenda(record: Record, may_add: bool) -> Element {
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
            if may_add {
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
}

/// Words the server did not accept, kept on the device: the reason, the words by field,
/// and ways to keep them in the record.
#[component]
fn NotAccepted(record: Record, refused: Refused, may_add_addendum: bool) -> Element {
    let mut session = Session::get();
    let zone = *Local::now().offset();
    let id = refused.id;
    let words = refused
        .texts
        .iter()
        .map(|text| format!("{}: {}", text.field, text.text))
        .collect::<Vec<_>>()
        .join("\n\n");
    let reason = format!(
        "Written on this device, not accepted by the server on {}",
        when(refused.refused_at, zone)
    );
    let (record_id, case_id, kind) = (record.id, record.case_id, record.kind());
    let occurred = doorstep_shared::document::Occurrence {
        start: record.occurred_start,
        end: record.occurred_end,
    };
    let texts = refused.texts.clone();
    let as_addendum = {
        let (reason, words) = (reason.clone(), words.clone());
        move |_| {
            let added = session.write(|store| {
                store.add_addendum(record_id, &reason, &words, platform::now())?;
                store.dismiss_refusal(id)
            });
            if added.is_some() {
                session.notice.set(Some("Added as an addendum.".into()));
            }
        }
    };
    let as_new_record = move |_| {
        let template = kind.template();
        let created = session.write(|store| {
            let new = store.create_record(case_id, kind, occurred, platform::now())?;
            let mut rest = Vec::new();
            for text in &texts {
                match template
                    .fields
                    .iter()
                    .find(|field| field.label == text.field)
                {
                    Some(field) if field.kind.is_narrative() => store.edit(
                        new,
                        &doorstep_shared::document::Edit::text(field.name, &text.text),
                        platform::now(),
                    )?,
                    _ => rest.push(format!("{}: {}", text.field, text.text)),
                }
            }
            if let Some(field) = template
                .fields
                .iter()
                .find(|field| field.kind.is_narrative())
                && !rest.is_empty()
            {
                store.edit(
                    new,
                    &doorstep_shared::document::Edit::text(field.name, &rest.join("\n\n")),
                    platform::now(),
                )?;
            }
            store.dismiss_refusal(id)?;
            Ok(new)
        });
        if let Some(new) = created {
            session.open(Route::RecordView { id: new });
        }
    };
    rsx! {
        div { class: "banner warning not-accepted", role: "alert",
            p { strong { "Not accepted by the server: " } "{refused.message}" }
            if !refused.set_back {
                p { class: "meta", "Nothing written here was lost: it stays on this device and is sent again at each sync." }
            } else if refused.texts.is_empty() {
                p { class: "meta", "The record is back as the server holds it; none of your words were lost." }
            } else {
                p { class: "meta", "These words are kept on this device:" }
                for text in refused.texts.iter() {
                    div { key: "{text.field}", class: "refused-text",
                        span { class: "meta", "{text.field}" }
                        p { "{text.text}" }
                    }
                }
                div { class: "row",
                    if may_add_addendum {
                        button { class: "secondary", onclick: as_addendum, "Add as an addendum" }
                    }
                    button { class: "secondary", onclick: as_new_record, "Start a new record with them" }
                }
            }
            button {
                class: "text-button",
                onclick: move |_| {
                    session.write(|store| store.dismiss_refusal(id));
                },
                "Dismiss"
            }
        }
    }
}
