//! `GET /v1/team/devices`: the devices of the teams a user supervises, with when each last
//! synced, for the dashboard's "devices not synced" (a phone left in a drawer holds notes
//! nobody else has). Anyone else gets an empty list: the answer never names a device outside
//! the teams its asker supervises.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use doorstep_shared::UserId;
use doorstep_shared::sync::protocol::{TeamDevice, TeamDevices};

use super::{ApiError, AppState, ClientAddress, authenticate, blocking};
use crate::storage::{Storage, StorageError, TeamRole};

/// `GET /v1/team/devices`.
pub(super) async fn team_devices(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
) -> Result<Json<TeamDevices>, ApiError> {
    let device = authenticate(&state, &headers, client).await?;
    let storage = state.storage.clone();
    let user = device.user.clone();
    let devices = blocking(move || supervised_devices(storage.as_ref(), &user)).await?;
    Ok(Json(TeamDevices { devices }))
}

/// The devices, signed in and not revoked, of the members of every team `user` supervises.
/// A device that never signed in itself (one made at the office to open a case) is left out.
fn supervised_devices(
    storage: &dyn Storage,
    user: &UserId,
) -> Result<Vec<TeamDevice>, StorageError> {
    let teams = storage
        .list_users()?
        .into_iter()
        .find(|summary| &summary.user == user)
        .map(|summary| summary.teams)
        .unwrap_or_default();
    let mut members = BTreeSet::new();
    for team in teams {
        let roster = storage.team_roster(&team)?;
        if roster.get(user) == Some(&TeamRole::Supervisor) {
            members.extend(roster.into_keys());
        }
    }
    if members.is_empty() {
        return Ok(Vec::new());
    }
    Ok(storage
        .list_devices(None)?
        .into_iter()
        .filter(|device| device.revoked_at.is_none() && members.contains(&device.user))
        .filter_map(|device| {
            let last_synced = device.last_used_at.as_deref().and_then(parse_time)?;
            Some(TeamDevice {
                user: device.user,
                name: device.name,
                last_synced: Some(last_synced),
            })
        })
        .collect())
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}
