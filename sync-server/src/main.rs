//! `doorstep-sync-server`: serve devices, and administer users, teams, cases and devices.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use doorstep_shared::document::{Document, Edit, Writer};
use doorstep_shared::sync::protocol::{DocChanges, Heads, Push};
use doorstep_shared::sync::validate::PushLimits;
use doorstep_shared::{CaseId, DocId, UserId};
use doorstep_sync_server::proxies::{ForwardedHeader, TrustedProxies};
use doorstep_sync_server::settings::FileSettings;
use doorstep_sync_server::storage::postgres::PostgresStorage;
use doorstep_sync_server::storage::sqlite::SqliteStorage;
use doorstep_sync_server::storage::{AuditEntry, Device, Storage, TeamRole};
use doorstep_sync_server::{Limits, Site, auth};
use tracing_subscriber::EnvFilter;

/// Doorstep's sync server.
///
/// Settings come from, in rising order: defaults, the file given with --config, DOORSTEP_*
/// environment variables, and the command line.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// A TOML settings file (keys: listen, data_dir, database, max_body_bytes,
    /// request_timeout_secs, bodies_in_memory_bytes, header_timeout_secs, keep_alive_secs,
    /// body_idle_timeout_secs, sign_ins_per_minute, max_push_bytes, max_push_operations,
    /// token_idle_days, audit_retention_days, web_root, allowed_origins, trusted_proxies,
    /// client_address_header).
    #[arg(long, global = true, env = "DOORSTEP_CONFIG")]
    config: Option<PathBuf>,
    /// Folder of the embedded database [default: ./doorstep-data].
    #[arg(long, global = true, env = "DOORSTEP_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// `sqlite` for the embedded database in the data folder (the default), or a
    /// `postgres://user:password@host/database` URL.
    #[arg(long, global = true, env = "DOORSTEP_DATABASE")]
    database: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve devices until Ctrl-C or SIGTERM.
    Serve {
        /// Address and port to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "DOORSTEP_LISTEN")]
        listen: Option<SocketAddr>,
        /// A folder with the web app's build, served at `/` beside the API.
        #[arg(long, env = "DOORSTEP_WEB_ROOT")]
        web_root: Option<PathBuf>,
        /// A web origin whose pages may call the API (for an app hosted elsewhere);
        /// repeat, or separate with commas.
        #[arg(
            long = "allow-origin",
            env = "DOORSTEP_ALLOW_ORIGINS",
            value_delimiter = ','
        )]
        allowed_origins: Vec<String>,
    },
    /// Administer users, teams, cases and devices.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Debug, Subcommand)]
enum Admin {
    /// Users.
    #[command(subcommand)]
    User(UserCommand),
    /// Teams.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Cases.
    #[command(subcommand)]
    Case(CaseCommand),
    /// Devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// The audit log: print it (who, from which device and address, which case, what, when,
    /// in UTC), export it, prune it.
    Audit {
        #[command(subcommand)]
        command: Option<AuditCommand>,
    },
    /// Attachments' blobs: erase one, collect those no record names.
    #[command(subcommand)]
    Attachment(AttachmentCommand),
    /// Records as they leave: a record as a PDF, for a court or the client; a case as a zip
    /// for a subject access request.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Agency figures as CSV, to standard output or a file: visits (per worker per week),
    /// timeliness (visit end, writing began, finalised; per worker and team), overdue (notes
    /// waiting for their author), goals (progress on each), attendance (group registers),
    /// research (de-identified: no names, no free text, pseudonymous ids, months).
    Report {
        /// visits, timeliness, overdue, goals, attendance or research.
        #[arg(value_parser = parse_report)]
        report: doorstep_sync_server::export::reports::Report,
        /// The team whose cases it covers.
        #[arg(long)]
        team: String,
        /// Records due from this date (the end of their visit, or when writing began).
        #[arg(long, value_parser = parse_cutoff)]
        since: chrono::DateTime<chrono::Utc>,
        /// Hours a record may wait for its author after the visit before it is overdue.
        #[arg(long, default_value_t = 48)]
        overdue_after_hours: i64,
        /// The file to write (it must not exist yet) [default: standard output].
        #[arg(long)]
        to: Option<PathBuf>,
    },
    /// Fold long change logs into snapshots now (`serve` also does it every ten minutes).
    Compact {
        /// Fold documents with at least this many log rows.
        #[arg(long, default_value_t = COMPACT_MIN_ROWS)]
        min_rows: usize,
    },
    /// Write a consistent copy of the embedded database to a new file, while serving, and
    /// its attachments to a folder beside it (`<file>.blobs`). (On PostgreSQL, use pg_dump:
    /// attachments are in the database.)
    Backup {
        /// The file to write; it must not exist yet.
        to: PathBuf,
    },
    /// Make a fresh data folder's database from a backup, and mark it restored.
    /// (On PostgreSQL, restore with pg_restore, then run `admin mark-restored`.)
    Restore {
        /// A file written by `admin backup`.
        from: PathBuf,
    },
    /// Tell devices the database was restored from a backup: at their next sync each sends
    /// all it holds again, so that nothing the backup lacks is lost.
    MarkRestored,
}

/// Connections each server process keeps to PostgreSQL.
const POSTGRES_CONNECTIONS: u32 = 16;

/// Days the audit log keeps an entry unless the settings say otherwise: six years.
const AUDIT_RETENTION_DAYS: u64 = 6 * 365;

/// A document's log is folded once it has this many rows.
const COMPACT_MIN_ROWS: usize = 64;

#[derive(Debug, Subcommand)]
enum AttachmentCommand {
    /// Erase an attachment's bytes, on the server now and on every device at its next sync
    /// (a subject's right to erasure, a photo taken by mistake). Each record that attached it
    /// keeps a tombstone: "removed on <date> by <admin>: <reason>".
    Erase {
        /// The attachment's SHA-256, as the record's history shows it.
        hash: String,
        /// Why, in words a court may read.
        #[arg(long)]
        reason: String,
        /// The administrator's name for the tombstone [default: the login name].
        #[arg(long)]
        by: Option<String>,
    },
    /// Delete the bytes of attachments no record has named for the grace period (`serve`
    /// does this every ten minutes).
    Collect {
        /// Days an attachment no record names is kept.
        #[arg(long)]
        grace_days: Option<u64>,
    },
}

/// Days an attachment's bytes are kept once no record names them, unless the settings say
/// otherwise: long enough for a device that was offline to send the record that names it.
const BLOB_GRACE_DAYS: u64 = 30;

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// Write a record as a PDF: as signed, then its addenda, attachments, review, timeliness
    /// and history, with the hashes that let two copies be compared (PDF/A-3b, the record's
    /// data attached as JSON). The same record always gives the same bytes.
    Record {
        /// The record's id.
        record: String,
        /// The file to write; it must not exist yet.
        #[arg(long)]
        to: PathBuf,
    },
    /// Write a case for a subject access request: a zip of the case file and every record,
    /// each as a PDF and as JSON (docs/export-schema.json), the attachments, and a manifest
    /// with each file's SHA-256.
    Case {
        /// The case's id.
        case: String,
        /// The file to write (a .zip); it must not exist yet.
        #[arg(long)]
        to: PathBuf,
        /// A third party's name to replace by [redacted] in every file (again for each name).
        #[arg(long = "redact", value_name = "NAME")]
        redact: Vec<String>,
        /// A file of names to redact, one a line.
        #[arg(long, value_name = "FILE")]
        redact_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Write the entries from before a date to standard output, one JSON object a line.
    Export {
        /// A date (2026-01-31, midnight UTC) or a time (RFC 3339).
        #[arg(long, value_parser = parse_cutoff)]
        before: chrono::DateTime<chrono::Utc>,
    },
    /// Delete the entries from before a date (export them first if they must be kept).
    Prune {
        /// A date (2026-01-31, midnight UTC) or a time (RFC 3339).
        #[arg(long, value_parser = parse_cutoff)]
        before: chrono::DateTime<chrono::Utc>,
    },
}

fn parse_report(name: &str) -> Result<doorstep_sync_server::export::reports::Report, String> {
    name.parse()
}

/// A date (midnight UTC at its start) or an RFC 3339 time.
fn parse_cutoff(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&chrono::Utc))
        .map_err(|_| format!("{text:?} is neither a date (2026-01-31) nor an RFC 3339 time"))
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from the first line of standard input.
    Create {
        /// User name: lowercase letters, digits, '.', '_', '-'.
        user: String,
    },
    /// List users with their teams and active devices.
    List,
    /// Set a new password, read from the first line of standard input; unlocks the account
    /// and revokes the user's devices (a password someone else learnt may have signed one
    /// in), which wipe themselves at their next sync.
    ResetPassword {
        /// User name.
        user: String,
        /// Keep the user's devices signed in: for a password forgotten, not one that may
        /// have been learnt by someone else. A revoked device loses the notes it had not yet
        /// synced.
        #[arg(long)]
        keep_devices: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TeamCommand {
    /// Create a team.
    Create {
        /// Team name.
        team: String,
    },
    /// Add a user to a team, or change their role on it.
    Add {
        /// Team name.
        team: String,
        /// User name.
        user: String,
        /// Their role.
        #[arg(long, value_enum, default_value = "worker")]
        role: Role,
    },
    /// Take a user off a team; their devices purge the team's cases at the next sync.
    Remove {
        /// Team name.
        team: String,
        /// User name.
        user: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Role {
    Worker,
    Colleague,
    Supervisor,
}

#[derive(Debug, Subcommand)]
enum CaseCommand {
    /// Open a case at the office (intake) for a worker: it goes to the worker's team and
    /// reaches their devices at their next sync.
    Open {
        /// The client's name.
        client: String,
        /// The worker who will hold the case.
        #[arg(long = "for")]
        worker: String,
        /// The presenting problem, as taken at intake.
        #[arg(long, default_value = "")]
        presenting_problem: String,
    },
    /// Put a case in a team's care.
    Assign {
        /// The case's id.
        case: String,
        /// Team name.
        team: String,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// List the devices signed in, with their ids, oldest first.
    List {
        /// Only this user's devices.
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a device: its token stops working and it wipes itself at its next sync.
    Revoke {
        /// The device's id, as `admin device list` and the audit log show it.
        device: String,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(log_filter(std::env::var("RUST_LOG").ok().as_deref()))
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("doorstep-sync-server: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let file = match &cli.global.config {
        Some(path) => FileSettings::read(path)?,
        None => FileSettings::default(),
    };
    let database = Database::from_settings(&cli.global, &file)?;
    if let Command::Admin(Admin::Restore { from }) = &cli.command {
        return restore(&database, from);
    }
    let mut push_limits = PushLimits::default();
    if let Some(bytes) = file.max_push_bytes {
        push_limits.max_decoded_bytes = bytes;
    }
    if let Some(operations) = file.max_push_operations {
        push_limits.max_operations = operations;
    }
    let storage = database.open(push_limits)?;
    match cli.command {
        Command::Serve {
            listen,
            web_root,
            allowed_origins,
        } => {
            let listen = listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
            let mut limits = Limits::default();
            if let Some(max) = file.max_body_bytes {
                limits.max_body_bytes = max;
            }
            if let Some(seconds) = file.request_timeout_secs {
                limits.request_timeout = std::time::Duration::from_secs(seconds);
            }
            if let Some(bytes) = file.bodies_in_memory_bytes {
                limits.bodies_in_memory_bytes = bytes;
            }
            if let Some(seconds) = file.header_timeout_secs {
                limits.header_timeout = std::time::Duration::from_secs(seconds);
            }
            if let Some(seconds) = file.keep_alive_secs {
                limits.keep_alive = std::time::Duration::from_secs(seconds);
            }
            if let Some(seconds) = file.body_idle_timeout_secs {
                limits.body_idle_timeout = std::time::Duration::from_secs(seconds);
            }
            let header = match &file.client_address_header {
                Some(name) => name.parse().map_err(anyhow::Error::msg)?,
                None => ForwardedHeader::default(),
            };
            limits.trusted_proxies = TrustedProxies::new(&file.trusted_proxies, header)
                .map_err(anyhow::Error::msg)
                .context("the trusted_proxies setting")?;
            if let Some(days) = file.token_idle_days {
                limits.token_idle = std::time::Duration::from_secs(days * 24 * 60 * 60);
            }
            let audit_retention_days = file.audit_retention_days.unwrap_or(AUDIT_RETENTION_DAYS);
            if let Some(attempts) = file.sign_ins_per_minute {
                limits.sign_ins_per_minute = attempts;
            }
            if let Some(bytes) = file.max_blob_bytes {
                limits.max_blob_bytes = bytes;
            }
            let blob_grace_days = file.blob_grace_days.unwrap_or(BLOB_GRACE_DAYS);
            let mut site = Site {
                web_root: web_root.or(file.web_root),
                allowed_origins: file.allowed_origins,
            };
            site.allowed_origins.extend(allowed_origins);
            serve(
                listen,
                storage,
                limits,
                site,
                audit_retention_days,
                blob_grace_days,
            )
        }
        Command::Admin(admin) => administer(
            storage.as_ref(),
            admin,
            file.blob_grace_days.unwrap_or(BLOB_GRACE_DAYS),
        ),
    }
}

/// Where the server keeps its data.
enum Database {
    /// The embedded database: a file in the data folder.
    Sqlite { data_dir: PathBuf },
    /// A PostgreSQL server.
    Postgres { url: String },
}

impl Database {
    fn from_settings(global: &Global, file: &FileSettings) -> anyhow::Result<Database> {
        let database = global
            .database
            .clone()
            .or_else(|| file.database.clone())
            .unwrap_or_else(|| "sqlite".into());
        if database.starts_with("postgres://") || database.starts_with("postgresql://") {
            return Ok(Database::Postgres { url: database });
        }
        if database != "sqlite" {
            bail!("unsupported database setting: use `sqlite` or a postgres:// URL");
        }
        let data_dir = global
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("doorstep-data"));
        Ok(Database::Sqlite { data_dir })
    }

    fn sqlite_path(data_dir: &Path) -> PathBuf {
        data_dir.join("doorstep-server.db")
    }

    fn open(&self, push_limits: PushLimits) -> anyhow::Result<Arc<dyn Storage>> {
        match self {
            Database::Postgres { url } => {
                let storage = PostgresStorage::connect(url, POSTGRES_CONNECTIONS)
                    .context("connecting to PostgreSQL")?
                    .with_push_limits(push_limits);
                Ok(Arc::new(storage))
            }
            Database::Sqlite { data_dir } => {
                create_data_dir(data_dir)?;
                let path = Database::sqlite_path(data_dir);
                let storage = SqliteStorage::open(&path)
                    .with_context(|| format!("opening the database {}", path.display()))?
                    .with_push_limits(push_limits);
                Ok(Arc::new(storage))
            }
        }
    }
}

/// The demo team `scripts/run` seeds, and their password, which the README publishes.
const DEMO_USERS: [&str; 3] = ["amara", "ben", "grace"];
const DEMO_PASSWORD: &str = "doorstep-demo";

/// Says, loudly, if any demo account still signs in with the published password: such a
/// server must not hold real notes.
fn warn_of_demo_accounts(storage: &dyn Storage) {
    let open: Vec<&str> = DEMO_USERS
        .into_iter()
        .filter(|name| {
            let Ok(user) = name.parse::<UserId>() else {
                return false;
            };
            storage
                .credentials(&user)
                .ok()
                .flatten()
                .is_some_and(|credentials| {
                    auth::verify_password(Some(&credentials.password_hash), DEMO_PASSWORD)
                })
        })
        .collect();
    if !open.is_empty() {
        tracing::warn!(
            accounts = open.join(", "),
            "DEMO ACCOUNTS: these sign in with the demo password published in the README. \
             Serve no real notes from this server: reset their passwords or use another \
             database"
        );
    }
}

/// Creates the data folder, if there is none, readable by the server's user alone: it holds
/// every note.
fn create_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    if data_dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(data_dir)
        .with_context(|| format!("creating the data folder {}", data_dir.display()))
}

/// `admin restore`: the backup becomes the database of a data folder that has none, and is
/// marked restored so that devices send everything again.
fn restore(database: &Database, from: &Path) -> anyhow::Result<()> {
    let Database::Sqlite { data_dir } = database else {
        bail!(
            "on PostgreSQL, restore with pg_restore, then run `doorstep-sync-server admin mark-restored`"
        );
    };
    let path = Database::sqlite_path(data_dir);
    if path.exists() {
        bail!(
            "{} exists: restore into a fresh data folder (--data-dir), or move the database aside first",
            path.display()
        );
    }
    SqliteStorage::check_backup(from)
        .with_context(|| format!("{} is not a Doorstep backup", from.display()))?;
    create_data_dir(data_dir)?;
    // Into an owner-only file: `copy` would give it the backup's permissions.
    doorstep_sync_server::storage::sqlite::create_owner_only(&path)?;
    std::io::copy(
        &mut std::fs::File::open(from).with_context(|| format!("reading {}", from.display()))?,
        &mut std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .with_context(|| format!("writing {}", path.display()))?,
    )
    .with_context(|| format!("copying {}", from.display()))?;
    // The backup's attachments, from the folder `admin backup` wrote beside it.
    let backup_blobs = SqliteStorage::backup_blobs_dir(from);
    let blobs = SqliteStorage::blobs_dir(&path);
    let mut restored_blobs = 0;
    if backup_blobs.is_dir() {
        doorstep_sync_server::storage::blobs::FileBlobs::open(&blobs)?;
        for entry in std::fs::read_dir(&backup_blobs)
            .with_context(|| format!("reading {}", backup_blobs.display()))?
        {
            let entry = entry?;
            let name = entry.file_name();
            let Some(hash) = name
                .to_str()
                .and_then(|name| name.parse::<doorstep_shared::attachments::BlobHash>().ok())
            else {
                continue;
            };
            // Checked on the way in, as every blob is on arrival.
            let found = doorstep_sync_server::storage::blobs::hash_of_file(&entry.path())?;
            if found != hash {
                bail!(
                    "{} does not have its hash: the backup is damaged",
                    entry.path().display()
                );
            }
            std::fs::copy(entry.path(), blobs.join(hash.to_string()))
                .with_context(|| format!("copying {}", entry.path().display()))?;
            restored_blobs += 1;
        }
    }
    let storage = SqliteStorage::open(&path)
        .with_context(|| format!("opening the restored database {}", path.display()))?;
    storage.mark_restored()?;
    println!("restored {restored_blobs} attachments");
    println!(
        "restored {} into {}; devices will send all they hold at their next sync",
        from.display(),
        path.display()
    );
    Ok(())
}

fn serve(
    listen: SocketAddr,
    storage: Arc<dyn Storage>,
    limits: Limits,
    site: Site,
    audit_retention_days: u64,
    blob_grace_days: u64,
) -> anyhow::Result<()> {
    warn_of_demo_accounts(storage.as_ref());
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        tracing::info!(address = %listener.local_addr()?, "serving");
        tokio::spawn(compact_periodically(
            storage.clone(),
            grace(blob_grace_days),
        ));
        if audit_retention_days > 0 {
            tokio::spawn(prune_audit_daily(storage.clone(), audit_retention_days));
        }
        doorstep_sync_server::launch(listener, storage, &limits, &site, shutdown_signal())
            .await
            .context("serving")
    })
}

/// Writes a new case as the worker's own document, pushed through the same validation as a
/// device's, from a device registered for the purpose whose token nobody is ever given.
fn open_case(
    storage: &dyn Storage,
    worker: &UserId,
    client: &str,
    presenting_problem: &str,
) -> anyhow::Result<CaseId> {
    let (_, token_hash) = auth::new_token()?;
    let device = storage.create_device(worker, "intake at the office", &token_hash)?;
    let device = Device {
        id: device,
        user: worker.clone(),
        revoked: false,
        last_used: None,
        address: None,
    };
    let writer = Writer::new_device(worker.clone());
    let id = CaseId::random();
    let now = chrono::Utc::now();
    let mut document = Document::new_case(&writer, id, client, now)?;
    if !presenting_problem.is_empty() {
        document.edit(
            &writer,
            &Edit::text("presenting_problem", presenting_problem),
            now,
        )?;
    }
    let heads = document.heads();
    let push = Push {
        changes: DocChanges {
            doc: DocId::Case(id),
            case_id: id,
            changes: document.changes_after(&[]),
        },
        heads: Heads::from_hashes(&heads),
    };
    storage.push(&device, &[push])?;
    Ok(id)
}

fn administer(storage: &dyn Storage, admin: Admin, blob_grace_days: u64) -> anyhow::Result<()> {
    let user_id = |name: &str| -> anyhow::Result<UserId> {
        name.parse()
            .with_context(|| format!("{name:?} is not a valid user name"))
    };
    match admin {
        Admin::User(UserCommand::Create { user }) => {
            let user = user_id(&user)?;
            if user.as_str() == UserId::ADMINISTRATOR {
                bail!(
                    "{user} is the name the server's own changes are written under: choose another"
                );
            }
            let hash = auth::hash_password(&read_new_password(&user)?)?;
            storage.create_user(&user, &hash)?;
            storage.audit(admin_entry(&user, "user_created"))?;
            println!("created user {user}");
        }
        Admin::User(UserCommand::List) => {
            for row in storage.list_users()? {
                println!(
                    "{}\tteams: {}\tactive devices: {}",
                    row.user,
                    row.teams.join(","),
                    row.active_devices
                );
            }
        }
        Admin::User(UserCommand::ResetPassword { user, keep_devices }) => {
            let user = user_id(&user)?;
            let hash = auth::hash_password(&read_new_password(&user)?)?;
            storage.set_password(&user, &hash)?;
            storage.audit(admin_entry(&user, "password_reset"))?;
            println!("password of {user} reset; the account is unlocked");
            if !keep_devices {
                for device in storage.list_devices(Some(&user))? {
                    if device.revoked_at.is_none() {
                        storage.revoke_device(&device.id)?;
                        storage.audit(admin_entry(&user, "device_revoked"))?;
                        println!(
                            "revoked device {} ({}, last synced {})",
                            device.id,
                            printable(&device.name),
                            device.last_used_at.as_deref().unwrap_or("never")
                        );
                    }
                }
            }
        }
        Admin::Team(TeamCommand::Create { team }) => {
            storage.create_team(&team)?;
            println!("created team {team}");
        }
        Admin::Team(TeamCommand::Add { team, user, role }) => {
            let role = match role {
                Role::Worker => TeamRole::Worker,
                Role::Colleague => TeamRole::Colleague,
                Role::Supervisor => TeamRole::Supervisor,
            };
            storage.add_member(&team, &user_id(&user)?, role)?;
            println!("{user} is on team {team} as {}", role.as_str());
        }
        Admin::Team(TeamCommand::Remove { team, user }) => {
            storage.remove_member(&team, &user_id(&user)?)?;
            println!("{user} is off team {team}");
        }
        Admin::Case(CaseCommand::Open {
            client,
            worker,
            presenting_problem,
        }) => {
            let case = open_case(storage, &user_id(&worker)?, &client, &presenting_problem)?;
            println!("case {case} opened for {worker}");
        }
        Admin::Case(CaseCommand::Assign { case, team }) => {
            let case: CaseId = case.parse().context("not a case id")?;
            storage.assign_case(case, &team)?;
            println!("case {case} is with team {team}");
        }
        Admin::Backup { to } => {
            storage.backup(&to)?;
            println!("backed up to {}", to.display());
        }
        Admin::Restore { .. } => bail!("a restore is made before the database is opened"),
        Admin::MarkRestored => {
            storage.mark_restored()?;
            println!("marked restored: devices will send all they hold at their next sync");
        }
        Admin::Device(DeviceCommand::List { user }) => {
            let user = user.as_deref().map(user_id).transpose()?;
            for device in storage.list_devices(user.as_ref())? {
                let state = match &device.revoked_at {
                    Some(at) => format!("revoked {at}"),
                    None => "active".to_owned(),
                };
                println!(
                    "{}\t{}\t{}\tsigned in {}\tlast synced {}\t{state}",
                    device.id,
                    device.user,
                    printable(&device.name),
                    device.signed_in_at,
                    device.last_used_at.as_deref().unwrap_or("never")
                );
            }
        }
        Admin::Device(DeviceCommand::Revoke { device }) => {
            storage.revoke_device(&device)?;
            println!("device {device} revoked");
        }
        Admin::Audit { command: None } => {
            let dash = || "-".to_owned();
            for (at, entry) in storage.audit_log()? {
                println!(
                    "{at}\t{}\t{}\t{}\t{}\t{}\t{}",
                    entry.user.map(|user| user.to_string()).unwrap_or_else(dash),
                    entry.device.unwrap_or_else(dash),
                    entry.address.as_deref().map_or_else(dash, printable),
                    entry.case.map(|case| case.to_string()).unwrap_or_else(dash),
                    printable(&entry.action),
                    printable(&entry.detail)
                );
            }
        }
        Admin::Audit {
            command: Some(AuditCommand::Export { before }),
        } => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for (at, entry) in storage.audit_entries(Some(before))? {
                let line = serde_json::json!({
                    "at": at,
                    "user": entry.user.map(|user| user.to_string()),
                    "device": entry.device,
                    "address": entry.address,
                    "case": entry.case.map(|case| case.to_string()),
                    "action": entry.action,
                    "detail": entry.detail,
                });
                writeln!(out, "{line}")?;
            }
            out.flush()?;
        }
        Admin::Audit {
            command: Some(AuditCommand::Prune { before }),
        } => {
            let pruned = storage.prune_audit(before)?;
            storage.audit(AuditEntry {
                user: None,
                device: None,
                case: None,
                action: "audit_pruned".to_owned(),
                detail: format!(
                    "{pruned} entries from before {before} deleted by an administrator"
                ),
                address: None,
            })?;
            println!("deleted {pruned} audit entries from before {before}");
        }
        Admin::Export(ExportCommand::Record { record, to }) => {
            let record: doorstep_shared::RecordId = record
                .parse()
                .map_err(|error| anyhow::anyhow!("{record:?} is not a record id: {error}"))?;
            let pdf = doorstep_sync_server::export::record_pdf(storage, record)?;
            write_new_file(&to, &pdf)?;
            storage.audit(AuditEntry {
                user: None,
                device: None,
                case: storage.document_case(&DocId::Record(record))?,
                action: "record_exported".to_owned(),
                detail: format!("{record} written to a file by an administrator"),
                address: None,
            })?;
            println!("wrote {} ({} bytes)", to.display(), pdf.len());
        }
        Admin::Export(ExportCommand::Case {
            case,
            to,
            mut redact,
            redact_file,
        }) => {
            let case: CaseId = case
                .parse()
                .map_err(|error| anyhow::anyhow!("{case:?} is not a case id: {error}"))?;
            if let Some(file) = redact_file {
                let names = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                redact.extend(names.lines().map(str::to_owned));
            }
            let redaction = doorstep_shared::export::redact::Redaction::new(&redact)?;
            let file = new_private_file(&to)?;
            let written = doorstep_sync_server::export::archive::case_archive(
                storage,
                case,
                &redaction,
                std::io::BufWriter::new(file),
            );
            let summary = match written {
                Ok(summary) => summary,
                Err(error) => {
                    let _ = std::fs::remove_file(&to);
                    return Err(error.into());
                }
            };
            std::fs::File::open(&to)?.sync_all()?;
            storage.audit(AuditEntry {
                user: None,
                device: None,
                case: Some(case),
                action: "case_exported".to_owned(),
                detail: format!(
                    "{} records and {} attachments written to a file by an administrator, {} \
                     names redacted",
                    summary.records,
                    summary.attachments,
                    redaction.names().count()
                ),
                address: None,
            })?;
            println!(
                "wrote {}: the case file, {} records, {} attachments{}",
                to.display(),
                summary.records,
                summary.attachments,
                match summary.withheld {
                    0 => String::new(),
                    withheld => format!(" ({withheld} withheld: see manifest.json)"),
                }
            );
        }
        Admin::Report {
            report,
            team,
            since,
            overdue_after_hours,
            to,
        } => {
            use doorstep_sync_server::export::reports;
            let cases = reports::load_team(storage, &team)?;
            let scope = reports::Scope {
                team: &team,
                since,
                now: chrono::Utc::now(),
                overdue_after: chrono::Duration::hours(overdue_after_hours),
            };
            let csv = reports::report(report, &cases, &scope).to_csv();
            match to {
                Some(path) => write_new_file(&path, csv.as_bytes())?,
                None => std::io::stdout().lock().write_all(csv.as_bytes())?,
            }
            storage.audit(AuditEntry {
                user: None,
                device: None,
                case: None,
                action: "report_exported".to_owned(),
                detail: format!("{report:?} for team {team} since {since}"),
                address: None,
            })?;
        }
        Admin::Compact { min_rows } => {
            let folded = storage.compact(min_rows)?;
            println!("compacted {folded} documents");
        }
        Admin::Attachment(AttachmentCommand::Erase { hash, reason, by }) => {
            let hash: doorstep_shared::attachments::BlobHash =
                hash.parse().map_err(|error| anyhow::anyhow!("{error}"))?;
            let reason = reason.trim();
            if reason.is_empty() {
                bail!("give the reason for the erasure with --reason: the record shows it");
            }
            let by = by
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "an administrator".into());
            let erasure = doorstep_shared::attachments::Erasure {
                at: chrono::Utc::now(),
                by: by.clone(),
                reason: reason.to_owned(),
            };
            let written = storage.erase_blob(&hash, &erasure)?;
            storage.audit(AuditEntry {
                user: None,
                device: None,
                case: None,
                action: "blob_erased".to_owned(),
                detail: format!("{hash} by {}", printable(&by)),
                address: None,
            })?;
            println!(
                "erased {hash}: {written} records now show \"{}\"; devices let go of it at their next sync",
                erasure.describe()
            );
        }
        Admin::Attachment(AttachmentCommand::Collect { grace_days }) => {
            let days = grace_days.unwrap_or(blob_grace_days);
            let collected = storage.collect_blobs(chrono::Utc::now(), grace(days))?;
            println!("deleted {collected} attachments no record has named for {days} days");
        }
    }
    Ok(())
}

fn grace(days: u64) -> chrono::Duration {
    chrono::Duration::days(i64::try_from(days).unwrap_or(i64::MAX / 86_400_000))
}

/// `text` with its control characters escaped, so that what a device or a client chose to
/// call itself shows as text and cannot move a terminal's cursor or rewrite its lines.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// An audit entry for an administrator's action on `user`'s account (never the password).
/// Writes `bytes` to a new file at `path`, readable by its owner alone: an export holds what
/// the records hold.
fn write_new_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = new_private_file(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// Creates a new file at `path`, readable by its owner alone; refuses if it exists.
fn new_private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))
}

fn admin_entry(user: &UserId, action: &str) -> AuditEntry {
    AuditEntry {
        user: Some(user.clone()),
        device: None,
        case: None,
        action: action.to_owned(),
        detail: "by an administrator".to_owned(),
        address: None,
    }
}

/// A new password for `user`, from the first line of standard input so that it never appears
/// in a command line, checked against the password rules.
fn read_new_password(user: &UserId) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    auth::check_new_password(user, &password)?;
    Ok(password)
}

/// What the server logs: `RUST_LOG` if set, else `info`. Automerge opens an info-level
/// span, its arguments formatted, for every document it loads: a seventh of a busy server's
/// time went to them. They stay quiet unless `RUST_LOG` names automerge itself.
fn log_filter(rust_log: Option<&str>) -> EnvFilter {
    let directives = rust_log.unwrap_or("info");
    let mut filter = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"));
    if !directives.contains("automerge") {
        filter = filter.add_directive("automerge=warn".parse().expect("a valid directive"));
    }
    filter
}

async fn compact_periodically(storage: Arc<dyn Storage>, blob_grace: chrono::Duration) {
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        interval.tick().await;
        let compacting = storage.clone();
        match tokio::task::spawn_blocking(move || compacting.compact(COMPACT_MIN_ROWS)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(folded)) => tracing::info!(folded, "compacted change logs"),
            Ok(Err(error)) => tracing::error!(%error, "compaction failed"),
            Err(error) => tracing::error!(%error, "compaction panicked"),
        }
        let collecting = storage.clone();
        let collected = tokio::task::spawn_blocking(move || {
            collecting.collect_blobs(chrono::Utc::now(), blob_grace)
        })
        .await;
        match collected {
            Ok(Ok(0)) => {}
            Ok(Ok(deleted)) => tracing::info!(deleted, "deleted attachments no record names"),
            Ok(Err(error)) => tracing::error!(%error, "collecting attachments failed"),
            Err(error) => tracing::error!(%error, "collecting attachments panicked"),
        }
    }
}

/// Deletes the audit log's entries older than `days`, at start and then once a day.
async fn prune_audit_daily(storage: Arc<dyn Storage>, days: u64) {
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(24 * 60 * 60));
    loop {
        interval.tick().await;
        let Some(before) = i64::try_from(days)
            .ok()
            .and_then(chrono::TimeDelta::try_days)
            .and_then(|age| chrono::Utc::now().checked_sub_signed(age))
        else {
            return;
        };
        let storage = storage.clone();
        match tokio::task::spawn_blocking(move || storage.prune_audit(before)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(pruned)) => {
                tracing::info!(pruned, days, "deleted audit entries past their retention")
            }
            Ok(Err(error)) => tracing::error!(%error, "pruning the audit log failed"),
            Err(error) => tracing::error!(%error, "pruning the audit log panicked"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automerge_spans_stay_quiet_unless_asked_for() {
        assert!(log_filter(None).to_string().contains("automerge=warn"));
        assert!(
            log_filter(Some("debug"))
                .to_string()
                .contains("automerge=warn")
        );
        let asked = log_filter(Some("info,automerge=trace")).to_string();
        assert!(asked.contains("automerge=trace") && !asked.contains("automerge=warn"));
    }
}
