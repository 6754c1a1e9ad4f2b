//! `GET /v1/records/{id}/pdf`: a record as a PDF, for a member of its case's team; and
//! `POST /v1/cases/{id}/archive`: a case for a subject access request, for a supervisor of
//! its team.
//!
//! A record or case the user may not read is answered exactly as one that does not exist
//! (404), so that a modified client learns nothing of other teams' cases by asking.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use doorstep_shared::export::redact::Redaction;
use doorstep_shared::model::TeamRole;
use doorstep_shared::sync::protocol::{
    ARCHIVE_MEDIA_TYPE, ArchiveRequest, CASE_NOT_FOUND, PDF_MEDIA_TYPE, RECORD_NOT_FOUND,
};
use doorstep_shared::{CaseId, DocId, RecordId};

use super::{ApiError, AppState, ClientAddress, audit, authenticate, entry, is_json};
use crate::admission::{read_body, refuse_unread};
use crate::export::{self, ExportError};
use crate::storage::Device;

/// The most an archive request's body may be: a list of names.
const ARCHIVE_REQUEST_MAX_BYTES: usize = 64 * 1024;

fn not_found() -> ApiError {
    ApiError::Resource {
        status: StatusCode::NOT_FOUND,
        code: RECORD_NOT_FOUND,
        message: "no record of your cases has this id: sync the record first".into(),
    }
}

/// `GET /v1/records/{id}/pdf`.
pub(super) async fn record_pdf(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let device = authenticate(&state, &headers, client).await?;
    let record: Option<RecordId> = id.parse().ok();
    let storage = state.storage.clone();
    let user = device.user.clone();
    let case = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let Some(record) = record else {
            return Ok(None);
        };
        let Some(case) = storage.document_case(&DocId::Record(record))? else {
            return Ok(None);
        };
        Ok(storage
            .may_read_case(&user, case)?
            .then_some((record, case)))
    })
    .await
    .map_err(|_| ApiError::Internal)??;
    let Some((record, case)) = case else {
        return Err(refuse(&state, &device, None, RECORD_NOT_FOUND, not_found()).await);
    };
    let _turn = state
        .exports
        .acquire()
        .await
        .map_err(|_| ApiError::Internal)?;
    let storage = state.storage.clone();
    let made = tokio::task::spawn_blocking(move || export::record_pdf(storage.as_ref(), record))
        .await
        .map_err(|_| ApiError::Internal)?;
    let bytes = match made {
        Ok(bytes) => bytes,
        Err(ExportError::NoSuchRecord(_)) => return Err(not_found()),
        Err(error) => {
            tracing::error!(%record, %error, "a record's PDF was not made");
            return Err(ApiError::Internal);
        }
    };
    audit(
        &state,
        vec![entry(
            &device,
            Some(case),
            "record_exported",
            &record.to_string(),
        )],
    )
    .await;
    Ok((
        download_headers(PDF_MEDIA_TYPE, &format!("record-{record}.pdf"))?,
        bytes,
    )
        .into_response())
}

/// Audits a refused export, and gives back the answer to it.
async fn refuse(
    state: &AppState,
    device: &Device,
    case: Option<CaseId>,
    code: &str,
    answer: ApiError,
) -> ApiError {
    audit(state, vec![entry(device, case, "export_refused", code)]).await;
    answer
}

/// The headers of a file the browser downloads as `name`.
fn download_headers(
    media_type: &'static str,
    name: &str,
) -> Result<[(HeaderName, HeaderValue); 2], ApiError> {
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok([
        (header::CONTENT_TYPE, HeaderValue::from_static(media_type)),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).map_err(|_| ApiError::Internal)?,
        ),
    ])
}

fn case_not_found() -> ApiError {
    ApiError::Resource {
        status: StatusCode::NOT_FOUND,
        code: CASE_NOT_FOUND,
        message: "no case of yours has this id".into(),
    }
}

/// `POST /v1/cases/{id}/archive` with `{"redact": [names]}`: the case as a zip for a subject
/// access request, for a supervisor of the case's team. Other members get 403; anyone else
/// 404, as for a case that does not exist.
pub(super) async fn case_archive(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let idle = state.body_idle_timeout;
    let device = match authenticate(&state, &headers, client).await {
        Ok(device) => device,
        Err(error) => return Err(refuse_unread(body, error, idle)),
    };
    if !is_json(&headers) {
        return Err(refuse_unread(
            body,
            ApiError::UnsupportedMediaType("application/json"),
            idle,
        ));
    }
    let payload = read_body(body, ARCHIVE_REQUEST_MAX_BYTES, idle).await?;
    let request: ArchiveRequest =
        serde_json::from_slice(&payload).map_err(|_| ApiError::Invalid {
            code: "malformed_json",
            message: "expected {\"redact\": [names]}".into(),
        })?;
    let redaction = Redaction::new(&request.redact).map_err(|error| ApiError::Invalid {
        code: "name_too_short",
        message: error.to_string(),
    })?;
    let case: Option<CaseId> = id.parse().ok();
    let storage = state.storage.clone();
    let user = device.user.clone();
    let role = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        match case {
            Some(case) => Ok(storage.role_on_case(&user, case)?.map(|role| (case, role))),
            None => Ok(None),
        }
    })
    .await
    .map_err(|_| ApiError::Internal)??;
    let case = match role {
        Some((case, TeamRole::Supervisor)) => case,
        Some((case, _)) => {
            let answer = ApiError::Resource {
                status: StatusCode::FORBIDDEN,
                code: "not_a_supervisor",
                message: "a case's archive is for a supervisor of its team".into(),
            };
            return Err(refuse(&state, &device, Some(case), "not_a_supervisor", answer).await);
        }
        None => {
            return Err(refuse(&state, &device, None, CASE_NOT_FOUND, case_not_found()).await);
        }
    };
    let _turn = state
        .exports
        .acquire()
        .await
        .map_err(|_| ApiError::Internal)?;
    let storage = state.storage.clone();
    let names = redaction.names().count();
    let made = tokio::task::spawn_blocking(move || -> Result<_, ExportError> {
        // On disk, not in memory: a case's photos may be hundreds of megabytes. The file has
        // no name, and goes when it is closed.
        let mut file = tempfile::tempfile()?;
        let summary = export::archive::case_archive(
            storage.as_ref(),
            case,
            &redaction,
            std::io::BufWriter::new(&mut file),
        )?;
        use std::io::Seek;
        file.rewind()?;
        Ok((file, summary))
    })
    .await
    .map_err(|_| ApiError::Internal)?;
    let (file, summary) = match made {
        Ok(made) => made,
        Err(ExportError::NoSuchCase(_)) => return Err(case_not_found()),
        Err(error) => {
            tracing::error!(%case, %error, "a case's archive was not made");
            return Err(ApiError::Internal);
        }
    };
    audit(
        &state,
        vec![entry(
            &device,
            Some(case),
            "case_exported",
            &format!(
                "{} records, {} attachments, {names} names redacted",
                summary.records, summary.attachments
            ),
        )],
    )
    .await;
    let length = file.metadata().map(|metadata| metadata.len()).ok();
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let mut response = (
        download_headers(ARCHIVE_MEDIA_TYPE, &format!("case-{case}.zip"))?,
        Body::from_stream(stream),
    )
        .into_response();
    if let Some(length) = length {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    Ok(response)
}
