//! The practice around the notes, through the real sync server: a group of its own whose
//! members' cases learn their attendance and nothing else, disclosures two devices record
//! at once, a transfer that moves the case to the receiving team in the same step, and a
//! closure that rests on its summary.

use chrono::Utc;
use doorstep_shared::document::{Document, Edit, FieldValue, Writer};
use doorstep_shared::model::{
    Acknowledgement, Attendance, CaseState, Closure, DisclosureDraft, RecordKind, TeamRole,
};
use doorstep_shared::sync::protocol::{
    self, CONTENT_TYPE, DocChanges, Heads, Push, Refusal, SyncRequest, SyncResponse,
};
use doorstep_shared::{CaseId, DocId, ItemId};
use doorstep_tests::{Device, ServerProcess, just_visited};

const NOTE: &str = "Talked about the first winter alone";

/// Adds a member to a group on `device`: linked to a client's case, or named only.
fn add_member(device: &mut Device, group: CaseId, name: &str, case: Option<CaseId>) -> ItemId {
    let id = ItemId::random();
    let mut edits = vec![
        Edit::AddEntry {
            list: "members".into(),
            id,
            after: None,
        },
        Edit::set_in("members", id, "name", FieldValue::Text(name.into())),
    ];
    if let Some(case) = case {
        edits.push(Edit::set_in(
            "members",
            id,
            "case",
            FieldValue::Text(case.to_string()),
        ));
    }
    device.store.edit_all(group, &edits, Utc::now()).unwrap();
    id
}

/// Marks each member's attendance in a session, with a rating and a note naming them.
fn mark(device: &mut Device, session: doorstep_shared::RecordId, marks: &[(ItemId, &str)]) {
    let record = device.store.record(session).unwrap();
    let doorstep_shared::model::RecordBody::GroupSession(body) = record.body else {
        panic!("not a session");
    };
    for (member, attendance) in marks {
        let entry = body
            .members
            .iter()
            .find(|entry| entry.member == Some(*member))
            .expect("a line for each member")
            .id;
        let edits = [
            Edit::set_in(
                "members",
                entry,
                "attendance",
                FieldValue::Text((*attendance).into()),
            ),
            Edit::set_in("members", entry, "rating", FieldValue::Number(4)),
            Edit::set_in("members", entry, "note", FieldValue::Text(NOTE.into())),
        ];
        device.store.edit_all(session, &edits, Utc::now()).unwrap();
    }
}

#[tokio::test]
async fn a_groups_members_cases_learn_their_attendance_and_nothing_else() {
    let server = ServerProcess::start().unwrap();
    // Amara holds clients on north and co-facilitates the group with fran, whose team holds
    // it; ben is on north only: he reads the clients' cases, not the group's.
    server
        .team("a-north", &[("amara", "worker"), ("ben", "colleague")])
        .unwrap();
    server
        .team("b-groups", &[("fran", "worker"), ("amara", "colleague")])
        .unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    let mut ben = Device::sign_in(&server, "ben").await.unwrap();
    let mut fran = Device::sign_in(&server, "fran").await.unwrap();

    let ada = amara.store.create_case("Ada Client", Utc::now()).unwrap();
    let cy = amara.store.create_case("Cy Client", Utc::now()).unwrap();
    amara.sync().await.unwrap();
    let group = fran
        .store
        .create_group("Bereavement group", Utc::now())
        .unwrap();
    fran.sync().await.unwrap();
    amara.sync().await.unwrap();
    let ada_member = add_member(&mut amara, group, "Ada", Some(ada));
    let bo_member = add_member(&mut amara, group, "Bo Neighbour", None);
    let cy_member = add_member(&mut amara, group, "Cy", Some(cy));
    assert_eq!(amara.sync().await.unwrap().refused, 0);
    fran.sync().await.unwrap();

    // Two sessions: each starts with a line for every member.
    let first = fran
        .store
        .start_session(group, just_visited(), Utc::now())
        .unwrap();
    mark(
        &mut fran,
        first,
        &[
            (ada_member, "present"),
            (bo_member, "absent"),
            (cy_member, "late"),
        ],
    );
    let second = fran
        .store
        .start_session(group, just_visited(), Utc::now())
        .unwrap();
    mark(
        &mut fran,
        second,
        &[
            (ada_member, "absent"),
            (bo_member, "present"),
            (cy_member, "present"),
        ],
    );
    assert_eq!(fran.sync().await.unwrap().refused, 0);

    let zone = chrono::FixedOffset::east_opt(0).unwrap();
    let register = fran.store.register(group, zone).unwrap();
    let totals: Vec<_> = register
        .rows
        .iter()
        .map(|row| (row.name.as_str(), row.attended, row.recorded))
        .collect();
    assert_eq!(
        totals,
        [("Ada", 1, 2), ("Bo Neighbour", 1, 2), ("Cy", 2, 2)]
    );

    // Ben, on north only, sees Ada's attendance in her case: the group, the days, whether
    // she came. Not the group, its sessions, the others or the notes.
    ben.sync().await.unwrap();
    ben.sync().await.unwrap();
    let case = ben.store.case(ada).unwrap();
    let mut marks: Vec<_> = case
        .group_attendance
        .values()
        .map(|entry| (entry.group.as_str(), entry.attendance))
        .collect();
    marks.sort_by_key(|(_, attendance)| attendance.map(Attendance::as_str));
    assert_eq!(
        marks,
        [
            ("Bereavement group", Some(Attendance::Absent)),
            ("Bereavement group", Some(Attendance::Present)),
        ]
    );
    assert!(ben.store.case(group).is_err(), "the group is not ben's");
    assert!(ben.store.record(first).is_err(), "nor its sessions");
    let everything = copy(&mut ben, ada).to_json().unwrap().to_string();
    for secret in ["Bo Neighbour", "Cy", NOTE] {
        assert!(!everything.contains(secret), "{secret} reached ada's case");
    }

    // A correction reaches her case too.
    mark(&mut fran, second, &[(ada_member, "excused")]);
    fran.sync().await.unwrap();
    ben.sync().await.unwrap();
    let corrected = ben.store.case(ada).unwrap();
    assert!(
        corrected
            .group_attendance
            .values()
            .any(|entry| entry.attendance == Some(Attendance::Excused))
    );

    // A modified client cannot write attendance into a case itself.
    let mut forged = copy(&mut ben, ada);
    let base = forged.heads();
    let entry = doorstep_shared::model::GroupAttendance {
        group: "Invented group".into(),
        on: Utc::now().date_naive(),
        attendance: Some(Attendance::Present),
    };
    let writer = Writer::new_device("ben".parse().unwrap());
    forged
        .set_group_attendance(&writer, "forged/entry", Some(&entry), Utc::now())
        .unwrap();
    let refusal = push_alone(&server, &mut ben, &mut forged, &base, ada).await;
    assert_eq!(refusal.code, "not_allowed", "{}", refusal.message);
    ben.sync().await.unwrap();
    assert!(
        !ben.store
            .case(ada)
            .unwrap()
            .group_attendance
            .contains_key("forged/entry")
    );
}

/// A copy of a case's document as the device holds it, to read whole or forge changes on.
fn copy(device: &mut Device, case: CaseId) -> Document {
    Document::load(&device.store.export(DocId::Case(case)).unwrap(), &[]).unwrap()
}

/// Sends what `forged` holds beyond `base`, alone, with the device's real token, and returns
/// the server's refusal of it.
async fn push_alone(
    server: &ServerProcess,
    device: &mut Device,
    forged: &mut Document,
    base: &[automerge::ChangeHash],
    case: CaseId,
) -> Refusal {
    let push = Push {
        changes: DocChanges {
            doc: forged.doc_id().unwrap(),
            case_id: case,
            changes: forged.changes_after(base),
        },
        heads: Heads::from_hashes(&forged.heads()),
    };
    let request = SyncRequest {
        cursor: device.store.sync_cursor().unwrap(),
        pushes: vec![push],
    };
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/sync", server.url()))
        .bearer_auth(device.client.token().unwrap())
        .header("content-type", CONTENT_TYPE)
        .body(protocol::encode(&request))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let response: SyncResponse = protocol::decode(&answer.bytes().await.unwrap()).unwrap();
    assert_eq!(response.refused.len(), 1, "{:?}", response.refused);
    response.refused[0].clone()
}

#[tokio::test]
async fn a_transfer_moves_the_case_to_the_receiving_team_and_a_closure_rests_on_its_summary() {
    let server = ServerProcess::start().unwrap();
    server
        .team("north", &[("amara", "worker"), ("grace", "supervisor")])
        .unwrap();
    server.team("east", &[("erin", "worker")]).unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    let mut grace = Device::sign_in(&server, "grace").await.unwrap();
    let mut erin = Device::sign_in(&server, "erin").await.unwrap();

    // Two disclosures recorded on two devices at once both stay.
    let (case, visit) = amara.case_with_visit("Dee Client", "Plan.").unwrap();
    amara.sync().await.unwrap();
    grace.sync().await.unwrap();
    let today = Utc::now().date_naive();
    let shared = |to: &str| DisclosureDraft {
        to: to.into(),
        what: "Her housing needs".into(),
        on: today,
        consent: None,
        basis: "Safeguarding duty".into(),
    };
    amara
        .store
        .record_disclosure(case, &shared("Housing office"), Utc::now())
        .unwrap();
    grace
        .store
        .record_disclosure(case, &shared("GP surgery"), Utc::now())
        .unwrap();
    assert_eq!(amara.sync().await.unwrap().refused, 0);
    assert_eq!(grace.sync().await.unwrap().refused, 0);
    amara.sync().await.unwrap();
    let mut recipients: Vec<_> = amara
        .store
        .case(case)
        .unwrap()
        .disclosures
        .iter()
        .map(|disclosure| disclosure.to.clone())
        .collect();
    recipients.sort();
    assert_eq!(recipients, ["GP surgery", "Housing office"]);

    // The worker may not move the case to another team; the supervisor may, with a handover
    // summary, and the case goes to east in the same step.
    let handover = amara
        .store
        .create_record(
            case,
            RecordKind::HandoverSummary,
            Default::default(),
            Utc::now(),
        )
        .unwrap();
    amara
        .store
        .edit(
            handover,
            &Edit::text("situation", "Settled; rent arrears cleared."),
            Utc::now(),
        )
        .unwrap();
    amara
        .store
        .transfer_case(
            case,
            handover,
            "east",
            today,
            "Moved to the east side",
            Utc::now(),
        )
        .unwrap();
    let refused = amara.sync().await.unwrap();
    assert_eq!(
        refused.refused, 1,
        "a worker does not move a case to another team"
    );
    grace.sync().await.unwrap();
    grace
        .store
        .transfer_case(case, handover, "nowhere", today, "Moved", Utc::now())
        .unwrap();
    assert_eq!(
        grace.sync().await.unwrap().refused,
        1,
        "no team called nowhere"
    );
    grace
        .store
        .transfer_case(
            case,
            handover,
            "east",
            today,
            "Moved to the east side",
            Utc::now(),
        )
        .unwrap();
    assert_eq!(grace.sync().await.unwrap().refused, 0);
    erin.sync().await.unwrap();
    erin.sync().await.unwrap();
    let moved = erin.store.case(case).unwrap();
    assert_eq!(moved.status.state, CaseState::Transferred);
    assert_eq!(
        moved.team.get(&"erin".parse().unwrap()),
        Some(&TeamRole::Worker)
    );
    assert!(
        erin.store.record(handover).is_ok(),
        "the receiving worker reads the handover"
    );
    assert!(erin.store.record(visit).is_ok());
    amara.sync().await.unwrap();
    assert!(amara.store.case(case).is_err(), "north no longer holds it");

    // Erin closes it: not without a closing summary, not with the visit still a draft
    // unless she says why.
    let zone = chrono::FixedOffset::east_opt(0).unwrap();
    let summary = erin
        .store
        .create_record(
            case,
            RecordKind::ClosingSummary,
            Default::default(),
            Utc::now(),
        )
        .unwrap();
    let close = |erin: &mut Device, acknowledged: Vec<Acknowledgement>| {
        let closure = Closure {
            summary,
            acknowledged,
            on: today,
            outcome: "Discharged".into(),
        };
        erin.store.close_case(case, closure, Utc::now(), zone)
    };
    assert!(
        close(&mut erin, vec![]).is_err(),
        "the summary has no reason yet"
    );
    erin.store
        .edit(
            summary,
            &Edit::text("reason", "Goals met; she asked to close."),
            Utc::now(),
        )
        .unwrap();
    let open = erin.store.closing_checklist(case, zone).unwrap();
    assert_eq!(
        open.len(),
        2,
        "the draft visit and the unsigned handover: {open:?}"
    );
    assert!(close(&mut erin, vec![]).is_err());
    let acknowledged = open
        .iter()
        .map(|item| Acknowledgement {
            item: item.key.clone(),
            description: item.description.clone(),
            why: "Written by the previous team; nothing to add".into(),
        })
        .collect();
    close(&mut erin, acknowledged).unwrap();
    assert_eq!(erin.sync().await.unwrap().refused, 0);
    let closed = erin.store.case(case).unwrap();
    assert_eq!(closed.status.state, CaseState::Closed);
    let closure = closed.events.last().unwrap();
    assert_eq!(closure.summary, Some(summary));
    assert_eq!(closure.acknowledged.len(), 2);
}
