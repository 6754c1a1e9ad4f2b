//! Who wrote what in a record, and the record exactly as signed beside what came after; who
//! changed what in a case file. Who wrote each change is the server's word: it refuses a
//! change whose writer is not the user who pushed it.

use std::collections::BTreeSet;

use chrono::Local;
use dioxus::prelude::*;
use doorstep_shared::document::ReadableEntry;
use doorstep_shared::ids::{CaseId, DocId, RecordId};

use crate::presenters::timeliness::when;
use crate::session::Session;

use super::form::{Editable, TemplateForm};
use super::record::body_values;

#[component]
pub fn History(id: RecordId) -> Element {
    let session = Session::get();
    let _ = session.revision.read();
    let zone = *Local::now().offset();
    let loaded = session.read(|store| {
        Ok((
            store.readable_history(id)?,
            store.record_as_signed(id)?,
            store.record(id)?,
        ))
    });
    let Some(Ok((entries, signed, record))) = loaded else {
        return rsx! { p { class: "empty", "This record is not on this device." } };
    };
    let template = record.kind().template();
    let amendments: Vec<ReadableEntry> = entries
        .iter()
        .filter(|entry| entry.after_signoff)
        .cloned()
        .collect();
    rsx! {
        section { class: "history",
            if let Some(signed) = signed {
                div { class: "side-by-side",
                    div { class: "as-signed",
                        h3 { "As signed" }
                        if let Some(signoff) = &signed.signoff {
                            p { class: "meta", "Signed by {signoff.by}, {when(signoff.at, zone)}" }
                        }
                        TemplateForm { doc: DocId::Record(id), template, values: body_values(&signed.body), editable: Editable::None }
                    }
                    div { class: "after-signing",
                        h3 { "After signing" }
                        if record.addenda.is_empty() && amendments.is_empty() {
                            p { class: "empty", "Nothing has been added since." }
                        }
                        for addendum in record.addenda.iter() {
                            div { key: "{addendum.id}", class: "entry amendment",
                                p { class: "meta", "Addendum by {addendum.author}, {when(addendum.at, zone)}. Reason: {addendum.reason}" }
                                p { "{addendum.text}" }
                            }
                        }
                        if !amendments.is_empty() {
                            p { class: "meta", "Changes written beside the sign-off, shown as amendments:" }
                            Changes { entries: amendments, list_authors: false }
                        }
                    }
                }
            }
            h3 { "Every change" }
            Changes { entries, list_authors: true }
        }
    }
}

#[component]
pub fn CaseHistory(id: CaseId) -> Element {
    let session = Session::get();
    let _ = session.revision.read();
    let Some(Ok(entries)) = session.read(|store| store.readable_history(DocId::Case(id))) else {
        return rsx! { p { class: "empty", "This case is not on this device." } };
    };
    rsx! {
        section { class: "history",
            Changes { entries, list_authors: true }
        }
    }
}

/// Everyone who wrote (if `list_authors`), then each entry, newest first, with the words it
/// added and removed.
#[component]
fn Changes(entries: Vec<ReadableEntry>, list_authors: bool) -> Element {
    let zone = *Local::now().offset();
    let authors = entries
        .iter()
        .filter_map(|entry| entry.user.as_ref().map(|user| user.as_str().to_owned()))
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join(", ");
    rsx! {
        if list_authors {
            p { class: "authors", "Written by: {authors}" }
        }
        ol { class: "changes",
            for (index, entry) in entries.iter().enumerate().rev() {
                li {
                    key: "{index}",
                    class: if entry.after_signoff { "change amendment" } else { "change" },
                    p { class: "what",
                        strong { "{entry.summary}" }
                        if entry.after_signoff {
                            strong { " (after sign-off)" }
                        }
                    }
                    span { class: "meta", "{period(entry, zone)}" }
                    for (field_index, field) in entry.fields.iter().enumerate() {
                        div { key: "{field_index}", class: "field-change",
                            span { class: "label", "{field.label}" }
                            if let Some(now) = &field.now {
                                span { " now {now}" }
                            }
                            for (run, added) in field.added.iter().enumerate() {
                                ins { key: "a{run}", "{added}" }
                            }
                            for (run, removed) in field.removed.iter().enumerate() {
                                del { key: "r{run}", "{removed}" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// "Tue 3 Mar 2026, 14:05", or "Tue 3 Mar 2026, 14:05 to 14:09 (3 saves)" for a burst.
fn period(entry: &ReadableEntry, zone: chrono::FixedOffset) -> String {
    if entry.changes == 1 {
        return when(entry.from, zone);
    }
    format!(
        "{} to {} ({} saves)",
        when(entry.from, zone),
        entry.to.with_timezone(&zone).format("%H:%M"),
        entry.changes
    )
}
