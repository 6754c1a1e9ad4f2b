//! Sync benchmarks against a real server process on loopback. Build the server first, in
//! the same profile:
//!
//! ```sh
//! cargo build --release -p doorstep-sync-server
//! cargo run --release -p doorstep-tests --bin sync-bench -- side-by-side
//! cargo run --release -p doorstep-tests --bin sync-bench -- load [--postgres URL]
//! cargo run --release -p doorstep-tests --bin sync-bench -- scaling
//! cargo run --release -p doorstep-tests --bin sync-bench -- attachments
//! ```
//!
//! `smoke` runs all four at small sizes and fails if any of them does; the test command
//! runs it so this code keeps working. BENCHMARKS.md holds the figures.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use doorstep_tests::bench::load::{self, LoadOptions, Pattern};
use doorstep_tests::bench::{attachments, exports, scaling, side_by_side};

#[derive(Parser)]
#[command(about = "Doorstep's sync benchmarks, against a real server on loopback")]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// The same workloads against Doorstep and automerge-repo 2.x; prints the table.
    SideBySide {
        /// Sizes, in records.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
        records: Vec<usize>,
        /// Which systems to run now; the others' kept results fill the table.
        #[arg(long, value_delimiter = ',', default_value = "doorstep,automerge-repo")]
        systems: Vec<String>,
    },
    /// Many devices syncing at once against one server.
    Load {
        /// Simulated devices.
        #[arg(long, default_value_t = 1000)]
        devices: usize,
        /// Devices per team.
        #[arg(long, default_value_t = 10)]
        team_size: usize,
        /// Seconds between one device's syncs (each after an edit).
        #[arg(long, default_value_t = 2.0)]
        every: f64,
        /// Seconds the steady load lasts.
        #[arg(long, default_value_t = 60)]
        lasting: u64,
        /// Instead of a steady load, all devices sync at the same instant, this many times.
        #[arg(long)]
        bursts: Option<usize>,
        /// Run on a fresh database of this PostgreSQL server instead of SQLite.
        #[arg(long)]
        postgres: Option<String>,
    },
    /// First-sync time and no-op bytes against the number of records; draws the curves.
    Scaling {
        /// Sizes, in records.
        #[arg(long, value_delimiter = ',', default_value = "100,1000,10000,100000")]
        records: Vec<usize>,
        /// Where to draw the curves.
        #[arg(long, default_value = "docs/benchmarks/sync-scaling.png")]
        plot: PathBuf,
    },
    /// Attachments sent by one device and fetched by another, beside a plain file copy.
    Attachments {
        /// Photos.
        #[arg(long, default_value_t = 100)]
        photos: usize,
        /// MiB each.
        #[arg(long, default_value_t = 2.0)]
        mib: f64,
    },
    /// A signed record's PDF with many addenda, and a case of many records as an archive.
    Exports {
        /// Addenda on the record.
        #[arg(long, default_value_t = 50)]
        addenda: usize,
        /// Records in the case.
        #[arg(long, default_value_t = 200)]
        records: usize,
        /// Times the PDF is asked for.
        #[arg(long, default_value_t = 11)]
        pdf_requests: usize,
    },
    /// Everything at small sizes, failing on any error.
    Smoke {
        /// Also run the load on this PostgreSQL server.
        #[arg(long, env = "DOORSTEP_TEST_POSTGRES_URL")]
        postgres: Option<String>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match cli.command {
            Bench::SideBySide { records, systems } => {
                side_by_side(&records, &systems).await.map(drop)
            }
            Bench::Load {
                devices,
                team_size,
                every,
                lasting,
                bursts,
                postgres,
            } => {
                let pattern = match bursts {
                    Some(rounds) => Pattern::Burst { rounds },
                    None => Pattern::Steady {
                        every: Duration::from_secs_f64(every),
                        lasting: Duration::from_secs(lasting),
                    },
                };
                let report = load::run(&LoadOptions {
                    devices,
                    team_size,
                    pattern,
                    postgres,
                })
                .await?;
                print_load(&[report]);
                Ok(())
            }
            Bench::Scaling { records, plot } => scaling(&records, &plot).await,
            Bench::Attachments { photos, mib } => {
                let report = attachments::run(photos, (mib * 1024.0 * 1024.0) as usize).await?;
                println!("\n{}\n{}", attachments::TABLE_HEAD, report.rows());
                Ok(())
            }
            Bench::Exports {
                addenda,
                records,
                pdf_requests,
            } => {
                let report = exports::run(addenda, records, pdf_requests).await?;
                println!("\n{}\n{}", exports::TABLE_HEAD, report.rows());
                Ok(())
            }
            Bench::Smoke { postgres } => smoke(postgres).await,
        }
    })
}

async fn side_by_side(
    sizes: &[usize],
    systems: &[String],
) -> anyhow::Result<Vec<side_by_side::Run>> {
    let mut runs = Vec::new();
    for &records in sizes {
        for system in systems {
            eprintln!("{system}, {records} records");
            runs.push(side_by_side::run(system, records).await?);
        }
        println!(
            "\n{}",
            side_by_side::table(
                records,
                side_by_side::kept("doorstep", records).as_ref(),
                side_by_side::kept("automerge-repo", records).as_ref(),
            )
        );
    }
    Ok(runs)
}

fn print_load(reports: &[load::LoadReport]) {
    println!("\n{}", load::TABLE_HEAD);
    for report in reports {
        println!("{}", report.row());
    }
    for report in reports {
        if let Some(error) = &report.first_error {
            println!("\n{}: first error: {error}", report.database);
        }
    }
}

async fn scaling(sizes: &[usize], plot: &std::path::Path) -> anyhow::Result<()> {
    let mut points = Vec::new();
    for &records in sizes {
        eprintln!("{records} records");
        points.push(scaling::measure(records).await?);
    }
    println!("\n{}", scaling::TABLE_HEAD);
    for point in &points {
        println!("{}", point.row());
    }
    if let Some(folder) = plot.parent() {
        std::fs::create_dir_all(folder)?;
    }
    scaling::plot(&points, plot).with_context(|| format!("drawing {}", plot.display()))?;
    println!("\ncurves drawn to {}", plot.display());
    Ok(())
}

async fn smoke(postgres: Option<String>) -> anyhow::Result<()> {
    let runs = side_by_side(&[20], &side_by_side::SYSTEMS.map(str::to_owned)).await?;
    for run in &runs {
        for outcome in &run.results {
            if let Some(error) = &outcome.error {
                anyhow::bail!("{} {}: {error}", run.system, outcome.workload);
            }
        }
    }
    let mut reports = Vec::new();
    let patterns = [
        Pattern::Steady {
            every: Duration::from_millis(500),
            lasting: Duration::from_secs(2),
        },
        Pattern::Burst { rounds: 2 },
    ];
    let databases = [None].into_iter().chain(postgres.map(Some));
    for (postgres, pattern) in databases.flat_map(|db| patterns.map(|p| (db.clone(), p))) {
        let report = load::run(&LoadOptions {
            devices: 20,
            team_size: 5,
            pattern,
            postgres,
        })
        .await?;
        anyhow::ensure!(report.errors == 0, "load: {:?}", report.first_error);
        anyhow::ensure!(report.syncs >= 40, "load: {} syncs", report.syncs);
        anyhow::ensure!(
            report.missing_edits == 0,
            "load: {} notes missed teammates' edits",
            report.missing_edits
        );
        reports.push(report);
    }
    print_load(&reports);
    let report = attachments::run(3, 300 * 1024).await?;
    println!("\n{}\n{}", attachments::TABLE_HEAD, report.rows());
    let report = exports::run(3, 5, 2).await?;
    println!("\n{}\n{}", exports::TABLE_HEAD, report.rows());
    let plot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench/smoke-scaling.png");
    scaling(&[10, 40], &plot).await
}
