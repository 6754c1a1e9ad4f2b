//! What differs between the targets the app runs on: where the store lives, the clock,
//! timers, and whether the network is there.
//!
//! In a web browser the store is kept in IndexedDB ([`doorstep_shared::store::browser`]); on
//! desktop and phones it is a SQLite file in the app's data directory.

use std::time::Duration;

use chrono::{DateTime, Utc};
use doorstep_shared::store::{Passphrase, Store, StoreError};

pub mod app_shell;
#[cfg(not(target_family = "wasm"))]
mod native;
#[cfg(target_family = "wasm")]
mod web;

#[cfg(not(target_family = "wasm"))]
use native as imp;
#[cfg(target_family = "wasm")]
use web as imp;

/// The store's name: its IndexedDB key on the web, its file name elsewhere.
const STORE_NAME: &str = "doorstep.db";

/// Whether the screens' history is the browser's, whose `popstate` counts steps back.
pub const BROWSER_HISTORY: bool = cfg!(target_family = "wasm");

/// Now, by the device's clock.
pub fn now() -> DateTime<Utc> {
    Utc::now()
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
    claim_store, default_server, device_name, keep_back_inside_app, merge_into_input, metered,
    on_reconnect, on_visibility, online, open_store, picture_url, release_picture_url, save_file,
    save_focused_field, sleep, storage_failure, store_exists, uncover, writes_settled,
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
