//! Background sync (DESIGN §5): when the app unlocks, when the network comes back, a moment
//! after local edits, on "Sync now", and again with backoff after a failure. While the app is
//! open it also syncs every half minute, to bring colleagues' changes. After the records,
//! attachments: those attached here are sent, and colleagues' are fetched unless the
//! connection is metered (then they wait for Wi-Fi, or for the worker's tap).

use std::time::Duration;

use chrono::{DateTime, Utc};
use dioxus::prelude::*;
use doorstep_shared::store::StoreError;
use doorstep_shared::sync::client::{Backoff, sync_again};
use doorstep_shared::sync::http::{BlobSide, SyncClient, SyncError, SyncReport, next_request};
use futures_util::StreamExt;
use futures_util::future::{Either, select};

use crate::platform;
use crate::session::{Session, SyncTrigger, settings};

/// How long after an edit the sync waits for the next one.
const AFTER_EDIT: Duration = Duration::from_secs(2);
/// How often an idle, open app looks for colleagues' changes.
const POLL_EVERY: Duration = Duration::from_secs(30);

/// Runs the sync engine until the app closes; started once, by the app's root.
pub async fn run(mut requests: UnboundedReceiver<SyncTrigger>, mut session: Session) {
    let mut backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(300));
    let mut wait = POLL_EVERY;
    {
        let mut session = session;
        platform::on_reconnect(move || {
            session.sync.write().online = true;
            session.request_sync(SyncTrigger::Now);
        });
    }
    loop {
        let next = select(requests.next(), Box::pin(platform::sleep(wait))).await;
        match next {
            Either::Left((None, _)) => return,
            Either::Left((Some(SyncTrigger::Edited), _)) => {
                // Let a burst of edits settle into one sync.
                loop {
                    match select(requests.next(), Box::pin(platform::sleep(AFTER_EDIT))).await {
                        Either::Left((Some(SyncTrigger::Edited), _)) => continue,
                        Either::Left((None, _)) => return,
                        Either::Left((Some(SyncTrigger::Now), _)) | Either::Right(_) => break,
                    }
                }
            }
            Either::Left((Some(SyncTrigger::Now), _)) | Either::Right(_) => {}
        }
        wait = match attempt(&mut session).await {
            Outcome::Synced | Outcome::Idle => {
                backoff.reset();
                POLL_EVERY
            }
            Outcome::Failed => backoff.next_delay(random()),
        };
    }
}

enum Outcome {
    /// Nothing to do: locked, offline or not signed in.
    Idle,
    Synced,
    Failed,
}

async fn attempt(session: &mut Session) -> Outcome {
    let online = platform::online();
    session.sync.write().online = online;
    if !online || !session.is_unlocked() {
        return Outcome::Idle;
    }
    let client = match client(session) {
        Some(client) => client,
        None => {
            session.sync.write().signed_in = false;
            return Outcome::Idle;
        }
    };
    session.sync.write().signed_in = true;
    if session.sync.peek().needs_sign_in {
        return Outcome::Idle;
    }
    session.sync.write().running = true;
    let result = sync(session, &client).await;
    if result.is_ok() {
        // Attachments after the records that name them: the server takes only those. One
        // that does not get through waits for the next sync; the records are synced.
        let fetch = !platform::metered();
        match client
            .sync_blobs_fetching(&mut SessionSide(*session), fetch)
            .await
        {
            Ok(blobs) if blobs.fetched > 0 => *session.revision.write() += 1,
            Ok(_) => {}
            Err(error) => tracing::info!("attachments wait: {}", describe(&error)),
        }
    }
    session.sync.write().running = false;
    session.refresh_pending();
    let now = platform::now();
    match result {
        Ok(report) => {
            let mut status = session.sync.write();
            status.problem = None;
            status.last_synced = Some(now);
            let all_up = status.pending == 0;
            drop(status);
            if let Some(Err(error)) = session
                .read(|store| store.set_setting(settings::LAST_SYNCED, Some(&now.to_rfc3339())))
            {
                tracing::warn!("could not record the sync time: {error}");
            }
            if all_up {
                session.save.write().synced(now);
            }
            if report.pulled > 0 || report.purged > 0 {
                *session.revision.write() += 1;
            }
            refresh_team_devices(session, &client, now).await;
            // The server answered: a good moment to ask it for a new version of the app too.
            platform::app_shell::check_for_update();
            Outcome::Synced
        }
        Err(SyncError::Revoked) => {
            session.notice.set(Some(
                "This device was signed out by your agency and its notes removed from it.".into(),
            ));
            session.sync.write().needs_sign_in = true;
            *session.revision.write() += 1;
            Outcome::Idle
        }
        Err(SyncError::Server { status: 401, .. }) => {
            session.sync.write().needs_sign_in = true;
            Outcome::Idle
        }
        Err(error) => {
            // Only the kind of failure is shown: never anything of a note.
            let problem = describe(&error);
            tracing::info!("sync failed: {problem}");
            session.sync.write().problem = Some(problem);
            Outcome::Failed
        }
    }
}

/// The devices of the teams the user supervises, as the server told them and when: the
/// dashboard shows from it which have not synced for days, offline too.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TeamDevicesSeen {
    /// When the server told them.
    pub at: DateTime<Utc>,
    /// The devices.
    pub devices: Vec<doorstep_shared::sync::protocol::TeamDevice>,
}

/// How often the team's devices are asked for: their times are to the hour anyway.
const TEAM_DEVICES_EVERY: chrono::Duration = chrono::Duration::minutes(15);

/// The team's devices as last told, if they were.
pub fn team_devices_seen(session: &Session) -> Option<TeamDevicesSeen> {
    let text = session
        .read(|store| store.setting(settings::TEAM_DEVICES))?
        .ok()??;
    serde_json::from_str(&text).ok()
}

/// Asks the server for the team's devices, at most every [`TEAM_DEVICES_EVERY`]; a failure
/// leaves the last answer in place.
async fn refresh_team_devices(session: &mut Session, client: &SyncClient, now: DateTime<Utc>) {
    if team_devices_seen(session).is_some_and(|seen| now - seen.at < TEAM_DEVICES_EVERY) {
        return;
    }
    let devices = match client.team_devices().await {
        Ok(answer) => answer.devices,
        Err(error) => {
            tracing::info!("the team's devices wait: {}", describe(&error));
            return;
        }
    };
    let seen = TeamDevicesSeen { at: now, devices };
    let json = serde_json::to_string(&seen).expect("devices serialise");
    match session.read(|store| store.set_setting(settings::TEAM_DEVICES, Some(&json))) {
        Some(Ok(())) => *session.revision.write() += 1,
        Some(Err(error)) => tracing::warn!("could not keep the team's devices: {error}"),
        None => {}
    }
}

/// Rounds until nothing is left to push or pull. The store is borrowed only between
/// requests, so the worker keeps writing while a request is in flight. If the app locks
/// meanwhile, the sync stops; an answer not applied is simply fetched again next time.
async fn sync(session: &mut Session, client: &SyncClient) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport::default();
    let mut forgotten = false;
    loop {
        let Some(next) = session.read(next_request) else {
            return Ok(report);
        };
        let (request, left) = next?;
        let response = match client.exchange(&request, &mut report).await {
            Err(SyncError::Revoked) => {
                if let Some(wiped) = session.read(|store| {
                    store.wipe()?;
                    store.set_setting(settings::TOKEN, None)
                }) {
                    wiped?;
                }
                return Err(SyncError::Revoked);
            }
            // The server was restored from a backup: send it everything again, once.
            Err(SyncError::ServerRestored) if !forgotten => {
                if let Some(forgot) = session.read(|store| store.forget_server_state()) {
                    forgot?;
                }
                forgotten = true;
                continue;
            }
            other => other?,
        };
        let now: DateTime<Utc> = platform::now();
        let Some(applied) = session.read(|store| store.apply_sync_response(&response, now)) else {
            return Ok(report);
        };
        applied?;
        if !sync_again(&response, left) {
            return Ok(report);
        }
    }
}

/// The store as the blob pass reaches it: through the session, one call at a time, and not
/// at all once the app locks.
pub struct SessionSide(pub Session);

impl std::fmt::Debug for SessionSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSide(..)")
    }
}

impl BlobSide for SessionSide {
    fn with_store<T>(
        &mut self,
        work: impl FnOnce(&mut doorstep_shared::store::Store) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.0.read(work).transpose()
    }
}

/// Signs this device out: the server is told, so that its token stops working, and then the
/// device's cases, records and token are wiped, whether or not the server could be told (a
/// worker handing a phone back may be out of signal). Returns why the server was not told.
pub async fn sign_out(mut session: Session) -> Result<(), String> {
    let told = match client(&session) {
        Some(client) if platform::online() => client.sign_out().await.map_err(|e| describe(&e)),
        Some(_) => Err("the device is offline".to_owned()),
        None => Ok(()),
    };
    if let Some(wiped) = session.read(|store| {
        store.wipe()?;
        store.set_setting(settings::TOKEN, None)
    }) && let Err(error) = wiped
    {
        tracing::error!("signing out could not wipe the store: {error}");
    }
    {
        let mut sync = session.sync.write();
        sync.signed_in = false;
        sync.needs_sign_in = false;
        sync.pending = 0;
        sync.problem = None;
    }
    *session.revision.write() += 1;
    told
}

pub fn client(session: &Session) -> Option<SyncClient> {
    let (server, token) = session
        .read(|store| {
            Ok((
                store.setting(settings::SERVER)?,
                store.setting(settings::TOKEN)?,
            ))
        })?
        .ok()?;
    let client = SyncClient::new(&server?).ok()?;
    Some(client.with_token(token?))
}

/// A failure in the worker's words.
pub fn describe(error: &SyncError) -> String {
    match error {
        SyncError::Network(_) => "the server could not be reached".into(),
        SyncError::Server { status: 429, .. } => "the server is busy".into(),
        SyncError::Server { status, .. } if *status >= 500 => "the server had a problem".into(),
        SyncError::Server { message, .. } => message.clone(),
        SyncError::Revoked => "this device was signed out".into(),
        SyncError::ServerRestored => "the server was restored from a backup".into(),
        SyncError::NotSignedIn => "not signed in".into(),
        SyncError::Protocol(_) => "the server's answer was not understood".into(),
        SyncError::Store(error) => error.to_string(),
    }
}

fn random() -> u64 {
    let mut bytes = [0; 8];
    // Jitter only: a failed draw just means no jitter.
    let _ = getrandom::fill(&mut bytes);
    u64::from_le_bytes(bytes)
}
