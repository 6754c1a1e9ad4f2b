//! Consent that is consulted: a warning where a record is started, or read, without the
//! client's current consent to be recorded, and a way to record the consent there and then.
//! It never blocks: an emergency visit is still written.

use chrono::{Local, NaiveDate};
use dioxus::prelude::*;
use doorstep_shared::document::{Edit, FieldValue};
use doorstep_shared::ids::{CaseId, ItemId};
use doorstep_shared::model::{Case, ConsentStanding, DisclosureDraft};

use crate::platform;
use crate::session::Session;

/// The warning, when consent to record does not stand on `day`, with a way to record it.
#[component]
pub fn ConsentWarning(
    case_id: CaseId,
    client: String,
    standing: ConsentStanding,
    /// "today" or "on the day of the visit".
    when: String,
) -> Element {
    let mut session = Session::get();
    let mut recording = use_signal(|| false);
    let message = match standing {
        ConsentStanding::Current { .. } => return rsx! {},
        ConsentStanding::NotRecorded => {
            format!("No consent to be recorded is noted for {client} {when}.")
        }
        ConsentStanding::Withdrawn { on } => format!(
            "{client} withdrew consent to be recorded on {}.",
            on.format("%-d %b %Y")
        ),
    };
    let mut record_consent = move |obtained: &'static str| {
        let today: NaiveDate = platform::now().with_timezone(&Local).date_naive();
        let id = ItemId::random();
        let edits = [
            Edit::AddEntry {
                list: "consents".into(),
                id,
                after: None,
            },
            Edit::set_in("consents", id, "scope", FieldValue::Text("record".into())),
            Edit::set_in("consents", id, "given_on", FieldValue::Date(today)),
            Edit::set_in(
                "consents",
                id,
                "obtained",
                FieldValue::Text(obtained.into()),
            ),
        ];
        // Once recorded, consent stands and the warning goes; the consent is in the profile.
        if session
            .write(|store| store.edit_all(case_id, &edits, platform::now()))
            .is_some()
        {
            recording.set(false);
        }
    };
    rsx! {
        div { class: "banner warning consent-warning", role: "alert",
            p { strong { "Consent: " } "{message} You can still write the record." }
            if recording() {
                p { class: "meta", "Consent to be recorded, given today. How was it given?" }
                div { class: "choices",
                    for obtained in ["written", "verbal", "electronic"] {
                        button {
                            key: "{obtained}",
                            r#type: "button",
                            class: "choice",
                            onclick: move |_| record_consent(obtained),
                            "{doorstep_shared::template::choice_label(obtained)}"
                        }
                    }
                }
            } else {
                button { class: "text-button", r#type: "button", onclick: move |_| recording.set(true), "Record consent given today" }
            }
        }
    }
}

/// Information shared with other agencies: each disclosure with its basis, and the form to
/// record one.
#[component]
pub fn Disclosures(case_id: CaseId, case: Case) -> Element {
    let mut session = Session::get();
    let mut to = use_signal(String::new);
    let mut what = use_signal(String::new);
    let mut on = use_signal(String::new);
    let mut basis = use_signal(String::new);
    // `None`: no basis chosen yet; `Some(None)`: without consent; `Some(Some(id))`: a consent.
    let mut under = use_signal(|| None::<Option<ItemId>>);
    // Bumped to give a recorded form fresh, empty inputs (see "Typed text" in `ui`).
    let mut forms = use_signal(|| 0u32);
    let zone = *Local::now().offset();
    let day = NaiveDate::parse_from_str(&on(), "%Y-%m-%d").ok();
    let consents: Vec<(ItemId, String)> = day
        .map(|day| {
            case.profile
                .consents_to_share_on(day)
                .into_iter()
                .map(|consent| {
                    let given = consent
                        .given_on
                        .map(|given| given.format("%-d %b %Y").to_string())
                        .unwrap_or_default();
                    (consent.id, format!("Consent given {given}"))
                })
                .collect()
        })
        .unwrap_or_default();
    let consent_label = |id: &ItemId| {
        case.profile
            .consents
            .iter()
            .find(|consent| consent.id == *id)
            .and_then(|consent| consent.given_on)
            .map_or_else(
                || "a consent no longer on the case".to_owned(),
                |given| format!("consent given {}", given.format("%-d %b %Y")),
            )
    };
    let record = move |event: FormEvent| {
        event.prevent_default();
        let Some(day) = NaiveDate::parse_from_str(&on.peek(), "%Y-%m-%d").ok() else {
            session
                .notice
                .set(Some("Enter the day it was shared.".into()));
            return;
        };
        let Some(consent) = *under.peek() else {
            session.notice.set(Some(
                "Choose the consent it was shared under, or share without consent and say why."
                    .into(),
            ));
            return;
        };
        let draft = DisclosureDraft {
            to: to.peek().clone(),
            what: what.peek().clone(),
            on: day,
            consent,
            basis: if consent.is_none() {
                basis.peek().clone()
            } else {
                String::new()
            },
        };
        if session
            .write(|store| store.record_disclosure(case_id, &draft, platform::now()))
            .is_some()
        {
            for mut field in [to, what, on, basis] {
                field.set(String::new());
            }
            under.set(None);
            forms += 1;
        }
    };
    rsx! {
        fieldset { class: "list disclosures",
            legend { "Information shared with other agencies" }
            if case.disclosures.is_empty() {
                p { class: "empty", "Nothing shared with other agencies is recorded." }
            }
            ul { class: "plain",
                for disclosure in case.disclosures.iter() {
                    li { key: "{disclosure.id}", class: "disclosure",
                        strong { "{disclosure.on.format(\"%-d %b %Y\")}: to {disclosure.to}" }
                        p { "{disclosure.what}" }
                        p { class: "meta",
                            match &disclosure.consent {
                                Some(id) => format!("Under {}", consent_label(id)),
                                None => format!("Without consent: {}", disclosure.basis),
                            }
                            " · recorded by {disclosure.by}, {crate::presenters::timeliness::when(disclosure.recorded_at, zone)}"
                        }
                    }
                }
            }
            for generation in [forms()] {
                form { key: "{generation}", class: "record-disclosure", onsubmit: record,
                    label {
                        "Shared with (agency and person)"
                        input { name: "disclosure_to", autocomplete: "off", oninput: move |event| to.set(event.value()) }
                    }
                    label {
                        "What was shared"
                        textarea { name: "disclosure_what", autocomplete: "off", rows: 2, oninput: move |event| what.set(event.value()) }
                    }
                    label {
                        "Day it was shared"
                        input { r#type: "date", name: "disclosure_on", oninput: move |event| on.set(event.value()) }
                    }
                    div { class: "choices", role: "group", "aria-label": "Shared under",
                        for (id, label) in consents.clone() {
                            button {
                                key: "{id}",
                                r#type: "button",
                                class: if under() == Some(Some(id)) { "choice selected" } else { "choice" },
                                "aria-pressed": "{under() == Some(Some(id))}",
                                onclick: move |_| under.set(Some(Some(id))),
                                "{label}"
                            }
                        }
                        button {
                            r#type: "button",
                            class: if under() == Some(None) { "choice selected" } else { "choice" },
                            "aria-pressed": "{under() == Some(None)}",
                            onclick: move |_| under.set(Some(None)),
                            "Without consent"
                        }
                    }
                    if under() == Some(None) {
                        label {
                            "Why it was shared without consent"
                            input { name: "disclosure_basis", autocomplete: "off", oninput: move |event| basis.set(event.value()) }
                        }
                    }
                    button { class: "secondary", r#type: "submit", "Record what was shared" }
                }
            }
        }
    }
}
