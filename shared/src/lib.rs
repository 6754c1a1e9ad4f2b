//! # doorstep-shared
//!
//! The part of Doorstep that the app and the sync server share: what a practitioner records,
//! how it is kept so that it merges, and how it is stored on the device.
//!
//! ## The model
//!
//! A client's **case** holds their profile, consents, goals, the case team, the case's status
//! and its events (referral, transfer, closure). Each visit or session produces a **record**
//! of one of four kinds — home-visit note, process recording, case note, group session
//! record — each laid out by its [`template`]. A record moves through
//! [`RecordStatus`](model::RecordStatus): draft, submitted for review, returned or finalised.
//! A finalised record is bound as signed and afterwards takes only addenda.
//!
//! ## Documents
//!
//! Every case and every record is its own Automerge document ([`document::Document`]), so
//! that small documents load and sync independently, and two devices that edit the same
//! record offline merge instead of overwriting each other:
//!
//! - narrative fields are Automerge text, merged character by character;
//! - short fields (names, dates, flags) are single values, last writer wins, both kept in
//!   the history;
//! - lists (exchanges, quotes, attendance...) are addressed by stable [`ItemId`]s;
//! - each user action is one change whose message says what it touched, written under the
//!   device's actor id, which the document maps to the user, so the history can say who
//!   wrote what and when;
//! - sign-off stores the document's heads, so the record can be read exactly as signed.
//!
//! ## The store
//!
//! With the `store` feature, [`store::Store`] keeps documents on the device in SQLite
//! encrypted with SQLCipher, under a key derived from the worker's passphrase with Argon2id.
//! Each user action is appended as one incremental change, together with the index rows the
//! caseload and search read, in one durable transaction.

#![warn(missing_docs)]

pub mod attachments;
pub mod document;
pub mod export;
pub mod ids;
pub mod model;
pub mod password_rules;
#[cfg(feature = "store")]
pub mod store;
pub mod sync;
pub mod template;
pub mod text;

pub use ids::{CaseId, DocId, IdError, ItemId, RecordId, UserId};
