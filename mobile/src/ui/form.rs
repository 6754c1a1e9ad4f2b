//! Forms laid out from templates ([`doorstep_shared::template`]): every kind of record, and
//! the case profile, is edited through these components, so a field added to a template
//! appears in the app without a change here.
//!
//! Text is saved as the worker pauses ([`FieldDraft`]); choices, flags and dates at once.

use chrono::{Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
use dioxus::prelude::*;
use doorstep_shared::document::{Edit, FieldValue};
use doorstep_shared::ids::{DocId, ItemId};
use doorstep_shared::template::{
    FieldKind, FieldSpec, ListSpec, Template, choice_label, entry_noun,
};
use serde_json::Value;

use crate::platform;
use crate::presenters::field_draft::{FieldDraft, SAVE_AFTER};
use crate::session::Session;

use super::humanize;

/// Which fields of a form may be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Editable {
    /// The author's fields (draft or returned).
    Author,
    /// Only the reviewer's fields (the record awaits review).
    Review,
    /// Nothing: finalised, or an old version.
    None,
}

impl Editable {
    fn allows(self, spec: &FieldSpec) -> bool {
        match self {
            Editable::Author => !spec.review,
            Editable::Review => spec.review,
            Editable::None => false,
        }
    }
}

/// A whole form: the template's fields, then its lists.
#[component]
pub fn TemplateForm(
    doc: DocId,
    template: &'static Template,
    values: Value,
    editable: Editable,
) -> Element {
    rsx! {
        div { class: "form",
            for spec in template.fields.iter() {
                Field {
                    key: "{spec.name}",
                    doc,
                    item: None,
                    spec,
                    value: values.get(spec.name).cloned().unwrap_or(Value::Null),
                    editable: editable.allows(spec),
                }
            }
            for list in template.lists.iter() {
                ListBlock {
                    key: "{list.name}",
                    doc,
                    list,
                    entries: values.get(list.name).cloned().unwrap_or(Value::Null),
                    editable,
                }
            }
        }
    }
}

/// One list of a form: each entry a card, and a button to add one.
#[component]
fn ListBlock(doc: DocId, list: &'static ListSpec, entries: Value, editable: Editable) -> Element {
    let mut session = Session::get();
    let entries = entries.as_array().cloned().unwrap_or_default();
    let noun = entry_noun(list.name);
    let count = entries.len();
    rsx! {
        fieldset { class: "list", "data-list": list.name,
            legend { "{list.label}" }
            for (position, entry) in entries.into_iter().enumerate() {
                if let Some(id) = entry.get("id").and_then(Value::as_str).and_then(|id| id.parse::<ItemId>().ok()) {
                    div { key: "{id}", class: "entry", "data-entry": "{position + 1}",
                        div { class: "entry-head",
                            span { "{humanize(noun)} {position + 1}" }
                            if editable == Editable::Author {
                                button {
                                    class: "text-button",
                                    "aria-label": "Remove {noun} {position + 1}",
                                    onclick: move |_| {
                                        let edit = Edit::RemoveEntry { list: list.name.into(), id };
                                        session.write(|store| store.edit(doc, &edit, platform::now()));
                                    },
                                    "Remove"
                                }
                            }
                        }
                        for spec in list.fields.iter() {
                            Field {
                                key: "{spec.name}",
                                doc,
                                item: Some((list.name.to_owned(), id)),
                                spec,
                                value: entry.get(spec.name).cloned().unwrap_or(Value::Null),
                                editable: editable.allows(spec),
                            }
                        }
                    }
                }
            }
            if count == 0 && editable != Editable::Author {
                p { class: "empty", "None." }
            }
            if editable == Editable::Author {
                button {
                    class: "secondary add",
                    onclick: move |_| {
                        let (edit, _) = Edit::append(list.name);
                        session.write(|store| store.edit(doc, &edit, platform::now()));
                    },
                    "Add {noun}"
                }
            }
        }
    }
}

fn save(
    mut session: Session,
    doc: DocId,
    item: &Option<(String, ItemId)>,
    field: &str,
    value: FieldValue,
) -> bool {
    let edit = match item {
        Some((list, id)) => Edit::set_in(list, *id, field, value),
        None => Edit::set(field, value),
    };
    session
        .write(|store| store.edit(doc, &edit, platform::now()))
        .is_some()
}

/// One field, drawn for its kind.
#[component]
fn Field(
    doc: DocId,
    item: Option<(String, ItemId)>,
    spec: &'static FieldSpec,
    value: Value,
    editable: bool,
) -> Element {
    let session = Session::get();
    match spec.kind {
        FieldKind::Narrative | FieldKind::Line => rsx! {
            TextField { doc, item, spec, value: value.as_str().unwrap_or_default().to_owned(), editable }
        },
        FieldKind::Flag => {
            let checked = value.as_bool().unwrap_or(false);
            rsx! {
                label { class: "flag",
                    input {
                        r#type: "checkbox",
                        name: spec.name,
                        checked,
                        disabled: !editable,
                        onchange: move |event| {
                            save(session, doc, &item, spec.name, FieldValue::Flag(event.checked()));
                        },
                    }
                    span { "{spec.label}" }
                }
            }
        }
        FieldKind::Choice(options) => {
            let chosen = value.as_str().unwrap_or_default().to_owned();
            rsx! {
                div { class: "field", role: "group", "aria-label": spec.label,
                    span { class: "label", "{spec.label}" }
                    div { class: "choices",
                        for option in options.iter().copied() {
                            button {
                                key: "{option}",
                                class: if chosen == option { "choice selected" } else { "choice" },
                                "aria-pressed": "{chosen == option}",
                                disabled: !editable,
                                onclick: {
                                    let item = item.clone();
                                    move |_| {
                                        save(session, doc, &item, spec.name, FieldValue::Text(option.to_owned()));
                                    }
                                },
                                "{choice_label(option)}"
                            }
                        }
                    }
                }
            }
        }
        FieldKind::Date => {
            let shown = value.as_str().unwrap_or_default().to_owned();
            rsx! {
                label { class: "field",
                    span { class: "label", "{spec.label}" }
                    input {
                        r#type: "date",
                        name: spec.name,
                        autocomplete: "off",
                        value: "{shown}",
                        disabled: !editable,
                        onchange: move |event| {
                            let value = match NaiveDate::parse_from_str(&event.value(), "%Y-%m-%d") {
                                Ok(date) => FieldValue::Date(date),
                                Err(_) => FieldValue::Empty,
                            };
                            save(session, doc, &item, spec.name, value);
                        },
                    }
                }
            }
        }
        FieldKind::Time => {
            let shown = value
                .as_str()
                .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
                .map(|at| {
                    at.with_timezone(&Local)
                        .format("%Y-%m-%dT%H:%M")
                        .to_string()
                })
                .unwrap_or_default();
            rsx! {
                label { class: "field",
                    span { class: "label", "{spec.label}" }
                    input {
                        r#type: "datetime-local",
                        name: spec.name,
                        autocomplete: "off",
                        value: "{shown}",
                        disabled: !editable,
                        onchange: move |event| {
                            let value = parse_local_time(&event.value()).map_or(FieldValue::Empty, FieldValue::Time);
                            save(session, doc, &item, spec.name, value);
                        },
                    }
                }
            }
        }
        FieldKind::Scale { min, max } => {
            let chosen = value.as_i64();
            rsx! {
                div { class: "field scale", role: "group", "aria-label": spec.label,
                    span { class: "label", "{spec.label}" }
                    div { class: "choices",
                        for point in min..=max {
                            button {
                                key: "{point}",
                                class: if chosen == Some(point) { "choice selected" } else { "choice" },
                                "aria-pressed": "{chosen == Some(point)}",
                                disabled: !editable,
                                onclick: {
                                    let item = item.clone();
                                    move |_| {
                                        save(session, doc, &item, spec.name, FieldValue::Number(point));
                                    }
                                },
                                "{point}"
                            }
                        }
                    }
                }
            }
        }
        FieldKind::Goal => {
            let chosen = value.as_str().unwrap_or_default().to_owned();
            let goals = session
                .read(|store| {
                    let case = match doc {
                        DocId::Case(case) => case,
                        DocId::Record(record) => store.record(record)?.case_id,
                    };
                    Ok(store.case(case)?.profile.goals)
                })
                .and_then(Result::ok)
                .unwrap_or_default();
            rsx! {
                div { class: "field goal-choice", role: "group", "aria-label": spec.label,
                    span { class: "label", "{spec.label}" }
                    if goals.is_empty() {
                        p { class: "meta", "The case has no goals yet: add them in its profile." }
                    }
                    div { class: "choices",
                        for goal in goals {
                            button {
                                key: "{goal.id}",
                                class: if chosen == goal.id.to_string() { "choice selected" } else { "choice" },
                                "aria-pressed": "{chosen == goal.id.to_string()}",
                                disabled: !editable,
                                onclick: {
                                    let item = item.clone();
                                    let id = goal.id.to_string();
                                    move |_| {
                                        save(session, doc, &item, spec.name, FieldValue::Text(id.clone()));
                                    }
                                },
                                "{short(&goal.goal)}"
                            }
                        }
                    }
                }
            }
        }
        FieldKind::Case => {
            let chosen = value.as_str().unwrap_or_default().to_owned();
            // The clients whose cases this device holds: a group's facilitators link the
            // members they can see.
            let clients = session
                .read(|store| store.caseload(platform::now()))
                .and_then(Result::ok)
                .unwrap_or_default()
                .into_iter()
                .filter(|case| !case.is_group)
                .collect::<Vec<_>>();
            let options = clients
                .into_iter()
                .map(|case| (case.id.to_string(), case.client_name))
                .collect();
            rsx! {
                Reference { doc, item, spec, chosen, none: "Not a client (or not linked)", options, editable }
            }
        }
        FieldKind::Member => {
            let chosen = value.as_str().unwrap_or_default().to_owned();
            let members = session
                .read(|store| {
                    let group = match doc {
                        DocId::Case(case) => case,
                        DocId::Record(record) => store.record(record)?.case_id,
                    };
                    Ok(store
                        .case(group)?
                        .group
                        .map(|group| group.members)
                        .unwrap_or_default())
                })
                .and_then(Result::ok)
                .unwrap_or_default();
            let options = members
                .into_iter()
                .map(|member| (member.id.to_string(), member.name))
                .collect();
            rsx! {
                Reference { doc, item, spec, chosen, none: "Someone not listed", options, editable }
            }
        }
        FieldKind::Number => {
            let shown = value
                .as_i64()
                .map(|number| number.to_string())
                .unwrap_or_default();
            rsx! {
                label { class: "field",
                    span { class: "label", "{spec.label}" }
                    input {
                        r#type: "number",
                        inputmode: "numeric",
                        name: spec.name,
                        autocomplete: "off",
                        value: "{shown}",
                        disabled: !editable,
                        onchange: move |event| {
                            let value = event.value().trim().parse().map_or(FieldValue::Empty, FieldValue::Number);
                            save(session, doc, &item, spec.name, value);
                        },
                    }
                }
            }
        }
    }
}

/// A field that names one of `options` (value, label) by its id: a client's case, a group's
/// member; `none` is the choice of naming none.
#[component]
fn Reference(
    doc: DocId,
    item: Option<(String, ItemId)>,
    spec: &'static FieldSpec,
    chosen: String,
    none: &'static str,
    options: Vec<(String, String)>,
    editable: bool,
) -> Element {
    let session = Session::get();
    rsx! {
        label { class: "field",
            span { class: "label", "{spec.label}" }
            select {
                name: spec.name,
                disabled: !editable,
                onchange: move |event| {
                    let value = if event.value().is_empty() { FieldValue::Empty } else { FieldValue::Text(event.value()) };
                    save(session, doc, &item, spec.name, value);
                },
                option { value: "", selected: chosen.is_empty(), "{none}" }
                for (value, label) in options {
                    option { key: "{value}", selected: chosen == value, value: "{value}", "{label}" }
                }
            }
        }
    }
}

/// A goal's words cut to fit a button: its first 60 characters.
fn short(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "(goal without words yet)".to_owned(),
        None => text.to_owned(),
    }
}

/// A `datetime-local` input's value, in the device's time zone.
pub fn parse_local_time(text: &str) -> Option<chrono::DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").ok()?;
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
}

/// A narrative (multi-line) or line field, saved as the worker pauses.
///
/// What the worker types stays in the input (see "Typed text" in [`super`]). When a
/// colleague's words reach the field by sync, they are merged into the input where it stands,
/// with the worker's focus, caret and selection kept beside the same words
/// ([`FieldDraft::merge_into_field`]): redrawing the input would move focus away, and every
/// keystroke after it would go nowhere. Where the page cannot be reached like that (desktop
/// and phone builds), the input is drawn anew with the merged text.
#[component]
fn TextField(
    doc: DocId,
    item: Option<(String, ItemId)>,
    spec: &'static FieldSpec,
    value: String,
    editable: bool,
) -> Element {
    let session = Session::get();
    // Read with `peek` only: typing must not re-render the field.
    let mut draft = use_signal(|| FieldDraft::new(value.clone()));
    // Moves when the input has to be drawn anew with the text to show.
    let mut redraws = use_signal(|| 0u64);
    let element_id = use_hook(|| {
        let item = item
            .as_ref()
            .map(|(_, id)| id.to_string())
            .unwrap_or_default();
        format!("field-{}-{item}-{}", doc.key(), spec.name)
    });
    // The store's text moved under the field (a colleague's edit arrived by sync).
    {
        let element_id = element_id.clone();
        use_effect(use_reactive!(|value| {
            let stored = value.clone();
            let merged_in_place =
                platform::merge_into_input(&element_id, move |in_field, selection| {
                    draft.write().merge_into_field(&stored, in_field, selection)
                });
            if !merged_in_place && draft.write().refresh(&value) {
                redraws += 1;
            }
        }));
    }
    // The worker's text, as typed onto the text the field last had from the store: whatever
    // reached the store since is kept beside it.
    let typed = move |text: String| FieldValue::Typed {
        base: draft.peek().stored().to_owned(),
        text,
    };
    let item_for_drop = item.clone();
    use_drop(move || {
        // Leaving the screen mid-pause: write what was typed.
        if let Some(text) = draft.peek().unsaved() {
            save(session, doc, &item_for_drop, spec.name, typed(text));
        }
    });
    let mut write_now = {
        let item = item.clone();
        move |text: String| {
            if save(session, doc, &item, spec.name, typed(text.clone())) {
                draft.write().saved(&text);
            }
        }
    };
    let oninput = {
        let write_now = write_now.clone();
        move |event: FormEvent| {
            let keystroke = draft.write().input(event.value());
            let mut write_now = write_now.clone();
            spawn(async move {
                platform::sleep(SAVE_AFTER).await;
                let due = draft.peek().due(keystroke);
                if let Some(text) = due {
                    write_now(text);
                }
            });
        }
    };
    let onblur = move |_| {
        let unsaved = draft.peek().unsaved();
        if let Some(text) = unsaved {
            write_now(text);
        }
    };
    let shown = draft.peek().shown().to_owned();
    let narrative = spec.kind.is_narrative();
    rsx! {
        label { class: if narrative { "field narrative" } else { "field" },
            span { class: "label", "{spec.label}" }
            for generation in [redraws()] {
                if narrative {
                    textarea {
                        key: "{generation}",
                        id: "{element_id}",
                        name: spec.name,
                        autocomplete: "off",
                        rows: 3,
                        readonly: !editable,
                        initial_value: "{shown}",
                        oninput: oninput.clone(),
                        onblur: onblur.clone(),
                    }
                } else {
                    input {
                        key: "{generation}",
                        id: "{element_id}",
                        name: spec.name,
                        autocomplete: "off",
                        readonly: !editable,
                        initial_value: "{shown}",
                        oninput: oninput.clone(),
                        onblur: onblur.clone(),
                    }
                }
            }
        }
    }
}
