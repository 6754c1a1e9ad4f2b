//! A case's goals with their progress over time: a small chart per goal, drawn in the app.

use chrono::Local;
use dioxus::prelude::*;
use doorstep_shared::ids::CaseId;
use doorstep_shared::model::{CaseState, GoalState, ProgressPoint};
use doorstep_shared::template::{FieldKind, PROGRESS_SCALE};

use crate::platform;
use crate::presenters::progress_chart::{self, HEIGHT, WIDTH};
use crate::session::Session;
use crate::ui::Route;

use super::humanize;

/// Each goal: its dates, its chart and its latest notes.
#[component]
pub fn GoalTrails(id: CaseId) -> Element {
    let mut session = Session::get();
    let _ = session.revision.read();
    let zone = *Local::now().offset();
    let today = platform::now().with_timezone(&zone).date_naive();
    let Some(Ok((trails, case))) =
        session.read(|store| Ok((store.goal_trails(id, zone)?, store.case(id)?)))
    else {
        return rsx! {};
    };
    // Reviews are due while the case is being worked.
    let open = case.status.state == CaseState::Open;
    if trails.is_empty() {
        return rsx! {};
    }
    let date = |day: Option<chrono::NaiveDate>| {
        day.map_or_else(
            || "not set".to_owned(),
            |day| day.format("%-d %b %Y").to_string(),
        )
    };
    rsx! {
        h3 { "Goals" }
        ul { class: "plain goals",
            for trail in trails {
                li { key: "{trail.goal.id}", class: "card goal",
                    span { class: "title", "{trail.goal.goal}" }
                    span { class: "meta",
                        "{humanize(state_key(trail.goal.state))} · target {date(trail.goal.target_date)} · review {date(trail.goal.review_date)}"
                    }
                    if open && trail.goal.review_overdue_on(today) {
                        span { class: "badge overdue", "Review overdue" }
                    }
                    ProgressChart { points: trail.points.clone() }
                    ol { class: "plain progress-notes",
                        for (index, point) in trail.points.iter().rev().take(3).enumerate() {
                            li { key: "{index}",
                                span { class: "meta",
                                    "{point.on.format(\"%-d %b %Y\")}"
                                    if let Some(rating) = point.rating { " · {rating} of 5" }
                                }
                                if !point.note.is_empty() {
                                    " {point.note}"
                                }
                                if let Some(record) = point.record {
                                    button { class: "text-button", onclick: move |_| session.open(Route::RecordView { id: record }), "Open the record" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn state_key(state: GoalState) -> &'static str {
    match state {
        GoalState::Active => "active",
        GoalState::Achieved => "achieved",
        GoalState::Dropped => "dropped",
    }
}

/// The rated points of a goal's trail as a line chart on the progress scale.
#[component]
fn ProgressChart(points: Vec<ProgressPoint>) -> Element {
    let FieldKind::Scale { min, max } = PROGRESS_SCALE else {
        return rsx! {};
    };
    let chart = progress_chart::layout(&points, min, max);
    if chart.dots.is_empty() {
        return rsx! { p { class: "meta", "No progress rated yet." } };
    }
    let view_box = format!("0 0 {WIDTH} {HEIGHT}");
    rsx! {
        svg {
            class: "progress-chart",
            role: "img",
            "aria-label": "{chart.description}",
            "viewBox": "{view_box}",
            for (rating, y) in chart.guides.iter().copied() {
                g { key: "{rating}",
                    line { class: "guide", x1: "18", x2: "{WIDTH - 18.0}", y1: "{y}", y2: "{y}" }
                    text { class: "scale", x: "4", y: "{y + 4.0}", "{rating}" }
                }
            }
            polyline { class: "trail", points: "{chart.line}" }
            for (index, (x, y)) in chart.dots.iter().copied().enumerate() {
                circle { key: "d{index}", class: "dot", cx: "{x}", cy: "{y}", r: "4" }
            }
            if let Some((first, last)) = chart.span {
                text { class: "day", x: "18", y: "{HEIGHT - 2.0}", "{first.format(\"%-d %b\")}" }
                if last != first {
                    text { class: "day end", x: "{WIDTH - 18.0}", y: "{HEIGHT - 2.0}", "{last.format(\"%-d %b\")}" }
                }
            }
        }
    }
}
