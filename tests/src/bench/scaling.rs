//! How sync grows with the number of records: for each size, a fresh server, one device
//! writing that many notes and syncing them up, a fresh device's first sync, and a no-op
//! sync after it. The no-op sync should cost the same whatever the size; the first sync
//! should grow no faster than the records do.

use std::path::Path;
use std::time::{Duration, Instant};

use plotters::prelude::*;

use super::{ProcessStats, human_bytes, human_duration, write_records};
use crate::{Device, ServerProcess};

/// One size's figures.
#[derive(Debug, Clone)]
pub struct Point {
    /// Records synced.
    pub records: usize,
    /// The writer's upload of them all.
    pub upload: Duration,
    /// A fresh device's first sync.
    pub first_sync: Duration,
    /// Bytes the first sync received.
    pub first_sync_bytes: usize,
    /// Round trips of the first sync.
    pub first_sync_requests: usize,
    /// The no-op sync after it.
    pub noop: Duration,
    /// Bytes the no-op sync sent.
    pub noop_sent: usize,
    /// Bytes the no-op sync received.
    pub noop_received: usize,
    /// Round trips of the no-op sync.
    pub noop_requests: usize,
    /// Server CPU time of the no-op sync.
    pub noop_server_cpu: Duration,
}

/// Measures one size.
pub async fn measure(records: usize) -> anyhow::Result<Point> {
    let server = ServerProcess::start()?;
    server.team("north", &[("amara", "worker"), ("ben", "worker")])?;
    let stats = ProcessStats::of(server.pid());
    let mut amara = Device::sign_in(&server, "amara").await?;
    let (_, cases) = write_records(&mut amara, records)?;
    let started = Instant::now();
    amara.sync().await?;
    let upload = started.elapsed();

    let mut ben = Device::sign_in(&server, "ben").await?;
    let started = Instant::now();
    let first = ben.sync().await?;
    let first_sync = started.elapsed();
    anyhow::ensure!(
        first.pulled == records + cases,
        "the fresh device got {} of {} documents",
        first.pulled,
        records + cases
    );

    let cpu = stats.cpu();
    let started = Instant::now();
    let noop = ben.sync().await?;
    let noop_time = started.elapsed();
    Ok(Point {
        records,
        upload,
        first_sync,
        first_sync_bytes: first.bytes_received,
        first_sync_requests: first.rounds,
        noop: noop_time,
        noop_sent: noop.bytes_sent,
        noop_received: noop.bytes_received,
        noop_requests: noop.rounds,
        noop_server_cpu: stats.cpu().saturating_sub(cpu),
    })
}

/// The table's heading.
pub const TABLE_HEAD: &str = "| records | upload | first sync | first sync received | first sync requests | per record | no-op sync | no-op bytes sent / received | no-op requests | no-op server CPU |\n|---|---|---|---|---|---|---|---|---|---|";

impl Point {
    /// The point as a row of the table.
    pub fn row(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {} | {:.0} µs | {} | {} B / {} B | {} | {} ms |",
            self.records,
            human_duration(self.upload),
            human_duration(self.first_sync),
            human_bytes(self.first_sync_bytes as u64),
            self.first_sync_requests,
            self.first_sync.as_secs_f64() * 1e6 / self.records as f64,
            human_duration(self.noop),
            self.noop_sent,
            self.noop_received,
            self.noop_requests,
            self.noop_server_cpu.as_millis(),
        )
    }
}

/// Where the plot's lettering comes from: DejaVu Sans, which Debian's `fonts-dejavu-core`
/// installs (plotters draws text with a font it is given, not the system's).
const FONT_FILES: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

fn register_font() -> anyhow::Result<()> {
    let path = FONT_FILES
        .iter()
        .find(|path| Path::new(path).exists())
        .ok_or_else(|| anyhow::anyhow!("no DejaVu Sans font: install fonts-dejavu-core"))?;
    // plotters keeps fonts for the life of the process.
    let bytes: &'static [u8] = Box::leak(std::fs::read(path)?.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow::anyhow!("{path} is not a font plotters can read"))?;
    Ok(())
}

/// Draws the curves to a PNG at `path`: first-sync time, and no-op bytes, against records.
pub fn plot(points: &[Point], path: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(!points.is_empty(), "nothing to plot");
    register_font()?;
    let root = BitMapBackend::new(path, (1200, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    let max_records = points.iter().map(|p| p.records).max().unwrap_or(1) as f64;
    let min_records = points.iter().map(|p| p.records).min().unwrap_or(1) as f64;
    let x_range = (min_records / 2.0)..(max_records * 2.0);

    let seconds: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.records as f64, p.first_sync.as_secs_f64()))
        .collect();
    let max_seconds = seconds.iter().map(|(_, s)| *s).fold(0.0, f64::max);
    let min_seconds = seconds.iter().map(|(_, s)| *s).fold(f64::MAX, f64::min);
    let mut chart = ChartBuilder::on(&left)
        .caption("First sync to a fresh device", ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(
            x_range.clone().log_scale(),
            (min_seconds / 2.0..max_seconds * 2.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("records")
        .y_desc("seconds")
        .x_label_formatter(&|x| thousands(*x))
        .y_label_formatter(&|y| {
            if *y >= 1.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.2}")
            }
        })
        .light_line_style(WHITE)
        .label_style(("sans-serif", 15))
        .draw()?;
    // Linear growth from the smallest size, for reference: the curve should not be steeper.
    let (x0, y0) = seconds[0];
    chart
        .draw_series(LineSeries::new(
            [(x0, y0), (max_records, y0 * max_records / x0)],
            BLACK.mix(0.3).stroke_width(1),
        ))?
        .label("growing with the records (linear)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.3)));
    chart
        .draw_series(LineSeries::new(seconds.clone(), BLUE.stroke_width(2)))?
        .label("measured")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart.draw_series(
        seconds
            .iter()
            .map(|point| Circle::new(*point, 4, BLUE.filled())),
    )?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 15))
        .border_style(BLACK.mix(0.3))
        .background_style(WHITE)
        .draw()?;

    let mut chart = ChartBuilder::on(&right)
        .caption("No-op sync", ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range.log_scale(), 0.0..1_200.0)?;
    chart
        .configure_mesh()
        .x_desc("records")
        .y_desc("bytes")
        .x_label_formatter(&|x| thousands(*x))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .light_line_style(WHITE)
        .label_style(("sans-serif", 15))
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            [(min_records / 2.0, 1_000.0), (max_records * 2.0, 1_000.0)],
            RED.mix(0.5).stroke_width(1),
        ))?
        .label("target: under 1 KB each way")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.mix(0.5)));
    for (label, color, bytes) in [
        (
            "sent",
            BLUE,
            points.iter().map(|p| p.noop_sent).collect::<Vec<_>>(),
        ),
        (
            "received",
            GREEN,
            points.iter().map(|p| p.noop_received).collect(),
        ),
    ] {
        let series: Vec<(f64, f64)> = points
            .iter()
            .zip(bytes)
            .map(|(p, bytes)| (p.records as f64, bytes as f64))
            .collect();
        chart
            .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(
            series
                .iter()
                .map(|point| Circle::new(*point, 4, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::MiddleLeft)
        .label_font(("sans-serif", 15))
        .border_style(BLACK.mix(0.3))
        .background_style(WHITE)
        .draw()?;
    root.present()?;
    Ok(())
}

/// A whole number with thousands separated: 100,000.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(100.0), "100");
        assert_eq!(thousands(1_000.0), "1,000");
        assert_eq!(thousands(100_000.0), "100,000");
    }
}
