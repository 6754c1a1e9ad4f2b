//! The caseload (search, filters, overdue badges) and the overdue list.

use dioxus::prelude::*;
use doorstep_shared::ids::DocId;

use crate::platform;
use crate::presenters::caseload::{CaseFilter, badge, visible};
use crate::presenters::timeliness::{span, when};
use crate::session::Session;
use crate::ui::Route;

use super::{CardLink, humanize};

#[component]
pub fn Caseload() -> Element {
    let mut session = Session::get();
    let _ = session.revision.read();
    let mut query = use_signal(String::new);
    let mut filter = use_signal(CaseFilter::default);
    let now = platform::now();
    let cases = session
        .read(|store| store.caseload(now))
        .and_then(Result::ok)
        .unwrap_or_default();
    let today = now.with_timezone(&chrono::Local).date_naive();
    let reviews_due = session
        .read(|store| store.overdue_goal_reviews(today))
        .and_then(Result::ok)
        .map_or(0, |reviews| reviews.len());
    let overdue_total: u32 = cases.iter().map(|case| case.overdue).sum();
    let typed = query();
    let hits = if typed.trim().chars().count() >= 3 {
        session
            .read(|store| store.search(typed.trim(), 20))
            .and_then(Result::ok)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let shown = visible(&cases, filter(), &typed);

    rsx! {
        section { class: "caseload",
            input {
                class: "search",
                r#type: "search",
                placeholder: "Search clients and notes",
                autocomplete: "off",
                "aria-label": "Search",
                oninput: move |event| query.set(event.value()),
            }
            div { class: "chips", role: "group", "aria-label": "Filter",
                for choice in CaseFilter::ALL {
                    button {
                        class: if choice == filter() { "chip selected" } else { "chip" },
                        "aria-pressed": "{choice == filter()}",
                        onclick: move |_| filter.set(choice),
                        "{choice.label()}"
                    }
                }
            }
            if overdue_total > 0 || reviews_due > 0 {
                button { class: "overdue-link", onclick: move |_| session.open(Route::Overdue {}),
                    if overdue_total > 0 {
                        span { class: "badge overdue", "{overdue_total}" }
                        " overdue notes "
                    }
                    if reviews_due > 0 {
                        span { class: "badge overdue", "{reviews_due}" }
                        " goal reviews due"
                    }
                }
            }
            button { class: "secondary dashboard-link", onclick: move |_| session.open(Route::Dashboard {}), "Dashboard" }
            if shown.is_empty() {
                p { class: "empty",
                    if cases.is_empty() { "No cases yet. Open one with “New case”." } else { "No case matches." }
                }
            }
            ul { class: "cards",
                for case in shown {
                    li { key: "{case.id}",
                        CardLink {
                            to: Route::CaseView { id: case.id },
                            title: case.client_name.clone(),
                            meta: format!("{} · {} records", humanize(case.state.as_str()), case.records),
                            badge: badge(case),
                        }
                    }
                }
            }
            if !hits.is_empty() {
                h2 { "In notes" }
                ul { class: "cards",
                    for hit in hits {
                        li { key: "{hit.doc.key()}",
                            CardLink {
                                to: match hit.doc {
                                    DocId::Case(id) => Route::CaseView { id },
                                    DocId::Record(id) => Route::RecordView { id },
                                },
                                meta: hit.snippet.clone(),
                            }
                        }
                    }
                }
            }
            button { class: "fab primary", onclick: move |_| session.open(Route::NewCase {}), "New case" }
        }
    }
}

#[component]
pub fn Overdue() -> Element {
    let session = Session::get();
    let _ = session.revision.read();
    let now = platform::now();
    let zone = *chrono::Local::now().offset();
    let records = session
        .read(|store| store.overdue_records(now))
        .and_then(Result::ok)
        .unwrap_or_default();
    let today = now.with_timezone(&chrono::Local).date_naive();
    let reviews = session
        .read(|store| store.overdue_goal_reviews(today))
        .and_then(Result::ok)
        .unwrap_or_default();
    rsx! {
        section {
            if records.is_empty() && reviews.is_empty() {
                p { class: "empty", "Nothing overdue." }
            }
            if !reviews.is_empty() {
                h2 { "Goal reviews" }
                ul { class: "cards goal-reviews",
                    for (index, review) in reviews.into_iter().enumerate() {
                        li { key: "{index}",
                            CardLink {
                                to: Route::CaseView { id: review.case_id },
                                title: format!("Review: {}", review.goal),
                                meta: format!("{} · due {}", review.client_name, review.review_date.format("%-d %b %Y")),
                                badge: (format!("{} days overdue", (today - review.review_date).num_days()), true),
                            }
                        }
                    }
                }
                if !records.is_empty() {
                    h2 { "Notes" }
                }
            }
            ul { class: "cards",
                for record in records {
                    li { key: "{record.id}",
                        CardLink {
                            to: Route::RecordView { id: record.id },
                            title: record.kind.template().label.to_owned(),
                            meta: format!("Visit {} · by {}", when(record.due_from, zone), record.author),
                            badge: (format!("{} since the visit", span(now - record.due_from)), true),
                        }
                    }
                }
            }
        }
    }
}
