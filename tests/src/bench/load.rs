//! Many devices syncing against one server at once.
//!
//! Each simulated device is a tokio task in this process (the server is another process):
//! a signed-in device token, its own HTTP client, and one home-visit note it writes, held
//! as an Automerge document in memory. Devices are in teams; a team shares one case, so
//! each device's sync carries its own edit up and brings its teammates' edits down.
//!
//! Devices sync either steadily, each every few seconds as the app does while its worker
//! types, or in bursts, all at the same instant ([`Pattern`]). Each sync carries one new
//! edit up and brings teammates' edits down; it is one round trip or more (until the server
//! says nothing more waits). Latency is per sync, from the request's first byte to the last
//! answer decoded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use automerge::ChangeHash;
use chrono::Utc;
use doorstep_shared::document::{Document, Edit, Occurrence, Writer};
use doorstep_shared::model::RecordKind;
use doorstep_shared::sync::http::{SyncClient, SyncError, SyncReport};
use doorstep_shared::sync::protocol::{Cursor, DocChanges, Heads, Push, SyncRequest};
use doorstep_shared::{CaseId, DocId, RecordId, UserId};
use tokio::sync::{Barrier, Mutex, Semaphore};

use super::{ProcessStats, human_duration, percentile};
use crate::ServerProcess;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Simulated devices.
    pub devices: usize,
    /// Devices per team (each team shares one case).
    pub team_size: usize,
    /// When devices sync.
    pub pattern: Pattern,
    /// A PostgreSQL server to run on (a fresh database is made on it); the embedded SQLite
    /// database if none.
    pub postgres: Option<String>,
}

/// When the simulated devices sync.
#[derive(Debug, Clone, Copy)]
pub enum Pattern {
    /// Each device edits and syncs every `every`, as the app does 2 s after an edit while
    /// its worker keeps typing; devices start at random moments within the first period.
    Steady {
        /// Between one device's syncs.
        every: Duration,
        /// How long the load lasts.
        lasting: Duration,
    },
    /// Every device edits, then all sync at the same instant, as after an outage ends for
    /// everyone at once; `rounds` times, a second apart.
    Burst {
        /// How many times.
        rounds: usize,
    },
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pattern::Steady { every, lasting } => write!(
                f,
                "each every {} s for {} s",
                every.as_secs_f64(),
                lasting.as_secs()
            ),
            Pattern::Burst { rounds } => write!(f, "all at once, {rounds} times"),
        }
    }
}

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// `SQLite` or `PostgreSQL`.
    pub database: &'static str,
    /// The options it ran with.
    pub options: LoadOptions,
    /// Syncs that completed.
    pub syncs: usize,
    /// Syncs that failed, by any error.
    pub errors: usize,
    /// Of those, connections refused, reset or timed out, and 429/503 answers.
    pub refused: usize,
    /// The first error seen, if any.
    pub first_error: Option<String>,
    /// Latency of each completed sync, sorted.
    pub latencies: Vec<Duration>,
    /// Time the load lasted: for bursts, from the start of each to its last answer, summed.
    pub busy: Duration,
    /// The server's CPU time over the rounds.
    pub server_cpu: Duration,
    /// This process's CPU time over the load: the simulated devices share the machine.
    pub devices_cpu: Duration,
    /// The server's peak resident memory during the rounds.
    pub server_peak_bytes: Option<u64>,
    /// Teammates' notes a device did not have in full after a last sync: should be none.
    pub missing_edits: usize,
}

impl LoadReport {
    /// Completed syncs per second of busy time.
    pub fn throughput(&self) -> f64 {
        self.syncs as f64 / self.busy.as_secs_f64().max(f64::EPSILON)
    }

    /// The report as a row of the load table in BENCHMARKS.md.
    pub fn row(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {:.0} syncs/s | {} | {} | {} | {} ({} refused) | {} | {:.1} s | {:.1} s | {} |",
            self.database,
            self.options.devices,
            self.options.pattern,
            self.syncs,
            self.throughput(),
            human_duration(percentile(&self.latencies, 0.5)),
            human_duration(percentile(&self.latencies, 0.99)),
            human_duration(self.latencies.last().copied().unwrap_or_default()),
            self.errors,
            self.refused,
            self.missing_edits,
            self.server_cpu.as_secs_f64(),
            self.devices_cpu.as_secs_f64(),
            megabytes(self.server_peak_bytes),
        )
    }
}

fn megabytes(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "—".to_owned(),
        |bytes| format!("{:.0} MB", bytes as f64 / 1e6),
    )
}

/// The load table's heading.
pub const TABLE_HEAD: &str = "| database | devices | syncing | syncs | throughput | p50 | p99 | max | errors | notes missing edits | server CPU | devices' CPU | server peak memory |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|";

/// One simulated device.
struct SimulatedDevice {
    client: SyncClient,
    writer: Writer,
    case: CaseId,
    record_id: RecordId,
    record: Document,
    /// The case's own document, pushed by the first member of each team.
    case_document: Option<Document>,
    acked: Vec<ChangeHash>,
    cursor: Cursor,
    edits: usize,
    /// Every change pulled, per document, in the order it came: applied only after the
    /// measured rounds, to check that each device got all its teammates' edits.
    received: HashMap<DocId, Vec<Vec<u8>>>,
}

impl SimulatedDevice {
    /// Writes one more sentence of the visit.
    fn edit(&mut self) -> anyhow::Result<()> {
        self.edits += 1;
        let text: String = (1..=self.edits)
            .map(|n| format!("Visit note, part {n}. "))
            .collect();
        self.record.edit(
            &self.writer,
            &Edit::text("observed_home", &text),
            Utc::now(),
        )?;
        Ok(())
    }

    /// Syncs: pushes what the server has not acknowledged, pulls until nothing more waits.
    async fn sync(&mut self) -> Result<(), SyncError> {
        // The load counts syncs and their latency, not bytes.
        let mut report = SyncReport::default();
        let mut pushes = Vec::new();
        if let Some(case_document) = self.case_document.as_mut() {
            let heads = case_document.heads();
            pushes.push(Push {
                changes: DocChanges {
                    doc: DocId::Case(self.case),
                    case_id: self.case,
                    changes: case_document.changes_after(&[]),
                },
                heads: Heads::from_hashes(&heads),
            });
        }
        let heads = self.record.heads();
        if heads != self.acked {
            pushes.push(Push {
                changes: DocChanges {
                    doc: DocId::Record(self.record_id),
                    case_id: self.case,
                    changes: self.record.changes_after(&self.acked),
                },
                heads: Heads::from_hashes(&heads),
            });
        }
        loop {
            let request = SyncRequest {
                cursor: self.cursor.clone(),
                pushes: std::mem::take(&mut pushes),
            };
            let response = self.client.exchange(&request, &mut report).await?;
            for ack in &response.acks {
                match ack.doc {
                    DocId::Record(_) => self.acked = ack.heads.to_hashes(),
                    DocId::Case(_) => self.case_document = None,
                }
            }
            for pull in response.pulls {
                self.received
                    .entry(pull.doc)
                    .or_default()
                    .push(pull.changes);
            }
            self.cursor = response.cursor;
            if !response.more {
                return Ok(());
            }
        }
    }
}

/// Runs the load and reports it.
pub async fn run(options: &LoadOptions) -> anyhow::Result<LoadReport> {
    anyhow::ensure!(options.devices > 0 && options.team_size > 0, "no devices");
    let database_url = match &options.postgres {
        Some(url) => Some(crate::fresh_postgres_database(url)?),
        None => None,
    };
    // Every device signs in from this one address within seconds.
    let server = ServerProcess::start_configured(
        "sign_ins_per_minute = 1000000\n",
        database_url.as_deref(),
    )?;
    let teams = options.devices.div_ceil(options.team_size);
    let started = Instant::now();
    let mut members = Vec::with_capacity(options.devices);
    for team in 0..teams {
        let name = format!("team-{team}");
        let users: Vec<String> = (0..options.team_size)
            .map(|member| team * options.team_size + member)
            .take_while(|n| *n < options.devices)
            .map(|n| format!("worker-{n}"))
            .collect();
        let roles: Vec<(&str, &str)> = users.iter().map(|user| (user.as_str(), "worker")).collect();
        server.team(&name, &roles)?;
        members.extend(users.into_iter().map(|user| (team, user)));
    }
    eprintln!(
        "{} users in {teams} teams made in {:.1} s",
        members.len(),
        started.elapsed().as_secs_f64()
    );

    let devices = sign_in_all(&server, &members).await?;
    eprintln!(
        "{} devices signed in; the server holds {}",
        devices.len(),
        megabytes(ProcessStats::of(server.pid()).resident_bytes())
    );

    // The first member of each team opens the case; then every device pushes its note and
    // pulls its teammates'.
    let (leaders, others): (Vec<_>, Vec<_>) = devices
        .into_iter()
        .partition(|device| device.case_document.is_some());
    let leaders = settle(leaders).await?;
    let others = settle(others).await?;
    let devices: Vec<Arc<Mutex<SimulatedDevice>>> = leaders
        .into_iter()
        .chain(others)
        .map(|device| Arc::new(Mutex::new(device)))
        .collect();
    for device in &devices {
        device.lock().await.sync().await?;
    }

    let stats = ProcessStats::of(server.pid());
    eprintln!(
        "every device synced once; the server holds {}",
        megabytes(stats.resident_bytes())
    );
    let cpu_before = stats.cpu();
    let devices_stats = ProcessStats::of(std::process::id());
    let devices_cpu_before = devices_stats.cpu();
    stats.reset_peak();
    let mut report = LoadReport {
        database: if options.postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        options: options.clone(),
        syncs: 0,
        errors: 0,
        refused: 0,
        first_error: None,
        latencies: Vec::new(),
        busy: Duration::ZERO,
        server_cpu: Duration::ZERO,
        devices_cpu: Duration::ZERO,
        server_peak_bytes: None,
        missing_edits: 0,
    };
    match options.pattern {
        Pattern::Burst { rounds } => burst(&devices, rounds, &stats, &mut report).await?,
        Pattern::Steady { every, lasting } => {
            steady(&devices, every, lasting, &mut report).await?;
        }
    }
    report.server_cpu = stats.cpu().saturating_sub(cpu_before);
    report.devices_cpu = devices_stats.cpu().saturating_sub(devices_cpu_before);
    report.server_peak_bytes = stats.peak_bytes();
    report.latencies.sort();
    report.missing_edits = missing_edits(&devices, options.team_size).await?;
    Ok(report)
}

impl LoadReport {
    /// Counts one sync's outcome.
    fn tally(&mut self, result: Result<(), SyncError>, latency: Duration) {
        match result {
            Ok(()) => {
                self.syncs += 1;
                self.latencies.push(latency);
            }
            Err(error) => {
                self.errors += 1;
                let refused = match &error {
                    SyncError::Network(_) => true,
                    SyncError::Server { status, .. } => matches!(status, 429 | 503),
                    _ => false,
                };
                self.refused += usize::from(refused);
                self.first_error.get_or_insert_with(|| error.to_string());
            }
        }
    }
}

/// Every device edits; then all sync at once; `rounds` times.
async fn burst(
    devices: &[Arc<Mutex<SimulatedDevice>>],
    rounds: usize,
    stats: &ProcessStats,
    report: &mut LoadReport,
) -> anyhow::Result<()> {
    for round in 0..rounds {
        for device in devices {
            device.lock().await.edit()?;
        }
        let barrier = Arc::new(Barrier::new(devices.len()));
        let round_started = Arc::new(std::sync::OnceLock::new());
        let tasks: Vec<_> = devices
            .iter()
            .map(|device| {
                let device = device.clone();
                let barrier = barrier.clone();
                let round_started = round_started.clone();
                tokio::spawn(async move {
                    let mut device = device.lock().await;
                    barrier.wait().await;
                    let started = *round_started.get_or_init(Instant::now);
                    let sent = Instant::now();
                    let result = device.sync().await;
                    let done = Instant::now();
                    (result, done - sent, done - started)
                })
            })
            .collect();
        let mut last = Duration::ZERO;
        for task in tasks {
            let (result, latency, since_start) = task.await?;
            last = last.max(since_start);
            report.tally(result, latency);
        }
        report.busy += last;
        eprintln!(
            "round {}: {} devices synced in {}; the server holds {}",
            round + 1,
            devices.len(),
            human_duration(last),
            megabytes(stats.resident_bytes())
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

/// Each device edits and syncs every `every`, from a random start, for `lasting`.
async fn steady(
    devices: &[Arc<Mutex<SimulatedDevice>>],
    every: Duration,
    lasting: Duration,
    report: &mut LoadReport,
) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    let end = started + lasting;
    // Start moments spread evenly at random, the same every run.
    let mut random = crate::faults::SplitMix(1);
    let tasks: Vec<_> = devices
        .iter()
        .map(|device| {
            let device = device.clone();
            let offset = every.mul_f64(random.below(1_000_000) as f64 / 1e6);
            tokio::spawn(async move {
                let mut device = device.lock().await;
                let mut outcomes = Vec::new();
                let mut next = started + offset;
                while next < end {
                    tokio::time::sleep_until(next).await;
                    device.edit()?;
                    let sent = Instant::now();
                    let result = device.sync().await;
                    outcomes.push((result, sent.elapsed()));
                    // The app waits after a sync ends, not on a fixed clock: a slow server
                    // is not sent more.
                    next = tokio::time::Instant::now().max(next) + every;
                }
                anyhow::Ok(outcomes)
            })
        })
        .collect();
    for task in tasks {
        for (result, latency) in task.await?? {
            report.tally(result, latency);
        }
    }
    report.busy = started.elapsed();
    Ok(())
}

/// After one more sync each, how many (device, teammate) pairs lack some of the teammate's
/// edits: each device loads what it pulled of each teammate's note and compares heads.
async fn missing_edits(
    devices: &[Arc<Mutex<SimulatedDevice>>],
    team_size: usize,
) -> anyhow::Result<usize> {
    for device in devices {
        device.lock().await.sync().await?;
    }
    let mut heads = HashMap::new();
    let mut teams: HashMap<CaseId, Vec<DocId>> = HashMap::new();
    for device in devices {
        let mut device = device.lock().await;
        let doc = DocId::Record(device.record_id);
        heads.insert(doc, device.record.heads());
        teams.entry(device.case).or_default().push(doc);
    }
    let mut missing = 0;
    for device in devices {
        let device = device.lock().await;
        let own = DocId::Record(device.record_id);
        let teammates = &teams[&device.case];
        anyhow::ensure!(teammates.len() <= team_size, "a team larger than asked");
        for doc in teammates.iter().filter(|doc| **doc != own) {
            let parts: Vec<&[u8]> = device
                .received
                .get(doc)
                .map(|parts| parts.iter().map(Vec::as_slice).collect())
                .unwrap_or_default();
            let mut copy = Document::load(&[], &parts)?;
            missing += usize::from(copy.heads() != heads[doc]);
        }
    }
    Ok(missing)
}

/// Signs every member in on a device of their own, a few at a time (each sign-in is a
/// deliberately slow password hash on the server).
async fn sign_in_all(
    server: &ServerProcess,
    members: &[(usize, String)],
) -> anyhow::Result<Vec<SimulatedDevice>> {
    let cases: Vec<CaseId> = (0..=members.last().map_or(0, |(team, _)| *team))
        .map(|_| CaseId::random())
        .collect();
    let permits = Arc::new(Semaphore::new(4));
    let tasks: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(n, (team, user))| {
            let url = server.url();
            let user = user.clone();
            let case = cases[*team];
            let leader = n == 0 || members[n - 1].0 != *team;
            let permits = permits.clone();
            tokio::spawn(async move {
                let _permit = permits.acquire().await?;
                let mut client = SyncClient::new(&url)?;
                client
                    .sign_in(&user, &format!("password-{user}"), "load device")
                    .await
                    .with_context(|| format!("signing in {user}"))?;
                let writer = Writer::new_device(user.parse::<UserId>()?);
                let now = Utc::now();
                let case_document = if leader {
                    Some(Document::new_case(
                        &writer,
                        case,
                        &format!("Family of {user}"),
                        now,
                    )?)
                } else {
                    None
                };
                let record_id = RecordId::random();
                let record = Document::new_record(
                    &writer,
                    record_id,
                    case,
                    RecordKind::HomeVisit,
                    Occurrence::default(),
                    now,
                )?;
                anyhow::Ok(SimulatedDevice {
                    client,
                    writer,
                    case,
                    record_id,
                    record,
                    case_document,
                    acked: Vec::new(),
                    cursor: Cursor::default(),
                    edits: 0,
                    received: HashMap::new(),
                })
            })
        })
        .collect();
    let mut devices = Vec::with_capacity(tasks.len());
    for task in tasks {
        devices.push(task.await??);
    }
    Ok(devices)
}

/// Syncs each device once, a few at a time, and hands them back.
async fn settle(devices: Vec<SimulatedDevice>) -> anyhow::Result<Vec<SimulatedDevice>> {
    let permits = Arc::new(Semaphore::new(16));
    let tasks: Vec<_> = devices
        .into_iter()
        .map(|mut device| {
            let permits = permits.clone();
            tokio::spawn(async move {
                let _permit = permits.acquire().await?;
                device.sync().await?;
                anyhow::Ok(device)
            })
        })
        .collect();
    let mut settled = Vec::with_capacity(tasks.len());
    for task in tasks {
        settled.push(task.await??);
    }
    Ok(settled)
}
