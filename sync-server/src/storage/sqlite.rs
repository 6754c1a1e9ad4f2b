//! The embedded default: one SQLite file in the data directory, nothing to install.
//!
//! One connection behind a mutex: SQLite has one writer at a time anyway, and holding the
//! lock across a push's transaction also means change-log sequence numbers are handed out in
//! the order their transactions commit, so a reader can never skip one that commits late.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use chrono::{SecondsFormat, Utc};
use doorstep_shared::sync::protocol::{Ack, DocChanges, Push, SyncResponse};
use doorstep_shared::sync::server::{LogPosition, PAGE_BYTES, PageBudget};
use doorstep_shared::{CaseId, DocId, UserId};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{AuditEntry, Device, Storage, StorageError, TeamRole, UserSummary};
use crate::validate::check_push;

const MIGRATIONS: &[&str] = &[r#"
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
"#];

/// Storage in one SQLite file.
#[derive(Debug)]
pub struct SqliteStorage {
    conn: Mutex<Connection>,
}

fn db(error: rusqlite::Error) -> StorageError {
    StorageError::Database(error.to_string())
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl SqliteStorage {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStorage, StorageError> {
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
        Ok(SqliteStorage {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction half-done: rusqlite
        // rolls back an unfinished transaction when it is dropped.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn next_seq(tx: &Transaction<'_>) -> Result<i64, StorageError> {
    tx.query_row(
        "UPDATE log_clock SET seq = seq + 1 RETURNING seq",
        [],
        |row| row.get(0),
    )
    .map_err(db)
}

/// Brings `user`'s access in line with their teams, logging each grant and revocation.
fn recompute_access(tx: &Transaction<'_>, user: &str) -> Result<(), StorageError> {
    let desired: BTreeSet<String> = strings(
        tx,
        "SELECT c.case_id FROM cases c JOIN team_members m ON m.team = c.team
         WHERE m.user_id = ?1",
        user,
    )?;
    let current: BTreeSet<String> =
        strings(tx, "SELECT case_id FROM access WHERE user_id = ?1", user)?;
    let grants = desired.difference(&current).map(|case| (case, true));
    let revocations = current.difference(&desired).map(|case| (case, false));
    for (case, granted) in grants.chain(revocations) {
        let seq = next_seq(tx)?;
        let change = if granted {
            "INSERT INTO access (user_id, case_id) VALUES (?1, ?2)"
        } else {
            "DELETE FROM access WHERE user_id = ?1 AND case_id = ?2"
        };
        tx.execute(change, params![user, case]).map_err(db)?;
        tx.execute(
            "INSERT INTO access_log (seq, user_id, case_id, granted) VALUES (?1, ?2, ?3, ?4)",
            params![seq, user, case, granted],
        )
        .map_err(db)?;
    }
    Ok(())
}

fn strings(tx: &Connection, sql: &str, param: &str) -> Result<BTreeSet<String>, StorageError> {
    let mut statement = tx.prepare_cached(sql).map_err(db)?;
    let rows = statement.query_map([param], |row| row.get(0)).map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

fn team_members(tx: &Connection, team: &str) -> Result<BTreeSet<String>, StorageError> {
    strings(tx, "SELECT user_id FROM team_members WHERE team = ?1", team)
}

fn parse_case(text: &str) -> Result<CaseId, StorageError> {
    text.parse()
        .map_err(|_| StorageError::Database(format!("bad case id {text:?}")))
}

impl Storage for SqliteStorage {
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
                "UPDATE users SET password_hash = ?2 WHERE user_id = ?1",
                params![user.as_str(), password_hash],
            )
            .map_err(db)?;
        if updated == 0 {
            return Err(StorageError::NotFound(format!("user {user}")));
        }
        Ok(())
    }

    fn password_hash(&self, user: &UserId) -> Result<Option<String>, StorageError> {
        self.conn()
            .query_row(
                "SELECT password_hash FROM users WHERE user_id = ?1",
                [user.as_str()],
                |row| row.get(0),
            )
            .optional()
            .map_err(db)
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
                user: user
                    .parse()
                    .map_err(|_| StorageError::Database(format!("bad user id {user:?}")))?,
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
                "INSERT INTO devices (device_id, user_id, name, token_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, user.as_str(), name, token_hash, now()],
            )
            .map_err(db)?;
        Ok(id)
    }

    fn device_by_token(&self, token_hash: &[u8]) -> Result<Option<Device>, StorageError> {
        let row: Option<(String, String, Option<String>)> = self
            .conn()
            .query_row(
                "SELECT device_id, user_id, revoked_at FROM devices WHERE token_hash = ?1",
                [token_hash],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .map_err(db)?;
        row.map(|(id, user, revoked_at)| {
            Ok(Device {
                id,
                user: user
                    .parse()
                    .map_err(|_| StorageError::Database(format!("bad user id {user:?}")))?,
                revoked: revoked_at.is_some(),
            })
        })
        .transpose()
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
        recompute_access(&tx, user.as_str())?;
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
        recompute_access(&tx, user.as_str())?;
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
        let mut affected = team_members(&tx, team)?;
        if let Some(previous) = previous {
            affected.extend(team_members(&tx, &previous)?);
        }
        for user in affected {
            recompute_access(&tx, &user)?;
        }
        tx.commit().map_err(db)
    }

    fn push(&self, device: &Device, pushes: &[Push]) -> Result<Vec<Ack>, StorageError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let user = device.user.as_str();
        // A new case's own document first: the records pushed with it need it to exist.
        let mut ordered: Vec<&Push> = pushes.iter().collect();
        ordered.sort_by_key(|push| !matches!(push.changes.doc, DocId::Case(_)));
        let mut acks = Vec::with_capacity(pushes.len());
        for push in ordered {
            let case = push.changes.case_id;
            let case_key = case.to_string();
            let known: bool = tx
                .query_row(
                    "SELECT 1 FROM cases WHERE case_id = ?1",
                    [&case_key],
                    |_| Ok(()),
                )
                .optional()
                .map_err(db)?
                .is_some();
            if known {
                let readable = tx
                    .query_row(
                        "SELECT 1 FROM access WHERE user_id = ?1 AND case_id = ?2",
                        params![user, case_key],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(db)?
                    .is_some();
                if !readable {
                    return Err(StorageError::Forbidden(case));
                }
            } else {
                if push.changes.doc != DocId::Case(case) {
                    return Err(StorageError::Forbidden(case));
                }
                let team: String = tx
                    .query_row(
                        "SELECT team FROM team_members WHERE user_id = ?1 ORDER BY team LIMIT 1",
                        [user],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(db)?
                    .ok_or_else(|| StorageError::NoTeam(device.user.clone()))?;
                tx.execute(
                    "INSERT INTO cases (case_id, team) VALUES (?1, ?2)",
                    params![case_key, team],
                )
                .map_err(db)?;
                for member in team_members(&tx, &team)? {
                    recompute_access(&tx, &member)?;
                }
            }
            let doc_key = push.changes.doc.key();
            let log: Vec<Vec<u8>> = {
                let mut statement = tx
                    .prepare_cached("SELECT bytes FROM changes WHERE doc_key = ?1 ORDER BY seq")
                    .map_err(db)?;
                let rows = statement
                    .query_map([&doc_key], |row| row.get(0))
                    .map_err(db)?;
                rows.collect::<Result<_, _>>().map_err(db)?
            };
            let accepted = check_push(&log, push)?;
            if !accepted.new_changes.is_empty() {
                let seq = next_seq(&tx)?;
                tx.execute(
                    "INSERT INTO changes (seq, case_id, doc_key, device_id, bytes)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![seq, case_key, doc_key, device.id, accepted.new_changes],
                )
                .map_err(db)?;
            }
            acks.push(Ack {
                doc: push.changes.doc,
                heads: push.heads.clone(),
            });
        }
        tx.commit().map_err(db)?;
        Ok(acks)
    }

    fn pull(&self, device: &Device, from: LogPosition) -> Result<SyncResponse, StorageError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let user = device.user.as_str();
        let from_seq = i64::try_from(from.seq).unwrap_or(i64::MAX);
        let latest: i64 = tx
            .query_row("SELECT seq FROM log_clock", [], |row| row.get(0))
            .map_err(db)?;

        let mut pulls: Vec<DocChanges> = Vec::new();
        let mut budget = PageBudget::new(PAGE_BYTES);
        let mut more = false;
        let mut horizon = latest;
        {
            let mut statement = tx
                .prepare_cached(
                    "SELECT seq, case_id, doc_key, bytes FROM changes
                     WHERE seq > ?1 AND device_id != ?2
                       AND case_id IN (SELECT case_id FROM access WHERE user_id = ?3)
                     ORDER BY seq",
                )
                .map_err(db)?;
            let mut rows = statement
                .query(params![from_seq, device.id, user])
                .map_err(db)?;
            let mut last_admitted = from_seq;
            while let Some(row) = rows.next().map_err(db)? {
                let bytes: Vec<u8> = row.get(3).map_err(db)?;
                if !budget.admit(bytes.len()) {
                    more = true;
                    horizon = last_admitted;
                    break;
                }
                last_admitted = row.get(0).map_err(db)?;
                let case_id = parse_case(&row.get::<_, String>(1).map_err(db)?)?;
                let doc_key: String = row.get(2).map_err(db)?;
                append_pull(&mut pulls, &doc_key, case_id, bytes)?;
            }
        }

        // Grants and revocations the device has not seen, up to where this page ends.
        let readable: HashSet<String> =
            strings(&tx, "SELECT case_id FROM access WHERE user_id = ?1", user)?
                .into_iter()
                .collect();
        let mut events = tx
            .prepare_cached(
                "SELECT case_id, granted FROM access_log
                 WHERE user_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq",
            )
            .map_err(db)?;
        let events: Vec<(String, bool)> = events
            .query_map(params![user, from_seq, horizon], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        let mut catch_up = BTreeSet::new();
        let mut purge = BTreeSet::new();
        for (case, granted) in events {
            if granted && readable.contains(&case) {
                catch_up.insert(case);
            } else if !granted && !readable.contains(&case) {
                purge.insert(case);
            }
        }
        // A case newly readable: everything of it from before the cursor, ahead of the page.
        let mut earlier = Vec::new();
        for case in &catch_up {
            let mut statement = tx
                .prepare_cached(
                    "SELECT doc_key, bytes FROM changes WHERE case_id = ?1 AND seq <= ?2 ORDER BY seq",
                )
                .map_err(db)?;
            let mut rows = statement.query(params![case, from_seq]).map_err(db)?;
            let case_id = parse_case(case)?;
            while let Some(row) = rows.next().map_err(db)? {
                append_pull(
                    &mut earlier,
                    &row.get::<_, String>(0).map_err(db)?,
                    case_id,
                    row.get(1).map_err(db)?,
                )?;
            }
        }
        earlier.extend(pulls);
        Ok(SyncResponse {
            acks: Vec::new(),
            pulls: earlier,
            cursor: LogPosition {
                seq: u64::try_from(horizon).unwrap_or_default(),
            }
            .to_cursor(),
            more,
            purge: purge
                .iter()
                .map(|case| parse_case(case))
                .collect::<Result<_, _>>()?,
        })
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
            let Some((last_seq, case_id, _)) = rows.last().cloned() else {
                continue;
            };
            let parts: Vec<&[u8]> = rows.iter().map(|(_, _, bytes)| bytes.as_slice()).collect();
            let snapshot = doorstep_shared::document::Document::load(&[], &parts)
                .map_err(|error| StorageError::Database(format!("{doc_key}: {error}")))?
                .save();
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

    fn audit(&self, entry: AuditEntry) -> Result<(), StorageError> {
        self.conn()
            .execute(
                "INSERT INTO audit (at, user_id, device_id, case_id, action, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    now(),
                    entry.user.as_ref().map(UserId::as_str),
                    entry.device,
                    entry.case.map(|case| case.to_string()),
                    entry.action,
                    entry.detail
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    fn audit_log(&self) -> Result<Vec<(String, AuditEntry)>, StorageError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare(
                "SELECT at, user_id, device_id, case_id, action, detail FROM audit ORDER BY id",
            )
            .map_err(db)?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                ))
            })
            .map_err(db)?;
        let mut entries = Vec::new();
        for row in rows {
            let (at, user, device, case, action, detail) = row.map_err(db)?;
            entries.push((
                at,
                AuditEntry {
                    user: user.and_then(|user| user.parse().ok()),
                    device,
                    case: case.and_then(|case| case.parse().ok()),
                    action,
                    detail,
                },
            ));
        }
        Ok(entries)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_story_holds_on_sqlite() {
        let dir = tempfile::TempDir::new().unwrap();
        let storage = SqliteStorage::open(&dir.path().join("server.db")).unwrap();
        super::super::story::story(&storage);
    }
}
