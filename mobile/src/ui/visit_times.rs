//! Asking when the visit took place ([`crate::presenters::visit_times`]): on a new record,
//! and on a record whose times are missing or need correcting.

use chrono::{DateTime, Local, Utc};
use dioxus::prelude::*;
use doorstep_shared::document::Occurrence;
use doorstep_shared::model::Record;

use crate::platform;
use crate::presenters::timeliness::when;
use crate::presenters::visit_times::{
    LENGTHS, VisitTimesAnswer, WhenChoice, length_label, preference_key,
};
use crate::session::Session;

/// The question "when was it?", with quick answers. Nothing is filled in: the kind of answer
/// this worker gave last time is chosen, the times are theirs to give.
#[component]
pub fn VisitTimesForm(
    /// "visit", "session" or "contact".
    occasion: &'static str,
    /// The submit button's words.
    submit_label: String,
    /// Called with the times once they make sense.
    on_times: EventHandler<Occurrence>,
    /// If given, a second button starts without times, to enter them later.
    on_later: Option<EventHandler<()>>,
) -> Element {
    let mut session = Session::get();
    let mut answer = use_signal(|| {
        let preference = session
            .user()
            .and_then(|user| {
                session
                    .read(|store| store.setting(&preference_key(&user)))
                    .and_then(Result::ok)
            })
            .flatten();
        VisitTimesAnswer::remembered(preference.as_deref())
    });
    let mut problem = use_signal(|| None::<String>);
    let submit = move |event: FormEvent| {
        event.prevent_default();
        let given = answer.peek().clone();
        match given.occurrence(platform::now().with_timezone(&Local)) {
            Err(missing) => problem.set(Some(missing)),
            Ok(occurred) => {
                problem.set(None);
                if let (Some(user), Some(preference)) = (session.user(), given.preference()) {
                    session.write(|store| {
                        store.set_setting(&preference_key(&user), Some(&preference))
                    });
                }
                on_times.call(occurred);
            }
        }
    };
    let choice = answer.read().choice;
    let length = answer.read().length;
    rsx! {
        form { class: "visit-times", onsubmit: submit,
            p { class: "question", "When was the {occasion}?" }
            div { class: "choices", role: "group", "aria-label": "When",
                for option in WhenChoice::ALL {
                    button {
                        r#type: "button",
                        class: if choice == Some(option) { "choice selected" } else { "choice" },
                        "aria-pressed": "{choice == Some(option)}",
                        onclick: move |_| answer.write().choice = Some(option),
                        "{option.label()}"
                    }
                }
            }
            if choice == Some(WhenChoice::JustFinished) {
                div { class: "choices lengths", role: "group", "aria-label": "How long",
                    for minutes in LENGTHS {
                        button {
                            r#type: "button",
                            class: if length == Some(minutes) { "choice selected" } else { "choice" },
                            "aria-pressed": "{length == Some(minutes)}",
                            onclick: move |_| answer.write().length = Some(minutes),
                            "{length_label(minutes)}"
                        }
                    }
                }
            }
            if choice == Some(WhenChoice::AnotherDay) {
                label {
                    "Day"
                    input { r#type: "date", name: "visit_day", oninput: move |event| answer.write().day = event.value() }
                }
            }
            if matches!(choice, Some(WhenChoice::EarlierToday | WhenChoice::AnotherDay)) {
                div { class: "row times",
                    label {
                        "Started"
                        input { r#type: "time", name: "visit_start", oninput: move |event| answer.write().start = event.value() }
                    }
                    label {
                        "Ended"
                        input { r#type: "time", name: "visit_end", oninput: move |event| answer.write().end = event.value() }
                    }
                }
            }
            if let Some(problem) = problem() {
                p { class: "error", role: "alert", "{problem}" }
            }
            div { class: "row",
                button { class: "primary", r#type: "submit", "{submit_label}" }
                if let Some(later) = on_later {
                    button { class: "secondary", r#type: "button", onclick: move |_| later.call(()), "Enter the times later" }
                }
            }
        }
    }
}

/// A record's visit times: as entered, or a warning that they are missing, and the form to
/// enter or correct them while the record is the author's to edit.
#[component]
pub fn VisitTimesPanel(record: Record, editable: bool) -> Element {
    let mut session = Session::get();
    let mut correcting = use_signal(|| false);
    let zone = *Local::now().offset();
    let Some(occasion) = record.kind().occasion() else {
        return rsx! {};
    };
    let id = record.id;
    let save = move |occurred: Occurrence| {
        if session
            .write(|store| store.set_visit_times(id, occurred, platform::now()))
            .is_some()
        {
            correcting.set(false);
        }
    };
    let entered = match (record.occurred_start, record.occurred_end) {
        (Some(start), Some(end)) => Some(span_of(start, end, zone)),
        _ => None,
    };
    rsx! {
        div { class: "visit-times-panel",
            match &entered {
                Some(span) => rsx! {
                    p { class: "meta entered-times", "When: {span}" }
                    if editable && !correcting() {
                        button { class: "text-button", onclick: move |_| correcting.set(true), "Correct the times" }
                    }
                },
                None => rsx! {
                    div { class: "banner warning missing-times", role: "status",
                        p { "When the {occasion} took place is not entered yet. The record goes for review only with it." }
                    }
                },
            }
            if editable && (correcting() || entered.is_none()) {
                VisitTimesForm { occasion, submit_label: "Save the times".to_owned(), on_times: save, on_later: None }
            }
        }
    }
}

/// "Tue 3 Mar 2026, 14:00 to 15:00", or with both dates when it ran past midnight.
fn span_of(start: DateTime<Utc>, end: DateTime<Utc>, zone: chrono::FixedOffset) -> String {
    let (local_start, local_end) = (start.with_timezone(&zone), end.with_timezone(&zone));
    if local_start.date_naive() == local_end.date_naive() {
        format!("{} to {}", when(start, zone), local_end.format("%H:%M"))
    } else {
        format!("{} to {}", when(start, zone), when(end, zone))
    }
}
