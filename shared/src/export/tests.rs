use chrono::{Duration, TimeZone};

use super::*;
use crate::document::{Edit, FieldValue, Occurrence, Writer};
use crate::ids::{ItemId, RecordId};
use crate::model::RecordKind;

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 14, 0, 0).unwrap() + Duration::minutes(minute)
}

fn writer(name: &str) -> Writer {
    Writer::new_device(name.parse().unwrap())
}

fn no_other_cases(_: CaseId) -> Option<String> {
    None
}

/// A case with one goal, and a home visit on it that names the goal, signed by the
/// supervisor; then a late edit from a colleague and an addendum.
fn signed_visit() -> (Document, Case, Document) {
    let (worker, supervisor, colleague) = (writer("amara"), writer("grace"), writer("ben"));
    let case_id = CaseId::random();
    let mut case = Document::new_case(&worker, case_id, "Mrs Okafor", at(0)).unwrap();
    let (add_goal, goal) = Edit::append("goals");
    case.edit_all(
        &worker,
        &[
            add_goal,
            Edit::set_in(
                "goals",
                goal,
                "goal",
                FieldValue::Text("Safe stairs".into()),
            ),
        ],
        at(1),
    )
    .unwrap();
    let visited = Occurrence::between(at(10), at(55));
    let mut visit = Document::new_record(
        &worker,
        RecordId::random(),
        case_id,
        RecordKind::HomeVisit,
        visited,
        at(70),
    )
    .unwrap();
    let (add_progress, progress) = Edit::append("goal_progress");
    visit
        .edit_all(
            &worker,
            &[
                Edit::text("observed_home", "Stair rail loose at the top."),
                Edit::text("assessment", "Coping well."),
                Edit::set("risk", FieldValue::Flag(true)),
                add_progress,
                Edit::set_in(
                    "goal_progress",
                    progress,
                    "goal",
                    FieldValue::Text(goal.to_string()),
                ),
                Edit::set_in("goal_progress", progress, "rating", FieldValue::Number(3)),
            ],
            at(75),
        )
        .unwrap();
    let mut offline = Document::load(&visit.save(), &[]).unwrap();
    visit.submit(&worker, at(80)).unwrap();
    visit.finalise(&supervisor, at(90)).unwrap();
    offline
        .edit(
            &colleague,
            &Edit::text("assessment", "Coping well. Rewritten later."),
            at(95),
        )
        .unwrap();
    let heads = visit.heads();
    visit.apply_remote(&offline.changes_after(&heads)).unwrap();
    visit
        .add_addendum(
            &worker,
            "Wrong date of next visit",
            "Next visit 9 March.",
            at(100),
        )
        .unwrap();
    let case_read = case.case().unwrap();
    (visit, case_read, case)
}

#[test]
fn a_signed_record_reads_as_signed_under_the_forms_labels_with_its_addenda_and_history() {
    let (mut visit, case, _) = signed_visit();
    let sheet = record_sheet(&mut visit, &case, &mut no_other_cases).unwrap();

    let field = |label: &str| {
        sheet
            .fields
            .iter()
            .find(|field| field.label == label)
            .unwrap_or_else(|| panic!("no field {label}"))
            .value
            .clone()
    };
    assert_eq!(field("Assessment (your interpretation)"), "Coping well.");
    assert_eq!(field("Observed: the home"), "Stair rail loose at the top.");
    assert_eq!(field("Risk or safety concern"), "Yes");
    assert_eq!(field("Plan"), "");
    let goals = sheet
        .lists
        .iter()
        .find(|list| list.name == "goal_progress")
        .unwrap();
    assert_eq!(goals.entries.len(), 1);
    assert_eq!(goals.entries[0].title, "Goal worked on 1");
    let values: Vec<_> = goals.entries[0]
        .fields
        .iter()
        .map(|field| field.value.as_str())
        .collect();
    assert_eq!(values, ["Safe stairs", "3 of 5", ""]);

    assert_eq!(sheet.client, "Mrs Okafor");
    assert_eq!(sheet.kind_label, "Home visit");
    assert_eq!(sheet.status, "Finalised and signed");
    let signed = sheet.signed.as_ref().expect("signed");
    assert_eq!(signed.by, "grace");
    assert_eq!(signed.at.text, "Mon 2 Mar 2026, 15:30 UTC");
    assert_eq!(signed.heads_sha256.len(), 64);
    assert_eq!(sheet.addenda.len(), 1);
    assert_eq!(sheet.addenda[0].reason, "Wrong date of next visit");
    assert_eq!(sheet.addenda[0].sha256.len(), 64);
    let review: Vec<_> = sheet
        .review
        .iter()
        .map(|step| step.action.as_str())
        .collect();
    assert_eq!(review, ["Approved"]);
    let amendments: Vec<_> = sheet
        .history
        .iter()
        .filter(|line| line.after_signoff)
        .map(|line| line.summary.as_str())
        .collect();
    assert_eq!(amendments, ["Edited by ben", "Addendum added by amara"]);
    let timeliness: Vec<_> = sheet
        .timeliness
        .iter()
        .map(|line| (line.label.as_str(), line.value.as_str()))
        .collect();
    assert_eq!(
        timeliness,
        [
            ("Visit ended", "Mon 2 Mar 2026, 14:55 UTC"),
            (
                "Writing began",
                "Mon 2 Mar 2026, 15:10 UTC (15 min after the visit)"
            ),
            ("Finalised", "Mon 2 Mar 2026, 15:30 UTC"),
        ]
    );
    assert_eq!(sheet.latest(), at(100));
}

#[test]
fn every_copy_of_the_document_gives_the_same_sheet_and_hashes() {
    let (mut visit, case, _) = signed_visit();
    let mut copy = Document::load(&visit.save(), &[]).unwrap();
    let sheet = record_sheet(&mut visit, &case, &mut no_other_cases).unwrap();
    let again = record_sheet(&mut copy, &case, &mut no_other_cases).unwrap();
    assert_eq!(sheet, again);
    assert_eq!(
        serde_json::to_vec(&sheet).unwrap(),
        serde_json::to_vec(&again).unwrap()
    );
    let heads = copy.signed_heads().unwrap().unwrap();
    let mut reversed = heads.clone();
    reversed.reverse();
    assert_eq!(signed_heads_sha256(&reversed), signed_heads_sha256(&heads));
}

#[test]
fn an_addendums_hash_changes_with_any_of_its_parts() {
    let addendum = Addendum {
        id: ItemId::random(),
        author: "amara".parse().unwrap(),
        at: at(0),
        reason: "typo".into(),
        text: "Next visit 9 March.".into(),
    };
    let hash = addendum_sha256(&addendum);
    assert_eq!(hash, addendum_sha256(&addendum.clone()));
    let changes = [
        Addendum {
            text: "Next visit 8 March.".into(),
            ..addendum.clone()
        },
        Addendum {
            reason: "typo.".into(),
            ..addendum.clone()
        },
        Addendum {
            author: "ben".parse().unwrap(),
            ..addendum.clone()
        },
        Addendum {
            at: at(0) + Duration::milliseconds(1),
            ..addendum.clone()
        },
        // Moving a line feed from one part to the next is still a different addendum.
        Addendum {
            reason: "typo\nNext".into(),
            text: "visit 9 March.".into(),
            ..addendum.clone()
        },
    ];
    for changed in changes {
        assert_ne!(addendum_sha256(&changed), hash, "{changed:?}");
    }
}

#[test]
fn a_draft_says_it_is_not_signed_and_shows_its_words_as_they_stand() {
    let worker = writer("amara");
    let case_id = CaseId::random();
    let case = Document::new_case(&worker, case_id, "Mr Diallo", at(0))
        .unwrap()
        .case()
        .unwrap();
    let mut note = Document::new_record(
        &worker,
        RecordId::random(),
        case_id,
        RecordKind::CaseNote,
        Occurrence::default(),
        at(5),
    )
    .unwrap();
    note.edit(
        &worker,
        &Edit::text("observations", "Phoned the GP."),
        at(6),
    )
    .unwrap();
    let sheet = record_sheet(&mut note, &case, &mut no_other_cases).unwrap();
    assert!(sheet.signed.is_none());
    assert!(sheet.status.contains("not signed"), "{}", sheet.status);
    assert!(
        sheet
            .fields
            .iter()
            .any(|field| field.value == "Phoned the GP." && field.narrative)
    );
    assert_eq!(sheet.occurred_end, None);
    let finalised = sheet
        .timeliness
        .iter()
        .find(|line| line.label == "Finalised")
        .unwrap();
    assert_eq!(finalised.value, "not yet");
}

#[test]
fn every_kind_of_record_has_a_sheet_with_each_of_its_forms_fields() {
    let worker = writer("amara");
    let case_id = CaseId::random();
    let case = Document::new_case(&worker, case_id, "Client", at(0))
        .unwrap()
        .case()
        .unwrap();
    for kind in RecordKind::ALL {
        let occurred = match kind.occasion() {
            Some(_) => Occurrence::between(at(1), at(2)),
            None => Occurrence::default(),
        };
        let mut document =
            Document::new_record(&worker, RecordId::random(), case_id, kind, occurred, at(3))
                .unwrap();
        let sheet = record_sheet(&mut document, &case, &mut no_other_cases).unwrap();
        let labels: Vec<_> = sheet
            .fields
            .iter()
            .map(|field| field.label.as_str())
            .collect();
        let expected: Vec<_> = kind
            .template()
            .fields
            .iter()
            .map(|spec| spec.label)
            .collect();
        assert_eq!(labels, expected, "{kind:?}");
        assert_eq!(sheet.lists.len(), kind.template().lists.len(), "{kind:?}");
        assert_eq!(sheet.kind, kind.as_str());
    }
}
