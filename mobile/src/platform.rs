//! What differs between the targets the app runs on: where the store lives, the clock,
//! timers, and whether the network is there.
//!
//! In a web browser the store is kept in IndexedDB ([`doorstep_shared::store::browser`]); on
//! desktop and phones it is a SQLite file in the app's data directory.

use std::time::Duration;

use chrono::{DateTime, Utc};
use doorstep_shared::store::{Passphrase, Store, StoreError};

/// The store's name: its IndexedDB key on the web, its file name elsewhere.
const STORE_NAME: &str = "doorstep.db";

/// Now, by the device's clock.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

#[cfg(target_family = "wasm")]
mod imp {
    use super::*;
    use doorstep_shared::store::browser::{self, Persistence};
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;

    pub async fn store_exists() -> Result<bool, StoreError> {
        browser::exists(STORE_NAME).await
    }

    pub async fn open_store(passphrase: &Passphrase) -> Result<Store, StoreError> {
        browser::open(STORE_NAME, passphrase).await
    }

    pub fn storage_failure() -> Option<String> {
        Persistence::get().and_then(|persistence| persistence.failure())
    }

    pub async fn writes_settled() {
        if let Some(persistence) = Persistence::get() {
            persistence.settled().await;
        }
    }

    pub async fn sleep(duration: Duration) {
        let millis = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
        let promise = js_sys::Promise::new(&mut |resolve, _reject| {
            if let Some(window) = web_sys::window() {
                let _ =
                    window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, millis);
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }

    pub fn online() -> bool {
        web_sys::window().is_none_or(|window| window.navigator().on_line())
    }

    pub fn on_reconnect(callback: impl FnMut() + 'static) {
        if let Some(window) = web_sys::window() {
            let closure = Closure::<dyn FnMut()>::new(callback);
            let _ =
                window.add_event_listener_with_callback("online", closure.as_ref().unchecked_ref());
            // The listener lives as long as the page.
            closure.forget();
        }
    }

    pub fn default_server() -> String {
        web_sys::window()
            .and_then(|window| {
                let search = window.location().search().ok()?;
                search
                    .trim_start_matches('?')
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("server="))
                    .map(|value| {
                        js_sys::decode_uri_component(value)
                            .map(String::from)
                            .unwrap_or_else(|_| value.to_owned())
                    })
                    .or_else(|| window.location().origin().ok())
            })
            .unwrap_or_default()
    }

    pub fn device_name() -> String {
        let agent = web_sys::window()
            .and_then(|window| window.navigator().user_agent().ok())
            .unwrap_or_default();
        let browser = ["Firefox", "Edg", "Chrome", "Safari"]
            .into_iter()
            .find(|name| agent.contains(name))
            .unwrap_or("browser");
        format!("{browser} (web)")
    }
}

#[cfg(not(target_family = "wasm"))]
mod imp {
    use super::*;
    use std::path::PathBuf;

    /// `DOORSTEP_APP_DATA`, else the platform's per-user data directory.
    fn data_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("DOORSTEP_APP_DATA") {
            return PathBuf::from(dir);
        }
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share"))
            })
            .unwrap_or_else(|| PathBuf::from("."));
        base.join("doorstep")
    }

    pub async fn store_exists() -> Result<bool, StoreError> {
        let path = data_dir().join(STORE_NAME);
        Ok(std::fs::metadata(path).is_ok_and(|meta| meta.len() > 0))
    }

    pub async fn open_store(passphrase: &Passphrase) -> Result<Store, StoreError> {
        let dir = data_dir();
        std::fs::create_dir_all(&dir)?;
        Store::open(dir.join(STORE_NAME), passphrase)
    }

    // A commit to the SQLite file is durable when `Store` returns: nothing can fail later.
    pub fn storage_failure() -> Option<String> {
        None
    }

    pub async fn writes_settled() {}

    pub async fn sleep(duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    pub fn online() -> bool {
        true
    }

    pub fn on_reconnect(_callback: impl FnMut() + 'static) {}

    pub fn default_server() -> String {
        std::env::var("DOORSTEP_SERVER").unwrap_or_default()
    }

    pub fn device_name() -> String {
        format!("{} app", std::env::consts::OS)
    }
}

pub use imp::{
    default_server, device_name, on_reconnect, online, open_store, sleep, storage_failure,
    store_exists, writes_settled,
};
