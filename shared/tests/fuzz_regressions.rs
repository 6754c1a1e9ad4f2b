//! The fuzz targets' inputs, replayed in the normal test suite: every input a fuzzer once
//! crashed on, kept under `fuzz/regressions/<target>/`, and the valid seeds the fuzzers start
//! from. Each goes through the same code as its fuzz target (`fuzz/entry.rs`).
//!
//! The seeds are also written to `target/fuzz-seeds/<target>/`, where `scripts/fuzz` starts
//! the fuzzers' corpora from.

#[path = "../../fuzz/entry.rs"]
mod entry;

use std::path::{Path, PathBuf};

use doorstep_shared::document::Document;
use doorstep_shared::sync::protocol::{self, SyncRequest};
use doorstep_shared::sync::validate::check_push;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn kept_inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = workspace().join("fuzz/regressions").join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut inputs: Vec<_> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    inputs.sort();
    inputs
}

#[test]
fn every_kept_input_and_seed_goes_through_its_target_without_a_panic() {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    for (target, run) in entry::TARGETS {
        let seeds = entry::seeds(target);
        assert!(!seeds.is_empty(), "{target} has seeds");
        let seed_dir = target_dir.join("fuzz-seeds").join(target);
        std::fs::create_dir_all(&seed_dir).unwrap();
        for (index, seed) in seeds.iter().enumerate() {
            std::fs::write(seed_dir.join(format!("seed-{index}")), seed).unwrap();
            run(seed);
        }
        for (path, input) in kept_inputs(target) {
            // A panic names the input that caused it.
            eprintln!("replaying {}", path.display());
            run(&input);
        }
    }
}

#[test]
fn the_seeds_are_what_a_real_device_sends() {
    let [_, with_push] = entry::seeds("sync_request").try_into().unwrap();
    let request: SyncRequest = protocol::decode(&with_push).unwrap();
    let push = &request.pushes[0];
    let accepted =
        check_push(&[], push, &entry::pusher()).expect("the seed record is a valid new document");
    // The same changes, stored uncompressed.
    let heads = |bytes: &[u8]| Document::load(bytes, &[]).unwrap().heads();
    assert_eq!(heads(&accepted.new_changes), heads(&push.changes.changes));
}
