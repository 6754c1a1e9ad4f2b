//! Backup and restore: a backup taken while devices sync, restored into a fresh server after
//! the first one is lost. The devices had edits acknowledged after the backup; they learn the
//! server was restored, send everything again, and nothing is lost or doubled.

use chrono::Utc;
use doorstep_shared::document::Edit;
use doorstep_shared::model::RecordKind;
use doorstep_tests::{Device, ServerProcess, admin};
use tempfile::TempDir;

#[tokio::test]
async fn a_restored_backup_gets_back_every_edit_the_devices_made_after_it() {
    let server = ServerProcess::start().unwrap();
    server
        .team("north", &[("amara", "worker"), ("ben", "colleague")])
        .unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    let mut ben = Device::sign_in(&server, "ben").await.unwrap();
    let case = amara.store.create_case("Mrs Backup", Utc::now()).unwrap();
    let before = amara
        .record_with_plan(case, RecordKind::CaseNote, "written before the backup")
        .unwrap();
    amara.sync().await.unwrap();
    ben.sync().await.unwrap();

    let backups = TempDir::new().unwrap();
    let backup = backups.path().join("doorstep-server.backup");
    let backup_arg = backup.to_str().unwrap();
    server.admin(&["admin", "backup", backup_arg], "").unwrap();
    let again = server.admin(&["admin", "backup", backup_arg], "");
    assert!(again.is_err(), "a backup never overwrites a file");

    // After the backup, both write, and the server acknowledges all of it.
    amara
        .store
        .edit(
            before,
            &Edit::text("plan", "written before the backup, amended after"),
            Utc::now(),
        )
        .unwrap();
    let by_amara = amara
        .record_with_plan(case, RecordKind::CaseNote, "amara, after the backup")
        .unwrap();
    amara.sync().await.unwrap();
    ben.sync().await.unwrap();
    let by_ben = ben
        .record_with_plan(case, RecordKind::CaseNote, "ben, after the backup")
        .unwrap();
    ben.sync().await.unwrap();
    assert!(amara.store.pending_pushes().unwrap().is_empty());
    assert!(ben.store.pending_pushes().unwrap().is_empty());

    // The server and its disk are lost; the backup goes into a fresh data folder.
    drop(server);
    // A data folder that already has a database is refused.
    let used = TempDir::new().unwrap();
    admin(used.path(), None, &["admin", "user", "list"], "").unwrap();
    let refused = admin(used.path(), None, &["admin", "restore", backup_arg], "")
        .unwrap_err()
        .to_string();
    assert!(refused.contains("fresh data folder"), "{refused}");
    let fresh = TempDir::new().unwrap();
    admin(fresh.path(), None, &["admin", "restore", backup_arg], "").unwrap();
    let server = ServerProcess::start_in(fresh).unwrap();

    // The devices, signed in before the backup, keep their tokens; each learns the server
    // was restored and sends everything it holds, then receives what the other sent.
    for device in [&mut amara, &mut ben] {
        device.reconnect(&server.url()).unwrap();
        device.sync().await.unwrap();
    }
    for device in [&mut amara, &mut ben] {
        device.sync().await.unwrap();
        assert!(device.store.pending_pushes().unwrap().is_empty());
    }

    // A new device sees every edit, from before and after the backup, once.
    let mut fresh_device = Device::sign_in(&server, "ben").await.unwrap();
    fresh_device.sync().await.unwrap();
    let mut records = fresh_device.record_ids(case).unwrap();
    records.sort();
    let mut expected = vec![before, by_amara, by_ben];
    expected.sort();
    assert_eq!(records, expected, "every record, none doubled");
    for (record, plan) in [
        (before, "written before the backup, amended after"),
        (by_amara, "amara, after the backup"),
        (by_ben, "ben, after the backup"),
    ] {
        assert_eq!(fresh_device.plan(record).unwrap(), plan);
        assert_eq!(amara.plan(record).unwrap(), plan);
        assert_eq!(ben.plan(record).unwrap(), plan);
    }
    let audit = server.admin(&["admin", "audit"], "").unwrap();
    assert!(audit.contains("server_restored"), "{audit}");
}
