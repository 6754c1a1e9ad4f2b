//! Measures Doorstep's sync against a real server process on loopback, for three workloads
//! over N records (10,000 by default):
//!
//! 1. the first sync of all records to a fresh device;
//! 2. a no-op sync of a device holding them all;
//! 3. a sync after one record among them changed.
//!
//! For each: requests, bytes each way, wall time, and the server's CPU time (from
//! `/proc/<pid>/stat`). Build the server first, in the same profile:
//!
//! ```sh
//! cargo build --release -p doorstep-sync-server
//! cargo run --release -p doorstep-tests --bin sync-bench -- --records 10000
//! ```

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use doorstep_shared::document::{Edit, Occurrence};
use doorstep_shared::model::RecordKind;
use doorstep_shared::sync::http::SyncReport;
use doorstep_tests::{Device, ServerProcess};

fn main() -> anyhow::Result<()> {
    let mut records = 10_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--records" => records = args.next().context("--records N")?.parse()?,
            other => anyhow::bail!("unknown argument {other:?} (usage: sync-bench [--records N])"),
        }
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run(records))
}

/// The server's user plus system CPU time so far.
fn server_cpu(server: &ServerProcess) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.pid())).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|index| fields.get(*index)?.parse::<u64>().ok())
        .sum();
    // Linux reports in clock ticks of 1/100 s on every common configuration.
    Duration::from_millis(ticks * 10)
}

async fn measure(
    name: &str,
    server: &ServerProcess,
    device: &mut Device,
) -> anyhow::Result<SyncReport> {
    let cpu = server_cpu(server);
    let started = Instant::now();
    let report = device.sync().await?;
    let wall = started.elapsed();
    let cpu = server_cpu(server).saturating_sub(cpu);
    println!(
        "| {name} | {} | {} | {} | {:.1} ms | {:.0} ms |",
        report.rounds,
        report.bytes_sent,
        report.bytes_received,
        wall.as_secs_f64() * 1e3,
        cpu.as_secs_f64() * 1e3,
    );
    Ok(report)
}

async fn run(records: usize) -> anyhow::Result<()> {
    let server = ServerProcess::start()?;
    server.team("north", &[("amara", "worker"), ("ben", "worker")])?;
    let mut amara = Device::sign_in(&server, "amara").await?;
    let cases: Vec<_> = (0..records.div_ceil(100))
        .map(|n| amara.store.create_case(&format!("Client {n}"), Utc::now()))
        .collect::<Result<_, _>>()?;
    let mut ids = Vec::with_capacity(records);
    for n in 0..records {
        let record = amara.store.create_record(
            cases[n % cases.len()],
            RecordKind::HomeVisit,
            Occurrence::default(),
            Utc::now(),
        )?;
        let text = format!("Visit {n}: the kitchen was warm, the client calm; plan agreed.");
        amara
            .store
            .edit(record, &Edit::text("observed_home", &text), Utc::now())?;
        ids.push(record);
    }
    let mut ben = Device::sign_in(&server, "ben").await?;

    println!("{records} records in {} cases\n", cases.len());
    println!("| workload | requests | bytes sent | bytes received | wall time | server CPU |");
    println!("|---|---|---|---|---|---|");
    measure(
        "upload of every record from the device that wrote them",
        &server,
        &mut amara,
    )
    .await?;
    let first = measure("first sync to a fresh device", &server, &mut ben).await?;
    anyhow::ensure!(
        first.pulled == records + cases.len(),
        "the fresh device got {} documents",
        first.pulled
    );
    measure("no-op sync", &server, &mut ben).await?;
    amara.store.edit(
        ids[records / 2],
        &Edit::text("plan", "Call the GP."),
        Utc::now(),
    )?;
    measure("one record changed: the writer's sync", &server, &mut amara).await?;
    let changed = measure(
        "one record changed: another device's sync",
        &server,
        &mut ben,
    )
    .await?;
    anyhow::ensure!(
        changed.pulled == 1,
        "expected one changed document, got {}",
        changed.pulled
    );
    Ok(())
}
