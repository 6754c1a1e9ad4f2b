//! The embedded default: one SQLite file in the data directory, nothing to install.
//!
//! One connection behind a mutex: SQLite has one writer at a time anyway, and holding the
//! lock across a push's transaction also means change-log sequence numbers are handed out in
//! the order their transactions commit, so a reader can never skip one that commits late.
//!
//! Syncs commit in groups ([`super::group`]): a leader holding the connection runs every
//! queued sync in one transaction, each under its own savepoint, and commits once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use chrono::{DateTime, Utc};
use doorstep_shared::attachments::{BlobHash, Erasure};
use doorstep_shared::sync::protocol::{Ack, Push, SyncResponse};
use doorstep_shared::sync::server::LogPosition;
use doorstep_shared::sync::validate::PushLimits;
use doorstep_shared::{CaseId, DocId, UserId};
use rusqlite::{Connection, OptionalExtension, params};

use super::blobs::{BlobAppend, BlobInfo, FileBlobs};
use super::documents::{self, DocumentCache};
use super::group::{self, GroupCommit, lock};
use super::log::{self, LogRow, LogTx};
use super::{
    AuditEntry, Credentials, Device, DeviceSummary, Storage, StorageError, TeamRole, UserSummary,
    db_time, new_epoch, parse_db_time, parse_role, parse_user,
};

const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE users (
        user_id       TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created_at    TEXT NOT NULL
    );
    CREATE TABLE devices (
        device_id  TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL REFERENCES users (user_id),
        name       TEXT NOT NULL,
        token_hash BLOB NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE TABLE teams (team TEXT PRIMARY KEY);
    CREATE TABLE team_members (
        team    TEXT NOT NULL REFERENCES teams (team),
        user_id TEXT NOT NULL REFERENCES users (user_id),
        role    TEXT NOT NULL,
        PRIMARY KEY (team, user_id)
    );
    CREATE TABLE cases (
        case_id TEXT PRIMARY KEY,
        team    TEXT NOT NULL REFERENCES teams (team)
    );
    -- Who may read which case now, derived from teams; and every grant and revocation, on
    -- the same clock as the change log, so a device's cursor also says which it has seen.
    CREATE TABLE access (
        user_id TEXT NOT NULL,
        case_id TEXT NOT NULL,
        PRIMARY KEY (user_id, case_id)
    );
    CREATE TABLE access_log (
        seq     INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL,
        case_id TEXT NOT NULL,
        granted INTEGER NOT NULL
    );
    CREATE INDEX access_log_by_user ON access_log (user_id, seq);
    CREATE TABLE log_clock (seq INTEGER NOT NULL);
    INSERT INTO log_clock VALUES (0);
    CREATE TABLE changes (
        seq       INTEGER PRIMARY KEY,
        case_id   TEXT NOT NULL,
        doc_key   TEXT NOT NULL,
        device_id TEXT NOT NULL,
        bytes     BLOB NOT NULL
    );
    CREATE INDEX changes_by_doc ON changes (doc_key, seq);
    CREATE INDEX changes_by_case ON changes (case_id, seq);
    CREATE TABLE audit (
        id        INTEGER PRIMARY KEY,
        at        TEXT NOT NULL,
        user_id   TEXT,
        device_id TEXT,
        case_id   TEXT,
        action    TEXT NOT NULL,
        detail    TEXT NOT NULL
    );
"#,
    r#"
    -- Consecutive failed sign-ins, for locking an account after too many.
    ALTER TABLE users ADD COLUMN failed_sign_ins INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
    -- Which history of the server this is: drawn again when a backup is restored.
    ALTER TABLE log_clock ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
    UPDATE log_clock SET epoch = abs(random() % 9000000000000000000) + 1;
"#,
    r#"
    -- Who each Automerge actor writes for: the user (and device) that first pushed a change
    -- by it. A change by an actor bound to someone else is refused.
    CREATE TABLE actors (
        actor     TEXT PRIMARY KEY,
        user_id   TEXT NOT NULL,
        device_id TEXT NOT NULL,
        bound_at  TEXT NOT NULL
    );
"#,
    r#"
    -- Where a request came from (the client, as trusted proxies report it), for the audit
    -- log; when a device last synced, so that a token left idle stops working; and an index
    -- for pruning the audit log by age.
    ALTER TABLE audit ADD COLUMN address TEXT;
    CREATE INDEX audit_by_time ON audit (at);
    ALTER TABLE devices ADD COLUMN last_used_at TEXT;
    UPDATE devices SET last_used_at = created_at;
"#,
    r#"
    -- Attachments' blobs, by SHA-256, once an upload of one began; the bytes are files in the
    -- `blobs` folder beside this database. `unreferenced_since`: when garbage collection first
    -- found no document naming it. The tombstone, once an administrator erased it.
    CREATE TABLE blobs (
        hash               TEXT PRIMARY KEY,
        size               INTEGER NOT NULL,
        media_type         TEXT NOT NULL,
        created_at         TEXT NOT NULL,
        unreferenced_since TEXT,
        erased_at          TEXT,
        erased_by          TEXT,
        erased_reason      TEXT
    );
    -- Which documents name which blob (with the media type they give it), rewritten with
    -- each push that stores a document's changes: what access to a blob follows.
    CREATE TABLE blob_refs (
        hash       TEXT NOT NULL,
        doc_key    TEXT NOT NULL,
        case_id    TEXT NOT NULL,
        media_type TEXT NOT NULL,
        PRIMARY KEY (hash, doc_key)
    );
    CREATE INDEX blob_refs_by_doc ON blob_refs (doc_key);
"#,
];

/// Storage in one SQLite file.
#[derive(Debug)]
pub struct SqliteStorage {
    conn: Mutex<Connection>,
    /// A second, read-only connection for what every request reads first (its device, by
    /// token): WAL lets it read while the writer commits, so a request is not held up
    /// behind a group commit before its own sync can even queue.
    reader: Mutex<Connection>,
    /// Syncs waiting for the next group commit.
    queued: GroupCommit<QueuedSync, Result<SyncResponse, StorageError>>,
    /// Documents kept from the pushes last checked.
    documents: DocumentCache,
    /// What one document's push may hold.
    push_limits: PushLimits,
    /// Attachments' bytes, in the `blobs` folder beside the database.
    blobs: FileBlobs,
    /// Held while a piece of a blob is written, so two devices sending the same blob at
    /// once append in turn.
    blob_writes: Mutex<()>,
}

/// A sync waiting for its group.
#[derive(Debug)]
struct QueuedSync {
    device: Device,
    pushes: Vec<Push>,
    from: LogPosition,
    deadline: Instant,
}

fn db(error: rusqlite::Error) -> StorageError {
    StorageError::Database(error.to_string())
}

fn now() -> String {
    db_time(Utc::now())
}

/// Creates `path` empty, readable and writable by its owner alone, unless it exists. SQLite
/// gives a database's journal and WAL files the database file's permissions, so they follow.
/// An existing file readable by others is left as it is, with a warning.
pub fn create_owner_only(path: &Path) -> Result<(), StorageError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            #[cfg(unix)]
            if let Ok(metadata) = std::fs::metadata(path) {
                use std::os::unix::fs::PermissionsExt;
                if metadata.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(
                        path = %path.display(),
                        "the database file may be read by users other than its owner: \
                         chmod 600 it"
                    );
                }
            }
            Ok(())
        }
        Err(error) => Err(StorageError::Database(format!(
            "creating {}: {error}",
            path.display()
        ))),
    }
}

impl SqliteStorage {
    /// Checks that `path` is a database this server wrote (such as a backup), without
    /// changing it.
    pub fn check_backup(path: &Path) -> Result<(), StorageError> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(db)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(db)?;
        let seq: i64 = conn
            .query_row("SELECT seq FROM log_clock", [], |row| row.get(0))
            .map_err(db)?;
        if version < 1 || seq < 0 {
            return Err(StorageError::Database(
                "not a Doorstep server database".into(),
            ));
        }
        Ok(())
    }

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStorage, StorageError> {
        create_owner_only(path)?;
        let mut conn = Connection::open(path).map_err(db)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 5000;",
        )
        .map_err(db)?;
        let applied: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(db)?;
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            let tx = conn.transaction().map_err(db)?;
            tx.execute_batch(migration).map_err(db)?;
            tx.pragma_update(None, "user_version", (index + 1) as i64)
                .map_err(db)?;
            tx.commit().map_err(db)?;
        }
        let reader = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(db)?;
        reader
            .execute_batch("PRAGMA busy_timeout = 5000;")
            .map_err(db)?;
        let blobs = FileBlobs::open(&Self::blobs_dir(path))?;
        Ok(SqliteStorage {
            conn: Mutex::new(conn),
            reader: Mutex::new(reader),
            queued: GroupCommit::default(),
            documents: DocumentCache::new(documents::DEFAULT_BUDGET_BYTES),
            push_limits: PushLimits::default(),
            blobs,
            blob_writes: Mutex::new(()),
        })
    }

    /// The folder of attachments' bytes for the database at `path`: `blobs` beside it.
    pub fn blobs_dir(path: &Path) -> std::path::PathBuf {
        path.parent()
            .unwrap_or_else(|| Path::new("."))
            .join("blobs")
    }

    /// The folder a backup's blobs are copied to, beside the backup file `to`.
    pub fn backup_blobs_dir(to: &Path) -> std::path::PathBuf {
        let mut name = to.as_os_str().to_owned();
        name.push(".blobs");
        std::path::PathBuf::from(name)
    }

    /// Holds each document's push to `limits`.
    pub fn with_push_limits(mut self, limits: PushLimits) -> Self {
        self.push_limits = limits;
        self
    }

    /// Runs a group of queued syncs in one transaction, each under its own savepoint, and
    /// returns their answers once it committed.
    fn commit_group(
        &self,
        conn: &mut Connection,
        group: Vec<QueuedSync>,
    ) -> Vec<Result<SyncResponse, StorageError>> {
        let count = group.len();
        let mut results = Vec::with_capacity(count);
        let mut checked = Vec::new();
        let committed = (|| {
            let mut tx = conn.transaction()?;
            for sync in group {
                let savepoint = tx.savepoint()?;
                let result = log::sync(
                    &mut SqliteLog(&savepoint),
                    &self.documents,
                    &sync.device,
                    &sync.pushes,
                    sync.from,
                    &self.push_limits,
                    Some(sync.deadline),
                );
                // A savepoint dropped uncommitted is rolled back: a refused push leaves
                // nothing behind, and the others in the group go on.
                let result = match result {
                    Ok((response, documents)) => {
                        savepoint.commit()?;
                        checked.extend(documents);
                        Ok(response)
                    }
                    Err(error) => Err(error),
                };
                results.push(result);
            }
            tx.commit()
        })();
        group::answers(committed, count, results, checked, &self.documents)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        lock(&self.conn)
    }
}

/// The log's view of a SQLite transaction.
struct SqliteLog<'a>(&'a Connection);

impl SqliteLog<'_> {
    /// Runs a statement, prepared once per connection (a sync runs the same few thousands
    /// of times a minute).
    fn execute(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.0.prepare_cached(sql)?.execute(params)
    }

    /// The first row of a query, prepared once per connection.
    fn query_row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        read: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.0.prepare_cached(sql)?.query_row(params, read)
    }

    fn exists(&self, sql: &str, params: impl rusqlite::Params) -> Result<bool, StorageError> {
        Ok(self
            .query_row(sql, params, |_| Ok(()))
            .optional()
            .map_err(db)?
            .is_some())
    }

    fn strings(&self, sql: &str, param: &str) -> Result<BTreeSet<String>, StorageError> {
        let mut statement = self.0.prepare_cached(sql).map_err(db)?;
        let rows = statement.query_map([param], |row| row.get(0)).map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }
}

impl LogTx for SqliteLog<'_> {
    fn case_exists(&mut self, case: &str) -> Result<bool, StorageError> {
        self.exists("SELECT 1 FROM cases WHERE case_id = ?1", [case])
    }

    fn may_read(&mut self, user: &str, case: &str) -> Result<bool, StorageError> {
        self.exists(
            "SELECT 1 FROM access WHERE user_id = ?1 AND case_id = ?2",
            params![user, case],
        )
    }

    fn first_team(&mut self, user: &str) -> Result<Option<String>, StorageError> {
        self.query_row(
            "SELECT team FROM team_members WHERE user_id = ?1 ORDER BY team LIMIT 1",
            [user],
            |row| row.get(0),
        )
        .optional()
        .map_err(db)
    }

    fn insert_case(&mut self, case: &str, team: &str) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO cases (case_id, team) VALUES (?1, ?2)
             ON CONFLICT (case_id) DO UPDATE SET team = excluded.team",
            params![case, team],
        )
        .map_err(db)?;
        Ok(())
    }

    fn team_exists(&mut self, team: &str) -> Result<bool, StorageError> {
        Ok(self
            .query_row("SELECT 1 FROM teams WHERE team = ?1", [team], |_| Ok(()))
            .optional()
            .map_err(db)?
            .is_some())
    }

    fn team_members(&mut self, team: &str) -> Result<BTreeSet<String>, StorageError> {
        self.strings("SELECT user_id FROM team_members WHERE team = ?1", team)
    }

    fn cases_of_teams_of(&mut self, user: &str) -> Result<BTreeSet<String>, StorageError> {
        self.strings(
            "SELECT c.case_id FROM cases c JOIN team_members m ON m.team = c.team
             WHERE m.user_id = ?1",
            user,
        )
    }

    fn readable_cases(&mut self, user: &str) -> Result<BTreeSet<String>, StorageError> {
        self.strings("SELECT case_id FROM access WHERE user_id = ?1", user)
    }

    fn set_access(
        &mut self,
        user: &str,
        case: &str,
        granted: bool,
        seq: i64,
    ) -> Result<(), StorageError> {
        let change = if granted {
            "INSERT INTO access (user_id, case_id) VALUES (?1, ?2)"
        } else {
            "DELETE FROM access WHERE user_id = ?1 AND case_id = ?2"
        };
        self.execute(change, params![user, case]).map_err(db)?;
        self.execute(
            "INSERT INTO access_log (seq, user_id, case_id, granted) VALUES (?1, ?2, ?3, ?4)",
            params![seq, user, case, granted],
        )
        .map_err(db)?;
        Ok(())
    }

    fn next_seq(&mut self) -> Result<i64, StorageError> {
        self.query_row(
            "UPDATE log_clock SET seq = seq + 1 RETURNING seq",
            [],
            |row| row.get(0),
        )
        .map_err(db)
    }

    fn latest_seq(&mut self) -> Result<i64, StorageError> {
        self.query_row("SELECT seq FROM log_clock", [], |row| row.get(0))
            .map_err(db)
    }

    fn epoch(&mut self) -> Result<u64, StorageError> {
        let epoch: i64 = self
            .query_row("SELECT epoch FROM log_clock", [], |row| row.get(0))
            .map_err(db)?;
        Ok(epoch.unsigned_abs())
    }

    fn audit(&mut self, entry: &AuditEntry) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO audit (at, user_id, device_id, case_id, action, detail, address)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                now(),
                entry.user.as_ref().map(UserId::as_str),
                entry.device,
                entry.case.map(|case| case.to_string()),
                entry.action,
                entry.detail,
                entry.address
            ],
        )
        .map_err(db)?;
        Ok(())
    }

    fn doc_case(&mut self, doc_key: &str) -> Result<Option<String>, StorageError> {
        self.query_row(
            "SELECT case_id FROM changes WHERE doc_key = ?1 ORDER BY seq LIMIT 1",
            [doc_key],
            |row| row.get(0),
        )
        .optional()
        .map_err(db)
    }

    fn case_team(&mut self, case: &str) -> Result<Option<String>, StorageError> {
        self.query_row("SELECT team FROM cases WHERE case_id = ?1", [case], |row| {
            row.get(0)
        })
        .optional()
        .map_err(db)
    }

    fn team_cases(&mut self, team: &str) -> Result<BTreeSet<String>, StorageError> {
        self.strings("SELECT case_id FROM cases WHERE team = ?1", team)
    }

    fn team_roster(&mut self, team: &str) -> Result<BTreeMap<UserId, TeamRole>, StorageError> {
        let mut statement = self
            .0
            .prepare_cached("SELECT user_id, role FROM team_members WHERE team = ?1")
            .map_err(db)?;
        let rows = statement
            .query_map([team], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(db)?;
        let mut roster = BTreeMap::new();
        for row in rows {
            let (user, role) = row.map_err(db)?;
            roster.insert(parse_user(&user)?, parse_role(&role)?);
        }
        Ok(roster)
    }

    fn team_role(&mut self, user: &str, team: &str) -> Result<Option<TeamRole>, StorageError> {
        let role: Option<String> = self
            .query_row(
                "SELECT role FROM team_members WHERE team = ?1 AND user_id = ?2",
                params![team, user],
                |row| row.get(0),
            )
            .optional()
            .map_err(db)?;
        role.map(|role| parse_role(&role)).transpose()
    }

    fn role_of(&mut self, user: &str, case: &str) -> Result<Option<TeamRole>, StorageError> {
        let role: Option<String> = self
            .query_row(
                "SELECT m.role FROM cases c JOIN team_members m ON m.team = c.team
                 WHERE c.case_id = ?1 AND m.user_id = ?2",
                params![case, user],
                |row| row.get(0),
            )
            .optional()
            .map_err(db)?;
        role.map(|role| parse_role(&role)).transpose()
    }

    fn actor_user(&mut self, actor: &str) -> Result<Option<String>, StorageError> {
        self.query_row(
            "SELECT user_id FROM actors WHERE actor = ?1",
            [actor],
            |row| row.get(0),
        )
        .optional()
        .map_err(db)
    }

    fn bind_actor(&mut self, actor: &str, user: &str, device: &str) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO actors (actor, user_id, device_id, bound_at) VALUES (?1, ?2, ?3, ?4)",
            params![actor, user, device, now()],
        )
        .map_err(db)?;
        Ok(())
    }

    fn doc_newest_seq(&mut self, doc_key: &str) -> Result<Option<i64>, StorageError> {
        self.query_row(
            "SELECT max(seq) FROM changes WHERE doc_key = ?1",
            [doc_key],
            |row| row.get(0),
        )
        .map_err(db)
    }

    fn doc_log(&mut self, doc_key: &str) -> Result<Vec<Vec<u8>>, StorageError> {
        let mut statement = self
            .0
            .prepare_cached("SELECT bytes FROM changes WHERE doc_key = ?1 ORDER BY seq")
            .map_err(db)?;
        let rows = statement
            .query_map([doc_key], |row| row.get(0))
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    fn set_blob_refs(
        &mut self,
        doc_key: &str,
        case: &str,
        named: &[(String, String)],
    ) -> Result<(), StorageError> {
        self.execute("DELETE FROM blob_refs WHERE doc_key = ?1", [doc_key])
            .map_err(db)?;
        for (hash, media_type) in named {
            self.execute(
                "INSERT INTO blob_refs (hash, doc_key, case_id, media_type) VALUES (?1, ?2, ?3, ?4)",
                params![hash, doc_key, case, media_type],
            )
            .map_err(db)?;
        }
        Ok(())
    }

    fn blob_ref_docs(&mut self, hash: &str) -> Result<Vec<(String, String)>, StorageError> {
        let mut statement = self
            .0
            .prepare_cached(
                "SELECT doc_key, case_id FROM blob_refs WHERE hash = ?1 ORDER BY doc_key",
            )
            .map_err(db)?;
        let rows = statement
            .query_map([hash], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    fn append_change(
        &mut self,
        seq: i64,
        case: &str,
        doc_key: &str,
        device: &str,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO changes (seq, case_id, doc_key, device_id, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            params![seq, case, doc_key, device, bytes],
        )
        .map_err(db)?;
        Ok(())
    }

    fn visit_changes_after(
        &mut self,
        from: i64,
        device: &str,
        user: &str,
        visit: &mut dyn FnMut(LogRow) -> Result<bool, StorageError>,
    ) -> Result<(), StorageError> {
        let mut statement = self
            .0
            .prepare_cached(
                "SELECT seq, case_id, doc_key, bytes FROM changes
                 WHERE seq > ?1 AND device_id != ?2
                   AND case_id IN (SELECT case_id FROM access WHERE user_id = ?3)
                 ORDER BY seq",
            )
            .map_err(db)?;
        let mut rows = statement.query(params![from, device, user]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            let row = LogRow {
                seq: row.get(0).map_err(db)?,
                case_id: row.get(1).map_err(db)?,
                doc_key: row.get(2).map_err(db)?,
                bytes: row.get(3).map_err(db)?,
            };
            if !visit(row)? {
                break;
            }
        }
        Ok(())
    }

    fn access_events(
        &mut self,
        user: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, bool)>, StorageError> {
        let mut statement = self
            .0
            .prepare_cached(
                "SELECT case_id, granted FROM access_log
                 WHERE user_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq",
            )
            .map_err(db)?;
        let rows = statement
            .query_map(params![user, from, to], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    fn case_changes_upto(
        &mut self,
        case: &str,
        upto: i64,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let mut statement = self
            .0
            .prepare_cached(
                "SELECT doc_key, bytes FROM changes WHERE case_id = ?1 AND seq <= ?2 ORDER BY seq",
            )
            .map_err(db)?;
        let rows = statement
            .query_map(params![case, upto], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }
}

impl Storage for SqliteStorage {
    fn document_case(&self, doc: &DocId) -> Result<Option<CaseId>, StorageError> {
        let reader = lock(&self.reader);
        let case = SqliteLog(&reader).doc_case(&doc.key())?;
        Ok(case.and_then(|case| case.parse().ok()))
    }

    fn may_read_case(&self, user: &UserId, case: CaseId) -> Result<bool, StorageError> {
        let reader = lock(&self.reader);
        SqliteLog(&reader).may_read(user.as_str(), &case.to_string())
    }

    fn team_roster(&self, team: &str) -> Result<BTreeMap<UserId, TeamRole>, StorageError> {
        let reader = lock(&self.reader);
        SqliteLog(&reader).team_roster(team)
    }

    fn team_cases(&self, team: &str) -> Result<Option<Vec<CaseId>>, StorageError> {
        let reader = lock(&self.reader);
        let mut log = SqliteLog(&reader);
        if !log.team_exists(team)? {
            return Ok(None);
        }
        Ok(Some(
            log.team_cases(team)?
                .iter()
                .filter_map(|case| case.parse().ok())
                .collect(),
        ))
    }

    fn role_on_case(&self, user: &UserId, case: CaseId) -> Result<Option<TeamRole>, StorageError> {
        let reader = lock(&self.reader);
        SqliteLog(&reader).role_of(user.as_str(), &case.to_string())
    }

    fn case_log(&self, case: CaseId) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let reader = lock(&self.reader);
        log::case_log(&mut SqliteLog(&reader), &case.to_string())
    }

    fn create_user(&self, user: &UserId, password_hash: &str) -> Result<(), StorageError> {
        let conn = self.conn();
        match conn.execute(
            "INSERT INTO users (user_id, password_hash, created_at) VALUES (?1, ?2, ?3)",
            params![user.as_str(), password_hash, now()],
        ) {
            Ok(_) => Ok(()),
            Err(error)
                if error.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) =>
            {
                Err(StorageError::Exists(format!("user {user}")))
            }
            Err(error) => Err(db(error)),
        }
    }

    fn set_password(&self, user: &UserId, password_hash: &str) -> Result<(), StorageError> {
        let updated = self
            .conn()
            .execute(
                "UPDATE users SET password_hash = ?2, failed_sign_ins = 0 WHERE user_id = ?1",
                params![user.as_str(), password_hash],
            )
            .map_err(db)?;
        if updated == 0 {
            return Err(StorageError::NotFound(format!("user {user}")));
        }
        Ok(())
    }

    fn credentials(&self, user: &UserId) -> Result<Option<Credentials>, StorageError> {
        self.conn()
            .query_row(
                "SELECT password_hash, failed_sign_ins FROM users WHERE user_id = ?1",
                [user.as_str()],
                |row| {
                    Ok(Credentials {
                        password_hash: row.get(0)?,
                        failed_sign_ins: row.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(db)
    }

    fn sign_in_failed(&self, user: &UserId) -> Result<u32, StorageError> {
        self.conn()
            .query_row(
                "UPDATE users SET failed_sign_ins = failed_sign_ins + 1 WHERE user_id = ?1
                 RETURNING failed_sign_ins",
                [user.as_str()],
                |row| row.get(0),
            )
            .optional()
            .map_err(db)
            .map(Option::unwrap_or_default)
    }

    fn sign_in_succeeded(&self, user: &UserId) -> Result<(), StorageError> {
        self.conn()
            .execute(
                "UPDATE users SET failed_sign_ins = 0 WHERE user_id = ?1 AND failed_sign_ins > 0",
                [user.as_str()],
            )
            .map_err(db)?;
        Ok(())
    }

    fn list_users(&self) -> Result<Vec<UserSummary>, StorageError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare(
                "SELECT u.user_id,
                        (SELECT group_concat(team, ',') FROM
                            (SELECT team FROM team_members m WHERE m.user_id = u.user_id ORDER BY team)),
                        (SELECT count(*) FROM devices d
                         WHERE d.user_id = u.user_id AND d.revoked_at IS NULL)
                 FROM users u ORDER BY u.user_id",
            )
            .map_err(db)?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, u32>(2)?,
                ))
            })
            .map_err(db)?;
        let mut users = Vec::new();
        for row in rows {
            let (user, teams, active_devices) = row.map_err(db)?;
            users.push(UserSummary {
                user: parse_user(&user)?,
                teams: teams
                    .map(|teams| teams.split(',').map(str::to_owned).collect())
                    .unwrap_or_default(),
                active_devices,
            });
        }
        Ok(users)
    }

    fn create_device(
        &self,
        user: &UserId,
        name: &str,
        token_hash: &[u8],
    ) -> Result<String, StorageError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.conn()
            .execute(
                "INSERT INTO devices (device_id, user_id, name, token_hash, created_at, last_used_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![id, user.as_str(), name, token_hash, now()],
            )
            .map_err(db)?;
        Ok(id)
    }

    fn device_by_token(&self, token_hash: &[u8]) -> Result<Option<Device>, StorageError> {
        let row: Option<(String, String, Option<String>, Option<String>)> = lock(&self.reader)
            .prepare_cached(
                "SELECT device_id, user_id, revoked_at, last_used_at FROM devices
                 WHERE token_hash = ?1",
            )
            .and_then(|mut statement| {
                statement
                    .query_row([token_hash], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                    })
                    .optional()
            })
            .map_err(db)?;
        row.map(|(id, user, revoked_at, last_used)| {
            Ok(Device {
                id,
                user: parse_user(&user)?,
                revoked: revoked_at.is_some(),
                last_used: last_used.as_deref().and_then(parse_db_time),
                address: None,
            })
        })
        .transpose()
    }

    fn device_used(&self, device: &str) -> Result<(), StorageError> {
        self.conn()
            .execute(
                "UPDATE devices SET last_used_at = ?2 WHERE device_id = ?1",
                params![device, now()],
            )
            .map_err(db)?;
        Ok(())
    }

    fn list_devices(&self, user: Option<&UserId>) -> Result<Vec<DeviceSummary>, StorageError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare(
                "SELECT device_id, user_id, name, created_at, revoked_at, last_used_at FROM devices
                 WHERE ?1 IS NULL OR user_id = ?1 ORDER BY created_at, device_id",
            )
            .map_err(db)?;
        let rows = statement
            .query_map([user.map(UserId::as_str)], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(db)?;
        let mut devices = Vec::new();
        for row in rows {
            let (id, user, name, signed_in_at, revoked_at, last_used_at) = row.map_err(db)?;
            devices.push(DeviceSummary {
                id,
                user: parse_user(&user)?,
                name,
                signed_in_at,
                revoked_at,
                last_used_at,
            });
        }
        Ok(devices)
    }

    fn revoke_device(&self, device: &str) -> Result<(), StorageError> {
        let updated = self
            .conn()
            .execute(
                "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE device_id = ?1",
                params![device, now()],
            )
            .map_err(db)?;
        if updated == 0 {
            return Err(StorageError::NotFound(format!("device {device}")));
        }
        Ok(())
    }

    fn create_team(&self, team: &str) -> Result<(), StorageError> {
        match self
            .conn()
            .execute("INSERT INTO teams (team) VALUES (?1)", [team])
        {
            Ok(_) => Ok(()),
            Err(error)
                if error.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) =>
            {
                Err(StorageError::Exists(format!("team {team}")))
            }
            Err(error) => Err(db(error)),
        }
    }

    fn add_member(&self, team: &str, user: &UserId, role: TeamRole) -> Result<(), StorageError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let inserted = tx.execute(
            "INSERT INTO team_members (team, user_id, role) VALUES (?1, ?2, ?3)
             ON CONFLICT (team, user_id) DO UPDATE SET role = excluded.role",
            params![team, user.as_str(), role.as_str()],
        );
        if let Err(error) = inserted {
            return Err(match error.sqlite_error_code() {
                Some(rusqlite::ErrorCode::ConstraintViolation) => {
                    StorageError::NotFound(format!("team {team} or user {user}"))
                }
                _ => db(error),
            });
        }
        let mut log = SqliteLog(&tx);
        log::recompute_access(&mut log, user.as_str())?;
        log::write_team_rosters(&mut log, team)?;
        tx.commit().map_err(db)
    }

    fn remove_member(&self, team: &str, user: &UserId) -> Result<(), StorageError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let removed = tx
            .execute(
                "DELETE FROM team_members WHERE team = ?1 AND user_id = ?2",
                params![team, user.as_str()],
            )
            .map_err(db)?;
        if removed == 0 {
            return Err(StorageError::NotFound(format!("{user} on team {team}")));
        }
        let mut log = SqliteLog(&tx);
        log::recompute_access(&mut log, user.as_str())?;
        log::write_team_rosters(&mut log, team)?;
        tx.commit().map_err(db)
    }

    fn assign_case(&self, case: CaseId, team: &str) -> Result<(), StorageError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let known_team: Option<String> = tx
            .query_row("SELECT team FROM teams WHERE team = ?1", [team], |row| {
                row.get(0)
            })
            .optional()
            .map_err(db)?;
        if known_team.is_none() {
            return Err(StorageError::NotFound(format!("team {team}")));
        }
        let previous: Option<String> = tx
            .query_row(
                "SELECT team FROM cases WHERE case_id = ?1",
                [case.to_string()],
                |row| row.get(0),
            )
            .optional()
            .map_err(db)?;
        tx.execute(
            "INSERT INTO cases (case_id, team) VALUES (?1, ?2)
             ON CONFLICT (case_id) DO UPDATE SET team = excluded.team",
            params![case.to_string(), team],
        )
        .map_err(db)?;
        let mut log = SqliteLog(&tx);
        log::recompute_team(&mut log, team)?;
        if let Some(previous) = previous {
            log::recompute_team(&mut log, &previous)?;
        }
        log::write_case_roster(&mut log, &case.to_string())?;
        tx.commit().map_err(db)
    }

    fn sync(
        &self,
        device: &Device,
        pushes: Vec<Push>,
        from: LogPosition,
        deadline: Instant,
    ) -> Result<SyncResponse, StorageError> {
        let sync = QueuedSync {
            device: device.clone(),
            pushes,
            from,
            deadline,
        };
        self.queued
            .run(&self.conn, sync, |conn, group| {
                self.commit_group(conn, group)
            })
            .ok_or_else(|| StorageError::Database("a sync was dropped from its group".into()))?
    }

    fn push(&self, device: &Device, pushes: &[Push]) -> Result<Vec<Ack>, StorageError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let mut log = SqliteLog(&tx);
        let epoch = log.epoch()?;
        let pushed = log::push(
            &mut log,
            &self.documents,
            epoch,
            device,
            pushes,
            &self.push_limits,
            None,
        )?;
        if let Some(refusal) = pushed.refused.first() {
            // All or nothing: the transaction is dropped, uncommitted.
            return Err(StorageError::Refused(refusal.clone()));
        }
        tx.commit().map_err(db)?;
        self.documents.keep(pushed.checked);
        Ok(pushed.acks)
    }

    fn compact(&self, min_rows: usize) -> Result<usize, StorageError> {
        let due: Vec<String> = {
            let conn = self.conn();
            let mut statement = conn
                .prepare("SELECT doc_key FROM changes GROUP BY doc_key HAVING count(*) >= ?1")
                .map_err(db)?;
            let rows = statement
                .query_map([min_rows as i64], |row| row.get(0))
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)?
        };
        for doc_key in &due {
            // One document at a time, so devices' syncs interleave with a long compaction.
            let mut conn = self.conn();
            let tx = conn.transaction().map_err(db)?;
            let rows: Vec<(i64, String, Vec<u8>)> = {
                let mut statement = tx
                    .prepare_cached(
                        "SELECT seq, case_id, bytes FROM changes WHERE doc_key = ?1 ORDER BY seq",
                    )
                    .map_err(db)?;
                let rows = statement
                    .query_map([doc_key], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                    .map_err(db)?;
                rows.collect::<Result<_, _>>().map_err(db)?
            };
            let (Some((_, case_id, _)), Some((last_seq, _, _))) = (rows.first(), rows.last())
            else {
                continue;
            };
            // The snapshot is filed under the case the document's first row fixed.
            let (last_seq, case_id) = (*last_seq, case_id.clone());
            let parts: Vec<&[u8]> = rows.iter().map(|(_, _, bytes)| bytes.as_slice()).collect();
            let snapshot = match doorstep_shared::document::Document::load(&[], &parts) {
                Ok(mut document) => document.save(),
                Err(error) => {
                    // Left as it is, for someone to look at; the others are compacted.
                    tracing::warn!(doc = %doc_key, %error, "compaction skipped a document that does not load");
                    continue;
                }
            };
            tx.execute(
                "DELETE FROM changes WHERE doc_key = ?1 AND seq <= ?2",
                params![doc_key, last_seq],
            )
            .map_err(db)?;
            tx.execute(
                "INSERT INTO changes (seq, case_id, doc_key, device_id, bytes)
                 VALUES (?1, ?2, ?3, '', ?4)",
                params![last_seq, case_id, doc_key, snapshot],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
        }
        Ok(due.len())
    }

    fn epoch(&self) -> Result<u64, StorageError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        SqliteLog(&tx).epoch()
    }

    fn mark_restored(&self) -> Result<u64, StorageError> {
        let epoch = new_epoch()?;
        self.conn()
            .execute(
                "UPDATE log_clock SET epoch = ?1",
                [i64::try_from(epoch).unwrap_or(1)],
            )
            .map_err(db)?;
        Ok(epoch)
    }

    fn backup(&self, to: &Path) -> Result<(), StorageError> {
        if to.exists() {
            return Err(StorageError::Exists(to.display().to_string()));
        }
        // Made empty and owner-only first: SQLite writes the copy into it, and a backup holds
        // every note.
        create_owner_only(to)?;
        // One read transaction: the copy is the database as of one commit, while devices
        // keep syncing.
        self.conn()
            .execute("VACUUM INTO ?1", [to.to_string_lossy()])
            .map_err(db)?;
        // The blobs after the database: every blob the copy names was whole before it was
        // named, and blobs are never changed, only deleted, so none it names is missing
        // unless it was erased or collected meanwhile.
        let _writing = lock(&self.blob_writes);
        self.blobs.copy_to(&Self::backup_blobs_dir(to))?;
        Ok(())
    }

    fn audit(&self, entry: AuditEntry) -> Result<(), StorageError> {
        SqliteLog(&self.conn()).audit(&entry)
    }

    fn audit_entries(
        &self,
        before: Option<DateTime<Utc>>,
    ) -> Result<Vec<(String, AuditEntry)>, StorageError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare(
                "SELECT at, user_id, device_id, case_id, action, detail, address FROM audit
                 WHERE ?1 IS NULL OR at < ?1 ORDER BY id",
            )
            .map_err(db)?;
        let rows = statement
            .query_map([before.map(db_time)], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, Option<String>>(6)?,
                ))
            })
            .map_err(db)?;
        let mut entries = Vec::new();
        for row in rows {
            let (at, user, device, case, action, detail, address) = row.map_err(db)?;
            entries.push((
                at,
                AuditEntry {
                    user: user.and_then(|user| user.parse().ok()),
                    device,
                    case: case.and_then(|case| case.parse().ok()),
                    action,
                    detail,
                    address,
                },
            ));
        }
        Ok(entries)
    }

    fn prune_audit(&self, before: DateTime<Utc>) -> Result<usize, StorageError> {
        self.conn()
            .execute("DELETE FROM audit WHERE at < ?1", [db_time(before)])
            .map_err(db)
    }

    fn blob_named_for(
        &self,
        hash: &BlobHash,
        user: &UserId,
    ) -> Result<Option<String>, StorageError> {
        let reader = lock(&self.reader);
        reader
            .prepare_cached(
                "SELECT r.media_type FROM blob_refs r JOIN access a ON a.case_id = r.case_id
                 WHERE r.hash = ?1 AND a.user_id = ?2 LIMIT 1",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![hash.to_string(), user.as_str()], |row| row.get(0))
                    .optional()
            })
            .map_err(db)
    }

    fn blob_info(&self, hash: &BlobHash) -> Result<Option<BlobInfo>, StorageError> {
        let row = {
            let reader = lock(&self.reader);
            reader
                .query_row(
                    "SELECT size, media_type, erased_at, erased_by, erased_reason
                     FROM blobs WHERE hash = ?1",
                    [hash.to_string()],
                    |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, Option<String>>(2)?,
                            row.get::<_, Option<String>>(3)?,
                            row.get::<_, Option<String>>(4)?,
                        ))
                    },
                )
                .optional()
                .map_err(db)?
        };
        let Some((size, media_type, erased_at, erased_by, reason)) = row else {
            return Ok(None);
        };
        let erased = erased_at.map(|at| Erasure {
            at: parse_db_time(&at).unwrap_or_default(),
            by: erased_by.unwrap_or_default(),
            reason: reason.unwrap_or_default(),
        });
        let received = if erased.is_some() {
            0
        } else {
            self.blobs.received(hash)?
        };
        Ok(Some(BlobInfo {
            size: size as u64,
            media_type,
            received,
            erased,
        }))
    }

    fn blob_append(
        &self,
        hash: &BlobHash,
        media_type: &str,
        size: u64,
        offset: u64,
        bytes: &[u8],
    ) -> Result<BlobAppend, StorageError> {
        let _writing = lock(&self.blob_writes);
        match self.blob_info(hash)? {
            Some(info) if info.erased.is_some() => return Ok(BlobAppend::Erased),
            Some(info) if info.size != size => return Ok(BlobAppend::WrongSize),
            Some(_) => {}
            None => {
                self.conn()
                    .execute(
                        "INSERT INTO blobs (hash, size, media_type, created_at) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (hash) DO NOTHING",
                        params![hash.to_string(), size as i64, media_type, now()],
                    )
                    .map_err(db)?;
            }
        }
        let outcome = self.blobs.append(hash, size, offset, bytes)?;
        if outcome == BlobAppend::Mismatch {
            self.conn()
                .execute("DELETE FROM blobs WHERE hash = ?1", [hash.to_string()])
                .map_err(db)?;
        }
        Ok(outcome)
    }

    fn blob_read(
        &self,
        hash: &BlobHash,
        offset: u64,
        length: u64,
    ) -> Result<Vec<u8>, StorageError> {
        self.blobs.read(hash, offset, length)
    }

    fn erase_blob(&self, hash: &BlobHash, erasure: &Erasure) -> Result<usize, StorageError> {
        let written = {
            let mut conn = self.conn();
            let tx = conn.transaction().map_err(db)?;
            let written = log::write_erasure(&mut SqliteLog(&tx), hash, erasure)?;
            tx.execute(
                "INSERT INTO blobs (hash, size, media_type, created_at) VALUES (?1, 0, '', ?2)
                 ON CONFLICT (hash) DO NOTHING",
                params![hash.to_string(), now()],
            )
            .map_err(db)?;
            tx.execute(
                "UPDATE blobs SET erased_at = ?2, erased_by = ?3, erased_reason = ?4
                 WHERE hash = ?1",
                params![
                    hash.to_string(),
                    db_time(erasure.at),
                    erasure.by,
                    erasure.reason
                ],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            written
        };
        // Once the tombstone is durable: a crash in between leaves bytes nobody may fetch,
        // which the next erasure of the same hash deletes.
        let _writing = lock(&self.blob_writes);
        self.blobs.delete(hash)?;
        Ok(written)
    }

    fn collect_blobs(
        &self,
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Result<usize, StorageError> {
        let cutoff = db_time(now - grace);
        let doomed: Vec<String> = {
            let mut conn = self.conn();
            let tx = conn.transaction().map_err(db)?;
            tx.execute(
                "UPDATE blobs SET unreferenced_since = ?1 WHERE unreferenced_since IS NULL
                 AND erased_at IS NULL AND hash NOT IN (SELECT hash FROM blob_refs)",
                [db_time(now)],
            )
            .map_err(db)?;
            tx.execute(
                "UPDATE blobs SET unreferenced_since = NULL WHERE unreferenced_since IS NOT NULL
                 AND hash IN (SELECT hash FROM blob_refs)",
                [],
            )
            .map_err(db)?;
            let doomed = {
                let mut statement = tx
                    .prepare(
                        "SELECT hash FROM blobs WHERE erased_at IS NULL
                         AND unreferenced_since IS NOT NULL AND unreferenced_since < ?1",
                    )
                    .map_err(db)?;
                let rows = statement
                    .query_map([&cutoff], |row| row.get(0))
                    .map_err(db)?;
                rows.collect::<Result<Vec<String>, _>>().map_err(db)?
            };
            for hash in &doomed {
                tx.execute("DELETE FROM blobs WHERE hash = ?1", [hash])
                    .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            doomed
        };
        let _writing = lock(&self.blob_writes);
        for hash in &doomed {
            if let Ok(hash) = hash.parse::<BlobHash>() {
                self.blobs.delete(&hash)?;
            }
        }
        Ok(doomed.len())
    }
}

#[cfg(test)]
mod tests {
    use super::super::story::far_off;
    use super::*;

    #[test]
    fn the_story_holds_on_sqlite() {
        let dir = tempfile::TempDir::new().unwrap();
        let storage = SqliteStorage::open(&dir.path().join("server.db")).unwrap();
        super::super::story::story(&storage);
    }

    #[test]
    fn the_blob_story_holds_on_sqlite() {
        let dir = tempfile::TempDir::new().unwrap();
        let storage = SqliteStorage::open(&dir.path().join("server.db")).unwrap();
        super::super::story::blob_story(&storage);
    }

    #[test]
    fn compaction_skips_a_document_that_does_not_load_and_goes_on() {
        use doorstep_shared::DocId;
        use doorstep_shared::document::{Document, Edit, Writer};
        use doorstep_shared::sync::protocol::{DocChanges, Heads};

        let dir = tempfile::TempDir::new().unwrap();
        let storage = SqliteStorage::open(&dir.path().join("server.db")).unwrap();
        storage.create_team("north").unwrap();
        let user: UserId = "amara".parse().unwrap();
        storage.create_user(&user, "hash").unwrap();
        storage
            .add_member("north", &user, TeamRole::Worker)
            .unwrap();
        storage.create_device(&user, "phone", b"token").unwrap();
        let device = storage.device_by_token(b"token").unwrap().unwrap();
        let writer = Writer::new_device(user.clone());
        let case = CaseId::random();
        let mut document = Document::new_case(&writer, case, "Client", Utc::now()).unwrap();
        let mut pushed = Vec::new();
        for words in ["One", "Two", "Three"] {
            document
                .edit(
                    &writer,
                    &Edit::text("presenting_problem", words),
                    Utc::now(),
                )
                .unwrap();
            let push = Push {
                changes: DocChanges {
                    doc: DocId::Case(case),
                    case_id: case,
                    changes: document.changes_after(&pushed),
                },
                heads: Heads::from_hashes(&document.heads()),
            };
            storage.push(&device, &[push]).unwrap();
            pushed = document.heads();
        }
        // A document whose rows no longer load (a disk fault, say).
        let broken = "case:00000000-0000-4000-8000-000000000001";
        for seq in [1000, 1001] {
            storage
                .conn()
                .execute(
                    "INSERT INTO changes (seq, case_id, doc_key, device_id, bytes)
                     VALUES (?1, ?2, ?3, 'x', x'00112233')",
                    params![seq, case.to_string(), broken],
                )
                .unwrap();
        }
        storage.compact(2).unwrap();
        let rows = |doc_key: &str| -> i64 {
            storage
                .conn()
                .query_row(
                    "SELECT count(*) FROM changes WHERE doc_key = ?1",
                    [doc_key],
                    |row| row.get(0),
                )
                .unwrap()
        };
        assert_eq!(
            rows(&DocId::Case(case).key()),
            1,
            "folded into one snapshot"
        );
        assert_eq!(rows(broken), 2, "left as it was");
    }

    #[test]
    fn a_device_is_found_by_its_token_while_the_writer_is_busy() {
        let dir = tempfile::TempDir::new().unwrap();
        let storage =
            std::sync::Arc::new(SqliteStorage::open(&dir.path().join("server.db")).unwrap());
        let amara: UserId = "amara".parse().unwrap();
        storage.create_user(&amara, "hash").unwrap();
        storage.create_device(&amara, "phone", b"token").unwrap();
        storage
            .revoke_device(&storage.device_by_token(b"token").unwrap().unwrap().id)
            .unwrap();
        let held = storage.conn();
        let (found, finding) = std::sync::mpsc::channel();
        let reader = storage.clone();
        std::thread::spawn(move || found.send(reader.device_by_token(b"token")));
        let device = finding
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the lookup waited for the writer")
            .unwrap()
            .unwrap();
        assert_eq!(device.user, amara);
        assert!(device.revoked, "what the writer committed is read");
        drop(held);
    }

    #[test]
    fn two_servers_on_one_file() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("server.db");
        let (first, second) = (
            SqliteStorage::open(&path).unwrap(),
            SqliteStorage::open(&path).unwrap(),
        );
        super::super::story::two_servers(&first, &second);
    }

    #[test]
    fn a_backup_is_a_consistent_copy_that_restores() {
        let dir = tempfile::TempDir::new().unwrap();
        let storage = SqliteStorage::open(&dir.path().join("server.db")).unwrap();
        let amara: UserId = "amara".parse().unwrap();
        storage.create_user(&amara, "hash").unwrap();
        let backup = dir.path().join("backup.db");
        storage.backup(&backup).unwrap();
        assert!(matches!(
            storage.backup(&backup),
            Err(StorageError::Exists(_))
        ));
        SqliteStorage::check_backup(&backup).unwrap();
        let copy = SqliteStorage::open(&backup).unwrap();
        assert_eq!(copy.list_users().unwrap()[0].user, amara);
        assert_eq!(copy.epoch().unwrap(), storage.epoch().unwrap());
        let not_a_backup = dir.path().join("notes.txt");
        std::fs::write(&not_a_backup, "not a database").unwrap();
        assert!(SqliteStorage::check_backup(&not_a_backup).is_err());
    }

    #[test]
    fn syncs_queued_together_commit_once_and_a_refused_push_undoes_only_itself() {
        use doorstep_shared::DocId;
        use doorstep_shared::document::{Document, Writer};
        use doorstep_shared::sync::protocol::{DocChanges, Heads};

        let dir = tempfile::TempDir::new().unwrap();
        let storage =
            std::sync::Arc::new(SqliteStorage::open(&dir.path().join("server.db")).unwrap());
        storage.create_team("north").unwrap();
        let workers: Vec<Device> = (0..8)
            .map(|n| {
                let user: UserId = format!("worker-{n}").parse().unwrap();
                storage.create_user(&user, "hash").unwrap();
                storage
                    .add_member("north", &user, TeamRole::Worker)
                    .unwrap();
                let token = format!("token {n}").into_bytes();
                storage.create_device(&user, "phone", &token).unwrap();
                storage.device_by_token(&token).unwrap().unwrap()
            })
            .collect();
        let push_of = |device: &Device, valid: bool| {
            let case = CaseId::random();
            let mut document = Document::new_case(
                &Writer::new_device(device.user.clone()),
                case,
                "Client",
                Utc::now(),
            )
            .unwrap();
            let heads = document.heads();
            Push {
                changes: DocChanges {
                    doc: DocId::Case(case),
                    case_id: case,
                    changes: if valid {
                        document.changes_after(&[])
                    } else {
                        b"not automerge".to_vec()
                    },
                },
                heads: Heads::from_hashes(&heads),
            }
        };

        // Hold the connection until all eight have queued, so they make one group.
        let pushes: Vec<Push> = workers
            .iter()
            .enumerate()
            .map(|(n, device)| push_of(device, n != 3))
            .collect();
        let refused_case = pushes[3].changes.case_id.to_string();
        let held = storage.conn();
        let threads: Vec<_> = workers
            .iter()
            .zip(pushes)
            .map(|(device, push)| {
                let storage = storage.clone();
                let device = device.clone();
                std::thread::spawn(move || {
                    storage.sync(&device, vec![push], LogPosition::default(), far_off())
                })
            })
            .collect();
        while storage.queued.queued() < 8 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        drop(held);
        let results: Vec<_> = threads
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .collect();

        for (n, result) in results.iter().enumerate() {
            match result {
                Ok(response) if n == 3 => {
                    assert!(response.acks.is_empty());
                    assert_eq!(response.refused.len(), 1);
                    assert_eq!(response.refused[0].code, "invalid_changes");
                }
                Ok(response) if n != 3 => assert_eq!(response.acks.len(), 1),
                other => panic!("sync {n}: {other:?}"),
            }
        }
        // The seven accepted cases are stored and audited; nothing of the refused one.
        storage
            .create_device(&workers[0].user, "tablet", b"tablet")
            .unwrap();
        let tablet = storage.device_by_token(b"tablet").unwrap().unwrap();
        let fresh = storage
            .sync(&tablet, Vec::new(), LogPosition::default(), far_off())
            .unwrap();
        assert_eq!(fresh.pulls.len(), 7);
        // The refused push had opened its case before its changes were found unreadable.
        assert!(
            !SqliteLog(&storage.conn())
                .case_exists(&refused_case)
                .unwrap()
        );
        let syncs = storage
            .audit_log()
            .unwrap()
            .into_iter()
            .filter(|(_, entry)| entry.action == "sync")
            .count();
        assert_eq!(
            syncs, 9,
            "eight in the group, the refused push's too, and the fresh one"
        );
    }
}
