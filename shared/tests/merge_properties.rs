//! Convergence: whatever order edits and syncs happen in, on 2 to 5 devices, with messages
//! delivered twice, every device ends with the same document and no word anyone typed is
//! lost. And a document saved and loaded again is the same document.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone, Utc};
use doorstep_shared::document::{Document, Edit, FieldValue, Occurrence, Writer};
use doorstep_shared::model::{ProcessRecording, RecordBody, RecordKind};
use doorstep_shared::{CaseId, ItemId, RecordId};
use proptest::prelude::*;

const NARRATIVES: [&str; 3] = ["purpose", "summary", "reflection"];

#[derive(Debug, Clone)]
enum Step {
    /// Type a word into a narrative field at a position (a fraction of its length).
    Type {
        device: usize,
        field: usize,
        at: u16,
    },
    /// Add an exchange, with a word in it.
    AddExchange { device: usize },
    /// Type a word into one of the exchanges the device can see.
    TypeInExchange {
        device: usize,
        which: usize,
        at: u16,
    },
    /// Flip an exchange between dialogue and behaviour: a single value, last writer wins.
    SetMode {
        device: usize,
        which: usize,
        behaviour: bool,
    },
    /// Send `from`'s changes that `to` lacks; `twice` delivers the same message again.
    Sync { from: usize, to: usize, twice: bool },
}

fn step(devices: usize) -> impl Strategy<Value = Step> {
    let device = 0..devices;
    prop_oneof![
        3 => (device.clone(), 0..NARRATIVES.len(), any::<u16>())
            .prop_map(|(device, field, at)| Step::Type { device, field, at }),
        1 => device.clone().prop_map(|device| Step::AddExchange { device }),
        2 => (device.clone(), any::<usize>(), any::<u16>())
            .prop_map(|(device, which, at)| Step::TypeInExchange { device, which, at }),
        1 => (device.clone(), any::<usize>(), any::<bool>())
            .prop_map(|(device, which, behaviour)| Step::SetMode { device, which, behaviour }),
        2 => (device.clone(), device, any::<bool>())
            .prop_map(|(from, to, twice)| Step::Sync { from, to, twice }),
    ]
}

fn scenario() -> impl Strategy<Value = (usize, Vec<Step>)> {
    (2usize..=5)
        .prop_flat_map(|devices| (Just(devices), prop::collection::vec(step(devices), 1..60)))
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 10, 0, 0).unwrap()
}

fn recording(document: &Document) -> ProcessRecording {
    match document.record().unwrap().body {
        RecordBody::ProcessRecording(recording) => recording,
        other => panic!("expected a process recording, got {other:?}"),
    }
}

fn narrative(recording: &ProcessRecording, field: usize) -> &str {
    match NARRATIVES[field] {
        "purpose" => &recording.purpose,
        "summary" => &recording.summary,
        _ => &recording.reflection,
    }
}

/// Inserts `word` at a character position chosen by `at`, on a word boundary.
fn insert_word(text: &str, word: &str, at: u16) -> String {
    let boundaries: Vec<usize> = std::iter::once(0)
        .chain(
            text.char_indices()
                .filter(|(_, c)| *c == ' ')
                .map(|(i, _)| i + 1),
        )
        .collect();
    let index = boundaries[usize::from(at) % boundaries.len()];
    format!("{}{word} {}", &text[..index], &text[index..])
}

fn sync(devices: &mut [Document], from: usize, to: usize, twice: bool) {
    if from == to {
        return;
    }
    let heads = devices[to].heads();
    let message = devices[from].changes_after(&heads);
    devices[to].apply_remote(&message).unwrap();
    if twice {
        devices[to].apply_remote(&message).unwrap();
    }
}

fn run(device_count: usize, steps: &[Step]) -> Result<(), TestCaseError> {
    let writers: Vec<Writer> = (0..device_count)
        .map(|n| Writer::new_device(format!("worker-{n}").parse().unwrap()))
        .collect();
    let mut first = Document::new_record(
        &writers[0],
        RecordId::random(),
        CaseId::random(),
        RecordKind::ProcessRecording,
        Occurrence::default(),
        now(),
    )
    .unwrap();
    let saved = first.save();
    let mut devices = vec![first];
    for _ in 1..device_count {
        devices.push(Document::load(&saved, &[]).unwrap());
    }

    let mut typed: Vec<(Option<ItemId>, usize, String)> = Vec::new();
    let mut exchanges: BTreeSet<ItemId> = BTreeSet::new();
    for (n, step) in steps.iter().enumerate() {
        let word = format!("[w{n}]");
        match *step {
            Step::Type { device, field, at } => {
                let text = insert_word(narrative(&recording(&devices[device]), field), &word, at);
                let edit = Edit::text(NARRATIVES[field], &text);
                devices[device]
                    .edit(&writers[device], &edit, now())
                    .unwrap();
                typed.push((None, field, word));
            }
            Step::AddExchange { device } => {
                let (add, id) = Edit::append("exchanges");
                devices[device].edit(&writers[device], &add, now()).unwrap();
                let content = Edit::set_in(
                    "exchanges",
                    id,
                    "content",
                    FieldValue::Text(format!("{word} ")),
                );
                devices[device]
                    .edit(&writers[device], &content, now())
                    .unwrap();
                exchanges.insert(id);
                typed.push((Some(id), 0, word));
            }
            Step::TypeInExchange { device, which, at } => {
                let visible = recording(&devices[device]).exchanges;
                if visible.is_empty() {
                    continue;
                }
                let exchange = &visible[which % visible.len()];
                let text = insert_word(&exchange.content, &word, at);
                let edit =
                    Edit::set_in("exchanges", exchange.id, "content", FieldValue::Text(text));
                devices[device]
                    .edit(&writers[device], &edit, now())
                    .unwrap();
                typed.push((Some(exchange.id), 0, word));
            }
            Step::SetMode {
                device,
                which,
                behaviour,
            } => {
                let visible = recording(&devices[device]).exchanges;
                if visible.is_empty() {
                    continue;
                }
                let mode = if behaviour { "behaviour" } else { "dialogue" };
                let id = visible[which % visible.len()].id;
                let edit = Edit::set_in("exchanges", id, "mode", FieldValue::Text(mode.into()));
                devices[device]
                    .edit(&writers[device], &edit, now())
                    .unwrap();
            }
            Step::Sync { from, to, twice } => sync(&mut devices, from, to, twice),
        }
    }

    // Heal: everybody talks to everybody until nothing new arrives.
    for _ in 0..2 {
        for from in 0..device_count {
            for to in 0..device_count {
                sync(&mut devices, from, to, false);
            }
        }
    }

    let expected = recording(&devices[0]);
    let heads = devices[0].heads();
    for device in devices.iter_mut() {
        prop_assert_eq!(device.heads(), heads.clone());
        prop_assert_eq!(recording(device), expected.clone());
    }
    let ids: BTreeSet<ItemId> = expected.exchanges.iter().map(|e| e.id).collect();
    prop_assert_eq!(ids, exchanges);
    for (exchange, field, word) in &typed {
        let text = match exchange {
            None => narrative(&expected, *field),
            Some(id) => {
                &expected
                    .exchanges
                    .iter()
                    .find(|e| e.id == *id)
                    .unwrap()
                    .content
            }
        };
        prop_assert!(text.contains(word.as_str()), "{word} lost from {text:?}");
    }

    // Saved and loaded, whole or as a snapshot followed by later changes, it is the same.
    let mut reloaded = Document::load(&devices[0].save(), &[]).unwrap();
    prop_assert_eq!(reloaded.heads(), heads.clone());
    prop_assert_eq!(recording(&reloaded), expected.clone());
    let mut base = Document::load(&saved, &[]).unwrap();
    let base_heads = base.heads();
    let later = devices[1].changes_after(&base_heads);
    let mut incremental = Document::load(&saved, &[&later]).unwrap();
    prop_assert_eq!(incremental.heads(), heads);
    prop_assert_eq!(recording(&incremental), expected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn devices_converge_without_losing_a_word((devices, steps) in scenario()) {
        run(devices, &steps)?;
    }
}

#[test]
fn words_are_inserted_on_word_boundaries() {
    assert_eq!(insert_word("", "[a]", 7), "[a] ");
    assert_eq!(insert_word("x y ", "[a]", 1), "x [a] y ");
    assert_eq!(insert_word("x y ", "[a]", 0), "[a] x y ");
}
