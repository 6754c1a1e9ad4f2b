//! # doorstep-sync-server
//!
//! The agency's sync server. Devices sync their case and record documents with it; it keeps
//! them, checks who may read what, and answers health checks for the operator.
//!
//! The server is a library so that tests start it on port 0 with [`launch`], and the binary
//! in `main.rs` only parses the command line and calls it.

pub mod storage;
pub mod validate;

use std::future::Future;

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;

/// What `/healthz` answers.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Health {
    /// Always `"ok"` when the server answers at all.
    pub status: &'static str,
    /// The server's version.
    pub version: &'static str,
    /// The document layout version this server reads and writes.
    pub document_schema: i64,
}

/// The server's routes.
pub fn router() -> Router {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        document_schema: doorstep_shared::document::SCHEMA_VERSION,
    })
}

/// Serves on `listener` until `shutdown` completes, then finishes the requests under way.
pub async fn launch(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router())
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn healthz_answers_with_the_document_schema() {
        let response = router()
            .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["status"], "ok");
        assert_eq!(json["document_schema"], 1);
    }

    #[tokio::test]
    async fn unknown_paths_are_not_found() {
        let response = router()
            .oneshot(Request::get("/nothing-here").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
