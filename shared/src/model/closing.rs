//! What must be settled before a case closes: records not yet signed and tasks still open
//! are listed, and each is either resolved or acknowledged with a reason.

use chrono::FixedOffset;
use serde::{Deserialize, Serialize};

use super::{Record, RecordBody, RecordKind, RecordStatus};
use crate::ids::RecordId;

/// Something still open on a case that is about to close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outstanding {
    /// Which item: `record:<id>` or `task:<record id>:<task id>`, to match acknowledgements.
    pub key: String,
    /// In words: "Home visit of 3 Nov 2026 by amara: draft".
    pub description: String,
    /// The record it is in.
    pub record: RecordId,
}

/// An outstanding item the worker closing the case chose to leave, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// The item's key ([`Outstanding::key`]).
    pub item: String,
    /// The item as it was described when acknowledged.
    pub description: String,
    /// Why it may stay open.
    pub why: String,
}

/// A case's closure as the worker closing it gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    /// The closing summary it rests on.
    pub summary: RecordId,
    /// The open items left open, each with why.
    pub acknowledged: Vec<Acknowledgement>,
    /// The day the case closed.
    pub on: chrono::NaiveDate,
    /// Its outcome.
    pub outcome: String,
}

/// Why a case cannot close yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClosingError {
    /// No closing summary, or one without its reason.
    #[error("write the closing summary, with the reason for closing, first")]
    NoSummary,
    /// Items neither resolved nor acknowledged.
    #[error("{} still open: resolve or acknowledge each first", count(.0.len()))]
    Unsettled(Vec<Outstanding>),
}

fn count(items: usize) -> String {
    match items {
        1 => "1 item is".to_owned(),
        items => format!("{items} items are"),
    }
}

/// Everything still open among a case's records: records not signed (drafts, returned,
/// waiting for review) and follow-up tasks not done. The closing summary itself is left out:
/// it is signed after the case closes, like any record.
pub fn outstanding(records: &[Record], zone: FixedOffset) -> Vec<Outstanding> {
    let mut items = Vec::new();
    for record in records {
        if record.kind() == RecordKind::ClosingSummary {
            continue;
        }
        let day = record
            .occurred_start
            .unwrap_or(record.writing_began)
            .with_timezone(&zone)
            .format("%-d %b %Y");
        let what = format!(
            "{} of {day} by {}",
            record.kind().template().label,
            record.author
        );
        let state = match record.status {
            RecordStatus::Draft => Some("a draft"),
            RecordStatus::Returned => Some("returned to its author"),
            RecordStatus::Submitted => Some("waiting for review"),
            RecordStatus::Finalised => None,
        };
        if let Some(state) = state {
            items.push(Outstanding {
                key: format!("record:{}", record.id),
                description: format!("{what}: {state}"),
                record: record.id,
            });
        }
        if let RecordBody::HomeVisit(visit) = &record.body {
            for task in visit.tasks.iter().filter(|task| !task.done) {
                if task.task.trim().is_empty() {
                    continue;
                }
                items.push(Outstanding {
                    key: format!("task:{}:{}", record.id, task.id),
                    description: format!("Task from the {what}: {}", task.task.trim()),
                    record: record.id,
                });
            }
        }
    }
    items
}

/// Checks that a case may close: a closing summary with its reason, and every outstanding
/// item resolved (no longer outstanding) or acknowledged with a reason.
pub fn check_closing(
    summary: Option<&Record>,
    outstanding: &[Outstanding],
    acknowledged: &[Acknowledgement],
) -> Result<(), ClosingError> {
    let has_reason = matches!(
        summary.map(|record| &record.body),
        Some(RecordBody::ClosingSummary(body)) if !body.reason.trim().is_empty()
    );
    if !has_reason {
        return Err(ClosingError::NoSummary);
    }
    let unsettled: Vec<Outstanding> = outstanding
        .iter()
        .filter(|item| {
            !acknowledged
                .iter()
                .any(|ack| ack.item == item.key && !ack.why.trim().is_empty())
        })
        .cloned()
        .collect();
    if unsettled.is_empty() {
        Ok(())
    } else {
        Err(ClosingError::Unsettled(unsettled))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CaseId, ItemId};
    use crate::model::{ClosingSummary, HomeVisit, Task};
    use chrono::{TimeZone, Utc};

    fn record(status: RecordStatus, body: RecordBody) -> Record {
        let start = Utc.with_ymd_and_hms(2026, 11, 3, 10, 0, 0).unwrap();
        Record {
            id: RecordId::random(),
            case_id: CaseId::random(),
            author: "amara".parse().unwrap(),
            status,
            occurred_start: Some(start),
            occurred_end: Some(start + chrono::Duration::hours(1)),
            writing_began: start + chrono::Duration::hours(2),
            submitted_at: None,
            finalised_at: None,
            signoff: None,
            addenda: vec![],
            review: vec![],
            attachments: vec![],
            body,
        }
    }

    fn visit_with_task(status: RecordStatus, done: bool) -> Record {
        record(
            status,
            RecordBody::HomeVisit(HomeVisit {
                tasks: vec![Task {
                    id: ItemId::random(),
                    task: "Chase the landlord".into(),
                    due: None,
                    done,
                }],
                ..HomeVisit::default()
            }),
        )
    }

    fn summary(reason: &str) -> Record {
        record(
            RecordStatus::Draft,
            RecordBody::ClosingSummary(ClosingSummary {
                reason: reason.into(),
                ..ClosingSummary::default()
            }),
        )
    }

    #[test]
    fn unsigned_records_and_open_tasks_are_outstanding() {
        let zone = FixedOffset::east_opt(0).unwrap();
        let signed_done = visit_with_task(RecordStatus::Finalised, true);
        let signed_open = visit_with_task(RecordStatus::Finalised, false);
        let draft = visit_with_task(RecordStatus::Draft, true);
        let waiting = record(
            RecordStatus::Submitted,
            RecordBody::HomeVisit(HomeVisit::default()),
        );
        let closing = summary("Goals met");
        let items = outstanding(
            &[
                signed_done,
                signed_open.clone(),
                draft.clone(),
                waiting.clone(),
                closing,
            ],
            zone,
        );
        let described: Vec<_> = items.iter().map(|item| item.description.as_str()).collect();
        assert_eq!(
            described,
            [
                "Task from the Home visit of 3 Nov 2026 by amara: Chase the landlord",
                "Home visit of 3 Nov 2026 by amara: a draft",
                "Home visit of 3 Nov 2026 by amara: waiting for review",
            ]
        );
        assert_eq!(items[0].record, signed_open.id);
        assert_eq!(items[1].key, format!("record:{}", draft.id));
        assert_eq!(items[2].record, waiting.id);
    }

    #[test]
    fn a_case_closes_with_its_summary_and_nothing_left_unsettled() {
        let zone = FixedOffset::east_opt(0).unwrap();
        let draft = visit_with_task(RecordStatus::Draft, true);
        let items = outstanding(std::slice::from_ref(&draft), zone);
        let with_reason = summary("Goals met; she asked to close.");
        assert_eq!(
            check_closing(None, &items, &[]),
            Err(ClosingError::NoSummary)
        );
        assert_eq!(
            check_closing(Some(&summary("  ")), &items, &[]),
            Err(ClosingError::NoSummary)
        );
        assert_eq!(
            check_closing(Some(&with_reason), &items, &[]),
            Err(ClosingError::Unsettled(items.clone()))
        );
        let acknowledge = |why: &str| Acknowledgement {
            item: items[0].key.clone(),
            description: items[0].description.clone(),
            why: why.into(),
        };
        // An acknowledgement without a reason settles nothing.
        assert!(check_closing(Some(&with_reason), &items, &[acknowledge(" ")]).is_err());
        assert_eq!(
            check_closing(
                Some(&with_reason),
                &items,
                &[acknowledge("Visit cancelled: nothing to record")]
            ),
            Ok(())
        );
        // Resolved (signed) rather than acknowledged: nothing outstanding.
        let signed = visit_with_task(RecordStatus::Finalised, true);
        assert_eq!(
            check_closing(Some(&with_reason), &outstanding(&[signed], zone), &[]),
            Ok(())
        );
        assert_eq!(
            ClosingError::Unsettled(items).to_string(),
            "1 item is still open: resolve or acknowledge each first"
        );
    }
}
