//! The HTTP API: sign-in, sync, health. Every error is JSON,
//! `{"error": {"code": ..., "message": ...}}`; client errors say what was wrong, internal
//! errors are logged and answered with a generic message.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};

use doorstep_shared::sync::protocol::{
    self, CONTENT_TYPE, DEVICE_REVOKED, ErrorBody, ErrorDetail, ProtocolError, SERVER_RESTORED,
    SignIn, SignedIn, SyncRequest, TOKEN_EXPIRED,
};
use doorstep_shared::sync::server::LogPosition;
use doorstep_shared::{CaseId, UserId};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::admission::{
    AddressKey, BodyBudget, SIGN_IN_MAX_BYTES, Share, declared_length, read_body, refuse_unread,
};
use crate::auth::{self, RateLimiter};
use crate::proxies::TrustedProxies;
use crate::storage::{AuditEntry, Device, Storage, StorageError};

mod blobs;
mod exports;
mod team;

/// Limits the server enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Sign-in attempts allowed per user name, and per client address, per minute.
    pub sign_ins_per_minute: usize,
    /// Request bodies held in memory at once, across all requests. A sync waits for its
    /// share (twice its declared length, or twice `max_body_bytes` if it declares none,
    /// since a body is gathered into one buffer from the pieces it arrived in) before its
    /// body is read, so however many clients send at once, bodies never take more than this;
    /// one client address takes at most a quarter of it ([`crate::admission`]).
    pub bodies_in_memory_bytes: usize,
    /// How long a new connection may take to send its first request's headers before it is
    /// closed.
    pub header_timeout: Duration,
    /// How long a connection kept open waits for, and reads the headers of, its next
    /// request: longer than devices keep an idle connection (a minute).
    pub keep_alive: Duration,
    /// How long a body may stop arriving before the request is answered 408.
    pub body_idle_timeout: Duration,
    /// How long a device's token may go unused before it stops working: the worker signs in
    /// again.
    pub token_idle: Duration,
    /// The reverse proxies whose word on a client's address the per-address limits and the
    /// audit log believe.
    pub trusted_proxies: TrustedProxies,
    /// The largest attachment the server takes.
    pub max_blob_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 32 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            sign_ins_per_minute: 10,
            bodies_in_memory_bytes: 256 * 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(75),
            body_idle_timeout: Duration::from_secs(10),
            token_idle: Duration::from_secs(90 * 24 * 60 * 60),
            trusted_proxies: TrustedProxies::default(),
            max_blob_bytes: 32 * 1024 * 1024,
        }
    }
}

/// What handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    storage: Arc<dyn Storage>,
    sign_in_limiter: Arc<RateLimiter>,
    /// Password checks running at once: one per core. Each takes 19 MiB and a core for tens
    /// of milliseconds, so a crowd signing in at once waits its turn instead of taking the
    /// server's memory.
    password_checks: Arc<tokio::sync::Semaphore>,
    /// How long a request may take ([`Limits::request_timeout`]): past it, a sync's work
    /// stops.
    request_timeout: Duration,
    /// The memory for bodies, shared out per device and per address.
    budget: BodyBudget,
    max_body_bytes: usize,
    body_idle_timeout: Duration,
    token_idle: Duration,
    /// The audit log's budget for refused sign-ins.
    refusal_audit: Arc<RefusalAudit>,
    proxies: Arc<TrustedProxies>,
    max_blob_bytes: u64,
    /// PDFs being made at once: one per core. A PDF takes a core for a moment and the
    /// record's pictures in memory.
    exports: Arc<tokio::sync::Semaphore>,
}

/// The routes, over `storage`.
pub fn router(storage: Arc<dyn Storage>, limits: &Limits) -> Router {
    let state = AppState {
        storage,
        sign_in_limiter: Arc::new(RateLimiter::new(
            limits.sign_ins_per_minute,
            Duration::from_secs(60),
        )),
        password_checks: Arc::new(tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, usize::from),
        )),
        request_timeout: limits.request_timeout,
        budget: BodyBudget::new(limits),
        max_body_bytes: limits.max_body_bytes,
        body_idle_timeout: limits.body_idle_timeout,
        token_idle: limits.token_idle,
        refusal_audit: Arc::default(),
        proxies: Arc::new(limits.trusted_proxies.clone()),
        max_blob_bytes: limits.max_blob_bytes,
        exports: Arc::new(tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, usize::from),
        )),
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/sign-in", post(sign_in))
        .route("/v1/sync", post(sync))
        .route("/v1/sign-out", post(sign_out))
        .route(
            "/v1/blobs/{hash}",
            get(blobs::fetch_blob).put(blobs::send_blob),
        )
        .route("/v1/blobs/{hash}/status", get(blobs::blob_status))
        .route("/v1/records/{id}/pdf", get(exports::record_pdf))
        .route("/v1/cases/{id}/archive", post(exports::case_archive))
        .route("/v1/team/devices", get(team::team_devices))
        .route("/v1/{*rest}", any(|| async { ApiError::NotFound }))
        .fallback(|| async { ApiError::NotFound })
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Everything a request can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// No token, or one the server does not know.
    Unauthenticated,
    /// The device was revoked: it must wipe its data.
    DeviceRevoked,
    /// The device's token went unused too long: the worker signs in again.
    TokenExpired,
    /// Wrong user or password.
    BadCredentials,
    /// Too many sign-in attempts.
    RateLimited,
    /// The device is already sending a sync.
    Busy,
    /// The account is locked after too many failed sign-ins.
    AccountLocked,
    /// The device's cursor is from before the server was restored from a backup.
    ServerRestored,
    /// No access to a case.
    Forbidden,
    /// The body is larger than the limit.
    TooLarge,
    /// The body is not of the expected type, which this names.
    UnsupportedMediaType(&'static str),
    /// The body is malformed or its content invalid; nothing was stored.
    Invalid {
        /// A stable code.
        code: &'static str,
        /// What was wrong (never note text).
        message: String,
    },
    /// A document's push was refused by a rule the answer names; nothing was stored.
    Refused {
        /// A stable code.
        code: String,
        /// What was wrong (never note text).
        message: String,
    },
    /// The request ran past its deadline; nothing of it was stored.
    TimedOut,
    /// No such route.
    NotFound,
    /// What was asked for is not there for this device (an attachment's blob or a record:
    /// 404), was erased (410), or a piece of a blob does not fit what the server holds (409,
    /// 422).
    Resource {
        /// The status.
        status: StatusCode,
        /// A stable code.
        code: &'static str,
        /// What was wrong, and what to do.
        message: String,
    },
    /// Something failed on the server.
    Internal,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            ApiError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "a valid device token is required".to_owned(),
            ),
            ApiError::DeviceRevoked => (
                StatusCode::UNAUTHORIZED,
                DEVICE_REVOKED,
                "this device was revoked: wipe its data".to_owned(),
            ),
            ApiError::TokenExpired => (
                StatusCode::UNAUTHORIZED,
                TOKEN_EXPIRED,
                "this device has not synced for too long: sign in again".to_owned(),
            ),
            ApiError::BadCredentials => (
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                "wrong user name or password".to_owned(),
            ),
            ApiError::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many sign-in attempts: wait a minute".to_owned(),
            ),
            ApiError::Busy => (
                StatusCode::TOO_MANY_REQUESTS,
                "busy",
                "this device is already sending a sync: wait for its answer".to_owned(),
            ),
            ApiError::AccountLocked => (
                StatusCode::FORBIDDEN,
                "account_locked",
                "this account is locked after too many failed sign-ins: ask your administrator \
                 to set a new password"
                    .to_owned(),
            ),
            ApiError::ServerRestored => (
                StatusCode::CONFLICT,
                SERVER_RESTORED,
                "the server was restored from a backup: send everything again from an empty cursor"
                    .to_owned(),
            ),
            ApiError::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "no access to that case".to_owned(),
            ),
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the request body is over the limit".to_owned(),
            ),
            ApiError::UnsupportedMediaType(expected) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("expected {expected}"),
            ),
            ApiError::Invalid { code, message } => {
                (StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
            ApiError::Refused { code, message } => {
                let body = ErrorBody {
                    error: ErrorDetail { code, message },
                };
                return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
            }
            ApiError::TimedOut => (
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request took too long and nothing of it was stored: try again".to_owned(),
            ),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint".to_owned(),
            ),
            ApiError::Resource {
                status,
                code,
                message,
            } => (status, code, message),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the server failed; try again later".to_owned(),
            ),
        };
        (
            status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code: code.to_owned(),
                    message,
                },
            }),
        )
            .into_response()
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::ServerRestored => ApiError::ServerRestored,
            StorageError::TimedOut => ApiError::TimedOut,
            StorageError::Refused(refusal) => ApiError::Refused {
                code: refusal.code,
                message: refusal.message,
            },
            other => {
                tracing::error!(error = %other, "storage failed");
                ApiError::Internal
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| {
            tracing::error!(%error, "a storage task panicked");
            ApiError::Internal
        })?
        .map_err(ApiError::from)
}

/// Whether a request says its body is JSON (`application/json`, with or without parameters).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("application/json"))
}

/// The address of the client a request comes from: the connection's, or the one a trusted
/// proxy reports ([`crate::proxies`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        Ok(ClientAddress(
            state.proxies.client_address(peer, &parts.headers),
        ))
    }
}

async fn healthz() -> Json<crate::Health> {
    Json(crate::Health::now())
}

async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SignedIn>, ApiError> {
    // Only JSON: a web page elsewhere may send a form or text/plain across origins without
    // asking first, but not JSON, so no page can try passwords (and lock accounts) from its
    // visitors' browsers.
    let refused = if !is_json(&headers) {
        Some(ApiError::UnsupportedMediaType("application/json"))
    } else if declared_length(&headers).is_some_and(|length| length > SIGN_IN_MAX_BYTES) {
        Some(ApiError::TooLarge)
    } else {
        None
    };
    if let Some(error) = refused {
        return Err(refuse_unread(body, error, state.body_idle_timeout));
    }
    let payload = read_body(body, SIGN_IN_MAX_BYTES, state.body_idle_timeout).await?;
    let request: SignIn = serde_json::from_slice(&payload).map_err(|_| ApiError::Invalid {
        code: "malformed_json",
        message: "expected {\"user\", \"password\", \"device_name\"}".into(),
    })?;
    let attempt = SignInAttempt::new(&request.user, client);
    let now = Instant::now();
    let user_key = format!("user:{}", attempt.name.to_lowercase());
    let peer_key = format!("peer:{}", AddressKey::of(client));
    if !state.sign_in_limiter.allow(&peer_key, now) || !state.sign_in_limiter.allow(&user_key, now)
    {
        attempt.refused(&state, "rate_limited").await;
        return Err(ApiError::RateLimited);
    }
    let user = attempt.user.clone();
    let storage = state.storage.clone();
    let lookup = user.clone();
    let credentials = blocking(move || match lookup {
        Some(user) => storage.credentials(&user),
        None => Ok(None),
    })
    .await?;
    let failed_before = credentials.as_ref().map_or(0, |c| c.failed_sign_ins);
    if user.is_some() && failed_before >= auth::LOCK_AFTER_FAILURES {
        attempt.refused(&state, "account_locked").await;
        return Err(ApiError::AccountLocked);
    }
    let hash = credentials.map(|credentials| credentials.password_hash);
    let password = request.password;
    let permit = state
        .password_checks
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::Internal)?;
    let valid = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        auth::verify_password(hash.as_deref(), &password)
    })
    .await
    .map_err(|_| ApiError::Internal)?;
    if !valid && let Some(user) = &user {
        let storage = state.storage.clone();
        let failing = user.clone();
        let failures = blocking(move || storage.sign_in_failed(&failing)).await?;
        if failures == auth::LOCK_AFTER_FAILURES {
            tracing::warn!(
                failures,
                "an account was locked after consecutive failed sign-ins"
            );
            // Always written, whatever the flood: an administrator must be able to see it.
            audit(
                &state,
                vec![attempt.entry("account_locked", &format!("{failures} failed sign-ins"))],
            )
            .await;
        }
    }
    let Some(user) = user.filter(|_| valid) else {
        attempt.refused(&state, "bad_credentials").await;
        return Err(ApiError::BadCredentials);
    };
    let (token, token_hash) = auth::new_token().map_err(|_| ApiError::Internal)?;
    let storage = state.storage.clone();
    let device_user = user.clone();
    let name: String = request.device_name.chars().take(100).collect();
    let device_id = blocking(move || {
        if failed_before > 0 {
            storage.sign_in_succeeded(&device_user)?;
        }
        storage.create_device(&device_user, &name, &token_hash)
    })
    .await?;
    let mut signed_in = attempt.entry("sign_in", "");
    signed_in.device = Some(device_id.clone());
    audit(&state, vec![signed_in]).await;
    Ok(Json(SignedIn { token, device_id }))
}

/// A sign-in as the audit log records it: the name tried (an account's, or a bounded and
/// escaped copy of what was typed) and the client's address.
struct SignInAttempt {
    /// The account named, if the name is one an account could have.
    user: Option<UserId>,
    /// The name as given, at most [`SignInAttempt::NAME_CHARS`] characters.
    name: String,
    address: IpAddr,
}

impl SignInAttempt {
    /// The most of a sign-in's user name kept anywhere (user names have at most 64).
    const NAME_CHARS: usize = 64;

    fn new(name: &str, address: IpAddr) -> SignInAttempt {
        SignInAttempt {
            user: name.parse().ok(),
            name: name.chars().take(Self::NAME_CHARS).collect(),
            address,
        }
    }

    fn entry(&self, action: &str, detail: &str) -> AuditEntry {
        let detail = match &self.user {
            Some(_) => detail.to_owned(),
            // Not a name any account could have: kept, escaped, so that an administrator
            // sees what was tried and a terminal shows it as text.
            None => format!("{detail} (user name {:?})", self.name),
        };
        AuditEntry {
            user: self.user.clone(),
            device: None,
            case: None,
            action: action.to_owned(),
            detail: detail.trim_start().to_owned(),
            address: Some(self.address.to_string()),
        }
    }

    /// Audits a refusal, within the budget for refusals ([`RefusalAudit`]).
    async fn refused(&self, state: &AppState, code: &str) {
        let mut entries = Vec::new();
        match state.refusal_audit.admit(Instant::now()) {
            RefusalAdmission::Skip => return,
            RefusalAdmission::Write { skipped_before } => {
                if skipped_before > 0 {
                    entries.push(AuditEntry {
                        user: None,
                        device: None,
                        case: None,
                        action: "sign_in_refusals_not_itemised".to_owned(),
                        detail: format!("{skipped_before} refused sign-ins over the budget"),
                        address: None,
                    });
                }
            }
        }
        entries.push(self.entry("sign_in_refused", code));
        audit(state, entries).await;
    }
}

/// Refused sign-ins written to the audit log: at most [`RefusalAudit::PER_MINUTE`] a minute,
/// so that a flood of attempts from anywhere costs a bounded number of rows. Those over the
/// budget are counted, and the count is written with the next one itemised.
#[derive(Debug, Default)]
struct RefusalAudit {
    window: std::sync::Mutex<RefusalWindow>,
}

#[derive(Debug, Default)]
struct RefusalWindow {
    started: Option<Instant>,
    written: u32,
    skipped: u64,
}

enum RefusalAdmission {
    Write { skipped_before: u64 },
    Skip,
}

impl RefusalAudit {
    const PER_MINUTE: u32 = 120;

    fn admit(&self, now: Instant) -> RefusalAdmission {
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if window
            .started
            .is_none_or(|started| now.duration_since(started) >= Duration::from_secs(60))
        {
            window.started = Some(now);
            window.written = 0;
        }
        if window.written >= Self::PER_MINUTE {
            if window.skipped == 0 {
                tracing::warn!(
                    "over {} refused sign-ins this minute: the rest are counted, not itemised",
                    Self::PER_MINUTE
                );
            }
            window.skipped += 1;
            return RefusalAdmission::Skip;
        }
        window.written += 1;
        RefusalAdmission::Write {
            skipped_before: std::mem::take(&mut window.skipped),
        }
    }
}

/// Signs the device out: its token stops working at once. The app wipes itself after.
async fn sign_out(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let device = authenticate(&state, &headers, client).await?;
    let storage = state.storage.clone();
    let id = device.id.clone();
    blocking(move || storage.revoke_device(&id)).await?;
    audit(&state, vec![entry(&device, None, "sign_out", "")]).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The device a request's token belongs to, if the token still works: not revoked, and used
/// within [`Limits::token_idle`].
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    client: IpAddr,
) -> Result<Device, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthenticated)?;
    let hash = auth::token_hash(token.trim());
    let storage = state.storage.clone();
    let mut device = blocking(move || storage.device_by_token(&hash))
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    device.address = Some(client.to_string());
    if device.revoked {
        audit(state, vec![entry(&device, None, "refused", DEVICE_REVOKED)]).await;
        return Err(ApiError::DeviceRevoked);
    }
    let now = chrono::Utc::now();
    let idle = device
        .last_used
        .map_or(chrono::TimeDelta::zero(), |last| now - last);
    if idle.to_std().is_ok_and(|idle| idle > state.token_idle) {
        audit(state, vec![entry(&device, None, "refused", TOKEN_EXPIRED)]).await;
        return Err(ApiError::TokenExpired);
    }
    // Written at most once an hour a device, rather than with every sync.
    if device.last_used.is_none() || idle > chrono::TimeDelta::hours(1) {
        let storage = state.storage.clone();
        let id = device.id.clone();
        blocking(move || storage.device_used(&id)).await?;
    }
    Ok(device)
}

async fn sync(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let deadline = std::time::Instant::now() + state.request_timeout;
    let (device, _share) = match admit_sync(&state, client, &headers).await {
        Ok(admitted) => admitted,
        Err(error) => return Err(refuse_unread(body, error, state.body_idle_timeout)),
    };
    let payload = read_body(body, state.max_body_bytes, state.body_idle_timeout).await?;
    let request: SyncRequest = protocol::decode(&payload).map_err(|error| match error {
        ProtocolError::Version(version) => ApiError::Invalid {
            code: "unsupported_protocol",
            message: format!(
                "this app speaks sync protocol {version} and the server speaks {}: update the app",
                protocol::VERSION
            ),
        },
        error => ApiError::Invalid {
            code: "malformed_sync_request",
            message: error.to_string(),
        },
    })?;
    let from = LogPosition::from_cursor(&request.cursor).map_err(|error| ApiError::Invalid {
        code: "bad_cursor",
        message: error.to_string(),
    })?;
    // The pushes, the page of pulls and the audit entries, committed together.
    let storage = state.storage.clone();
    let syncing = device.clone();
    let response =
        match blocking(move || storage.sync(&syncing, request.pushes, from, deadline)).await {
            Ok(response) => response,
            Err(ApiError::ServerRestored) => {
                audit(
                    &state,
                    vec![entry(&device, None, "sync_refused", SERVER_RESTORED)],
                )
                .await;
                return Err(ApiError::ServerRestored);
            }
            Err(error) => {
                let (action, code) = match &error {
                    ApiError::Invalid { code, .. } => ("push_refused", *code),
                    _ => ("sync_failed", "internal"),
                };
                audit(&state, vec![entry(&device, None, action, code)]).await;
                return Err(error);
            }
        };
    Ok((
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        protocol::encode(&response),
    )
        .into_response())
}

/// What a sync must be granted before its body is read (see `admission`): a token that
/// works, the right content type, a length within the limit, and its share of the budget.
async fn admit_sync(
    state: &AppState,
    client: IpAddr,
    headers: &HeaderMap,
) -> Result<(Device, Share), ApiError> {
    let device = authenticate(state, headers, client).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    if content_type != Some(CONTENT_TYPE) {
        return Err(ApiError::UnsupportedMediaType(CONTENT_TYPE));
    }
    let declared = declared_length(headers);
    if declared.is_some_and(|length| length > state.max_body_bytes) {
        return Err(ApiError::TooLarge);
    }
    let share = state.budget.admit(&device.id, client, declared).await?;
    Ok((device, share))
}

fn entry(device: &Device, case: Option<CaseId>, action: &str, detail: &str) -> AuditEntry {
    AuditEntry {
        user: Some(device.user.clone()),
        device: Some(device.id.clone()),
        case,
        action: action.to_owned(),
        detail: detail.to_owned(),
        address: device.address.clone(),
    }
}

/// Writes audit entries; a failure to audit is logged, and does not fail the request.
async fn audit(state: &AppState, entries: Vec<AuditEntry>) {
    let storage = state.storage.clone();
    if let Err(error) =
        blocking(move || entries.into_iter().try_for_each(|e| storage.audit(e))).await
    {
        tracing::error!(?error, "writing the audit log failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_over_the_minutes_budget_are_counted_and_the_count_written_with_the_next() {
        let budget = RefusalAudit::default();
        let start = Instant::now();
        for _ in 0..RefusalAudit::PER_MINUTE {
            assert!(matches!(
                budget.admit(start),
                RefusalAdmission::Write { skipped_before: 0 }
            ));
        }
        for _ in 0..500 {
            assert!(matches!(budget.admit(start), RefusalAdmission::Skip));
        }
        let next_minute = start + Duration::from_secs(61);
        assert!(matches!(
            budget.admit(next_minute),
            RefusalAdmission::Write {
                skipped_before: 500
            }
        ));
        assert!(matches!(
            budget.admit(next_minute),
            RefusalAdmission::Write { skipped_before: 0 }
        ));
    }
}
