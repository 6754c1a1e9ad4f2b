//! # doorstep-sync-server
//!
//! The agency's sync server. Devices sign in, then sync their case and record documents
//! with it in one round trip each: the server validates and stores what they push, and
//! answers with what they lack of the cases their teams hold.
//!
//! - [`api`]: the HTTP routes and their JSON errors;
//! - [`admission`]: the shares of memory a request's body may take, and slow clients;
//! - [`auth`]: passwords, device tokens, the sign-in rate limit;
//! - [`proxies`]: a client's address behind trusted reverse proxies;
//! - [`storage`]: the storage trait and its backends;
//! - [`settings`]: settings from defaults, a file and `DOORSTEP_*` variables;
//! - [`site`]: the web app's files and the cross-origin policy.
//!
//! The server is a library so that tests start it on port 0 with [`launch`]; the binary in
//! `main.rs` parses the command line and calls it.

pub mod admission;
pub mod api;
pub mod auth;
pub mod export;
pub mod proxies;
pub mod settings;
pub mod site;
pub mod storage;

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use tokio::net::TcpListener;

pub use api::{Limits, router};
pub use site::Site;

use crate::storage::Storage;

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

impl Health {
    fn now() -> Health {
        Health {
            status: "ok",
            version: env!("CARGO_PKG_VERSION"),
            document_schema: doorstep_shared::document::SCHEMA_VERSION,
        }
    }
}

/// Serves on `listener` until `shutdown` completes, then finishes the requests under way.
///
/// Each connection is served by hyper. A new connection must bring its first request's
/// headers within [`Limits::header_timeout`], or it is closed: a client that opens
/// connections and sends slowly, or nothing, holds none for long. A connection kept open
/// between requests waits [`Limits::keep_alive`] for the next one, as long as devices' HTTP
/// clients keep an idle connection, so that they never send on one the server has closed.
pub async fn launch(
    listener: TcpListener,
    storage: Arc<dyn Storage>,
    limits: &Limits,
    site: &Site,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let app = site.apply(router(storage, limits))?;
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.keep_alive);
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let first_request_within = limits.header_timeout;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // wait a moment rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Told when a request has arrived on the connection, headers whole.
        let arrived = Arc::new(tokio::sync::Notify::new());
        let first_request = arrived.clone();
        let app = app
            .clone()
            .map_request(move |mut request: axum::extract::Request<_>| {
                arrived.notify_one();
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            });
        let service = hyper_util::service::TowerToHyperService::new(app);
        let connection = connections.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let late = async {
                let arrived =
                    tokio::time::timeout(first_request_within, first_request.notified()).await;
                if arrived.is_ok() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                served = connection => {
                    if let Err(error) = served {
                        tracing::debug!(%error, "a connection ended with an error");
                    }
                }
                () = late => tracing::debug!("a connection sent no request in time: closed"),
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;
    use crate::storage::sqlite::SqliteStorage;

    fn app() -> (tempfile::TempDir, axum::Router) {
        let dir = tempfile::TempDir::new().unwrap();
        let storage = SqliteStorage::open(&dir.path().join("server.db")).unwrap();
        (dir, router(Arc::new(storage), &Limits::default()))
    }

    async fn call(app: axum::Router, request: Request<Body>) -> (StatusCode, serde_json::Value) {
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    #[tokio::test]
    async fn healthz_answers_with_the_document_schema() {
        let (_dir, app) = app();
        let (status, json) = call(app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json["status"], "ok");
        assert_eq!(json["document_schema"], 1);
    }

    #[tokio::test]
    async fn the_web_app_is_served_beside_the_api_and_api_misses_stay_json() {
        let (dir, api) = app();
        let web = dir.path().join("web");
        std::fs::create_dir_all(web.join("assets")).unwrap();
        std::fs::write(web.join("index.html"), "<html>doorstep app</html>").unwrap();
        std::fs::write(web.join("assets/app.css"), "body {}").unwrap();
        let site = Site {
            web_root: Some(web),
            allowed_origins: vec![],
        };
        let app = site.apply(api).unwrap();
        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        let body = |response: axum::response::Response| async move {
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            String::from_utf8(bytes.to_vec()).unwrap()
        };
        let index = app.clone().oneshot(get("/")).await.unwrap();
        assert_eq!(index.status(), StatusCode::OK);
        assert!(body(index).await.contains("doorstep app"));
        let asset = app.clone().oneshot(get("/assets/app.css")).await.unwrap();
        assert_eq!(body(asset).await, "body {}");
        // A path of the app's own (after a reload on a deep link) gets the app.
        let deep = app.clone().oneshot(get("/cases/anything")).await.unwrap();
        assert!(body(deep).await.contains("doorstep app"));
        // A missing file is not answered with the page, which a cache would keep as the file.
        let missing = app
            .clone()
            .oneshot(get("/assets/gone-1234.js"))
            .await
            .unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let missing = app.clone().oneshot(get("/gone.png")).await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let (status, json) = call(app.clone(), get("/v1/nothing-here")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(json["error"]["code"], "not_found");
        let (status, json) = call(app, get("/healthz")).await;
        assert_eq!(
            (status, json["status"].as_str()),
            (StatusCode::OK, Some("ok"))
        );
    }

    #[tokio::test]
    async fn the_offline_app_shell_is_served_with_its_cache_policy_and_types() {
        let (dir, api) = app();
        let web = dir.path().join("web");
        std::fs::create_dir_all(web.join("assets")).unwrap();
        for (file, text) in [
            ("index.html", "<html>doorstep app</html>"),
            ("sw.js", "self.addEventListener('fetch', () => {});"),
            ("manifest.webmanifest", "{}"),
            ("assets/doorstep-mobile_bg-dxh1a2b3c.wasm", "\0asm"),
        ] {
            std::fs::write(web.join(file), text).unwrap();
        }
        let site = Site {
            web_root: Some(web),
            allowed_origins: vec![],
        };
        let app = site.apply(api).unwrap();
        let headers = |path: &'static str| {
            let app = app.clone();
            async move {
                let response = app
                    .oneshot(Request::get(path).body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK, "{path}");
                let header = |name| {
                    response.headers()[name]
                        .to_str()
                        .unwrap_or_default()
                        .to_owned()
                };
                (header("content-type"), header("cache-control"))
            }
        };
        // The worker script is asked for every time, so a new build is found at once.
        let (kind, cache) = headers("/sw.js").await;
        assert_eq!(
            (kind.as_str(), cache.as_str()),
            ("text/javascript", "no-cache")
        );
        let (kind, cache) = headers("/").await;
        assert!(kind.starts_with("text/html"), "{kind}");
        assert_eq!(cache, "no-cache");
        let (_, cache) = headers("/records/some-record").await;
        assert_eq!(cache, "no-cache");
        let (kind, cache) = headers("/manifest.webmanifest").await;
        assert_eq!(
            (kind.as_str(), cache.as_str()),
            ("application/manifest+json", "no-cache")
        );
        // Named after their contents by the build: kept for ever.
        let (kind, cache) = headers("/assets/doorstep-mobile_bg-dxh1a2b3c.wasm").await;
        assert_eq!(
            (kind.as_str(), cache.as_str()),
            ("application/wasm", "public, max-age=31536000, immutable")
        );
    }

    #[tokio::test]
    async fn the_app_carries_its_content_security_policy_and_the_api_is_never_stored() {
        let (dir, api) = app();
        let web = dir.path().join("web");
        std::fs::create_dir_all(&web).unwrap();
        std::fs::write(web.join("index.html"), "<html>doorstep app</html>").unwrap();
        let site = Site {
            web_root: Some(web),
            allowed_origins: vec!["https://sync.agency.example/".into()],
        };
        let app = site.apply(api).unwrap();
        let page = app
            .clone()
            .oneshot(Request::get("/cases/1").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let header = |response: &axum::response::Response, name: &str| {
            response
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
        };
        let policy = header(&page, "content-security-policy").unwrap();
        for directive in [
            "default-src 'self'",
            "script-src 'self' 'wasm-unsafe-eval'",
            "connect-src 'self' https://sync.agency.example;",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{directive} in {policy}");
        }
        assert!(!policy.contains("unsafe-inline") && !policy.contains("'unsafe-eval'"));
        assert_eq!(header(&page, "x-content-type-options").unwrap(), "nosniff");
        assert_eq!(header(&page, "referrer-policy").unwrap(), "no-referrer");
        assert!(
            header(&page, "permissions-policy")
                .unwrap()
                .contains("camera=()")
        );
        assert_eq!(header(&page, "cache-control").unwrap(), "no-cache");

        for request in [
            Request::get("/healthz").body(Body::empty()).unwrap(),
            Request::post("/v1/sync").body(Body::empty()).unwrap(),
            Request::get("/v1/nothing").body(Body::empty()).unwrap(),
        ] {
            let answer = app.clone().oneshot(request).await.unwrap();
            assert_eq!(header(&answer, "cache-control").unwrap(), "no-store");
            assert_eq!(
                header(&answer, "x-content-type-options").unwrap(),
                "nosniff"
            );
        }
    }

    #[tokio::test]
    async fn only_allowed_origins_may_call_the_api_from_a_browser() {
        let (_dir, api) = app();
        let site = Site {
            web_root: None,
            allowed_origins: vec!["https://app.agency.example/".into()],
        };
        let app = site.apply(api).unwrap();
        let preflight = |origin: &str| {
            Request::options("/v1/sync")
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization,content-type",
                )
                .body(Body::empty())
                .unwrap()
        };
        let allowed = app
            .clone()
            .oneshot(preflight("https://app.agency.example"))
            .await
            .unwrap();
        assert_eq!(
            allowed.headers()["access-control-allow-origin"],
            "https://app.agency.example"
        );
        let other = app
            .oneshot(preflight("https://elsewhere.example"))
            .await
            .unwrap();
        assert!(!other.headers().contains_key("access-control-allow-origin"));
    }

    #[test]
    fn a_web_root_without_an_index_is_refused_at_start() {
        let (dir, api) = app();
        let site = Site {
            web_root: Some(dir.path().to_path_buf()),
            allowed_origins: vec![],
        };
        let error = site.apply(api).unwrap_err().to_string();
        assert!(error.contains("no index.html"), "{error}");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_with_413() {
        let dir = tempfile::TempDir::new().unwrap();
        let storage = SqliteStorage::open(&dir.path().join("server.db")).unwrap();
        let user: doorstep_shared::UserId = "amara".parse().unwrap();
        storage.create_user(&user, "hash").unwrap();
        let (token, hash) = crate::auth::new_token().unwrap();
        storage.create_device(&user, "phone", &hash).unwrap();
        let limits = Limits {
            max_body_bytes: 1024,
            ..Limits::default()
        };
        let app = router(Arc::new(storage), &limits);
        let request = Request::post("/v1/sync")
            .header("authorization", format!("Bearer {token}"))
            .header(
                "content-type",
                doorstep_shared::sync::protocol::CONTENT_TYPE,
            )
            .body(Body::from(vec![1u8; 4096]))
            .unwrap();
        let (status, json) = call(app, request).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(json["error"]["code"], "too_large");
    }

    #[tokio::test]
    async fn a_request_slower_than_the_timeout_gets_408() {
        let dir = tempfile::TempDir::new().unwrap();
        let storage = SqliteStorage::open(&dir.path().join("server.db")).unwrap();
        let limits = Limits {
            request_timeout: std::time::Duration::from_millis(200),
            ..Limits::default()
        };
        let app = router(Arc::new(storage), &limits);
        // A client that starts a body and never finishes it.
        let never = futures_util::stream::pending::<Result<axum::body::Bytes, std::io::Error>>();
        let request = Request::post("/v1/sign-in")
            .header("content-type", "application/json")
            .body(Body::from_stream(never))
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    }

    #[tokio::test]
    async fn an_account_locks_after_100_failed_sign_ins_in_a_row_until_its_password_is_reset() {
        use crate::storage::Storage;
        let dir = tempfile::TempDir::new().unwrap();
        let storage = Arc::new(SqliteStorage::open(&dir.path().join("server.db")).unwrap());
        let amara: doorstep_shared::UserId = "amara".parse().unwrap();
        let password = "kettle harbour violet";
        storage
            .create_user(&amara, &auth::hash_password(password).unwrap())
            .unwrap();
        // Throttling is tested on its own; here every attempt must reach the password check.
        let limits = Limits {
            sign_ins_per_minute: 1_000,
            ..Limits::default()
        };
        let app = router(storage.clone(), &limits);
        let sign_in = |password: &str| {
            let body =
                serde_json::json!({"user": "amara", "password": password, "device_name": "test"});
            let mut request = Request::post("/v1/sign-in")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            request.extensions_mut().insert(axum::extract::ConnectInfo(
                std::net::SocketAddr::from(([127, 0, 0, 1], 40_000)),
            ));
            call(app.clone(), request)
        };
        let failed = || {
            storage
                .credentials(&amara)
                .unwrap()
                .unwrap()
                .failed_sign_ins
        };

        // A success clears the count of failures before it.
        for _ in 0..auth::LOCK_AFTER_FAILURES - 1 {
            assert_eq!(sign_in("wrong guess").await.0, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(failed(), auth::LOCK_AFTER_FAILURES - 1);
        assert_eq!(sign_in(password).await.0, StatusCode::OK);
        assert_eq!(failed(), 0);

        // A hundred failures in a row lock the account: the right password no longer opens it.
        for _ in 0..auth::LOCK_AFTER_FAILURES {
            assert_eq!(sign_in("wrong guess").await.0, StatusCode::UNAUTHORIZED);
        }
        let (status, json) = sign_in(password).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(json["error"]["code"], "account_locked");
        let audit = storage.audit_log().unwrap();
        let locks: Vec<_> = audit
            .iter()
            .filter(|(_, entry)| entry.action == "account_locked")
            .collect();
        assert_eq!(locks.len(), 1, "the lock is logged once");
        assert_eq!(locks[0].1.user.as_ref(), Some(&amara));
        // The refusals themselves are itemised up to the audit's budget for a minute.
        let refusals = audit
            .iter()
            .filter(|(_, entry)| entry.action == "sign_in_refused")
            .count();
        assert_eq!(refusals, 120);
        assert!(
            audit
                .iter()
                .all(|(_, entry)| !format!("{entry:?}").contains(password)
                    && !format!("{entry:?}").contains("wrong guess")),
            "no password is logged"
        );

        // An administrator's new password unlocks it.
        storage
            .set_password(&amara, &auth::hash_password("new kettle harbour").unwrap())
            .unwrap();
        assert_eq!(sign_in("new kettle harbour").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn errors_are_json_with_a_code() {
        let (_dir, app) = app();
        let (status, json) = call(
            app.clone(),
            Request::get("/nothing-here").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(json["error"]["code"], "not_found");
        let sync = Request::post("/v1/sync").body(Body::from("x")).unwrap();
        let (status, json) = call(app, sync).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(json["error"]["code"], "unauthenticated");
    }
}
