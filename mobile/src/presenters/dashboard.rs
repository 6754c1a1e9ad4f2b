//! A supervisor's dashboard, computed on the device from what has synced, so it works with no
//! signal: caseload per worker, records waiting for review (oldest first), overdue notes and
//! goal reviews, and how long records took from the visit to the signature, this month
//! against last. A worker sees the same for their own caseload.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Utc};
use doorstep_shared::ids::{CaseId, RecordId, UserId};
use doorstep_shared::model::{Case, CaseKind, CaseState, RecordStatus, TeamRole};
use doorstep_shared::store::RecordSummary;
use doorstep_shared::sync::protocol::TeamDevice;

use super::timeliness::span;

/// Whose dashboard it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The teams of the cases the user supervises.
    Supervisor,
    /// The user's own caseload.
    Worker,
}

/// One worker's load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerLoad {
    /// The worker.
    pub worker: UserId,
    /// Open cases they hold.
    pub open_cases: usize,
    /// Their records waiting for them (drafts and returned).
    pub awaiting: usize,
    /// How many of those are overdue.
    pub overdue: usize,
}

/// A record on one of the dashboard's lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordLine {
    /// The record.
    pub record: RecordId,
    /// Its case.
    pub case: CaseId,
    /// "Home visit · Mrs Okafor".
    pub title: String,
    /// Who wrote it.
    pub author: UserId,
    /// "waiting 3 days", "late by 5 h".
    pub waiting: String,
}

/// A goal whose review date has passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoalReviewLine {
    /// Its case.
    pub case: CaseId,
    /// "Safe stairs · Mrs Okafor".
    pub title: String,
    /// The review date.
    pub due: NaiveDate,
}

/// How long records took from the visit's end to the signature.
pub const DELAY_BANDS: [&str; 5] = [
    "under 1 day",
    "1–2 days",
    "2–7 days",
    "1–4 weeks",
    "over 4 weeks",
];

/// The dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    /// Whose it is.
    pub scope: Scope,
    /// Per worker, by name.
    pub caseload: Vec<WorkerLoad>,
    /// Submitted records, oldest first.
    pub waiting_review: Vec<RecordLine>,
    /// Records overdue for their author, most overdue first.
    pub overdue_notes: Vec<RecordLine>,
    /// Goal reviews past their date, oldest first.
    pub overdue_reviews: Vec<GoalReviewLine>,
    /// Records signed this month, by [`DELAY_BANDS`].
    pub this_month: [usize; 5],
    /// Records signed last month, by [`DELAY_BANDS`].
    pub last_month: [usize; 5],
}

/// Who holds a case: whoever opened it, while they are on its team (a case opened at the
/// office is opened for its worker); else, once it moved to another team, that team's first
/// worker.
fn holder(case: &Case) -> Option<&UserId> {
    if case.team.contains_key(&case.author) {
        return Some(&case.author);
    }
    case.team
        .iter()
        .find(|(_, role)| **role == TeamRole::Worker)
        .map(|(member, _)| member)
}

/// The load of `worker`, counted from nothing the first time.
fn load_of<'a>(loads: &'a mut BTreeMap<UserId, WorkerLoad>, worker: &UserId) -> &'a mut WorkerLoad {
    loads.entry(worker.clone()).or_insert_with(|| WorkerLoad {
        worker: worker.clone(),
        open_cases: 0,
        awaiting: 0,
        overdue: 0,
    })
}

/// The band of a delay.
fn band(delay: Duration) -> usize {
    match delay.num_hours() {
        ..24 => 0,
        24..48 => 1,
        48..168 => 2,
        168..672 => 3,
        _ => 4,
    }
}

/// The first day of the month `day` is in.
fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("every month has a first day")
}

/// The dashboard of `user` over `cases` and their `records`, at `now` in `zone`.
pub fn dashboard(
    user: &UserId,
    cases: &[Case],
    records: &[RecordSummary],
    now: DateTime<Utc>,
    overdue_after: Duration,
    zone: FixedOffset,
) -> Dashboard {
    let supervised: Vec<&Case> = cases
        .iter()
        .filter(|case| case.team.get(user) == Some(&TeamRole::Supervisor))
        .collect();
    let (scope, mine): (Scope, Vec<&Case>) = if supervised.is_empty() {
        (
            Scope::Worker,
            cases
                .iter()
                .filter(|case| case.team.contains_key(user))
                .collect(),
        )
    } else {
        (Scope::Supervisor, supervised)
    };
    let in_scope = |record: &&RecordSummary| {
        mine.iter().any(|case| case.id == record.case_id)
            && (scope == Scope::Supervisor || &record.author == user)
    };
    let client = |id: CaseId| {
        mine.iter()
            .find(|case| case.id == id)
            .map(|case| match case.kind {
                CaseKind::Group => case
                    .group
                    .as_ref()
                    .map(|group| group.name.clone())
                    .unwrap_or_default(),
                CaseKind::Client => case.profile.client_name.clone(),
            })
            .unwrap_or_default()
    };
    let title = |record: &RecordSummary| {
        format!(
            "{} · {}",
            record.kind.template().label,
            client(record.case_id)
        )
    };

    let mut loads: BTreeMap<UserId, WorkerLoad> = BTreeMap::new();
    // Each open case counts once, for the worker who holds it.
    for case in &mine {
        if case.status.state != CaseState::Open {
            continue;
        }
        if let Some(holder) = holder(case)
            && (scope == Scope::Supervisor || holder == user)
        {
            load_of(&mut loads, holder).open_cases += 1;
        }
    }
    for record in records.iter().filter(in_scope) {
        if record.status.awaits_author() {
            let load = load_of(&mut loads, &record.author);
            load.awaiting += 1;
            if now - record.due_from > overdue_after {
                load.overdue += 1;
            }
        }
    }
    let caseload = loads.into_values().collect();

    let mut waiting_review: Vec<(DateTime<Utc>, RecordLine)> = records
        .iter()
        .filter(in_scope)
        .filter(|record| record.status == RecordStatus::Submitted)
        .map(|record| {
            (
                record.due_from,
                RecordLine {
                    record: record.id,
                    case: record.case_id,
                    title: title(record),
                    author: record.author.clone(),
                    waiting: format!("{} since the visit", span(now - record.due_from)),
                },
            )
        })
        .collect();
    waiting_review.sort_by_key(|(due, line)| (*due, line.record));

    let mut overdue_notes: Vec<(DateTime<Utc>, RecordLine)> = records
        .iter()
        .filter(in_scope)
        .filter(|record| record.status.awaits_author() && now - record.due_from > overdue_after)
        .map(|record| {
            (
                record.due_from,
                RecordLine {
                    record: record.id,
                    case: record.case_id,
                    title: title(record),
                    author: record.author.clone(),
                    waiting: format!("late by {}", span(now - record.due_from - overdue_after)),
                },
            )
        })
        .collect();
    overdue_notes.sort_by_key(|(due, line)| (*due, line.record));

    let today = now.with_timezone(&zone).date_naive();
    // As on the caseload: a closed, referred or transferred case's goals are not reviewed here.
    let mut overdue_reviews: Vec<GoalReviewLine> = mine
        .iter()
        .filter(|case| case.status.state == CaseState::Open)
        .flat_map(|case| {
            case.profile
                .goals
                .iter()
                .filter(|goal| goal.review_overdue_on(today))
                .map(|goal| GoalReviewLine {
                    case: case.id,
                    title: format!("{} · {}", goal.goal, case.profile.client_name),
                    due: goal.review_date.expect("an overdue review has a date"),
                })
        })
        .collect();
    overdue_reviews.sort_by(|a, b| (a.due, &a.title).cmp(&(b.due, &b.title)));

    let this_start = month_start(today);
    let last_start = month_start(this_start - Duration::days(1));
    let (mut this_month, mut last_month) = ([0; 5], [0; 5]);
    for record in records.iter().filter(in_scope) {
        let (RecordStatus::Finalised, Some(signed)) = (record.status, record.finalised_at) else {
            continue;
        };
        let signed_on = signed.with_timezone(&zone).date_naive();
        let bucket = band(signed - record.due_from);
        if signed_on >= this_start {
            this_month[bucket] += 1;
        } else if signed_on >= last_start {
            last_month[bucket] += 1;
        }
    }

    Dashboard {
        scope,
        caseload,
        waiting_review: waiting_review.into_iter().map(|(_, line)| line).collect(),
        overdue_notes: overdue_notes.into_iter().map(|(_, line)| line).collect(),
        overdue_reviews,
        this_month,
        last_month,
    }
}

/// Days after which a device that has not synced is listed: what it holds, nobody else has.
pub const QUIET_DAYS: i64 = 7;

/// A device that has not synced for over [`QUIET_DAYS`] days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietDevice {
    /// Whose it is.
    pub user: UserId,
    /// What it is called.
    pub name: String,
    /// "last synced 12 days ago".
    pub last: String,
}

/// The devices of `devices` that had not synced for over `days` days at `now`, the longest
/// quiet first.
pub fn quiet_devices(devices: &[TeamDevice], now: DateTime<Utc>, days: i64) -> Vec<QuietDevice> {
    let mut quiet: Vec<(Option<DateTime<Utc>>, QuietDevice)> = devices
        .iter()
        .filter(|device| {
            device
                .last_synced
                .is_none_or(|last| now - last > Duration::days(days))
        })
        .map(|device| {
            (
                device.last_synced,
                QuietDevice {
                    user: device.user.clone(),
                    name: device.name.clone(),
                    last: device.last_synced.map_or_else(
                        || "never synced".to_owned(),
                        |last| format!("last synced {} ago", span(now - last)),
                    ),
                },
            )
        })
        .collect();
    quiet.sort_by(|a, b| (a.0, &a.1.user, &a.1.name).cmp(&(b.0, &b.1.user, &b.1.name)));
    quiet.into_iter().map(|(_, device)| device).collect()
}

/// A bar: where its top is, and how tall it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Its top.
    pub y: f64,
    /// Its height.
    pub height: f64,
}

/// One band of the chart: this month's bar beside last month's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandBars {
    /// The band's words.
    pub label: &'static str,
    /// The left of this month's bar.
    pub x: f64,
    /// This month.
    pub this: Bar,
    /// Last month.
    pub last: Bar,
}

/// The chart of delays: two bars a band, this month beside last, laid out for SVG.
#[derive(Debug, Clone, PartialEq)]
pub struct DelayChart {
    /// One group of bars a band.
    pub bands: Vec<BandBars>,
    /// The chart in words, for screen readers.
    pub description: String,
}

/// The chart's width, in SVG user units.
pub const CHART_WIDTH: f64 = 340.0;
/// Its height.
pub const CHART_HEIGHT: f64 = 140.0;
/// The width of one bar.
pub const BAR_WIDTH: f64 = 22.0;
const BASELINE: f64 = 110.0;
const TALLEST: f64 = 90.0;

/// Lays out the delays of `dashboard` as bars.
pub fn delay_chart(dashboard: &Dashboard) -> DelayChart {
    let most = dashboard
        .this_month
        .iter()
        .chain(&dashboard.last_month)
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let bar = |count: usize| {
        let height = TALLEST * count as f64 / most;
        Bar {
            y: BASELINE - height,
            height,
        }
    };
    let slot = CHART_WIDTH / DELAY_BANDS.len() as f64;
    let bands = DELAY_BANDS
        .iter()
        .enumerate()
        .map(|(index, label)| BandBars {
            label,
            x: slot * index as f64 + (slot - 2.0 * BAR_WIDTH) / 2.0,
            this: bar(dashboard.this_month[index]),
            last: bar(dashboard.last_month[index]),
        })
        .collect();
    let words = |counts: &[usize; 5]| {
        DELAY_BANDS
            .iter()
            .zip(counts)
            .map(|(label, count)| format!("{count} {label}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    DelayChart {
        bands,
        description: format!(
            "Time from the visit to the signature. This month: {}. Last month: {}.",
            words(&dashboard.this_month),
            words(&dashboard.last_month)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use doorstep_shared::model::{CaseStatus, Goal, GoalState, RecordKind};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 20, 12, 0, 0).unwrap()
    }

    fn user(name: &str) -> UserId {
        name.parse().unwrap()
    }

    fn case(client: &str, team: &[(&str, TeamRole)], state: CaseState) -> Case {
        let mut case = doorstep_shared::document::Document::new_case(
            &doorstep_shared::document::Writer::new_device(user("amara")),
            CaseId::random(),
            client,
            now() - Duration::days(90),
        )
        .unwrap()
        .case()
        .unwrap();
        case.team = team
            .iter()
            .map(|(name, role)| (user(name), *role))
            .collect();
        case.status = CaseStatus {
            state,
            ..case.status
        };
        case
    }

    fn record(case: &Case, author: &str, status: RecordStatus, due_days_ago: i64) -> RecordSummary {
        let due = now() - Duration::days(due_days_ago);
        RecordSummary {
            id: RecordId::random(),
            case_id: case.id,
            kind: RecordKind::HomeVisit,
            status,
            author: user(author),
            occurred_start: Some(due - Duration::hours(1)),
            due_from: due,
            writing_began: due + Duration::hours(1),
            finalised_at: None,
        }
    }

    fn signed(case: &Case, author: &str, visit: DateTime<Utc>, after: Duration) -> RecordSummary {
        RecordSummary {
            id: RecordId::random(),
            case_id: case.id,
            kind: RecordKind::CaseNote,
            status: RecordStatus::Finalised,
            author: user(author),
            occurred_start: Some(visit),
            due_from: visit,
            writing_began: visit,
            finalised_at: Some(visit + after),
        }
    }

    /// Grace supervises two workers' cases; a third case is another team's.
    fn seeded() -> (Vec<Case>, Vec<RecordSummary>) {
        use TeamRole::*;
        let mut okafor = case(
            "Mrs Okafor",
            &[("amara", Worker), ("grace", Supervisor)],
            CaseState::Open,
        );
        okafor.profile.goals.push(Goal {
            id: doorstep_shared::ids::ItemId::random(),
            goal: "Safe stairs".into(),
            state: GoalState::Active,
            target_date: None,
            review_date: Some(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()),
        });
        let diallo = case(
            "Mr Diallo",
            &[("amara", Worker), ("grace", Supervisor)],
            CaseState::Open,
        );
        let reyes = case(
            "Ms Reyes",
            &[("ben", Worker), ("grace", Supervisor)],
            CaseState::Open,
        );
        let mut closed = case(
            "Mr Old",
            &[("ben", Worker), ("grace", Supervisor)],
            CaseState::Closed,
        );
        // A closed case's goals are no longer reviewed.
        closed.profile.goals.push(Goal {
            id: doorstep_shared::ids::ItemId::random(),
            goal: "Back to work".into(),
            state: GoalState::Active,
            target_date: None,
            review_date: Some(NaiveDate::from_ymd_opt(2026, 2, 1).unwrap()),
        });
        let elsewhere = case(
            "Other team",
            &[("zed", Worker), ("yan", Supervisor)],
            CaseState::Open,
        );
        let march = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        let february = Utc.with_ymd_and_hms(2026, 2, 10, 10, 0, 0).unwrap();
        let records = vec![
            record(&okafor, "amara", RecordStatus::Submitted, 2),
            record(&reyes, "ben", RecordStatus::Submitted, 6),
            record(&diallo, "amara", RecordStatus::Draft, 4),
            record(&diallo, "amara", RecordStatus::Draft, 1),
            record(&reyes, "ben", RecordStatus::Returned, 3),
            record(&elsewhere, "zed", RecordStatus::Submitted, 9),
            signed(&okafor, "amara", march, Duration::hours(5)),
            signed(&okafor, "amara", march, Duration::days(3)),
            signed(&reyes, "ben", february, Duration::days(10)),
            signed(&reyes, "ben", february, Duration::hours(30)),
            signed(&elsewhere, "zed", march, Duration::hours(1)),
        ];
        (vec![okafor, diallo, reyes, closed, elsewhere], records)
    }

    #[test]
    fn a_supervisor_sees_each_workers_load_and_what_waits_oldest_first() {
        let (cases, records) = seeded();
        let seen = dashboard(
            &user("grace"),
            &cases,
            &records,
            now(),
            Duration::hours(48),
            FixedOffset::east_opt(0).unwrap(),
        );
        assert_eq!(seen.scope, Scope::Supervisor);
        let loads: Vec<_> = seen
            .caseload
            .iter()
            .map(|load| {
                (
                    load.worker.as_str(),
                    load.open_cases,
                    load.awaiting,
                    load.overdue,
                )
            })
            .collect();
        assert_eq!(loads, [("amara", 2, 2, 1), ("ben", 1, 1, 1)]);
        let waiting: Vec<_> = seen
            .waiting_review
            .iter()
            .map(|line| {
                (
                    line.title.as_str(),
                    line.author.as_str(),
                    line.waiting.as_str(),
                )
            })
            .collect();
        assert_eq!(
            waiting,
            [
                ("Home visit · Ms Reyes", "ben", "6 days since the visit"),
                ("Home visit · Mrs Okafor", "amara", "2 days since the visit"),
            ]
        );
        let overdue: Vec<_> = seen
            .overdue_notes
            .iter()
            .map(|line| (line.title.as_str(), line.waiting.as_str()))
            .collect();
        assert_eq!(
            overdue,
            [
                ("Home visit · Mr Diallo", "late by 2 days"),
                ("Home visit · Ms Reyes", "late by 24 h"),
            ]
        );
        assert_eq!(seen.overdue_reviews.len(), 1);
        assert_eq!(seen.overdue_reviews[0].title, "Safe stairs · Mrs Okafor");
        assert_eq!(seen.this_month, [1, 0, 1, 0, 0]);
        assert_eq!(seen.last_month, [0, 1, 0, 1, 0]);
    }

    #[test]
    fn a_case_counts_once_for_the_worker_who_holds_it_however_many_workers_the_team_has() {
        use TeamRole::*;
        let team = [("amara", Worker), ("ben", Worker), ("grace", Supervisor)];
        let opened_by_amara = case("Mrs Okafor", &team, CaseState::Open);
        let mut moved_here = case(
            "Mr Diallo",
            &[("ben", Worker), ("grace", Supervisor)],
            CaseState::Open,
        );
        moved_here.author = user("someone-elsewhere");
        let seen = dashboard(
            &user("grace"),
            &[opened_by_amara, moved_here],
            &[],
            now(),
            Duration::hours(48),
            FixedOffset::east_opt(0).unwrap(),
        );
        let loads: Vec<_> = seen
            .caseload
            .iter()
            .map(|load| (load.worker.as_str(), load.open_cases))
            .collect();
        assert_eq!(loads, [("amara", 1), ("ben", 1)]);
    }

    #[test]
    fn a_worker_sees_the_same_for_their_own_caseload_only() {
        let (cases, records) = seeded();
        let seen = dashboard(
            &user("ben"),
            &cases,
            &records,
            now(),
            Duration::hours(48),
            FixedOffset::east_opt(0).unwrap(),
        );
        assert_eq!(seen.scope, Scope::Worker);
        let loads: Vec<_> = seen
            .caseload
            .iter()
            .map(|load| (load.worker.as_str(), load.open_cases, load.awaiting))
            .collect();
        assert_eq!(loads, [("ben", 1, 1)]);
        assert_eq!(seen.waiting_review.len(), 1);
        assert_eq!(seen.waiting_review[0].author.as_str(), "ben");
        assert_eq!(seen.this_month, [0; 5]);
        assert_eq!(seen.last_month, [0, 1, 0, 1, 0]);
    }

    #[test]
    fn devices_quiet_for_over_a_week_are_listed_longest_quiet_first() {
        let device = |who: &str, name: &str, days: Option<i64>| TeamDevice {
            user: user(who),
            name: name.into(),
            last_synced: days.map(|days| now() - Duration::days(days)),
        };
        let devices = [
            device("amara", "phone", Some(1)),
            device("ben", "old phone", Some(30)),
            device("ben", "tablet", Some(9)),
            device("amara", "laptop", Some(7)),
        ];
        let quiet: Vec<_> = quiet_devices(&devices, now(), QUIET_DAYS)
            .into_iter()
            .map(|device| (device.user.to_string(), device.name, device.last))
            .collect();
        assert_eq!(
            quiet,
            [
                (
                    "ben".to_owned(),
                    "old phone".to_owned(),
                    "last synced 30 days ago".to_owned()
                ),
                (
                    "ben".to_owned(),
                    "tablet".to_owned(),
                    "last synced 9 days ago".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn the_chart_puts_each_band_side_by_side_scaled_to_the_tallest_bar() {
        let (cases, records) = seeded();
        let seen = dashboard(
            &user("grace"),
            &cases,
            &records,
            now(),
            Duration::hours(48),
            FixedOffset::east_opt(0).unwrap(),
        );
        let chart = delay_chart(&seen);
        assert_eq!(chart.bands.len(), 5);
        let first = chart.bands[0];
        assert_eq!(
            first.this,
            Bar {
                y: BASELINE - TALLEST,
                height: TALLEST
            }
        );
        assert_eq!(
            first.last,
            Bar {
                y: BASELINE,
                height: 0.0
            }
        );
        assert!(
            chart.description.contains("This month: 1 under 1 day"),
            "{}",
            chart.description
        );
        assert!(chart.bands.windows(2).all(|pair| pair[0].x < pair[1].x));
    }
}
