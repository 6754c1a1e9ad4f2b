//! Attachments' throughput on loopback: a worker's device sends many photos, a colleague's
//! fetches them, each through the blob endpoints of a real server (pieces of 1 MiB, each
//! checked against its hash on arrival and the whole again on the device). The anchor is a
//! plain file copy of the same bytes on the same disk, with and without an `fsync` per file.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use doorstep_shared::attachments::{AttachmentDraft, AttachmentKind};

use super::ProcessStats;
use crate::faults::SplitMix;
use crate::{Device, ServerProcess};

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Photos sent and fetched.
    pub photos: usize,
    /// Bytes of each.
    pub bytes_each: usize,
    /// The worker's device sending them all.
    pub upload: Duration,
    /// The colleague's device fetching them all.
    pub download: Duration,
    /// The server's CPU time for both.
    pub server_cpu: Duration,
    /// `std::fs::copy` of the same files.
    pub copy: Duration,
    /// The same, with each copy synced to the disk.
    pub copy_synced: Duration,
}

/// The table's head, for [`Report::rows`].
pub const TABLE_HEAD: &str = "| what | time | throughput |\n|---|---|---|";

impl Report {
    fn total_mib(&self) -> f64 {
        (self.photos * self.bytes_each) as f64 / (1024.0 * 1024.0)
    }

    /// The table's rows: Doorstep's two directions beside the copies.
    pub fn rows(&self) -> String {
        let row = |what: &str, took: Duration| {
            format!(
                "| {what} | {:.2} s | {:.0} MiB/s |",
                took.as_secs_f64(),
                self.total_mib() / took.as_secs_f64().max(1e-9)
            )
        };
        [
            row("upload: device → server", self.upload),
            row("download: server → device", self.download),
            row("file copy (anchor)", self.copy),
            row("file copy + fsync each (anchor)", self.copy_synced),
        ]
        .join("\n")
            + &format!(
                "\n\n{} photos of {:.1} MiB ({:.0} MiB); server CPU for both directions: {:.2} s",
                self.photos,
                self.bytes_each as f64 / (1024.0 * 1024.0),
                self.total_mib(),
                self.server_cpu.as_secs_f64()
            )
    }
}

/// Bytes no compression shrinks, from a seed: a photo's bytes as far as any codec cares.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut random = SplitMix(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&random.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Sends `photos` photos of `bytes_each` bytes from one device and fetches them on another.
pub async fn run(photos: usize, bytes_each: usize) -> anyhow::Result<Report> {
    let server = ServerProcess::start()?;
    server.team("north", &[("amara", "worker"), ("ben", "colleague")])?;
    let mut amara = Device::sign_in(&server, "amara").await?;
    let (case, _) = amara.case_with_visit("Mrs Throughput", "Photos of the flat")?;
    let originals = tempfile::TempDir::new()?;
    for n in 0..photos {
        let bytes = noise(bytes_each, n as u64 + 1);
        std::fs::write(originals.path().join(format!("{n}.jpg")), &bytes)?;
        let draft = AttachmentDraft {
            kind: AttachmentKind::Photo,
            media_type: "image/jpeg".into(),
            dimensions: Some((2048, 1536)),
            caption: format!("Photo {n}"),
            signs: None,
        };
        amara.store.attach(case, &bytes, &draft, Utc::now())?;
    }
    amara.sync().await?;
    let stats = ProcessStats::of(server.pid());
    let cpu_before = stats.cpu();

    let started = Instant::now();
    let sent = amara.client.sync_blobs(&mut amara.store).await?;
    let upload = started.elapsed();
    anyhow::ensure!(sent.sent == photos, "sent {} of {photos}", sent.sent);

    let mut ben = Device::sign_in(&server, "ben").await?;
    ben.sync().await?;
    let started = Instant::now();
    let fetched = ben.client.sync_blobs(&mut ben.store).await?;
    let download = started.elapsed();
    anyhow::ensure!(
        fetched.fetched == photos,
        "fetched {} of {photos}",
        fetched.fetched
    );
    let server_cpu = stats.cpu().saturating_sub(cpu_before);

    let copy = copy_all(originals.path(), photos, false)?;
    let copy_synced = copy_all(originals.path(), photos, true)?;
    Ok(Report {
        photos,
        bytes_each,
        upload,
        download,
        server_cpu,
        copy,
        copy_synced,
    })
}

/// Copies the photos to a new folder on the same disk, each synced if `sync`.
fn copy_all(from: &std::path::Path, photos: usize, sync: bool) -> anyhow::Result<Duration> {
    let to = tempfile::TempDir::new_in(from.parent().unwrap_or(from))?;
    let started = Instant::now();
    for n in 0..photos {
        let name = format!("{n}.jpg");
        let target = to.path().join(&name);
        std::fs::copy(from.join(&name), &target).context("copying a photo")?;
        if sync {
            std::fs::File::open(&target)?.sync_all()?;
        }
    }
    Ok(started.elapsed())
}
