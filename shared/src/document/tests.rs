use std::collections::HashSet;

use chrono::{Duration, TimeZone};

use super::*;
use crate::model::{CaseState, ExchangeMode};

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 14, 0, 0).unwrap() + Duration::minutes(minute)
}

fn writer(name: &str) -> Writer {
    Writer::new_device(name.parse().unwrap())
}

fn new_visit(worker: &Writer) -> Document {
    let occurred = Occurrence {
        start: Some(at(0)),
        end: Some(at(45)),
    };
    Document::new_record(
        worker,
        RecordId::random(),
        CaseId::random(),
        RecordKind::HomeVisit,
        occurred,
        at(50),
    )
    .unwrap()
}

fn new_draft(writer: &Writer, kind: RecordKind) -> Document {
    let (id, case) = (RecordId::random(), CaseId::random());
    let visited = Occurrence::between(at(-60), at(-5));
    Document::new_record(writer, id, case, kind, visited, at(0)).unwrap()
}

/// A second device that has received everything `document` holds.
fn replica(document: &mut Document) -> Document {
    Document::load(&document.save(), &[]).unwrap()
}

fn sync(from: &mut Document, to: &mut Document) {
    let heads = to.heads();
    to.apply_remote(&from.changes_after(&heads)).unwrap();
}

fn home_visit(document: &Document) -> crate::model::HomeVisit {
    match document.record().unwrap().body {
        RecordBody::HomeVisit(visit) => visit,
        other => panic!("expected a home visit, got {other:?}"),
    }
}

#[test]
fn a_new_record_reads_back_with_its_times_and_author() {
    let worker = writer("amara");
    let document = new_visit(&worker);
    let record = document.record().unwrap();
    assert_eq!(record.author.as_str(), "amara");
    assert_eq!(record.status, RecordStatus::Draft);
    assert_eq!(record.occurred_end, Some(at(45)));
    assert_eq!(record.writing_began, at(50));
    assert_eq!(record.kind(), RecordKind::HomeVisit);
}

#[test]
fn observation_and_assessment_stay_separate_fields() {
    let worker = writer("amara");
    let mut document = new_visit(&worker);
    let seen = "Kitchen clean; two weeks of post unopened by the door.";
    let thought = "Possible low mood; she may be avoiding bills.";
    document
        .edit(&worker, &Edit::text("observed_home", seen), at(51))
        .unwrap();
    document
        .edit(&worker, &Edit::text("assessment", thought), at(52))
        .unwrap();
    let visit = home_visit(&document);
    assert_eq!(visit.observed_home, seen);
    assert_eq!(visit.assessment, thought);
}

#[test]
fn two_offline_edits_to_the_same_paragraph_both_survive() {
    let worker = writer("amara");
    let colleague = writer("ben");
    let mut mine = new_visit(&worker);
    mine.edit(&worker, &Edit::text("plan", "Call the GP."), at(51))
        .unwrap();
    let mut theirs = replica(&mut mine);

    mine.edit(
        &worker,
        &Edit::text("plan", "Call the GP. Book a food bank voucher."),
        at(52),
    )
    .unwrap();
    theirs
        .edit(
            &colleague,
            &Edit::text("plan", "Urgently: Call the GP."),
            at(53),
        )
        .unwrap();
    sync(&mut mine, &mut theirs);
    sync(&mut theirs, &mut mine);

    let plan = home_visit(&mine).plan;
    assert_eq!(plan, home_visit(&theirs).plan);
    assert!(plan.contains("Urgently: "), "{plan}");
    assert!(plan.contains("Book a food bank voucher."), "{plan}");
}

#[test]
fn words_typed_on_an_older_text_keep_a_colleagues_words_that_arrived_meanwhile() {
    let (amara, ben) = (writer("amara"), writer("ben"));
    let mut document = new_visit(&amara);
    document
        .edit(&amara, &Edit::text("plan", "The plan: "), at(51))
        .unwrap();
    let mut bens = replica(&mut document);
    bens.edit(&ben, &Edit::text("plan", "Ben agrees. The plan: "), at(52))
        .unwrap();
    // Ben's words arrive before Amara's typing is written: her screen still had the older
    // text, and her whole new text would take his words out again.
    sync(&mut bens, &mut document);
    let typed = FieldValue::Typed {
        base: "The plan: ".into(),
        text: "The plan: Amara will phone the GP.".into(),
    };
    document
        .edit(&amara, &Edit::set("plan", typed), at(53))
        .unwrap();
    assert_eq!(
        home_visit(&document).plan,
        "Ben agrees. The plan: Amara will phone the GP."
    );
    // Typed onto the text the field holds, it is an ordinary edit.
    let typed = FieldValue::Typed {
        base: "Ben agrees. The plan: Amara will phone the GP.".into(),
        text: "Ben agrees. The plan: Amara will phone the GP today.".into(),
    };
    document
        .edit(&amara, &Edit::set("plan", typed), at(54))
        .unwrap();
    assert_eq!(
        home_visit(&document).plan,
        "Ben agrees. The plan: Amara will phone the GP today."
    );
}

#[test]
fn entries_added_concurrently_on_two_devices_both_survive() {
    let facilitator = writer("amara");
    let cofacilitator = writer("ben");
    let mut mine = new_draft(&facilitator, RecordKind::ProcessRecording);
    let mut theirs = replica(&mut mine);
    let (add_mine, mine_id) = Edit::append("exchanges");
    let (add_theirs, theirs_id) = Edit::append("exchanges");
    mine.edit(&facilitator, &add_mine, at(1)).unwrap();
    let say = Edit::set_in(
        "exchanges",
        mine_id,
        "content",
        FieldValue::Text("Hello".into()),
    );
    mine.edit(&facilitator, &say, at(2)).unwrap();
    theirs.edit(&cofacilitator, &add_theirs, at(1)).unwrap();
    let shrug = FieldValue::Text("behaviour".into());
    theirs
        .edit(
            &cofacilitator,
            &Edit::set_in("exchanges", theirs_id, "mode", shrug),
            at(2),
        )
        .unwrap();
    sync(&mut mine, &mut theirs);
    sync(&mut theirs, &mut mine);

    let RecordBody::ProcessRecording(recording) = mine.record().unwrap().body else {
        panic!("expected a process recording");
    };
    let ids: HashSet<_> = recording.exchanges.iter().map(|e| e.id).collect();
    assert_eq!(ids, HashSet::from([mine_id, theirs_id]));
    let hello = recording
        .exchanges
        .iter()
        .find(|e| e.id == mine_id)
        .unwrap();
    assert_eq!(hello.content, "Hello");
    let gesture = recording
        .exchanges
        .iter()
        .find(|e| e.id == theirs_id)
        .unwrap();
    assert_eq!(gesture.mode, ExchangeMode::Behaviour);
}
#[test]
fn entries_can_be_inserted_after_another_and_removed() {
    let worker = writer("amara");
    let mut document = new_visit(&worker);
    let (first, first_id) = Edit::append("quotes");
    let (last, last_id) = Edit::append("quotes");
    document.edit(&worker, &first, at(1)).unwrap();
    document.edit(&worker, &last, at(2)).unwrap();
    let middle_id = ItemId::random();
    let middle = Edit::AddEntry {
        list: "quotes".into(),
        id: middle_id,
        after: Some(first_id),
    };
    document.edit(&worker, &middle, at(3)).unwrap();
    let order: Vec<_> = home_visit(&document).quotes.iter().map(|q| q.id).collect();
    assert_eq!(order, [first_id, middle_id, last_id]);

    let remove = Edit::RemoveEntry {
        list: "quotes".into(),
        id: middle_id,
    };
    document.edit(&worker, &remove, at(4)).unwrap();
    let order: Vec<_> = home_visit(&document).quotes.iter().map(|q| q.id).collect();
    assert_eq!(order, [first_id, last_id]);
    let again = document.edit(&worker, &remove, at(5));
    assert!(
        matches!(again, Err(DocumentError::UnknownItem { .. })),
        "{again:?}"
    );
}

#[test]
fn edits_that_do_not_fit_the_template_are_refused_and_leave_no_change() {
    let worker = writer("amara");
    let mut document = new_visit(&worker);
    let heads = document.heads();
    let cases = [
        Edit::text("no_such_field", "x"),
        Edit::set("risk", FieldValue::Text("yes".into())),
        Edit::set("next_visit", FieldValue::Number(3)),
        Edit::set_in(
            "quotes",
            ItemId::random(),
            "words",
            FieldValue::Text("x".into()),
        ),
        Edit::set_in(
            "exchanges",
            ItemId::random(),
            "content",
            FieldValue::Text("x".into()),
        ),
    ];
    for edit in cases {
        assert!(document.edit(&worker, &edit, at(1)).is_err(), "{edit:?}");
    }
    assert_eq!(document.heads(), heads);
    assert!(
        document.take_unsaved_changes().len() == 1,
        "only the creation"
    );
}

#[test]
fn choices_accept_only_their_values() {
    let worker = writer("amara");
    let mut document = new_draft(&worker, RecordKind::GroupSession);
    let (add, member) = Edit::append("members");
    document.edit(&worker, &add, at(1)).unwrap();
    let present = Edit::set_in(
        "members",
        member,
        "attendance",
        FieldValue::Text("present".into()),
    );
    document.edit(&worker, &present, at(2)).unwrap();
    let asleep = Edit::set_in(
        "members",
        member,
        "attendance",
        FieldValue::Text("asleep".into()),
    );
    assert!(matches!(
        document.edit(&worker, &asleep, at(3)),
        Err(DocumentError::WrongValue { .. })
    ));
}

#[test]
fn the_review_cycle_locks_the_authors_fields_but_not_the_reviewers() {
    let worker = writer("amara");
    let supervisor = writer("grace");
    let mut document = new_draft(&worker, RecordKind::ProcessRecording);
    let (add, exchange) = Edit::append("exchanges");
    document.edit(&worker, &add, at(1)).unwrap();
    document.submit(&worker, at(2)).unwrap();

    let late_edit = Edit::text("summary", "one more thing");
    assert!(matches!(
        document.edit(&worker, &late_edit, at(3)),
        Err(DocumentError::NotAllowed { .. })
    ));
    let comment = FieldValue::Text("Good use of silence here.".into());
    let comment = Edit::set_in("exchanges", exchange, "supervisor_comment", comment);
    document.edit(&supervisor, &comment, at(4)).unwrap();
    document
        .return_to_author(&supervisor, "Add your feelings", at(5))
        .unwrap();
    document.edit(&worker, &late_edit, at(6)).unwrap();
    document.submit(&worker, at(7)).unwrap();
    document.finalise(&supervisor, at(8)).unwrap();

    let record = document.record().unwrap();
    assert_eq!(record.status, RecordStatus::Finalised);
    assert_eq!(record.finalised_at, Some(at(8)));
    let actions: Vec<_> = record.review.iter().map(|step| step.action).collect();
    assert_eq!(actions, [ReviewAction::Returned, ReviewAction::Approved]);
    assert!(document.edit(&supervisor, &comment, at(9)).is_err());
    assert!(document.submit(&worker, at(9)).is_err());
}

#[test]
fn the_signed_view_stays_as_signed_and_later_changes_show_as_amendments() {
    let worker = writer("amara");
    let supervisor = writer("grace");
    let mut signed_on = new_visit(&worker);
    signed_on
        .edit(&worker, &Edit::text("assessment", "Coping well."), at(51))
        .unwrap();
    // A colleague's device holds the draft and keeps editing offline...
    let colleague = writer("ben");
    let mut offline = replica(&mut signed_on);
    signed_on.submit(&worker, at(52)).unwrap();
    signed_on.finalise(&supervisor, at(60)).unwrap();
    offline
        .edit(
            &colleague,
            &Edit::text("assessment", "Coping well. Neighbour worried."),
            at(61),
        )
        .unwrap();
    // ...and its edit arrives after the sign-off.
    sync(&mut offline, &mut signed_on);
    let id = signed_on
        .add_addendum(
            &worker,
            "Date of next visit was wrong",
            "Next visit is 9 March.",
            at(70),
        )
        .unwrap();

    let signed = signed_on.record_as_signed().unwrap().expect("signed");
    let RecordBody::HomeVisit(signed_visit) = &signed.body else {
        panic!()
    };
    assert_eq!(signed_visit.assessment, "Coping well.");
    assert_eq!(signed.status, RecordStatus::Finalised);
    assert!(signed.addenda.is_empty());

    let now = signed_on.record().unwrap();
    assert_eq!(now.addenda.len(), 1);
    assert_eq!(now.addenda[0].id, id);
    assert_eq!(now.addenda[0].reason, "Date of next visit was wrong");
    assert_eq!(now.addenda[0].author.as_str(), "amara");
    assert!(
        home_visit(&signed_on)
            .assessment
            .contains("Neighbour worried")
    );

    let history = history(&mut signed_on).unwrap();
    let amendments: Vec<_> = history
        .iter()
        .filter(|entry| entry.after_signoff)
        .map(|entry| (entry.user.as_ref().unwrap().as_str(), entry.action.unwrap()))
        .collect();
    assert_eq!(
        amendments,
        [("ben", Action::Edit), ("amara", Action::Addendum)]
    );
}

#[test]
fn addenda_need_a_finalised_record_and_a_reason() {
    let worker = writer("amara");
    let mut document = new_visit(&worker);
    assert!(matches!(
        document.add_addendum(&worker, "typo", "text", at(1)),
        Err(DocumentError::NotAllowed { .. })
    ));
    document.submit(&worker, at(2)).unwrap();
    document.finalise(&worker, at(3)).unwrap();
    assert!(matches!(
        document.add_addendum(&worker, " ", "text", at(4)),
        Err(DocumentError::Empty(_))
    ));
}

#[test]
fn history_names_who_changed_which_field_and_when() {
    let worker = writer("amara");
    let colleague = writer("ben");
    let mut document = new_visit(&worker);
    let mut theirs = replica(&mut document);
    theirs
        .edit(
            &colleague,
            &Edit::set("risk", FieldValue::Flag(true)),
            at(55),
        )
        .unwrap();
    sync(&mut theirs, &mut document);
    document
        .edit(&worker, &Edit::text("interventions", "Listened."), at(56))
        .unwrap();

    let entries: Vec<_> = history(&mut document)
        .unwrap()
        .into_iter()
        .map(|entry| {
            (
                entry.user.unwrap().to_string(),
                entry.action,
                entry.fields,
                entry.at,
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("amara".into(), Some(Action::Create), vec![], at(50)),
            (
                "ben".into(),
                Some(Action::Edit),
                vec!["risk".into()],
                at(55)
            ),
            (
                "amara".into(),
                Some(Action::Edit),
                vec!["interventions".into()],
                at(56)
            ),
        ]
    );
}

#[test]
fn a_case_keeps_its_team_status_and_events() {
    let worker = writer("amara");
    let mut document =
        Document::new_case(&worker, CaseId::random(), "Mrs A. Example", at(0)).unwrap();
    let supervisor: UserId = "grace".parse().unwrap();
    let roster = [
        (worker.user.clone(), TeamRole::Worker),
        (supervisor.clone(), TeamRole::Supervisor),
    ];
    assert!(
        document
            .set_team(&Writer::server(), &roster.into_iter().collect(), at(1))
            .unwrap()
    );
    assert_eq!(
        document
            .team_changes()
            .unwrap()
            .last()
            .map(|change| (&change.member, change.role)),
        Some((&supervisor, Some(TeamRole::Supervisor)))
    );
    let (add, consent) = Edit::append("consents");
    document.edit(&worker, &add, at(2)).unwrap();
    let scope = Edit::set_in(
        "consents",
        consent,
        "scope",
        FieldValue::Text("record".into()),
    );
    document.edit(&worker, &scope, at(3)).unwrap();
    document
        .record_case_event(
            &worker,
            &crate::model::CaseEventDraft {
                outcome: "Discharged to GP".into(),
                summary: Some(RecordId::random()),
                ..crate::model::CaseEventDraft::new(
                    CaseEventKind::Closure,
                    at(0).date_naive(),
                    "Goals met",
                )
            },
            at(4),
        )
        .unwrap();

    let case = document.case().unwrap();
    assert_eq!(case.profile.client_name, "Mrs A. Example");
    assert_eq!(case.team.get(&supervisor), Some(&TeamRole::Supervisor));
    assert_eq!(case.team.get(&worker.user), Some(&TeamRole::Worker));
    assert_eq!(case.status.state, CaseState::Closed);
    assert_eq!(case.status.outcome, "Discharged to GP");
    assert_eq!(case.events.len(), 1);
    assert_eq!(case.events[0].kind, CaseEventKind::Closure);
    assert_eq!(case.events[0].day(), at(0).date_naive());
    assert_eq!(
        case.profile.consents[0].scope,
        Some(crate::model::ConsentScope::Record)
    );
    assert!(
        document.submit(&worker, at(5)).is_err(),
        "a case is not a record"
    );
}

#[test]
fn applying_the_same_changes_twice_changes_nothing() {
    let worker = writer("amara");
    let mut document = new_visit(&worker);
    let mut other = replica(&mut document);
    let base = other.heads();
    document
        .edit(&worker, &Edit::text("purpose", "Review"), at(1))
        .unwrap();
    let changes = document.changes_after(&base);
    other.apply_remote(&changes).unwrap();
    let once = other.save();
    other.apply_remote(&changes).unwrap();
    assert_eq!(other.save(), once);
    assert_eq!(other.heads(), document.heads());
}

#[test]
fn garbage_is_refused_when_loading() {
    assert!(Document::load(b"not an automerge document", &[]).is_err());
    let mut plain = AutoCommit::new();
    plain.put(ROOT, "hello", "world").unwrap();
    assert!(matches!(
        Document::load(&plain.save(), &[]),
        Err(DocumentError::Malformed(_))
    ));
}

#[test]
fn searchable_text_has_the_words_but_not_the_ids() {
    let worker = writer("amara");
    let mut document = new_visit(&worker);
    let (add, quote) = Edit::append("quotes");
    document.edit(&worker, &add, at(1)).unwrap();
    let words = FieldValue::Text("I just want my kids home".into());
    document
        .edit(
            &worker,
            &Edit::set_in("quotes", quote, "words", words),
            at(2),
        )
        .unwrap();
    let text = document.searchable_text().unwrap();
    assert!(text.contains("I just want my kids home"));
    assert!(!text.contains(&quote.to_string()));
}

#[test]
fn changes_that_build_on_unknown_changes_are_refused_until_their_base_arrives() {
    let worker = writer("amara");
    let mut source = new_visit(&worker);
    let mut target = replica(&mut source);
    let base = source.heads();
    source
        .edit(&worker, &Edit::text("purpose", "First"), at(1))
        .unwrap();
    let middle = source.heads();
    source
        .edit(&worker, &Edit::text("purpose", "First, second"), at(2))
        .unwrap();
    let only_the_second = source.changes_after(&middle);
    let before = target.heads();
    assert!(matches!(
        target.apply_remote(&only_the_second),
        Err(DocumentError::MissingDependencies(1))
    ));
    assert_eq!(target.heads(), before);
    target.apply_remote(&source.changes_after(&base)).unwrap();
    assert_eq!(home_visit(&target).purpose, "First, second");
}

#[test]
fn bytes_that_do_not_parse_whole_are_refused() {
    let worker = writer("amara");
    let mut source = new_visit(&worker);
    let mut target = replica(&mut source);
    let base = source.heads();
    source
        .edit(&worker, &Edit::text("purpose", "Visit"), at(1))
        .unwrap();
    let mut bytes = source.changes_after(&base);
    bytes.extend_from_slice(b"trailing garbage");
    let before = target.heads();
    assert!(target.apply_remote(&bytes).is_err());
    assert!(target.apply_remote(b"garbage").is_err());
    assert_eq!(target.heads(), before);
}

#[test]
fn visit_times_are_entered_by_the_worker_and_required_for_review() {
    let worker = writer("amara");
    let (id, case) = (RecordId::random(), CaseId::random());
    let kind = RecordKind::CaseNote;
    let mut document =
        Document::new_record(&worker, id, case, kind, Occurrence::default(), at(0)).unwrap();
    assert_eq!(document.occurrence().unwrap(), Occurrence::default());
    assert!(matches!(
        document.submit(&worker, at(1)),
        Err(DocumentError::VisitTimes(
            VisitTimesError::MissingAtSubmission
        ))
    ));
    // Times that cannot be are refused, with nothing written.
    let refused = [
        (
            Occurrence::between(at(-30), at(-60)),
            VisitTimesError::EndsBeforeStart,
        ),
        (
            Occurrence::between(at(-30), at(60)),
            VisitTimesError::EndsInFuture,
        ),
        (
            Occurrence {
                start: Some(at(-30)),
                end: None,
            },
            VisitTimesError::Incomplete,
        ),
    ];
    for (times, error) in refused {
        assert!(matches!(
            document.set_occurrence(&worker, times, at(2)),
            Err(DocumentError::VisitTimes(refused)) if refused == error
        ));
    }
    let entered = Occurrence::between(at(-90), at(-30));
    assert!(document.set_occurrence(&worker, entered, at(3)).unwrap());
    assert!(!document.set_occurrence(&worker, entered, at(4)).unwrap());
    let corrected = Occurrence::between(at(-120), at(-45));
    assert!(document.set_occurrence(&worker, corrected, at(5)).unwrap());
    let record = document.record().unwrap();
    assert_eq!(
        (record.occurred_start, record.occurred_end),
        (corrected.start, corrected.end)
    );
    // Each entry and correction is its own change in the history, with its time.
    let changes: Vec<_> = history(&mut document)
        .unwrap()
        .into_iter()
        .filter(|entry| entry.action == Some(Action::VisitTimes))
        .map(|entry| entry.at)
        .collect();
    assert_eq!(changes, [at(3), at(5)]);
    document.submit(&worker, at(6)).unwrap();
    assert!(matches!(
        document.set_occurrence(&worker, entered, at(7)),
        Err(DocumentError::NotAllowed { .. })
    ));
}

#[test]
fn ratings_are_held_to_their_scale() {
    let worker = writer("amara");
    let mut document = new_draft(&worker, RecordKind::GroupSession);
    let (add, member) = Edit::append("members");
    document.edit(&worker, &add, at(1)).unwrap();
    for rating in [0, 6, -1] {
        let off = Edit::set_in("members", member, "rating", FieldValue::Number(rating));
        assert!(matches!(
            document.edit(&worker, &off, at(2)),
            Err(DocumentError::WrongValue { .. })
        ));
    }
    let on = Edit::set_in("members", member, "rating", FieldValue::Number(5));
    document.edit(&worker, &on, at(3)).unwrap();
    let mut visit = new_draft(&worker, RecordKind::HomeVisit);
    let (add, link) = Edit::append("goal_progress");
    visit.edit(&worker, &add, at(1)).unwrap();
    let not_a_goal = Edit::set_in("goal_progress", link, "goal", FieldValue::Text("x".into()));
    assert!(visit.edit(&worker, &not_a_goal, at(2)).is_err());
    let goal = Edit::set_in(
        "goal_progress",
        link,
        "goal",
        FieldValue::Text(ItemId::random().to_string()),
    );
    visit.edit(&worker, &goal, at(3)).unwrap();
}

#[test]
fn several_edits_of_one_action_are_one_change() {
    let worker = writer("amara");
    let mut case = Document::new_case(&worker, CaseId::random(), "Client", at(0)).unwrap();
    let before = history(&mut case).unwrap().len();
    let consent = ItemId::random();
    let edits = [
        Edit::AddEntry {
            list: "consents".into(),
            id: consent,
            after: None,
        },
        Edit::set_in(
            "consents",
            consent,
            "scope",
            FieldValue::Text("record".into()),
        ),
        Edit::set_in(
            "consents",
            consent,
            "given_on",
            FieldValue::Date(at(0).date_naive()),
        ),
    ];
    case.edit_all(&worker, &edits, at(1)).unwrap();
    assert_eq!(history(&mut case).unwrap().len(), before + 1);
    let profile = case.case().unwrap().profile;
    assert!(
        profile
            .consent_on(crate::model::ConsentScope::Record, at(0).date_naive())
            .holds()
    );
    // One edit that does not fit refuses the whole action.
    let broken = [
        Edit::AddEntry {
            list: "consents".into(),
            id: ItemId::random(),
            after: None,
        },
        Edit::set_in("consents", consent, "scope", FieldValue::Text("all".into())),
    ];
    assert!(case.edit_all(&worker, &broken, at(2)).is_err());
    assert_eq!(case.case().unwrap().profile.consents.len(), 1);
}

#[test]
fn a_case_file_written_before_a_list_existed_gains_it_on_first_entry() {
    let worker = writer("amara");
    let mut case = Document::new_case(&worker, CaseId::random(), "Client", at(0)).unwrap();
    // As a case opened by an earlier version: no decisions list in its body.
    let body = object(&case.doc, &ROOT, "body").unwrap();
    case.doc.delete(&body, "decisions").unwrap();
    case.doc.commit();
    let (add, decision) = Edit::append("decisions");
    case.edit(&worker, &add, at(1)).unwrap();
    let why = Edit::set_in(
        "decisions",
        decision,
        "rationale",
        FieldValue::Text("Risk to her mood.".into()),
    );
    case.edit(&worker, &why, at(2)).unwrap();
    assert_eq!(
        case.case().unwrap().profile.decisions[0].rationale,
        "Risk to her mood."
    );
}

#[test]
fn the_readable_history_speaks_the_forms_language() {
    let (amara, ben, grace) = (writer("amara"), writer("ben"), writer("grace"));
    let mut document = new_draft(&amara, RecordKind::HomeVisit);
    // A burst of typing: three saves within a few minutes are one entry.
    for (minute, text) in [
        (1, "Cold flat"),
        (2, "Cold flat, heater"),
        (4, "Cold flat, heater broken."),
    ] {
        document
            .edit(&amara, &Edit::text("observed_home", text), at(minute))
            .unwrap();
    }
    let (add, decision) = Edit::append("decisions");
    document.edit(&amara, &add, at(5)).unwrap();
    let why = Edit::set_in(
        "decisions",
        decision,
        "rationale",
        FieldValue::Text("The cold is a risk to her health.".into()),
    );
    document.edit(&amara, &why, at(6)).unwrap();
    // Ben, later, replaces a word of hers.
    let mut bens = replica(&mut document);
    bens.edit(
        &ben,
        &Edit::text("observed_home", "Cold flat, boiler broken."),
        at(30),
    )
    .unwrap();
    document.apply_remote(&bens.save()).unwrap();
    document.submit(&amara, at(40)).unwrap();
    document.finalise(&grace, at(50)).unwrap();

    let entries = readable_history(&mut document).unwrap();
    let summaries: Vec<_> = entries.iter().map(|entry| entry.summary.as_str()).collect();
    assert_eq!(
        summaries,
        [
            "Home visit started by amara",
            "Edited by amara",
            "Decision added by amara",
            "Edited by amara",
            "Edited by ben",
            "Submitted for review by amara",
            "Approved by grace",
            "Signed by grace",
        ]
    );
    let typing = &entries[1];
    assert_eq!((typing.changes, typing.from, typing.to), (3, at(1), at(4)));
    assert_eq!(typing.fields[0].label, "Observed: the home");
    assert_eq!(typing.fields[0].added, ["Cold flat, heater broken."]);
    let rationale = &entries[3].fields[0];
    assert_eq!(rationale.label, "Decisions › Decision 1 › Why");
    assert_eq!(rationale.added, ["The cold is a risk to her health."]);
    let bens_change = &entries[4].fields[0];
    assert_eq!(bens_change.added, ["boiler"]);
    assert_eq!(bens_change.removed, ["heater"]);
    assert_eq!(entries[5].fields[0].label, "Status");
    assert_eq!(entries[5].fields[0].now.as_deref(), Some("submitted"));
    assert!(entries.iter().all(|entry| !entry.after_signoff));
}

#[test]
fn words_changed_are_runs_of_text_not_characters() {
    assert_eq!(
        words_changed("She manages most days.", "She says she manages most days."),
        (vec!["says she".to_owned()], vec![])
    );
    assert_eq!(
        words_changed("Visit on Friday.", "Visit on Tuesday."),
        (vec!["Tuesday.".to_owned()], vec!["Friday.".to_owned()])
    );
    // The same word twice, and words the text already had elsewhere.
    assert_eq!(
        words_changed("no no", "no yes no"),
        (vec!["yes".to_owned()], vec![])
    );
}

#[test]
fn case_events_are_dated_when_they_happened_and_only_some_move_the_status() {
    let worker = writer("amara");
    let mut document = Document::new_case(&worker, CaseId::random(), "Client", at(0)).unwrap();
    let hearing_day = NaiveDate::from_ymd_opt(2026, 2, 20).unwrap();
    let event = |kind, label: &str| crate::model::CaseEventDraft {
        label: label.into(),
        ..crate::model::CaseEventDraft::new(kind, hearing_day, "Child arrangements")
    };
    document
        .record_case_event(&worker, &event(CaseEventKind::CourtHearing, ""), at(60))
        .unwrap();
    assert!(matches!(
        document.record_case_event(&worker, &event(CaseEventKind::Other, " "), at(61)),
        Err(DocumentError::Empty(_))
    ));
    document
        .record_case_event(&worker, &event(CaseEventKind::Other, "Moved flat"), at(62))
        .unwrap();
    let case = document.case().unwrap();
    assert_eq!(
        case.status.state,
        CaseState::Open,
        "a hearing does not close a case"
    );
    assert_eq!(
        case.events[0].day(),
        hearing_day,
        "the day it happened, not when typed"
    );
    assert_eq!(case.events[0].title(), "Court hearing");
    assert_eq!(case.events[1].title(), "Moved flat");
    // A closure rests on its closing summary, a transfer on its handover summary.
    for kind in [CaseEventKind::Closure, CaseEventKind::Transfer] {
        assert!(matches!(
            document.record_case_event(&worker, &event(kind, ""), at(63)),
            Err(DocumentError::Empty(_))
        ));
    }
}
