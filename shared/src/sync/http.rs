//! The device's HTTP client for the sync server (feature `client`).
//!
//! [`SyncClient::sync`] runs rounds until the device has pushed everything and pulled
//! everything; each round's response is applied in one store transaction, so a connection
//! cut at any point loses nothing and the next sync resends at most what was in flight.
//! [`SyncClient::sync_with_retry`] retries what is worth retrying, with exponential backoff
//! and jitter.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;

use super::client::{Backoff, MAX_PUSH_BYTES, sync_again, take_pushes};
use super::protocol::BlobProgress;
use super::protocol::{
    self, CONTENT_TYPE, DEVICE_REVOKED, ErrorBody, SERVER_RESTORED, SignIn, SignedIn, SyncRequest,
    SyncResponse,
};
use crate::attachments::BlobHash;
use crate::store::{BlobState, BlobToSend, Store, StoreError};
use crate::{CaseId, RecordId};

/// Why a sync or sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The server could not be reached, or the connection broke. Worth retrying.
    #[error("network: {0}")]
    Network(String),
    /// The server answered with an error.
    #[error("server answered {status}: {code}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The error's code.
        code: String,
        /// Its explanation.
        message: String,
    },
    /// The device was revoked; its data has been wiped.
    #[error("this device was revoked; its data has been wiped")]
    Revoked,
    /// The server was restored from a backup since the last sync: the store must forget what
    /// the server held ([`Store::forget_server_state`]) and sync again.
    #[error("the server was restored from a backup; this device sends everything again")]
    ServerRestored,
    /// The device is not signed in.
    #[error("not signed in")]
    NotSignedIn,
    /// The server's answer is not of this protocol.
    #[error("protocol: {0}")]
    Protocol(#[from] protocol::ProtocolError),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Whether trying again later may succeed: network failures, timeouts, rate limits and
    /// server failures; not refusals.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Network(_) => true,
            SyncError::Server { status, .. } => matches!(status, 408 | 429 | 500..=599),
            _ => false,
        }
    }
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Requests made.
    pub rounds: usize,
    /// Documents pushed.
    pub pushed: usize,
    /// Documents that received changes.
    pub pulled: usize,
    /// Cases purged.
    pub purged: usize,
    /// Documents whose push the server refused (kept as [`crate::store::Refused`]).
    pub refused: usize,
    /// Bytes sent in request bodies.
    pub bytes_sent: usize,
    /// Bytes received in response bodies.
    pub bytes_received: usize,
}

/// How long one request may take, a slow first sync of a large caseload included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A connection to one sync server.
#[derive(Debug, Clone)]
pub struct SyncClient {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
}

impl SyncClient {
    /// A client for the server at `base_url` (such as `https://sync.agency.example`).
    pub fn new(base_url: &str) -> Result<SyncClient, SyncError> {
        let builder = reqwest::Client::builder();
        // In a browser, fetch decides how long connecting may take and how long an idle
        // connection is kept. Here: no longer than a minute, which is less than the server
        // keeps one (75 s), so that a request is never sent on a connection it has closed.
        #[cfg(not(target_family = "wasm"))]
        let builder = builder
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60));
        let http = builder
            .build()
            .map_err(|error| SyncError::Network(error.to_string()))?;
        Ok(SyncClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: None,
        })
    }

    /// Uses a device token from an earlier sign-in.
    pub fn with_token(mut self, token: String) -> SyncClient {
        self.token = Some(token);
        self
    }

    /// The device token, once signed in. Keep it in the encrypted store, nowhere else.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Signs in and keeps the device token.
    pub async fn sign_in(
        &mut self,
        user: &str,
        password: &str,
        device_name: &str,
    ) -> Result<SignedIn, SyncError> {
        let request = SignIn {
            user: user.to_owned(),
            password: password.to_owned(),
            device_name: device_name.to_owned(),
        };
        let response = self
            .http
            .post(format!("{}/v1/sign-in", self.base_url))
            .timeout(REQUEST_TIMEOUT)
            .json(&request)
            .send()
            .await
            .map_err(network)?;
        let body = read_ok(response).await?;
        let signed_in: SignedIn = serde_json::from_slice(&body)
            .map_err(|error| protocol::ProtocolError::Malformed(error.to_string()))?;
        self.token = Some(signed_in.token.clone());
        Ok(signed_in)
    }

    /// Tells the server this device signs out: its token stops working at once. The caller
    /// wipes the device after, whether or not the server could be told.
    pub async fn sign_out(&self) -> Result<(), SyncError> {
        let token = self.token.as_deref().ok_or(SyncError::NotSignedIn)?;
        let response = self
            .http
            .post(format!("{}/v1/sign-out", self.base_url))
            .timeout(REQUEST_TIMEOUT)
            .bearer_auth(token)
            .send()
            .await
            .map_err(network)?;
        match read_ok(response).await {
            // Revoked already: signed out all the same.
            Err(SyncError::Server { code, .. }) if code == DEVICE_REVOKED => Ok(()),
            other => other.map(drop),
        }
    }

    /// Syncs until nothing is left to push or pull. A revoked device wipes its store; after
    /// the server was restored from a backup, the device sends everything again.
    pub async fn sync(&self, store: &mut Store) -> Result<SyncReport, SyncError> {
        let mut report = SyncReport::default();
        let mut forgotten = false;
        loop {
            let (request, left) = next_request(store)?;
            let answer = self.exchange(&request, &mut report).await;
            let response = match answer {
                Err(SyncError::Revoked) => {
                    store.wipe()?;
                    return Err(SyncError::Revoked);
                }
                // Once: a server that keeps saying so after the store forgot is broken.
                Err(SyncError::ServerRestored) if !forgotten => {
                    store.forget_server_state()?;
                    forgotten = true;
                    continue;
                }
                other => other?,
            };
            store.apply_sync_response(&response, Utc::now())?;
            if !sync_again(&response, left) {
                return Ok(report);
            }
        }
    }

    /// One round trip: sends `request` and reads the answer, counting both in `report`.
    ///
    /// The store is not touched, so an app can keep using it while the request is under way:
    /// build the request with [`next_request`], then apply the answer with
    /// [`Store::apply_sync_response`] (and wipe the store on [`SyncError::Revoked`]).
    pub async fn exchange(
        &self,
        request: &SyncRequest,
        report: &mut SyncReport,
    ) -> Result<SyncResponse, SyncError> {
        let token = self.token.as_deref().ok_or(SyncError::NotSignedIn)?;
        let body = protocol::encode(request);
        report.rounds += 1;
        report.pushed += request.pushes.len();
        report.bytes_sent += body.len();
        let sent = self
            .http
            .post(format!("{}/v1/sync", self.base_url))
            .timeout(REQUEST_TIMEOUT)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(body)
            .send()
            .await
            .map_err(network)?;
        let bytes = match read_ok(sent).await {
            Err(SyncError::Server { code, .. }) if code == DEVICE_REVOKED => {
                return Err(SyncError::Revoked);
            }
            Err(SyncError::Server { code, .. }) if code == SERVER_RESTORED => {
                return Err(SyncError::ServerRestored);
            }
            other => other?,
        };
        report.bytes_received += bytes.len();
        let response: SyncResponse = protocol::decode(&bytes)?;
        report.pulled += response.pulls.len();
        report.purged += response.purge.len();
        report.refused += response.refused.len();
        Ok(response)
    }

    /// Syncs, retrying transient failures up to `attempts` times with `backoff`; `sleep`
    /// waits (tokio's on native targets, the browser's on the web) and `random` feeds the
    /// jitter.
    pub async fn sync_with_retry<S, F>(
        &self,
        store: &mut Store,
        backoff: &mut Backoff,
        attempts: u32,
        mut random: impl FnMut() -> u64,
        sleep: S,
    ) -> Result<SyncReport, SyncError>
    where
        S: Fn(Duration) -> F,
        F: Future<Output = ()>,
    {
        loop {
            match self.sync(store).await {
                Ok(report) => {
                    backoff.reset();
                    return Ok(report);
                }
                Err(error) if error.is_transient() && backoff.failures() + 1 < attempts => {
                    sleep(backoff.next_delay(random())).await;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// What one pass over attachments' blobs did ([`SyncClient::sync_blobs`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobReport {
    /// Blobs the server now holds whole that it lacked.
    pub sent: usize,
    /// Blobs now held whole here that were not.
    pub fetched: usize,
    /// Blobs left for later: not yet named on the server, not yet uploaded by the device
    /// that attached them, or erased.
    pub waiting: usize,
    /// Bytes of blobs sent.
    pub bytes_sent: u64,
    /// Bytes of blobs received.
    pub bytes_received: u64,
}

/// The most of a blob one request carries: a cut connection costs at most this much again,
/// and no request runs long on a slow network.
pub const BLOB_PIECE_BYTES: u64 = 1024 * 1024;

impl SyncClient {
    /// A request to the blob endpoints, with the device's token.
    fn blob_request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, SyncError> {
        let token = self.token.as_deref().ok_or(SyncError::NotSignedIn)?;
        Ok(self
            .http
            .request(method, format!("{}/v1/blobs/{path}", self.base_url))
            .timeout(REQUEST_TIMEOUT)
            .bearer_auth(token))
    }

    /// A record as a PDF, made by the server from its copy of the case: the record as signed,
    /// its addenda, attachments, review and history, with their hashes. The server answers
    /// 404 `record_not_found` for a record the user may not read, as for one it lacks.
    pub async fn record_pdf(&self, record: RecordId) -> Result<Vec<u8>, SyncError> {
        let token = self.token.as_deref().ok_or(SyncError::NotSignedIn)?;
        let response = self
            .http
            .get(format!("{}/v1/records/{record}/pdf", self.base_url))
            .timeout(REQUEST_TIMEOUT)
            .bearer_auth(token)
            .send()
            .await
            .map_err(network)?;
        read_ok(response).await
    }

    /// A case as a zip for a subject access request, made by the server for a supervisor of
    /// its team, with `redact`'s names replaced in every file.
    pub async fn case_archive(
        &self,
        case: CaseId,
        redact: &[String],
    ) -> Result<Vec<u8>, SyncError> {
        let token = self.token.as_deref().ok_or(SyncError::NotSignedIn)?;
        let request = protocol::ArchiveRequest {
            redact: redact.to_vec(),
        };
        let response = self
            .http
            .post(format!("{}/v1/cases/{case}/archive", self.base_url))
            .timeout(REQUEST_TIMEOUT)
            .bearer_auth(token)
            .json(&request)
            .send()
            .await
            .map_err(network)?;
        read_ok(response).await
    }

    /// The devices of the teams the user supervises, with when each last synced (none for a
    /// user who supervises no team).
    pub async fn team_devices(&self) -> Result<protocol::TeamDevices, SyncError> {
        let token = self.token.as_deref().ok_or(SyncError::NotSignedIn)?;
        let response = self
            .http
            .get(format!("{}/v1/team/devices", self.base_url))
            .timeout(REQUEST_TIMEOUT)
            .bearer_auth(token)
            .send()
            .await
            .map_err(network)?;
        let bytes = read_ok(response).await?;
        serde_json::from_slice(&bytes)
            .map_err(|_| protocol::ProtocolError::Malformed("a team's devices".into()).into())
    }

    /// Where the server's copy of a blob stands.
    pub async fn blob_status(&self, hash: BlobHash) -> Result<BlobProgress, SyncError> {
        let sent = self
            .blob_request(reqwest::Method::GET, &format!("{hash}/status"))?
            .send()
            .await;
        read_progress(sent).await
    }

    /// Sends one piece of a blob, `bytes` from `offset`, of a blob `size` bytes long.
    pub async fn send_blob_piece(
        &self,
        hash: BlobHash,
        media_type: &str,
        size: u64,
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<BlobProgress, SyncError> {
        let path = format!("{hash}?offset={offset}&size={size}");
        let sent = self
            .blob_request(reqwest::Method::PUT, &path)?
            .header(reqwest::header::CONTENT_TYPE, media_type)
            .body(bytes)
            .send()
            .await;
        read_progress(sent).await
    }

    /// Fetches up to `length` bytes of a blob from `offset`; returns them and the blob's size.
    pub async fn fetch_blob_range(
        &self,
        hash: BlobHash,
        offset: u64,
        length: u64,
    ) -> Result<(Vec<u8>, u64), SyncError> {
        let last = offset + length.max(1) - 1;
        let response = self
            .blob_request(reqwest::Method::GET, &hash.to_string())?
            .header(reqwest::header::RANGE, format!("bytes={offset}-{last}"))
            .send()
            .await
            .map_err(network)?;
        let total = response
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|value| value.to_str().ok())
            .and_then(|range| range.rsplit('/').next())
            .and_then(|total| total.parse::<u64>().ok());
        let bytes = read_ok(response).await?;
        let total = total.ok_or_else(|| {
            protocol::ProtocolError::Malformed("a blob's range came without its size".into())
        })?;
        Ok((bytes, total))
    }

    /// Sends the blobs the server lacks, then fetches those the device lacks, each resuming
    /// from what the other side holds. A blob the server does not take yet (its record not
    /// synced, or not uploaded by the device that attached it) waits for the next pass. The
    /// store is borrowed only between requests ([`BlobSide`]); if it locks meanwhile, the
    /// pass stops.
    pub async fn sync_blobs(&self, side: &mut impl BlobSide) -> Result<BlobReport, SyncError> {
        self.sync_blobs_fetching(side, true).await
    }

    /// [`SyncClient::sync_blobs`], fetching what the device lacks only if `fetch` (on a
    /// metered connection, a colleague's photo waits for Wi-Fi or the worker's tap).
    pub async fn sync_blobs_fetching(
        &self,
        side: &mut impl BlobSide,
        fetch: bool,
    ) -> Result<BlobReport, SyncError> {
        let mut report = BlobReport::default();
        let Some(to_send) = side.with_store(|store| store.blobs_to_send())? else {
            return Ok(report);
        };
        for blob in to_send {
            match self.send_whole(side, &blob, &mut report).await {
                Ok(true) => {
                    side.with_store(|store| store.mark_sent(blob.hash))?;
                    report.sent += 1;
                }
                Ok(false) => return Ok(report),
                Err(SyncError::Server { code, .. }) if code == protocol::BLOB_ERASED => {
                    // Nothing to send: the tombstone reaches this device with the record.
                    side.with_store(|store| store.mark_sent(blob.hash))?;
                    report.waiting += 1;
                }
                Err(SyncError::Server { code, .. }) if code == protocol::BLOB_NOT_FOUND => {
                    report.waiting += 1;
                }
                Err(error) => return Err(error),
            }
        }
        if !fetch {
            return Ok(report);
        }
        let Some(to_fetch) = side.with_store(|store| store.blobs_to_fetch())? else {
            return Ok(report);
        };
        for blob in to_fetch {
            match self
                .fetch_whole(side, blob.hash, blob.received, &mut report)
                .await
            {
                Ok(true) => report.fetched += 1,
                Ok(false) => return Ok(report),
                Err(SyncError::Server { code, .. })
                    if code == protocol::BLOB_NOT_UPLOADED
                        || code == protocol::BLOB_ERASED
                        || code == protocol::BLOB_NOT_FOUND =>
                {
                    report.waiting += 1;
                }
                Err(error) => return Err(error),
            }
        }
        Ok(report)
    }

    /// Fetches one blob the device lacks, now: a photo the worker tapped.
    pub async fn fetch_blob(
        &self,
        side: &mut impl BlobSide,
        hash: BlobHash,
    ) -> Result<bool, SyncError> {
        let Some(state) = side.with_store(|store| store.blob_state(hash))? else {
            return Ok(false);
        };
        match state {
            BlobState::Here => Ok(true),
            BlobState::Erased => Ok(false),
            BlobState::NotDownloaded { received } => {
                let mut report = BlobReport::default();
                self.fetch_whole(side, hash, received, &mut report).await
            }
        }
    }

    /// Sends a blob from what the server holds on; `false` if the store locked meanwhile.
    async fn send_whole(
        &self,
        side: &mut impl BlobSide,
        blob: &BlobToSend,
        report: &mut BlobReport,
    ) -> Result<bool, SyncError> {
        let mut progress = self.blob_status(blob.hash).await?;
        while !progress.whole {
            let offset = progress.received;
            let Some(piece) =
                side.with_store(|store| store.blob_range(blob.hash, offset, BLOB_PIECE_BYTES))?
            else {
                return Ok(false);
            };
            report.bytes_sent += piece.len() as u64;
            let sent = self
                .send_blob_piece(blob.hash, &blob.media_type, blob.size, offset, piece)
                .await;
            progress = match sent {
                Ok(progress) => progress,
                // Someone else's piece landed first: carry on from what the server holds.
                Err(SyncError::Server { code, .. }) if code == protocol::WRONG_OFFSET => {
                    self.blob_status(blob.hash).await?
                }
                Err(error) => return Err(error),
            };
        }
        Ok(true)
    }

    /// Fetches a blob from what the device holds on; `false` if the store locked meanwhile.
    async fn fetch_whole(
        &self,
        side: &mut impl BlobSide,
        hash: BlobHash,
        mut received: u64,
        report: &mut BlobReport,
    ) -> Result<bool, SyncError> {
        loop {
            let (bytes, size) = self
                .fetch_blob_range(hash, received, BLOB_PIECE_BYTES)
                .await?;
            if bytes.is_empty() {
                return Err(protocol::ProtocolError::Malformed("an empty range".into()).into());
            }
            report.bytes_received += bytes.len() as u64;
            let Some(whole) =
                side.with_store(|store| store.receive_blob_part(hash, received, &bytes, size))?
            else {
                return Ok(false);
            };
            if whole {
                return Ok(true);
            }
            received += bytes.len() as u64;
        }
    }
}

/// The store, as a blob pass reaches it: borrowed for one call at a time, between requests,
/// and perhaps locked meanwhile (`None`).
pub trait BlobSide {
    /// Runs `work` on the store, unless it is locked.
    fn with_store<T>(
        &mut self,
        work: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError>;
}

impl BlobSide for Store {
    fn with_store<T>(
        &mut self,
        work: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        work(self).map(Some)
    }
}

/// The next request for `store`: its cursor and as many pending pushes as one request
/// carries; also how many pushes are left for later rounds.
pub fn next_request(store: &mut Store) -> Result<(SyncRequest, usize), StoreError> {
    let mut pending = store.pending_pushes()?;
    let pushes = take_pushes(&mut pending, MAX_PUSH_BYTES);
    let request = SyncRequest {
        cursor: store.sync_cursor()?,
        pushes,
    };
    Ok((request, pending.len()))
}

/// A blob's progress, from the answer to a status request or a piece sent.
async fn read_progress(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<BlobProgress, SyncError> {
    let bytes = read_ok(sent.map_err(network)?).await?;
    serde_json::from_slice(&bytes)
        .map_err(|error| protocol::ProtocolError::Malformed(error.to_string()).into())
}

fn network(error: reqwest::Error) -> SyncError {
    // reqwest's messages name the URL, never the body or headers: nothing confidential.
    SyncError::Network(error.to_string())
}

async fn read_ok(response: reqwest::Response) -> Result<Vec<u8>, SyncError> {
    let status = response.status();
    let bytes = response.bytes().await.map_err(network)?;
    if status.is_success() {
        return Ok(bytes.to_vec());
    }
    let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => (body.error.code, body.error.message),
        Err(_) => ("unknown".to_owned(), format!("HTTP {status}")),
    };
    Err(SyncError::Server {
        status: status.as_u16(),
        code,
        message,
    })
}
