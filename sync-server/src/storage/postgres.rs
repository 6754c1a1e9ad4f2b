//! The PostgreSQL backend, for agencies that outgrow one machine: several stateless server
//! processes share one database.
//!
//! Sequence numbers come from the one row of `log_clock`, updated inside the writing
//! transaction: its row lock is held until commit, so numbers commit in the order they are
//! handed out, across every server process, and a reader never skips a change that commits
//! late. Pulls read in a repeatable-read transaction, one consistent snapshot.
//!
//! Since that lock is held through each commit, a server process commits its syncs' pushes
//! in groups ([`super::group`]): one transaction, a savepoint each, one commit. Their pulls
//! then run side by side on the pool's other connections.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use doorstep_shared::attachments::{BlobHash, Erasure};
use doorstep_shared::sync::protocol::{Ack, Push, SyncResponse};
use doorstep_shared::sync::server::LogPosition;
use doorstep_shared::sync::validate::PushLimits;
use doorstep_shared::{CaseId, DocId, UserId};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, Row, Statement, Transaction};
use r2d2::{ManageConnection, Pool, PooledConnection};
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::postgres_tls::DatabaseUrl;

use super::blobs::{BlobAppend, BlobInfo};
use super::documents::{self, DocumentCache};
use super::group::{self, GroupCommit};
use super::log::{self, LogRow, LogTx, Pushed};
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
        token_hash BYTEA NOT NULL UNIQUE,
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
    CREATE TABLE access (
        user_id TEXT NOT NULL,
        case_id TEXT NOT NULL,
        PRIMARY KEY (user_id, case_id)
    );
    CREATE TABLE access_log (
        seq     BIGINT PRIMARY KEY,
        user_id TEXT NOT NULL,
        case_id TEXT NOT NULL,
        granted BOOLEAN NOT NULL
    );
    CREATE INDEX access_log_by_user ON access_log (user_id, seq);
    CREATE TABLE log_clock (seq BIGINT NOT NULL);
    INSERT INTO log_clock VALUES (0);
    CREATE TABLE changes (
        seq       BIGINT PRIMARY KEY,
        case_id   TEXT NOT NULL,
        doc_key   TEXT NOT NULL,
        device_id TEXT NOT NULL,
        bytes     BYTEA NOT NULL
    );
    CREATE INDEX changes_by_doc ON changes (doc_key, seq);
    CREATE INDEX changes_by_case ON changes (case_id, seq);
    CREATE TABLE audit (
        id        BIGSERIAL PRIMARY KEY,
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
    ALTER TABLE log_clock ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
    UPDATE log_clock SET epoch = floor(random() * 9000000000000000000)::BIGINT + 1;
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
    -- Attachments' blobs, by SHA-256, once an upload of one began, with the bytes held so
    -- far; the bytes are in `blob_chunks`, by offset. `unreferenced_since`: when garbage
    -- collection first found no document naming it. The tombstone, once erased.
    CREATE TABLE blobs (
        hash               TEXT PRIMARY KEY,
        size               BIGINT NOT NULL,
        media_type         TEXT NOT NULL,
        received           BIGINT NOT NULL DEFAULT 0,
        created_at         TEXT NOT NULL,
        unreferenced_since TEXT,
        erased_at          TEXT,
        erased_by          TEXT,
        erased_reason      TEXT
    );
    CREATE TABLE blob_chunks (
        hash   TEXT NOT NULL REFERENCES blobs (hash) ON DELETE CASCADE,
        "offset" BIGINT NOT NULL,
        bytes  BYTEA NOT NULL,
        PRIMARY KEY (hash, "offset")
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

/// An arbitrary, fixed key for the advisory lock that serialises migrations between server
/// processes starting together.
const MIGRATION_LOCK: i64 = 0x646f_6f72_7374_6570;

/// How many rows a page reads from the database at a time.
const ROWS_PER_READ: i64 = 500;

type Connection = PooledConnection<Manager>;

/// A connection and the statements prepared on it: the log's queries run thousands of
/// times a minute, and a query given as text is parsed and planned again each time, an
/// extra round trip to the database before it runs.
pub(crate) struct PgConnection {
    client: Client,
    statements: Statements,
}

/// Statements prepared on one connection, by their text.
type Statements = HashMap<&'static str, Statement>;

impl std::ops::Deref for PgConnection {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl std::ops::DerefMut for PgConnection {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// Opens pooled connections, each with its own prepared statements.
pub(crate) struct Manager(PostgresConnectionManager<MakeRustlsConnect>);

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The configuration holds the password: never print it.
        f.write_str("Manager(..)")
    }
}

impl ManageConnection for Manager {
    type Connection = PgConnection;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConnection, postgres::Error> {
        Ok(PgConnection {
            client: self.0.connect()?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgConnection) -> Result<(), postgres::Error> {
        self.0.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut PgConnection) -> bool {
        self.0.has_broken(&mut conn.client)
    }
}

/// Storage in a PostgreSQL database.
pub struct PostgresStorage {
    pool: Pool<Manager>,
    /// Held by the leader of a group of pushes while it gathers and commits them.
    writer: Mutex<()>,
    /// Syncs' pushes waiting for the next group commit.
    queued: GroupCommit<QueuedPush, Result<Pushed, StorageError>>,
    /// Documents kept from the pushes last checked.
    documents: DocumentCache,
    /// What one document's push may hold.
    push_limits: PushLimits,
}

/// A sync's pushes waiting for their group.
#[derive(Debug)]
struct QueuedPush {
    device: Device,
    pushes: Arc<Vec<Push>>,
    from: LogPosition,
    deadline: Instant,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never print it.
        f.write_str("PostgresStorage(..)")
    }
}

fn db(error: postgres::Error) -> StorageError {
    StorageError::Database(error.to_string())
}

fn now() -> String {
    db_time(Utc::now())
}

fn is(error: &postgres::Error, state: &SqlState) -> bool {
    error.code() == Some(state)
}

impl PostgresStorage {
    /// Connects to `url` (`postgres://user:password@host/database`, with libpq's `sslmode`
    /// and `sslrootcert` if wanted: [`postgres_tls`](super::postgres_tls)) with a pool of
    /// `size` connections and brings the schema up to date.
    pub fn connect(url: &str, size: u32) -> Result<PostgresStorage, StorageError> {
        let url = DatabaseUrl::parse(url).map_err(StorageError::Database)?;
        if let Some(hosts) = url.plain_to_another_machine() {
            tracing::warn!(
                hosts,
                "the connection to PostgreSQL on another machine may be in the clear: add \
                 sslmode=verify-full&sslrootcert=<the authority's certificate> to the URL"
            );
        }
        let connector = url.connector().map_err(StorageError::Database)?;
        let manager = Manager(PostgresConnectionManager::new(url.config, connector));
        // One connection first, so that a refused certificate or password is told at once,
        // with its cause, rather than as the pool's timeout.
        manager.connect().map_err(|error| {
            let mut message = format!("connecting to PostgreSQL: {error}");
            let mut cause = std::error::Error::source(&error);
            while let Some(error) = cause {
                message.push_str(&format!(": {error}"));
                cause = error.source();
            }
            StorageError::Database(message)
        })?;
        let pool = Pool::builder()
            .max_size(size)
            .build(manager)
            .map_err(|error| {
                StorageError::Database(format!("connecting to PostgreSQL: {error}"))
            })?;
        let storage = PostgresStorage::with_pool(pool);
        storage.migrate()?;
        Ok(storage)
    }

    fn with_pool(pool: Pool<Manager>) -> PostgresStorage {
        PostgresStorage {
            pool,
            writer: Mutex::new(()),
            queued: GroupCommit::default(),
            documents: DocumentCache::new(documents::DEFAULT_BUDGET_BYTES),
            push_limits: PushLimits::default(),
        }
    }

    /// Holds each document's push to `limits`.
    pub fn with_push_limits(mut self, limits: PushLimits) -> Self {
        self.push_limits = limits;
        self
    }

    fn conn(&self) -> Result<Connection, StorageError> {
        self.pool
            .get()
            .map_err(|error| StorageError::Database(format!("no PostgreSQL connection: {error}")))
    }

    fn migrate(&self) -> Result<(), StorageError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(db)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .map_err(db)?;
        let applied: i32 = tx
            .query_opt("SELECT max(version) FROM schema_version", &[])
            .map_err(db)?
            .and_then(|row| row.get::<_, Option<i32>>(0))
            .unwrap_or(0);
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            tx.batch_execute(migration).map_err(db)?;
            tx.execute(
                "INSERT INTO schema_version VALUES ($1)",
                &[&((index + 1) as i32)],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn write<T>(
        &self,
        work: impl FnOnce(&mut PgLog<'_, '_>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut conn = self.conn()?;
        let PgConnection { client, statements } = &mut *conn;
        let mut tx = client.transaction().map_err(db)?;
        let value = work(&mut PgLog {
            tx: &mut tx,
            statements,
        })?;
        tx.commit().map_err(db)?;
        Ok(value)
    }

    /// Runs a group of queued pushes in one transaction, each under its own savepoint, and
    /// returns their answers once it committed.
    fn commit_group(&self, group: Vec<QueuedPush>) -> Vec<Result<Pushed, StorageError>> {
        let count = group.len();
        let mut results = Vec::with_capacity(count);
        let mut checked = Vec::new();
        let committed = (|| {
            let mut conn = self.conn()?;
            let PgConnection { client, statements } = &mut *conn;
            let mut tx = client.transaction().map_err(db)?;
            for queued in group {
                let mut savepoint = tx.transaction().map_err(db)?;
                let mut log = PgLog {
                    tx: &mut savepoint,
                    statements,
                };
                let result = log::check_epoch(&mut log, queued.from).and_then(|epoch| {
                    log::push(
                        &mut log,
                        &self.documents,
                        epoch,
                        &queued.device,
                        &queued.pushes,
                        &self.push_limits,
                        Some(queued.deadline),
                    )
                });
                // A savepoint dropped uncommitted is rolled back: a refused push leaves
                // nothing behind, and the others in the group go on.
                let result = match result {
                    Ok(mut pushed) => {
                        savepoint.commit().map_err(db)?;
                        checked.append(&mut pushed.checked);
                        Ok(pushed)
                    }
                    Err(error) => Err(error),
                };
                results.push(result);
            }
            tx.commit().map_err(db)
        })();
        group::answers(committed, count, results, checked, &self.documents)
    }
}

/// The log's view of a PostgreSQL transaction, with its connection's prepared statements.
pub(crate) struct PgLog<'a, 'b> {
    tx: &'a mut Transaction<'b>,
    statements: &'a mut Statements,
}

impl PgLog<'_, '_> {
    /// `sql`, prepared once per connection.
    fn prepared(&mut self, sql: &'static str) -> Result<Statement, StorageError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.tx.prepare(sql).map_err(db)?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StorageError> {
        let statement = self.prepared(sql)?;
        self.tx.query(&statement, params).map_err(db)
    }

    fn query_one(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, StorageError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StorageError::Database(format!("no row from {sql}")))
    }

    fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StorageError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    fn execute(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StorageError> {
        let statement = self.prepared(sql)?;
        self.tx.execute(&statement, params).map_err(db)
    }

    fn strings(
        &mut self,
        sql: &'static str,
        param: &str,
    ) -> Result<BTreeSet<String>, StorageError> {
        let rows = self.query(sql, &[&param])?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }
}

impl LogTx for PgLog<'_, '_> {
    fn audit(&mut self, entry: &AuditEntry) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO audit (at, user_id, device_id, case_id, action, detail, address)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &now(),
                &entry.user.as_ref().map(UserId::as_str),
                &entry.device,
                &entry.case.map(|case| case.to_string()),
                &entry.action,
                &entry.detail,
                &entry.address,
            ],
        )?;
        Ok(())
    }

    fn case_exists(&mut self, case: &str) -> Result<bool, StorageError> {
        let row = self.query_opt("SELECT 1 FROM cases WHERE case_id = $1", &[&case])?;
        Ok(row.is_some())
    }

    fn may_read(&mut self, user: &str, case: &str) -> Result<bool, StorageError> {
        let row = self.query_opt(
            "SELECT 1 FROM access WHERE user_id = $1 AND case_id = $2",
            &[&user, &case],
        )?;
        Ok(row.is_some())
    }

    fn first_team(&mut self, user: &str) -> Result<Option<String>, StorageError> {
        let row = self.query_opt(
            "SELECT team FROM team_members WHERE user_id = $1 ORDER BY team LIMIT 1",
            &[&user],
        )?;
        Ok(row.map(|row| row.get(0)))
    }

    fn insert_case(&mut self, case: &str, team: &str) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO cases (case_id, team) VALUES ($1, $2)
             ON CONFLICT (case_id) DO UPDATE SET team = excluded.team",
            &[&case, &team],
        )?;
        Ok(())
    }

    fn team_exists(&mut self, team: &str) -> Result<bool, StorageError> {
        Ok(self
            .query_opt("SELECT 1 FROM teams WHERE team = $1", &[&team])?
            .is_some())
    }

    fn team_members(&mut self, team: &str) -> Result<BTreeSet<String>, StorageError> {
        self.strings("SELECT user_id FROM team_members WHERE team = $1", team)
    }

    fn cases_of_teams_of(&mut self, user: &str) -> Result<BTreeSet<String>, StorageError> {
        self.strings(
            "SELECT c.case_id FROM cases c JOIN team_members m ON m.team = c.team
             WHERE m.user_id = $1",
            user,
        )
    }

    fn readable_cases(&mut self, user: &str) -> Result<BTreeSet<String>, StorageError> {
        self.strings("SELECT case_id FROM access WHERE user_id = $1", user)
    }

    fn set_access(
        &mut self,
        user: &str,
        case: &str,
        granted: bool,
        seq: i64,
    ) -> Result<(), StorageError> {
        let change = if granted {
            "INSERT INTO access (user_id, case_id) VALUES ($1, $2)"
        } else {
            "DELETE FROM access WHERE user_id = $1 AND case_id = $2"
        };
        self.execute(change, &[&user, &case])?;
        self.execute(
            "INSERT INTO access_log (seq, user_id, case_id, granted) VALUES ($1, $2, $3, $4)",
            &[&seq, &user, &case, &granted],
        )?;
        Ok(())
    }

    fn next_seq(&mut self) -> Result<i64, StorageError> {
        let row = self.query_one("UPDATE log_clock SET seq = seq + 1 RETURNING seq", &[])?;
        Ok(row.get(0))
    }

    fn latest_seq(&mut self) -> Result<i64, StorageError> {
        let row = self.query_one("SELECT seq FROM log_clock", &[])?;
        Ok(row.get(0))
    }

    fn epoch(&mut self) -> Result<u64, StorageError> {
        let row = self.query_one("SELECT epoch FROM log_clock", &[])?;
        Ok(row.get::<_, i64>(0).unsigned_abs())
    }

    fn doc_case(&mut self, doc_key: &str) -> Result<Option<String>, StorageError> {
        let row = self.query_opt(
            "SELECT case_id FROM changes WHERE doc_key = $1 ORDER BY seq LIMIT 1",
            &[&doc_key],
        )?;
        Ok(row.map(|row| row.get(0)))
    }

    fn case_team(&mut self, case: &str) -> Result<Option<String>, StorageError> {
        let row = self.query_opt("SELECT team FROM cases WHERE case_id = $1", &[&case])?;
        Ok(row.map(|row| row.get(0)))
    }

    fn team_cases(&mut self, team: &str) -> Result<BTreeSet<String>, StorageError> {
        let rows = self.query("SELECT case_id FROM cases WHERE team = $1", &[&team])?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    fn team_roster(&mut self, team: &str) -> Result<BTreeMap<UserId, TeamRole>, StorageError> {
        let rows = self.query(
            "SELECT user_id, role FROM team_members WHERE team = $1",
            &[&team],
        )?;
        let mut roster = BTreeMap::new();
        for row in rows {
            roster.insert(parse_user(row.get(0))?, parse_role(row.get(1))?);
        }
        Ok(roster)
    }

    fn team_role(&mut self, user: &str, team: &str) -> Result<Option<TeamRole>, StorageError> {
        let row = self.query_opt(
            "SELECT role FROM team_members WHERE team = $1 AND user_id = $2",
            &[&team, &user],
        )?;
        row.map(|row| parse_role(row.get(0))).transpose()
    }

    fn role_of(&mut self, user: &str, case: &str) -> Result<Option<TeamRole>, StorageError> {
        let row = self.query_opt(
            "SELECT m.role FROM cases c JOIN team_members m ON m.team = c.team
             WHERE c.case_id = $1 AND m.user_id = $2",
            &[&case, &user],
        )?;
        row.map(|row| parse_role(row.get(0))).transpose()
    }

    fn actor_user(&mut self, actor: &str) -> Result<Option<String>, StorageError> {
        let row = self.query_opt("SELECT user_id FROM actors WHERE actor = $1", &[&actor])?;
        Ok(row.map(|row| row.get(0)))
    }

    fn bind_actor(&mut self, actor: &str, user: &str, device: &str) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO actors (actor, user_id, device_id, bound_at) VALUES ($1, $2, $3, $4)",
            &[&actor, &user, &device, &now()],
        )?;
        Ok(())
    }

    fn doc_newest_seq(&mut self, doc_key: &str) -> Result<Option<i64>, StorageError> {
        let row = self.query_one(
            "SELECT max(seq) FROM changes WHERE doc_key = $1",
            &[&doc_key],
        )?;
        Ok(row.get(0))
    }

    fn set_blob_refs(
        &mut self,
        doc_key: &str,
        case: &str,
        named: &[(String, String)],
    ) -> Result<(), StorageError> {
        self.execute("DELETE FROM blob_refs WHERE doc_key = $1", &[&doc_key])?;
        for (hash, media_type) in named {
            self.execute(
                "INSERT INTO blob_refs (hash, doc_key, case_id, media_type) VALUES ($1, $2, $3, $4)",
                &[hash, &doc_key, &case, media_type],
            )?;
        }
        Ok(())
    }

    fn blob_ref_docs(&mut self, hash: &str) -> Result<Vec<(String, String)>, StorageError> {
        let rows = self.query(
            "SELECT doc_key, case_id FROM blob_refs WHERE hash = $1 ORDER BY doc_key",
            &[&hash],
        )?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    fn doc_log(&mut self, doc_key: &str) -> Result<Vec<Vec<u8>>, StorageError> {
        let rows = self.query(
            "SELECT bytes FROM changes WHERE doc_key = $1 ORDER BY seq",
            &[&doc_key],
        )?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
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
                 VALUES ($1, $2, $3, $4, $5)",
            &[&seq, &case, &doc_key, &device, &bytes],
        )?;
        Ok(())
    }

    fn visit_changes_after(
        &mut self,
        from: i64,
        device: &str,
        user: &str,
        visit: &mut dyn FnMut(LogRow) -> Result<bool, StorageError>,
    ) -> Result<(), StorageError> {
        let mut after = from;
        loop {
            let rows = self.query(
                "SELECT seq, case_id, doc_key, bytes FROM changes
                     WHERE seq > $1 AND device_id <> $2
                       AND case_id IN (SELECT case_id FROM access WHERE user_id = $3)
                     ORDER BY seq LIMIT $4",
                &[&after, &device, &user, &ROWS_PER_READ],
            )?;
            let count = rows.len();
            for row in rows {
                after = row.get(0);
                let row = LogRow {
                    seq: after,
                    case_id: row.get(1),
                    doc_key: row.get(2),
                    bytes: row.get(3),
                };
                if !visit(row)? {
                    return Ok(());
                }
            }
            if (count as i64) < ROWS_PER_READ {
                return Ok(());
            }
        }
    }

    fn access_events(
        &mut self,
        user: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, bool)>, StorageError> {
        let rows = self.query(
            "SELECT case_id, granted FROM access_log
                 WHERE user_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
            &[&user, &from, &to],
        )?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    fn case_changes_upto(
        &mut self,
        case: &str,
        upto: i64,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let rows = self.query(
            "SELECT doc_key, bytes FROM changes WHERE case_id = $1 AND seq <= $2 ORDER BY seq",
            &[&case, &upto],
        )?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }
}

impl Storage for PostgresStorage {
    fn document_case(&self, doc: &DocId) -> Result<Option<CaseId>, StorageError> {
        let case = self.write(|log| log.doc_case(&doc.key()))?;
        Ok(case.and_then(|case| case.parse().ok()))
    }

    fn may_read_case(&self, user: &UserId, case: CaseId) -> Result<bool, StorageError> {
        self.write(|log| log.may_read(user.as_str(), &case.to_string()))
    }

    fn team_roster(&self, team: &str) -> Result<BTreeMap<UserId, TeamRole>, StorageError> {
        self.write(|log| log.team_roster(team))
    }

    fn team_cases(&self, team: &str) -> Result<Option<Vec<CaseId>>, StorageError> {
        self.write(|log| {
            if !log.team_exists(team)? {
                return Ok(None);
            }
            Ok(Some(
                log.team_cases(team)?
                    .iter()
                    .filter_map(|case| case.parse().ok())
                    .collect(),
            ))
        })
    }

    fn role_on_case(&self, user: &UserId, case: CaseId) -> Result<Option<TeamRole>, StorageError> {
        self.write(|log| log.role_of(user.as_str(), &case.to_string()))
    }

    fn case_log(&self, case: CaseId) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        self.write(|log| log::case_log(log, &case.to_string()))
    }

    fn create_user(&self, user: &UserId, password_hash: &str) -> Result<(), StorageError> {
        let result = self.conn()?.execute(
            "INSERT INTO users (user_id, password_hash, created_at) VALUES ($1, $2, $3)",
            &[&user.as_str(), &password_hash, &now()],
        );
        match result {
            Ok(_) => Ok(()),
            Err(error) if is(&error, &SqlState::UNIQUE_VIOLATION) => {
                Err(StorageError::Exists(format!("user {user}")))
            }
            Err(error) => Err(db(error)),
        }
    }

    fn set_password(&self, user: &UserId, password_hash: &str) -> Result<(), StorageError> {
        let updated = self
            .conn()?
            .execute(
                "UPDATE users SET password_hash = $2, failed_sign_ins = 0 WHERE user_id = $1",
                &[&user.as_str(), &password_hash],
            )
            .map_err(db)?;
        if updated == 0 {
            return Err(StorageError::NotFound(format!("user {user}")));
        }
        Ok(())
    }

    fn credentials(&self, user: &UserId) -> Result<Option<Credentials>, StorageError> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT password_hash, failed_sign_ins FROM users WHERE user_id = $1",
                &[&user.as_str()],
            )
            .map_err(db)?;
        Ok(row.map(|row| Credentials {
            password_hash: row.get(0),
            failed_sign_ins: u32::try_from(row.get::<_, i32>(1)).unwrap_or(0),
        }))
    }

    fn sign_in_failed(&self, user: &UserId) -> Result<u32, StorageError> {
        let row = self
            .conn()?
            .query_opt(
                "UPDATE users SET failed_sign_ins = failed_sign_ins + 1 WHERE user_id = $1
                 RETURNING failed_sign_ins",
                &[&user.as_str()],
            )
            .map_err(db)?;
        Ok(row.map_or(0, |row| u32::try_from(row.get::<_, i32>(0)).unwrap_or(0)))
    }

    fn sign_in_succeeded(&self, user: &UserId) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "UPDATE users SET failed_sign_ins = 0 WHERE user_id = $1 AND failed_sign_ins > 0",
                &[&user.as_str()],
            )
            .map_err(db)?;
        Ok(())
    }

    fn list_users(&self) -> Result<Vec<UserSummary>, StorageError> {
        let rows = self
            .conn()?
            .query(
                "SELECT u.user_id,
                        coalesce((SELECT string_agg(team, ',' ORDER BY team) FROM team_members m
                                  WHERE m.user_id = u.user_id), ''),
                        (SELECT count(*) FROM devices d
                         WHERE d.user_id = u.user_id AND d.revoked_at IS NULL)
                 FROM users u ORDER BY u.user_id",
                &[],
            )
            .map_err(db)?;
        rows.into_iter()
            .map(|row| {
                let teams: String = row.get(1);
                Ok(UserSummary {
                    user: parse_user(row.get::<_, &str>(0))?,
                    teams: teams
                        .split(',')
                        .filter(|team| !team.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    active_devices: u32::try_from(row.get::<_, i64>(2)).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    fn create_device(
        &self,
        user: &UserId,
        name: &str,
        token_hash: &[u8],
    ) -> Result<String, StorageError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.conn()?
            .execute(
                "INSERT INTO devices (device_id, user_id, name, token_hash, created_at, last_used_at)
                 VALUES ($1, $2, $3, $4, $5, $5)",
                &[&id, &user.as_str(), &name, &token_hash, &now()],
            )
            .map_err(db)?;
        Ok(id)
    }

    fn device_by_token(&self, token_hash: &[u8]) -> Result<Option<Device>, StorageError> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT device_id, user_id, revoked_at, last_used_at FROM devices
                 WHERE token_hash = $1",
                &[&token_hash],
            )
            .map_err(db)?;
        row.map(|row| {
            Ok(Device {
                id: row.get(0),
                user: parse_user(row.get::<_, &str>(1))?,
                revoked: row.get::<_, Option<String>>(2).is_some(),
                last_used: row.get::<_, Option<&str>>(3).and_then(parse_db_time),
                address: None,
            })
        })
        .transpose()
    }

    fn device_used(&self, device: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "UPDATE devices SET last_used_at = $2 WHERE device_id = $1",
                &[&device, &now()],
            )
            .map_err(db)?;
        Ok(())
    }

    fn list_devices(&self, user: Option<&UserId>) -> Result<Vec<DeviceSummary>, StorageError> {
        let rows = self
            .conn()?
            .query(
                "SELECT device_id, user_id, name, created_at, revoked_at, last_used_at FROM devices
                 WHERE $1::TEXT IS NULL OR user_id = $1 ORDER BY created_at, device_id",
                &[&user.map(UserId::as_str)],
            )
            .map_err(db)?;
        rows.into_iter()
            .map(|row| {
                Ok(DeviceSummary {
                    id: row.get(0),
                    user: parse_user(row.get::<_, &str>(1))?,
                    name: row.get(2),
                    signed_in_at: row.get(3),
                    revoked_at: row.get(4),
                    last_used_at: row.get(5),
                })
            })
            .collect()
    }

    fn revoke_device(&self, device: &str) -> Result<(), StorageError> {
        let updated = self
            .conn()?
            .execute(
                "UPDATE devices SET revoked_at = coalesce(revoked_at, $2) WHERE device_id = $1",
                &[&device, &now()],
            )
            .map_err(db)?;
        if updated == 0 {
            return Err(StorageError::NotFound(format!("device {device}")));
        }
        Ok(())
    }

    fn create_team(&self, team: &str) -> Result<(), StorageError> {
        match self
            .conn()?
            .execute("INSERT INTO teams (team) VALUES ($1)", &[&team])
        {
            Ok(_) => Ok(()),
            Err(error) if is(&error, &SqlState::UNIQUE_VIOLATION) => {
                Err(StorageError::Exists(format!("team {team}")))
            }
            Err(error) => Err(db(error)),
        }
    }

    fn add_member(&self, team: &str, user: &UserId, role: TeamRole) -> Result<(), StorageError> {
        self.write(|log| {
            let inserted = log.tx.execute(
                "INSERT INTO team_members (team, user_id, role) VALUES ($1, $2, $3)
                 ON CONFLICT (team, user_id) DO UPDATE SET role = excluded.role",
                &[&team, &user.as_str(), &role.as_str()],
            );
            if let Err(error) = inserted {
                return Err(if is(&error, &SqlState::FOREIGN_KEY_VIOLATION) {
                    StorageError::NotFound(format!("team {team} or user {user}"))
                } else {
                    db(error)
                });
            }
            log::recompute_access(log, user.as_str())?;
            log::write_team_rosters(log, team)
        })
    }

    fn remove_member(&self, team: &str, user: &UserId) -> Result<(), StorageError> {
        self.write(|log| {
            let removed = log
                .tx
                .execute(
                    "DELETE FROM team_members WHERE team = $1 AND user_id = $2",
                    &[&team, &user.as_str()],
                )
                .map_err(db)?;
            if removed == 0 {
                return Err(StorageError::NotFound(format!("{user} on team {team}")));
            }
            log::recompute_access(log, user.as_str())?;
            log::write_team_rosters(log, team)
        })
    }

    fn assign_case(&self, case: CaseId, team: &str) -> Result<(), StorageError> {
        let case = case.to_string();
        self.write(|log| {
            let known = log
                .tx
                .query_opt("SELECT 1 FROM teams WHERE team = $1", &[&team])
                .map_err(db)?;
            if known.is_none() {
                return Err(StorageError::NotFound(format!("team {team}")));
            }
            let previous: Option<String> = log
                .tx
                .query_opt("SELECT team FROM cases WHERE case_id = $1", &[&case])
                .map_err(db)?
                .map(|row| row.get(0));
            log.tx
                .execute(
                    "INSERT INTO cases (case_id, team) VALUES ($1, $2)
                     ON CONFLICT (case_id) DO UPDATE SET team = excluded.team",
                    &[&case, &team],
                )
                .map_err(db)?;
            log::recompute_team(log, team)?;
            if let Some(previous) = previous {
                log::recompute_team(log, &previous)?;
            }
            log::write_case_roster(log, &case)
        })
    }

    fn push(&self, device: &Device, pushes: &[Push]) -> Result<Vec<Ack>, StorageError> {
        let pushed = self.write(|log| {
            let epoch = log.epoch()?;
            let pushed = log::push(
                log,
                &self.documents,
                epoch,
                device,
                pushes,
                &self.push_limits,
                None,
            )?;
            match pushed.refused.first() {
                // All or nothing: the transaction is dropped, uncommitted.
                Some(refusal) => Err(StorageError::Refused(refusal.clone())),
                None => Ok(pushed),
            }
        })?;
        self.documents.keep(pushed.checked);
        Ok(pushed.acks)
    }

    fn sync(
        &self,
        device: &Device,
        pushes: Vec<Push>,
        from: LogPosition,
        deadline: Instant,
    ) -> Result<SyncResponse, StorageError> {
        // The pushes commit in a group, under the log's lock; then the page is read from
        // one snapshot, with the audit entries, beside other syncs' pages.
        let pushes = Arc::new(pushes);
        let pushed = if pushes.is_empty() {
            None
        } else {
            let queued = QueuedPush {
                device: device.clone(),
                pushes: Arc::clone(&pushes),
                from,
                deadline,
            };
            self.queued
                .run(&self.writer, queued, |_, group| self.commit_group(group))
                .ok_or_else(|| StorageError::Database("a sync was dropped from its group".into()))
                .flatten()
                .map(Some)?
        };
        let mut conn = self.conn()?;
        let PgConnection { client, statements } = &mut *conn;
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .start()
            .map_err(db)?;
        let mut log = PgLog {
            tx: &mut tx,
            statements,
        };
        if pushes.is_empty() {
            // With pushes, their group checked it.
            log::check_epoch(&mut log, from)?;
        }
        let mut response = log::pull(&mut log, device, from)?;
        if let Some(pushed) = pushed {
            response.acks = pushed.acks;
            response.refused = pushed.refused;
        }
        log::record_sync(&mut log, device, &pushes, &response)?;
        tx.commit().map_err(db)?;
        Ok(response)
    }

    fn compact(&self, min_rows: usize) -> Result<usize, StorageError> {
        let due: Vec<String> = self
            .conn()?
            .query(
                "SELECT doc_key FROM changes GROUP BY doc_key HAVING count(*) >= $1",
                &[&(min_rows as i64)],
            )
            .map_err(db)?
            .iter()
            .map(|row| row.get(0))
            .collect();
        for doc_key in &due {
            self.write(|log| {
                let rows = log
                    .tx
                    .query(
                        "SELECT seq, case_id, bytes FROM changes WHERE doc_key = $1
                         ORDER BY seq FOR UPDATE",
                        &[doc_key],
                    )
                    .map_err(db)?;
                let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
                    return Ok(());
                };
                // The snapshot is filed under the case the document's first row fixed.
                let (last_seq, case_id): (i64, String) = (last.get(0), first.get(1));
                let parts: Vec<Vec<u8>> = rows.iter().map(|row| row.get(2)).collect();
                let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
                let snapshot = match doorstep_shared::document::Document::load(&[], &parts) {
                    Ok(mut document) => document.save(),
                    Err(error) => {
                        // Left as it is, for someone to look at; the others are compacted.
                        tracing::warn!(doc = %doc_key, %error, "compaction skipped a document that does not load");
                        return Ok(());
                    }
                };
                log.tx
                    .execute(
                        "DELETE FROM changes WHERE doc_key = $1 AND seq <= $2",
                        &[doc_key, &last_seq],
                    )
                    .map_err(db)?;
                log.tx
                    .execute(
                        "INSERT INTO changes (seq, case_id, doc_key, device_id, bytes)
                         VALUES ($1, $2, $3, '', $4)",
                        &[&last_seq, &case_id, doc_key, &snapshot],
                    )
                    .map_err(db)?;
                Ok(())
            })?;
        }
        Ok(due.len())
    }

    fn epoch(&self) -> Result<u64, StorageError> {
        self.write(|log| log.epoch())
    }

    fn mark_restored(&self) -> Result<u64, StorageError> {
        let epoch = new_epoch()?;
        self.conn()?
            .execute(
                "UPDATE log_clock SET epoch = $1",
                &[&i64::try_from(epoch).unwrap_or(1)],
            )
            .map_err(db)?;
        Ok(epoch)
    }

    fn blob_named_for(
        &self,
        hash: &BlobHash,
        user: &UserId,
    ) -> Result<Option<String>, StorageError> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT r.media_type FROM blob_refs r JOIN access a ON a.case_id = r.case_id
                 WHERE r.hash = $1 AND a.user_id = $2 LIMIT 1",
                &[&hash.to_string(), &user.as_str()],
            )
            .map_err(db)?;
        Ok(row.map(|row| row.get(0)))
    }

    fn blob_info(&self, hash: &BlobHash) -> Result<Option<BlobInfo>, StorageError> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT size, media_type, received, erased_at, erased_by, erased_reason
                 FROM blobs WHERE hash = $1",
                &[&hash.to_string()],
            )
            .map_err(db)?;
        Ok(row.map(|row| {
            let erased_at: Option<String> = row.get(3);
            BlobInfo {
                size: row.get::<_, i64>(0) as u64,
                media_type: row.get(1),
                received: row.get::<_, i64>(2) as u64,
                erased: erased_at.map(|at| Erasure {
                    at: parse_db_time(&at).unwrap_or_default(),
                    by: row.get::<_, Option<String>>(4).unwrap_or_default(),
                    reason: row.get::<_, Option<String>>(5).unwrap_or_default(),
                }),
            }
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
        let key = hash.to_string();
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(db)?;
        tx.execute(
            "INSERT INTO blobs (hash, size, media_type, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (hash) DO NOTHING",
            &[&key, &(size as i64), &media_type, &db_time(Utc::now())],
        )
        .map_err(db)?;
        // The row's lock holds two devices sending the same blob to one piece at a time.
        let row = tx
            .query_one(
                "SELECT size, received, erased_at IS NOT NULL FROM blobs WHERE hash = $1 FOR UPDATE",
                &[&key],
            )
            .map_err(db)?;
        let (held_size, received, erased): (i64, i64, bool) = (row.get(0), row.get(1), row.get(2));
        let received = received as u64;
        if erased {
            return Ok(BlobAppend::Erased);
        }
        if held_size as u64 != size {
            return Ok(BlobAppend::WrongSize);
        }
        if received == size {
            return Ok(BlobAppend::Whole);
        }
        if offset != received {
            return Ok(BlobAppend::WrongOffset(received));
        }
        if offset + bytes.len() as u64 > size {
            return Ok(BlobAppend::WrongSize);
        }
        tx.execute(
            "INSERT INTO blob_chunks (hash, \"offset\", bytes) VALUES ($1, $2, $3)",
            &[&key, &(offset as i64), &bytes],
        )
        .map_err(db)?;
        let received = offset + bytes.len() as u64;
        tx.execute(
            "UPDATE blobs SET received = $2 WHERE hash = $1",
            &[&key, &(received as i64)],
        )
        .map_err(db)?;
        if received < size {
            tx.commit().map_err(db)?;
            return Ok(BlobAppend::Stored(received));
        }
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        for row in tx
            .query(
                "SELECT bytes FROM blob_chunks WHERE hash = $1 ORDER BY \"offset\"",
                &[&key],
            )
            .map_err(db)?
        {
            sha2::Digest::update(&mut hasher, row.get::<_, &[u8]>(0));
        }
        let digest: [u8; 32] = sha2::Digest::finalize(hasher).into();
        if digest != *hash.as_bytes() {
            tx.execute("DELETE FROM blobs WHERE hash = $1", &[&key])
                .map_err(db)?;
            tx.commit().map_err(db)?;
            return Ok(BlobAppend::Mismatch);
        }
        tx.commit().map_err(db)?;
        Ok(BlobAppend::Whole)
    }

    fn blob_read(
        &self,
        hash: &BlobHash,
        offset: u64,
        length: u64,
    ) -> Result<Vec<u8>, StorageError> {
        let end = offset.saturating_add(length);
        let rows = self
            .conn()?
            .query(
                "SELECT \"offset\", bytes FROM blob_chunks WHERE hash = $1
                 AND \"offset\" < $3 AND \"offset\" + length(bytes) > $2 ORDER BY \"offset\"",
                &[
                    &hash.to_string(),
                    &(offset as i64),
                    &(i64::try_from(end).unwrap_or(i64::MAX)),
                ],
            )
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let start = row.get::<_, i64>(0) as u64;
            let bytes: &[u8] = row.get(1);
            let stop = start + bytes.len() as u64;
            let from = offset.saturating_sub(start) as usize;
            let to = (end.min(stop) - start) as usize;
            out.extend_from_slice(&bytes[from..to]);
        }
        Ok(out)
    }

    fn erase_blob(&self, hash: &BlobHash, erasure: &Erasure) -> Result<usize, StorageError> {
        let key = hash.to_string();
        self.write(|log| {
            let written = log::write_erasure(log, hash, erasure)?;
            log.tx
                .execute(
                    "INSERT INTO blobs (hash, size, media_type, created_at) VALUES ($1, 0, '', $2)
                     ON CONFLICT (hash) DO NOTHING",
                    &[&key, &db_time(Utc::now())],
                )
                .map_err(db)?;
            log.tx
                .execute(
                    "UPDATE blobs SET erased_at = $2, erased_by = $3, erased_reason = $4,
                         received = 0 WHERE hash = $1",
                    &[&key, &db_time(erasure.at), &erasure.by, &erasure.reason],
                )
                .map_err(db)?;
            log.tx
                .execute("DELETE FROM blob_chunks WHERE hash = $1", &[&key])
                .map_err(db)?;
            Ok(written)
        })
    }

    fn collect_blobs(
        &self,
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Result<usize, StorageError> {
        self.write(|log| {
            log.tx
                .execute(
                    "UPDATE blobs SET unreferenced_since = $1 WHERE unreferenced_since IS NULL
                     AND erased_at IS NULL AND hash NOT IN (SELECT hash FROM blob_refs)",
                    &[&db_time(now)],
                )
                .map_err(db)?;
            log.tx
                .execute(
                    "UPDATE blobs SET unreferenced_since = NULL WHERE unreferenced_since IS NOT NULL
                     AND hash IN (SELECT hash FROM blob_refs)",
                    &[],
                )
                .map_err(db)?;
            let deleted = log
                .tx
                .execute(
                    "DELETE FROM blobs WHERE erased_at IS NULL AND unreferenced_since IS NOT NULL
                     AND unreferenced_since < $1",
                    &[&db_time(now - grace)],
                )
                .map_err(db)?;
            Ok(deleted as usize)
        })
    }

    fn backup(&self, _to: &Path) -> Result<(), StorageError> {
        Err(StorageError::Unsupported(
            "back up PostgreSQL with pg_dump (and restore with pg_restore, then `admin mark-restored`)",
        ))
    }

    fn audit(&self, entry: AuditEntry) -> Result<(), StorageError> {
        self.write(|log| log.audit(&entry))
    }

    fn audit_entries(
        &self,
        before: Option<DateTime<Utc>>,
    ) -> Result<Vec<(String, AuditEntry)>, StorageError> {
        let before = before.map(db_time);
        let rows = self
            .conn()?
            .query(
                "SELECT at, user_id, device_id, case_id, action, detail, address FROM audit
                 WHERE $1::TEXT IS NULL OR at < $1 ORDER BY id",
                &[&before],
            )
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|row| {
                let user: Option<String> = row.get(1);
                let case: Option<String> = row.get(3);
                (
                    row.get(0),
                    AuditEntry {
                        user: user.and_then(|user| user.parse().ok()),
                        device: row.get(2),
                        case: case.and_then(|case| case.parse().ok()),
                        action: row.get(4),
                        detail: row.get(5),
                        address: row.get(6),
                    },
                )
            })
            .collect())
    }

    fn prune_audit(&self, before: DateTime<Utc>) -> Result<usize, StorageError> {
        let deleted = self
            .conn()?
            .execute("DELETE FROM audit WHERE at < $1", &[&db_time(before)])
            .map_err(db)?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `run` with a way to open storage on a fresh database of the test PostgreSQL
    /// server, dropped afterwards; skips it if there is no test server. `scripts/test`
    /// starts one and sets `DOORSTEP_TEST_POSTGRES_URL`.
    fn with_fresh_database(run: impl FnOnce(&dyn Fn() -> PostgresStorage)) {
        let Ok(url) = std::env::var("DOORSTEP_TEST_POSTGRES_URL") else {
            eprintln!("skipped: DOORSTEP_TEST_POSTGRES_URL is not set (scripts/test sets it)");
            return;
        };
        let name = format!("doorstep_story_{}", uuid::Uuid::new_v4().simple());
        let mut admin =
            postgres::Client::connect(&url, postgres::NoTls).expect("connecting to PostgreSQL");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let mut config: postgres::Config = url.parse().unwrap();
        config.dbname(&name);
        run(&|| {
            let connector = DatabaseUrl::parse("postgres://localhost/x?sslmode=disable")
                .unwrap()
                .connector()
                .unwrap();
            let manager = Manager(PostgresConnectionManager::new(config.clone(), connector));
            let pool = Pool::builder().max_size(4).build(manager).unwrap();
            let storage = PostgresStorage::with_pool(pool);
            storage.migrate().unwrap();
            storage
        });
        admin
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .unwrap();
    }

    /// Runs the backend story against a real PostgreSQL server, in a fresh database.
    #[test]
    fn the_story_holds_on_postgres() {
        with_fresh_database(|open| {
            let storage = open();
            storage.migrate().unwrap();
            super::super::story::story(&storage);
        });
    }

    #[test]
    fn the_blob_story_holds_on_postgres() {
        with_fresh_database(|open| {
            let storage = open();
            storage.migrate().unwrap();
            super::super::story::blob_story(&storage);
        });
    }

    #[test]
    fn two_server_processes_share_one_database() {
        with_fresh_database(|open| {
            super::super::story::two_servers(&open(), &open());
        });
    }
}
