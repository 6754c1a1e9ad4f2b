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
    use wasm_bindgen::JsValue;
    use wasm_bindgen::prelude::Closure;

    /// The Web Lock a tab holds while it may open the store.
    const STORE_LOCK: &str = "doorstep.store";

    thread_local! {
        static CLAIMED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Each tab holds the store in memory and writes its pages back whole, so two tabs of one
    /// origin would overwrite each other's commits. A tab claims the store through a Web Lock
    /// (`navigator.locks`) that it then holds until it closes; with `wait`, the call returns
    /// once the tab holding it has closed, else at once with whether the claim succeeded.
    /// Without Web Locks (an insecure origin) nothing can be claimed, and the tab proceeds.
    pub async fn claim_store(wait: bool) -> bool {
        if CLAIMED.get() {
            return true;
        }
        let Some(window) = web_sys::window() else {
            return true;
        };
        let locks = js_sys::Reflect::get(&window.navigator(), &"locks".into())
            .ok()
            .filter(|locks| locks.is_object());
        let request = locks.as_ref().and_then(|locks| {
            js_sys::Reflect::get(locks, &"request".into())
                .ok()?
                .dyn_into::<js_sys::Function>()
                .ok()
        });
        let (Some(locks), Some(request)) = (locks, request) else {
            tracing::warn!("this browser has no Web Locks: another tab could open the store too");
            return true;
        };
        let mut answer = None;
        let answered = js_sys::Promise::new(&mut |resolve, _reject| answer = Some(resolve));
        let Some(answer) = answer else {
            return true;
        };
        let granted = Closure::once_into_js(move |lock: JsValue| -> JsValue {
            let held = !lock.is_null();
            let _ = answer.call1(&JsValue::NULL, &JsValue::from_bool(held));
            if held {
                // A promise that never settles: the lock is held until the tab closes.
                js_sys::Promise::new(&mut |_resolve, _reject| {}).into()
            } else {
                JsValue::UNDEFINED
            }
        });
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"ifAvailable".into(), &JsValue::from_bool(!wait));
        if let Err(error) = request.call3(&locks, &STORE_LOCK.into(), &options, &granted) {
            tracing::warn!("the store's Web Lock could not be requested: {error:?}");
            return true;
        }
        let held = wasm_bindgen_futures::JsFuture::from(answered)
            .await
            .is_ok_and(|held| held.is_truthy());
        CLAIMED.set(held);
        held
    }

    /// Text is written once typing pauses; a tab hidden or closed within that pause must
    /// write it first. Blurring the focused field runs its usual "left the field" save, at
    /// once, while the page can still reach IndexedDB.
    pub fn save_typing_when_hidden() {
        let Some(window) = web_sys::window() else {
            return;
        };
        let on_page_hide = Closure::<dyn FnMut()>::new(blur_focused);
        let on_visibility = Closure::<dyn FnMut()>::new(|| {
            let hidden = web_sys::window()
                .and_then(|window| window.document())
                .is_some_and(|document| document.hidden());
            if hidden {
                blur_focused();
            }
        });
        let _ = window
            .add_event_listener_with_callback("pagehide", on_page_hide.as_ref().unchecked_ref());
        if let Some(document) = window.document() {
            let _ = document.add_event_listener_with_callback(
                "visibilitychange",
                on_visibility.as_ref().unchecked_ref(),
            );
        }
        // The listeners live as long as the page.
        on_page_hide.forget();
        on_visibility.forget();
    }

    fn blur_focused() {
        let focused = web_sys::window()
            .and_then(|window| window.document())
            .and_then(|document| document.active_element())
            .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(element) = focused {
            let _ = element.blur();
        }
    }

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

    /// `DOORSTEP_APP_DATA`, else the directory the platform gives an app for its own files.
    fn data_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("DOORSTEP_APP_DATA") {
            return PathBuf::from(dir);
        }
        platform_data_dir().unwrap_or_else(|| PathBuf::from("doorstep"))
    }

    /// Android gives an app no `HOME`: its private directory is named after its package and
    /// the Android user it runs for, both of which the process can read about itself.
    #[cfg(target_os = "android")]
    fn platform_data_dir() -> Option<PathBuf> {
        use std::os::unix::fs::MetadataExt;
        let command_line = std::fs::read("/proc/self/cmdline").ok()?;
        let uid = std::fs::metadata("/proc/self").ok()?.uid();
        super::android_files_dir(&command_line, uid)
    }

    /// iOS and macOS: the app's Application Support directory (on iOS, `HOME` is the app's
    /// own container).
    #[cfg(any(target_os = "ios", target_os = "macos"))]
    fn platform_data_dir() -> Option<PathBuf> {
        let home = PathBuf::from(std::env::var_os("HOME")?);
        Some(home.join("Library/Application Support/doorstep"))
    }

    #[cfg(target_os = "windows")]
    fn platform_data_dir() -> Option<PathBuf> {
        Some(PathBuf::from(std::env::var_os("APPDATA")?).join("doorstep"))
    }

    /// Linux and the other Unix desktops: the XDG data directory.
    #[cfg(not(any(
        target_os = "android",
        target_os = "ios",
        target_os = "macos",
        target_os = "windows"
    )))]
    fn platform_data_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share"))
            })?;
        Some(base.join("doorstep"))
    }

    pub async fn claim_store(_wait: bool) -> bool {
        // SQLite's own file locks keep two processes from corrupting the file.
        true
    }

    pub fn save_typing_when_hidden() {}

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

/// An Android app's private files directory, `/data/user/<user>/<package>/files`, from the
/// process's command line (its first word is the package name, with `:name` after it in an
/// app's secondary processes) and its uid (`user * 100000 + app id`). This is the directory
/// `Context.getFilesDir()` answers for an app installed on internal storage.
#[cfg(any(target_os = "android", test))]
fn android_files_dir(command_line: &[u8], uid: u32) -> Option<std::path::PathBuf> {
    let process = command_line.split(|byte| *byte == 0).next()?;
    let process = std::str::from_utf8(process).ok()?;
    let package = process.split(':').next()?.trim();
    let valid = !package.is_empty()
        && package.contains('.')
        && package
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
    valid.then(|| std::path::PathBuf::from(format!("/data/user/{}/{package}/files", uid / 100_000)))
}

pub use imp::{
    claim_store, default_server, device_name, on_reconnect, online, open_store,
    save_typing_when_hidden, sleep, storage_failure, store_exists, writes_settled,
};

#[cfg(test)]
mod tests {
    use super::android_files_dir;
    use std::path::Path;

    #[test]
    fn android_files_dir_is_named_after_the_package_and_the_user() {
        let main = android_files_dir(b"org.doorstep.app\0\0\0", 10_123);
        assert_eq!(
            main.as_deref(),
            Some(Path::new("/data/user/0/org.doorstep.app/files"))
        );
        let work_profile = android_files_dir(b"org.doorstep.app:sync\0", 1_010_123);
        assert_eq!(
            work_profile.as_deref(),
            Some(Path::new("/data/user/10/org.doorstep.app/files"))
        );
    }

    #[test]
    fn android_files_dir_refuses_what_is_not_a_package_name() {
        assert_eq!(android_files_dir(b"", 10_123), None);
        assert_eq!(
            android_files_dir(b"/system/bin/app_process\0", 10_123),
            None
        );
        assert_eq!(android_files_dir(b"../../etc\0", 10_123), None);
    }
}
