//! What the server leaves on disk is its own: the data folder, the database with its WAL, and
//! backups are readable by the server's user alone; the demo team is seeded only into a fresh
//! embedded database; and a server whose demo accounts still have the published password
//! says so loudly at start.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use doorstep_tests::{Device, ServerProcess, server_binary};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn the_data_folder_database_and_backups_are_readable_by_the_server_alone() {
    let parent = tempfile::TempDir::new().unwrap();
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = parent.path().join("doorstep-data");
    // A permissive umask, as a service manager may give: the files must not depend on it.
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 022 && {} --data-dir {} admin team create north",
            server_binary().display(),
            data.display()
        ))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(mode(&data), 0o700);
    let database = data.join("doorstep-server.db");
    assert_eq!(mode(&database), 0o600);

    let dir = tempfile::TempDir::new().unwrap();
    let server = ServerProcess::start_in(dir).unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    amara.case_with_visit("North client", "Plan.").unwrap();
    amara.sync().await.unwrap();
    let wal: PathBuf = server.data_dir().join("doorstep-server.db-wal");
    assert_eq!(mode(&wal), 0o600, "the WAL holds the latest notes");
    let backup = parent.path().join("backup.db");
    let said = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 022 && {} --data-dir {} admin backup {}",
            server_binary().display(),
            server.data_dir().display(),
            backup.display()
        ))
        .output()
        .unwrap();
    assert!(said.status.success(), "{said:?}");
    assert_eq!(mode(&backup), 0o600);
    let restored = parent.path().join("restored");
    let said = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 022 && {} --data-dir {} admin restore {}",
            server_binary().display(),
            restored.display(),
            backup.display()
        ))
        .output()
        .unwrap();
    assert!(said.status.success(), "{said:?}");
    assert_eq!(mode(&restored), 0o700);
    assert_eq!(mode(&restored.join("doorstep-server.db")), 0o600);
}

/// Runs `scripts/seed-demo` on `data` with `env`; returns what it said.
fn seed_demo(data: &Path, env: &[(&str, &str)]) -> String {
    let output = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/seed-demo"))
        .arg(server_binary())
        .env("DOORSTEP_DATA_DIR", data)
        .env_remove("DOORSTEP_DATABASE")
        .env_remove("DOORSTEP_CONFIG")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn users(data: &Path, database: Option<&str>) -> String {
    doorstep_tests::admin(data, database, &["admin", "user", "list"], "").unwrap()
}

#[test]
fn the_demo_team_is_seeded_only_into_a_fresh_embedded_database() {
    let fresh = tempfile::TempDir::new().unwrap();
    assert!(seed_demo(fresh.path(), &[]).contains("seeded the demo team"));
    assert!(users(fresh.path(), None).contains("amara"));
    // Again: it has users now.
    assert!(seed_demo(fresh.path(), &[]).contains("already has users"));

    // A configured server is not a demo.
    let configured = tempfile::TempDir::new().unwrap();
    let settings = configured.path().join("doorstep.toml");
    std::fs::write(&settings, "").unwrap();
    let said = seed_demo(
        configured.path(),
        &[("DOORSTEP_CONFIG", settings.to_str().unwrap())],
    );
    assert!(said.contains("not seeding"), "{said}");
    assert_eq!(users(configured.path(), None), "");

    // Nor is a PostgreSQL database, however empty.
    if let Ok(url) = std::env::var("DOORSTEP_TEST_POSTGRES_URL") {
        let database = doorstep_tests::fresh_postgres_database(&url).unwrap();
        let elsewhere = tempfile::TempDir::new().unwrap();
        let said = seed_demo(elsewhere.path(), &[("DOORSTEP_DATABASE", &database)]);
        assert!(said.contains("not seeding"), "{said}");
        assert_eq!(users(elsewhere.path(), Some(&database)), "");
    }
}

#[test]
fn a_server_whose_demo_accounts_keep_the_published_password_says_so_at_start() {
    let demo = tempfile::TempDir::new().unwrap();
    seed_demo(demo.path(), &[]);
    let server = ServerProcess::start_in(demo).unwrap();
    let log = server.log();
    assert!(
        log.contains("DEMO ACCOUNTS") && log.contains("amara, ben, grace"),
        "{log}"
    );
    // Once their passwords are changed, it is quiet.
    let data = server.kill();
    for user in ["amara", "ben", "grace"] {
        doorstep_tests::admin(
            data.path(),
            None,
            &["admin", "user", "reset-password", user],
            "a password of her own\n",
        )
        .unwrap();
    }
    let server = ServerProcess::start_in(data).unwrap();
    assert!(!server.log().contains("DEMO ACCOUNTS"), "{}", server.log());
}
