//! The sync protocol's messages and their encoding.
//!
//! One round trip: the device posts a [`SyncRequest`] with its cursor and the changes the
//! server has not acknowledged; the server answers with a [`SyncResponse`] holding its
//! acknowledgements, a page of the changes after the cursor for the cases the device may
//! read, the new cursor, and the cases the device must purge.
//!
//! Bodies are binary: a version byte, then the message in postcard's compact encoding.
//! Automerge changes travel as they are, with no base64 in between. Errors are JSON, like
//! every other answer of the server.

use automerge::ChangeHash;
use serde::{Deserialize, Serialize};

use crate::ids::{CaseId, DocId};

/// The media type of sync request and response bodies.
pub const CONTENT_TYPE: &str = "application/vnd.doorstep.sync";

/// The first byte of every body: the protocol version it is written in. Version 2 answers
/// each refused document on its own ([`Refusal`]) instead of refusing the whole request.
pub const VERSION: u8 = 2;

/// Where a device is in the server's change log. The server writes it and reads it back;
/// the device only stores it and sends it. Empty on a device that never synced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor(#[serde(with = "serde_bytes")] pub Vec<u8>);

/// A document's heads, as raw change hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heads(pub Vec<[u8; 32]>);

impl Heads {
    /// Heads from Automerge's change hashes.
    pub fn from_hashes(hashes: &[ChangeHash]) -> Heads {
        Heads(hashes.iter().map(|hash| hash.0).collect())
    }

    /// Automerge's change hashes.
    pub fn to_hashes(&self) -> Vec<ChangeHash> {
        self.0.iter().map(|bytes| ChangeHash(*bytes)).collect()
    }
}

/// Changes to one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocChanges {
    /// The document.
    pub doc: DocId,
    /// The case it belongs to (the case itself for a case's document).
    pub case_id: CaseId,
    /// Concatenated Automerge changes, as `save_after` writes them.
    #[serde(with = "serde_bytes")]
    pub changes: Vec<u8>,
}

/// Changes a device pushes, with the heads it had when it read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    /// The document's changes.
    pub changes: DocChanges,
    /// The heads the changes lead to: what the server acknowledges.
    pub heads: Heads,
}

/// What a device sends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// The cursor the server gave last time.
    pub cursor: Cursor,
    /// Changes the server has not acknowledged.
    pub pushes: Vec<Push>,
}

/// The server has every change up to `heads` of `doc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The document.
    pub doc: DocId,
    /// The acknowledged heads.
    pub heads: Heads,
}

/// What the server answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// One acknowledgement per pushed document, all durable on the server.
    pub acks: Vec<Ack>,
    /// Changes after the cursor, per document, in the order the server stored them.
    pub pulls: Vec<DocChanges>,
    /// The cursor to send next time, once `pulls` is applied.
    pub cursor: Cursor,
    /// Whether more changes wait after this page: sync again at once.
    pub more: bool,
    /// Cases the device may no longer read: delete them.
    pub purge: Vec<CaseId>,
    /// The pushes the server refused, each on its own: nothing of them was stored, and
    /// every other push was.
    pub refused: Vec<Refusal>,
}

/// A document whose push the server refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The document.
    pub doc: DocId,
    /// A stable code, as the README's error table lists them (`record_signed`, ...).
    pub code: String,
    /// What was wrong, for people. It names the document, never its content.
    pub message: String,
    /// Everything the server holds of the document, when the device may read it (empty
    /// otherwise): the device sets its copy back to this, keeping its refused words aside.
    #[serde(with = "serde_bytes")]
    pub server_copy: Vec<u8>,
}

/// What a device sends to `/v1/sign-in`, as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignIn {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// What the device calls itself ("Amara's phone").
    #[serde(default)]
    pub device_name: String,
}

/// What a successful sign-in answers, as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedIn {
    /// The device token: send as `Authorization: Bearer <token>`.
    pub token: String,
    /// The device's id, for revoking it.
    pub device_id: String,
}

/// The JSON body of every error answer: `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error's stable code and its explanation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable code, such as `device_revoked` or `invalid_changes`.
    pub code: String,
    /// What was wrong, for people.
    pub message: String,
}

/// The code of the error that tells a device it was revoked and must wipe its data.
pub const DEVICE_REVOKED: &str = "device_revoked";

/// The code of the error that tells a device its token went unused for too long: the worker
/// signs in again, and nothing on the device is lost.
pub const TOKEN_EXPIRED: &str = "token_expired";

/// The code of the error that tells a device the server was restored from a backup since its
/// last sync: it must forget the server's acknowledgements and cursor, and send everything.
pub const SERVER_RESTORED: &str = "server_restored";

/// Where the server's copy of a blob stands: the answer to `GET /v1/blobs/{hash}/status` and
/// to each `PUT /v1/blobs/{hash}?offset=..&size=..` that sends a piece of it. An upload
/// resumes from `received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobProgress {
    /// The blob's length.
    pub size: u64,
    /// The bytes the server holds.
    pub received: u64,
    /// Whether it holds them all, checked against the hash.
    pub whole: bool,
}

/// The code of the error that says no document of the device's cases names the blob (or
/// there is no such blob): the device sends the document first, or may not have it.
pub const BLOB_NOT_FOUND: &str = "blob_not_found";

/// The code of the error that says the blob is named but its bytes have not reached the
/// server yet: the device that attached it has not uploaded it.
pub const BLOB_NOT_UPLOADED: &str = "blob_not_uploaded";

/// The code of the error that says the blob was erased by an administrator.
pub const BLOB_ERASED: &str = "blob_erased";

/// The code of the error that says a piece does not start where the server's copy ends: the
/// device asks for the status and resumes from there.
pub const WRONG_OFFSET: &str = "wrong_offset";

/// The code of the error that says the bytes sent do not have the hash they were sent as:
/// the server kept none of them.
pub const HASH_MISMATCH: &str = "hash_mismatch";

/// The code of the error that says there is no record of that id among the device's cases:
/// the same whether the server holds none, or one the user may not read.
pub const RECORD_NOT_FOUND: &str = "record_not_found";

/// The code of the error that says there is no case of that id among the user's cases.
pub const CASE_NOT_FOUND: &str = "case_not_found";

/// The media type of a record's PDF.
pub const PDF_MEDIA_TYPE: &str = "application/pdf";

/// The media type of a case's archive.
pub const ARCHIVE_MEDIA_TYPE: &str = "application/zip";

/// A device of a supervisor's team, as the server last saw it (`GET /v1/team/devices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamDevice {
    /// Whose it is.
    pub user: crate::UserId,
    /// The name it signed in with ("Amara's phone").
    pub name: String,
    /// When it last synced, to the hour; `None` if never since it signed in.
    pub last_synced: Option<chrono::DateTime<chrono::Utc>>,
}

/// The devices of the members of the teams a user supervises: none for anyone else.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamDevices {
    /// Every device signed in and not revoked, by user.
    pub devices: Vec<TeamDevice>,
}

/// What a supervisor asks of a case's subject-access archive (`POST
/// /v1/cases/{id}/archive`, JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveRequest {
    /// Third parties' names to replace by "[redacted]" in every file.
    #[serde(default)]
    pub redact: Vec<String>,
}

/// A body that is not a message of this protocol.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The body is empty.
    #[error("empty body")]
    Empty,
    /// The body is written in a version this build does not speak.
    #[error("protocol version {0} is not supported (this side speaks {VERSION})")]
    Version(u8),
    /// The body does not decode.
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// Encodes a message as a body.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let body = vec![VERSION];
    postcard::to_extend(message, body).expect("encoding into a vector cannot fail")
}

/// Decodes a body. Trailing bytes are an error: a body is one message, whole.
pub fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ProtocolError> {
    let (&version, rest) = body.split_first().ok_or(ProtocolError::Empty)?;
    if version != VERSION {
        return Err(ProtocolError::Version(version));
    }
    let (message, trailing) = postcard::take_from_bytes(rest)
        .map_err(|error| ProtocolError::Malformed(error.to_string()))?;
    if !trailing.is_empty() {
        return Err(ProtocolError::Malformed(format!(
            "{} bytes after the message",
            trailing.len()
        )));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RecordId;

    fn request() -> SyncRequest {
        let case_id = CaseId::random();
        SyncRequest {
            cursor: Cursor(vec![1, 2, 3]),
            pushes: vec![Push {
                changes: DocChanges {
                    doc: DocId::Record(RecordId::random()),
                    case_id,
                    changes: vec![0x85, 0x6f, 0x4a, 0x83, 9, 9],
                },
                heads: Heads(vec![[7; 32]]),
            }],
        }
    }

    #[test]
    fn messages_round_trip() {
        let request = request();
        assert_eq!(decode::<SyncRequest>(&encode(&request)).unwrap(), request);
        let response = SyncResponse {
            more: true,
            purge: vec![CaseId::random()],
            ..SyncResponse::default()
        };
        assert_eq!(
            decode::<SyncResponse>(&encode(&response)).unwrap(),
            response
        );
    }

    #[test]
    fn an_empty_sync_is_a_handful_of_bytes() {
        let body = encode(&SyncRequest {
            cursor: Cursor(vec![0; 12]),
            pushes: Vec::new(),
        });
        assert!(body.len() < 20, "{} bytes", body.len());
    }

    #[test]
    fn bad_bodies_are_clear_errors() {
        assert!(matches!(
            decode::<SyncRequest>(&[]),
            Err(ProtocolError::Empty)
        ));
        assert!(matches!(
            decode::<SyncRequest>(&[9, 0, 0]),
            Err(ProtocolError::Version(9))
        ));
        let mut body = encode(&request());
        body.truncate(body.len() - 3);
        assert!(matches!(
            decode::<SyncRequest>(&body),
            Err(ProtocolError::Malformed(_))
        ));
        let mut body = encode(&request());
        body.push(0);
        assert!(matches!(
            decode::<SyncRequest>(&body),
            Err(ProtocolError::Malformed(_))
        ));
    }
}
