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
    /// Adds the app's files and the cross-origin policy to the API's routes.
    pub fn apply(&self, api: Router) -> anyhow::Result<Router> {
        let mut app = api;
        if let Some(root) = &self.web_root {
            let index = root.join("index.html");
            if !index.is_file() {
                anyhow::bail!("the web root {} has no index.html", root.display());
            }
            let files = Router::new()
                .fallback_service(ServeDir::new(root).fallback(ServeFile::new(index)))
                .layer(middleware::from_fn(web_app_files));
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
                    .allow_methods([Method::GET, Method::POST])
                    .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]),
            );
        }
        Ok(app)
    }
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
