//! The HTTP API: sign-in, sync, health. Every error is JSON,
//! `{"error": {"code": ..., "message": ...}}`; client errors say what was wrong, internal
//! errors are logged and answered with a generic message.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};

use doorstep_shared::sync::protocol::{
    self, CONTENT_TYPE, DEVICE_REVOKED, ErrorBody, ErrorDetail, ProtocolError, SERVER_RESTORED,
    SignIn, SignedIn, SyncRequest,
};
use doorstep_shared::sync::server::LogPosition;
use doorstep_shared::{CaseId, UserId};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{self, RateLimiter};
use crate::storage::{AuditEntry, Device, Storage, StorageError};

/// Limits the server enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Sign-in attempts allowed per user name, and per client address, per minute.
    pub sign_ins_per_minute: usize,
    /// Request bodies held in memory at once, across all requests. A request waits for its
    /// share (twice its declared length, or twice `max_body_bytes` if it declares none,
    /// since a body is gathered into one buffer from the pieces it arrived in) before its
    /// body is read, so however many clients send at once, bodies never take more than this.
    pub bodies_in_memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 32 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            sign_ins_per_minute: 10,
            bodies_in_memory_bytes: 256 * 1024 * 1024,
        }
    }
}

/// What handlers share.
#[derive(Clone)]
struct AppState {
    storage: Arc<dyn Storage>,
    sign_in_limiter: Arc<RateLimiter>,
    /// Password checks running at once: one per core. Each takes 19 MiB and a core for tens
    /// of milliseconds, so a crowd signing in at once waits its turn instead of taking the
    /// server's memory.
    password_checks: Arc<tokio::sync::Semaphore>,
    /// How long a request may take ([`Limits::request_timeout`]): past it, a sync's work
    /// stops.
    request_timeout: Duration,
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
    };
    let budget = BodyBudget::new(limits);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/sign-in", post(sign_in))
        .route("/v1/sync", post(sync))
        .route("/v1/{*rest}", any(|| async { ApiError::NotFound }))
        .fallback(|| async { ApiError::NotFound })
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            budget,
            BodyBudget::admit,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The memory request bodies may take at once ([`Limits::bodies_in_memory_bytes`]), counted
/// in KiB so that any budget fits a semaphore's permits.
#[derive(Debug, Clone)]
struct BodyBudget {
    kib: Arc<tokio::sync::Semaphore>,
    max_body_bytes: usize,
}

impl BodyBudget {
    fn new(limits: &Limits) -> BodyBudget {
        let kib =
            (limits.bodies_in_memory_bytes / 1024).max(2 * (limits.max_body_bytes / 1024 + 1));
        BodyBudget {
            kib: Arc::new(tokio::sync::Semaphore::new(kib)),
            max_body_bytes: limits.max_body_bytes,
        }
    }

    /// Holds the request's share of the budget while it is served. Waiting is bounded by the
    /// request timeout, which wraps this.
    async fn admit(
        State(budget): State<BodyBudget>,
        request: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> Response {
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
        let bytes = match declared {
            Some(length) => length.min(budget.max_body_bytes),
            None if request.method() == axum::http::Method::GET => 0,
            None => budget.max_body_bytes,
        };
        // A body is held twice for a moment: in the pieces it arrived in, and gathered into
        // one buffer.
        let kib = u32::try_from(2 * bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        let Ok(_share) = budget.kib.acquire_many(kib).await else {
            return ApiError::Internal.into_response();
        };
        next.run(request).await
    }
}

/// Everything a request can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// No token, or one the server does not know.
    Unauthenticated,
    /// The device was revoked: it must wipe its data.
    DeviceRevoked,
    /// Wrong user or password.
    BadCredentials,
    /// Too many sign-in attempts.
    RateLimited,
    /// The account is locked after too many failed sign-ins.
    AccountLocked,
    /// The device's cursor is from before the server was restored from a backup.
    ServerRestored,
    /// No access to a case.
    Forbidden,
    /// The body is larger than the limit.
    TooLarge,
    /// The body is not of the expected type.
    UnsupportedMediaType,
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
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("expected {CONTENT_TYPE}"),
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

fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::Invalid {
                code: "unreadable_body",
                message: "the request body could not be read".into(),
            }
        }
    })
}

async fn healthz() -> Json<crate::Health> {
    Json(crate::Health::now())
}

async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Json<SignedIn>, ApiError> {
    let payload = body(payload)?;
    let request: SignIn = serde_json::from_slice(&payload).map_err(|_| ApiError::Invalid {
        code: "malformed_json",
        message: "expected {\"user\", \"password\", \"device_name\"}".into(),
    })?;
    let now = Instant::now();
    let user_key = format!("user:{}", request.user.to_lowercase());
    let peer_key = format!("peer:{}", peer.ip());
    if !state.sign_in_limiter.allow(&peer_key, now) || !state.sign_in_limiter.allow(&user_key, now)
    {
        audit(
            &state,
            vec![sign_in_entry(None, None, "sign_in_refused", "rate_limited")],
        )
        .await;
        return Err(ApiError::RateLimited);
    }
    let user: Option<UserId> = request.user.parse().ok();
    let storage = state.storage.clone();
    let lookup = user.clone();
    let credentials = blocking(move || match lookup {
        Some(user) => storage.credentials(&user),
        None => Ok(None),
    })
    .await?;
    let failed_before = credentials.as_ref().map_or(0, |c| c.failed_sign_ins);
    if let Some(user) = &user
        && failed_before >= auth::LOCK_AFTER_FAILURES
    {
        audit(
            &state,
            vec![sign_in_entry(
                Some(user.clone()),
                None,
                "sign_in_refused",
                "account_locked",
            )],
        )
        .await;
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
            audit(
                &state,
                vec![sign_in_entry(
                    Some(user.clone()),
                    None,
                    "account_locked",
                    &format!("{failures} failed sign-ins"),
                )],
            )
            .await;
        }
    }
    let Some(user) = user.filter(|_| valid) else {
        audit(
            &state,
            vec![sign_in_entry(
                None,
                None,
                "sign_in_refused",
                "bad_credentials",
            )],
        )
        .await;
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
    audit(
        &state,
        vec![sign_in_entry(
            Some(user),
            Some(device_id.clone()),
            "sign_in",
            "",
        )],
    )
    .await;
    Ok(Json(SignedIn { token, device_id }))
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Device, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthenticated)?;
    let hash = auth::token_hash(token.trim());
    let storage = state.storage.clone();
    let device = blocking(move || storage.device_by_token(&hash))
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    if device.revoked {
        audit(state, vec![entry(&device, None, "refused", DEVICE_REVOKED)]).await;
        return Err(ApiError::DeviceRevoked);
    }
    Ok(device)
}

async fn sync(
    State(state): State<AppState>,
    headers: HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let deadline = std::time::Instant::now() + state.request_timeout;
    let device = authenticate(&state, &headers).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    if content_type != Some(CONTENT_TYPE) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let payload = body(payload)?;
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

fn entry(device: &Device, case: Option<CaseId>, action: &str, detail: &str) -> AuditEntry {
    AuditEntry {
        user: Some(device.user.clone()),
        device: Some(device.id.clone()),
        case,
        action: action.to_owned(),
        detail: detail.to_owned(),
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

/// An audit entry for a sign-in attempt, before any device exists.
fn sign_in_entry(
    user: Option<UserId>,
    device: Option<String>,
    action: &str,
    detail: &str,
) -> AuditEntry {
    AuditEntry {
        user,
        device,
        case: None,
        action: action.to_owned(),
        detail: detail.to_owned(),
    }
}
