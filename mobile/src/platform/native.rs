//! Desktop and phones: the store is a file in the app's data directory.

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

/// A desktop or phone app is covered and paused by the system itself when it leaves the
/// screen.
pub fn on_visibility(_callback: impl FnMut(bool) + 'static) {}

/// A field's text is written as typing pauses and when the field is left; the app's own
/// windows close only after their screens are dropped, which writes it too.
pub fn save_focused_field() {}

/// The app's own history is in memory: nothing to keep it from leaving.
pub fn keep_back_inside_app(_depth: dioxus::prelude::Signal<usize>) {}

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

/// The desktop's connection is taken as free.
pub fn metered() -> bool {
    false
}

/// A data URL of `bytes`: the page is another process here, so the bytes travel to it.
pub fn picture_url(bytes: &[u8], media_type: &str) -> Option<String> {
    use base64::Engine;
    Some(format!(
        "data:{media_type};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// Writes `bytes` to a new file named `name` in the user's Downloads folder (or home folder,
/// if there is none). Returns where it went, in words.
pub fn save_file(name: &str, bytes: &[u8], _media_type: &str) -> Result<String, String> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let folder = home
        .as_ref()
        .map(|home| home.join("Downloads"))
        .filter(|folder| folder.is_dir())
        .or(home)
        .unwrap_or_else(std::env::temp_dir);
    let path = folder.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let write = |mut file: std::fs::File| {
        use std::io::Write;
        file.write_all(bytes)?;
        file.sync_all()
    };
    options
        .open(&path)
        .and_then(write)
        .map_err(|error| format!("could not write {}: {error}", path.display()))?;
    Ok(path.display().to_string())
}

/// A data URL holds nothing to free.
pub fn release_picture_url(_url: &str) {}

pub fn on_reconnect(_callback: impl FnMut() + 'static) {}

pub fn default_server() -> String {
    std::env::var("DOORSTEP_SERVER").unwrap_or_default()
}

pub fn device_name() -> String {
    format!("{} app", std::env::consts::OS)
}

/// The page is another process here, reached only by messages: the input is drawn anew
/// instead (see the text field in `ui::form`).
pub fn merge_into_input(
    _id: &str,
    _merge: impl FnOnce(&str, (usize, usize)) -> Option<(String, (usize, usize))> + 'static,
) -> bool {
    false
}

/// Nothing is covered here (see [`on_visibility`]).
pub fn uncover() {}
