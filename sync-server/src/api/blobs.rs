//! Attachments' blobs: `GET /v1/blobs/{hash}/status`, `PUT /v1/blobs/{hash}` (a piece, from
//! an offset, stored as it arrives) and `GET /v1/blobs/{hash}` (a range).
//!
//! Access follows the notes: a device may send or fetch a blob only while a document of a
//! case its user may read names it ([`Storage::blob_named_for`]), so a blob is sent after the
//! document that names it, and a blob nobody may see is answered exactly as one that does
//! not exist (404).

use std::net::IpAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;

use doorstep_shared::attachments::BlobHash;
use doorstep_shared::sync::protocol::{
    BLOB_ERASED, BLOB_NOT_FOUND, BLOB_NOT_UPLOADED, BlobProgress, HASH_MISMATCH, WRONG_OFFSET,
};

use super::{ApiError, AppState, ClientAddress, audit, authenticate, blocking, entry};
use crate::admission::refuse_unread;
use crate::storage::{BlobAppend, BlobInfo, Device};

/// What a piece is gathered into before it is stored: a cut connection loses at most this
/// much of what it carried.
const PIECE_BYTES: usize = 256 * 1024;

/// The most one `GET` answers with: a device asks for a large blob in ranges.
const MAX_RANGE_BYTES: u64 = 4 * 1024 * 1024;

/// Where a `PUT` piece starts and how long the whole blob is.
#[derive(Debug, Deserialize)]
pub(super) struct PieceAt {
    offset: u64,
    size: u64,
}

fn parse_hash(text: &str) -> Result<BlobHash, ApiError> {
    text.parse().map_err(|_| not_found())
}

fn not_found() -> ApiError {
    ApiError::Resource {
        status: StatusCode::NOT_FOUND,
        code: BLOB_NOT_FOUND,
        message: "no record of your cases names this attachment: sync the record first".into(),
    }
}

fn erased(info: &BlobInfo) -> ApiError {
    let message = info
        .erased
        .as_ref()
        .map_or_else(|| "erased".to_owned(), |erasure| erasure.describe());
    ApiError::Resource {
        status: StatusCode::GONE,
        code: BLOB_ERASED,
        message: format!("this attachment was {message}"),
    }
}

/// The device, and the media type a document of its user's cases gives the blob: else 404.
async fn admit(
    state: &AppState,
    headers: &HeaderMap,
    client: IpAddr,
    hash: BlobHash,
) -> Result<(Device, String), ApiError> {
    let device = authenticate(state, headers, client).await?;
    let storage = state.storage.clone();
    let user = device.user.clone();
    let named = blocking(move || storage.blob_named_for(&hash, &user)).await?;
    match named {
        Some(media_type) => Ok((device, media_type)),
        None => {
            audit(
                state,
                vec![entry(&device, None, "blob_refused", BLOB_NOT_FOUND)],
            )
            .await;
            Err(not_found())
        }
    }
}

async fn info(state: &AppState, hash: BlobHash) -> Result<Option<BlobInfo>, ApiError> {
    let storage = state.storage.clone();
    blocking(move || storage.blob_info(&hash)).await
}

fn progress(info: Option<&BlobInfo>, size: u64) -> BlobProgress {
    match info {
        Some(info) => BlobProgress {
            size: info.size,
            received: info.received,
            whole: info.is_whole(),
        },
        None => BlobProgress {
            size,
            received: 0,
            whole: false,
        },
    }
}

/// `GET /v1/blobs/{hash}/status`: how much of the blob the server holds.
pub(super) async fn blob_status(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Path(hash): Path<String>,
    headers: HeaderMap,
) -> Result<Json<BlobProgress>, ApiError> {
    let hash = parse_hash(&hash)?;
    admit(&state, &headers, client, hash).await?;
    let info = info(&state, hash).await?;
    if let Some(info) = info.as_ref().filter(|info| info.erased.is_some()) {
        return Err(erased(info));
    }
    Ok(Json(progress(info.as_ref(), 0)))
}

/// `PUT /v1/blobs/{hash}?offset=..&size=..`: a piece of the blob, from `offset`, stored as it
/// arrives, so a connection cut half-way keeps what it carried. The whole is checked against
/// the hash once its last byte is in.
pub(super) async fn send_blob(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Path(hash): Path<String>,
    Query(at): Query<PieceAt>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BlobProgress>, ApiError> {
    let idle = state.body_idle_timeout;
    let admitted = async {
        let hash = parse_hash(&hash)?;
        let (device, named_type) = admit(&state, &headers, client, hash).await?;
        let media_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if media_type != named_type {
            return Err(ApiError::Invalid {
                code: "wrong_media_type",
                message: format!("the record names this attachment as {named_type}"),
            });
        }
        if at.size > state.max_blob_bytes {
            return Err(ApiError::TooLarge);
        }
        let share = state
            .budget
            .admit(&device.id, client, Some(PIECE_BYTES))
            .await?;
        Ok((hash, device, media_type, share))
    }
    .await;
    let (hash, device, media_type, _share) = match admitted {
        Ok(admitted) => admitted,
        Err(error) => return Err(refuse_unread(body, error, idle)),
    };

    let mut stream = body.into_data_stream();
    let mut offset = at.offset;
    let mut piece: Vec<u8> = Vec::with_capacity(PIECE_BYTES);
    let mut outcome = None;
    loop {
        let next = tokio::time::timeout(idle, stream.next()).await;
        let frame = match next {
            Ok(Some(Ok(frame))) => Some(frame),
            Ok(None) => None,
            // Cut, or stalled: keep what arrived, and say so if anyone still listens.
            Ok(Some(Err(_))) | Err(_) => {
                if !piece.is_empty() {
                    store(&state, hash, &media_type, at.size, offset, &piece).await?;
                }
                return Err(ApiError::TimedOut);
            }
        };
        if let Some(frame) = &frame {
            piece.extend_from_slice(frame);
        }
        if piece.len() >= PIECE_BYTES || (frame.is_none() && !piece.is_empty()) {
            let stored = store(&state, hash, &media_type, at.size, offset, &piece).await?;
            offset += piece.len() as u64;
            piece.clear();
            match stored {
                BlobAppend::Stored(_) => {}
                other => {
                    outcome = Some(other);
                    break;
                }
            }
        }
        if frame.is_none() {
            break;
        }
    }
    match outcome {
        Some(BlobAppend::Whole) => {
            audit(
                &state,
                vec![entry(&device, None, "blob_stored", &hash.to_string())],
            )
            .await;
        }
        Some(BlobAppend::WrongOffset(received)) => {
            return Err(ApiError::Resource {
                status: StatusCode::CONFLICT,
                code: WRONG_OFFSET,
                message: format!("the server holds {received} bytes of it: send from there"),
            });
        }
        Some(BlobAppend::WrongSize) => {
            return Err(ApiError::Invalid {
                code: "wrong_size",
                message: "the blob is not that long".into(),
            });
        }
        Some(BlobAppend::Mismatch) => {
            audit(
                &state,
                vec![entry(&device, None, "blob_refused", HASH_MISMATCH)],
            )
            .await;
            return Err(ApiError::Invalid {
                code: HASH_MISMATCH,
                message: "the bytes sent do not have the hash they were sent as; none were kept"
                    .into(),
            });
        }
        Some(BlobAppend::Erased) => {
            let info = info(&state, hash).await?;
            return Err(info.as_ref().map_or_else(not_found, erased));
        }
        Some(BlobAppend::Stored(_)) | None => {}
    }
    let info = info(&state, hash).await?;
    Ok(Json(progress(info.as_ref(), at.size)))
}

async fn store(
    state: &AppState,
    hash: BlobHash,
    media_type: &str,
    size: u64,
    offset: u64,
    piece: &[u8],
) -> Result<BlobAppend, ApiError> {
    let storage = state.storage.clone();
    let (media_type, piece) = (media_type.to_owned(), piece.to_vec());
    blocking(move || storage.blob_append(&hash, &media_type, size, offset, &piece)).await
}

/// `GET /v1/blobs/{hash}` with `Range: bytes=<from>-[<to>]`: the bytes of a whole blob, at
/// most [`MAX_RANGE_BYTES`] at a time (206 with `Content-Range`).
pub(super) async fn fetch_blob(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Path(hash): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let hash = parse_hash(&hash)?;
    let (device, media_type) = admit(&state, &headers, client, hash).await?;
    let info = info(&state, hash).await?;
    let info = match info {
        Some(info) if info.erased.is_some() => return Err(erased(&info)),
        Some(info) if info.is_whole() => info,
        _ => {
            return Err(ApiError::Resource {
                status: StatusCode::NOT_FOUND,
                code: BLOB_NOT_UPLOADED,
                message: "the device that attached it has not sent it yet".into(),
            });
        }
    };
    let (from, to) = requested_range(&headers, info.size)?;
    let length = (to + 1 - from).min(MAX_RANGE_BYTES);
    let storage = state.storage.clone();
    let bytes = blocking(move || storage.blob_read(&hash, from, length)).await?;
    if from == 0 {
        audit(
            &state,
            vec![entry(&device, None, "blob_read", &hash.to_string())],
        )
        .await;
    }
    let last = from + bytes.len() as u64 - 1;
    let mut response = (StatusCode::PARTIAL_CONTENT, bytes).into_response();
    let headers = response.headers_mut();
    let range = format!("bytes {from}-{last}/{}", info.size);
    headers.insert(
        header::CONTENT_RANGE,
        HeaderValue::from_str(&range).map_err(|_| ApiError::Internal)?,
    );
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&media_type).map_err(|_| ApiError::Internal)?,
    );
    Ok(response)
}

/// The first and last byte a request asks for (`bytes=<from>-[<to>]`; all of it without a
/// `Range`), within a blob of `size` bytes; 416 past its end.
fn requested_range(headers: &HeaderMap, size: u64) -> Result<(u64, u64), ApiError> {
    let unsatisfiable = || ApiError::Resource {
        status: StatusCode::RANGE_NOT_SATISFIABLE,
        code: "bad_range",
        message: format!("ask for bytes=<from>-[<to>] within the blob's {size} bytes"),
    };
    let Some(range) = headers.get(header::RANGE) else {
        return Ok((0, size.saturating_sub(1)));
    };
    let spec = range
        .to_str()
        .ok()
        .and_then(|text| text.strip_prefix("bytes="))
        .ok_or_else(unsatisfiable)?;
    let (from, to) = spec.split_once('-').ok_or_else(unsatisfiable)?;
    let from: u64 = from.trim().parse().map_err(|_| unsatisfiable())?;
    let to: u64 = match to.trim() {
        "" => size.saturating_sub(1),
        to => to.parse().map_err(|_| unsatisfiable())?,
    };
    if from >= size || to < from {
        return Err(unsatisfiable());
    }
    Ok((from, to.min(size - 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn a_range_is_read_within_the_blob() {
        assert_eq!(requested_range(&HeaderMap::new(), 10).unwrap(), (0, 9));
        assert_eq!(requested_range(&range("bytes=4-"), 10).unwrap(), (4, 9));
        assert_eq!(requested_range(&range("bytes=2-5"), 10).unwrap(), (2, 5));
        assert_eq!(requested_range(&range("bytes=2-50"), 10).unwrap(), (2, 9));
        for bad in [
            "bytes=10-",
            "bytes=5-2",
            "items=0-1",
            "bytes=-5",
            "bytes=a-",
        ] {
            assert!(requested_range(&range(bad), 10).is_err(), "{bad}");
        }
    }
}
