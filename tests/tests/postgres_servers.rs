//! Two stateless server processes share one PostgreSQL database: a device syncing through
//! one and a device syncing through the other converge. Needs `DOORSTEP_TEST_POSTGRES_URL`,
//! which `scripts/test` sets after starting PostgreSQL.

use chrono::Utc;
use doorstep_shared::document::Edit;
use doorstep_shared::model::RecordBody;
use doorstep_tests::{Device, ServerProcess, fresh_postgres_database};

#[tokio::test]
async fn devices_on_two_servers_sharing_postgres_converge() {
    let Ok(url) = std::env::var("DOORSTEP_TEST_POSTGRES_URL") else {
        eprintln!("skipped: DOORSTEP_TEST_POSTGRES_URL is not set (scripts/test sets it)");
        return;
    };
    let database_url = fresh_postgres_database(&url).unwrap();
    let name = database_url.rsplit_once('/').unwrap().1.to_owned();

    let first = ServerProcess::start_on_postgres(&database_url).unwrap();
    let second = ServerProcess::start_on_postgres(&database_url).unwrap();
    first
        .team("north", &[("amara", "worker"), ("ben", "worker")])
        .unwrap();
    let mut amara = Device::sign_in(&first, "amara").await.unwrap();
    let mut ben = Device::sign_in(&second, "ben").await.unwrap();

    let (_, record) = amara.case_with_visit("Client", "Visit.").unwrap();
    amara.sync().await.unwrap();
    ben.sync().await.unwrap();
    ben.store
        .edit(record, &Edit::text("plan", "Visit. Call."), Utc::now())
        .unwrap();
    amara
        .store
        .edit(record, &Edit::text("plan", "Home Visit."), Utc::now())
        .unwrap();
    for _ in 0..2 {
        ben.sync().await.unwrap();
        amara.sync().await.unwrap();
    }
    let plans: Vec<String> = [&mut amara, &mut ben]
        .into_iter()
        .map(|device| match device.store.record(record).unwrap().body {
            RecordBody::HomeVisit(visit) => visit.plan,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(plans[0], plans[1]);
    assert_eq!(plans[0], "Home Visit. Call.");
    drop((first, second));
    let _ = std::process::Command::new("psql")
        .args([
            url.as_str(),
            "-qc",
            &format!("DROP DATABASE {name} WITH (FORCE)"),
        ])
        .status();
}
