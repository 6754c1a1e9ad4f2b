//! Benchmarks of the on-device store, against DESIGN.md section 8:
//!
//! - one edit, keystroke to durable (p50 and p99 printed after the criterion runs);
//! - opening a caseload of 500 cases and 5,000 records;
//! - searching 5,000 records;
//! - loading one record with 2,000 edits of history, uncompacted and compacted;
//! - compacting a document's change log.
//!
//! `cargo bench -p doorstep-shared --bench store` measures; `cargo test --benches` runs each
//! once at small sizes, so the benchmarks cannot rot.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{BatchSize, Criterion};
use doorstep_shared::document::{Edit, FieldValue, Occurrence};
use doorstep_shared::model::RecordKind;
use doorstep_shared::store::{COMPACT_AFTER_CHANGES, Passphrase, Store};
use doorstep_shared::{DocId, RecordId};
use tempfile::TempDir;

/// Sizes: the targets' in a measuring run, small ones in a smoke run.
struct Sizes {
    cases: usize,
    records_per_case: usize,
    history: usize,
    latency_samples: usize,
}

const WORDS: &[&str] = &[
    "kitchen",
    "tired",
    "children",
    "school",
    "benefits",
    "landlord",
    "damp",
    "medication",
    "neighbour",
    "calm",
    "anxious",
    "appointment",
    "garden",
    "letter",
    "rent",
    "doctor",
    "sleep",
    "angry",
    "laughing",
    "daughter",
    "son",
    "grandmother",
    "food",
    "heating",
];

fn open(dir: &TempDir) -> Store {
    let mut store = Store::open(dir.path().join("bench.db"), &Passphrase::new("bench")).unwrap();
    store.sign_in("bench.worker".parse().unwrap()).unwrap();
    store
}

fn sentence(seed: usize, words: usize) -> String {
    (0..words)
        .map(|n| WORDS[(seed * 7 + n * 13 + n * n) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

/// A store with `cases` cases of `records_per_case` home-visit notes, each with some prose.
fn caseload(sizes: &Sizes) -> (TempDir, Store) {
    let dir = TempDir::new().unwrap();
    let mut store = open(&dir);
    let start = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    for case_index in 0..sizes.cases {
        let case = store
            .create_case(&format!("Client {case_index:04}"), start)
            .unwrap();
        for record_index in 0..sizes.records_per_case {
            let when =
                start + chrono::Duration::hours((case_index * 31 + record_index * 24) as i64);
            let occurred = Occurrence {
                start: Some(when),
                end: Some(when),
            };
            let record = store
                .create_record(case, RecordKind::HomeVisit, occurred, when)
                .unwrap();
            let prose = sentence(case_index * 100 + record_index, 40);
            store
                .edit(record, &Edit::text("observed_home", &prose), when)
                .unwrap();
        }
    }
    (dir, store)
}

/// A store with one record edited `edits` times, a word at a time.
fn long_history(edits: usize) -> (TempDir, Store, RecordId) {
    let dir = TempDir::new().unwrap();
    let mut store = open(&dir);
    let now = Utc::now();
    let case = store.create_case("Client", now).unwrap();
    let record = store
        .create_record(
            case,
            RecordKind::ProcessRecording,
            Occurrence::default(),
            now,
        )
        .unwrap();
    let mut text = String::new();
    for n in 0..edits {
        text.push_str(WORDS[n % WORDS.len()]);
        text.push(' ');
        store
            .edit(record, &Edit::text("summary", &text), now)
            .unwrap();
    }
    (dir, store, record)
}

fn benches(c: &mut Criterion, sizes: &Sizes) {
    {
        let (_dir, mut store, record) = long_history(1);
        let mut text = String::from("x");
        c.bench_function("edit: one keystroke to durable", |b| {
            b.iter(|| {
                text.push('a');
                store
                    .edit(record, &Edit::text("summary", &text), Utc::now())
                    .unwrap();
            })
        });
    }

    let records = sizes.cases * sizes.records_per_case;
    let (_dir, store) = caseload(sizes);
    let now = Utc::now();
    c.bench_function(
        &format!("caseload: {} cases, {records} records", sizes.cases),
        |b| b.iter(|| store.caseload(now).unwrap()),
    );
    c.bench_function(&format!("search: one word over {records} records"), |b| {
        b.iter(|| store.search("landlord", 50).unwrap())
    });
    c.bench_function(&format!("search: two words over {records} records"), |b| {
        b.iter(|| store.search("damp neighb", 50).unwrap())
    });
    drop(store);

    let (_dir, mut store, record) = long_history(sizes.history);
    c.bench_function(
        &format!("load: a record with {} edits, uncompacted", sizes.history),
        |b| {
            b.iter(|| {
                store.release_memory();
                store.record(record).unwrap()
            })
        },
    );
    store.compact_doc(DocId::Record(record)).unwrap();
    c.bench_function(
        &format!("load: a record with {} edits, compacted", sizes.history),
        |b| {
            b.iter(|| {
                store.release_memory();
                store.record(record).unwrap()
            })
        },
    );

    let mut group = c.benchmark_group("compaction");
    group.sample_size(10);
    group.bench_function(
        format!("fold {COMPACT_AFTER_CHANGES} changes into a snapshot"),
        |b| {
            b.iter_batched(
                || long_history(COMPACT_AFTER_CHANGES as usize),
                |(dir, mut store, record)| {
                    store.compact_doc(DocId::Record(record)).unwrap();
                    (dir, store)
                },
                BatchSize::PerIteration,
            )
        },
    );
    group.finish();
}

/// Criterion reports means; the target is a p99, so edits are also timed one by one.
fn edit_latency(sizes: &Sizes) {
    let (_dir, mut store, record) = long_history(1);
    let (add, exchange) = Edit::append("exchanges");
    store.edit(record, &add, Utc::now()).unwrap();
    let mut text = String::new();
    let mut samples: Vec<Duration> = Vec::with_capacity(sizes.latency_samples);
    for n in 0..sizes.latency_samples {
        text.push(if n % 6 == 5 { ' ' } else { 'e' });
        let edit = Edit::set_in(
            "exchanges",
            exchange,
            "content",
            FieldValue::Text(text.clone()),
        );
        let started = Instant::now();
        store.edit(record, &edit, Utc::now()).unwrap();
        samples.push(started.elapsed());
        if n % COMPACT_AFTER_CHANGES as usize == 0 {
            // As the app does when idle, between keystrokes, off the timed path.
            store.compact().unwrap();
        }
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "edit latency over {} keystrokes: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        samples.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not, and criterion then runs
    // every benchmark once as a test. The data is shrunk to match.
    let measuring = std::env::args().any(|arg| arg == "--bench");
    let sizes = if measuring {
        Sizes {
            cases: 500,
            records_per_case: 10,
            history: 2_000,
            latency_samples: 2_000,
        }
    } else {
        Sizes {
            cases: 5,
            records_per_case: 4,
            history: 50,
            latency_samples: 20,
        }
    };
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion, &sizes);
    edit_latency(&sizes);
    criterion.final_summary();
}
