//! A modified client with a real token against the real server binary: every change the
//! rules of DESIGN §10 forbid, built with the `shared` crate as an attacker would, is refused
//! with its documented code, nothing of it is stored, the honest pushes sent beside it are
//! stored, and the record's own team goes on syncing. Then honest devices in every way a
//! worker uses them: none of them is ever refused.
//!
//! On the embedded database, and on PostgreSQL when `DOORSTEP_TEST_POSTGRES_URL` is set
//! (`scripts/test` sets it).

use std::sync::atomic::{AtomicUsize, Ordering};

use automerge::transaction::Transactable;
use automerge::{ActorId, ROOT, ReadDoc};
use chrono::Utc;
use doorstep_shared::document::{Document, Edit, Occurrence, Writer};
use doorstep_shared::model::{RecordKind, TeamRole};
use doorstep_shared::sync::protocol::{
    self, CONTENT_TYPE, DocChanges, Heads, Push, Refusal, SyncRequest, SyncResponse,
};
use doorstep_shared::{CaseId, DocId, RecordId, UserId};
use doorstep_tests::forge::change_of_operations;
use doorstep_tests::{Device, ServerProcess, fresh_postgres_database};

/// The team of the story, and another team.
async fn devices(server: &ServerProcess) -> Team {
    server
        .team(
            "north",
            &[
                ("amara", "worker"),
                ("ben", "colleague"),
                ("grace", "supervisor"),
                ("hana", "supervisor"),
            ],
        )
        .unwrap();
    server.team("south", &[("zed", "worker")]).unwrap();
    let mut team = Team {
        amara: Device::sign_in(server, "amara").await.unwrap(),
        ben: Device::sign_in(server, "ben").await.unwrap(),
        grace: Device::sign_in(server, "grace").await.unwrap(),
        hana: Device::sign_in(server, "hana").await.unwrap(),
        zed: Device::sign_in(server, "zed").await.unwrap(),
        url: server.url(),
    };
    for device in team.all() {
        device.sync().await.unwrap();
    }
    team
}

struct Team {
    amara: Device,
    ben: Device,
    grace: Device,
    hana: Device,
    zed: Device,
    url: String,
}

impl Team {
    fn all(&mut self) -> [&mut Device; 5] {
        [
            &mut self.amara,
            &mut self.ben,
            &mut self.grace,
            &mut self.hana,
            &mut self.zed,
        ]
    }
}

/// A copy of a document as the device holds it, to forge changes on.
fn copy(device: &mut Device, doc: impl Into<DocId>) -> Document {
    Document::load(&device.store.export(doc.into()).unwrap(), &[]).unwrap()
}

/// What `forged` holds beyond `base`, as a push.
fn push_of(forged: &mut Document, base: &[automerge::ChangeHash], case: CaseId) -> Push {
    Push {
        changes: DocChanges {
            doc: forged.doc_id().unwrap(),
            case_id: case,
            changes: forged.changes_after(base),
        },
        heads: Heads::from_hashes(&forged.heads()),
    }
}

/// How many changes a document has on a device.
fn changes_of(device: &mut Device, doc: impl Into<DocId>) -> usize {
    device.store.history(doc.into()).unwrap().len()
}

/// Sends `forged` with the attacker's real token, beside an honest edit of the attacker's
/// own (to `honest`, a record they may write), and checks that exactly the forged push is
/// refused, with nothing of it stored, and the honest one stored. Returns the refusal.
async fn refused(
    team: &mut Team,
    attacker: &str,
    forged: Push,
    honest: RecordId,
    watcher: &str,
) -> Refusal {
    let forged_doc = forged.changes.doc;
    let watched_before = {
        let watcher = device(team, watcher);
        watcher.sync().await.unwrap();
        watcher.store.export(forged_doc).ok()
    };
    static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);
    let words = format!(
        "Honest words from {attacker}, {}.",
        ATTEMPTS.fetch_add(1, Ordering::Relaxed)
    );
    let attacking = device(team, attacker);
    attacking.sync().await.unwrap();
    attacking
        .store
        .edit(honest, &Edit::text("plan", &words), Utc::now())
        .unwrap();
    let mut pushes = attacking.store.pending_pushes().unwrap();
    assert!(!pushes.is_empty());
    let honest_docs: Vec<DocId> = pushes.iter().map(|push| push.changes.doc).collect();
    pushes.push(forged);
    let request = SyncRequest {
        cursor: attacking.store.sync_cursor().unwrap(),
        pushes,
    };
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/sync", team.url))
        .bearer_auth(device(team, attacker).client.token().unwrap())
        .header("content-type", CONTENT_TYPE)
        .body(protocol::encode(&request))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "a refusal is per document");
    let response: SyncResponse = protocol::decode(&answer.bytes().await.unwrap()).unwrap();
    assert_eq!(response.refused.len(), 1, "{:?}", response.refused);
    let refusal = response.refused[0].clone();
    assert_eq!(refusal.doc, forged_doc);
    let acked: Vec<DocId> = response.acks.iter().map(|ack| ack.doc).collect();
    assert_eq!(acked, honest_docs, "the honest pushes beside it are stored");
    // The device goes on: it applies the answer as the app does.
    let attacking = device(team, attacker);
    attacking
        .store
        .apply_sync_response(&response, Utc::now())
        .unwrap();
    assert!(attacking.store.pending_pushes().unwrap().is_empty());

    // Nothing of the forged push is stored: a team member's device finds the document as
    // it was, and the honest edit beside it.
    let watcher = device(team, watcher);
    watcher.sync().await.unwrap();
    assert_eq!(
        watcher.store.export(forged_doc).ok(),
        watched_before,
        "{}: nothing stored",
        refusal.code
    );
    if watcher.store.record(honest).is_ok() {
        assert_eq!(watcher.plan(honest).unwrap(), words);
    }
    refusal
}

fn device<'a>(team: &'a mut Team, name: &str) -> &'a mut Device {
    match name {
        "amara" => &mut team.amara,
        "ben" => &mut team.ben,
        "grace" => &mut team.grace,
        "hana" => &mut team.hana,
        "zed" => &mut team.zed,
        other => panic!("no device for {other}"),
    }
}

/// Every forbidden change, and the honest work around it.
async fn modified_clients_get_nothing(server: &ServerProcess) {
    let mut team = devices(server).await;
    let now = Utc::now;

    // Amara's case: two case notes anyone on the team may write (one the attacks aim at,
    // one for the honest edits sent beside them), and her home visit, which grace co-writes
    // before amara submits it.
    let (case, visit) = team
        .amara
        .case_with_visit("North client", "Visit.")
        .unwrap();
    let scratch = team
        .amara
        .record_with_plan(case, RecordKind::CaseNote, "Notes.")
        .unwrap();
    let notes = team
        .amara
        .record_with_plan(case, RecordKind::CaseNote, "Team notes.")
        .unwrap();
    team.amara.sync().await.unwrap();
    for name in ["ben", "grace", "hana"] {
        device(&mut team, name).sync().await.unwrap();
    }
    team.grace
        .store
        .edit(
            visit,
            &Edit::text("plan", "Visit. Chase the landlord."),
            now(),
        )
        .unwrap();
    team.grace.sync().await.unwrap();
    team.amara.sync().await.unwrap();
    team.amara.store.submit(visit, now()).unwrap();
    team.amara.sync().await.unwrap();
    team.ben.sync().await.unwrap();
    team.grace.sync().await.unwrap();
    let submitted = copy(&mut team.ben, visit).heads();

    // A colleague approves and signs.
    let mut forged = copy(&mut team.ben, visit);
    forged
        .finalise(&Writer::new_device("ben".parse().unwrap()), now())
        .unwrap();
    let refusal = refused(
        &mut team,
        "ben",
        push_of(&mut forged, &submitted, case),
        notes,
        "hana",
    )
    .await;
    assert_eq!(refusal.code, "not_a_supervisor");
    assert!(
        !refusal.server_copy.is_empty(),
        "ben may read the record: he gets the server's copy back"
    );

    // A supervisor signs a record she wrote part of.
    let mut forged = copy(&mut team.grace, visit);
    forged
        .finalise(&Writer::new_device("grace".parse().unwrap()), now())
        .unwrap();
    let refusal = refused(
        &mut team,
        "grace",
        push_of(&mut forged, &submitted, case),
        notes,
        "hana",
    )
    .await;
    assert_eq!(refusal.code, "own_record");

    // A client signed in as ben writes grace's name on a change, and on a sign-off.
    let as_grace = Writer::new_device("grace".parse().unwrap());
    let mut forged = copy(&mut team.ben, scratch);
    let base = forged.heads();
    forged
        .edit(&as_grace, &Edit::text("plan", "Close the case."), now())
        .unwrap();
    let refusal = refused(
        &mut team,
        "ben",
        push_of(&mut forged, &base, case),
        notes,
        "hana",
    )
    .await;
    assert_eq!(refusal.code, "forged_author");
    let mut forged = copy(&mut team.ben, visit);
    forged.finalise(&as_grace, now()).unwrap();
    let refusal = refused(
        &mut team,
        "ben",
        push_of(&mut forged, &submitted, case),
        notes,
        "hana",
    )
    .await;
    assert_eq!(refusal.code, "forged_author");
    // ... or writes with grace's own actor id, read from the record, under his own name.
    let graces_actor = actor_of(&mut copy(&mut team.ben, visit), "grace");
    let mut forged = copy(&mut team.ben, scratch);
    let base = forged.heads();
    let stolen = Writer {
        user: "ben".parse().unwrap(),
        actor: graces_actor,
    };
    forged
        .edit(
            &stolen,
            &Edit::text("plan", "Notes. Nothing to add."),
            now(),
        )
        .unwrap();
    let refusal = refused(
        &mut team,
        "ben",
        push_of(&mut forged, &base, case),
        notes,
        "hana",
    )
    .await;
    assert_eq!(refusal.code, "forged_author");

    // Another team pushes a change naming its own case, for a record it never had.
    let (south_case, south_visit) = team.zed.case_with_visit("South client", "Visit.").unwrap();
    team.zed.sync().await.unwrap();
    let zeds = Writer::new_device("zed".parse().unwrap());
    let mut forged = Document::new_record(
        &zeds,
        visit,
        south_case,
        RecordKind::HomeVisit,
        Occurrence::default(),
        now(),
    )
    .unwrap();
    let refusal = refused(
        &mut team,
        "zed",
        push_of(&mut forged, &[], south_case),
        south_visit,
        "hana",
    )
    .await;
    assert_eq!(refusal.code, "wrong_case");
    assert!(
        refusal.server_copy.is_empty(),
        "zed gets nothing of another team's record"
    );
    // ... or names the record's own case.
    let mut forged = Document::new_record(
        &zeds,
        visit,
        case,
        RecordKind::HomeVisit,
        Occurrence::default(),
        now(),
    )
    .unwrap();
    let refusal = refused(
        &mut team,
        "zed",
        push_of(&mut forged, &[], case),
        south_visit,
        "hana",
    )
    .await;
    assert_eq!(refusal.code, "forbidden");
    assert!(refusal.server_copy.is_empty());

    // Hana, who wrote none of it, approves and signs: accepted.
    team.hana.sync().await.unwrap();
    team.hana.store.finalise(visit, now()).unwrap();
    let report = team.hana.sync().await.unwrap();
    assert_eq!(report.refused, 0);
    team.amara.sync().await.unwrap();
    let signed = copy(&mut team.amara, visit).heads();

    // An edit to the signed record, made after seeing the sign-off.
    let mut forged = copy(&mut team.amara, visit);
    let amaras = Writer {
        user: "amara".parse().unwrap(),
        actor: actor_of(&mut forged, "amara"),
    };
    forged_body_edit(&mut forged, &amaras, "place", "Somewhere else");
    let refusal = refused(
        &mut team,
        "amara",
        push_of(&mut forged, &signed, case),
        notes,
        "ben",
    )
    .await;
    assert_eq!(refusal.code, "record_signed");
    // Addenda are still added.
    team.amara
        .store
        .add_addendum(visit, "Correction", "The son was there too.", now())
        .unwrap();
    assert_eq!(team.amara.sync().await.unwrap().refused, 0);

    // A compression bomb: a few kilobytes that inflate to 8 MiB.
    let mut forged = copy(&mut team.amara, scratch);
    let base = forged.heads();
    let doc = forged.automerge();
    doc.set_actor(ActorId::random());
    let (_, authors) = doc.get(ROOT, "authors").unwrap().unwrap();
    let actor = doc.get_actor().to_hex_string();
    doc.put(&authors, actor, "amara").unwrap();
    let (_, body) = doc.get(ROOT, "body").unwrap().unwrap();
    doc.put(&body, "plan_extra", "a".repeat(8 * 1024 * 1024))
        .unwrap();
    doc.commit();
    let mut bomb = doc.get_changes(&base).pop().unwrap();
    let compressed = bomb.bytes().into_owned();
    assert!(compressed.len() < 64 * 1024, "{} bytes", compressed.len());
    let push = Push {
        changes: DocChanges {
            doc: DocId::Record(scratch),
            case_id: case,
            changes: compressed,
        },
        heads: Heads::from_hashes(&[bomb.hash()]),
    };
    let refusal = refused(&mut team, "amara", push, notes, "ben").await;
    assert_eq!(refusal.code, "too_large");

    // Five million operations in one change of a few dozen bytes.
    let mut scratch_copy = copy(&mut team.amara, scratch);
    let base = scratch_copy.heads();
    let start_op = scratch_copy
        .automerge()
        .get_changes(&[])
        .iter()
        .map(automerge::Change::max_op)
        .max()
        .unwrap()
        + 1;
    let many = change_of_operations(&ActorId::random(), 1, start_op, &base, 5_000_000);
    assert!(many.len() < 200);
    let push = Push {
        changes: DocChanges {
            doc: DocId::Record(scratch),
            case_id: case,
            changes: many,
        },
        heads: Heads::default(),
    };
    let refusal = refused(&mut team, "amara", push, notes, "ben").await;
    assert_eq!(refusal.code, "too_large");

    // A change Automerge itself cannot apply (the second change of a writer the record has
    // never seen), which makes Automerge assert: refused like any other, and the syncs
    // around it go on.
    let mut copy = copy(&mut team.amara, scratch);
    let base = copy.heads();
    copy.edit(
        &Writer::new_device("amara".parse().unwrap()),
        &Edit::text("plan", "Notes. More notes."),
        now(),
    )
    .unwrap();
    let mut expanded = copy.automerge().get_changes(&base).pop().unwrap().decode();
    expanded.actor_id = ActorId::random();
    expanded.seq = 2;
    expanded.hash = None;
    let broken = automerge::Change::from(expanded);
    let push = Push {
        changes: DocChanges {
            doc: DocId::Record(scratch),
            case_id: case,
            changes: broken.raw_bytes().to_vec(),
        },
        heads: Heads::from_hashes(&[broken.hash()]),
    };
    let refusal = refused(&mut team, "amara", push, notes, "ben").await;
    assert_eq!(refusal.code, "invalid_changes");

    // The team still syncs, and nobody honest was refused.
    for name in ["amara", "ben", "grace", "hana"] {
        let report = device(&mut team, name).sync().await.unwrap();
        assert_eq!(report.refused, 0, "{name}");
    }
    assert_eq!(
        changes_of(&mut team.ben, visit),
        changes_of(&mut team.grace, visit)
    );
}

/// The actor id `user` wrote the document with.
fn actor_of(document: &mut Document, user: &str) -> ActorId {
    document
        .authors()
        .unwrap()
        .into_iter()
        .find(|(_, author)| author.as_str() == user)
        .map(|(actor, _)| actor.parse::<ActorId>().unwrap())
        .unwrap()
}

/// An edit of a body field the document layer itself would refuse (the record is signed),
/// made on the raw document.
fn forged_body_edit(document: &mut Document, writer: &Writer, field: &str, value: &str) {
    let doc = document.automerge();
    doc.set_actor(writer.actor.clone());
    let (_, body) = doc.get(ROOT, "body").unwrap().unwrap();
    doc.put(&body, field, value).unwrap();
    doc.commit();
}

/// Honest devices never trip a rule: several devices, one user on two devices, and another
/// user signing in on a device someone else used.
async fn honest_devices_are_never_refused(server: &ServerProcess) {
    server
        .team(
            "east",
            &[
                ("ines", "worker"),
                ("jon", "colleague"),
                ("kay", "supervisor"),
            ],
        )
        .unwrap();
    let mut phone = Device::sign_in(server, "ines").await.unwrap();
    let mut tablet = Device::sign_in(server, "ines").await.unwrap();
    let mut kay = Device::sign_in(server, "kay").await.unwrap();
    let (case, visit) = phone.case_with_visit("East client", "Visit.").unwrap();
    assert_eq!(phone.sync().await.unwrap().refused, 0);
    tablet.sync().await.unwrap();
    // The same paragraph on both of her devices, offline.
    phone
        .store
        .edit(
            visit,
            &Edit::text("plan", "Visit. Call the GP."),
            Utc::now(),
        )
        .unwrap();
    tablet
        .store
        .edit(visit, &Edit::text("plan", "Visit on Friday."), Utc::now())
        .unwrap();
    assert_eq!(phone.sync().await.unwrap().refused, 0);
    assert_eq!(tablet.sync().await.unwrap().refused, 0);
    phone.sync().await.unwrap();
    assert_eq!(phone.plan(visit).unwrap(), tablet.plan(visit).unwrap());

    // Jon signs in on her tablet after she signs out of it, and co-writes the visit.
    tablet.store.sign_in("jon".parse().unwrap()).unwrap();
    tablet
        .client
        .sign_in("jon", "password-jon", "shared tablet")
        .await
        .unwrap();
    tablet
        .store
        .edit(
            visit,
            &Edit::text("interventions", "Gave the fuel-bank number."),
            Utc::now(),
        )
        .unwrap();
    assert_eq!(tablet.sync().await.unwrap().refused, 0);

    // The review cycle, honestly: submitted, returned, resubmitted, signed, amended.
    phone.sync().await.unwrap();
    phone.store.submit(visit, Utc::now()).unwrap();
    assert_eq!(phone.sync().await.unwrap().refused, 0);
    kay.sync().await.unwrap();
    kay.store
        .comment(visit, "Who else was there?", Utc::now())
        .unwrap();
    kay.store
        .return_to_author(visit, "Add who was there.", Utc::now())
        .unwrap();
    assert_eq!(kay.sync().await.unwrap().refused, 0);
    phone.sync().await.unwrap();
    phone
        .store
        .edit(
            visit,
            &Edit::text("people_present", "Client and son."),
            Utc::now(),
        )
        .unwrap();
    phone.store.submit(visit, Utc::now()).unwrap();
    assert_eq!(phone.sync().await.unwrap().refused, 0);
    kay.sync().await.unwrap();
    kay.store.finalise(visit, Utc::now()).unwrap();
    assert_eq!(kay.sync().await.unwrap().refused, 0);
    tablet.sync().await.unwrap();
    tablet
        .store
        .add_addendum(
            visit,
            "Late information",
            "The son left at noon.",
            Utc::now(),
        )
        .unwrap();
    assert_eq!(tablet.sync().await.unwrap().refused, 0);

    // The server's word on who wrote what: the history names each writer, and the team.
    phone.sync().await.unwrap();
    let writers: std::collections::BTreeSet<String> = phone
        .store
        .history(visit)
        .unwrap()
        .into_iter()
        .filter_map(|entry| entry.user.map(String::from))
        .collect();
    assert_eq!(
        writers.into_iter().collect::<Vec<_>>(),
        ["ines", "jon", "kay"]
    );
    let case = phone.store.case(case).unwrap();
    assert_eq!(case.team.get(&user("kay")), Some(&TeamRole::Supervisor));
}

fn user(name: &str) -> UserId {
    name.parse().unwrap()
}

#[tokio::test]
async fn modified_clients_get_nothing_on_sqlite() {
    let server = ServerProcess::start().unwrap();
    modified_clients_get_nothing(&server).await;
    honest_devices_are_never_refused(&server).await;
}

#[tokio::test]
async fn modified_clients_get_nothing_on_postgres() {
    let Ok(url) = std::env::var("DOORSTEP_TEST_POSTGRES_URL") else {
        eprintln!("skipped: DOORSTEP_TEST_POSTGRES_URL is not set (scripts/test sets it)");
        return;
    };
    let database = fresh_postgres_database(&url).unwrap();
    let server = ServerProcess::start_on_postgres(&database).unwrap();
    modified_clients_get_nothing(&server).await;
    honest_devices_are_never_refused(&server).await;
}
