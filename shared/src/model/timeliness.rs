//! When a record was written, against when the visit happened: practice asks for notes
//! right after the visit, and an agency must be able to show it.

use crate::model::{Record, RecordStatus};
use crate::template::capitalised;
use chrono::{DateTime, Duration, FixedOffset, Utc};

/// The timeliness lines shown on a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeliness {
    /// (what, when) pairs: visit ended, writing began, finalised.
    pub lines: Vec<(String, String)>,
    /// "Overdue: …" while the record waits for its author past the agency's threshold.
    pub overdue: Option<String>,
}

/// The timeliness of `record` at `now`, in the worker's time zone `zone`.
pub fn timeliness(
    record: &Record,
    now: DateTime<Utc>,
    threshold: Duration,
    zone: FixedOffset,
) -> Timeliness {
    // Only the times the worker entered count: a record without them shows no delay rather
    // than an invented one.
    let occasion = record.kind().occasion().unwrap_or("visit");
    let ended = record.occurred_end;
    let mut lines = Vec::new();
    if record.kind().occasion().is_some() {
        lines.push((
            format!("{} ended", capitalised(occasion)),
            ended.map_or_else(|| "not entered yet".to_owned(), |at| when(at, zone)),
        ));
    }
    let mut began = when(record.writing_began, zone);
    if let Some(ended) = ended
        && record.writing_began > ended
    {
        began.push_str(&format!(
            " ({} after the {occasion})",
            span(record.writing_began - ended)
        ));
    }
    lines.push(("Writing began".to_owned(), began));
    lines.push((
        "Finalised".to_owned(),
        match (record.status, record.finalised_at) {
            (RecordStatus::Finalised, Some(at)) => when(at, zone),
            (RecordStatus::Submitted, _) => "not yet: waiting for review".to_owned(),
            _ => "not yet".to_owned(),
        },
    ));
    let since = if ended.is_some() {
        format!("the {occasion}")
    } else {
        "writing began".to_owned()
    };
    let overdue = record
        .is_overdue(now, threshold)
        .then(|| format!("Overdue: {} since {since}", span(now - record.due_from())));
    Timeliness { lines, overdue }
}

/// "Tue 3 Mar 2026, 14:05" in `zone`.
pub fn when(at: DateTime<Utc>, zone: FixedOffset) -> String {
    at.with_timezone(&zone)
        .format("%a %-d %b %Y, %H:%M")
        .to_string()
}

/// A duration as a worker would say it: "40 min", "5 h", "3 days".
pub fn span(duration: Duration) -> String {
    let minutes = duration.num_minutes().max(0);
    match minutes {
        0..60 => format!("{minutes} min"),
        60..2880 => format!("{} h", minutes / 60),
        _ => format!("{} days", minutes / 1440),
    }
}

/// "5 min ago", "just now", for the last sync.
pub fn ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if now - then < Duration::minutes(1) {
        "just now".to_owned()
    } else {
        format!("{} ago", span(now - then))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CaseId, RecordId};
    use crate::model::{HomeVisit, RecordBody};
    use chrono::TimeZone;

    fn record(status: RecordStatus) -> Record {
        let visit_end = Utc.with_ymd_and_hms(2026, 3, 3, 14, 0, 0).unwrap();
        Record {
            id: RecordId::random(),
            case_id: CaseId::random(),
            author: "amara".parse().unwrap(),
            status,
            occurred_start: Some(visit_end - Duration::hours(1)),
            occurred_end: Some(visit_end),
            writing_began: visit_end + Duration::minutes(40),
            submitted_at: None,
            finalised_at: None,
            signoff: None,
            addenda: vec![],
            review: vec![],
            attachments: vec![],
            body: RecordBody::HomeVisit(HomeVisit::default()),
        }
    }

    #[test]
    fn a_draft_says_when_the_visit_ended_and_writing_began() {
        let zone = FixedOffset::east_opt(3600).unwrap();
        let record = record(RecordStatus::Draft);
        let now = record.writing_began + Duration::hours(1);
        let shown = timeliness(&record, now, Duration::hours(48), zone);
        assert_eq!(
            shown.lines,
            lines(&[
                ("Visit ended", "Tue 3 Mar 2026, 15:00"),
                (
                    "Writing began",
                    "Tue 3 Mar 2026, 15:40 (40 min after the visit)"
                ),
                ("Finalised", "not yet"),
            ])
        );
        assert_eq!(shown.overdue, None);
    }

    fn lines(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(what, at)| (what.to_string(), at.to_string()))
            .collect()
    }

    #[test]
    fn without_entered_times_no_delay_is_invented() {
        let zone = FixedOffset::east_opt(3600).unwrap();
        let mut record = record(RecordStatus::Draft);
        record.occurred_start = None;
        record.occurred_end = None;
        record.body = RecordBody::CaseNote(Default::default());
        let shown = timeliness(
            &record,
            record.writing_began + Duration::days(3),
            Duration::hours(48),
            zone,
        );
        assert_eq!(
            shown.lines,
            lines(&[
                ("Contact ended", "not entered yet"),
                ("Writing began", "Tue 3 Mar 2026, 15:40"),
                ("Finalised", "not yet"),
            ])
        );
        assert_eq!(
            shown.overdue.as_deref(),
            Some("Overdue: 3 days since writing began")
        );
    }

    #[test]
    fn a_draft_left_past_the_threshold_is_overdue() {
        let record = record(RecordStatus::Draft);
        let now = record.occurred_end.unwrap() + Duration::days(3);
        let shown = timeliness(
            &record,
            now,
            Duration::hours(48),
            FixedOffset::east_opt(0).unwrap(),
        );
        assert_eq!(
            shown.overdue.as_deref(),
            Some("Overdue: 3 days since the visit")
        );
    }

    #[test]
    fn a_submitted_record_is_not_overdue_and_waits_for_review() {
        let record = record(RecordStatus::Submitted);
        let now = record.occurred_end.unwrap() + Duration::days(3);
        let shown = timeliness(
            &record,
            now,
            Duration::hours(48),
            FixedOffset::east_opt(0).unwrap(),
        );
        assert_eq!(shown.overdue, None);
        assert_eq!(shown.lines[2].1, "not yet: waiting for review");
    }

    #[test]
    fn spans_read_as_a_worker_would_say_them() {
        assert_eq!(span(Duration::minutes(5)), "5 min");
        assert_eq!(span(Duration::minutes(150)), "2 h");
        assert_eq!(span(Duration::hours(50)), "2 days");
        let now = Utc::now();
        assert_eq!(ago(now - Duration::seconds(20), now), "just now");
        assert_eq!(ago(now - Duration::minutes(7), now), "7 min ago");
    }
}
