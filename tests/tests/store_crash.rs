//! Crash safety of the on-device store: a writer process is killed with SIGKILL at random
//! points, again and again on the same store. Every write it reported committed must be there
//! afterwards, and SQLite's integrity check must pass.
//!
//! The kill points come from a seed printed at the start; `DOORSTEP_CRASH_SEED=<seed>`
//! replays a run.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use doorstep_shared::RecordId;
use doorstep_shared::model::RecordBody;
use doorstep_shared::store::{Passphrase, Store};
use doorstep_tests::faults::{SplitMix, seed_from_env};

const KILLS: usize = 50;
const PASSPHRASE: &str = "crash test passphrase";

#[test]
fn every_reported_write_survives_sigkill() {
    let seed = seed_from_env("DOORSTEP_CRASH_SEED");
    let mut random = SplitMix(seed);
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("device.db");

    let mut reported_records: Vec<RecordId> = Vec::new();
    let mut reported_words: HashMap<RecordId, Vec<String>> = HashMap::new();
    let mut total_words = 0;
    for kill in 0..KILLS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_store-crash-writer"))
            .arg(&path)
            .arg(format!("k{kill}"))
            .env("DOORSTEP_PASSPHRASE", PASSPHRASE)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting the writer");
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let ready = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the writer started");
        assert_eq!(ready, "ready");
        // Kill anywhere from at once to well into a compaction.
        let after = Duration::from_micros(random.next_u64() % 400_000);
        let started = Instant::now();
        while started.elapsed() < after {
            std::thread::sleep(Duration::from_micros(200));
        }
        child.kill().expect("SIGKILL");
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "the writer was killed, it did not finish"
        );
        reader.join().unwrap();
        for line in lines.try_iter() {
            let mut parts = line.split(' ');
            match parts.next() {
                Some("record") => reported_records.push(parts.next().unwrap().parse().unwrap()),
                Some("word") => {
                    let record: RecordId = parts.next().unwrap().parse().unwrap();
                    let word = parts.next().unwrap().to_owned();
                    reported_words.entry(record).or_default().push(word);
                    total_words += 1;
                }
                Some("compacted") => {}
                other => panic!("unexpected line from the writer: {other:?}"),
            }
        }

        let mut store = Store::open(&path, &Passphrase::new(PASSPHRASE)).unwrap();
        store.check_integrity().unwrap();
        for record in &reported_records {
            let plan = match store.record(*record).unwrap().body {
                RecordBody::CaseNote(note) => note.plan,
                other => panic!("expected a case note, got {other:?}"),
            };
            for word in reported_words.get(record).into_iter().flatten() {
                assert!(
                    plan.split(' ').any(|written| written == word),
                    "seed {seed}: kill {kill}: {word} reported committed but missing"
                );
            }
        }
    }
    eprintln!(
        "{KILLS} kills, {} records and {total_words} words reported committed, none lost",
        reported_records.len()
    );
    assert!(
        total_words > 0,
        "the writer never got to write: the test tested nothing"
    );
}
