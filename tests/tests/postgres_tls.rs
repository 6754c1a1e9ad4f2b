//! The server's connection to PostgreSQL over TLS, against a PostgreSQL started for this test
//! with a certificate made at test time: `sslmode=verify-full` connects only to the database
//! the agency's authority vouches for, `require` encrypts without checking, and a plain
//! connection to another machine is warned about at start.
//!
//! Runs where `scripts/test` has a PostgreSQL for the suite (`DOORSTEP_TEST_POSTGRES_URL`),
//! and starts its own beside it, with TLS, on port 54331.

use std::path::{Path, PathBuf};
use std::process::Command;

use doorstep_tests::tls::TestCertificates;
use doorstep_tests::{Device, ServerProcess, admin, fresh_postgres_database};

/// A PostgreSQL server with TLS, stopped when dropped.
struct TlsPostgres {
    data: String,
    url: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres-for-tests")
}

impl TlsPostgres {
    fn start(certificates: &Path) -> TlsPostgres {
        let output = Command::new(script())
            .env("DOORSTEP_TEST_PG_PORT", "54331")
            .env("DOORSTEP_TEST_PG_TLS", certificates)
            .output()
            .expect("running scripts/postgres-for-tests");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let said = String::from_utf8(output.stdout).unwrap();
        let (data, url) = said.trim().split_once(' ').unwrap();
        TlsPostgres {
            data: data.to_owned(),
            url: url.to_owned(),
        }
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        let _ = Command::new(script()).args(["stop", &self.data]).status();
    }
}

/// How many of the server's connections to `database` are encrypted, and how many not.
fn connections(admin_url: &str, database: &str) -> (u32, u32) {
    let query = format!(
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) \
         FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = '{database}'"
    );
    let output = Command::new("psql")
        .args([admin_url, "-At", "-F", " ", "-c", &query])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let (encrypted, plain) = text.trim().split_once(' ').unwrap();
    (encrypted.parse().unwrap(), plain.parse().unwrap())
}

#[tokio::test]
async fn the_server_reaches_postgresql_over_verified_tls_and_refuses_a_database_it_cannot_verify() {
    if std::env::var("DOORSTEP_TEST_POSTGRES_URL").is_err() {
        eprintln!("skipped: DOORSTEP_TEST_POSTGRES_URL is not set (scripts/test sets it)");
        return;
    }
    let dir = tempfile::TempDir::new().unwrap();
    let certificates = TestCertificates::make_in(dir.path()).unwrap();
    let postgres = TlsPostgres::start(dir.path());
    let database_url = fresh_postgres_database(&postgres.url).unwrap();
    let database = database_url.rsplit('/').next().unwrap().to_owned();
    let verified = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        database_url.replace("127.0.0.1", "localhost"),
        certificates.authority.display()
    );

    let server = ServerProcess::start_on_postgres(&verified).unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    let (case, record) = amara.case_with_visit("North client", "Plan.").unwrap();
    amara.sync().await.unwrap();
    let mut tablet = Device::sign_in(&server, "amara").await.unwrap();
    tablet.sync().await.unwrap();
    assert_eq!(tablet.record_ids(case).unwrap(), vec![record]);
    let (encrypted, plain) = connections(&postgres.url, &database);
    assert!(encrypted > 0, "the server holds no encrypted connection");
    assert_eq!(plain, 0, "the server holds a connection in the clear");
    assert!(!server.log().contains("may be in the clear"));
    drop(server);

    // A database whose certificate another authority signed: a machine posing as it.
    let elsewhere = tempfile::TempDir::new().unwrap();
    let stranger = TestCertificates::make_in(elsewhere.path()).unwrap();
    let posing = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        database_url,
        stranger.authority.display()
    );
    let refused = admin(dir.path(), Some(&posing), &["admin", "user", "list"], "").unwrap_err();
    let refused = refused.to_string();
    assert!(refused.contains("certificate"), "{refused}");
    // `require` encrypts without asking whose certificate it is, as libpq's does.
    let required = format!("{database_url}?sslmode=require");
    let users = admin(dir.path(), Some(&required), &["admin", "user", "list"], "").unwrap();
    assert!(users.contains("amara"));
}

#[test]
fn a_connection_that_may_be_in_the_clear_to_another_machine_is_warned_about() {
    let dir = tempfile::TempDir::new().unwrap();
    // An address reserved for documentation: the connection fails after the warning.
    let plain = "postgres://doorstep@192.0.2.10:5432/doorstep?connect_timeout=1";
    let failed = admin(dir.path(), Some(plain), &["admin", "user", "list"], "")
        .unwrap_err()
        .to_string();
    assert!(
        failed.contains("may be in the clear") && failed.contains("192.0.2.10"),
        "{failed}"
    );
    let local = "postgres://doorstep@127.0.0.1:1/doorstep?sslmode=disable&connect_timeout=1";
    let failed = admin(dir.path(), Some(local), &["admin", "user", "list"], "")
        .unwrap_err()
        .to_string();
    assert!(!failed.contains("may be in the clear"), "{failed}");
}
