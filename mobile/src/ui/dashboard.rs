//! The dashboard: a supervisor's teams, or a worker's own caseload, at a glance. Computed on
//! the device from what has synced ([`crate::presenters::dashboard`]), so it works offline.

use dioxus::prelude::*;

use crate::platform;
use crate::presenters::dashboard::{
    BAR_WIDTH, CHART_HEIGHT, CHART_WIDTH, QUIET_DAYS, Scope, dashboard, delay_chart, quiet_devices,
};
use crate::session::Session;
use crate::ui::Route;

use super::CardLink;

#[component]
pub fn Dashboard() -> Element {
    let session = Session::get();
    let _ = session.revision.read();
    let now = platform::now();
    let zone = *chrono::Local::now().offset();
    let Some(user) = session.user() else {
        return rsx! { p { class: "empty", "Sign in to see your caseload's figures." } };
    };
    let loaded = session.read(|store| {
        let mut cases = Vec::new();
        let mut records = Vec::new();
        for summary in store.caseload(now)? {
            records.extend(store.records_of_case(summary.id)?);
            cases.push(store.case(summary.id)?);
        }
        Ok((cases, records, store.overdue_after()?))
    });
    let Some(Ok((cases, records, overdue_after))) = loaded else {
        return rsx! { p { class: "empty", "The figures could not be read." } };
    };
    let seen = dashboard(&user, &cases, &records, now, overdue_after, zone);
    let chart = delay_chart(&seen);
    let whose = match seen.scope {
        Scope::Supervisor => "Your teams, from what has synced to this device.",
        Scope::Worker => "Your own caseload, from what has synced to this device.",
    };

    rsx! {
        section { class: "dashboard",
            p { class: "meta", "{whose}" }
            h3 { "Caseload" }
            table { class: "figures",
                thead {
                    tr {
                        th { scope: "col", "Worker" }
                        th { scope: "col", "Open cases" }
                        th { scope: "col", "Notes to write" }
                        th { scope: "col", "Overdue" }
                    }
                }
                tbody {
                    for load in seen.caseload.iter() {
                        tr { key: "{load.worker}",
                            th { scope: "row", "{load.worker}" }
                            td { "{load.open_cases}" }
                            td { "{load.awaiting}" }
                            td { class: if load.overdue > 0 { "late" } else { "" }, "{load.overdue}" }
                        }
                    }
                }
            }
            h3 { "Waiting for review, oldest first" }
            if seen.waiting_review.is_empty() {
                p { class: "empty", "Nothing waits for review." }
            }
            ul { class: "cards",
                for line in seen.waiting_review.iter() {
                    li { key: "{line.record}",
                        CardLink {
                            to: Route::RecordView { id: line.record },
                            title: line.title.clone(),
                            meta: format!("by {} · {}", line.author, line.waiting),
                        }
                    }
                }
            }
            h3 { "Overdue notes" }
            if seen.overdue_notes.is_empty() {
                p { class: "empty", "No note is overdue." }
            }
            ul { class: "cards",
                for line in seen.overdue_notes.iter() {
                    li { key: "{line.record}",
                        CardLink {
                            to: Route::RecordView { id: line.record },
                            title: line.title.clone(),
                            meta: format!("by {} · {}", line.author, line.waiting),
                            badge: Some(("overdue".to_owned(), true)),
                        }
                    }
                }
            }
            h3 { "Goal reviews overdue" }
            if seen.overdue_reviews.is_empty() {
                p { class: "empty", "No goal review is overdue." }
            }
            ul { class: "cards",
                for (index, line) in seen.overdue_reviews.iter().enumerate() {
                    li { key: "{index}",
                        CardLink {
                            to: Route::Profile { id: line.case },
                            title: line.title.clone(),
                            meta: format!("review was due {}", line.due.format("%a %-d %b %Y")),
                        }
                    }
                }
            }
            if seen.scope == Scope::Supervisor {
                QuietDevices {}
            }
            h3 { "From the visit to the signature" }
            svg {
                class: "delay-chart",
                role: "img",
                "aria-label": "{chart.description}",
                view_box: "0 0 {CHART_WIDTH} {CHART_HEIGHT}",
                line { x1: "0", y1: "110", x2: "{CHART_WIDTH}", y2: "110", class: "axis" }
                for band in chart.bands.iter().copied() {
                    g { key: "{band.label}",
                        rect { class: "this-month", x: "{band.x}", y: "{band.this.y}", width: "{BAR_WIDTH}", height: "{band.this.height}" }
                        rect { class: "last-month", x: "{band.x + BAR_WIDTH}", y: "{band.last.y}", width: "{BAR_WIDTH}", height: "{band.last.height}" }
                        text { x: "{band.x + BAR_WIDTH}", y: "126", "text-anchor": "middle", class: "label", "{band.label}" }
                    }
                }
            }
            p { class: "legend",
                span { class: "key this-month" } " this month "
                span { class: "key last-month" } " last month"
            }
        }
    }
}

/// The team's devices that have not synced for over a week, as the server last told them.
#[component]
fn QuietDevices() -> Element {
    let session = Session::get();
    let now = platform::now();
    let zone = *chrono::Local::now().offset();
    let seen = crate::sync_engine::team_devices_seen(&session);
    rsx! {
        h3 { "Devices not synced for over {QUIET_DAYS} days" }
        match seen {
            None => rsx! {
                p { class: "empty", "Not known yet: the server tells this at the next sync." }
            },
            Some(seen) => {
                let quiet = quiet_devices(&seen.devices, now, QUIET_DAYS);
                let when = crate::presenters::timeliness::when(seen.at, zone);
                rsx! {
                    if quiet.is_empty() {
                        p { class: "empty", "Every device synced within {QUIET_DAYS} days." }
                    }
                    ul { class: "cards quiet-devices",
                        for (index, device) in quiet.into_iter().enumerate() {
                            li { key: "{index}", class: "card",
                                span { class: "title", "{device.user} · {device.name}" }
                                span { class: "meta", "{device.last}" }
                            }
                        }
                    }
                    p { class: "meta", "As the server saw them at {when}." }
                }
            }
        }
    }
}
