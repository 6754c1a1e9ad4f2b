//! Devices edit the same records offline and converge through the real sync server binary
//! on loopback, with every edit present.

use chrono::Utc;
use doorstep_shared::document::{Edit, FieldValue, Occurrence};
use doorstep_shared::model::{Attendance, RecordBody, RecordKind};
use doorstep_shared::{CaseId, RecordId};
use doorstep_tests::{Device, ServerProcess};

async fn team_of(server: &ServerProcess, users: &[&str]) -> Vec<Device> {
    let members: Vec<(&str, &str)> = users.iter().map(|user| (*user, "worker")).collect();
    server.team("north", &members).unwrap();
    let mut devices = Vec::new();
    for user in users {
        devices.push(Device::sign_in(server, user).await.unwrap());
    }
    devices
}

/// Everybody syncs twice over, so everything reaches everyone.
async fn sync_all(devices: &mut [Device]) {
    for _ in 0..2 {
        for device in devices.iter_mut() {
            device.sync().await.unwrap();
        }
    }
}

async fn shared_record(devices: &mut [Device], kind: RecordKind) -> (CaseId, RecordId) {
    let store = &mut devices[0].store;
    let case = store.create_case("Shared client", Utc::now()).unwrap();
    let record = store
        .create_record(case, kind, Occurrence::default(), Utc::now())
        .unwrap();
    sync_all(devices).await;
    (case, record)
}

fn body(device: &mut Device, record: RecordId) -> RecordBody {
    device.store.record(record).unwrap().body
}

#[tokio::test]
async fn two_devices_edit_the_same_paragraph_offline_and_keep_both_sentences() {
    let server = ServerProcess::start().unwrap();
    let mut devices = team_of(&server, &["amara", "ben"]).await;
    let (_, record) = shared_record(&mut devices, RecordKind::HomeVisit).await;
    let base = "She was tired.";
    devices[0]
        .store
        .edit(record, &Edit::text("observed_client", base), Utc::now())
        .unwrap();
    sync_all(&mut devices).await;

    // Offline, both add a sentence to the same paragraph.
    let mine = format!("{base} The kitchen was cold.");
    let theirs = format!("Seen at 3pm. {base}");
    devices[0]
        .store
        .edit(record, &Edit::text("observed_client", &mine), Utc::now())
        .unwrap();
    devices[1]
        .store
        .edit(record, &Edit::text("observed_client", &theirs), Utc::now())
        .unwrap();
    sync_all(&mut devices).await;

    let texts: Vec<String> = devices
        .iter_mut()
        .map(|device| match body(device, record) {
            RecordBody::HomeVisit(visit) => visit.observed_client,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(texts[0], texts[1]);
    assert_eq!(
        texts[0],
        "Seen at 3pm. She was tired. The kitchen was cold."
    );
}

#[tokio::test]
async fn three_devices_edit_paragraphs_rows_and_attendance_and_converge() {
    let server = ServerProcess::start().unwrap();
    let mut devices = team_of(&server, &["amara", "ben", "grace"]).await;

    // A process recording: each device adds exchanges and writes in its own field.
    let (_, recording) = shared_record(&mut devices, RecordKind::ProcessRecording).await;
    let fields = ["purpose", "summary", "reflection"];
    let mut exchange_ids = Vec::new();
    for (n, device) in devices.iter_mut().enumerate() {
        let text = format!("written on device {n}");
        device
            .store
            .edit(recording, &Edit::text(fields[n], &text), Utc::now())
            .unwrap();
        for row in 0..2 {
            let (add, id) = Edit::append("exchanges");
            device.store.edit(recording, &add, Utc::now()).unwrap();
            let said = FieldValue::Text(format!("device {n} row {row}"));
            device
                .store
                .edit(
                    recording,
                    &Edit::set_in("exchanges", id, "content", said),
                    Utc::now(),
                )
                .unwrap();
            exchange_ids.push(id);
        }
    }

    // A group session: each device records attendance for its own members.
    let (_, session) = shared_record(&mut devices, RecordKind::GroupSession).await;
    let marks = [Attendance::Present, Attendance::Late, Attendance::Excused];
    let keys = ["present", "late", "excused"];
    for (n, device) in devices.iter_mut().enumerate() {
        for member in 0..2 {
            let (add, id) = Edit::append("members");
            device.store.edit(session, &add, Utc::now()).unwrap();
            let name = FieldValue::Text(format!("member {n}.{member}"));
            device
                .store
                .edit(
                    session,
                    &Edit::set_in("members", id, "name", name),
                    Utc::now(),
                )
                .unwrap();
            let mark = FieldValue::Text(keys[n].into());
            device
                .store
                .edit(
                    session,
                    &Edit::set_in("members", id, "attendance", mark),
                    Utc::now(),
                )
                .unwrap();
        }
    }
    sync_all(&mut devices).await;

    let first = (
        body(&mut devices[0], recording),
        body(&mut devices[0], session),
    );
    for device in devices.iter_mut().skip(1) {
        assert_eq!((body(device, recording), body(device, session)), first);
    }
    let (RecordBody::ProcessRecording(recording), RecordBody::GroupSession(session)) = first else {
        panic!("wrong kinds");
    };
    assert_eq!(recording.purpose, "written on device 0");
    assert_eq!(recording.summary, "written on device 1");
    assert_eq!(recording.reflection, "written on device 2");
    let mut ids: Vec<_> = recording.exchanges.iter().map(|e| e.id).collect();
    ids.sort();
    exchange_ids.sort();
    assert_eq!(ids, exchange_ids);
    assert_eq!(session.members.len(), 6);
    for (n, mark) in marks.iter().enumerate() {
        let marked = session
            .members
            .iter()
            .filter(|m| m.name.starts_with(&format!("member {n}.")) && m.attendance == Some(*mark))
            .count();
        assert_eq!(marked, 2, "device {n}'s attendance");
    }
}

#[tokio::test]
async fn a_groups_members_sessions_and_a_closing_summary_converge_from_three_devices() {
    let server = ServerProcess::start().unwrap();
    let mut devices = team_of(&server, &["amara", "ben", "fran"]).await;
    let group = devices[0]
        .store
        .create_group("Carers together", Utc::now())
        .unwrap();
    sync_all(&mut devices).await;

    // Offline, each facilitator adds two members to the group.
    for (n, device) in devices.iter_mut().enumerate() {
        for member in 0..2 {
            let id = doorstep_shared::ItemId::random();
            let edits = [
                Edit::AddEntry {
                    list: "members".into(),
                    id,
                    after: None,
                },
                Edit::set_in(
                    "members",
                    id,
                    "name",
                    FieldValue::Text(format!("member {n}.{member}")),
                ),
            ];
            device.store.edit_all(group, &edits, Utc::now()).unwrap();
        }
    }
    sync_all(&mut devices).await;
    let profiles: Vec<_> = devices
        .iter_mut()
        .map(|device| device.store.case(group).unwrap().group.unwrap())
        .collect();
    assert_eq!(profiles[0].members.len(), 6);
    assert!(profiles.iter().all(|profile| *profile == profiles[0]));

    // One session, and each device marks two of its lines at once.
    let session = devices[0]
        .store
        .start_session(group, doorstep_tests::just_visited(), Utc::now())
        .unwrap();
    sync_all(&mut devices).await;
    let lines = match body(&mut devices[0], session) {
        RecordBody::GroupSession(body) => body.members,
        _ => panic!("not a session"),
    };
    assert_eq!(lines.len(), 6, "a line per member");
    for (n, device) in devices.iter_mut().enumerate() {
        for line in lines.iter().skip(n * 2).take(2) {
            let mark = Edit::set_in(
                "members",
                line.id,
                "attendance",
                FieldValue::Text("present".into()),
            );
            device.store.edit(session, &mark, Utc::now()).unwrap();
        }
    }
    sync_all(&mut devices).await;
    let first = body(&mut devices[0], session);
    for device in devices.iter_mut().skip(1) {
        assert_eq!(body(device, session), first);
    }
    let RecordBody::GroupSession(marked) = first else {
        panic!("not a session");
    };
    assert!(
        marked
            .members
            .iter()
            .all(|line| line.attendance == Some(Attendance::Present))
    );

    // A closing summary written on two devices at once keeps both people's words.
    let case = devices[0]
        .store
        .create_case("Closing client", Utc::now())
        .unwrap();
    let summary = devices[0]
        .store
        .create_record(
            case,
            RecordKind::ClosingSummary,
            Occurrence::default(),
            Utc::now(),
        )
        .unwrap();
    sync_all(&mut devices).await;
    devices[0]
        .store
        .edit(summary, &Edit::text("reason", "Goals met."), Utc::now())
        .unwrap();
    devices[1]
        .store
        .edit(
            summary,
            &Edit::text("services_referred", "Befriending service."),
            Utc::now(),
        )
        .unwrap();
    sync_all(&mut devices).await;
    let first = body(&mut devices[0], summary);
    for device in devices.iter_mut().skip(1) {
        assert_eq!(body(device, summary), first);
    }
    let RecordBody::ClosingSummary(written) = first else {
        panic!("not a closing summary");
    };
    assert_eq!(
        (written.reason.as_str(), written.services_referred.as_str()),
        ("Goals met.", "Befriending service.")
    );
}
