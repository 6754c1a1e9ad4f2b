//! The sync algorithms over the change log, written once for every backend.
//!
//! A backend implements [`LogTx`], the handful of reads and writes the algorithms need,
//! inside one of its transactions; [`sync`], [`push`], [`pull`] and [`recompute_access`] do
//! the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use doorstep_shared::document::{Document, Writer};
use doorstep_shared::model::{Attendance, CaseEvent, CaseEventKind, Record, RecordBody, TeamRole};
use doorstep_shared::sync::protocol::{Ack, DocChanges, Push, Refusal, SyncResponse};
use doorstep_shared::sync::server::{LogPosition, PAGE_BYTES, PageBudget};
use doorstep_shared::{CaseId, DocId, UserId};

use super::documents::{Checked, DocumentCache};
use super::{AuditEntry, Device, StorageError};
use doorstep_shared::sync::validate::{
    PushContext, PushLimits, Pusher, Rejection, check_push_onto, load_log,
};

/// One row of the change log, as a page reads it.
#[derive(Debug)]
pub struct LogRow {
    /// Its sequence number.
    pub seq: i64,
    /// Its case.
    pub case_id: String,
    /// Its document.
    pub doc_key: String,
    /// The changes.
    pub bytes: Vec<u8>,
}

/// What the algorithms need of a backend, all inside one transaction.
pub trait LogTx {
    /// Whether the server knows the case.
    fn case_exists(&mut self, case: &str) -> Result<bool, StorageError>;
    /// Whether `user` may read `case` now.
    fn may_read(&mut self, user: &str, case: &str) -> Result<bool, StorageError>;
    /// The user's first team by name, where their new cases go.
    fn first_team(&mut self, user: &str) -> Result<Option<String>, StorageError>;
    /// Files a case in a team's care: a new case, or one moving to another team.
    fn insert_case(&mut self, case: &str, team: &str) -> Result<(), StorageError>;
    /// Whether the server has a team of that name.
    fn team_exists(&mut self, team: &str) -> Result<bool, StorageError>;
    /// The members of a team.
    fn team_members(&mut self, team: &str) -> Result<BTreeSet<String>, StorageError>;
    /// The cases the user's teams hold.
    fn cases_of_teams_of(&mut self, user: &str) -> Result<BTreeSet<String>, StorageError>;
    /// The cases the user may read, as recorded.
    fn readable_cases(&mut self, user: &str) -> Result<BTreeSet<String>, StorageError>;
    /// Grants or revokes, and logs it at `seq`.
    fn set_access(
        &mut self,
        user: &str,
        case: &str,
        granted: bool,
        seq: i64,
    ) -> Result<(), StorageError>;
    /// The next sequence number of the log. Backends hand them out so that transactions
    /// commit in the order of their numbers (a lock held to commit).
    fn next_seq(&mut self) -> Result<i64, StorageError>;
    /// The last sequence number handed out.
    fn latest_seq(&mut self) -> Result<i64, StorageError>;
    /// The server's epoch (see [`LogPosition::epoch`]).
    fn epoch(&mut self) -> Result<u64, StorageError>;
    /// Appends to the audit log.
    fn audit(&mut self, entry: &AuditEntry) -> Result<(), StorageError>;
    /// The case a document was filed under by its first row in the log, if it has one.
    fn doc_case(&mut self, doc_key: &str) -> Result<Option<String>, StorageError>;
    /// The team that holds a case, if the server knows the case.
    fn case_team(&mut self, case: &str) -> Result<Option<String>, StorageError>;
    /// The cases a team holds.
    fn team_cases(&mut self, team: &str) -> Result<BTreeSet<String>, StorageError>;
    /// A team's members and their roles.
    fn team_roster(&mut self, team: &str) -> Result<BTreeMap<UserId, TeamRole>, StorageError>;
    /// The user's role on a team, if they are on it.
    fn team_role(&mut self, user: &str, team: &str) -> Result<Option<TeamRole>, StorageError>;
    /// The user's role on the team that holds the case, if they are on it.
    fn role_of(&mut self, user: &str, case: &str) -> Result<Option<TeamRole>, StorageError>;
    /// The user an Automerge actor (in hex) is bound to, if it is bound.
    fn actor_user(&mut self, actor: &str) -> Result<Option<String>, StorageError>;
    /// Binds an unbound actor to the user and device that pushed a change by it.
    fn bind_actor(&mut self, actor: &str, user: &str, device: &str) -> Result<(), StorageError>;
    /// The position of a document's newest row in the log, if it has any.
    fn doc_newest_seq(&mut self, doc_key: &str) -> Result<Option<i64>, StorageError>;
    /// A document's log rows' bytes, in order.
    fn doc_log(&mut self, doc_key: &str) -> Result<Vec<Vec<u8>>, StorageError>;
    /// Rewrites which blobs (hex hashes, each with the media type the document gives it) a
    /// document of `case` names.
    fn set_blob_refs(
        &mut self,
        doc_key: &str,
        case: &str,
        named: &[(String, String)],
    ) -> Result<(), StorageError>;
    /// The documents naming a blob, each with its case.
    fn blob_ref_docs(&mut self, hash: &str) -> Result<Vec<(String, String)>, StorageError>;
    /// Appends a row to the log.
    fn append_change(
        &mut self,
        seq: i64,
        case: &str,
        doc_key: &str,
        device: &str,
        bytes: &[u8],
    ) -> Result<(), StorageError>;
    /// Visits, in order, the rows after `from` of the cases `user` may read that `device`
    /// did not write, until `visit` returns false.
    fn visit_changes_after(
        &mut self,
        from: i64,
        device: &str,
        user: &str,
        visit: &mut dyn FnMut(LogRow) -> Result<bool, StorageError>,
    ) -> Result<(), StorageError>;
    /// The user's grants (`true`) and revocations in `(from, to]`, in order.
    fn access_events(
        &mut self,
        user: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, bool)>, StorageError>;
    /// A case's rows up to `upto`, in order, as (document, bytes).
    fn case_changes_upto(
        &mut self,
        case: &str,
        upto: i64,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError>;
}

/// A case's whole log, as (document, bytes) rows in the order they were written: what an
/// export of the case or of one of its records reads.
pub fn case_log(tx: &mut impl LogTx, case: &str) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
    let upto = tx.latest_seq()?;
    tx.case_changes_upto(case, upto)
}

/// Brings `user`'s access in line with their teams, logging each grant and revocation on
/// the log's clock, so that a device's cursor also says which of them it has seen.
pub fn recompute_access(tx: &mut impl LogTx, user: &str) -> Result<(), StorageError> {
    let desired = tx.cases_of_teams_of(user)?;
    let current = tx.readable_cases(user)?;
    let grants = desired.difference(&current).map(|case| (case, true));
    let revocations = current.difference(&desired).map(|case| (case, false));
    for (case, granted) in grants.chain(revocations) {
        let seq = tx.next_seq()?;
        tx.set_access(user, case, granted, seq)?;
    }
    Ok(())
}

/// Recomputes access for every member of a team.
pub fn recompute_team(tx: &mut impl LogTx, team: &str) -> Result<(), StorageError> {
    for member in tx.team_members(team)? {
        recompute_access(tx, &member)?;
    }
    Ok(())
}

/// Writes the team's roster into the document of each case it holds: the team a device
/// shows is the server's word, written as the server ([`Writer::server`]).
pub fn write_team_rosters(tx: &mut impl LogTx, team: &str) -> Result<(), StorageError> {
    for case in tx.team_cases(team)? {
        write_case_roster(tx, &case)?;
    }
    Ok(())
}

/// Writes the roster of the team holding `case` into the case's document, if the server has
/// the document and its team is not that already.
pub fn write_case_roster(tx: &mut impl LogTx, case: &str) -> Result<(), StorageError> {
    let Some(team) = tx.case_team(case)? else {
        return Ok(());
    };
    let roster = tx.team_roster(&team)?;
    write_as_server(tx, case, |document, server| {
        document.set_team(server, &roster, chrono::Utc::now())
    })
}

/// Makes a change to a case's document as the server ([`Writer::server`]), if the server has
/// the document and `change` says it changed something.
fn write_as_server(
    tx: &mut impl LogTx,
    case: &str,
    change: impl FnOnce(
        &mut Document,
        &Writer,
    ) -> Result<bool, doorstep_shared::document::DocumentError>,
) -> Result<(), StorageError> {
    let doc_key = DocId::Case(parse_case(case)?).key();
    write_doc_as_server(tx, case, &doc_key, change).map(|_| ())
}

/// Makes a change to any document of `case` as the server; returns whether it changed.
fn write_doc_as_server(
    tx: &mut impl LogTx,
    case: &str,
    doc_key: &str,
    change: impl FnOnce(
        &mut Document,
        &Writer,
    ) -> Result<bool, doorstep_shared::document::DocumentError>,
) -> Result<bool, StorageError> {
    // The log's clock first: taking a number holds the lock that keeps two server processes
    // from writing the server's change to one document at once (a number left unused is a
    // gap in the log, which readers pass over).
    let seq = tx.next_seq()?;
    let log = tx.doc_log(doc_key)?;
    if log.is_empty() {
        return Ok(false);
    }
    let server = Writer::server();
    let actor = server.actor.to_hex_string();
    match tx.actor_user(&actor)? {
        Some(user) if user != UserId::ADMINISTRATOR => {
            return Err(StorageError::Database(format!(
                "the server's actor id is bound to {user}"
            )));
        }
        Some(_) => {}
        None => tx.bind_actor(&actor, UserId::ADMINISTRATOR, "server")?,
    }
    let parts: Vec<&[u8]> = log.iter().map(Vec::as_slice).collect();
    let mut document = Document::load(&[], &parts)
        .map_err(|error| StorageError::Database(format!("{doc_key} does not load: {error}")))?;
    let changed = change(&mut document, &server)
        .map_err(|error| StorageError::Database(format!("{doc_key}: {error}")))?;
    if changed {
        let bytes = document.take_unsaved_changes().concat();
        tx.append_change(seq, case, doc_key, SERVER_DEVICE, &bytes)?;
    }
    Ok(changed)
}

/// Writes an erased blob's tombstone, as the server, into every document that names it; the
/// devices holding them let go of the bytes when it reaches them. Returns how many documents
/// were written.
pub fn write_erasure(
    tx: &mut impl LogTx,
    hash: &doorstep_shared::attachments::BlobHash,
    erasure: &doorstep_shared::attachments::Erasure,
) -> Result<usize, StorageError> {
    let mut written = 0;
    for (doc_key, case) in tx.blob_ref_docs(&hash.to_string())? {
        let changed = write_doc_as_server(tx, &case, &doc_key, |document, server| {
            document.erase_blob(server, *hash, erasure, chrono::Utc::now())
        })?;
        if changed {
            written += 1;
        }
    }
    Ok(written)
}

/// Writes a group session's day and each member's attendance into the member's own case,
/// for the members who are clients: their case's team sees that they came, never who else
/// did or what was said. A member's entry is taken out again when the session no longer
/// records their attendance.
fn write_group_attendance(
    tx: &mut impl LogTx,
    group_case: &str,
    record: &Record,
) -> Result<(), StorageError> {
    let group_key = DocId::Case(parse_case(group_case)?).key();
    let log = tx.doc_log(&group_key)?;
    let parts: Vec<&[u8]> = log.iter().map(Vec::as_slice).collect();
    let Some(group) = Document::load(&[], &parts)
        .ok()
        .and_then(|document| document.case().ok())
        .and_then(|case| case.group)
    else {
        return Ok(());
    };
    let written: Vec<_> = doorstep_shared::model::attendance_for_cases(&group, record)
        .into_iter()
        .filter(|(_, _, entry)| entry.attendance.is_some())
        .collect();
    for member in &group.members {
        let Some(case) = member.case else {
            continue;
        };
        let key = format!("{}/{}", record.id, member.id);
        let entry = written
            .iter()
            .find(|(_, written_key, _)| *written_key == key)
            .map(|(_, _, entry)| entry.clone());
        let case = case.to_string();
        if !tx.case_exists(&case)? {
            continue;
        }
        write_as_server(tx, &case, |document, server| {
            document.set_group_attendance(server, &key, entry.as_ref(), chrono::Utc::now())
        })?;
    }
    Ok(())
}

/// The device id of the server's own rows in the log: no device has it, so every device
/// pulls them.
pub const SERVER_DEVICE: &str = "server";

/// What a sync's or a push's writes left: the acknowledgements, and the documents checked,
/// for the backend to keep in its [`DocumentCache`] once the transaction commits.
#[derive(Debug)]
pub struct Pushed {
    /// One per push, in the order they came.
    pub acks: Vec<Ack>,
    /// The server's copy of each document pushed, as its newest log row leaves it.
    pub checked: Vec<Checked>,
    /// The pushes refused, each on its own.
    pub refused: Vec<Refusal>,
}

/// One sync: the cursor's epoch checked, the pushes stored, a page of what the device lacks
/// read, and the audit entries that record it written; the caller commits only if this
/// succeeds, so the acknowledgements are never answered before everything is durable.
pub fn sync(
    tx: &mut impl LogTx,
    documents: &DocumentCache,
    device: &Device,
    pushes: &[Push],
    from: LogPosition,
    limits: &PushLimits,
    deadline: Option<Instant>,
) -> Result<(SyncResponse, Vec<Checked>), StorageError> {
    let epoch = check_epoch(tx, from)?;
    let pushed = push(tx, documents, epoch, device, pushes, limits, deadline)?;
    let mut response = pull(tx, device, from)?;
    response.acks = pushed.acks;
    response.refused = pushed.refused;
    record_sync(tx, device, pushes, &response)?;
    Ok((response, pushed.checked))
}

/// Refuses a cursor from before the server was restored from a backup: acknowledgements
/// given then may be of changes the backup lacks, so the device must send everything again
/// before anything of it is stored. Returns the server's epoch.
pub fn check_epoch(tx: &mut impl LogTx, from: LogPosition) -> Result<u64, StorageError> {
    let epoch = tx.epoch()?;
    if from.is_from_before_restore(epoch) {
        return Err(StorageError::ServerRestored);
    }
    Ok(epoch)
}

/// Audits a sync: counts, and each case written, read or purged. Never note text.
pub fn record_sync(
    tx: &mut impl LogTx,
    device: &Device,
    pushes: &[Push],
    response: &SyncResponse,
) -> Result<(), StorageError> {
    let entry = |case: Option<CaseId>, action: &str, detail: String| AuditEntry {
        user: Some(device.user.clone()),
        device: Some(device.id.clone()),
        case,
        action: action.to_owned(),
        detail,
        address: device.address.clone(),
    };
    tx.audit(&entry(
        None,
        "sync",
        format!(
            "pushed {} docs, pulled {} docs, purged {} cases, more {}",
            pushes.len(),
            response.pulls.len(),
            response.purge.len(),
            response.more
        ),
    ))?;
    let refused: BTreeSet<DocId> = response.refused.iter().map(|refusal| refusal.doc).collect();
    let written: BTreeSet<CaseId> = pushes
        .iter()
        .filter(|push| !refused.contains(&push.changes.doc))
        .map(|push| push.changes.case_id)
        .collect();
    let read: BTreeSet<CaseId> = response.pulls.iter().map(|pull| pull.case_id).collect();
    let cases = written
        .into_iter()
        .map(|case| (case, "write"))
        .chain(read.into_iter().map(|case| (case, "read")))
        .chain(response.purge.iter().map(|case| (*case, "purge")));
    for (case, action) in cases {
        tx.audit(&entry(Some(case), action, String::new()))?;
    }
    for refusal in &response.refused {
        let case = pushes
            .iter()
            .find(|push| push.changes.doc == refusal.doc)
            .map(|push| push.changes.case_id);
        tx.audit(&entry(case, "push_refused", refusal.code.clone()))?;
    }
    Ok(())
}

/// Validates and stores a device's pushes, checking each against the server's copy of its
/// document (kept in `documents` from an earlier push, or loaded from the log) and against
/// who may write what. A push that breaks a rule is refused on its own, with nothing of it
/// stored, and the others go on; the caller commits only if this succeeds.
pub fn push(
    tx: &mut impl LogTx,
    documents: &DocumentCache,
    epoch: u64,
    device: &Device,
    pushes: &[Push],
    limits: &PushLimits,
    deadline: Option<Instant>,
) -> Result<Pushed, StorageError> {
    // A new case's own document first: the records pushed with it need it to exist.
    let mut ordered: Vec<&Push> = pushes.iter().collect();
    ordered.sort_by_key(|push| !matches!(push.changes.doc, DocId::Case(_)));
    let mut pushed = Pushed {
        acks: Vec::with_capacity(pushes.len()),
        checked: Vec::with_capacity(pushes.len()),
        refused: Vec::new(),
    };
    for push in ordered {
        // A request answered 408 stops here: its transaction is dropped, and the writer is
        // free for the syncs waiting behind it.
        if deadline.is_some_and(|deadline| Instant::now() > deadline) {
            tracing::warn!(
                device = %device.id,
                pushes = pushes.len(),
                "a sync ran past its deadline and was stopped, with nothing stored"
            );
            return Err(StorageError::TimedOut);
        }
        match push_one(tx, documents, epoch, device, push, limits)? {
            Ok(checked) => {
                pushed.checked.extend(checked);
                pushed.acks.push(Ack {
                    doc: push.changes.doc,
                    heads: push.heads.clone(),
                });
            }
            Err(rejection) => pushed.refused.push(refusal(tx, device, push, &rejection)?),
        }
    }
    Ok(pushed)
}

/// Checks and stores one document's push: `Ok(Err(_))` is a refusal, with nothing written.
fn push_one(
    tx: &mut impl LogTx,
    documents: &DocumentCache,
    epoch: u64,
    device: &Device,
    push: &Push,
    limits: &PushLimits,
) -> Result<Result<Option<Checked>, Rejection>, StorageError> {
    let user = device.user.as_str();
    let doc = push.changes.doc;
    let case = push.changes.case_id;
    let case_key = case.to_string();
    let doc_key = doc.key();
    // A document's case is fixed by its first row: no claim moves it.
    if tx
        .doc_case(&doc_key)?
        .is_some_and(|filed| filed != case_key)
    {
        return Ok(Err(Rejection::WrongCase { doc }));
    }
    let (role, new_case_team) = if tx.case_exists(&case_key)? {
        match tx.role_of(user, &case_key)? {
            Some(role) if tx.may_read(user, &case_key)? => (role, None),
            _ => return Ok(Err(Rejection::Forbidden { doc })),
        }
    } else {
        // Only a case's own document opens a case the server does not know.
        if doc != DocId::Case(case) {
            return Ok(Err(Rejection::Forbidden { doc }));
        }
        let Some(team) = tx.first_team(user)? else {
            return Ok(Err(Rejection::NoTeam { doc }));
        };
        let Some(role) = tx.team_role(user, &team)? else {
            return Ok(Err(Rejection::NoTeam { doc }));
        };
        (role, Some(team))
    };
    let newest = tx.doc_newest_seq(&doc_key)?;
    let kept = newest.and_then(|seq| documents.take(&doc_key, epoch, seq));
    let (current, weight) = match kept {
        Some((document, weight)) => (Some(document), weight),
        None => {
            let log = tx.doc_log(&doc_key)?;
            let weight = log.iter().map(Vec::len).sum();
            match load_log(&log, doc) {
                Ok(current) => (current, weight),
                Err(rejection) => return Ok(Err(rejection)),
            }
        }
    };
    let context = PushContext {
        pusher: Pusher {
            user: &device.user,
            role,
        },
        limits: *limits,
    };
    let events_before = match (&current, doc) {
        (Some(current), DocId::Case(_)) => event_ids(current),
        _ => BTreeSet::new(),
    };
    let marks_before = match (&current, doc) {
        (Some(current), DocId::Record(_)) => session_marks(current).map(|(_, marks)| marks),
        _ => None,
    };
    let accepted = match check_push_onto(current, push, &context) {
        Ok(accepted) => accepted,
        Err(rejection) => return Ok(Err(rejection)),
    };
    // A transfer to another team moves the case there in the same step.
    let mut moves_to = None;
    if let DocId::Case(_) = doc {
        for team in transfers_after(&accepted.document, &events_before) {
            if role != TeamRole::Supervisor {
                return Ok(Err(Rejection::NotASupervisor {
                    doc,
                    action: "transfer a case to another team",
                }));
            }
            if !tx.team_exists(&team)? {
                return Ok(Err(Rejection::NotAllowed {
                    doc,
                    reason: format!("there is no team called {team:?} to transfer the case to"),
                }));
            }
            moves_to = Some(team);
        }
    }
    // Each actor writes for one user: the first to push a change by it.
    let mut unbound = Vec::new();
    for actor in &accepted.actors {
        let actor = actor.to_hex_string();
        match tx.actor_user(&actor)? {
            Some(bound) if bound != user => {
                return Ok(Err(Rejection::ForgedAuthor {
                    doc,
                    reason: "a change's writer belongs to another user".into(),
                }));
            }
            Some(_) => {}
            None => unbound.push(actor),
        }
    }

    if let Some(team) = new_case_team {
        tx.insert_case(&case_key, &team)?;
        recompute_team(tx, &team)?;
    }
    for actor in unbound {
        tx.bind_actor(&actor, user, &device.id)?;
    }
    let first_of_document = newest.is_none();
    let newest = if accepted.new_changes.is_empty() {
        newest
    } else {
        let seq = tx.next_seq()?;
        tx.append_change(seq, &case_key, &doc_key, &device.id, &accepted.new_changes)?;
        // The blobs it names: what the case's team may send and fetch.
        tx.set_blob_refs(
            &doc_key,
            &case_key,
            &super::blobs::named_by(&accepted.document),
        )?;
        Some(seq)
    };
    if let Some(team) = moves_to {
        let from = tx.case_team(&case_key)?;
        tx.insert_case(&case_key, &team)?;
        recompute_team(tx, &team)?;
        if let Some(from) = from.filter(|from| *from != team) {
            recompute_team(tx, &from)?;
        }
        write_case_roster(tx, &case_key)?;
        return Ok(Ok(None));
    }
    if first_of_document && matches!(doc, DocId::Case(_)) {
        // The team the case shows is the server's; the copy checked above no longer is the
        // newest, so it is not kept.
        write_case_roster(tx, &case_key)?;
        return Ok(Ok(None));
    }
    // Only a push that changed a session's day or marks is written on to members' cases.
    if let DocId::Record(_) = doc
        && let Some((session, marks)) = session_marks(&accepted.document)
        && marks_before.as_ref() != Some(&marks)
    {
        write_group_attendance(tx, &case_key, &session)?;
    }
    Ok(Ok(newest.map(|seq| Checked {
        doc_key,
        epoch,
        seq,
        weight: weight + accepted.new_changes.len(),
        document: accepted.document,
    })))
}

/// A case document's events, read without the rest of the case.
fn events(document: &Document) -> Vec<CaseEvent> {
    document
        .fields_to_json(&["events"], None)
        .ok()
        .and_then(|mut json| serde_json::from_value(json["events"].take()).ok())
        .unwrap_or_default()
}

/// The ids of a case document's events.
fn event_ids(document: &Document) -> BTreeSet<String> {
    events(document)
        .iter()
        .map(|event| event.id.to_string())
        .collect()
}

/// The teams the case is transferred to by events not among `before`.
fn transfers_after(document: &Document, before: &BTreeSet<String>) -> Vec<String> {
    events(document)
        .into_iter()
        .filter(|event| {
            event.kind == CaseEventKind::Transfer
                && !event.to_team.trim().is_empty()
                && !before.contains(&event.id.to_string())
        })
        .map(|event| event.to_team.trim().to_owned())
        .collect()
}

/// A group session record, and what of it reaches its members' cases (its start and each
/// line's member and attendance); `None` for any other document, told by its kind alone.
fn session_marks(document: &Document) -> Option<(Record, SessionMarks)> {
    let kind = document.template().ok()?.kind;
    if kind != doorstep_shared::template::GROUP_SESSION.kind {
        return None;
    }
    let record = document.record().ok()?;
    let RecordBody::GroupSession(body) = &record.body else {
        return None;
    };
    let marks = body
        .members
        .iter()
        .map(|line| (line.member, line.attendance))
        .collect();
    let start = record.occurred_start;
    Some((record, (start, marks)))
}

/// A session's start and each line's member and attendance.
type SessionMarks = (
    Option<chrono::DateTime<chrono::Utc>>,
    Vec<(Option<doorstep_shared::ItemId>, Option<Attendance>)>,
);

/// A refused push's answer: its code and reason, and the server's copy of the document when
/// the device may read it, so the device can set its own copy back to what the server holds.
fn refusal(
    tx: &mut impl LogTx,
    device: &Device,
    push: &Push,
    rejection: &Rejection,
) -> Result<Refusal, StorageError> {
    let doc_key = push.changes.doc.key();
    let readable = match tx.doc_case(&doc_key)? {
        Some(case) => tx.may_read(device.user.as_str(), &case)?,
        None => false,
    };
    let server_copy = if readable {
        tx.doc_log(&doc_key)?.concat()
    } else {
        Vec::new()
    };
    Ok(Refusal {
        doc: push.changes.doc,
        code: rejection.code().to_owned(),
        message: rejection.reason(),
        server_copy,
    })
}

/// A page of what the device lacks after `from`, with the cases to purge.
pub fn pull(
    tx: &mut impl LogTx,
    device: &Device,
    from: LogPosition,
) -> Result<SyncResponse, StorageError> {
    let user = device.user.as_str();
    let from_seq = i64::try_from(from.seq).unwrap_or(i64::MAX);
    let latest = tx.latest_seq()?;

    let mut pulls: Vec<DocChanges> = Vec::new();
    let mut budget = PageBudget::new(PAGE_BYTES);
    let mut more = false;
    let mut last_admitted = from_seq;
    tx.visit_changes_after(from_seq, &device.id, user, &mut |row| {
        if !budget.admit(row.bytes.len()) {
            more = true;
            return Ok(false);
        }
        last_admitted = row.seq;
        append_pull(
            &mut pulls,
            &row.doc_key,
            parse_case(&row.case_id)?,
            row.bytes,
        )?;
        Ok(true)
    })?;
    // The page ends at its last row if it was cut short, else at the end of the log.
    let horizon = if more { last_admitted } else { latest };

    // Grants and revocations the device has not seen, up to where this page ends.
    let readable = tx.readable_cases(user)?;
    let mut catch_up = BTreeSet::new();
    let mut purge = BTreeSet::new();
    for (case, granted) in tx.access_events(user, from_seq, horizon)? {
        if granted && readable.contains(&case) {
            catch_up.insert(case);
        } else if !granted && !readable.contains(&case) {
            purge.insert(case);
        }
    }
    // A case newly readable: everything of it from before the cursor, ahead of the page.
    let mut earlier = Vec::new();
    for case in &catch_up {
        let case_id = parse_case(case)?;
        for (doc_key, bytes) in tx.case_changes_upto(case, from_seq)? {
            append_pull(&mut earlier, &doc_key, case_id, bytes)?;
        }
    }
    earlier.extend(pulls);
    Ok(SyncResponse {
        acks: Vec::new(),
        refused: Vec::new(),
        pulls: earlier,
        cursor: LogPosition {
            seq: u64::try_from(horizon).unwrap_or_default(),
            epoch: tx.epoch()?,
        }
        .to_cursor(),
        more,
        purge: purge
            .iter()
            .map(|case| parse_case(case))
            .collect::<Result<_, _>>()?,
    })
}

/// Parses a case id read back from storage.
pub fn parse_case(text: &str) -> Result<CaseId, StorageError> {
    text.parse()
        .map_err(|_| StorageError::Database(format!("bad case id {text:?}")))
}

/// Adds a log row to the pulls, joining it to the previous entry if it is the same document
/// (changes of one document in log order concatenate into a valid sequence).
fn append_pull(
    pulls: &mut Vec<DocChanges>,
    doc_key: &str,
    case_id: CaseId,
    bytes: Vec<u8>,
) -> Result<(), StorageError> {
    let doc: DocId = doc_key
        .parse()
        .map_err(|_| StorageError::Database(format!("bad document key {doc_key:?}")))?;
    match pulls.last_mut() {
        Some(last) if last.doc == doc => last.changes.extend_from_slice(&bytes),
        _ => pulls.push(DocChanges {
            doc,
            case_id,
            changes: bytes,
        }),
    }
    Ok(())
}
