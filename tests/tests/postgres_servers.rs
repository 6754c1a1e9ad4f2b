//! Two stateless server processes share one PostgreSQL database: a device syncing through
//! one and a device syncing through the other converge. Needs `DOORSTEP_TEST_POSTGRES_URL`,
//! which `scripts/test` sets after starting PostgreSQL.

use chrono::Utc;
use doorstep_shared::document::Edit;
use doorstep_shared::model::RecordBody;
use doorstep_tests::{Device, ServerProcess};

#[tokio::test]
async fn devices_on_two_servers_sharing_postgres_converge() {
    let Ok(url) = std::env::var("DOORSTEP_TEST_POSTGRES_URL") else {
        eprintln!("skipped: DOORSTEP_TEST_POSTGRES_URL is not set (scripts/test sets it)");
        return;
    };
    let name = format!("doorstep_e2e_{}", uuid_like());
    let (admin_url, database_url) = database_urls(&url, &name);
    let create = std::process::Command::new("psql")
        .args([
            admin_url.as_str(),
            "-qc",
            &format!("CREATE DATABASE {name}"),
        ])
        .status()
        .expect("psql");
    assert!(create.success());

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
            admin_url.as_str(),
            "-qc",
            &format!("DROP DATABASE {name} WITH (FORCE)"),
        ])
        .status();
}

fn uuid_like() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The URL as given (for administration) and the same server with database `name`.
fn database_urls(url: &str, name: &str) -> (String, String) {
    let base = url.rsplit_once('/').map(|(base, _)| base).unwrap_or(url);
    (url.to_owned(), format!("{base}/{name}"))
}
