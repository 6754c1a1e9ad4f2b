//! The on-device store: documents in SQLite encrypted with SQLCipher.
//!
//! Every user action is appended as one incremental Automerge change, in one transaction
//! with the index rows the caseload, the lists and the search read (WAL,
//! `synchronous=FULL`): when a call returns `Ok`, the edit survives a crash or a flat battery.
//! Documents are loaded once and kept in memory while the store is open.
//!
//! Changes are folded into a snapshot by [`Store::compact`], which the app runs when it is
//! idle, off the typing path. The fold writes the snapshot and deletes the changes it holds
//! in one transaction, so no change is deleted before the snapshot holding it is durable.

mod blobs;
#[cfg(target_family = "wasm")]
pub mod browser;
#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
mod chunked;
mod key;
mod queries;
mod refusals;
mod schema;
mod sync;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use automerge::{ActorId, ChangeHash};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};

pub use blobs::{AttachmentLimits, BlobState, BlobToFetch, BlobToSend};
pub use key::{KeyCost, Passphrase};
pub use queries::{CaseSummary, GoalReviewDue, RecordSummary, SearchHit};
pub use refusals::{Refused, RefusedText};

use crate::document::{
    Document, DocumentError, Edit, HistoryEntry, Occurrence, TeamChange, Writer,
};
use crate::ids::{CaseId, DocId, ItemId, RecordId, UserId};
use crate::model::{Case, CaseEventKind, Record, RecordKind};

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The passphrase does not open this store. Nothing was changed.
    #[error("wrong passphrase: the store was not opened and nothing in it was changed")]
    WrongPassphrase,
    /// The SQLite library in this build cannot encrypt, so the store refuses to store notes.
    #[error(
        "this build's SQLite has no encryption (SQLCipher is missing): refusing to store notes"
    )]
    NotEncrypted,
    /// An edit was attempted with nobody signed in on this device.
    #[error("nobody is signed in on this device")]
    NoUser,
    /// No such case or record on this device.
    #[error("{0} is not on this device")]
    NotFound(DocId),
    /// The document refused the edit, or holds something this version cannot read.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// The case is not a group's.
    #[error("this is not a group")]
    NotAGroup,
    /// The case cannot close yet.
    #[error(transparent)]
    Closing(#[from] crate::model::ClosingError),
    /// The summary named is not one of this case's summaries of that kind.
    #[error("that is not a {0} of this case")]
    NotASummary(&'static str),
    /// A file in the store is damaged.
    #[error("the store is damaged: {0}")]
    Corrupt(String),
    /// The store was written by a newer version of Doorstep.
    #[error("the store was written by a newer Doorstep (schema {found}, this one knows {known})")]
    TooNew {
        /// The store's schema version.
        found: usize,
        /// The newest this build knows.
        known: usize,
    },
    /// The key could not be derived.
    #[error("key derivation failed: {0}")]
    KeyDerivation(String),
    /// The system's random number generator failed.
    #[error("no randomness available: {0}")]
    Random(String),
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file system failed.
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
    /// The web browser's storage failed or is missing.
    #[error("browser storage: {0}")]
    Browser(String),
    /// An attachment was not taken: too large, no room, or not a kind of file that can be.
    #[error(transparent)]
    Attachment(#[from] crate::attachments::AttachmentError),
    /// A blob's bytes do not have the hash they were asked for by: they were thrown away.
    #[error(
        "the attachment's bytes arrived damaged (their hash does not match); they were discarded and will be fetched again"
    )]
    BlobMismatch,
}

/// How long after a visit a record may wait for its author before it is overdue, unless the
/// agency sets otherwise: practice guidance asks for notes within a day or two.
pub const DEFAULT_OVERDUE_AFTER: Duration = Duration::hours(48);

/// Compaction folds a document's changes into its snapshot once it has this many.
pub const COMPACT_AFTER_CHANGES: i64 = 128;

/// Where a store's database lives and how SQLite keeps it durable.
struct Location {
    path: PathBuf,
    /// The SQLite VFS holding the file; `None` for the platform's file system.
    vfs: Option<&'static str>,
    journal: Journal,
}

/// SQLite's journal for a store.
enum Journal {
    /// A write-ahead log beside the database file: a commit is one append and one fsync.
    Wal,
    /// No journal on storage: the VFS itself persists each commit atomically.
    #[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
    Memory,
}

/// Opens the file `location` describes with a `PRAGMA key` statement, and reads its first
/// page: a wrong passphrase fails here, before anything is written.
fn unlock(
    location: &Location,
    flags: OpenFlags,
    key_pragma: &str,
) -> Result<Connection, StoreError> {
    let flags = flags | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match location.vfs {
        Some(vfs) => Connection::open_with_flags_and_vfs(&location.path, flags, vfs)?,
        None => Connection::open_with_flags(&location.path, flags)?,
    };
    let cipher: Option<String> = conn
        .query_row("PRAGMA cipher_version", [], |row| row.get(0))
        .optional()?;
    if cipher.is_none_or(|version| version.is_empty()) {
        return Err(StoreError::NotEncrypted);
    }
    // SQLCipher would print its own line to stderr for a wrong key; the error returned
    // below says it in the app's words.
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    conn.execute_batch(key_pragma)?;
    if let Err(error) = conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
        row.get::<_, i64>(0)
    }) {
        return Err(match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => StoreError::WrongPassphrase,
            _ => error.into(),
        });
    }
    Ok(conn)
}

/// The encrypted store of one device.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    writer: Option<Writer>,
    open_docs: HashMap<DocId, Document>,
}

impl Store {
    /// Opens the store at `path` with the worker's passphrase, creating it if there is none.
    ///
    /// A wrong passphrase is [`StoreError::WrongPassphrase`], and leaves every file as it was.
    pub fn open(path: impl AsRef<Path>, passphrase: &Passphrase) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let salt = key::existing_salt(&path)?;
        Store::open_at(
            Location {
                path,
                vfs: None,
                journal: Journal::Wal,
            },
            salt,
            passphrase,
        )
    }

    /// [`Store::open`], making a new store with its key derived at `cost`, and rekeying an
    /// existing one of another cost to it. For measuring what a cost costs (the store's
    /// benchmark) and for tests; the app opens with [`Store::open`], at
    /// [`KeyCost::CURRENT`].
    pub fn open_with_key_cost(
        path: impl AsRef<Path>,
        passphrase: &Passphrase,
        cost: KeyCost,
    ) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let salt = key::existing_salt(&path)?;
        Store::open_at_cost(
            Location {
                path,
                vfs: None,
                journal: Journal::Wal,
            },
            salt,
            passphrase,
            cost,
        )
    }

    /// Opens the store in the file `location` describes, whose first bytes (the salt) the
    /// caller has read: `None` for a file that does not exist yet or is empty.
    fn open_at(
        location: Location,
        existing_salt: Option<[u8; key::SALT_LEN]>,
        passphrase: &Passphrase,
    ) -> Result<Store, StoreError> {
        Store::open_at_cost(location, existing_salt, passphrase, KeyCost::CURRENT)
    }

    /// [`Store::open_at`], making a new store at `cost`, and rekeying one of another cost to
    /// it.
    fn open_at_cost(
        location: Location,
        existing_salt: Option<[u8; key::SALT_LEN]>,
        passphrase: &Passphrase,
        cost: KeyCost,
    ) -> Result<Store, StoreError> {
        let mut conn = match existing_salt {
            None => {
                let salt = cost.new_salt()?;
                let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
                unlock(&location, flags, &key::key_pragma(passphrase, &salt, cost)?)?
            }
            Some(salt) => {
                let flags = OpenFlags::SQLITE_OPEN_READ_WRITE;
                let recorded = KeyCost::of_salt(&salt);
                let mut used = recorded.unwrap_or(KeyCost::LEGACY);
                let pragma = key::key_pragma(passphrase, &salt, used)?;
                let conn = match unlock(&location, flags, &pragma) {
                    // Sixteen random bytes of an old store that happen to read as a cost.
                    Err(StoreError::WrongPassphrase) if recorded.is_some() => {
                        used = KeyCost::LEGACY;
                        let pragma = key::key_pragma(passphrase, &salt, used)?;
                        unlock(&location, flags, &pragma)?
                    }
                    other => other?,
                };
                if used != cost {
                    // Every page again, under a key of the cost wanted now (SQLCipher writes
                    // them in one transaction, the new salt heading the first).
                    let salt = cost.new_salt()?;
                    conn.execute_batch(&key::rekey_pragma(passphrase, &salt, cost)?)?;
                }
                conn
            }
        };
        conn.execute_batch(match location.journal {
            Journal::Wal => "PRAGMA journal_mode = WAL;",
            Journal::Memory => "PRAGMA journal_mode = MEMORY;",
        })?;
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;
             PRAGMA secure_delete = ON;",
        )?;
        schema::migrate(&mut conn)?;
        let mut store = Store {
            conn,
            path: location.path,
            writer: None,
            open_docs: HashMap::new(),
        };
        // An erasure that stopped before its checkpoint finishes now.
        store.clear_erased()?;
        Ok(store)
    }

    /// Makes what was deleted gone from the disk too: `secure_delete` (set at open) has
    /// overwritten it in the pages, and a checkpoint that truncates the WAL copies those
    /// pages over the database file and drops the older frames that still held it.
    fn clear_deleted(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes `user` the one whose edits this device now writes, with this device's actor id
    /// for them (created on their first sign-in here).
    pub fn sign_in(&mut self, user: UserId) -> Result<(), StoreError> {
        let existing: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT actor FROM actors WHERE user_id = ?1",
                [user.as_str()],
                |row| row.get(0),
            )
            .optional()?;
        let actor = match existing {
            Some(bytes) => ActorId::from(bytes),
            None => {
                let actor = ActorId::random();
                self.conn.execute(
                    "INSERT INTO actors (user_id, actor) VALUES (?1, ?2)",
                    params![user.as_str(), actor.to_bytes()],
                )?;
                actor
            }
        };
        self.writer = Some(Writer { user, actor });
        Ok(())
    }

    /// The user signed in on this device, if any.
    pub fn user(&self) -> Option<&UserId> {
        self.writer.as_ref().map(|writer| &writer.user)
    }

    /// Opens a new case for a client, with the signed-in user as its worker.
    pub fn create_case(
        &mut self,
        client_name: &str,
        now: DateTime<Utc>,
    ) -> Result<CaseId, StoreError> {
        let writer = self.writer()?;
        let id = CaseId::random();
        let document = Document::new_case(&writer, id, client_name, now)?;
        self.insert_new(DocId::Case(id), id, document, now)?;
        Ok(id)
    }

    /// Starts a new group called `name`, with the signed-in user on its team (its
    /// facilitators).
    pub fn create_group(&mut self, name: &str, now: DateTime<Utc>) -> Result<CaseId, StoreError> {
        let writer = self.writer()?;
        let id = CaseId::random();
        let document = Document::new_group(&writer, id, name, now)?;
        self.insert_new(DocId::Case(id), id, document, now)?;
        Ok(id)
    }

    /// Starts a group's session record, with a line in its register for each member of the
    /// group who has not left by the session's day (attendance left for the facilitator).
    pub fn start_session(
        &mut self,
        group: CaseId,
        occurred: Occurrence,
        now: DateTime<Utc>,
    ) -> Result<RecordId, StoreError> {
        let profile = self.case(group)?.group.ok_or(StoreError::NotAGroup)?;
        let earlier = self
            .records_of_case(group)?
            .iter()
            .filter(|record| record.kind == RecordKind::GroupSession)
            .count();
        let record = self.create_record(group, RecordKind::GroupSession, occurred, now)?;
        let day = occurred.start.unwrap_or(now).date_naive();
        // The group's name and the session's number, which the facilitator may correct.
        let mut edits = vec![
            Edit::text("group_name", &profile.name),
            Edit::set(
                "session_number",
                crate::document::FieldValue::Number(earlier as i64 + 1),
            ),
        ];
        for member in profile
            .members
            .iter()
            .filter(|member| member.left.is_none_or(|left| left > day))
        {
            let entry = ItemId::random();
            edits.push(Edit::AddEntry {
                list: "members".into(),
                id: entry,
                after: None,
            });
            edits.push(Edit::set_in(
                "members",
                entry,
                "member",
                crate::document::FieldValue::Text(member.id.to_string()),
            ));
        }
        self.edit_all(record, &edits, now)?;
        Ok(record)
    }

    /// A group's register: its sessions and each member's attendance, dated in `zone`.
    pub fn register(
        &mut self,
        group: CaseId,
        zone: chrono::FixedOffset,
    ) -> Result<crate::model::Register, StoreError> {
        let profile = self.case(group)?.group.ok_or(StoreError::NotAGroup)?;
        let records = self.case_records(group)?;
        Ok(crate::model::register(&profile, &records, zone))
    }

    /// Starts a new record on a case, in draft, with writing begun `now`.
    pub fn create_record(
        &mut self,
        case_id: CaseId,
        kind: RecordKind,
        occurred: Occurrence,
        now: DateTime<Utc>,
    ) -> Result<RecordId, StoreError> {
        let writer = self.writer()?;
        self.document(DocId::Case(case_id))?;
        let id = RecordId::random();
        let document = Document::new_record(&writer, id, case_id, kind, occurred, now)?;
        self.insert_new(DocId::Record(id), case_id, document, now)?;
        Ok(id)
    }

    /// Applies one user edit to a case's or record's body, durably.
    pub fn edit(
        &mut self,
        doc: impl Into<DocId>,
        edit: &Edit,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(doc.into(), now, |document, writer| {
            document.edit(writer, edit, now)
        })
    }

    /// Applies several edits as one user action, durably.
    pub fn edit_all(
        &mut self,
        doc: impl Into<DocId>,
        edits: &[Edit],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(doc.into(), now, |document, writer| {
            document.edit_all(writer, edits, now)
        })
    }

    /// Enters or corrects when a record's visit or session took place; returns whether
    /// anything changed.
    pub fn set_visit_times(
        &mut self,
        record: RecordId,
        occurred: Occurrence,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.write(record.into(), now, |document, writer| {
            document.set_occurrence(writer, occurred, now)
        })
    }

    /// Submits a record for review.
    pub fn submit(&mut self, record: RecordId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.write(record.into(), now, |document, writer| {
            document.submit(writer, now)
        })
    }

    /// Adds a reviewer's comment on a whole record.
    pub fn comment(
        &mut self,
        record: RecordId,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(record.into(), now, |document, writer| {
            document.comment(writer, text, now)
        })
    }

    /// Returns a submitted record to its author with the reason.
    pub fn return_to_author(
        &mut self,
        record: RecordId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(record.into(), now, |document, writer| {
            document.return_to_author(writer, reason, now)
        })
    }

    /// Approves, finalises and signs a submitted record.
    pub fn finalise(&mut self, record: RecordId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.write(record.into(), now, |document, writer| {
            document.finalise(writer, now)
        })
    }

    /// Adds an addendum to a finalised record.
    pub fn add_addendum(
        &mut self,
        record: RecordId,
        reason: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<ItemId, StoreError> {
        self.write(record.into(), now, |document, writer| {
            document.add_addendum(writer, reason, text, now)
        })
    }

    /// Records something that happened to a case, on the day it happened.
    pub fn record_case_event(
        &mut self,
        case: CaseId,
        event: &crate::model::CaseEventDraft,
        now: DateTime<Utc>,
    ) -> Result<ItemId, StoreError> {
        self.write(case.into(), now, |document, writer| {
            document.record_case_event(writer, event, now)
        })
    }

    /// The case's records, read whole.
    fn case_records(&mut self, case: CaseId) -> Result<Vec<Record>, StoreError> {
        let mut records = Vec::new();
        for summary in self.records_of_case(case)? {
            records.push(self.record(summary.id)?);
        }
        Ok(records)
    }

    /// What is still open on a case: records not signed and tasks not done, dated in `zone`.
    pub fn closing_checklist(
        &mut self,
        case: CaseId,
        zone: chrono::FixedOffset,
    ) -> Result<Vec<crate::model::Outstanding>, StoreError> {
        Ok(crate::model::outstanding(&self.case_records(case)?, zone))
    }

    /// Closes a case, with its closing summary and every open item resolved or acknowledged
    /// ([`crate::model::check_closing`]); the closure's reason is the summary's.
    pub fn close_case(
        &mut self,
        case: CaseId,
        closure: crate::model::Closure,
        now: DateTime<Utc>,
        zone: chrono::FixedOffset,
    ) -> Result<ItemId, StoreError> {
        let crate::model::Closure {
            summary,
            acknowledged,
            on,
            outcome,
        } = closure;
        let records = self.case_records(case)?;
        let closing = records
            .iter()
            .find(|record| record.id == summary && record.kind() == RecordKind::ClosingSummary);
        let Some(closing) = closing else {
            return Err(StoreError::NotASummary("closing summary"));
        };
        let open = crate::model::outstanding(&records, zone);
        crate::model::check_closing(Some(closing), &open, &acknowledged)?;
        let reason = match &closing.body {
            crate::model::RecordBody::ClosingSummary(body) => body.reason.trim().to_owned(),
            _ => unreachable!("found by its kind"),
        };
        // Only the acknowledgements of items still open are kept with the closure.
        let acknowledged = acknowledged
            .into_iter()
            .filter(|ack| open.iter().any(|item| item.key == ack.item))
            .collect();
        let event = crate::model::CaseEventDraft {
            outcome,
            summary: Some(summary),
            acknowledged,
            ..crate::model::CaseEventDraft::new(CaseEventKind::Closure, on, &reason)
        };
        self.record_case_event(case, &event, now)
    }

    /// Transfers a case on `on` with its handover summary, to the team `to_team` of this
    /// agency (the server moves the case there when it takes the transfer) or, with no team,
    /// out of the agency.
    pub fn transfer_case(
        &mut self,
        case: CaseId,
        summary: RecordId,
        to_team: &str,
        on: chrono::NaiveDate,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<ItemId, StoreError> {
        let is_handover = self
            .records_of_case(case)?
            .iter()
            .any(|record| record.id == summary && record.kind == RecordKind::HandoverSummary);
        if !is_handover {
            return Err(StoreError::NotASummary("handover summary"));
        }
        let event = crate::model::CaseEventDraft {
            summary: Some(summary),
            to_team: to_team.trim().to_owned(),
            ..crate::model::CaseEventDraft::new(CaseEventKind::Transfer, on, reason)
        };
        self.record_case_event(case, &event, now)
    }

    /// Records that information from a case was shared with another agency.
    pub fn record_disclosure(
        &mut self,
        case: CaseId,
        draft: &crate::model::DisclosureDraft,
        now: DateTime<Utc>,
    ) -> Result<ItemId, StoreError> {
        self.write(case.into(), now, |document, writer| {
            document.record_disclosure(writer, draft, now)
        })
    }

    /// Each goal of a case with its trail of progress, from the case file and from every
    /// record of the case on this device; records' progress dated in `zone`.
    pub fn goal_trails(
        &mut self,
        case: CaseId,
        zone: chrono::FixedOffset,
    ) -> Result<Vec<crate::model::GoalTrail>, StoreError> {
        let profile = self.case(case)?.profile;
        // The case page asks on every render: a case without goals reads none of its records.
        if profile.goals.is_empty() {
            return Ok(Vec::new());
        }
        let records = self.case_records(case)?;
        Ok(crate::model::goal_trails(&profile, &records, zone))
    }

    /// Reads a case.
    pub fn case(&mut self, id: CaseId) -> Result<Case, StoreError> {
        Ok(self.document(id.into())?.case()?)
    }

    /// Reads a record as it is now.
    pub fn record(&mut self, id: RecordId) -> Result<Record, StoreError> {
        Ok(self.document(id.into())?.record()?)
    }

    /// Reads a record exactly as it was signed, or `None` if it is not signed.
    pub fn record_as_signed(&mut self, id: RecordId) -> Result<Option<Record>, StoreError> {
        Ok(self.document(id.into())?.record_as_signed()?)
    }

    /// Every change to a case's team, oldest first.
    pub fn team_changes(&mut self, case: CaseId) -> Result<Vec<TeamChange>, StoreError> {
        Ok(self.document(DocId::Case(case))?.team_changes()?)
    }

    /// The users who wrote part of a record (its creator, and whoever changed its body
    /// beyond reviewers' fields): a supervisor among them does not sign it.
    pub fn record_writers(&mut self, record: RecordId) -> Result<BTreeSet<UserId>, StoreError> {
        Ok(crate::sync::validate::authority::record_writers(
            self.document(DocId::Record(record))?,
        )?)
    }

    /// Who changed which field of a case or record, and when.
    pub fn history(&mut self, doc: impl Into<DocId>) -> Result<Vec<HistoryEntry>, StoreError> {
        Ok(crate::document::history(self.document(doc.into())?)?)
    }

    /// The history of a case or record as a supervisor or a court reads it: labels, words
    /// added and removed, bursts of typing gathered.
    pub fn readable_history(
        &mut self,
        doc: impl Into<DocId>,
    ) -> Result<Vec<crate::document::ReadableEntry>, StoreError> {
        let doc = doc.into();
        let mut entries = crate::document::readable_history(self.document(doc)?)?;
        // A goal, a group's member or a client's case is named, not shown by its id.
        let case = match doc {
            DocId::Case(case) => case,
            DocId::Record(record) => self.record(record)?.case_id,
        };
        let case = self.case(case)?;
        crate::document::name_references(
            &mut entries,
            &case,
            |client| {
                self.case(client)
                    .ok()
                    .map(|client| client.profile.client_name)
            },
            "one no longer on this device",
        );
        Ok(entries)
    }

    /// How long a record may wait for its author after the visit before it is overdue.
    pub fn overdue_after(&self) -> Result<Duration, StoreError> {
        let minutes: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE key = 'overdue_after_minutes'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        Ok(minutes
            .and_then(|minutes| minutes.parse().ok())
            .map(Duration::minutes)
            .unwrap_or(DEFAULT_OVERDUE_AFTER))
    }

    /// Sets the agency's overdue threshold.
    pub fn set_overdue_after(&mut self, threshold: Duration) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES ('overdue_after_minutes', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [threshold.num_minutes().to_string()],
        )?;
        Ok(())
    }

    // --- Maintenance -------------------------------------------------------------------

    /// A device setting the app keeps (the server's address, the device token, when it
    /// last synced), inside the encrypted store like everything else.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()?)
    }

    /// Sets a device setting, or removes it with `None`.
    pub fn set_setting(&mut self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        match value {
            Some(value) => self.conn.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )?,
            None => self
                .conn
                .execute("DELETE FROM settings WHERE key = ?1", [key])?,
        };
        Ok(())
    }

    /// Folds the change log of every document that has outgrown its snapshot. Returns how
    /// many documents were compacted.
    pub fn compact(&mut self) -> Result<usize, StoreError> {
        let due: Vec<String> = {
            let mut statement = self
                .conn
                .prepare("SELECT doc_key FROM documents WHERE change_count >= ?1")?;
            statement
                .query_map([COMPACT_AFTER_CHANGES], |row| row.get(0))?
                .collect::<Result<_, _>>()?
        };
        for key in &due {
            self.compact_doc(parse_doc_key(key)?)?;
        }
        Ok(due.len())
    }

    /// Folds one document's change log into its snapshot.
    pub fn compact_doc(&mut self, doc: DocId) -> Result<(), StoreError> {
        let snapshot = self.document(doc)?.save();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Only this connection writes, and the transaction holds the write lock, so every
        // change up to this id is in the loaded document and thus in the snapshot.
        let last: Option<i64> = tx.query_row(
            "SELECT max(id) FROM changes WHERE doc_key = ?1",
            [doc.key()],
            |row| row.get(0),
        )?;
        tx.execute(
            "UPDATE documents SET snapshot = ?2, change_count = 0 WHERE doc_key = ?1",
            params![doc.key(), snapshot],
        )?;
        if let Some(last) = last {
            tx.execute(
                "DELETE FROM changes WHERE doc_key = ?1 AND id <= ?2",
                params![doc.key(), last],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Drops every document held in memory; they are loaded from disk again when next used.
    /// For the app when the system asks it to free memory.
    pub fn release_memory(&mut self) {
        self.open_docs.clear();
    }

    /// Runs SQLite's integrity check; `Ok` if it found nothing wrong.
    pub fn check_integrity(&self) -> Result<(), StoreError> {
        let result: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt(result))
        }
    }

    // --- Internals ---------------------------------------------------------------------

    fn writer(&self) -> Result<Writer, StoreError> {
        self.writer.clone().ok_or(StoreError::NoUser)
    }

    /// The document, loaded from disk on first use.
    fn document(&mut self, doc: DocId) -> Result<&mut Document, StoreError> {
        if !self.open_docs.contains_key(&doc) {
            let document = load_document(&self.conn, doc)?;
            self.open_docs.insert(doc, document);
        }
        Ok(self.open_docs.get_mut(&doc).expect("inserted above"))
    }

    /// Runs one user action on a document and makes its changes durable. If storing fails,
    /// the in-memory document is dropped so that it is reloaded from what is on disk.
    fn write<T>(
        &mut self,
        doc: DocId,
        now: DateTime<Utc>,
        action: impl FnOnce(&mut Document, &Writer) -> Result<T, DocumentError>,
    ) -> Result<T, StoreError> {
        let writer = self.writer()?;
        let document = self.document(doc)?;
        let value = match action(document, &writer) {
            Ok(value) => value,
            Err(error) => {
                // An action of two changes (finalising) can fail after the first: forget the
                // in-memory copy so it cannot run ahead of what is on disk.
                self.open_docs.remove(&doc);
                return Err(error.into());
            }
        };
        let changes = document.take_unsaved_changes();
        self.persist(doc, &changes, now)?;
        Ok(value)
    }

    fn persist(
        &mut self,
        doc: DocId,
        changes: &[Vec<u8>],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.persist_with(doc, changes, now, |_| Ok(()))
    }

    /// Persists a document's changes together with what `also` writes, in one transaction.
    fn persist_with(
        &mut self,
        doc: DocId,
        changes: &[Vec<u8>],
        now: DateTime<Utc>,
        also: impl FnOnce(&Transaction<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let result = (|| {
            let document = self
                .open_docs
                .get_mut(&doc)
                .expect("loaded before persisting");
            let tx = self.conn.transaction()?;
            also(&tx)?;
            append_changes(&tx, doc, document, changes, now)?;
            tx.commit()?;
            Ok(())
        })();
        if result.is_err() {
            self.open_docs.remove(&doc);
        }
        result
    }

    fn insert_new(
        &mut self,
        doc: DocId,
        case_id: CaseId,
        mut document: Document,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        insert_document(&tx, doc, case_id, &mut document, None)?;
        queries::reindex(&tx, doc, &document, now)?;
        tx.commit()?;
        self.open_docs.insert(doc, document);
        Ok(())
    }
}

/// Appends a document's new changes, moves its heads and rewrites its index rows.
fn append_changes(
    tx: &Transaction<'_>,
    doc: DocId,
    document: &mut Document,
    changes: &[Vec<u8>],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for change in changes {
        tx.execute(
            "INSERT INTO changes (doc_key, bytes) VALUES (?1, ?2)",
            params![doc.key(), change],
        )?;
    }
    tx.execute(
        "UPDATE documents SET heads = ?2, change_count = change_count + ?3 WHERE doc_key = ?1",
        params![
            doc.key(),
            format_heads(&document.heads()),
            changes.len() as i64
        ],
    )?;
    queries::reindex(tx, doc, document, now)
}

/// Stores a document new to this device: one made here as its first change(s), one received
/// from elsewhere as the bytes it came in (`received`), which load back to the same document.
fn insert_document(
    tx: &Transaction<'_>,
    doc: DocId,
    case_id: CaseId,
    document: &mut Document,
    received: Option<&[u8]>,
) -> Result<(), StoreError> {
    let mut changes = document.take_unsaved_changes();
    if let Some(received) = received {
        changes.push(received.to_vec());
    }
    tx.execute(
        "INSERT INTO documents (doc_key, case_id, heads, change_count) VALUES (?1, ?2, ?3, ?4)",
        params![
            doc.key(),
            case_id.to_string(),
            format_heads(&document.heads()),
            changes.len() as i64
        ],
    )?;
    for change in &changes {
        tx.execute(
            "INSERT INTO changes (doc_key, bytes) VALUES (?1, ?2)",
            params![doc.key(), change],
        )?;
    }
    Ok(())
}

fn load_document(conn: &Connection, doc: DocId) -> Result<Document, StoreError> {
    let snapshot: Option<Vec<u8>> = conn
        .query_row(
            "SELECT snapshot FROM documents WHERE doc_key = ?1",
            [doc.key()],
            |row| row.get(0),
        )
        .optional()?
        .ok_or(StoreError::NotFound(doc))?;
    let mut statement =
        conn.prepare_cached("SELECT bytes FROM changes WHERE doc_key = ?1 ORDER BY id")?;
    let changes: Vec<Vec<u8>> = statement
        .query_map([doc.key()], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let changes: Vec<&[u8]> = changes.iter().map(Vec::as_slice).collect();
    let document = Document::load(snapshot.as_deref().unwrap_or_default(), &changes)?;
    if document.doc_id()? != doc {
        return Err(StoreError::Corrupt(format!("{doc} holds another document")));
    }
    Ok(document)
}

fn case_of(document: &Document) -> Result<CaseId, StoreError> {
    Ok(document.case_id()?)
}

fn format_heads(heads: &[ChangeHash]) -> String {
    let mut hex: Vec<String> = heads.iter().map(ChangeHash::to_string).collect();
    hex.sort();
    hex.join(",")
}

fn parse_heads(text: &str) -> Result<Vec<ChangeHash>, StoreError> {
    text.split(',')
        .filter(|head| !head.is_empty())
        .map(|head| {
            head.parse()
                .map_err(|_| StoreError::Corrupt(format!("bad head {head:?}")))
        })
        .collect()
}

fn parse_doc_key(key: &str) -> Result<DocId, StoreError> {
    key.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad document key {key:?}")))
}

#[cfg(test)]
mod tests;
