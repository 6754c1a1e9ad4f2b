//! The same four workloads against Doorstep's sync server and automerge-repo's:
//!
//! - `create`: one device writes N records and syncs them up;
//! - `pull`: a fresh device gets them all;
//! - `noop`: a device holding them all syncs again, with nothing new on either side;
//! - `edit_one`: one record among them is edited and synced.
//!
//! automerge-repo's side is `tests/automerge-repo/bench.mjs`: its websocket server with
//! nodefs storage in one Node process, each workload's device (a `Repo` with the websocket
//! client adapter and nodefs storage) in another. Each system's results are written to
//! `target/bench/side-by-side/<system>-<records>.json`, so one side can be run again without
//! the other; the table is drawn from whatever results are there.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use doorstep_shared::document::Edit;
use doorstep_shared::sync::http::SyncReport;
use serde::{Deserialize, Serialize};

use super::{ProcessStats, human_bytes, human_duration, write_records};
use crate::{Device, ServerProcess};

/// The workloads, in the order they run and are reported.
pub const WORKLOADS: [(&str, &str); 4] = [
    ("create", "(a) write N records and sync them up"),
    ("pull", "(b) a fresh device pulls them all"),
    ("noop", "(c) no-op re-sync"),
    ("edit_one", "(d) one record edited among N, synced"),
];

/// The systems compared.
pub const SYSTEMS: [&str; 2] = ["doorstep", "automerge-repo"];

/// One workload's figures on one system. A failed workload has `error` and whatever was
/// measured before it failed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outcome {
    /// Which workload.
    pub workload: String,
    /// Records in play.
    pub records: usize,
    /// From the first action to the last acknowledgement, in milliseconds.
    #[serde(default)]
    pub wall_ms: Option<f64>,
    /// Messages both ways: websocket messages, or HTTP requests and responses.
    #[serde(default)]
    pub messages: Option<u64>,
    /// Payload bytes the device sent.
    #[serde(default)]
    pub bytes_sent: Option<u64>,
    /// Payload bytes the device received.
    #[serde(default)]
    pub bytes_received: Option<u64>,
    /// The server's peak resident memory during the workload.
    #[serde(default)]
    pub server_peak_bytes: Option<u64>,
    /// Why the workload failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// One system's run at one size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// `doorstep` or `automerge-repo`.
    pub system: String,
    /// Records written.
    pub records: usize,
    /// Each workload's outcome.
    pub results: Vec<Outcome>,
}

/// Where results are kept: `target/bench/side-by-side/`.
pub fn results_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench/side-by-side")
}

fn results_file(system: &str, records: usize) -> PathBuf {
    results_dir().join(format!("{system}-{records}.json"))
}

/// Runs `system`'s workloads at `records`, and keeps the results.
pub async fn run(system: &str, records: usize) -> anyhow::Result<Run> {
    std::fs::create_dir_all(results_dir())?;
    let run = match system {
        "doorstep" => Run {
            system: system.to_owned(),
            records,
            results: doorstep(records).await,
        },
        "automerge-repo" => automerge_repo(records)?,
        other => anyhow::bail!("unknown system {other:?}: doorstep or automerge-repo"),
    };
    std::fs::write(
        results_file(system, records),
        serde_json::to_string_pretty(&run)?,
    )?;
    Ok(run)
}

/// Doorstep's workloads. A failure ends the run; it and every workload after it are reported
/// as failed.
async fn doorstep(records: usize) -> Vec<Outcome> {
    let mut results = Vec::new();
    if let Err(error) = doorstep_workloads(records, &mut results).await {
        let error = format!("{error:#}");
        for (workload, _) in WORKLOADS.iter().skip(results.len()) {
            results.push(Outcome {
                workload: (*workload).to_owned(),
                records,
                error: Some(error.clone()),
                ..Outcome::default()
            });
        }
    }
    results
}

async fn doorstep_workloads(records: usize, results: &mut Vec<Outcome>) -> anyhow::Result<()> {
    let server = ServerProcess::start()?;
    server.team("north", &[("amara", "worker"), ("ben", "worker")])?;
    let stats = ProcessStats::of(server.pid());
    let mut amara = Device::sign_in(&server, "amara").await?;

    stats.reset_peak();
    let started = Instant::now();
    let (ids, cases) = write_records(&mut amara, records)?;
    let report = amara.sync().await?;
    results.push(outcome(
        "create",
        records,
        started.elapsed(),
        &report,
        &stats,
    ));

    let mut ben = Device::sign_in(&server, "ben").await?;
    stats.reset_peak();
    let started = Instant::now();
    let report = ben.sync().await?;
    results.push(outcome("pull", records, started.elapsed(), &report, &stats));
    anyhow::ensure!(
        report.pulled == records + cases,
        "the fresh device got {} of {} documents",
        report.pulled,
        records + cases
    );

    stats.reset_peak();
    let started = Instant::now();
    let report = ben.sync().await?;
    results.push(outcome("noop", records, started.elapsed(), &report, &stats));

    stats.reset_peak();
    let started = Instant::now();
    amara.store.edit(
        ids[records / 2],
        &Edit::text("plan", "Call the GP."),
        Utc::now(),
    )?;
    let report = amara.sync().await?;
    results.push(outcome(
        "edit_one",
        records,
        started.elapsed(),
        &report,
        &stats,
    ));
    Ok(())
}

fn outcome(
    workload: &str,
    records: usize,
    wall: Duration,
    report: &SyncReport,
    stats: &ProcessStats,
) -> Outcome {
    Outcome {
        workload: workload.to_owned(),
        records,
        wall_ms: Some(wall.as_secs_f64() * 1e3),
        // Each round trip is a request and its response.
        messages: Some(2 * report.rounds as u64),
        bytes_sent: Some(report.bytes_sent as u64),
        bytes_received: Some(report.bytes_received as u64),
        server_peak_bytes: stats.peak_bytes(),
        error: None,
    }
}

/// The folder of automerge-repo's side: its package, server, device and driver.
fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("automerge-repo")
}

/// Runs `bench.mjs`, installing automerge-repo from npm first if it is not there.
fn automerge_repo(records: usize) -> anyhow::Result<Run> {
    let dir = peer_dir();
    if !dir.join("node_modules/@automerge/automerge-repo").exists() {
        // `npm install` from the lock file rather than `npm ci`: `cbor-extract` names
        // per-platform optional packages the lock file cannot hold when the registry
        // lacks them, and `npm ci` then refuses the lock file as out of date.
        // `--no-save` keeps the lock file as committed.
        let status = Command::new("npm")
            .args(["install", "--no-save", "--no-fund", "--no-audit"])
            .current_dir(&dir)
            .status()
            .context("running npm (automerge-repo's side needs Node.js and npm)")?;
        anyhow::ensure!(status.success(), "npm install failed in {}", dir.display());
    }
    let out = results_file("automerge-repo", records);
    let status = Command::new("node")
        .arg(dir.join("bench.mjs"))
        .args(["--records", &records.to_string(), "--out"])
        .arg(&out)
        .status()
        .context("running node")?;
    anyhow::ensure!(status.success(), "bench.mjs ended with {status}");
    let run: Run = serde_json::from_slice(&std::fs::read(&out)?)
        .with_context(|| format!("reading {}", out.display()))?;
    Ok(run)
}

/// The kept results of `system` at `records`, if it was run.
pub fn kept(system: &str, records: usize) -> Option<Run> {
    let bytes = std::fs::read(results_file(system, records)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// What the table compares.
#[derive(Debug, Clone, Copy)]
enum Measure {
    Wall,
    Bytes,
    Messages,
    ServerMemory,
}

impl Measure {
    const ALL: [Measure; 4] = [
        Measure::Wall,
        Measure::Bytes,
        Measure::Messages,
        Measure::ServerMemory,
    ];

    fn name(self) -> &'static str {
        match self {
            Measure::Wall => "wall time",
            Measure::Bytes => "bytes sent / received",
            Measure::Messages => "messages",
            Measure::ServerMemory => "server peak memory",
        }
    }

    /// The figure the ratio is taken of (bytes: both ways together).
    fn value(self, outcome: &Outcome) -> Option<f64> {
        match self {
            Measure::Wall => outcome.wall_ms,
            Measure::Bytes => Some((outcome.bytes_sent? + outcome.bytes_received?) as f64),
            Measure::Messages => outcome.messages.map(|m| m as f64),
            Measure::ServerMemory => outcome.server_peak_bytes.map(|b| b as f64),
        }
    }

    fn show(self, outcome: &Outcome) -> Option<String> {
        Some(match self {
            Measure::Wall => human_duration(Duration::from_secs_f64(outcome.wall_ms? / 1e3)),
            Measure::Bytes => format!(
                "{} / {}",
                human_bytes(outcome.bytes_sent?),
                human_bytes(outcome.bytes_received?)
            ),
            Measure::Messages => outcome.messages?.to_string(),
            Measure::ServerMemory => format!("{:.0} MB", outcome.server_peak_bytes? as f64 / 1e6),
        })
    }
}

/// The comparison at one size, as a Markdown table: each workload's wall time, bytes both
/// ways, messages and the server's peak memory on each system, and automerge-repo's figure
/// divided by Doorstep's. A failed workload shows its error.
pub fn table(records: usize, doorstep: Option<&Run>, automerge_repo: Option<&Run>) -> String {
    let mut out = format!(
        "| {records} records: workload | measure | Doorstep | automerge-repo | automerge-repo ÷ Doorstep |\n|---|---|---|---|---|\n"
    );
    let find = |run: Option<&Run>, workload: &str| {
        run.and_then(|run| run.results.iter().find(|r| r.workload == workload))
            .cloned()
    };
    for (workload, title) in WORKLOADS {
        let ours = find(doorstep, workload);
        let theirs = find(automerge_repo, workload);
        for (index, measure) in Measure::ALL.into_iter().enumerate() {
            let cell = |outcome: &Option<Outcome>| match outcome {
                None => "not run".to_owned(),
                Some(Outcome {
                    error: Some(error), ..
                }) if index == 0 => format!("**failed**: {error}"),
                Some(outcome) if outcome.error.is_some() => "—".to_owned(),
                Some(outcome) => measure.show(outcome).unwrap_or_else(|| "—".to_owned()),
            };
            let succeeded = |outcome: &Option<Outcome>| {
                outcome
                    .as_ref()
                    .filter(|outcome| outcome.error.is_none())
                    .and_then(|outcome| measure.value(outcome))
            };
            let ratio = match (succeeded(&ours), succeeded(&theirs)) {
                (Some(a), Some(b)) if a > 0.0 => format!("{:.1}×", b / a),
                _ => "—".to_owned(),
            };
            let label = if index == 0 { title } else { "" };
            out.push_str(&format!(
                "| {label} | {} | {} | {} | {ratio} |\n",
                measure.name(),
                cell(&ours),
                cell(&theirs)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(system: &str, wall_ms: f64, error: Option<&str>) -> Run {
        Run {
            system: system.to_owned(),
            records: 10,
            results: WORKLOADS
                .iter()
                .map(|(workload, _)| Outcome {
                    workload: (*workload).to_owned(),
                    records: 10,
                    wall_ms: Some(wall_ms),
                    messages: Some(2),
                    bytes_sent: Some(100),
                    bytes_received: Some(1_900),
                    server_peak_bytes: Some(50_000_000),
                    error: error.map(str::to_owned),
                })
                .collect(),
        }
    }

    #[test]
    fn the_table_gives_ratios_and_shows_failures() {
        let ours = run("doorstep", 10.0, None);
        let theirs = run("automerge-repo", 250.0, None);
        let table = table(10, Some(&ours), Some(&theirs));
        assert!(table.contains("| (c) no-op re-sync | wall time | 10 ms | 250 ms | 25.0× |"));
        assert!(
            table.contains("| bytes sent / received | 100 B / 1.9 KB | 100 B / 1.9 KB | 1.0× |")
        );

        let failed = run("automerge-repo", 250.0, Some("the server exited (SIGKILL)"));
        let table = super::table(10, Some(&ours), Some(&failed));
        assert!(table.contains("| **failed**: the server exited (SIGKILL) | — |"));
        assert!(!table.contains("25.0×"));
        assert!(super::table(10, Some(&ours), None).contains("not run"));
    }
}
