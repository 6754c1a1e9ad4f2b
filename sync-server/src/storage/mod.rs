//! The server's storage, behind one trait with one implementation per backend.
//!
//! Methods are blocking; the HTTP layer calls them on tokio's blocking pool. Each method that
//! changes something does it in one transaction.

pub mod blobs;
pub mod documents;
pub mod group;
pub mod log;
pub mod postgres;
pub mod postgres_tls;
pub mod sqlite;
#[cfg(test)]
mod story;

use doorstep_shared::sync::protocol::{Ack, Push, Refusal, SyncResponse};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};
use doorstep_shared::sync::server::LogPosition;
use doorstep_shared::{CaseId, DocId, UserId};

/// A signed-in device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The device's id.
    pub id: String,
    /// Whose it is.
    pub user: UserId,
    /// Whether it has been revoked.
    pub revoked: bool,
    /// When it last synced (or signed in), to the hour: a token idle for too long stops
    /// working.
    pub last_used: Option<DateTime<Utc>>,
    /// Where the request it is making came from, for the audit log (none outside a request).
    pub address: Option<String>,
}

/// What sign-in checks a password against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The Argon2id hash (a PHC string).
    pub password_hash: String,
    /// Failed sign-ins since the last success or password reset.
    pub failed_sign_ins: u32,
}

/// A user as `admin user list` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// The user.
    pub user: UserId,
    /// Their teams.
    pub teams: Vec<String>,
    /// How many devices they have signed in on and not been revoked.
    pub active_devices: u32,
}

/// A device as `admin device list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSummary {
    /// The device's id, for `admin device revoke`.
    pub id: String,
    /// Whose it is.
    pub user: UserId,
    /// What the device called itself at sign-in ("Chrome (web)", "android app").
    pub name: String,
    /// When it signed in (RFC 3339, UTC).
    pub signed_in_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
    /// When it last synced or signed in, to the hour.
    pub last_used_at: Option<String>,
}

/// A team member's role.
pub use doorstep_shared::model::TeamRole;

pub use blobs::{BlobAppend, BlobInfo};
use doorstep_shared::attachments::{BlobHash, Erasure};

/// What storage can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A document's push was refused where every push must be taken or none; nothing of the
    /// request was stored.
    #[error("{}", .0.message)]
    Refused(Refusal),
    /// No such user, team, case or device.
    #[error("{0} not found")]
    NotFound(String),
    /// It exists already.
    #[error("{0} exists already")]
    Exists(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(String),
    /// The device's cursor is from before the server was restored from a backup: it must
    /// send everything again.
    #[error("the cursor is from before the server was restored")]
    ServerRestored,
    /// The request ran past its deadline: its work was stopped and nothing of it stored.
    #[error("the request ran past its deadline")]
    TimedOut,
    /// This backend does not do that; the message says what to use instead.
    #[error("{0}")]
    Unsupported(&'static str),
}

/// One entry of the audit log. Never note text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Who.
    pub user: Option<UserId>,
    /// From which device.
    pub device: Option<String>,
    /// Which case, if one.
    pub case: Option<CaseId>,
    /// What: `sign_in`, `sign_in_refused`, `sync`, `push`, `refused`...
    pub action: String,
    /// A short, content-free detail (counts, an error code).
    pub detail: String,
    /// The client's address, where a request made the entry (as trusted proxies report it).
    pub address: Option<String>,
}

/// A new epoch: random, non-zero, and within what both databases store as a signed 64-bit
/// integer.
fn new_epoch() -> Result<u64, StorageError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|error| StorageError::Database(error.to_string()))?;
    Ok((u64::from_le_bytes(bytes) >> 1).max(1))
}

/// A time as both databases keep it: RFC 3339 in UTC to the millisecond, as text that sorts
/// as the times do.
fn db_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A time read back from the database, where only [`db_time`]'s are written.
fn parse_db_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// A user id read back from the database, where only valid ones are written.
fn parse_user(text: &str) -> Result<UserId, StorageError> {
    text.parse()
        .map_err(|_| StorageError::Database(format!("bad user id {text:?}")))
}

/// A team role read back from the database, where only valid ones are written.
fn parse_role(text: &str) -> Result<TeamRole, StorageError> {
    text.parse()
        .map_err(|_| StorageError::Database(format!("bad team role {text:?}")))
}

/// The server's storage.
pub trait Storage: Send + Sync + 'static {
    /// The case a document is filed under, if the server holds the document.
    fn document_case(&self, doc: &DocId) -> Result<Option<CaseId>, StorageError>;
    /// Whether `user` may read `case` now: a member of the team that holds it.
    fn may_read_case(&self, user: &UserId, case: CaseId) -> Result<bool, StorageError>;
    /// A team's members and their roles.
    fn team_roster(&self, team: &str) -> Result<BTreeMap<UserId, TeamRole>, StorageError>;
    /// The cases a team holds, or `None` if there is no such team.
    fn team_cases(&self, team: &str) -> Result<Option<Vec<CaseId>>, StorageError>;
    /// The user's role on the team that holds `case`, if they are on it.
    fn role_on_case(&self, user: &UserId, case: CaseId) -> Result<Option<TeamRole>, StorageError>;
    /// A case's whole log, as (document key, bytes) rows in the order they were written.
    fn case_log(&self, case: CaseId) -> Result<Vec<(String, Vec<u8>)>, StorageError>;
    /// Creates a user with an Argon2id password hash.
    fn create_user(&self, user: &UserId, password_hash: &str) -> Result<(), StorageError>;
    /// Replaces a user's password hash, and unlocks the account.
    fn set_password(&self, user: &UserId, password_hash: &str) -> Result<(), StorageError>;
    /// A user's password hash and failed sign-ins, if the user exists.
    fn credentials(&self, user: &UserId) -> Result<Option<Credentials>, StorageError>;
    /// Counts a failed sign-in; returns the consecutive failures so far (0 for no such user).
    fn sign_in_failed(&self, user: &UserId) -> Result<u32, StorageError>;
    /// A sign-in succeeded: the count of failures starts again.
    fn sign_in_succeeded(&self, user: &UserId) -> Result<(), StorageError>;
    /// Every user, with teams and device counts.
    fn list_users(&self) -> Result<Vec<UserSummary>, StorageError>;
    /// Registers a device for a user under the hash of its token.
    fn create_device(
        &self,
        user: &UserId,
        name: &str,
        token_hash: &[u8],
    ) -> Result<String, StorageError>;
    /// The device a token hash belongs to.
    fn device_by_token(&self, token_hash: &[u8]) -> Result<Option<Device>, StorageError>;
    /// Notes that a device is in use now (see [`Device::last_used`]).
    fn device_used(&self, device: &str) -> Result<(), StorageError>;
    /// Every device signed in, or only `user`'s, oldest first.
    fn list_devices(&self, user: Option<&UserId>) -> Result<Vec<DeviceSummary>, StorageError>;
    /// Revokes a device: its token stops working and its next sync tells it to wipe.
    fn revoke_device(&self, device: &str) -> Result<(), StorageError>;
    /// Creates a team.
    fn create_team(&self, team: &str) -> Result<(), StorageError>;
    /// Adds a user to a team, or changes their role.
    fn add_member(&self, team: &str, user: &UserId, role: TeamRole) -> Result<(), StorageError>;
    /// Takes a user off a team: their devices purge the team's cases at the next sync.
    fn remove_member(&self, team: &str, user: &UserId) -> Result<(), StorageError>;
    /// Puts a case in a team's care (creating the case's entry if the server has none yet).
    fn assign_case(&self, case: CaseId, team: &str) -> Result<(), StorageError>;
    /// One sync ([`log::sync`]): each push stored or refused on its own, a page of the
    /// changes after `from`, and its audit entries, durable before it returns. Past
    /// `deadline` (when the request has been answered 408) it stops, with nothing stored.
    fn sync(
        &self,
        device: &Device,
        pushes: Vec<Push>,
        from: LogPosition,
        deadline: Instant,
    ) -> Result<SyncResponse, StorageError>;
    /// Stores a device's pushes, all or nothing, and returns the acknowledgements.
    fn push(&self, device: &Device, pushes: &[Push]) -> Result<Vec<Ack>, StorageError>;
    /// Folds the change log of every document with at least `min_rows` log rows into one
    /// snapshot row, in one transaction per document. Returns how many were folded.
    ///
    /// The snapshot takes the sequence number of the last row it replaces, so a device whose
    /// cursor is before it receives the snapshot (which holds everything it lacked) and a
    /// device past it receives nothing again.
    fn compact(&self, min_rows: usize) -> Result<usize, StorageError>;
    /// The server's epoch: which history of the server this is (see
    /// [`LogPosition::epoch`]).
    fn epoch(&self) -> Result<u64, StorageError>;
    /// Draws a new epoch, after the database was restored from a backup: devices whose
    /// cursors carry the old one send all they hold again.
    fn mark_restored(&self) -> Result<u64, StorageError>;
    /// Writes a consistent copy of the database to `to`, a new file.
    fn backup(&self, to: &Path) -> Result<(), StorageError>;
    /// Appends to the audit log.
    fn audit(&self, entry: AuditEntry) -> Result<(), StorageError>;
    /// The audit log's entries written before `before` (every one, if `None`), oldest first,
    /// each with its time (RFC 3339, UTC).
    fn audit_entries(
        &self,
        before: Option<DateTime<Utc>>,
    ) -> Result<Vec<(String, AuditEntry)>, StorageError>;
    /// The whole audit log, oldest first.
    fn audit_log(&self) -> Result<Vec<(String, AuditEntry)>, StorageError> {
        self.audit_entries(None)
    }
    /// Deletes the audit log's entries written before `before`; returns how many.
    fn prune_audit(&self, before: DateTime<Utc>) -> Result<usize, StorageError>;

    /// The media type a document of one of `user`'s cases gives the blob `hash`, if any does:
    /// only then may the user's devices send or fetch it.
    fn blob_named_for(
        &self,
        hash: &BlobHash,
        user: &UserId,
    ) -> Result<Option<String>, StorageError>;
    /// Where the server's copy of a blob stands, if an upload of it ever began.
    fn blob_info(&self, hash: &BlobHash) -> Result<Option<BlobInfo>, StorageError>;
    /// Stores `bytes` of a blob `size` bytes long, from `offset`, checking the whole against
    /// its hash once the last byte arrived.
    fn blob_append(
        &self,
        hash: &BlobHash,
        media_type: &str,
        size: u64,
        offset: u64,
        bytes: &[u8],
    ) -> Result<BlobAppend, StorageError>;
    /// Up to `length` bytes of a whole blob from `offset`.
    fn blob_read(&self, hash: &BlobHash, offset: u64, length: u64)
    -> Result<Vec<u8>, StorageError>;
    /// Erases a blob: its bytes are deleted, and every document naming it gains the
    /// tombstone, written as the server, which takes the bytes off devices at their next
    /// sync. Returns how many documents were written.
    fn erase_blob(&self, hash: &BlobHash, erasure: &Erasure) -> Result<usize, StorageError>;
    /// Deletes blobs no document has named since `grace` before `now` (and uploads left
    /// unfinished as long); returns how many.
    fn collect_blobs(
        &self,
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Result<usize, StorageError>;
}
