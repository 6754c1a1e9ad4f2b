//! The canary: a phrase written into a note must appear in none of the store's files, while
//! the same phrase written by the same SQLite without a key is found by the same scan.

use std::path::Path;

use chrono::Utc;
use doorstep_shared::document::{Edit, Occurrence};
use doorstep_shared::model::{RecordBody, RecordKind};
use doorstep_shared::store::{Passphrase, Store};
use tempfile::TempDir;

const CANARY: &str = "canary-7f3a9c tangerine lighthouse whispers";

fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if bytes.windows(needle.len()).any(|window| window == needle) {
            found.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    found
}

fn write_canary(store: &mut Store) -> doorstep_shared::RecordId {
    store.sign_in("amara".parse().unwrap()).unwrap();
    let case = store.create_case(CANARY, Utc::now()).unwrap();
    let record = store
        .create_record(
            case,
            RecordKind::HomeVisit,
            Occurrence::default(),
            Utc::now(),
        )
        .unwrap();
    store
        .edit(record, &Edit::text("observed_client", CANARY), Utc::now())
        .unwrap();
    record
}

#[test]
fn the_canary_is_in_no_file_of_the_store() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("doorstep.db");
    let mut store = Store::open(&path, &Passphrase::new("a passphrase")).unwrap();
    let record = write_canary(&mut store);
    // The phrase really was stored: the store reads it back.
    let RecordBody::HomeVisit(visit) = store.record(record).unwrap().body else {
        panic!("expected a home visit");
    };
    assert_eq!(visit.observed_client, CANARY);
    assert_eq!(store.search("tangerine", 5).unwrap().len(), 2);

    // While open, the WAL and shared-memory files hold the latest pages.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|name| name.ends_with("-wal")), "{names:?}");
    assert!(names.iter().any(|name| name.ends_with("-shm")), "{names:?}");
    assert_eq!(
        files_containing(dir.path(), CANARY.as_bytes()),
        Vec::<String>::new()
    );
    assert_eq!(
        files_containing(dir.path(), b"tangerine"),
        Vec::<String>::new()
    );

    // After compaction and closing, the checkpointed database file holds it all.
    store.compact_doc(record.into()).unwrap();
    drop(store);
    assert_eq!(
        files_containing(dir.path(), b"tangerine"),
        Vec::<String>::new()
    );
}

#[test]
fn the_same_scan_finds_the_canary_in_an_unencrypted_database() {
    let dir = TempDir::new().unwrap();
    let conn = rusqlite_plain(&dir.path().join("plain.db"));
    conn.execute("CREATE TABLE notes (text TEXT)", []).unwrap();
    conn.execute("INSERT INTO notes VALUES (?1)", [CANARY])
        .unwrap();
    drop(conn);
    assert_eq!(
        files_containing(dir.path(), CANARY.as_bytes()),
        ["plain.db"]
    );
}

/// The same SQLite library the store links, without a key: the control for the canary.
fn rusqlite_plain(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}
