//! Groups of their own: a group's page (its register, sessions and members), and what a
//! member's own case shows of the groups they attend: days and attendance, nothing more.

use std::collections::BTreeMap;

use chrono::{Local, NaiveDate};
use dioxus::prelude::*;
use doorstep_shared::document::Occurrence;
use doorstep_shared::ids::CaseId;
use doorstep_shared::model::{Attendance, Case, GroupAttendance};

use crate::platform;
use crate::session::Session;
use crate::ui::Route;

use super::CardLink;
use super::visit_times::VisitTimesForm;

/// One letter per attendance, for the register's cells.
fn mark(attendance: Option<Attendance>) -> &'static str {
    match attendance {
        Some(Attendance::Present) => "P",
        Some(Attendance::Late) => "L",
        Some(Attendance::Absent) => "A",
        Some(Attendance::Excused) => "E",
        None => "·",
    }
}

/// A group's page: what it is for, its register, a new session, its sessions.
#[component]
pub fn GroupView(id: CaseId, case: Case) -> Element {
    let mut session = Session::get();
    let zone = *Local::now().offset();
    let mut starting = use_signal(|| false);
    let group = case.group.clone().unwrap_or_default();
    let register = session
        .read(|store| store.register(id, zone))
        .and_then(Result::ok);
    let mut start = move |occurred: Occurrence| {
        if let Some(record) =
            session.write(|store| store.start_session(id, occurred, platform::now()))
        {
            session.open(Route::RecordView { id: record });
        }
    };
    rsx! {
        section { class: "case group",
            div { class: "case-head",
                h2 { "{group.name}" }
                span { class: "meta", "Group · {group.members.len()} members" }
                button { class: "secondary", onclick: move |_| session.open(Route::Profile { id }), "Purpose, objectives, members, facilitators" }
            }
            if !group.purpose.is_empty() {
                p { "{group.purpose}" }
            }
            if !group.objectives.is_empty() {
                h3 { "Objectives" }
                ul {
                    for objective in group.objectives.iter() {
                        li { key: "{objective.id}", "{objective.objective}" }
                    }
                }
            }
            h3 { "Register" }
            if let Some(register) = register {
                if register.sessions.is_empty() {
                    p { class: "empty", "No sessions yet." }
                } else {
                    div { class: "register-scroll",
                        table { class: "register",
                            thead {
                                tr {
                                    th { scope: "col", "Member" }
                                    for (position, (record, day, number)) in register.sessions.iter().enumerate() {
                                        th { key: "{record}", scope: "col",
                                            "#{number.unwrap_or(position as i64 + 1)}"
                                            br {}
                                            span { class: "meta", "{day.format(\"%-d %b\")}" }
                                        }
                                    }
                                    th { scope: "col", "Came" }
                                }
                            }
                            tbody {
                                for row in register.rows.iter() {
                                    tr { key: "{row.member}",
                                        th { scope: "row", "{row.name}" }
                                        for (index, cell) in row.cells.iter().enumerate() {
                                            td { key: "{index}", class: "mark", "{mark(*cell)}" }
                                        }
                                        td { class: "total", "{row.attended} of {row.recorded}" }
                                    }
                                }
                            }
                        }
                    }
                    p { class: "meta", "P present · L late · A absent · E excused · · not recorded" }
                }
            }
            h3 { "Sessions" }
            if starting() {
                div { class: "new-record",
                    VisitTimesForm {
                        occasion: "session",
                        submit_label: "Start the session record".to_owned(),
                        on_times: start,
                        on_later: move |_| start(Occurrence::default()),
                    }
                }
            } else {
                button { class: "primary", onclick: move |_| starting.set(true), "New session" }
            }
            Sessions { id }
        }
    }
}

/// The group's session records, newest first.
#[component]
fn Sessions(id: CaseId) -> Element {
    let session = Session::get();
    let zone = *Local::now().offset();
    let records = session
        .read(|store| store.records_of_case(id))
        .and_then(Result::ok)
        .unwrap_or_default();
    rsx! {
        ul { class: "cards",
            for record in records.into_iter().rev() {
                li { key: "{record.id}",
                    CardLink {
                        to: Route::RecordView { id: record.id },
                        title: record.kind.template().label.to_owned(),
                        meta: format!(
                            "{} · {}",
                            crate::presenters::timeliness::when(record.occurred_start.unwrap_or(record.due_from), zone),
                            super::humanize(record.status.as_str())
                        ),
                    }
                }
            }
        }
    }
}

/// On a client's own case: the groups they attend, each session's day and whether they came.
#[component]
pub fn GroupsAttended(attendance: BTreeMap<String, GroupAttendance>) -> Element {
    if attendance.is_empty() {
        return rsx! {};
    }
    let mut by_group: BTreeMap<String, Vec<(NaiveDate, Option<Attendance>)>> = BTreeMap::new();
    for entry in attendance.values() {
        by_group
            .entry(entry.group.clone())
            .or_default()
            .push((entry.on, entry.attendance));
    }
    rsx! {
        h3 { "Groups" }
        ul { class: "plain groups-attended",
            for (group, mut days) in by_group {
                li { key: "{group}", class: "card",
                    span { class: "title", "{group}" }
                    {
                        days.sort_by_key(|(day, _)| *day);
                        let came = days.iter().filter(|(_, attendance)| attendance.is_some_and(Attendance::came)).count();
                        rsx! {
                            span { class: "meta", "Came to {came} of {days.len()} sessions" }
                            ul { class: "plain",
                                for (index, (day, attendance)) in days.into_iter().enumerate() {
                                    li { key: "{index}",
                                        "{day.format(\"%a %-d %b %Y\")}: {attendance.map_or(\"not recorded\", Attendance::as_str)}"
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
