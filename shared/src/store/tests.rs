use chrono::TimeZone;
use tempfile::TempDir;

use super::*;
use crate::document::FieldValue;
use crate::model::{RecordBody, RecordStatus};

fn at(hour: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap() + Duration::hours(hour)
}

fn passphrase() -> Passphrase {
    Passphrase::new("kettle-harbour-violet-42")
}

fn open_signed_in(dir: &TempDir, user: &str) -> Store {
    let mut store = Store::open(dir.path().join("doorstep.db"), &passphrase()).unwrap();
    store.sign_in(user.parse().unwrap()).unwrap();
    store
}

fn visit(store: &mut Store, case: CaseId, start_hour: i64) -> RecordId {
    let occurred = Occurrence {
        start: Some(at(start_hour)),
        end: Some(at(start_hour + 1)),
    };
    store
        .create_record(case, RecordKind::HomeVisit, occurred, at(start_hour + 1))
        .unwrap()
}

#[test]
fn every_edit_is_there_after_reopening() {
    let dir = TempDir::new().unwrap();
    let (case, record) = {
        let mut store = open_signed_in(&dir, "amara");
        let case = store.create_case("Mrs A. Example", at(0)).unwrap();
        let record = visit(&mut store, case, 1);
        store
            .edit(
                record,
                &Edit::text("observed_client", "Tearful at first."),
                at(2),
            )
            .unwrap();
        store
            .edit(
                record,
                &Edit::text("observed_client", "Tearful at first, then calm."),
                at(2),
            )
            .unwrap();
        (case, record)
    };
    let mut store = open_signed_in(&dir, "amara");
    let RecordBody::HomeVisit(visit) = store.record(record).unwrap().body else {
        panic!("expected a home visit");
    };
    assert_eq!(visit.observed_client, "Tearful at first, then calm.");
    assert_eq!(
        store.case(case).unwrap().profile.client_name,
        "Mrs A. Example"
    );
    store.check_integrity().unwrap();
}

#[test]
fn a_wrong_passphrase_is_a_clear_error_and_touches_nothing() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("doorstep.db");
    {
        let mut store = open_signed_in(&dir, "amara");
        store.create_case("Client", at(0)).unwrap();
    }
    let files_before = snapshot_files(&dir);
    let error = Store::open(&path, &Passphrase::new("kettle-harbour-violet-43")).unwrap_err();
    assert!(matches!(error, StoreError::WrongPassphrase), "{error:?}");
    assert!(error.to_string().contains("wrong passphrase"));
    assert_eq!(snapshot_files(&dir), files_before);
    // ...and the right one still opens it.
    let store = Store::open(&path, &passphrase()).unwrap();
    assert_eq!(store.caseload(at(0)).unwrap().len(), 1);
}

#[test]
fn a_store_of_an_older_key_cost_opens_and_is_rekeyed_to_the_current_one() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("doorstep.db");
    let location = || Location {
        path: path.clone(),
        vfs: None,
        journal: Journal::Wal,
    };
    // A store as the app made it before the cost was raised and recorded.
    let mut old = Store::open_at_cost(location(), None, &passphrase(), KeyCost::LEGACY).unwrap();
    old.sign_in("amara".parse().unwrap()).unwrap();
    let case = old.create_case("Older Client", at(0)).unwrap();
    let record = visit(&mut old, case, 1);
    old.edit(record, &Edit::text("plan", "kept across the rekey"), at(2))
        .unwrap();
    drop(old);
    let salt = || key::existing_salt(&path).unwrap().unwrap();
    assert_eq!(KeyCost::of_salt(&salt()), None);

    // A wrong passphrase changes nothing, whatever the cost it tries.
    let before = snapshot_files(&dir);
    assert!(matches!(
        Store::open(&path, &Passphrase::new("not the passphrase")),
        Err(StoreError::WrongPassphrase)
    ));
    assert_eq!(snapshot_files(&dir), before);

    // The app of today opens it, and re-encrypts it at today's cost.
    let store = Store::open(&path, &passphrase()).unwrap();
    drop(store);
    assert_eq!(KeyCost::of_salt(&salt()), Some(KeyCost::CURRENT));
    let mut store = open_signed_in(&dir, "amara");
    match store.record(record).unwrap().body {
        RecordBody::HomeVisit(note) => assert_eq!(note.plan, "kept across the rekey"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_old_salt_that_happens_to_read_as_a_cost_still_opens() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("doorstep.db");
    let location = Location {
        path: path.clone(),
        vfs: None,
        journal: Journal::Wal,
    };
    // Sixteen bytes that read as today's cost, under a key of the old cost.
    let salt = KeyCost::CURRENT.new_salt().unwrap();
    let pragma = key::key_pragma(&passphrase(), &salt, KeyCost::LEGACY).unwrap();
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
    let conn = unlock(&location, flags, &pragma).unwrap();
    conn.execute_batch("CREATE TABLE kept (words TEXT); INSERT INTO kept VALUES ('still here');")
        .unwrap();
    drop(conn);
    let store = Store::open(&path, &passphrase()).unwrap();
    let words: String = store
        .conn
        .query_row("SELECT words FROM kept", [], |row| row.get(0))
        .unwrap();
    assert_eq!(words, "still here");
    drop(store);
    let rekeyed = key::existing_salt(&path).unwrap().unwrap();
    assert_ne!(rekeyed, salt, "rekeyed under a salt of its own");
    assert_eq!(KeyCost::of_salt(&rekeyed), Some(KeyCost::CURRENT));
}

fn snapshot_files(dir: &TempDir) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().to_string_lossy().into_owned(),
                std::fs::read(entry.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn editing_needs_somebody_signed_in() {
    let dir = TempDir::new().unwrap();
    let mut store = Store::open(dir.path().join("doorstep.db"), &passphrase()).unwrap();
    assert!(matches!(
        store.create_case("Client", at(0)),
        Err(StoreError::NoUser)
    ));
}

#[test]
fn the_caseload_counts_records_awaiting_their_author_and_overdue() {
    let dir = TempDir::new().unwrap();
    let mut store = open_signed_in(&dir, "amara");
    let busy = store.create_case("Busy", at(0)).unwrap();
    let quiet = store.create_case("alice Quiet", at(0)).unwrap();
    let old = visit(&mut store, busy, 0);
    let recent = visit(&mut store, busy, 70);
    let submitted = visit(&mut store, busy, 1);
    store.submit(submitted, at(3)).unwrap();

    let now = at(72);
    let caseload = store.caseload(now).unwrap();
    let names: Vec<_> = caseload.iter().map(|c| c.client_name.as_str()).collect();
    assert_eq!(
        names,
        ["alice Quiet", "Busy"],
        "sorted by name, ignoring case"
    );
    let busy_row = &caseload[1];
    assert_eq!(busy_row.id, busy);
    assert_eq!(
        (busy_row.records, busy_row.awaiting_author, busy_row.overdue),
        (3, 2, 1)
    );
    assert_eq!((caseload[0].id, caseload[0].records), (quiet, 0));

    let overdue: Vec<_> = store
        .overdue_records(now)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(overdue, [old]);
    store.set_overdue_after(Duration::minutes(30)).unwrap();
    let overdue: Vec<_> = store
        .overdue_records(now)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(overdue, [old, recent]);

    let in_order: Vec<_> = store
        .records_of_case(busy)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(in_order, [old, submitted, recent]);
    let waiting: Vec<_> = store
        .records_with_status(RecordStatus::Submitted)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(waiting, [submitted]);
}

#[test]
fn search_finds_words_in_records_and_cases() {
    let dir = TempDir::new().unwrap();
    let mut store = open_signed_in(&dir, "amara");
    let case = store.create_case("Dorothy Hale", at(0)).unwrap();
    let record = visit(&mut store, case, 1);
    let (add, quote) = Edit::append("quotes");
    store.edit(record, &add, at(2)).unwrap();
    let words = FieldValue::Text("The boiler has been broken since Christmas".into());
    store
        .edit(
            record,
            &Edit::set_in("quotes", quote, "words", words),
            at(2),
        )
        .unwrap();

    let hits = store.search("boil", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].doc, DocId::Record(record));
    assert_eq!(hits[0].case_id, case);
    assert!(hits[0].snippet.contains("[boiler]"), "{}", hits[0].snippet);
    assert_eq!(
        store.search("dorothy", 10).unwrap()[0].doc,
        DocId::Case(case)
    );
    assert!(store.search("boiler NEAR(", 10).unwrap().is_empty());
    assert!(store.search("", 10).unwrap().is_empty());

    // The index follows edits: the old words are gone.
    let fixed = FieldValue::Text("The heating works again".into());
    store
        .edit(
            record,
            &Edit::set_in("quotes", quote, "words", fixed),
            at(3),
        )
        .unwrap();
    assert!(store.search("boiler", 10).unwrap().is_empty());
}

#[test]
fn compaction_keeps_every_change_and_empties_the_log() {
    let dir = TempDir::new().unwrap();
    let record = {
        let mut store = open_signed_in(&dir, "amara");
        let case = store.create_case("Client", at(0)).unwrap();
        let record = visit(&mut store, case, 1);
        let mut text = String::new();
        for word in 0..COMPACT_AFTER_CHANGES {
            text.push_str(&format!("w{word} "));
            store
                .edit(record, &Edit::text("plan", &text), at(2))
                .unwrap();
        }
        assert_eq!(store.compact().unwrap(), 1);
        assert_eq!(store.compact().unwrap(), 0, "nothing left to fold");
        store
            .edit(record, &Edit::text("plan", &format!("{text}end")), at(3))
            .unwrap();
        let log: i64 = store
            .conn
            .query_row("SELECT count(*) FROM changes", [], |row| row.get(0))
            .unwrap();
        assert_eq!(
            log,
            1 + 1,
            "the case's creation and the edit after compaction"
        );
        record
    };
    let mut store = open_signed_in(&dir, "amara");
    let RecordBody::HomeVisit(visit) = store.record(record).unwrap().body else {
        panic!()
    };
    assert!(visit.plan.starts_with("w0 w1 w2 "));
    assert!(
        visit
            .plan
            .ends_with(&format!("w{} end", COMPACT_AFTER_CHANGES - 1))
    );
    let history = store.history(record).unwrap();
    assert_eq!(history.len() as i64, 1 + COMPACT_AFTER_CHANGES + 1);
}

#[test]
fn remote_changes_merge_once_and_create_documents_new_to_the_device() {
    let mine = TempDir::new().unwrap();
    let theirs = TempDir::new().unwrap();
    let mut worker = open_signed_in(&mine, "amara");
    let mut colleague = open_signed_in(&theirs, "ben");
    let case = worker.create_case("Client", at(0)).unwrap();
    let record = visit(&mut worker, case, 1);
    worker
        .edit(record, &Edit::text("purpose", "Check-in"), at(2))
        .unwrap();
    assert_eq!(
        worker.unacknowledged_count().unwrap(),
        2,
        "the case and its record"
    );

    for doc in worker.unacknowledged_docs().unwrap() {
        let changes = worker.unacknowledged_changes(doc).unwrap();
        assert!(colleague.apply_remote(doc, &changes, at(3)).unwrap());
        assert!(
            !colleague.apply_remote(doc, &changes, at(3)).unwrap(),
            "a repeat adds nothing"
        );
    }
    assert_eq!(colleague.caseload(at(3)).unwrap()[0].records, 1);
    colleague
        .edit(
            record,
            &Edit::text("purpose", "Check-in, and benefits"),
            at(4),
        )
        .unwrap();
    let heads = worker.acked_heads(DocId::Record(record)).unwrap();
    assert!(heads.is_empty());
    let theirs_changes = colleague
        .unacknowledged_changes(DocId::Record(record))
        .unwrap();
    worker
        .apply_remote(DocId::Record(record), &theirs_changes, at(5))
        .unwrap();
    let RecordBody::HomeVisit(visit) = worker.record(record).unwrap().body else {
        panic!()
    };
    assert_eq!(visit.purpose, "Check-in, and benefits");

    let current = worker.document(DocId::Record(record)).unwrap().heads();
    worker.acknowledge(DocId::Record(record), &current).unwrap();
    let case_heads = worker.document(case.into()).unwrap().heads();
    worker.acknowledge(DocId::Case(case), &case_heads).unwrap();
    assert!(worker.unacknowledged_docs().unwrap().is_empty());
    assert_eq!(worker.unacknowledged_count().unwrap(), 0);
    assert!(
        worker
            .unacknowledged_changes(DocId::Record(record))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn changes_that_are_not_a_document_are_refused_and_store_nothing() {
    let dir = TempDir::new().unwrap();
    let mut store = open_signed_in(&dir, "amara");
    let case = store.create_case("Client", at(0)).unwrap();
    let before = store.history(case).unwrap().len();
    assert!(
        store
            .apply_remote(DocId::Case(case), b"\x85o\x4a\x83garbage", at(1))
            .is_err()
    );
    assert!(
        store
            .apply_remote(DocId::Record(RecordId::random()), b"garbage", at(1))
            .is_err()
    );
    assert_eq!(store.history(case).unwrap().len(), before);
    assert_eq!(store.caseload(at(1)).unwrap().len(), 1);
}

#[test]
fn finalising_signs_and_the_signed_view_survives_reopening() {
    let dir = TempDir::new().unwrap();
    let record = {
        let mut store = open_signed_in(&dir, "amara");
        let case = store.create_case("Client", at(0)).unwrap();
        let record = visit(&mut store, case, 1);
        store
            .edit(record, &Edit::text("plan", "Visit weekly."), at(2))
            .unwrap();
        store.submit(record, at(3)).unwrap();
        store.sign_in("grace".parse().unwrap()).unwrap();
        store.finalise(record, at(4)).unwrap();
        store
            .add_addendum(
                record,
                "Frequency agreed with client",
                "Fortnightly instead.",
                at(5),
            )
            .unwrap();
        record
    };
    let mut store = open_signed_in(&dir, "amara");
    let signed = store.record_as_signed(record).unwrap().unwrap();
    assert_eq!(
        signed.signoff, None,
        "the sign-off points at the state before it"
    );
    assert!(signed.addenda.is_empty());
    let now = store.record(record).unwrap();
    assert_eq!(now.signoff.unwrap().by.as_str(), "grace");
    assert_eq!(now.addenda[0].text, "Fortnightly instead.");
    assert_eq!(
        store
            .records_with_status(RecordStatus::Finalised)
            .unwrap()
            .len(),
        1
    );
}

mod sync {
    use super::*;
    use crate::sync::protocol::{Ack, Cursor, DocChanges, Refusal, SyncResponse};

    fn pull_everything(from: &mut Store) -> Vec<DocChanges> {
        from.pending_pushes()
            .unwrap()
            .into_iter()
            .map(|push| push.changes)
            .collect()
    }

    #[test]
    fn a_response_is_applied_whole_with_its_cursor() {
        let (mine, theirs) = (TempDir::new().unwrap(), TempDir::new().unwrap());
        let mut worker = open_signed_in(&mine, "amara");
        let mut colleague = open_signed_in(&theirs, "ben");
        let case = worker.create_case("Client", at(0)).unwrap();
        let record = visit(&mut worker, case, 1);

        let pushes = worker.pending_pushes().unwrap();
        assert_eq!(pushes.len(), 2);
        let everything: Vec<DocChanges> = pushes.iter().map(|push| push.changes.clone()).collect();
        let acks = pushes
            .iter()
            .map(|push| Ack {
                doc: push.changes.doc,
                heads: push.heads.clone(),
            })
            .collect();
        worker
            .apply_sync_response(
                &SyncResponse {
                    acks,
                    cursor: Cursor(vec![4]),
                    ..Default::default()
                },
                at(2),
            )
            .unwrap();
        assert!(worker.pending_pushes().unwrap().is_empty());
        assert_eq!(worker.sync_cursor().unwrap(), Cursor(vec![4]));

        let response = SyncResponse {
            pulls: everything,
            cursor: Cursor(vec![9, 9]),
            ..Default::default()
        };
        colleague.apply_sync_response(&response, at(3)).unwrap();
        assert_eq!(colleague.records_of_case(case).unwrap()[0].id, record);
        assert_eq!(colleague.sync_cursor().unwrap(), Cursor(vec![9, 9]));
        assert!(
            colleague.pending_pushes().unwrap().is_empty(),
            "what came from the server is acknowledged by coming from it"
        );
    }

    #[test]
    fn a_refused_push_sets_the_document_back_to_the_servers_and_keeps_the_words() {
        let dir = TempDir::new().unwrap();
        let mut worker = open_signed_in(&dir, "amara");
        let case = worker.create_case("Client", at(0)).unwrap();
        let record = visit(&mut worker, case, 1);
        worker
            .edit(record, &Edit::text("plan", "Call the GP."), at(2))
            .unwrap();
        // The server took everything so far.
        let acks = worker
            .pending_pushes()
            .unwrap()
            .into_iter()
            .map(|push| Ack {
                doc: push.changes.doc,
                heads: push.heads,
            })
            .collect();
        let server_copy = worker.export(DocId::Record(record)).unwrap();
        worker
            .apply_sync_response(
                &SyncResponse {
                    acks,
                    ..Default::default()
                },
                at(3),
            )
            .unwrap();
        // Then refuses what she wrote next.
        worker
            .edit(
                record,
                &Edit::text("plan", "Call the GP and the school."),
                at(4),
            )
            .unwrap();
        assert_eq!(worker.pending_pushes().unwrap().len(), 1);
        let refusal = Refusal {
            doc: DocId::Record(record),
            code: "record_signed".into(),
            message: "the record is signed".into(),
            server_copy,
        };
        worker
            .apply_sync_response(
                &SyncResponse {
                    refused: vec![refusal],
                    cursor: Cursor(vec![5]),
                    ..Default::default()
                },
                at(5),
            )
            .unwrap();
        assert!(
            worker.pending_pushes().unwrap().is_empty(),
            "nothing refused is pushed again"
        );
        let RecordBody::HomeVisit(body) = worker.record(record).unwrap().body else {
            panic!("a home visit");
        };
        assert_eq!(body.plan, "Call the GP.", "the server's copy");
        let refusals = worker.refusals(DocId::Record(record)).unwrap();
        assert_eq!(refusals.len(), 1);
        assert_eq!(refusals[0].code, "record_signed");
        assert!(refusals[0].set_back);
        assert_eq!(
            refusals[0].texts,
            [RefusedText {
                field: "Plan".into(),
                text: "Call the GP and the school.".into()
            }]
        );
        // Kept across reopening, and gone once dismissed.
        drop(worker);
        let mut worker = open_signed_in(&dir, "amara");
        let id = worker.refusals(DocId::Record(record)).unwrap()[0].id;
        worker.dismiss_refusal(id).unwrap();
        assert!(worker.refusals(DocId::Record(record)).unwrap().is_empty());
    }

    #[test]
    fn forgetting_the_servers_state_sends_every_document_whole_again() {
        let dir = TempDir::new().unwrap();
        let mut worker = open_signed_in(&dir, "amara");
        let case = worker.create_case("Client", at(0)).unwrap();
        visit(&mut worker, case, 1);
        let whole: Vec<DocChanges> = pull_everything(&mut worker);
        let acks = worker
            .pending_pushes()
            .unwrap()
            .into_iter()
            .map(|push| Ack {
                doc: push.changes.doc,
                heads: push.heads,
            })
            .collect();
        let synced = SyncResponse {
            acks,
            cursor: Cursor(vec![7]),
            ..Default::default()
        };
        worker.apply_sync_response(&synced, at(2)).unwrap();
        assert!(worker.pending_pushes().unwrap().is_empty());

        worker.forget_server_state().unwrap();
        assert_eq!(worker.sync_cursor().unwrap(), Cursor::default());
        let again: Vec<DocChanges> = pull_everything(&mut worker);
        assert_eq!(
            again, whole,
            "every change of every document, as before the first sync"
        );
        assert_eq!(
            worker.records_of_case(case).unwrap().len(),
            1,
            "no record touched"
        );
    }

    #[test]
    fn a_response_with_one_bad_document_stores_nothing_of_it() {
        let (mine, theirs) = (TempDir::new().unwrap(), TempDir::new().unwrap());
        let mut worker = open_signed_in(&mine, "amara");
        let mut colleague = open_signed_in(&theirs, "ben");
        let case = worker.create_case("Client", at(0)).unwrap();
        let mut pulls = pull_everything(&mut worker);
        pulls.push(DocChanges {
            doc: DocId::Record(RecordId::random()),
            case_id: case,
            changes: b"not automerge".to_vec(),
        });
        let response = SyncResponse {
            pulls,
            cursor: Cursor(vec![1]),
            ..Default::default()
        };
        assert!(colleague.apply_sync_response(&response, at(1)).is_err());
        assert!(colleague.caseload(at(1)).unwrap().is_empty());
        assert_eq!(colleague.sync_cursor().unwrap(), Cursor::default());
    }

    #[test]
    fn a_purge_removes_the_case_its_records_and_their_search_entries() {
        let dir = TempDir::new().unwrap();
        let mut store = open_signed_in(&dir, "amara");
        let gone = store.create_case("Leaving Client", at(0)).unwrap();
        let kept = store.create_case("Staying Client", at(0)).unwrap();
        let record = visit(&mut store, gone, 1);
        store
            .edit(record, &Edit::text("plan", "marmalade"), at(2))
            .unwrap();
        let response = SyncResponse {
            purge: vec![gone],
            ..Default::default()
        };
        store.apply_sync_response(&response, at(3)).unwrap();
        let caseload: Vec<_> = store
            .caseload(at(3))
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(caseload, [kept]);
        assert!(store.search("marmalade", 5).unwrap().is_empty());
        assert!(store.search("leaving", 5).unwrap().is_empty());
        assert!(matches!(store.record(record), Err(StoreError::NotFound(_))));
    }

    #[test]
    fn wiping_leaves_nothing_of_any_case() {
        let dir = TempDir::new().unwrap();
        let mut store = open_signed_in(&dir, "amara");
        let case = store.create_case("Client", at(0)).unwrap();
        visit(&mut store, case, 1);
        store.wipe().unwrap();
        assert!(store.caseload(at(2)).unwrap().is_empty());
        assert!(store.pending_pushes().unwrap().is_empty());
        assert!(matches!(store.case(case), Err(StoreError::NotFound(_))));
    }
}

#[test]
fn device_settings_are_kept_and_removed() {
    let dir = TempDir::new().unwrap();
    {
        let mut store = open_signed_in(&dir, "amara");
        assert_eq!(store.setting("server").unwrap(), None);
        store
            .set_setting("server", Some("https://sync.example"))
            .unwrap();
        store.set_setting("token", Some("first")).unwrap();
        store.set_setting("token", Some("second")).unwrap();
    }
    let mut store = open_signed_in(&dir, "amara");
    assert_eq!(
        store.setting("server").unwrap().as_deref(),
        Some("https://sync.example")
    );
    assert_eq!(store.setting("token").unwrap().as_deref(), Some("second"));
    store.set_setting("token", None).unwrap();
    assert_eq!(store.setting("token").unwrap(), None);
}

#[test]
fn documents_waiting_to_be_pushed_are_found_without_reading_the_others() {
    let dir = TempDir::new().unwrap();
    let store = open_signed_in(&dir, "amara");
    for query in [
        "SELECT doc_key FROM documents WHERE heads != acked_heads",
        "SELECT count(*) FROM documents WHERE heads != acked_heads",
    ] {
        let plan: String = store
            .conn
            .query_row(&format!("EXPLAIN QUERY PLAN {query}"), [], |row| row.get(3))
            .unwrap();
        assert!(plan.contains("documents_unacknowledged"), "{query}: {plan}");
    }
}

/// Reading a store's files back with its passphrase, page by page, free pages and WAL frames
/// included, as SQLCipher lays them out: to show that what was deleted is gone from the disk,
/// not merely from the tables.
mod on_disk {
    use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::NoPadding};

    use crate::sync::protocol::SyncResponse;

    use super::*;

    const PAGE: usize = 4096;
    /// Each page ends with its IV (16 bytes) and HMAC (64 bytes).
    const RESERVED: usize = 80;
    const CANARY: &str = "heronsgate marmalade quay";
    /// A word of the canary as the search index keeps it: a term of its own.
    const RARE_WORD: &str = "heronsgate";

    /// The decrypted content of one SQLCipher page (page 1's salt left out).
    fn decrypt(page: &[u8], first: bool, key: &[u8; 32]) -> Vec<u8> {
        let start = if first { key::SALT_LEN } else { 0 };
        let iv = &page[PAGE - RESERVED..PAGE - RESERVED + 16];
        let mut text = page[start..PAGE - RESERVED].to_vec();
        cbc::Decryptor::<aes::Aes256>::new(key.into(), iv.into())
            .decrypt_padded_mut::<NoPadding>(&mut text)
            .unwrap();
        text
    }

    /// Every page of the database file and every frame of its WAL, decrypted.
    fn every_page(path: &Path, key: &[u8; 32]) -> Vec<u8> {
        let mut plain = Vec::new();
        let file = std::fs::read(path).unwrap();
        for (index, page) in file.chunks(PAGE).enumerate() {
            plain.extend(decrypt(page, index == 0, key));
        }
        let mut wal_path = path.as_os_str().to_owned();
        wal_path.push("-wal");
        if let Ok(wal) = std::fs::read(&wal_path) {
            // A 32-byte header, then frames: a 24-byte header naming the page, then the page.
            for frame in wal.get(32..).unwrap_or_default().chunks(24 + PAGE) {
                if frame.len() < 24 + PAGE {
                    break;
                }
                let number = u32::from_be_bytes(frame[..4].try_into().unwrap());
                plain.extend(decrypt(&frame[24..], number == 1, key));
            }
        }
        plain
    }

    fn holds(haystack: &[u8], needle: &str) -> bool {
        haystack
            .windows(needle.len())
            .any(|window| window == needle.as_bytes())
    }

    /// A store with the canary in a client's name and a note, and the key to read its files.
    fn store_with_canary(dir: &TempDir) -> (Store, CaseId, [u8; 32]) {
        let mut store = open_signed_in(dir, "amara");
        let case = store
            .create_case(&format!("Client {CANARY}"), at(0))
            .unwrap();
        let record = visit(&mut store, case, 1);
        store
            .edit(record, &Edit::text("plan", CANARY), at(2))
            .unwrap();
        store.create_case("Another client", at(3)).unwrap();
        let path = store.path().to_owned();
        let salt = key::existing_salt(&path).unwrap().unwrap();
        let cost = key::KeyCost::of_salt(&salt).expect("a new store records its cost");
        let key = key::derive_key(&passphrase(), &salt, cost).unwrap();
        assert!(
            holds(&every_page(&path, &key), CANARY),
            "the canary is found in the decrypted files before they are wiped"
        );
        (store, case, *key)
    }

    /// A photo whose bytes carry the canary (as a JPEG's comment would), attached on the
    /// device: no file on the disk holds the phrase, though the decrypted pages do, and once
    /// the photo is erased not even those.
    #[test]
    fn a_photo_is_stored_encrypted_and_an_erased_one_leaves_nothing() {
        let dir = TempDir::new().unwrap();
        let (mut store, case, key) = store_with_canary(&dir);
        let mut photo_bytes = vec![0xFF, 0xD8, 0xFF, 0xFE];
        for _ in 0..2000 {
            photo_bytes.extend_from_slice(b"photo ");
            photo_bytes.extend_from_slice(CANARY.as_bytes());
        }
        let draft = crate::attachments::AttachmentDraft {
            kind: crate::attachments::AttachmentKind::Photo,
            media_type: "image/jpeg".into(),
            dimensions: Some((1, 1)),
            caption: String::new(),
            signs: None,
        };
        let photo = store.attach(case, &photo_bytes, &draft, at(4)).unwrap();
        let raw = |dir: &TempDir| -> Vec<u8> {
            std::fs::read_dir(dir.path())
                .unwrap()
                .flat_map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
                .collect()
        };
        assert!(
            !holds(&raw(&dir), CANARY),
            "no file holds the photo's bytes in the clear"
        );
        let decrypted = every_page(store.path(), &key);
        let copies = decrypted
            .windows(CANARY.len())
            .filter(|window| *window == CANARY.as_bytes())
            .count();
        assert!(
            copies >= 2000,
            "the decrypted pages hold the photo ({copies} canaries)"
        );

        let mut server_copy =
            Document::load(&store.export(DocId::Case(case)).unwrap(), &[]).unwrap();
        let erasure = crate::attachments::Erasure {
            at: at(5),
            by: "admin".into(),
            reason: "asked for".into(),
        };
        server_copy
            .erase_blob(&Writer::server(), photo.hash, &erasure, at(5))
            .unwrap();
        let response = SyncResponse {
            pulls: vec![crate::sync::protocol::DocChanges {
                doc: DocId::Case(case),
                case_id: case,
                changes: server_copy.save(),
            }],
            ..Default::default()
        };
        store.apply_sync_response(&response, at(6)).unwrap();
        let left = every_page(store.path(), &key);
        let copies = left
            .windows(CANARY.len())
            .filter(|window| *window == CANARY.as_bytes())
            .count();
        // The client's name and the note still carry it (a few copies); the photo's 2,000 are gone.
        assert!(copies < 20, "{copies} canaries left after the erasure");
    }

    #[test]
    fn a_wipe_leaves_nothing_of_the_notes_in_free_pages_or_the_wal() {
        let dir = TempDir::new().unwrap();
        let (mut store, _, key) = store_with_canary(&dir);
        store.wipe().unwrap();
        let left = every_page(store.path(), &key);
        assert!(!holds(&left, CANARY));
        assert!(
            !holds(&left, RARE_WORD),
            "the search index keeps no word of it"
        );
    }

    #[test]
    fn a_purge_leaves_nothing_of_the_case_in_free_pages_or_the_wal() {
        let dir = TempDir::new().unwrap();
        let (mut store, case, key) = store_with_canary(&dir);
        let response = SyncResponse {
            purge: vec![case],
            ..Default::default()
        };
        store.apply_sync_response(&response, at(4)).unwrap();
        let left = every_page(store.path(), &key);
        assert!(!holds(&left, CANARY));
        assert!(
            !holds(&left, RARE_WORD),
            "the search index keeps no word of it"
        );
        assert_eq!(
            store.caseload(at(4)).unwrap().len(),
            1,
            "the other case stays"
        );
    }
}

#[test]
fn a_goal_review_is_overdue_while_the_goal_is_active_and_its_case_open() {
    let dir = TempDir::new().unwrap();
    let mut store = open_signed_in(&dir, "amara");
    let case = store.create_case("Mrs A. Example", at(0)).unwrap();
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let goal = ItemId::random();
    let edits = [
        Edit::AddEntry {
            list: "goals".into(),
            id: goal,
            after: None,
        },
        Edit::set_in(
            "goals",
            goal,
            "goal",
            FieldValue::Text("A warm home".into()),
        ),
        Edit::set_in("goals", goal, "review_date", FieldValue::Date(day(10))),
    ];
    store.edit_all(case, &edits, at(1)).unwrap();
    assert!(store.overdue_goal_reviews(day(10)).unwrap().is_empty());
    let due = store.overdue_goal_reviews(day(11)).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].case_id, due[0].goal.as_str(), due[0].review_date),
        (case, "A warm home", day(10))
    );
    let achieved = Edit::set_in("goals", goal, "state", FieldValue::Text("achieved".into()));
    store.edit(case, &achieved, at(2)).unwrap();
    assert!(store.overdue_goal_reviews(day(11)).unwrap().is_empty());
    let active = Edit::set_in("goals", goal, "state", FieldValue::Text("active".into()));
    store.edit(case, &active, at(3)).unwrap();
    assert_eq!(store.overdue_goal_reviews(day(11)).unwrap().len(), 1);
    // Once the case closes, its goals are no longer reviewed.
    let closure = crate::model::CaseEventDraft {
        summary: Some(RecordId::random()),
        ..crate::model::CaseEventDraft::new(crate::model::CaseEventKind::Closure, day(11), "Done")
    };
    store.record_case_event(case, &closure, at(4)).unwrap();
    assert!(store.overdue_goal_reviews(day(12)).unwrap().is_empty());
}

mod attachments {
    use super::*;
    use crate::attachments::{
        AttachmentDraft, AttachmentError, AttachmentKind, BlobHash, Erasure, SignatureBinding,
        consent_wording_hash,
    };
    use crate::sync::protocol::{DocChanges, SyncResponse};

    fn photo(caption: &str) -> AttachmentDraft {
        AttachmentDraft {
            kind: AttachmentKind::Photo,
            media_type: "image/jpeg".into(),
            dimensions: Some((640, 480)),
            caption: caption.into(),
            signs: None,
        }
    }

    /// What the server would send a colleague: every document the worker has.
    fn everything(from: &mut Store) -> SyncResponse {
        let pulls: Vec<DocChanges> = from
            .pending_pushes()
            .unwrap()
            .into_iter()
            .map(|push| push.changes)
            .collect();
        SyncResponse {
            pulls,
            ..Default::default()
        }
    }

    #[test]
    fn a_blob_is_stored_once_under_its_hash_with_the_reference_beside_it() {
        let dir = TempDir::new().unwrap();
        let mut store = open_signed_in(&dir, "amara");
        let case = store.create_case("Client", at(0)).unwrap();
        let record = visit(&mut store, case, 1);
        let bytes = vec![7u8; 600 * 1024];
        let first = store
            .attach(record, &bytes, &photo("Heater"), at(2))
            .unwrap();
        let again = store
            .attach(case, &bytes, &photo("Same heater"), at(2))
            .unwrap();
        assert_eq!(first.hash, BlobHash::of(&bytes));
        assert_eq!(first.hash, again.hash);
        assert_eq!(store.attachment_bytes_used().unwrap(), bytes.len() as u64);
        assert_eq!(store.blob(first.hash).unwrap().unwrap(), bytes);
        assert_eq!(
            store.blob_range(first.hash, 300 * 1024, 10).unwrap(),
            bytes[300 * 1024..300 * 1024 + 10]
        );
        assert_eq!(store.blob_state(first.hash).unwrap(), BlobState::Here);
        let attached = store.record(record).unwrap().attachments;
        assert_eq!(attached.len(), 1);
        assert_eq!(
            (
                attached[0].caption.as_str(),
                attached[0].size,
                attached[0].width
            ),
            ("Heater", bytes.len() as u64, Some(640))
        );

        let to_send = store.blobs_to_send().unwrap();
        assert_eq!(to_send.len(), 1);
        store.mark_sent(first.hash).unwrap();
        assert!(store.blobs_to_send().unwrap().is_empty());

        // Taken off the draft, the blob stays while the case file still names it.
        store.detach(record, first.id, at(3)).unwrap();
        assert!(store.blob(first.hash).unwrap().is_some());
        assert!(store.record(record).unwrap().attachments.is_empty());
        drop(store);
        let mut store = open_signed_in(&dir, "amara");
        assert_eq!(store.case(case).unwrap().attachments.len(), 1);
    }

    #[test]
    fn limits_refuse_with_their_reason_and_keep_nothing() {
        let dir = TempDir::new().unwrap();
        let mut store = open_signed_in(&dir, "amara");
        let case = store.create_case("Client", at(0)).unwrap();
        store
            .set_attachment_limits(AttachmentLimits {
                max_attachment_bytes: 1000,
                device_budget_bytes: 1500,
                ..AttachmentLimits::default()
            })
            .unwrap();
        let refused = store
            .attach(case, &[1; 1001], &photo("big"), at(1))
            .unwrap_err();
        assert!(matches!(
            refused,
            StoreError::Attachment(AttachmentError::TooLarge {
                size: 1001,
                limit: 1000
            })
        ));
        store
            .attach(case, &[1; 1000], &photo("fits"), at(1))
            .unwrap();
        let refused = store
            .attach(case, &[2; 600], &photo("no room"), at(1))
            .unwrap_err();
        assert!(matches!(
            refused,
            StoreError::Attachment(AttachmentError::DeviceFull {
                used: 1000,
                budget: 1500
            })
        ));
        assert!(
            refused
                .to_string()
                .contains("\"Space for attachments on this device\" under Sync"),
            "{refused}"
        );
        let mut html = photo("page");
        html.media_type = "text/html".into();
        assert!(matches!(
            store.attach(case, b"<script>", &html, at(1)).unwrap_err(),
            StoreError::Attachment(AttachmentError::MediaType(_))
        ));
        assert_eq!(store.case(case).unwrap().attachments.len(), 1);
        assert_eq!(store.attachment_bytes_used().unwrap(), 1000);
    }

    #[test]
    fn a_colleagues_photo_is_fetched_in_pieces_resumed_after_a_restart_and_checked() {
        let (mine, theirs) = (TempDir::new().unwrap(), TempDir::new().unwrap());
        let mut worker = open_signed_in(&mine, "amara");
        let case = worker.create_case("Client", at(0)).unwrap();
        let bytes: Vec<u8> = (0..700_000u32).map(|n| (n % 251) as u8).collect();
        let photo = worker
            .attach(case, &bytes, &photo("Stairs"), at(1))
            .unwrap();

        let mut colleague = open_signed_in(&theirs, "ben");
        colleague
            .apply_sync_response(&everything(&mut worker), at(2))
            .unwrap();
        assert_eq!(
            colleague.blob_state(photo.hash).unwrap(),
            BlobState::NotDownloaded { received: 0 }
        );
        assert!(colleague.blob(photo.hash).unwrap().is_none());
        assert!(
            colleague.blobs_to_send().unwrap().is_empty(),
            "not the colleague's to send"
        );
        let size = bytes.len() as u64;
        assert!(
            !colleague
                .receive_blob_part(photo.hash, 0, &bytes[..300_000], size)
                .unwrap()
        );
        drop(colleague);

        // The app restarted: the download goes on from where it stopped.
        let mut colleague = open_signed_in(&theirs, "ben");
        let to_fetch = colleague.blobs_to_fetch().unwrap();
        assert_eq!(to_fetch.len(), 1);
        assert_eq!(
            (to_fetch[0].hash, to_fetch[0].received),
            (photo.hash, 300_000)
        );
        assert!(
            colleague
                .receive_blob_part(photo.hash, 0, &bytes[..10], size)
                .is_err()
        );
        assert!(
            colleague
                .receive_blob_part(photo.hash, 300_000, &bytes[300_000..], size)
                .unwrap()
        );
        assert_eq!(colleague.blob(photo.hash).unwrap().unwrap(), bytes);
        assert!(colleague.blobs_to_fetch().unwrap().is_empty());

        // Damaged bytes are thrown away whole, to be fetched again.
        let mut damaged = open_signed_in(&TempDir::new().unwrap(), "ben");
        damaged
            .apply_sync_response(&everything(&mut worker), at(2))
            .unwrap();
        let mut wrong = bytes.clone();
        wrong[5] ^= 1;
        assert!(matches!(
            damaged.receive_blob_part(photo.hash, 0, &wrong, size),
            Err(StoreError::BlobMismatch)
        ));
        assert_eq!(
            damaged.blob_state(photo.hash).unwrap(),
            BlobState::NotDownloaded { received: 0 }
        );
    }

    #[test]
    fn an_erasure_takes_the_bytes_off_the_device_and_leaves_the_tombstone() {
        let (mine, theirs) = (TempDir::new().unwrap(), TempDir::new().unwrap());
        let mut worker = open_signed_in(&mine, "amara");
        let case = worker.create_case("Client", at(0)).unwrap();
        let photo = worker
            .attach(case, b"a photo of the stairs", &photo("Stairs"), at(1))
            .unwrap();
        let mut colleague = open_signed_in(&theirs, "ben");
        colleague
            .apply_sync_response(&everything(&mut worker), at(2))
            .unwrap();

        // The server's copy, erased by an administrator, reaches the worker's device.
        let mut server_copy =
            Document::load(&worker.export(DocId::Case(case)).unwrap(), &[]).unwrap();
        let erasure = Erasure {
            at: at(3),
            by: "admin".into(),
            reason: "Photographed the neighbour's door by mistake".into(),
        };
        server_copy
            .erase_blob(&Writer::server(), photo.hash, &erasure, at(3))
            .unwrap();
        let response = SyncResponse {
            pulls: vec![DocChanges {
                doc: DocId::Case(case),
                case_id: case,
                changes: server_copy.save(),
            }],
            ..Default::default()
        };
        worker.apply_sync_response(&response, at(4)).unwrap();
        assert_eq!(worker.blob_state(photo.hash).unwrap(), BlobState::Erased);
        assert!(worker.blob(photo.hash).unwrap().is_none());
        assert_eq!(worker.attachment_bytes_used().unwrap(), 0);
        assert!(worker.blobs_to_fetch().unwrap().is_empty());
        let tombstone = worker.case(case).unwrap().attachments[0]
            .erased
            .clone()
            .unwrap();
        assert_eq!(
            tombstone.describe(),
            "removed on 2 March 2026 by admin: Photographed the neighbour's door by mistake"
        );
        // The colleague, who never downloaded it, no longer tries to.
        assert_eq!(colleague.blobs_to_fetch().unwrap().len(), 1);
        colleague.apply_sync_response(&response, at(4)).unwrap();
        assert!(colleague.blobs_to_fetch().unwrap().is_empty());
    }

    #[test]
    fn a_signature_is_bound_to_the_consent_it_signs() {
        let dir = TempDir::new().unwrap();
        let mut store = open_signed_in(&dir, "amara");
        let case = store.create_case("Client", at(0)).unwrap();
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
                "details",
                FieldValue::Text("Home visits".into()),
            ),
        ];
        store.edit_all(case, &edits, at(1)).unwrap();
        let wording = consent_wording_hash(&store.case(case).unwrap().profile.consents[0]);
        let draft = AttachmentDraft {
            kind: AttachmentKind::Signature,
            media_type: "image/png".into(),
            dimensions: Some((600, 200)),
            caption: "Signed by the client".into(),
            signs: Some(SignatureBinding {
                consent,
                wording,
                signed_at: at(2),
            }),
        };
        let signature = store
            .attach_signature(case, b"png bytes", b"[[[1,2],[3,4]]]", &draft, at(2))
            .unwrap();
        let strokes = signature.strokes.unwrap();
        assert_eq!(store.blob(strokes).unwrap().unwrap(), b"[[[1,2],[3,4]]]");
        assert_eq!(store.blobs_to_send().unwrap().len(), 2);
        let case_file = store.case(case).unwrap();
        let binding = case_file.attachments[0].signs.as_ref().unwrap();
        assert!(binding.matches(&case_file.profile.consents[0]));
        let reworded = Edit::set_in(
            "consents",
            consent,
            "details",
            FieldValue::Text("Anything".into()),
        );
        store.edit(case, &reworded, at(3)).unwrap();
        let case_file = store.case(case).unwrap();
        assert!(
            !case_file.attachments[0]
                .signs
                .as_ref()
                .unwrap()
                .matches(&case_file.profile.consents[0])
        );
    }
}
