//! Benchmarks of the on-device store, against DESIGN.md section 8:
//!
//! - one edit, keystroke to durable (p50 and p99 printed after the criterion runs);
//! - opening a caseload of 500 cases and 5,000 records;
//! - searching 5,000 records;
//! - loading one record with 2,000 edits of history, uncompacted and compacted;
//! - compacting a document's change log;
//! - unlocking: deriving the key from the passphrase at the store's Argon2id cost and opening
//!   it, at today's cost and at the cost stores had before it was raised.
//!
//! `cargo bench -p doorstep-shared --bench store` measures; `cargo test --benches` runs each
//! once at small sizes, so the benchmarks cannot rot.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{BatchSize, Criterion};
use doorstep_shared::document::{Edit, FieldValue, Occurrence};
use doorstep_shared::model::RecordKind;
use doorstep_shared::store::{COMPACT_AFTER_CHANGES, KeyCost, Passphrase, Store};
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

/// A new case with an empty process recording in it.
fn new_recording(store: &mut Store) -> RecordId {
    let now = Utc::now();
    let case = store.create_case("Client", now).unwrap();
    let kind = RecordKind::ProcessRecording;
    store
        .create_record(case, kind, Occurrence::default(), now)
        .unwrap()
}

/// A store with one record edited `edits` times, a word at a time.
fn long_history(edits: usize) -> (TempDir, Store, RecordId) {
    let dir = TempDir::new().unwrap();
    let mut store = open(&dir);
    let record = new_recording(&mut store);
    let now = Utc::now();
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

/// The anchor: a bare SQLite commit of one small row in WAL mode with `synchronous=FULL`,
/// through the same SQLCipher library and key, i.e. the durability floor of one edit.
fn anchor_connection(dir: &TempDir) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.path().join("anchor.db")).unwrap();
    conn.execute_batch(
        "PRAGMA key = \"x'000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'\";
         PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE changes (id INTEGER PRIMARY KEY, bytes BLOB NOT NULL);",
    )
    .unwrap();
    conn
}

fn anchor_commit(conn: &rusqlite::Connection) {
    conn.execute(
        "INSERT INTO changes (bytes) VALUES (?1)",
        [[7u8; 120].as_slice()],
    )
    .unwrap();
}

fn benches(c: &mut Criterion, sizes: &Sizes) {
    {
        let dir = TempDir::new().unwrap();
        let conn = anchor_connection(&dir);
        c.bench_function("anchor: bare SQLCipher WAL commit, synchronous=FULL", |b| {
            b.iter(|| anchor_commit(&conn))
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
    // Typing happens on a device that holds the whole caseload, as in the field.
    let mut typist = Typist::new(store);
    c.bench_function(
        &format!("edit: one keystroke to durable, beside {records} records"),
        |b| b.iter_custom(|iters| (0..iters).map(|_| typist.keystroke()).sum()),
    );
    edit_latency(sizes, typist);

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

    let mut group = c.benchmark_group("unlock");
    group.sample_size(10);
    for (name, cost) in [
        ("64 MiB, 3 passes (today's)", KeyCost::CURRENT),
        ("anchor: 19 MiB, 2 passes (before)", KeyCost::LEGACY),
    ] {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("unlock.db");
        drop(Store::open_with_key_cost(&path, &Passphrase::new("bench"), cost).unwrap());
        group.bench_function(name, |b| {
            b.iter(|| Store::open_with_key_cost(&path, &Passphrase::new("bench"), cost).unwrap())
        });
    }
    group.finish();

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

/// A worker typing into the exchanges of a process recording, one keystroke per edit.
/// Only the edit is timed. As in the app, compaction runs between keystrokes, when it is due,
/// and a long exchange is followed by a new one, so the text stays the size of real notes.
struct Typist {
    store: Store,
    record: RecordId,
    exchange: doorstep_shared::ItemId,
    text: String,
    keystrokes: usize,
}

impl Typist {
    fn new(mut store: Store) -> Typist {
        let record = new_recording(&mut store);
        let (add, exchange) = Edit::append("exchanges");
        store.edit(record, &add, Utc::now()).unwrap();
        Typist {
            store,
            record,
            exchange,
            text: String::new(),
            keystrokes: 0,
        }
    }

    fn keystroke(&mut self) -> Duration {
        if self.text.len() >= 1_500 {
            let (add, exchange) = Edit::append("exchanges");
            self.store.edit(self.record, &add, Utc::now()).unwrap();
            self.exchange = exchange;
            self.text.clear();
        }
        if self
            .keystrokes
            .is_multiple_of(COMPACT_AFTER_CHANGES as usize)
        {
            self.store.compact().unwrap();
        }
        self.keystrokes += 1;
        self.text.push(if self.keystrokes.is_multiple_of(6) {
            ' '
        } else {
            'e'
        });
        let edit = Edit::set_in(
            "exchanges",
            self.exchange,
            "content",
            FieldValue::Text(self.text.clone()),
        );
        let started = Instant::now();
        self.store.edit(self.record, &edit, Utc::now()).unwrap();
        started.elapsed()
    }
}

fn print_percentiles(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{what} over {} samples: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        samples.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
    );
}

/// Criterion reports means; the target is a p99, so edits are also timed one by one, beside
/// the anchor timed the same way.
fn edit_latency(sizes: &Sizes, mut typist: Typist) {
    let dir = TempDir::new().unwrap();
    let conn = anchor_connection(&dir);
    let samples = (0..sizes.latency_samples)
        .map(|_| {
            let started = Instant::now();
            anchor_commit(&conn);
            started.elapsed()
        })
        .collect();
    print_percentiles("anchor: bare SQLCipher WAL commit", samples);
    let samples = (0..sizes.latency_samples)
        .map(|_| typist.keystroke())
        .collect();
    print_percentiles("edit: one keystroke to durable", samples);
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
    criterion.final_summary();
}
