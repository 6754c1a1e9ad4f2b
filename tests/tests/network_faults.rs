//! Five devices make 200 random edits each through a proxy that holds responses back for up
//! to two seconds, resets 5% of connections, cuts 5% of responses short, and partitions the
//! network for 30 seconds. Once it heals, every device holds every edit any device made,
//! acknowledged or not, exactly once, and all hold the same records.
//!
//! The edits and the faults come from a seed printed at the start:
//! `DOORSTEP_FAULT_SEED=<seed>` replays them (the timing of the network may differ).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use doorstep_shared::document::{Edit, FieldValue};
use doorstep_shared::model::{RecordBody, RecordKind};
use doorstep_shared::{CaseId, RecordId};
use doorstep_tests::faults::{FaultProxy, Faults, SplitMix, seed_from_env};
use doorstep_tests::{Device, ServerProcess};

const USERS: [&str; 5] = ["amara", "ben", "grace", "dami", "efe"];
const EDITS: usize = 200;
const PARTITION_AFTER: Duration = Duration::from_secs(15);
const PARTITION_FOR: Duration = Duration::from_secs(30);

/// Every word in a case note: its plan, and the headings of its sections.
fn words_of(device: &mut Device, record: RecordId) -> Vec<String> {
    let RecordBody::CaseNote(note) = device.store.record(record).unwrap().body else {
        panic!("only case notes are written here");
    };
    let mut words: Vec<String> = note.plan.split_whitespace().map(str::to_owned).collect();
    words.extend(note.sections.into_iter().map(|section| section.heading));
    words
}

/// What one device did: the words it wrote, and how many were acknowledged by the server
/// before the network healed.
struct Worked {
    device: Device,
    written: Vec<(RecordId, String)>,
    created: Vec<RecordId>,
    acknowledged: usize,
}

async fn work(mut device: Device, case: CaseId, seed: u64, n: usize) -> Worked {
    let mut random = SplitMix(seed ^ (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let (mut written, mut created, mut acknowledged) = (Vec::new(), Vec::new(), 0);
    for i in 0..EDITS {
        let word = format!("d{n}e{i}");
        let known = device.record_ids(case).unwrap();
        let choice = random.below(10);
        if known.is_empty() || choice == 0 {
            let record = device
                .record_with_plan(case, RecordKind::CaseNote, &word)
                .unwrap();
            created.push(record);
            written.push((record, word));
        } else if choice <= 7 {
            let record = known[random.below(known.len() as u64) as usize];
            let RecordBody::CaseNote(note) = device.store.record(record).unwrap().body else {
                panic!("only case notes are written here");
            };
            let plan = format!("{} {word}", note.plan);
            device
                .store
                .edit(record, &Edit::text("plan", &plan), Utc::now())
                .unwrap();
            written.push((record, word));
        } else {
            let record = known[random.below(known.len() as u64) as usize];
            let (append, section) = Edit::append("sections");
            device.store.edit(record, &append, Utc::now()).unwrap();
            let heading = Edit::set_in(
                "sections",
                section,
                "heading",
                FieldValue::Text(word.clone()),
            );
            device.store.edit(record, &heading, Utc::now()).unwrap();
            written.push((record, word));
        }
        if random.chance(15)
            && device.sync().await.is_ok()
            && device.store.pending_pushes().unwrap().is_empty()
        {
            acknowledged = written.len();
        }
        // About a minute of work, so the partition falls in the middle of it.
        tokio::time::sleep(Duration::from_millis(random.below(600))).await;
    }
    Worked {
        device,
        written,
        created,
        acknowledged,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_devices_through_a_bad_network_converge_with_every_edit_once() {
    let seed = seed_from_env("DOORSTEP_FAULT_SEED");
    let server = ServerProcess::start().unwrap();
    let members: Vec<(&str, &str)> = USERS.iter().map(|user| (*user, "worker")).collect();
    server.team("north", &members).unwrap();
    let mut devices = Vec::new();
    for user in USERS {
        devices.push(Device::sign_in(&server, user).await.unwrap());
    }
    let case = devices[0]
        .store
        .create_case("Mrs Network", Utc::now())
        .unwrap();
    for device in &mut devices {
        device.sync().await.unwrap();
    }

    let proxy = Arc::new(
        FaultProxy::start(
            server.address,
            Faults {
                seed,
                max_latency: Duration::from_secs(2),
                reset_percent: 5,
                truncate_percent: 5,
            },
        )
        .await
        .unwrap(),
    );
    let mut tasks = Vec::new();
    for (n, mut device) in devices.into_iter().enumerate() {
        device.reconnect(&proxy.url()).unwrap();
        tasks.push(tokio::spawn(work(device, case, seed, n)));
    }
    let partition = {
        let proxy = proxy.clone();
        tokio::spawn(async move {
            tokio::time::sleep(PARTITION_AFTER).await;
            proxy.partition(true);
            tokio::time::sleep(PARTITION_FOR).await;
            proxy.partition(false);
        })
    };
    let mut worked = Vec::new();
    for task in tasks {
        worked.push(task.await.unwrap());
    }
    partition.await.unwrap();

    // The network heals: every device syncs straight to the server until nothing moves.
    for round in 0..3 {
        for done in &mut worked {
            done.device.reconnect(&server.url()).unwrap();
            done.device
                .sync()
                .await
                .unwrap_or_else(|error| panic!("seed {seed}: round {round}: {error}"));
        }
    }

    let all_written: Vec<(RecordId, String)> = worked
        .iter()
        .flat_map(|done| done.written.clone())
        .collect();
    let all_created: BTreeSet<RecordId> = worked
        .iter()
        .flat_map(|done| done.created.clone())
        .collect();
    let acknowledged: usize = worked.iter().map(|done| done.acknowledged).sum();
    assert_eq!(all_written.len(), USERS.len() * EDITS);
    let mut lost = 0;
    let mut first_records = None;
    for done in &mut worked {
        assert!(done.device.store.pending_pushes().unwrap().is_empty());
        let listed = done.device.record_ids(case).unwrap();
        let records: BTreeSet<RecordId> = listed.iter().copied().collect();
        assert_eq!(
            listed.len(),
            records.len(),
            "seed {seed}: a record listed twice"
        );
        assert_eq!(
            records, all_created,
            "seed {seed}: records missing or doubled"
        );
        let mut contents = Vec::new();
        for record in &records {
            contents.push(words_of(&mut done.device, *record));
        }
        for (record, word) in &all_written {
            let count = words_of(&mut done.device, *record)
                .iter()
                .filter(|written| *written == word)
                .count();
            if count != 1 {
                lost += 1;
                eprintln!("seed {seed}: {word} is in {record} {count} times");
            }
        }
        match &first_records {
            None => first_records = Some(contents),
            Some(first) => assert_eq!(first, &contents, "seed {seed}: devices differ"),
        }
    }
    let counts = &proxy.counts;
    let (resets, truncated, delayed, partitioned) = (
        counts.reset_before.load(Ordering::SeqCst) + counts.reset_after.load(Ordering::SeqCst),
        counts.truncated.load(Ordering::SeqCst),
        counts.delayed.load(Ordering::SeqCst),
        counts.partitioned.load(Ordering::SeqCst),
    );
    println!(
        "seed {seed}: {} edits, {acknowledged} acknowledged before healing, {lost} lost or \
         doubled, {} records; faults: {resets} resets, {truncated} cut responses, {delayed} \
         delayed responses, {partitioned} connections partitioned",
        all_written.len(),
        all_created.len()
    );
    assert_eq!(lost, 0, "seed {seed}: edits lost or doubled");
    assert!(
        resets + truncated > 0 && delayed > 0 && partitioned > 0,
        "seed {seed}: the faults did not happen"
    );
    assert!(
        acknowledged > 0,
        "seed {seed}: nothing got through before healing"
    );
}
