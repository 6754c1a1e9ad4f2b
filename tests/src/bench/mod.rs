//! Sync benchmarks against a real server process on loopback: the side-by-side comparison
//! with automerge-repo ([`side_by_side`]), many devices at once ([`load`]), and how sync
//! grows with the number of records ([`scaling`]), attachments' throughput beside a file
//! copy ([`attachments`]), and exports: a record's PDF and a case's archive ([`exports`]). `src/bin/sync-bench.rs` runs them.
//!
//! Figures come from outside the measured code where they can: the server's CPU time and
//! peak memory from `/proc`, bytes from the bodies that crossed the socket.

pub mod attachments;
pub mod exports;
pub mod load;
pub mod scaling;
pub mod side_by_side;

use std::time::Duration;

use chrono::Utc;
use doorstep_shared::document::{Edit, Occurrence};
use doorstep_shared::model::RecordKind;
use doorstep_shared::{CaseId, RecordId};

use crate::Device;

/// A process's CPU time and memory, read from `/proc/<pid>`.
#[derive(Debug, Clone, Copy)]
pub struct ProcessStats {
    pid: u32,
}

impl ProcessStats {
    /// Watches process `pid`.
    pub fn of(pid: u32) -> ProcessStats {
        ProcessStats { pid }
    }

    /// User plus system CPU time so far.
    pub fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
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

    /// Starts a new peak: the kernel's high-water mark of resident memory is set to what the
    /// process holds now.
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5");
    }

    /// The most resident memory since the last [`reset_peak`](Self::reset_peak), in bytes.
    pub fn peak_bytes(&self) -> Option<u64> {
        self.status_bytes("VmHWM:")
    }

    /// The resident memory now, in bytes.
    pub fn resident_bytes(&self) -> Option<u64> {
        self.status_bytes("VmRSS:")
    }

    fn status_bytes(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|line| line.starts_with(field))?;
        let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kilobytes * 1024)
    }
}

/// The text every benchmark record carries, like a short note written after a visit.
pub fn visit_text(n: usize) -> String {
    format!("Visit {n}: the kitchen was warm, the client calm; plan agreed.")
}

/// Writes `records` home-visit notes on `device`, a hundred to a case, each with one
/// sentence observed. Returns their ids, and how many cases hold them.
pub fn write_records(
    device: &mut Device,
    records: usize,
) -> anyhow::Result<(Vec<RecordId>, usize)> {
    let cases: Vec<CaseId> = (0..records.div_ceil(100))
        .map(|n| device.store.create_case(&format!("Client {n}"), Utc::now()))
        .collect::<Result<_, _>>()?;
    let mut ids = Vec::with_capacity(records);
    for n in 0..records {
        let record = device.store.create_record(
            cases[n / 100],
            RecordKind::HomeVisit,
            Occurrence::default(),
            Utc::now(),
        )?;
        device.store.edit(
            record,
            &Edit::text("observed_home", &visit_text(n)),
            Utc::now(),
        )?;
        ids.push(record);
    }
    Ok((ids, cases.len()))
}

/// The value below which `fraction` of `sorted` lies (nearest rank).
pub fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `bytes` for people: B, KB, MB (powers of 1,000, as the targets are written).
pub fn human_bytes(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} KB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

/// A duration for people, in ms below ten seconds and in s above.
pub fn human_duration(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&sorted, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&sorted, 1.0), Duration::from_millis(100));
        assert_eq!(percentile(&sorted[..1], 0.99), Duration::from_millis(1));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn sizes_and_durations_read_as_people_write_them() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500), "1.5 KB");
        assert_eq!(human_bytes(7_602_016), "7.6 MB");
        assert_eq!(human_duration(Duration::from_micros(9_400)), "9.40 ms");
        assert_eq!(human_duration(Duration::from_millis(4_630)), "4630 ms");
        assert_eq!(human_duration(Duration::from_secs(38)), "38.0 s");
    }

    #[test]
    fn a_running_process_has_a_peak() {
        let stats = ProcessStats::of(std::process::id());
        stats.reset_peak();
        assert!(stats.peak_bytes().is_some_and(|bytes| bytes > 0));
    }
}
