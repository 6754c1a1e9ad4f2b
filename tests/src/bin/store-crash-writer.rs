//! Writes records into an on-device store as fast as it can, printing a line for every write
//! the moment the store has reported it committed. The crash test kills this process at
//! random points and checks that every write it printed survived.
//!
//! Usage: `store-crash-writer <database> <label>`, with the passphrase in
//! `DOORSTEP_PASSPHRASE`. Lines printed:
//!
//! - `ready`
//! - `record <record id>`: a record was created
//! - `word <record id> <word>`: `word` was appended to the record's plan
//! - `compacted <n>`: n documents were compacted

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use doorstep_shared::document::{Edit, Occurrence};
use doorstep_shared::model::RecordKind;
use doorstep_shared::store::{Passphrase, Store};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("store-crash-writer: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .context("usage: store-crash-writer <database> <label>")?;
    let label = args
        .next()
        .context("usage: store-crash-writer <database> <label>")?;
    let passphrase =
        std::env::var("DOORSTEP_PASSPHRASE").context("DOORSTEP_PASSPHRASE is not set")?;
    let mut store =
        Store::open(&path, &Passphrase::new(passphrase)).context("opening the store")?;
    store.sign_in("crash.writer".parse()?)?;
    let case = match store.caseload(Utc::now())?.first() {
        Some(case) => case.id,
        None => store.create_case("Crash test client", Utc::now())?,
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")?;
    out.flush()?;
    for round in 0.. {
        let record = store.create_record(
            case,
            RecordKind::CaseNote,
            Occurrence::default(),
            Utc::now(),
        )?;
        writeln!(out, "record {record}")?;
        out.flush()?;
        let mut plan = String::new();
        for n in 0..40 {
            let word = format!("{label}-{round}-{n}");
            plan.push_str(&word);
            plan.push(' ');
            store.edit(record, &Edit::text("plan", &plan), Utc::now())?;
            writeln!(out, "word {record} {word}")?;
            out.flush()?;
        }
        if round % 3 == 2 {
            let compacted = store.compact()?;
            writeln!(out, "compacted {compacted}")?;
            out.flush()?;
        }
    }
    Ok(())
}
