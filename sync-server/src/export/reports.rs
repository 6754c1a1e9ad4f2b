//! Agency figures as CSV, from the server's copy of a team's cases (`admin report`): visits
//! per worker per week, timeliness per worker and team, overdue notes, goal progress, group
//! attendance, and a de-identified extract for research.
//!
//! Every text cell is escaped against formula injection: a spreadsheet opening the file
//! shows `=HYPERLINK(...)` typed in a client's name as text, never runs it.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Utc};
use doorstep_shared::DocId;
use doorstep_shared::model::{
    Attendance, Case, CaseKind, Record, RecordBody, RecordKind, RecordStatus, goal_trails, register,
};
use sha2::{Digest, Sha256};

use super::{CaseDocuments, ExportError};
use crate::storage::Storage;

/// The reports `admin report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// Visits, sessions and contacts per worker per week.
    Visits,
    /// Visit end → writing began → finalised, per worker and for the team.
    Timeliness,
    /// Records waiting for their author past the threshold.
    Overdue,
    /// Each goal: its state, review date and the progress rated.
    Goals,
    /// Each group session's register.
    Attendance,
    /// One row per record with no names and no free text: pseudonymous ids, coarse dates.
    Research,
}

impl Report {
    /// Every report, by its name.
    pub const ALL: [(&'static str, Report); 6] = [
        ("visits", Report::Visits),
        ("timeliness", Report::Timeliness),
        ("overdue", Report::Overdue),
        ("goals", Report::Goals),
        ("attendance", Report::Attendance),
        ("research", Report::Research),
    ];
}

impl FromStr for Report {
    type Err = String;
    fn from_str(name: &str) -> Result<Report, String> {
        Report::ALL
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, report)| *report)
            .ok_or_else(|| {
                let names: Vec<&str> = Report::ALL.iter().map(|(key, _)| *key).collect();
                format!("no report {name:?}: choose one of {}", names.join(", "))
            })
    }
}

/// A case of the team, read.
#[derive(Debug)]
pub struct TeamCase {
    /// The case file.
    pub case: Case,
    /// Its records.
    pub records: Vec<Record>,
}

/// The team's cases, read from the server's copy.
pub fn load_team(storage: &dyn Storage, team: &str) -> Result<Vec<TeamCase>, ExportError> {
    let cases = storage
        .team_cases(team)?
        .ok_or_else(|| ExportError::NoSuchTeam(team.to_owned()))?;
    let mut loaded = Vec::new();
    for case in cases {
        let documents = CaseDocuments::load(storage, case)?;
        let Some(document) = documents.document(DocId::Case(case))? else {
            continue;
        };
        let mut records = Vec::new();
        for record in documents.record_ids() {
            if let Some(document) = documents.document(DocId::Record(record))? {
                records.push(document.record()?);
            }
        }
        loaded.push(TeamCase {
            case: document.case()?,
            records,
        });
    }
    Ok(loaded)
}

/// A cell of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text, escaped as it is written.
    Text(String),
    /// A whole number.
    Count(i64),
    /// A number of hours, to one decimal.
    Hours(f64),
    /// Nothing.
    Empty,
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::Text(text.to_owned())
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::Text(text)
    }
}

/// A report: its columns and rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The column names.
    pub header: Vec<&'static str>,
    /// The rows.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// The table as CSV (RFC 4180, CRLF line ends), every text cell escaped.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<Cell> = self.header.iter().map(|name| Cell::from(*name)).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let cells: Vec<String> = row
                .iter()
                .map(|cell| match cell {
                    Cell::Text(text) => csv_text(text),
                    Cell::Count(count) => count.to_string(),
                    Cell::Hours(hours) => format!("{hours:.1}"),
                    Cell::Empty => String::new(),
                })
                .collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

/// A text cell as CSV: a cell a spreadsheet would read as a formula (starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return) gets a leading `'`, which shows it as text; then it
/// is quoted if it holds a comma, a quote or a line break, or starts or ends with a space.
pub fn csv_text(text: &str) -> String {
    let mut cell = String::with_capacity(text.len() + 3);
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        cell.push('\'');
    }
    cell.push_str(text);
    let quote =
        cell.contains([',', '"', '\n', '\r']) || cell.starts_with(' ') || cell.ends_with(' ');
    if quote {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

/// What a report is about.
#[derive(Debug)]
pub struct Scope<'a> {
    /// The team's name.
    pub team: &'a str,
    /// Records due from this time on (the end of their visit, or when writing began).
    pub since: DateTime<Utc>,
    /// The moment "overdue" is judged at.
    pub now: DateTime<Utc>,
    /// How long a record may wait for its author after the visit.
    pub overdue_after: Duration,
}

/// The report `report` of `cases`.
pub fn report(report: Report, cases: &[TeamCase], scope: &Scope<'_>) -> Table {
    let in_scope = |record: &&Record| record.due_from() >= scope.since;
    match report {
        Report::Visits => visits(cases, &in_scope),
        Report::Timeliness => timeliness(cases, scope.team, &in_scope),
        Report::Overdue => overdue(cases, scope, &in_scope),
        Report::Goals => goals(cases),
        Report::Attendance => attendance(cases, &in_scope),
        Report::Research => research(cases, &in_scope, &random_key()),
    }
}

type InScope<'a> = dyn Fn(&&Record) -> bool + 'a;

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).expect("UTC is an offset")
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

fn hours(duration: Duration) -> f64 {
    duration.num_minutes() as f64 / 60.0
}

/// The client's name, or the group's.
fn client(case: &Case) -> String {
    match case.kind {
        CaseKind::Group => case
            .group
            .as_ref()
            .map(|group| group.name.clone())
            .unwrap_or_default(),
        CaseKind::Client => case.profile.client_name.clone(),
    }
}

fn visits(cases: &[TeamCase], in_scope: &InScope<'_>) -> Table {
    // (week's Monday, worker) → (home visits, sessions, contacts)
    let mut weeks: BTreeMap<(NaiveDate, String), [i64; 3]> = BTreeMap::new();
    for record in cases.iter().flat_map(|case| &case.records).filter(in_scope) {
        let column = match record.kind() {
            RecordKind::HomeVisit => 0,
            RecordKind::ProcessRecording | RecordKind::GroupSession => 1,
            RecordKind::CaseNote => 2,
            RecordKind::ClosingSummary | RecordKind::HandoverSummary => continue,
        };
        let on = record
            .occurred_start
            .unwrap_or(record.writing_began)
            .date_naive();
        let monday = on - Duration::days(i64::from(on.weekday().num_days_from_monday()));
        weeks
            .entry((monday, record.author.to_string()))
            .or_default()[column] += 1;
    }
    Table {
        header: vec![
            "week_starting",
            "worker",
            "home_visits",
            "sessions",
            "contacts",
            "total",
        ],
        rows: weeks
            .into_iter()
            .map(|((monday, worker), [visits, sessions, contacts])| {
                vec![
                    Cell::Text(monday.to_string()),
                    Cell::Text(worker),
                    Cell::Count(visits),
                    Cell::Count(sessions),
                    Cell::Count(contacts),
                    Cell::Count(visits + sessions + contacts),
                ]
            })
            .collect(),
    }
}

/// The median of `values`, if any.
fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    })
}

fn timeliness(cases: &[TeamCase], team: &str, in_scope: &InScope<'_>) -> Table {
    #[derive(Default)]
    struct Delays {
        records: i64,
        finalised: i64,
        to_writing: Vec<f64>,
        to_finalised: Vec<f64>,
    }
    let mut by_worker: BTreeMap<String, Delays> = BTreeMap::new();
    let mut whole = Delays::default();
    for record in cases.iter().flat_map(|case| &case.records).filter(in_scope) {
        // Only records with the visit's end entered: no delay is invented.
        let Some(ended) = record.occurred_end else {
            continue;
        };
        for delays in [
            by_worker.entry(record.author.to_string()).or_default(),
            &mut whole,
        ] {
            delays.records += 1;
            delays
                .to_writing
                .push(hours(record.writing_began - ended).max(0.0));
            if let (RecordStatus::Finalised, Some(at)) = (record.status, record.finalised_at) {
                delays.finalised += 1;
                delays.to_finalised.push(hours(at - ended).max(0.0));
            }
        }
    }
    let row = |who: String, mut delays: Delays| {
        let longest = delays
            .to_finalised
            .iter()
            .copied()
            .fold(None, |most: Option<f64>, hours| {
                Some(most.map_or(hours, |most| most.max(hours)))
            });
        vec![
            Cell::Text(team.to_owned()),
            Cell::Text(who),
            Cell::Count(delays.records),
            Cell::Count(delays.finalised),
            median(&mut delays.to_writing).map_or(Cell::Empty, Cell::Hours),
            median(&mut delays.to_finalised).map_or(Cell::Empty, Cell::Hours),
            longest.map_or(Cell::Empty, Cell::Hours),
        ]
    };
    let mut rows: Vec<Vec<Cell>> = by_worker
        .into_iter()
        .map(|(worker, delays)| row(worker, delays))
        .collect();
    rows.push(row("(whole team)".to_owned(), whole));
    Table {
        header: vec![
            "team",
            "worker",
            "records",
            "finalised",
            "median_hours_visit_to_writing",
            "median_hours_visit_to_finalised",
            "longest_hours_visit_to_finalised",
        ],
        rows,
    }
}

fn overdue(cases: &[TeamCase], scope: &Scope<'_>, in_scope: &InScope<'_>) -> Table {
    let mut rows: Vec<(DateTime<Utc>, Vec<Cell>)> = Vec::new();
    for case in cases {
        for record in case.records.iter().filter(in_scope) {
            if !record.is_overdue(scope.now, scope.overdue_after) {
                continue;
            }
            let due = record.due_from();
            rows.push((
                due,
                vec![
                    Cell::Text(record.author.to_string()),
                    Cell::Text(client(&case.case)),
                    Cell::Text(case.case.id.to_string()),
                    Cell::Text(record.id.to_string()),
                    Cell::Text(record.kind().template().label.to_owned()),
                    Cell::Text(record.status.as_str().to_owned()),
                    Cell::Text(stamp(due)),
                    Cell::Hours(hours(scope.now - due)),
                ],
            ));
        }
    }
    rows.sort_by_key(|(due, _)| *due);
    Table {
        header: vec![
            "worker",
            "client",
            "case",
            "record",
            "kind",
            "status",
            "due_from_utc",
            "hours_waiting",
        ],
        rows: rows.into_iter().map(|(_, row)| row).collect(),
    }
}

fn goals(cases: &[TeamCase]) -> Table {
    let today = Utc::now().date_naive();
    let mut rows = Vec::new();
    for case in cases
        .iter()
        .filter(|case| case.case.kind == CaseKind::Client)
    {
        for trail in goal_trails(&case.case.profile, &case.records, utc()) {
            let rated: Vec<_> = trail
                .points
                .iter()
                .filter(|point| point.rating.is_some())
                .collect();
            let latest = rated.last();
            rows.push(vec![
                Cell::Text(client(&case.case)),
                Cell::Text(case.case.id.to_string()),
                Cell::Text(trail.goal.goal.clone()),
                Cell::Text(format!("{:?}", trail.goal.state).to_lowercase()),
                trail
                    .goal
                    .target_date
                    .map_or(Cell::Empty, |date| Cell::Text(date.to_string())),
                trail
                    .goal
                    .review_date
                    .map_or(Cell::Empty, |date| Cell::Text(date.to_string())),
                Cell::from(if trail.goal.review_overdue_on(today) {
                    "yes"
                } else {
                    "no"
                }),
                Cell::Count(rated.len() as i64),
                latest
                    .and_then(|point| point.rating)
                    .map_or(Cell::Empty, Cell::Count),
                latest.map_or(Cell::Empty, |point| Cell::Text(point.on.to_string())),
            ]);
        }
    }
    Table {
        header: vec![
            "client",
            "case",
            "goal",
            "state",
            "target_date",
            "review_date",
            "review_overdue",
            "ratings",
            "latest_rating",
            "latest_rated_on",
        ],
        rows,
    }
}

fn attendance(cases: &[TeamCase], in_scope: &InScope<'_>) -> Table {
    let mut rows = Vec::new();
    for case in cases {
        let Some(group) = &case.case.group else {
            continue;
        };
        let sessions: Vec<Record> = case.records.iter().filter(in_scope).cloned().collect();
        let register = register(group, &sessions, utc());
        for row in &register.rows {
            for ((_, on, number), cell) in register.sessions.iter().zip(&row.cells) {
                rows.push(vec![
                    Cell::Text(group.name.clone()),
                    Cell::Text(on.to_string()),
                    number.map_or(Cell::Empty, Cell::Count),
                    Cell::Text(row.name.clone()),
                    Cell::from(match cell {
                        Some(Attendance::Present) => "present",
                        Some(Attendance::Late) => "late",
                        Some(Attendance::Absent) => "absent",
                        Some(Attendance::Excused) => "excused",
                        None => "not recorded",
                    }),
                ]);
            }
        }
    }
    Table {
        header: vec![
            "group",
            "session_day",
            "session_number",
            "member",
            "attendance",
        ],
        rows,
    }
}

/// A key for one extract's pseudonyms: the same case has the same pseudonym within an
/// extract, and another in the next, so extracts cannot be linked to each other.
fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("the system's random source");
    key
}

/// A pseudonym: the first 12 hexadecimal digits of SHA-256 over the extract's key and the id.
fn pseudonym(key: &[u8; 32], id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(key);
    hasher.update(id.as_bytes());
    hex::encode(&hasher.finalize()[..6])
}

/// A ten-year band ("30-39") from a date of birth or an age, at `on`.
fn age_band(case: &Case, on: NaiveDate) -> Cell {
    let age = match (case.profile.date_of_birth, case.profile.age) {
        (Some(born), _) => on.years_since(born).map(i64::from),
        (None, Some(age)) => Some(age),
        (None, None) => None,
    };
    match age {
        Some(age) if age >= 90 => Cell::from("90+"),
        Some(age) if age >= 0 => {
            let low = age / 10 * 10;
            Cell::Text(format!("{low}-{}", low + 9))
        }
        _ => Cell::Empty,
    }
}

fn research(cases: &[TeamCase], in_scope: &InScope<'_>, key: &[u8; 32]) -> Table {
    let mut rows = Vec::new();
    for case in cases {
        let case_ref = pseudonym(key, &case.case.id.to_string());
        for record in case.records.iter().filter(in_scope) {
            let due = record.due_from();
            let ended = record.occurred_end;
            let ratings: Vec<i64> = match &record.body {
                RecordBody::HomeVisit(body) => {
                    body.goal_progress.iter().filter_map(|p| p.rating).collect()
                }
                RecordBody::ProcessRecording(body) => {
                    body.goal_progress.iter().filter_map(|p| p.rating).collect()
                }
                RecordBody::CaseNote(body) => {
                    body.goal_progress.iter().filter_map(|p| p.rating).collect()
                }
                RecordBody::HandoverSummary(body) => {
                    body.goal_progress.iter().filter_map(|p| p.rating).collect()
                }
                RecordBody::GroupSession(_) | RecordBody::ClosingSummary(_) => Vec::new(),
            };
            let risk = match &record.body {
                RecordBody::HomeVisit(body) => Cell::from(if body.risk { "yes" } else { "no" }),
                _ => Cell::Empty,
            };
            rows.push(vec![
                Cell::Text(case_ref.clone()),
                Cell::Text(pseudonym(key, &record.id.to_string())),
                Cell::Text(pseudonym(key, record.author.as_str())),
                Cell::Text(record.kind().as_str().to_owned()),
                Cell::Text(due.format("%Y-%m").to_string()),
                age_band(&case.case, due.date_naive()),
                Cell::Text(record.status.as_str().to_owned()),
                ended.map_or(Cell::Empty, |ended| {
                    Cell::Hours(hours(record.writing_began - ended).max(0.0).round())
                }),
                match (ended, record.finalised_at) {
                    (Some(ended), Some(at)) => Cell::Hours(hours(at - ended).max(0.0).round()),
                    _ => Cell::Empty,
                },
                risk,
                Cell::Count(ratings.len() as i64),
                if ratings.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Hours(ratings.iter().sum::<i64>() as f64 / ratings.len() as f64)
                },
                Cell::Count(record.addenda.len() as i64),
            ]);
        }
    }
    Table {
        header: vec![
            "case_ref",
            "record_ref",
            "worker_ref",
            "kind",
            "month",
            "client_age_band",
            "status",
            "hours_visit_to_writing",
            "hours_visit_to_finalised",
            "risk_flag",
            "goals_rated",
            "mean_rating",
            "addenda",
        ],
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_a_spreadsheet_would_run_is_shown_as_text() {
        assert_eq!(
            csv_text("=HYPERLINK(\"http://evil\",\"click\")"),
            "\"'=HYPERLINK(\"\"http://evil\"\",\"\"click\"\")\""
        );
        assert_eq!(csv_text("+1 555"), "'+1 555");
        assert_eq!(csv_text("-2+3"), "'-2+3");
        assert_eq!(csv_text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_text("\tcmd"), "'\tcmd");
        assert_eq!(csv_text("Mrs Okafor"), "Mrs Okafor");
        assert_eq!(csv_text("Smith, J"), "\"Smith, J\"");
        assert_eq!(csv_text("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn numbers_are_written_as_numbers() {
        let table = Table {
            header: vec!["a", "b", "c", "d"],
            rows: vec![vec![
                Cell::Count(-3),
                Cell::Hours(1.25),
                Cell::Empty,
                Cell::from("x"),
            ]],
        };
        assert_eq!(table.to_csv(), "a,b,c,d\r\n-3,1.2,,x\r\n");
    }

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_two() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn pseudonyms_are_stable_within_an_extract_and_differ_across_extracts() {
        let (one, other) = ([1u8; 32], [2u8; 32]);
        assert_eq!(pseudonym(&one, "case-a"), pseudonym(&one, "case-a"));
        assert_ne!(pseudonym(&one, "case-a"), pseudonym(&one, "case-b"));
        assert_ne!(pseudonym(&one, "case-a"), pseudonym(&other, "case-a"));
        assert_eq!(pseudonym(&one, "case-a").len(), 12);
    }

    #[test]
    fn every_report_has_a_name_and_an_unknown_one_says_which_exist() {
        for (name, report) in Report::ALL {
            assert_eq!(name.parse::<Report>(), Ok(report));
        }
        let refused = "everything".parse::<Report>().unwrap_err();
        assert!(refused.contains("visits, timeliness"), "{refused}");
    }
}
