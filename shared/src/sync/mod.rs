//! Sync: the protocol's messages, and the decisions both sides make, as plain functions
//! without IO so they are tested without a network.
//!
//! - [`protocol`]: the messages and their encoding;
//! - [`client`]: what a device pushes in a round, whether it must sync again, how long it
//!   waits after a failure;
//! - [`server`]: the server's cursor and how it pages changes;
//! - [`validate`]: the server's check of pushed changes against their document;
//! - `http` (feature `client`): the device's HTTP client, which runs the rounds.

pub mod client;
#[cfg(feature = "client")]
pub mod http;
pub mod protocol;
pub mod server;
pub mod validate;
