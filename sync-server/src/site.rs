//! What the server offers besides the sync API: the web app's files, and which other web
//! origins may call the API from a browser.

use std::path::PathBuf;

use anyhow::Context;
use axum::Router;
use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

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
            // Unknown paths get the app, which finds its way from there.
            app = app.fallback_service(ServeDir::new(root).fallback(ServeFile::new(index)));
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
