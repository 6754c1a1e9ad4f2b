//! Progress against goals across visits: each goal's trail of dated ratings, gathered from
//! the case file's own progress entries and from every record that worked on the goal.

use chrono::{FixedOffset, NaiveDate};

use super::{CaseProfile, Goal, Record, RecordBody};
use crate::ids::RecordId;
use crate::template::PROGRESS_SCALE;

/// One dated step of a goal's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressPoint {
    /// The day: of the visit for a record's note, as entered for the case file's own.
    pub on: NaiveDate,
    /// From 1 (none) to 5 (achieved), if rated.
    pub rating: Option<i64>,
    /// What was seen.
    pub note: String,
    /// The record it was noted in; `None` for the case file's own entries.
    pub record: Option<RecordId>,
}

/// A goal with its progress, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoalTrail {
    /// The goal.
    pub goal: Goal,
    /// Its progress, oldest first.
    pub points: Vec<ProgressPoint>,
}

impl RecordBody {
    /// The goals this record worked on, with the progress seen.
    pub fn goal_progress(&self) -> &[super::GoalProgress] {
        match self {
            RecordBody::HomeVisit(body) => &body.goal_progress,
            RecordBody::ProcessRecording(body) => &body.goal_progress,
            RecordBody::CaseNote(body) => &body.goal_progress,
            RecordBody::HandoverSummary(body) => &body.goal_progress,
            RecordBody::GroupSession(_) | RecordBody::ClosingSummary(_) => &[],
        }
    }
}

/// Each goal of `profile` with its trail, in the goals' order. A record's progress is dated
/// by the day its visit ended (in `zone`), or began, or was written; ratings off the scale
/// (from a document written by something else than this app) are left out of the trail.
pub fn goal_trails(profile: &CaseProfile, records: &[Record], zone: FixedOffset) -> Vec<GoalTrail> {
    let on_scale = |rating: Option<i64>| {
        let crate::template::FieldKind::Scale { min, max } = PROGRESS_SCALE else {
            unreachable!("progress is rated on a scale")
        };
        rating.filter(|rating| (min..=max).contains(rating))
    };
    profile
        .goals
        .iter()
        .map(|goal| {
            let mut points: Vec<ProgressPoint> = profile
                .progress
                .iter()
                .filter(|entry| entry.goal == Some(goal.id))
                .filter_map(|entry| {
                    Some(ProgressPoint {
                        on: entry.on?,
                        rating: on_scale(entry.rating),
                        note: entry.note.clone(),
                        record: None,
                    })
                })
                .collect();
            for record in records {
                let day = record
                    .occurred_end
                    .or(record.occurred_start)
                    .unwrap_or(record.writing_began)
                    .with_timezone(&zone)
                    .date_naive();
                points.extend(
                    record
                        .body
                        .goal_progress()
                        .iter()
                        .filter(|progress| progress.goal == Some(goal.id))
                        .map(|progress| ProgressPoint {
                            on: day,
                            rating: on_scale(progress.rating),
                            note: progress.note.clone(),
                            record: Some(record.id),
                        }),
                );
            }
            points.sort_by_key(|point| point.on);
            GoalTrail {
                goal: goal.clone(),
                points,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CaseId, ItemId};
    use crate::model::{GoalProgress, GoalProgressEntry, GoalState, HomeVisit, RecordStatus};
    use chrono::{TimeZone, Utc};

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn goal(text: &str) -> Goal {
        Goal {
            id: ItemId::random(),
            goal: text.into(),
            state: GoalState::Active,
            target_date: Some(day(30)),
            review_date: Some(day(20)),
        }
    }

    fn visit(ended: u32, progress: Vec<GoalProgress>) -> Record {
        let end = Utc.with_ymd_and_hms(2026, 11, ended, 23, 30, 0).unwrap();
        Record {
            id: RecordId::random(),
            case_id: CaseId::random(),
            author: "amara".parse().unwrap(),
            status: RecordStatus::Draft,
            occurred_start: Some(end - chrono::Duration::hours(1)),
            occurred_end: Some(end),
            writing_began: end + chrono::Duration::days(2),
            submitted_at: None,
            finalised_at: None,
            signoff: None,
            addenda: vec![],
            review: vec![],
            attachments: vec![],
            body: RecordBody::HomeVisit(HomeVisit {
                goal_progress: progress,
                ..HomeVisit::default()
            }),
        }
    }

    #[test]
    fn a_goals_trail_gathers_the_case_files_and_the_records_progress_by_day() {
        let (warm, benefits) = (goal("A warm home"), goal("Benefits in payment"));
        let profile = CaseProfile {
            goals: vec![warm.clone(), benefits.clone()],
            progress: vec![GoalProgressEntry {
                id: ItemId::random(),
                goal: Some(warm.id),
                on: Some(day(2)),
                rating: Some(1),
                note: "No heating at intake.".into(),
            }],
            ..CaseProfile::default()
        };
        let progress = |goal: &Goal, rating| GoalProgress {
            id: ItemId::random(),
            goal: Some(goal.id),
            rating: Some(rating),
            note: String::new(),
        };
        let later = visit(12, vec![progress(&warm, 4)]);
        let earlier = visit(5, vec![progress(&warm, 2), progress(&benefits, 3)]);
        // Off the scale (a document not written by this app): left out of the chart.
        let odd = visit(8, vec![progress(&warm, 9)]);
        let zone = FixedOffset::east_opt(3600).unwrap();
        let records = [later.clone(), earlier.clone(), odd.clone()];
        let trails = goal_trails(&profile, &records, zone);
        assert_eq!(trails.len(), 2);
        let warm_trail: Vec<_> = trails[0]
            .points
            .iter()
            .map(|point| (point.on, point.rating, point.record))
            .collect();
        // Dated by the day the visit ended in the worker's time zone (23:30 UTC is the
        // next day an hour east), not by when it was written.
        assert_eq!(
            warm_trail,
            [
                (day(2), Some(1), None),
                (day(6), Some(2), Some(earlier.id)),
                (day(9), None, Some(odd.id)),
                (day(13), Some(4), Some(later.id)),
            ]
        );
        assert_eq!(trails[1].points.len(), 1);
        assert_eq!(trails[1].points[0].rating, Some(3));
    }

    #[test]
    fn an_active_goal_past_its_review_date_is_overdue_for_review() {
        let mut goal = goal("A warm home");
        assert!(!goal.review_overdue_on(day(20)));
        assert!(goal.review_overdue_on(day(21)));
        goal.state = GoalState::Achieved;
        assert!(!goal.review_overdue_on(day(21)));
        goal.state = GoalState::Active;
        goal.review_date = None;
        assert!(!goal.review_overdue_on(day(21)));
    }
}
