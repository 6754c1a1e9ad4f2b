//! What the server offers besides the sync API: the web app's files, and which other web
//! origins may call the API from a browser.
//!
//! The web app is an installable, offline app (DESIGN §9): its service worker keeps a copy of
//! the page and of the build's files for when the network is gone, and checks for a new build
//! whenever it can. So the files are served with the cache headers that make that work:
//! - `/assets/…`, whose names `dx` makes from their contents, may be kept for ever (so nothing
//!   may be put there whose name stays when its contents change);
//! - everything else (the page, `sw.js`, the manifest, the icons) is `no-cache`: the browser
//!   asks every time, so a new build is noticed at once;
//! - a path of the app's own screens (`/cases/…`, no file extension) gets the page, so a
//!   reload or a link lands on the app; a missing file is a 404, never the page under a
//!   script's name, which a cache would then keep.
//!
//! Every answer says what a browser may do with it ([`security_headers`]): the app's files
//! come with a Content-Security-Policy that lets the page run only the build's own script
//! and WebAssembly, talk only to its own server (and the allowed origins), and be framed by
//! no one; the API's answers are never stored by a cache (they hold case notes).

use std::path::PathBuf;

use anyhow::Context;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

/// Files whose names change with their contents.
const HASHED_ASSETS: &str = "/assets/";

/// The web side of the server.
#[derive(Debug, Clone, Default)]
pub struct Site {
    /// A folder holding the web app's build (`index.html` and its assets), served at `/` so
    /// that the app and its server share one address.
    pub web_root: Option<PathBuf>,
    /// Origins (such as `https://app.agency.example`) whose pages may call the API: for an
    /// app hosted elsewhere than its server.
    pub allowed_origins: Vec<String>,
}

impl Site {
    /// Adds the app's files, the cross-origin policy and the security headers to the API's
    /// routes.
    pub fn apply(&self, api: Router) -> anyhow::Result<Router> {
        let policy = HeaderValue::from_str(&self.content_security_policy())
            .context("the allowed origins make an invalid Content-Security-Policy")?;
        let mut app = api.layer(middleware::from_fn(no_store));
        if let Some(root) = &self.web_root {
            let index = root.join("index.html");
            if !index.is_file() {
                anyhow::bail!("the web root {} has no index.html", root.display());
            }
            let files = Router::new()
                .fallback_service(ServeDir::new(root).fallback(ServeFile::new(index)))
                .layer(middleware::from_fn(web_app_files))
                .layer(middleware::from_fn_with_state(policy, app_page_headers));
            app = app.fallback_service(files);
        }
        if !self.allowed_origins.is_empty() {
            let origins = self
                .allowed_origins
                .iter()
                .map(|origin| {
                    HeaderValue::from_str(origin.trim_end_matches('/'))
                        .with_context(|| format!("the allowed origin {origin:?} is not valid"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            app = app.layer(
                CorsLayer::new()
                    .allow_origin(AllowOrigin::list(origins))
                    .allow_methods([Method::GET, Method::POST, Method::PUT])
                    .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, header::RANGE])
                    .expose_headers([header::CONTENT_RANGE]),
            );
        }
        Ok(app.layer(middleware::from_fn(security_headers)))
    }

    /// The app page's Content-Security-Policy: its own script and WebAssembly
    /// (`wasm-unsafe-eval` lets WebAssembly compile, and nothing else), connections to its
    /// own server and the allowed origins, pictures from itself and from the object URLs
    /// the app makes of attachments held on the device (`blob:`), no plug-ins, no framing,
    /// forms posted nowhere.
    pub fn content_security_policy(&self) -> String {
        let mut connect = vec!["'self'".to_owned()];
        connect.extend(
            self.allowed_origins
                .iter()
                .map(|origin| origin.trim_end_matches('/').to_owned()),
        );
        format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src {}; \
             img-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
            connect.join(" ")
        )
    }
}

/// What a browser should do with any answer: trust its declared type only, send no
/// referrer on, and use none of the device's sensors or payment.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    response
}

/// Features the app never uses, denied to it and to anything it might load.
const PERMISSIONS_POLICY: &str = "camera=(), microphone=(), geolocation=(), payment=(), \
     usb=(), serial=(), bluetooth=(), hid=(), midi=(), display-capture=(), \
     browsing-topics=()";

/// The API's answers hold case notes and tokens: no cache keeps them.
async fn no_store(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The app's files carry the Content-Security-Policy, and may not be framed (the header, for
/// browsers older than `frame-ancestors`).
async fn app_page_headers(
    axum::extract::State(policy): axum::extract::State<HeaderValue>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Sets the cache policy of the web app's files, and keeps the page from standing in for a
/// missing file (see the module's docs).
async fn web_app_files(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let hashed = path.starts_with(HASHED_ASSETS);
    let last = path.rsplit('/').next().unwrap_or_default();
    let a_file = hashed || last.contains('.');
    let a_page_file = last.ends_with(".html");
    let mut response = next.run(request).await;
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|kind| kind.as_bytes().starts_with(b"text/html"));
    if a_file && is_page && !a_page_file {
        return StatusCode::NOT_FOUND.into_response();
    }
    if response.status().is_success() {
        let policy = if hashed {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}
