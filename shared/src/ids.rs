//! Identifiers, parsed and validated at the edge so the rest of the code can trust them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An identifier that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct IdError {
    kind: &'static str,
    reason: &'static str,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        // Serialised as the UUID itself: text in JSON, 16 bytes in the sync protocol.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, random identifier.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, IdError> {
                Uuid::parse_str(text)
                    .map(Self)
                    .map_err(|_| IdError { kind: $kind, reason: "not a UUID" })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }
    };
}

uuid_id!(
    /// A client's case: the file that holds the client's profile and every record about them.
    CaseId,
    "case id"
);
uuid_id!(
    /// One record (home-visit note, process recording, case note, group session record).
    RecordId,
    "record id"
);
uuid_id!(
    /// An entry of a list inside a document (an exchange, a quote, a consent, a member's
    /// attendance...). Lists are addressed by these ids, never by position, because positions
    /// shift when another device inserts concurrently.
    ItemId,
    "item id"
);

/// The Automerge document that holds a case or a record. A case's document has the case's
/// id, a record's document the record's id, so the two never collide.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocId {
    /// The case's own document: profile, consents, goals, team, status and events.
    Case(CaseId),
    /// One record's document.
    Record(RecordId),
}

impl DocId {
    /// The document's key in storage and on the wire: `case:<uuid>` or `record:<uuid>`.
    pub fn key(&self) -> String {
        match self {
            DocId::Case(id) => format!("case:{id}"),
            DocId::Record(id) => format!("record:{id}"),
        }
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

impl FromStr for DocId {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, IdError> {
        match text.split_once(':') {
            Some(("case", id)) => Ok(DocId::Case(id.parse()?)),
            Some(("record", id)) => Ok(DocId::Record(id.parse()?)),
            _ => Err(IdError {
                kind: "document id",
                reason: "expected case:<uuid> or record:<uuid>",
            }),
        }
    }
}

impl From<CaseId> for DocId {
    fn from(id: CaseId) -> Self {
        DocId::Case(id)
    }
}

impl From<RecordId> for DocId {
    fn from(id: RecordId) -> Self {
        DocId::Record(id)
    }
}

/// A worker's user name on the agency's server, such as `amara.okafor`.
///
/// Lowercase letters, digits, `.`, `_` and `-`, 1 to 64 characters: it appears in
/// documents' history and in audit logs, so it must be unambiguous and printable.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    /// The name the server's own changes are written under (a case's team, which only the
    /// server writes). No user may take it.
    pub const ADMINISTRATOR: &'static str = "administrator";

    /// The server's name, [`UserId::ADMINISTRATOR`].
    pub fn administrator() -> UserId {
        UserId(UserId::ADMINISTRATOR.to_owned())
    }

    /// The user name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for UserId {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, IdError> {
        let err = |reason| IdError {
            kind: "user id",
            reason,
        };
        if text.is_empty() || text.len() > 64 {
            return Err(err("must be 1 to 64 characters"));
        }
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
        if !text.chars().all(allowed) {
            return Err(err("only lowercase letters, digits, '.', '_' and '-'"));
        }
        Ok(UserId(text.to_owned()))
    }
}

impl TryFrom<String> for UserId {
    type Error = IdError;
    fn try_from(text: String) -> Result<Self, IdError> {
        text.parse()
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> String {
        id.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_ids_round_trip_through_their_key() {
        let case = DocId::Case(CaseId::random());
        let record = DocId::Record(RecordId::random());
        assert_eq!(case.key().parse::<DocId>().unwrap(), case);
        assert_eq!(record.key().parse::<DocId>().unwrap(), record);
        assert!("note:123".parse::<DocId>().is_err());
        assert!("case:not-a-uuid".parse::<DocId>().is_err());
    }

    #[test]
    fn user_ids_reject_what_would_be_ambiguous_in_a_log() {
        assert!("amara.okafor".parse::<UserId>().is_ok());
        assert!("".parse::<UserId>().is_err());
        assert!("Amara".parse::<UserId>().is_err());
        assert!("amara okafor".parse::<UserId>().is_err());
        assert!("a\nb".parse::<UserId>().is_err());
        assert!("x".repeat(65).parse::<UserId>().is_err());
    }
}
