//! The backend-conformance story: what every storage backend must do, told with real
//! device stores on both ends. Each backend's tests run it against a fresh database.

use chrono::Utc;
use doorstep_shared::document::{Document, Edit, Occurrence};
use doorstep_shared::model::{RecordBody, RecordKind};
use doorstep_shared::store::{Passphrase, Store};
use doorstep_shared::sync::server::LogPosition;
use doorstep_shared::{CaseId, DocId, UserId};
use tempfile::TempDir;

use super::{Credentials, Device, Storage, StorageError, TeamRole};

struct Phone {
    _dir: TempDir,
    store: Store,
    device: Device,
    token_hash: Vec<u8>,
}

fn user(name: &str) -> UserId {
    name.parse().unwrap()
}

fn phone(storage: &dyn Storage, name: &str) -> Phone {
    let dir = TempDir::new().unwrap();
    let mut store = Store::open(dir.path().join("phone.db"), &Passphrase::new("pass")).unwrap();
    store.sign_in(user(name)).unwrap();
    let token_hash = format!("token of {name} {}", uuid::Uuid::new_v4()).into_bytes();
    let id = storage
        .create_device(&user(name), "phone", &token_hash)
        .unwrap();
    let device = storage.device_by_token(&token_hash).unwrap().unwrap();
    assert_eq!(
        (device.id.as_str(), device.user.as_str()),
        (id.as_str(), name)
    );
    Phone {
        _dir: dir,
        store,
        device,
        token_hash,
    }
}

/// One full sync, as the client runs it: rounds until nothing more comes or goes.
/// A deadline no test reaches.
pub fn far_off() -> std::time::Instant {
    std::time::Instant::now() + std::time::Duration::from_secs(3600)
}

fn sync(storage: &dyn Storage, phone: &mut Phone) -> Result<usize, StorageError> {
    let mut rounds = 0;
    loop {
        rounds += 1;
        let pushes = phone.store.pending_pushes().unwrap();
        let cursor = phone.store.sync_cursor().unwrap();
        let response = storage.sync(
            &phone.device,
            pushes,
            LogPosition::from_cursor(&cursor).unwrap(),
            far_off(),
        )?;
        phone
            .store
            .apply_sync_response(&response, Utc::now())
            .unwrap();
        if !response.more {
            return Ok(rounds);
        }
    }
}

fn plan(store: &mut Store, record: doorstep_shared::RecordId) -> String {
    match store.record(record).unwrap().body {
        RecordBody::HomeVisit(visit) => visit.plan,
        other => panic!("expected a home visit, got {other:?}"),
    }
}

fn case_ids(store: &Store) -> Vec<CaseId> {
    store
        .caseload(Utc::now())
        .unwrap()
        .iter()
        .map(|case| case.id)
        .collect()
}

/// A new case with a home-visit note whose plan is `plan`, written offline on `phone`.
fn new_visit_note(phone: &mut Phone, plan: &str) -> (CaseId, doorstep_shared::RecordId) {
    let case = phone.store.create_case("Mrs Example", Utc::now()).unwrap();
    let record = phone
        .store
        .create_record(
            case,
            RecordKind::HomeVisit,
            Occurrence::default(),
            Utc::now(),
        )
        .unwrap();
    phone
        .store
        .edit(record, &Edit::text("plan", plan), Utc::now())
        .unwrap();
    (case, record)
}

/// Runs the story against `storage`, which must be empty.
pub fn story(storage: &dyn Storage) {
    for name in ["amara", "ben", "grace", "zed"] {
        storage.create_user(&user(name), "hash").unwrap();
    }
    assert!(matches!(
        storage.create_user(&user("amara"), "x"),
        Err(StorageError::Exists(_))
    ));

    // Failed sign-ins count until a success or a new password.
    let credentials = |name: &str| storage.credentials(&user(name)).unwrap();
    assert_eq!(
        credentials("amara"),
        Some(Credentials {
            password_hash: "hash".into(),
            failed_sign_ins: 0
        })
    );
    assert_eq!(storage.sign_in_failed(&user("amara")).unwrap(), 1);
    assert_eq!(storage.sign_in_failed(&user("amara")).unwrap(), 2);
    storage.sign_in_succeeded(&user("amara")).unwrap();
    assert_eq!(credentials("amara").unwrap().failed_sign_ins, 0);
    assert_eq!(storage.sign_in_failed(&user("amara")).unwrap(), 1);
    storage.set_password(&user("amara"), "new hash").unwrap();
    assert_eq!(
        credentials("amara"),
        Some(Credentials {
            password_hash: "new hash".into(),
            failed_sign_ins: 0
        })
    );
    assert_eq!(credentials("nobody"), None);
    assert_eq!(storage.sign_in_failed(&user("nobody")).unwrap(), 0);
    storage.create_team("north").unwrap();
    storage.create_team("south").unwrap();
    storage
        .add_member("north", &user("amara"), TeamRole::Worker)
        .unwrap();
    storage
        .add_member("north", &user("grace"), TeamRole::Supervisor)
        .unwrap();
    storage
        .add_member("south", &user("zed"), TeamRole::Worker)
        .unwrap();

    let mut amara = phone(storage, "amara");
    let mut grace = phone(storage, "grace");
    let mut ben = phone(storage, "ben");
    let mut zed = phone(storage, "zed");

    // Amara opens a case offline and writes a note; her sync creates it on the server.
    let (case, record) = new_visit_note(&mut amara, "Visit Tuesday.");
    sync(storage, &mut amara).unwrap();
    assert!(
        amara.store.pending_pushes().unwrap().is_empty(),
        "all acknowledged"
    );

    // Her supervisor gets it; another team does not, and cannot write to it.
    sync(storage, &mut grace).unwrap();
    assert_eq!(plan(&mut grace.store, record), "Visit Tuesday.");
    sync(storage, &mut zed).unwrap();
    assert!(case_ids(&zed.store).is_empty());
    let stolen = amara_pushes_for(&mut amara, case, record);
    assert!(matches!(
        storage.push(&zed.device, &stolen),
        Err(StorageError::Refused(refusal)) if refusal.code == "forbidden"
    ));

    // Both edit the same paragraph offline; after syncing, both have both sentences.
    amara
        .store
        .edit(
            record,
            &Edit::text("plan", "Visit Tuesday. Bring forms."),
            Utc::now(),
        )
        .unwrap();
    grace
        .store
        .edit(
            record,
            &Edit::text("plan", "Urgent: Visit Tuesday."),
            Utc::now(),
        )
        .unwrap();
    sync(storage, &mut amara).unwrap();
    sync(storage, &mut grace).unwrap();
    sync(storage, &mut amara).unwrap();
    let merged = plan(&mut amara.store, record);
    assert_eq!(merged, plan(&mut grace.store, record));
    assert!(
        merged.contains("Urgent: ") && merged.contains("Bring forms."),
        "{merged}"
    );

    // A push repeated (a lost response) stores nothing twice.
    let again = amara_pushes_for(&mut amara, case, record);
    storage.push(&amara.device, &again).unwrap();
    storage.push(&amara.device, &again).unwrap();
    let before = grace.store.history(record).unwrap().len();
    sync(storage, &mut grace).unwrap();
    assert_eq!(grace.store.history(record).unwrap().len(), before);

    // Compaction folds the record's log; a device that has nothing yet still gets it all,
    // and one that has it all gets nothing again.
    let mut late = phone(storage, "amara");
    assert!(storage.compact(2).unwrap() >= 1);
    assert_eq!(storage.compact(2).unwrap(), 0, "nothing left to fold");
    sync(storage, &mut late).unwrap();
    assert_eq!(plan(&mut late.store, record), merged);
    let before = grace.store.history(record).unwrap().len();
    sync(storage, &mut grace).unwrap();
    assert_eq!(grace.store.history(record).unwrap().len(), before);
    assert_eq!(plan(&mut grace.store, record), merged);

    // Ben has synced before; when he joins the team, his next sync brings the whole case.
    sync(storage, &mut ben).unwrap();
    assert!(case_ids(&ben.store).is_empty());
    storage
        .add_member("north", &user("ben"), TeamRole::Colleague)
        .unwrap();
    sync(storage, &mut ben).unwrap();
    assert_eq!(case_ids(&ben.store), [case]);
    assert_eq!(plan(&mut ben.store, record), merged);
    // The case's team is the server's word, written into the case by the server.
    let team = ben.store.case(case).unwrap().team;
    let roles: Vec<(&str, TeamRole)> = team
        .iter()
        .map(|(user, role)| (user.as_str(), *role))
        .collect();
    assert_eq!(
        roles,
        [
            ("amara", TeamRole::Worker),
            ("ben", TeamRole::Colleague),
            ("grace", TeamRole::Supervisor)
        ]
    );
    let joined = ben.store.team_changes(case).unwrap();
    assert!(joined.iter().any(|change| change.member == user("ben")
        && change.role == Some(TeamRole::Colleague)
        && change.by == Some(UserId::administrator())));
    let by_server = ben.store.history(DocId::Case(case)).unwrap();
    assert!(
        by_server
            .iter()
            .any(
                |entry| entry.user.as_ref().map(UserId::as_str) == Some(UserId::ADMINISTRATOR)
                    && entry.fields.contains(&"team/ben".to_owned())
            )
    );

    // Grace leaves the team: her device purges the case.
    storage.remove_member("north", &user("grace")).unwrap();
    sync(storage, &mut grace).unwrap();
    assert!(case_ids(&grace.store).is_empty());
    assert!(grace.store.search("forms", 5).unwrap().is_empty());

    // Moving the case to the south team moves who sees it.
    storage.assign_case(case, "south").unwrap();
    sync(storage, &mut zed).unwrap();
    sync(storage, &mut ben).unwrap();
    assert_eq!(case_ids(&zed.store), [case]);
    assert!(case_ids(&ben.store).is_empty());

    // A new record for a case the user may not read is refused, and nothing is stored.
    let bad = amara_pushes_for(&mut amara, case, record);
    assert!(matches!(
        storage.push(&amara.device, &bad),
        Err(StorageError::Refused(refusal)) if refusal.code == "forbidden"
    ));

    // Revocation, of a device found in the list.
    let zeds = storage.list_devices(Some(&user("zed"))).unwrap();
    assert_eq!(zeds.len(), 1);
    assert_eq!(
        (zeds[0].id.as_str(), zeds[0].name.as_str()),
        (zed.device.id.as_str(), "phone")
    );
    assert_eq!(zeds[0].revoked_at, None);
    storage.revoke_device(&zeds[0].id).unwrap();
    let revoked = storage.device_by_token(&zed.token_hash).unwrap().unwrap();
    assert!(revoked.revoked);
    assert!(storage.device_by_token(b"no such token").unwrap().is_none());
    let everyone = storage.list_devices(None).unwrap();
    for phone in [&amara, &grace, &ben, &zed] {
        assert!(everyone.iter().any(|device| device.id == phone.device.id));
    }
    assert!(
        everyone
            .iter()
            .all(|device| (device.user == user("zed")) == device.revoked_at.is_some())
    );

    // Epochs: every cursor carries the server's, and a restore draws a new one.
    let epoch = storage.epoch().unwrap();
    assert_ne!(epoch, 0);
    let cursor = LogPosition::from_cursor(&amara.store.sync_cursor().unwrap()).unwrap();
    assert_eq!(cursor.epoch, epoch);
    let restored = storage.mark_restored().unwrap();
    assert_ne!(restored, epoch);
    assert_eq!(storage.epoch().unwrap(), restored);
    assert!(cursor.is_from_before_restore(restored));
    let pulled = storage
        .sync(&amara.device, Vec::new(), LogPosition::default(), far_off())
        .unwrap();
    let new_cursor = LogPosition::from_cursor(&pulled.cursor).unwrap();
    assert_eq!(new_cursor.epoch, restored);

    let users = storage.list_users().unwrap();
    let amara_row = users
        .iter()
        .find(|row| row.user.as_str() == "amara")
        .unwrap();
    assert_eq!(amara_row.teams, ["north"]);
    assert_eq!(amara_row.active_devices, 2);
}

/// Everything Amara's store holds of the case, as pushes (acknowledged or not).
fn amara_pushes_for(
    amara: &mut Phone,
    case: CaseId,
    record: doorstep_shared::RecordId,
) -> Vec<doorstep_shared::sync::protocol::Push> {
    use doorstep_shared::sync::protocol::{DocChanges, Heads, Push};
    [DocId::Case(case), DocId::Record(record)]
        .into_iter()
        .map(|doc| Push {
            changes: DocChanges {
                doc,
                case_id: case,
                // Every change, as a device that forgot the server's acknowledgements sends.
                changes: Document::load(&amara.store.export(doc).unwrap(), &[])
                    .unwrap()
                    .changes_after(&[]),
            },
            heads: Heads::default(),
        })
        .collect()
}

/// Two server processes on one database (as PostgreSQL allows, and as an admin command
/// beside a running server does with SQLite), each keeping the documents its pushes checked:
/// a push through one must be checked against what the other wrote since, not against the
/// copy it kept. `first` and `second` must share one empty database.
pub fn two_servers(first: &dyn Storage, second: &dyn Storage) {
    for name in ["amara", "ben"] {
        first.create_user(&user(name), "hash").unwrap();
    }
    first.create_team("north").unwrap();
    for name in ["amara", "ben"] {
        first
            .add_member("north", &user(name), TeamRole::Worker)
            .unwrap();
    }
    let mut amara = phone(first, "amara");
    let mut ben = phone(second, "ben");

    // Amara's note reaches the server through the first process, which keeps it.
    let (_, record) = new_visit_note(&mut amara, "Visit Tuesday.");
    sync(first, &mut amara).unwrap();

    // Ben adds to it through the second process.
    sync(second, &mut ben).unwrap();
    ben.store
        .edit(
            record,
            &Edit::text("plan", "Visit Tuesday. Bring forms."),
            Utc::now(),
        )
        .unwrap();
    sync(second, &mut ben).unwrap();

    // Amara gets Ben's words and writes after them, through the first process: her change
    // builds on Ben's, which the first process's kept copy lacks.
    sync(first, &mut amara).unwrap();
    amara
        .store
        .edit(
            record,
            &Edit::text("plan", "Visit Tuesday. Bring forms. Call first."),
            Utc::now(),
        )
        .unwrap();
    sync(first, &mut amara).expect("a push that builds on another process's write");
    assert!(amara.store.pending_pushes().unwrap().is_empty());
    sync(second, &mut ben).unwrap();
    assert_eq!(
        plan(&mut ben.store, record),
        "Visit Tuesday. Bring forms. Call first."
    );
}

/// The attachments story: what every backend does with blobs. `storage` must be empty.
pub fn blob_story(storage: &dyn Storage) {
    use super::BlobAppend;
    use doorstep_shared::attachments::{AttachmentDraft, AttachmentKind, BlobHash, Erasure};

    for name in ["amara", "zed"] {
        storage.create_user(&user(name), "hash").unwrap();
    }
    storage.create_team("north").unwrap();
    storage.create_team("south").unwrap();
    storage
        .add_member("north", &user("amara"), TeamRole::Worker)
        .unwrap();
    storage
        .add_member("south", &user("zed"), TeamRole::Worker)
        .unwrap();
    let mut amara = phone(storage, "amara");
    let zed = phone(storage, "zed");
    let (_, record) = new_visit_note(&mut amara, "Fix the heater");
    let bytes: Vec<u8> = (0..70_000u32).map(|n| (n * 7 % 256) as u8).collect();
    let draft = AttachmentDraft {
        kind: AttachmentKind::Photo,
        media_type: "image/jpeg".into(),
        dimensions: Some((10, 10)),
        caption: String::new(),
        signs: None,
    };
    let hash = amara
        .store
        .attach(record, &bytes, &draft, Utc::now())
        .unwrap()
        .hash;
    assert_eq!(storage.blob_named_for(&hash, &user("amara")).unwrap(), None);
    sync(storage, &mut amara).unwrap();

    // Named for the case's team only, with the media type the record gives it.
    assert_eq!(
        storage.blob_named_for(&hash, &user("amara")).unwrap(),
        Some("image/jpeg".to_owned())
    );
    assert_eq!(storage.blob_named_for(&hash, &user("zed")).unwrap(), None);
    drop(zed);

    // In pieces, resumed, checked, stored once.
    let size = bytes.len() as u64;
    assert_eq!(storage.blob_info(&hash).unwrap(), None);
    let append = |offset: usize, end: usize| {
        storage
            .blob_append(
                &hash,
                "image/jpeg",
                size,
                offset as u64,
                &bytes[offset..end],
            )
            .unwrap()
    };
    assert_eq!(append(0, 30_000), BlobAppend::Stored(30_000));
    assert_eq!(append(0, 10), BlobAppend::WrongOffset(30_000));
    assert_eq!(
        storage
            .blob_append(&hash, "image/jpeg", size + 1, 30_000, &bytes[30_000..])
            .unwrap(),
        BlobAppend::WrongSize
    );
    let info = storage.blob_info(&hash).unwrap().unwrap();
    assert_eq!(
        (info.size, info.received, info.is_whole()),
        (size, 30_000, false)
    );
    assert_eq!(append(30_000, 70_000), BlobAppend::Whole);
    assert_eq!(append(0, 70_000), BlobAppend::Whole);
    assert!(storage.blob_info(&hash).unwrap().unwrap().is_whole());
    assert_eq!(
        storage.blob_read(&hash, 69_990, 100).unwrap(),
        bytes[69_990..]
    );
    assert_eq!(storage.blob_read(&hash, 0, 70_000).unwrap(), bytes);

    // Bytes under another blob's name are thrown away.
    let forged = BlobHash::of(b"another photo");
    assert_eq!(
        storage
            .blob_append(&forged, "image/jpeg", size, 0, &bytes)
            .unwrap(),
        BlobAppend::Mismatch
    );
    assert_eq!(storage.blob_info(&forged).unwrap(), None);

    // Erased: the bytes go, the record gains its tombstone as the server's change.
    let erasure = Erasure {
        at: Utc::now(),
        by: "omar".into(),
        reason: "taken by mistake".into(),
    };
    assert_eq!(storage.erase_blob(&hash, &erasure).unwrap(), 1);
    let info = storage.blob_info(&hash).unwrap().unwrap();
    assert_eq!(info.erased.as_ref().map(|e| e.by.as_str()), Some("omar"));
    assert_eq!(append(0, 70_000), BlobAppend::Erased);
    sync(storage, &mut amara).unwrap();
    let attachment = amara.store.record(record).unwrap().attachments.remove(0);
    assert_eq!(
        attachment.erased.map(|erasure| erasure.reason),
        Some("taken by mistake".to_owned())
    );
    assert!(amara.store.blob(hash).unwrap().is_none());

    // A blob no record names any longer is collected once its grace is over, not before.
    let second = amara
        .store
        .attach(record, b"a second photo", &draft, Utc::now())
        .unwrap();
    sync(storage, &mut amara).unwrap();
    let second_size = b"a second photo".len() as u64;
    storage
        .blob_append(
            &second.hash,
            "image/jpeg",
            second_size,
            0,
            b"a second photo",
        )
        .unwrap();
    amara.store.detach(record, second.id, Utc::now()).unwrap();
    sync(storage, &mut amara).unwrap();
    let now = Utc::now();
    let day = chrono::Duration::days(1);
    assert_eq!(storage.collect_blobs(now, day).unwrap(), 0);
    assert!(storage.blob_info(&second.hash).unwrap().is_some());
    assert_eq!(storage.collect_blobs(now + day * 2, day).unwrap(), 1);
    assert_eq!(storage.blob_info(&second.hash).unwrap(), None);
    assert!(
        storage.blob_info(&hash).unwrap().is_some(),
        "an erased blob's tombstone stays"
    );
}
