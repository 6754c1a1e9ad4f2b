//! What each fuzz target does with its bytes: the places where Doorstep meets bytes it cannot
//! trust. A refusal (an `Err`) is the right answer to garbage; a panic, a hang or a crash is
//! a bug.
//!
//! Shared, through `#[path]`, by the fuzz targets in `fuzz_targets/` and by the regression
//! test `shared/tests/fuzz_regressions.rs`, which replays every input kept under
//! `fuzz/regressions/<target>/` in the normal test suite, along with [`seeds`].

#![allow(dead_code)]

use std::sync::LazyLock;

use automerge::ActorId;
use chrono::{TimeZone, Utc};
use doorstep_shared::document::{Document, Edit, Occurrence, Writer};
use doorstep_shared::model::RecordKind;
use doorstep_shared::model::TeamRole;
use doorstep_shared::sync::protocol::{self, DocChanges, Heads, Push, SyncRequest, SyncResponse};
use doorstep_shared::sync::server::LogPosition;
use doorstep_shared::sync::validate::{PushContext, PushLimits, Pusher, check_push};
use doorstep_shared::{CaseId, DocId, RecordId, UserId};

/// A fuzz target: takes any bytes, and must not panic.
pub type Target = fn(&[u8]);

/// The fuzz targets, by name.
pub const TARGETS: [(&str, Target); 4] = [
    ("sync_request", sync_request),
    ("change_validation", change_validation),
    ("sync_response", sync_response),
    ("document_blob", document_blob),
];

/// The server decoding a sync request body, and the cursor in it.
pub fn sync_request(data: &[u8]) {
    if let Ok(request) = protocol::decode::<SyncRequest>(data) {
        let _ = LogPosition::from_cursor(&request.cursor);
    }
}

/// The server checking pushed changes against the document they claim to change: a record
/// it holds already, and a document new to it.
pub fn change_validation(data: &[u8]) {
    let seed = &*SEED;
    let push = Push {
        changes: DocChanges {
            doc: seed.doc,
            case_id: seed.case,
            changes: data.to_vec(),
        },
        heads: Heads::default(),
    };
    with_automerge_assertions_caught(|| {
        let _ = check_push(&seed.log, &push, &pusher());
        let _ = check_push(&[], &push, &pusher());
    });
}

/// Automerge asserts on some malformed changes; the server's check catches that and refuses
/// the document (`check_push_onto`), as it does here. The fuzzer's panic hook would abort at
/// the assertion, before the check could catch it, so it is set aside while the check runs:
/// a panic that escapes the check still ends the run as a crash.
fn with_automerge_assertions_caught(run: impl FnOnce()) {
    let fuzzer_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run));
    std::panic::set_hook(fuzzer_hook);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// The seed's writer as the server knows her: a supervisor, so that every rule is reached.
pub fn pusher() -> PushContext<'static> {
    static AMARA: LazyLock<UserId> = LazyLock::new(|| "amara".parse().expect("a user id"));
    PushContext {
        pusher: Pusher {
            user: &AMARA,
            role: TeamRole::Supervisor,
        },
        limits: PushLimits::default(),
    }
}

/// A device decoding the server's answer, and merging each pulled document's changes into
/// its copy, as the store does, then reading the result as the lists and search do.
pub fn sync_response(data: &[u8]) {
    let Ok(response) = protocol::decode::<SyncResponse>(data) else {
        return;
    };
    let _ = LogPosition::from_cursor(&response.cursor);
    for pull in &response.pulls {
        let Ok(mut document) = Document::load(&SEED.snapshot, &[]) else {
            panic!("the seed document loads");
        };
        if document.apply_remote(&pull.changes).is_ok() {
            read_all(&document);
        }
    }
}

/// The store loading a document from a corrupted snapshot or change row, then reading it as
/// the lists, search and history do.
pub fn document_blob(data: &[u8]) {
    let loaded = [
        Document::load(data, &[]),
        Document::load(&[], &[data]),
        Document::load(&SEED.snapshot, &[data]),
    ];
    for document in loaded.into_iter().flatten() {
        read_all(&document);
    }
}

fn read_all(document: &Document) {
    let _ = document.doc_id();
    let _ = document.case_id();
    let _ = document.index_view();
    let _ = document.searchable_text();
    let _ = document.record();
    let _ = document.record_as_signed();
    let _ = document.case();
    let _ = document.authors();
}

/// A home-visit record with an edit: what the server's log and a device's store hold before
/// the fuzzed bytes arrive. Built the same way every time, so a crash replays.
struct Seed {
    doc: DocId,
    case: CaseId,
    log: Vec<Vec<u8>>,
    snapshot: Vec<u8>,
}

static SEED: LazyLock<Seed> = LazyLock::new(|| {
    let writer = Writer {
        user: "amara".parse().expect("a valid user name"),
        actor: ActorId::from(&[7u8; 16][..]),
    };
    let at = Utc
        .with_ymd_and_hms(2026, 11, 23, 9, 30, 0)
        .single()
        .expect("a valid time");
    let record: RecordId = "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b"
        .parse()
        .expect("a uuid");
    let case: CaseId = "9e8d7c6b-5a49-4382-b716-a5f4e3d2c1b0"
        .parse()
        .expect("a uuid");
    let mut document = Document::new_record(
        &writer,
        record,
        case,
        RecordKind::HomeVisit,
        Occurrence::default(),
        at,
    )
    .expect("a new record");
    document
        .edit(&writer, &Edit::text("plan", "Visit again on Friday."), at)
        .expect("an edit");
    Seed {
        doc: DocId::Record(record),
        case,
        log: document.take_unsaved_changes(),
        snapshot: document.save(),
    }
});

/// Valid inputs for each target, to start the fuzzer's corpus from and to replay.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let seed = &*SEED;
    let whole = DocChanges {
        doc: seed.doc,
        case_id: seed.case,
        changes: seed.log.concat(),
    };
    let cursor = LogPosition { seq: 42, epoch: 7 }.to_cursor();
    match target {
        "sync_request" => vec![
            protocol::encode(&SyncRequest::default()),
            protocol::encode(&SyncRequest {
                cursor: cursor.clone(),
                pushes: vec![Push {
                    changes: whole.clone(),
                    heads: Heads::default(),
                }],
            }),
        ],
        "change_validation" => seed.log.clone(),
        "sync_response" => vec![protocol::encode(&SyncResponse {
            pulls: vec![whole],
            cursor,
            more: true,
            ..SyncResponse::default()
        })],
        "document_blob" => vec![seed.snapshot.clone(), seed.log.concat()],
        _ => Vec::new(),
    }
}
