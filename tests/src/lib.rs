//! End-to-end tests of Doorstep across real processes. The programs they drive live in
//! `src/bin`, the tests in `tests/`; this library holds what the tests share: a real sync
//! server process on loopback, administered through its own command line, devices with
//! real encrypted stores syncing over HTTP, and a proxy that makes the network between them
//! bad ([`faults`]), and Automerge changes no honest device would write ([`forge`]).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use doorstep_shared::document::{Edit, Occurrence};
use doorstep_shared::model::{RecordBody, RecordKind};
use doorstep_shared::store::{Passphrase, Store};
use doorstep_shared::sync::http::{SyncClient, SyncReport};
use doorstep_shared::{CaseId, RecordId};
use tempfile::TempDir;

pub mod bench;
pub mod faults;
pub mod forge;
pub mod tls;

/// The sync server's binary, built beside this test binary (`cargo build -p
/// doorstep-sync-server` builds it; the test command does so first).
pub fn server_binary() -> PathBuf {
    let mut dir = std::env::current_exe().expect("the test binary's path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let binary = dir.join(format!(
        "doorstep-sync-server{}",
        std::env::consts::EXE_SUFFIX
    ));
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p doorstep-sync-server` first",
        binary.display()
    );
    binary
}

/// A sync server process with its own data folder, killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    data: TempDir,
    database: Option<String>,
    log: Arc<Mutex<Vec<String>>>,
    /// Where it listens.
    pub address: SocketAddr,
}

impl ServerProcess {
    /// Starts a server on a fresh data folder.
    pub fn start() -> anyhow::Result<ServerProcess> {
        let data = TempDir::new()?;
        Self::start_in(data)
    }

    /// Starts a server on an existing data folder (to restart one).
    pub fn start_in(data: TempDir) -> anyhow::Result<ServerProcess> {
        Self::start_with(data, None)
    }

    /// Starts a server on a PostgreSQL database instead of the embedded one.
    pub fn start_on_postgres(url: &str) -> anyhow::Result<ServerProcess> {
        Self::start_with(TempDir::new()?, Some(url))
    }

    /// Starts a server on a fresh data folder with a settings file holding `settings` (TOML).
    pub fn start_with_settings(settings: &str) -> anyhow::Result<ServerProcess> {
        Self::start_configured(settings, None)
    }

    /// Starts a server with a settings file holding `settings` (TOML), on the PostgreSQL
    /// database at `postgres` if given, else on a fresh embedded one.
    pub fn start_configured(
        settings: &str,
        postgres: Option<&str>,
    ) -> anyhow::Result<ServerProcess> {
        let data = TempDir::new()?;
        std::fs::write(data.path().join("doorstep.toml"), settings)?;
        Self::start_with(data, postgres)
    }

    fn start_with(data: TempDir, database: Option<&str>) -> anyhow::Result<ServerProcess> {
        let mut command = Command::new(server_binary());
        command.arg("--data-dir").arg(data.path());
        let settings = data.path().join("doorstep.toml");
        if settings.exists() {
            command.arg("--config").arg(settings);
        }
        if let Some(url) = database {
            command.env("DOORSTEP_DATABASE", url);
        }
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting the sync server")?;
        let stderr = child.stderr.take().expect("piped");
        let (found, address) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = log.clone();
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.find("address=") {
                    let text = line[at + "address=".len()..]
                        .split_whitespace()
                        .next()
                        .unwrap_or("");
                    if let (Some(sender), Ok(address)) = (found.take(), text.parse::<SocketAddr>())
                    {
                        let _ = sender.send(address);
                    }
                }
                if std::env::var_os("DOORSTEP_TEST_SERVER_LOG").is_some() {
                    eprintln!("server: {line}");
                }
                lines.lock().unwrap().push(line);
            }
        });
        let address = address
            .recv_timeout(Duration::from_secs(30))
            .context("the server did not say where it listens")?;
        Ok(ServerProcess {
            child,
            data,
            database: database.map(str::to_owned),
            log,
            address,
        })
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The base URL devices use.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// Runs an admin command against this server's data, with `stdin` as its input.
    pub fn admin(&self, args: &[&str], stdin: &str) -> anyhow::Result<String> {
        admin(self.data.path(), self.database.as_deref(), args, stdin)
    }

    /// Kills the server with SIGKILL and hands back its data folder.
    pub fn kill(mut self) -> TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.data, TempDir::new().expect("a temp dir"))
    }

    /// Creates a team with users on it, each with the password `password-<user>`.
    pub fn team(&self, team: &str, members: &[(&str, &str)]) -> anyhow::Result<()> {
        self.admin(&["admin", "team", "create", team], "")?;
        for (user, role) in members {
            let _ = self.admin(
                &["admin", "user", "create", user],
                &format!("password-{user}\n"),
            );
            self.admin(&["admin", "team", "add", team, user, "--role", role], "")?;
        }
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `doorstep-sync-server --data-dir <data> <args>` to completion, on `database` if
/// given.
pub fn admin(
    data: &Path,
    database: Option<&str>,
    args: &[&str],
    stdin: &str,
) -> anyhow::Result<String> {
    let mut command = Command::new(server_binary());
    if let Some(url) = database {
        command.env("DOORSTEP_DATABASE", url);
    }
    let mut child = command
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(stdin.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "admin {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Makes a fresh database on the PostgreSQL server at `url` (a URL of any database on it,
/// for administration) with `psql`, and returns its URL.
pub fn fresh_postgres_database(url: &str) -> anyhow::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("{error}"))?;
    let name: String = std::iter::once("doorstep_".to_owned())
        .chain(bytes.iter().map(|byte| format!("{byte:02x}")))
        .collect();
    let status = Command::new("psql")
        .args([url, "-qc", &format!("CREATE DATABASE {name}")])
        .status()
        .context("running psql")?;
    if !status.success() {
        bail!("psql could not create database {name}");
    }
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

/// A worker's device: an encrypted store and a client signed in to the server.
#[derive(Debug)]
pub struct Device {
    _dir: TempDir,
    /// The device's store.
    pub store: Store,
    /// Its connection to the server.
    pub client: SyncClient,
    /// Its id on the server.
    pub device_id: String,
}

impl Device {
    /// Signs `user` in on a new device (password `password-<user>`).
    pub async fn sign_in(server: &ServerProcess, user: &str) -> anyhow::Result<Device> {
        let dir = TempDir::new()?;
        let mut store = Store::open(
            dir.path().join("device.db"),
            &Passphrase::new("device passphrase"),
        )?;
        store.sign_in(user.parse()?)?;
        let mut client = SyncClient::new(&server.url())?;
        let signed_in = client
            .sign_in(user, &format!("password-{user}"), "test device")
            .await?;
        Ok(Device {
            _dir: dir,
            store,
            client,
            device_id: signed_in.device_id,
        })
    }

    /// Opens a case for `client` with one home-visit note whose plan is `plan`.
    pub fn case_with_visit(
        &mut self,
        client: &str,
        plan: &str,
    ) -> anyhow::Result<(CaseId, RecordId)> {
        let case = self.store.create_case(client, Utc::now())?;
        let record = self.record_with_plan(case, RecordKind::HomeVisit, plan)?;
        Ok((case, record))
    }

    /// Writes a new record of `kind` on `case` whose plan is `plan`.
    pub fn record_with_plan(
        &mut self,
        case: CaseId,
        kind: RecordKind,
        plan: &str,
    ) -> anyhow::Result<RecordId> {
        let record = self
            .store
            .create_record(case, kind, just_visited(), Utc::now())?;
        self.store
            .edit(record, &Edit::text("plan", plan), Utc::now())?;
        Ok(record)
    }

    /// The ids of the records of `case` on this device, in the store's order (a record held
    /// twice would show twice).
    pub fn record_ids(&self, case: CaseId) -> anyhow::Result<Vec<RecordId>> {
        Ok(self
            .store
            .records_of_case(case)?
            .into_iter()
            .map(|record| record.id)
            .collect())
    }

    /// The plan of a home-visit note or case note.
    pub fn plan(&mut self, record: RecordId) -> anyhow::Result<String> {
        match self.store.record(record)?.body {
            RecordBody::HomeVisit(note) => Ok(note.plan),
            RecordBody::CaseNote(note) => Ok(note.plan),
            other => bail!("{:?} has no plan", other.kind()),
        }
    }

    /// Reconnects to the server at `url` with the same device token (the server moved).
    pub fn reconnect(&mut self, url: &str) -> anyhow::Result<()> {
        let token = self.client.token().context("not signed in")?.to_owned();
        self.client = SyncClient::new(url)?.with_token(token);
        Ok(())
    }

    /// Syncs until nothing is left to push or pull.
    pub async fn sync(&mut self) -> anyhow::Result<SyncReport> {
        Ok(self.client.sync(&mut self.store).await?)
    }
}

/// A visit that ended a few minutes ago, after an hour: the times a worker enters before
/// submitting.
pub fn just_visited() -> Occurrence {
    let now = Utc::now();
    Occurrence::between(
        now - chrono::Duration::minutes(65),
        now - chrono::Duration::minutes(5),
    )
}
