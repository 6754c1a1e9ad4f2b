//! Attachments: photos, scans and drawn signatures, kept beside the documents.
//!
//! Automerge keeps every byte ever written into a document, so a photo placed inside one
//! could never be erased. An attachment's bytes are therefore a *blob*, stored once under
//! the SHA-256 of its bytes ([`BlobHash`]), on the device in the encrypted store and on the
//! server beside its database; the case's or record's document holds only a reference
//! ([`Attachment`]). Erasing a blob deletes its bytes everywhere and leaves a tombstone
//! ([`Erasure`]) in the reference, which the record shows.

#[cfg(feature = "capture")]
pub mod capture;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::ids::{ItemId, UserId};
use crate::model::Consent;
#[cfg(test)]
use crate::model::ConsentScope;

/// The SHA-256 of a blob's bytes: its name on the device, on the server and in documents.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobHash([u8; 32]);

impl BlobHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> BlobHash {
        BlobHash(Sha256::digest(bytes).into())
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({self})")
    }
}

/// Text that is not a blob's hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a SHA-256 hash (64 lower-case hexadecimal digits)")]
pub struct BadBlobHash(String);

impl FromStr for BlobHash {
    type Err = BadBlobHash;

    fn from_str(text: &str) -> Result<BlobHash, BadBlobHash> {
        let lower =
            text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let mut bytes = [0u8; 32];
        if !lower || hex::decode_to_slice(text, &mut bytes).is_err() {
            return Err(BadBlobHash(text.chars().take(80).collect()));
        }
        Ok(BlobHash(bytes))
    }
}

impl Serialize for BlobHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BlobHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<BlobHash, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What an attachment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// A photo, downscaled and re-encoded on capture.
    Photo,
    /// A scan or a file: a PDF or an image, kept as it was.
    Document,
    /// A signature drawn with a finger: its picture, with its strokes beside it.
    Signature,
}

impl AttachmentKind {
    /// How the app names it ("photo not yet downloaded").
    pub fn noun(self) -> &'static str {
        match self {
            AttachmentKind::Photo => "photo",
            AttachmentKind::Document => "document",
            AttachmentKind::Signature => "signature",
        }
    }
}

/// The media types an attachment's blob may have. Anything else is refused on the device
/// and by the server: these are the ones every phone can show.
pub const MEDIA_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "application/pdf",
    STROKES_MEDIA_TYPE,
];

/// A signature's strokes: JSON, `[[[x, y], ...], ...]`, one array of points per stroke.
pub const STROKES_MEDIA_TYPE: &str = "application/vnd.doorstep.strokes+json";

/// The largest attachment a device takes unless its settings say otherwise: 20 MiB.
pub const DEFAULT_MAX_ATTACHMENT_BYTES: u64 = 20 * 1024 * 1024;

/// What a device keeps of attachments at most unless its settings say otherwise: 512 MiB.
/// In a browser the whole store is held in memory, so this is also what a phone gives it.
pub const DEFAULT_DEVICE_BUDGET_BYTES: u64 = 512 * 1024 * 1024;

/// The longest side a photo is downscaled to on capture unless the settings say otherwise.
pub const DEFAULT_PHOTO_LONGEST_SIDE: u32 = 2048;

/// A reference to a blob, as a case's or record's document holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The entry's id in the document's `attachments` list.
    pub id: ItemId,
    /// The blob.
    pub hash: BlobHash,
    /// Photo, document or signature.
    pub kind: AttachmentKind,
    /// The blob's media type, one of [`MEDIA_TYPES`].
    pub media_type: String,
    /// The blob's length in bytes.
    pub size: u64,
    /// For an image, its width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// For an image, its height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// What it shows, in the worker's words.
    #[serde(default)]
    pub caption: String,
    /// Who attached it.
    pub by: UserId,
    /// When, by the attaching device's clock.
    pub at: DateTime<Utc>,
    /// For a signature: the consent it signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signs: Option<SignatureBinding>,
    /// For a signature: the blob of its strokes ([`STROKES_MEDIA_TYPE`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strokes: Option<BlobHash>,
    /// Set when an administrator erased the blob: its bytes are gone everywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased: Option<Erasure>,
}

impl Attachment {
    /// The blobs the reference names: the attachment's own and, for a signature, its strokes.
    pub fn blobs(&self) -> impl Iterator<Item = BlobHash> + '_ {
        std::iter::once(self.hash).chain(self.strokes)
    }

    /// Whether it is an image the app can show.
    pub fn is_image(&self) -> bool {
        self.media_type.starts_with("image/")
    }
}

/// What binds a drawn signature to the consent it signs: the consent, the SHA-256 of its
/// wording when it was signed ([`consent_wording_hash`]), and the time. A consent whose
/// wording changes afterwards no longer matches its signature, and the app says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureBinding {
    /// The consent on the case file.
    pub consent: ItemId,
    /// The SHA-256 (hex) of the consent's wording as signed.
    pub wording: String,
    /// When the client signed.
    pub signed_at: DateTime<Utc>,
}

impl SignatureBinding {
    /// Whether the consent still reads as it did when it was signed.
    pub fn matches(&self, consent: &Consent) -> bool {
        consent.id == self.consent && consent_wording_hash(consent) == self.wording
    }
}

/// The SHA-256 (hex) of what a client agrees to in a consent: its scope, its details, when
/// it was given and how it was obtained.
pub fn consent_wording_hash(consent: &Consent) -> String {
    let scope = consent
        .scope
        .and_then(|scope| serde_json::to_value(scope).ok())
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default();
    let given = consent
        .given_on
        .map(|day| day.to_string())
        .unwrap_or_default();
    let wording = format!(
        "scope:{scope}\ndetails:{}\ngiven_on:{given}\nobtained:{}",
        consent.details,
        consent.obtained.as_deref().unwrap_or_default()
    );
    hex::encode(Sha256::digest(wording.as_bytes()))
}

/// The tombstone an erased attachment keeps: when, by which administrator, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    /// When the bytes were erased on the server.
    pub at: DateTime<Utc>,
    /// The administrator who erased them.
    pub by: String,
    /// Why, as the administrator gave it.
    pub reason: String,
}

impl Erasure {
    /// The line the record shows in the attachment's place.
    pub fn describe(&self) -> String {
        format!(
            "removed on {} by {}: {}",
            self.at.format("%-d %B %Y"),
            self.by,
            self.reason
        )
    }
}

/// What a worker attaches, before its blob is stored: the store fills in the hash, size,
/// author and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentDraft {
    /// Photo, document or signature.
    pub kind: AttachmentKind,
    /// One of [`MEDIA_TYPES`].
    pub media_type: String,
    /// Width and height, for an image.
    pub dimensions: Option<(u32, u32)>,
    /// What it shows.
    pub caption: String,
    /// For a signature: the consent it signs.
    pub signs: Option<SignatureBinding>,
}

/// Why an attachment was not taken. Each says what the worker can do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    /// Larger than one attachment may be.
    #[error(
        "this file is {} and attachments may be at most {}: take a smaller photo or scan fewer pages",
        size_label(*size),
        size_label(*limit)
    )]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The device's space for attachments would be exceeded.
    #[error(
        "this device keeps at most {} of attachments and holds {} already: choose more \
         \"Space for attachments on this device\" under Sync, or take off attachments not needed",
        size_label(*budget),
        size_label(*used)
    )]
    DeviceFull {
        /// What attachments take already.
        used: u64,
        /// The budget.
        budget: u64,
    },
    /// Not a kind of file that can be attached.
    #[error("{0} files cannot be attached: attach a photo (JPEG or PNG) or a PDF")]
    MediaType(String),
    /// The file is empty.
    #[error("the file is empty")]
    Empty,
}

/// The media type checked against [`MEDIA_TYPES`].
pub fn check_media_type(media_type: &str) -> Result<(), AttachmentError> {
    if MEDIA_TYPES.contains(&media_type) {
        Ok(())
    } else {
        Err(AttachmentError::MediaType(
            media_type.chars().take(60).collect(),
        ))
    }
}

/// A size as people read it: "2.4 MB", "840 KB", "12 bytes".
pub fn size_label(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    const GIB: u64 = 1024 * MIB;
    if bytes >= GIB {
        format!("{:.1} GB", bytes as f64 / GIB as f64)
    } else if bytes >= MIB {
        format!("{:.1} MB", bytes as f64 / MIB as f64)
    } else if bytes >= KIB {
        format!("{} KB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// Reads a document's `attachments` list, leaving out any entry that does not read: the
/// server refuses such entries, so only a damaged document has one, and the rest of it must
/// still open.
pub fn read_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Attachment>, D::Error> {
    let entries = Option::<Vec<serde_json::Value>>::deserialize(deserializer)?.unwrap_or_default();
    Ok(entries
        .into_iter()
        .filter_map(|entry| serde_json::from_value(entry).ok())
        .collect())
}

/// A blob read whole, checked against its hash.
pub fn verify(hash: BlobHash, bytes: &[u8]) -> bool {
    BlobHash::of(bytes) == hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn a_hash_is_named_by_its_hex_and_nothing_else_parses() {
        let hash = BlobHash::of(b"a photo");
        let text = hash.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<BlobHash>(), Ok(hash));
        assert!(text.to_uppercase().parse::<BlobHash>().is_err());
        assert!(text[..63].parse::<BlobHash>().is_err());
        assert!("../../etc/passwd".parse::<BlobHash>().is_err());
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(serde_json::from_str::<BlobHash>(&json).unwrap(), hash);
        assert!(verify(hash, b"a photo"));
        assert!(!verify(hash, b"another photo"));
    }

    #[test]
    fn a_signature_no_longer_matches_a_consent_whose_wording_changed() {
        let mut consent = Consent {
            id: ItemId::random(),
            scope: Some(ConsentScope::Record),
            details: "Notes of home visits".into(),
            given_on: NaiveDate::from_ymd_opt(2026, 11, 2),
            obtained: Some("written".into()),
            withdrawn_on: None,
        };
        let binding = SignatureBinding {
            consent: consent.id,
            wording: consent_wording_hash(&consent),
            signed_at: Utc::now(),
        };
        assert!(binding.matches(&consent));
        // Withdrawing a consent is not a change to what was signed.
        consent.withdrawn_on = NaiveDate::from_ymd_opt(2026, 11, 20);
        assert!(binding.matches(&consent));
        consent.details = "Notes of home visits and of phone calls".into();
        assert!(!binding.matches(&consent));
    }

    #[test]
    fn limits_say_what_to_do_in_words() {
        let too_large = AttachmentError::TooLarge {
            size: 25 * 1024 * 1024,
            limit: DEFAULT_MAX_ATTACHMENT_BYTES,
        };
        assert!(too_large.to_string().contains("25.0 MB"));
        assert!(too_large.to_string().contains("20.0 MB"));
        assert!(check_media_type("image/jpeg").is_ok());
        assert!(
            check_media_type("text/html")
                .unwrap_err()
                .to_string()
                .contains("text/html")
        );
        assert_eq!(size_label(840 * 1024), "840 KB");
    }
}
