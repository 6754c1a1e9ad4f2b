//! Who wrote what in a record, and the record exactly as signed; who changed what in a case
//! file. Who wrote each change is the server's word: it refuses a change whose writer is
//! not the user who pushed it.

use std::collections::BTreeSet;

use chrono::Local;
use dioxus::prelude::*;
use doorstep_shared::document::HistoryEntry;
use doorstep_shared::ids::{CaseId, DocId, RecordId};

use crate::presenters::timeliness::when;
use crate::session::Session;

use super::form::{Editable, TemplateForm};
use super::humanize;
use super::record::body_values;

#[component]
pub fn History(id: RecordId) -> Element {
    let session = Session::get();
    let _ = session.revision.read();
    let loaded = session.read(|store| {
        Ok((
            store.history(id)?,
            store.record_as_signed(id)?,
            store.record(id)?,
        ))
    });
    let Some(Ok((entries, signed, record))) = loaded else {
        return rsx! { p { class: "empty", "This record is not on this device." } };
    };
    let template = record.kind().template();
    rsx! {
        section { class: "history",
            Changes { entries }
            if let Some(signed) = signed {
                h3 { "As signed" }
                div { class: "as-signed",
                    TemplateForm { doc: DocId::Record(id), template, values: body_values(&signed.body), editable: Editable::None }
                }
            }
        }
    }
}

#[component]
pub fn CaseHistory(id: CaseId) -> Element {
    let session = Session::get();
    let _ = session.revision.read();
    let Some(Ok(entries)) = session.read(|store| store.history(DocId::Case(id))) else {
        return rsx! { p { class: "empty", "This case is not on this device." } };
    };
    rsx! {
        section { class: "history",
            Changes { entries }
        }
    }
}

/// Everyone who wrote, then each change, newest first.
#[component]
fn Changes(entries: Vec<HistoryEntry>) -> Element {
    let zone = *Local::now().offset();
    let authors = entries
        .iter()
        .filter_map(|entry| entry.user.as_ref().map(|user| user.as_str().to_owned()))
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join(", ");
    rsx! {
        p { class: "authors", "Written by: {authors}" }
        ol { class: "changes",
            for entry in entries.iter().rev() {
                li {
                    key: "{entry.change}",
                    class: if entry.after_signoff { "change amendment" } else { "change" },
                    span { class: "who", "{who(entry)}" }
                    span { class: "meta", " {when(entry.at, zone)}" }
                    p {
                        "{what(entry)}"
                        if entry.after_signoff {
                            strong { " (after sign-off)" }
                        }
                    }
                }
            }
        }
    }
}

fn who(entry: &HistoryEntry) -> &str {
    entry
        .user
        .as_ref()
        .map_or("unknown device", |user| user.as_str())
}

/// "Edit: observed_client", "Sign off: signoff".
fn what(entry: &HistoryEntry) -> String {
    let action = entry
        .action
        .map(|action| humanize(&format!("{action:?}")))
        .unwrap_or_else(|| "Change".into());
    if entry.fields.is_empty() {
        action
    } else {
        format!("{action}: {}", entry.fields.join(", "))
    }
}
