//! Exports, timed against a real server: a signed record with many addenda made into a PDF
//! (`GET /v1/records/{id}/pdf`, the request as a device makes it), and a case of many records
//! made into a subject-access archive (`POST /v1/cases/{id}/archive`: every record and the
//! case file rendered, the zip written and sent). No anchor exists for these: the figures say
//! what a worker and a supervisor wait for.

use std::time::{Duration, Instant};

use chrono::Utc;
use doorstep_shared::document::Edit;
use doorstep_shared::model::RecordKind;

use super::ProcessStats;
use crate::{Device, ServerProcess};

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Addenda on the record made into a PDF.
    pub addenda: usize,
    /// The PDF's size.
    pub pdf_bytes: usize,
    /// Each of the PDF's requests, in order (the first warms the server's fonts).
    pub pdf_times: Vec<Duration>,
    /// Records in the archived case.
    pub records: usize,
    /// The archive's size.
    pub archive_bytes: usize,
    /// The archive's request.
    pub archive_time: Duration,
    /// The server's CPU time for the archive.
    pub archive_cpu: Duration,
}

/// The table's head, for [`Report::rows`].
pub const TABLE_HEAD: &str = "| what | time | size |\n|---|---|---|";

impl Report {
    /// The table's rows.
    pub fn rows(&self) -> String {
        let mut warm: Vec<Duration> = self.pdf_times.iter().skip(1).copied().collect();
        warm.sort();
        let median = warm.get(warm.len() / 2).copied().unwrap_or_default();
        format!(
            "| a record's PDF, {} addenda (first request) | {:.0} ms | {} KiB |\n\
             | a record's PDF, {} addenda (median of {} more) | {:.0} ms | {} KiB |\n\
             | a case's archive, {} records | {:.2} s (server CPU {:.2} s) | {} KiB |",
            self.addenda,
            self.pdf_times[0].as_secs_f64() * 1000.0,
            self.pdf_bytes / 1024,
            self.addenda,
            warm.len(),
            median.as_secs_f64() * 1000.0,
            self.pdf_bytes / 1024,
            self.records,
            self.archive_time.as_secs_f64(),
            self.archive_cpu.as_secs_f64(),
            self.archive_bytes / 1024,
        )
    }
}

/// A visit, written out as a worker would: a few paragraphs in each narrative field.
fn write_visit(
    device: &mut Device,
    record: doorstep_shared::RecordId,
    n: usize,
) -> anyhow::Result<()> {
    for (field, text) in [
        (
            "observed_home",
            "The flat was warm and tidy; post opened and sorted on the table.",
        ),
        (
            "observed_client",
            "Dressed and alert; talked about her grandson's visit at the weekend.",
        ),
        (
            "assessment",
            "Managing well at home; mood better than at the last visit.",
        ),
        (
            "plan",
            "Visit again in two weeks; call the GP about the new medication.",
        ),
    ] {
        device.store.edit(
            record,
            &Edit::text(field, &format!("{text} (visit {n})")),
            Utc::now(),
        )?;
    }
    Ok(())
}

/// A signed record with `addenda` addenda made into a PDF `pdf_requests` times, and a case of
/// `records` records made into an archive.
pub async fn run(addenda: usize, records: usize, pdf_requests: usize) -> anyhow::Result<Report> {
    let server = ServerProcess::start()?;
    server.team("north", &[("amara", "worker"), ("grace", "supervisor")])?;
    let mut amara = Device::sign_in(&server, "amara").await?;
    let case = amara.store.create_case("Mrs Export", Utc::now())?;
    let signed = amara.record_with_plan(case, RecordKind::HomeVisit, "")?;
    write_visit(&mut amara, signed, 0)?;
    amara.store.submit(signed, Utc::now())?;
    for n in 1..records {
        let record = amara.record_with_plan(case, RecordKind::HomeVisit, "")?;
        write_visit(&mut amara, record, n)?;
    }
    amara.sync().await?;
    let mut grace = Device::sign_in(&server, "grace").await?;
    grace.sync().await?;
    grace.store.finalise(signed, Utc::now())?;
    grace.sync().await?;
    amara.sync().await?;
    for n in 0..addenda {
        amara.store.add_addendum(
            signed,
            &format!("Correction {n}"),
            &format!(
                "Addendum {n}: the date of the next visit moves by a day, at the client's request."
            ),
            Utc::now(),
        )?;
    }
    amara.sync().await?;

    let mut pdf_times = Vec::new();
    let mut pdf_bytes = 0;
    for _ in 0..pdf_requests.max(1) {
        let started = Instant::now();
        let pdf = grace.client.record_pdf(signed).await?;
        pdf_times.push(started.elapsed());
        pdf_bytes = pdf.len();
    }

    let stats = ProcessStats::of(server.pid());
    let cpu_before = stats.cpu();
    let started = Instant::now();
    let archive = grace.client.case_archive(case, &[]).await?;
    let archive_time = started.elapsed();
    let archive_cpu = stats.cpu().saturating_sub(cpu_before);
    Ok(Report {
        addenda,
        pdf_bytes,
        pdf_times,
        records,
        archive_bytes: archive.len(),
        archive_time,
        archive_cpu,
    })
}
