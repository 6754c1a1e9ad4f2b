//! A device holding 10,000 records syncs them up, a fresh device pulls them all down in
//! pages, and a sync with nothing to do stays small.

use chrono::Utc;
use doorstep_shared::model::RecordKind;
use doorstep_tests::{Device, ServerProcess};

const RECORDS: usize = 10_000;

#[tokio::test]
async fn ten_thousand_records_sync_up_and_down() {
    let server = ServerProcess::start().unwrap();
    server
        .team("north", &[("amara", "worker"), ("ben", "worker")])
        .unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    let cases: Vec<_> = (0..100)
        .map(|n| {
            amara
                .store
                .create_case(&format!("Client {n}"), Utc::now())
                .unwrap()
        })
        .collect();
    for n in 0..RECORDS {
        amara
            .record_with_plan(
                cases[n % cases.len()],
                RecordKind::CaseNote,
                &format!("plan number {n}"),
            )
            .unwrap();
    }
    let up = amara.sync().await.unwrap();
    assert_eq!(up.pushed, RECORDS + cases.len());
    assert!(amara.store.pending_pushes().unwrap().is_empty());

    let mut ben = Device::sign_in(&server, "ben").await.unwrap();
    let down = ben.sync().await.unwrap();
    assert_eq!(down.pulled, RECORDS + cases.len());
    assert!(down.rounds > 1, "pulled in pages: {down:?}");
    let total: u32 = ben
        .store
        .caseload(Utc::now())
        .unwrap()
        .iter()
        .map(|c| c.records)
        .sum();
    assert_eq!(total as usize, RECORDS);
    assert_eq!(ben.store.search("number 9999", 5).unwrap().len(), 1);

    let idle = ben.sync().await.unwrap();
    assert_eq!(idle.rounds, 1);
    assert!(
        idle.bytes_sent < 1024 && idle.bytes_received < 1024,
        "{idle:?}"
    );
    eprintln!("up: {up:?}\ndown: {down:?}\nno-op: {idle:?}");
}
